"""Tests of schoolplan.optimize: hand-solved instances, brute force, published optima."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from instances import read_cap, read_optima, read_pmed, read_sjc
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from schoolplan.errors import InfeasibleError, OptimizationError
from schoolplan.optimize import (
    LocationResult,
    solve_capacitated_p_median,
    solve_cflp,
    solve_max_cover,
    solve_p_median,
    solve_set_cover,
)

DATA = Path(__file__).parent / "data" / "benchmarks"

# clients at x = 0, 1, 10, 11; facilities at x = 0, 5, 11
LINE = np.abs(np.array([0.0, 1, 10, 11])[:, None] - np.array([0.0, 5, 11])[None, :])


def check_consistent(r: LocationResult, n_clients: int) -> None:
    """Invariants every result must satisfy."""
    a = r.assignment
    assert list(a.columns[:4]) == ["client", "facility", "share", "cost"]
    assert set(a["facility"]) <= set(r.open)
    shares = a.groupby("client", sort=False)["share"].sum()
    np.testing.assert_allclose(shares.to_numpy(), 1.0, atol=1e-9)
    assert r.gap >= 0
    assert r.solve_seconds >= 0
    if r.model in ("p_median", "capacitated_p_median"):
        assert len(shares) == n_clients
        assert r.cost.sum() == pytest.approx(r.objective, rel=1e-9, abs=1e-9)


# --------------------------------------------------------------- hand-solved


def test_p_median_line() -> None:
    r = solve_p_median(LINE, 2)
    assert r.open == (0, 2)
    assert r.objective == pytest.approx(2.0)
    assert r.status == "optimal" and r.gap == 0
    assert r.assignment["facility"].tolist() == [0, 0, 2, 2]
    assert r.assignment["share"].tolist() == [1.0] * 4
    assert r.load.to_dict() == {0: 2.0, 2: 2.0}
    check_consistent(r, 4)


def test_p_median_weights_and_fixed_open() -> None:
    r = solve_p_median(LINE, 2, fixed_open=[1])
    assert r.open == (1, 2)
    assert r.objective == pytest.approx(10.0)  # 5 + 4 + 1 + 0
    w = [10, 10, 1, 1]
    r = solve_p_median(LINE, 1, weights=w)
    assert r.open == (0,)
    assert r.objective == pytest.approx(10 * 0 + 10 * 1 + 10 + 11)
    assert r.cost.to_dict() == {(0, 0): 0.0, (1, 0): 10.0, (2, 0): 10.0, (3, 0): 11.0}


def test_p_median_forbidden_pairs_dense_sparse_dataframe() -> None:
    c = LINE.copy()
    c[0, 0] = np.nan  # client 0 may not use facility 0
    c[1, 0] = np.inf
    r = solve_p_median(c, 2)
    assert r.open == (1, 2)
    assert r.objective == pytest.approx(10.0)
    # sparse: same pairs missing, plus an explicit 0-cost pair kept
    rows, cols = np.nonzero(np.isfinite(c))
    s = sp.coo_array((c[rows, cols], (rows, cols)), shape=c.shape).tocsr()
    rs = solve_p_median(s, 2)
    assert rs.open == r.open and rs.objective == pytest.approx(r.objective)
    df = pd.DataFrame(c, index=["a", "b", "c", "d"], columns=["S1", "S2", "S3"])
    rd = solve_p_median(df, 2)
    assert rd.open == ("S2", "S3")
    assert rd.assignment["client"].tolist() == ["a", "b", "c", "d"]
    assert rd.assignment["facility"].tolist() == ["S2", "S2", "S3", "S3"]


def test_p_median_forbidden_facility_and_max_cost() -> None:
    r = solve_p_median(LINE, 2, forbidden=[0])
    assert r.open == (1, 2)
    # with max_cost 5 clients 0/1 cannot use facility 2 and 2/3 not facility 0
    r = solve_p_median(LINE, 1, max_cost=[11, 11, 11, 11])
    assert r.open == (1,)
    with pytest.raises(InfeasibleError, match="no feasible solution"):
        solve_p_median(LINE, 1, max_cost=4.0)


def test_p_median_input_not_modified() -> None:
    c = LINE.copy()
    c[0, 0] = np.nan
    df = pd.DataFrame(c)
    before = df.copy()
    solve_p_median(df, 2, max_cost=6.0)
    pd.testing.assert_frame_equal(df, before)


def test_capacitated_p_median_hand() -> None:
    # two facilities, capacity 2 each; three clients near facility 0
    cost = np.array([[0.0, 10], [1, 9], [2, 8], [10, 0]])
    demand = [1, 1, 1, 1]
    r = solve_capacitated_p_median(cost, 2, demand, [2, 2])
    assert r.open == (0, 1)
    # the cheapest client to move is client 2 (8 - 2 = 6 extra)
    assert r.assignment["facility"].tolist() == [0, 0, 1, 1]
    assert r.objective == pytest.approx(0 + 1 + 8 + 0)
    assert r.load.to_dict() == {0: 2.0, 1: 2.0}
    # splitting allowed: demand 2 for client 0, capacity 3 / 3
    # splitting allowed: facility 0 gets 4 units for capacity 3; moving half of
    # client 0 (+0.5 * 10) beats moving client 2 (+6) or client 1 (+8)
    r = solve_capacitated_p_median(cost, 2, [2, 1, 1, 1], [3, 3], single_source=False)
    assert r.objective == pytest.approx(0.5 * 0 + 0.5 * 10 + 1 + 2 + 0)
    a = r.assignment
    assert a[a.client == 0]["share"].tolist() == pytest.approx([0.5, 0.5])
    assert r.load.to_dict() == pytest.approx({0: 3.0, 1: 2.0})
    assert r.is_optimal
    assert r.facility_of().to_dict() == {0: 0, 1: 0, 2: 0, 3: 1}
    check_consistent(r, 4)


def test_capacitated_infeasible_messages() -> None:
    cost = np.array([[0.0, 10], [1, 9], [2, 8], [10, 0]])
    with pytest.raises(InfeasibleError, match="total demand 4 exceeds total capacity 3"):
        solve_capacitated_p_median(cost, 2, [1, 1, 1, 1], [2, 1])
    with pytest.raises(InfeasibleError, match="the most capacity any 1 facilities"):
        solve_capacitated_p_median(cost, 1, [1, 1, 1, 1], [3, 3])
    with pytest.raises(InfeasibleError, match="exceeds the capacity of every facility") as ei:
        solve_capacitated_p_median(cost, 2, [5, 1, 1, 1], [4, 4])
    assert list(ei.value.rows) == [0]
    # single-source bin packing infeasible although total capacity suffices
    with pytest.raises(InfeasibleError, match="no feasible solution"):
        solve_capacitated_p_median(cost, 2, [3, 3, 3, 1], [5, 5])
    # ... and feasible when splitting is allowed
    r = solve_capacitated_p_median(cost, 2, [3, 3, 3, 1], [5, 5], single_source=False)
    assert r.status == "optimal"


def test_cflp_hand() -> None:
    cost = np.array([[1.0, 5], [1, 5], [5, 1]])
    # facility 1 has a huge opening cost: serve everyone from facility 0
    r = solve_cflp(cost, fixed_cost=[1, 100], demand=[1, 1, 1], capacity=[3, 3])
    assert r.open == (0,)
    assert r.objective == pytest.approx(1 + 1 + 1 + 5)
    # cheap opening: open both
    r = solve_cflp(cost, fixed_cost=[1, 1], demand=[1, 1, 1], capacity=[3, 3])
    assert r.open == (0, 1) and r.objective == pytest.approx(2 + 3)
    # capacity 2 at facility 0 forces splitting of a client (default single_source=False)
    r = solve_cflp(cost, fixed_cost=[0, 100], demand=[2, 2, 1], capacity=[2, 5])
    assert r.open == (0, 1)
    assert r.objective == pytest.approx(100 + 1 + 5 + 1)  # client 0 or 1 moves (both equal)
    # fixed open facility pays its opening cost
    r = solve_cflp(cost, fixed_cost=[1, 7], demand=[1, 1, 1], capacity=[3, 3], fixed_open=[1])
    assert r.open == (0, 1) and r.objective == pytest.approx(8 + 3)
    check_consistent(r, 3)


def test_set_cover_hand() -> None:
    r = solve_set_cover(LINE, 1.0)
    assert r.open == (0, 2) and r.objective == 2
    assert r.assignment["covered"].all()
    # a radius of 6 lets facility 1 cover everyone
    r = solve_set_cover(LINE, 6.0)
    assert r.open == (1,) and r.objective == 1
    r = solve_set_cover(LINE, 6.0, fixed_open=[0])
    assert r.open == (0, 1) or r.open == (0, 2)
    r = solve_set_cover(LINE, 6.0, facility_cost=[1, 5, 1])
    assert r.open == (0, 2) and r.objective == 2
    with pytest.raises(InfeasibleError, match="no allowed facility within the radius") as ei:
        solve_set_cover(pd.DataFrame(LINE, index=list("abcd")), 0.5)
    assert list(ei.value.rows) == ["b", "c"]


def test_max_cover_hand() -> None:
    w = [1, 1, 5, 5]
    r = solve_max_cover(LINE, 1.0, 1, w)
    assert r.open == (2,) and r.objective == 10
    assert r.assignment["covered"].tolist() == [False, False, True, True]
    r = solve_max_cover(LINE, 1.0, 2, w)
    assert r.open == (0, 2) and r.objective == 12 and r.status == "optimal"
    r = solve_max_cover(LINE, 1.0, 1, w, forbidden=[2])
    assert r.open == (0,) and r.objective == 2
    # unreachable pairs: client 3 only allowed at facility 2 (closed)
    c = LINE.copy()
    c[3, :2] = np.nan
    r = solve_max_cover(c, 1.0, 1, [1, 1, 1, 0.5])
    assert r.open == (0,) and r.unassigned == (3,)
    assert r.bound >= r.objective


def test_time_limit_returns_best_solution() -> None:
    inst = read_pmed(DATA / "orlib_pmed" / "pmed16.txt")
    r = solve_p_median(inst.cost, inst.p, time_limit=0.05)
    assert r.status == "time_limit"
    assert len(r.open) == inst.p
    assert r.objective >= 8162 - 1e-9
    assert r.bound <= 8162 + 1e-9
    assert r.gap == pytest.approx((r.objective - r.bound) / r.objective)


def test_sparsification_enlarges_lists() -> None:
    # clients far from each other's nearest site: p = 1 must reach beyond k = 1
    rng = np.random.default_rng(3)
    c = rng.uniform(0, 100, size=(40, 12))
    full = solve_p_median(c, 2, k_nearest=12)
    small = solve_p_median(c, 2, k_nearest=1)
    assert small.objective == pytest.approx(full.objective)
    assert small.status == "optimal"
    # the p-median may finish by enumeration over the sites left after reduction;
    # the capacitated model still has to grow its one-site lists
    d, q = np.ones(40), np.full(12, 12.0)
    full_c = solve_capacitated_p_median(c, 4, d, q, k_nearest=12)
    small_c = solve_capacitated_p_median(c, 4, d, q, k_nearest=1)
    assert small_c.objective == pytest.approx(full_c.objective)
    assert small_c.iterations > 1


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "err", "message"),
    [
        ({"p": 4}, OptimizationError, r"p = 4 is larger than the number of facilities \(3\)"),
        ({"p": 0}, OptimizationError, "p must be at least 1"),
        ({"p": 1.5}, OptimizationError, "p must be an integer"),
        ({"p": 1, "weights": [1, 1, np.nan, 1]}, OptimizationError, "weights has NaN"),
        ({"p": 1, "weights": [1, 1, 1]}, OptimizationError, r"weights has shape \(3,\)"),
        ({"p": 1, "weights": [1, -1, 1, 1]}, OptimizationError, "weights has negative"),
        (
            {"p": 1, "fixed_open": [0, 1]},
            OptimizationError,
            "2 facilities are fixed open but p = 1",
        ),
        ({"p": 1, "fixed_open": [7]}, OptimizationError, "not columns of the cost matrix"),
        ({"p": 2, "fixed_open": [0], "forbidden": [0]}, OptimizationError, "both fixed open"),
        ({"p": 3, "forbidden": [0]}, InfeasibleError, "only 2 facilities may be opened"),
        ({"p": 1, "time_limit": 0}, OptimizationError, "time_limit must be > 0"),
    ],
)
def test_bad_input_p_median(kwargs: dict, err: type, message: str) -> None:
    with pytest.raises(err, match=message):
        solve_p_median(LINE, **kwargs)


def test_bad_cost_matrices() -> None:
    neg = pd.DataFrame(LINE, index=list("abcd"))
    neg.iloc[2, 1] = -1
    with pytest.raises(OptimizationError, match="negative values") as ei:
        solve_p_median(neg, 1)
    assert list(ei.value.rows) == ["c"]
    assert "rows c" in str(ei.value)
    with pytest.raises(OptimizationError, match="negative values"):
        solve_p_median(sp.csr_array(-LINE), 1)
    with pytest.raises(OptimizationError, match="must be 2-D"):
        solve_p_median(np.zeros(3), 1)
    with pytest.raises(OptimizationError, match="empty"):
        solve_p_median(np.zeros((0, 3)), 1)
    with pytest.raises(OptimizationError, match="non-numeric"):
        solve_p_median([["a", "b"]], 1)
    with pytest.raises(OptimizationError, match="not unique"):
        solve_p_median(pd.DataFrame(LINE, index=list("aacd")), 1)


def test_client_without_allowed_facility_is_named() -> None:
    c = pd.DataFrame(LINE, index=["v1", "v2", "v3", "v4"])
    c.loc["v3"] = np.nan
    c.loc["v4", 2] = np.nan
    c.loc["v4", [0, 1]] = np.inf
    with pytest.raises(InfeasibleError, match="2 client") as ei:
        solve_p_median(c, 1)
    assert list(ei.value.rows) == ["v3", "v4"]
    assert "rows v3, v4" in str(ei.value)


def test_bad_input_capacitated() -> None:
    with pytest.raises(OptimizationError, match=r"demand has shape \(3,\)"):
        solve_capacitated_p_median(LINE, 2, [1, 1, 1], [5, 5, 5])
    with pytest.raises(OptimizationError, match=r"capacity has shape \(2,\).*one per facility"):
        solve_capacitated_p_median(LINE, 2, [1, 1, 1, 1], [5, 5])
    with pytest.raises(OptimizationError, match="capacity has NaN"):
        solve_cflp(LINE, [1, 1, 1], [1, 1, 1, 1], [5, np.nan, 5])
    with pytest.raises(OptimizationError, match="fixed_cost has negative"):
        solve_cflp(LINE, [1, -1, 1], [1, 1, 1, 1], [5, 5, 5])
    with pytest.raises(OptimizationError, match="radius has negative"):
        solve_set_cover(LINE, -1.0)
    with pytest.raises(OptimizationError, match="p must be at least 1"):
        solve_max_cover(LINE, 1.0, 0)


def test_series_inputs_aligned_by_id() -> None:
    df = pd.DataFrame(LINE, index=list("abcd"), columns=["x", "y", "z"])
    w = pd.Series({"d": 1.0, "c": 1.0, "b": 10.0, "a": 10.0})
    r = solve_p_median(df, 1, weights=w)
    assert r.open == ("x",)
    with pytest.raises(OptimizationError, match="no value for some ids"):
        solve_p_median(df, 1, weights=pd.Series({"a": 1.0}))


# ------------------------------------------------------ brute-force properties


@st.composite
def instances(draw: st.DrawFn, max_clients: int = 6, max_fac: int = 5) -> dict:
    n = draw(st.integers(1, max_clients))
    m = draw(st.integers(1, max_fac))
    vals = draw(
        st.lists(
            st.one_of(st.integers(0, 30).map(float), st.just(math.nan)),
            min_size=n * m,
            max_size=n * m,
        )
    )
    cost = np.array(vals).reshape(n, m)
    w = np.array(draw(st.lists(st.integers(0, 5), min_size=n, max_size=n)), dtype=float)
    demand = np.array(draw(st.lists(st.integers(0, 6), min_size=n, max_size=n)), dtype=float)
    capacity = np.array(draw(st.lists(st.integers(0, 15), min_size=m, max_size=m)), dtype=float)
    fixed_cost = np.array(draw(st.lists(st.integers(0, 20), min_size=m, max_size=m)), dtype=float)
    p = draw(st.integers(1, m))
    fixed = draw(st.lists(st.integers(0, m - 1), max_size=min(p, 2), unique=True))
    k = draw(st.sampled_from([None, 1, 2]))
    return {
        "cost": cost,
        "w": w,
        "demand": demand,
        "capacity": capacity,
        "fixed_cost": fixed_cost,
        "p": p,
        "fixed": fixed,
        "k": k,
    }


def _subsets(m: int, size: int | None, fixed: list[int]):
    sizes = [size] if size is not None else range(1, m + 1)
    for s in sizes:
        for sub in itertools.combinations(range(m), s):
            if set(fixed) <= set(sub):
                yield list(sub)


def _assign_cost(cost, w, demand, capacity, sub, single_source) -> float:
    """Best assignment of all clients to the open set ``sub`` (inf if none)."""
    n = cost.shape[0]
    c = np.where(np.isnan(cost), np.inf, cost)[:, sub]
    q = capacity[sub]
    if single_source:
        best = math.inf
        for choice in itertools.product(range(len(sub)), repeat=n):
            ch = np.array(choice)
            val = c[np.arange(n), ch]
            if not np.isfinite(val).all():
                continue
            load = np.bincount(ch, weights=demand, minlength=len(sub))
            if (load <= q + 1e-9).all():
                best = min(best, float(np.dot(w, val)))
        return best
    # transportation LP over allowed pairs
    pairs = [(j, k) for j in range(n) for k in range(len(sub)) if np.isfinite(c[j, k])]
    if {j for j, _ in pairs} != set(range(n)):
        return math.inf
    obj = [w[j] * c[j, k] for j, k in pairs]
    a_eq = np.zeros((n, len(pairs)))
    a_ub = np.zeros((len(sub), len(pairs)))
    for t, (j, k) in enumerate(pairs):
        a_eq[j, t] = 1
        a_ub[k, t] = demand[j]
    res = linprog(obj, A_ub=a_ub, b_ub=q, A_eq=a_eq, b_eq=np.ones(n), bounds=(0, 1))
    return float(res.fun) if res.status == 0 else math.inf


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _zero_weight_case(cost: list[list[float]], fixed: list[int]) -> dict:
    c = np.array(cost, dtype=float)
    n, m = c.shape
    return {"cost": c, "w": np.zeros(n), "demand": np.zeros(n), "capacity": np.zeros(m),
            "fixed_cost": np.zeros(m), "p": 1, "fixed": fixed, "k": 1}


@PROPERTY
@given(instances())
# found by hypothesis: infeasible with zero weights (the forced site alone; two disjoint client groups)
@example(_zero_weight_case([[0, 0, 0, np.nan], [np.nan, 0, 0, 0]], [0]))
@example(_zero_weight_case([[0, 0, np.nan, np.nan], [np.nan, np.nan, 0, 0]], []))
def test_p_median_matches_brute_force(inst: dict) -> None:
    cost, w, p, fixed = inst["cost"], inst["w"], inst["p"], inst["fixed"]
    c = np.where(np.isnan(cost), np.inf, cost)
    best = math.inf
    for sub in _subsets(cost.shape[1], p, fixed):
        per = c[:, sub].min(axis=1)
        if np.isfinite(per).all():
            best = min(best, float(np.dot(w, per)))
    if not math.isfinite(best):
        with pytest.raises(InfeasibleError):
            solve_p_median(cost, p, weights=w, fixed_open=fixed, k_nearest=inst["k"])
        return
    r = solve_p_median(cost, p, weights=w, fixed_open=fixed, k_nearest=inst["k"])
    assert r.objective == pytest.approx(best, abs=1e-6)
    assert r.status == "optimal"
    assert len(r.open) == p and set(fixed) <= set(r.open)
    check_consistent(r, cost.shape[0])


@PROPERTY
@given(instances(max_clients=5, max_fac=4), st.booleans())
def test_capacitated_p_median_matches_brute_force(inst: dict, single: bool) -> None:
    cost, w, p, fixed = inst["cost"], inst["w"], inst["p"], inst["fixed"]
    d, q = inst["demand"], inst["capacity"]
    best = min(
        (_assign_cost(cost, w, d, q, sub, single) for sub in _subsets(cost.shape[1], p, fixed)),
        default=math.inf,
    )
    kw = {"weights": w, "fixed_open": fixed, "single_source": single, "k_nearest": inst["k"]}
    if not math.isfinite(best):
        with pytest.raises(InfeasibleError):
            solve_capacitated_p_median(cost, p, d, q, **kw)
        return
    r = solve_capacitated_p_median(cost, p, d, q, **kw)
    assert r.objective == pytest.approx(best, abs=1e-6)
    assert len(r.open) == p and set(fixed) <= set(r.open)
    load = r.load.reindex(range(len(q)), fill_value=0).to_numpy()
    assert (load <= q + 1e-6).all()
    if single:
        assert (r.assignment["share"] == 1.0).all()
    check_consistent(r, cost.shape[0])


@PROPERTY
@given(instances(max_clients=5, max_fac=4), st.booleans())
def test_cflp_matches_brute_force(inst: dict, single: bool) -> None:
    cost, w, fixed = inst["cost"], inst["w"], inst["fixed"]
    d, q, f = inst["demand"], inst["capacity"], inst["fixed_cost"]
    best = math.inf
    for sub in _subsets(cost.shape[1], None, fixed):
        best = min(best, float(f[sub].sum()) + _assign_cost(cost, w, d, q, sub, single))
    kw = {"weights": w, "fixed_open": fixed, "single_source": single, "k_nearest": inst["k"]}
    if not math.isfinite(best):
        with pytest.raises(InfeasibleError):
            solve_cflp(cost, f, d, q, **kw)
        return
    r = solve_cflp(cost, f, d, q, **kw)
    assert r.objective == pytest.approx(best, abs=1e-6)
    assert set(fixed) <= set(r.open)
    check_consistent(r, cost.shape[0])


@PROPERTY
@given(instances(), st.integers(0, 30))
def test_set_cover_matches_brute_force(inst: dict, radius: int) -> None:
    cost, fixed, f = inst["cost"], inst["fixed"], inst["fixed_cost"] + 1
    cover = np.nan_to_num(cost, nan=np.inf) <= radius
    if not cover.any(axis=1).all():
        with pytest.raises(InfeasibleError):
            solve_set_cover(cost, radius, facility_cost=f, fixed_open=fixed)
        return
    best = min(
        float(f[sub].sum())
        for sub in _subsets(cost.shape[1], None, fixed)
        if cover[:, sub].any(axis=1).all()
    )
    r = solve_set_cover(cost, radius, facility_cost=f, fixed_open=fixed)
    assert r.objective == pytest.approx(best)
    assert r.assignment["covered"].all()


@PROPERTY
@given(instances(), st.integers(0, 30))
def test_max_cover_matches_brute_force(inst: dict, radius: int) -> None:
    cost, w, p, fixed = inst["cost"], inst["w"], inst["p"], inst["fixed"]
    cover = np.nan_to_num(cost, nan=np.inf) <= radius
    best = max(
        float(w[cover[:, sub].any(axis=1)].sum()) for sub in _subsets(cost.shape[1], p, fixed)
    )
    r = solve_max_cover(cost, radius, p, w, fixed_open=fixed)
    assert r.objective == pytest.approx(best)
    assert len(r.open) == p and set(fixed) <= set(r.open)
    assert r.bound >= r.objective - 1e-9


# ----------------------------------------- mid-size cross-check vs scipy milp


def _reference(cost, w, p, demand=None, capacity=None, fixed_cost=None, single=True, fixed=()):
    """Dense textbook MILP over all allowed pairs, solved by scipy.optimize.milp."""
    n, m = cost.shape
    jj, ii = np.nonzero(np.isfinite(cost))
    ne = len(jj)
    xs = m + np.arange(ne)
    c = np.concatenate([np.zeros(m) if fixed_cost is None else fixed_cost, w[jj] * cost[jj, ii]])
    cons = [
        LinearConstraint(sp.csr_array((np.ones(ne), (jj, xs)), shape=(n, m + ne)), 1, 1),
        LinearConstraint(
            sp.csr_array(
                (
                    np.r_[np.ones(ne), -np.ones(ne)],
                    (np.r_[np.arange(ne), np.arange(ne)], np.r_[xs, ii]),
                ),
                shape=(ne, m + ne),
            ),
            -np.inf,
            0,
        ),
    ]
    if p is not None:
        cons.append(LinearConstraint(np.r_[np.ones(m), np.zeros(ne)][None, :], p, p))
    if capacity is not None:
        a = sp.csr_array(
            (np.r_[demand[jj], -capacity], (np.r_[ii, np.arange(m)], np.r_[xs, np.arange(m)])),
            shape=(m, m + ne),
        )
        cons.append(LinearConstraint(a, -np.inf, 0))
    lb = np.zeros(m + ne)
    lb[list(fixed)] = 1
    integ = np.r_[np.ones(m), np.full(ne, 1.0 if single else 0.0)]
    res = milp(
        c, constraints=cons, integrality=integ, bounds=Bounds(lb, 1), options={"mip_rel_gap": 1e-9}
    )
    return res.fun if res.status == 0 else None


@pytest.mark.parametrize("seed", range(6))
def test_mid_size_models_match_reference_milp(seed: int) -> None:
    """40-60 clients: exercises candidate lists, tails, reduced-cost fixing."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(40, 60)), int(rng.integers(8, 14))
    xy, sites = rng.random((n, 2)), rng.random((m, 2))
    cost = np.round(np.hypot(*(xy[:, None, :] - sites[None]).transpose(2, 0, 1)) * 100)
    if seed % 2:
        cost[rng.random(cost.shape) < 0.2] = np.inf
    w = rng.integers(1, 5, n).astype(float)
    d = rng.integers(1, 10, n).astype(float)
    p = int(rng.integers(3, m - 2))
    q = np.ceil(d.sum() / p * rng.choice([1.05, 1.2, 1.5], m))
    f = rng.integers(50, 400, m).astype(float)
    fixed = [int(rng.integers(m))] if seed % 3 == 0 else []
    k = [1, 2, 3][seed % 3]
    cases = [
        (
            lambda: solve_p_median(cost, p, weights=w, fixed_open=fixed, k_nearest=k),
            lambda: _reference(cost, w, p, single=False, fixed=fixed),
        ),
    ]
    for single in (True, False):
        cases.append(
            (
                lambda s=single: solve_capacitated_p_median(
                    cost, p, d, q, weights=w, single_source=s, fixed_open=fixed, k_nearest=k
                ),
                lambda s=single: _reference(cost, w, p, d, q, single=s, fixed=fixed),
            )
        )
        cases.append(
            (
                lambda s=single: solve_cflp(
                    cost, f, d, q, weights=w, single_source=s, fixed_open=fixed, k_nearest=k
                ),
                lambda s=single: _reference(cost, w, None, d, q, f, single=s, fixed=fixed),
            )
        )
    for ours, ref in cases:
        expected = ref()
        if expected is None:
            with pytest.raises(InfeasibleError):
                ours()
            continue
        r = ours()
        assert r.status == "optimal"
        assert r.objective == pytest.approx(expected, rel=1e-7)
        assert r.bound <= expected + 1e-6 * abs(expected)


