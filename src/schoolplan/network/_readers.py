"""Readers: every road source becomes the same list of tagged polylines
(:class:`~schoolplan.network._core.Pieces`).

A *piece* is one OSM way, one road-layer line or one graph edge: an ordered run of
vertices plus its tags. Vertices carry a key when their identity is known (OSM node
id, graph node) and are matched by coordinates otherwise (road layers, interior
points of graph-edge geometries).

:func:`read_source` dispatches on the kind of source. OSM files read with pyosmium
are remembered (one file, keyed by path, size and modification time), so building
the bus and the walking graph of a county reads its PBF once.
"""

from __future__ import annotations

import math
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from pyproj import CRS

from schoolplan.errors import ConfigError, CrsError, DataWarning, InputFileError, NetworkError
from schoolplan.network._core import Pieces, warn_caller

__all__ = [
    "LAYER_SUFFIXES",
    "OSM_TAGS",
    "PBF_SUFFIXES",
    "XML_SUFFIXES",
    "pieces_from_lines",
    "pieces_from_networkx",
    "read_graphml",
    "read_osm_osmium",
    "read_osm_xml_osmnx",
    "read_road_file",
    "read_source",
    "source_kind",
]

#: OSM way tags read from OSM files.
OSM_TAGS: tuple[str, ...] = (
    "highway", "maxspeed", "oneway", "junction", "access", "bus", "psv", "motor_vehicle",
    "motorcar", "vehicle", "foot", "service", "area", "name", "hazard",
)
_BAD_HAZARD = {"curve", "curves", "dangerous_curve", "dangerous_curves", "steep_incline",
               "steep_decline", "narrow_road", "narrow", "landslide", "rockfall"}
PBF_SUFFIXES = (".pbf", ".o5m")
XML_SUFFIXES = (".osm", ".xml", ".osm.xml", ".osm.bz2", ".osm.gz")
LAYER_SUFFIXES = (".gpkg", ".shp", ".geojson", ".json", ".fgb", ".gdb", ".zip", ".sqlite", ".gml", ".kml")


def _osm_tags(t: Any) -> dict[str, Any]:
    out = {k: t.get(k) for k in OSM_TAGS if t.get(k) is not None}
    hz = str(out.get("hazard", "")).lower()
    if hz in _BAD_HAZARD:
        out["bad_road"] = True
    return out


def read_osm_osmium(path: Path) -> Pieces:
    """Read highway ways of an OSM PBF or XML file with pyosmium.

    Ways whose nodes are missing from the extract are cut at the missing nodes
    (the complete runs are kept) and counted in ``n_missing_ways``.
    """
    import osmium

    ptr = [0]
    vx: list[float] = []
    vy: list[float] = []
    vkey: list[int] = []
    tags: list[dict[str, Any]] = []
    n_missing = 0
    try:
        fp = (osmium.FileProcessor(str(path)).with_locations()
              .with_filter(osmium.filter.KeyFilter("highway"))
              .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY)))
        for w in fp:
            t = _osm_tags(w.tags)
            run_x: list[float] = []
            run_y: list[float] = []
            run_k: list[int] = []
            missing = False
            for n in w.nodes:
                loc = n.location
                if loc.valid():
                    run_x.append(loc.lon)
                    run_y.append(loc.lat)
                    run_k.append(n.ref)
                    continue
                missing = True
                if len(run_k) >= 2:
                    vx += run_x
                    vy += run_y
                    vkey += run_k
                    ptr.append(len(vkey))
                    tags.append(t)
                run_x, run_y, run_k = [], [], []
            if len(run_k) >= 2:
                vx += run_x
                vy += run_y
                vkey += run_k
                ptr.append(len(vkey))
                tags.append(t)
            n_missing += missing
    except RuntimeError as exc:
        raise InputFileError(f"cannot read the OSM file: {exc}", file=str(path),
                             fix="check that the file is a complete .osm.pbf / .osm extract "
                                 "(re-download or re-export it)") from None
    return Pieces(crs=CRS.from_epsg(4326), ptr=np.asarray(ptr, dtype=np.int64),
                   vx=np.asarray(vx, dtype=np.float64), vy=np.asarray(vy, dtype=np.float64),
                   vkey=np.asarray(vkey, dtype=np.int64), tags=tags, label=str(path),
                   n_missing_ways=n_missing, node_ids=None)


