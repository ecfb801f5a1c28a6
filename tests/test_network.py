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
    SnappedPoints,
    available_profiles,
    build_graph,
    from_arrays,
    from_networkx,
    isochrones,
    load_profile,
    nearest,
    normalize_road_class,
    parse_maxspeed,
    prepare_points,
    read_hgt,
    snap_points,
    to_networkx,
    travel_time_matrix,
    travel_times_long,
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


def assert_long_equals_dense(long: pd.DataFrame, dense: pd.DataFrame) -> None:
    """The long table holds exactly the finite entries of the matrix, with the same values."""
    assert list(long.columns) == ["origin", "destination", "minutes"]
    assert isinstance(long["origin"].dtype, pd.CategoricalDtype)
    got = pd.Series(long["minutes"].to_numpy(), index=pd.MultiIndex.from_arrays(
        [long["origin"].astype(object), long["destination"].astype(object)]))
    assert not got.index.duplicated().any()
    want = dense.stack().dropna()
    assert len(got) == len(want)
    got = got.reindex(want.index)
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())


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
    # the sparse form holds exactly the finite entries of the matrix, whichever side is searched
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreachableWarning)
        for pts_, mat in ((node_pts, m), (off, mo)):
            for side in ("origins", "destinations"):
                dense = travel_time_matrix(g, pts_, pts_, dtype=np.float64, search_from=side)
                if side == "destinations":  # what "auto" picks when both sides are the same points
                    np.testing.assert_array_equal(dense.to_numpy(), mat.to_numpy())
                assert_long_equals_dense(travel_times_long(g, pts_, pts_, cutoff_minutes=None, dtype=np.float64,
                                                           search_from=side), dense)
    # the array entry point builds the same graph from the same edges
    uu, vv, ww = (np.array([e[i] for e in G.edges(data="minutes")]) for i in range(3))
    ga = from_arrays(xy[:, 0], xy[:, 1], uu, vv, ww, directed=True, source_crs="EPSG:32649")
    for attr in ("node_x", "node_y", "node_id", "indptr", "indices", "minutes", "rev_indptr", "rev_minutes"):
        np.testing.assert_array_equal(getattr(ga, attr), getattr(g, attr))


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


# --------------------------------------------------------------------------- province scale (issue 19)
DEMO = Path(__file__).resolve().parents[1] / "data" / "demo_county"