def test_threads_option() -> None:
    r1 = solve_p_median(LINE, 2, threads=1)
    r2 = solve_p_median(LINE, 2, threads=2)
    r3 = solve_p_median(LINE, 2)
    assert r1.status == r2.status == r3.status == "optimal"


# ------------------------------------------------------- published optima

PMED_OPT = read_optima(DATA / "orlib_pmed" / "pmed_optima.csv", "optimum")
CAP_OPT = read_optima(DATA / "orlib_cap" / "cap_optima.csv", "optimum")
SJC_OPT = read_optima(DATA / "lorena_senne_cpmp" / "cpmp_best_known.csv", "best_known_cpmp")
# instances taking more than ~5 s on a shared 2-core machine
SLOW_PMED = {"pmed16", "pmed17"}


@pytest.mark.parametrize(
    "name",
    [pytest.param(k, marks=pytest.mark.slow) if k in SLOW_PMED else k for k in PMED_OPT],
)
def test_orlib_pmed(name: str) -> None:
    inst = read_pmed(DATA / "orlib_pmed" / f"{name}.txt")
    r = solve_p_median(inst.cost, inst.p)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(PMED_OPT[name], abs=1e-6)
    assert len(r.open) == inst.p


@pytest.mark.parametrize("name", list(CAP_OPT))
def test_orlib_cap(name: str) -> None:
    inst = read_cap(DATA / "orlib_cap" / f"{name}.txt")
    r = solve_cflp(inst.cost, inst.fixed_cost, inst.demand, inst.capacity, single_source=False)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(CAP_OPT[name], abs=1e-3)
    load = r.load.reindex(range(len(inst.capacity)), fill_value=0).to_numpy()
    assert (load <= inst.capacity + 1e-6).all()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SJC_OPT))
