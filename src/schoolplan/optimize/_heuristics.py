r"""Internal: start heuristics for the location models.

* :func:`p_median_start` — greedy plus fast interchange (Whitaker 1983; the
  gain/loss/extra bookkeeping of Resende & Werneck 2003), vectorised over a
  dense cost matrix, with a few randomised restarts;
* :func:`p_median_swap_sparse` — the same search on candidate lists, for
  matrices too large to hold densely;
* :func:`capacitated_start` — a capacitated swap search for the capacitated
  p-median: regret-greedy single-source assignment to the open sites, facility
  swaps screened by their uncapacitated gain and evaluated by re-assignment.

Swap of facility ``r`` (open) for ``i`` (closed), with ``d1``/``f1`` the nearest
open cost/site and ``d2`` the second-nearest cost of each client:

.. math::

    \Delta_{ir} = -\text{gain}_i + \text{loss}_r - \text{extra}_{ir},\quad
    \text{gain}_i = \sum_j w_j (d1_j - c_{ji})^+,\quad
    \text{loss}_r = \sum_{j: f1_j = r} w_j (d2_j - d1_j),

    \text{extra}_{ir} = \sum_{j: f1_j = r} w_j \bigl(d2_j - \max(c_{ji}, d1_j)\bigr)^+ .
"""

from __future__ import annotations

import time

import numpy as np


