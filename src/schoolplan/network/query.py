"""Travel-time queries: OD matrices, dense or sparse (reachable pairs only).

Every query snaps its points to road edges (:mod:`schoolplan.network.snap`, or takes
points snapped once with :func:`~schoolplan.network.snap.prepare_points`), then
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

:func:`travel_time_matrix` returns the full origins × destinations table;
:func:`travel_times_long` (or ``travel_time_matrix(..., sparse=True)``) only the
pairs within the cutoff, computed search by search from the nodes each search
reaches — never allocating origins × destinations — with the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from schoolplan.errors import ConfigError
from schoolplan.network._core import F64, I64
from schoolplan.network._search import check_cutoff, peel, run_blocks, same_chain, search_plan
from schoolplan.network.graph import RoadGraph
from schoolplan.network.snap import SnappedPoints, resolve_points

__all__ = ["travel_time_matrix", "travel_times_long"]

Points = gpd.GeoDataFrame | SnappedPoints


def _sides(graph: RoadGraph, origins: Points, destinations: Points, *, id_column: str | None,
           origin_id_column: str | None, destination_id_column: str | None, max_snap_m: float, snap_far: bool,
           snap_dropped: bool, access_speed_kmh: float | None) -> tuple[SnappedPoints, SnappedPoints]:
    opts = {"max_snap_m": max_snap_m, "snap_far": snap_far, "snap_dropped": snap_dropped,
            "access_speed_kmh": access_speed_kmh}
    o = resolve_points(graph, origins, role="origins", id_column=origin_id_column or id_column, **opts)
    d = resolve_points(graph, destinations, role="destinations", id_column=destination_id_column or id_column,
                       **opts)
    return o, d


def _search_from_destinations(o: SnappedPoints, d: SnappedPoints, search_from: str) -> bool:
    """Search from the destinations (reversed graph) when they are fewer, or when asked."""
    if search_from not in {"auto", "origins", "destinations"}:
        raise ConfigError(f"search_from must be 'auto', 'origins' or 'destinations' (got {search_from!r})",
                          fix="use 'auto'")
    if search_from == "auto":
        return int(d.routable.sum()) <= int(o.routable.sum())
    return search_from == "destinations"


# --------------------------------------------------------------------------- dense
def _od(graph: RoadGraph, o: SnappedPoints, d: SnappedPoints, cutoff: float, *, reverse: bool,
        n_jobs: int = 1) -> F64:
    """Full origins × destinations minutes (float64, inf = unreachable / beyond cutoff)."""
    res = np.full((o.n, d.n), np.inf)
    oi = np.nonzero(o.routable)[0]
    di = np.nonzero(d.routable)[0]
    if oi.size == 0 or di.size == 0:
        return res
    if reverse:  # search from the destinations on the reversed graph
        ca, cb, wa, wb = o.a[oi], o.b[oi], o.out_a[oi], o.out_b[oi]
        plan = search_plan(graph, d, di, reverse=True, limit=cutoff, n_jobs=n_jobs)
    else:
        ca, cb, wa, wb = d.a[di], d.b[di], d.in_a[di], d.in_b[di]
        plan = search_plan(graph, o, oi, reverse=False, limit=cutoff, n_jobs=n_jobs)

    def gather(dist: F64, _sel: I64) -> F64:
        return np.minimum(dist[:, ca] + wa, dist[:, cb] + wb)

    for sel, T in run_blocks(graph, plan, fill=np.concatenate([ca, cb]), finish=gather):
        if reverse:
            res[np.ix_(oi, di[sel])] = T.T
        else:
            res[np.ix_(oi[sel], di)] = T
    i, j, t = same_chain(o, d, oi, di)
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
    origins: Points,
    destinations: Points,
    *,
    cutoff_minutes: float | None = None,
    sparse: bool = False,
    id_column: str | None = None,
    origin_id_column: str | None = None,
    destination_id_column: str | None = None,
    max_snap_m: float = 2000.0,
    snap_far: bool = False,
    snap_dropped: bool = False,
    access_speed_kmh: float | None = None,
    dtype: Any = np.float32,
    n_jobs: int = 1,
    search_from: Literal["auto", "origins", "destinations"] = "auto",
) -> pd.DataFrame:
    """Travel times (出行时间矩阵) from every origin to every destination, minutes.

    Parameters
    ----------
    graph
        The routing graph.
    origins, destinations
        Points in any CRS (CRS set), reprojected to the graph CRS; or
        :class:`~schoolplan.network.snap.SnappedPoints` prepared once on this graph
        (:func:`~schoolplan.network.snap.prepare_points`).
    cutoff_minutes
        Pairs slower than this are NaN; also bounds the search (faster). None: no cutoff.
    sparse
        Return only the pairs within the cutoff as a long table, as
        :func:`travel_times_long` does (memory grows with the reachable pairs, not
        with origins × destinations). Default False: the full table.
    id_column, origin_id_column, destination_id_column
        Id columns (default: the index); ids must be unique. Ignored for prepared
        points (their ids were fixed by ``prepare_points``).
    max_snap_m, snap_far, snap_dropped, access_speed_kmh
        Snapping options (see :func:`~schoolplan.network.snap.snap_points`): distance
        beyond which points are "far" (m), snap far points anyway, snap points on
        dropped parts to the main network, access-leg speed (km/h). For prepared
        points, options other than the defaults must match the ones used.
    dtype
        Result type; ``float32`` (default) keeps ~1e-5 min precision at 60 min; use
        ``float64`` for exact comparisons.
    n_jobs
        Worker processes for the searches (forked; POSIX). 1 (default) runs in this
        process. More only pays off for large jobs on idle cores: forking and copying
        results back costs ~0.1 s, and on a busy machine it is slower.
    search_from
        ``"auto"`` (default): search from the side with fewer routable points;
        ``"origins"`` / ``"destinations"`` force a side (the same numbers up to the
        last bits of floating-point addition).

    Returns
    -------
    pandas.DataFrame
        Index = origin ids, columns = destination ids, values = minutes; NaN for
        unreachable pairs, pairs beyond the cutoff, and points that could not be
        snapped (reported with an :class:`~schoolplan.errors.UnreachableWarning` and in
        ``result.attrs["unroutable_origins"]`` / ``["unroutable_destinations"]``:
        ``{id: "far" | "dropped"}``). With ``sparse=True``, the long table of
        :func:`travel_times_long`.

    Notes
    -----
    Dijkstra runs from the side with fewer points (from the destinations on the
    reversed graph when they are fewer), one virtual source per point linked to the
    two ends of its edge, in blocks of bounded memory (≤ 64 MB), with ``limit`` set
    from the cutoff.
    """
    opts = {"id_column": id_column, "origin_id_column": origin_id_column,
            "destination_id_column": destination_id_column, "max_snap_m": max_snap_m, "snap_far": snap_far,
            "snap_dropped": snap_dropped, "access_speed_kmh": access_speed_kmh}
    if sparse:
        return travel_times_long(graph, origins, destinations, cutoff_minutes=cutoff_minutes, dtype=dtype,
                                 n_jobs=n_jobs, search_from=search_from, **opts)
    cutoff = check_cutoff(cutoff_minutes)
    o, d = _sides(graph, origins, destinations, **opts)
    res = _od(graph, o, d, cutoff, reverse=_search_from_destinations(o, d, search_from), n_jobs=n_jobs)
    res[~np.isfinite(res)] = np.nan
    out = pd.DataFrame(res.astype(dtype, copy=False), index=o.ids, columns=d.ids)
    _unroutable_attrs(out, o, d)
    return out


def _unroutable_attrs(out: pd.DataFrame, o: SnappedPoints, d: SnappedPoints) -> None:
    out.attrs["unroutable_origins"] = dict(zip(o.ids[~o.routable].tolist(), o.status[~o.routable].tolist(),
                                               strict=True))
    out.attrs["unroutable_destinations"] = dict(zip(d.ids[~d.routable].tolist(),
                                                    d.status[~d.routable].tolist(), strict=True))


# --------------------------------------------------------------------------- sparse
@dataclass(frozen=True, eq=False)
class _EndIndex:
    """The points on the far side of the searches, indexed by the node each end hangs on.

    For end ``e`` (a or b) of target ``t``: the search node ``node_e[t]`` (the end
    node, or the root of its dead-end branch when the branch is not searched), the
    extra minutes along the branch ``extra_e[t]`` and the share of edge time
    ``w_e[t]``, so that the time via that end is ``(D[node_e] + extra_e) + w_e`` —
    the same additions, in the same order, as the dense matrix. ``ptr_e`` / ``tgt_e``
    list the targets by search node.
    """

    node_a: I64
    node_b: I64
    extra_a: F64
    extra_b: F64
    w_a: F64
    w_b: F64
    chain: I64
    ptr_a: I64
    tgt_a: I64
    ptr_b: I64
    tgt_b: I64


def _end_index(graph: RoadGraph, t: SnappedPoints, keep: NDArray[np.bool_], reverse: bool) -> _EndIndex:
    pl = peel(graph)
    n = graph.n_nodes
    w_a, w_b = (t.out_a, t.out_b) if reverse else (t.in_a, t.in_b)
    branch = pl.up if reverse else pl.down
    ok = t.routable
    parts = {}
    for end, nodes, w in (("a", t.a, w_a), ("b", t.b, w_b)):
        node = np.where(ok, nodes, 0)
        outside = ok & ~keep[node]
        search = np.where(outside, pl.root[node], node)
        extra = np.where(outside, branch[node], 0.0)
        valid = np.nonzero(ok & np.isfinite(w))[0]
        order = valid[np.argsort(search[valid], kind="stable")]
        ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(search[order], minlength=n), out=ptr[1:])
        parts[end] = (np.where(ok, search, 0), extra, np.where(ok, w, np.inf), ptr, order)
    (na, ea, wa, pa, ta), (nb, eb, wb, pb, tb) = parts["a"], parts["b"]
    return _EndIndex(node_a=na, node_b=nb, extra_a=ea, extra_b=eb, w_a=wa, w_b=wb, chain=t.chain,
                     ptr_a=pa, tgt_a=ta, ptr_b=pb, tgt_b=tb)


def _expand(ptr: I64, tgt: I64, nd: I64) -> tuple[I64, I64]:
    """For every target listed under the reached nodes ``nd``: (index into ``nd``, target)."""
    cnt = ptr[nd + 1] - ptr[nd]
    k = np.flatnonzero(cnt)
    if k.size == 0:
        e = np.empty(0, dtype=np.int64)
        return e, e
    cnt = cnt[k]
    start = np.repeat(ptr[nd[k]] - (np.cumsum(cnt) - cnt), cnt)
    return np.repeat(k, cnt), tgt[start + np.arange(start.size)]


def _via(dist: F64, r: I64, node: I64, extra: F64, w: F64) -> F64:
    """``(D[r, node] + extra) + w``: time through one end of the target's edge."""
    t = dist[r, node]
    t += extra
    t += w
    return t


