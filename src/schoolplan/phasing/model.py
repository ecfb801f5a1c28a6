"""The schedule as a mixed-integer programme on HiGHS (``scipy.optimize.milp``).

The mathematics is written out in :mod:`schoolplan.phasing`; this module builds the
rows from the per-year states of :mod:`schoolplan.phasing.years` and reads the
schedule back. Every quantity in a row is a whole number of pupils, classrooms,
beds or buses, so the model is exact: no rounding happens after the solve.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from schoolplan.consolidate import Rules
from schoolplan.consolidate.layout import classes_needed
from schoolplan.errors import InfeasibleError
from schoolplan.phasing.years import NONE_ID, YearState
from schoolplan.schema import BANDS

if TYPE_CHECKING:
    from schoolplan.results import LayoutPlan

__all__ = ["CAPITAL_KINDS", "Problem", "Schedule", "build_problem", "group_classes", "solve_schedule"]

#: Capital actions of a plan: kind → (plan.schools column or test, unit-cost key of ``Rules.costs``).
CAPITAL_KINDS: dict[str, str] = {"classrooms": "classroom_wan", "beds": "bed_wan", "upgrade": "upgrade_school_wan",
                                 "new_school": "new_school_wan"}
_INCOMPLETE_WAN = 1.0e5   # per unit of an action the schedule leaves undone (only when nothing else is possible)
_LATE_WAN = 1.0e4         # per closure and year it happens after the target year
_LATE_CAPITAL = 1.0       # capital ready after the target year: its cost again per year late
_LATER = 1.0e-3           # capital spent a year later weighs 0.1 % less: build just in time when nothing else differs
_TIE = 1.0e-6             # deterministic tie-break between otherwise equal closure years


def group_classes(level: str, band_pupils: Mapping[str, int], rules: Rules) -> int:
    """Classes a school of ``level`` needs for ``band_pupils`` (:func:`classes_needed`)."""
    return classes_needed({b: int(p) for b, p in band_pupils.items()}, level, rules)


def _groups(level: str) -> list[tuple[str, ...]]:
    """Pupil groups whose classes are counted together (teaching points mix grades)."""
    return [tuple(BANDS)] if level == "teaching_point" else [(b,) for b in BANDS]


def _class_fn(level: str, group: tuple[str, ...], rules: Rules) -> Callable[[int], int]:
    """Classes of a group's pupils (a teaching point counts all its pupils as one mixed group)."""
    return lambda p: group_classes(level, {group[0]: p}, rules)


def _jumps(f: Callable[[int], int], lo: int, hi: int) -> tuple[int, list[int]]:
    """``f(lo)`` and the smallest ``p`` in ``(lo, hi]`` where a monotone ``f`` (steps of 1) reaches each next value."""
    base = f(lo)
    out: list[int] = []
    k, a = base, lo
    top = f(hi)
    while k < top:
        b = hi
        while b - a > 1:
            m = (a + b) // 2
            if f(m) > k:
                b = m
            else:
                a = m
        out.append(b)
        k = f(b)
        a = b
    return base, out


@dataclass
class Problem:
    """Everything the schedule model needs, as whole numbers per school and year.

    Attributes
    ----------
    years
        School years of the model (start year … end year).
    target
        The plan's target year (actions after it are late).
    lead
        Years between funding a building and using it.
    sources, closing
        Schools whose pupils move; those of them that close.
    gate
        First year each source may move its pupils (the keep test in rules mode).
    level, classes_before, beds_before, max_size
        Per school.
    qty
        Capital per kind and school (``classrooms``, ``beds``, ``upgrade``, ``new_school``).
    base, delta
        Per year: quantities per school with no source moved (school → band pupils,
        ``boarders``, ``riders``, ``pupil_minutes``), and per (source, school) what
        moving that source adds.
    plan_load
        Pupils per school in the plan's target year (for schools above their maximum
        size in the plan itself).
    buses_today
        The fleet the plan starts from.
    """

    years: list[int]
    target: int
    lead: int
    sources: list[str]
    closing: list[str]
    gate: dict[str, int]
    level: dict[str, str]
    classes_before: dict[str, int]
    beds_before: dict[str, int]
    max_size: dict[str, float]
    qty: dict[str, dict[str, int]]
    base: dict[int, dict[str, dict[str, float]]]
    delta: dict[int, dict[tuple[str, str], dict[str, float]]]
    plan_load: dict[str, int]
    buses_today: int
    senders: dict[str, set[str]] = field(default_factory=dict)