def _drop_incomplete_ways(path: Path, out: Path) -> int:
    """Write a copy of an OSM XML file without ways that reference missing nodes."""
    try:
        tree = ET.parse(path)
    except (ET.ParseError, OSError) as exc:
        raise InputFileError(f"cannot read the OSM XML file: {exc}", file=str(path),
                             fix="check that the file is complete OSM XML") from None
    root = tree.getroot()
    nodes = {el.get("id") for el in root.iter("node")}
    dropped = 0
    for way in list(root.findall("way")):
        if any(nd.get("ref") not in nodes for nd in way.findall("nd")):
            root.remove(way)
            dropped += 1
    tree.write(out, encoding="utf-8", xml_declaration=True)
    return dropped


def read_osm_xml_osmnx(path: Path, *, bidirectional: bool) -> tuple[nx.MultiDiGraph, int]:
    """Read an OSM XML file with ``osmnx.graph_from_xml``, first dropping ways whose
    nodes are missing from the extract (osmnx raises "Some edges missing nodes")."""
    import osmnx as ox

    with tempfile.TemporaryDirectory() as tmp:
        clean = Path(tmp) / "clean.osm"
        dropped = _drop_incomplete_ways(path, clean)
        saved = list(ox.settings.useful_tags_way)
        ox.settings.useful_tags_way = sorted(set(saved) | set(OSM_TAGS))
        try:
            G = ox.graph_from_xml(clean, bidirectional=bidirectional, simplify=False, retain_all=True)
        except Exception as exc:  # osmnx raises several types for empty / odd files
            raise NetworkError(f"osmnx could not build a graph from the OSM XML file: {exc}",
                               file=str(path), fix="check that the file contains highway ways") from None
        finally:
            ox.settings.useful_tags_way = saved
    return G, dropped


def read_graphml(path: Path) -> nx.Graph:
    """Read a GraphML file (osmnx-style typed attributes when possible)."""
    import osmnx as ox

    try:
        return ox.load_graphml(path, edge_dtypes={"minutes": float, "length_m": float,
                                                  "speed_kmh": float, "oneway": _parse_bool})
    except Exception:
        try:
            return nx.read_graphml(path)
        except Exception as exc:
            raise InputFileError(f"cannot read the GraphML file: {exc}", file=str(path),
                                 fix="save graphs with osmnx.save_graphml or networkx.write_graphml") from None


def _parse_bool(v: Any) -> bool:
    return str(v).strip().lower() in {"true", "1", "yes"}


def _graph_crs(G: nx.Graph, crs: Any) -> CRS:
    crs_value = crs if crs is not None else G.graph.get("crs")
    if crs_value is None:
        raise CrsError("the graph has no CRS (G.graph['crs'] is missing)",
                       fix="pass crs= (e.g. 'EPSG:4326' for lon/lat node coordinates)")
    try:
        return CRS.from_user_input(crs_value)
    except Exception as exc:
        raise CrsError(f"unknown CRS '{crs_value}' on the graph: {exc}", fix="pass a valid crs=") from None