def test_lorena_senne_sjc(name: str) -> None:
    inst = read_sjc(DATA / "lorena_senne_cpmp" / f"{name}.dat")
    r = solve_capacitated_p_median(inst.cost, inst.p, inst.demand, inst.capacity)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(SJC_OPT[name], abs=0.01)
    assert (r.assignment["share"] == 1.0).all()


def test_readers() -> None:
    inst = read_pmed(DATA / "orlib_pmed" / "pmed1.txt")
    assert inst.cost.shape == (100, 100) and inst.p == 5
    np.testing.assert_allclose(inst.cost, inst.cost.T)
    assert (np.diag(inst.cost) == 0).all()
    cap = read_cap(DATA / "orlib_cap" / "cap41.txt")
    assert cap.cost.shape == (50, 16)
    assert cap.capacity[0] == 5000 and cap.fixed_cost[10] == 0
    assert cap.demand[:3].tolist() == [146, 87, 672]
    sjc = read_sjc(DATA / "lorena_senne_cpmp" / "SJC1.dat")
    assert sjc.cost.shape == (100, 100) and sjc.p == 10


def test_read_pmed_duplicate_edges_last_wins(tmp_path: Path) -> None:
    f = tmp_path / "g.txt"
    f.write_text("3 4 1\n1 2 5\n2 3 1\n2 1 7\n1 3 100\n")
    inst = read_pmed(f)
    assert inst.cost[0, 1] == 7  # the later "2 1 7" replaces "1 2 5"
    assert inst.cost[0, 2] == 8