@dataclass(frozen=True, eq=False)
class _PairJob:
    """What every block of a sparse run needs (inherited by forked workers)."""

    ix: _EndIndex
    src_chain: I64  # chain of each source (by position in the plan rows)
    src_acc: F64  # access leg of each source
    tgt_acc: F64  # access leg of each target
    direct: tuple[I64, I64, F64]  # same-chain pairs: source position, target, direct minutes
    direct_ptr: I64  # same-chain pairs by source position
    reverse: bool  # sources are destinations
    cutoff: float
    dtype: Any


def _pair_job(graph: RoadGraph, plan: Any, src: SnappedPoints, tgt: SnappedPoints, cutoff: float,
              dtype: Any) -> _PairJob:
    """Everything the blocks of a sparse run share: the target index, access legs and the
    same-chain pairs sorted by source."""
    rows, reverse = plan.rows, plan.reverse
    ix = _end_index(graph, tgt, plan.keep, reverse)
    ti = np.nonzero(tgt.routable)[0]
    oi, di, dm = same_chain(tgt, src, ti, rows) if reverse else same_chain(src, tgt, rows, ti)
    s_rows, t_rows = (di, oi) if reverse else (oi, di)
    s_pos = np.searchsorted(rows, s_rows)  # position of the source in the plan
    order = np.argsort(s_pos, kind="stable")
    dptr = np.zeros(rows.size + 1, dtype=np.int64)
    np.cumsum(np.bincount(s_pos, minlength=rows.size), out=dptr[1:])
    return _PairJob(ix=ix, src_chain=src.chain[rows], src_acc=np.nan_to_num(src.access[rows], nan=0.0),
                    tgt_acc=np.nan_to_num(tgt.access, nan=0.0), direct=(s_pos[order], t_rows[order], dm[order]),
                    direct_ptr=dptr, reverse=reverse, cutoff=cutoff, dtype=dtype)


