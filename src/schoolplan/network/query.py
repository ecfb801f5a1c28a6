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
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from schoolplan.errors import ConfigError
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
               snap_far: bool, access_speed_kmh: float | None) -> _Snapped:
    ids, x, y = prepare_points(graph, points, id_column=id_column, role=role)
    return snap(graph, ids, x, y, max_snap_m=max_snap_m, snap_far=snap_far,
                access_speed_kmh=access_speed_kmh, role=role)


def _augmented(graph: RoadGraph, reverse: bool, heads: Sequence[tuple[I64, F64]]) -> sparse.csr_matrix:
    """The graph (or its reverse) plus one virtual source node per search point.

    ``heads`` lists, per end (a and b), the node each virtual source links to and the
    link time; ``inf`` links are left out.
    """
    if reverse:
        indptr, indices, data = graph.rev_indptr, graph.rev_indices, graph.rev_minutes
    else:
        indptr, indices, data = graph.indptr, graph.indices, graph.minutes
    n = graph.n_nodes
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


def _node_times(
    graph: RoadGraph, src: _Snapped, rows: I64, *, reverse: bool, limit: float
) -> Iterator[tuple[I64, F64]]:
    """Shortest minutes from each source point in ``rows`` to every node (or, with
    ``reverse``, from every node to the point), in memory-bounded blocks.

    Yields ``(block rows, array (len(block), n_nodes))``; the source's access leg is
    not included.
    """
    n = graph.n_nodes
    if reverse:  # node -> point: links from the end nodes into the point
        heads = [(src.a[rows], src.in_a[rows]), (src.b[rows], src.in_b[rows])]
    else:
        heads = [(src.a[rows], src.out_a[rows]), (src.b[rows], src.out_b[rows])]
    G = _augmented(graph, reverse, heads)
    block = max(1, int(_BLOCK_BYTES // (8 * (n + rows.size))))
    acc = np.nan_to_num(src.access[rows], nan=0.0)
    for start in range(0, rows.size, block):
        sel = np.arange(start, min(start + block, rows.size))
        lim = limit - float(acc[sel].min()) if math.isfinite(limit) else np.inf
        if lim < 0:
            yield rows[sel], np.full((sel.size, n), np.inf)
            continue
        D = dijkstra(G, directed=True, indices=n + sel, limit=lim * (1 + 1e-12) + 1e-12)
        yield rows[sel], D[:, :n]


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


def _od(
    graph: RoadGraph, o: _Snapped, d: _Snapped, cutoff: float
) -> F64:
    """Full origins × destinations minutes (float64, inf = unreachable / beyond cutoff)."""
    res = np.full((o.n, d.n), np.inf)
    oi = np.nonzero(o.routable)[0]
    di = np.nonzero(d.routable)[0]
    if oi.size == 0 or di.size == 0:
        return res
    if di.size <= oi.size:  # search from the destinations on the reversed graph
        oa, ob = o.a[oi], o.b[oi]
        wa, wb = o.out_a[oi], o.out_b[oi]
        for rows, D in _node_times(graph, d, di, reverse=True, limit=cutoff):
            T = np.minimum(D[:, oa] + wa, D[:, ob] + wb)  # (block, n_o)
            res[np.ix_(oi, rows)] = T.T
    else:
        da, db = d.a[di], d.b[di]
        wa, wb = d.in_a[di], d.in_b[di]
        for rows, D in _node_times(graph, o, oi, reverse=False, limit=cutoff):
            res[np.ix_(rows, di)] = np.minimum(D[:, da] + wa, D[:, db] + wb)
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
    access_speed_kmh: float | None = None,
    dtype: Any = np.float32,
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
    max_snap_m, snap_far, access_speed_kmh
        Snapping options (see :func:`~schoolplan.network.snap.snap_points`).
    dtype
        Result type; ``float32`` (default) keeps ~1e-5 min precision at 60 min; use
        ``float64`` for exact comparisons.

    Returns
    -------
    pandas.DataFrame
        Index = origin ids, columns = destination ids, values = minutes; NaN for
        unreachable pairs, pairs beyond the cutoff, and points that could not be
        snapped (reported with an :class:`~schoolplan.errors.UnreachableWarning`).

    Notes
    -----
    Dijkstra runs from the side with fewer points (from the destinations on the
    reversed graph when they are fewer), one virtual source per point linked to the
    two ends of its edge, in blocks of bounded memory (≤ 64 MB), with ``limit`` set
    from the cutoff.
    """
    cutoff = _check_cutoff(cutoff_minutes)
    o = _snap_side(graph, origins, origin_id_column or id_column, "origins", max_snap_m, snap_far,
                   access_speed_kmh)
    d = _snap_side(graph, destinations, destination_id_column or id_column, "destinations", max_snap_m,
                   snap_far, access_speed_kmh)
    res = _od(graph, o, d, cutoff)
    res[~np.isfinite(res)] = np.nan
    return pd.DataFrame(res.astype(dtype, copy=False), index=o.ids, columns=d.ids)


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
    access_speed_kmh: float | None = None,
) -> pd.DataFrame:
    """The ``k`` nearest destinations (by travel time) of every origin.

    One multi-source k-label Dijkstra from all destinations over the reversed graph
    (travel *to* the destination), not a full matrix.

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
    id_column, origin_id_column, destination_id_column, max_snap_m, snap_far, access_speed_kmh
        As in :func:`travel_time_matrix`.

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
    d = _snap_side(graph, destinations, destination_id_column or id_column, "destinations", max_snap_m,
                   snap_far, access_speed_kmh)
    di = np.nonzero(d.routable)[0]
    acc_d = np.nan_to_num(d.access, nan=0.0)
    seeds: list[tuple[float, int, int]] = []
    for arr_node, arr_w in ((d.a, d.in_a), (d.b, d.in_b)):
        w = arr_w[di] + acc_d[di]
        ok = np.isfinite(w) & (w <= cutoff)
        seeds += list(zip(w[ok].tolist(), arr_node[di][ok].tolist(), di[ok].tolist(), strict=True))
    adj = _adjacency_lists(graph, reverse=True)
    cols = ["origin", "destination", "rank", "minutes"]
    if isinstance(origins, str):
        if origins != "nodes":
            raise ConfigError(f"origins must be points or 'nodes' (got '{origins}')", fix="use origins='nodes'")
        lab_s, lab_d = _k_label(adj, seeds, k, cutoff)
        cnt = np.fromiter((len(x) for x in lab_s), dtype=np.int64, count=len(lab_s))
        origin = np.repeat(np.arange(len(lab_s)), cnt)
        src = np.fromiter((s for x in lab_s for s in x), dtype=np.int64, count=int(cnt.sum()))
        mins = np.fromiter((t for x in lab_d for t in x), dtype=np.float64, count=int(cnt.sum()))
        rank = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt) + 1
        return pd.DataFrame({"origin": origin, "destination": d.ids.to_numpy()[src],
                             "rank": rank.astype(np.int64), "minutes": mins}, columns=cols)
    o = _snap_side(graph, origins, origin_id_column or id_column, "origins", max_snap_m, snap_far,
                   access_speed_kmh)
    oi = np.nonzero(o.routable)[0]
    needed = set(o.a[oi].tolist()) | set(o.b[oi].tolist())
    lab_s, lab_d = _k_label(adj, seeds, k, cutoff, needed=needed)
    # candidates: via either end of the origin's edge, or along the shared edge
    parts_i, parts_j, parts_t = [], [], []
    for ends, w in ((o.a, o.out_a), (o.b, o.out_b)):
        ww = w[oi]
        ok = np.isfinite(ww)
        for i_, node, wt in zip(oi[ok].tolist(), ends[oi][ok].tolist(), ww[ok].tolist(), strict=True):
            ls, ld = lab_s[node], lab_d[node]
            if ls:
                parts_i.append(np.full(len(ls), i_))
                parts_j.append(np.asarray(ls))
                parts_t.append(np.asarray(ld) + wt)
    i, j, t = _same_chain(o, d, oi, di)
    if i.size:
        parts_i.append(i)
        parts_j.append(j)
        parts_t.append(t + acc_d[j])
    if not parts_i:
        return pd.DataFrame({c: pd.Series(dtype=t_) for c, t_ in
                             zip(cols, [o.ids.dtype, d.ids.dtype, np.int64, np.float64], strict=True)})
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
    width = np.int64(ix.max() + 2)
    keys = np.unique(iy * width + ix)
    cy, cx = np.divmod(keys, width)
    boxes = shapely.box(x0 + cx * cell, y0 + cy * cell, x0 + (cx + 1) * cell, y0 + (cy + 1) * cell)
    poly = shapely.coverage_union_all(boxes)
    if fill_holes:
        poly = _fill_holes(poly)
    return poly


def _fill_holes(poly: Any) -> Any:
    """Drop interior rings (and the parts lying inside them)."""
    if poly is None or poly.is_empty:
        return poly
    parts = shapely.get_parts(poly)
    n_holes = shapely.get_num_interior_rings(parts)
    if n_holes.sum() == 0:
        return poly
    shells = shapely.polygons(shapely.get_exterior_ring(parts))
    ring_parts = np.repeat(np.arange(parts.size), n_holes)
    ring_idx = np.concatenate([np.arange(k) for k in n_holes]) if ring_parts.size else ring_parts
    holes = shapely.polygons(shapely.get_interior_ring(parts[ring_parts], ring_idx))
    inside, _ = shapely.STRtree(holes).query(shapely.point_on_surface(parts), predicate="within")
    keep = np.setdiff1d(np.arange(parts.size), inside)
    return shapely.multipolygons(shells[keep]) if keep.size > 1 else shells[keep[0]]


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
    max_snap_m, snap_far, access_speed_kmh
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
    p = _snap_side(graph, points, id_column, "points", max_snap_m, snap_far, access_speed_kmh)
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
                                   access_speed_kmh=access_speed_kmh, dtype=np.float64).to_numpy().T
            tids = _ids_of(graph, targets, target_id_column)
        else:
            M = travel_time_matrix(graph, points, targets, cutoff_minutes=T, origin_id_column=id_column,
                                   destination_id_column=target_id_column, max_snap_m=max_snap_m,
                                   snap_far=snap_far, access_speed_kmh=access_speed_kmh,
                                   dtype=np.float64).to_numpy()
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