def _node_xy(G: nx.Graph, nodes: list[Any]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    try:
        return (np.array([float(G.nodes[n]["x"]) for n in nodes]), np.array([float(G.nodes[n]["y"]) for n in nodes]))
    except (KeyError, TypeError, ValueError):
        raise NetworkError("graph nodes need numeric 'x' and 'y' attributes (coordinates)",
                           fix="use an osmnx graph or set G.nodes[n]['x'], ['y']") from None


def _interior_points(geom: Any, ux: float, uy: float) -> NDArray[np.float64]:
    """Interior vertices of an edge geometry (LineString or WKT), oriented from ``u``."""
    if isinstance(geom, str):
        try:
            geom = shapely.from_wkt(geom)
        except Exception:
            geom = None
    if geom is None or geom.geom_type != "LineString" or len(geom.coords) <= 2:
        return np.empty((0, 2))
    cs = np.asarray(geom.coords)[:, :2]
    if np.hypot(*(cs[0] - (ux, uy))) > np.hypot(*(cs[-1] - (ux, uy))):
        cs = cs[::-1]
    return cs[1:-1]


_EDGE_TAGS = ("maxspeed", "access", "bus", "psv", "motor_vehicle", "motorcar", "vehicle", "foot", "service", "area",
              "junction", "name", "bad_road", "speed_kmh")


def _edge_tags(d: dict[str, Any]) -> dict[str, Any]:
    t: dict[str, Any] = {}
    cls = d.get("road_class", d.get("highway"))
    if cls is not None:
        t["highway"] = cls
    for key in _EDGE_TAGS:
        if d.get(key) is not None:
            t[key] = d[key]
    if str(d.get("hazard", "")).lower() in _BAD_HAZARD:
        t["bad_road"] = True
    return t


def _edge_minutes(value: Any, factor: float) -> float:
    try:
        wf = float(value) * factor
    except (TypeError, ValueError):
        return math.nan
    return wf if wf >= 0 and math.isfinite(wf) else math.nan


def pieces_from_networkx(
    G: nx.Graph,
    *,
    weight: str | None,
    weight_unit: str,
    crs: Any,
    label: str,
    unknown_class: str = "exclude",
) -> Pieces:
    """Convert a (Multi)(Di)Graph with node ``x``/``y`` into pieces (one per edge)."""
    gcrs = _graph_crs(G, crs)
    nodes = list(G.nodes)
    if not nodes or G.number_of_edges() == 0:
        raise NetworkError("the graph has no edges", fix="pass a graph with road edges")
    index = {n: i for i, n in enumerate(nodes)}
    nxs, nys = _node_xy(G, nodes)
    ids = np.array([n if isinstance(n, int | np.integer) and not isinstance(n, bool) else -1 for n in nodes],
                   dtype=np.int64)
    factor = {"min": 1.0, "s": 1 / 60, "h": 60.0}.get(weight_unit)
    if factor is None:
        raise NetworkError(f"unknown weight_unit '{weight_unit}'", fix="use 'min', 's' or 'h'")
    auto_minutes = weight is None and all("minutes" in d for _, _, d in G.edges(data=True))
    wname = "minutes" if auto_minutes else weight
    ptr = [0]
    vx: list[float] = []
    vy: list[float] = []
    vkey: list[int] = []
    tags: list[dict[str, Any]] = []
    minutes: list[float] = []
    missing_w = []
    edges = G.edges(keys=True, data=True) if G.is_multigraph() else ((u, v, 0, d) for u, v, d in G.edges(data=True))
    for u, v, k, d in edges:
        iu, iv = index[u], index[v]
        mid = _interior_points(d.get("geometry"), nxs[iu], nys[iu])
        vx += [nxs[iu], *mid[:, 0].tolist(), nxs[iv]]
        vy += [nys[iu], *mid[:, 1].tolist(), nys[iv]]
        vkey += [iu, *([-1] * len(mid)), iv]
        ptr.append(len(vkey))
        tags.append(_edge_tags(d))
        if wname is not None:
            minutes.append(_edge_minutes(d.get(wname), factor))
            if math.isnan(minutes[-1]):
                missing_w.append((u, v, k))
    if missing_w:
        raise NetworkError(f"edges without a valid '{wname}' travel time (must be a number ≥ 0)",
                           rows=missing_w, fix=f"set '{wname}' on every edge, or pass weight=None to use the profile")
    return Pieces(
        crs=gcrs, ptr=np.asarray(ptr, dtype=np.int64), vx=np.asarray(vx, dtype=np.float64),
        vy=np.asarray(vy, dtype=np.float64), vkey=np.asarray(vkey, dtype=np.int64), tags=tags,
        label=label, unknown_class=unknown_class,
        minutes=np.asarray(minutes, dtype=np.float64) if wname is not None else None,
        direction=np.full(len(tags), 1 if G.is_directed() else 2, dtype=np.int8), node_ids=ids,
    )


# --------------------------------------------------------------------------- road layers
_GEOFABRIK_ONEWAY = {"F": "yes", "T": "-1", "B": "no"}


def read_road_file(path: Path, *, layer: str | None, encoding: str | None) -> gpd.GeoDataFrame:
    """Read a road line layer (GPKG, SHP ...). Shapefiles honour ``.cpg``; without
    one the DBF is read as UTF-8 when it decodes, else GBK/GB18030 (Chinese data)."""
    from schoolplan.io import read_layer

    gdf = read_layer(path, layer=layer, encoding=encoding)
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise NetworkError("the road layer has no geometry", file=str(path), layer=layer,
                           fix="use a line layer (LineString / MultiLineString)")
    return gdf


def _line_columns(gdf: gpd.GeoDataFrame, label: str, given: dict[str, str | None]) -> dict[str, str | None]:
    """Tag name → column of the road layer (given names first, else the ROADS schema aliases)."""
    from schoolplan._validate import normalise_columns
    from schoolplan.schema import LAYERS

    mapping = normalise_columns(pd.DataFrame(gdf.drop(columns=gdf.geometry.name)), LAYERS["roads"])
    canon = {v: k for k, v in mapping.items()}
    cols = {
        "highway": given["class_column"] or canon.get("road_class"),
        "oneway": given["oneway_column"] or canon.get("oneway"),
        "bad_road": given["bad_road_column"] or canon.get("bad_road"),
        "name": given["name_column"] or canon.get("name"),
    }
    spd = given["speed_column"] or canon.get("speed_kmh")
    maxspeed = given["maxspeed_column"]
    # posted limits cap the class speed; design speeds (设计速度) replace it
    if maxspeed is None and spd is not None and str(spd).lower() in {"maxspeed", "限速", "max_speed"}:
        maxspeed, spd = spd, None
    cols["speed_kmh"] = spd
    cols["maxspeed"] = maxspeed
    for c in cols.values():
        if c is not None and c not in gdf.columns:
            raise NetworkError(f"column '{c}' not found in the road layer", file=label, column=c,
                               fix=f"columns are: {', '.join(map(str, gdf.columns))}")
    if cols["highway"] is None and cols["speed_kmh"] is None:
        warn_caller(f"{label}: no road-class or speed column found (e.g. 道路等级, 设计速度); "
                    "every road gets the profile's default speed", DataWarning)
    return cols


def _tag_values(parts: pd.DataFrame, cols: dict[str, str | None]) -> dict[str, list[Any]]:
    """Per tag, the value of every part (Geofabrik one-way letters and numbers read)."""
    columns: dict[str, list[Any]] = {}
    for key, c in cols.items():
        if c is None:
            continue
        vals = parts[c].tolist()
        if key == "oneway":
            strs = {str(v).strip().upper() for v in vals if v is not None and str(v).strip()}
            if strs and strs <= set(_GEOFABRIK_ONEWAY):
                vals = [_GEOFABRIK_ONEWAY.get(str(v).strip().upper()) for v in vals]
        if key in {"speed_kmh", "maxspeed"}:
            num = pd.to_numeric(pd.Series(vals), errors="coerce")
            vals = [None if not (v > 0) else float(v) for v in num]
        columns[key] = vals
    return columns


def _row_tags(columns: dict[str, list[Any]], ok: NDArray[np.bool_]) -> list[dict[str, Any]]:
    tags = []
    for i in np.nonzero(ok)[0].tolist():
        t = {}
        for key, vals in columns.items():
            v = vals[i]
            if v is not None and not (isinstance(v, float) and math.isnan(v)):
                t[key] = v
        tags.append(t)
    return tags


def pieces_from_lines(
    gdf: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    label: str,
    class_column: str | None = None,
    speed_column: str | None = None,
    maxspeed_column: str | None = None,
    oneway_column: str | None = None,
    bad_road_column: str | None = None,
    name_column: str | None = None,
) -> Pieces:
    """Convert a road line layer into pieces; columns are found by the ROADS schema aliases."""
    if isinstance(gdf, gpd.GeoSeries):
        gdf = gpd.GeoDataFrame(geometry=gdf)
    if gdf.crs is None:
        raise CrsError("the road layer has no coordinate reference system", file=label,
                       fix="set the CRS (e.g. gdf.set_crs('EPSG:4490')) or define it in QGIS")
    geom = gdf.geometry
    is_line = geom.geom_type.isin(["LineString", "MultiLineString"]) & ~geom.is_empty
    if not is_line.any():
        raise NetworkError("the road layer has no line geometries", file=label,
                           fix="use a LineString / MultiLineString layer of road centre lines")
    cols = _line_columns(gdf, label, {"class_column": class_column, "speed_column": speed_column,
                                      "maxspeed_column": maxspeed_column, "oneway_column": oneway_column,
                                      "bad_road_column": bad_road_column, "name_column": name_column})
    parts = gdf.loc[is_line.to_numpy()].explode(index_parts=False)
    parts = parts[~parts.geometry.is_empty]
    coords, idx = shapely.get_coordinates(parts.geometry.to_numpy(), return_index=True)
    counts = np.bincount(idx, minlength=len(parts))
    ok = counts >= 2
    tags = _row_tags(_tag_values(parts, cols), ok)
    coords = coords[np.repeat(ok, counts)]
    ptr = np.concatenate([[0], np.cumsum(counts[ok])]).astype(np.int64)
    return Pieces(crs=CRS.from_user_input(gdf.crs), ptr=ptr, vx=coords[:, 0].astype(np.float64),
                  vy=coords[:, 1].astype(np.float64), vkey=np.full(len(coords), -1, dtype=np.int64),
                  tags=tags, label=label, unknown_class="default")


def source_kind(source: Any) -> str:
    """Classify a ``build_graph`` source: networkx, lines, pbf, xml, graphml, layer, place."""
    if isinstance(source, nx.Graph):
        return "networkx"
    if isinstance(source, gpd.GeoDataFrame | gpd.GeoSeries):
        return "lines"
    if isinstance(source, str | Path):
        p = Path(source)
        name = p.name.lower()
        if p.exists():
            if name.endswith(PBF_SUFFIXES):
                return "pbf"
            if name.endswith(XML_SUFFIXES):
                return "xml"
            if name.endswith(".graphml"):
                return "graphml"
            if name.endswith(LAYER_SUFFIXES) or p.is_dir():
                return "layer"
            raise InputFileError(f"unknown road-network format '{p.suffix}'", file=str(p),
                                 fix="use .osm.pbf, .osm (XML), .graphml, or a line layer (.gpkg, .shp)")
        return "place"
    raise InputFileError(f"cannot build a road graph from a {type(source).__name__}",
                         fix="pass a file path, a GeoDataFrame of lines, a networkx graph or a place name")


def pieces_from_place(name: str, *, network_type: str, label: str) -> nx.MultiDiGraph:
    """Download a road graph by place name with osmnx (needs the internet)."""
    import osmnx as ox

    try:
        return ox.graph_from_place(name, network_type=network_type, simplify=False, retain_all=True)
    except Exception as exc:
        raise NetworkError(
            f"could not download the road network of '{name}' from OpenStreetMap ({type(exc).__name__}: {exc})",
            fix="check the internet connection and the place name, or pass an .osm.pbf file "
                "(e.g. from download.geofabrik.de or a clip made with osmium)",
        ) from None



# --------------------------------------------------------------------------- dispatch
_OSM_MEMO: dict[tuple[str, int, int], Pieces] = {}


def read_osm_once(path: Path) -> Pieces:
    """:func:`read_osm_osmium`, remembering the last file read (keyed by its resolved
    path, size and modification time), so that the bus and the walking graph of one
    county parse its OSM file once. The pieces are never modified after reading."""
    st = path.stat()
    key = (str(path.resolve()), int(st.st_size), int(st.st_mtime_ns))
    hit = _OSM_MEMO.get(key)
    if hit is not None:
        return hit
    pieces = read_osm_osmium(path)
    _OSM_MEMO.clear()  # one file at a time: a province PBF must not stay in memory for ever
    _OSM_MEMO[key] = pieces
    return pieces


def read_source(
    source: Any,
    *,
    kind: str,
    label: str,
    respect_oneway: bool,
    network_type: str,
    layer: str | None,
    encoding: str | None,
    engine: str | None,
    online: bool,
    weight: str | None,
    weight_unit: str,
    source_crs: Any,
    columns: dict[str, str | None],
) -> Pieces:
    """Read any ``build_graph`` source into pieces.

    Parameters
    ----------
    source, kind, label
        The source, its kind (:func:`source_kind`) and its name for messages.
    respect_oneway, network_type
        From the profile: osmnx reads OSM XML one-way aware only when the profile
        respects one-way rules; place downloads use the profile's network type.
    columns
        Road-layer column names: ``class_column``, ``speed_column``, ``maxspeed_column``,
        ``oneway_column``, ``bad_road_column`` (None: found by the schema aliases).
    layer, encoding, engine, online, weight, weight_unit, source_crs
        As in :func:`schoolplan.network.build_graph`.
    """
    readers: dict[str, Callable[[], Pieces]] = {
        "pbf": lambda: read_osm_once(Path(source)),
        "xml": lambda: _read_xml(Path(source), engine=engine, respect_oneway=respect_oneway, label=label),
        "graphml": lambda: pieces_from_networkx(read_graphml(Path(source)), weight=weight,
                                                weight_unit=weight_unit, crs=source_crs, label=label),
        "networkx": lambda: pieces_from_networkx(source, weight=weight, weight_unit=weight_unit,
                                                 crs=source_crs, label=label),
        "layer": lambda: pieces_from_lines(read_road_file(Path(source), layer=layer, encoding=encoding),
                                           label=label, **columns),
        "lines": lambda: pieces_from_lines(source, label=label, **columns),
        "place": lambda: _read_place(str(source), online=online, network_type=network_type, label=label),
    }
    return readers[kind]()


def _read_xml(path: Path, *, engine: str | None, respect_oneway: bool, label: str) -> Pieces:
    compressed = str(path).lower().endswith((".bz2", ".gz"))
    eng = engine or ("osmium" if compressed else "osmnx")
    if eng == "osmium":
        return read_osm_once(path)
    if eng != "osmnx":
        raise ConfigError(f"unknown engine '{engine}'", fix="use 'osmnx' or 'osmium'")
    G, n_drop = read_osm_xml_osmnx(path, bidirectional=not respect_oneway)
    pieces = pieces_from_networkx(G, weight=None, weight_unit="min", crs=None, label=label)
    pieces.n_missing_ways = n_drop
    return pieces


def _read_place(name: str, *, online: bool, network_type: str, label: str) -> Pieces:
    if not online:
        raise InputFileError(
            "file not found (and downloading by place name is off)", file=name,
            fix="check the path, or pass online=True to download the place from OpenStreetMap")
    G = pieces_from_place(name, network_type=network_type, label=label)
    return pieces_from_networkx(G, weight=None, weight_unit="min", crs=None, label=label)
