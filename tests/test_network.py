"""Tests of the travel-time engine (schoolplan.network).

Fixtures (tests/data/network, see SOURCES.md): a Marysville (CA) OSM clip as PBF
and XML, a synthetic Chinese road layer as GPKG and as a GBK shapefile without
.cpg. The NetworkX reference Dijkstra runs on the same graph with the snapped
points inserted as nodes that split their edges.
"""

from __future__ import annotations

import math
import pickle
import warnings
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point

from schoolplan.errors import (
    ConfigError,
    CrsError,
    DataWarning,
    InputFileError,
    NetworkError,
    NonUniqueIdError,
    SchemaError,
    UnreachableWarning,
)
from schoolplan.network import (
    available_profiles,
    build_graph,
    from_networkx,
    isochrones,
    load_profile,
    nearest,
    normalize_road_class,
    parse_maxspeed,
    read_hgt,
    snap_points,
    to_networkx,
    travel_time_matrix,
)
from schoolplan.network.profiles import evaluate_way

DATA = Path(__file__).resolve().parent / "data" / "network"
PBF = DATA / "marysville.osm.pbf"
XML = DATA / "marysville.osm"
GPKG = DATA / "cn_roads.gpkg"
SHP = DATA / "cn_roads_gbk.shp"
LON0, LAT0 = 111.50, 33.00
KX, KY = 1 / 93.4, 1 / 110.9  # degrees per km at 33°N (as in _tools/make_cn_roads.py)


def cn_point(x_km: float, y_km: float) -> Point:
    return Point(LON0 + x_km * KX, LAT0 + y_km * KY)


def pts(geoms: list[Point], ids: list[object] | None = None, crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=geoms, index=ids if ids is not None else range(len(geoms)), crs=crs)


@pytest.fixture(scope="module")
def mary():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return build_graph(PBF)


@pytest.fixture(scope="module")
def cn():
    return build_graph(GPKG)


def mary_points(g, n: int, seed: int, jitter_m: float = 60.0) -> gpd.GeoDataFrame:
    """Random points near random kept edges (graph CRS)."""
    rng = np.random.default_rng(seed)
    e = g.edges.sample(n, random_state=seed, replace=True)
    p = shapely.line_interpolate_point(e.geometry.to_numpy(), rng.random(n), normalized=True)
    x = shapely.get_x(p) + rng.normal(0, jitter_m, n)
    y = shapely.get_y(p) + rng.normal(0, jitter_m, n)
    return gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), index=[f"p{i}" for i in range(n)], crs=g.crs)


