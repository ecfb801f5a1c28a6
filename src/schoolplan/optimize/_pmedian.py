r"""Internal: the p-median model, exact on HiGHS.

Pipeline (each step keeps optimality proven, never assumed):

1. **Start.** Greedy + fast interchange with restarts
   (:func:`schoolplan.optimize._heuristics.p_median_start`) gives an incumbent
   of value ``U`` in about a second.
2. **Formulation chosen by the data.** Each client's candidate list (its
   ``K_j`` cheapest allowed sites) is written either as the *radius*
   formulation (Cornuéjols, Nemhauser & Wolsey 1980; Elloumi 2010) or as the
   classic *assignment* formulation; the radius one has one variable per client
   and **distinct** cost level and is used when levels repeat (integer
   distances, road times rounded to seconds) — at most 3/4 as many levels as
   pairs. With distinct levels :math:`D_j^1 < \dots < D_j^{L_j}` of client
   ``j`` and :math:`z_j^k = 1` when no open site lies within :math:`D_j^k`:

   .. math::

       \min \sum_j w_j \Bigl(D_j^1 + \sum_{k=1}^{L_j} (D_j^{k+1} - D_j^k)\, z_j^k\Bigr)
       \quad\text{s.t.}\quad
       z_j^1 + \sum_{i: c_{ji} = D_j^1} y_i \ge 1,\quad
       z_j^k + \sum_{i: c_{ji} = D_j^k} y_i \ge z_j^{k-1}\ (k \ge 2),\quad
       \sum_i y_i = p,

   where :math:`D_j^{L_j+1}` is the next cost beyond the list (the *tail*;
   a client whose list holds all its allowed sites has no :math:`z_j^{L_j}`).
   Truncated lists make the model a relaxation; a client whose nearest open
   site lies beyond its list has its list doubled and the model is solved
   again, until no client relies on its tail.
3. **Reduce before branching.** After each LP (value ``L``, reduced costs
   ``r``): a column at a bound whose reduced cost exceeds ``U - δ - L`` keeps
   that bound in every solution of value ``<= U - δ`` (``δ = 1`` when all
   weighted costs are integers, else 0). Sites are dropped (or fixed open),
   client levels cut, and the LP is re-solved warm from its basis, while it
   shrinks.
4. **Branch and cut** (HiGHS) on what is left, with the objective cutoff
   ``U - δ``: "no solution below the cutoff" proves the incumbent optimal.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from schoolplan._highs import HighsModel
from schoolplan.errors import InfeasibleError, OptimizationError
from schoolplan.optimize._assignment import build_assignment
from schoolplan.optimize._data import (
    Common,
    Costs,
    check_p,
    cutoff_value,
    no_solution,
    prepare,
    rel_gap,
    remaining,
    require_allowed,
    run_model,
    vector,
)
from schoolplan.optimize._heuristics import p_median_start, p_median_swap_sparse
from schoolplan.optimize._result import LocationResult, make_result

_DENSE_HEURISTIC_CELLS = 16_000_000  # larger matrices use the candidate-list heuristic
FORMULATIONS = ("auto", "radius", "assignment")


@dataclass
class _Lists:
    """Each client's candidate list: entries sorted by client then cost."""

    e_client: np.ndarray
    e_fac: np.ndarray
    e_cost: np.ndarray
    tail: np.ndarray  # next cost beyond the list (inf: list holds every allowed site)
    last: np.ndarray  # largest cost in the list


