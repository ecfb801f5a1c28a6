"""Reserved land (预留用地) on hand-checkable towns, plus the demo county when it is built."""

from __future__ import annotations

import math
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import CRS
from shapely.geometry import Point, box

from conftest import DEMO
from schoolplan.county import County
from schoolplan.errors import ConfigError, DataWarning, SchemaError
from schoolplan.reserve import (
    check_developments,
    kindergarten_shares,
    reserve_land,
    school_seats,
    zone_demand,
    zone_points,
)
from schoolplan.standards import load_standards

CRS_M = CRS.from_epsg(4546)
X0, Y0 = 500_000.0, 3_650_000.0
NAN = np.nan
STD = load_standards()


# --------------------------------------------------------------------------- a small town


def gdf(rows: list[dict], geoms: list, index: list[str], name: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(pd.DataFrame(rows, index=pd.Index(index, name=name)), geometry=geoms, crs=CRS_M)


def empty(name: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=CRS_M), index=pd.Index([], name=name))


def zones_frame(n: int = 3, population: list | None = None) -> gpd.GeoDataFrame:
    pop = population or [3000, 1000, 2000][:n]
    rows = [{"name": f"单元{i + 1}", "township_id": "T1", "population": pop[i]} for i in range(n)]
    geoms = [box(X0 + 1000 * i, Y0, X0 + 1000 * (i + 1), Y0 + 1000) for i in range(n)]
    return gdf(rows, geoms, [f"Z{i + 1}" for i in range(n)], "zone_id")


SCHOOL_COLS = ["name", "level", "status", "ownership", "township_id", "capacity_seats", "students",
               "land_area_m2"]


def schools_frame(rows: list[tuple]) -> gpd.GeoDataFrame:
    """rows: (id, level, seats, students, ownership, x offset)."""
    recs = [{"name": f"学校{sid}", "level": lv, "status": "open", "ownership": own, "township_id": "T1",
             "capacity_seats": seats, "students": pupils, "land_area_m2": 10000.0}
            for sid, lv, seats, pupils, own, _ in rows]
    geoms = [Point(X0 + dx, Y0 + 500) for *_, dx in rows]
    return gdf(recs, geoms, [r[0] for r in rows], "school_id")


def village_frame(rows: list[tuple]) -> gpd.GeoDataFrame:
    """rows: (id, township, zone, children per single year of age 3-5, 6-11, 12-14)."""
    recs = []
    for vid, tw, zone, kg, pri, jun in rows:
        rec = {"name": vid, "township_id": tw, "zone_id": zone, "population": 1000}
        for a in range(18):
            rec[f"age_{a}"] = kg if 3 <= a <= 5 else pri if 6 <= a <= 11 else jun if 12 <= a <= 14 else 0
        recs.append(rec)
    return gdf(recs, [Point(X0 + 100 * i, Y0 + 100) for i in range(len(rows))], [r[0] for r in rows],
               "village_id")


def town(*, zones: gpd.GeoDataFrame | None = None, schools: gpd.GeoDataFrame | None = None,
         villages: gpd.GeoDataFrame | None = None, sites: gpd.GeoDataFrame | None = None,
         developments: gpd.GeoDataFrame | None = None) -> County:
    townships = gdf([{"name": "城关镇", "is_county_seat": True, "population": 8000},
                     {"name": "河口乡", "is_county_seat": False, "population": 3000}],
                    [box(X0 - 5000, Y0 - 5000, X0 + 5000, Y0 + 5000),
                     box(X0 + 5000, Y0 - 5000, X0 + 15000, Y0 + 5000)], ["T1", "T2"], "township_id")
    return County(
        name="测试县", crs=CRS_M,
        schools=schools if schools is not None else schools_frame([("P1", "primary", 1000, 900, "public", 0)]),
        villages=villages if villages is not None else empty("village_id"),
        townships=townships,
        births=pd.DataFrame({"year": [2024], "births": [100]}),
        enrolment=pd.DataFrame(columns=["year", "school_id", "level", "grade", "students"]),
        zones=zones if zones is not None else zones_frame(),
        sites=sites if sites is not None else empty("site_id"),
        developments=developments if developments is not None else empty("development_id"),
        base_year=2024,
    )


