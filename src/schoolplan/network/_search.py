"""Dijkstra machinery shared by the queries (internal module; public names).

* :func:`peel` — dead-end branches of a graph (memoised per graph).
* :func:`base_csr` / :func:`with_sources` — the graph (or its reverse) plus one virtual
  source node per point.
* :func:`search_plan` / :func:`run_blocks` — shortest minutes from points to every
  node (or to the points), in memory-bounded blocks, optionally in forked worker
  processes, each block reduced where it was computed.
* :func:`same_chain` — direct travel between points on the same chain.
"""

from __future__ import annotations

import itertools
import math
import os
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from schoolplan.errors import ConfigError
from schoolplan.network._core import F64, I64, derived
from schoolplan.network.graph import RoadGraph
from schoolplan.network.snap import SnappedPoints

__all__ = [
    "BLOCK_BYTES",
    "Finish",
    "Peel",
    "SearchPlan",
    "base_csr",
    "check_cutoff",
    "peel",
    "run_blocks",
    "same_chain",
    "search_plan",
    "with_sources",
]

#: memory budget for one block of Dijkstra results, bytes
BLOCK_BYTES = 64 * 2**20


def check_cutoff(cutoff: float | None, name: str = "cutoff_minutes") -> float:
    """The cutoff in minutes (``inf`` for None).

    Raises
    ------
    ConfigError
        Not a number > 0.
    """
    if cutoff is None:
        return math.inf
    try:
        c = float(cutoff)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number of minutes, not {cutoff!r}",
                          fix=f"give {name} > 0, e.g. 20, or None for no cutoff") from None
    if not c > 0:
        raise ConfigError(f"{name} must be > 0 (got {cutoff!r})",
                          fix=f"give {name} > 0, e.g. 20, or None for no cutoff")
    return c


@dataclass(frozen=True, eq=False)
class Peel:
    """Dead-end branches of the routing graph (internal, cached per graph).

    Repeatedly removing nodes with a single neighbour leaves the *core*; every removed
    node lies on a tree-shaped *branch* hanging off one core node (its ``root``) by a
    single (two-way) link. A shortest path never passes through a branch that holds
    neither of its ends, so searches run on the core plus the branches holding their
    sources, and nodes of the other branches get ``D(root) + down`` (from the root) or
    ``up + D(root)`` (to the root) afterwards — exact, and much less work on real road
    networks, where a third or more of the nodes are on dead ends.
    """

    peeled: NDArray[np.bool_]
    root: I64
    up: F64  # minutes node -> root
    down: F64  # minutes root -> node
    branch: I64  # top node of the node's branch (-1 on the core)
    u: I64  # CSR row of every forward edge
    rev_u: I64  # CSR row of every reverse edge


def peel(graph: RoadGraph) -> Peel:
    """The dead-end branches of ``graph`` (see :class:`Peel`), computed once per graph."""
    return derived(graph, "peel", lambda: _peel(graph))


def _peel(graph: RoadGraph) -> Peel:
    n = graph.n_nodes
    u = np.repeat(np.arange(n), np.diff(graph.indptr))
    v = graph.indices
    ru = np.repeat(np.arange(n), np.diff(graph.rev_indptr))
    # undirected neighbour lists
    key = np.unique(np.concatenate([u * np.int64(n) + v, v * np.int64(n) + u]))
    na, nb = key // n, key % n
    deg = np.bincount(na, minlength=n)
    nptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(deg, out=nptr[1:])
    alive = np.ones(n, dtype=bool)
    parent = np.full(n, -1, dtype=np.int64)
    levels: list[I64] = []
    n_alive = n
    while True:
        leaves = np.nonzero(alive & (deg <= 1))[0]
        if leaves.size >= n_alive:  # the whole graph is a tree: keep one node as the core
            leaves = leaves[1:]
        if leaves.size == 0:
            break
        cnt = nptr[leaves + 1] - nptr[leaves]
        pos = np.repeat(nptr[leaves], cnt) + (np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        owner = np.repeat(leaves, cnt)
        nbr = nb[pos]
        live = alive[nbr]
        live[np.isin(nbr, leaves)] = False
        parent[owner[live]] = nbr[live]
        alive[leaves] = False
        n_alive -= leaves.size
        par = parent[leaves]
        np.subtract.at(deg, par[par >= 0], 1)
        levels.append(leaves)
    ekey = u * np.int64(n) + v  # sorted: CSR rows ascending, columns ascending within rows

    def w(a: I64, b: I64) -> F64:
        return graph.minutes[np.searchsorted(ekey, a * np.int64(n) + b)]

    root = np.arange(n, dtype=np.int64)
    up = np.zeros(n)
    down = np.zeros(n)
    branch = np.full(n, -1, dtype=np.int64)
    peeled = ~alive
    for lev in reversed(levels):
        par = parent[lev]
        root[lev] = root[par]
        up[lev] = w(lev, par) + up[par]
        down[lev] = down[par] + w(par, lev)
        branch[lev] = np.where(peeled[par], branch[par], lev)
    return Peel(peeled=peeled, root=root, up=up, down=down, branch=branch, u=u, rev_u=ru)


def base_csr(graph: RoadGraph, reverse: bool, keep_nodes: NDArray[np.bool_] | None = None) -> tuple[I64, I64, F64]:
    """CSR arrays of the graph (or its reverse); with ``keep_nodes`` only the edges between
    kept nodes (the other nodes stay, isolated)."""
    if reverse:
        indptr, indices, data = graph.rev_indptr, graph.rev_indices, graph.rev_minutes
    else:
        indptr, indices, data = graph.indptr, graph.indices, graph.minutes
    if keep_nodes is not None:
        n = graph.n_nodes
        pl = peel(graph)
        rows = pl.rev_u if reverse else pl.u
        m = keep_nodes[rows] & keep_nodes[indices]
        indices, data = indices[m], data[m]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows[m], minlength=n), out=indptr[1:])
    return indptr, indices, data


