"""A phased plan (分年度实施方案): which school changes in which year.

County leaders carry out 两集中 over several years: schools close as enrolment falls,
receiving schools are expanded before pupils arrive, beds and buses are ready in the
term they are needed. :func:`phase_plan` takes a layout plan for the target year and
chooses the year of each of its actions by an exact mixed-integer programme on HiGHS.

The pupils of every year
------------------------
The base-year attendance (calibrated to the register) is projected to each year with
the township forecast; the pupils of a closing school go where the plan sends that
school's pupils of the same village and band (:mod:`schoolplan.phasing.years`). In
the target year this is the plan's own assignment. Pupils of schools that stay never
move. Every count below is a whole number of pupils, classes, beds or buses.

The model
---------
Sets: school years :math:`y \\in Y = \\{S, \\dots, E\\}` (``start_year`` to the target
year :math:`T`, extended to the forecast horizon only when the end state cannot be
reached by :math:`T`); funding years :math:`f \\in F = \\{S, \\dots, E - L\\}` (``L`` =
``build_lead_years``: what is funded in year :math:`f` serves from school year
:math:`f + L`); sources :math:`i` (schools whose pupils move: closing schools and
schools shedding pupils above their maximum size; :math:`C` the closing ones);
schools :math:`j`; capital kinds :math:`k` (classrooms, beds, upgrades, new schools)
with the plan's quantities :math:`Q_{kj}` and unit costs :math:`c_k`.

Variables: :math:`x_{iy} \\in \\{0,1\\}` (source :math:`i`'s pupils have moved by
:math:`y`); :math:`z_{kjf} \\in \\mathbb{Z}_{\\ge 0}` (units of :math:`k` funded at
:math:`j` in year :math:`f`), :math:`m_{kj}` (units never done); bus counts
:math:`b_{jy}` and purchases :math:`v_y` (integers); threshold indicators
:math:`\\delta`; crowding :math:`s_{jy} \\ge 0`.

Every pupil quantity of a school is separable by source,
:math:`P_{jgy}(x) = P^0_{jgy} + \\sum_i a_{ijgy} x_{iy}` (pupils of school :math:`j`,
class group :math:`g` — a grade band, or all pupils at a teaching point), and so are
boarders :math:`B_{jy}(x)`, bus riders :math:`R_{jy}(x)` and pupil-minutes
:math:`M_y(x)`. Classes needed, :math:`n_g(P)` = Σ over grades of ⌈pupils / standard
size⌉ (:func:`~schoolplan.consolidate.layout.classes_needed`), is a monotone step
function rising by one at thresholds :math:`t_1 < t_2 < \\dots`; it is written exactly
as :math:`n_g(P_{\\min}) + \\sum_k \\delta_k` with
:math:`P_{jgy}(x) - (P_{\\max} - t_k + 1)\\,\\delta_k \\le t_k - 1`.

.. math::

    \\min \\; & \\sum_{y} \\Bigl[\\sum_{i \\in C} r\\,(1 - x_{iy})
        + \\sum_i x_{iy}\\,(w\\,\\Delta M_{iy} + \\beta\\,\\Delta B_{iy})
        + \\rho \\sum_j s_{jy}\\Bigr]
        + \\sum_{k,j,f} c_k (1 - \\epsilon (f - S))\\, z_{kjf}
        + \\sum_y c_{bus} v_y
        - \\pi \\sum_{j,f} |\\{y \\ge f + L\\}|\\, z_{\\text{upg},jf}
        + \\Lambda \\bigl(\\sum_{k,j} m_{kj} + \\sum_i (1 - x_{iE})\\bigr)
        + \\lambda\\,(\\text{unit-years after } T) \\\\
    \\text{s.t.} \\; & x_{iy} \\ge x_{i,y-1};\\quad x_{iy} = 0 \\text{ for } y < g_i
        \\quad\\text{(closes once, at the start of a school year; not before it fails the keep test)} \\\\
    & \\textstyle\\sum_{i \\in C} (x_{iy} - x_{i,y-1}) \\le K \\quad\\text{(closures per year)} \\\\
    & \\textstyle\\sum_f z_{kjf} + m_{kj} = Q_{kj} \\\\
    & \\textstyle\\sum_g n_g(P_{jgy}(x)) \\le \\text{classes}_j + \\sum_{f \\le y - L} z_{\\text{cls},jf} + s_{jy},
        \\quad s_{jy} \\le \\text{gap}_{jy}\\,(1 - x_{iy}) \\;\\forall i \\to j \\\\
    & \\textstyle\\sum_g P_{jgy}(x) \\le \\max(\\text{max size}_j, P_{jy}(0)) \\text{ when pupils arrive} \\\\
    & B_{jy}(x) \\le \\text{beds}_j + \\sum_{f \\le y - L} z_{\\text{bed},jf} \\\\
    & \\textstyle\\sum_{f \\le y - L} z_{\\text{upg},jf} \\ge x_{iy},\\;
      \\sum_{f \\le y - L} z_{\\text{new},jf} \\ge x_{iy} \\;\\forall i \\to j
      \\quad\\text{(upgraded or built before pupils arrive)} \\\\
    & \\text{bus capacity}\\cdot b_{jy} \\ge R_{jy}(x),\\quad
      \\textstyle\\sum_j b_{jy} \\le \\text{fleet today} + \\sum_{y' \\le y} v_{y'} \\\\
    & \\textstyle\\sum_{k,j} c_k z_{kjf} + c_{bus} v_f \\le \\text{budget} \\quad \\forall f

:math:`\\text{gap}_{jy}` is the classrooms school :math:`j` lacks in year :math:`y`
without the plan: crowding that exists anyway may remain until its classrooms can be
ready (penalised by :math:`\\rho` per class-year, so they are built as early as the
budget allows), but a school never receives pupils in a year its pupils — its own
and the arrivals — are not all seated within the standard class size. :math:`r` is
the yearly running cost of a school the plan closes (``keep_small_school_wan``),
:math:`w` the travel weight (万元 per daily pupil-minute a year), :math:`\\beta` the
yearly cost of a boarder, :math:`\\pi` the cost of a year a school waits for its
upgrade, :math:`\\epsilon = 10^{-3}` a time preference (build just in time when
nothing else differs), :math:`\\Lambda \\gg \\lambda \\gg` the rest: the end state is
reached by the target year whenever any schedule can reach it. The travel limits
need no row: each pupil who moves goes to the same school as in the plan, where the
plan's closure test already holds; boarders are limited by the beds ready.

Why an action has its year, and — when a budget or a closure limit moves it — which
action slips to which year and why, are stated in numbers
(:mod:`schoolplan.phasing.explain`); :func:`schoolplan.audit.audit` checks every year.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from schoolplan.consolidate import Rules, make_rules
from schoolplan.consolidate.policy import door_to_door
from schoolplan.errors import ConfigError, SchoolplanWarning
from schoolplan.phasing.explain import explain
from schoolplan.phasing.model import Problem, Schedule, build_problem, solve_schedule
from schoolplan.phasing.tables import assemble
from schoolplan.phasing.years import Destinations, YearState, destinations, year_state
from schoolplan.results import LayoutPlan, PhasedPlan
from schoolplan.standards import load_standards

if TYPE_CHECKING:
    from schoolplan.county import County

__all__ = ["phase_plan", "phasing_defaults"]


def phasing_defaults(standards: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``[phasing]`` parameters of the standards data (lead years, model weights, time limit)."""
    ph = dict((standards or load_standards()).get("phasing", {}))
    return {"build_lead_years": int(ph.get("build_lead_years", 1)),
            "crowding_penalty_wan_per_class_year": float(ph.get("crowding_penalty_wan_per_class_year", 100.0)),
            "upgrade_wait_penalty_wan_per_year": float(ph.get("upgrade_wait_penalty_wan_per_year", 1.0)),
            "time_limit_seconds": float(ph.get("time_limit_seconds", 60.0))}


