"""两集中 consolidation: which schools stay, merge, expand, convert or are built.

Primary schools concentrate into township-seat schools (乡镇中心校) and junior
middle schools into the county seat (县城); nine-year schools receive both. A small
school or teaching point stays only if its pupils are within the bus radius of it
(default 20 min), its enrolment is adequate and its quality/conditions are good
(when scored); otherwise it merges into the best receiving school. Grades 1–3 are
day pupils (国办发〔2018〕27号): if no receiving school is within their day limit
(30 min walking or by bus) the small school must stay (应留必留).

Two modes:

``rules``
    Apply the policy as stated, deterministically (this module's own logic).
``optimize``
    Choose which schools to keep, expand or open to minimise pupil travel time plus
    weighted building, expansion, boarding, bus and running costs, under the same
    constraints, solved exactly with HiGHS (the solver layer of
    :mod:`schoolplan.optimize`). With village-band demand :math:`d_{vb}`, minutes
    :math:`t_{vbs}`, open :math:`y_s`, added classes :math:`e_s`, added beds
    :math:`n_s` and assignment shares :math:`x_{vbs}`:

    .. math::

        \\min \\; w \\sum d_{vb} t_{vbs} x_{vbs} + \\sum_s (F_s y_s + C e_s + B n_s)
              + \\sum d_{vb} (c_{bus} [\\text{bus}] + c_{board} [\\text{board}]) x_{vbs}

    s.t. every village-band is served once (:math:`\\sum_s x_{vbs} = 1`),
    :math:`x_{vbs} \\le y_s`; seats :math:`\\sum d x \\le \\text{seats}_s + k e_s`;
    school size :math:`\\sum d x \\le M_s y_s`; beds :math:`\\sum_{board} d x \\le
    \\text{beds}_s + n_s`; kept small schools only serve pupils within the bus radius
    and keep at least the minimum enrolment (:math:`\\sum d x \\ge E y_s`); anchors
    and ``fixed_open`` have :math:`y_s = 1`; at most ``max_closures`` closures.

``status_quo``
    Keep every open school; pupils attend the nearest school of their level.

Travel times come in as village × school matrices (minutes; NaN = unreachable),
so any travel-time source can be used; :func:`schoolplan.network.travel_time_matrix`
produces them from the road network.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from schoolplan.county import County
from schoolplan.errors import DataWarning, InfeasibleError, SchemaError
from schoolplan.results import LayoutPlan
from schoolplan.schema import BANDS, COMPULSORY_LEVELS
from schoolplan.standards import load_standards

__all__ = ["BANDS", "consolidate", "default_rules", "village_pupils"]

_COMPULSORY = COMPULSORY_LEVELS
Mode = Literal["status_quo", "rules", "optimize"]


def default_rules(standards: Mapping[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    """Consolidation rules with defaults from the standards data.

    Parameters
    ----------
    standards
        Norms from :func:`schoolplan.standards.load_standards` (national by default).
    **overrides
        Any key below.

    Returns
    -------
    dict
        ``bus_minutes`` (20), ``day_limit_minutes`` per band (lower 30, upper and
        junior = bus radius), ``walk_limit_minutes`` (30), ``min_enrolment`` (50),
        ``min_quality``/``min_condition`` (60, used when the columns exist),
        ``boarding_bands`` (upper, junior), ``junior_to_county_seat`` (True),
        ``class_size`` (primary 45, junior 50, teaching_point 30), ``max_size``
        (primary/junior 2000, nine_year 2500), ``teacher_ratio``, ``bus_seats``,
        ``bus_trips``, ``fixed_open`` (ids kept whatever happens), ``max_closures``
        (None = no limit), ``allow_new`` (build on candidate sites), ``costs`` (万元)
        and ``travel_weight`` (万元 per pupil-minute per year, optimise mode).
    """
    s = standards or load_standards()
    c = s["consolidation"]
    bus = float(overrides.get("bus_minutes", c["bus_minutes"]))
    rules: dict[str, Any] = {
        "bus_minutes": bus,
        "day_limit_minutes": {"lower": float(c["day_pupil_max_minutes"]), "upper": bus, "junior": bus},
        "walk_limit_minutes": 30.0,
        "min_enrolment": int(c["min_enrolment_keep"]),
        "min_quality": 60.0,
        "min_condition": 60.0,
        "boarding_bands": ("upper", "junior"),
        "max_board_minutes": 120.0,
        "overflow_minutes": 15.0,
        "junior_to_county_seat": True,
        "class_size": {"primary": int(s["class_size"]["primary"]), "junior": int(s["class_size"]["junior"]),
                       "teaching_point": int(s["class_size"]["teaching_point"])},
        "max_size": {"primary": int(s["max_school_size"]["primary"]), "junior": int(s["max_school_size"]["junior"]),
                     "nine_year": int(s["max_school_size"]["nine_year"]),
                     "teaching_point": int(s["max_school_size"]["teaching_point"])},
        "teacher_ratio": {"primary": float(s["teacher_ratio"]["primary"]),
                          "junior": float(s["teacher_ratio"]["junior"])},
        "bus_seats": int(c["bus_seats"]),
        "bus_trips": int(c["bus_trips_morning"]),
        "fixed_open": (),
        "max_closures": None,
        "allow_new": True,
        "new_school_classes": 24,
        "costs": {"classroom_wan": float(s["costs"]["classroom_wan"]),
                  "new_school_wan": float(s["costs"]["new_primary_24_wan"]),
                  "bed_wan": float(s["costs"]["boarding_bed_wan"]),
                  "bus_wan": float(s["costs"]["bus_wan"]),
                  "keep_small_school_wan": 40.0,
                  "boarding_pupil_wan": 0.3},
        "travel_weight": 0.005,
        "time_limit": 60.0,
    }
    for key, value in overrides.items():
        if key not in rules:
            raise SchemaError(f"unknown consolidation rule '{key}'", fix=f"use one of: {', '.join(sorted(rules))}")
        if isinstance(rules[key], dict) and isinstance(value, Mapping):
            rules[key] = {**rules[key], **value}
        else:
            rules[key] = value
    if "bus_minutes" in overrides and "day_limit_minutes" not in overrides:
        rules["day_limit_minutes"] = {**rules["day_limit_minutes"], "upper": bus, "junior": bus}
    return rules


# --------------------------------------------------------------------------- demand
def village_pupils(
    county: County,
    *,
    year: int | None = None,
    demand: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Pupils per village and grade band.

    Base-year counts come from the villages' single-year ages (band ``lower`` =
    ages 6–8 ...). For a later ``year`` with a seat forecast (``demand`` with
    ``zone`` = township id, ``level``, ``grade``, ``year``, ``p50``), each
    township's band total is scaled to the forecast and shared among its villages
    in base-year proportions.

    Returns
    -------
    pandas.DataFrame
        ``village_id, township_id, band, pupils`` (float pupils).
    """
    v = county.villages
    rows = []
    for band, spec in BANDS.items():
        cols = [f"age_{a}" for a in spec["ages"]]
        missing = [c for c in cols if c not in v]
        if missing:
            raise SchemaError("villages lack the age columns needed for pupils", layer="villages",
                              column=", ".join(missing), fix="give children by single year of age (age_0 … age_17)")
        rows.append(pd.DataFrame({"village_id": v.index, "township_id": v["township_id"].to_numpy(),
                                  "band": band, "pupils": v[cols].sum(axis=1).astype(float).to_numpy()}))
    out = pd.concat(rows, ignore_index=True)
    if demand is None or year is None or year == county.base_year:
        return out
    d = demand[demand["year"] == year]
    if d.empty:
        raise SchemaError(f"the seat forecast has no year {year}", column="year",
                          fix="forecast up to the target year or choose another target year")
    grade_band = {g: b for b, s in BANDS.items() for g in s["grades"]}
    d = d[d["level"].isin(["primary", "junior"])].assign(band=lambda f: f["grade"].astype(int).map(grade_band))
    target = d.groupby(["zone", "band"])["p50"].sum()
    base = out.groupby(["township_id", "band"])["pupils"].sum()
    factor = (target / base.rename_axis(["zone", "band"])).replace([np.inf, -np.inf], np.nan)
    f = out.set_index(["township_id", "band"]).index.map(lambda k: factor.get(k, np.nan))
    out["pupils"] = out["pupils"] * pd.Series(f, index=out.index).fillna(1.0).to_numpy()
    return out


