"""Reserved land (issue 16): right-sized schools on parcels that fit, the plan's demand, kindergartens."""

from __future__ import annotations

import math
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from conftest import DEMO
from schoolplan.reserve import kindergarten_reuse, reserve_land
from schoolplan.results import LayoutPlan
from schoolplan.standards import load_standards
from test_reserve import (
    CRS_M,
    X0,
    Y0,
    gdf,
    matrix,
    one_point_each,
    schools_frame,
    town,
    village_frame,
    zone_demand_rows,
    zones_frame,
)

STD = load_standards()


def parcels(areas: dict[str, float], site_type: str = "vacant") -> gpd.GeoDataFrame:
    rows = [{"name": f"地块{k}", "site_type": site_type, "area_m2": a} for k, a in areas.items()]
    return gdf(rows, [Point(X0 + 100 * i, Y0 + 50) for i in range(len(areas))], list(areas), "site_id")


# --------------------------------------------------------------------------- hand-checkable towns


def test_one_deficit_gets_the_smallest_standard_school_that_fits() -> None:
    zones = zones_frame(1)
    county = town(zones=zones, sites=parcels({"A": 25_000.0}))
    r = reserve_land(county, zone_demand_rows({("Z1", "primary"): 500}), matrix({"Z1": [5000.0]}, ["P1"]),
                     site_walk_m=matrix({"Z1": [200.0]}, ["A"]), points=one_point_each(zones))
    a = r.sites.loc["A"]
    # 500 pupils → 12 classes of 45 → the 12-class school (540 seats): 540 × 25 m² land, 540 × 6.6 m² floor
    assert a["level"] == "primary" and a["classes"] == 12 and a["seats"] == 540
    assert a["land_needed_m2"] == pytest.approx(13_500) and a["building_needed_m2"] == pytest.approx(3564)
    assert a["fits"] and a["covered_demand"] == pytest.approx(500)
    assert "a 12-class primary school (540 seats) needs 1.35 ha" in a["reason_en"]
    assert r.summary["land_m2_primary"] == pytest.approx(13_500) and r.summary["uncovered_primary"] == 0
    assert r.zones.loc["Z1", "sites_primary"] == "A" and r.zones.loc["Z1", "site_covered_primary"] == 500


def test_pooled_deficits_share_one_school() -> None:
    zones = zones_frame(3)
    county = town(zones=zones, sites=parcels({"A": 25_000.0, "B": 25_000.0}))
    demand = zone_demand_rows({("Z1", "junior"): 250, ("Z2", "junior"): 250, ("Z3", "junior"): 100})
    walk = matrix({"Z1": [9000.0], "Z2": [9000.0], "Z3": [9000.0]}, ["P1"])
    # A reaches Z1 and Z2, B reaches Z2 and Z3
    site_walk = matrix({"Z1": [800.0, 3000.0], "Z2": [900.0, 700.0], "Z3": [3000.0, 600.0]}, ["A", "B"])
    r = reserve_land(county, demand, walk, site_walk_m=site_walk, points=one_point_each(zones))
    # 600 pupils fit one 12-class junior school (600 seats) only if pooled on one parcel: A can't reach Z3,
    # B can't reach Z1 → two schools are needed; each is the smallest size holding what it covers
    assert set(r.sites.index) == {"A", "B"} and r.summary["uncovered_junior"] == pytest.approx(0)
    assert r.sites["covered_demand"].sum() == pytest.approx(600)
    for _, s in r.sites.iterrows():
        assert s["seats"] >= s["covered_demand"] and s["classes"] == 12
    # pooled in one zone pair: Z1+Z2 (500) on A alone would be one school, not two
    r2 = reserve_land(county, zone_demand_rows({("Z1", "junior"): 250, ("Z2", "junior"): 250, ("Z3", "junior"): 0}), walk,
                      site_walk_m=site_walk, points=one_point_each(zones))
    assert len(r2.sites) == 1 and r2.sites["seats"].iloc[0] == 600
    assert r2.sites["zones"].iloc[0] == "Z1,Z2"


