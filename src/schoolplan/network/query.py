"""Travel-time queries: OD matrices, k nearest destinations, isochrones.

Every query snaps its points to road edges (:mod:`schoolplan.network.snap`), then
runs Dijkstra on the CSR graph. A point reaches the two ends of its edge with the
matching share of the edge time; two points on the same edge may also travel
directly along it. The access legs at both ends are added. Travel time from
origin *o* to destination *d* is therefore

.. math::

    t(o, d) = \\alpha_o + \\min\\Big(\\min_{x \\in \\{a_o, b_o\\},\\, y \\in \\{a_d, b_d\\}}
              \\big[\\tau(o \\to x) + D(x, y) + \\tau(y \\to d)\\big],\\;
              \\tau_{\\text{edge}}(o \\to d)\\Big) + \\alpha_d

with access legs :math:`\\alpha`, shares of edge time :math:`\\tau` and node-to-node
shortest times :math:`D` (minutes). Unreachable pairs are NaN, never 0.
"""

from __future__ import annotations

import heapq
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from schoolplan.errors import ConfigError
from schoolplan.network._raster import raster_polygon
from schoolplan.network.graph import RoadGraph
from schoolplan.network.snap import _Snapped, prepare_points, snap

__all__ = ["isochrones", "nearest", "travel_time_matrix"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

#: memory budget for one block of Dijkstra results, bytes
_BLOCK_BYTES = 64 * 2**20


def _check_cutoff(cutoff: float | None, name: str = "cutoff_minutes") -> float:
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


def _snap_side(graph: RoadGraph, points: Any, id_column: str | None, role: str, max_snap_m: float,
               snap_far: bool, access_speed_kmh: float | None, snap_dropped: bool = False) -> _Snapped:
    ids, x, y = prepare_points(graph, points, id_column=id_column, role=role)
    return snap(graph, ids, x, y, max_snap_m=max_snap_m, snap_far=snap_far, snap_dropped=snap_dropped,
                access_speed_kmh=access_speed_kmh, role=role, stacklevel=5)


@dataclass(frozen=True, eq=False)
class _Peel:
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


def _peel(graph: RoadGraph) -> _Peel:
    cached = graph._cache.get("peel")
    if cached is not None:
        return cached
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
    out = _Peel(peeled=peeled, root=root, up=up, down=down, branch=branch, u=u, rev_u=ru)
    graph._cache["peel"] = out
    return out


def _augmented(graph: RoadGraph, reverse: bool, heads: Sequence[tuple[I64, F64]],
               keep_nodes: NDArray[np.bool_] | None = None) -> sparse.csr_matrix:
    """The graph (or its reverse) plus one virtual source node per search point.

    ``heads`` lists, per end (a and b), the node each virtual source links to and the
    link time; ``inf`` links are left out. With ``keep_nodes`` only edges between kept
    nodes are searched (the other nodes stay, isolated).
    """
    if reverse:
        indptr, indices, data = graph.rev_indptr, graph.rev_indices, graph.rev_minutes
    else:
        indptr, indices, data = graph.indptr, graph.indices, graph.minutes
    n = graph.n_nodes
    if keep_nodes is not None:
        pl = _peel(graph)
        rows = pl.rev_u if reverse else pl.u
        m = keep_nodes[rows] & keep_nodes[indices]
        indices, data = indices[m], data[m]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows[m], minlength=n), out=indptr[1:])
    s = heads[0][0].size
    tgt = np.stack([h[0] for h in heads], axis=1)  # (s, 2)
    w = np.stack([h[1] for h in heads], axis=1)
    ok = np.isfinite(w) & (tgt >= 0)
    cnt = ok.sum(axis=1)
    vptr = indptr[-1] + np.concatenate([[0], np.cumsum(cnt)])
    full_ptr = np.concatenate([indptr, vptr[1:]])
    full_idx = np.concatenate([indices, tgt[ok]])
    full_w = np.concatenate([data, w[ok]])
    return sparse.csr_matrix((full_w, full_idx, full_ptr), shape=(n + s, n + s))


#: state inherited by forked worker processes (graph, node count, gather spec)
_FORK_STATE: dict[str, Any] = {}


def _block(G: sparse.csr_matrix, n: int, idx: I64, lim: float,
           gather: tuple[I64, I64, F64, F64] | None,
           outside: tuple[I64, I64, F64] | None = None) -> F64:
    """One Dijkstra block; with ``gather`` only the combined times at the other side.

    ``outside = (nodes, roots, extra)``: nodes left out of the search (dead-end
    branches) get ``D[root] + extra``.
    """
    if lim < 0:
        dist = np.full((idx.size, n), np.inf)
    else:
        dist = dijkstra(G, directed=True, indices=idx, limit=lim * (1 + 1e-12) + 1e-12)[:, :n]
    if outside is not None and outside[0].size:
        nodes, roots, extra = outside
        dist[:, nodes] = dist[:, roots] + extra
    if gather is None:
        return dist
    ca, cb, wa, wb = gather
    return np.minimum(dist[:, ca] + wa, dist[:, cb] + wb)