def one_point_each(zones: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One demand point per zone (its centre, weight 1): distances become hand-checkable."""
    return gpd.GeoDataFrame({"zone_id": list(zones.index), "weight": 1.0},
                            geometry=zones.geometry.centroid.to_numpy(), crs=zones.crs,
                            index=pd.Index([f"{z}#0" for z in zones.index], name="point_id"))


def zone_demand_rows(values: dict[tuple[str, str], float | list[float]], years: list[int] | None = None
                     ) -> pd.DataFrame:
    """Demand keyed by zone: {(zone, level): pupils or pupils per year}."""
    years = years or [2030]
    rows = []
    for (zone, level), v in values.items():
        vals = v if isinstance(v, list) else [v] * len(years)
        for y, p in zip(years, vals, strict=True):
            rows.append({"zone": zone, "level": level, "grade": 1, "year": y, "p10": p, "p50": p, "p90": p})
    return pd.DataFrame(rows)


def matrix(values: dict[str, list[float]], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame.from_dict({f"{z}#0": v for z, v in values.items()}, orient="index", columns=columns)


# --------------------------------------------------------------------------- supply and radius


def test_radius_edge_499_vs_501_and_area_arithmetic() -> None:
    zones = zones_frame(2)
    county = town(zones=zones)
    demand = zone_demand_rows({("Z1", "primary"): 300, ("Z2", "primary"): 200})
    walk = matrix({"Z1": [499.0], "Z2": [501.0]}, ["P1"])
    r = reserve_land(county, demand, walk, points=one_point_each(zones))
    z = r.zones
    assert z.loc["Z1", "supply_primary"] == 300 and z.loc["Z1", "deficit_primary"] == 0
    assert z.loc["Z2", "supply_primary"] == 0 and z.loc["Z2", "deficit_primary"] == 200
    assert not z.loc["Z1", "flag"] and z.loc["Z2", "flag"]
    # 200 pupils → ⌈200 / 45⌉ = 5 classes → the smallest standard primary school, 12 classes (540 seats),
    # at 25 m² land and 6.6 m² floor per seat (12-class rows of the standards)
    assert z.loc["Z2", "classes_primary"] == 5
    assert STD["class_size"]["primary"] == 45 and STD["land_per_pupil_by_size_m2"]["primary"]["12"] == 25.0
    assert z.loc["Z2", "schools_primary"] == 1 and z.loc["Z2", "school_size_primary"] == 12
    assert z.loc["Z2", "land_m2_primary"] == pytest.approx(12 * 45 * 25.0)
    assert z.loc["Z2", "building_m2_primary"] == pytest.approx(12 * 45 * 6.6)
    assert z.loc["Z2", "reason_zh"].startswith("缺小学学位200个（5个班）；另有200人无候选地块")
    assert "200 primary seats short (5 classes)" in z.loc["Z2", "reason_en"]
    # no parcels: the land still to find is the 5 classes' seats at the 12-class rate, 5 × 45 × 25 m²
    assert z.loc["Z2", "land_to_find_m2_primary"] == pytest.approx(5 * 45 * 25.0)
    assert r.summary["land_m2_primary"] == pytest.approx(5625.0)
    assert r.summary["seats_short_primary"] == 200
    # the school's other 700 seats sit unused in Z1
    assert z.loc["Z1", "surplus_primary"] == 700 and r.summary["seats_unused_primary"] == 700


def test_two_step_sharing_arithmetic() -> None:
    zones = zones_frame(2)
    schools = schools_frame([("S1", "primary", 600, 600, "public", 0), ("S2", "primary", 150, 150, "public", 900)])
    county = town(zones=zones, schools=schools)
    demand = zone_demand_rows({("Z1", "primary"): 600, ("Z2", "primary"): 300})
    walk = matrix({"Z1": [300.0, 900.0], "Z2": [450.0, 200.0]}, ["S1", "S2"])
    z = reserve_land(county, demand, walk, points=one_point_each(zones)).zones
    # S1's 600 seats reach 600 + 300 pupils: 600·600/900 = 400 to Z1, 600·300/900 = 200 to Z2;
    # S2's 150 seats reach Z2 only: Z2 gets 350 but needs 300 → supply 300, surplus 50.
    assert z.loc["Z1", "supply_primary"] == pytest.approx(400)
    assert z.loc["Z1", "deficit_primary"] == 200
    assert z.loc["Z2", "supply_primary"] == pytest.approx(300)
    assert z.loc["Z2", "surplus_primary"] == pytest.approx(50)
    assert z.loc["Z2", "deficit_primary"] == 0


def test_grid_points_split_a_zone() -> None:
    """Points of one zone straddle the radius: only the share within reach is served."""
    zones = zones_frame(1)
    pts = zone_points(zones, spacing_m=250)
    assert len(pts) == 16 and pts["weight"].sum() == pytest.approx(1.0)
    school = pts.geometry.x.min()  # a school on the west edge column of points
    walk = pd.DataFrame({"P1": (pts.geometry.x - school).abs().to_numpy()}, index=pts.index)
    county = town(zones=zones, schools=schools_frame([("P1", "primary", 300, 300, "public", 0)]))
    r = reserve_land(county, zone_demand_rows({("Z1", "primary"): 800}), walk, points=pts,
                     radius_m={"primary": 300})
    # columns at 0 m and 250 m are within 300 m: 8 of 16 points, 400 pupils share the 300 seats
    assert r.zones.loc["Z1", "supply_primary"] == pytest.approx(300)
    assert r.zones.loc["Z1", "deficit_primary"] == 500
    assert r.summary["points"] == 16


def test_zone_points_tiny_zone_and_errors() -> None:
    zones = gdf([{"name": "a"}, {"name": "b"}],
                [box(X0, Y0, X0 + 1000, Y0 + 1000), box(X0 + 2010, Y0 + 10, X0 + 2030, Y0 + 30)],
                ["A", "B"], "zone_id")
    pts = zone_points(zones)
    assert pts.groupby("zone_id")["weight"].sum().tolist() == pytest.approx([1.0, 1.0])
    assert (pts["zone_id"] == "B").sum() == 1  # representative point of the tiny zone
    assert pts.loc[pts["zone_id"] == "B"].geometry.iloc[0].within(zones.geometry["B"])
    with pytest.raises(ConfigError):
        zone_points(zones, spacing_m=0)


def test_rural_preset_widens_coverage() -> None:
    zones = zones_frame(1)
    county = town(zones=zones)
    demand = zone_demand_rows({("Z1", "primary"): 500})
    walk = matrix({"Z1": [1500.0]}, ["P1"])
    urban = reserve_land(county, demand, walk, points=one_point_each(zones))
    rural = reserve_land(county, demand, walk, points=one_point_each(zones), radius_preset="rural")
    assert urban.zones.loc["Z1", "deficit_primary"] == 500
    assert rural.zones.loc["Z1", "deficit_primary"] == 0
    assert rural.summary["radius_m"] == {"kindergarten": 1000.0, "primary": 2000.0, "junior": 3000.0}


def test_nine_year_split_and_vacated_seats_removed() -> None:
    schools = schools_frame([("N1", "nine_year", 900, 800, "public", 0), ("K1", "kindergarten", 90, 80, "public", 0),
                             ("P9", "primary", 450, 400, "public", 100)])
    county = town(schools=schools)
    seats = school_seats(county)
    assert seats.loc["N1", "primary"] == pytest.approx(600) and seats.loc["N1", "junior"] == pytest.approx(300)
    assert seats.loc["K1", "kindergarten"] == 90
    gone = school_seats(county, exclude=["P9"])
    assert "P9" not in gone.index


# --------------------------------------------------------------------------- demand


def test_township_demand_shared_by_children() -> None:
    villages = village_frame([("V1", "T1", "Z1", 10, 10, 10), ("V2", "T1", "Z2", 10, 30, 10),
                              ("V3", "T1", None, 20, 60, 20), ("V4", "T2", None, 99, 99, 99)])
    zones = zones_frame(2)
    county = town(zones=zones, villages=villages)
    demand = pd.DataFrame({"zone": ["T1", "T1", "T2"], "level": ["primary", "junior", "primary"], "grade": [1, 7, 1],
                           "year": [2030] * 3, "p10": [1000.0, 300.0, 50.0], "p50": [1000.0, 300.0, 50.0],
                           "p90": [1000.0, 300.0, 50.0]})
    zd = zone_demand(county, demand).set_index(["zone_id", "level", "year"])["pupils"]
    # primary children (6 ages): Z1 60, Z2 180, outside the zones 360 → shares 0.1 and 0.3
    assert zd[("Z1", "primary", 2030)] == pytest.approx(100)
    assert zd[("Z2", "primary", 2030)] == pytest.approx(300)
    assert zd[("Z1", "junior", 2030)] == pytest.approx(300 * 30 / 120)
    whole = zone_demand(county, demand, include_outside=True).set_index(["zone_id", "level", "year"])["pupils"]
    assert whole[("Z1", "primary", 2030)] == pytest.approx(250)
    assert whole[("Z2", "primary", 2030)] == pytest.approx(750)


def test_township_demand_shared_by_population_without_villages() -> None:
    zones = zones_frame(2, population=[3000, 1000])
    county = town(zones=zones)
    demand = pd.DataFrame({"zone": ["T1"], "level": ["primary"], "grade": [1], "year": [2030],
                           "p10": [800.0], "p50": [800.0], "p90": [800.0]})
    zd = zone_demand(county, demand).set_index(["zone_id", "level"])["pupils"]
    # township population 8000: Z1 3000/8000, Z2 1000/8000 of 800
    assert zd[("Z1", "primary")] == pytest.approx(300) and zd[("Z2", "primary")] == pytest.approx(100)
    zd = zone_demand(county, demand, include_outside=True).set_index(["zone_id", "level"])["pupils"]
    assert zd[("Z1", "primary")] == pytest.approx(600) and zd[("Z2", "primary")] == pytest.approx(200)


def test_peak_year_vs_planning_year_and_housing() -> None:
    zones = zones_frame(1)
    devs = gdf([{"name": "新城", "zone_id": "Z1", "year": 2027, "dwellings": 1000, "residents": 3000,
                 "school_land": False, "kindergarten_land": False}],
               [box(X0 + 100, Y0 + 100, X0 + 300, Y0 + 300)], ["D1"], "development_id")
    county = town(zones=zones, developments=devs)
    years = [2025, 2026, 2027, 2028, 2029, 2030]
    demand = pd.DataFrame({"zone": "T1", "level": "primary", "grade": 1, "year": years,
                           "p50": [900.0, 1000.0, 1100.0, 700.0, 600.0, 500.0]})
    demand["p10"] = demand["p90"] = demand["p50"]
    zones_pop = zone_demand(county, demand).set_index(["zone_id", "level", "year"])
    # population share 3000 / 8000; housing 3000 × 70 / 1000 = 210 primary pupils from 2027
    assert zones_pop.loc[("Z1", "primary", 2026), "housing"] == 0
    assert zones_pop.loc[("Z1", "primary", 2027), "housing"] == pytest.approx(210)
    assert zones_pop.loc[("Z1", "primary", 2030), "pupils"] == pytest.approx(500 * 3 / 8 + 210)
    walk = matrix({"Z1": [100.0]}, ["P1"])
    pts = one_point_each(zones)
    r = reserve_land(county, demand, walk, points=pts, radius_m=50)
    z = r.zones.loc["Z1"]
    assert r.summary["planning_year"] == 2030 and r.summary["peak_year_primary"] == 2027
    assert z["year_primary"] == 2027
    assert z["demand_primary"] == pytest.approx(1100 * 3 / 8 + 210)
    assert z["demand_plan_primary"] == pytest.approx(500 * 3 / 8 + 210)
    plan = reserve_land(county, demand, walk, points=pts, radius_m=50, peak=False)
    assert plan.zones.loc["Z1", "demand_primary"] == pytest.approx(397.5)
    early = reserve_land(county, demand, walk, points=pts, radius_m=50, year=2026)
    assert early.summary["peak_year_primary"] == 2026  # the horizon ends at the planning year
    with pytest.raises(ConfigError, match="2040"):
        reserve_land(county, demand, walk, points=pts, year=2040)


def test_zone_points_weighted_by_villages() -> None:
    zones = zones_frame(2)
    villages = village_frame([("V1", "T1", "Z1", 1, 1, 1)])
    villages.loc["V1", "geometry"] = Point(X0 + 100, Y0 + 100)  # south-west corner of Z1
    pts = zone_points(zones, spacing_m=250, villages=villages)
    z1 = pts[pts["zone_id"] == "Z1"]
    near = z1.geometry.distance(Point(X0 + 100, Y0 + 100))
    assert z1["weight"].sum() == pytest.approx(1.0)
    assert z1.loc[near.idxmin(), "weight"] > 5 * z1.loc[near.idxmax(), "weight"]
    z2 = pts[pts["zone_id"] == "Z2"]  # no villages: equal weights
    assert np.allclose(z2["weight"], 1 / len(z2))
    same = zone_points(zones, spacing_m=250)
    assert same.index.equals(pts.index)  # the same points, so the same distance matrices


def test_housing_yield_placed_on_the_development() -> None:
    zones = zones_frame(1)
    pts = zone_points(zones, spacing_m=250)
    devs = gdf([{"name": "西南新区", "zone_id": "Z1", "year": 2026, "dwellings": 1000, "residents": 3000,
                 "school_land": False, "kindergarten_land": False}],
               [box(X0, Y0, X0 + 500, Y0 + 500)], ["D1"], "development_id")
    # a 300-seat primary at the south-west corner reaches only the four points inside the development
    schools = schools_frame([("P1", "primary", 300, 300, "public", 0)])
    county = town(zones=zones, schools=schools, developments=devs)
    corner = Point(X0, Y0)
    walk = pd.DataFrame({"P1": pts.geometry.distance(corner).to_numpy()}, index=pts.index)
    demand = zone_demand_rows({("Z1", "primary"): 0.0})
    r = reserve_land(county, demand, walk, points=pts, add_housing=True, radius_m={"primary": 400})
    z = r.zones.loc["Z1"]
    assert z["housing_primary"] == pytest.approx(210) and z["demand_primary"] == pytest.approx(210)
    assert z["supply_primary"] == pytest.approx(210) and z["deficit_primary"] == 0
    with pytest.warns(DataWarning, match="P1 near the zones have no column"):
        unmeasured = reserve_land(county, demand, walk.iloc[:, :0], points=pts, add_housing=True)
    assert unmeasured.zones.loc["Z1", "deficit_primary"] == 210


def test_peak_per_zone_or_per_level() -> None:
    zones = zones_frame(2)
    county = town(zones=zones)
    years = [2025, 2026, 2027]
    demand = zone_demand_rows({("Z1", "primary"): [300.0, 200.0, 100.0], ("Z2", "primary"): [100.0, 150.0, 400.0]},
                              years=years)
    walk = matrix({"Z1": [9000.0], "Z2": [9000.0]}, ["P1"])
    pts = one_point_each(zones)
    by_zone = reserve_land(county, demand, walk, points=pts).zones
    assert by_zone["year_primary"].tolist() == [2025, 2027]
    assert by_zone["deficit_primary"].tolist() == [300, 400]
    assert by_zone["demand_peak_primary"].tolist() == [300, 400]
    level = reserve_land(county, demand, walk, points=pts, peak="level")
    assert level.summary["peak_year_primary"] == 2027 == level.summary["planning_year"]
    assert level.zones["deficit_primary"].tolist() == [100, 400]
    with pytest.raises(ConfigError, match="peak"):
        reserve_land(county, demand, walk, points=pts, peak="max")


# --------------------------------------------------------------------------- sites


def sites_frame() -> gpd.GeoDataFrame:
    rows = [{"name": "小地块", "site_type": "vacant", "area_m2": 8000.0},
            {"name": "大地块", "site_type": "planned_education", "area_m2": NAN},
            {"name": "远地块", "site_type": "vacant", "area_m2": 50000.0}]
    geoms = [box(X0 + 100, Y0 + 100, X0 + 200, Y0 + 180), box(X0 + 2000, Y0 + 100, X0 + 2200, Y0 + 250),
             Point(X0 + 9000, Y0)]
    return gdf(rows, geoms, ["X1", "X2", "X3"], "site_id")


def test_site_choice_too_small_and_vacated() -> None:
    zones = zones_frame(3)
    county = town(zones=zones, sites=sites_frame())
    demand = zone_demand_rows({("Z1", "primary"): 620, ("Z2", "primary"): 100, ("Z3", "primary"): 100,
                               ("Z1", "kindergarten"): 100})
    walk = matrix({"Z1": [5000.0], "Z2": [5000.0], "Z3": [5000.0]}, ["P1"])
    # primary (500 m): X1 (0.8 ha) reaches Z1 and Z2, X2 (3 ha) Z3, the vacated C9 (0.25 ha) Z1 only
    site_walk = matrix({"Z1": [100.0, 900.0, NAN, 200.0], "Z2": [400.0, 900.0, NAN, 900.0],
                        "Z3": [900.0, 450.0, NAN, 900.0]}, ["X1", "X2", "X3", "C9"])
    vacated = gdf([{"name": "原东关小学", "level": "primary", "decision": "merge", "land_area_m2": 2500.0}],
                  [Point(X0 + 300, Y0 + 300)], ["C9"], "school_id")
    r = reserve_land(county, demand, walk, site_walk_m=site_walk, points=one_point_each(zones),
                     sites_per_level={"primary": 2}, vacated=vacated)
    s = r.sites
    assert set(s.index) == {"X1", "X2"} and s["fits"].all() and r.summary["sites_not_fitting"] == []
    # the smallest primary school (12 classes × 45 × 25 m² = 1.35 ha) fits neither X1 nor C9:
    # X1 takes the kindergarten: 100 children → 4 classes → 6-class kindergarten (180 seats, 2,700 m²)
    x1 = s.loc["X1"]
    assert x1["level"] == "kindergarten" and x1["classes"] == 6 and x1["seats"] == 180
    assert x1["land_needed_m2"] == pytest.approx(6 * 30 * 15.0) and x1["covered_demand"] == pytest.approx(100)
    x2 = s.loc["X2"]
    assert x2["area_m2"] == pytest.approx(200 * 150)  # from the polygon
    assert x2["level"] == "primary" and x2["classes"] == 12 and x2["seats"] == 540
    assert x2["covered_demand"] == pytest.approx(100) and x2["zones"] == "Z3"
    assert r.summary["uncovered_primary"] == pytest.approx(720)
    z = r.zones
    # Z1: the largest parcel within 500 m is X1 (8,000 m², taken by the kindergarten), 5,500 m² short of
    # the smallest primary school; C9 (2,500 m²) is smaller still
    assert z.loc["Z1", "closest_site_primary"] == "X1"
    assert z.loc["Z1", "more_land_m2_primary"] == pytest.approx(12 * 45 * 25.0 - 8000.0)
    assert ("X1 (0.80 ha, recommended for another school), is 0.55 ha short of the smallest 12-class primary "
            "school (1.35 ha)") in z.loc["Z1", "reason_en"]
    assert "X1 (0.80 ha, recommended for another school)" in z.loc["Z2", "reason_en"]
    rank = r.summary["site_ranking"]
    prim = rank[rank["level"] == "primary"].set_index("site_id")
    assert prim.loc["X1", "coverable_demand"] == pytest.approx(720) and prim.loc["X1", "largest_size_classes"] == 0
    assert prim.loc["X3", "coverable_demand"] == 0


def test_max_cover_prefers_the_site_covering_more() -> None:
    zones = zones_frame(3)
    county = town(zones=zones, sites=sites_frame())
    demand = zone_demand_rows({("Z1", "primary"): 300, ("Z2", "primary"): 200, ("Z3", "primary"): 200})
    walk = matrix({"Z1": [5000.0], "Z2": [5000.0], "Z3": [5000.0]}, ["P1"])
    site_walk = matrix({"Z1": [100.0, 900.0], "Z2": [900.0, 400.0], "Z3": [900.0, 450.0]}, ["X1", "X2"])
    r = reserve_land(county, demand, walk, site_walk_m=site_walk, points=one_point_each(zones))
    assert r.summary["schools_needed_primary"] == 1  # 700 pupils = 16 classes ≤ 36
    assert r.summary["sites_primary"] == ["X2"] and r.summary["uncovered_primary"] == pytest.approx(300)
    # Z2 and Z3 pooled: 400 pupils → one 12-class school (540 seats), not two
    assert r.sites.loc["X2", "zones"] == "Z2,Z3" and r.sites.loc["X2", "seats"] == 540


def test_small_coverage_and_min_pupils() -> None:
    zones = zones_frame(3)
    county = town(zones=zones, sites=sites_frame())
    demand = zone_demand_rows({("Z1", "primary"): 600, ("Z3", "primary"): 30})
    walk = matrix({"Z1": [5000.0], "Z2": [5000.0], "Z3": [5000.0]}, ["P1"])
    site_walk = matrix({"Z1": [100.0, 900.0], "Z2": [900.0, 900.0], "Z3": [900.0, 450.0]}, ["X1", "X2"])
    pts = one_point_each(zones)
    with pytest.warns(DataWarning, match="no rows for zone"):
        r = reserve_land(county, demand, walk, site_walk_m=site_walk, points=pts, sites_per_level={"primary": 2})
    demand = zone_demand_rows({("Z1", "primary"): 600, ("Z2", "primary"): 0, ("Z3", "primary"): 30})
    # X1 (0.8 ha) holds no primary school; X2 would cover only 30 pupils, less than one class (45)
    assert r.summary["sites_primary"] == [] and len(r.sites) == 0
    assert r.zones.loc["Z1", "more_land_m2_primary"] == pytest.approx(12 * 45 * 25.0 - 8000.0)
    assert "less than one class" in r.zones.loc["Z3", "reason_en"]
    low = reserve_land(county, demand, walk, site_walk_m=site_walk, points=pts, min_site_pupils={"primary": 10})
    assert low.summary["sites_primary"] == ["X2"] and low.sites.loc["X2", "fits"]
    assert low.sites.loc["X2", "classes"] == 12 and low.summary["uncovered_primary"] == pytest.approx(600)


def test_one_level_per_parcel() -> None:
    zones = zones_frame(1)
    county = town(zones=zones, sites=sites_frame())
    demand = zone_demand_rows({("Z1", "primary"): 600, ("Z1", "junior"): 400})
    walk = matrix({"Z1": [5000.0]}, ["P1"])
    # X2 (3 ha) is within reach of both levels; X1 (0.8 ha) holds neither
    site_walk = matrix({"Z1": [100.0, 400.0]}, ["X1", "X2"])
    r = reserve_land(county, demand, walk, site_walk_m=site_walk, points=one_point_each(zones))
    assert r.sites.index.is_unique and list(r.sites.index) == ["X2"]
    # covering 600 primary pupils beats 400 junior ones: ⌈600 / 45⌉ = 14 classes → an 18-class school
    x2 = r.sites.loc["X2"]
    assert x2["level"] == "primary" and x2["classes"] == 18 and x2["seats"] == 810
    assert x2["land_needed_m2"] == pytest.approx(18 * 45 * 25.0) and x2["fits"]
    assert r.summary["uncovered_junior"] == pytest.approx(400)
    # X2, which holds a junior school, went to primary: the 400 need a whole 12-class school's land elsewhere
    assert r.zones.loc["Z1", "more_land_m2_junior"] == pytest.approx(12 * 50 * 23.0)
    assert "(X2) are recommended for other schools" in r.zones.loc["Z1", "reason_en"]


# --------------------------------------------------------------------------- kindergartens, developments


def test_kindergarten_shares_and_public_gap() -> None:
    schools = schools_frame([("K1", "kindergarten", 300, 300, "public", 0),
                             ("K2", "kindergarten", 200, 200, "inclusive_private", 0),
                             ("K3", "kindergarten", 500, 500, "private", 0)])
    villages = village_frame([("V1", "T1", "Z1", 250, 0, 0), ("V2", "T2", None, 0, 0, 0)])
    villages.loc["V2", ["age_3", "age_4", "age_5"]] = [200, 150, 150]  # children 3–5: 750 + 500
    county = town(schools=schools, villages=villages)
    kg = kindergarten_shares(county).set_index("indicator")
    assert kg.loc["public_share", "value"] == pytest.approx(0.3)
    assert kg.loc["public_share", "gap_seats"] == 200 and not kg.loc["public_share", "pass"]  # 0.5·1000 − 300
    assert kg.loc["inclusive_share", "value"] == pytest.approx(0.5)
    assert kg.loc["inclusive_share", "gap_seats"] == 300  # 0.8·1000 − 500
    assert kg.loc["gross_enrolment", "denominator"] == 1250
    assert kg.loc["gross_enrolment", "value"] == pytest.approx(0.8)
    assert kg.loc["gross_enrolment", "gap_seats"] == math.ceil(0.85 * 1250 - 1000) == 63
    assert kg.loc["gross_enrolment_2025", "target"] == 0.9
    assert kg.loc["gross_enrolment_2025", "gap_seats"] == 125
    assert set(kg.columns) >= {"value", "target", "gap_seats", "pass"}


def test_developments_without_school_land_flagged() -> None:
    rows = [{"name": "大盘", "year": 2026, "dwellings": 2500, "residents": 7000, "school_land": False,
             "kindergarten_land": False},
            {"name": "配套齐全", "year": 2027, "dwellings": 4000, "residents": NAN, "school_land": True,
             "kindergarten_land": True},
            {"name": "小区", "year": 2027, "dwellings": 400, "residents": 1100, "school_land": False,
             "kindergarten_land": False}]
    devs = gdf(rows, [box(X0 + 100, Y0 + 100, X0 + 400, Y0 + 400), box(X0 + 1100, Y0 + 100, X0 + 1300, Y0 + 300),
                      Point(X0 + 2500, Y0 + 500)], ["D1", "D2", "D3"], "development_id")
    county = town(developments=devs)
    d = check_developments(county)
    assert d.loc["D1", "needs_school"] and d.loc["D1", "needs_kindergarten"] and d.loc["D1", "flag"]
    assert d.loc["D1", "zone_id"] == "Z1" and d.loc["D3", "zone_id"] == "Z3"  # located by geometry
    assert "7000" in d.loc["D1", "reason_zh"] and "未配建学校用地" in d.loc["D1", "reason_zh"]
    assert d.loc["D1", "pupils_primary"] == pytest.approx(490)
    assert d.loc["D2", "residents_est"] == pytest.approx(4000 * 2.8) and d.loc["D2", "requires_junior"]
    assert not d.loc["D2", "flag"] and not d.loc["D3", "flag"]
    assert d.loc["D3", "reason_en"] == "below the thresholds for school land"
    assert "residents" in devs and devs["residents"].isna().sum() == 1  # input untouched


def test_inputs_not_mutated() -> None:
    zones = zones_frame(2)
    county = town(zones=zones, sites=sites_frame())
    before = (county.zones.copy(), county.sites.copy(), county.schools.copy())
    demand = zone_demand_rows({("Z1", "primary"): 300, ("Z2", "primary"): 200})
    d0 = demand.copy()
    walk = matrix({"Z1": [499.0], "Z2": [501.0]}, ["P1"])
    reserve_land(county, demand, walk, points=one_point_each(zones))
    pd.testing.assert_frame_equal(demand, d0)
    for a, b in zip(before, (county.zones, county.sites, county.schools), strict=True):
        pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b))


# --------------------------------------------------------------------------- bad input


def test_zones_without_population_named() -> None:
    zones = zones_frame(2, population=[3000, NAN])
    county = town(zones=zones)
    demand = pd.DataFrame({"zone": ["T1"], "level": ["primary"], "grade": [1], "year": [2030],
                           "p10": [8.0], "p50": [8.0], "p90": [8.0]})
    walk = matrix({"Z1": [100.0], "Z2": [100.0]}, ["P1"])
    with pytest.raises(SchemaError, match="without population") as err:
        reserve_land(county, demand, walk, points=one_point_each(zones))
    assert list(err.value.rows) == ["Z2"]


def test_overlapping_zones_named() -> None:
    zones = zones_frame(3)
    zones.loc["Z3", "geometry"] = box(X0 + 1900, Y0, X0 + 3000, Y0 + 1000)
    county = town(zones=zones)
    with pytest.raises(SchemaError, match="zones Z2 and Z3 overlap"):
        reserve_land(county, zone_demand_rows({("Z1", "primary"): 1}), matrix({}, ["P1"]))


def test_sites_without_area_named() -> None:
    sites = gdf([{"name": "点", "site_type": "vacant", "area_m2": NAN}, {"name": "好", "area_m2": 5000.0}],
                [Point(X0, Y0), Point(X0 + 10, Y0)], ["X7", "X8"], "site_id")
    zones = zones_frame(1)
    county = town(zones=zones, sites=sites)
    with pytest.raises(SchemaError, match="without an area") as err:
        reserve_land(county, zone_demand_rows({("Z1", "primary"): 1}), matrix({"Z1": [1.0]}, ["P1"]),
                     points=one_point_each(zones))
    assert list(err.value.rows) == ["X7"]


@pytest.mark.parametrize("radius", [0, -5.0, {"primary": 0}, {"junior": -1}])
def test_bad_radius(radius: object) -> None:
    zones = zones_frame(1)
    with pytest.raises(ConfigError, match="positive"):
        reserve_land(town(zones=zones), zone_demand_rows({("Z1", "primary"): 1}), matrix({"Z1": [1.0]}, ["P1"]),
                     points=one_point_each(zones), radius_m=radius)


def test_unknown_presets_listed() -> None:
    zones = zones_frame(1)
    args = (town(zones=zones), zone_demand_rows({("Z1", "primary"): 1}), matrix({"Z1": [1.0]}, ["P1"]))
    with pytest.raises(ConfigError) as err:
        reserve_land(*args, points=one_point_each(zones), radius_preset="suburban")
    assert "henan_plain, rural, urban" in str(err.value)
    with pytest.raises(ConfigError, match="cn_national"):
        reserve_land(*args, points=one_point_each(zones), standards="henan_2030")
    with pytest.raises(ConfigError, match="sizes"):
        reserve_land(*args, points=one_point_each(zones), sizes={"primary": [0]})


def test_matrix_rows_and_columns_checked() -> None:
    zones = zones_frame(2)
    county = town(zones=zones)
    demand = zone_demand_rows({("Z1", "primary"): 1})
    with pytest.raises(SchemaError, match="no row") as err:
        reserve_land(county, demand, matrix({"Z1": [1.0]}, ["P1"]), points=one_point_each(zones))
    assert list(err.value.rows) == ["Z2#0"]
    with pytest.raises(SchemaError, match="not known ids"):
        reserve_land(county, demand, matrix({"Z1": [1.0], "Z2": [1.0]}, ["NOPE"]), points=one_point_each(zones))


# --------------------------------------------------------------------------- demo county


def straight_line(points: gpd.GeoDataFrame, targets: gpd.GeoDataFrame, detour: float = 1.3) -> pd.DataFrame:
    """Walking distance stand-in: straight line × a network detour factor (m)."""
    a = np.column_stack([points.geometry.x, points.geometry.y])
    c = targets.geometry.representative_point()
    b = np.column_stack([c.x, c.y])
    d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)) * detour
    return pd.DataFrame(d, index=points.index, columns=targets.index.map(str))


@pytest.mark.skipif(not (DEMO / "county.gpkg").exists(), reason="demo county not built")
def test_demo_county() -> None:
    from schoolplan.county import load_county
    from schoolplan.forecast import seat_demand

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        county = load_county(DEMO)
        tw = county.schools["township_id"]
        enrol = county.enrolment.assign(zone=county.enrolment["school_id"].map(tw))
        enrol = enrol[enrol["level"].isin(["kindergarten", "primary", "junior"])]
        enrol = enrol.groupby(["zone", "level", "year", "grade"], as_index=False)["students"].sum()
        births = county.births.rename(columns={"township_id": "zone"})
        demand = seat_demand(enrol[["zone", "level", "year", "grade", "students"]], births, horizon_years=6)
    pts = zone_points(county.zones)
    walk = straight_line(pts, county.schools)
    seat = county.schools["township_id"] == county.county_seat
    sites = county.sites
    r = reserve_land(county, demand, walk, site_walk_m=straight_line(pts, sites))
    z = r.zones
    assert len(z) == len(county.zones) and z.crs == county.crs
    for lv in ("kindergarten", "primary", "junior"):
        assert (z[f"deficit_{lv}"] >= 0).all()
        assert (z[f"supply_{lv}"] <= z[f"demand_{lv}"] + 1e-6).all()
        s = r.summary
        assert s[f"land_m2_{lv}"] == pytest.approx(
            s[f"land_m2_sites_{lv}"] + s[f"land_m2_to_find_{lv}"] + s[f"land_m2_plan_expansion_{lv}"])
        assert z[f"land_to_find_m2_{lv}"].sum() == pytest.approx(s[f"land_m2_to_find_{lv}"], abs=len(z))
        assert s[f"covered_by_sites_{lv}"] + s[f"uncovered_{lv}"] == pytest.approx(s[f"seats_short_{lv}"],
                                                                                    abs=0.5)
    assert r.sites["fits"].all()
    assert r.summary["zones_flagged"] >= 1
    assert r.summary["sites_chosen"] >= 1 and r.sites.index.is_unique
    assert r.developments["flag"].any()  # the large development without school land
    kg = r.kindergarten.set_index("indicator")
    assert not kg.loc["public_share", "pass"] and kg.loc["public_share", "gap_seats"] > 0
    assert seat.any()