def _blocks(frame: pd.DataFrame, cols: list[str]) -> tuple[list[tuple[str, str]], np.ndarray]:
    """(block, school) keys and their quantity rows."""
    f = frame.reindex(columns=cols).fillna(0.0)
    return [(str(b), str(j)) for b, j in f.index], f.to_numpy(float)


def build_problem(states: Sequence[YearState], *, plan: LayoutPlan, dest: Any, rules: Rules, target: int, lead: int,
                  gate: Mapping[str, int]) -> Problem:
    """Per-year quantities from the year states (see :mod:`schoolplan.phasing.years`)."""
    s = plan.schools
    live = s[s["decision"] != "vacant"]
    base: dict[int, dict[str, dict[str, float]]] = {}
    delta: dict[int, dict[tuple[str, str], dict[str, float]]] = {}
    cols = [*BANDS, "boarders", "riders", "pupil_minutes"]
    senders: dict[str, set[str]] = {}
    for st in states:
        t0 = {k: dict(zip(cols, v, strict=True))
              for k, v in zip(*_blocks(st.none_totals, cols), strict=True)}
        t1 = {k: dict(zip(cols, v, strict=True))
              for k, v in zip(*_blocks(st.all_totals, cols), strict=True)}
        tot: dict[str, dict[str, float]] = {}
        for (_blk, j), v in t0.items():  # every pupil with no source moved
            acc = tot.setdefault(j, dict.fromkeys(cols, 0.0))
            for c in cols:
                acc[c] += v[c]
        d: dict[tuple[str, str], dict[str, float]] = {}
        for blk, j in set(t0) | set(t1):
            if blk == "":
                continue
            v0, v1 = t0.get((blk, j)), t1.get((blk, j))
            dv = {c: (v1[c] if v1 else 0.0) - (v0[c] if v0 else 0.0) for c in cols}
            if any(abs(x) > 1e-9 for x in dv.values()):
                d[(blk, j)] = dv
                if j != blk and j != NONE_ID and any(dv[b] > 0 for b in BANDS):
                    senders.setdefault(j, set()).add(blk)
        base[st.year] = tot
        delta[st.year] = d
    qty: dict[str, dict[str, int]] = {"classrooms": {}, "beds": {}, "upgrade": {}, "new_school": {}}
    for sid, row in live.iterrows():
        if int(row["classes_added"]) > 0:
            qty["classrooms"][str(sid)] = int(row["classes_added"])
        if int(row["beds_needed"]) > 0:
            qty["beds"][str(sid)] = int(row["beds_needed"])
        if bool(row.get("upgrade", False)):
            qty["upgrade"][str(sid)] = 1
        if row["decision"] == "new":
            qty["new_school"][str(sid)] = 1
    max_size = {str(j): float(rules.max_size.get(str(lv), rules.max_size["primary"])) for j, lv in live["level"].items()}
    return Problem(
        years=[st.year for st in states], target=int(target), lead=int(lead), sources=list(dest.sources),
        closing=list(dest.closing), gate=dict(gate), level={str(k): str(v) for k, v in live["level"].items()},
        classes_before={str(k): int(v) for k, v in live["classes_before"].items()},
        beds_before={str(k): int(v) for k, v in live["beds_available"].items()},
        max_size=max_size, qty=qty, base=base, delta=delta,
        plan_load={str(k): int(v) for k, v in live["students_after"].items()},
        buses_today=int(plan.summary.get("buses_today", 0)), senders=senders,
    )


@dataclass(frozen=True)
class Schedule:
    """A solved schedule.

    Attributes
    ----------
    move_year
        Source id → the school year its pupils move (None: not within the model's years).
    funded
        ``kind, school_id, fund_year, quantity`` of every capital action.
    buses_bought
        Year → buses bought for that school year.
    crowding
        ``(school, year)`` → classrooms short of the standard class size (only where
        the plan's schedule cannot avoid it: before its classrooms can be ready).
    missing
        ``(kind, school)`` → units not done within the model's years.
    status, message, objective, gap, seconds
        Solver outcome.
    """

    move_year: dict[str, int | None]
    funded: pd.DataFrame
    buses_bought: dict[int, int]
    crowding: dict[tuple[str, int], float]
    missing: dict[tuple[str, str], int]
    status: int
    message: str
    objective: float
    gap: float
    seconds: float
    years: list[int]


