"""Maps: layers, legends, basemaps, GCJ-02 shift, escaping, offline HTML, and headless Chromium."""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

import browser
from conftest import LAT0, LON0, write_tiny_county
from schoolplan import maps
from schoolplan.coords import gcj02_to_wgs84, wgs84_to_gcj02
from schoolplan.county import County, load_county
from schoolplan.errors import ConfigError, SchemaError
from schoolplan.results import LayoutPlan, ReservedLand, ScenarioResult
from schoolplan.schema import DECISIONS, MODES

XSS_NAME = "<script>alert(1)</script>"
XSS_REASON = "<img src=x onerror=alert(2)> `${alert(3)}` </script>"
CHROMIUM = browser.find_chromium()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium not on PATH (apt-get install chromium)")


# --------------------------------------------------------------------------- fixtures
def _points(county: County, lonlat: list[tuple[float, float]]) -> gpd.GeoSeries:
    lon, lat = zip(*lonlat, strict=True)
    return gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326).to_crs(county.crs)


def make_plan(county: County, *, status_quo: bool = False) -> LayoutPlan:
    """Every decision, mode and minute class; one school and its reason carry HTML/JS."""
    base = county.schools[["name", "level", "township_id", "students", "geometry"]].copy()
    extra = gpd.GeoDataFrame(
        {"name": [XSS_NAME, "河口二小", "王庄教学点"], "level": ["primary", "primary", "teaching_point"],
         "township_id": ["T1", "T2", "T2"], "students": [0, 150, 12]},
        geometry=_points(county, [(LON0 + 0.07, LAT0 + 0.06), (LON0 + 0.13, LAT0 + 0.03),
                                  (LON0 + 0.18, LAT0 + 0.08)]).values,
        index=pd.Index(["N1", "C1", "X1"], name="school_id"), crs=county.crs)
    schools = pd.concat([base, extra])
    decisions = {"S1": "expand", "S2": "merge", "S3": "keep", "K1": "keep", "N1": "new", "C1": "convert",
                 "X1": "vacant"}
    if status_quo:
        decisions = dict.fromkeys(decisions, "keep")
    schools["decision"] = schools.index.map(decisions)
    schools["receiving_id"] = [("S1" if d == "merge" else None) for d in schools["decision"]]
    schools["reason_zh"] = [f"理由：{d}" for d in schools["decision"]]
    schools["reason_en"] = [f"because {d}" for d in schools["decision"]]
    schools.loc["N1", ["reason_zh", "reason_en"]] = XSS_REASON
    schools["students_before"] = schools["students"]
    schools["students_after"] = schools["students"].where(schools["decision"] != "merge", 0)
    schools.loc["S1", "students_after"] = 1340
    schools["classes_before"] = 6
    schools["classes_after"] = 8
    schools["classes_added"] = 2
    schools["capacity_after"] = 360
    schools["class_size_after"] = 42.5
    schools["boarders"] = 0
    schools["beds_needed"] = 0
    schools["beds_available"] = 0
    schools["buses"] = 1
    schools["teachers_needed"] = 20
    schools["teachers_on_staff"] = 22
    schools["teacher_surplus"] = 2
    schools["reuse"] = [("kindergarten" if d == "convert" else None) for d in schools["decision"]]
    schools = gpd.GeoDataFrame(schools.drop(columns="students"), geometry="geometry", crs=county.crs)
    rows = [  # village, band, school, pupils, mode, minutes, minutes_before
        ("V0", "kg", "K1", 20, "walk", 4.0, 4.0), ("V0", "lower", "S1", 30, "walk", 6.0, 6.0),
        ("V0", "upper", "S1", 25, "walk", 6.0, 6.0),
        ("V1", "lower", "S1", 20, "bus", 12.0, 3.0), ("V1", "junior", "S3", 15, "bus", 18.0, 18.0),
        ("V2", "lower", "N1", 18, "bus", 15.0, 8.0), ("V2", "upper", "N1", 10, "boarding", 35.0, 8.0),
        ("V3", "lower", "S1", 12, "bus", 25.0, 5.0), ("V3", "junior", "S3", 9, "walk", 8.0, 8.0),
        ("V4", "upper", "S1", 7, "boarding", 38.0, 6.0), ("V4", "lower", "S1", 8, "bus", 28.0, 6.0),
        ("V5", "lower", None, 6, "unserved", np.nan, 7.0), ("V5", "junior", "S3", 7, "bus", 22.0, 22.0),
    ]
    assignment = pd.DataFrame(rows, columns=["village_id", "band", "school_id", "pupils", "mode", "minutes",
                                             "minutes_before"])
    assignment["over_limit"] = assignment["minutes"] > 20
    return LayoutPlan(schools=schools, assignment=assignment, summary={"buses": 3})


