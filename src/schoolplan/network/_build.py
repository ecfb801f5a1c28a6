"""Graph assembly, step by step (internal module; public names for :mod:`graph`).

:func:`schoolplan.network.build_graph` runs the six steps below on the pieces a
reader produced (step 1, :mod:`schoolplan.network._readers`);
:func:`schoolplan.network.from_arrays` enters at step 3 with its own segments.

2. :func:`profile_pieces` — each way gets a class, a speed (km/h, after the legal
   caps) and the directions it may be driven (or walked), evaluated once per
   distinct set of tags (:func:`~schoolplan.network.profiles.evaluate_ways`).
3. :func:`pieces_to_segments` — vertices are projected to the metric CRS and
   identified (same OSM id, or for road layers within ``node_tolerance_m``);
   consecutive vertices form segments with a time per direction,
   ``minutes = length_m / 1000 / speed_kmh × 60`` (a DEM scales the speed by the
   grade); parallel segments keep the fastest time per direction
   (:func:`merge_parallel`).
4. :func:`largest_component` — the largest strongly connected component is kept;
   the rest is reported (:class:`DroppedReport`).
5. :func:`simplify_chains` — chains of degree-2 nodes with a consistent direction
   pattern become one edge each, keeping the time offsets along them for snapping.
6. :func:`finish_graph` — chain attributes, the directed edge table, forward and
   reverse CSR arrays and the snapping index: the fields of a ``RoadGraph``.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from schoolplan.coords import metric_crs
from schoolplan.errors import CrsError, DataWarning, NetworkError
from schoolplan.network._core import F64, I64, Chains, Pieces, Segments, warn_caller
from schoolplan.network.dem import Dem, slope_speed_factor
from schoolplan.network.profiles import Profile, evaluate_ways, normalize_road_class

__all__ = [
    "DroppedReport",
    "PieceRules",
    "RawNetwork",
    "SimpleChains",
    "Survivors",
    "assemble_pieces",
    "assemble_raw",
    "choose_crs",
    "csr_arrays",
    "finish_graph",
    "largest_component",
    "merge_parallel",
    "pieces_to_segments",
    "profile_pieces",
    "project_xy",
    "simplify_chains",
    "walk_chains",
]


@dataclass(frozen=True, eq=False)
class DroppedReport:
    """What was left out of routing, and why.

    Attributes
    ----------
    n_nodes
        Road nodes outside the largest strongly connected component.
    n_segments
        Road segments (between consecutive vertices) dropped with them.
    km
        Length of the dropped segments, km.
    n_components
        Strongly connected components dropped.
    ways_missing_nodes
        OSM ways that referenced nodes missing from the extract (cut or dropped).
    ways_excluded
        Ways / rows the profile cannot use (footpaths for buses, access=no, ...).
    geometry
        The dropped segments (LineStrings in the graph CRS, with ``road_class``),
        for maps.
    """

    n_nodes: int
    n_segments: int
    km: float
    n_components: int
    ways_missing_nodes: int
    ways_excluded: int
    geometry: gpd.GeoDataFrame = field(repr=False)

    def summary(self) -> str:
        """One line for logs and reports."""
        return (f"dropped from routing: {self.n_nodes:,} nodes, {self.km:,.2f} km of road in "
                f"{self.n_components:,} disconnected parts; {self.ways_excluded:,} ways not usable by "
                f"the profile; {self.ways_missing_nodes:,} ways with nodes missing from the extract")


# --------------------------------------------------------------------------- step 2: profile
@dataclass(frozen=True, eq=False)
class PieceRules:
    """The profile applied to every piece (step 2).

    ``allowed`` / ``speed_kmh`` / ``forward`` / ``backward`` / ``road_class`` per
    piece; ``n_excluded`` pieces the profile cannot use.
    """

    allowed: NDArray[np.bool_]
    speed_kmh: F64
    forward: NDArray[np.bool_]
    backward: NDArray[np.bool_]
    road_class: NDArray[np.object_]
    n_excluded: int


def profile_pieces(pieces: Pieces, prof: Profile, *, bad_weather: bool | float) -> PieceRules:
    """Step 2: class, speed and allowed directions of every piece.

    Pieces with an explicit travel time (graph inputs with a weight) are always
    usable; ``pieces.direction`` (directed graph edges) overrides the one-way tags.

    Raises
    ------
    NetworkError
        No piece is usable by the profile.
    """
    label = pieces.label
    if pieces.n == 0:
        raise NetworkError("the source contains no roads (no highway ways / line features)", file=label,
                           fix="check the file covers the county and contains roads")
    rules = evaluate_ways(prof, pieces.tags, unknown_class=pieces.unknown_class, bad_weather=bad_weather)
    allowed, fwd, bwd = rules.allowed, rules.forward, rules.backward
    classes = rules.road_class.copy()
    if pieces.minutes is not None:
        has_w = np.isfinite(pieces.minutes)
        allowed = allowed | has_w
        for i in np.nonzero(has_w & np.array([c is None for c in classes], dtype=bool))[0]:
            classes[i] = normalize_road_class(pieces.tags[i].get("highway"))
    if pieces.direction is not None:
        d = pieces.direction
        fwd = np.where(d == 1, True, np.where(d == 2, True, fwd))
        bwd = np.where(d == 1, False, np.where(d == 2, True, bwd))
    unknown = rules.unknown_classes()
    if unknown:
        warn_caller(f"{label}: road classes not in the '{prof.name}' profile get "
                      f"{prof.default_speed_kmh:g} km/h: {', '.join(unknown[:12])}"
                      f"{' ...' if len(unknown) > 12 else ''}", DataWarning)
    if not allowed.any():
        raise NetworkError(f"no roads usable by the '{prof.name}' profile in the source", file=label,
                           fix="check the road classes (highway / 道路等级) or use another profile "
                               "(e.g. profile='walk')")
    return PieceRules(allowed=allowed, speed_kmh=rules.speed_kmh, forward=fwd, backward=bwd, road_class=classes,
                      n_excluded=int((~allowed).sum()))


# --------------------------------------------------------------------------- step 3: segments
@dataclass(frozen=True, eq=False)
class RawNetwork:
    """Segments between raw nodes, parallels merged: the input of steps 4–6.

    Attributes
    ----------
    crs
        Metric CRS of the coordinates.
    node_x, node_y, node_id
        Raw nodes (every vertex after identification) and their source ids (−1: none).
    a, b, tf, tb, length_m, piece
        One row per node pair ``a < b``: minutes a → b and b → a (``inf`` = not
        allowed), length and the piece (way) it came from.
    piece_class
        Road class of every piece (object array).
    piece_name
        Names of the given pieces (called for the chains' longest pieces only).
    n_raw_segments
        Segments before parallels were merged.
    ways_missing_nodes, ways_excluded, label
        For the report and messages.
    """

    crs: CRS
    node_x: F64
    node_y: F64
    node_id: I64
    a: I64
    b: I64
    tf: F64
    tb: F64
    length_m: F64
    piece: I64
    piece_class: NDArray[np.object_]
    piece_name: Callable[[I64], NDArray[np.object_]]
    n_raw_segments: int
    ways_missing_nodes: int
    ways_excluded: int
    label: str

    @property
    def n_nodes(self) -> int:
        """Number of raw nodes."""
        return int(self.node_x.size)


def _usable_vertices(pieces: Pieces, allowed: NDArray[np.bool_]) -> tuple[F64, F64, I64, I64]:
    """Vertices of the usable pieces (pieces with missing coordinates are skipped, with a warning)."""
    counts = np.diff(pieces.ptr)
    vmask = np.repeat(allowed, counts)
    vx, vy, vkey = pieces.vx[vmask], pieces.vy[vmask], pieces.vkey[vmask]
    vpiece = np.repeat(np.nonzero(allowed)[0], counts[allowed])
    finite = np.isfinite(vx) & np.isfinite(vy)
    if not finite.all():
        bad_pieces = np.unique(vpiece[~finite])
        keep = ~np.isin(vpiece, bad_pieces)
        vx, vy, vkey, vpiece = vx[keep], vy[keep], vkey[keep], vpiece[keep]
        warn_caller(f"{pieces.label}: {bad_pieces.size} roads with missing coordinates were skipped", DataWarning)
        if vx.size == 0:
            raise NetworkError("every road has missing coordinates", file=pieces.label, fix="repair the geometry")
    return vx, vy, vkey, vpiece


def choose_crs(src_crs: CRS, x: F64, y: F64, crs: Any, label: str) -> CRS:
    """The metric CRS of the graph: ``crs`` if given, else one centred on the data.

    Raises
    ------
    CrsError
        Unknown or geographic ``crs``; coordinates that do not fit the source CRS.
    """
    if crs is not None:
        try:
            target = CRS.from_user_input(crs)
        except Exception as exc:
            raise CrsError(f"unknown crs '{crs}': {exc}", fix="use e.g. 'EPSG:4547'") from None
        if target.is_geographic:
            raise CrsError("the graph CRS must be projected in metres", fix="use a metric CRS or leave crs=None")
        return target
    sx = np.array([np.nanmin(x), np.nanmax(x)])
    sy = np.array([np.nanmin(y), np.nanmax(y)])
    if src_crs.is_geographic:
        lon, lat = sx, sy
    else:
        lon, lat = Transformer.from_crs(src_crs, 4326, always_xy=True).transform(sx, sy)
    clon, clat = float(np.mean(lon)), float(np.mean(lat))
    if not (-180 <= clon <= 180 and -90 <= clat <= 90):
        raise CrsError(f"road coordinates do not fit the source CRS {src_crs.to_string()} "
                       f"(centre {clon:.3f}, {clat:.3f})", file=label, fix="set the right CRS on the road data")
    return metric_crs(clon, clat)


def project_xy(src_crs: CRS, target: CRS, x: F64, y: F64, label: str) -> tuple[F64, F64]:
    """Coordinates in the target CRS (a copy when it is the source CRS).

    Raises
    ------
    CrsError
        Coordinates that cannot be projected.
    """
    if target.equals(src_crs):
        px, py = x.copy(), y.copy()
    else:
        px, py = Transformer.from_crs(src_crs, target, always_xy=True).transform(x, y)
        px, py = np.asarray(px, dtype=np.float64), np.asarray(py, dtype=np.float64)
    if not (np.isfinite(px).all() and np.isfinite(py).all()):
        raise CrsError(f"road coordinates cannot be projected from {src_crs.to_string()}", file=label,
                       fix="check the CRS of the road data")
    return px, py


def _cluster_points(x: F64, y: F64, tol: float) -> I64:
    """Label points so that points within ``tol`` metres (transitively) share a label."""
    xy = np.column_stack([x, y])
    uniq, inv = np.unique(xy, axis=0, return_inverse=True)
    inv = inv.ravel()
    if tol <= 0 or len(uniq) < 2:
        return inv.astype(np.int64)
    from scipy.spatial import cKDTree

    pairs = cKDTree(uniq).query_pairs(tol, output_type="ndarray")
    if len(pairs) == 0:
        return inv.astype(np.int64)
    m = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(uniq), len(uniq)))
    _, lab = connected_components(m, directed=False)
    return lab[inv].astype(np.int64)


def _first_index(labels: I64, n: int) -> I64:
    first = np.full(n, -1, dtype=np.int64)
    order = np.arange(labels.size - 1, -1, -1)
    first[labels[order]] = order
    return first


def _identify_nodes(x: F64, y: F64, vkey: I64, node_ids: I64 | None, tol: float) -> tuple[I64, I64, I64]:
    """Node label of every vertex, the first vertex of every node and the nodes' source ids."""
    keyed = vkey >= 0
    node = np.empty(x.size, dtype=np.int64)
    ukeys, kinv = np.unique(vkey[keyed], return_inverse=True)
    node[keyed] = kinv.ravel()
    n_keyed = ukeys.size
    if (~keyed).any():
        node[~keyed] = n_keyed + _cluster_points(x[~keyed], y[~keyed], tol)
    n_raw = int(node.max()) + 1
    raw_id = np.full(n_raw, -1, dtype=np.int64)
    if n_keyed:
        raw_id[:n_keyed] = ukeys if node_ids is None else node_ids[ukeys]
    return node, _first_index(node, n_raw), raw_id


def _slope_factors(dem: Dem, prof: Profile, lon: F64, lat: F64, sa: I64, sb: I64,
                   length: F64) -> tuple[F64, F64, NDArray[np.bool_]]:
    """Speed factors per direction and the steep flag of each segment from a DEM."""
    z = dem.elevation(lon, lat)
    run = np.maximum(length, float(prof.slope.get("min_run_m", dem.cell_m)))
    grade = (z[sb] - z[sa]) / run
    steep = np.zeros(sa.size, dtype=bool)
    sg = prof.slope.get("steep_grade")
    if sg is not None:
        steep = np.abs(np.nan_to_num(grade)) >= float(sg)
    return slope_speed_factor(grade, prof.slope), slope_speed_factor(-grade, prof.slope), steep


def _explicit_minutes(minutes: F64, sp: I64, length: F64, n_pieces: int, t_f: F64, t_b: F64) -> tuple[F64, F64]:
    """Pieces with a given travel time share it among their segments by length."""
    w = minutes[sp]
    has = np.isfinite(w)
    plen = np.bincount(sp, weights=length, minlength=n_pieces)[sp]
    pcount = np.bincount(sp, minlength=n_pieces)[sp]
    share = np.where(plen > 0, length / np.where(plen > 0, plen, 1.0), 1.0 / pcount)
    return np.where(has, w * share, t_f), np.where(has, w * share, t_b)


def pieces_to_segments(
    pieces: Pieces,
    rules: PieceRules,
    prof: Profile,
    *,
    crs: Any,
    dem: Dem | None,
    node_tolerance_m: float,
) -> RawNetwork:
    """Step 3: project and identify the vertices, time every segment, merge parallels.

    Raises
    ------
    CrsError
        Unknown target CRS, or coordinates that do not fit / cannot be projected.
    NetworkError
        No segment at all (every line has a single point).
    """
    label = pieces.label
    vx, vy, vkey, vpiece = _usable_vertices(pieces, rules.allowed)
    target = choose_crs(pieces.crs, vx, vy, crs, label)
    x, y = project_xy(pieces.crs, target, vx, vy, label)
    node, first, raw_id = _identify_nodes(x, y, vkey, pieces.node_ids, node_tolerance_m)
    nx_, ny_ = x[first], y[first]
    i = np.nonzero(vpiece[:-1] == vpiece[1:])[0]
    sa, sb, sp = node[i], node[i + 1], vpiece[i]
    nonzero = sa != sb
    sa, sb, sp = sa[nonzero], sb[nonzero], sp[nonzero]
    if sa.size == 0:
        raise NetworkError("the roads have no segments (every line has a single point)", file=label,
                           fix="check the geometry")
    length = np.hypot(nx_[sb] - nx_[sa], ny_[sb] - ny_[sa])
    f_fwd = f_bwd = np.ones(sa.size)
    steep = np.zeros(sa.size, dtype=bool)
    if dem is not None:
        if pieces.crs.is_geographic:
            lon_n, lat_n = vx[first], vy[first]
        else:
            lon_n, lat_n = Transformer.from_crs(target, 4326, always_xy=True).transform(nx_, ny_)
        f_fwd, f_bwd, steep = _slope_factors(dem, prof, lon_n, lat_n, sa, sb, length)
    cap_steep = np.where(steep, prof.bad_road_kmh, np.inf)
    sp_speed = rules.speed_kmh[sp]
    with np.errstate(divide="ignore", invalid="ignore"):
        t_f = length * 0.06 / np.minimum(sp_speed * f_fwd, cap_steep)
        t_b = length * 0.06 / np.minimum(sp_speed * f_bwd, cap_steep)
    if pieces.minutes is not None:
        t_f, t_b = _explicit_minutes(pieces.minutes, sp, length, pieces.n, t_f, t_b)
    tf = np.where(rules.forward[sp], t_f, np.inf)
    tb = np.where(rules.backward[sp], t_b, np.inf)
    tags = pieces.tags

    def names(idx: I64) -> NDArray[np.object_]:
        out = np.empty(idx.size, dtype=object)
        out[:] = [_name(tags[p].get("name")) for p in idx.tolist()]
        return out

    return merge_parallel(
        crs=target, node_x=nx_, node_y=ny_, node_id=raw_id, a=sa, b=sb, tf=tf, tb=tb, length_m=length, piece=sp,
        piece_class=rules.road_class, piece_name=names, ways_missing_nodes=int(pieces.n_missing_ways),
        ways_excluded=rules.n_excluded, label=label)


def _name(v: Any) -> str | None:
    if isinstance(v, list | tuple):
        v = v[0] if v else None
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return str(v)


def merge_parallel(
    *,
    crs: CRS,
    node_x: F64,
    node_y: F64,
    node_id: I64,
    a: I64,
    b: I64,
    tf: F64,
    tb: F64,
    length_m: F64,
    piece: I64,
    piece_class: NDArray[np.object_],
    piece_name: Callable[[I64], NDArray[np.object_]],
    ways_missing_nodes: int,
    ways_excluded: int,
    label: str,
) -> RawNetwork:
    """Segments on the same node pair become one, with the fastest time per direction.

    The row kept (its length and piece) is the one whose faster direction is fastest.
    Segments usable in neither direction are left out.
    """
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    swap = a > b
    t_lh = np.where(swap, tb, tf)
    t_hl = np.where(swap, tf, tb)
    key = lo * np.int64(node_x.size) + hi
    order = np.lexsort((np.minimum(t_lh, t_hl), key))
    key_o = key[order]
    starts = np.concatenate([[0], np.nonzero(np.diff(key_o))[0] + 1])
    rep = order[starts]
    seg_tf = np.minimum.reduceat(t_lh[order], starts)
    seg_tb = np.minimum.reduceat(t_hl[order], starts)
    usable = np.isfinite(seg_tf) | np.isfinite(seg_tb)
    rep = rep[usable]
    return RawNetwork(crs=crs, node_x=node_x, node_y=node_y, node_id=node_id, a=lo[rep], b=hi[rep],
                      tf=seg_tf[usable], tb=seg_tb[usable], length_m=length_m[rep], piece=piece[rep],
                      piece_class=piece_class, piece_name=piece_name, n_raw_segments=int(a.size),
                      ways_missing_nodes=ways_missing_nodes, ways_excluded=ways_excluded, label=label)


def _marked(n: int, *arrays: I64) -> I64:
    """The distinct values of integer arrays in 0 … n − 1, ascending (``np.unique`` without sorting)."""
    mark = np.zeros(n, dtype=bool)
    for arr in arrays:
        mark[arr] = True
    return np.nonzero(mark)[0]


# --------------------------------------------------------------------------- step 4: component
@dataclass(frozen=True, eq=False)
class Survivors:
    """The segments of the largest strongly connected component (step 4).

    ``keep`` marks the kept rows of the :class:`RawNetwork`; ``n_used_nodes`` raw
    nodes touch a usable segment; ``dropped_tree`` indexes the dropped segments
    (None when none were dropped).
    """

    keep: NDArray[np.bool_]
    n_used_nodes: int
    dropped: DroppedReport
    dropped_tree: shapely.STRtree | None


def largest_component(raw: RawNetwork, prof: Profile) -> Survivors:
    """Step 4: keep the largest strongly connected component; report the rest.

    Raises
    ------
    NetworkError
        No segment lies in a strongly connected component of more than one node.
    """
    n_raw = raw.n_nodes
    a, b = raw.a, raw.b
    ff, fb = np.isfinite(raw.tf), np.isfinite(raw.tb)
    rows = np.concatenate([a[ff], b[fb]])
    cols = np.concatenate([b[ff], a[fb]])
    adj = sparse.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n_raw, n_raw))
    _, lab = connected_components(adj, directed=True, connection="strong")
    used = _marked(n_raw, a, b)
    comp_sizes = np.bincount(lab[used])
    in_big = lab == int(np.argmax(comp_sizes))
    keep = in_big[a] & in_big[b]
    drop_idx = np.nonzero(~keep)[0]
    p0 = np.column_stack([raw.node_x[a[drop_idx]], raw.node_y[a[drop_idx]]])
    p1 = np.column_stack([raw.node_x[b[drop_idx]], raw.node_y[b[drop_idx]]])
    lines = shapely.linestrings(np.stack([p0, p1], axis=1)) if drop_idx.size else np.empty(0, dtype=object)
    geometry = gpd.GeoDataFrame(
        {"road_class": pd.Series(raw.piece_class, dtype=object).iloc[raw.piece[drop_idx]].to_numpy()
         if drop_idx.size else []},
        geometry=lines if drop_idx.size else [], crs=raw.crs)
    dropped = DroppedReport(
        n_nodes=int((~in_big[used]).sum()), n_segments=int(drop_idx.size),
        km=float(raw.length_m[drop_idx].sum() / 1000.0), n_components=int((comp_sizes > 0).sum()) - 1,
        ways_missing_nodes=raw.ways_missing_nodes, ways_excluded=raw.ways_excluded, geometry=geometry)
    if keep.sum() == 0:
        raise NetworkError(f"the roads usable by the '{prof.name}' profile do not form a connected network",
                           file=raw.label, fix="check one-way tags and the extent of the data")
    tree = shapely.STRtree(lines) if drop_idx.size else None
    return Survivors(keep=keep, n_used_nodes=int(used.size), dropped=dropped, dropped_tree=tree)


