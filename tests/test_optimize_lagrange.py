"""The Lagrangian bound of the capacitated p-median and what it fixes, against brute force.

A wrong bound or a wrong test would silently cut the optimum away; these
checks compare every piece with an independent computation on small random
instances.
"""

from __future__ import annotations

import itertools
import math
import time
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from instances import read_sjc
from scipy.optimize import Bounds, LinearConstraint, milp

from schoolplan.optimize._capacitated import (
    _dantzig,
    _knapsack_max,
    _Lagrange,
    _LagrangeTests,
    _subgradient,
)


def _instance(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(5, 10)), int(rng.integers(3, 6))
    p = int(rng.integers(1, m))
    xy_c, xy_f = rng.random((n, 2)) * 100, rng.random((m, 2)) * 100
    cost = np.rint(np.hypot(*(xy_c[:, None, :] - xy_f[None, :, :]).transpose(2, 0, 1)))
    demand = rng.integers(1, 20, n).astype(float)
    capacity = np.full(m, float(np.ceil(demand.sum() / p * rng.uniform(1.05, 1.6))))
    capacity = np.maximum(capacity, demand.max())
    return {"cost": cost, "demand": demand, "capacity": capacity, "p": p, "n": n, "m": m}


def _lagrange(inst: dict) -> _Lagrange:
    n, m = inst["n"], inst["m"]
    ec, ef = np.repeat(np.arange(n), m), np.tile(np.arange(m), n)
    return _Lagrange(ec, ef, inst["cost"].ravel(), np.zeros(0, np.int64), np.zeros(0),
                     inst["demand"], inst["capacity"], inst["p"])


def _optimum(inst: dict) -> tuple[float, np.ndarray, np.ndarray] | None:
    """Single-source capacitated p-median by MILP: value, open sites, assignment (n x m)."""
    n, m, p = inst["n"], inst["m"], inst["p"]
    nx = n * m
    c = np.r_[np.zeros(m), inst["cost"].ravel()]
    rows = []
    a = np.zeros((n, m + nx))
    for j in range(n):
        a[j, m + j * m : m + (j + 1) * m] = 1
    rows.append(LinearConstraint(a, 1, 1))
    b = np.zeros((m, m + nx))
    for i in range(m):
        b[i, i] = -inst["capacity"][i]
        b[i, m + i :: m] = inst["demand"]
    rows.append(LinearConstraint(b, -np.inf, 0))
    rows.append(LinearConstraint(np.r_[np.ones(m), np.zeros(nx)][None, :], p, p))
    res = milp(c, constraints=rows, integrality=np.ones(m + nx), bounds=Bounds(0, 1))
    if res.x is None:
        return None
    x = np.rint(res.x)
    return float(res.fun), x[:m] > 0.5, x[m:].reshape(n, m) > 0.5


