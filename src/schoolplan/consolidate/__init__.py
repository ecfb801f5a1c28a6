"""两集中 consolidation: which schools stay, merge, expand or are built — and who goes where.

Primary schools concentrate into township-seat schools (乡镇中心校) and junior middle
schools into the county seat (县城); nine-year schools receive both. The plan starts
from **today**: village children are linked to the schools they attend so that every
school's pupils by grade band equal its register
(:func:`~schoolplan.consolidate.attendance.calibrate_attendance`), and those flows are
carried to the target year with the township forecast
(:func:`~schoolplan.consolidate.attendance.project_attendance`). Pupils whose school
stays, stay; only the pupils of closing schools move.

Modes:

``status_quo``
    Every open school stays; every pupil stays at today's school; nothing is built
    (classrooms, beds and buses stay as they are).
``rules``
    The policy as stated (:mod:`schoolplan.consolidate.policy`): receiving schools,
    the keep test, and the closure test (应留必留: a school closes only if each of its
    pupils reaches a receiving school within the day limit of their band, or may board
    there); pupils of closing schools are placed by a min-cost flow
    (:mod:`schoolplan.consolidate.placement`); receiving schools expand by whole
    classrooms, new schools open on candidate sites when receiving schools are full.
``optimize``
    The open set is chosen by a MILP minimising travel and costs under the same limits
    (:mod:`schoolplan.consolidate.milp`); pupils are then placed as in rules mode.

Planners may force ``keep``, ``close`` or ``expand`` per school (``rules.force``); a
forced closure ignores the limits and :func:`schoolplan.audit.audit` names every rule it
breaks. Travel times come in as village × school matrices (minutes; NaN = unreachable),
so any travel-time source can be used.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from schoolplan.consolidate.attendance import (
    attendance_fit,
    calibrate_attendance,
    largest_remainder,
    project_attendance,
    register_by_band,
    village_band_totals,
)
from schoolplan.consolidate.layout import assignment_modes, school_table
from schoolplan.consolidate.milp import choose_open
from schoolplan.consolidate.placement import place_pupils
from schoolplan.consolidate.policy import anchors, closure_test, door_to_door, keep_test
from schoolplan.consolidate.reasons import (
    ANCHOR_REASONS,
    blocked_reason,
    failed_tests,
    keep_reason,
    upgrade_need,
)
from schoolplan.consolidate.rules import FORCE_DECISIONS, Rules, make_rules
from schoolplan.errors import DataWarning, InfeasibleError, SchemaError
from schoolplan.metrics import plan_figures
from schoolplan.results import LayoutPlan
from schoolplan.schema import BANDS, COMPULSORY_LEVELS
from schoolplan.standards import load_standards

if TYPE_CHECKING:
    from schoolplan.county import County

__all__ = [
    "BANDS",
    "FORCE_DECISIONS",
    "Rules",
    "apply_reuse",
    "attendance_fit",
    "calibrate_attendance",
    "consolidate",
    "default_rules",
    "make_rules",
    "project_attendance",
    "register_by_band",
    "today_attendance",
    "village_pupils",
]

Mode = Literal["status_quo", "rules", "optimize"]


def default_rules(standards: Mapping[str, Any] | None = None, **overrides: Any) -> Rules:
    """Rules from the standards data with overrides (same as :func:`make_rules`)."""
    return make_rules(standards, **overrides)


def village_pupils(county: County, *, year: int | None = None, demand: pd.DataFrame | None = None,
                   flows: pd.DataFrame | None = None) -> pd.DataFrame:
    """Pupils per village and grade band (``village_id, township_id, band, pupils``, ints).

    From attendance ``flows`` when given (the consistent source); otherwise the
    villages' children of each band's ages in the base year, or — with ``demand`` and
    a later ``year`` — scaled per township and band to the forecast (largest
    remainder keeps the township totals whole).
    """
    if flows is not None:
        return village_band_totals(flows, county.villages)
    v = county.villages
    rows = []
    for band, spec in BANDS.items():
        cols = [f"age_{a}" for a in spec["ages"]]  # type: ignore[union-attr]
        missing = [c for c in cols if c not in v]
        if missing:
            raise SchemaError("villages lack the age columns needed for pupils", layer="villages",
                              column=", ".join(missing), fix="give children by single year of age (age_0 … age_17)")
        kids = v[cols].apply(pd.to_numeric, errors="coerce").fillna(0).sum(axis=1)
        rows.append(pd.DataFrame({"village_id": v.index, "township_id": v["township_id"].to_numpy(), "band": band,
                                  "pupils": kids.round().astype(np.int64).to_numpy()}))
    out = pd.concat(rows, ignore_index=True)
    if demand is None or year is None or year == county.base_year:
        return out
    d = demand[demand["year"] == year]
    if d.empty:
        raise SchemaError(f"the seat forecast has no year {year}", column="year",
                          fix="forecast up to the target year or choose another target year")
    grade_band = {g: b for b, s in BANDS.items() for g in s["grades"]}  # type: ignore[union-attr]
    d = d[d["level"].isin(["primary", "junior"])].assign(band=lambda f: f["grade"].astype(int).map(grade_band))
    target = d.groupby(["zone", "band"])["p50"].sum()
    parts = []
    for (tw, band), grp in out.groupby(["township_id", "band"], sort=False):
        want = target.get((tw, band))
        n = round(float(want)) if want is not None and np.isfinite(want) else int(grp["pupils"].sum())
        parts.append(grp.assign(pupils=largest_remainder(grp["pupils"].to_numpy(float), n)))
    return pd.concat(parts).sort_index()


# --------------------------------------------------------------------------- inputs
def apply_reuse(plan: LayoutPlan, reuse: pd.DataFrame, *, county: County | None = None) -> LayoutPlan:
    """The plan with vacated buildings given a new use: ``merge``/``vacant`` → ``convert``.

    A building the plan empties (``merge``) or that stood empty before it (``vacant``)
    becomes ``convert`` when ``reuse`` suggests a use for it (e.g. a kindergarten where
    children still lack seats, :func:`schoolplan.reserve.kindergarten_reuse`); its
    reason gains the suggestion's own words and ``reuse`` names the use. Pupils,
    routes and every other figure are unchanged; the summary is recomputed by
    :func:`schoolplan.metrics.plan_figures` so its decision counts stay the plan's.

    Parameters
    ----------
    plan
        A layout plan.
    reuse
        Indexed by school id: ``reuse`` (a use such as ``"kindergarten"``, or None for
        no suggestion), ``reason_zh``, ``reason_en``.
    county
        For the summary's schools-before counts (as in :func:`consolidate`).

    Returns
    -------
    LayoutPlan
        A new plan; ``plan`` is not modified.
    """
    if reuse is None or not len(reuse):
        return plan
    s = plan.schools.copy()
    use = reuse[reuse["reuse"].notna()]
    use = use[use.index.map(str).isin(s.index.map(str))]
    use = use.set_axis(use.index.map(str))
    hit = [i for i in s.index if str(i) in use.index and s.at[i, "decision"] in ("merge", "vacant")]
    if not hit:
        return plan
    for i in hit:
        u = use.loc[str(i)]
        s.at[i, "decision"] = "convert"
        s.at[i, "reuse"] = str(u["reuse"])
        zh, en = str(s.at[i, "reason_zh"] or ""), str(s.at[i, "reason_en"] or "")
        s.at[i, "reason_zh"] = "；".join(t for t in (zh, str(u.get("reason_zh") or "")) if t)
        s.at[i, "reason_en"] = "; ".join(t for t in (en, str(u.get("reason_en") or "")) if t)
    summary = plan_figures(s, plan.assignment, plan.params, buses_today=int(plan.summary.get("buses_today", 0)),
                           county=county)
    return LayoutPlan(schools=s, assignment=plan.assignment, summary=summary, infeasible=plan.infeasible,
                      params=plan.params)


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
                          fix="travel times must be ≥ 0 minutes; leave unreachable pairs empty (NaN)")
    inf = np.isinf(out.to_numpy()).any(axis=1)
    if inf.any():
        raise SchemaError(f"infinite {what}", column=what, rows=list(out.index[inf]),
                          fix="leave unreachable pairs empty (NaN) instead of inf")
    return out


def _open_schools(county: County) -> pd.DataFrame:
    s = county.schools
    schools = s[(s["status"] == "open") & s["level"].isin(COMPULSORY_LEVELS)].copy()
    for col in ("classes", "boarding_beds", "teachers", "students"):  # blank counts: none known (0), not a crash
        schools[col] = pd.to_numeric(schools[col], errors="coerce").fillna(0).astype(np.int64) \
            if col in schools else 0
    return schools


def _seats(schools: pd.DataFrame, rules: Rules) -> pd.Series:
    """Classroom seats now: ``capacity_seats``, else classes × standard class size."""
    size = schools["level"].map(rules.stage_class_size)
    fallback = schools["classes"].astype(float) * size
    if "capacity_seats" not in schools:
        return fallback
    return pd.to_numeric(schools["capacity_seats"], errors="coerce").fillna(fallback)


def _flows(pupils: pd.DataFrame | None, base: pd.DataFrame) -> pd.DataFrame:
    """Target-year flows: given flows, or base flows rescaled to given village-band totals."""
    if pupils is None:
        return base.copy()
    if "school_id" in pupils:
        f = pupils[["village_id", "band", "school_id", "pupils"]].copy()
        f["pupils"] = pd.to_numeric(f["pupils"], errors="coerce").fillna(0).round().astype(np.int64)
        return f[f["pupils"] > 0].reset_index(drop=True)
    want = pupils.groupby(["village_id", "band"])["pupils"].sum()
    parts = []
    for (v, b), grp in base.groupby(["village_id", "band"], dropna=False):
        n = want.get((v, b))
        n = int(grp["pupils"].sum()) if n is None or pd.isna(v) else round(float(n))
        parts.append(grp.assign(pupils=largest_remainder(grp["pupils"].to_numpy(float), n)))
    extra = [(v, b) for (v, b) in want.index if not ((base["village_id"] == v) & (base["band"] == b)).any()
             and want[(v, b)] >= 0.5]
    if extra:
        warnings.warn(f"{len(extra)} village-band(s) have pupils but attend no school in the register "
                      f"(e.g. {extra[0][0]} {extra[0][1]}); they are left out", DataWarning, stacklevel=3)
    out = pd.concat(parts, ignore_index=True) if parts else base.iloc[:0]
    return out[out["pupils"] > 0].reset_index(drop=True)


def today_attendance(
    county: County,
    bus_minutes: pd.DataFrame,
    walk_minutes: pd.DataFrame | None = None,
    *,
    rules: Rules | Mapping[str, Any] | None = None,
    standards: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Base-year attendance flows that reproduce the register (see :func:`calibrate_attendance`).

    Door-to-door minutes are the walk when it is within the walking limit, else the
    bus ride — the same minutes :func:`consolidate` uses.
    """
    r = rules if isinstance(rules, Rules) else make_rules(standards or load_standards(), **dict(rules or {}))
    schools = _open_schools(county)
    bus = _check_matrix(bus_minutes, county.villages.index, schools.index, "bus_minutes")
    walk = _check_matrix(walk_minutes, county.villages.index, schools.index, "walk_minutes") \
        if walk_minutes is not None else None
    minutes, _ = door_to_door(bus, walk, r.walk_limit_minutes)
    return calibrate_attendance(county, minutes)


