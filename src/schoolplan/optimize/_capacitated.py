r"""Internal: the capacitated models (capacitated p-median, CFLP), exact on HiGHS.

Assignment formulation on candidate lists with tail variables (see the
package docs), solved round by round:

1. a start: the capacitated swap search
   (:func:`schoolplan.optimize._heuristics.capacitated_start`) for the
   capacitated p-median, the sites the LP uses for the CFLP;
2. the LP relaxation, then reduction while it shrinks: reduced-cost fixing
   against the incumbent ``U`` (cutoff ``U - δ``, ``δ = 1`` for integer data)
   with warm LP re-solves, and for the single-source capacitated p-median a
   Lagrangian bound (assignment rows relaxed, one 0-1 knapsack per site,
   subgradient ascent) whose tests close or open sites and fix pairs;
3. a RINS sub-MIP for a better incumbent (capacitated p-median), then HiGHS branch and cut on what
   is left with the objective cutoff, stopped and restarted on a smaller
   model when it finds an incumbent that lets step 2 close a tenth of the
   free sites.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from schoolplan._highs import HighsLP, HighsModel, HighsRun
from schoolplan.errors import InfeasibleError, OptimizationError
from schoolplan.optimize._assignment import build_assignment
from schoolplan.optimize._data import (
    Common,
    check_p,
    cutoff_value,
    no_solution,
    prepare,
    rel_gap,
    remaining,
    require_allowed,
    run_model,
    status_text,
    vector,
)
from schoolplan.optimize._heuristics import capacitated_start
from schoolplan.optimize._result import LocationResult, make_result


def assignment_models(
    common: Common,
    *,
    model_name: str,
    w: np.ndarray,
    p: int | None,
    demand: np.ndarray | None,
    capacity: np.ndarray | None,
    fixed_cost: np.ndarray | None,
    single_source: bool,
    k_nearest: int | None,
    warm_start: np.ndarray | None = None,
    initial_bound: float = -math.inf,
) -> LocationResult:
    """Shared solver of the capacitated p-median and CFLP models (see module docs)."""
    costs = common.costs
    n, m = costs.shape
    n_allowed = require_allowed(costs)
    openable = ~common.forbidden
    n_open_max = int(openable.sum())
    if p is not None:
        if p > n_open_max:
            raise InfeasibleError(
                f"p = {p} but only {n_open_max} facilities may be opened "
                f"({int(common.forbidden.sum())} are forbidden)"
            )
        if int(common.fixed.sum()) > p:
            raise OptimizationError(
                f"{int(common.fixed.sum())} facilities are fixed open but p = {p}",
                rows=list(costs.facility_ids[common.fixed]),
                fix="raise p or fix fewer facilities open",
            )
    capacitated = capacity is not None
    if capacitated:
        assert demand is not None
        check_capacity(common, demand, capacity, p, single_source)

    # Initial candidate-list length.
    if k_nearest is None:
        n_target = p if p is not None else _expected_open(demand, capacity, n_open_max)
        factor = 3.0 if capacitated else 1.5
        k0 = math.ceil(factor * n_open_max / max(n_target, 1)) + (5 if capacitated else 3)
        k0 = max(k0, 8)
        if 2 * k0 >= int(n_allowed.max()) or n * m <= 20_000:
            k0 = int(n_allowed.max())
    else:
        if int(k_nearest) < 1:
            raise OptimizationError(f"k_nearest must be >= 1, got {k_nearest!r}")
        k0 = int(k_nearest)
    kj = np.minimum(n_allowed, k0).astype(np.int64)
    # integer objective values need integer data and an integral assignment
    # (split assignments can take any fraction)
    integral = (single_source or not capacitated) and bool(np.all(np.mod(w, 1) == 0)) and (
        fixed_cost is None or bool(np.all(np.mod(fixed_cost, 1) == 0))
    )
    if integral:
        data = costs.dense if costs.dense is not None else costs.csr.data  # type: ignore[union-attr]
        vals = data[np.isfinite(data)]
        integral = bool(np.all(np.mod(vals, 1) == 0))
    delta = 1.0 if integral else 0.0
    lagrange_ok = (
        capacitated and single_source and p is not None and fixed_cost is None
        and bool(np.all(np.mod(demand, 1) == 0)) and bool(np.all(np.mod(capacity, 1) == 0))
        and float(capacity.max(initial=0)) <= 200_000
    )
    stats: dict[str, Any] = {}
    if warm_start is None and capacitated and p is not None:
        warm_start = _cpmp_start(common, w, int(p), demand, capacity, openable)  # type: ignore[arg-type]

    best_bound = initial_bound
    iterations = 0
    warm = warm_start  # y of the previous round (or a heuristic)
    while True:
        iterations += 1
        kmax = int(kj.max())
        indptr, fac_all, val_all = costs.prefix(kmax + 1)
        row_len = np.diff(indptr)
        rows_all = np.repeat(np.arange(n), row_len)
        pos = np.arange(len(fac_all)) - np.repeat(indptr[:-1], row_len)
        in_list = pos < kj[rows_all]
        e_client = rows_all[in_list]
        e_fac = fac_all[in_list]
        e_cost = val_all[in_list]
        tail_sel = pos == kj[rows_all]
        tail_cost = np.zeros(n)
        tail_cost[rows_all[tail_sel]] = val_all[tail_sel]
        tail_clients = np.flatnonzero(kj < n_allowed)

        mdl, cols = build_assignment(
            n,
            m,
            e_client,
            e_fac,
            e_cost,
            tail_clients,
            tail_cost,
            w=w,
            p=p,
            demand=demand,
            capacity=capacity,
            fixed_cost=fixed_cost,
            single_source=single_source,
            fixed=common.fixed,
            forbidden=common.forbidden,
        )
        lag = None
        if lagrange_ok:
            tails = tail_clients
            lag = _Lagrange(e_client, e_fac, w[e_client] * e_cost, tails, w[tails] * tail_cost[tails],
                            demand, capacity, int(p))  # type: ignore[arg-type]
        run = _solve_round(
            mdl,
            common,
            m=m,
            warm=warm,
            incumbent=_Incumbent(
                n, m, e_client, e_fac, cols, tail_clients, capacitated, single_source, p
            ),
            delta=delta,
            lagrange=lag,
            stats=stats,
        )
        if run.infeasible:
            raise InfeasibleError(
                f"the {model_name.replace('_', ' ')} model has no feasible solution "
                "(capacities, p, fixed/forbidden facilities and allowed pairs conflict)",
                fix="raise capacities or p, or allow more client-facility pairs",
            )
        if math.isfinite(run.bound):
            best_bound = max(best_bound, run.bound)
        # every client pays at least its cheapest allowed pair
        best_bound = max(best_bound, float(np.dot(w, val_all[indptr[:-1]])))
        if run.x is not None:
            y = run.x[:m] > 0.5
            xe = run.x[cols["x"] : cols["x"] + len(e_client)]
            xt = np.zeros(n)
            xt[tail_clients] = run.x[cols["t"] : cols["t"] + len(tail_clients)]
        elif not capacitated and warm is not None:  # stopped early: keep the warm start
            y, xe, xt = warm.copy(), np.zeros(len(e_client)), np.ones(n)
        else:
            raise no_solution(run.status)
        time_up = remaining(common) <= 0 or run.status != "optimal"

        if not capacitated:
            near_cost, near_fac = costs.nearest_open(y)
            # clients whose true cost exceeds what the relaxation charged them
            short = (xt > 1e-7) & ~(near_cost <= tail_cost * (1 + 1e-12) + 1e-12)
            feasible = bool(np.isfinite(near_cost).all())
            ub = float(np.dot(w, np.where(np.isfinite(near_cost), near_cost, 0.0)))
            if fixed_cost is not None:
                ub += float(fixed_cost[y].sum())
            converged = feasible and (not short.any() or rel_gap(ub, best_bound) <= common.mip_rel_gap)
            if converged or (time_up and feasible):
                a_client, a_fac, share, unit = np.arange(n), near_fac, np.ones(n), near_cost
                break
        else:
            short = xt > 1e-7
            converged = not short.any()
            if converged:
                a_client, a_fac, share = shares(e_client, e_fac, xe)
                unit = e_cost[pair_positions(e_client, e_fac, a_client, a_fac)]
                break
            if time_up:
                a_client, a_fac, share, unit = repair(
                    common, y, demand, capacity, w, single_source
                )
                break
        if time_up:  # uncapacitated and some client has no open allowed facility
            raise no_solution(run.status)
        grow = np.flatnonzero(short)
        kj[grow] = np.minimum(n_allowed[grow], np.maximum(2 * kj[grow], kj[grow] + 8))
        warm = y

    share = np.where(np.abs(share - 1) < 1e-7, 1.0, share)
    contrib = share * w[a_client] * unit
    objective = float(contrib.sum())
    if fixed_cost is not None:
        objective += float(fixed_cost[y].sum())
    best_bound = min(best_bound, objective)
    gap = rel_gap(objective, best_bound)
    status = status_text(run.status, gap)
    if not converged and status in ("optimal", "gap_limit"):
        status = "time_limit"
    dem = demand if demand is not None else w
    common.log.append(f"schoolplan: reduction left {stats.get('n_facilities', m)} of {m} sites; "
                      f"Lagrangian bound {stats.get('lagrange_bound', float('nan')):.6g}\n")
    return make_result(
        common,
        model_name,
        objective=objective,
        y=y,
        a_client=a_client,
        a_fac=a_fac,
        share=share,
        contrib=contrib,
        bound=best_bound,
        gap=gap,
        status=status,
        iterations=iterations,
        run=run,
        k_nearest=int(kj.max()),
        demand=dem,
        formulation="assignment",
        n_facilities_reduced=stats.get("n_facilities"),
    )


def _cpmp_start(
    common: Common, w: np.ndarray, p: int, demand: np.ndarray, capacity: np.ndarray,
    openable: np.ndarray,
) -> np.ndarray | None:
    """Sites of a good capacitated p-median solution: a short capacitated swap search.

    At most 0.3 s: the RINS sub-MIP and HiGHS' restarts (see
    :func:`_solve_round`) close the rest of the gap faster than a longer
    search. Measured end to end (quiet machine): SJC2 8.5 s with 0.3 s,
    9.1-10.0 s with 1 s, 15 s starting from the uncapacitated p-median
    optimum (7 s to find); the seeded 400-client instance 34 s against 43 s.
    """
    costs = common.costs
    n, m = costs.shape
    if n * m > 16_000_000:
        return None
    dm = costs.dense
    if dm is None:
        dm = np.full((n, m), np.inf)
        rr = np.repeat(np.arange(n), np.diff(costs.csr.indptr))  # type: ignore[union-attr]
        dm[rr, costs.csr.indices] = costs.csr.data  # type: ignore[union-attr]
    got = capacitated_start(
        dm, w, demand, capacity, p, common.fixed, openable,
        deadline=time.perf_counter() + min(max(0.05 * remaining(common), 0.05), 0.3),
    )
    return None if got is None else got[0]


@dataclass
class _Incumbent:
    """Builds a feasible start of one round's (relaxed) model from open sites."""

    n: int
    m: int
    e_client: np.ndarray
    e_fac: np.ndarray
    cols: dict[str, int]
    tail_clients: np.ndarray
    capacitated: bool
    single_source: bool
    p: int | None

    @property
    def integral_assignment(self) -> bool:
        """Whether an optimal solution with integral assignment always exists."""
        return not self.capacitated or self.single_source

    def from_sites(
        self, mdl: HighsModel, common: Common, y: np.ndarray
    ) -> tuple[np.ndarray, float] | None:
        """Full column vector and cost for open sites ``y`` (None if none found)."""
        d = mdl.arrays()
        m = self.m
        if self.capacitated:  # best assignment to these sites: a small MIP
            lo, hi = d["lo"].copy(), d["hi"].copy()
            lo[:m] = hi[:m] = y.astype(np.float64)
            budget = min(max(0.25 * remaining(common), 1e-3), 10.0)
            run = run_model(
                common, mdl, budget=budget, sense=1, mip_rel_gap=max(common.mip_rel_gap, 1e-4),
                lo=lo, hi=hi,
            )
            return None if run.x is None else (run.x, float(run.objective))
        x = np.zeros(mdl.n_col)
        x[:m] = y
        oi = np.flatnonzero(y[self.e_fac])
        cl = self.e_client[oi]
        first = np.ones(len(oi), dtype=bool)
        first[1:] = cl[1:] != cl[:-1]
        x[self.cols["x"] + oi[first]] = 1.0
        served = np.zeros(self.n, dtype=bool)
        served[cl[first]] = True
        slot = np.full(self.n, -1)
        slot[self.tail_clients] = np.arange(len(self.tail_clients))
        if (slot[~served] < 0).any():
            return None
        x[self.cols["t"] + slot[~served]] = 1.0
        return x, float(np.dot(d["cost"], x))

    def from_lp(
        self, mdl: HighsModel, common: Common, x_lp: np.ndarray
    ) -> tuple[np.ndarray, float] | None:
        """CFLP: open every site the LP uses (its assignment stays feasible)."""
        if self.p is not None:
            return None
        d = mdl.arrays()
        y = (x_lp[: self.m] > 1e-9) | (d["lo"][: self.m] > 0.5)
        if self.single_source:
            return self.from_sites(mdl, common, y)
        x = x_lp.copy()
        x[: self.m] = y
        return x, float(np.dot(d["cost"], x))


