"""Snapping points (villages, schools) to the nearest road *edge*.

A point is projected onto the nearest road segment (shapely ``STRtree``), not moved
to the nearest node: it then reaches both ends of its edge with the matching
fraction of the edge's travel time, in the directions the edge allows (an edge
split virtually). The straight line from the point to the road is the *access
leg*, travelled at the profile's ``access_speed_kmh`` (or ``access_speed_kmh=``).

Points farther than ``max_snap_m`` (default 2 km) from every road are flagged
``"far"`` and get NaN travel times unless ``snap_far=True``; points whose nearest
road lies on a part dropped from routing (not strongly connected with the rest)
are flagged ``"dropped"`` and are unreachable. Both are reported with an
:class:`~schoolplan.errors.UnreachableWarning` naming the ids.

:func:`prepare_points` snaps once and returns :class:`SnappedPoints`, which every
query (:func:`~schoolplan.network.travel_time_matrix`,
:func:`~schoolplan.network.travel_times_long`, :func:`~schoolplan.network.nearest`,
:func:`~schoolplan.network.isochrones`) takes in place of a GeoDataFrame: 300,000
villages are then validated, reprojected and snapped once per graph, not once per
query. Snapped points remember their graph and refuse any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from scipy.spatial import cKDTree

from schoolplan.errors import (
    ConfigError,
    CrsError,
    NonUniqueIdError,
    SchemaError,
    UnreachableWarning,
    format_rows,
)
from schoolplan.network._core import derived, warn_caller
from schoolplan.network.graph import RoadGraph

__all__ = ["SnappedPoints", "prepare_points", "resolve_points", "snap_points", "snap_xy"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


#: snapping options and their defaults (the same in every query)
SNAP_DEFAULTS: dict[str, Any] = {"max_snap_m": 2000.0, "snap_far": False, "snap_dropped": False,
                                 "access_speed_kmh": None}


@dataclass(frozen=True, eq=False)
class SnappedPoints:
    """Points snapped to the roads of one graph, ready for any query.

    Made by :func:`prepare_points`. Times in minutes; ``inf`` = not possible.

    Attributes
    ----------
    ids
        Point ids (unique), in input order.
    status
        ``"ok"``, ``"far"`` (beyond ``max_snap_m``) or ``"dropped"`` (nearest road cut
        off from the main network).
    routable
        Whether the point takes part in routing.
    chain, seg
        Chain and segment (of ``graph.chains`` / ``graph.segments``) the point lies on.
    param
        Segment position + fraction: orders points along a chain.
    f, bk
        Forward time coordinate on the chain (minutes from its start), and backward
        coordinate (minutes from the point back to the chain start).
    a, b
        The chain's end nodes.
    out_a, out_b, in_a, in_b
        Minutes from the point to each end, and from each end to the point.
    access
        The access leg (straight line to the road at the access speed), minutes.
    snap_m
        Distance to the road, m.
    sx, sy
        The road point, graph CRS.
    fraction
        Position along the chain by length, 0–1.
    fwd_ok, bwd_ok
        The point's chain may be travelled a → b / b → a (and the point is routable).
    graph_uid
        ``uid`` of the graph the points were snapped to.
    options
        The snapping options used (``max_snap_m``, ``snap_far``, ``snap_dropped``,
        ``access_speed_kmh``).
    role
        What the points are, for messages (``"villages"``, ``"schools"`` ...).
    """

    ids: pd.Index
    status: NDArray[np.object_]
    routable: NDArray[np.bool_]
    chain: I64
    param: F64
    f: F64
    bk: F64
    a: I64
    b: I64
    out_a: F64
    out_b: F64
    in_a: F64
    in_b: F64
    access: F64
    snap_m: F64
    sx: F64
    sy: F64
    fraction: F64
    seg: I64
    fwd_ok: NDArray[np.bool_]
    bwd_ok: NDArray[np.bool_]
    graph_uid: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    role: str = "points"

    @property
    def n(self) -> int:
        """Number of points."""
        return int(self.ids.size)

    def take(self, rows: Any) -> SnappedPoints:
        """The points at positions ``rows`` (e.g. a chunk of schools for one worker)."""
        idx = np.asarray(rows, dtype=np.int64)
        arrays = {k: getattr(self, k)[idx] for k in _ARRAY_FIELDS}
        return SnappedPoints(ids=self.ids[idx], graph_uid=self.graph_uid, options=dict(self.options),
                             role=self.role, **arrays)

    def __repr__(self) -> str:
        return (f"SnappedPoints({self.role}: {self.n:,}, routable={int(self.routable.sum()):,}, "
                f"graph={self.graph_uid[:8]!r})")


_ARRAY_FIELDS = ("status", "routable", "chain", "param", "f", "bk", "a", "b", "out_a", "out_b", "in_a", "in_b",
                 "access", "snap_m", "sx", "sy", "fraction", "seg", "fwd_ok", "bwd_ok")


@lru_cache(maxsize=32)
def transformer(src: CRS, dst: CRS) -> Transformer:
    """A cached ``always_xy`` transformer (building one takes ~40 ms)."""
    return Transformer.from_crs(src, dst, always_xy=True)


def point_coordinates(
    graph: RoadGraph, points: Any, *, id_column: str | None = None, role: str = "points"
) -> tuple[pd.Index, F64, F64]:
    """Validate points and return ids and coordinates in the graph CRS.

    Raises
    ------
    SchemaError
        Not a GeoDataFrame / GeoSeries, or missing / NaN coordinates (ids named).
    CrsError
        No CRS, coordinates impossible for the CRS, or most points far outside the
        road network (a CRS mix-up).
    NonUniqueIdError
        Duplicated or missing ids.
    """
    if isinstance(points, gpd.GeoSeries):
        points = gpd.GeoDataFrame(geometry=points)
    if not isinstance(points, gpd.GeoDataFrame):
        raise SchemaError(f"{role} must be a GeoDataFrame of points, not {type(points).__name__}",
                          fix="build one with geopandas.points_from_xy(lon, lat) and crs='EPSG:4326'")
    if points.crs is None:
        raise CrsError(f"the {role} have no coordinate reference system",
                       fix="set it, e.g. gdf.set_crs('EPSG:4326') for lon/lat or 'EPSG:4490' for CGCS2000")
    if id_column is not None:
        if id_column not in points.columns:
            raise SchemaError(f"id column '{id_column}' not found in the {role}", column=id_column,
                              fix=f"columns are: {', '.join(map(str, points.columns))}")
        ids = pd.Index(points[id_column].to_numpy(), name=id_column)
    else:
        ids = pd.Index(points.index.to_numpy(), name=points.index.name)
    if ids.hasnans:
        raise NonUniqueIdError(f"{int(ids.isna().sum())} {role} have no id", column=id_column,
                               rows=[i + 1 for i in np.nonzero(np.asarray(ids.isna()))[0]],
                               fix="give every point an id")
    if not ids.is_unique:
        dup = ids[ids.duplicated()].unique().tolist()
        raise NonUniqueIdError(f"{role} ids are not unique", column=id_column or "index", rows=dup,
                               fix="make the ids unique or pass id_column= with a unique column")
    geom = points.geometry
    missing = geom.isna().to_numpy() | geom.is_empty.to_numpy()
    gv = geom.to_numpy()
    notpoint = ~missing & (shapely.get_type_id(gv) != 0)
    if notpoint.any():
        gv = gv.copy()
        gv[notpoint] = shapely.point_on_surface(gv[notpoint])
    x = np.full(len(gv), np.nan)
    y = np.full(len(gv), np.nan)
    x[~missing] = shapely.get_x(gv[~missing])
    y[~missing] = shapely.get_y(gv[~missing])
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        raise SchemaError(f"{int(bad.sum())} {role} have missing or NaN coordinates",
                          column="geometry", rows=ids[bad].tolist(),
                          fix="geocode these points or drop them before routing")
    crs = points.crs
    if crs.is_geographic and ((np.abs(x) > 180).any() or (np.abs(y) > 90).any()):
        raise CrsError(f"the {role} have coordinates outside lon/lat ranges but CRS {crs.to_string()}",
                       fix="the coordinates look projected: set the projected CRS they are in")
    if not crs.equals(graph.crs):
        x, y = transformer(crs, graph.crs).transform(x, y)
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            bad = ~(np.isfinite(x) & np.isfinite(y))
            raise CrsError(f"{int(bad.sum())} {role} cannot be projected from {crs.to_string()}",
                           rows=ids[bad].tolist(), fix="check the CRS of the points")
    # CRS mix-up: most points far outside the road network
    if x.size:
        x0, x1 = graph.node_x.min(), graph.node_x.max()
        y0, y1 = graph.node_y.min(), graph.node_y.max()
        dx = np.maximum(np.maximum(x0 - x, x - x1), 0)
        dy = np.maximum(np.maximum(y0 - y, y - y1), 0)
        far = np.hypot(dx, dy) > 100_000.0
        if far.mean() > 0.5:
            raise CrsError(
                f"{int(far.sum())} of {x.size} {role} lie more than 100 km outside the road network "
                f"(points CRS {crs.to_string()}, graph CRS {graph.crs.to_string()})",
                rows=ids[far].tolist(),
                fix="check the points' CRS (lon/lat vs projected, GCJ-02 vs WGS-84) and the road data extent")
    return ids, np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def _nearest(tree: shapely.STRtree, pts: NDArray[Any], max_distance: float | None) -> tuple[I64, I64, F64]:
    """Nearest tree item per point (lowest index among ties): (point idx, item idx, distance)."""
    (pi, ti), dist = tree.query_nearest(pts, max_distance=max_distance, return_distance=True, all_matches=True)
    if pi.size == 0:
        return pi.astype(np.int64), ti.astype(np.int64), dist
    order = np.lexsort((ti, pi))
    pi, ti, dist = pi[order], ti[order], dist[order]
    first = np.concatenate([[True], pi[1:] != pi[:-1]])
    return pi[first].astype(np.int64), ti[first].astype(np.int64), dist[first]


@dataclass(frozen=True, eq=False)
class _SegmentIndex:
    """Nearest-segment index: a k-d tree of piece midpoints (segments cut into pieces of
    at most ``2 * half_m``)."""

    x0: F64
    y0: F64
    x1: F64
    y1: F64
    kd: cKDTree
    piece_seg: I64
    half_m: float



def _segment_index(x0: F64, y0: F64, x1: F64, y1: F64, half_m: float = 50.0) -> _SegmentIndex:
    length = np.hypot(x1 - x0, y1 - y0)
    parts = np.maximum(1, np.ceil(length / (2 * half_m)).astype(np.int64))
    seg = np.repeat(np.arange(x0.size), parts)
    k = np.arange(seg.size) - np.repeat(np.cumsum(parts) - parts, parts)
    f = (k + 0.5) / parts[seg]
    mid = np.column_stack([x0[seg] + f * (x1 - x0)[seg], y0[seg] + f * (y1 - y0)[seg]])
    return _SegmentIndex(x0=x0, y0=y0, x1=x1, y1=y1, kd=cKDTree(mid, balanced_tree=False, compact_nodes=False),
                         piece_seg=seg,
                         half_m=float((length / parts / 2).max(initial=0.0)))


def _main_index(graph: RoadGraph) -> _SegmentIndex:
    _, segs = graph.index
    return derived(graph, "segment_index", lambda: _segment_index(segs.x0, segs.y0, segs.x1, segs.y1))


def _point_segment_m(ix: _SegmentIndex, px: F64, py: F64, seg: NDArray[np.int64]) -> F64:
    """Distance from points to segments (1-D arrays), m — GEOS's formula and order of
    operations (``Distance::pointToSegment``), so the values equal GEOS's bit for bit."""
    ax, ay = ix.x0[seg], ix.y0[seg]
    dxab, dyab = ix.x1[seg] - ax, ix.y1[seg] - ay
    len2 = dxab * dxab
    len2 += dyab * dyab
    pax, pay = px - ax, py - ay
    with np.errstate(invalid="ignore", divide="ignore"):
        r = pax * dxab
        r += pay * dyab
        r /= len2
        s = pay * dxab  # |(ay − py)·dx − (ax − px)·dy| = |pay·dx − pax·dy| exactly
        s -= pax * dyab
        s /= len2
    d = np.abs(s, out=s)
    d *= np.sqrt(len2, out=len2)
    to_a = (r <= 0.0) | ((dxab == 0.0) & (dyab == 0.0))
    d[to_a] = np.sqrt(pax[to_a] * pax[to_a] + pay[to_a] * pay[to_a])
    to_b = (r >= 1.0) & ~to_a
    pbx, pby = px[to_b] - ix.x1[seg[to_b]], py[to_b] - ix.y1[seg[to_b]]
    d[to_b] = np.sqrt(pbx * pbx + pby * pby)
    return d