def test_no_parcel_fits_says_how_much_more_land() -> None:
    zones = zones_frame(1)
    county = town(zones=zones, sites=parcels({"S": 9_000.0, "T": 6_000.0}))
    r = reserve_land(county, zone_demand_rows({("Z1", "junior"): 234}), matrix({"Z1": [5000.0]}, ["P1"]),
                     site_walk_m=matrix({"Z1": [300.0, 200.0]}, ["S", "T"]), points=one_point_each(zones))
    assert len(r.sites) == 0
    z = r.zones.loc["Z1"]
    # smallest junior school: 12 classes × 50 × 23 m² = 13,800 m²; the larger parcel S has 9,000
    assert z["closest_site_junior"] == "S" and z["more_land_m2_junior"] == pytest.approx(4_800)
    assert "S (0.90 ha), is 0.48 ha short of the smallest 12-class junior school (1.38 ha)" in z["reason_en"]
    # land still to find: ⌈234 / 50⌉ = 5 classes at the 12-class rate, 5 × 50 × 23 m²
    assert r.summary["land_m2_junior"] == pytest.approx(5 * 50 * 23.0)
    assert "have no parcel that fits" in r.summary["reason_en_junior"]


def test_kindergarten_deficit_gets_a_kindergarten_site() -> None:
    zones = zones_frame(1)
    schools = schools_frame([("P1", "primary", 1000, 900, "public", 0),
                             ("K1", "kindergarten", 120, 120, "public", 0)])
    county = town(zones=zones, schools=schools, sites=parcels({"K": 3_000.0}, "planned_education"))
    demand = zone_demand_rows({("Z1", "kindergarten"): 220, ("Z1", "primary"): 400})
    walk = matrix({"Z1": [250.0, 250.0]}, ["P1", "K1"])
    r = reserve_land(county, demand, walk, site_walk_m=matrix({"Z1": [250.0]}, ["K"]),
                     points=one_point_each(zones))
    k = r.sites.loc["K"]
    # 100 children short → 4 classes of 30 → the 6-class kindergarten (180 places, 2,700 m² ≤ 3,000)
    assert k["level"] == "kindergarten" and k["classes"] == 6 and k["seats"] == 180 and k["fits"]
    assert r.summary["sites_primary"] == [] and r.summary["seats_short_primary"] == 0
    # recommended places counted as public: (120 public + 100) / (120 + 100) enrolled
    assert r.summary["kindergarten_public_share_after"] == pytest.approx(1.0)


def test_expansion_beats_a_new_school_when_the_plot_holds_it() -> None:
    zones = zones_frame(1)
    schools = schools_frame([("P1", "primary", 450, 450, "public", 0)])
    schools["classes"] = 10
    schools["land_area_m2"] = 20_000.0
    county = town(zones=zones, schools=schools, sites=parcels({"A": 25_000.0}))
    r = reserve_land(county, zone_demand_rows({("Z1", "primary"): 540}), matrix({"Z1": [300.0]}, ["P1"]),
                     site_walk_m=matrix({"Z1": [200.0]}, ["A"]), points=one_point_each(zones))
    # 90 short: two classroooms (2 × 60 万元) cost less than a 12-class school (12 × 250 万元)
    assert list(r.sites.index) == ["P1"]
    p1 = r.sites.loc["P1"]
    assert p1["source"] == "expansion" and p1["classes"] == 2 and p1["seats"] == 90 and p1["fits"]
    # 12 classes × 45 × 25 m² = 13,500 m² ≤ the 20,000 m² plot
    assert p1["land_needed_m2"] == pytest.approx(13_500)
    assert r.summary["land_m2_primary"] == 0
    # a plot too small for 12 classes: the new school on A instead
    county.schools.loc["P1", "land_area_m2"] = 12_000.0
    r2 = reserve_land(county, zone_demand_rows({("Z1", "primary"): 540}), matrix({"Z1": [300.0]}, ["P1"]),
                      site_walk_m=matrix({"Z1": [200.0]}, ["A"]), points=one_point_each(zones))
    assert list(r2.sites.index) == ["A"] and r2.sites.loc["A", "classes"] == 12


def test_site_preference_at_equal_cost() -> None:
    zones = zones_frame(1)
    sites = pd.concat([parcels({"V": 25_000.0}), parcels({"E": 25_000.0}, "planned_education")])
    county = town(zones=zones, sites=sites)
    r = reserve_land(county, zone_demand_rows({("Z1", "primary"): 300}), matrix({"Z1": [5000.0]}, ["P1"]),
                     site_walk_m=matrix({"Z1": [200.0, 400.0]}, ["V", "E"]), points=one_point_each(zones))
    assert list(r.sites.index) == ["E"]  # education land before vacant land, though farther


