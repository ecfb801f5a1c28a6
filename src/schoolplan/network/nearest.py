"""The k nearest destinations (by travel time) of every origin: a multi-source
k-label search from all destinations over the reversed graph, not a full matrix.

Two exact methods: ``"layers"`` (``k`` vectorised multi-source SciPy Dijkstra runs,
one per label rank) and ``"heap"`` (one k-label Dijkstra in pure Python).
"""

from __future__ import annotations

import heapq
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from schoolplan.errors import ConfigError
from schoolplan.network._core import F64, I64, derived
from schoolplan.network._search import check_cutoff, same_chain
from schoolplan.network.graph import RoadGraph
from schoolplan.network.snap import SnappedPoints, resolve_points

__all__ = ["nearest"]


def _adjacency_lists(graph: RoadGraph, reverse: bool) -> list[list[tuple[int, float]]]:
    """Python adjacency lists (node → [(neighbour, minutes)]), built once per graph."""

    def make() -> list[list[tuple[int, float]]]:
        if reverse:
            ptr, idx, w = graph.rev_indptr, graph.rev_indices, graph.rev_minutes
        else:
            ptr, idx, w = graph.indptr, graph.indices, graph.minutes
        pairs = list(zip(idx.tolist(), w.tolist(), strict=True))
        p = ptr.tolist()
        return [pairs[p[i]:p[i + 1]] for i in range(graph.n_nodes)]

    return derived(graph, f"adj_{'rev' if reverse else 'fwd'}", make)


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
    origins: gpd.GeoDataFrame | SnappedPoints | Literal["nodes"],
    destinations: gpd.GeoDataFrame | SnappedPoints,
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
        Points (any CRS, CRS set), points prepared on this graph
        (:func:`~schoolplan.network.snap.prepare_points`), or ``"nodes"`` for every
        routing node (origin = node number, no access leg).
    destinations
        Points (e.g. schools), or prepared points.
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
    cutoff = check_cutoff(cutoff_minutes)
    if method not in {"layers", "heap"}:
        raise ConfigError(f"unknown method {method!r}", fix="use 'layers' or 'heap'")
    by_nodes = isinstance(origins, str)
    if by_nodes and origins != "nodes":
        raise ConfigError(f"origins must be points or 'nodes' (got '{origins}')", fix="use origins='nodes'")
    opts = {"max_snap_m": max_snap_m, "snap_far": snap_far, "snap_dropped": snap_dropped,
            "access_speed_kmh": access_speed_kmh}
    d = resolve_points(graph, destinations, role="destinations", id_column=destination_id_column or id_column,
                       **opts)
    seeds = _seeds(d, cutoff)
    o = None if by_nodes else resolve_points(graph, origins, role="origins",
                                             id_column=origin_id_column or id_column, **opts)
    L_s, L_d = _labels(graph, seeds, d.n, k, cutoff, method, o)
    if o is None:
        node, rank0 = np.nonzero(L_s >= 0)
        return pd.DataFrame({"origin": node, "destination": d.ids.to_numpy()[L_s[node, rank0]],
                             "rank": (rank0 + 1).astype(np.int64), "minutes": L_d[node, rank0]}, columns=_COLS)
    ci, cj, ct = _candidates(o, d, L_s, L_d, k, cutoff)
    return _ranked(o, d, ci, cj, ct, k)


_COLS = ["origin", "destination", "rank", "minutes"]


def _seeds(d: SnappedPoints, cutoff: float) -> tuple[I64, I64, F64]:
    """Search seeds: (node, destination, minutes from the node to the destination incl. access)."""
    di = np.nonzero(d.routable)[0]
    acc_d = np.nan_to_num(d.access, nan=0.0)
    s_node, s_src, s_w = [], [], []
    for arr_node, arr_w in ((d.a, d.in_a), (d.b, d.in_b)):
        w = arr_w[di] + acc_d[di]
        ok = np.isfinite(w) & (w <= cutoff)
        s_node.append(arr_node[di][ok])
        s_src.append(di[ok])
        s_w.append(w[ok])
    return np.concatenate(s_node), np.concatenate(s_src), np.concatenate(s_w)


def _labels(graph: RoadGraph, seeds: tuple[I64, I64, F64], n_dest: int, k: int, cutoff: float, method: str,
            o: SnappedPoints | None) -> tuple[I64, F64]:
    """The k nearest destinations of every node: (n_nodes, k) sources (−1) and minutes (inf)."""
    seed_node, seed_src, seed_w = seeds
    if method == "layers":
        return _k_layers(graph, seed_node, seed_src, seed_w, n_dest, k, cutoff)
    needed = None
    if o is not None:
        oi = np.nonzero(o.routable)[0]
        needed = set(o.a[oi].tolist()) | set(o.b[oi].tolist())
    adj = _adjacency_lists(graph, reverse=True)
    heap_seeds = list(zip(seed_w.tolist(), seed_node.tolist(), seed_src.tolist(), strict=True))
    lab_s, lab_d = _k_label(adj, heap_seeds, k, cutoff, needed=needed)
    L_s = np.full((graph.n_nodes, k), -1, dtype=np.int64)
    L_d = np.full((graph.n_nodes, k), np.inf)
    for v, (ls, ld) in enumerate(zip(lab_s, lab_d, strict=True)):
        L_s[v, : len(ls)] = ls
        L_d[v, : len(ld)] = ld
    return L_s, L_d


def _candidates(o: SnappedPoints, d: SnappedPoints, L_s: I64, L_d: F64, k: int,
                cutoff: float) -> tuple[I64, I64, F64]:
    """(origin, destination, minutes) candidates: via either end of the origin's edge, or
    along a shared edge; within the cutoff."""
    oi = np.nonzero(o.routable)[0]
    di = np.nonzero(d.routable)[0]
    acc_d = np.nan_to_num(d.access, nan=0.0)
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
    i, j, t = same_chain(o, d, oi, di)
    if i.size:
        parts_i.append(i)
        parts_j.append(j)
        parts_t.append(t + acc_d[j])
    ci = np.concatenate(parts_i)
    cj = np.concatenate(parts_j)
    ct = np.concatenate(parts_t) + np.nan_to_num(o.access, nan=0.0)[ci]
    keep = ct <= cutoff
    return ci[keep], cj[keep], ct[keep]


def _ranked(o: SnappedPoints, d: SnappedPoints, ci: I64, cj: I64, ct: F64, k: int) -> pd.DataFrame:
    """The k fastest distinct destinations per origin, ranked."""
    order = np.lexsort((cj, ct, ci))
    ci, cj, ct = ci[order], cj[order], ct[order]
    pair = ci * np.int64(d.n + 1) + cj
    _, first = np.unique(pair, return_index=True)  # distinct destinations per origin (first = fastest)
    first.sort()
    ci, cj, ct = ci[first], cj[first], ct[first]
    start = np.concatenate([[True], ci[1:] != ci[:-1]])
    grp = np.cumsum(start) - 1
    rank = np.arange(ci.size) - np.nonzero(start)[0][grp] + 1
    sel = rank <= k
    return pd.DataFrame({"origin": o.ids.to_numpy()[ci[sel]], "destination": d.ids.to_numpy()[cj[sel]],
                         "rank": rank[sel].astype(np.int64), "minutes": ct[sel]}, columns=_COLS)