def _lists(work: Costs, kj: np.ndarray, n_allowed: np.ndarray) -> _Lists:
    """The ``kj`` cheapest allowed sites of each client, extended over ties."""
    n = len(kj)
    indptr, fac, val = work.prefix(int(kj.max()) + 1)
    row_len = np.diff(indptr)
    rows = np.repeat(np.arange(n), row_len)
    pos = np.arange(len(fac)) - np.repeat(indptr[:-1], row_len)
    # k-th cost of each client (its kj-th entry); entries equal to it are kept too
    kth = np.full(n, np.inf)
    sel = pos == np.minimum(kj, row_len)[rows] - 1
    kth[rows[sel]] = val[sel]
    keep = (pos < kj[rows]) | (val <= kth[rows])
    beyond = ~keep
    tail = np.full(n, np.inf)
    first_beyond = beyond & np.r_[True, ~beyond[:-1] | (rows[1:] != rows[:-1])]
    tail[rows[first_beyond]] = val[first_beyond]
    # a list that reaches every allowed site has no tail; one cut by prefix() may
    # have ties beyond the fetched part: fetch more next round (tail = its cost)
    complete = np.minimum(kj, n_allowed) >= n_allowed
    tail[complete] = np.inf
    short_fetch = ~complete & ~np.isfinite(tail)
    tail[short_fetch] = kth[short_fetch]  # all fetched entries tie: tail = same cost
    last = np.zeros(n)
    np.maximum.at(last, rows[keep], val[keep])
    return _Lists(rows[keep], fac[keep], val[keep], tail, last)


def _build_radius(
    lists: _Lists, w: np.ndarray, p: int, m: int, lo_y: np.ndarray, hi_y: np.ndarray
) -> tuple[HighsModel, tuple[int, np.ndarray, np.ndarray]]:
    """Radius (chain) formulation over the lists.

    Returns the model and ``(first z column, client of each z, level of each z)``.
    """
    c, f, v = lists.e_client, lists.e_fac, lists.e_cost
    new = np.r_[True, (c[1:] != c[:-1]) | (v[1:] != v[:-1])]
    lvl = np.cumsum(new) - 1
    n_lvl = int(lvl[-1]) + 1 if len(lvl) else 0
    l_client = c[new]
    l_val = v[new]
    first = np.r_[True, l_client[1:] != l_client[:-1]]
    last = np.r_[l_client[1:] != l_client[:-1], True]
    nxt = np.r_[l_val[1:], np.inf]
    nxt[last] = lists.tail[l_client[last]]
    has_z = np.isfinite(nxt)
    mdl = HighsModel()
    cy = mdl.add_cols(np.zeros(m), lo_y, hi_y, integer=True)
    z_idx = np.flatnonzero(has_z)
    z_of = np.full(n_lvl, -1)
    z_of[z_idx] = np.arange(len(z_idx))
    cz = mdl.add_cols(w[l_client[z_idx]] * (nxt[z_idx] - l_val[z_idx]), 0.0, np.inf, integer=False)
    mdl.offset = float(np.dot(w[l_client[first]], l_val[first]))
    r0 = mdl.add_rows(np.where(first, 1.0, 0.0), np.inf, n_lvl)
    mdl.add_entries(r0 + lvl, cy + f, 1.0)
    mdl.add_entries(r0 + z_idx, cz + np.arange(len(z_idx)), 1.0)
    prev = np.flatnonzero(~first)  # level g >= 2: - z_{g-1}
    ok = has_z[prev - 1]
    mdl.add_entries(r0 + prev[ok], cz + z_of[prev[ok] - 1], -1.0)
    rp = mdl.add_rows(float(p), float(p), 1)
    mdl.add_entries(np.full(m, rp), cy + np.arange(m), 1.0)
    return mdl, (cz, l_client[z_idx], l_val[z_idx])


_PROBE_MAX_P = 12  # probe sites only for small p (large-p LPs are nearly integral)
_ENUM_CELLS = 40_000_000  # enumerate the open sets when combos x clients x k stays below this (~1 s)


def _infeasible() -> InfeasibleError:
    return InfeasibleError("the p median model has no feasible solution "
                           "(p, fixed/forbidden facilities and allowed pairs conflict)",
                           fix="raise p, or allow more client-facility pairs")


def _enum_cells(n: int, n_free: int, k: int) -> float:
    return float(math.comb(n_free, k)) * n * max(k, 1) if 0 <= k <= n_free else 0.0