# --------------------------------------------------------------------------- step 5: simplify
@dataclass(frozen=True, eq=False)
class SimpleChains:
    """Kept segments ordered along their chains (step 5).

    Per segment in chain order: ``chain``, ``pos``, start/end raw nodes ``ca`` / ``cb``
    in chain direction, minutes ``ctf`` / ``ctb`` in and against chain direction,
    ``clen`` metres, ``cpiece``; offsets ``f0`` / ``b0`` / ``l0`` from the chain start.
    Per chain: ``start`` / ``end`` raw nodes, ``nseg``, ``gstart`` (first segment),
    ``t_fwd`` / ``t_bwd`` total minutes, ``length_m``.
    """

    chain: I64
    pos: I64
    ca: I64
    cb: I64
    ctf: F64
    ctb: F64
    clen: F64
    cpiece: I64
    f0: F64
    b0: F64
    l0: F64
    start: I64
    end: I64
    nseg: I64
    gstart: I64
    t_fwd: F64
    t_bwd: F64
    length_m: F64

    @property
    def n(self) -> int:
        """Number of chains."""
        return int(self.start.size)


def _group_offsets(vals: F64, gstart: I64, nseg: I64) -> F64:
    """Exclusive cumulative sum of ``vals`` within consecutive groups."""
    cs = np.cumsum(vals)
    excl = cs - vals
    return excl - np.repeat(excl[gstart], nseg)