@pytest.fixture(scope="module")
def demo():
    """The demo county's school-bus graph, villages and compulsory schools."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        g = build_graph(DEMO / "roads.osm.pbf")
    villages = gpd.read_file(DEMO / "county.gpkg", layer="villages").set_index("village_id")
    schools = gpd.read_file(DEMO / "county.gpkg", layer="schools").set_index("school_id")
    return g, villages, schools


def test_sparse_equals_dense_on_demo_county(demo, monkeypatch):
    from schoolplan.network import _search

    g, villages, schools = demo
    extra = mary_points(g, 400, 61, jitter_m=300.0).to_crs(4326)  # more points than the county has
    o = pd.concat([villages[["geometry"]], extra]).pipe(gpd.GeoDataFrame, crs=4326)
    d = pd.concat([schools[["geometry"]], extra.iloc[:60]]).pipe(gpd.GeoDataFrame, crs=4326)
    monkeypatch.setattr(_search, "BLOCK_BYTES", 1 << 18)  # many small blocks
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreachableWarning)
        for cutoff, side, jobs in ((None, "auto", 1), (60.0, "auto", 2), (12.0, "origins", 1)):
            dense = travel_time_matrix(g, o, d, cutoff_minutes=cutoff, dtype=np.float64, search_from=side)
            long = travel_time_matrix(g, o, d, cutoff_minutes=cutoff, sparse=True, dtype=np.float64,
                                      search_from=side, n_jobs=jobs)
            assert_long_equals_dense(long, dense)
            assert long.attrs["unroutable_origins"] == dense.attrs["unroutable_origins"]
        # the default float32: the same pairs (the cutoff is applied in float64), minutes rounded once
        long32 = travel_times_long(g, o, d, cutoff_minutes=60.0)
        dense32 = travel_time_matrix(g, o, d, cutoff_minutes=60.0)
    assert long32["minutes"].dtype == np.float32 and dense32.to_numpy().dtype == np.float32
    assert_long_equals_dense(long32, dense32)


def test_sparse_long_table_layout(cn):
    p = pts([cn_point(1, 1), cn_point(5, 1), cn_point(9, 3), cn_point(60, 60)], ids=["a", "b", "c", "far"])
    with pytest.warns(UnreachableWarning, match="far"):
        long = travel_times_long(cn, p, p.iloc[:2], cutoff_minutes=None)
    warnings.simplefilter("ignore", UnreachableWarning)
    assert long["origin"].cat.categories.tolist() == ["a", "b", "c", "far"]
    assert long["destination"].cat.categories.tolist() == ["a", "b"]
    assert "far" not in set(long["origin"].astype(str))  # unroutable: no row, never 0
    assert long.attrs["unroutable_origins"] == {"far": "far"}
    assert_long_equals_dense(long, travel_time_matrix(cn, p, p.iloc[:2], dtype=np.float32))
    empty = travel_times_long(cn, p.iloc[:1], p.iloc[1:2], cutoff_minutes=0.01)
    assert len(empty) == 0 and list(empty.columns) == ["origin", "destination", "minutes"]


def test_long_columns_join_without_copies(monkeypatch):
    from schoolplan.network import query

    monkeypatch.setattr(query._Column, "SEGMENT_BYTES", 64)  # 8 float64 per segment
    col = query._Column(np.float64)
    parts = [np.arange(k, dtype=np.float64) + 100 * k for k in (0, 3, 17, 8, 1)]
    for part in parts:
        col.append(part)
    assert len(col.segments) == -(-sum(p.size for p in parts) // 8)
    np.testing.assert_array_equal(col.join(), np.concatenate(parts))
    assert col.segments == []


def test_prepared_points_are_reused(mary, cn):
    o, d = mary_points(mary, 40, 71), mary_points(mary, 9, 72)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreachableWarning)
        po = prepare_points(mary, o, role="villages")
        pd_ = prepare_points(mary, d, role="schools")
        m = travel_time_matrix(mary, o, d, dtype=np.float64)
        np.testing.assert_array_equal(travel_time_matrix(mary, po, pd_, dtype=np.float64).to_numpy(), m.to_numpy())
        np.testing.assert_array_equal(travel_time_matrix(mary, po, d, dtype=np.float64).to_numpy(), m.to_numpy())
        pd.testing.assert_frame_equal(nearest(mary, po, pd_, k=2), nearest(mary, o, d, k=2))
        a = isochrones(mary, pd_, minutes=[5.0, 10.0], targets=po)
        b = isochrones(mary, d, minutes=[5.0, 10.0], targets=o)
        pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
        pd.testing.assert_frame_equal(snap_points(mary, po), snap_points(mary, o))
    assert isinstance(po, SnappedPoints) and po.n == 40 and po.role == "villages"
    chunk = pd_.take([2, 0])
    assert chunk.ids.tolist() == [d.index[2], d.index[0]]
    np.testing.assert_array_equal(travel_time_matrix(mary, po, chunk, dtype=np.float64).to_numpy(),
                                  m.iloc[:, [2, 0]].to_numpy())
    with pytest.raises(ConfigError, match="another road graph"):
        travel_time_matrix(cn, po, pd_)
    with pytest.raises(ConfigError, match="max_snap_m=500"):
        travel_time_matrix(mary, po, pd_, max_snap_m=500)
    travel_time_matrix(mary, po, pd_, max_snap_m=2000.0)  # the defaults (and the options used) are fine
    copy = pickle.loads(pickle.dumps(mary))  # the same graph, elsewhere (a Dask worker)
    travel_time_matrix(copy, po, pd_)


def test_from_arrays_hand_checked():
    # 0 --(2 min)-- 1 --(3 min)-- 2, a 4-minute spur 1 -> 3 one-way, 1 km apart on a line
    x, y = [0.0, 1000.0, 2000.0, 1000.0], [0.0, 0.0, 0.0, 1000.0]
    g = from_arrays(x, y, [0, 1, 1, 3], [1, 2, 3, 1], [2.0, 3.0, 4.0, 5.0], oneway=[False, False, True, True],
                    source_crs="EPSG:4546", crs="EPSG:4546")
    nodes = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs="EPSG:4546")
    m = travel_time_matrix(g, nodes, nodes, dtype=np.float64, max_snap_m=1.0)
    np.testing.assert_array_equal(m.to_numpy(), [[0, 2, 5, 6], [2, 0, 3, 4], [5, 3, 0, 7], [7, 5, 8, 0]])
    assert g.stats["nodes"] == 4 and g.node_id.tolist() == [0, 1, 2, 3]
    # the profile prices edges by class: 1 km of 县道 at 40 km/h = 1.5 min
    g2 = from_arrays(x[:3], y[:3], [0, 1], [1, 2], road_class=["县道", "县道"], source_crs="EPSG:4546")
    assert g2.n_nodes == 2 and g2.edges["minutes"].tolist() == pytest.approx([3.0, 3.0])
    assert g2.edges["road_class"].tolist() == ["县道", "县道"]


def test_from_arrays_errors():
    ok = {"x": [0.0, 1000.0], "y": [0.0, 0.0], "u": [0], "v": [1]}
    with pytest.raises(CrsError, match="source_crs"):
        from_arrays(**ok, minutes=[1.0], source_crs=None)
    with pytest.raises(NetworkError, match="outside 0"):
        from_arrays(ok["x"], ok["y"], [0], [2], [1.0], source_crs="EPSG:4546")
    with pytest.raises(NetworkError, match="valid travel time"):
        from_arrays(**ok, minutes=[-1.0], source_crs="EPSG:4546")
    with pytest.raises(NetworkError, match="missing coordinates"):
        from_arrays([0.0, np.nan], ok["y"], ok["u"], ok["v"], [1.0], source_crs="EPSG:4546")
    with pytest.raises(NetworkError, match="of 1 values"):
        from_arrays(**ok, minutes=[1.0, 2.0], source_crs="EPSG:4546")
    with pytest.warns(DataWarning, match="no road class or speed"):
        from_arrays(**ok, source_crs="EPSG:4546")
    with pytest.raises(NetworkError, match="no edges usable"):
        from_arrays(**ok, road_class=["footway"], source_crs="EPSG:4546")


def test_from_arrays_equals_build_graph_on_a_road_layer(cn):
    """The vertices and segments of a road layer, given as arrays, make the same graph."""
    ref = build_graph(GPKG, node_tolerance_m=0.0)
    layer = gpd.read_file(GPKG).to_crs(ref.crs)  # vertices are identified in the metric CRS
    parts = layer.explode(index_parts=False)
    coords, row = shapely.get_coordinates(parts.geometry.to_numpy(), return_index=True)
    xy, node = np.unique(coords, axis=0, return_inverse=True)
    node = node.ravel()
    same = row[:-1] == row[1:]
    u, v = node[:-1][same], node[1:][same]
    keep = u != v
    col = {c: parts[c].to_numpy()[row[:-1][same]][keep] for c in ("道路等级", "设计速度", "单行", "急弯陡坡", "道路名称")}
    g = from_arrays(xy[:, 0], xy[:, 1], u[keep], v[keep], road_class=col["道路等级"], speed_kmh=col["设计速度"],
                    oneway=col["单行"], bad_road=col["急弯陡坡"], name=col["道路名称"], source_crs=layer.crs)
    for attr in ("node_x", "node_y", "indptr", "indices", "minutes", "rev_indptr", "rev_indices", "rev_minutes"):
        np.testing.assert_allclose(getattr(g, attr), getattr(ref, attr), rtol=1e-12)
    assert g.stats["km"] == pytest.approx(ref.stats["km"])
    assert g.edges["name"].tolist() == ref.edges["name"].tolist()
    assert g.edges["road_class"].tolist() == ref.edges["road_class"].tolist()


def test_pbf_read_once_for_bus_and_walk(tmp_path, monkeypatch):
    from schoolplan.network import _readers

    calls = []
    real = _readers.read_osm_osmium
    monkeypatch.setattr(_readers, "read_osm_osmium", lambda p: calls.append(p) or real(p))
    src = tmp_path / "county.osm.pbf"
    src.write_bytes(PBF.read_bytes())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        bus = build_graph(src)
        walk = build_graph(src, profile="walk")
        assert len(calls) == 1 and walk.n_nodes != bus.n_nodes
        import os

        st = src.stat()
        os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the file changed: read it again
        build_graph(src)
    assert len(calls) == 2


tag_values = {
    "highway": st.sampled_from(["residential", "footway", "service", "motorway", "县道", "X203县道", "unknownclass",
                                "track", "primary"]),
    "maxspeed": st.sampled_from(["30", "CN:rural", "none", 40, "50 km/h"]),
    "oneway": st.sampled_from(["yes", "-1", "no", True, 0, 1]),
    "access": st.sampled_from(["no", "yes", "private", "destination"]),
    "bus": st.sampled_from(["yes", "no"]),
    "service": st.sampled_from(["driveway", "alley"]),
    "area": st.sampled_from(["yes", "no"]),
    "bad_road": st.sampled_from([True, "1", False]),
    "junction": st.sampled_from(["roundabout"]),
    "speed_kmh": st.sampled_from([45, 25.0, "abc"]),
}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.fixed_dictionaries({}, optional=tag_values), min_size=1, max_size=40),
       st.sampled_from(["school_bus", "walk", "car"]), st.sampled_from(["exclude", "default"]),
       st.sampled_from([False, True, 0.5]))
def test_evaluate_ways_equals_evaluate_way(tags, profile, unknown, weather):
    from schoolplan.network.profiles import evaluate_ways

    prof = load_profile(profile)
    rules = evaluate_ways(prof, tags, unknown_class=unknown, bad_weather=weather)
    columns = {k: [t.get(k) for t in tags] for k in tag_values}
    by_col = evaluate_ways(prof, columns, unknown_class=unknown, bad_weather=weather)
    for i, t in enumerate(tags):
        r = evaluate_way(prof, t, unknown_class=unknown, bad_weather=weather)
        for got in (rules, by_col):
            assert (got.allowed[i], got.road_class[i], got.forward[i], got.backward[i], got.bad_road[i],
                    got.unknown_class[i]) == (r.allowed, r.road_class, r.forward, r.backward, r.bad_road,
                                              r.unknown_class)
            assert got.speed_kmh[i] == r.speed_kmh or (np.isnan(got.speed_kmh[i]) and np.isnan(r.speed_kmh))


def _walk_reference(a, b, tf, tb, n_raw, simplify):
    """The straightforward chain walk (one segment at a time), for the vectorised one."""
    from schoolplan.network._build import _removable

    interior, i1, i2 = _removable(a, b, tf, tb, n_raw, simplify)
    k = a.size
    chain_of, pos_of, rev_of, c_start, c_end = [-1] * k, [0] * k, [False] * k, [], []

    def walk(start, s):
        c, cur, p = len(c_start), start, 0
        while True:
            chain_of[s], pos_of[s] = c, p
            p += 1
            nxt = b[s] if a[s] == cur else a[s]
            rev_of[s] = a[s] != cur
            if not interior[nxt] or nxt == start:
                break
            s = i1[nxt] if i1[nxt] != s else i2[nxt]
            cur = nxt
        c_start.append(start)
        c_end.append(nxt)

    ends = np.concatenate([a, b])
    order = np.argsort(ends, kind="stable")
    for j in order:  # incidences by node (endpoints only), then a-ends before b-ends, then segment
        s, node = int(j % k), int(ends[j])
        if not interior[node] and chain_of[s] < 0:
            walk(node, s)
    for s in range(k):
        if chain_of[s] < 0:
            walk(int(a[s]), s)
    return chain_of, pos_of, rev_of, c_start, c_end


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 30), st.lists(st.tuples(st.integers(0, 29), st.integers(0, 29), st.integers(0, 3)),
                                    min_size=1, max_size=60), st.integers(0, 6), st.booleans())
def test_vectorised_chain_walk_equals_reference(n, raw_edges, ring, simplify):
    from schoolplan.network._build import walk_chains

    pairs = {(min(u, v) % n, max(u, v) % n): d for u, v, d in raw_edges if u % n != v % n}
    a = [p[0] for p in pairs] + [n + i for i in range(ring)]  # plus a ring of removable nodes
    b = [p[1] for p in pairs] + [n + (i + 1) % ring for i in range(ring)] if ring >= 3 else [p[1] for p in pairs]
    a = a[: len(b)]
    if not a:
        return
    dirs = [pairs[p] for p in pairs] + [0] * (len(a) - len(pairs))
    a, b = np.array(a), np.array(b)
    tf = np.array([np.inf if d == 1 else 1.0 for d in dirs])
    tb = np.array([np.inf if d == 2 else 1.0 for d in dirs])
    got = walk_chains(a, b, tf, tb, n + ring, simplify)
    want = _walk_reference(a, b, tf, tb, n + ring, simplify)
    for x, y in zip(got, want, strict=True):
        np.testing.assert_array_equal(x, y)


def test_nearest_segment_equals_geos_tree():
    from schoolplan.network import snap

    rng = np.random.default_rng(3)
    for _ in range(40):
        m = int(rng.integers(1, 200))
        x0, y0 = np.round(rng.uniform(0, 3000, m), -1), np.round(rng.uniform(0, 3000, m), -1)
        ang = rng.choice([0, np.pi / 2, np.pi, rng.uniform(0, 6.3)], m)
        length = rng.exponential(300, m) * (rng.random(m) > 0.05)  # a few zero-length segments
        x1, y1 = x0 + length * np.cos(ang), y0 + length * np.sin(ang)
        lines = shapely.linestrings(np.stack([np.column_stack([x0, y0]), np.column_stack([x1, y1])], axis=1))
        px, py = np.round(rng.uniform(-300, 3300, 300), -1), np.round(rng.uniform(-300, 3300, 300), -1)
        pi, ti, d = snap._nearest(shapely.STRtree(lines), shapely.points(px, py), None)
        ix = snap._segment_index(x0, y0, x1, y1, half_m=float(rng.choice([5.0, 50.0])))
        for k in (1, 8):
            seg, dist = snap._nearest_segments(ix, px, py, k=k)
            np.testing.assert_array_equal(seg[pi], ti)  # lowest index among ties, as GEOS
            np.testing.assert_array_equal(dist[pi], d)  # GEOS's distances, bit for bit


def test_network_modules_use_no_private_names_of_others():
    """No network module imports or reads another module's private names (issue 20)."""
    import ast
    import importlib.util

    src = Path(__file__).resolve().parents[1] / "src" / "schoolplan"
    files = sorted((src / "network").glob("*.py")) + [src / "batch.py", src / "synthetic.py"]
    bad = []
    for f in files:
        tree = ast.parse(f.read_text(encoding="utf-8"))
        modules = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("schoolplan"):
                # documented internal modules (network._core, _build ...) may be imported; private names may not
                bad += [f"{f.name}: from {node.module} import {a.name}" for a in node.names
                        if a.name.startswith("_") and not a.name.startswith("__")
                        and importlib.util.find_spec(f"{node.module}.{a.name}") is None]
                modules |= {a.asname or a.name for a in node.names}
            elif isinstance(node, ast.Import):
                modules |= {a.asname or a.name for a in node.names if a.name.startswith("schoolplan")}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                if isinstance(node.value, ast.Name) and node.value.id in modules:
                    bad.append(f"{f.name}: {node.value.id}.{node.attr}")
                if node.attr in {"_cache", "_chains", "_segments"}:
                    bad.append(f"{f.name}: .{node.attr}")
    assert bad == []
    from dataclasses import fields

    from schoolplan.network import RoadGraph

    assert not [fl.name for fl in fields(RoadGraph) if fl.name.startswith("_")]