class _Lp:
    """A sparse MILP: variables with bounds, costs and integrality; rows lb ≤ a·x ≤ ub."""

    def __init__(self) -> None:
        self.c: list[float] = []
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.kind: list[int] = []
        self.ri: list[int] = []
        self.ci: list[int] = []
        self.v: list[float] = []
        self.rlb: list[float] = []
        self.rub: list[float] = []

    def var(self, lb: float = 0.0, ub: float = math.inf, cost: float = 0.0, integer: bool = False) -> int:
        self.c.append(float(cost))
        self.lb.append(float(lb))
        self.ub.append(float(ub))
        self.kind.append(1 if integer else 0)
        return len(self.c) - 1

    def row(self, coefs: Mapping[int, float], lb: float = -math.inf, ub: float = math.inf) -> None:
        r = len(self.rlb)
        for j, a in coefs.items():
            if a != 0:
                self.ri.append(r)
                self.ci.append(j)
                self.v.append(float(a))
        self.rlb.append(float(lb))
        self.rub.append(float(ub))

    def solve(self, time_limit: float) -> Any:
        n = len(self.c)
        a = sp.csr_matrix((self.v, (self.ri, self.ci)), shape=(len(self.rlb), n))
        cons = [LinearConstraint(a, np.array(self.rlb), np.array(self.rub))] if len(self.rlb) else []
        return milp(np.array(self.c), constraints=cons, integrality=np.array(self.kind),
                    bounds=Bounds(np.array(self.lb), np.array(self.ub)),
                    options={"time_limit": float(time_limit), "mip_rel_gap": 1e-9, "disp": False})


def _add(terms: dict[int, float], j: int, a: float) -> None:
    terms[j] = terms.get(j, 0.0) + a