def with_sources(n: int, base: tuple[I64, I64, F64], tgt: I64, w: F64) -> sparse.csr_matrix:
    """The graph plus one virtual source node per point (``n``, ``n + 1`` ...), linked to
    the nodes ``tgt[i]`` (one column per edge end) with minutes ``w[i]``; ``inf`` links and
    missing nodes (−1) are left out."""
    indptr, indices, data = base
    s = tgt.shape[0]
    ok = np.isfinite(w) & (tgt >= 0)
    cnt = ok.sum(axis=1)
    vptr = indptr[-1] + np.concatenate([[0], np.cumsum(cnt)])
    full_ptr = np.concatenate([indptr, vptr[1:]])
    full_idx = np.concatenate([indices, tgt[ok]])
    full_w = np.concatenate([data, w[ok]])
    return sparse.csr_matrix((full_w, full_idx, full_ptr), shape=(n + s, n + s))


#: state inherited by forked worker processes (the plan and what each block does)
_FORK_STATE: dict[str, Any] = {}

#: what a block returns: ``finish(dist, positions)`` of the block's (len(block), n_nodes) times
Finish = Callable[[F64, I64], Any]


@dataclass(frozen=True, eq=False)
class SearchPlan:
    """Dijkstra runs from the points ``src[rows]``, prepared once (:func:`search_plan`).

    Attributes
    ----------
    n
        Nodes of the graph (each block adds one virtual node per source).
    reverse
        Searches run on the reversed graph (times *to* the points).
    rows
        The source points (rows of the snapped points).
    keep
        Nodes searched: the core plus the dead-end branches holding a source.
        Other nodes are reached through their branch root (``peel``).
    base
        CSR arrays of the searched graph.
    tgt, w
        Per source (``(len(rows), 2)``): the end nodes it links to and the link minutes.
        Each block searches the graph plus its own sources only.
    tasks
        Blocks: positions in ``rows`` and the search limit of each, minutes.
    jobs
        Worker processes.
    """

    n: int
    reverse: bool
    rows: I64
    keep: NDArray[np.bool_]
    base: tuple[I64, I64, F64]
    tgt: I64
    w: F64
    tasks: list[tuple[I64, float]]
    jobs: int