def _block_pairs(job: _PairJob, dist: F64, sel: I64) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[Any]]:
    """Reachable (source position, target, minutes) of one block of searches.

    Targets are found through the nodes each search reached: listed under their
    edge's a end (time through both ends), or under the b end when the a end was not
    reached. Pairs on the same chain get the direct time along it as well.
    """
    ix = job.ix
    r, nd = np.nonzero(np.isfinite(dist))
    d_nd = dist[r, nd]
    ka, ta = _expand(ix.ptr_a, ix.tgt_a, nd)
    kb, tb = _expand(ix.ptr_b, ix.tgt_b, nd)
    ra, rb = r[ka], r[kb]
    # b-listed targets whose a end was reached (with a finite link) are done through the a list
    a_done = np.isfinite(dist[rb, ix.node_a[tb]]) & np.isfinite(ix.w_a[tb])
    keep_b = ~a_done
    kb, tb, rb = kb[keep_b], tb[keep_b], rb[keep_b]
    # pairs sharing a chain are done below
    src_chain = job.src_chain[sel]
    oa = ix.chain[ta] != src_chain[ra]
    ob = ix.chain[tb] != src_chain[rb]
    ka, ta, ra = ka[oa], ta[oa], ra[oa]
    kb, tb, rb = kb[ob], tb[ob], rb[ob]
    via_a = d_nd[ka]
    via_a += ix.extra_a[ta]
    via_a += ix.w_a[ta]
    times_a = np.minimum(via_a, _via(dist, ra, ix.node_b[ta], ix.extra_b[ta], ix.w_b[ta]))
    times_b = d_nd[kb]  # the a end is unreachable here: only the b end counts
    times_b += ix.extra_b[tb]
    times_b += ix.w_b[tb]
    parts = [(ra, ta, times_a), (rb, tb, times_b)]
    # pairs on the same chain: min(through the ends, directly along the chain)
    ds, dt, dm = job.direct
    lo, hi = job.direct_ptr[sel[0]], job.direct_ptr[sel[-1] + 1]
    if hi > lo:
        s_r, s_t = ds[lo:hi] - sel[0], dt[lo:hi]
        through = np.minimum(_via(dist, s_r, ix.node_a[s_t], ix.extra_a[s_t], ix.w_a[s_t]),
                             _via(dist, s_r, ix.node_b[s_t], ix.extra_b[s_t], ix.w_b[s_t]))
        parts.append((s_r, s_t, np.minimum(through, dm[lo:hi])))
    rr = np.concatenate([p[0] for p in parts])
    tt = np.concatenate([p[1] for p in parts])
    times = np.concatenate([p[2] for p in parts])
    src = sel[rr]
    if job.reverse:  # targets are origins: origin access first, as in the dense matrix
        times += job.tgt_acc[tt]
        times += job.src_acc[src]
    else:
        times += job.src_acc[src]
        times += job.tgt_acc[tt]
    hit = times <= job.cutoff
    # compact types: forked workers send these back through a pipe
    return src[hit].astype(np.int32), tt[hit].astype(np.int32), times[hit].astype(job.dtype)