# --------------------------------------------------------------------------- main
def consolidate(
    county: County,
    bus_minutes: pd.DataFrame,
    walk_minutes: pd.DataFrame | None = None,
    *,
    mode: Mode = "rules",
    pupils: pd.DataFrame | None = None,
    rules: Rules | Mapping[str, Any] | None = None,
    standards: Mapping[str, Any] | None = None,
    on_unreachable: Literal["raise", "report"] = "report",
    year: int | None = None,
    attendance: pd.DataFrame | None = None,
) -> LayoutPlan:
    """Plan the 两集中 layout of primary and junior schools.

    Parameters
    ----------
    county
        The county (schools, villages, townships, sites, enrolment register).
    bus_minutes
        Village × school minutes by school bus (rows: village ids; columns: open
        school ids, plus candidate site ids from ``county.sites`` for new schools).
        NaN = unreachable.
    walk_minutes
        Village × school walking minutes (children); optional. Pupils walk when it
        is within the walking limit.
    mode
        ``"rules"``, ``"optimize"`` or ``"status_quo"`` (see the module docstring).
    pupils
        Target-year attendance flows ``village_id, band, school_id, pupils`` (from
        :func:`project_attendance`); or village-band totals ``village_id, band,
        pupils`` that rescale the base-year flows; base-year flows when omitted.
    rules
        A :class:`Rules`, or overrides of :func:`make_rules`.
    standards
        Norms (national defaults when omitted).
    on_unreachable
        ``"raise"``: villages that reach no school are an error; ``"report"``: their
        pupils are kept with mode ``no_route``.
    year
        The plan's year (for reasons; the county's base year by default).
    attendance
        Base-year flows from :func:`calibrate_attendance` (computed when omitted).

    Returns
    -------
    LayoutPlan

    Raises
    ------
    SchemaError
        Unknown forced school, bad matrices.
    InfeasibleError
        Villages reaching no school (``on_unreachable="raise"``), no layout meeting the
        rules (optimise mode), or pupils that fit no school and no site.
    """
    std = standards or load_standards()
    r = rules if isinstance(rules, Rules) else make_rules(std, **dict(rules or {}))
    year = int(year if year is not None else county.base_year)
    schools = _open_schools(county)
    for sid in r.force:
        if sid not in county.schools.index:
            raise SchemaError(f"forced school '{sid}' does not exist", column="force", rows=[sid],
                              fix="use school ids from the schools layer")
        if sid not in schools.index:
            raise SchemaError(f"forced school '{sid}' is not an open primary/junior school", column="force",
                              rows=[sid], fix="remove it from the forced decisions or reopen it in the schools layer")
    sites = county.sites
    site_ids = pd.Index([s for s in sites.index if s in bus_minutes.columns] if r.allow_new and len(sites) else [],
                        dtype=object)
    clash = site_ids.intersection(county.schools.index)
    if len(clash):
        raise SchemaError("site ids repeat school ids", layer="sites", rows=list(clash),
                          fix="give candidate sites their own ids")
    vill = county.villages.index
    bus = _check_matrix(bus_minutes, vill, schools.index.append(site_ids), "bus_minutes")
    walk = _check_matrix(walk_minutes, vill, schools.index, "walk_minutes") if walk_minutes is not None else None
    minutes, walks = door_to_door(bus, walk, r.walk_limit_minutes)
    unreachable = bus.loc[:, schools.index].isna().all(axis=1)
    if unreachable.any() and on_unreachable == "raise":
        raise InfeasibleError("villages reach no school by road (NaN travel times to every school)",
                              layer="villages", rows=list(vill[unreachable]),
                              fix="check the road network around them (snapping, islands) or their coordinates")
    base = attendance if attendance is not None else calibrate_attendance(county, minutes[schools.index])
    flows = _flows(pupils, base)
    level_of = {**schools["level"].astype(str).to_dict()}
    recv = anchors(schools, county.county_seat, r) if mode != "status_quo" else {}
    if mode != "status_quo":
        recv = _juniors_stay_without_seat_school(schools, recv, r)
    facts = keep_test(schools, flows, bus, r, county_seat=county.county_seat, receivers=recv)
    unknown = _unknown_enrolment(county, schools, flows)
    facts.loc[facts.index.isin(unknown), "enrolment_ok"] = True  # not known: the size rule is not applied
    facts["passes"] = facts["passes"] | (facts.index.isin(unknown) & facts["radius_ok"] & facts["quality_ok"]
                                         & facts["condition_ok"] & ~facts["junior_moves"])
    seats = _seats(schools, r)
    beds_now = schools["boarding_beds"]
    if mode == "status_quo":
        decision = dict.fromkeys(schools.index, "keep")
        reason = dict.fromkeys(schools.index, ("现状保留：学生留在现在的学校", "status quo: pupils stay at their school"))
        rows = flows.rename(columns={"school_id": "school_before"}).assign(school_id=lambda f: f["school_before"])
        new_sites: dict[str, str] = {}
        upgrades: dict[str, str] = {}
        must: dict[str, int] = {}
    else:
        decision, reason, closing, must = _decide(schools, flows, minutes, facts, recv, level_of, r, year, mode,
                                                  site_ids=list(site_ids), walks=walks)
        receivers = [s for s, d in decision.items() if (d == "keep" and (s in recv or mode == "optimize"))
                     or d == "new"]
        rows, new_sites = _move(county, schools, flows, closing, minutes, bus, level_of, receivers, seats, r,
                                decision, reason, list(site_ids))
        got = rows[rows["school_id"].isin(list(recv)) & (rows["school_id"] != rows["school_before"])]["school_id"]
        upgrades = {}
        for s in schools.index:
            need = upgrade_need(facts.loc[s], r)
            if need and decision.get(s) == "keep" and (s in set(got) or s in must):
                upgrades[s] = need
    assignment = assignment_modes(rows, minutes, walks, r, beds=beds_now)
    table = school_table(county, schools, new_sites, assignment, decision, reason, facts, r,
                         status_quo=(mode == "status_quo"), upgrades=upgrades)
    table = _with_tests(table, facts, must)
    today = assignment_modes(base.rename(columns={"school_id": "school_before"})
                             .assign(school_id=lambda f: f["school_before"]), minutes, walks, r, beds=beds_now)
    riders = today[today["mode"] == "bus"].groupby("school_id")["pupils"].sum()
    buses_today = int(sum(-(-int(p) // r.bus_capacity) for p in riders))
    unplaced = assignment[assignment["mode"] == "unserved"]
    infeasible = _infeasible(unplaced, assignment)
    params = {"mode": mode, "year": year, **r.as_dict()}
    summary = plan_figures(table, assignment, params, buses_today=buses_today, county=county)
    return LayoutPlan(schools=table, assignment=assignment, summary=summary, infeasible=infeasible, params=params)


def _decide(schools: pd.DataFrame, flows: pd.DataFrame, minutes: pd.DataFrame, facts: pd.DataFrame,
            recv: Mapping[str, str], level_of: dict[str, str], r: Rules, year: int, mode: str, *,
            site_ids: list[str], walks: pd.DataFrame) -> tuple[dict[str, str], dict[str, tuple[str, str]],
                                                               list[str], dict[str, int]]:
    """Decisions and reasons for every school; returns (decision, reason, closing ids, must-stay blocked pupils).

    Rules mode: receiving schools and schools passing the keep test stay; the others
    close if the closure test allows. Optimise mode: every non-receiving school is a
    candidate; the MILP's open set stays, the rest close if the closure test allows.
    """
    decision: dict[str, str] = {}
    reason: dict[str, tuple[str, str]] = {}
    forced_close = {s for s, d in r.force.items() if d == "close"}
    candidates = []
    for sid in schools.index:
        f = facts.loc[sid]
        if sid in forced_close:
            candidates.append(sid)
        elif sid in recv:
            decision[sid], reason[sid] = "keep", ANCHOR_REASONS[recv[sid]]
        elif r.force.get(sid) == "keep":
            fz, fe = failed_tests(f, r, year)
            decision[sid] = "keep"
            reason[sid] = ("规划指定保留" + (f"（未达标：{'；'.join(fz)}）" if fz else ""),
                           "kept by the planner" + (f" (fails: {'; '.join(fe)})" if fe else ""))
        elif bool(f["passes"]) and mode != "optimize":
            decision[sid], reason[sid] = "keep", keep_reason(f, r, year)
        else:
            candidates.append(sid)
    opened: set[str] = set()
    if mode == "optimize":
        opened = _optimize_open(schools, flows, minutes, walks, level_of, recv, decision, site_ids, r)
        for s in site_ids:
            if s in opened:
                decision[s] = "new"
                reason[s] = ("优化模型选择在此新建学校", "the optimisation opens a new school here")
                level_of[s] = "primary"
        receivers = [s for s, d in decision.items() if d in ("keep", "new")] + [c for c in candidates if c in opened]
    else:
        receivers = list(recv)
    closing: list[str] = []
    must: dict[str, int] = {}
    for sid in candidates:
        f = facts.loc[sid]
        fz, fe = failed_tests(f, r, year)
        if sid in forced_close:
            decision[sid] = "merge"
            reason[sid] = ("规划指定撤并" + (f"（{'；'.join(fz)}）" if fz else ""),
                           "closed by the planner" + (f" ({'; '.join(fe)})" if fe else ""))
            closing.append(sid)
            continue
        if sid in opened:
            decision[sid] = "keep"
            reason[sid] = keep_reason(f, r, year) if bool(f["passes"]) else (
                f"优化模型保留（{'；'.join(fz)}）：撤并的出行和寄宿成本高于保留成本",
                f"kept by the optimisation ({'; '.join(fe)}): closing it costs more in travel and boarding "
                "than keeping it")
            continue
        test = closure_test(sid, flows, minutes, level_of, [x for x in receivers if x != sid], r)
        if not test.feasible:
            bz, be = blocked_reason(test.blocked)
            why_z = "；".join(fz) if fz else "优化模型拟撤并"
            why_e = "; ".join(fe) if fe else "the optimisation would close it"
            decision[sid] = "keep"
            reason[sid] = (f"应留必留：{why_z}，但{bz}", f"must stay (应留必留): {why_e}, but {be}")
            must[sid] = int(test.blocked["pupils"].sum())
        else:
            why_z = "；".join(fz) if fz else "优化模型撤并：并入接收学校后总成本更低"
            why_e = "; ".join(fe) if fe else "the optimisation merges it: lower total cost at the receiving schools"
            decision[sid] = "merge"
            reason[sid] = (why_z + "；全部学生可在走读时限内到达接收学校或寄宿",
                           why_e + "; every pupil reaches a receiving school within the day limit or may board")
            closing.append(sid)
    if r.max_closures is not None and mode != "optimize" and len(closing) > r.max_closures:
        by_size = sorted(closing, key=lambda s: (s not in forced_close, int(facts.loc[s, "pupils"]), str(s)))
        for sid in by_size[r.max_closures:]:
            if sid in forced_close:
                continue
            decision[sid] = "keep"
            reason[sid] = (reason[sid][0].split("；全部学生")[0] + f"；撤并数量上限{r.max_closures}所，暂予保留",
                           reason[sid][1].split("; every pupil")[0] + f"; kept: at most {r.max_closures} closures")
        closing = [s for s in closing if decision[s] == "merge"]
    return decision, reason, closing, must


def _optimize_open(schools: pd.DataFrame, flows: pd.DataFrame, minutes: pd.DataFrame, walks: pd.DataFrame,
                   level_of: dict[str, str], recv: Mapping[str, str], decision: Mapping[str, str],
                   site_ids: list[str], r: Rules) -> set[str]:
    fixed = set(recv) | {s for s, d in decision.items() if d == "keep" and r.force.get(s) == "keep"}
    lv = dict(level_of)
    for s in site_ids:
        lv[s] = "primary"
    groups = flows[flows["village_id"].notna()].rename(columns={"school_id": "school_before"})
    sc = pd.DataFrame({"classes": schools["classes"].astype(float), "beds": schools["boarding_beds"].astype(float)})
    return choose_open(groups, minutes, walks, lv, sc, fixed, site_ids, r)


def _move(county: County, schools: pd.DataFrame, flows: pd.DataFrame, closing: list[str], minutes: pd.DataFrame,
          bus: pd.DataFrame, level_of: dict[str, str], receivers: list[str], seats: pd.Series, r: Rules,
          decision: dict[str, str], reason: dict[str, tuple[str, str]],
          site_ids: list[str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rows ``village_id, band, school_before, school_id, pupils, cause``: stayers stay, movers are placed.

    Pupils of schools that stay stay — except, in a school above its maximum size, the
    pupils above it (a share of each of its villages, by largest remainder), who are
    placed like the pupils of closing schools (化解大校额); those that fit nowhere stay.
    """
    f = flows.rename(columns={"school_id": "school_before"})
    stay = f[~f["school_before"].isin(closing)].assign(school_id=lambda x: x["school_before"], cause=None)
    moving = f[f["school_before"].isin(closing)]
    max_size = pd.Series({s: float(r.max_size.get(level_of.get(s, "primary"), r.max_size["primary"])) for s in
                          [*schools.index, *site_ids]})
    stay, shed = _shed_oversize(stay, max_size)
    moving = pd.concat([moving, shed], ignore_index=True)
    staying = stay.groupby("school_id")["pupils"].sum()
    all_seats = pd.concat([seats, pd.Series(0.0, index=pd.Index(site_ids, dtype=object))])
    forced = frozenset(s for s, d in r.force.items() if d == "close")
    new_sites: dict[str, str] = {s: "primary" for s in site_ids if decision.get(s) == "new"}
    recv = list(receivers)
    while True:
        placed, lost = place_pupils(moving, minutes, level_of, recv, staying, all_seats, max_size, r, forced=forced)
        full = lost[lost["cause"] == "capacity"]
        cand = [s for s in site_ids if s not in new_sites and s in bus.columns]
        if full.empty or not cand or not r.allow_new:
            break
        vs = full["village_id"].dropna().unique()
        best = min(cand, key=lambda s: (float(np.nanmean(bus.loc[vs, s].to_numpy(float))), str(s)))
        level = "junior" if set(full["band"]) == {"junior"} else "primary"
        new_sites[best], level_of[best] = level, level
        max_size[best] = float(r.max_size[level])
        recv.append(best)
        decision[best] = "new"
        tws = ", ".join(sorted(set(county.villages.loc[vs, "township_id"].dropna().astype(str))))
        n = int(full["pupils"].sum())
        reason[best] = (f"{tws}接收学校已达最大规模，{n}名学生无学位，在此新建学校",
                        f"receiving schools of {tws} are at their maximum size: new school here for {n} pupils")
    back = lost["school_before"].isin(list(staying.index)) & ~lost["school_before"].isin(closing)
    if back.any():  # shed pupils that fit nowhere stay at their (oversize) school
        stay = pd.concat([stay, lost[back].drop(columns="cause").assign(school_id=lambda x: x["school_before"],
                                                                       cause=None)], ignore_index=True)
        lost = lost[~back]
    for sid, n in placed[~placed["school_before"].isin(closing)].groupby("school_before")["pupils"].sum().items():
        z, e = reason.get(sid, ("", ""))
        reason[sid] = (z + f"；超过最大规模{int(max_size[sid])}人，{int(n)}名学生分流到其他学校",
                       e + f"; above its maximum size of {int(max_size[sid])}: {int(n)} pupils move to other schools")
    if len(lost):
        short = lost.groupby(lost["village_id"].map(county.villages["township_id"]))["pupils"].sum()
        warnings.warn("not enough seats: " + ", ".join(f"township {k} lacks {int(v)} seats" for k, v in short.items())
                      + " — allow new schools on candidate sites, raise max_size, or keep more schools open",
                      DataWarning, stacklevel=3)
    unplaced = lost.assign(school_id=None)
    rows = pd.concat([stay, placed.assign(cause=None), unplaced], ignore_index=True)
    # one row per group (shed pupils that stayed rejoin their group)
    keys = ["village_id", "band", "school_before", "school_id", "cause"]
    if rows.duplicated(keys).any():
        rows = rows.astype(dict.fromkeys(keys, object)).groupby(keys, dropna=False, sort=False,
                                                              as_index=False)["pupils"].sum()
        for k in ("village_id", "school_id", "cause"):
            rows[k] = rows[k].astype(object).where(rows[k].notna(), None)
    load = rows.dropna(subset=["school_id"]).groupby("school_id")["pupils"].sum()
    over = load[load > max_size.reindex(load.index).fillna(np.inf)]
    if len(over):
        warnings.warn("schools above their maximum size after the plan: " + ", ".join(
            f"{k} ({int(v)} > {int(max_size[k])})" for k, v in over.items()) + " — no other school or site can take "
            "the pupils above it; allow new schools on candidate sites or raise max_size", DataWarning, stacklevel=3)
    return rows[["village_id", "band", "school_before", "school_id", "pupils", "cause"]], new_sites


def _shed_oversize(stay: pd.DataFrame, max_size: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the stayers of schools above their maximum size into (stay, shed) by largest remainder."""
    tot = stay.groupby("school_id")["pupils"].sum()
    over = tot - max_size.reindex(tot.index).fillna(np.inf)
    over = over[over > 0]
    if over.empty:
        return stay, stay.iloc[:0].drop(columns=["school_id", "cause"])
    keep_parts, shed_parts = [stay[~stay["school_id"].isin(over.index)]], []
    for sid, excess in over.items():
        rows = stay[stay["school_id"] == sid]
        take = largest_remainder(rows["pupils"].to_numpy(float), int(np.rint(excess)))
        shed_parts.append(rows.assign(pupils=take)[take > 0].drop(columns=["school_id", "cause"]))
        left = rows.assign(pupils=rows["pupils"].to_numpy() - take)
        keep_parts.append(left[left["pupils"] > 0])
    return pd.concat(keep_parts, ignore_index=True), pd.concat(shed_parts, ignore_index=True)


def _juniors_stay_without_seat_school(schools: pd.DataFrame, recv: dict[str, str], r: Rules) -> dict[str, str]:
    """Junior schools concentrate only if the county seat has a school that receives junior pupils."""
    juniors = [s for s in schools.index if schools.at[s, "level"] == "junior" and s not in recv]
    takes_junior = any(schools.at[s, "level"] in ("junior", "nine_year") for s in recv if s in schools.index)
    if r.junior_to_county_seat and juniors and not takes_junior:
        warnings.warn("no junior middle or nine-year school in the county seat (县城) to receive junior pupils; "
                      f"junior schools ({', '.join(map(str, juniors[:8]))}) are kept — check is_county_seat in "
                      "the townships layer and the county-seat schools", DataWarning, stacklevel=3)
        return {**recv, **{str(s): "junior_kept" for s in juniors}}
    return recv


def _unknown_enrolment(county: County, schools: pd.DataFrame, flows: pd.DataFrame) -> set[str]:
    """Open schools whose pupils are known neither from the register nor from the schools layer."""
    raw = pd.to_numeric(county.schools["students"], errors="coerce") if "students" in county.schools \
        else pd.Series(np.nan, index=county.schools.index)
    have = set(flows["school_id"].dropna())
    return {s for s in schools.index if s not in have and pd.isna(raw.get(s))}


def _with_tests(table: Any, facts: pd.DataFrame, must: Mapping[str, int]) -> Any:
    """Add the keep-test numbers behind every decision (so reasons can be checked against them)."""
    cols = ["far_pupils", "radius_ok", "enrolment_ok", "quality_ok", "condition_ok", "junior_moves"]
    out = table.join(facts[cols], how="left")
    for c in cols[1:]:
        out[c] = out[c].astype("boolean")
    out["far_pupils"] = out["far_pupils"].fillna(0).astype(np.int64)
    out["must_stay"] = out.index.isin(list(must))
    out["blocked_pupils"] = pd.Series(dict(must), dtype="int64").reindex(out.index).fillna(0).astype(np.int64)
    return out


def _infeasible(unplaced: pd.DataFrame, assignment: pd.DataFrame) -> pd.DataFrame:
    """Pupils the plan cannot place or cannot route, with the reason (zh, en)."""
    text = {"capacity": ("接收学校均已达最大规模且无可用新校址", "every reachable receiving school is full and no site is left"),
            "no_school": ("所在乡镇没有教授该年级段的学校", "no school of their township teaches their grades"),
            "no_receiver": ("没有可达的接收学校", "no receiving school within reach"),
            "no_route": ("无可达学校（无道路连通）", "no school reachable by road")}
    rows = assignment[(assignment["mode"] == "unserved") | (assignment["mode"] == "no_route")]
    out = pd.DataFrame({"village_id": rows["village_id"], "band": rows["band"], "pupils": rows["pupils"],
                        "cause": rows["cause"].fillna("no_route"),
                        "placed": rows["mode"] != "unserved"})
    out["reason_zh"] = out["cause"].map(lambda c: text.get(c, text["no_route"])[0])
    out["reason_en"] = out["cause"].map(lambda c: text.get(c, text["no_route"])[1])
    return out.reset_index(drop=True)
