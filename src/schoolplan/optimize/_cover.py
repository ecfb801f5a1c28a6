"""Internal: the covering models (set cover, maximal cover)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from schoolplan._highs import HighsModel
from schoolplan.errors import InfeasibleError, OptimizationError
from schoolplan.optimize._data import (
    check_p,
    no_solution,
    prepare,
    rel_gap,
    run_model,
    status_text,
    vector,
)
from schoolplan.optimize._result import LocationResult, make_result


def solve_set_cover(
    cost: Any,
    radius: Any,
    *,
    facility_cost: Any = None,
    fixed_open: Iterable[Any] = (),
    forbidden: Iterable[Any] = (),
    time_limit: float | None = None,
    mip_rel_gap: float | None = None,
    threads: int | None = None,
    client_ids: Iterable[Any] | None = None,
    facility_ids: Iterable[Any] | None = None,
) -> LocationResult:
    r"""Fewest (cheapest) facilities such that every client is within ``radius``.

    .. math::

        \min \sum_i f_i y_i
        \quad\text{s.t.}\quad
        \sum_{i:\, c_{ji} \le r_j} y_i \ge 1 \;\forall j,\qquad
        y_i \in \{0,1\},

    with fixed-open / forbidden facilities as bounds (fixed-open ones are counted
    in the objective). Each client is then assigned to its cheapest open
    facility. To also minimise travel among minimal covers, call
    :func:`solve_p_median` with ``p = len(result.open)`` and ``max_cost = radius``.

    Parameters
    ----------
    cost
        Client x facility cost, as for :func:`solve_p_median`.
    radius
        Coverage radius in cost units: scalar or one per client.
    facility_cost
        Per-facility cost ``f_i`` (default 1: minimise the number of facilities).
    fixed_open, forbidden, time_limit, mip_rel_gap, threads, client_ids, facility_ids
        As for :func:`solve_p_median`.

    Returns
    -------
    LocationResult
        ``objective`` = number (total cost) of open facilities; assignment
        ``cost`` = plain ``cost[j, i]`` and ``covered`` (all True).

    Raises
    ------
    OptimizationError
        Malformed input (negative radius, NaN, shapes, ...).
    InfeasibleError
        Some client has no allowed facility within its radius (ids named).
    """
    common = prepare(
        cost,
        fixed_open=fixed_open,
        forbidden=forbidden,
        max_cost=None,
        time_limit=time_limit,
        mip_rel_gap=mip_rel_gap,
        threads=threads,
        client_ids=client_ids,
        facility_ids=facility_ids,
    )
    costs = common.costs
    n, m = costs.shape
    r = vector("radius", radius, costs.client_ids)
    fc = vector("facility_cost", facility_cost, costs.facility_ids, default=1.0)
    rows, cols = costs.within(r)
    covered_by = np.bincount(rows, minlength=n)
    if (covered_by == 0).any():
        bad = covered_by == 0
        raise InfeasibleError(
            f"{int(bad.sum())} client(s) have no allowed facility within the radius",
            rows=list(costs.client_ids[bad]),
            fix="raise the radius or add candidate facilities near these clients",
        )
    pre = np.zeros(n, dtype=bool)
    pre[rows[common.fixed[cols]]] = True
    need = ~pre
    keep = need[rows]
    mdl = HighsModel()
    cy = mdl.add_cols(fc, common.fixed.astype(float), (~common.forbidden).astype(float), True)
    need_idx = np.flatnonzero(need)
    row_of = np.full(n, -1)
    row_of[need_idx] = np.arange(len(need_idx))
    rc = mdl.add_rows(1.0, np.inf, len(need_idx))
    mdl.add_entries(rc + row_of[rows[keep]], cy + cols[keep], 1.0)
    run = run_model(common, mdl, sense=1)
    if run.infeasible:
        raise InfeasibleError("the set-cover model has no feasible solution")
    if run.x is None:
        raise no_solution(run.status)
    y = run.x[:m] > 0.5
    near_cost, near_fac = costs.nearest_open(y)
    a_client = np.arange(n)
    objective = float(fc[y].sum())
    bound = min(float(run.bound), objective) if math.isfinite(run.bound) else -math.inf
    gap = rel_gap(objective, bound)
    return make_result(
        common,
        "set_cover",
        objective=objective,
        y=y,
        a_client=a_client,
        a_fac=near_fac,
        share=np.ones(n),
        contrib=near_cost,
        bound=bound,
        gap=gap,
        status=status_text(run.status, gap),
        iterations=1,
        run=run,
        k_nearest=None,
        formulation="cover",
        demand=np.ones(n),
        covered=near_cost <= r,
    )


def solve_max_cover(
    cost: Any,
    radius: Any,
    p: int,
    weights: Any = None,
    *,
    fixed_open: Iterable[Any] = (),
    forbidden: Iterable[Any] = (),
    time_limit: float | None = None,
    mip_rel_gap: float | None = None,
    threads: int | None = None,
    client_ids: Iterable[Any] | None = None,
    facility_ids: Iterable[Any] | None = None,
) -> LocationResult:
    r"""Open ``p`` facilities covering the largest client weight within ``radius``.

    .. math::

        \max \sum_j w_j z_j
        \quad\text{s.t.}\quad
        z_j \le \sum_{i:\, c_{ji} \le r_j} y_i \;\forall j,\qquad
        \sum_i y_i = p,\qquad
        y_i \in \{0,1\},\; 0 \le z_j \le 1,

    with fixed-open / forbidden facilities as bounds on :math:`y`. Each client is
    assigned to its cheapest open allowed facility (covered or not).

    Parameters
    ----------
    cost
        Client x facility cost, as for :func:`solve_p_median`.
    radius
        Coverage radius in cost units: scalar or one per client.
    p
        Number of facilities to open.
    weights
        Per-client weight (e.g. pupils), default 1.
    fixed_open, forbidden, time_limit, mip_rel_gap, threads, client_ids, facility_ids
        As for :func:`solve_p_median`.

    Returns
    -------
    LocationResult
        ``objective`` = covered weight, ``bound`` = proven upper bound;
        assignment ``cost`` = plain ``cost[j, i]``, ``covered`` per client;
        ``unassigned`` = clients with no open allowed facility at all.

    Raises
    ------
    OptimizationError
        Malformed input.
    InfeasibleError
        Too many facilities forbidden for ``p``.
    """
    common = prepare(
        cost,
        fixed_open=fixed_open,
        forbidden=forbidden,
        max_cost=None,
        time_limit=time_limit,
        mip_rel_gap=mip_rel_gap,
        threads=threads,
        client_ids=client_ids,
        facility_ids=facility_ids,
    )
    costs = common.costs
    n, m = costs.shape
    p = check_p(p, m)
    if int(common.fixed.sum()) > p:
        raise OptimizationError(
            f"{int(common.fixed.sum())} facilities are fixed open but p = {p}",
            rows=list(costs.facility_ids[common.fixed]),
            fix="raise p or fix fewer facilities open",
        )
    if p > int((~common.forbidden).sum()):
        raise InfeasibleError(
            f"p = {p} but only {int((~common.forbidden).sum())} facilities may be opened"
        )
    r = vector("radius", radius, costs.client_ids)
    w = vector("weights", weights, costs.client_ids, default=1.0)
    rows, cols = costs.within(r)
    pre = np.zeros(n, dtype=bool)
    pre[rows[common.fixed[cols]]] = True
    coverable = np.bincount(rows, minlength=n) > 0
    free = coverable & ~pre & (w > 0)
    free_idx = np.flatnonzero(free)
    mdl = HighsModel()
    cy = mdl.add_cols(
        np.zeros(m), common.fixed.astype(float), (~common.forbidden).astype(float), True
    )
    cz = mdl.add_cols(w[free_idx], 0.0, 1.0, False)
    z_of = np.full(n, -1)
    z_of[free_idx] = np.arange(len(free_idx))
    rz = mdl.add_rows(-np.inf, 0.0, len(free_idx))
    mdl.add_entries(rz + np.arange(len(free_idx)), cz + np.arange(len(free_idx)), 1.0)
    keep = free[rows]
    mdl.add_entries(rz + z_of[rows[keep]], cy + cols[keep], -1.0)
    rp = mdl.add_rows(float(p), float(p), 1)
    mdl.add_entries(np.full(m, rp), cy + np.arange(m), 1.0)
    run = run_model(common, mdl, sense=-1)
    if run.infeasible:
        raise InfeasibleError("the max-cover model has no feasible solution")
    if run.x is None:
        raise no_solution(run.status)
    y = run.x[:m] > 0.5
    near_cost, near_fac = costs.nearest_open(y)
    covered = near_cost <= r
    objective = float(w[covered].sum())
    const = float(w[pre].sum())
    bound = float(run.bound) + const if math.isfinite(run.bound) else math.inf
    bound = max(bound, objective)
    gap = rel_gap(objective, bound)
    has = near_fac >= 0
    a_client = np.flatnonzero(has)
    return make_result(
        common,
        "max_cover",
        objective=objective,
        y=y,
        a_client=a_client,
        a_fac=near_fac[has],
        share=np.ones(len(a_client)),
        contrib=near_cost[has],
        bound=bound,
        gap=gap,
        status=status_text(run.status, gap),
        iterations=1,
        run=run,
        k_nearest=None,
        formulation="cover",
        demand=w,
        covered=covered[has],
        unassigned=tuple(costs.client_ids[~has].tolist()),
    )