def open_costs(
    y: np.ndarray,
    n: int,
    e_client: np.ndarray,
    e_fac: np.ndarray,
    e_cost: np.ndarray,
    tail: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cheapest (``d1``, facility ``f1``) and second-cheapest (``d2``) open list entry.

    Entries are sorted by client, then cost. Missing ones default to ``tail``
    (``f1 = -1``).
    """
    oi = np.flatnonzero(y[e_fac])
    cl = e_client[oi]
    first = np.ones(len(oi), dtype=bool)
    first[1:] = cl[1:] != cl[:-1]
    second = np.zeros(len(oi), dtype=bool)
    second[1:] = ~first[1:] & first[:-1]
    d1 = tail.copy()
    f1 = np.full(n, -1, dtype=np.int64)
    d1[cl[first]] = e_cost[oi[first]]
    f1[cl[first]] = e_fac[oi[first]]
    d2 = tail.copy()
    d2[cl[second]] = e_cost[oi[second]]
    return d1, f1, d2


def p_median_swap_sparse(
    n: int,
    m: int,
    e_client: np.ndarray,
    e_fac: np.ndarray,
    e_cost: np.ndarray,
    tail: np.ndarray,
    w: np.ndarray,
    p: int,
    fixed: np.ndarray,
    forbidden: np.ndarray,
    deadline: float,
) -> np.ndarray:
    """Greedy + best-improvement swap local search on the candidate-list model.

    Client ``j`` costs ``min(cheapest open list entry, tail_j)``; clients
    without tail pay a large penalty when no list entry is open. Every step
    is ``O(#entries + m * p)``. Returns a boolean ``y`` with ``p`` open sites
    (a warm start for HiGHS).
    """
    finite = np.isfinite(tail)
    big = 2.0 * max(float(e_cost.max(initial=0.0)), float(tail[finite].max(initial=0.0))) + 1.0
    tail = np.where(finite, tail, big)
    we = w[e_client]
    y = fixed.copy()
    closed_ok = ~forbidden
    # greedy
    while int(y.sum()) < p:
        d1, _, _ = open_costs(y, n, e_client, e_fac, e_cost, tail)
        gain = np.bincount(e_fac, weights=we * np.maximum(d1[e_client] - e_cost, 0.0), minlength=m)
        gain[y | ~closed_ok] = -1.0
        y[int(np.argmax(gain))] = True
    # swaps: delta(i in, r out) = -gain_i + loss_r + corr[i, r]
    max_iter = 100 + 10 * p
    for _ in range(max_iter):
        if time.perf_counter() > deadline:
            break
        d1, f1, d2 = open_costs(y, n, e_client, e_fac, e_cost, tail)
        movable = np.flatnonzero(y & ~fixed)
        addable = ~y & closed_ok
        if len(movable) == 0 or not addable.any():
            break
        gain = np.bincount(e_fac, weights=we * np.maximum(d1[e_client] - e_cost, 0.0), minlength=m)
        has = f1 >= 0
        loss = np.bincount(f1[has], weights=(w * (d2 - d1))[has], minlength=m)
        slot = np.full(m, -1, dtype=np.int64)
        slot[movable] = np.arange(len(movable))
        fe = f1[e_client]
        sel = (fe >= 0) & (e_cost < d2[e_client]) & addable[e_fac]
        sel &= slot[np.maximum(fe, 0)] >= 0
        cj = e_client[sel]
        c = e_cost[sel]
        corr_val = we[sel] * (np.minimum(d2[cj], c) - np.minimum(d1[cj], c) - (d2[cj] - d1[cj]))
        corr = np.zeros((m, len(movable)))
        np.add.at(corr, (e_fac[sel], slot[fe[sel]]), corr_val)
        delta = corr - gain[:, None] + loss[movable][None, :]
        delta[~addable, :] = np.inf
        k = int(np.argmin(delta))
        i, r = divmod(k, len(movable))
        if not delta[i, r] < -1e-9 * max(1.0, float(np.dot(w, d1))):
            break
        y[i] = True
        y[movable[r]] = False
    return y


def _nearest_two(dm: np.ndarray, open_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``d1, f1, d2`` of every client for the open columns ``open_idx`` of ``dm``."""
    sub = dm[:, open_idx]
    n = dm.shape[0]
    if len(open_idx) == 1:  # no second site: a finite stand-in far above every cost
        return sub[:, 0].copy(), np.full(n, open_idx[0]), np.full(n, 2.0 * float(dm.max()) + 1.0)
    two = np.argpartition(sub, 1, axis=1)[:, :2]
    v = np.take_along_axis(sub, two, axis=1)
    swap = v[:, 1] < v[:, 0]
    a = np.where(swap, two[:, 1], two[:, 0])
    d1 = np.minimum(v[:, 0], v[:, 1])
    d2 = np.maximum(v[:, 0], v[:, 1])
    return d1, open_idx[a], d2


def _interchange(
    dm: np.ndarray, w: np.ndarray, y: np.ndarray, fixed: np.ndarray, addable: np.ndarray,
    deadline: float,
) -> tuple[np.ndarray, float]:
    """Best-improvement swaps from the open set ``y`` until no swap improves."""
    y = y.copy()
    while True:
        open_idx = np.flatnonzero(y)
        d1, f1, d2 = _nearest_two(dm, open_idx)
        value = float(np.dot(w, d1))
        movable = np.flatnonzero(y & ~fixed)
        cand = np.flatnonzero(addable & ~y)
        if len(movable) == 0 or len(cand) == 0 or time.perf_counter() > deadline:
            return y, value
        gain = w @ np.maximum(d1[:, None] - dm[:, cand], 0.0)
        best, pair = 0.0, None
        for r in movable:
            mine = np.flatnonzero(f1 == r)
            loss = float(np.dot(w[mine], d2[mine] - d1[mine])) if len(mine) else 0.0
            if len(mine):
                sub = dm[np.ix_(mine, cand)]
                extra = w[mine] @ np.maximum(d2[mine, None] - np.maximum(sub, d1[mine, None]), 0.0)
            else:
                extra = 0.0
            delta = loss - gain - extra
            k = int(np.argmin(delta))
            if delta[k] < best:
                best, pair = float(delta[k]), (int(cand[k]), int(r))
        if pair is None or best > -1e-9 * max(1.0, abs(value)):
            return y, value
        y[pair[0]] = True
        y[pair[1]] = False


def p_median_start(
    dm: np.ndarray,
    w: np.ndarray,
    p: int,
    fixed: np.ndarray,
    openable: np.ndarray,
    *,
    deadline: float,
    restarts: int = 6,
    seed: int = 0,
) -> tuple[np.ndarray, float]:
    """Greedy + fast interchange with randomised restarts on a dense matrix.

    Parameters
    ----------
    dm
        Client x facility costs (``inf`` where not allowed is fine: such pairs
        never serve a client unless nothing else is open).
    w
        Client weights.
    p
        Number of sites to open.
    fixed, openable
        Masks of sites that must / may be open.
    deadline
        ``time.perf_counter()`` value after which no new restart begins.
    restarts
        Number of starts (the first greedy, the others randomised greedy).
    seed
        Seed of the randomised restarts (results are deterministic).

    Returns
    -------
    tuple
        Boolean open mask and its value ``sum_j w_j min_{i open} c_ji``.
    """
    finite = dm[np.isfinite(dm)]
    big = 4.0 * (float(finite.max()) if finite.size else 1.0) + 1.0
    dm = np.where(np.isfinite(dm), dm, big)
    rng = np.random.default_rng(seed)
    best_y, best_v = None, np.inf
    for rep in range(max(restarts, 1)):
        if rep and time.perf_counter() > deadline:
            break
        y = fixed.copy()
        d1 = dm[:, y].min(axis=1) if y.any() else np.full(dm.shape[0], big * 2)
        while int(y.sum()) < p:
            gain = w @ np.maximum(d1[:, None] - dm, 0.0)
            gain[y | ~openable] = -np.inf
            if rep == 0:
                i = int(np.argmax(gain))
            else:
                top = np.argsort(-gain)[: min(4, int(np.isfinite(gain).sum()))]
                i = int(rng.choice(top))
            y[i] = True
            d1 = np.minimum(d1, dm[:, i])
        y, v = _interchange(dm, w, y, fixed, openable, deadline)
        if v < best_v - 1e-9:
            best_y, best_v = y, v
    assert best_y is not None
    return best_y, best_v


def assign_capacitated(
    dm: np.ndarray, demand: np.ndarray, capacity: np.ndarray, open_idx: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, float] | None:
    """Single-source regret-greedy assignment to ``open_idx`` plus shift moves.

    Clients are placed in decreasing order of regret (second-cheapest minus
    cheapest feasible cost, weighted), each to its cheapest site with room;
    then single-client shifts that lower the cost are applied. Returns the
    site of each client and the total cost, or ``None`` when some client
    finds no room.
    """
    n = dm.shape[0]
    sub = dm[:, open_idx] * w[:, None]
    left = capacity[open_idx].astype(np.float64).copy()
    site = np.full(n, -1)
    todo = np.ones(n, dtype=bool)
    while todo.any():
        fits = (demand[:, None] <= left[None, :] + 1e-9) & todo[:, None]
        c = np.where(fits, sub, np.inf)
        part = np.partition(c, 1, axis=1) if c.shape[1] > 1 else np.concatenate([c, c], axis=1)
        with np.errstate(invalid="ignore"):
            regret = np.where(todo, part[:, 1] - part[:, 0], -np.inf)
        regret[~np.isfinite(part[:, 0]) & todo] = np.inf  # no room anywhere: report below
        j = int(np.argmax(np.where(np.isfinite(regret), regret, np.where(todo, 1e300, -np.inf))))
        k = int(np.argmin(c[j]))
        if not np.isfinite(c[j, k]):
            return None
        site[j] = k
        left[k] -= demand[j]
        todo[j] = False
    # shifts: move a client to a cheaper site with room
    for _ in range(3):
        moved = False
        cur = sub[np.arange(n), site]
        better = (sub < cur[:, None] - 1e-12) & (demand[:, None] <= left[None, :] + 1e-9)
        for j in np.flatnonzero(better.any(axis=1)):
            ok = np.flatnonzero((sub[j] < sub[j, site[j]] - 1e-12) & (demand[j] <= left + 1e-9))
            if len(ok):
                k = int(ok[np.argmin(sub[j, ok])])
                left[site[j]] += demand[j]
                left[k] -= demand[j]
                site[j] = k
                moved = True
        if not moved:
            break
    return open_idx[site], float(sub[np.arange(n), site].sum())


def capacitated_start(
    dm: np.ndarray,
    w: np.ndarray,
    demand: np.ndarray,
    capacity: np.ndarray,
    p: int,
    fixed: np.ndarray,
    openable: np.ndarray,
    *,
    deadline: float,
    screen: int = 12,
) -> tuple[np.ndarray, np.ndarray, float] | None:
    r"""Capacitated swap search from the uncapacitated fast-interchange sites.

    Each round ranks all swaps by the uncapacitated :math:`\Delta_{ir}` and
    evaluates the ``screen`` best (plus the largest-capacity swaps) by
    :func:`assign_capacitated`; the best improving one is taken. Returns the
    open mask, each client's site and the cost, or ``None`` when no feasible
    assignment was found.
    """
    finite = dm[np.isfinite(dm)]
    big = 4.0 * (float(finite.max()) if finite.size else 1.0) + 1.0
    dm = np.where(np.isfinite(dm), dm, big)
    y, _ = p_median_start(dm, w, p, fixed, openable, deadline=deadline, restarts=1)
    if float(capacity[y].sum()) < float(demand.sum()):  # make room: largest sites first
        y = fixed.copy()
        order = np.argsort(-np.where(openable, capacity, -1.0), kind="stable")
        for i in order:
            if int(y.sum()) >= p:
                break
            y[i] = True
    best = assign_capacitated(dm, demand, capacity, np.flatnonzero(y), w)
    best_v = np.inf if best is None else best[1]
    while time.perf_counter() < deadline:
        open_idx = np.flatnonzero(y)
        d1, f1, d2 = _nearest_two(dm, open_idx)
        movable = np.flatnonzero(y & ~fixed)
        cand = np.flatnonzero(openable & ~y)
        if len(movable) == 0 or len(cand) == 0:
            break
        gain = w @ np.maximum(d1[:, None] - dm[:, cand], 0.0)
        deltas = np.empty((len(cand), len(movable)))
        for k, r in enumerate(movable):
            mine = np.flatnonzero(f1 == r)
            loss = float(np.dot(w[mine], d2[mine] - d1[mine])) if len(mine) else 0.0
            extra = (w[mine] @ np.maximum(d2[mine, None] - np.maximum(dm[np.ix_(mine, cand)], d1[mine, None]), 0.0)
                     if len(mine) else 0.0)
            deltas[:, k] = loss - gain - extra
        order = np.argsort(deltas, axis=None)[:screen]
        improved = None
        for flat in order:
            a, b = divmod(int(flat), len(movable))
            y2 = y.copy()
            y2[cand[a]] = True
            y2[movable[b]] = False
            if float(capacity[y2].sum()) < float(demand.sum()) - 1e-9:
                continue
            got = assign_capacitated(dm, demand, capacity, np.flatnonzero(y2), w)
            better = got is not None and got[1] < best_v - 1e-9 * max(1.0, abs(best_v))
            if better and (improved is None or got[1] < improved[2][1]):  # type: ignore[index]
                improved = (y2, None, got)
            if time.perf_counter() > deadline:
                break
        if improved is None:
            break
        y, best, best_v = improved[0], improved[2], improved[2][1]
    if best is None:
        return None
    return y, best[0], best_v
