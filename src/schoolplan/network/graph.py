"""Road graphs for routing: build from any source, keep the largest strongly
connected component, simplify degree-2 chains, store as CSR arrays.

Pipeline (:func:`build_graph`; the steps live in :mod:`schoolplan.network._build`)
-----------------------------------------------------------------------------------
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

:func:`from_arrays` enters at step 3 with node coordinates and edge arrays (no
reader, no per-way Python work); :func:`from_networkx` and the file readers reach
the same array core.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from pyproj import CRS
from scipy import sparse

from schoolplan.errors import ConfigError, CrsError, DataWarning, NetworkError, format_rows
from schoolplan.network import _build as bd
from schoolplan.network import _readers as rd
from schoolplan.network._build import DroppedReport
from schoolplan.network._core import F64, I64, Chains, Segments, warn_caller
from schoolplan.network.dem import Dem, read_hgt
from schoolplan.network.profiles import Profile, evaluate_ways, load_profile, normalize_road_class

__all__ = ["DroppedReport", "RoadGraph", "build_graph", "from_arrays", "from_networkx", "to_networkx"]


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
    chains, segments
        The simplified road pieces between routing nodes and the snapping index
        (:class:`~schoolplan.network._core.Chains`, :class:`~schoolplan.network._core.Segments`),
        used by snapping, queries and isochrones.
    uid
        A random identifier of this graph, recorded in points snapped to it
        (:func:`~schoolplan.network.snap.prepare_points`) so they are never used on
        another graph.
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
    chains: Chains | None = field(default=None, repr=False)
    segments: Segments | None = field(default=None, repr=False)
    uid: str = ""

    @property
    def index(self) -> tuple[Chains, Segments]:
        """The chains and the snapping index (every graph built here has both).

        Raises
        ------
        NetworkError
            A graph constructed by hand without them.
        """
        if self.chains is None or self.segments is None:
            raise NetworkError("this RoadGraph has no chain index (it was not made by build_graph / "
                               "from_arrays / from_networkx)", fix="build the graph with build_graph or from_arrays")
        return self.chains, self.segments

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
        PBF always uses pyosmium. Files read with pyosmium are remembered (the last one,
        by path, size and modification time): building the bus and the walking graph
        of a county reads its PBF once.
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
    columns = {"class_column": class_column, "speed_column": speed_column, "maxspeed_column": maxspeed_column,
               "oneway_column": oneway_column, "bad_road_column": bad_road_column}
    pieces = rd.read_source(source, kind=kind, label=label, respect_oneway=prof.respect_oneway,
                            network_type=prof.osmnx_network_type, layer=layer, encoding=encoding, engine=engine,
                            online=online, weight=weight, weight_unit=weight_unit, source_crs=source_crs,
                            columns=columns)
    dem_obj = dem if isinstance(dem, Dem) or dem is None else read_hgt(dem)
    fields = bd.assemble_pieces(pieces, prof, crs=crs, bad_weather=bad_weather, dem=dem_obj, simplify=simplify,
                                node_tolerance_m=node_tolerance_m)
    return RoadGraph(profile=prof, source=label, bad_weather=bad_weather, **fields)


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
    fields = bd.assemble_pieces(pieces, prof, crs=crs, bad_weather=bad_weather, dem=None, simplify=simplify,
                                node_tolerance_m=0.0)
    return RoadGraph(profile=prof, source="networkx graph", bad_weather=bad_weather, **fields)


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


# --------------------------------------------------------------------------- arrays
def _as_array(values: ArrayLike, dtype: Any, name: str, size: int | None = None) -> Any:
    try:
        arr = np.asarray(values, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise NetworkError(f"{name} cannot be read as {np.dtype(dtype).name}: {exc}",
                           fix=f"pass {name} as a 1-D array of numbers") from None
    if arr.ndim != 1 or (size is not None and arr.size != size):
        raise NetworkError(f"{name} must be a 1-D array{'' if size is None else f' of {size:,} values'} "
                           f"(got shape {arr.shape})", fix=f"give one {name} value per {'edge' if size else 'node'}")
    return arr


def _check_edges(u: I64, v: I64, n: int) -> None:
    bad = np.nonzero((u < 0) | (u >= n) | (v < 0) | (v >= n))[0]
    if bad.size:
        raise NetworkError(f"{bad.size:,} edges name nodes outside 0 … {n - 1:,}", rows=bad.tolist(),
                           fix="u and v are positions in x / y (0-based)")


def _edge_times(
    prof: Profile, length: F64, minutes: F64 | None, tags: dict[str, Any], *, directed: bool,
    oneway: Any, bad_weather: bool | float, unknown_class: str, label: str,
) -> tuple[F64, F64, Any, int]:
    """Minutes per direction (``inf`` = not allowed), road class and number of unusable
    edges, for :func:`from_arrays`."""
    m = length.size
    if minutes is None:
        rules = evaluate_ways(prof, tags, n=m, unknown_class=unknown_class, bad_weather=bad_weather)
        unknown = rules.unknown_classes()
        if unknown:
            warn_caller(f"{label}: road classes not in the '{prof.name}' profile get {prof.default_speed_kmh:g} "
                        f"km/h: {', '.join(unknown[:12])}{' ...' if len(unknown) > 12 else ''}", DataWarning)
        elif "highway" not in tags and "speed_kmh" not in tags:
            warn_caller(f"{label}: no road class or speed given; every road gets the profile's default speed "
                          f"({prof.default_speed_kmh:g} km/h)", DataWarning)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = length * 0.06 / rules.speed_kmh
        tf = np.where(rules.allowed & rules.forward, t, np.inf)
        tb = np.where(rules.allowed & rules.backward & (not directed), t, np.inf)
        return tf, tb, rules.road_class, int((~rules.allowed).sum())
    bad = np.nonzero(~(np.isfinite(minutes) & (minutes >= 0)))[0]
    if bad.size:
        raise NetworkError(f"{bad.size:,} edges have no valid travel time (minutes must be a number ≥ 0)",
                           rows=bad.tolist(), fix="give minutes ≥ 0 for every edge, or minutes=None to use the profile")
    one = np.zeros(m, dtype=bool) if oneway is None else np.asarray(oneway)
    if one.shape != (m,) or not (one.dtype == bool or (np.issubdtype(one.dtype, np.integer) and np.isin(one, (0, 1)).all())):
        raise NetworkError(f"with minutes given, oneway must be {m:,} booleans (True: u → v only)",
                           fix="pass oneway as a boolean array, or minutes=None to read one-way tags with the profile")
    one = one.astype(bool)
    classes = np.full(m, None, dtype=object)
    if "highway" in tags:
        codes, uniques = pd.factorize(pd.Series(tags["highway"], dtype=object), use_na_sentinel=True)
        norm = np.array([normalize_road_class(c) for c in uniques] + [None], dtype=object)
        classes = norm[codes]
    return minutes, np.where(~one & (not directed), minutes, np.inf), classes, 0


def from_arrays(
    x: ArrayLike,
    y: ArrayLike,
    u: ArrayLike,
    v: ArrayLike,
    minutes: ArrayLike | None = None,
    *,
    source_crs: Any,
    crs: Any = None,
    road_class: ArrayLike | None = None,
    speed_kmh: ArrayLike | None = None,
    maxspeed: ArrayLike | None = None,
    oneway: ArrayLike | None = None,
    bad_road: ArrayLike | None = None,
    name: ArrayLike | None = None,
    length_m: ArrayLike | None = None,
    node_id: ArrayLike | None = None,
    directed: bool = False,
    profile: str | Path | Mapping[str, Any] | Profile = "school_bus",
    bad_weather: bool | float = False,
    unknown_class: Literal["default", "exclude"] = "default",
    simplify: bool = True,
    label: str = "arrays",
) -> RoadGraph:
    """Build a :class:`RoadGraph` from node and edge arrays (the array entry point).

    Every node is a road vertex (junction or shape point); every edge a straight
    segment between two of them. Nothing is done per edge in Python: the profile is
    evaluated once per distinct combination of tags
    (:func:`~schoolplan.network.profiles.evaluate_ways`), then the graph goes through
    the same steps as :func:`build_graph` (largest strongly connected component,
    degree-2 chains simplified, CSR arrays).

    Parameters
    ----------
    x, y
        Node coordinates in ``source_crs`` (``n`` values each).
    u, v
        Edge end nodes: 0-based positions in ``x`` / ``y`` (``m`` values each).
    minutes
        Travel time of each edge, minutes, used as given (in both directions unless
        ``directed`` or ``oneway``); None: from the profile, ``minutes = length_m /
        1000 / speed_kmh × 60`` with the speed of ``road_class`` after the caps.
    source_crs
        CRS of ``x`` / ``y`` (e.g. ``"EPSG:4326"`` for lon/lat, ``"EPSG:4546"``).
    crs
        Metric CRS of the result; default ``source_crs`` when it is projected in
        metres, else :func:`~schoolplan.coords.metric_crs` at the network's centre.
    road_class, speed_kmh, maxspeed, oneway, bad_road
        Per edge, optional (None values = absent): class (OSM ``highway`` value or
        国道/省道/县道/乡道/村道 ...), explicit speed (replaces the class speed), posted
        limit (caps it), one-way in the ``u → v`` direction, 急弯陡坡 flag (school-bus
        cap). Used only when ``minutes`` is None, except ``road_class`` (kept for the
        edge table) and ``oneway``, which must then be booleans.
    name
        Road name per edge (for the edge table).
    length_m
        Edge lengths, m; default: the straight distance in the metric CRS.
    node_id
        External node ids (default: the positions 0 … n − 1), kept in
        ``RoadGraph.node_id``.
    directed
        Each edge is one direction only (``u → v``).
    profile, bad_weather
        As in :func:`build_graph`.
    unknown_class
        Classes the profile does not list: ``"default"`` (default speed, with a
        warning, as for road layers) or ``"exclude"`` (not roads, as for OSM).
    simplify
        Merge degree-2 chains (default).
    label
        Name of the source in messages and ``RoadGraph.source``.

    Returns
    -------
    RoadGraph

    Raises
    ------
    NetworkError
        Arrays of the wrong shape, edges naming missing nodes, invalid minutes, no
        usable edge, no connected network.
    CrsError
        Missing or unknown ``source_crs``; coordinates that do not fit it.
    ConfigError
        Invalid profile.

    Examples
    --------
    >>> g = from_arrays([0, 1000, 2000], [0, 0, 0], [0, 1], [1, 2], [1.5, 2.0],
    ...                 source_crs="EPSG:4546")  # doctest: +SKIP
    """
    prof = load_profile(profile)
    if source_crs is None:
        raise CrsError("from_arrays needs source_crs (the CRS of x and y)", fix="e.g. source_crs='EPSG:4326'")
    try:
        src = CRS.from_user_input(source_crs)
    except Exception as exc:
        raise CrsError(f"unknown source_crs '{source_crs}': {exc}", fix="use e.g. 'EPSG:4326'") from None
    xs = _as_array(x, np.float64, "x")
    ys = _as_array(y, np.float64, "y", xs.size)
    us = _as_array(u, np.int64, "u")
    vs = _as_array(v, np.int64, "v", us.size)
    if us.size == 0:
        raise NetworkError("from_arrays got no edges", fix="pass at least one edge (u, v)")
    _check_edges(us, vs, xs.size)
    bad = np.nonzero(~(np.isfinite(xs) & np.isfinite(ys)))[0]
    if bad.size:
        raise NetworkError(f"{bad.size:,} nodes have missing coordinates ({format_rows(bad.tolist())})",
                           rows=bad.tolist(), fix="give finite x and y for every node")
    target = crs if crs is not None else (src if src.is_projected and _is_metre(src) else None)
    target_crs = bd.choose_crs(src, xs, ys, target, label)
    px, py = bd.project_xy(src, target_crs, xs, ys, label)
    m = us.size
    length = (np.hypot(px[vs] - px[us], py[vs] - py[us]) if length_m is None
              else _as_array(length_m, np.float64, "length_m", m))
    tags = {k: val for k, val in (("highway", road_class), ("speed_kmh", speed_kmh), ("maxspeed", maxspeed),
                                  ("oneway", oneway), ("bad_road", bad_road)) if val is not None}
    tf, tb, classes, n_excluded = _edge_times(
        prof, length, None if minutes is None else _as_array(minutes, np.float64, "minutes", m), tags,
        directed=directed, oneway=oneway, bad_weather=bad_weather, unknown_class=unknown_class, label=label)
    if not (np.isfinite(tf) | np.isfinite(tb)).any():
        raise NetworkError(f"no edges usable by the '{prof.name}' profile", file=label,
                           fix="check the road classes or use another profile (e.g. profile='walk')")
    names = None if name is None else np.asarray(name, dtype=object)
    ids = np.arange(xs.size, dtype=np.int64) if node_id is None else _as_array(node_id, np.int64, "node_id", xs.size)

    def piece_name(idx: I64) -> Any:
        out = np.full(idx.size, None, dtype=object)
        if names is not None:
            out[:] = [None if (n is None or n != n) else str(n) for n in names[idx].tolist()]
        return out

    loop = us != vs
    keep = np.nonzero(loop)[0] if not loop.all() else np.arange(m, dtype=np.int64)
    raw = bd.merge_parallel(crs=target_crs, node_x=px, node_y=py, node_id=ids, a=us[keep], b=vs[keep],
                            tf=tf[keep], tb=tb[keep], length_m=length[keep], piece=keep, piece_class=classes,
                            piece_name=piece_name, ways_missing_nodes=0, ways_excluded=n_excluded, label=label)
    fields = bd.assemble_raw(raw, prof, simplify=simplify)
    return RoadGraph(profile=prof, source=label, bad_weather=bad_weather, **fields)