def _code_dtype(n: int) -> Any:
    """Category codes of the smallest integer type for ``n`` categories (as pandas uses)."""
    for dt in (np.int8, np.int16, np.int32):
        if n < np.iinfo(dt).max:
            return dt
    return np.int64


class _Column:
    """A growing column kept in fixed-size segments (allocated untouched, so only the
    written part is resident), joined once at the end while the segments are freed —
    the peak stays near the data itself, never twice it."""

    SEGMENT_BYTES = 128 * 2**20

    def __init__(self, dtype: Any) -> None:
        self.dtype = np.dtype(dtype)
        self.cap = max(1, self.SEGMENT_BYTES // self.dtype.itemsize)
        self.segments: list[NDArray[Any]] = []
        self.fill = 0  # entries used in the last segment
        self.size = 0

    def append(self, values: NDArray[Any]) -> None:
        pos = 0
        while pos < values.size:
            if not self.segments or self.fill == self.cap:
                self.segments.append(np.empty(self.cap, dtype=self.dtype))
                self.fill = 0
            take = min(self.cap - self.fill, values.size - pos)
            self.segments[-1][self.fill:self.fill + take] = values[pos:pos + take]
            self.fill += take
            pos += take
        self.size += values.size

    def join(self) -> NDArray[Any]:
        out = np.empty(self.size, dtype=self.dtype)
        pos = 0
        while self.segments:
            seg = self.segments.pop(0)
            take = min(seg.size, self.size - pos)
            out[pos:pos + take] = seg[:take]
            pos += take
            del seg
        return out


def _long_frame(o: SnappedPoints, d: SnappedPoints, oc: _Column, dc: _Column, mc: _Column) -> pd.DataFrame:
    """The long table; each column is joined while its segments are freed."""
    cols: dict[str, Any] = {}
    for name, col, ids in (("origin", oc, o.ids), ("destination", dc, d.ids)):
        cols[name] = pd.Categorical.from_codes(col.join(), categories=pd.Index(ids, name=None), validate=False)
    cols["minutes"] = mc.join()
    return pd.DataFrame(cols, copy=False)


def travel_times_long(
    graph: RoadGraph,
    origins: Points,
    destinations: Points,
    *,
    cutoff_minutes: float | None = 60.0,
    id_column: str | None = None,
    origin_id_column: str | None = None,
    destination_id_column: str | None = None,
    max_snap_m: float = 2000.0,
    snap_far: bool = False,
    snap_dropped: bool = False,
    access_speed_kmh: float | None = None,
    dtype: Any = np.float32,
    n_jobs: int = 1,
    search_from: Literal["auto", "origins", "destinations"] = "auto",
) -> pd.DataFrame:
    """Travel times of the origin–destination pairs within a cutoff, as a long table.

    The sparse form of :func:`travel_time_matrix` (same numbers, same options): the
    searches run as for the matrix (from the side with fewer points, in blocks), but
    each search keeps only the nodes it reached and turns them into pairs through an
    index of the other side's points by node. Memory is bounded by the output plus one
    block of searches (≤ 64 MB); origins × destinations is never allocated. For
    300,000 villages × 30,000 schools with a 60-minute cutoff this is the only form
    that fits in memory.

    Parameters
    ----------
    graph, origins, destinations
        As in :func:`travel_time_matrix` (GeoDataFrames or prepared points).
    cutoff_minutes
        Pairs slower than this are left out, minutes (default 60). None keeps every
        reachable pair (then the table can be as large as the full matrix).
    id_column, origin_id_column, destination_id_column, max_snap_m, snap_far, snap_dropped, access_speed_kmh
        As in :func:`travel_time_matrix`.
    dtype
        Type of ``minutes`` (default ``float32``; ``float64`` for exact comparisons).
    n_jobs, search_from
        As in :func:`travel_time_matrix`.

    Returns
    -------
    pandas.DataFrame
        Columns ``origin`` and ``destination`` (categoricals of the ids, so that 300
        million rows stay small; ``.cat.codes`` are the input positions) and
        ``minutes``: one row per reachable pair within the cutoff, grouped by the side
        searched from (destinations, when they are fewer) in input order. Unreachable
        pairs and points that cannot be snapped have no row; the latter are named in an
        :class:`~schoolplan.errors.UnreachableWarning` and in ``attrs`` as for
        :func:`travel_time_matrix`.
    """
    cutoff = check_cutoff(cutoff_minutes)
    o, d = _sides(graph, origins, destinations, id_column=id_column, origin_id_column=origin_id_column,
                  destination_id_column=destination_id_column, max_snap_m=max_snap_m, snap_far=snap_far,
                  snap_dropped=snap_dropped, access_speed_kmh=access_speed_kmh)
    reverse = _search_from_destinations(o, d, search_from)
    src, tgt = (d, o) if reverse else (o, d)
    rows = np.nonzero(src.routable)[0]
    oc, dc, mc = _Column(_code_dtype(o.n)), _Column(_code_dtype(d.n)), _Column(dtype)
    if rows.size and tgt.routable.any():
        plan = search_plan(graph, src, rows, reverse=reverse, limit=cutoff, n_jobs=n_jobs)
        job = _pair_job(graph, plan, src, tgt, cutoff, dtype)

        def finish(dist: F64, sel: I64) -> tuple[I64, I64, NDArray[Any]]:
            return _block_pairs(job, dist, sel)

        for _sel, (s_pos_b, t_b, m_b) in run_blocks(graph, plan, fill=None, finish=finish):
            s_b = rows[s_pos_b]
            oc.append(t_b if reverse else s_b)
            dc.append(s_b if reverse else t_b)
            mc.append(m_b)
    out = _long_frame(o, d, oc, dc, mc)
    _unroutable_attrs(out, o, d)
    return out