def _pick(rows: I64, segs: I64, d: F64, seg: I64, dist: F64) -> None:
    """The nearest candidate of each row (lowest segment index among equal distances)."""
    order = np.lexsort((segs, d, rows))
    first = order[np.r_[True, rows[order][1:] != rows[order][:-1]]] if rows.size else order
    seg[rows[first]] = segs[first]
    dist[rows[first]] = d[first]


def _nearest_segments(ix: _SegmentIndex, x: F64, y: F64, k: int = 8) -> tuple[I64, F64]:
    """Nearest segment of every point and its distance — the answer of a GEOS tree
    (GEOS distances, lowest index among ties), found through the k-d tree.

    The ``k`` nearest piece midpoints give candidates; a segment outside them is at
    least (k-th midpoint distance − largest piece half-length) away, so when that
    bound exceeds the best candidate the answer is certain. Points the bound does not
    settle (a few per cent) look at every piece within the bound's radius.
    """
    n = x.size
    seg = np.full(n, -1, dtype=np.int64)
    dist = np.full(n, np.inf)
    todo = np.arange(n)
    radius = np.full(n, np.inf)
    n_pieces = ix.piece_seg.size
    kk = min(k, n_pieces)
    if n:
        dm, pi = ix.kd.query(np.column_stack([x, y]), k=kk, workers=-1)
        dm, pi = dm.reshape(n, kk), pi.reshape(n, kk)
        cand = ix.piece_seg[pi]
        # flat arrays: numpy broadcasting over a short last axis is slow
        d = _point_segment_m(ix, np.repeat(x, kk), np.repeat(y, kk), cand.ravel()).reshape(n, kk)
        best = d.min(axis=1)
        tol = 1e-9 * (1.0 + best)  # rounding of the computed distances
        settled = (dm[:, -1] - ix.half_m > best + tol) | (kk == n_pieces)
        r, j = np.nonzero(settled[:, None] & (d == best[:, None]))
        _pick(r, cand[r, j], d[r, j], seg, dist)
        todo, radius = todo[~settled], (best + ix.half_m + 2 * tol)[~settled]
    if todo.size:  # every piece within the radius that the k nearest could not settle
        hits = ix.kd.query_ball_point(np.column_stack([x[todo], y[todo]]), r=radius, workers=-1)
        rows = np.repeat(todo, [len(h) for h in hits])
        segs = ix.piece_seg[np.concatenate([np.asarray(h, dtype=np.int64) for h in hits])]
        _pick(rows, segs, _point_segment_m(ix, x[rows], y[rows], segs), seg, dist)
    return seg, dist


