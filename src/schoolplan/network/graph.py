"""Road graphs for routing: build from any source, keep the largest strongly
connected component, simplify degree-2 chains, store as CSR arrays.

Pipeline (:func:`build_graph`)
------------------------------
1. *Read* the source into tagged polylines (OSM ways, layer rows, graph edges).
2. *Profile*: each way gets a class, a speed (km/h, after the legal caps) and the
   directions it may be driven (or walked); ways the profile cannot use are left out.
3. *Segments*: consecutive vertices form segments with a travel time per direction,
   ``minutes = length_m / 1000 / speed_kmh × 60`` (a DEM, if given, scales the speed
   by the grade in each direction). Vertices with the same OSM id (or, for road
   layers, within ``node_tolerance_m``) are the same node.
4. *Largest strongly connected component* (SciPy): every node in it can reach every
   other. The rest is dropped from routing and reported (:class:`DroppedReport`); points
   whose nearest road lies on a dropped part are reported unreachable, never routed.
5. *Simplify*: chains of degree-2 nodes with a consistent direction pattern become one
   edge each (typically ~8× fewer nodes); the full geometry and the time offsets along
   it are kept so points can be snapped anywhere on the chain exactly.
6. *CSR*: forward and reverse adjacency arrays (minutes, float64) for
   ``scipy.sparse.csgraph``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from schoolplan.coords import metric_crs
from schoolplan.errors import ConfigError, CrsError, DataWarning, InputFileError, NetworkError
from schoolplan.network import _readers as rd
from schoolplan.network.dem import Dem, read_hgt, slope_speed_factor
from schoolplan.network.profiles import Profile, evaluate_way, load_profile, normalize_road_class

__all__ = ["DroppedReport", "RoadGraph", "build_graph", "from_networkx", "to_networkx"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


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


@dataclass(frozen=True, eq=False)
class _Chains:
    """Simplified road pieces between routing nodes (internal).

    Chain ``c`` runs from node ``a[c]`` to node ``b[c]``; ``t_fwd`` (a → b) and
    ``t_bwd`` (b → a) are total minutes, ``inf`` when that direction is not allowed.
    """

    a: I64
    b: I64
    t_fwd: F64
    t_bwd: F64
    length_m: F64
    n_seg: I64
    fwd_edge: I64
    bwd_edge: I64


@dataclass(frozen=True, eq=False)
class _Segments:
    """Snapping index: kept segments in chain order and direction (internal).

    For segment ``s`` on chain ``chain[s]`` at position ``pos[s]``: start ``(x0, y0)``,
    end ``(x1, y1)``; ``f0`` minutes from the chain start to the segment start
    travelling forward, ``tf`` the segment's forward minutes; ``b0``/``tb`` the same
    for travelling backwards (towards the chain start); ``l0``/``length_m`` metres.
    """

    x0: F64
    y0: F64
    x1: F64
    y1: F64
    chain: I64
    pos: I64
    f0: F64
    tf: F64
    b0: F64
    tb: F64
    l0: F64
    length_m: F64
    tree: shapely.STRtree
    dropped_xy: F64  # (n, 4): x0, y0, x1, y1 of dropped segments
    dropped_tree: shapely.STRtree | None


@dataclass(frozen=True, eq=False)
class RoadGraph:
    """A routing graph: CSR arrays (SciPy) plus coordinates and edge geometry.

    Attributes
    ----------
    crs
        Metric CRS of every coordinate (chosen by :func:`schoolplan.coords.metric_crs`
        unless given).
    profile
        The speed profile used.
    node_x, node_y
        Routing-node coordinates, metres.
    node_id
        Source id of each node (OSM node id; ``-1`` when none).
    indptr, indices, minutes
        Forward CSR adjacency: the edges out of node ``i`` go to
        ``indices[indptr[i]:indptr[i+1]]`` and take ``minutes[...]``. Parallel edges
        keep the fastest; self-loops are left out.
    rev_indptr, rev_indices, rev_minutes
        The same for the reversed graph (edges into each node).
    edges
        One row per directed edge (for maps and inspection): ``u``, ``v``,
        ``minutes``, ``length_m``, ``speed_kmh`` (average), ``road_class``
        (the longest class on the chain), ``name``, ``oneway``, ``chain``, and the
        full ``geometry`` in travel direction.
    dropped
        What was left out of routing (:class:`DroppedReport`).
    stats
        Counts: ``raw_nodes``, ``raw_segments``, ``nodes``, ``edges``, ``km``.
    source
        Where the graph came from (path, "GeoDataFrame", ...).
    bad_weather
        The bad-weather setting the speeds were computed with.
    """

    crs: CRS
    profile: Profile
    node_x: F64
    node_y: F64
    node_id: I64
    indptr: I64
    indices: I64
    minutes: F64
    rev_indptr: I64
    rev_indices: I64
    rev_minutes: F64
    edges: gpd.GeoDataFrame = field(repr=False)
    dropped: DroppedReport = field(repr=False)
    stats: Mapping[str, float] = field(default_factory=dict)
    source: str = ""
    bad_weather: bool | float = False
    _chains: _Chains | None = field(default=None, repr=False)
    _segments: _Segments | None = field(default=None, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def n_nodes(self) -> int:
        """Number of routing nodes."""
        return int(self.node_x.size)

    @property
    def n_edges(self) -> int:
        """Number of CSR entries (directed edges without parallels and self-loops)."""
        return int(self.indices.size)

    def csr(self, *, reverse: bool = False) -> sparse.csr_matrix:
        """The adjacency as a SciPy CSR matrix of minutes (``reverse`` for edges into nodes)."""
        n = self.n_nodes
        if reverse:
            return sparse.csr_matrix((self.rev_minutes, self.rev_indices, self.rev_indptr), shape=(n, n))
        return sparse.csr_matrix((self.minutes, self.indices, self.indptr), shape=(n, n))

    def nodes(self) -> gpd.GeoDataFrame:
        """Routing nodes as points (index = node number used by queries)."""
        return gpd.GeoDataFrame({"node_id": self.node_id},
                                geometry=gpd.points_from_xy(self.node_x, self.node_y), crs=self.crs)

    def __repr__(self) -> str:
        return (f"RoadGraph(profile={self.profile.name!r}, nodes={self.n_nodes:,}, edges={self.n_edges:,}, "
                f"km={self.stats.get('km', float('nan')):,.1f}, crs={self.crs.to_string()!r}, "
                f"dropped_nodes={self.dropped.n_nodes:,})")


# --------------------------------------------------------------------------- public builders
def build_graph(
    source: Any,
    *,
    profile: str | Path | Mapping[str, Any] | Profile = "school_bus",
    crs: Any = None,
    bad_weather: bool | float = False,
    dem: str | Path | Dem | list[str | Path] | None = None,
    simplify: bool = True,
    layer: str | None = None,
    encoding: str | None = None,
    engine: Literal["osmium", "osmnx"] | None = None,
    online: bool = False,
    node_tolerance_m: float = 0.5,
    class_column: str | None = None,
    speed_column: str | None = None,
    maxspeed_column: str | None = None,
    oneway_column: str | None = None,
    bad_road_column: str | None = None,
    weight: str | None = None,
    weight_unit: Literal["min", "s", "h"] = "min",
    source_crs: Any = None,
) -> RoadGraph:
    """Build a routing graph (路网) from a road source.

    Parameters
    ----------
    source
        One of: an OSM ``.osm.pbf`` file (read with pyosmium); an OSM XML ``.osm``
        file (osmnx ``graph_from_xml`` after dropping ways whose nodes are missing,
        or pyosmium with ``engine="osmium"``); a ``.graphml`` file; a road line layer
        (``.gpkg``, ``.shp`` ... with a class column such as 道路等级 = 国道/省道/县道/
        乡道/村道, or a speed column); a GeoDataFrame of lines; a networkx graph with
        node ``x``/``y``; or a place name (downloaded with osmnx, only with
        ``online=True``).
    profile
        Speed profile: ``"school_bus"`` (default), ``"walk"``, ``"car"``, a TOML path,
        a dict of overrides (``{"base": "school_bus", "speeds_kmh": {...}}``) or a
        :class:`~schoolplan.network.profiles.Profile`.
    crs
        Metric CRS for the graph; default :func:`schoolplan.coords.metric_crs` at the
        network's centre (CGCS2000 Gauss–Krüger zone in China, UTM elsewhere).
    bad_weather
        Bad-weather scenario (雨雪雾天气): True applies the profile's
        ``bad_weather_factor`` and caps speeds at ``bad_weather_max_kmh`` (20 km/h for
        school buses, 校车安全管理条例 §36); a number in (0, 1] is used as the factor.
    dem
        SRTM ``.hgt`` file(s) or folder, or a :class:`~schoolplan.network.dem.Dem`:
        speeds are scaled by the grade (profile ``[slope]``); steep grades get the
        bad-road cap. None: no slope penalty.
    simplify
        Merge degree-2 chains into single edges (default). False keeps every vertex
        as a routing node (for comparisons).
    layer, encoding
        Layer name in a GeoPackage; text encoding of a shapefile (default: ``.cpg``,
        else UTF-8 if it decodes, else GBK/GB18030).
    engine
        For OSM XML: ``"osmnx"`` (default; ``"osmium"`` for ``.osm.bz2``/``.osm.gz``) or
        ``"osmium"`` (faster, keeps the complete parts of ways cut by the extract).
        PBF always uses pyosmium.
    online
        Allow downloading by place name (never needed for files).
    node_tolerance_m
        Road layers: line vertices closer than this are the same node, m.
    class_column, speed_column, maxspeed_column, oneway_column, bad_road_column
        Road layers: column names when the schema aliases (道路等级, 设计速度, 限速,
        单行, 急弯陡坡 ...) do not find them. A speed column replaces the class speed;
        a maxspeed column caps it.
    weight, weight_unit
        networkx / GraphML: edge attribute holding the travel time, used instead of
        the profile (``"minutes"`` is used automatically when every edge has it), and
        its unit (``"min"``, ``"s"``, ``"h"``).
    source_crs
        CRS of a networkx graph when ``G.graph['crs']`` is missing.

    Returns
    -------
    RoadGraph

    Raises
    ------
    InputFileError
        Missing, empty, corrupt or unknown-format files.
    NetworkError
        No road usable by the profile, download failure, bad graph attributes.
    CrsError
        Sources without a CRS.
    ConfigError
        Invalid profile or options.
    """
    prof = load_profile(profile)
    if not node_tolerance_m >= 0:
        raise ConfigError("node_tolerance_m must be ≥ 0", fix="give a distance in metres, e.g. 0.5")
    kind = rd.source_kind(source)
    label = str(source) if isinstance(source, str | Path) else type(source).__name__
    if kind == "pbf":
        pieces = rd.read_osm_osmium(Path(source))
    elif kind == "xml":
        compressed = str(source).lower().endswith((".bz2", ".gz"))
        eng = engine or ("osmium" if compressed else "osmnx")
        if eng == "osmium":
            pieces = rd.read_osm_osmium(Path(source))
        elif eng == "osmnx":
            G, n_drop = rd.read_osm_xml_osmnx(Path(source), bidirectional=not prof.respect_oneway)
            pieces = rd.pieces_from_networkx(G, weight=None, weight_unit="min", crs=None, label=label)
            pieces.n_missing_ways = n_drop
        else:
            raise ConfigError(f"unknown engine '{engine}'", fix="use 'osmnx' or 'osmium'")
    elif kind == "graphml":
        G = rd.read_graphml(Path(source))
        pieces = rd.pieces_from_networkx(G, weight=weight, weight_unit=weight_unit, crs=source_crs,
                                         label=label)
    elif kind == "networkx":
        pieces = rd.pieces_from_networkx(source, weight=weight, weight_unit=weight_unit, crs=source_crs,
                                         label=label)
    elif kind in {"layer", "lines"}:
        gdf = rd.read_road_file(Path(source), layer=layer, encoding=encoding) if kind == "layer" else source
        pieces = rd.pieces_from_lines(gdf, label=label, class_column=class_column, speed_column=speed_column,
                                      maxspeed_column=maxspeed_column, oneway_column=oneway_column,
                                      bad_road_column=bad_road_column)
    else:  # place name
        if not online:
            raise InputFileError(
                "file not found (and downloading by place name is off)", file=str(source),
                fix="check the path, or pass online=True to download the place from OpenStreetMap")
        G = rd.pieces_from_place(str(source), network_type=prof.osmnx_network_type, label=label)
        pieces = rd.pieces_from_networkx(G, weight=None, weight_unit="min", crs=None, label=label)
    dem_obj = dem if isinstance(dem, Dem) or dem is None else read_hgt(dem)
    return _assemble(pieces, prof, crs=crs, bad_weather=bad_weather, dem=dem_obj, simplify=simplify,
                     node_tolerance_m=node_tolerance_m)


def from_networkx(
    G: nx.Graph,
    *,
    profile: str | Path | Mapping[str, Any] | Profile = "school_bus",
    weight: str | None = None,
    weight_unit: Literal["min", "s", "h"] = "min",
    crs: Any = None,
    source_crs: Any = None,
    simplify: bool = True,
    bad_weather: bool | float = False,
) -> RoadGraph:
    """Build a :class:`RoadGraph` from a networkx graph (osmnx or :func:`to_networkx` style).

    Parameters
    ----------
    G
        Graph with node ``x``/``y`` coordinates in ``G.graph['crs']`` (or
        ``source_crs``). Directed graphs: each edge is one direction; undirected:
        both. Edge ``geometry`` (LineString or WKT) is used when present.
    profile
        Speed profile for edges without a travel time.
    weight, weight_unit
        Edge attribute with the travel time and its unit; ``"minutes"`` is picked up
        automatically when every edge has it (round trip of :func:`to_networkx`).
    crs
        Metric CRS of the result (default: the graph's own CRS if it is projected in
        metres, else :func:`~schoolplan.coords.metric_crs`).
    source_crs
        CRS of the node coordinates when ``G.graph['crs']`` is missing.
    simplify, bad_weather
        As in :func:`build_graph`.

    Returns
    -------
    RoadGraph
    """
    prof = load_profile(profile)
    pieces = rd.pieces_from_networkx(G, weight=weight, weight_unit=weight_unit, crs=source_crs,
                                     label="networkx graph")
    if crs is None and pieces.crs.is_projected and _is_metre(pieces.crs):
        crs = pieces.crs
    return _assemble(pieces, prof, crs=crs, bad_weather=bad_weather, dem=None, simplify=simplify,
                     node_tolerance_m=0.0)


def _is_metre(crs: CRS) -> bool:
    try:
        return all(ax.unit_name in {"metre", "meter"} for ax in crs.axis_info)
    except Exception:
        return False


def to_networkx(graph: RoadGraph) -> nx.MultiDiGraph:
    """Export the routing graph as an osmnx-style MultiDiGraph.

    Nodes are the routing node numbers with ``x``, ``y`` (graph CRS, metres) and
    ``osmid``; edges carry ``minutes``, ``length`` (= ``length_m``, metres),
    ``road_class`` (also as ``highway``), ``name`` and ``geometry``. ``G.graph['crs']``
    is the graph CRS. :func:`from_networkx` reads it back with the same travel times.

    Parameters
    ----------
    graph
        The routing graph.

    Returns
    -------
    networkx.MultiDiGraph
    """
    G = nx.MultiDiGraph(crs=graph.crs.to_wkt(), profile=graph.profile.name, created_with="schoolplan")
    for i, (x, y, oid) in enumerate(zip(graph.node_x.tolist(), graph.node_y.tolist(),
                                        graph.node_id.tolist(), strict=True)):
        G.add_node(i, x=x, y=y, osmid=oid)
    e = graph.edges
    for u, v, m, ln, cls, name, geom in zip(e["u"].tolist(), e["v"].tolist(), e["minutes"].tolist(),
                                            e["length_m"].tolist(), e["road_class"].tolist(),
                                            e["name"].tolist(), e.geometry.tolist(), strict=True):
        attrs: dict[str, Any] = {"minutes": m, "length": ln, "length_m": ln, "geometry": geom}
        if cls is not None:
            attrs["road_class"] = attrs["highway"] = cls
        if name is not None and name == name:
            attrs["name"] = name
        G.add_edge(u, v, **attrs)
    return G


# --------------------------------------------------------------------------- assembly
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


def _assemble(
    pieces: rd._Pieces,
    prof: Profile,
    *,
    crs: Any,
    bad_weather: bool | float,
    dem: Dem | None,
    simplify: bool,
    node_tolerance_m: float,
) -> RoadGraph:
    label = pieces.label
    n_pieces = len(pieces.tags)
    if n_pieces == 0:
        raise NetworkError("the source contains no roads (no highway ways / line features)", file=label,
                           fix="check the file covers the county and contains roads")
    # 1. profile rules per piece
    rules = [evaluate_way(prof, t, unknown_class=pieces.unknown_class, bad_weather=bad_weather)
             for t in pieces.tags]
    allowed = np.fromiter((r.allowed for r in rules), dtype=bool, count=n_pieces)
    speed = np.fromiter((r.speed_kmh for r in rules), dtype=np.float64, count=n_pieces)
    fwd = np.fromiter((r.forward for r in rules), dtype=bool, count=n_pieces)
    bwd = np.fromiter((r.backward for r in rules), dtype=bool, count=n_pieces)
    classes = [r.road_class for r in rules]
    if pieces.minutes is not None:
        has_w = np.isfinite(pieces.minutes)
        allowed = allowed | has_w
        for i in np.nonzero(has_w & np.array([c is None for c in classes]))[0]:
            classes[i] = normalize_road_class(pieces.tags[i].get("highway"))
    if pieces.direction is not None:
        d = pieces.direction
        fwd = np.where(d == 1, True, np.where(d == 2, True, fwd))
        bwd = np.where(d == 1, False, np.where(d == 2, True, bwd))
    unknown = sorted({str(r.road_class) for r in rules if r.allowed and r.unknown_class and r.road_class})
    if unknown:
        warnings.warn(f"{label}: road classes not in the '{prof.name}' profile get "
                      f"{prof.default_speed_kmh:g} km/h: {', '.join(unknown[:12])}"
                      f"{' ...' if len(unknown) > 12 else ''}", DataWarning, stacklevel=3)
    n_excluded = int((~allowed).sum())
    if not allowed.any():
        raise NetworkError(f"no roads usable by the '{prof.name}' profile in the source", file=label,
                           fix="check the road classes (highway / 道路等级) or use another profile "
                               "(e.g. profile='walk')")
    counts = np.diff(pieces.ptr)
    vmask = np.repeat(allowed, counts)
    vx, vy, vkey = pieces.vx[vmask], pieces.vy[vmask], pieces.vkey[vmask]
    piece_ids = np.nonzero(allowed)[0]
    vpiece = np.repeat(piece_ids, counts[allowed])
    finite = np.isfinite(vx) & np.isfinite(vy)
    if not finite.all():
        bad_pieces = np.unique(vpiece[~finite])
        keep = ~np.isin(vpiece, bad_pieces)
        vx, vy, vkey, vpiece = vx[keep], vy[keep], vkey[keep], vpiece[keep]
        warnings.warn(f"{label}: {bad_pieces.size} roads with missing coordinates were skipped",
                      DataWarning, stacklevel=3)
        if vx.size == 0:
            raise NetworkError("every road has missing coordinates", file=label, fix="repair the geometry")

    # 2. projection
    src_crs = pieces.crs
    to_ll = None if src_crs.is_geographic else Transformer.from_crs(src_crs, 4326, always_xy=True)
    if crs is None:
        sx = np.array([np.nanmin(vx), np.nanmax(vx)])
        sy = np.array([np.nanmin(vy), np.nanmax(vy)])
        if to_ll is not None:
            lon, lat = to_ll.transform(sx, sy)
        else:
            lon, lat = sx, sy
        clon, clat = float(np.mean(lon)), float(np.mean(lat))
        if not (-180 <= clon <= 180 and -90 <= clat <= 90):
            raise CrsError(f"road coordinates do not fit the source CRS {src_crs.to_string()} "
                           f"(centre {clon:.3f}, {clat:.3f})", file=label,
                           fix="set the right CRS on the road data")
        target = metric_crs(clon, clat)
    else:
        try:
            target = CRS.from_user_input(crs)
        except Exception as exc:
            raise CrsError(f"unknown crs '{crs}': {exc}", fix="use e.g. 'EPSG:4547'") from None
        if target.is_geographic:
            raise CrsError("the graph CRS must be projected in metres", fix="use a metric CRS or leave crs=None")
    if target.equals(src_crs):
        x, y = vx.copy(), vy.copy()
    else:
        x, y = Transformer.from_crs(src_crs, target, always_xy=True).transform(vx, vy)
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise CrsError(f"road coordinates cannot be projected from {src_crs.to_string()}", file=label,
                       fix="check the CRS of the road data")

    # 3. nodes
    keyed = vkey >= 0
    node = np.empty(x.size, dtype=np.int64)
    ukeys, kinv = np.unique(vkey[keyed], return_inverse=True)
    node[keyed] = kinv.ravel()
    n_keyed = ukeys.size
    if (~keyed).any():
        node[~keyed] = n_keyed + _cluster_points(x[~keyed], y[~keyed], node_tolerance_m)
    n_raw = int(node.max()) + 1
    first = _first_index(node, n_raw)
    nx_, ny_ = x[first], y[first]
    raw_id = np.full(n_raw, -1, dtype=np.int64)
    if n_keyed:
        raw_id[:n_keyed] = ukeys if pieces.node_ids is None else pieces.node_ids[ukeys]

    # 4. segments
    same_piece = vpiece[:-1] == vpiece[1:]
    i = np.nonzero(same_piece)[0]
    sa, sb, sp = node[i], node[i + 1], vpiece[i]
    nonzero = sa != sb
    sa, sb, sp = sa[nonzero], sb[nonzero], sp[nonzero]
    if sa.size == 0:
        raise NetworkError("the roads have no segments (every line has a single point)", file=label,
                           fix="check the geometry")
    length = np.hypot(nx_[sb] - nx_[sa], ny_[sb] - ny_[sa])
    sp_speed = speed[sp]
    f_fwd = np.ones(sa.size)
    f_bwd = np.ones(sa.size)
    steep = np.zeros(sa.size, dtype=bool)
    if dem is not None:
        if to_ll is None and src_crs.is_geographic:
            lon_n, lat_n = vx[first], vy[first]
        else:
            lon_n, lat_n = Transformer.from_crs(target, 4326, always_xy=True).transform(nx_, ny_)
        z = dem.elevation(lon_n, lat_n)
        run = np.maximum(length, float(prof.slope.get("min_run_m", dem.cell_m)))
        grade = (z[sb] - z[sa]) / run
        f_fwd = slope_speed_factor(grade, prof.slope)
        f_bwd = slope_speed_factor(-grade, prof.slope)
        sg = prof.slope.get("steep_grade")
        if sg is not None:
            steep = np.abs(np.nan_to_num(grade)) >= float(sg)
    cap_steep = np.where(steep, prof.bad_road_kmh, np.inf)
    v_f = np.minimum(sp_speed * f_fwd, cap_steep)
    v_b = np.minimum(sp_speed * f_bwd, cap_steep)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_f = length * 0.06 / v_f
        t_b = length * 0.06 / v_b
    if pieces.minutes is not None:
        w = pieces.minutes[sp]
        has = np.isfinite(w)
        plen = np.bincount(sp, weights=length, minlength=n_pieces)[sp]
        pcount = np.bincount(sp, minlength=n_pieces)[sp]
        share = np.where(plen > 0, length / np.where(plen > 0, plen, 1.0), 1.0 / pcount)
        t_f = np.where(has, w * share, t_f)
        t_b = np.where(has, w * share, t_b)
    tf = np.where(fwd[sp], t_f, np.inf)
    tb = np.where(bwd[sp], t_b, np.inf)

    # 5. merge parallel segments (same node pair): fastest per direction
    lo, hi = np.minimum(sa, sb), np.maximum(sa, sb)
    swap = sa > sb
    t_lh = np.where(swap, tb, tf)
    t_hl = np.where(swap, tf, tb)
    key = lo * np.int64(n_raw) + hi
    order = np.lexsort((np.minimum(t_lh, t_hl), key))
    key_o = key[order]
    starts = np.concatenate([[0], np.nonzero(np.diff(key_o))[0] + 1])
    rep = order[starts]
    a = lo[rep]
    b = hi[rep]
    seg_tf = np.minimum.reduceat(t_lh[order], starts)
    seg_tb = np.minimum.reduceat(t_hl[order], starts)
    seg_len = length[rep]
    seg_piece = sp[rep]
    usable = np.isfinite(seg_tf) | np.isfinite(seg_tb)
    a, b, seg_tf, seg_tb, seg_len, seg_piece = (arr[usable] for arr in (a, b, seg_tf, seg_tb, seg_len, seg_piece))

    # 6. largest strongly connected component
    ff, fb = np.isfinite(seg_tf), np.isfinite(seg_tb)
    rows = np.concatenate([a[ff], b[fb]])
    cols = np.concatenate([b[ff], a[fb]])
    adj = sparse.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n_raw, n_raw))
    _, lab = connected_components(adj, directed=True, connection="strong")
    used = np.unique(np.concatenate([a, b]))
    comp_sizes = np.bincount(lab[used])
    big = int(np.argmax(comp_sizes))
    in_big = lab == big
    keep = in_big[a] & in_big[b]
    piece_class = pd.Series(classes, dtype=object)
    drop_idx = np.nonzero(~keep)[0]
    dropped_geom = gpd.GeoDataFrame(
        {"road_class": piece_class.iloc[seg_piece[drop_idx]].to_numpy() if drop_idx.size else []},
        geometry=shapely.linestrings(np.stack([np.column_stack([nx_[a[drop_idx]], ny_[a[drop_idx]]]),
                                               np.column_stack([nx_[b[drop_idx]], ny_[b[drop_idx]]])], axis=1))
        if drop_idx.size else [],
        crs=target,
    )
    n_comp_used = int((comp_sizes > 0).sum())
    dropped = DroppedReport(
        n_nodes=int((~in_big[used]).sum()),
        n_segments=int(drop_idx.size),
        km=float(seg_len[drop_idx].sum() / 1000.0),
        n_components=n_comp_used - 1,
        ways_missing_nodes=int(pieces.n_missing_ways),
        ways_excluded=n_excluded,
        geometry=dropped_geom,
    )
    if keep.sum() == 0:
        raise NetworkError(f"the roads usable by the '{prof.name}' profile do not form a connected network",
                           file=label, fix="check one-way tags and the extent of the data")
    dxy = np.column_stack([nx_[a[drop_idx]], ny_[a[drop_idx]], nx_[b[drop_idx]], ny_[b[drop_idx]]])
    a, b, seg_tf, seg_tb, seg_len, seg_piece = (arr[keep] for arr in (a, b, seg_tf, seg_tb, seg_len, seg_piece))

    # 7. chains (simplification)
    chain_of, pos_of, rev_of, c_start, c_end = _walk_chains(a, b, seg_tf, seg_tb, n_raw, simplify)
    order = np.lexsort((pos_of, chain_of))
    ch = chain_of[order]
    pos = pos_of[order]
    rev = rev_of[order]
    sa_o, sb_o = a[order], b[order]
    ca = np.where(rev, sb_o, sa_o)
    cb = np.where(rev, sa_o, sb_o)
    ctf = np.where(rev, seg_tb[order], seg_tf[order])
    ctb = np.where(rev, seg_tf[order], seg_tb[order])
    clen = seg_len[order]
    cpiece = seg_piece[order]
    n_ch = len(c_start)
    nseg = np.bincount(ch, minlength=n_ch).astype(np.int64)
    gstart = np.concatenate([[0], np.cumsum(nseg)[:-1]])
    f_ok = np.isfinite(ctf)
    b_ok = np.isfinite(ctb)
    f0 = _group_offsets(np.where(f_ok, ctf, 0.0), gstart, nseg)
    b0 = _group_offsets(np.where(b_ok, ctb, 0.0), gstart, nseg)
    l0 = _group_offsets(clen, gstart, nseg)
    t_fwd = np.add.reduceat(ctf, gstart)
    t_bwd = np.add.reduceat(ctb, gstart)
    ch_len = np.add.reduceat(clen, gstart)
    c_start = np.asarray(c_start, dtype=np.int64)
    c_end = np.asarray(c_end, dtype=np.int64)

    # routing nodes
    rnodes = np.unique(np.concatenate([c_start, c_end]))
    ra = np.searchsorted(rnodes, c_start)
    rb = np.searchsorted(rnodes, c_end)

    # chain attributes: the class with the most length, and the longest way of that class
    pc_codes, pc_uniques = pd.factorize(piece_class, use_na_sentinel=True)
    pl = (pd.DataFrame({"c": ch, "k": pc_codes[cpiece], "p": cpiece, "l": clen})
          .groupby(["c", "k", "p"], sort=False)["l"].sum().reset_index())
    pl["kl"] = pl.groupby(["c", "k"])["l"].transform("sum")
    best = pl.sort_values(["c", "kl", "l"], ascending=[True, False, False]).drop_duplicates("c")
    best = best.set_index("c").reindex(np.arange(n_ch))
    chain_class = np.array([pc_uniques[k] if k >= 0 else None for k in best["k"].to_numpy()], dtype=object)
    names = np.empty(n_ch, dtype=object)
    names[:] = [_name(pieces.tags[p].get("name")) for p in best["p"].to_numpy().tolist()]

    # geometry per chain
    last = gstart + nseg - 1
    pts_node = np.concatenate([ca, cb[last]])
    pts_chain = np.concatenate([ch, np.arange(n_ch)])
    pts_pos = np.concatenate([pos, nseg])
    po = np.lexsort((pts_pos, pts_chain))
    coords = np.column_stack([nx_[pts_node[po]], ny_[pts_node[po]]])
    chain_geom = shapely.linestrings(coords, indices=pts_chain[po])

    # directed edges: forward then backward per chain
    has_f = np.isfinite(t_fwd)
    has_b = np.isfinite(t_bwd)
    ne_per = has_f.astype(np.int64) + has_b.astype(np.int64)
    first_e = np.concatenate([[0], np.cumsum(ne_per)[:-1]])
    fwd_edge = np.where(has_f, first_e, -1)
    bwd_edge = np.where(has_b, first_e + has_f, -1)
    n_e = int(ne_per.sum())
    eu = np.empty(n_e, dtype=np.int64)
    ev = np.empty(n_e, dtype=np.int64)
    em = np.empty(n_e)
    ec = np.empty(n_e, dtype=np.int64)
    cf, cb_ = np.nonzero(has_f)[0], np.nonzero(has_b)[0]
    eu[fwd_edge[cf]], ev[fwd_edge[cf]], em[fwd_edge[cf]], ec[fwd_edge[cf]] = ra[cf], rb[cf], t_fwd[cf], cf
    eu[bwd_edge[cb_]], ev[bwd_edge[cb_]], em[bwd_edge[cb_]], ec[bwd_edge[cb_]] = rb[cb_], ra[cb_], t_bwd[cb_], cb_
    is_b = np.zeros(n_e, dtype=bool)
    is_b[bwd_edge[cb_]] = True
    egeom = chain_geom[ec]
    egeom = np.where(is_b, shapely.reverse(egeom), egeom)
    elen = ch_len[ec]
    with np.errstate(divide="ignore", invalid="ignore"):
        espeed = np.where(em > 0, elen / 1000.0 / (em / 60.0), np.nan)
    edges = gpd.GeoDataFrame(
        {"u": eu, "v": ev, "minutes": em, "length_m": elen, "speed_kmh": espeed,
         "road_class": chain_class[ec], "name": names[ec],
         "oneway": ~(has_f & has_b)[ec], "chain": ec},
        geometry=egeom, crs=target,
    )

    # CSR (no self-loops; fastest of parallel edges)
    n = rnodes.size
    indptr, indices, mins = _csr(eu, ev, em, n)
    rindptr, rindices, rmins = _csr(ev, eu, em, n)

    # snapping index
    x0, y0 = nx_[ca], ny_[ca]
    x1, y1 = nx_[cb], ny_[cb]
    seg_lines = shapely.linestrings(np.stack([np.column_stack([x0, y0]), np.column_stack([x1, y1])], axis=1))
    dtree = None
    if dxy.shape[0]:
        dtree = shapely.STRtree(shapely.linestrings(np.stack([dxy[:, :2], dxy[:, 2:]], axis=1)))
    segs = _Segments(x0=x0, y0=y0, x1=x1, y1=y1, chain=ch, pos=pos, f0=f0, tf=ctf, b0=b0, tb=ctb, l0=l0,
                     length_m=clen, tree=shapely.STRtree(seg_lines), dropped_xy=dxy, dropped_tree=dtree)
    chains = _Chains(a=ra, b=rb, t_fwd=t_fwd, t_bwd=t_bwd, length_m=ch_len, n_seg=nseg,
                     fwd_edge=fwd_edge, bwd_edge=bwd_edge)
    stats = {"raw_nodes": int(used.size), "raw_segments": int(sa.size), "nodes": int(n),
             "edges": int(indices.size), "chains": int(n_ch), "km": float(ch_len.sum() / 1000.0)}
    return RoadGraph(
        crs=target, profile=prof, node_x=nx_[rnodes].copy(), node_y=ny_[rnodes].copy(),
        node_id=raw_id[rnodes].copy(), indptr=indptr, indices=indices, minutes=mins,
        rev_indptr=rindptr, rev_indices=rindices, rev_minutes=rmins, edges=edges, dropped=dropped,
        stats=stats, source=label, bad_weather=bad_weather, _chains=chains, _segments=segs,
    )


def _name(v: Any) -> str | None:
    if isinstance(v, list | tuple):
        v = v[0] if v else None
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return str(v)


def _group_offsets(vals: F64, gstart: I64, nseg: I64) -> F64:
    """Exclusive cumulative sum of ``vals`` within consecutive groups."""
    cs = np.cumsum(vals)
    excl = cs - vals
    return excl - np.repeat(excl[gstart], nseg)


def _csr(u: I64, v: I64, w: F64, n: int) -> tuple[I64, I64, F64]:
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


def _walk_chains(
    a: I64, b: I64, tf: F64, tb: F64, n_raw: int, simplify: bool
) -> tuple[I64, I64, NDArray[np.bool_], list[int], list[int]]:
    """Group segments into chains through removable degree-2 nodes.

    A node is removable when exactly two segments meet there and travel can pass
    through it in exactly the directions both segments allow (two-way → two-way, or
    one-way → one-way in the same sense). Pure cycles get one of their nodes as a
    routing node.
    """
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
    A = a.tolist()
    B = b.tolist()
    INT = interior.tolist()
    I1 = i1.tolist()
    I2 = i2.tolist()
    chain_of = [-1] * k
    pos_of = [0] * k
    rev_of = [False] * k
    c_start: list[int] = []
    c_end: list[int] = []
    inc_list = inc_seg.tolist()
    ptr = inc_ptr.tolist()
    endpoints = np.nonzero((deg > 0) & ~interior)[0].tolist()

    def walk(start: int, s: int) -> None:
        c = len(c_start)
        cur = start
        p = 0
        while True:
            chain_of[s] = c
            pos_of[s] = p
            p += 1
            if A[s] == cur:
                nxt = B[s]
            else:
                nxt = A[s]
                rev_of[s] = True
            if not INT[nxt] or nxt == start:
                break
            s = I1[nxt] if I1[nxt] != s else I2[nxt]
            cur = nxt
        c_start.append(start)
        c_end.append(nxt)

    for e in endpoints:
        for j in range(ptr[e], ptr[e + 1]):
            s = inc_list[j]
            if chain_of[s] < 0:
                walk(e, s)
    for s in range(k):  # pure cycles of removable nodes
        if chain_of[s] < 0:
            walk(A[s], s)
    return (np.asarray(chain_of, dtype=np.int64), np.asarray(pos_of, dtype=np.int64),
            np.asarray(rev_of, dtype=bool), c_start, c_end)