def simplify_chains(raw: RawNetwork, keep: NDArray[np.bool_], *, simplify: bool) -> SimpleChains:
    """Step 5: merge chains of removable degree-2 nodes (see :func:`walk_chains`)."""
    a, b, tf, tb = raw.a[keep], raw.b[keep], raw.tf[keep], raw.tb[keep]
    length, piece = raw.length_m[keep], raw.piece[keep]
    chain_of, pos_of, rev_of, c_start, c_end = walk_chains(a, b, tf, tb, raw.n_nodes, simplify)
    order = np.lexsort((pos_of, chain_of))
    ch, pos, rev = chain_of[order], pos_of[order], rev_of[order]
    sa_o, sb_o = a[order], b[order]
    ctf = np.where(rev, tb[order], tf[order])
    ctb = np.where(rev, tf[order], tb[order])
    clen = length[order]
    nseg = np.bincount(ch, minlength=c_start.size).astype(np.int64)
    gstart = np.concatenate([[0], np.cumsum(nseg)[:-1]]).astype(np.int64)
    return SimpleChains(
        chain=ch, pos=pos, ca=np.where(rev, sb_o, sa_o), cb=np.where(rev, sa_o, sb_o), ctf=ctf, ctb=ctb,
        clen=clen, cpiece=piece[order],
        f0=_group_offsets(np.where(np.isfinite(ctf), ctf, 0.0), gstart, nseg),
        b0=_group_offsets(np.where(np.isfinite(ctb), ctb, 0.0), gstart, nseg),
        l0=_group_offsets(clen, gstart, nseg), start=c_start, end=c_end, nseg=nseg, gstart=gstart,
        t_fwd=np.add.reduceat(ctf, gstart), t_bwd=np.add.reduceat(ctb, gstart),
        length_m=np.add.reduceat(clen, gstart))