def _closer_dropped(graph: RoadGraph, x: F64, y: F64, dist: F64, max_snap_m: float) -> NDArray[np.bool_]:
    """Points whose nearest dropped segment (within ``max_snap_m``) is strictly closer than ``dist``."""
    _, segs = graph.index
    out = np.zeros(x.size, dtype=bool)
    tree = segs.dropped_tree
    if tree is None or x.size == 0:
        return out

    def make() -> _SegmentIndex:
        xy = shapely.get_coordinates(tree.geometries).reshape(-1, 2, 2)
        return _segment_index(xy[:, 0, 0], xy[:, 0, 1], xy[:, 1, 0], xy[:, 1, 1])

    ix = derived(graph, "dropped_index", make)
    dm, _ = ix.kd.query(np.column_stack([x, y]), k=1, workers=-1)
    maybe = np.nonzero(dm - ix.half_m < np.minimum(dist, max_snap_m) + 1e-6 * (1.0 + dist))[0]
    if maybe.size:
        pi, _, d = _nearest(tree, shapely.points(x[maybe], y[maybe]), max_snap_m)
        out[maybe[pi[d < dist[maybe[pi]]]]] = True
    return out


def snap_xy(
    graph: RoadGraph,
    ids: pd.Index,
    x: F64,
    y: F64,
    *,
    max_snap_m: float = 2000.0,
    snap_far: bool = False,
    snap_dropped: bool = False,
    access_speed_kmh: float | None = None,
    warn: bool = True,
    role: str = "points",
) -> SnappedPoints:
    """Snap coordinates (graph CRS) to the road edges (the core of :func:`prepare_points`)."""
    if not max_snap_m > 0:
        raise ConfigError("max_snap_m must be > 0", fix="give a distance in metres, e.g. 2000")
    speed = graph.profile.access_speed_kmh if access_speed_kmh is None else float(access_speed_kmh)
    if not speed > 0:
        raise ConfigError("access_speed_kmh must be > 0", fix="give a speed in km/h, e.g. 4 for walking")
    ch, segs = graph.index
    n = x.size
    seg = np.full(n, -1, dtype=np.int64)
    dist = np.full(n, np.inf)
    if n:
        seg, dist = _nearest_segments(_main_index(graph), x, y)
    status = np.full(n, "ok", dtype=object)
    far = dist > max_snap_m
    status[far] = "far"
    status[_closer_dropped(graph, x, y, dist, max_snap_m)] = "dropped"
    routable = (status == "ok") | ((status == "far") & snap_far)
    if snap_dropped:  # use the nearest road of the main network instead
        routable |= (status == "dropped") & ((dist <= max_snap_m) | snap_far)
    # projection onto the segment
    s = np.where(seg >= 0, seg, 0)
    x0, y0, x1, y1 = segs.x0[s], segs.y0[s], segs.x1[s], segs.y1[s]
    dx, dy = x1 - x0, y1 - y0
    l2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.clip(((x - x0) * dx + (y - y0) * dy) / l2, 0.0, 1.0)
    t = np.where(l2 > 0, t, 0.0)
    sx, sy = x0 + t * dx, y0 + t * dy
    c = segs.chain[s]
    pos = segs.pos[s]
    tf_c, tb_c = ch.t_fwd[c], ch.t_bwd[c]
    fok, bok = np.isfinite(tf_c), np.isfinite(tb_c)
    f = np.where(fok, segs.f0[s] + t * np.where(fok, segs.tf[s], 0.0), 0.0)
    bk = np.where(bok, segs.b0[s] + t * np.where(bok, segs.tb[s], 0.0), 0.0)
    with np.errstate(invalid="ignore"):
        out_b = np.where(fok, np.maximum(tf_c - f, 0.0), np.inf)
        in_a = np.where(fok, f, np.inf)
        out_a = np.where(bok, bk, np.inf)
        in_b = np.where(bok, np.maximum(tb_c - bk, 0.0), np.inf)
    at_start = (pos == 0) & (t == 0.0)
    at_end = (pos == ch.n_seg[c] - 1) & (t == 1.0)
    out_a = np.where(at_start, 0.0, out_a)
    in_a = np.where(at_start, 0.0, in_a)
    out_b = np.where(at_end, 0.0, out_b)
    in_b = np.where(at_end, 0.0, in_b)
    chain_len = ch.length_m[c]
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(chain_len > 0, (segs.l0[s] + t * segs.length_m[s]) / chain_len, 0.0)
    access = np.where(np.isfinite(dist), dist * 0.06 / speed, np.nan)
    nr = ~routable
    inf = np.inf
    snapped = SnappedPoints(
        graph_uid=graph.uid, role=role,
        options={"max_snap_m": float(max_snap_m), "snap_far": bool(snap_far), "snap_dropped": bool(snap_dropped),
                 "access_speed_kmh": speed},
        ids=ids, status=status, routable=routable,
        chain=np.where(nr, -1, c), param=np.where(nr, np.nan, pos + t),
        f=f, bk=bk, a=np.where(nr, -1, ch.a[c]), b=np.where(nr, -1, ch.b[c]),
        out_a=np.where(nr, inf, out_a), out_b=np.where(nr, inf, out_b),
        in_a=np.where(nr, inf, in_a), in_b=np.where(nr, inf, in_b),
        access=np.where(nr, np.nan, access), snap_m=dist, sx=sx, sy=sy, fraction=fraction,
        seg=np.where(seg >= 0, seg, -1), fwd_ok=fok & routable, bwd_ok=bok & routable,
    )
    if warn:
        warn_unroutable(snapped, max_snap_m=max_snap_m, role=role)
    return snapped