# --------------------------------------------------------------------------- the layout plan


def plan_town() -> tuple:
    zones = zones_frame(1)
    schools = schools_frame([("J1", "junior", 500, 500, "public", 200), ("J0", "junior", 300, 100, "public", 9000)])
    villages = village_frame([("V1", "T1", "Z1", 0, 0, 0), ("V9", "T2", None, 0, 0, 40)])
    villages.geometry = [Point(X0 + 100, Y0 + 100), Point(X0 + 9000, Y0)]  # V9 outside every zone
    county = town(zones=zones, schools=schools, villages=villages)
    ps = gpd.GeoDataFrame({
        "level": ["junior", "junior"], "decision": ["expand", "merge"], "name": ["一中", "河口中学"],
        "capacity_after": [550, 0], "classes_before": [10, 6], "classes_after": [11, 0], "classes_added": [1, 0],
        "students_after": [550.0, 0.0]}, geometry=list(schools.geometry), crs=CRS_M,
        index=pd.Index(["J1", "J0"], name="school_id"))
    a = pd.DataFrame({"village_id": ["V9"], "band": ["junior"], "school_id": ["J1"], "pupils": [100.0],
                      "mode": ["boarding"], "minutes": [25.0], "school_before": ["J0"], "minutes_before": [5.0]})
    plan = LayoutPlan(schools=ps, assignment=a, summary={}, params={})
    return county, zones, plan


def test_demand_after_the_plan_counts_moved_pupils_where_they_attend() -> None:
    county, zones, plan = plan_town()
    demand = zone_demand_rows({("Z1", "junior"): 500})
    walk = matrix({"Z1": [300.0, 9000.0]}, ["J1", "J0"])
    before = reserve_land(county, demand, walk, points=one_point_each(zones))
    after = reserve_land(county, demand, walk, points=one_point_each(zones), plan=plan)
    assert before.zones.loc["Z1", "demand_junior"] == 500 and before.zones.loc["Z1", "deficit_junior"] == 0
    z = after.zones.loc["Z1"]
    # 100 pupils of V9 (outside the zones) move from J0 (outside) into J1 (in Z1): 600 demand, 550 seats
    assert z["moved_junior"] == 100 and z["demand_junior"] == 600
    assert z["supply_junior"] == 550 and z["deficit_junior"] == 50
    assert after.summary["moved_in_junior"] == 100 and after.summary["demand_after_plan"]
    # the plan grows J1 from 10 to 11 classes: 550 × 23 m² = 12,650 m² on a 10,000 m² plot that already
    # needed 500 × 23 = 11,500 m²: 1,150 m² more land next to it
    assert after.summary["land_m2_plan_expansion_junior"] == pytest.approx(1150)
    assert after.zones.loc["Z1", "plan_extra_land_m2_junior"] == pytest.approx(1150)
    exp = after.summary["plan_expansions"]
    assert list(exp["school_id"]) == ["J1"] and "reserve about 0.12 ha" in exp["reason_en"].iloc[0]


def test_plan_new_school_parcel_is_no_longer_free() -> None:
    county, zones, plan = plan_town()
    county = town(zones=zones, schools=county.schools, villages=county.villages, sites=parcels({"N": 25_000.0}))
    ps = pd.concat([plan.schools, gpd.GeoDataFrame(
        {"level": ["junior"], "decision": ["new"], "capacity_after": [600], "classes_before": [0],
         "classes_after": [12], "classes_added": [12]}, geometry=[Point(X0, Y0 + 50)], crs=CRS_M,
        index=pd.Index(["N"], name="school_id"))])
    plan = LayoutPlan(schools=ps, assignment=plan.assignment, summary={}, params={})
    demand = zone_demand_rows({("Z1", "junior"): 1500})
    walk = matrix({"Z1": [300.0, 9000.0, 300.0]}, ["J1", "J0", "N"])
    r = reserve_land(county, demand, walk, site_walk_m=matrix({"Z1": [100.0]}, ["N"]),
                     points=one_point_each(zones), plan=plan)
    assert "N" not in r.sites.index
    assert r.zones.loc["Z1", "supply_junior"] == pytest.approx(550 + 600)  # the new school's seats count