def test_read_cap_capacity_word(tmp_path: Path) -> None:
    f = tmp_path / "capx.txt"
    f.write_text("2 1\ncapacity 10.\ncapacity 20.\n3 1.5 2.5\n")
    with pytest.raises(ValueError, match="capacity="):
        read_cap(f)
    inst = read_cap(f, capacity=8000)
    assert inst.capacity.tolist() == [8000, 8000]
    assert inst.cost.tolist() == [[1.5, 2.5]] and inst.demand.tolist() == [3]


def test_orlib_uncapacitated_cap7x() -> None:
    """cap71–74 with capacity = total demand are uncapacitated (OR-Library uncapopt)."""
    uncap = read_optima(DATA / "orlib_cap" / "uncap_optima.csv", "optimum_uncapacitated")
    for name, value in uncap.items():
        inst = read_cap(DATA / "orlib_cap" / f"{name}.txt")
        big = np.full(len(inst.capacity), inst.demand.sum())
        r = solve_cflp(inst.cost, inst.fixed_cost, inst.demand, big)
        assert r.objective == pytest.approx(value, abs=1e-3)


# ------------------------------------------------- solver hygiene (issue 18)


def test_formulation_chosen_by_data_and_reported() -> None:
    rng = np.random.default_rng(0)
    r = solve_p_median(rng.integers(0, 10, (60, 30)).astype(float), 3)
    assert r.formulation.startswith("radius")  # ten distinct levels for 30 sites
    c = rng.random((60, 30)) * 100  # all costs distinct
    a = solve_p_median(c, 3)
    assert a.formulation.startswith("assignment")
    for form in ("radius", "assignment"):
        f = solve_p_median(c, 3, formulation=form)
        assert f.formulation.startswith(form)
        assert f.objective == pytest.approx(a.objective) and f.status == "optimal"
    with pytest.raises(OptimizationError, match="formulation must be one of"):
        solve_p_median(c, 3, formulation="cumulative")