def warn_unroutable(sn: SnappedPoints, *, max_snap_m: float, role: str) -> None:
    """Emit one UnreachableWarning naming the points that cannot be routed."""
    msgs = []
    far = np.nonzero((sn.status == "far") & ~sn.routable)[0]
    if far.size:
        msgs.append(f"{far.size} {role} lie more than {max_snap_m:g} m from any road "
                    f"({format_rows(sn.ids[far].tolist())}); pass snap_far=True or max_snap_m= to snap them")
    dropped = np.nonzero((sn.status == "dropped") & ~sn.routable)[0]
    if dropped.size:
        msgs.append(f"{dropped.size} {role} lie on roads cut off from the main network "
                    f"({format_rows(sn.ids[dropped].tolist())}); see graph.dropped, or pass "
                    "snap_dropped=True to use the nearest road of the main network")
    if msgs:
        warn_caller("; ".join(msgs) + ". Their travel times are NaN.", UnreachableWarning)


def prepare_points(
    graph: RoadGraph,
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    id_column: str | None = None,
    max_snap_m: float = 2000.0,
    snap_far: bool = False,
    snap_dropped: bool = False,
    access_speed_kmh: float | None = None,
    role: str = "points",
    warn: bool = True,
) -> SnappedPoints:
    """Validate, reproject and snap points once, for any number of queries on ``graph``.

    Parameters
    ----------
    graph
        The routing graph.
    points
        Points (any CRS, CRS set); other geometries use a point on their surface.
    id_column
        Column with the ids (default: the index). Ids must be unique.
    max_snap_m, snap_far, snap_dropped, access_speed_kmh
        As in :func:`snap_points`.
    role
        What the points are (``"villages"``, ``"schools"`` ...), for messages.
    warn
        Emit the :class:`~schoolplan.errors.UnreachableWarning` naming points that
        cannot be routed (default).

    Returns
    -------
    SnappedPoints
        Pass it to :func:`~schoolplan.network.travel_time_matrix`,
        :func:`~schoolplan.network.travel_times_long`,
        :func:`~schoolplan.network.nearest` or :func:`~schoolplan.network.isochrones`
        instead of the GeoDataFrame. It belongs to ``graph``: other graphs refuse it.

    Raises
    ------
    SchemaError, CrsError, NonUniqueIdError, ConfigError
        As for the queries.
    """
    ids, x, y = point_coordinates(graph, points, id_column=id_column, role=role)
    return snap_xy(graph, ids, x, y, max_snap_m=max_snap_m, snap_far=snap_far, snap_dropped=snap_dropped,
                   access_speed_kmh=access_speed_kmh, warn=warn, role=role)