def make_reserved(county: County) -> ReservedLand:
    boxes = [box(LON0 + 0.01, LAT0 + 0.01, LON0 + 0.04, LAT0 + 0.04),
             box(LON0 + 0.04, LAT0 + 0.01, LON0 + 0.07, LAT0 + 0.04),
             box(LON0 + 0.01, LAT0 + 0.04, LON0 + 0.07, LAT0 + 0.08)]
    zones = gpd.GeoDataFrame(
        {"name": ["北关单元", "南关单元", "新区单元"], "demand_primary": [900, 400, 1200],
         "supply_primary": [600, 500, 1200], "deficit_primary": [300, 0, 0],
         "demand_kindergarten": [260, 100, 300], "supply_kindergarten": [200, 150, 300],
         "deficit_kindergarten": [60, 0, 0], "demand_junior": [300, 200, 1500],
         "supply_junior": [300, 200, 600], "deficit_junior": [0, 0, 900],
         "classes_primary": [7, 0, 0], "land_m2_primary": [18000.0, 0.0, 0.0], "flag": [True, False, True],
         "reason_zh": ["小学缺口300", "", "初中缺口900"], "reason_en": ["300 primary seats short", "",
                                                                       "900 junior seats short"]},
        geometry=gpd.GeoSeries(boxes, crs=4326).to_crs(county.crs).values,
        index=pd.Index(["Z1", "Z2", "Z3"], name="zone_id"), crs=county.crs)
    site_geoms = gpd.GeoSeries([box(LON0 + 0.02, LAT0 + 0.02, LON0 + 0.021, LAT0 + 0.021).centroid,
                                box(LON0 + 0.03, LAT0 + 0.05, LON0 + 0.034, LAT0 + 0.053)], crs=4326)
    sites = gpd.GeoDataFrame(
        {"name": ["北关地块", "原王庄小学"], "site_type": ["vacant", "closed_school"],
         "level": ["primary", "kindergarten"], "area_m2": [30000.0, 9000.0], "land_needed_m2": [24000.0, 7000.0],
         "seats": [1350, 270], "classes": [30, 9], "covered_demand": [300, 60], "fits": [True, True],
         "reason_zh": ["就近覆盖北关缺口", "改建幼儿园"], "reason_en": ["covers Beiguan", "convert to kindergarten"]},
        geometry=site_geoms.to_crs(county.crs).values, index=pd.Index(["P1", "P2"], name="site_id"),
        crs=county.crs)
    return ReservedLand(zones=zones, sites=sites, summary={})


def make_demand() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = []
    for zone, scale in (("Z1", 1.0), ("Z2", 0.5), ("Z3", 2.0)):
        for year in (2025, 2026, 2027):
            for level, grades in (("primary", range(1, 7)), ("junior", range(7, 10))):
                for g in grades:
                    p50 = round(100 * scale * (1 + 0.1 * (year - 2025)))
                    rows.append({"zone": zone, "level": level, "grade": g, "year": year,
                                 "p10": p50 - 10, "p50": p50, "p90": p50 + 10})
    capacity = pd.DataFrame({"zone": ["Z1", "Z1", "Z2", "Z2", "Z3"], "level": ["primary", "junior"] * 2 + ["primary"],
                             "seats": [500, 300, 400, 100, 1000]})
    return pd.DataFrame(rows), capacity