def _rules_from(plan: LayoutPlan, standards: Mapping[str, Any]) -> Rules:
    from dataclasses import fields

    names = {f.name for f in fields(Rules)}
    return make_rules(standards, **{k: v for k, v in plan.params.items() if k in names})


def _gates(plan: LayoutPlan, dest: Destinations, states: Mapping[int, YearState], rules: Rules, start: int,
           target: int) -> dict[str, int]:
    """First year each source may move its pupils.

    In rules mode a school closes only in a year it fails the keep test: quality,
    condition, the bus radius and 初中向县城集中 do not change with the years, but its
    pupils do — a school that closes only because it has fewer than
    ``min_enrolment`` pupils in the target year closes from the first year it has.
    Forced closures, optimise-mode closures and shedding may happen from the start.
    """
    s = plan.schools
    forced = {k for k, v in dict(plan.params.get("force", {})).items() if v == "close"}
    out: dict[str, int] = {}

    def flag(row: Any, col: str, default: bool) -> bool:
        v = row.get(col, default)
        return default if v is None or pd.isna(v) else bool(v)

    for i in dest.sources:
        out[i] = start
        if plan.params.get("mode") != "rules" or i not in dest.closing or i in forced:
            continue
        row = s.loc[i]
        other = not flag(row, "radius_ok", True) or not flag(row, "quality_ok", True) \
            or not flag(row, "condition_ok", True) or flag(row, "junior_moves", False)
        if other or flag(row, "enrolment_ok", True):
            continue
        years = sorted(y for y in states if y <= target)
        small = [y for y in years
                 if int(states[y].flows.loc[states[y].flows["school_id"] == i, "pupils"].sum()) < rules.min_enrolment]
        out[i] = small[0] if small else target
    return out