def test_result_has_log_message_and_client_lists() -> None:
    r = solve_p_median(LINE, 2)
    assert "HiGHS" in r.log  # banner and solver log are kept, not printed
    assert "proven optimal" in r.message
    assert r.clients.to_dict() == {0: [0, 1], 2: [2, 3]}
    df = pd.DataFrame(LINE, index=list("abcd"), columns=["x", "y", "z"])
    rc = solve_capacitated_p_median(df, 2, [1, 1, 1, 1], [2, 2, 2])
    assert sorted(c for cs in rc.clients for c in cs) == ["a", "b", "c", "d"]
    assert set(rc.clients.index) == set(rc.open)


def test_time_limit_message_is_explicit() -> None:
    inst = read_pmed(DATA / "orlib_pmed" / "pmed16.txt")
    r = solve_p_median(inst.cost, inst.p, time_limit=0.05)
    assert r.status == "time_limit"
    assert "TIME LIMIT of 0.05 s" in r.message and "gap" in r.message


def test_default_time_limit() -> None:
    from schoolplan.optimize import DEFAULT_TIME_LIMIT

    assert DEFAULT_TIME_LIMIT > 0
    r = solve_p_median(LINE, 1, time_limit=math.inf)  # no limit at all is allowed
    assert r.status == "optimal"