def make_result(county: County, *, status_quo: bool = False) -> ScenarioResult:
    plan = make_plan(county, status_quo=status_quo)
    receiving = plan.schools.loc[["S1", "S3", "N1"]]
    iso = gpd.GeoDataFrame({"school_id": receiving.index, "minutes": [20, 20, 20]},
                           geometry=receiving.geometry.buffer(3500).values, crs=county.crs)
    label = ("现状", "Status quo") if status_quo else ("方案一：两集中", "Scenario 1 <i>consolidation</i>")
    return ScenarioResult(name="quo" if status_quo else "s1", label_zh=label[0], label_en=label[1],
                          county=county, plan=plan, demand=make_demand()[0], reserved=make_reserved(county),
                          isochrones=iso, indicators=pd.Series(dtype=float))


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> County:
    return load_county(write_tiny_county(tmp_path_factory.mktemp("maps") / "tiny"))


@pytest.fixture(scope="module")
def result(county: County) -> ScenarioResult:
    return make_result(county)


@pytest.fixture(autouse=True)
def _no_tianditu_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("TIANDITU_TOKEN", raising=False)
    yield


def _layer(m, key: str) -> maps.FeatureLayer:
    return next(c for c in m._children.values() if isinstance(c, maps.FeatureLayer) and c.key == key)


def _legend(m) -> str:
    return next(c for c in m._children.values() if type(c).__name__ == "Legend").html


def _shown_elements(m) -> int:
    return sum(v["features"] for v in maps.map_layers(m).values() if v["show"])


def _popups(m) -> int:
    return sum(1 for c in m._children.values() if isinstance(c, maps.FeatureLayer) and c.show
               for f in c.features if f["properties"].get("popup"))


def _coords(m, key: str, fid: str) -> tuple[float, float]:
    feat = next(f for f in _layer(m, key).features if f["properties"]["id"] == fid)
    lon, lat = feat["geometry"]["coordinates"]
    return lon, lat


# --------------------------------------------------------------------------- folium objects
EXPECTED_LAYERS = {  # key → features
    "schools_kindergarten": 1, "schools_teaching_point": 2, "schools_primary": 3, "schools_junior": 1,
    "sites": 3, "villages": 6, "boarders": 2, "assignment": 11, "isochrones": 3, "deficit": 3,
    "townships": 2, "county_seat": 1,
}


