"""The optimise mode of :func:`schoolplan.consolidate.consolidate` as a MILP on HiGHS.

The model (written out in :mod:`schoolplan.consolidate`) is built from arrays with
the solver layer's sparse model builder and solved exactly. Village-band demand
that no allowed school can serve goes to a penalised slack, so the model is always
feasible and the plan reports those pupils as unserved with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from schoolplan._highs import HighsModel
from schoolplan.county import County
from schoolplan.errors import InfeasibleError

_UNSERVED_PENALTY = 1e4  # 万元 per pupil: far above any real cost


def solve_layout(
    county: County,
    schools: pd.DataFrame,
    site_ids: pd.Index,
    bus: pd.DataFrame,
    walk: pd.DataFrame | None,
    demand: pd.DataFrame,
    r: Mapping[str, Any],
) -> tuple[dict[str, str], dict[str, tuple[str, str]], pd.DataFrame, list[str]]:
    """Solve the consolidation MILP; return decisions, reasons, assignment and opened sites."""
    from schoolplan.consolidate import BANDS, _allowed, _anchors, _attended, _travel

    minutes, walks = _travel(bus, walk, r)
    level_of = schools["level"].copy()
    for s in site_ids:  # a new school on a site is a complete primary, or a junior school if named so
        level_of[s] = "junior" if str(county.sites.loc[s].get("level", "primary")) == "junior" else "primary"
    cols = list(schools.index) + list(site_ids)
    anchors = _anchors(schools, county, r)
    fixed = set(map(str, r["fixed_open"]))
    bus_r = float(r["bus_minutes"])
    before = _attended(minutes[list(schools.index)], schools["level"])
    # 应留必留: grade 1-3 villages with no receiving school within their day limit keep their school
    limit_lower = r["day_limit_minutes"]["lower"]
    receiving = [c for c in schools.index if c in anchors or c in fixed]
    recv_ok = _allowed(schools["level"], pd.Index(receiving), "lower")
    recv_lower = [c for c in receiving if recv_ok[c]]
    best_recv = minutes[recv_lower].min(axis=1) if recv_lower else pd.Series(np.inf, index=minutes.index)
    lower_v = demand.loc[demand["band"] == "lower", "village_id"]
    stranded = [v for v in lower_v if not best_recv.get(v, np.inf) <= limit_lower]
    must_keep = {before["lower"][0].get(v) for v in stranded} - {None} - set(receiving)
    fixed = fixed | must_keep
    # ---------------------------------------------------------------- variables
    col_pos = {c: i for i, c in enumerate(cols)}
    d = demand.reset_index(drop=True)
    pair_v, pair_s, pair_cost, pair_board, pair_d = [], [], [], [], []
    small = [c for c in schools.index if c not in anchors and c not in fixed]
    costs = r["costs"]
    bus_cost = costs["bus_wan"] / (r["bus_seats"] * r["bus_trips"])
    for k, row in d.iterrows():
        band = row["band"]
        limit = r["day_limit_minutes"][band]
        boardable = band in r["boarding_bands"]
        tvec = minutes.loc[row["village_id"], cols].to_numpy(float)
        wvec = walks.loc[row["village_id"], cols].to_numpy(bool)
        for j, c in enumerate(cols):
            t = tvec[j]
            if not np.isfinite(t) or level_of[c] not in BANDS[band]["levels"]:
                continue
            if c in small and t > bus_r and not wvec[j]:
                continue  # a kept small school serves only pupils within the bus radius
            board = not wvec[j] and t > limit
            if board and (not boardable or t > r["max_board_minutes"]):
                continue
            cost = r["travel_weight"] * t + (costs["boarding_pupil_wan"] if board else 0.0) + \
                (bus_cost if not wvec[j] and not board else 0.0)
            pair_v.append(k)
            pair_s.append(col_pos[c])
            pair_cost.append(cost * row["pupils"])
            pair_board.append(board)
            pair_d.append(row["pupils"])
    pv, ps = np.array(pair_v, dtype=np.int64), np.array(pair_s, dtype=np.int64)
    pd_ = np.array(pair_d, dtype=float)
    pboard = np.array(pair_board, dtype=bool)
    m = HighsModel()
    x0 = m.add_cols(np.array(pair_cost), 0.0, 1.0, integer=False)
    u0 = m.add_cols(d["pupils"].to_numpy(float) * _UNSERVED_PENALTY, 0.0, 1.0, integer=False)
    n_s = len(cols)
    is_site = np.array([c in set(site_ids) for c in cols])
    y_lo = np.array([1.0 if (c in anchors or c in fixed) else 0.0 for c in cols])
    y_cost = np.where(is_site, costs["new_school_wan"],
                      np.array([costs["keep_small_school_wan"] if c in small else 0.0 for c in cols]))
    y0 = m.add_cols(y_cost, y_lo, 1.0, integer=True)
    size = r["class_size"]
    classes_before = np.array([0.0 if c in set(site_ids) else float(schools.loc[c, "classes"] or 0) for c in cols])
    max_size = np.array([float(r["max_size"].get(level_of[c], 2000)) for c in cols])
    stage_size = np.array([size["junior"] if level_of[c] == "junior" else
                           size["teaching_point"] if level_of[c] == "teaching_point" else size["primary"]
                           for c in cols], dtype=float)
    e_hi = np.maximum(np.ceil(max_size / stage_size) - classes_before, 0.0)
    e0 = m.add_cols(np.full(n_s, costs["classroom_wan"]), 0.0, e_hi, integer=True)
    beds = np.array([0.0 if c in set(site_ids) else float(schools.loc[c].get("boarding_beds") or 0) for c in cols])
    b0 = m.add_cols(np.full(n_s, costs["bed_wan"]), 0.0, np.inf, integer=False)
    npair = len(pv)
    # every village-band served once (or unserved)
    r0 = m.add_rows(1.0, 1.0, len(d))
    m.add_entries(r0 + pv, x0 + np.arange(npair), 1.0)
    m.add_entries(r0 + np.arange(len(d)), u0 + np.arange(len(d)), 1.0)
    # x <= y
    r1 = m.add_rows(-np.inf, 0.0, npair)
    m.add_entries(r1 + np.arange(npair), x0 + np.arange(npair), 1.0)
    m.add_entries(r1 + np.arange(npair), y0 + ps, -1.0)
    # classes: sum d x / class size <= classes_before + e
    band_size = np.array([size["junior"] if BANDS[d.at[v, "band"]]["stage"] == "junior" else size["primary"]
                          for v in pv], dtype=float)
    band_size = np.where(np.array([level_of[cols[s]] == "teaching_point" for s in ps]), size["teaching_point"],
                         band_size) if npair else band_size
    r2 = m.add_rows(-np.inf, classes_before, n_s)
    m.add_entries(r2 + ps, x0 + np.arange(npair), pd_ / band_size)
    m.add_entries(r2 + np.arange(n_s), e0 + np.arange(n_s), -1.0)
    # school size: sum d x <= M y ; minimum enrolment for kept small schools: sum d x >= E y
    r3 = m.add_rows(-np.inf, 0.0, n_s)
    m.add_entries(r3 + ps, x0 + np.arange(npair), pd_)
    m.add_entries(r3 + np.arange(n_s), y0 + np.arange(n_s), -max_size)
    small_idx = np.array([col_pos[c] for c in small], dtype=np.int64)
    if len(small_idx):
        r4 = m.add_rows(0.0, np.inf, len(small_idx))
        sel = np.isin(ps, small_idx)
        where = {s: i for i, s in enumerate(small_idx)}
        m.add_entries(r4 + np.array([where[s] for s in ps[sel]], dtype=np.int64),
                      x0 + np.arange(npair)[sel], pd_[sel])
        m.add_entries(r4 + np.arange(len(small_idx)), y0 + small_idx, -float(r["min_enrolment"]))
    # beds: boarders - new beds <= beds
    r5 = m.add_rows(-np.inf, beds, n_s)
    m.add_entries(r5 + ps[pboard], x0 + np.arange(npair)[pboard], pd_[pboard])
    m.add_entries(r5 + np.arange(n_s), b0 + np.arange(n_s), -1.0)
    # closures
    if r["max_closures"] is not None and len(small_idx):
        r6 = m.add_rows(len(small_idx) - float(r["max_closures"]), np.inf, 1)
        m.add_entries(np.full(len(small_idx), r6), y0 + small_idx, 1.0)
    run = m.solve(sense=1, time_limit=float(r.get("time_limit", 60.0)), mip_rel_gap=1e-6, threads=None)
    if run.x is None:
        if run.infeasible:
            raise InfeasibleError(
                "no layout meets all consolidation rules together (max_closures, minimum enrolment of kept "
                "schools, maximum school sizes, fixed schools)",
                fix="relax max_closures or min_enrolment, raise max_size, or allow new schools on sites")
        raise InfeasibleError("the consolidation model found no solution within the time limit",
                              fix="raise time_limit in the consolidation rules")
    x = run.x[x0:x0 + npair]
    y = run.x[y0:y0 + n_s] > 0.5
    # single-source rounding: each village-band to its largest share
    best = pd.DataFrame({"v": pv, "s": ps, "x": x}).sort_values("x", ascending=False).drop_duplicates("v")
    best = best[best["x"] > 1e-6].set_index("v")["s"]
    decision: dict[str, str] = {}
    reason: dict[str, tuple[str, str]] = {}
    for i, c in enumerate(cols):
        if c in set(site_ids):
            if y[i]:
                decision[c] = "new"
                reason[c] = ("优化模型选择在此新建学校", "the optimisation opens a new school here")
            continue
        if c in must_keep:
            decision[c] = "keep"
            reason[c] = (f"应留必留：有1–3年级学生到接收学校超过{limit_lower:g}分钟",
                         f"must stay (应留必留): grade 1–3 pupils would travel over {limit_lower:g} min to a "
                         "receiving school")
        elif c in anchors or c in fixed:
            decision[c] = "keep"
            reason[c] = ("接收学校（固定保留）", "receiving school (fixed open)")
        elif y[i]:
            decision[c] = "keep"
            reason[c] = (f"优化模型保留：生源在校车{bus_r:g}分钟内，撤并会增加出行和寄宿成本",
                         f"kept by the optimisation: pupils within {bus_r:g} min by bus; closing it would cost "
                         "more in travel and boarding")
        else:
            decision[c] = "merge"
            reason[c] = ("优化模型撤并：并入接收学校后总成本更低", "merged by the optimisation: lower total cost "
                         "with its pupils at the receiving schools")
    assign = pd.DataFrame({
        "village_id": d["village_id"], "band": d["band"], "pupils": d["pupils"],
        "school_id": [cols[best[k]] if k in best.index else None for k in range(len(d))],
        "school_before": [before[b][0].get(v) for v, b in zip(d["village_id"], d["band"], strict=True)],
        "minutes_before": [before[b][1].get(v, math.nan) for v, b in zip(d["village_id"], d["band"], strict=True)],
    })
    new_sites = [c for c in site_ids if decision.get(c) == "new"]
    return decision, reason, assign, new_sites