# --------------------------------------------------------------------------- helpers
def _count(value: Any, default: float = 0.0) -> float:
    """A count from the register; blank (None, NaN, pd.NA) gives ``default``."""
    return default if value is None or pd.isna(value) else float(value)


def _check_matrix(m: pd.DataFrame, villages: pd.Index, schools: pd.Index, what: str) -> pd.DataFrame:
    missing_v = villages.difference(m.index)
    missing_s = schools.difference(m.columns)
    if len(missing_v) or len(missing_s):
        raise SchemaError(f"the {what} matrix lacks rows or columns", column=what,
                          rows=[*map(str, missing_v[:5]), *map(str, missing_s[:5])],
                          fix="compute travel times for every village (rows) and school/site (columns)")
    sub = m.loc[villages, schools]
    numeric = all(pd.api.types.is_numeric_dtype(t) for t in sub.dtypes)
    out = sub.astype(float) if numeric else sub.apply(pd.to_numeric, errors="coerce").astype(float)
    text = out.isna() & sub.notna()
    if not numeric and text.to_numpy().any():
        rows = out.index[text.any(axis=1)]
        raise SchemaError(f"the {what} matrix holds values that are not numbers (e.g. "
                          f"'{sub.to_numpy()[text.to_numpy()][0]}')", column=what, rows=list(rows),
                          fix="give minutes as numbers; leave unreachable pairs empty (NaN)")
    neg = (out < 0).any(axis=1)
    if neg.any():
        raise SchemaError(f"negative {what}", column=what, rows=list(out.index[neg]),
                          fix="travel times must be ≥ 0 minutes")
    return out


def _anchors(schools: pd.DataFrame, county: County, rules: Mapping[str, Any]) -> dict[str, str]:
    """Receiving schools (anchor → reason key): central schools, county-seat schools, nine-year schools."""
    seat = county.county_seat
    out: dict[str, str] = {}
    for sid, row in schools.iterrows():
        lv, tw = row["level"], row.get("township_id")
        if lv == "nine_year":
            out[str(sid)] = "nine_year"
        elif lv == "primary" and (bool(row.get("is_central", False)) or tw == seat):
            out[str(sid)] = "central" if tw != seat else "county_seat"
        elif lv == "junior" and (tw == seat or not rules["junior_to_county_seat"]):
            out[str(sid)] = "county_seat" if tw == seat else "junior_kept"
    # townships without a flagged central primary: the largest primary is the central school
    prim = schools[schools["level"].isin(["primary", "nine_year"])]
    for _tw, group in prim.groupby("township_id"):
        if not any(str(s) in out and schools.loc[s, "level"] in ("primary", "nine_year") for s in group.index):
            big = group["students"].fillna(0).astype(float).idxmax()
            out[str(big)] = "largest"
    return out