def test_plan_map_layers_and_counts(result: ScenarioResult) -> None:
    m = maps.plan_map(result, basemap="none")
    layers = maps.map_layers(m)
    assert {v["key"]: v["features"] for v in layers.values()} == EXPECTED_LAYERS
    assert all(v["show"] for v in layers.values())
    names = list(layers)
    assert names[0].startswith("学校 · 幼儿园") and "(2)" in names[1]
    assert any(type(c).__name__ == "LayerControl" for c in m._children.values())
    assert sum(type(c).__name__ == "Legend" for c in m._children.values()) == 1
    # decisions: every one present once in the school layers, and as a legend toggle
    decisions = [f["properties"]["decision"] for k in EXPECTED_LAYERS if k.startswith("schools")
                 for f in _layer(m, k).features]
    assert set(decisions) == set(DECISIONS)
    # village classes: ≤10, 10–20, >30 (twice), 20–30 and unserved
    fills = {f["properties"]["id"]: f["properties"]["style"]["fillColor"] for f in _layer(m, "villages").features}
    assert fills == {"V0": maps.minutes_colour(6), "V1": maps.minutes_colour(18), "V2": maps.minutes_colour(35),
                     "V3": maps.minutes_colour(25), "V4": maps.minutes_colour(38), "V5": "#222222"}
    assert len({fills[v] for v in ("V0", "V1", "V2", "V3", "V5")}) == 5
    modes = {f["properties"]["mode"] for f in _layer(m, "assignment").features}
    assert modes == set(MODES) - {"unserved", "no_route"}  # the test plan has no pupil without a road route
    # schools are sized by enrolment
    sizes = {f["properties"]["id"]: f["properties"]["icon"]["iconSize"][0]
             for k in ("schools_primary", "schools_teaching_point") for f in _layer(m, k).features}
    assert sizes["S1"] > sizes["C1"] > sizes["X1"]
    hidden = maps.plan_map(result, basemap="none", hide=["assignment", "schools"])
    shown = {v["key"]: v["show"] for v in maps.map_layers(hidden).values()}
    assert not shown["assignment"] and not shown["schools_primary"] and shown["villages"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_legend_covers_every_layer(result: ScenarioResult, lang: str) -> None:
    legend = _legend(maps.plan_map(result, basemap="none", lang=lang))
    for d in DECISIONS.values():
        assert d[lang] in legend
    expected = {
        "zh": ["图例", "村庄（校车单程时间）", "≤ 10 分钟", "10–20 分钟", "20–30 分钟", "&gt; 30 分钟", "无法安置",
               "就学路线", "步行走读", "校车走读", "寄宿", "校车等时圈", "20 分钟", "学位缺口", "无缺口",
               "推荐预留用地", "乡镇边界", "县城", "寄宿生来源村", "符号大小按在校生数"],
        "en": ["Legend", "Villages (one-way bus minutes)", "≤ 10 min", "&gt; 30 min", "Unserved",
               "Assignment lines", "Walk", "School bus", "Boarding", "Bus isochrones", "Seat deficit",
               "No shortage", "Recommended sites", "Townships", "County seat", "Villages with boarders"],
    }[lang]
    for text in expected:
        assert text in legend, text
    assert legend.count('data-sp-toggle="') == len(DECISIONS)


def test_decision_styles_are_distinct() -> None:
    shapes = [s for s, _ in maps.DECISION_STYLES.values()]
    colours = [c for _, c in maps.DECISION_STYLES.values()]
    assert set(maps.DECISION_STYLES) == set(DECISIONS)
    assert len(set(shapes)) == len(shapes) and len(set(colours)) == len(colours)
    assert [maps.minutes_colour(x) for x in (0, 10, 10.5, 20, 25, 30, 31)] == [
        "#1a9850", "#1a9850", "#a6d96a", "#a6d96a", "#fdae61", "#fdae61", "#d7191c"]


def test_popups_have_facts_and_reasons(result: ScenarioResult) -> None:
    m = maps.plan_map(result, basemap="none", lang="en")
    s2 = next(f for f in _layer(m, "schools_teaching_point").features if f["properties"]["id"] == "S2")
    popup = s2["properties"]["popup"]
    assert "because merge" in popup and "Pupils go to" in popup and "城关一小" in popup and "Merge" in popup
    c1 = next(f for f in _layer(m, "schools_primary").features if f["properties"]["id"] == "C1")
    assert "kindergarten" in c1["properties"]["popup"] and "because convert" in c1["properties"]["popup"]
    zh = maps.plan_map(result, basemap="none", lang="zh")
    v2 = next(f for f in _layer(zh, "villages").features if f["properties"]["id"] == "V2")["properties"]["popup"]
    assert "寄宿" in v2 and "小学4–6年级" in v2 and "8.0 → 35.0" in v2
    z1 = next(f for f in _layer(zh, "deficit").features if f["properties"]["id"] == "Z1")["properties"]
    assert z1["seats_short"] == 360 and "小学缺口300" in z1["popup"]


def test_user_strings_are_escaped(result: ScenarioResult) -> None:
    m = maps.plan_map(result, basemap="none", lang="en")
    feat = next(f for f in _layer(m, "schools_primary").features if f["properties"]["id"] == "N1")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in feat["properties"]["popup"]
    assert "&lt;img src=x onerror=alert(2)&gt;" in feat["properties"]["popup"]
    assert "<script" not in feat["properties"]["popup"] and "<img" not in feat["properties"]["tip"]
    page = maps.map_html(m, offline=True)
    assert XSS_NAME not in page and "<img src=x" not in page and "Scenario 1 <i>" not in page
    assert "<title>Scenario 1 &lt;i&gt;consolidation&lt;/i&gt;</title>" in page
    # only our own script elements: Leaflet inline, folium's flags, and the main map script
    assert len(re.findall(r"<script\b", page, re.I)) == 3


def test_gaode_overlays_are_shifted_to_gcj02(result: ScenarioResult, county: County) -> None:
    osm = maps.plan_map(result, basemap="osm")
    gaode = maps.plan_map(result, basemap="gaode")
    wgs = county.schools.to_crs(4326).loc["S1"].geometry
    lon_g, lat_g = _coords(gaode, "schools_primary", "S1")
    exp_lon, exp_lat = wgs84_to_gcj02(wgs.x, wgs.y)
    assert lon_g == pytest.approx(float(exp_lon), abs=1e-6) and lat_g == pytest.approx(float(exp_lat), abs=1e-6)
    assert _coords(osm, "schools_primary", "S1") == pytest.approx((wgs.x, wgs.y), abs=1e-6)
    shift_m = math.hypot((lon_g - wgs.x) * 111320 * math.cos(math.radians(wgs.y)), (lat_g - wgs.y) * 110540)
    assert 100 < shift_m < 1000
    # polygons shift too (a township corner)
    ring_osm = _layer(osm, "townships").features[0]["geometry"]["coordinates"][0][0]
    ring_gd = _layer(gaode, "townships").features[0]["geometry"]["coordinates"][0][0]
    assert ring_gd == pytest.approx([float(v) for v in wgs84_to_gcj02(*ring_osm)], abs=1e-6)
    assert "autonavi.com" in maps.map_html(gaode) and "AutoNavi" in maps.map_html(gaode)


def test_gcj02_round_trip_on_map_coordinates(result: ScenarioResult) -> None:
    osm = maps.plan_map(result, basemap="osm")
    gaode = maps.plan_map(result, basemap="gaode")
    for key in ("villages", "schools_primary", "sites"):
        a = np.array([f["geometry"]["coordinates"] for f in _layer(osm, key).features
                      if f["geometry"]["type"] == "Point"])
        b = np.array([f["geometry"]["coordinates"] for f in _layer(gaode, key).features
                      if f["geometry"]["type"] == "Point"])
        lon, lat = gcj02_to_wgs84(b[:, 0], b[:, 1])
        err_m = np.hypot((lon - a[:, 0]) * 111320 * np.cos(np.radians(a[:, 1])), (lat - a[:, 1]) * 110540)
        assert err_m.max() < 1.0, key


def test_basemaps_and_errors(result: ScenarioResult, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="Tianditu"):
        maps.plan_map(result, basemap="tianditu")
    with pytest.raises(ConfigError, match="basemap"):
        maps.plan_map(result, basemap="google")
    with pytest.raises(ConfigError, match="language"):
        maps.plan_map(result, lang="fr")
    token = "0123456789abcdef0123456789abcdef"
    page = maps.map_html(maps.plan_map(result, basemap="tianditu", tianditu_token=token))
    assert "tianditu.gov.cn/vec_w/wmts" in page and "tianditu.gov.cn/cva_w/wmts" in page
    assert f"tk={token}" in page and "Tianditu" in page
    monkeypatch.setenv("TIANDITU_TOKEN", token)
    labels = maps.map_html(maps.plan_map(result, basemap="tianditu"))
    assert json.dumps("天地图注记")[1:-1] in labels  # the annotation layer can be switched off
    assert "tile.openstreetmap.org" in maps.map_html(maps.plan_map(result, basemap="osm"))
    none = maps.map_html(maps.plan_map(result, basemap="none"))
    assert "L.tileLayer" not in none


def test_offline_html_needs_no_network(result: ScenarioResult, tmp_path: Path) -> None:
    m = maps.plan_map(result, basemap="osm")
    online = maps.map_html(m, offline=False)
    assert sorted(maps.external_assets(online)) == [maps.LEAFLET_CSS_URL, maps.LEAFLET_JS_URL]
    offline = maps.map_html(m, offline=True)
    assert maps.external_assets(offline) == []
    assert "Leaflet 1.9.4" in offline and "data:image/png;base64," in offline
    assert not re.search(r"<(script|link)\b[^>]*(src|href)=\S*https?:", offline, re.I)
    for lib in ("jquery", "bootstrap", "awesome-markers", "fontawesome"):
        assert lib not in offline.lower()
    mirrored = maps.map_html(m, offline=False, asset_mirror="https://mirror.example/")
    assert sorted(maps.external_assets(mirrored)) == [
        "https://mirror.example/npm/leaflet@1.9.4/dist/leaflet.css",
        "https://mirror.example/npm/leaflet@1.9.4/dist/leaflet.js"]
    path = maps.save_map(m, tmp_path / "out" / "plan.html", offline=True)
    assert path.read_text(encoding="utf-8") == offline
    assert [p.name for p in path.parent.iterdir()] == ["plan.html"]


def test_offline_drops_folium_cdn_assets_of_plain_maps(tmp_path: Path) -> None:
    import folium

    m = folium.Map(location=[33, 111.5], tiles=None)
    folium.CircleMarker([33, 111.5], radius=5).add_to(m)
    page = maps.map_html(m, offline=True)
    assert maps.external_assets(page) == []
    assert len(maps.external_assets(maps.map_html(m, offline=False))) > 2


def test_layout_plan_with_and_without_county(result: ScenarioResult, county: County) -> None:
    bare = maps.plan_map(result.plan, basemap="none")
    assert {v["key"] for v in maps.map_layers(bare).values()} == {
        "schools_kindergarten", "schools_teaching_point", "schools_primary", "schools_junior"}
    full = maps.plan_map(result.plan, county=county, reserved=result.reserved, isochrones=result.isochrones,
                         basemap="none", title="测试")
    assert {v["key"] for v in maps.map_layers(full).values()} == set(EXPECTED_LAYERS)
    # the view fits the county outline
    fit = next(c for c in full._children.values() if type(c).__name__ == "FitOnShow")
    (s, w), (n, e) = fit.bounds
    assert w == pytest.approx(LON0, abs=1e-4) and e == pytest.approx(LON0 + 0.2, abs=1e-4)
    assert s == pytest.approx(LAT0, abs=1e-4) and n == pytest.approx(LAT0 + 0.1, abs=1e-4)


def test_compare_map(result: ScenarioResult, county: County) -> None:
    quo = make_result(county, status_quo=True)
    dual = maps.compare_map(quo, result, basemap="none", lang="zh")
    layers = maps.map_layers(dual)
    assert sum(k.startswith("1: ") for k in layers) == sum(k.startswith("2: ") for k in layers) == 12
    page = maps.map_html(dual, offline=True)
    assert maps.external_assets(page) == [] and "Sync" not in page.split("<body>")[0]
    assert "现状 | 方案一：两集中" in page


def test_forecast_map(county: County) -> None:
    demand, capacity = make_demand()
    zones = make_reserved(county).zones[["name", "geometry"]]
    m = maps.forecast_map(demand, 2026, zones=zones, capacity=capacity, lang="zh")
    layers = maps.map_layers(m)
    assert [v["key"] for v in layers.values()] == ["year_2025", "year_2026", "year_2027"]
    assert [v["show"] for v in layers.values()] == [False, True, False]
    assert all(not c.overlay for c in m._children.values() if isinstance(c, maps.FeatureLayer))
    z1 = {f["properties"]["id"]: f["properties"]["value"] for f in _layer(m, "year_2026").features}
    # Z1 2026: primary 6 × 110 = 660 − 500 = 160; junior 3 × 110 = 330 − 300 = 30
    assert z1["Z1"] == 190
    assert z1["Z2"] == 3 * 55 - 100  # primary 330 < 400 seats: no shortfall
    assert z1["Z3"] == 6 * 220 - 1000 + 3 * 220  # no junior seats in Z3
    assert "学位缺口" in _legend(m)
    demand_only = maps.forecast_map(demand, 2025, zones=zones, level="primary", lang="en")
    vals = {f["properties"]["id"]: f["properties"]["value"] for f in _layer(demand_only, "year_2025").features}
    assert vals == {"Z1": 600, "Z2": 300, "Z3": 1200}
    assert "Seat demand" in _legend(demand_only)
    with pytest.raises(ConfigError, match="year"):
        maps.forecast_map(demand, 2040, zones=zones)
    with pytest.raises(SchemaError, match="p50"):
        maps.forecast_map(demand.drop(columns="p50"), 2025, zones=zones)


# --------------------------------------------------------------------------- headless Chromium
@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("basemap", ["none", "osm"])
def test_browser_plan_map_renders_offline(result: ScenarioResult, tmp_path: Path, basemap: str) -> None:
    m = maps.plan_map(result, basemap=basemap, lang="zh")
    report = browser.probe(maps.map_html(m, offline=True), tmp_path)
    assert report["leaflet"] == "object" and report["version"] == "1.9.4"
    assert report["errors"] == [] and report["alerts"] == []
    assert report["interactive"] == _shown_elements(m) == sum(EXPECTED_LAYERS.values())
    assert report["markers"] == 1 + 2 + 3 + 1 + 2  # schools + site markers
    assert report["legends"] == 1 and report["layer_controls"] == 1
    assert report["overlay_inputs"] == len(EXPECTED_LAYERS)
    assert report["popups"] == _popups(m)
    assert report["titles"] == ["方案一：两集中"]
    assert report["toggle"] == {"key": "keep", "hidden": 2, "after": 0}  # legend hides kept schools
    # the hostile name and reason are shown as text, not run
    assert any(XSS_NAME in text and "onerror=alert(2)" in text for text in report["suspicious"])
    assert "保留" in report["legend_text"][0] and "20–30 分钟" in report["legend_text"][0]


@pytest.mark.browser
@needs_chromium
def test_browser_cdn_page_renders_nothing_offline(result: ScenarioResult, tmp_path: Path) -> None:
    page = maps.map_html(maps.plan_map(result, basemap="none"), offline=False)
    report = browser.probe(page, tmp_path)
    assert report["leaflet"] == "undefined" and report.get("interactive", 0) == 0


@pytest.mark.browser
@needs_chromium
def test_browser_compare_and_forecast(result: ScenarioResult, county: County, tmp_path: Path) -> None:
    dual = maps.compare_map(make_result(county, status_quo=True), result, basemap="none", lang="en")
    report = browser.probe(maps.map_html(dual), tmp_path)
    assert report["errors"] == [] and report["maps"] == 2 and report["synced"] is True
    assert report["legends"] == 2 and report["titles"] == ["Status quo", "Scenario 1 <i>consolidation</i>"]
    assert report["interactive"] == 2 * sum(EXPECTED_LAYERS.values())
    demand, capacity = make_demand()
    zones = make_reserved(county).zones[["name", "geometry"]]
    fm = maps.forecast_map(demand, 2027, zones=zones, capacity=capacity, basemap="gaode")
    report = browser.probe(maps.map_html(fm), tmp_path)
    assert report["errors"] == [] and report["interactive"] == 3 and report["popups"] == 3


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_browser_screenshot_is_not_blank(result: ScenarioResult, tmp_path: Path, lang: str) -> None:
    if lang == "zh" and browser.has_cjk_font() is False:
        warnings.warn("no Chinese font: labels render as boxes (apt-get install fonts-noto-cjk)", stacklevel=1)
    m = maps.plan_map(result, basemap="none", lang=lang)
    png = browser.screenshot(maps.map_html(m, offline=True), tmp_path / f"plan_{lang}.png")
    img = browser.read_png(png)
    stats = browser.image_stats(img)
    assert stats["width"] == 1280 and stats["height"] == 860
    assert stats["std"] > 10 and stats["colours"] > 200
    # the plain background shows, but most of the window is drawn over
    background = browser.colour_fraction(img, (0xEE, 0xF0, 0xEA), tol=3)
    assert 0.05 < background < 0.9
    for colour in ("#1a9850", "#d7191c", "#2166ac"):  # keep, merge/>30 min, expand
        rgb = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
        assert browser.colour_fraction(img, rgb, tol=10) > 0, colour