def _removable(a: I64, b: I64, tf: F64, tb: F64, n_raw: int,
               simplify: bool) -> tuple[NDArray[np.bool_], I64, I64]:
    """Removable degree-2 nodes and, for every degree-2 node, its two segments."""
    k = a.size
    ends = np.concatenate([a, b])
    segid = np.concatenate([np.arange(k), np.arange(k)])
    order = np.argsort(ends, kind="stable")
    inc_seg = segid[order]
    deg = np.bincount(ends, minlength=n_raw)
    inc_ptr = np.zeros(n_raw + 1, dtype=np.int64)
    np.cumsum(deg, out=inc_ptr[1:])
    interior = np.zeros(n_raw, dtype=bool)
    i1 = np.full(n_raw, -1, dtype=np.int64)
    i2 = np.full(n_raw, -1, dtype=np.int64)
    if simplify:
        cand = np.nonzero(deg == 2)[0]
        s1 = inc_seg[inc_ptr[cand]]
        s2 = inc_seg[inc_ptr[cand] + 1]
        ff, fb = np.isfinite(tf), np.isfinite(tb)

        def into(s: I64) -> NDArray[np.bool_]:  # other end -> node allowed
            return np.where(b[s] == cand, ff[s], fb[s])

        def outof(s: I64) -> NDArray[np.bool_]:  # node -> other end allowed
            return np.where(a[s] == cand, ff[s], fb[s])

        ok = (into(s1) == outof(s2)) & (outof(s1) == into(s2)) & (s1 != s2)
        interior[cand[ok]] = True
        i1[cand] = s1
        i2[cand] = s2
    return interior, i1, i2