def _knapsack_max(
    profit: np.ndarray, size: np.ndarray, cap: int
) -> tuple[float, np.ndarray, np.ndarray]:
    """0-1 knapsack with integer sizes, by dynamic programming.

    Returns the best profit, the chosen items and ``best[c]``, the best
    profit within capacity ``c`` for every ``c = 0..cap``.
    """
    k = len(profit)
    dp = np.zeros(max(cap, 0) + 1)
    if k == 0 or cap <= 0:
        return 0.0, np.zeros(k, dtype=bool), dp
    take = np.zeros((k, cap + 1), dtype=bool)
    for t in range(k):
        d = int(size[t])
        if d > cap:
            continue
        if d == 0:
            take[t, :] = True
            dp = dp + profit[t]
            continue
        cand = dp[: cap + 1 - d] + profit[t]
        np.greater(cand, dp[d:], out=take[t, d:])
        np.maximum(dp[d:], cand, out=dp[d:])
    chosen = np.zeros(k, dtype=bool)
    c = cap
    for t in range(k - 1, -1, -1):
        if take[t, c]:
            chosen[t] = True
            c -= int(size[t])
    return float(dp[cap]), chosen, dp


def _dantzig(
    fac: np.ndarray, profit: np.ndarray, size: np.ndarray, capacity: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    r"""Dantzig's bound on every site's knapsack, vectorised.

    Items (``profit > 0``) of each site taken greedily by ``profit / size``,
    the first that does not fit taken in part:
    :math:`P_{b-1} + (Q - S_{b-1})\,\pi_b / d_b \ge` the 0-1 optimum.
    Returns minus that bound per site (a lower bound on its value ``v``) and
    whether all its items fit (then it is exact).
    """
    m = len(capacity)
    with np.errstate(divide="ignore"):
        ratio = np.where(size > 0, profit / np.where(size > 0, size, 1.0), np.inf)
    order = np.lexsort((-ratio, fac))
    f, pr, sz, rt = fac[order], profit[order], size[order], ratio[order]
    start = np.searchsorted(f, np.arange(m))
    csize = np.cumsum(sz)
    before = np.r_[0.0, csize][start]  # size of earlier sites' items
    used = csize - before[f]
    fits = used <= capacity[f]
    total = np.bincount(f, weights=pr * fits, minlength=m).astype(np.float64)
    room = capacity - np.bincount(f, weights=sz * fits, minlength=m)
    n_fit = np.bincount(f, weights=fits, minlength=m).astype(np.int64)
    count = np.bincount(f, minlength=m)
    take_all = n_fit == count
    brk = np.flatnonzero(~take_all)
    total[brk] += room[brk] * rt[start[brk] + n_fit[brk]]
    return -total, take_all


@dataclass
class _Lagrange:
    r"""Lagrangian relaxation of the assignment rows (single-source CPMP).

    .. math::

        L(\lambda) = \sum_j \lambda_j + \sum_{j \in T} \min(0, w_j t_j - \lambda_j)
        + \min_{y:\ \sum_i y_i = p} \sum_i y_i v_i,\qquad
        v_i = \min_{x \in K_i} \sum_j (w_j c_{ji} - \lambda_j) x_{ji},

    with :math:`K_i` the 0-1 knapsack :math:`\sum_j d_j x_{ji} \le Q_i`; its
    maximum over :math:`\lambda` is Lorena & Senne's column-generation bound.
    Every :math:`L(\lambda)` is a lower bound, and so is its value with one
    site or one pair forced (used to fix them, see :class:`_LagrangeTests`):
    forcing :math:`x_{ji} = 1` costs at least
    :math:`v_i^{+j} = \max(v_i,\ \bar c_{ji} - B_i(Q_i - d_j))` at site
    :math:`i`, with :math:`\bar c_{ji} = w_j c_{ji} - \lambda_j` and
    :math:`B_i(q)` the knapsack's best profit within capacity :math:`q`.
    """

    e_client: np.ndarray
    e_fac: np.ndarray
    e_wcost: np.ndarray  # w_j c_ji of each list entry
    tail_clients: np.ndarray
    tail_wcost: np.ndarray
    demand: np.ndarray
    capacity: np.ndarray
    p: int

    def evaluate(
        self, lam: np.ndarray, y_lo: np.ndarray, y_hi: np.ndarray, x_ok: np.ndarray,
        *, pairs: bool = False,
    ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """``L(lambda)``, site values ``v``, chosen sites, the subgradient and,
        with ``pairs``, the lower bound ``v_i^{+j}`` of each list entry
        (``inf`` where the client's demand exceeds the site's capacity).

        Without ``pairs`` only the sites that can be among the chosen get a
        knapsack: a site whose negative items all fit takes them all, and the
        others are solved in increasing order of Dantzig's bound (a lower
        bound on ``v``, :func:`_dantzig`) until it exceeds the ``p``-th best;
        the chosen are the best of the sites solved, ``v`` is exact for them
        and a lower bound elsewhere.
        """
        m, n = len(self.capacity), len(lam)
        red = self.e_wcost - lam[self.e_client]
        usable = x_ok & (y_hi[self.e_fac] > 0.5)
        neg = usable & (red < 0)
        order = np.flatnonzero(usable if pairs else neg)
        fac = self.e_fac[order]
        srt = np.argsort(fac, kind="stable")
        order, fac = order[srt], fac[srt]
        bounds = np.searchsorted(fac, np.arange(m + 1))
        v, take_all = _dantzig(self.e_fac[neg], -red[neg], self.demand[self.e_client[neg]],
                               self.capacity)
        done = np.zeros(m, dtype=bool)  # v[i] exact and picks[i] known
        plus = np.full(len(self.e_client), np.inf) if pairs else None
        picks: list[np.ndarray | None] = [None] * m

        def solve(i: int) -> None:
            entries = order[bounds[i] : bounds[i + 1]]
            items = entries[red[entries] < 0] if pairs else entries
            cap = int(self.capacity[i])
            done[i] = True
            if take_all[i] and plus is None:
                picks[i] = items
                return
            best, chosen, dp = _knapsack_max(-red[items], self.demand[self.e_client[items]], cap)
            v[i], picks[i] = -best, items[chosen]
            if plus is not None and len(entries):
                d = self.demand[self.e_client[entries]].astype(np.int64)
                rest = dp[np.clip(cap - d, 0, cap)]
                plus[entries] = np.where(d <= cap, np.maximum(v[i], red[entries] - rest), np.inf)

        open_ok = y_hi > 0.5
        forced = np.flatnonzero(y_lo > 0.5)
        free = np.flatnonzero(open_ok & (y_lo < 0.5))
        k = self.p - len(forced)
        for i in forced:
            solve(int(i))
        if pairs:
            for i in free:
                solve(int(i))
        elif k > 0:
            kth: list[float] = []  # max-heap (negated) of the k best exact values
            for i in free[np.argsort(v[free], kind="stable")]:
                if len(kth) == k and v[i] >= -kth[0]:
                    break
                solve(int(i))
                if len(kth) < k:
                    heapq.heappush(kth, -float(v[i]))
                elif v[i] < -kth[0]:
                    heapq.heapreplace(kth, -float(v[i]))
        cand = free[done[free]]
        sel = cand[np.argsort(v[cand], kind="stable")[:k]] if k > 0 else free[:0]
        y = np.zeros(m, dtype=bool)
        y[forced] = True
        y[sel] = True
        tail_red = self.tail_wcost - lam[self.tail_clients]
        value = float(lam.sum() + np.minimum(tail_red, 0).sum() + v[y].sum())
        g = np.ones(n)
        for i in np.flatnonzero(y):
            np.subtract.at(g, self.e_client[picks[i]], 1.0)
        g[self.tail_clients[tail_red < 0]] -= 1.0
        return value, v, y, g, plus


def _subgradient(
    lag: _Lagrange, lam: np.ndarray, y_lo: np.ndarray, y_hi: np.ndarray, x_ok: np.ndarray,
    upper: float, delta: float, deadline: float,
) -> tuple[float, np.ndarray]:
    r"""Best Lagrangian bound found by subgradient ascent, and its multipliers.

    Polyak steps :math:`\lambda \leftarrow \lambda + \theta\,(U - L(\lambda))\,
    g / \lVert g \rVert^2` from ``lam``, with ``θ = 2`` halved after 20 steps
    without a better bound, until ``θ < 0.03``, the bound proves the
    incumbent ``U`` or the deadline. Measured on SJC1 / SJC2 from ``λ = 0``:
    within 0.01 % of the bound reached with ``θ < 0.001`` (SJC1 17,258), and
    SJC2 solves in 7.4 s end to end against 8.6 s with ``θ < 0.01``; starting
    from the LP duals with ``θ = 1`` stalled at 17,190 on SJC1.
    """
    best, best_lam = -math.inf, lam.copy()
    theta, stall = 2.0, 0
    for _ in range(5_000):
        value, _, _, g, _ = lag.evaluate(lam, y_lo, y_hi, x_ok)
        if value > best + 1e-9 * max(1.0, abs(value)):
            best, best_lam, stall = value, lam.copy(), 0
        else:
            stall += 1
            if stall >= 20:
                theta, stall = theta / 2, 0
        norm = float(np.dot(g, g))
        if norm == 0 or theta < 3e-2 or best > upper - delta or time.perf_counter() > deadline:
            break
        lam = lam + theta * max(upper - value, 1e-9 * abs(upper)) / norm * g
    return best, best_lam


@dataclass
class _LagrangeTests:
    r"""What a Lagrangian bound fixes, for any incumbent value.

    At multipliers :math:`\lambda` with bound :math:`L`, site values ``v``,
    chosen sites ``y`` and pair bounds :math:`v_i^{+j}` (see
    :class:`_Lagrange`), every solution of value at most ``limit`` keeps

    - a free site outside the chosen closed when
      :math:`L + v_i - \max_{\text{chosen free}} v > \text{limit}`;
    - a chosen free site open when
      :math:`L - v_i + \min_{\text{other free}} v > \text{limit}`;
    - a pair at 0 when :math:`L - b_i + v_i^{+j} > \text{limit}`, with
      :math:`b_i = v_i` for a chosen site and the largest chosen free
      :math:`v` for another.
    """

    value: float
    v: np.ndarray
    y: np.ndarray
    free: np.ndarray
    plus: np.ndarray
    e_fac: np.ndarray
    x_ok: np.ndarray

    @classmethod
    def at(
        cls, lag: _Lagrange, lam: np.ndarray, y_lo: np.ndarray, y_hi: np.ndarray, x_ok: np.ndarray
    ) -> _LagrangeTests:
        value, v, y, _, plus = lag.evaluate(lam, y_lo, y_hi, x_ok, pairs=True)
        assert plus is not None
        return cls(value, v, y, (y_hi > 0.5) & (y_lo < 0.5), plus, lag.e_fac, x_ok)

    def fixings(self, limit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sites to close, sites to open and list entries (pairs) to fix to 0."""
        v, y, free = self.v, self.y, self.free
        chosen_free, other_free = np.flatnonzero(y & free), np.flatnonzero(~y & free)
        close, opened = np.zeros(len(v), dtype=bool), np.zeros(len(v), dtype=bool)
        worst_in = float(v[chosen_free].max()) if len(chosen_free) else math.inf
        if len(other_free):
            close[other_free] = self.value + v[other_free] - worst_in > limit
        if len(chosen_free):
            best_out = float(v[other_free].min()) if len(other_free) else math.inf
            opened[chosen_free] = self.value - v[chosen_free] + best_out > limit
        base = np.where(y, v, worst_in)
        with np.errstate(invalid="ignore"):
            pairs = np.flatnonzero(self.x_ok & (self.value - base[self.e_fac] + self.plus > limit))
        return close, opened, pairs


def _solve_round(
    mdl: HighsModel,
    common: Common,
    *,
    m: int,
    warm: np.ndarray | None,
    incumbent: _Incumbent,
    delta: float,
    lagrange: _Lagrange | None = None,
    stats: dict[str, Any] | None = None,
) -> HighsRun:
    """Solve one round's model: LP, incumbent, reduction while it shrinks, MIP.

    With an LP optimum of value ``L`` (reduced costs ``r``) and a feasible
    solution of value ``U``, a column at its lower (upper) bound with
    ``r > U - δ - L`` (``r < -(U - δ - L)``) takes that bound in every solution
    of value ``<= U - δ``. Columns are fixed and the LP re-solved warm while
    that fixes more; a Lagrangian bound (single-source capacitated p-median,
    :class:`_LagrangeTests`) closes or opens further sites and fixes pairs.
    Before HiGHS sees the whole model, a RINS sub-MIP (columns where the LP
    and the incumbent agree fixed) looks for a better incumbent (at most
    three times per round; single-source capacitated p-median only: on the
    100 x 1,000 CFLP it found nothing in 2 x 2 s). HiGHS then solves what is left with the
    objective cutoff ``U - δ``: no solution below it proves the incumbent.
    When HiGHS finds a solution good enough that the reduction would close a
    tenth of the free sites (:func:`_restart_test`), it is stopped, the
    reduction repeated with the new ``U`` and HiGHS restarted on the smaller
    model (with the steps above, SJC1 14.1 → 4.3 s and SJC2 24.3 → 7.8 s in
    benchmarks/bench_optimize.py).
    """
    lp = mdl.lp(time_limit=remaining(common), threads=common.threads, log=common.log)
    if lp.status == "infeasible":
        return HighsRun("infeasible", None, math.nan, math.nan, mdl.n_col, mdl.n_row)
    inc = None
    if lp.x is not None:
        if warm is not None:
            inc = incumbent.from_sites(mdl, common, warm)
        lp_inc = incumbent.from_lp(mdl, common, lp.x)
        if lp_inc is not None and (inc is None or lp_inc[1] < inc[1]):
            inc = lp_inc
    if lp.x is None or lp.rc is None or inc is None:
        start = None if warm is None else (np.arange(m), warm.astype(np.float64))
        run = run_model(common, mdl, sense=1, start=start)
        if lp.x is not None and math.isfinite(lp.objective):
            run.bound = max(run.bound, lp.objective) if math.isfinite(run.bound) else lp.objective
        return run
    x_inc, upper = inc
    d = mdl.arrays()
    fix = (d["int"] > 0) | incumbent.integral_assignment
    x0 = incumbent.cols["x"]
    lower = lp.objective
    tests: _LagrangeTests | None = None
    rins_left = 3
    may_restart = True  # HiGHS may be stopped on an improving solution

    def limit_of(u: float) -> float:
        return u - delta + 1e-9 * max(1.0, abs(u))

    while True:  # one pass per incumbent
        tol = 1e-9 * max(1.0, abs(upper))
        while True:  # reduction
            lower = max(lower, lp.objective)
            slack = upper - delta - lp.objective
            if slack < -tol or upper - lower <= max(common.mip_rel_gap * abs(upper), tol):
                return HighsRun("optimal", x_inc, upper, upper, mdl.n_col, mdl.n_row)
            thr = slack + tol
            free = lp.hi > lp.lo
            at_lo = np.flatnonzero(free & fix & (lp.x <= lp.lo + 1e-9) & (lp.rc > thr))
            at_hi = np.flatnonzero(free & fix & (lp.x >= lp.hi - 1e-9) & (lp.rc < -thr))
            if len(at_lo) + len(at_hi) == 0 and lagrange is not None and remaining(common) > 0:
                if tests is None:
                    y_lo, y_hi = lp.lo[:m], lp.hi[:m]
                    x_ok = lp.hi[x0 : x0 + len(lagrange.e_client)] > 0.5
                    deadline = time.perf_counter() + min(0.1 * remaining(common), 5.0)
                    bound, lam = _subgradient(
                        lagrange, np.zeros(len(lagrange.demand)), y_lo, y_hi, x_ok, upper, delta,
                        deadline,
                    )
                    tests = _LagrangeTests.at(lagrange, lam, y_lo, y_hi, x_ok)
                    lower = max(lower, bound)
                    if stats is not None:
                        stats["lagrange_bound"] = bound
                if tests.value > limit_of(upper):
                    return HighsRun("optimal", x_inc, upper, upper, mdl.n_col, mdl.n_row)
                close, opened, pairs = tests.fixings(limit_of(upper))
                at_lo = np.r_[np.flatnonzero(close), x0 + pairs]
                at_lo = at_lo[lp.hi[at_lo] > lp.lo[at_lo]]
                at_hi = np.flatnonzero(opened & (lp.hi[:m] > lp.lo[:m]))
            if len(at_lo) + len(at_hi) == 0:
                break
            lp.fix(at_lo, at_hi, time_limit=remaining(common))
            if lp.status == "infeasible":
                return HighsRun("optimal", x_inc, upper, upper, mdl.n_col, mdl.n_row)
            if lp.x is None:
                break
        lo, hi = lp.lo.copy(), lp.hi.copy()
        if lp.x is not None and lp.rc is not None:
            # split assignments only get tighter bounds: |x - bound| <= slack / |r|
            slack = max(upper - delta - lp.objective, 0.0) + tol
            with np.errstate(divide="ignore"):
                reach = slack / np.abs(lp.rc) * (1 + 1e-6) + 1e-9
            k = ~fix & (lp.x <= lo + 1e-9) & (lp.rc > slack)
            hi[k] = np.minimum(hi[k], lo[k] + reach[k])
            k = ~fix & (lp.x >= hi - 1e-9) & (lp.rc < -slack)
            lo[k] = np.maximum(lo[k], hi[k] - reach[k])
        if stats is not None:
            stats["n_facilities"] = int((hi[:m] > 0.5).sum())
        if rins_left > 0 and lp.x is not None and lagrange is not None:
            rins_left -= 1
            better = _rins(mdl, common, lp.x, x_inc, fix, lo, hi, cutoff_value(upper, delta))
            if better is not None and better[1] < upper - tol:
                x_inc, upper = better
                continue
        restart = None
        if may_restart and lp.x is not None and lp.rc is not None:
            restart = _restart_test(lp, tests, fix, m, limit_of)
        if bool(np.all(x_inc >= lo - 1e-9) & np.all(x_inc <= hi + 1e-9)):
            # HiGHS' improvement heuristics (RINS, ...) work from the incumbent
            run = run_model(common, mdl, sense=1, lo=lo, hi=hi, start=(np.arange(mdl.n_col), x_inc),
                            on_improve=restart)
        else:
            run = run_model(common, mdl, sense=1, lo=lo, hi=hi, cutoff=cutoff_value(upper, delta),
                            on_improve=restart)
        if run.status == "interrupted":
            if run.x is not None and run.objective < upper - tol:
                x_inc, upper = run.x, float(run.objective)
            else:  # stopped on a value its solution does not have: finish without stops
                may_restart = False
            continue
        if run.infeasible:  # nothing below the cutoff: the incumbent is optimal
            return HighsRun("optimal", x_inc, upper, upper, mdl.n_col, mdl.n_row, log=run.log)
        if run.x is None or not run.objective < upper:
            run.x, run.objective = x_inc, upper
        bound = min(upper, run.bound) if math.isfinite(run.bound) else lower
        run.bound = max(lower, bound)
        return run


def _rins(
    mdl: HighsModel, common: Common, x_lp: np.ndarray, x_inc: np.ndarray, fix: np.ndarray,
    lo: np.ndarray, hi: np.ndarray, cutoff: float | None,
) -> tuple[np.ndarray, float] | None:
    """RINS (Danna, Rothberg & Le Pape 2005): a better solution with every
    integer column where the LP and the incumbent agree fixed, or None.

    A sub-MIP of at most 2 s (and a tenth of the time left); measured on SJC2
    it improves the swap-search start 33,443 → 33,323 in 0.1 s.
    """
    agree = fix & (np.abs(x_inc - x_lp) < 1e-6) & (hi > lo)
    lo2, hi2 = lo.copy(), hi.copy()
    lo2[agree] = hi2[agree] = np.round(x_inc[agree])
    run = run_model(common, mdl, budget=min(2.0, 0.1 * remaining(common)), sense=1,
                    lo=lo2, hi=hi2, cutoff=cutoff)
    return None if run.x is None or run.infeasible else (run.x, float(run.objective))


def _restart_test(
    lp: HighsLP, tests: _LagrangeTests | None, fix: np.ndarray, m: int,
    limit_of: Callable[[float], float],
) -> Callable[[float], bool]:
    """Whether a new incumbent value lets the reduction close a tenth of the free sites.

    Counts the free sites that reduced-cost fixing (at the current LP) or the
    Lagrangian tests would close with the new value; cheap enough to run on
    every improving solution HiGHS reports.
    """
    free = np.flatnonzero(lp.hi[:m] > lp.lo[:m])
    need = max(1, math.ceil(0.1 * len(free)))
    at_lo = fix[:m][free] & (lp.x[:m][free] <= lp.lo[:m][free] + 1e-9)  # type: ignore[index]
    rc = lp.rc[:m][free]  # type: ignore[index]

    def worth(value: float) -> bool:
        limit = limit_of(value)
        shut = at_lo & (rc > limit - lp.objective)
        if tests is not None:
            shut |= tests.fixings(limit)[0][free]
        return int(shut.sum()) >= need

    return worth


def _expected_open(demand: np.ndarray | None, capacity: np.ndarray | None, n_open: int) -> int:
    """Rough number of open sites of a CFLP, to size the candidate lists."""
    if demand is None or capacity is None:
        return max(1, n_open // 4)
    cap = float(np.median(capacity[capacity > 0])) if (capacity > 0).any() else 1.0
    return int(min(n_open, max(1, math.ceil(1.5 * demand.sum() / max(cap, 1e-12)))))


def check_capacity(
    common: Common,
    demand: np.ndarray,
    capacity: np.ndarray,
    p: int | None,
    single_source: bool,
) -> None:
    costs = common.costs
    openable = ~common.forbidden
    total = float(demand.sum())
    cap_all = float(capacity[openable].sum())
    if total > cap_all * (1 + 1e-12):
        raise InfeasibleError(
            f"total demand {total:g} exceeds total capacity {cap_all:g} of the facilities "
            "that may be opened",
            fix="add capacity or candidate facilities, or reduce demand",
        )
    if p is not None:
        fixed_cap = float(capacity[common.fixed].sum())
        rest = np.sort(capacity[openable & ~common.fixed])[::-1]
        best = fixed_cap + float(rest[: p - int(common.fixed.sum())].sum())
        if total > best * (1 + 1e-12):
            raise InfeasibleError(
                f"total demand {total:g} exceeds {best:g}, the most capacity any {p} "
                "facilities (including the fixed-open ones) can offer",
                fix="raise p or capacities",
            )
    if single_source:
        indptr, fac, _ = costs.prefix(costs.shape[1])
        rows = np.repeat(np.arange(costs.shape[0]), np.diff(indptr))
        best_cap = np.zeros(costs.shape[0])
        np.maximum.at(best_cap, rows, capacity[fac])
        too_big = demand > best_cap * (1 + 1e-12)
        if too_big.any():
            raise InfeasibleError(
                "with single-source assignment some clients' demand exceeds the capacity of "
                "every facility they may use",
                rows=list(costs.client_ids[too_big]),
                fix="allow splitting (single_source=False) or raise capacities",
            )


def shares(
    e_client: np.ndarray, e_fac: np.ndarray, xe: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positive assignment values, renormalised per client."""
    keep = xe > 1e-9
    c, f, s = e_client[keep], e_fac[keep], xe[keep]
    tot = np.bincount(c, weights=s, minlength=int(e_client.max()) + 1 if len(e_client) else 0)
    s = s / tot[c]
    order = np.lexsort((f, c))
    return c[order], f[order], s[order]


def pair_positions(
    e_client: np.ndarray, e_fac: np.ndarray, c: np.ndarray, f: np.ndarray
) -> np.ndarray:
    m = int(max(e_fac.max(), f.max())) + 1
    keys = e_client.astype(np.int64) * m + e_fac
    order = np.argsort(keys, kind="stable")
    return order[np.searchsorted(keys[order], c.astype(np.int64) * m + f)]


def repair(
    common: Common,
    y: np.ndarray,
    demand: np.ndarray | None,
    capacity: np.ndarray | None,
    w: np.ndarray,
    single_source: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Best assignment to the open facilities ``y`` over all allowed pairs."""
    assert demand is not None and capacity is not None
    costs = common.costs
    n, m = costs.shape
    indptr, fac, val = costs.prefix(m)
    rows = np.repeat(np.arange(n), np.diff(indptr))
    keep = y[fac]
    c, f, v = rows[keep], fac[keep], val[keep]
    if len(np.unique(c)) < n:
        raise OptimizationError(
            "time limit reached before a feasible assignment was found",
            fix="raise time_limit",
        )
    mdl = HighsModel()
    cx = mdl.add_cols(w[c] * v, 0.0, 1.0, integer=single_source)
    ra = mdl.add_rows(1.0, 1.0, n)
    mdl.add_entries(ra + c, cx + np.arange(len(c)), 1.0)
    rc = mdl.add_rows(-np.inf, capacity, m)
    mdl.add_entries(rc + f, cx + np.arange(len(c)), demand[c])
    run = mdl.solve(
        sense=1, time_limit=max(remaining(common), 1.0), mip_rel_gap=common.mip_rel_gap,
        threads=common.threads,
    )
    common.log.append(run.log)  # type: ignore[union-attr]
    if run.x is None:
        raise OptimizationError(
            "time limit reached before a feasible assignment was found",
            fix="raise time_limit",
        )
    a_c, a_f, s = shares(c, f, run.x)
    unit = v[pair_positions(c, f, a_c, a_f)]
    return a_c, a_f, s, unit
def solve_capacitated_p_median(
    cost: Any,
    p: int,
    demand: Any,
    capacity: Any,
    *,
    single_source: bool = True,
    weights: Any = None,
    fixed_open: Iterable[Any] = (),
    forbidden: Iterable[Any] = (),
    max_cost: Any = None,
    time_limit: float | None = None,
    mip_rel_gap: float | None = None,
    threads: int | None = None,
    k_nearest: int | None = None,
    client_ids: Iterable[Any] | None = None,
    facility_ids: Iterable[Any] | None = None,
) -> LocationResult:
    r"""Capacitated p-median: open exactly ``p`` facilities with capacities.

    .. math::

        \min \sum_{j}\sum_{i \in A_j} w_j c_{ji} x_{ji}
        \quad\text{s.t.}\quad
        \sum_{i \in A_j} x_{ji} = 1,\qquad
        \sum_{j} d_j x_{ji} \le Q_i y_i,\qquad
        x_{ji} \le y_i,\qquad
        \sum_i y_i = p,

        \sum_i Q_i y_i \ge \sum_j d_j,\quad
        y_i \in \{0,1\},\quad
        x_{ji} \in \{0,1\}\ \text{(single source) or } [0,1],

    with fixed-open / forbidden facilities as bounds on :math:`y`. A client's
    cost ``c_ji`` is for its whole demand ``d_j`` (a share pays that fraction).

    Parameters
    ----------
    cost
        Client x facility cost, as for :func:`solve_p_median`.
    p
        Number of facilities to open.
    demand
        Per-client demand ``d_j`` (e.g. pupils), ``>= 0``.
    capacity
        Per-facility capacity ``Q_i`` in demand units (e.g. seats), ``>= 0``.
    single_source
        Each client served by exactly one facility (default) or split.
    weights
        Per-client objective multiplier (default 1; pass ``demand`` for
        demand-weighted travel).
    fixed_open, forbidden, max_cost, time_limit, mip_rel_gap, threads, k_nearest, client_ids, facility_ids
        As for :func:`solve_p_median`.

    Returns
    -------
    LocationResult
        ``load`` is the demand served per open facility; ``share`` is fractional
        when ``single_source=False``.

    Raises
    ------
    OptimizationError
        Malformed input.
    InfeasibleError
        Total demand above the capacity of the ``p`` largest sites, a client
        whose demand fits no allowed facility (single source), a client without
        allowed facility, or an infeasible combination found by the solver.
    """
    common = prepare(
        cost,
        fixed_open=fixed_open,
        forbidden=forbidden,
        max_cost=max_cost,
        time_limit=time_limit,
        mip_rel_gap=mip_rel_gap,
        threads=threads,
        client_ids=client_ids,
        facility_ids=facility_ids,
    )
    _, m = common.costs.shape
    p = check_p(p, m)
    d = vector("demand", demand, common.costs.client_ids)
    q = vector("capacity", capacity, common.costs.facility_ids)
    w = vector("weights", weights, common.costs.client_ids, default=1.0)
    return assignment_models(
        common,
        model_name="capacitated_p_median",
        w=w,
        p=p,
        demand=d,
        capacity=q,
        fixed_cost=None,
        single_source=bool(single_source),
        k_nearest=k_nearest,
    )


def solve_cflp(
    cost: Any,
    fixed_cost: Any,
    demand: Any,
    capacity: Any,
    *,
    single_source: bool = False,
    weights: Any = None,
    fixed_open: Iterable[Any] = (),
    forbidden: Iterable[Any] = (),
    max_cost: Any = None,
    time_limit: float | None = None,
    mip_rel_gap: float | None = None,
    threads: int | None = None,
    k_nearest: int | None = None,
    client_ids: Iterable[Any] | None = None,
    facility_ids: Iterable[Any] | None = None,
) -> LocationResult:
    r"""Capacitated facility location with opening costs (any number open).

    .. math::

        \min \sum_i f_i y_i + \sum_{j}\sum_{i \in A_j} w_j c_{ji} x_{ji}
        \quad\text{s.t.}\quad
        \sum_{i \in A_j} x_{ji} = 1,\qquad
        \sum_{j} d_j x_{ji} \le Q_i y_i,\qquad
        x_{ji} \le y_i,

        \sum_i Q_i y_i \ge \sum_j d_j,\quad
        y_i \in \{0,1\},\quad
        x_{ji} \in [0,1]\ \text{(default) or } \{0,1\}\ \text{(single source)}.

    Parameters
    ----------
    cost
        Client x facility cost of serving the client's whole demand.
    fixed_cost
        Per-facility opening cost ``f_i`` (same money/time unit as ``cost``).
        Fixed-open facilities pay it too.
    demand
        Per-client demand ``d_j``.
    capacity
        Per-facility capacity ``Q_i`` (use a large number for uncapacitated).
    single_source
        Force each client to one facility (default: splitting allowed, as in
        the OR-Library capacitated warehouse location instances).
    weights, fixed_open, forbidden, max_cost, time_limit, mip_rel_gap, threads, k_nearest, client_ids, facility_ids
        As for :func:`solve_p_median`.

    Returns
    -------
    LocationResult
        ``objective`` includes the opening costs.

    Raises
    ------
    OptimizationError
        Malformed input.
    InfeasibleError
        Total demand above total capacity, a client without an allowed
        facility, or an infeasible combination found by the solver.
    """
    common = prepare(
        cost,
        fixed_open=fixed_open,
        forbidden=forbidden,
        max_cost=max_cost,
        time_limit=time_limit,
        mip_rel_gap=mip_rel_gap,
        threads=threads,
        client_ids=client_ids,
        facility_ids=facility_ids,
    )
    f = vector("fixed_cost", fixed_cost, common.costs.facility_ids)
    d = vector("demand", demand, common.costs.client_ids)
    q = vector("capacity", capacity, common.costs.facility_ids)
    w = vector("weights", weights, common.costs.client_ids, default=1.0)
    return assignment_models(
        common,
        model_name="cflp",
        w=w,
        p=None,
        demand=d,
        capacity=q,
        fixed_cost=f,
        single_source=bool(single_source),
        k_nearest=k_nearest,
    )