# --------------------------------------------------------------------------- vacated buildings → kindergartens


def kg_town() -> tuple:
    villages = village_frame([("V1", "T1", None, 20, 0, 0), ("V2", "T1", None, 20, 0, 0)])
    villages.geometry = [Point(X0, Y0), Point(X0 + 5000, Y0)]
    schools = schools_frame([("K2", "kindergarten", 100, 90, "public", 5000)])
    schools.geometry = [Point(X0 + 5100, Y0)]
    county = town(schools=schools, villages=villages)
    buildings = gdf([{"name": "甲", "building_area_m2": 1044.0}, {"name": "乙"}, {"name": "丙"}],
                    [Point(X0 + 150, Y0), Point(X0 + 5150, Y0), Point(X0 + 250, Y0)], ["B1", "B2", "B3"],
                    "school_id")
    return county, buildings


def test_vacated_building_becomes_a_kindergarten_only_where_children_lack_places() -> None:
    county, buildings = kg_town()
    # 60 children aged 3-5 in each village; 60 need places in the planning year in each
    kids = pd.Series({"V1": 60.0, "V2": 60.0})
    out = kindergarten_reuse(county, buildings, children=kids, radius_m=300.0)
    # B1 is nearest V1 (150 m; B3 at 250 m is also in reach): V1's 60 are counted once, for B1
    assert out.loc["B1", "reuse"] == "kindergarten" and out.loc["B1", "shortfall"] == 60
    assert out.loc["B3", "reuse"] is None and out.loc["B3", "shortfall"] == 0
    assert out.loc["B3", "children_within"] == 60  # within its radius, but already counted for B1
    # V2 has K2's 100 places within 100 m: no shortfall, no kindergarten in B2
    assert out.loc["B2", "reuse"] is None and out.loc["B2", "seats_within"] == 60
    assert out.loc["B1", "capacity_children"] == 100  # 1,044 m² ÷ 10.44 m² per child
    assert "60 children still without a place" in out.loc["B1", "reason_en"]
    # falling births: only 20 children need places → below one class (30), not suggested
    few = kindergarten_reuse(county, buildings, children=kids / 3, radius_m=300.0)
    assert few["reuse"].isna().all()


def test_kindergarten_reuse_uses_the_planning_year_forecast() -> None:
    county, buildings = kg_town()
    demand = pd.DataFrame({"zone": ["T1"] * 2, "level": ["kindergarten"] * 2, "grade": [1, 1],
                           "year": [2025, 2035], "p10": [120.0, 40.0], "p50": [120.0, 40.0], "p90": [120.0, 40.0]})
    now = kindergarten_reuse(county, buildings, demand=demand, year=2025, radius_m=300.0)
    later = kindergarten_reuse(county, buildings, demand=demand, year=2035, radius_m=300.0)
    # T1's demand shared by the villages' children 3-5 (equal): 60 each in 2025, 20 each in 2035
    assert now.loc["B1", "shortfall"] == 60 and now.loc["B1", "reuse"] == "kindergarten"
    assert later.loc["B1", "shortfall"] == 20 and later.loc["B1", "reuse"] is None
    with pytest.raises(Exception, match="planning year"):
        kindergarten_reuse(county, buildings)