def walk_chains(a: I64, b: I64, tf: F64, tb: F64, n_raw: int,
                simplify: bool) -> tuple[I64, I64, NDArray[np.bool_], I64, I64]:
    """Group segments into chains through removable degree-2 nodes (vectorised).

    A node is removable when exactly two segments meet there and travel can pass
    through it in exactly the directions both segments allow (two-way → two-way, or
    one-way → one-way in the same sense). Pure cycles get one of their nodes as a
    routing node.

    Each segment has two *states* (travelled a → b, or b → a); a state's successor is
    the other segment at its exit node when that node is removable. A chain is read
    from its first end in node order (the smallest incidence position): list ranking
    by pointer doubling gives every state its distance to the end of its run, hence
    the position of each segment on its chain. Cycles start at their lowest segment,
    travelled a → b. Chains are numbered by their start incidence, cycles after them
    by their lowest segment.

    Returns
    -------
    tuple
        Per segment: chain, position on the chain, whether it runs against the chain
        direction; per chain: start and end raw nodes.
    """
    interior, i1, i2 = _removable(a, b, tf, tb, n_raw, simplify)
    k = a.size
    # incidence positions: by node, then a-ends before b-ends, then by segment
    inc_pos = np.empty(2 * k, dtype=np.int64)
    inc_pos[np.argsort(np.concatenate([a, b]), kind="stable")] = np.arange(2 * k)
    pos_a, pos_b = inc_pos[:k], inc_pos[k:]
    # components of segments joined at removable nodes
    x = np.nonzero(interior)[0]
    link = sparse.coo_matrix((np.ones(x.size), (i1[x], i2[x])), shape=(k, k))
    _, comp = connected_components(link, directed=False)
    n_comp = int(comp.max()) + 1 if k else 0
    # successor of each state: state s = segment s travelled a -> b, state k + s = b -> a
    exit_node = np.concatenate([b, a])
    seg = np.concatenate([np.arange(k), np.arange(k)])
    inner = interior[exit_node]
    other = np.where(i1[exit_node] != seg, i1[exit_node], i2[exit_node])
    nxt = np.where(inner, np.where(a[np.maximum(other, 0)] == exit_node, other, k + other), -1)
    # start state of every chain: its first terminal incidence; cycles: lowest segment, a -> b
    term_a, term_b = ~interior[a], ~interior[b]
    cand_pos = np.concatenate([np.where(term_a, pos_a, np.iinfo(np.int64).max),
                               np.where(term_b, pos_b, np.iinfo(np.int64).max)])
    cand_state = np.concatenate([np.arange(k), k + np.arange(k)])  # entering at a: a -> b
    cand_comp = np.concatenate([comp, comp])
    order = np.lexsort((cand_pos, cand_comp))
    first = order[np.r_[True, cand_comp[order][1:] != cand_comp[order][:-1]]]
    start_pos = cand_pos[first]  # by component (components are 0..n_comp-1, all present)
    is_cycle = start_pos == np.iinfo(np.int64).max
    low = np.full(n_comp, k, dtype=np.int64)
    np.minimum.at(low, comp, np.arange(k))
    start = np.where(is_cycle, low, cand_state[first])
    cyc = np.nonzero(is_cycle)[0]
    if cyc.size:  # cut both orientations of each cycle just before its start
        cut = np.isin(nxt, np.concatenate([low[cyc], k + low[cyc]]))
        nxt[cut] = -1
    # list ranking: steps to the end of the run and the run's last state
    succ = np.where(nxt >= 0, nxt, np.arange(2 * k))
    dist = (nxt >= 0).astype(np.int64)
    while True:
        nxt2 = succ[succ]
        if np.array_equal(nxt2, succ):
            break
        dist = dist + dist[succ]
        succ = nxt2
    chosen_fwd = succ[:k] == succ[start[comp]]
    state = np.where(chosen_fwd, np.arange(k), k + np.arange(k))
    pos = dist[start[comp]] - dist[state]
    # number the chains: by start incidence, cycles after them by lowest segment
    rank = np.lexsort((low, np.where(is_cycle, 0, start_pos), is_cycle))
    chain_id = np.empty(n_comp, dtype=np.int64)
    chain_id[rank] = np.arange(n_comp)
    entry = np.concatenate([a, b])
    c_start = np.empty(n_comp, dtype=np.int64)
    c_end = np.empty(n_comp, dtype=np.int64)
    c_start[chain_id] = entry[start]
    c_end[chain_id] = exit_node[succ[start]]
    return chain_id[comp], pos, ~chosen_fwd, c_start, c_end