def _nearest(t: pd.DataFrame, allowed: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Nearest allowed column per row: (school id or None, minutes or NaN)."""
    masked = t.where(allowed)
    has = masked.notna().any(axis=1)
    idx = pd.Series([None] * len(t), index=t.index, dtype=object)
    if has.any():
        idx[has] = masked[has].idxmin(axis=1)
    mins = masked.min(axis=1)
    return idx, mins


def _classes_needed(pupils_by_band: Mapping[str, float], size: Mapping[str, int], level: str) -> int:
    """Whole classes for the pupils: one set per grade, teaching points in mixed-grade classes (复式班)."""
    if level == "teaching_point":
        return math.ceil(round(sum(pupils_by_band.values()), 6) / size["teaching_point"])
    n = 0
    for band, p in pupils_by_band.items():
        if p <= 0:
            continue
        stage = BANDS[band]["stage"]
        k = size["teaching_point"] if level == "teaching_point" else size[stage]
        per_grade = p / len(BANDS[band]["grades"])
        n += len(BANDS[band]["grades"]) * math.ceil(round(per_grade, 6) / k)
    return n


# --------------------------------------------------------------------------- main
def consolidate(
    county: County,
    bus_minutes: pd.DataFrame,
    walk_minutes: pd.DataFrame | None = None,
    *,
    mode: Mode = "rules",
    pupils: pd.DataFrame | None = None,
    rules: Mapping[str, Any] | None = None,
    standards: Mapping[str, Any] | None = None,
    on_unreachable: Literal["raise", "report"] = "report",
) -> LayoutPlan:
    """Plan the 两集中 layout of primary and junior schools.

    Parameters
    ----------
    county
        The county (schools, villages, townships, sites).
    bus_minutes
        Village × school minutes by school bus (rows: village ids; columns: school
        ids, plus candidate site ids from ``county.sites`` for new schools). NaN =
        unreachable.
    walk_minutes
        Village × school walking minutes (children); optional. Pupils walk when it
        is within ``walk_limit_minutes``.
    mode
        ``"rules"``, ``"optimize"`` or ``"status_quo"`` (see module docstring).
    pupils
        ``village_id, band, pupils`` for the target year; base-year pupils from the
        villages' ages when omitted (:func:`village_pupils`).
    rules
        Overrides of :func:`default_rules`.
    standards
        Norms (national defaults when omitted).
    on_unreachable
        ``"raise"``: villages that reach no school are an error; ``"report"``: they
        are listed in ``plan.infeasible``.

    Returns
    -------
    LayoutPlan

    Raises
    ------
    SchemaError
        Unknown fixed school, a fixed school closed in the data, bad matrices.
    InfeasibleError
        Not enough seats: names the township and the shortfall (optimise mode), or
        villages reaching no school (``on_unreachable="raise"``).
    """
    std = standards or load_standards()
    r = default_rules(std, **dict(rules or {}))
    schools_all = county.schools
    open_mask = (schools_all["status"] == "open") & schools_all["level"].isin(_COMPULSORY)
    schools = schools_all[open_mask].copy()
    for col in ("classes", "boarding_beds", "teachers"):  # blank counts: none known (0), not a crash
        if col in schools:
            schools[col] = pd.to_numeric(schools[col], errors="coerce").fillna(0).astype(np.int64)
    for sid in r["fixed_open"]:
        if sid not in schools_all.index:
            raise SchemaError(f"fixed school '{sid}' does not exist", column="fixed_open", rows=[sid],
                              fix="use school ids from the schools layer")
        if schools_all.loc[sid, "status"] != "open":
            raise SchemaError(f"fixed school '{sid}' is closed in the data", column="fixed_open", rows=[sid],
                              fix="remove it from fixed_open or reopen it in the schools layer")
    sites = county.sites
    site_ids = pd.Index([s for s in sites.index if s in bus_minutes.columns] if r["allow_new"] and len(sites) else [],
                        dtype=object)
    clash = site_ids.intersection(schools_all.index)
    if len(clash):
        raise SchemaError("site ids repeat school ids", layer="sites", rows=list(clash),
                          fix="give candidate sites their own ids")
    vill = county.villages.index
    bus = _check_matrix(bus_minutes, vill, schools.index.append(site_ids), "bus_minutes")
    walk = None
    if walk_minutes is not None:
        walk = _check_matrix(walk_minutes, vill, schools.index, "walk_minutes")
    demand = pupils if pupils is not None else village_pupils(county)
    demand = demand[demand["pupils"] > 0].reset_index(drop=True)
    unreachable = bus.loc[:, schools.index].isna().all(axis=1)
    if unreachable.any() and on_unreachable == "raise":
        raise InfeasibleError("villages reach no school by road (NaN travel times to every school)",
                              layer="villages", rows=list(vill[unreachable]),
                              fix="check the road network around them (snapping, islands) or their coordinates")
    if mode == "optimize":
        from schoolplan._consolidate_milp import solve_layout

        decision, reason, assign, new_sites = solve_layout(county, schools, site_ids, bus, walk, demand, r)
    else:
        decision, reason, assign, new_sites = _rules_layout(county, schools, site_ids, bus, walk, demand, r,
                                                            status_quo=(mode == "status_quo"))
    return _build_plan(county, schools, site_ids, bus, walk, demand, r, decision, reason, assign, new_sites,
                       mode=mode)


def _travel(bus: pd.DataFrame, walk: pd.DataFrame | None, r: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Door-to-door minutes (walk when within the walking limit, else bus) and the walk flag."""
    if walk is None:
        return bus, pd.DataFrame(False, index=bus.index, columns=bus.columns)
    w = walk.reindex(columns=bus.columns)
    walks = (w <= r["walk_limit_minutes"]).fillna(False)
    return bus.where(~walks, w), walks


def _allowed(level_of: pd.Series, cols: pd.Index, band: str) -> pd.Series:
    return pd.Series([level_of.get(c) in BANDS[band]["levels"] for c in cols], index=cols)


def _attended(minutes: pd.DataFrame, level_of: pd.Series) -> dict[str, tuple[pd.Series, pd.Series]]:
    """Where pupils go today, per band: the nearest open school of the band (id, minutes)."""
    out = {}
    for b in BANDS:
        ok = _allowed(level_of, minutes.columns, b)
        out[b] = _nearest(minutes, pd.DataFrame(np.broadcast_to(ok.to_numpy(), minutes.shape), index=minutes.index,
                                                columns=minutes.columns))
    return out


def _rules_layout(
    county: County,
    schools: pd.DataFrame,
    site_ids: pd.Index,
    bus: pd.DataFrame,
    walk: pd.DataFrame | None,
    demand: pd.DataFrame,
    r: Mapping[str, Any],
    *,
    status_quo: bool,
) -> tuple[dict[str, str], dict[str, tuple[str, str]], pd.DataFrame, list[str]]:
    minutes, _walks = _travel(bus.loc[:, schools.index], walk, r)
    level_of = schools["level"]
    # Where pupils go today: the nearest open school of their band
    before = _attended(minutes, level_of)
    decision: dict[str, str] = {}
    reason: dict[str, tuple[str, str]] = {}
    if status_quo:
        for sid in schools.index:
            decision[sid] = "keep"
            reason[sid] = ("现状保留", "status quo")
        # today's pupils are in today's schools: the maximum size is a planning norm, not a cap on the status quo
        today = {**r, "max_size": dict.fromkeys(r["max_size"], math.inf)}
        assign, _full = _assign(minutes, level_of, set(schools.index), demand, before, today, _seats(schools, r))
        return decision, reason, assign, []
    anchors = _anchors(schools, county, r)
    fixed = set(map(str, r["fixed_open"]))
    anchor_txt = {"central": ("乡镇中心校，作为接收学校", "township central school (receiving)"),
                  "county_seat": ("县城学校，作为接收学校", "county-seat school (receiving)"),
                  "nine_year": ("九年一贯制学校，小学和初中均接收", "nine-year school (receives both levels)"),
                  "largest": ("乡镇规模最大的小学，视作中心校", "largest primary of the township, taken as central"),
                  "junior_kept": ("初中不向县城集中（规则设置）", "junior schools not concentrated (rule)"),
                  "no_seat_junior": ("县城没有可接收的初中，保留", "kept: no junior school in the county seat "
                                     "to receive its pupils")}
    # junior schools concentrate only if the county seat has a school to receive them
    juniors = [s for s in schools.index if level_of[s] == "junior" and s not in anchors]
    if r["junior_to_county_seat"] and juniors and not any(level_of[s] in ("junior", "nine_year") for s in anchors):
        warnings.warn("no junior middle or nine-year school in the county seat (县城) to receive junior pupils; "
                      f"junior schools ({', '.join(map(str, juniors[:8]))}) are kept — check is_county_seat in "
                      "the townships layer and the county-seat schools", DataWarning, stacklevel=3)
        anchors.update({str(s): "no_seat_junior" for s in juniors})
    for sid, why in anchors.items():
        decision[sid] = "keep"
        reason[sid] = anchor_txt[why]
    bus_r = r["bus_minutes"]
    for sid, row in schools.iterrows():
        if sid in decision:
            continue
        if sid in fixed:
            decision[sid], reason[sid] = "keep", ("指定保留", "fixed open by the scenario")
            continue
        fails_zh, fails_en = [], []
        if row["level"] == "junior" and r["junior_to_county_seat"]:
            fails_zh.append("初中向县城集中")
            fails_en.append("junior schools concentrate into the county seat")
        else:
            mine = [b for b in BANDS if row["level"] in BANDS[b]["levels"]]
            far = []
            for b in mine:
                nearest_id, _mins = before[b]
                catch = demand[(demand["band"] == b) & demand["village_id"].map(nearest_id).eq(sid)]
                if len(catch):
                    m = bus.loc[catch["village_id"], sid]
                    far += list(catch["village_id"][(m > bus_r).to_numpy() | m.isna().to_numpy()])
            if far:
                fails_zh.append(f"生源村（{len(set(far))}个）校车超过{bus_r:g}分钟")
                fails_en.append(f"{len(set(far))} villages of its pupils are over {bus_r:g} min by bus")
            enrol = _count(row.get("students"), np.nan)  # blank enrolment: the size rule is not applied
            if enrol < r["min_enrolment"]:
                fails_zh.append(f"在校生{enrol:.0f}人，少于{r['min_enrolment']}人")
                fails_en.append(f"enrolment {enrol:.0f} below {r['min_enrolment']}")
            for col, key, zh, en in (("quality_score", "min_quality", "办学质量", "quality"),
                                     ("condition_score", "min_condition", "办学条件", "conditions")):
                val = row.get(col)
                if val is not None and not pd.isna(val) and r[key] is not None and float(val) < r[key]:
                    fails_zh.append(f"{zh}评分{float(val):.0f}低于{r[key]:g}")
                    fails_en.append(f"{en} score {float(val):.0f} below {r[key]:g}")
        if fails_zh:
            decision[sid] = "merge"
            reason[sid] = ("；".join(fails_zh), "; ".join(fails_en))
        else:
            decision[sid] = "keep"
            reason[sid] = (f"生源在校车{bus_r:g}分钟内，规模和条件达标",
                           f"pupils within {bus_r:g} min by bus, enrolment and conditions adequate")
    # 应留必留: lower grades whose every remaining school is beyond their day limit keep their school
    changed = True
    while changed:
        changed = False
        kept = {s for s, d in decision.items() if d == "keep"}
        lower_ok = _allowed(level_of, minutes.columns, "lower") & minutes.columns.isin(list(kept))
        _, best = _nearest(minutes, pd.DataFrame(np.broadcast_to(lower_ok.to_numpy(), minutes.shape),
                                                 index=minutes.index, columns=minutes.columns))
        limit = r["day_limit_minutes"]["lower"]
        near_id, _ = before["lower"]
        lower = demand[demand["band"] == "lower"]
        stranded = lower[(best.reindex(lower["village_id"]).isna() | (best.reindex(lower["village_id"]) > limit))
                         .to_numpy()]
        for sid in stranded["village_id"].map(near_id).dropna().unique():
            if decision.get(sid) == "merge":
                vs = stranded["village_id"][stranded["village_id"].map(near_id).eq(sid)]
                decision[sid] = "keep"
                reason[sid] = (f"应留必留：{len(vs)}个村的1–3年级学生到其他学校超过{limit:g}分钟",
                               f"must stay (应留必留): grade 1–3 pupils of {len(vs)} villages would travel "
                               f"over {limit:g} min to any other school")
                changed = True
    open_ids = {s for s, d in decision.items() if d == "keep"}
    # kept small schools serve only pupils within the bus radius (or their own 应留必留 villages)
    small = [s for s in open_ids if s not in anchors and s not in fixed]
    reach = {}
    for b in BANDS:
        reach[b] = minutes.notna()
        for s in small:
            reach[b][s] = (bus[s] <= bus_r) | (before[b][0] == s).reindex(minutes.index, fill_value=False)
    assign, new_sites = _place(county, schools, site_ids, bus, minutes, level_of, open_ids, demand, before, r,
                               decision, reason, reach=reach)
    return decision, reason, assign, new_sites


def _seats(schools: pd.DataFrame, r: Mapping[str, Any]) -> pd.Series:
    """Classroom seats now: ``capacity_seats``, else classes × standard class size."""
    size = schools["level"].map(lambda lv: r["class_size"]["teaching_point"] if lv == "teaching_point"
                                else r["class_size"]["junior"] if lv == "junior" else r["class_size"]["primary"])
    fallback = schools["classes"].fillna(0).astype(float) * size
    seats = schools["capacity_seats"].astype(float) if "capacity_seats" in schools else fallback
    return seats.fillna(fallback)


def _assign(
    minutes: pd.DataFrame,
    level_of: pd.Series,
    open_ids: set[str],
    demand: pd.DataFrame,
    before: Mapping[str, tuple[pd.Series, pd.Series]],
    r: Mapping[str, Any],
    seats: pd.Series,
    *,
    reach: Mapping[str, pd.DataFrame] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Share each village-band among open schools: a capacitated transportation LP on HiGHS.

    Minimises pupil-minutes plus ``overflow_minutes`` per pupil placed above a
    school's current seats (crowding or expansion), with every school at most its
    maximum size. Pupils may go to schools within their day limit (or boarding
    range), and always to their nearest school of the band, so that pupils beyond
    every limit still appear (and are reported). Pupils that fit nowhere because
    every reachable school is at its maximum size come back in the second frame.

    Returns
    -------
    tuple of DataFrame
        Assignment rows ``village_id, band, pupils, school_id, school_before,
        minutes_before`` (one row per village × band × school share) and the
        unplaced ``village_id, band, pupils``.
    """
    from schoolplan._highs import HighsModel

    cols = [c for c in minutes.columns if c in open_ids]
    col_pos = {c: j for j, c in enumerate(cols)}
    d = demand.reset_index(drop=True)
    if d.empty:  # no pupils at all (e.g. villages without children): nothing to assign
        none = pd.DataFrame({"village_id": pd.Series(dtype=object), "band": pd.Series(dtype=object),
                             "pupils": pd.Series(dtype=float)})
        return (none.assign(school_id=pd.Series(dtype=object), school_before=pd.Series(dtype=object),
                            minutes_before=pd.Series(dtype=float)), none)
    vi, sj, cost, dd = [], [], [], []
    t = minutes[cols]
    for band in BANDS:
        idx = d.index[d["band"] == band]
        if not len(idx):
            continue
        ok = _allowed(level_of, pd.Index(cols), band)
        mask = pd.DataFrame(np.broadcast_to(ok.to_numpy(), t.shape), index=t.index, columns=t.columns)
        if reach is not None:
            mask = mask & reach[band].reindex(index=t.index, columns=t.columns, fill_value=True)
        nearest_id, _ = _nearest(t, mask)
        limit = r["max_board_minutes"] if band in r["boarding_bands"] else r["day_limit_minutes"][band]
        within = mask & (t <= limit)
        for k in idx:
            v = d.at[k, "village_id"]
            row = t.loc[v].to_numpy(float)
            allowed = within.loc[v].to_numpy(bool).copy()
            near = nearest_id.get(v)
            if near is not None:
                allowed[col_pos[near]] = True
            for j in np.flatnonzero(allowed & np.isfinite(row)):
                vi.append(k)
                sj.append(j)
                cost.append(d.at[k, "pupils"] * row[j])
                dd.append(d.at[k, "pupils"])
    vi_a, sj_a, dd_a = np.array(vi, dtype=np.int64), np.array(sj, dtype=np.int64), np.array(dd, dtype=float)
    n, m = len(d), len(cols)
    model = HighsModel()
    x0 = model.add_cols(np.array(cost, dtype=float), 0.0, 1.0, integer=False)
    u0 = model.add_cols(d["pupils"].to_numpy(float) * 1e5, 0.0, 1.0, integer=False)
    cap = seats.reindex(cols).fillna(0.0).to_numpy(float)
    big = np.array([float(r["max_size"].get(level_of[c], 2000)) for c in cols])
    o0 = model.add_cols(np.full(m, float(r["overflow_minutes"])), 0.0, np.maximum(big - cap, 0.0) + 1e-9,
                        integer=False)
    r0 = model.add_rows(1.0, 1.0, n)
    model.add_entries(r0 + vi_a, x0 + np.arange(len(vi_a)), 1.0)
    model.add_entries(r0 + np.arange(n), u0 + np.arange(n), 1.0)
    r1 = model.add_rows(-np.inf, np.minimum(cap, big), m)
    model.add_entries(r1 + sj_a, x0 + np.arange(len(vi_a)), dd_a)
    model.add_entries(r1 + np.arange(m), o0 + np.arange(m), -1.0)
    run = model.solve(sense=1, time_limit=float(r.get("time_limit", 60.0)), mip_rel_gap=1e-9, threads=None)
    if run.x is None:
        raise InfeasibleError("the pupil assignment could not be solved", fix="report this with your data")
    share = run.x[x0:x0 + len(vi_a)]
    keep = share > 1e-6
    rows = pd.DataFrame({"k": vi_a[keep], "school_id": [cols[j] for j in sj_a[keep]], "share": share[keep]})
    out = d.loc[rows["k"], ["village_id", "band", "pupils"]].reset_index(drop=True)
    out["pupils"] = out["pupils"].to_numpy() * rows["share"].to_numpy()
    out["school_id"] = rows["school_id"].to_numpy()
    unplaced = d.assign(pupils=d["pupils"] * run.x[u0:u0 + n])
    unplaced = unplaced[unplaced["pupils"] > 1e-6][["village_id", "band", "pupils"]]
    no_school = d[~d.index.isin(vi_a)]
    lost = pd.concat([unplaced[unplaced.index.isin(vi_a)], no_school]).drop_duplicates()
    extra = unplaced[~unplaced.index.isin(vi_a)]
    out = pd.concat([out, extra.assign(school_id=None)], ignore_index=True)
    out["school_before"] = [before[b][0].get(v) for v, b in zip(out["village_id"], out["band"], strict=True)]
    out["minutes_before"] = [before[b][1].get(v, np.nan) for v, b in zip(out["village_id"], out["band"], strict=True)]
    capacity_lost = lost[lost.index.isin(vi_a)] if len(lost) else lost
    return out, capacity_lost


def _place(
    county: County,
    schools: pd.DataFrame,
    site_ids: pd.Index,
    bus: pd.DataFrame,
    minutes: pd.DataFrame,
    level_of: pd.Series,
    open_ids: set[str],
    demand: pd.DataFrame,
    before: Mapping[str, tuple[pd.Series, pd.Series]],
    r: Mapping[str, Any],
    decision: dict[str, str],
    reason: dict[str, tuple[str, str]],
    *,
    reach: Mapping[str, pd.DataFrame] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Assign pupils; open candidate sites while reachable schools are all at their maximum size."""
    new_sites: list[str] = []
    seats = _seats(schools, r)
    while True:
        assign, full = _assign(minutes, level_of, open_ids, demand, before, r, seats, reach=reach)
        if full.empty:
            return assign, new_sites
        cand = [s for s in site_ids if s not in new_sites] if r["allow_new"] else []
        vs = full["village_id"].unique()
        if not cand:
            short = full.groupby(full["village_id"].map(county.villages["township_id"]))["pupils"].sum()
            names = county.townships["name"] if "name" in county.townships else pd.Series(dtype=object)
            raise InfeasibleError(
                f"not enough seats: {full['pupils'].sum():.0f} pupils find no school under its maximum size within "
                "reach — " + ", ".join(f"township {names.get(k, k)} ({k}) lacks {v:.0f} seats"
                                      for k, v in short.items()),
                layer="villages", rows=list(vs),
                fix="allow new schools on candidate sites, raise max_size, or keep more schools open")
        best = min(cand, key=lambda s: float(np.nanmean(bus.loc[vs, s].to_numpy(float))))
        level = "junior" if set(full["band"]) == {"junior"} else "primary"
        new_sites.append(best)
        level_of = pd.concat([level_of, pd.Series({best: level})])
        minutes = minutes.join(bus[[best]]) if best not in minutes.columns else minutes
        seats = pd.concat([seats, pd.Series({best: 0.0})])
        open_ids = open_ids | {best}
        decision[best] = "new"
        tws = ", ".join(sorted(set(county.villages.loc[vs, "township_id"].dropna().astype(str))))
        reason[best] = (f"{tws}学位不足（{full['pupils'].sum():.0f}人），在此新建学校",
                        f"not enough seats for {full['pupils'].sum():.0f} pupils of {tws}: new school here")


def _build_plan(
    county: County,
    schools: pd.DataFrame,
    site_ids: pd.Index,
    bus: pd.DataFrame,
    walk: pd.DataFrame | None,
    demand: pd.DataFrame,
    r: Mapping[str, Any],
    decision: Mapping[str, str],
    reason: Mapping[str, tuple[str, str]],
    assign: pd.DataFrame,
    new_sites: list[str],
    *,
    mode: str,
) -> LayoutPlan:
    """Modes, minutes, boarding, buses, classes and teachers from the decisions."""
    minutes, walks = _travel(bus, walk, r)
    a = assign.copy()
    a["minutes"] = pd.Series([minutes.at[v, s] if s is not None and not pd.isna(s) else np.nan
                              for v, s in zip(a["village_id"], a["school_id"], strict=True)], index=a.index,
                             dtype=float)
    a["walks"] = pd.Series([bool(walks.at[v, s]) if s is not None and not pd.isna(s) else False
                            for v, s in zip(a["village_id"], a["school_id"], strict=True)], index=a.index,
                           dtype=bool)
    limit = a["band"].map(r["day_limit_minutes"]).astype(float)
    boardable = a["band"].isin(r["boarding_bands"])
    mode_col = np.select(
        [a["school_id"].isna() | a["minutes"].isna(), a["walks"], a["minutes"] <= limit,
         boardable & (a["minutes"] <= r["max_board_minutes"])],
        ["unserved", "walk", "bus", "boarding"], default="unserved")
    a["mode"] = mode_col
    a["over_limit"] = (a["minutes"] > r["bus_minutes"]).fillna(True) & (a["mode"] != "walk")
    infeasible = a[a["mode"] == "unserved"]
    inf_rows = []
    for _, row in infeasible.iterrows():
        if row["school_id"] is None or pd.isna(row["minutes"]):
            zh, en = "无可达学校", "no school reachable by road"
        else:
            zh = f"{BANDS[row['band']]['zh']}单程{row['minutes']:.0f}分钟，超过走读上限且不可寄宿"
            en = (f"{BANDS[row['band']]['en']}: {row['minutes']:.0f} min one way, over the day limit "
                  "and not allowed to board")
        inf_rows.append({"village_id": row["village_id"], "band": row["band"], "pupils": row["pupils"],
                         "reason_zh": zh, "reason_en": en})
    infeasible_df = pd.DataFrame(inf_rows, columns=["village_id", "band", "pupils", "reason_zh", "reason_en"])
    # per school
    sch = county.schools
    ids = list(schools.index) + list(new_sites)
    served = a[a["mode"] != "unserved"]
    load = served.pivot_table(index="school_id", columns="band", values="pupils", aggfunc="sum", fill_value=0.0)
    rows = []
    size = r["class_size"]
    for sid in ids:
        is_new = sid in new_sites
        base = county.sites.loc[sid] if is_new else sch.loc[sid]
        level = ("junior" if served.loc[served["school_id"] == sid, "band"].eq("junior").all() else "primary") \
            if is_new else base["level"]
        bands = load.loc[sid].to_dict() if sid in load.index else {}
        pupils_after = float(sum(bands.values()))
        classes_before = 0 if is_new else int(_count(base.get("classes")))
        need = _classes_needed(bands, size, level)
        added = max(0, need - classes_before) if decision.get(sid) in ("keep", "new", "expand") else 0
        if mode == "status_quo":
            added = 0  # the status quo builds nothing: pupils crowd into today's classes
        dec = decision.get(sid, "keep")
        if dec == "keep" and added > 0 and mode != "status_quo":
            dec = "expand"
        boarders = float(served.loc[(served["school_id"] == sid) & (served["mode"] == "boarding"), "pupils"].sum())
        riders = float(served.loc[(served["school_id"] == sid) & (served["mode"] == "bus"), "pupils"].sum())
        beds = 0 if is_new else int(_count(base.get("boarding_beds")))
        prim = sum(v for b, v in bands.items() if BANDS[b]["stage"] == "primary")
        jun = bands.get("junior", 0.0)
        t_need = math.ceil(round(prim / r["teacher_ratio"]["primary"], 6)) + math.ceil(
            round(jun / r["teacher_ratio"]["junior"], 6))
        staff = 0 if is_new else int(_count(base.get("teachers")))
        receiving = None
        if dec == "merge":
            moved = a[(a["school_before"] == sid) & a["school_id"].notna()]
            receiving = moved.groupby("school_id")["pupils"].sum().idxmax() if len(moved) else None
        zh, en = reason.get(sid, ("", ""))
        reuse = None
        if dec == "merge":
            kg_kids = county.villages.loc[a.loc[a["school_before"] == sid, "village_id"].unique(),
                                          ["age_3", "age_4", "age_5"]].to_numpy().sum() if "age_3" in county.villages else 0
            reuse = "kindergarten" if kg_kids >= 30 else "community"
            if reuse == "kindergarten":
                dec = "convert"
                zh += f"；校舍建议改建为幼儿园（周边3–5岁儿童约{kg_kids:.0f}人）"
                en += f"; building suggested as a kindergarten (about {kg_kids:.0f} children aged 3–5 nearby)"
        if dec in ("keep", "expand") and added > 0:
            zh += f"；需增加{added}个班以消除超标准班额"
            en += f"; needs {added} more classes to keep classes within the standard size"
        rows.append({
            "school_id": sid, "name": base.get("name") or sid, "level": level,
            "township_id": base.get("township_id"), "decision": dec, "receiving_id": receiving,
            "reason_zh": zh, "reason_en": en,
            "students_before": 0 if is_new else int(_count(base.get("students"))),
            "students_after": round(pupils_after, 1) if dec not in ("merge", "convert") else 0.0,
            "classes_before": classes_before,
            "classes_after": (classes_before + added) if dec not in ("merge", "convert") else 0,
            "classes_added": added,
            "capacity_after": 0,
            "_size": (size["primary"] * prim + size["junior"] * jun) / (prim + jun)
            if level == "nine_year" and prim + jun > 0 else np.nan,
            "class_size_after": 0.0,
            "boarders": round(boarders, 1), "beds_available": beds,
            "beds_needed": max(0, math.ceil(round(boarders - beds, 6))),
            "buses": math.ceil(round(riders / (r["bus_seats"] * r["bus_trips"]), 6)) if riders > 0 else 0,
            "teachers_needed": t_need if dec not in ("merge", "convert") else 0,
            "teachers_on_staff": staff,
            "reuse": reuse,
            "geometry": base.geometry if not is_new else county.sites.loc[sid].geometry.centroid,
        })
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=county.crs).set_index("school_id")
    # seats per class: the stage's standard; nine-year schools blend 45 and 50 by their pupils
    stage_size = out["_size"].fillna(out["level"].map(
        lambda lv: size["teaching_point"] if lv == "teaching_point" else size["junior"] if lv == "junior"
        else size["primary"]))
    out["capacity_after"] = np.floor(out["classes_after"] * stage_size).astype(int)
    out = out.drop(columns="_size")
    out["class_size_after"] = (out["students_after"] / out["classes_after"].where(out["classes_after"] > 0)).round(1)
    out["teacher_surplus"] = out["teachers_on_staff"] - out["teachers_needed"]
    # already-closed buildings are vacated stock
    closed = sch[(sch["status"] == "closed") & sch["level"].isin(_COMPULSORY)]
    if len(closed):
        vac = gpd.GeoDataFrame({
            "name": closed["name"], "level": closed["level"], "township_id": closed.get("township_id"),
            "decision": "vacant", "receiving_id": None,
            "reason_zh": "已停办的闲置校舍", "reason_en": "closed before the plan (vacated building)",
            "students_before": 0, "students_after": 0.0, "classes_before": 0, "classes_after": 0,
            "classes_added": 0, "capacity_after": 0, "class_size_after": np.nan, "boarders": 0.0,
            "beds_available": closed["boarding_beds"].fillna(0).astype(int), "beds_needed": 0, "buses": 0,
            "teachers_needed": 0, "teachers_on_staff": 0, "teacher_surplus": 0, "reuse": "kindergarten",
        }, geometry=closed.geometry, crs=county.crs)
        out = pd.concat([out, vac])
    out.index.name = "school_id"
    a_out = a[["village_id", "band", "school_id", "pupils", "mode", "minutes", "school_before",
               "minutes_before", "over_limit"]]
    return LayoutPlan(schools=out, assignment=a_out, summary=_summary(out, a_out, county, r),
                      infeasible=infeasible_df, params={"mode": mode, **r})


def _summary(schools: gpd.GeoDataFrame, a: pd.DataFrame, county: County, r: Mapping[str, Any]) -> dict[str, Any]:
    served = a[a["mode"] != "unserved"]
    rode = served[served["mode"].isin(["bus", "boarding"])]
    m = rode["minutes"].to_numpy(float)
    w = rode["pupils"].to_numpy(float)
    active = schools[schools["decision"].isin(["keep", "expand", "new"])]
    before = county.schools[(county.schools["status"] == "open") & county.schools["level"].isin(_COMPULSORY)]

    def wq(q: float) -> float:
        if not len(m) or w.sum() <= 0:
            return float("nan")
        order = np.argsort(m)
        cw = np.cumsum(w[order]) / w.sum()
        return float(m[order][np.searchsorted(cw, q)])

    return {
        "schools_before": before.groupby("level").size().to_dict(),
        "schools_after": active.groupby("level").size().to_dict(),
        "decisions": schools.groupby("decision").size().to_dict(),
        "pupils": float(a["pupils"].sum()),
        "pupils_over_limit": float(a.loc[a["over_limit"], "pupils"].sum()),
        "share_within_limit": float(1 - a.loc[a["over_limit"], "pupils"].sum() / max(a["pupils"].sum(), 1e-9)),
        "mean_minutes": float((m * w).sum() / w.sum()) if w.sum() > 0 else float("nan"),
        "p95_minutes": wq(0.95),
        "max_minutes": float(m.max()) if len(m) else float("nan"),
        "boarders": float(schools["boarders"].sum()),
        "beds_needed": int(schools["beds_needed"].sum()),
        "buses": int(schools["buses"].sum()),
        "classes_added": int(schools["classes_added"].sum()),
        "new_schools": int((schools["decision"] == "new").sum()),
        "merged": int(schools["decision"].isin(["merge", "convert"]).sum()),
        "vacated": int(schools["decision"].isin(["merge", "convert", "vacant"]).sum()),
        "must_keep": int(schools["reason_zh"].str.startswith("应留必留").sum()),
        "teachers_needed": int(schools["teachers_needed"].sum()),
        "teachers_on_staff": int(schools["teachers_on_staff"].sum()),
        "teachers_surplus": int(schools["teacher_surplus"].sum()),
        "infeasible_pupils": float(a.loc[a["mode"] == "unserved", "pupils"].sum()),
        "bus_minutes": r["bus_minutes"],
    }