def _enumerate(
    costs: Costs, w: np.ndarray, free: np.ndarray, forced: np.ndarray, k: int, deadline: float
) -> tuple[np.ndarray, float] | None:
    """Best open set by complete enumeration of ``k`` sites among ``free`` plus ``forced``.

    Returns ``(open mask, value)`` or ``None`` when the deadline passed first.
    """
    import itertools

    n, m = costs.shape
    cols = np.r_[forced, free].astype(np.int64)
    if costs.dense is not None:
        sub = costs.dense[:, cols]
    else:
        sub = costs.csr[:, cols].toarray()  # type: ignore[index]
        stored = costs.csr[:, cols].copy()  # type: ignore[index]
        stored.data[:] = 1
        sub = np.where(stored.toarray() > 0, sub, np.inf)
    base = sub[:, : len(forced)].min(axis=1) if len(forced) else np.full(n, np.inf)
    fs = sub[:, len(forced) :]
    y = np.zeros(m, dtype=bool)
    y[forced] = True
    if k == 0:  # nothing left to choose: the forced sites alone
        return y, float(w @ base) if np.isfinite(base).all() else math.inf
    best_v, best = math.inf, None
    combos = itertools.combinations(range(len(free)), k)
    chunk = max(1, int(20_000_000 // max(n * max(k, 1), 1)))
    while True:
        block = np.array(list(itertools.islice(combos, chunk)), dtype=np.int64).reshape(-1, k)
        if len(block) == 0:
            break
        near = np.repeat(base[:, None], len(block), axis=1)
        for t in range(k):
            near = np.minimum(near, fs[:, block[:, t]])
        ok = np.isfinite(near)
        vals = np.where(ok.all(axis=0), w @ np.where(ok, near, 0.0), np.inf)
        a = int(np.argmin(vals))
        if vals[a] < best_v:
            best_v, best = float(vals[a]), block[a]
        if time.perf_counter() > deadline:
            return None
    if best is not None:
        y[free[best]] = True
    return y, best_v


def _probe(
    lp: Any, m: int, limit: float, *, deadline: float, enough: Any = None
) -> np.ndarray | None:
    """Close every site whose opening alone lifts the LP above ``limit``.

    For each site still free (most promising last), the LP is re-solved warm
    with ``y_i = 1``; a value above ``limit`` (or infeasibility) proves that
    no solution of value ``<= limit`` opens ``i``. Returns the mask of sites
    to close (``None`` when every free site is closed).
    """
    free = np.flatnonzero((lp.hi[:m] > 0.5) & (lp.lo[:m] < 0.5))
    closed = np.zeros(m, dtype=bool)
    if lp.x is None:
        return closed
    order = free[np.argsort(-lp.rc[free], kind="stable")]
    # dual simplex raises a valid bound at every step: stop once it passes the limit
    lp.h.setOptionValue("objective_bound", float(limit))
    tried = 0
    for i in order:
        if time.perf_counter() > deadline or (enough is not None and enough(len(free) - closed.sum())):
            break
        tried += 1
        lo_i = lp.lo[i]
        lp.set_bounds(np.array([i]), np.array([1.0]), np.array([lp.hi[i]]))
        lp.resolve()
        if lp.status in ("infeasible", "cutoff") or (lp.x is not None and lp.objective > limit):
            closed[i] = True
            lp.set_bounds(np.array([i]), np.array([0.0]), np.array([0.0]))
        else:
            lp.set_bounds(np.array([i]), np.array([lo_i]), np.array([lp.hi[i]]))
    lp.h.setOptionValue("objective_bound", float("inf"))
    lp.log.append(f"schoolplan: probing tried {tried} of {len(free)} sites, closed {int(closed.sum())}\n")
    if closed[free].all() and len(free):
        return None
    return closed


def _is_integral(work: Costs, w: np.ndarray) -> bool:
    """Whether every weighted cost is an integer (objective values are integers)."""
    if not np.all(np.mod(w, 1) == 0):
        return False
    data = work.dense if work.dense is not None else work.csr.data  # type: ignore[union-attr]
    vals = data[np.isfinite(data)]
    return bool(np.all(np.mod(vals, 1) == 0)) and float(np.abs(vals).max(initial=0) * w.sum()) < 2**52


def _start(common: Common, w: np.ndarray, p: int, openable: np.ndarray, budget: float) -> np.ndarray:
    costs = common.costs
    n, m = costs.shape
    deadline = time.perf_counter() + budget
    if n * m <= _DENSE_HEURISTIC_CELLS:
        if costs.dense is not None:
            dm = costs.dense
        else:
            dm = np.full((n, m), np.inf)
            rows = np.repeat(np.arange(n), np.diff(costs.csr.indptr))  # type: ignore[union-attr]
            dm[rows, costs.csr.indices] = costs.csr.data  # type: ignore[union-attr]
        y, _ = p_median_start(dm, w, p, common.fixed, openable, deadline=deadline,
                              restarts=6 if p <= 20 else 2)
        return y
    kcap = min(m, max(8, math.ceil(3 * m / p) + 5))
    lists = _lists(costs, np.minimum(costs.allowed_count(), kcap), costs.allowed_count())
    return p_median_swap_sparse(
        n, m, lists.e_client, lists.e_fac, lists.e_cost, lists.tail, w, p, common.fixed,
        common.forbidden, deadline,
    )


def p_median_exact(
    common: Common, w: np.ndarray, p: int, *, k_nearest: int | None, formulation: str = "auto"
) -> LocationResult:
    """Solve the p-median exactly (see module docs).

    Steps: incumbent, reduction by the radius and the bound, probing, rounds of the
    restricted model with rebuilds, proof. Complexity above 25 is deliberate: the steps
    share the incumbent, the bounds and the restriction state, and splitting them into
    functions would pass a dozen mutable arrays around; each step is a commented block.
    """
    costs = common.costs
    n, m = costs.shape
    n_allowed = require_allowed(costs)
    openable = ~common.forbidden
    if p > int(openable.sum()):
        raise InfeasibleError(
            f"p = {p} but only {int(openable.sum())} facilities may be opened "
            f"({int(common.forbidden.sum())} are forbidden)"
        )
    if int(common.fixed.sum()) > p:
        raise OptimizationError(
            f"{int(common.fixed.sum())} facilities are fixed open but p = {p}",
            rows=list(costs.facility_ids[common.fixed]),
            fix="raise p or fix fewer facilities open",
        )
    if formulation not in FORMULATIONS:
        raise OptimizationError(f"formulation must be one of {FORMULATIONS}, got {formulation!r}")
    delta = 1.0 if _is_integral(costs, w) else 0.0
    tol = 1e-9 * max(1.0, float(np.abs(w).sum()))

    # 1. incumbent
    y_inc = _start(common, w, p, openable, min(max(0.02 * remaining(common), 0.05), 1.0))
    near_cost, _ = costs.nearest_open(y_inc)
    upper = float(np.dot(w, near_cost)) if np.isfinite(near_cost).all() else math.inf

    # 2.-4. rounds
    if k_nearest is None:
        k0 = max(math.ceil(1.5 * int(openable.sum()) / p) + 3, 8)
        if 2 * k0 >= int(n_allowed.max()) or n * m <= 20_000:
            k0 = int(n_allowed.max())
    else:
        if int(k_nearest) < 1:
            raise OptimizationError(f"k_nearest must be >= 1, got {k_nearest!r}")
        k0 = int(k_nearest)
    kj = np.minimum(n_allowed, k0).astype(np.int64)
    work = costs.copy()
    lo_y = common.fixed.astype(np.float64)
    hi_y = openable.astype(np.float64)
    lower = -math.inf
    rounds = 0
    status = "optimal"
    used = "radius"
    run = None
    n_left = int(openable.sum())
    rebuilds = 0
    while True:
        rounds += 1
        n_ok = work.allowed_count()
        if (n_ok == 0).any():  # a client lost every site: nothing beats the incumbent
            lower = upper
            break
        kj = np.minimum(kj, n_ok)
        lists = _lists(work, kj, n_ok)
        n_pairs = len(lists.e_client)
        if formulation == "assignment":
            use_radius = False
        elif formulation == "radius":
            use_radius = True
        else:
            n_lvl = int(np.count_nonzero(np.r_[True, (lists.e_client[1:] != lists.e_client[:-1])
                                               | (lists.e_cost[1:] != lists.e_cost[:-1])]))
            use_radius = n_lvl <= 0.75 * n_pairs
        zinfo = None
        if use_radius:
            mdl, zinfo = _build_radius(lists, w, p, m, lo_y, hi_y)
            used = "radius"
        else:
            tails = np.flatnonzero(np.isfinite(lists.tail))
            mdl, _ = build_assignment(
                n, m, lists.e_client, lists.e_fac, lists.e_cost, tails,
                np.where(np.isfinite(lists.tail), lists.tail, 0.0), w=w, p=p, demand=None,
                capacity=None, fixed_cost=None, single_source=False,
                fixed=lo_y > 0.5, forbidden=hi_y < 0.5,
            )
            used = "assignment"
        lp = mdl.lp(time_limit=remaining(common), threads=common.threads, log=common.log)
        if lp.status == "infeasible":
            if not math.isfinite(upper):
                raise _infeasible()
            lower = upper
            break
        if lp.x is None:  # time limit in the LP
            status = "time_limit"
            break
        # 3. reduce while it shrinks
        proven = False
        while True:
            lower = max(lower, lp.objective)
            slack = upper - delta - lp.objective
            if slack < -tol:
                proven = True
                break
            thr = slack + tol + 1e-9 * max(1.0, abs(upper))
            at_lo = (lp.x <= lp.lo + 1e-9) & (lp.rc > thr) & (lp.hi > lp.lo)
            at_hi = (lp.x >= lp.hi - 1e-9) & (lp.rc < -thr) & (lp.hi > lp.lo)
            idx_lo, idx_hi = np.flatnonzero(at_lo), np.flatnonzero(at_hi)
            if len(idx_lo) + len(idx_hi) == 0:
                break
            lp.fix(idx_lo, idx_hi, time_limit=remaining(common))
            if lp.status == "infeasible":
                proven = True
                break
            if lp.x is None:
                break
        if proven:
            lower = upper
            break
        if lp.x is None:
            status = "time_limit"
            break
        # facilities dropped / fixed stay so in later rounds (valid below U - delta)
        newly_closed = (lp.hi[:m] < 0.5) & (hi_y > 0.5)
        if newly_closed.any():
            hi_y = np.where(newly_closed, 0.0, hi_y)
            work.restrict(None, hi_y < 0.5)
        lo_y = np.maximum(lo_y, np.where(lp.lo[:m] > 0.5, 1.0, 0.0))
        if zinfo is not None:
            # z_j^k fixed to 0: client j has an open site within D_j^k in every
            # solution <= U - delta, so farther sites need no variables
            cz, z_client, z_val = zinfo
            cut = lp.hi[cz : cz + len(z_client)] < 0.5
            radius = np.full(n, np.inf)
            np.minimum.at(radius, z_client[cut], z_val[cut])
            if cut.any():
                work.restrict(radius, hi_y < 0.5)
        n_ok_new = work.allowed_count()
        n_pairs_new = int(np.minimum(kj, n_ok_new).sum())
        if n_pairs_new < 0.7 * n_pairs and rebuilds < 6 and (n_ok_new > 0).all():
            rebuilds += 1
            rounds -= 1
            continue
        n_left = int((hi_y > 0.5).sum())
        k_free = p - int((lo_y > 0.5).sum())
        if _enum_cells(n, n_left - int((lo_y > 0.5).sum()), k_free) <= _ENUM_CELLS:
            free_idx = np.flatnonzero((hi_y > 0.5) & (lo_y < 0.5))
            got = _enumerate(costs, w, free_idx, np.flatnonzero(lo_y > 0.5), k_free,
                             common.deadline)
            if got is not None:
                if got[1] < upper:
                    upper, y_inc = got[1], got[0]
                if not math.isfinite(upper):  # every open set enumerated: none serves every client
                    raise _infeasible()
                lower = upper
                used += "+enumeration"
                break

        def enough(n_free: int, _k: int = k_free) -> bool:
            return _enum_cells(n, int(n_free), _k) <= _ENUM_CELLS

        if k_free <= _PROBE_MAX_P and remaining(common) > 0:
            closed = _probe(lp, m, upper - delta + tol, deadline=time.perf_counter() + 0.5 * remaining(common),
                            enough=enough)
            if closed is None:  # every site proven useless: the incumbent is optimal
                lower = upper
                break
            if closed.any():
                hi_y = np.where(closed, 0.0, hi_y)
                work.restrict(None, hi_y < 0.5)
                n_left = int((hi_y > 0.5).sum())
                if rebuilds < 6 and (work.allowed_count() > 0).all():
                    rebuilds += 1
                    rounds -= 1
                    continue
                lp.set_bounds(np.flatnonzero(closed), 0.0, 0.0)
                lp.resolve(time_limit=remaining(common))
                if lp.status == "infeasible":
                    lower = upper
                    break
        cutoff = cutoff_value(upper, delta)
        if remaining(common) <= 0:
            status = "time_limit"
            break
        run = run_model(common, mdl, sense=1, lo=lp.lo, hi=lp.hi, cutoff=cutoff)
        if run.cutoff_hit:
            lower = upper
            break
        if run.infeasible:
            if math.isfinite(upper):
                lower = upper
                break
            raise _infeasible()
        mip_bound = run.bound if math.isfinite(run.bound) else -math.inf
        if run.x is None:
            lower = max(lower, min(mip_bound, upper))
            status = "time_limit"
            break
        y = run.x[:m] > 0.5
        true_cost, _ = work.nearest_open(y)
        value = float(np.dot(w, true_cost)) if np.isfinite(true_cost).all() else math.inf
        if value < upper:
            upper, y_inc = value, y
        short = np.isfinite(lists.tail) & ~(true_cost <= lists.last * (1 + 1e-12) + 1e-12)
        lower = max(lower, min(mip_bound, upper))
        if run.status != "optimal":
            status = run.status
            break
        if not short.any():
            lower = max(lower, min(mip_bound, upper))
            break
        if rel_gap(upper, lower) <= common.mip_rel_gap:
            break
        grow = np.flatnonzero(short)
        kj[grow] = np.minimum(n_ok[grow], np.maximum(2 * kj[grow], kj[grow] + 8))

    if not math.isfinite(upper):
        raise no_solution(status)
    near_cost, near_fac = costs.nearest_open(y_inc)
    objective = float(np.dot(w, near_cost))
    if delta >= 1 and math.isfinite(lower):  # integer objective: round the bound up
        lower = math.ceil(lower - 1e-6 * max(1.0, abs(lower)))
    lower = min(lower, objective)
    gap = rel_gap(objective, lower)
    if gap <= common.mip_rel_gap * 1.0001 and status == "optimal":
        status = "optimal" if gap <= 1e-6 * 1.0001 else "gap_limit"
    elif status == "optimal":
        status = "time_limit" if remaining(common) <= 0 else "gap_limit"
    return make_result(
        common,
        "p_median",
        objective=objective,
        y=y_inc,
        a_client=np.arange(n),
        a_fac=near_fac,
        share=np.ones(n),
        contrib=w * near_cost,
        bound=lower,
        gap=gap,
        status=status,
        iterations=rounds,
        run=run if run is not None else _empty_run(mdl_size=(m, 0)),
        k_nearest=int(kj.max()),
        demand=w,
        formulation=used,
        n_facilities_reduced=n_left,
    )


def _empty_run(mdl_size: tuple[int, int]) -> Any:
    from schoolplan._highs import HighsRun

    return HighsRun("optimal", None, math.nan, math.nan, mdl_size[0], mdl_size[1])


def solve_p_median(
    cost: Any,
    p: int,
    *,
    weights: Any = None,
    fixed_open: Iterable[Any] = (),
    forbidden: Iterable[Any] = (),
    max_cost: Any = None,
    time_limit: float | None = None,
    mip_rel_gap: float | None = None,
    threads: int | None = None,
    k_nearest: int | None = None,
    formulation: str = "auto",
    client_ids: Iterable[Any] | None = None,
    facility_ids: Iterable[Any] | None = None,
) -> LocationResult:
    r"""Open exactly ``p`` facilities minimising total weighted assignment cost.

    .. math::

        \min \sum_{j}\sum_{i \in A_j} w_j c_{ji} x_{ji}
        \quad\text{s.t.}\quad
        \sum_{i \in A_j} x_{ji} = 1 \;\forall j,\qquad
        x_{ji} \le y_i \;\forall j, i \in A_j,\qquad
        \sum_i y_i = p,

        y_i \in \{0, 1\},\; y_i = 1 \ (i \in F),\; y_i = 0 \ (i \in B),\;
        0 \le x_{ji} \le 1,

    where :math:`A_j` are client ``j``'s allowed facilities (finite / stored cost,
    ``c_{ji} <= max_cost_j``), ``F`` = ``fixed_open``, ``B`` = ``forbidden``.
    Every client is served entirely by its nearest open facility. The model is
    solved on candidate lists with tail variables and enlarged until provably
    optimal (see module docs).

    Parameters
    ----------
    cost
        Client x facility cost (travel time in minutes, distance in metres, ...):
        dense array, DataFrame or scipy sparse matrix; missing / NaN / inf pairs
        are not allowed.
    p
        Number of facilities to open (``1 <= p <= n_facilities``).
    weights
        Per-client multiplier of the row (e.g. pupils); default 1. Units:
        objective = ``weights x cost`` (e.g. pupil-minutes).
    fixed_open
        Facility ids that must be open (count towards ``p``).
    forbidden
        Facility ids that must stay closed.
    max_cost
        Scalar or per-client cutoff: pairs with a larger cost are not allowed.
    time_limit
        Seconds for the whole call (all rounds); the best solution is returned
        with status ``"time_limit"`` when it is reached.
    mip_rel_gap
        Relative optimality gap at which HiGHS stops (default ``1e-6``).
    threads
        HiGHS threads (default: HiGHS' choice). HiGHS has one global thread
        pool; a new value resizes it, so do not vary it between solves that
        run concurrently in one process.
    k_nearest
        Initial candidate-list length per client (default: from ``n_facilities / p``).
    formulation
        ``"auto"`` (radius when cost levels repeat, else assignment),
        ``"radius"`` or ``"assignment"``; the one used is ``result.formulation``.
    client_ids, facility_ids
        Ids for array / sparse input (a DataFrame's index/columns are used otherwise).

    Returns
    -------
    LocationResult
        ``objective`` in cost x weight units, ``open``, ``assignment``, ``gap``,
        ``status``; ``load`` is the served weight per open facility.

    Raises
    ------
    OptimizationError
        Malformed input (p out of range, negative costs, NaN weights, shape
        mismatch, more fixed-open facilities than ``p``, ...).
    InfeasibleError
        A client has no allowed facility, or too many facilities are forbidden.
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
    w = vector("weights", weights, common.costs.client_ids, default=1.0)
    return p_median_exact(common, w, p, k_nearest=k_nearest, formulation=formulation)