def test_highs_prints_nothing(tmp_path: Path) -> None:
    """HiGHS' banner and log never reach stdout/stderr (fresh process: banner is per process)."""
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from schoolplan.optimize import solve_p_median, solve_cflp, solve_set_cover\n"
        "c = np.abs(np.arange(6.0)[:, None] - np.arange(4.0)[None, :])\n"
        "r = solve_p_median(c, 2)\n"
        "solve_cflp(c, [1, 1, 1, 1], [1] * 6, [6] * 4)\n"
        "solve_set_cover(c, 2.0)\n"
        "assert 'HiGHS' in r.log\n"
    )
    src = Path(__file__).resolve().parents[1] / "src"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""


def test_highs_model_cutoff_and_status() -> None:
    from schoolplan._highs import HighsModel, is_infeasible

    # min x + y, x + y >= 3, integers in [0, 5]: optimum 3
    mdl = HighsModel()
    c0 = mdl.add_cols([1.0, 1.0], 0.0, 5.0, integer=True)
    r0 = mdl.add_rows(3.0, np.inf, 1)
    mdl.add_entries([r0, r0], [c0, c0 + 1], 1.0)
    run = mdl.solve(sense=1, time_limit=10, mip_rel_gap=1e-9)
    assert run.status == "optimal" and run.objective == pytest.approx(3.0)
    assert not run.cutoff_hit
    cut = mdl.solve(sense=1, time_limit=10, cutoff=2.5)  # nothing below 2.5
    assert cut.infeasible and cut.cutoff_hit and is_infeasible(cut.status)
    keep = mdl.solve(sense=1, time_limit=10, cutoff=3.5)  # 3 is below 3.5
    assert keep.status == "optimal" and keep.objective == pytest.approx(3.0)
    lp = mdl.lp(time_limit=10)
    assert lp.objective == pytest.approx(3.0) and lp.rc is not None
    lp.set_bounds(np.array([0]), np.array([2.0]), np.array([2.0]))
    assert lp.resolve().objective == pytest.approx(3.0)
    assert lp.x[0] == pytest.approx(2.0)