def _brute_knapsack(red: np.ndarray, size: np.ndarray, cap: float, forced: int | None = None) -> float:
    """min sum red_j x_j over x in {0,1}^k with sum size_j x_j <= cap (x_forced = 1)."""
    best = math.inf
    for bits in itertools.product((0, 1), repeat=len(red)):
        x = np.array(bits, dtype=bool)
        if forced is not None and not x[forced]:
            continue
        if size[x].sum() <= cap:
            best = min(best, float(red[x].sum()))
    return best


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 60.0))
def test_knapsack_values_bounds_and_pair_bounds_match_brute_force(seed: int, scale: float) -> None:
    inst = _instance(seed)
    n, m, p = inst["n"], inst["m"], inst["p"]
    lag = _lagrange(inst)
    rng = np.random.default_rng(seed + 1)
    lam = rng.random(n) * scale
    all_on, ok = np.ones(m), np.ones(n * m, dtype=bool)
    value, _, y, g, _ = lag.evaluate(lam, np.zeros(m), all_on, ok)
    full, v, _, _, plus = lag.evaluate(lam, np.zeros(m), all_on, ok, pairs=True)
    red = inst["cost"] - lam[:, None]
    exact = np.array([_brute_knapsack(np.minimum(red[:, i], 0), inst["demand"], inst["capacity"][i])
                      for i in range(m)])
    np.testing.assert_allclose(v, exact, atol=1e-9)
    want = lam.sum() + np.sort(exact)[:p].sum()
    assert abs(value - want) < 1e-9
    assert abs(full - want) < 1e-9
    assert y.sum() == p and abs(exact[y].sum() - np.sort(exact)[:p].sum()) < 1e-9
    # the subgradient is 1 - (times each client is picked)
    assert np.all(g <= 1) and np.all(g >= 1 - p)
    # Dantzig's bound is below every site's value
    neg = red.ravel() < 0
    lb, take_all = _dantzig(np.tile(np.arange(m), n)[neg], -red.ravel()[neg],
                            np.repeat(inst["demand"], m)[neg], inst["capacity"])
    assert np.all(lb <= exact + 1e-9)
    np.testing.assert_allclose(lb[take_all], exact[take_all], atol=1e-9)
    # v_i^{+j} never exceeds the value with j forced into site i's knapsack
    assert plus is not None
    for j, i in itertools.product(range(n), range(m)):
        forced = _brute_knapsack(np.where(np.arange(n) == j, red[:, i], np.minimum(red[:, i], 0)),
                                 inst["demand"], inst["capacity"][i], forced=j)
        assert plus[j * m + i] <= forced + 1e-9


def test_knapsack_dynamic_programme_small_cases() -> None:
    best, chosen, dp = _knapsack_max(np.array([6.0, 10.0, 12.0]), np.array([1, 2, 3]), 5)
    assert best == 22.0 and list(chosen) == [False, True, True]
    assert list(dp) == [0.0, 6.0, 10.0, 16.0, 18.0, 22.0]
    best, chosen, dp = _knapsack_max(np.zeros(0), np.zeros(0), 4)
    assert best == 0.0 and len(chosen) == 0 and list(dp) == [0.0] * 5


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_lagrangian_fixings_keep_every_optimal_solution(seed: int) -> None:
    inst = _instance(seed)
    opt = _optimum(inst)
    if opt is None:
        return
    value, y_opt, x_opt = opt
    n, m = inst["n"], inst["m"]
    lag = _lagrange(inst)
    zeros, ones, ok = np.zeros(m), np.ones(m), np.ones(n * m, dtype=bool)
    bound, lam = _subgradient(lag, np.zeros(n), zeros, ones, ok, value * 1.05 + 1, 0.0,
                              time.perf_counter() + 5.0)
    assert bound <= value + 1e-6
    tests = _LagrangeTests.at(lag, lam, zeros, ones, ok)
    assert tests.value <= value + 1e-6
    limit = value + 1e-9 * max(1.0, value)
    close, opened, pairs = tests.fixings(limit)
    assert not (close & y_opt).any(), "a site of an optimal solution was closed"
    assert not (opened & ~y_opt).any(), "a site outside an optimal solution was forced open"
    assert not x_opt.ravel()[pairs].any(), "a pair of an optimal solution was fixed to 0"


def test_a_stop_without_a_better_solution_finishes_without_stops(monkeypatch) -> None:
    """If HiGHS stops on a value its solution does not have, the solve still ends proven."""
    import schoolplan.optimize._capacitated as cap
    from schoolplan.optimize import solve_capacitated_p_median

    inst = read_sjc(Path(__file__).parent / "data" / "benchmarks" / "lorena_senne_cpmp" / "SJC1.dat")
    cost, demand, capacity = inst.cost, inst.demand, inst.capacity
    real, calls = cap.run_model, []

    def stopped_once(common, mdl, **kw):
        run = real(common, mdl, **kw)
        if kw.get("on_improve") is not None and not calls:
            calls.append(run.status)
            run.status, run.objective = "interrupted", math.inf  # no better solution
        return run

    monkeypatch.setattr(cap, "run_model", stopped_once)
    got = solve_capacitated_p_median(cost, inst.p, demand, capacity)
    assert calls, "the MIP with stops was never reached"
    assert got.status == "optimal" and abs(got.objective - 17_288.99) < 0.01  # published optimum
