"""Checks of the bundled demo county (``data/demo_county``) against the schema and its story.

Only pandas / geopandas are used to read the bundle (not ``schoolplan.load_county``), so the
data can be checked independently of the loader. Rebuild the bundle with
``python scripts/build_demo_county.py``.
"""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from schoolplan.schema import AGE_COLUMNS, LAYERS, LEVELS

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo_county"
GPKG = DEMO / "county.gpkg"
METRIC = "EPSG:32610"  # UTM 10N, Yuba County
BASE_YEAR = 2024
GEOMETRY = {"schools": {"Point"}, "villages": {"Point"}, "townships": {"Polygon"},
            "zones": {"Polygon"}, "sites": {"Polygon"}, "developments": {"Polygon"}}


@pytest.fixture(scope="module")
def layers() -> dict[str, gpd.GeoDataFrame]:
    return {name: gpd.read_file(GPKG, layer=name) for name in GEOMETRY}


@pytest.fixture(scope="module")
def births() -> pd.DataFrame:
    return pd.read_csv(DEMO / "births.csv", dtype={"township_id": str})


@pytest.fixture(scope="module")
def enrolment() -> pd.DataFrame:
    return pd.read_csv(DEMO / "enrolment.csv", dtype={"school_id": str})


def _seat_id(layers: dict[str, gpd.GeoDataFrame]) -> str:
    tw = layers["townships"]
    return str(tw.loc[tw.is_county_seat.astype(bool), "township_id"].iloc[0])


# --------------------------------------------------------------------------- files


def test_files_exist_and_bundle_is_small() -> None:
    for name in ("roads.osm.pbf", "county.gpkg", "births.csv", "enrolment.csv", "county.toml",
                 "README.md"):
        assert (DEMO / name).is_file(), name
    total = sum(f.stat().st_size for f in DEMO.rglob("*") if f.is_file())
    assert total < 15e6


def test_pbf_is_an_osm_pbf() -> None:
    head = (DEMO / "roads.osm.pbf").read_bytes()[:64]
    assert b"OSMHeader" in head
    assert (DEMO / "roads.osm.pbf").stat().st_size > 100_000


def test_manifest() -> None:
    meta = tomllib.loads((DEMO / "county.toml").read_text(encoding="utf-8"))
    assert meta["base_year"] == BASE_YEAR
    assert "Yuba" in meta["name_en"] and meta["name_zh"]
    for key in ("roads", "gpkg", "births", "enrolment"):
        assert (DEMO / meta[key]).is_file()
    assert "OpenStreetMap contributors" in meta["attribution"]


# --------------------------------------------------------------------------- schema


@pytest.mark.parametrize("name", sorted(GEOMETRY))
def test_layer_schema(layers: dict[str, gpd.GeoDataFrame], name: str) -> None:
    gdf = layers[name]
    spec = LAYERS[name]
    assert gdf.crs.to_epsg() == 4326
    assert set(gdf.geom_type) <= GEOMETRY[name]
    assert gdf.geometry.is_valid.all()
    assert len(gdf) > 0
    for col in spec.all_columns:
        if col.required:
            assert col.name in gdf.columns, col.name
        if col.name not in gdf.columns:
            continue
        values = gdf[col.name].dropna()
        if col.allowed:
            assert set(values) <= set(col.allowed), (col.name, set(values) - set(col.allowed))
        if col.kind in ("int", "float") and len(values):
            if col.minimum is not None:
                assert values.min() >= col.minimum, col.name
            if col.maximum is not None:
                assert values.max() <= col.maximum, col.name
    if spec.id_column:
        ids = gdf[spec.id_column]
        assert ids.notna().all() and ids.is_unique