def resolve_points(
    graph: RoadGraph,
    points: Any,
    *,
    role: str,
    id_column: str | None,
    max_snap_m: float,
    snap_far: bool,
    snap_dropped: bool,
    access_speed_kmh: float | None,
) -> SnappedPoints:
    """The points of a query: snapped now (GeoDataFrame) or checked (:class:`SnappedPoints`).

    Snapped points must come from this graph, and snapping options that differ from
    their defaults must match the ones the points were snapped with (``id_column`` is
    ignored: the ids were fixed when the points were prepared).

    Raises
    ------
    ConfigError
        Points snapped to another graph, or snapped with other options.
    """
    if not isinstance(points, SnappedPoints):
        ids, x, y = point_coordinates(graph, points, id_column=id_column, role=role)
        return snap_xy(graph, ids, x, y, max_snap_m=max_snap_m, snap_far=snap_far, snap_dropped=snap_dropped,
                       access_speed_kmh=access_speed_kmh, role=role)
    if points.graph_uid != graph.uid:
        raise ConfigError(f"the {role} were prepared (snapped) on another road graph",
                          fix="call prepare_points(graph, ...) with the graph you query, once per graph")
    given = {"max_snap_m": max_snap_m, "snap_far": snap_far, "snap_dropped": snap_dropped,
             "access_speed_kmh": access_speed_kmh}
    clash = [f"{k}={v!r} (snapped with {points.options.get(k)!r})" for k, v in given.items()
             if v != SNAP_DEFAULTS[k] and v != points.options.get(k)]
    if clash:
        raise ConfigError(f"the {role} were snapped with other options: {', '.join(clash)}",
                          fix="pass these options to prepare_points instead, or pass the GeoDataFrame")
    return points