# --------------------------------------------------------------------------- step 6: finish
def csr_arrays(u: I64, v: I64, w: F64, n: int) -> tuple[I64, I64, F64]:
    """CSR arrays of a directed graph: no self-loops, the fastest of parallel edges,
    columns ascending within rows."""
    m = u != v
    u, v, w = u[m], v[m], w[m]
    order = np.lexsort((w, v, u))
    u, v, w = u[order], v[order], w[order]
    if u.size:
        first = np.concatenate([[True], (u[1:] != u[:-1]) | (v[1:] != v[:-1])])
        u, v, w = u[first], v[first], w[first]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(u, minlength=n), out=indptr[1:])
    return indptr, v.astype(np.int64), w.astype(np.float64)


def _chain_labels(raw: RawNetwork, sc: SimpleChains) -> tuple[NDArray[np.object_], NDArray[np.object_]]:
    """Per chain: the class with the most length, and the name of its longest way of that class.

    Ties go to the class / way met first along the chain.
    """
    pc_codes, pc_uniques = pd.factorize(pd.Series(raw.piece_class, dtype=object), use_na_sentinel=True)
    pl = (pd.DataFrame({"c": sc.chain, "k": pc_codes[sc.cpiece], "p": sc.cpiece, "l": sc.clen})
          .groupby(["c", "k", "p"], sort=False)["l"].sum().reset_index())
    kl = pl.groupby(["c", "k"], sort=False)["l"].transform("sum").to_numpy()
    c, k, p, ln = (pl[x].to_numpy() for x in ("c", "k", "p", "l"))
    order = np.lexsort((-ln, -kl, c))  # stable: ties keep the order met along the chain
    best = order[np.r_[True, c[order][1:] != c[order][:-1]]]
    classes = np.empty(sc.n, dtype=object)
    classes[c[best]] = [pc_uniques[x] if x >= 0 else None for x in k[best].tolist()]
    names = np.empty(sc.n, dtype=object)
    names[c[best]] = raw.piece_name(p[best].astype(np.int64))
    return classes, names