def _forked_block(idx: I64, lim: float) -> F64:
    st = _FORK_STATE
    return _block(st["G"], st["n"], idx, lim, st["gather"], st["outside"])


def _node_times(
    graph: RoadGraph,
    src: _Snapped,
    rows: I64,
    *,
    reverse: bool,
    limit: float,
    gather: tuple[I64, I64, F64, F64] | None = None,
    n_jobs: int = 1,
) -> Iterator[tuple[I64, F64]]:
    """Shortest minutes from each source point in ``rows`` to every node (or, with
    ``reverse``, from every node to the point), in memory-bounded blocks.

    Yields ``(block rows, array (len(block), n_nodes))``, or with ``gather = (nodes_a,
    nodes_b, w_a, w_b)`` the array ``min(D[:, nodes_a] + w_a, D[:, nodes_b] + w_b)``. The
    source's access leg is not included. ``n_jobs > 1`` runs the blocks in forked
    worker processes (POSIX only).
    """
    n = graph.n_nodes
    if reverse:  # node -> point: links from the end nodes into the point
        heads = [(src.a[rows], src.in_a[rows]), (src.b[rows], src.in_b[rows])]
    else:
        heads = [(src.a[rows], src.out_a[rows]), (src.b[rows], src.out_b[rows])]
    # search the core plus the dead-end branches holding the sources
    pl = _peel(graph)
    ends = np.concatenate([src.a[rows], src.b[rows]])
    active = np.unique(pl.branch[ends[ends >= 0]])
    keep = ~pl.peeled | np.isin(pl.branch, active[active >= 0])
    G = _augmented(graph, reverse, heads, keep_nodes=keep)
    out_nodes = np.nonzero(~keep)[0]
    extra = (pl.up if reverse else pl.down)[out_nodes]
    outside: tuple[I64, I64, F64] | None = (out_nodes, pl.root[out_nodes], extra)
    if gather is not None:  # only the gathered columns need filling
        need = np.unique(np.concatenate([gather[0], gather[1]]))
        need = need[~keep[need]]
        outside = (need, pl.root[need], (pl.up if reverse else pl.down)[need])
    block = max(1, int(_BLOCK_BYTES // (8 * (n + rows.size))))
    jobs = max(1, int(n_jobs))
    if jobs > 1:
        block = max(1, min(block, -(-rows.size // jobs)))
    acc = np.nan_to_num(src.access[rows], nan=0.0)
    tasks = []
    for start in range(0, rows.size, block):
        sel = np.arange(start, min(start + block, rows.size))
        lim = limit - float(acc[sel].min()) if math.isfinite(limit) else np.inf
        tasks.append((sel, lim))
    if jobs == 1 or len(tasks) == 1 or not hasattr(os, "fork"):
        for sel, lim in tasks:
            yield rows[sel], _block(G, n, n + sel, lim, gather, outside)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    _FORK_STATE.update(G=G, n=n, gather=gather, outside=outside)
    try:
        with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=mp.get_context("fork")) as ex:
            futures = [ex.submit(_forked_block, n + sel, lim) for sel, lim in tasks]
            for (sel, _), fut in zip(tasks, futures, strict=True):
                yield rows[sel], fut.result()
    finally:
        _FORK_STATE.clear()


def _same_chain(o: _Snapped, d: _Snapped, oi: I64, di: I64) -> tuple[I64, I64, F64]:
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


def _od(graph: RoadGraph, o: _Snapped, d: _Snapped, cutoff: float, n_jobs: int = 1) -> F64:
    """Full origins × destinations minutes (float64, inf = unreachable / beyond cutoff)."""
    res = np.full((o.n, d.n), np.inf)
    oi = np.nonzero(o.routable)[0]
    di = np.nonzero(d.routable)[0]
    if oi.size == 0 or di.size == 0:
        return res
    if di.size <= oi.size:  # search from the destinations on the reversed graph
        gather = (o.a[oi], o.b[oi], o.out_a[oi], o.out_b[oi])
        for rows, T in _node_times(graph, d, di, reverse=True, limit=cutoff, gather=gather, n_jobs=n_jobs):
            res[np.ix_(oi, rows)] = T.T
    else:
        gather = (d.a[di], d.b[di], d.in_a[di], d.in_b[di])
        for rows, T in _node_times(graph, o, oi, reverse=False, limit=cutoff, gather=gather, n_jobs=n_jobs):
            res[np.ix_(rows, di)] = T
    i, j, t = _same_chain(o, d, oi, di)
    if i.size:
        res[i, j] = np.minimum(res[i, j], t)
    res += np.nan_to_num(o.access, nan=0.0)[:, None]
    res += np.nan_to_num(d.access, nan=0.0)[None, :]
    res[~o.routable, :] = np.inf
    res[:, ~d.routable] = np.inf
    if math.isfinite(cutoff):
        res[res > cutoff] = np.inf
    return res


def travel_time_matrix(
    graph: RoadGraph,
    origins: gpd.GeoDataFrame,
    destinations: gpd.GeoDataFrame,
    *,
    cutoff_minutes: float | None = None,
    id_column: str | None = None,
    origin_id_column: str | None = None,
    destination_id_column: str | None = None,
    max_snap_m: float = 2000.0,
    snap_far: bool = False,
    snap_dropped: bool = False,
    access_speed_kmh: float | None = None,
    dtype: Any = np.float32,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Travel times (出行时间矩阵) from every origin to every destination, minutes.

    Parameters
    ----------
    graph
        The routing graph.
    origins, destinations
        Points in any CRS (CRS set); reprojected to the graph CRS.
    cutoff_minutes
        Pairs slower than this are NaN; also bounds the search (faster). None: no cutoff.
    id_column, origin_id_column, destination_id_column
        Id columns (default: the index); ids must be unique.
    max_snap_m, snap_far, snap_dropped, access_speed_kmh
        Snapping options (see :func:`~schoolplan.network.snap.snap_points`): distance
        beyond which points are "far" (m), snap far points anyway, snap points on
        dropped parts to the main network, access-leg speed (km/h).
    dtype
        Result type; ``float32`` (default) keeps ~1e-5 min precision at 60 min; use
        ``float64`` for exact comparisons.
    n_jobs
        Worker processes for the searches (forked; POSIX). 1 (default) runs in this
        process. More only pays off for large jobs on idle cores: forking and copying
        results back costs ~0.1 s, and on a busy machine it is slower.

    Returns
    -------
    pandas.DataFrame
        Index = origin ids, columns = destination ids, values = minutes; NaN for
        unreachable pairs, pairs beyond the cutoff, and points that could not be
        snapped (reported with an :class:`~schoolplan.errors.UnreachableWarning` and in
        ``result.attrs["unroutable_origins"]`` / ``["unroutable_destinations"]``:
        ``{id: "far" | "dropped"}``).

    Notes
    -----
    Dijkstra runs from the side with fewer points (from the destinations on the
    reversed graph when they are fewer), one virtual source per point linked to the
    two ends of its edge, in blocks of bounded memory (≤ 64 MB), with ``limit`` set
    from the cutoff.
    """
    cutoff = _check_cutoff(cutoff_minutes)
    o = _snap_side(graph, origins, origin_id_column or id_column, "origins", max_snap_m, snap_far,
                   access_speed_kmh, snap_dropped)
    d = _snap_side(graph, destinations, destination_id_column or id_column, "destinations", max_snap_m,
                   snap_far, access_speed_kmh, snap_dropped)
    res = _od(graph, o, d, cutoff, n_jobs=n_jobs)
    res[~np.isfinite(res)] = np.nan
    out = pd.DataFrame(res.astype(dtype, copy=False), index=o.ids, columns=d.ids)
    out.attrs["unroutable_origins"] = dict(zip(o.ids[~o.routable].tolist(), o.status[~o.routable].tolist(),
                                               strict=True))
    out.attrs["unroutable_destinations"] = dict(zip(d.ids[~d.routable].tolist(),
                                                    d.status[~d.routable].tolist(), strict=True))
    return out


# --------------------------------------------------------------------------- k nearest
def _adjacency_lists(graph: RoadGraph, reverse: bool) -> list[list[tuple[int, float]]]:
    key = f"adj_{'rev' if reverse else 'fwd'}"
    adj = graph._cache.get(key)
    if adj is None:
        if reverse:
            ptr, idx, w = graph.rev_indptr, graph.rev_indices, graph.rev_minutes
        else:
            ptr, idx, w = graph.indptr, graph.indices, graph.minutes
        pairs = list(zip(idx.tolist(), w.tolist(), strict=True))
        p = ptr.tolist()
        adj = [pairs[p[i]:p[i + 1]] for i in range(graph.n_nodes)]
        graph._cache[key] = adj
    return adj


def _k_label(
    adj: list[list[tuple[int, float]]],
    seeds: list[tuple[float, int, int]],
    k: int,
    limit: float,
    needed: set[int] | None = None,
) -> tuple[list[list[int]], list[list[float]]]:
    """Multi-source Dijkstra keeping up to ``k`` labels per node from distinct sources.

    A label (minutes, source) is settled at a node when popped from the heap, unless
    the node already holds ``k`` labels or one from that source. Labels are settled in
    increasing time, so each node's list is its ``k`` nearest sources, sorted. Exact:
    if source *s* is among the k nearest of node *v*, it is among the k nearest of
    every node on its shortest path to *v*, so pruning at full nodes loses nothing.
    """
    n = len(adj)
    lab_s: list[list[int]] = [[] for _ in range(n)]
    lab_d: list[list[float]] = [[] for _ in range(n)]
    heap = list(seeds)
    heapq.heapify(heap)
    pop, push = heapq.heappop, heapq.heappush
    remaining = len(needed) if needed is not None else -1
    while heap:
        d, v, s = pop(heap)
        ls = lab_s[v]
        if len(ls) >= k or s in ls:
            continue
        ls.append(s)
        lab_d[v].append(d)
        if remaining > 0 and len(ls) == k and v in needed:  # type: ignore[operator]
            remaining -= 1
            if remaining == 0:
                break
        for u, w in adj[v]:
            lu = lab_s[u]
            if len(lu) < k and s not in lu:
                nd = d + w
                if nd <= limit:
                    push(heap, (nd, u, s))
    return lab_s, lab_d


def _k_layers(
    graph: RoadGraph,
    seed_node: I64,
    seed_src: I64,
    seed_w: F64,
    n_src: int,
    k: int,
    limit: float,
) -> tuple[I64, F64]:
    """k nearest distinct sources of every node by ``k`` multi-source SciPy Dijkstra runs.

    Labels propagate over the reversed graph (minutes from each node *to* a source).
    Layer ``t`` (0-based) finds, for every node ``q``, the nearest source not among its
    ``t`` labels ``S_q`` from the layers before. Over an edge ``p → q`` (reversed graph)
    the candidate is the best label of ``p`` whose source is not in ``S_q``: it is one
    of ``p``'s first ``t`` labels (a known constant), or, when those are exactly
    ``S_q``, ``p``'s own layer-``t`` label — so layer ``t`` is a shortest-path problem
    over the edges joining nodes with equal label sets, started from the constants and
    the seeds; one ``dijkstra(min_only=True)`` call with one virtual node per source
    solves it and reports which source won.

    Returns
    -------
    tuple
        ``src`` (n_nodes, k) source index or −1; ``mins`` (n_nodes, k) minutes (inf).
    """
    n = graph.n_nodes
    hp = np.repeat(np.arange(n), np.diff(graph.rev_indptr))
    hq, hw = graph.rev_indices, graph.rev_minutes
    L_s = np.full((n, k), -1, dtype=np.int64)
    L_d = np.full((n, k), np.inf)
    virt = n + np.arange(n_src)
    for t in range(k):
        if t == 0:
            c_node, c_src, c_w = seed_node, seed_src, seed_w
            dyn = np.ones(hp.size, dtype=bool)
        else:
            Sq = L_s[hq, :t]  # (E, t)
            Lp = L_s[hp, :t]
            member = (Lp[:, :, None] == Sq[:, None, :]).any(axis=2)  # (E, t)
            ok = (Lp >= 0) & ~member
            has = ok.any(axis=1)
            first = np.argmax(ok, axis=1)
            full_q = L_s[hq, t - 1] >= 0
            full_p = L_s[hp, t - 1] >= 0
            dyn = ~has & full_p & full_q
            const = has & full_q
            e = np.nonzero(const)[0]
            ce_w = L_d[hp[e], first[e]] + hw[e]
            ce_s = L_s[hp[e], first[e]]
            sm = (seed_src[:, None] != L_s[seed_node, :t]).all(axis=1) & (L_s[seed_node, t - 1] >= 0)
            c_node = np.concatenate([hq[e], seed_node[sm]])
            c_src = np.concatenate([ce_s, seed_src[sm]])
            c_w = np.concatenate([ce_w, seed_w[sm]])
        keep = c_w <= limit
        c_node, c_src, c_w = c_node[keep], c_src[keep], c_w[keep]
        if c_node.size == 0:
            break
        order = np.lexsort((c_w, c_node))
        c_node, c_src, c_w = c_node[order], c_src[order], c_w[order]
        firstc = np.r_[True, c_node[1:] != c_node[:-1]]
        c_node, c_src, c_w = c_node[firstc], c_src[firstc], c_w[firstc]
        # graph: dynamic edges + one virtual node per source linked to its candidate nodes
        eu = np.concatenate([hp[dyn], n + c_src])
        ev = np.concatenate([hq[dyn], c_node])
        ew = np.concatenate([hw[dyn], c_w])
        o2 = np.argsort(eu, kind="stable")
        indptr = np.zeros(n + n_src + 1, dtype=np.int64)
        np.cumsum(np.bincount(eu, minlength=n + n_src), out=indptr[1:])
        G = sparse.csr_matrix((ew[o2], ev[o2], indptr), shape=(n + n_src, n + n_src))
        dist, _, srcs = dijkstra(G, directed=True, indices=virt, min_only=True, return_predecessors=True,
                                 limit=limit)
        dist = dist[:n]
        srcs = srcs[:n]
        reach = np.isfinite(dist) & (srcs >= 0)
        L_d[reach, t] = dist[reach]
        L_s[reach, t] = srcs[reach] - n  # virtual node n + j stands for source j
    return L_s, L_d


def nearest(
    graph: RoadGraph,
    origins: gpd.GeoDataFrame | Literal["nodes"],
    destinations: gpd.GeoDataFrame,
    *,
    k: int = 3,
    cutoff_minutes: float | None = None,
    id_column: str | None = None,
    origin_id_column: str | None = None,
    destination_id_column: str | None = None,
    max_snap_m: float = 2000.0,
    snap_far: bool = False,
    snap_dropped: bool = False,
    access_speed_kmh: float | None = None,
    method: Literal["layers", "heap"] = "layers",
) -> pd.DataFrame:
    """The ``k`` nearest destinations (by travel time) of every origin.

    A multi-source k-label search from all destinations over the reversed graph
    (travel *to* the destination), not a full matrix: every node keeps the ``k``
    nearest distinct destinations.

    Parameters
    ----------
    graph
        The routing graph.
    origins
        Points (any CRS, CRS set), or ``"nodes"`` for every routing node (origin =
        node number, no access leg).
    destinations
        Points (e.g. schools).
    k
        How many nearest destinations per origin (≥ 1).
    cutoff_minutes
        Only destinations within this many minutes; None: no limit.
    id_column, origin_id_column, destination_id_column, max_snap_m, snap_far, snap_dropped, access_speed_kmh
        As in :func:`travel_time_matrix`.
    method
        ``"layers"`` (default): ``k`` vectorised multi-source SciPy Dijkstra runs, one
        per label rank (see ``_k_layers``); ``"heap"``: one k-label Dijkstra in pure
        Python (``heapq``). Same results; "layers" is several times faster.

    Returns
    -------
    pandas.DataFrame
        Long table ``origin, destination, rank, minutes`` (rank 1 = nearest), sorted by
        origin (input order) and rank. Origins with fewer than ``k`` reachable
        destinations get fewer rows; origins that cannot be snapped get none (they are
        named in an :class:`~schoolplan.errors.UnreachableWarning`).
    """
    if not (isinstance(k, int | np.integer) and k >= 1):
        raise ConfigError(f"k must be a whole number ≥ 1 (got {k!r})", fix="e.g. k=3")
    k = int(k)
    cutoff = _check_cutoff(cutoff_minutes)
    if method not in {"layers", "heap"}:
        raise ConfigError(f"unknown method {method!r}", fix="use 'layers' or 'heap'")
    d = _snap_side(graph, destinations, destination_id_column or id_column, "destinations", max_snap_m,
                   snap_far, access_speed_kmh, snap_dropped)
    di = np.nonzero(d.routable)[0]
    acc_d = np.nan_to_num(d.access, nan=0.0)
    s_node, s_src, s_w = [], [], []
    for arr_node, arr_w in ((d.a, d.in_a), (d.b, d.in_b)):
        w = arr_w[di] + acc_d[di]
        ok = np.isfinite(w) & (w <= cutoff)
        s_node.append(arr_node[di][ok])
        s_src.append(di[ok])
        s_w.append(w[ok])
    seed_node, seed_src, seed_w = np.concatenate(s_node), np.concatenate(s_src), np.concatenate(s_w)
    cols = ["origin", "destination", "rank", "minutes"]
    by_nodes = isinstance(origins, str)
    if by_nodes and origins != "nodes":
        raise ConfigError(f"origins must be points or 'nodes' (got '{origins}')", fix="use origins='nodes'")
    o = None
    needed: set[int] | None = None
    if not by_nodes:
        o = _snap_side(graph, origins, origin_id_column or id_column, "origins", max_snap_m, snap_far,
                       access_speed_kmh, snap_dropped)
        oi = np.nonzero(o.routable)[0]
        needed = set(o.a[oi].tolist()) | set(o.b[oi].tolist())
    if method == "layers":
        L_s, L_d = _k_layers(graph, seed_node, seed_src, seed_w, d.n, k, cutoff)
        lab_s = lab_d = None
    else:
        adj = _adjacency_lists(graph, reverse=True)
        seeds = list(zip(seed_w.tolist(), seed_node.tolist(), seed_src.tolist(), strict=True))
        lab_s, lab_d = _k_label(adj, seeds, k, cutoff, needed=needed)
        L_s = np.full((graph.n_nodes, k), -1, dtype=np.int64)
        L_d = np.full((graph.n_nodes, k), np.inf)
        for v, (ls, ld) in enumerate(zip(lab_s, lab_d, strict=True)):
            L_s[v, : len(ls)] = ls
            L_d[v, : len(ld)] = ld
    if by_nodes:
        node, rank0 = np.nonzero(L_s >= 0)
        return pd.DataFrame({"origin": node, "destination": d.ids.to_numpy()[L_s[node, rank0]],
                             "rank": (rank0 + 1).astype(np.int64), "minutes": L_d[node, rank0]}, columns=cols)
    assert o is not None
    # candidates: via either end of the origin's edge, or along the shared edge
    parts_i, parts_j, parts_t = [], [], []
    for ends, w in ((o.a, o.out_a), (o.b, o.out_b)):
        ww = w[oi]
        ok = np.isfinite(ww)
        ii = np.repeat(oi[ok], k)
        node = np.repeat(ends[oi][ok], k)
        rk = np.tile(np.arange(k), int(ok.sum()))
        src = L_s[node, rk]
        has = src >= 0
        parts_i.append(ii[has])
        parts_j.append(src[has])
        parts_t.append((L_d[node, rk] + np.repeat(ww[ok], k))[has])
    i, j, t = _same_chain(o, d, oi, di)
    if i.size:
        parts_i.append(i)
        parts_j.append(j)
        parts_t.append(t + acc_d[j])
    ci = np.concatenate(parts_i)
    cj = np.concatenate(parts_j)
    ct = np.concatenate(parts_t) + np.nan_to_num(o.access, nan=0.0)[ci]
    keep = ct <= cutoff
    ci, cj, ct = ci[keep], cj[keep], ct[keep]
    order = np.lexsort((cj, ct, ci))
    ci, cj, ct = ci[order], cj[order], ct[order]
    # distinct destinations per origin (first = fastest)
    pair = ci * np.int64(d.n + 1) + cj
    _, first = np.unique(pair, return_index=True)
    first.sort()
    ci, cj, ct = ci[first], cj[first], ct[first]
    start = np.concatenate([[True], ci[1:] != ci[:-1]])
    grp = np.cumsum(start) - 1
    rank = np.arange(ci.size) - np.nonzero(start)[0][grp] + 1
    sel = rank <= k
    return pd.DataFrame({"origin": o.ids.to_numpy()[ci[sel]], "destination": d.ids.to_numpy()[cj[sel]],
                         "rank": rank[sel].astype(np.int64), "minutes": ct[sel]}, columns=cols)


# --------------------------------------------------------------------------- isochrones
def _samples(graph: RoadGraph, spacing_m: float) -> dict[str, NDArray[Any]]:
    """Points along every chain at most ``spacing_m`` apart, with their time coordinates."""
    key = f"samples_{spacing_m:.3f}"
    cached = graph._cache.get(key)
    if cached is not None:
        return cached
    sg = graph._segments
    ch = graph._chains
    assert sg is not None and ch is not None
    nseg_pts = np.maximum(1, np.ceil(sg.length_m / spacing_m).astype(np.int64))
    last = sg.pos == ch.n_seg[sg.chain] - 1
    per = nseg_pts + last  # the chain's last segment also gets its end point
    seg_rep = np.repeat(np.arange(sg.x0.size), per)
    k = np.arange(per.sum()) - np.repeat(np.cumsum(per) - per, per)
    t = k / nseg_pts[seg_rep]
    c = sg.chain[seg_rep]
    fok = np.isfinite(ch.t_fwd[c])
    bok = np.isfinite(ch.t_bwd[c])
    f = np.where(fok, sg.f0[seg_rep] + t * np.where(fok, sg.tf[seg_rep], 0.0), 0.0)
    bk = np.where(bok, sg.b0[seg_rep] + t * np.where(bok, sg.tb[seg_rep], 0.0), 0.0)
    x = sg.x0[seg_rep] + t * (sg.x1[seg_rep] - sg.x0[seg_rep])
    y = sg.y0[seg_rep] + t * (sg.y1[seg_rep] - sg.y0[seg_rep])
    param = sg.pos[seg_rep] + t
    order = np.argsort(c, kind="stable")
    out = {"x": x[order], "y": y[order], "chain": c[order], "f": f[order], "bk": bk[order],
           "param": param[order]}
    graph._cache[key] = out
    return out


def _cells_polygon(x: F64, y: F64, cell: float, x0: float, y0: float, fill_holes: bool) -> Any:
    """Union of the grid cells containing the points (cells of a global grid at x0, y0)."""
    if x.size == 0:
        return None
    ix = np.floor((x - x0) / cell).astype(np.int64)
    iy = np.floor((y - y0) / cell).astype(np.int64)
    return raster_polygon(ix, iy, cell, x0, y0, fill_holes=fill_holes)


def isochrones(
    graph: RoadGraph,
    points: gpd.GeoDataFrame,
    *,
    minutes: float | Sequence[float] = 20.0,
    direction: Literal["to", "from"] = "to",
    method: Literal["grid", "convex", "concave"] = "grid",
    cell_m: float = 250.0,
    ratio: float = 0.3,
    fill_holes: bool = True,
    targets: gpd.GeoDataFrame | None = None,
    target_id_column: str | None = None,
    id_column: str | None = None,
    max_snap_m: float = 2000.0,
    snap_far: bool = False,
    snap_dropped: bool = False,
    access_speed_kmh: float | None = None,
) -> gpd.GeoDataFrame:
    """Areas within a travel time of each point (等时圈), e.g. a school's 20-minute catchment.

    Parameters
    ----------
    graph
        The routing graph.
    points
        Points (e.g. schools), any CRS with a CRS set.
    minutes
        One time or several (one row per point and time), minutes.
    direction
        ``"to"`` (default): places from which the point is reached within the time —
        a school's catchment for pupils travelling to it; ``"from"``: places reached
        from the point.
    method
        ``"grid"`` (default): union of ``cell_m`` grid cells containing reached road
        (nodes and the reached parts of edges, sampled every ``cell_m / 2``);
        ``"convex"``: convex hull of the reached road; ``"concave"``: shapely
        ``concave_hull`` with ``ratio``.
    cell_m
        Grid cell size (and sampling step × 2), metres.
    ratio
        Concave-hull ratio (0 = tightest, 1 = convex).
    fill_holes
        Grid method: fill areas enclosed by reached cells.
    targets
        Optional points (e.g. villages): each row then lists the targets reached within
        the time (``reached``: list of ids; ``n_reached``), using exact travel times
        (:func:`travel_time_matrix`, same direction).
    target_id_column, id_column
        Id columns of ``targets`` and ``points`` (default: the index).
    max_snap_m, snap_far, snap_dropped, access_speed_kmh
        Snapping options.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``id``, ``minutes``, ``status`` (snapping status), ``n_nodes`` (routing
        nodes reached), ``area_km2``, [``n_reached``, ``reached``], ``geometry``
        (Polygon / MultiPolygon in the graph CRS; None when the point is not
        routable). Reached road includes the point's own access leg time.
    """
    if direction not in {"to", "from"}:
        raise ConfigError(f"direction must be 'to' or 'from' (got {direction!r})", fix="use 'to' or 'from'")
    if method not in {"grid", "convex", "concave"}:
        raise ConfigError(f"method must be 'grid', 'convex' or 'concave' (got {method!r})",
                          fix="use method='grid'")
    bands = [minutes] if isinstance(minutes, int | float) else list(minutes)
    if not bands:
        raise ConfigError("minutes is empty", fix="give at least one time, e.g. minutes=20")
    bands = sorted({_check_cutoff(b, "minutes") for b in bands})
    if not cell_m > 0:
        raise ConfigError("cell_m must be > 0", fix="give a cell size in metres, e.g. 250")
    T = bands[-1]
    p = _snap_side(graph, points, id_column, "points", max_snap_m, snap_far, access_speed_kmh, snap_dropped)
    ch = graph._chains
    assert ch is not None
    smp = _samples(graph, cell_m / 2.0)
    s_chain, s_f, s_bk, s_param = smp["chain"], smp["f"], smp["bk"], smp["param"]
    Tf_s, Tb_s = ch.t_fwd[s_chain], ch.t_bwd[s_chain]
    fok_s, bok_s = np.isfinite(Tf_s), np.isfinite(Tb_s)
    x0 = float(np.floor(graph.node_x.min() / cell_m) * cell_m) - cell_m
    y0 = float(np.floor(graph.node_y.min() / cell_m) * cell_m) - cell_m
    pi = np.nonzero(p.routable)[0]
    acc = np.nan_to_num(p.access, nan=0.0)
    results: dict[int, list[tuple[Any, int]]] = {}
    reverse = direction == "to"
    for rows, D in _node_times(graph, p, pi, reverse=reverse, limit=T):
        for r, Dn in zip(rows.tolist(), D, strict=True):
            a_c, b_c = Dn[ch.a], Dn[ch.b]
            budget = T - acc[r]
            cmask = (a_c <= budget) | (b_c <= budget)
            cmask[p.chain[r]] = True
            sel = np.nonzero(cmask[s_chain])[0]
            c = s_chain[sel]
            if reverse:  # sample -> point
                t1 = np.where(fok_s[sel], Tf_s[sel] - s_f[sel] + b_c[c], np.inf)
                t2 = np.where(bok_s[sel], s_bk[sel] + a_c[c], np.inf)
            else:  # point -> sample
                t1 = np.where(fok_s[sel], a_c[c] + s_f[sel], np.inf)
                t2 = np.where(bok_s[sel], b_c[c] + Tb_s[sel] - s_bk[sel], np.inf)
            tt = np.minimum(t1, t2)
            own = c == p.chain[r]
            if own.any():
                sp_ = s_param[sel][own]
                pr = p.param[r]
                direct = np.full(sp_.size, np.inf)
                fo, bo = fok_s[sel][own], bok_s[sel][own]
                sf, sb = s_f[sel][own], s_bk[sel][own]
                if reverse:
                    direct = np.where((sp_ <= pr) & fo, p.f[r] - sf, direct)
                    direct = np.where((sp_ >= pr) & bo, np.minimum(direct, sb - p.bk[r]), direct)
                else:
                    direct = np.where((sp_ >= pr) & fo, sf - p.f[r], direct)
                    direct = np.where((sp_ <= pr) & bo, np.minimum(direct, p.bk[r] - sb), direct)
                direct = np.where(sp_ == pr, 0.0, direct)
                tt[own] = np.minimum(tt[own], np.maximum(direct, 0.0))
            tt = tt + acc[r]
            out = []
            for band in bands:
                hit = sel[tt <= band]
                geom = _shape(smp["x"][hit], smp["y"][hit], method, cell_m, ratio, x0, y0, fill_holes)
                out.append((geom, int((Dn + acc[r] <= band).sum())))
            results[r] = out
    recs = []
    for r in range(p.n):
        for bi, band in enumerate(bands):
            geom, nn = results[r][bi] if r in results else (None, 0)
            recs.append({"id": p.ids[r], "minutes": band, "status": p.status[r], "n_nodes": nn,
                         "geometry": geom})
    gdf = gpd.GeoDataFrame(recs, geometry="geometry", crs=graph.crs)
    gdf["area_km2"] = gdf.geometry.area / 1e6
    if targets is not None:
        if direction == "to":
            M = travel_time_matrix(graph, targets, points, cutoff_minutes=T, origin_id_column=target_id_column,
                                   destination_id_column=id_column, max_snap_m=max_snap_m, snap_far=snap_far,
                                   snap_dropped=snap_dropped, access_speed_kmh=access_speed_kmh,
                                   dtype=np.float64).to_numpy().T
            tids = _ids_of(graph, targets, target_id_column)
        else:
            M = travel_time_matrix(graph, points, targets, cutoff_minutes=T, origin_id_column=id_column,
                                   destination_id_column=target_id_column, max_snap_m=max_snap_m,
                                   snap_far=snap_far, snap_dropped=snap_dropped,
                                   access_speed_kmh=access_speed_kmh, dtype=np.float64).to_numpy()
            tids = _ids_of(graph, targets, target_id_column)
        reached, nreach = [], []
        for r in range(p.n):
            for band in bands:
                hit = np.nonzero(M[r] <= band)[0]
                reached.append(tids[hit].tolist())
                nreach.append(int(hit.size))
        gdf["n_reached"] = nreach
        gdf["reached"] = reached
    cols = [c for c in ["id", "minutes", "status", "n_nodes", "area_km2", "n_reached", "reached", "geometry"]
            if c in gdf.columns]
    return gdf[cols]


def _ids_of(graph: RoadGraph, pts: gpd.GeoDataFrame, id_column: str | None) -> NDArray[Any]:
    if id_column is not None:
        return pts[id_column].to_numpy()
    return pts.index.to_numpy()


def _shape(x: F64, y: F64, method: str, cell: float, ratio: float, x0: float, y0: float,
           fill_holes: bool) -> Any:
    if x.size == 0:
        return None
    if method == "grid":
        return _cells_polygon(x, y, cell, x0, y0, fill_holes)
    mp = shapely.multipoints(np.column_stack([x, y]))
    geom = shapely.convex_hull(mp) if method == "convex" else shapely.concave_hull(mp, ratio=ratio)
    if geom.geom_type not in {"Polygon", "MultiPolygon"}:
        geom = geom.buffer(cell / 2.0)
    return geom