def snap_points(
    graph: RoadGraph,
    points: gpd.GeoDataFrame,
    *,
    max_snap_m: float = 2000.0,
    id_column: str | None = None,
    snap_far: bool = False,
    snap_dropped: bool = False,
    access_speed_kmh: float | None = None,
) -> pd.DataFrame:
    """Snap points to the nearest road edge and report how.

    Parameters
    ----------
    graph
        The routing graph.
    points
        Points (any CRS, CRS set); other geometries use a point on their surface. Or
        :class:`SnappedPoints` from :func:`prepare_points` (then reported as snapped).
    max_snap_m
        Points farther than this from every road are flagged ``"far"``, metres.
    id_column
        Column with the ids (default: the index). Ids must be unique.
    snap_far
        Snap far points anyway (status stays ``"far"``, ``routable`` True).
    snap_dropped
        Points whose nearest road was dropped from routing (not strongly connected
        with the main network) are snapped to the nearest road of the main network
        instead (status stays ``"dropped"``, ``routable`` True). Default: unreachable.
    access_speed_kmh
        Speed of the access leg (default: the profile's ``access_speed_kmh``).

    Returns
    -------
    pandas.DataFrame
        One row per point, in input order: ``id``; ``status`` (``"ok"``; ``"far"``:
        beyond ``max_snap_m``; ``"dropped"``: nearest road cut off from the main
        network); ``routable``; ``edge`` (row of ``graph.edges`` the point lies
        on, in that edge's direction), ``u``, ``v`` (its end nodes); ``fraction``
        (0–1 along the edge by length); ``snap_m`` (distance to the road, m);
        ``access_minutes`` (the access leg); ``minutes_to_u``, ``minutes_to_v``
        (from the road point to each end), ``minutes_from_u``, ``minutes_from_v``
        (from each end to the road point) — ``inf`` where the direction is not
        allowed, NaN when not routable; ``x``, ``y`` (road point, graph CRS).
    """
    sn = resolve_points(graph, points, role="points", id_column=id_column, max_snap_m=max_snap_m,
                        snap_far=snap_far, snap_dropped=snap_dropped, access_speed_kmh=access_speed_kmh)
    ch, segs = graph.index
    c = segs.chain[np.where(sn.seg >= 0, sn.seg, 0)]
    fwd_e, bwd_e = ch.fwd_edge[c], ch.bwd_edge[c]
    use_bwd = fwd_e < 0
    nr = ~sn.routable
    out_a, out_b, in_a, in_b = (np.where(nr, np.nan, t) for t in (sn.out_a, sn.out_b, sn.in_a, sn.in_b))
    return pd.DataFrame({
        "id": sn.ids.to_numpy(),
        "status": sn.status.astype(str),
        "routable": sn.routable,
        "edge": np.where(use_bwd, bwd_e, fwd_e),
        "u": np.where(use_bwd, ch.b[c], ch.a[c]),
        "v": np.where(use_bwd, ch.a[c], ch.b[c]),
        "fraction": np.where(use_bwd, 1.0 - sn.fraction, sn.fraction),
        "snap_m": sn.snap_m,
        "access_minutes": sn.access,
        "minutes_to_u": np.where(use_bwd, out_b, out_a),
        "minutes_to_v": np.where(use_bwd, out_a, out_b),
        "minutes_from_u": np.where(use_bwd, in_b, in_a),
        "minutes_from_v": np.where(use_bwd, in_a, in_b),
        "x": sn.sx,
        "y": sn.sy,
    })