def _chain_geometry(raw: RawNetwork, sc: SimpleChains) -> NDArray[np.object_]:
    last = sc.gstart + sc.nseg - 1
    pts_node = np.concatenate([sc.ca, sc.cb[last]])
    pts_chain = np.concatenate([sc.chain, np.arange(sc.n)])
    pts_pos = np.concatenate([sc.pos, sc.nseg])
    po = np.lexsort((pts_pos, pts_chain))
    coords = np.column_stack([raw.node_x[pts_node[po]], raw.node_y[pts_node[po]]])
    return shapely.linestrings(coords, indices=pts_chain[po])


def _directed_edges(sc: SimpleChains, ra: I64, rb: I64) -> tuple[I64, I64, I64, I64, F64, I64, NDArray[np.bool_]]:
    """Forward then backward edge of every chain: ids per chain and the edge arrays."""
    has_f, has_b = np.isfinite(sc.t_fwd), np.isfinite(sc.t_bwd)
    ne_per = has_f.astype(np.int64) + has_b.astype(np.int64)
    first_e = np.concatenate([[0], np.cumsum(ne_per)[:-1]]).astype(np.int64)
    fwd_edge = np.where(has_f, first_e, -1)
    bwd_edge = np.where(has_b, first_e + has_f, -1)
    n_e = int(ne_per.sum())
    eu, ev, ec = (np.empty(n_e, dtype=np.int64) for _ in range(3))
    em = np.empty(n_e)
    cf, cb = np.nonzero(has_f)[0], np.nonzero(has_b)[0]
    eu[fwd_edge[cf]], ev[fwd_edge[cf]], em[fwd_edge[cf]], ec[fwd_edge[cf]] = ra[cf], rb[cf], sc.t_fwd[cf], cf
    eu[bwd_edge[cb]], ev[bwd_edge[cb]], em[bwd_edge[cb]], ec[bwd_edge[cb]] = rb[cb], ra[cb], sc.t_bwd[cb], cb
    is_b = np.zeros(n_e, dtype=bool)
    is_b[bwd_edge[cb]] = True
    return fwd_edge, bwd_edge, eu, ev, em, ec, is_b