def _reached(sched: Schedule, target: int, lead: int) -> bool:
    late_cap = any(int(f) + lead > target for f in sched.funded["fund_year"]) if len(sched.funded) else False
    return not sched.missing and not late_cap and all(y is not None and y <= target for y in sched.move_year.values())


def phase_plan(
    plan: LayoutPlan,
    county: County,
    bus_minutes: pd.DataFrame,
    walk_minutes: pd.DataFrame | None = None,
    *,
    attendance: pd.DataFrame,
    demand: pd.DataFrame,
    rules: Rules | None = None,
    standards: Mapping[str, Any] | None = None,
    start_year: int | None = None,
    budget_wan_per_year: float | None = None,
    max_closures_per_year: int | None = None,
    build_lead_years: int | None = None,
    time_limit: float | None = None,
) -> PhasedPlan:
    """Schedule a layout plan year by year (see the module docstring for the model).

    Parameters
    ----------
    plan
        The plan for the target year (:func:`schoolplan.consolidate.consolidate`).
    county
        The county it was made for.
    bus_minutes, walk_minutes
        The travel-time matrices the plan was made with (villages × schools and sites).
    attendance
        Base-year attendance flows (:func:`schoolplan.consolidate.today_attendance`).
    demand
        The scenario's forecast (``zone, level, grade, year, p50``), with every year
        from the base year to the target year (and beyond, for slips).
    rules
        The plan's rules (rebuilt from ``plan.params`` when omitted).
    standards
        Norms and the ``[phasing]`` parameters (national defaults when omitted).
    start_year
        First school year in which anything changes (default: the year after the
        register year). Money is spent from this year on.
    budget_wan_per_year
        Capital budget per year, 万元 (None: no limit).
    max_closures_per_year
        At most this many schools close in one year (None: no limit).
    build_lead_years
        Years from funding a building to using it (default from the standards).
    time_limit
        Solver time limit, seconds (default from the standards).

    Returns
    -------
    PhasedPlan

    Raises
    ------
    ConfigError
        A start year not after the register year or after the target year, a
        target year equal to the register year, a forecast without the years, or
        options out of range.
    """
    t0 = time.perf_counter()
    std = standards or load_standards()
    defaults = phasing_defaults(std)
    r = rules if rules is not None else _rules_from(plan, std)
    base_year = int(county.base_year)
    target = int(plan.params.get("year", base_year))
    start = int(start_year) if start_year is not None else base_year + 1
    lead = int(build_lead_years) if build_lead_years is not None else defaults["build_lead_years"]
    limit = float(time_limit) if time_limit is not None else defaults["time_limit_seconds"]
    if target <= base_year:
        raise ConfigError(f"nothing to phase: the plan's target year {target} is the register year",
                          column="scenario.target_year", fix="choose a later target year, or set [phasing] "
                          "enabled = false")
    if not base_year < start <= target:
        raise ConfigError(f"phasing start_year {start} must lie after the register year {base_year} and not after "
                          f"the target year {target}", column="phasing.start_year",
                          fix=f"choose a start year from {base_year + 1} to {target}")
    if budget_wan_per_year is not None and not budget_wan_per_year > 0:
        raise ConfigError("phasing budget_wan_per_year must be > 0 万元", column="phasing.budget_wan_per_year",
                          fix="give a positive yearly budget, or leave it out for no limit")
    if max_closures_per_year is not None and max_closures_per_year < 1:
        raise ConfigError("phasing max_closures_per_year must be ≥ 1", column="phasing.max_closures_per_year",
                          fix="give at least 1, or leave it out for no limit")
    if lead < 0:
        raise ConfigError("phasing build_lead_years must be ≥ 0", column="phasing.build_lead_years",
                          fix="give 0 (ready the same year) or more")
    have = {int(y) for y in demand["year"].unique()}
    need = set(range(start, target + 1))
    if not need <= have:
        gone = sorted(need - have)
        raise ConfigError(f"the forecast lacks the year(s) {', '.join(map(str, gone))} the schedule needs",
                          column="year", fix="forecast every year from the register year to the target year")
    horizon = max(y for y in have if y >= target)

    live = plan.schools[plan.schools["decision"] != "vacant"]
    cols = [c for c in live.index if c in bus_minutes.columns]
    bus = bus_minutes.reindex(index=county.villages.index, columns=cols).astype(float)
    walk = walk_minutes.reindex(index=county.villages.index, columns=cols).astype(float) \
        if walk_minutes is not None else None
    minutes, walks = door_to_door(bus, walk, r.walk_limit_minutes)
    beds = live["beds_available"].astype(int)
    dest = destinations(plan)
    weights = {"crowding_wan": defaults["crowding_penalty_wan_per_class_year"],
               "upgrade_wait_wan": defaults["upgrade_wait_penalty_wan_per_year"], "time_limit": limit}

    states: dict[int, YearState] = {}

    def state(y: int) -> YearState:
        if y not in states:
            states[y] = year_state(y, attendance, county, demand, dest, minutes, walks, r, beds)
        return states[y]

    def problem(last: int) -> Problem:
        years = list(range(start, last + 1))
        gate = _gates(plan, dest, {y: state(y) for y in years}, r, start, target)
        return build_problem([state(y) for y in years], plan=plan, dest=dest, rules=r, target=target, lead=lead,
                             gate=gate)

    prob = problem(target)
    sched = solve_schedule(prob, r, budget_wan=budget_wan_per_year, max_closures=max_closures_per_year, **weights)
    solve_s = sched.seconds
    if not _reached(sched, target, lead) and horizon > target:
        prob = problem(horizon)
        sched = solve_schedule(prob, r, budget_wan=budget_wan_per_year, max_closures=max_closures_per_year,
                               **weights)
        solve_s += sched.seconds
    ideal = sched
    if budget_wan_per_year is not None or max_closures_per_year is not None:
        ideal = solve_schedule(prob, r, budget_wan=None, max_closures=None, **weights)
        solve_s += ideal.seconds
    if sched.status != 0:
        warnings.warn(f"the phasing model stopped before proving its schedule optimal ({sched.message}); the "
                      f"schedule is feasible (gap {sched.gap:.2%})", SchoolplanWarning, stacklevel=2)
    params = {"start_year": start, "target_year": target, "base_year": base_year, "budget_wan_per_year":
              budget_wan_per_year, "max_closures_per_year": max_closures_per_year, "build_lead_years": lead,
              **{k: v for k, v in defaults.items() if k != "build_lead_years"}, "costs": dict(r.costs),
              "travel_weight": r.travel_weight}
    out = assemble(plan, county, dest, state, sched, ideal, prob, r, minutes, walks, beds, params)
    pupils = {y: {str(k): int(v) for k, v in state(y).flows.groupby("school_id")["pupils"].sum().items()}
              for y in prob.years}
    out = explain(out, plan, prob, sched, ideal, r, params, pupils)
    out.summary.update({"solve_seconds": round(solve_s, 3), "seconds": round(time.perf_counter() - t0, 3),
                        "status": sched.message, "gap": sched.gap})
    return out