def test_table_schema(births: pd.DataFrame, enrolment: pd.DataFrame) -> None:
    for name, table in (("births", births), ("enrolment", enrolment)):
        spec = LAYERS[name]
        for col in spec.columns:
            if col.required:
                assert col.name in table.columns
            if col.allowed and col.name in table:
                assert set(table[col.name]) <= set(col.allowed)
    assert births.year.min() == 2000 and births.year.max() == BASE_YEAR
    assert not births.duplicated(["year", "township_id"]).any()
    assert not enrolment.duplicated(["year", "school_id", "grade"]).any()
    assert enrolment.year.min() <= 2014 and enrolment.year.max() == BASE_YEAR
    assert enrolment.grade.between(1, 12).all()
    assert (enrolment.students >= 0).all() and (enrolment.classes >= 0).all()
    assert ((enrolment.students > 0) == (enrolment.classes > 0)).all()


def test_levels_and_grades(layers: dict[str, gpd.GeoDataFrame], enrolment: pd.DataFrame) -> None:
    sch = layers["schools"]
    assert set(sch.level) <= set(LEVELS)
    assert {"kindergarten", "primary", "junior", "nine_year", "senior",
            "teaching_point"} <= set(sch.level)
    level = enrolment.school_id.map(sch.set_index("school_id").level)
    kg = level.eq("kindergarten")
    assert enrolment.loc[kg, "level"].eq("kindergarten").all()
    assert enrolment.loc[kg, "grade"].between(1, 3).all()
    assert enrolment.loc[level.eq("teaching_point"), "grade"].between(1, 4).all()
    rest = enrolment[~kg]
    expect = np.where(rest.grade <= 6, "primary", np.where(rest.grade <= 9, "junior", "senior"))
    assert (rest.level.to_numpy() == expect).all()
    nine = enrolment[level.eq("nine_year") & enrolment.year.eq(BASE_YEAR)]
    assert {"primary", "junior"} <= set(nine.level)


# --------------------------------------------------------------------------- geometry


def test_points_lie_in_their_township(layers: dict[str, gpd.GeoDataFrame]) -> None:
    tw = layers["townships"][["township_id", "geometry"]].rename(columns={"township_id": "tw"})
    for name in ("schools", "villages"):
        pts = layers[name]
        joined = gpd.sjoin(pts, tw, predicate="within", how="left")
        assert joined.tw.notna().all(), f"{name} outside every township"
        assert (joined.tw == joined.township_id).all(), f"{name} township_id mismatch"


def test_townships_partition(layers: dict[str, gpd.GeoDataFrame]) -> None:
    tw = layers["townships"].to_crs(METRIC)
    assert 8 <= len(tw) <= 12
    assert tw.is_county_seat.astype(bool).sum() == 1
    for a, b in itertools.combinations(tw.geometry, 2):
        assert a.intersection(b).area < 1.0  # m²
    union = tw.geometry.union_all()
    assert union.geom_type == "Polygon" and len(union.interiors) == 0  # no gaps
    assert all(n.endswith(("镇", "乡")) for n in tw.name)


def test_zones_developments_sites(layers: dict[str, gpd.GeoDataFrame]) -> None:
    seat = _seat_id(layers)
    tw = layers["townships"].to_crs(METRIC).set_index("township_id")
    zones = layers["zones"].to_crs(METRIC)
    assert 8 <= len(zones) <= 15
    assert zones.township_id.eq(seat).all()
    assert zones.geometry.within(tw.geometry[seat].buffer(1.0)).all()
    for a, b in itertools.combinations(zones.geometry, 2):
        assert a.intersection(b).area < 1.0
    vil = layers["villages"]
    assert vil.zone_id.fillna("").isin(["", *zones.zone_id]).all()
    zpop = vil.groupby("zone_id").population.sum()
    assert (zones.set_index("zone_id").population == zpop.reindex(zones.zone_id).fillna(0)).all()
    growth = (zones.population_planned - zones.population) / zones.population.clip(lower=1)
    assert 2 <= (growth > 0.2).sum() <= 4
    dev = layers["developments"]
    assert 4 <= len(dev) <= 8
    assert dev.year.between(2025, 2032).all()
    assert dev.zone_id.isin(zones.zone_id).all()
    big = dev[dev.residents >= 5000]
    assert (~big.school_land.astype(bool)).any()
    sites = layers["sites"]
    closed = layers["schools"].query("status == 'closed'").school_id
    cs = sites[sites.site_type.eq("closed_school")]
    assert set(cs.school_id) == set(closed)
    assert {"government_building", "vacant"} <= set(sites.site_type)
    area = sites.to_crs(METRIC).area
    assert np.allclose(area, sites.area_m2, rtol=0.01)
    assert (sites.area_m2 < 19_000).any() and (sites.area_m2 > 19_000).any()