# --------------------------------------------------------------------------- reference
def reference_matrix(g, origins, destinations, cutoff=math.inf) -> np.ndarray:
    """NetworkX Dijkstra on the routing graph with the points inserted on their edges."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreachableWarning)
        so = snap_points(g, origins)
        sd = snap_points(g, destinations)
    G = nx.DiGraph()
    splits: dict[int, list[tuple[float, object]]] = {}
    for role, s in (("o", so), ("d", sd)):
        for r in s.itertuples():
            if not r.routable:
                continue
            pnode = (role, r.id)
            if role == "o":
                G.add_edge(("O", r.id), pnode, w=r.access_minutes)
            else:
                G.add_edge(pnode, ("D", r.id), w=r.access_minutes)
            # a point snapped onto a chain end is at that node, whatever the edge direction
            for node, to_n, from_n in ((r.u, r.minutes_to_u, r.minutes_from_u),
                                       (r.v, r.minutes_to_v, r.minutes_from_v)):
                if to_n == 0 and from_n == 0:
                    G.add_edge(pnode, node, w=0.0)
                    G.add_edge(node, pnode, w=0.0)
            # every directed edge of the chain holds the point
            chain = g.edges.at[r.edge, "chain"]
            for eid in g.edges.index[g.edges["chain"] == chain]:
                off = r.minutes_from_u if g.edges.at[eid, "u"] == r.u and g.edges.at[eid, "v"] == r.v \
                    else r.minutes_from_v
                if g.edges.at[eid, "u"] == g.edges.at[eid, "v"]:  # self-loop chain: same orientation
                    off = r.minutes_from_u if eid == r.edge else r.minutes_from_v
                splits.setdefault(eid, []).append((off, pnode))
    Gm = nx.MultiDiGraph()
    Gm.add_edges_from((u, v, {"w": d["w"]}) for u, v, d in G.edges(data=True))
    for eid, row in g.edges.iterrows():
        seq = sorted(splits.get(eid, []), key=lambda t: t[0])
        prev, t0 = row["u"], 0.0
        for off, pnode in seq:
            Gm.add_edge(prev, pnode, w=max(off - t0, 0.0))
            prev, t0 = pnode, off
        Gm.add_edge(prev, row["v"], w=max(row["minutes"] - t0, 0.0))
    out = np.full((len(origins), len(destinations)), np.nan)
    dcol = {d: j for j, d in enumerate(sd["id"])}
    for i, oid in enumerate(so["id"]):
        if ("O", oid) not in Gm:
            continue
        dist = nx.single_source_dijkstra_path_length(Gm, ("O", oid), weight="w")
        for node, t in dist.items():
            if isinstance(node, tuple) and node[0] == "D" and t <= cutoff:
                out[i, dcol[node[1]]] = t
    return out


# --------------------------------------------------------------------------- profiles
def test_builtin_profiles_and_caps():
    assert available_profiles() == ["car", "school_bus", "walk"]
    bus = load_profile("school_bus")
    fast = load_profile({"base": "school_bus", "speeds_kmh": {"motorway": 120, "trunk": 100, "村道": 70}})
    assert evaluate_way(fast, {"highway": "motorway"}).speed_kmh == 80  # §35 expressway cap
    assert evaluate_way(fast, {"highway": "trunk"}).speed_kmh == 60  # §35 other roads
    assert evaluate_way(fast, {"highway": "村道"}).speed_kmh == 60
    assert evaluate_way(fast, {"highway": "高速公路"}).speed_kmh == 80
    assert evaluate_way(bus, {"highway": "primary", "bad_road": "是"}).speed_kmh == 20  # §36
    assert evaluate_way(bus, {"highway": "track"}).speed_kmh <= 20
    assert evaluate_way(bus, {"highway": "motorway"}, bad_weather=True).speed_kmh == 20
    assert evaluate_way(bus, {"highway": "residential"}, bad_weather=0.5).speed_kmh == 12.5
    assert evaluate_way(bus, {"highway": "secondary", "maxspeed": "40"}).speed_kmh == 40
    assert evaluate_way(bus, {"highway": "secondary", "maxspeed": "20 mph"}).speed_kmh == pytest.approx(32.18688)
    assert evaluate_way(bus, {"highway": "secondary", "maxspeed": "CN:urban"}).speed_kmh == 45
    assert evaluate_way(bus, {"highway": "footway"}).allowed is False
    assert evaluate_way(bus, {"highway": "residential", "access": "private"}).allowed is False
    assert evaluate_way(bus, {"highway": "residential", "access": "no", "bus": "yes"}).allowed is True
    assert evaluate_way(bus, {"highway": "service", "service": "driveway"}).allowed is False
    r = evaluate_way(bus, {"highway": "residential", "oneway": "-1"})
    assert (r.forward, r.backward) == (False, True)
    r = evaluate_way(bus, {"highway": "primary", "junction": "roundabout"})
    assert (r.forward, r.backward) == (True, False)
    walk = load_profile("walk")
    assert evaluate_way(walk, {"highway": "motorway"}).allowed is False
    assert evaluate_way(walk, {"highway": "高速公路"}).allowed is False
    r = evaluate_way(walk, {"highway": "footway", "oneway": "yes"})
    assert r.allowed and r.speed_kmh == 4 and r.forward and r.backward
    car = load_profile("car")
    assert evaluate_way(car, {"highway": "motorway", "maxspeed": "none"}).speed_kmh == 100


def test_profile_from_toml_and_errors(tmp_path):
    f = tmp_path / "slow_bus.toml"
    f.write_text('base = "school_bus"\nname = "slow_bus"\n[speeds_kmh]\n"县道" = 30.0\n', encoding="utf-8")
    p = load_profile(f)
    assert p.name == "slow_bus" and p.speeds_kmh["县道"] == 30 and p.speeds_kmh["国道"] == 60
    with pytest.raises(ConfigError, match="unknown speed profile"):
        load_profile("bicycle")
    with pytest.raises(ConfigError, match="unknown keys"):
        load_profile({"base": "walk", "speed": 3})
    with pytest.raises(ConfigError, match="positive"):
        load_profile({"speeds_kmh": {"村道": 0}})


@pytest.mark.parametrize(("raw", "kmh"), [
    ("50", 50.0), (50, 50.0), ("50 km/h", 50.0), ("30 mph", 48.28032), ("CN:rural", 70.0),
    ("DE:urban", 50.0), ("50;70", 50.0), ("walk", 5.0), ("none", math.inf), (["60", "40"], 40.0),
])
def test_parse_maxspeed(raw, kmh):
    assert parse_maxspeed(raw) == pytest.approx(kmh)


@pytest.mark.parametrize("raw", [None, "", "signals", "variable", "XX:odd", "0"])
def test_parse_maxspeed_unknown(raw):
    assert math.isnan(parse_maxspeed(raw))


@pytest.mark.parametrize(("raw", "cls"), [
    ("X203县道", "县道"), ("G105", "国道"), ("G4", "高速公路"), ("G1501", "高速公路"), ("S311", "省道"),
    ("Y003", "乡道"), ("京港澳高速", "高速公路"), ("Residential", "residential"), (["primary", "secondary"], "primary"),
    (None, None), ("  ", None),
])
def test_normalize_road_class(raw, cls):
    assert normalize_road_class(raw) == cls


# --------------------------------------------------------------------------- sources
def test_pbf_graph_and_simplification(mary):
    g = mary
    assert g.profile.name == "school_bus" and g.crs.to_epsg() == 32610
    assert g.n_nodes > 500 and g.stats["raw_nodes"] > 3 * g.n_nodes
    assert (g.edges["speed_kmh"] <= 60 + 1e-9).all()  # no motorway inside the kept clip is > 80 either
    assert set(g.edges["road_class"]) >= {"residential", "secondary", "trunk"}
    assert "footway" not in set(g.edges["road_class"])
    # full geometry kept: edge lengths equal their geometry length
    assert np.allclose(g.edges.geometry.length, g.edges["length_m"], rtol=1e-9)
    raw = build_graph(PBF, simplify=False)
    assert raw.n_nodes > 3 * g.n_nodes
    assert raw.stats["km"] == pytest.approx(g.stats["km"], rel=1e-9)  # simplification keeps lengths
    # and travel times
    o, d = mary_points(g, 15, 1), mary_points(g, 9, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreachableWarning)
        a = travel_time_matrix(g, o, d, dtype=np.float64)
        b = travel_time_matrix(raw, o, d, dtype=np.float64)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), atol=1e-6)
    # the CSR arrays are consistent
    assert g.csr().shape == (g.n_nodes, g.n_nodes) and g.csr(reverse=True).nnz == g.csr().nnz


def test_dropped_components_reported(mary, cn):
    d = mary.dropped
    assert d.n_nodes > 0 and d.km > 0 and d.n_components > 0 and d.ways_excluded > 0
    assert len(d.geometry) == d.n_segments
    assert "dropped from routing" in d.summary()
    assert cn.dropped.n_nodes == 3 and cn.dropped.n_components == 1
    assert cn.dropped.km == pytest.approx(1.08, abs=0.02)  # the isolated 村道


def test_osm_xml_engines_agree_with_pbf(mary):
    gx = build_graph(XML, engine="osmium")
    assert gx.stats == mary.stats
    go = build_graph(XML)  # osmnx graph_from_xml
    assert go.dropped.ways_missing_nodes == 6  # ways referencing nodes missing from the extract
    assert abs(go.stats["km"] - mary.stats["km"]) / mary.stats["km"] < 0.01
    o, d = mary_points(mary, 12, 3, jitter_m=0), mary_points(mary, 6, 4, jitter_m=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreachableWarning)
        a = travel_time_matrix(mary, o, d, dtype=np.float64).to_numpy()
        b = travel_time_matrix(gx, o, d, dtype=np.float64).to_numpy()
        c = travel_time_matrix(go, o, d, dtype=np.float64).to_numpy()
    np.testing.assert_allclose(a, b, atol=1e-9)
    both = np.isfinite(a) & np.isfinite(c)
    assert both.mean() > 0.8
    assert np.median(np.abs(a[both] - c[both])) < 1e-6


def test_osm_xml_with_missing_nodes(tmp_path):
    xml = tmp_path / "bad.osm"
    xml.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n'
        '<node id="1" lat="39.14" lon="-121.59" version="1"/>\n'
        '<node id="2" lat="39.15" lon="-121.59" version="1"/>\n'
        '<way id="10" version="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/></way>\n'
        '<way id="11" version="1"><nd ref="2"/><nd ref="99"/><tag k="highway" v="residential"/></way>\n'
        '</osm>\n', encoding="utf-8")
    g = build_graph(xml)
    assert g.dropped.ways_missing_nodes == 1 and g.n_nodes == 2
    g2 = build_graph(xml, engine="osmium")
    assert g2.dropped.ways_missing_nodes == 1 and g2.n_nodes == 2


def test_chinese_gpkg_layer(cn):
    e = cn.edges
    assert cn.crs.to_epsg() == 4546  # CGCS2000 3° GK, CM 111°E
    assert set(e["road_class"]) >= {"国道", "省道", "县道", "村道", "高速公路"}
    # 国道: 60 km/h cap; 省道 design speed 40 replaces the class speed
    assert e.loc[e["name"] == "国道207", "speed_kmh"].round(6).eq(60).all()
    assert e.loc[e["road_class"] == "高速公路", "name"].eq("G55二广高速").all()
    assert e.loc[e["name"] == "省道311", "speed_kmh"].round(6).eq(40).all()
    one = e[e["name"] == "单行村道"]
    assert len(one) == 1 and bool(one["oneway"].iloc[0])
    # the 高速 chain: 3 km 国道 at 60 + 4 km 县道 connectors at 40 + 10 km expressway at 80
    hw = e[e["road_class"] == "高速公路"]
    assert hw["minutes"].iloc[0] == pytest.approx(3 + 6 + 7.5, rel=1e-3)


def test_gbk_shapefile_without_cpg(cn):
    assert not SHP.with_suffix(".cpg").exists()
    g = build_graph(SHP)
    assert "国道207" in set(g.edges["name"]) and "村道C101" in set(g.edges["name"])
    np.testing.assert_allclose(np.sort(g.edges["minutes"]), np.sort(cn.edges["minutes"]), rtol=1e-9)


def test_shapefile_with_cpg(tmp_path, cn):
    gdf = gpd.read_file(GPKG, layer="roads")
    gdf = gdf.rename(columns={"道路名称": "name", "道路等级": "class", "设计速度": "speed_kmh",
                              "单行": "oneway", "急弯陡坡": "bad_road"})
    shp = tmp_path / "roads_utf8.shp"
    gdf.to_file(shp, engine="pyogrio")  # UTF-8 values with a .cpg
    assert shp.with_suffix(".cpg").exists()
    g = build_graph(shp)
    assert "省道311" in set(g.edges["name"]) and g.n_nodes == cn.n_nodes


def test_geodataframe_and_class_overrides():
    x0, y0 = 500_000.0, 3_650_000.0
    lines = gpd.GeoDataFrame(
        {"fclass": ["primary", "residential", "其他道路"], "maxspeed": [0, 20, 0], "oneway": ["B", "F", "B"]},
        geometry=[LineString([(x0, y0), (x0 + 1000, y0)]), LineString([(x0 + 1000, y0), (x0 + 1000, y0 + 1000)]),
                  LineString([(x0 + 1000, y0 + 1000), (x0, y0)])],
        crs="EPSG:32650",
    )
    with pytest.warns(DataWarning, match="其他道路"):
        g = build_graph(lines, crs="EPSG:32650")
    # primary 1 km at 50 km/h (maxspeed 0 = unknown); residential capped by maxspeed 20 and one-way
    # (Geofabrik 'F'); the unknown class gets the default 30 km/h; the two-way pair is one chain
    two_way = 1.2 + math.hypot(1000, 1000) * 0.06 / 30
    assert sorted(g.edges["minutes"].round(6)) == [3.0, round(two_way, 6), round(two_way, 6)]
    assert g.edges["oneway"].sum() == 1
    with pytest.raises(CrsError):
        build_graph(lines.set_crs(None, allow_override=True))


def test_networkx_graphml_roundtrip(mary, tmp_path):
    import osmnx as ox

    G = to_networkx(mary)
    assert G.number_of_nodes() == mary.n_nodes and G.number_of_edges() == len(mary.edges)
    g2 = from_networkx(G)
    path = tmp_path / "mary.graphml"
    ox.save_graphml(G, path)
    g3 = build_graph(path)
    o, d = mary_points(mary, 10, 5), mary_points(mary, 7, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreachableWarning)
        ref = travel_time_matrix(mary, o, d, dtype=np.float64).to_numpy()
        for g in (g2, g3):
            np.testing.assert_allclose(travel_time_matrix(g, o, d, dtype=np.float64).to_numpy(), ref, atol=1e-6)


def test_osmnx_multidigraph_lonlat():
    G = nx.MultiDiGraph(crs="EPSG:4326")
    for i, (x, y) in enumerate([(111.50, 33.0), (111.51, 33.0), (111.51, 33.01)]):
        G.add_node(i, x=x, y=y)
    G.add_edge(0, 1, highway="secondary")
    G.add_edge(1, 0, highway="secondary")
    G.add_edge(1, 2, highway=["residential", "unclassified"], maxspeed="20")
    G.add_edge(2, 1, highway=["residential", "unclassified"], maxspeed="20")
    G.add_edge(2, 0, highway="footway")
    g = build_graph(G)
    assert g.n_nodes == 2 and g.crs.to_epsg() == 4546  # footway left out; node 1 is a chain end
    assert g.edges["minutes"].iloc[0] > 0


def test_place_name_needs_online_and_reports_offline(monkeypatch):
    with pytest.raises(InputFileError, match="online=True"):
        build_graph("Yuba County, California")
    import osmnx as ox

    def offline(*args, **kwargs):
        raise ConnectionError("network is unreachable")

    monkeypatch.setattr(ox, "graph_from_place", offline)
    with pytest.raises(NetworkError, match="could not download"):
        build_graph("Yuba County, California", online=True)


def test_bad_osm_files(tmp_path):
    empty = tmp_path / "empty.osm.pbf"
    empty.write_bytes(b"")
    with pytest.raises(InputFileError, match="cannot read the OSM file"):
        build_graph(empty)
    corrupt = tmp_path / "corrupt.osm.pbf"
    corrupt.write_bytes(PBF.read_bytes()[:5000] + b"\x00garbage" * 50)
    with pytest.raises(InputFileError):
        build_graph(corrupt)
    with pytest.raises(InputFileError, match="unknown road-network format"):
        build_graph(Path(__file__))


def test_no_drivable_roads():
    paths = gpd.GeoDataFrame({"highway": ["footway", "path"]},
                             geometry=[LineString([(0, 0), (500, 0)]), LineString([(500, 0), (500, 500)])],
                             crs="EPSG:32650")
    G = nx.MultiDiGraph(crs="EPSG:32650")
    G.add_node(0, x=0.0, y=0.0)
    G.add_node(1, x=500.0, y=0.0)
    G.add_edge(0, 1, highway="footway")
    with pytest.raises(NetworkError, match="no roads usable by the 'school_bus' profile"):
        build_graph(G)
    g = build_graph(paths, profile="walk")
    assert g.n_nodes == 2


# --------------------------------------------------------------------------- snapping
def test_snap_midpoint_gets_half_the_edge_time(cn):
    # 省道311 (5,0)-(5,4): uniform 40 km/h, 6 minutes; a point 100 m east of its midpoint
    p = pts([cn_point(5.1, 2.0)], ["v1"])
    s = snap_points(cn, p).iloc[0]
    assert s["status"] == "ok" and s["routable"]
    row = cn.edges.loc[s["edge"]]
    assert row["name"] == "省道311" and row["minutes"] == pytest.approx(6.0, rel=1e-3)
    assert s["fraction"] == pytest.approx(0.5, abs=2e-3)
    assert s["minutes_to_u"] == pytest.approx(row["minutes"] / 2, rel=5e-3)
    assert s["minutes_to_v"] == pytest.approx(row["minutes"] / 2, rel=5e-3)
    assert s["minutes_from_u"] + s["minutes_to_v"] == pytest.approx(row["minutes"], rel=1e-12)
    assert s["snap_m"] == pytest.approx(100, abs=1.0)
    assert s["access_minutes"] == pytest.approx(s["snap_m"] * 0.06 / 20.0)
    # on the one-way loop the point cannot go back against the direction
    s1 = snap_points(cn, pts([cn_point(2.05, 1.0)])).iloc[0]
    assert cn.edges.loc[s1["edge"], "name"] == "单行村道"
    assert math.isinf(s1["minutes_to_u"]) and math.isfinite(s1["minutes_to_v"])


def test_far_and_dropped_points_flagged(cn):
    p = pts([cn_point(5, 2), cn_point(5, 30), cn_point(12.5, 10.1)], ["ok", "far", "island"])
    with pytest.warns(UnreachableWarning, match="far") as rec:
        s = snap_points(cn, p).set_index("id")
    assert "island" in str(rec[0].message) and rec[0].filename == __file__
    assert list(s["status"]) == ["ok", "far", "dropped"]
    assert s.loc["far", "snap_m"] > 2000 and np.isnan(s.loc["far", "access_minutes"])
    with pytest.warns(UnreachableWarning) as rec:
        m = travel_time_matrix(cn, p, p)
    assert rec[0].filename == __file__  # points at the caller
    assert m.loc["far"].isna().all() and m.loc["island"].isna().all() and m["island"].isna().all()
    assert m.loc["ok", "ok"] == 0
    assert m.attrs["unroutable_origins"] == {"far": "far", "island": "dropped"}
    m3 = travel_time_matrix(cn, p, p, snap_far=True, snap_dropped=True)
    assert m3.notna().all().all() and not m3.attrs["unroutable_origins"]
    with pytest.warns(UnreachableWarning, match="cut off"):
        m2 = travel_time_matrix(cn, p, p, snap_far=True, dtype=np.float64)
    assert m2.loc["far", "ok"] > 0 and np.isfinite(m2.loc["far", "ok"])
    assert np.isnan(m2.loc["island", "ok"])


# --------------------------------------------------------------------------- matrix
def test_matrix_matches_networkx_reference(mary):
    o, d = mary_points(mary, 40, 11), mary_points(mary, 25, 12)
    d.iloc[3] = o.iloc[5].geometry  # a shared location
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreachableWarning)
        m = travel_time_matrix(mary, o, d, dtype=np.float64)
        m_t = travel_time_matrix(mary, d, o, dtype=np.float64)  # searched from the other side
        m32 = travel_time_matrix(mary, o, d)
        mc = travel_time_matrix(mary, o, d, cutoff_minutes=4.0, dtype=np.float64)
    ref = reference_matrix(mary, o, d)
    assert list(m.index) == list(o.index) and list(m.columns) == list(d.index)
    np.testing.assert_array_equal(np.isnan(m.to_numpy()), np.isnan(ref))
    np.testing.assert_allclose(m.to_numpy(), ref, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(m_t.to_numpy().T, reference_matrix(mary, d, o).T, atol=1e-6, equal_nan=True)
    assert m32.dtypes.eq(np.float32).all()
    np.testing.assert_allclose(m32.to_numpy(), ref, rtol=1e-6, atol=1e-5, equal_nan=True)
    ref_c = np.where(ref <= 4.0, ref, np.nan)
    np.testing.assert_allclose(mc.to_numpy(), ref_c, atol=1e-6, equal_nan=True)
    assert np.nanmin(m.to_numpy()) >= 0


def test_same_edge_pairs(cn):
    # two points on 省道311: direct along the edge, both directions
    p = pts([cn_point(5.05, 1.0), cn_point(4.95, 3.0)], ["a", "b"])
    m = travel_time_matrix(cn, p, p, dtype=np.float64)
    access = 50 * 0.06 / 20
    assert m.loc["a", "b"] == pytest.approx(3.0 + 2 * access, rel=2e-3)
    assert m.loc["b", "a"] == pytest.approx(3.0 + 2 * access, rel=2e-3)
    # on the one-way loop: with the flow it is direct, against it goes round
    q = pts([cn_point(2.0, 0.5), cn_point(2.0, 1.5)], ["s", "t"])
    mq = travel_time_matrix(cn, q, q, dtype=np.float64)
    assert mq.loc["s", "t"] == pytest.approx(1.0 / 25 * 60, rel=1e-3)
    assert mq.loc["t", "s"] > mq.loc["s", "t"] + 5


def test_matrix_bad_inputs(cn):
    good = pts([cn_point(5, 1), cn_point(5, 3)], ["a", "b"])
    nan_pts = gpd.GeoDataFrame(geometry=[cn_point(5, 1), Point(np.nan, np.nan), None], index=["x", "y", "z"],
                               crs="EPSG:4326")
    with pytest.raises(SchemaError, match="NaN coordinates") as ei:
        travel_time_matrix(cn, nan_pts, good)
    assert "y" in str(ei.value) and "z" in str(ei.value)
    dup = pts([cn_point(5, 1), cn_point(5, 2)], ["a", "a"])
    with pytest.raises(NonUniqueIdError, match="not unique"):
        travel_time_matrix(cn, dup, good)
    with pytest.raises(NonUniqueIdError):
        travel_time_matrix(cn, good.assign(code=["k", "k"]), good, origin_id_column="code")
    with pytest.raises(CrsError, match="no coordinate reference system"):
        travel_time_matrix(cn, good.set_crs(None, allow_override=True), good)
    projected_as_lonlat = good.to_crs("EPSG:4546").set_crs("EPSG:4326", allow_override=True)
    with pytest.raises(CrsError, match="lon/lat"):
        travel_time_matrix(cn, projected_as_lonlat, good)
    wrong_zone = good.to_crs("EPSG:4546").set_crs("EPSG:4549", allow_override=True)
    with pytest.raises(CrsError, match="100 km outside"):
        travel_time_matrix(cn, wrong_zone, good)
    for bad in (0, -5, float("nan")):
        with pytest.raises(ConfigError, match="cutoff_minutes"):
            travel_time_matrix(cn, good, good, cutoff_minutes=bad)
    with pytest.raises(SchemaError, match="GeoDataFrame"):
        travel_time_matrix(cn, pd.DataFrame({"x": [1]}), good)
    # reprojection: CGCS2000 GK input gives the same result as lon/lat
    a = travel_time_matrix(cn, good, good)
    b = travel_time_matrix(cn, good.to_crs("EPSG:4546"), good.to_crs("EPSG:3857"))
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), atol=1e-4)


def test_id_columns(cn):
    p = pts([cn_point(5, 1), cn_point(5, 3)]).assign(code=["村1", "村2"])
    m = travel_time_matrix(cn, p, p, id_column="code")
    assert list(m.index) == ["村1", "村2"] and list(m.columns) == ["村1", "村2"]


@st.composite
def random_road_graph(draw):
    n = draw(st.integers(3, 10))
    edges = draw(st.lists(
        st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.floats(0.05, 20.0),
                  st.booleans()), min_size=2, max_size=3 * n))
    seed = draw(st.integers(0, 2**31 - 1))
    n_pts = draw(st.integers(1, 6))
    return n, edges, seed, n_pts


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_road_graph())
def test_random_graphs_match_networkx(case):
    n, edges, seed, n_pts = case
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 5000, size=(n, 2)) + np.array([500_000.0, 3_650_000.0])
    G = nx.MultiDiGraph(crs="EPSG:32649")
    for i in range(n):
        G.add_node(i, x=float(xy[i, 0]), y=float(xy[i, 1]))
    for u, v, w, both in edges:
        if u == v:
            continue
        G.add_edge(u, v, minutes=w)
        if both:
            G.add_edge(v, u, minutes=w * 1.5)
    if G.number_of_edges() == 0:
        return
    if max(len(c) for c in nx.strongly_connected_components(G)) == 1:
        with pytest.raises(NetworkError, match="connected network"):
            from_networkx(G)
        return
    g = from_networkx(G)
    used = sorted({u for u, v in G.edges()} | {v for u, v in G.edges()})
    # points at nodes (exact NetworkX distances) ...
    node_pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[used, 0], xy[used, 1]), index=used,
                                crs="EPSG:32649")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreachableWarning)
        m = travel_time_matrix(g, node_pts, node_pts, dtype=np.float64)
        kept = snap_points(g, node_pts).set_index("id")["routable"]
    sccs = [c for c in nx.strongly_connected_components(G) if set(c) <= set(used)]
    biggest = max(len(c) for c in sccs)
    kept_set = {i for i in used if kept[i]}
    assert kept_set in [set(c) for c in sccs if len(c) == biggest]
    for i in used:
        dist = nx.single_source_dijkstra_path_length(G, i, weight="minutes")
        for j in used:
            got = m.loc[i, j]
            if i in kept_set and j in kept_set:
                assert got == pytest.approx(dist[j], abs=1e-6)
            else:
                assert np.isnan(got)  # never 0 for an unreachable pair
    # nearest-k (both methods) equals the sorted matrix, for nodes as points
    kk = 1 + seed % 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreachableWarning)
        for method in ("layers", "heap"):
            nn = nearest(g, node_pts, node_pts, k=kk, method=method)
            for oid, grp in nn.groupby("origin"):
                row = np.sort(m.loc[oid].dropna().to_numpy())[:kk]
                np.testing.assert_allclose(grp["minutes"].to_numpy(), row, atol=1e-6)
            assert set(nn["origin"]) == {i for i in used if kept[i]}
    # ... and points off the nodes, against the split-edge reference
    e = g.edges.iloc[rng.integers(0, len(g.edges), n_pts)]
    p = shapely.line_interpolate_point(e.geometry.to_numpy(), rng.random(n_pts), normalized=True)
    off = gpd.GeoDataFrame(geometry=gpd.points_from_xy(shapely.get_x(p) + rng.normal(0, 20, n_pts),
                                                       shapely.get_y(p) + rng.normal(0, 20, n_pts)),
                           crs=g.crs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreachableWarning)
        mo = travel_time_matrix(g, off, off, dtype=np.float64)
    np.testing.assert_allclose(mo.to_numpy(), reference_matrix(g, off, off), atol=1e-6, equal_nan=True)


# --------------------------------------------------------------------------- nearest
@pytest.mark.parametrize("method", ["layers", "heap"])
def test_nearest_equals_sorted_matrix(mary, method):
    o, d = mary_points(mary, 60, 21), mary_points(mary, 15, 22)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreachableWarning)
        m = travel_time_matrix(mary, o, d, dtype=np.float64)
        nn = nearest(mary, o, d, k=3, method=method)
        nc = nearest(mary, o, d, k=2, cutoff_minutes=3.0, method=method)
    assert list(nn.columns) == ["origin", "destination", "rank", "minutes"]
    for oid, grp in nn.groupby("origin", sort=False):
        row = m.loc[oid].dropna().sort_values(kind="stable")
        np.testing.assert_allclose(grp["minutes"].to_numpy(), row.to_numpy()[:3], atol=1e-6)
        assert list(grp["rank"]) == list(range(1, len(grp) + 1))
        assert set(grp["destination"]) <= set(row.index[: len(grp) + 2])
    assert set(nn["origin"]) == set(m.index[m.notna().any(axis=1)])
    assert (nc["minutes"] <= 3.0).all() and (nc["rank"] <= 2).all()
    for oid, grp in nc.groupby("origin"):
        row = m.loc[oid].dropna().sort_values()
        np.testing.assert_allclose(grp["minutes"].to_numpy(), row[row <= 3.0].to_numpy()[:2], atol=1e-6)


@pytest.mark.parametrize("method", ["layers", "heap"])
def test_nearest_for_every_node(mary, method):
    d = mary_points(mary, 10, 31)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreachableWarning)
        nn = nearest(mary, "nodes", d, k=3, method=method)
        nodes = mary.nodes()
        m = travel_time_matrix(mary, nodes, d, dtype=np.float64)
    assert nn["origin"].nunique() == mary.n_nodes
    best = nn[nn["rank"] == 1].set_index("origin")["minutes"]
    np.testing.assert_allclose(best.to_numpy(), m.min(axis=1).to_numpy()[best.index], atol=1e-6)
    third = nn[nn["rank"] == 3].set_index("origin")["minutes"]
    srt = np.sort(m.to_numpy(), axis=1)[:, 2]
    np.testing.assert_allclose(third.to_numpy(), srt[third.index], atol=1e-6)
    with pytest.raises(ConfigError):
        nearest(mary, "villages", d)
    with pytest.raises(ConfigError, match="k must"):
        nearest(mary, "nodes", d, k=0)


# --------------------------------------------------------------------------- isochrones
def test_isochrones_contain_reached_nodes(mary):
    schools = mary_points(mary, 4, 41, jitter_m=20)
    villages = mary_points(mary, 30, 42)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreachableWarning)
        iso = isochrones(mary, schools, minutes=[3, 5], targets=villages, cell_m=100)
        nodes = mary.nodes()
        to_school = travel_time_matrix(mary, nodes, schools, dtype=np.float64)
        m = travel_time_matrix(mary, villages, schools, dtype=np.float64)
    assert len(iso) == 8 and iso.crs.equals(mary.crs)
    for r in iso.itertuples():
        reached = to_school[r.id] <= r.minutes
        assert r.n_nodes == int(reached.sum())
        if r.geometry is None:
            continue
        inside = shapely.covers(r.geometry.buffer(1e-6), nodes.geometry[reached.to_numpy()].to_numpy())
        assert inside.all()
        assert sorted(r.reached) == sorted(m.index[m[r.id] <= r.minutes])
        assert r.n_reached == len(r.reached)
    small = iso[iso.minutes == 3].set_index("id").geometry
    big = iso[iso.minutes == 5].set_index("id").geometry
    for i in small.index:
        if small[i] is not None:
            assert big[i].buffer(1e-6).covers(small[i])
    for method in ("convex", "concave"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnreachableWarning)
            iso2 = isochrones(mary, schools, minutes=5, method=method)
        assert iso2.geometry.dropna().geom_type.isin(["Polygon", "MultiPolygon"]).all()
    with pytest.raises(ConfigError):
        isochrones(mary, schools, minutes=0)


# --------------------------------------------------------------------------- DEM
def write_hgt(folder: Path, grade: float) -> Path:
    """A tiny synthetic tile N33E111.hgt: height rising northwards at ``grade``."""
    n = 241  # 15″ samples (real SRTM tiles are 1201 or 3601; the reader takes any square)
    lat = 34.0 - np.arange(n) / (n - 1)
    z = (lat - 33.0) * 110_900.0 * grade
    z = np.repeat(z[:, None], n, axis=1).round().astype(">i2")
    z[0, 0] = -32768  # a void
    f = folder / "N33E111.hgt"
    z.tofile(f)
    return f


def test_dem_slope_penalty(tmp_path, cn):
    f = write_hgt(tmp_path, grade=0.10)
    dem = read_hgt(f)
    assert dem.elevation([111.55], [33.01])[0] == pytest.approx(0.01 * 110_900 * 0.1, abs=1.0)
    assert np.isnan(dem.elevation([110.0], [33.0])[0])
    g = build_graph(GPKG, dem=tmp_path)
    e = g.edges.set_index("name")
    # 省道311 runs north at 10 %: steep (≥ 8 %) → the §36 20 km/h cap both ways
    assert e.loc["省道311", "speed_kmh"].max() == pytest.approx(20, rel=1e-6)
    assert cn.edges.set_index("name").loc["省道311", "speed_kmh"].max() == pytest.approx(40)
    # walking: uphill slower than downhill (Tobler)
    w = build_graph(GPKG, profile="walk", dem=dem)
    s = w.edges[w.edges["name"] == "省道311"]
    north = s[w.node_y[s["v"]] > w.node_y[s["u"]]]["minutes"].iloc[0]
    south = s[w.node_y[s["v"]] < w.node_y[s["u"]]]["minutes"].iloc[0]
    assert north > south * 1.2
    bad = tmp_path / "tile.hgt"
    bad.write_bytes(b"\x00" * 10)
    with pytest.raises(InputFileError):
        read_hgt(bad)


def test_bad_weather_scenario(cn):
    g = build_graph(GPKG, bad_weather=True)
    assert g.edges["speed_kmh"].max() <= 20 + 1e-9
    assert g.edges["minutes"].sum() > 2 * cn.edges["minutes"].sum()


def test_raster_polygon_equals_cell_union():
    from schoolplan.network._raster import raster_polygon

    rng = np.random.default_rng(7)
    for _ in range(60):
        n = int(rng.integers(1, 40))
        cy, cx = np.nonzero(rng.random((n, n)) < rng.uniform(0.2, 0.8))
        if cx.size == 0:
            continue
        boxes = shapely.box(1000 + cx * 250.0, 2000 + cy * 250.0, 1000 + (cx + 1) * 250.0, 2000 + (cy + 1) * 250.0)
        ref = shapely.coverage_union_all(boxes)
        exact = raster_polygon(cx, cy, 250.0, 1000.0, 2000.0, fill_holes=False)
        assert exact.is_valid and exact.symmetric_difference(ref).area < 1e-6 * ref.area
        filled = raster_polygon(cx, cy, 250.0, 1000.0, 2000.0, fill_holes=True)
        assert filled.is_valid and filled.buffer(1e-6).covers(ref)
        assert shapely.get_num_interior_rings(shapely.get_parts(filled)).sum() == 0


def test_parallel_matrix_equals_serial(mary):
    o, d = mary_points(mary, 30, 51), mary_points(mary, 8, 52)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreachableWarning)
        a = travel_time_matrix(mary, o, d, n_jobs=1)
        b = travel_time_matrix(mary, o, d, n_jobs=2)
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())


def test_graph_pickles(cn):
    g2 = pickle.loads(pickle.dumps(cn))
    p = pts([cn_point(5, 1), cn_point(9, 3)])
    np.testing.assert_array_equal(travel_time_matrix(g2, p, p).to_numpy(), travel_time_matrix(cn, p, p).to_numpy())