# --------------------------------------------------------------------------- properties


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pupils=st.lists(st.integers(0, 2500), min_size=1, max_size=4),
    areas=st.lists(st.floats(4_000, 45_000), min_size=1, max_size=4),
    seed=st.integers(0, 10_000),
    level=st.sampled_from(["kindergarten", "primary", "junior"]),
)
def test_every_recommended_site_fits_and_is_right_sized(pupils: list[int], areas: list[float], seed: int,
                                                        level: str) -> None:
    rng = np.random.default_rng(seed)
    zones = zones_frame(len(pupils), population=[1000] * len(pupils))
    sites = {f"S{i}": a for i, a in enumerate(areas)}
    county = town(zones=zones, sites=parcels(sites))
    demand = zone_demand_rows({(f"Z{i + 1}", level): p for i, p in enumerate(pupils)})
    walk = matrix({f"Z{i + 1}": [9000.0] for i in range(len(pupils))}, ["P1"])
    d = rng.uniform(0, 1500, size=(len(pupils), len(sites)))
    site_walk = matrix({f"Z{i + 1}": list(d[i]) for i in range(len(pupils))}, list(sites))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = reserve_land(county, demand, walk, site_walk_m=site_walk, points=one_point_each(zones))
    cs = STD["class_size"]["kindergarten_mixed" if level == "kindergarten" else level]
    sizes = r.summary["sizes"][level]
    short = r.summary[f"seats_short_{level}"]
    s = r.sites
    assert s.index.is_unique
    assert r.summary[f"covered_by_sites_{level}"] + r.summary[f"uncovered_{level}"] == pytest.approx(short, abs=1e-3)
    for sid, row in s.iterrows():
        assert row["fits"] and row["land_needed_m2"] <= sites[sid] + 1e-6
        assert row["seats"] == row["classes"] * cs
        assert row["seats"] >= row["covered_demand"] - 1e-6
        k = sizes.index(row["classes"])
        step = row["seats"] - (sizes[k - 1] * cs if k else 0)
        assert row["seats"] - row["covered_demand"] < step  # the next smaller size would not hold them
        assert row["covered_demand"] >= cs - 1e-6  # at least one class
        assert all(d[int(z[1:]) - 1, list(sites).index(sid)] <= r.summary["radius_m"][level]
                   for z in row["zones"].split(","))
    # a parcel left free that holds a school and reaches uncovered pupils only reaches less than a class
    if r.summary[f"uncovered_{level}"] > cs:
        left = r.zones[f"uncovered_{level}"]
        for sid, a in sites.items():
            if sid in s.index or a < STD["land_per_pupil_by_size_m2"][level][str(sizes[0])] * sizes[0] * cs:
                continue
            reach = sum(left[f"Z{i + 1}"] for i in range(len(pupils))
                        if d[i, list(sites).index(sid)] <= r.summary["radius_m"][level])
            assert reach < cs + 1e-6 or math.isclose(reach, 0.0)


# --------------------------------------------------------------------------- the demo county


@pytest.fixture(scope="module")
def demo_runs():  # type: ignore[no-untyped-def]
    from schoolplan.cli import DEMO_SCENARIOS
    from schoolplan.scenario import load_scenario, run_scenarios

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {r.name: r for r in run_scenarios(
            [load_scenario(DEMO / "scenarios" / f"{n}.toml") for n in DEMO_SCENARIOS])}


@pytest.mark.slow
@pytest.mark.skipif(not (DEMO / "county.gpkg").exists(), reason="demo county not built")
def test_demo_reserved_land(demo_runs) -> None:  # type: ignore[no-untyped-def]
    seat_land = {}
    for name, r in demo_runs.items():
        res = r.reserved
        z, s, summ = res.zones, res.sites, res.summary
        assert summ["site_model_status"] == "optimal"
        assert len(s) and s["fits"].all() and (s["land_needed_m2"] <= s["area_m2"] + 1e-6).all()
        for lv in ("kindergarten", "primary", "junior"):
            if summ[f"seats_short_{lv}"] > 0:  # a recommendation or a stated reason for every level
                assert summ[f"sites_{lv}"] or "no parcel" in summ[f"reason_en_{lv}"]
                for zid in z.index[z[f"uncovered_{lv}"] >= 0.5]:
                    assert "more uncovered" in z.loc[zid, "reason_en"]
        kg = s[s["level"] == "kindergarten"]
        assert len(kg)  # kindergarten sites where kindergarten deficits are
        for zones in kg["zones"]:
            assert all(z.loc[x, "deficit_kindergarten"] > 0 for x in zones.split(","))
        seat_land[name] = summ["land_m2_junior"]
    assert seat_land["two_concentrations_20"] > seat_land["status_quo"]
    assert seat_land["two_concentrations_boarding_30"] > seat_land["status_quo"]
    sq, tc = demo_runs["status_quo"].reserved, demo_runs["two_concentrations_20"].reserved
    assert tc.summary["moved_in_junior"] > sq.summary["moved_in_junior"] + 300
    reuse = tc.summary["vacated_kindergarten"]
    assert (reuse.loc[reuse["reuse"] == "kindergarten", "shortfall"] >= 30).all()