def solve_schedule(p: Problem, rules: Rules, *, budget_wan: float | None, max_closures: int | None,
                   crowding_wan: float, upgrade_wait_wan: float, time_limit: float) -> Schedule:
    """Solve the schedule model of :mod:`schoolplan.phasing` for the years of ``p``.

    One function builds every row family of the model (pupils per year, classrooms and beds
    ready before pupils arrive, budget, closures per year, one closure per school) on the
    same column indices; its complexity (above 25) is the number of row families, each a
    commented block, not nesting. Splitting it would scatter the column bookkeeping.
    """
    t0 = time.perf_counter()
    lp = _Lp()
    years = p.years
    first, last = years[0], years[-1]
    fund_years = [f for f in years if f + p.lead <= last]
    costs = rules.costs
    late = [y for y in years if y > p.target]

    # --- closures / moves: x[i, y] = 1 once source i's pupils have moved (monotone, once)
    x: dict[tuple[str, int], int] = {}
    for rank, i in enumerate(p.sources):
        g = p.gate.get(i, first)
        for y in years:
            x[i, y] = lp.var(0, 0 if y < g else 1, integer=True)
        for y0, y1 in itertools.pairwise(years):
            lp.row({x[i, y1]: 1, x[i, y0]: -1}, lb=0)
        # never done within the model: incomplete; done after the target year: late
        lp.c[x[i, last]] -= _INCOMPLETE_WAN
        for y in late:
            lp.c[x[i, y]] -= _LATE_WAN
        for y in years:
            d = p.delta[y]
            dm = sum(float(v["pupil_minutes"]) for (src, _j), v in d.items() if src == i)
            db = sum(float(v["boarders"]) for (src, _j), v in d.items() if src == i)
            run = -float(costs.get("keep_small_school_wan", 0.0)) if i in p.closing else 0.0
            lp.c[x[i, y]] += rules.travel_weight * dm + float(costs.get("boarding_pupil_wan", 0.0)) * db + run \
                + _TIE * rank
    if max_closures is not None:
        for k, y in enumerate(years):
            terms: dict[int, float] = {}
            for i in p.closing:
                _add(terms, x[i, y], 1)
                if k:
                    _add(terms, x[i, years[k - 1]], -1)
            if terms:
                lp.row(terms, ub=max_closures)

    # --- capital: units funded in year f are ready for school year f + lead
    fund: dict[tuple[str, str, int], int] = {}
    miss: dict[tuple[str, str], int] = {}
    spend: dict[int, dict[int, float]] = {f: {} for f in years}
    for kind, per in p.qty.items():
        unit = float(costs.get(CAPITAL_KINDS[kind], 0.0))
        for j, q in per.items():
            terms = {}
            for f in fund_years:
                w = unit * (1.0 - _LATER * (f - first) + _LATE_CAPITAL * max(0, f + p.lead - p.target))
                if kind == "upgrade":  # a school below the thresholds waits for its upgrade
                    w -= upgrade_wait_wan * sum(1 for y in years if y >= f + p.lead)
                fund[kind, j, f] = lp.var(0, q, cost=w, integer=True)
                terms[fund[kind, j, f]] = 1
                _add(spend[f], fund[kind, j, f], unit)
            miss[kind, j] = lp.var(0, q, cost=_INCOMPLETE_WAN, integer=True)
            terms[miss[kind, j]] = 1
            lp.row(terms, lb=q, ub=q)

    def ready(kind: str, j: str, y: int) -> dict[int, float]:
        return {fund[kind, j, f]: 1.0 for f in fund_years if f + p.lead <= y and (kind, j, f) in fund}

    # new schools: classrooms of a site are funded with or after the school itself
    for s in p.qty["new_school"]:
        q = p.qty["classrooms"].get(s, 0)
        for k in range(len(fund_years)):
            terms = {fund["classrooms", s, g]: 1.0 for g in fund_years[:k + 1] if ("classrooms", s, g) in fund}
            for g in fund_years[:k + 1]:
                _add(terms, fund["new_school", s, g], -float(q))
            if terms:
                lp.row(terms, ub=0)

    # --- per school and year: classes, maximum size, beds, upgrades, new schools
    crowd: dict[tuple[str, int], int] = {}
    for y in years:
        base, d = p.base[y], p.delta[y]
        moves: dict[str, list[tuple[str, dict[str, float]]]] = {}
        for (i, j), v in d.items():
            moves.setdefault(j, []).append((i, v))
        schools = set(moves) | set(p.qty["classrooms"]) | set(p.qty["beds"])
        for j in sorted(s for s in schools if s != NONE_ID and s in p.level):
            lv = p.level[j]
            b0 = base.get(j, {})
            mv = moves.get(j, [])
            senders = [i for i, v in mv if i != j and any(v[b] > 0 for b in BANDS)]
            # classes: n_G = c(p_min) + Σ_k δ_k, with δ_k = 1 once the group's pupils reach jump k
            need_terms: dict[int, float] = {}
            need_const = 0.0
            need_none = 0
            for grp in _groups(lv):
                f = _class_fn(lv, grp, rules)
                p0 = round(sum(float(b0.get(b, 0)) for b in grp))
                a = {i: round(sum(float(v[b]) for b in grp)) for i, v in mv}
                lo = p0 + sum(min(0, v) for v in a.values())
                hi = p0 + sum(max(0, v) for v in a.values())
                need_none += f(max(p0, 0))
                c0, jumps = _jumps(f, max(lo, 0), max(hi, 0))
                need_const += c0
                for t in jumps:
                    dk = lp.var(0, 1, integer=True)
                    need_terms[dk] = 1.0
                    # p0 + Σ a_i x_i ≥ t  ⇒  δ = 1
                    row = {x[i, y]: float(ai) for i, ai in a.items() if ai}
                    row[dk] = -float(hi - t + 1)
                    lp.row(row, ub=t - 1 - p0)
            before = p.classes_before.get(j, 0)
            gap = max(0, need_none - before)
            sv = lp.var(0, gap, cost=crowding_wan)
            crowd[j, y] = sv
            for i in senders:  # a school receives pupils only when everyone is seated within the standard size
                lp.row({sv: 1.0, x[i, y]: float(gap)}, ub=gap)
            terms = dict(need_terms)
            for k, v in ready("classrooms", j, y).items():
                _add(terms, k, -v)
            terms[sv] = terms.get(sv, 0.0) - 1.0
            lp.row(terms, ub=before - need_const)
            # maximum size: arrivals only while the school stays within it (or within the plan's own size)
            arrive = {x[i, y]: float(sum(float(v[b]) for b in BANDS)) for i, v in mv}
            p_none = float(sum(float(b0.get(b, 0)) for b in BANDS))
            if any(a > 0 for a in arrive.values()):
                cap = max(p.max_size.get(j, math.inf), p_none, float(p.plan_load.get(j, 0))
                          if p.plan_load.get(j, 0) > p.max_size.get(j, math.inf) else 0.0)
                if p_none + sum(a for a in arrive.values() if a > 0) > cap:
                    lp.row(arrive, ub=cap - p_none)
            # beds: boarders within today's beds plus the beds ready
            bterms = {x[i, y]: float(v["boarders"]) for i, v in mv if float(v["boarders"])}
            b_none = float(b0.get("boarders", 0))
            if sum(max(0.0, a) for a in bterms.values()) + b_none > p.beds_before.get(j, 0):
                for k, v in ready("beds", j, y).items():
                    _add(bterms, k, -v)
                lp.row(bterms, ub=p.beds_before.get(j, 0) - b_none)
            # upgrades and new schools are ready before the first pupils arrive
            for kind in ("upgrade", "new_school"):
                if j in p.qty[kind]:
                    for i in senders:
                        r = ready(kind, j, y)
                        r[x[i, y]] = -1.0
                        lp.row(r, lb=0)

    # --- buses: each school's riders need ⌈riders / capacity⌉ buses; the fleet grows by purchases
    cap_bus = float(rules.bus_capacity)
    bought = {y: lp.var(0, math.inf, cost=float(costs.get("bus_wan", 0.0)) * (1.0 - _LATER * (y - first)),
                        integer=True) for y in years}
    for y in years:
        base, d = p.base[y], p.delta[y]
        var_schools = {j for (_i, j), v in d.items() if float(v["riders"]) and j != NONE_ID}
        fixed = sum(math.ceil(float(q["riders"]) / cap_bus) for j, q in base.items()
                    if j not in var_schools and j != NONE_ID and float(q["riders"]) > 0)
        fleet: dict[int, float] = {}
        for j in sorted(var_schools):
            bj = lp.var(0, math.inf, integer=True)
            row = {bj: cap_bus}
            for (i, jj), v in d.items():
                if jj == j and float(v["riders"]):
                    _add(row, x[i, y], -float(v["riders"]))
            lp.row(row, lb=float(base.get(j, {}).get("riders", 0.0)))
            fleet[bj] = 1.0
        for yy in years:
            if yy <= y:
                _add(fleet, bought[yy], -1.0)
        lp.row(fleet, ub=p.buses_today - fixed)
        _add(spend[y], bought[y], float(costs.get("bus_wan", 0.0)))

    # --- the yearly capital budget
    if budget_wan is not None:
        for _f, terms in spend.items():
            if terms:
                lp.row(terms, ub=float(budget_wan))

    res = lp.solve(time_limit)
    seconds = time.perf_counter() - t0
    if res.x is None:
        raise InfeasibleError(f"the phasing model has no solution ({res.message})",
                              fix="report this with your data (run with --debug); the schedule model is always "
                              "feasible by construction")
    sol = np.rint(res.x)
    move_year: dict[str, int | None] = {}
    for i in p.sources:
        done = [y for y in years if sol[x[i, y]] > 0.5]
        move_year[i] = done[0] if done else None
    rows = [{"kind": k, "school_id": j, "fund_year": f, "quantity": int(sol[v])}
            for (k, j, f), v in fund.items() if sol[v] > 0.5]
    funded = pd.DataFrame(rows, columns=["kind", "school_id", "fund_year", "quantity"])
    return Schedule(
        move_year=move_year, funded=funded, buses_bought={y: int(sol[v]) for y, v in bought.items()},
        crowding={k: float(res.x[v]) for k, v in crowd.items() if res.x[v] > 1e-6},
        missing={k: int(sol[v]) for k, v in miss.items() if sol[v] > 0.5},
        status=int(res.status), message=str(res.message), objective=float(res.fun),
        gap=float(getattr(res, "mip_gap", 0.0) or 0.0), seconds=seconds, years=list(years),
    )