def finish_graph(raw: RawNetwork, surv: Survivors, sc: SimpleChains) -> dict[str, Any]:
    """Step 6: routing nodes, the edge table, CSR arrays and the snapping index.

    Returns
    -------
    dict
        The fields of a :class:`~schoolplan.network.graph.RoadGraph` except
        ``profile``, ``source`` and ``bad_weather``.
    """
    rnodes = _marked(raw.n_nodes, sc.start, sc.end)
    ra = np.searchsorted(rnodes, sc.start)
    rb = np.searchsorted(rnodes, sc.end)
    chain_class, names = _chain_labels(raw, sc)
    chain_geom = _chain_geometry(raw, sc)
    fwd_edge, bwd_edge, eu, ev, em, ec, is_b = _directed_edges(sc, ra, rb)
    egeom = chain_geom[ec]
    egeom = np.where(is_b, shapely.reverse(egeom), egeom)
    elen = sc.length_m[ec]
    with np.errstate(divide="ignore", invalid="ignore"):
        espeed = np.where(em > 0, elen / 1000.0 / (em / 60.0), np.nan)
    has_f, has_b = np.isfinite(sc.t_fwd), np.isfinite(sc.t_bwd)
    edges = gpd.GeoDataFrame(
        {"u": eu, "v": ev, "minutes": em, "length_m": elen, "speed_kmh": espeed,
         "road_class": chain_class[ec], "name": names[ec], "oneway": ~(has_f & has_b)[ec], "chain": ec},
        geometry=egeom, crs=raw.crs)
    n = rnodes.size
    indptr, indices, mins = csr_arrays(eu, ev, em, n)
    rindptr, rindices, rmins = csr_arrays(ev, eu, em, n)
    x0, y0 = raw.node_x[sc.ca], raw.node_y[sc.ca]
    x1, y1 = raw.node_x[sc.cb], raw.node_y[sc.cb]
    segs = Segments(x0=x0, y0=y0, x1=x1, y1=y1, chain=sc.chain, pos=sc.pos, f0=sc.f0, tf=sc.ctf, b0=sc.b0,
                    tb=sc.ctb, l0=sc.l0, length_m=sc.clen, dropped_tree=surv.dropped_tree)
    chains = Chains(a=ra, b=rb, t_fwd=sc.t_fwd, t_bwd=sc.t_bwd, length_m=sc.length_m, n_seg=sc.nseg,
                    fwd_edge=fwd_edge, bwd_edge=bwd_edge)
    stats = {"raw_nodes": surv.n_used_nodes, "raw_segments": raw.n_raw_segments, "nodes": int(n),
             "edges": int(indices.size), "chains": sc.n, "km": float(sc.length_m.sum() / 1000.0)}
    return {"crs": raw.crs, "node_x": raw.node_x[rnodes].copy(), "node_y": raw.node_y[rnodes].copy(),
            "node_id": raw.node_id[rnodes].copy(), "indptr": indptr, "indices": indices, "minutes": mins,
            "rev_indptr": rindptr, "rev_indices": rindices, "rev_minutes": rmins, "edges": edges,
            "dropped": surv.dropped, "stats": stats, "chains": chains, "segments": segs,
            "uid": uuid.uuid4().hex}


# --------------------------------------------------------------------------- the pipelines
def assemble_raw(raw: RawNetwork, prof: Profile, *, simplify: bool) -> dict[str, Any]:
    """Steps 4–6 on a :class:`RawNetwork`: the fields of a ``RoadGraph``."""
    surv = largest_component(raw, prof)
    sc = simplify_chains(raw, surv.keep, simplify=simplify)
    return finish_graph(raw, surv, sc)


def assemble_pieces(
    pieces: Pieces,
    prof: Profile,
    *,
    crs: Any,
    bad_weather: bool | float,
    dem: Dem | None,
    simplify: bool,
    node_tolerance_m: float,
) -> dict[str, Any]:
    """Steps 2–6 on a reader's pieces: the fields of a ``RoadGraph``."""
    rules = profile_pieces(pieces, prof, bad_weather=bad_weather)
    raw = pieces_to_segments(pieces, rules, prof, crs=crs, dem=dem, node_tolerance_m=node_tolerance_m)
    return assemble_raw(raw, prof, simplify=simplify)