# --------------------------------------------------------------------------- numbers


def test_enrolment_matches_schools(layers: dict[str, gpd.GeoDataFrame],
                                   enrolment: pd.DataFrame) -> None:
    sch = layers["schools"].set_index("school_id")
    open_ids = set(sch.index[sch.status.eq("open")])
    assert set(enrolment.school_id) <= open_ids
    cur = enrolment[enrolment.year == BASE_YEAR].groupby("school_id")[["students", "classes"]].sum()
    assert set(cur.index) == open_ids
    assert (cur.students == sch.loc[cur.index, "students"]).all()
    assert (cur.classes == sch.loc[cur.index, "classes"]).all()
    closed = sch[sch.status.eq("closed")]
    assert closed.closed_year.notna().all() and (closed.students == 0).all()


def test_births_show_two_child_peak_then_decline(births: pd.DataFrame,
                                                 layers: dict[str, gpd.GeoDataFrame]) -> None:
    county = births.groupby("year").births.sum()
    assert county.idxmax() in (2016, 2017)
    after = county.loc[2017:2023]
    assert (after.diff().dropna() < 0).all()
    assert county.loc[BASE_YEAR] < 0.65 * county.max()
    assert set(births.township_id) == set(layers["townships"].township_id)


def test_population_and_ages(layers: dict[str, gpd.GeoDataFrame], births: pd.DataFrame) -> None:
    vil, tw = layers["villages"], layers["townships"]
    total = vil.population.sum()
    assert 100_000 <= total <= 200_000
    tpop = vil.groupby("township_id").population.sum()
    assert (tw.set_index("township_id").population == tpop.reindex(tw.township_id)).all()
    seat = _seat_id(layers)
    assert tpop.idxmax() == seat
    b = births.pivot(index="township_id", columns="year", values="births")
    ages = vil.groupby("township_id")[list(AGE_COLUMNS)].sum()
    for a, col in enumerate(AGE_COLUMNS):
        ratio = ages[col].sum() / b[BASE_YEAR - a].sum()
        assert 0.6 <= ratio <= 1.1, (col, ratio)
        per_tw = ages[col] / b.loc[ages.index, BASE_YEAR - a]
        assert per_tw.max() <= 1.4
    assert vil[list(AGE_COLUMNS)].to_numpy().min() >= 0


def test_kindergarten_gap(layers: dict[str, gpd.GeoDataFrame]) -> None:
    kg = layers["schools"].query("level == 'kindergarten' and status == 'open'")
    share = kg.groupby("ownership").students.sum() / kg.students.sum()
    assert share.get("public", 0) < 0.5
    assert share.get("public", 0) + share.get("inclusive_private", 0) < 0.8
    assert kg.ownership.nunique() == 3


def test_crowded_seat_and_empty_countryside(layers: dict[str, gpd.GeoDataFrame],
                                            enrolment: pd.DataFrame) -> None:
    sch = layers["schools"]
    seat = _seat_id(layers)
    open_ = sch[sch.status.eq("open") & sch.classes.gt(0)]
    size = open_.students / open_.classes
    in_seat = open_.township_id.eq(seat)
    assert (size[in_seat] >= 56).any()
    cur = enrolment[enrolment.year.eq(BASE_YEAR) & enrolment.classes.gt(0)]
    cur = cur[cur.school_id.isin(open_.school_id[in_seat])]
    per_class = cur.students / cur.classes
    assert (per_class >= 56).sum() >= 3
    assert (per_class >= 66).any()
    rural = open_[~in_seat & open_.level.isin(["primary", "teaching_point", "nine_year"])]
    assert (rural.students < 100).any()
    assert (rural.students < 50).any()
    central = sch[sch.is_central.astype(bool)]
    assert central.township_id.is_unique and seat in set(central.township_id)