def test_highs_model_stops_on_an_improving_solution() -> None:
    """``on_improve`` sees each improving MIP solution and may stop the run with it."""
    from schoolplan._highs import HighsModel

    rng = np.random.default_rng(7)
    value, size = rng.integers(10, 100, 60).astype(float), rng.integers(5, 60, 60).astype(float)
    mdl = HighsModel()  # max value.x, size.x <= 600
    c0 = mdl.add_cols(value, 0.0, 1.0, integer=True)
    r0 = mdl.add_rows(-np.inf, 600.0, 1)
    mdl.add_entries(np.full(60, r0), c0 + np.arange(60), size)
    seen: list[float] = []
    run = mdl.solve(sense=-1, time_limit=30, on_improve=lambda v: seen.append(v) or True)
    assert seen and run.x is not None
    assert run.status in ("interrupted", "optimal")
    assert run.objective == pytest.approx(float(value @ run.x))
    if run.status == "interrupted":
        assert run.objective == pytest.approx(seen[-1])
    full = mdl.solve(sense=-1, time_limit=30, mip_rel_gap=0.0)
    assert full.status == "optimal" and full.objective >= run.objective - 1e-9


@pytest.mark.parametrize("seed", range(3))
def test_integer_cutoff_keeps_ties_one_below(seed: int) -> None:
    """Integer data: the cutoff U - 1/2 must keep solutions exactly one below U."""
    rng = np.random.default_rng(seed)
    c = rng.integers(0, 4, size=(30, 10)).astype(float)  # many ties
    w = rng.integers(1, 3, 30).astype(float)
    best = min(
        float(np.dot(w, c[:, list(s)].min(axis=1))) for s in itertools.combinations(range(10), 3)
    )
    for form in ("radius", "assignment"):
        r = solve_p_median(c, 3, weights=w, formulation=form)
        assert r.objective == pytest.approx(best) and r.status == "optimal"