def search_plan(graph: RoadGraph, src: SnappedPoints, rows: I64, *, reverse: bool, limit: float,
                n_jobs: int = 1) -> SearchPlan:
    """Prepare searches from the points ``src[rows]`` (to them with ``reverse``).

    The points are virtual sources linked to the two ends of their edge; blocks of
    sources share one SciPy ``dijkstra`` call of bounded memory (≤ :data:`BLOCK_BYTES`)
    on the graph plus the block's own sources, whose ``limit`` is ``limit`` minus the
    smallest access leg in the block.
    """
    n = graph.n_nodes
    if reverse:  # node -> point: links from the end nodes into the point
        w = np.column_stack([src.in_a[rows], src.in_b[rows]])
    else:
        w = np.column_stack([src.out_a[rows], src.out_b[rows]])
    tgt = np.column_stack([src.a[rows], src.b[rows]])
    pl = peel(graph)
    ends = tgt.ravel()
    active = np.unique(pl.branch[ends[ends >= 0]])
    keep = ~pl.peeled | np.isin(pl.branch, active[active >= 0])
    block = max(1, int(BLOCK_BYTES // (8 * (n + 64))))
    jobs = max(1, int(n_jobs))
    if jobs > 1:
        block = max(1, min(block, -(-rows.size // jobs)))
    acc = np.nan_to_num(src.access[rows], nan=0.0)
    tasks = []
    for start in range(0, rows.size, block):
        sel = np.arange(start, min(start + block, rows.size))
        lim = limit - float(acc[sel].min()) if math.isfinite(limit) else np.inf
        tasks.append((sel, lim))
    return SearchPlan(n=n, reverse=reverse, rows=rows, keep=keep, base=base_csr(graph, reverse, keep), tgt=tgt,
                      w=w, tasks=tasks, jobs=jobs)


def _block(plan: SearchPlan, sel: I64, lim: float, outside: tuple[I64, I64, F64] | None,
           finish: Finish | None) -> Any:
    """One Dijkstra block from the sources ``sel`` (positions in ``plan.rows``).

    ``outside = (nodes, roots, extra)``: nodes left out of the search (dead-end
    branches) get ``D[root] + extra``. ``finish(dist, sel)`` reduces the block where
    it was computed (in the worker process), e.g. to the times at the destinations.
    """
    n = plan.n
    if lim < 0:
        dist = np.full((sel.size, n), np.inf)
    else:
        G = with_sources(n, plan.base, plan.tgt[sel], plan.w[sel])
        dist = dijkstra(G, directed=True, indices=n + np.arange(sel.size), limit=lim * (1 + 1e-12) + 1e-12)[:, :n]
    if outside is not None and outside[0].size:
        nodes, roots, extra = outside
        dist[:, nodes] = dist[:, roots] + extra
    return dist if finish is None else finish(dist, sel)


def _forked_block(sel: I64, lim: float) -> Any:
    st = _FORK_STATE
    return _block(st["plan"], sel, lim, st["outside"], st["finish"])


def run_blocks(graph: RoadGraph, plan: SearchPlan, *, fill: I64 | Literal["all"] | None,
               finish: Finish | None = None) -> Iterator[tuple[I64, Any]]:
    """Run the planned searches block by block.

    Parameters
    ----------
    graph, plan
        The graph and :func:`search_plan`'s plan for it.
    fill
        Nodes outside the search whose times are needed in ``dist``: ``"all"``, the
        candidate nodes (those outside the search are filled), or None.
    finish
        Reduces each block (see :func:`_block`); None yields the times themselves.

    Yields
    ------
    tuple
        Positions in ``plan.rows`` of the block, and the block's result. With
        ``plan.jobs > 1`` the blocks run in forked worker processes (POSIX), in order.
    """
    pl = peel(graph)
    outside: tuple[I64, I64, F64] | None = None
    if fill is not None:
        nodes = np.nonzero(~plan.keep)[0] if isinstance(fill, str) else np.unique(fill)
        nodes = nodes[~plan.keep[nodes]]
        outside = (nodes, pl.root[nodes], (pl.up if plan.reverse else pl.down)[nodes])
    tasks = plan.tasks
    if plan.jobs == 1 or len(tasks) == 1 or not hasattr(os, "fork"):
        for sel, lim in tasks:
            yield sel, _block(plan, sel, lim, outside, finish)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    _FORK_STATE.update(plan=plan, outside=outside, finish=finish)
    jobs = min(plan.jobs, len(tasks))
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("fork")) as ex:
            # a bounded window of blocks in flight: results are consumed in order and dropped,
            # so finished blocks never pile up in memory
            queue = iter(tasks)
            pending: deque[tuple[I64, Any]] = deque()
            for sel, lim in itertools.islice(queue, 2 * jobs):
                pending.append((sel, ex.submit(_forked_block, sel, lim)))
            while pending:
                sel, fut = pending.popleft()
                result = fut.result()
                del fut
                nxt = next(queue, None)
                if nxt is not None:
                    pending.append((nxt[0], ex.submit(_forked_block, *nxt)))
                yield sel, result
                del result
    finally:
        _FORK_STATE.clear()


def same_chain(o: SnappedPoints, d: SnappedPoints, oi: I64, di: I64) -> tuple[I64, I64, F64]:
    """Direct travel along a shared edge for origin/destination pairs on the same chain."""
    if oi.size == 0 or di.size == 0:
        e = np.empty(0, dtype=np.int64)
        return e, e, np.empty(0)
    od = pd.DataFrame({"c": o.chain[oi], "i": oi})
    dd = pd.DataFrame({"c": d.chain[di], "j": di})
    m = od.merge(dd, on="c")
    if m.empty:
        e = np.empty(0, dtype=np.int64)
        return e, e, np.empty(0)
    i = m["i"].to_numpy()
    j = m["j"].to_numpy()
    po, pd_ = o.param[i], d.param[j]
    t = np.full(i.size, np.inf)
    fw = (pd_ > po) & o.fwd_ok[i]
    t[fw] = (d.f[j] - o.f[i])[fw]
    bw = (pd_ < po) & o.bwd_ok[i]
    t[bw] = (o.bk[i] - d.bk[j])[bw]
    t[po == pd_] = 0.0
    return i, j, np.maximum(t, 0.0)


