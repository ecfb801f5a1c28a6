"""两集中 consolidation on a hand-checkable county: every status and infeasibility reason."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import CRS
from shapely.geometry import Point, box

from schoolplan.consolidate import consolidate, default_rules, village_pupils
from schoolplan.county import County
from schoolplan.errors import InfeasibleError, SchemaError

CRS_M = CRS.from_epsg(4546)
NAN = np.nan

# Hand-made county. T1 county seat, T2 rural, T3 remote.
SCHOOLS = pd.DataFrame([
    # id, level, township, central, students, classes, teachers, quality, beds
    ("S1", "primary", "T1", True, 300, 6, 20, 90.0, 0),
    ("J1", "junior", "T1", False, 600, 12, 45, 90.0, 200),
    ("S2", "primary", "T2", True, 100, 2, 8, 85.0, 0),
    ("S3", "primary", "T2", False, 30, 6, 6, 70.0, 0),
    ("S4", "primary", "T2", False, 150, 6, 9, 80.0, 0),
    ("P5", "teaching_point", "T3", False, 20, 2, 2, 60.0, 0),
    ("J2", "junior", "T2", False, 200, 6, 16, 70.0, 0),
    ("N9", "nine_year", "T3", False, 300, 9, 25, 75.0, 40),
], columns=["school_id", "level", "township_id", "is_central", "students", "classes", "teachers",
            "quality_score", "boarding_beds"]).set_index("school_id")
VILLAGES = ["V1", "V2", "V3", "V4", "V5", "V6", "V7", "V8"]
TOWNSHIP_OF = {"V1": "T1", "V2": "T1", "V3": "T2", "V4": "T2", "V5": "T2", "V6": "T3", "V7": "T3", "V8": "T3"}
#            S1    J1    S2    S3    S4    P5    J2    N9
BUS = {
    "V1": [5, 6, 30, 35, 40, 60, 30, 50],
    "V2": [8, 9, 28, 33, 38, 58, 29, 48],
    "V3": [30, 31, 6, 12, 15, 50, 7, 45],
    "V4": [33, 34, 15, 8, 25, 55, 9, 47],
    "V5": [36, 37, 14, 20, 6, 52, 10, 44],
    "V6": [70, 71, 55, 58, 50, 5, 50, 40],
    "V7": [52, 53, 40, 44, 42, 35, 38, 6],
    "V8": [NAN] * 8,
}


def make_county(*, sites: bool = False, kg_kids: dict[str, int] | None = None) -> County:
    kg = kg_kids or {"V3": 15, "V4": 5, "V5": 15}
    xy = {v: (500000 + 3000 * i, 3650000 + 1000 * (i % 3)) for i, v in enumerate(VILLAGES)}
    vrows = []
    for v in VILLAGES:
        row = {"village_id": v, "name": v, "township_id": TOWNSHIP_OF[v], "population": 800}
        for a in range(18):
            row[f"age_{a}"] = 10 if 6 <= a <= 14 else (kg.get(v, 2) if 3 <= a <= 5 else 5)
        if v == "V8":
            row.update({f"age_{a}": 0 for a in range(18)})
            row["age_7"] = 4  # four grade-1–3 pupils in an unreachable hamlet
        vrows.append(row)
    villages = gpd.GeoDataFrame(vrows, geometry=[Point(*xy[v]) for v in VILLAGES], crs=CRS_M).set_index("village_id")
    s = SCHOOLS.copy()
    s["name"] = [f"学校{i}" for i in s.index]
    s["status"] = "open"
    s["ownership"] = "public"
    s["capacity_seats"] = s["classes"] * 45
    s["boarders"] = 0
    schools = gpd.GeoDataFrame(s, geometry=[Point(500000 + 2500 * i, 3651000) for i in range(len(s))], crs=CRS_M)
    closed = gpd.GeoDataFrame(
        {"name": ["旧小学"], "level": ["primary"], "township_id": ["T2"], "status": ["closed"], "is_central": [False],
         "students": [0], "classes": [0], "teachers": [0], "boarding_beds": [0]},
        geometry=[Point(505000, 3652000)], crs=CRS_M, index=pd.Index(["C1"], name="school_id"))
    schools = pd.concat([schools, closed])
    townships = gpd.GeoDataFrame({"name": ["城关镇", "河口乡", "山里乡"], "is_county_seat": [True, False, False]},
                                 geometry=[box(499000 + 10000 * i, 3640000, 509000 + 10000 * i, 3660000)
                                           for i in range(3)], crs=CRS_M,
                                 index=pd.Index(["T1", "T2", "T3"], name="township_id"))
    site_frame = gpd.GeoDataFrame({"name": ["地块A"], "site_type": ["vacant"], "area_m2": [30000.0]},
                                  geometry=[box(501000, 3650000, 501200, 3650150)], crs=CRS_M,
                                  index=pd.Index(["X1"] if sites else [], name="site_id")) if sites else \
        gpd.GeoDataFrame({"name": [], "site_type": [], "area_m2": []}, geometry=gpd.GeoSeries([], crs=CRS_M),
                         index=pd.Index([], name="site_id"))
    empty = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=CRS_M))
    return County(name="测试县", crs=CRS_M, schools=schools, villages=villages, townships=townships,
                  births=pd.DataFrame({"year": [2024], "births": [100]}),
                  enrolment=pd.DataFrame(columns=["year", "school_id", "level", "grade", "students"]),
                  zones=empty, sites=site_frame, developments=empty, base_year=2024)


def bus_matrix(extra: dict[str, list[float]] | None = None) -> pd.DataFrame:
    cols = list(SCHOOLS.index)
    m = pd.DataFrame.from_dict(BUS, orient="index", columns=cols).astype(float)
    for k, v in (extra or {}).items():
        m[k] = v
    return m


@pytest.fixture(scope="module")
def plan():  # type: ignore[no-untyped-def]
    return consolidate(make_county(), bus_matrix(), mode="rules")


def test_decisions_and_reasons(plan) -> None:  # type: ignore[no-untyped-def]
    d = plan.schools["decision"]
    assert d["S1"] == "keep" and d["J1"] == "keep" and d["N9"] == "keep"
    assert d["S2"] == "expand"  # central school receives S3's pupils: needs more classes
    assert d["S3"] == "merge" and plan.schools.loc["S3", "receiving_id"] == "S2"
    assert "少于50人" in plan.schools.loc["S3", "reason_zh"] and "below 50" in plan.schools.loc["S3", "reason_en"]
    assert d["S4"] == "keep" and "within 20 min" in plan.schools.loc["S4", "reason_en"]
    assert d["P5"] == "keep" and plan.schools.loc["P5", "reason_zh"].startswith("应留必留")
    # junior concentrates into the county seat; the vacated building suits a kindergarten
    assert d["J2"] == "convert" and plan.schools.loc["J2", "receiving_id"] == "J1"
    assert plan.schools.loc["J2", "reuse"] == "kindergarten"
    assert d["C1"] == "vacant"
    assert plan.summary["must_keep"] == 1


def test_assignment_modes_and_minutes(plan) -> None:  # type: ignore[no-untyped-def]
    a = plan.assignment.set_index(["village_id", "band"])
    assert a.loc[("V4", "lower"), "school_id"] == "S2" and a.loc[("V4", "lower"), "minutes"] == 15
    assert a.loc[("V4", "lower"), "minutes_before"] == 8
    assert a.loc[("V4", "junior"), "school_id"] == "J1" and a.loc[("V4", "junior"), "mode"] == "boarding"
    assert a.loc[("V6", "lower"), "school_id"] == "P5" and a.loc[("V6", "lower"), "mode"] == "bus"
    assert a.loc[("V6", "upper"), "mode"] == "boarding" and a.loc[("V6", "upper"), "school_id"] == "N9"
    assert bool(a.loc[("V6", "upper"), "over_limit"])
    # the unreachable hamlet is reported, not silently dropped
    assert a.loc[("V8", "lower"), "mode"] == "unserved"
    assert plan.infeasible["village_id"].tolist() == ["V8"]
    assert plan.infeasible["reason_en"].iloc[0] == "no school reachable by road"


def test_no_pupil_lost_and_school_numbers(plan) -> None:  # type: ignore[no-untyped-def]
    county = make_county()
    demand = village_pupils(county)
    assert plan.assignment["pupils"].sum() == pytest.approx(demand["pupils"].sum())
    s = plan.schools
    assert s.loc["S2", "classes_added"] == 4  # 6 grades × 1 class needed, 2 before
    assert s.loc["J1", "boarders"] == 90 and s.loc["J1", "beds_needed"] == 0  # 200 beds available
    assert s.loc["N9", "boarders"] == 60 and s.loc["N9", "beds_needed"] == 20  # V6 upper + junior, 40 beds
    riders = plan.assignment.query("school_id == 'J1' and mode == 'bus'")["pupils"].sum()
    assert s.loc["J1", "buses"] == math.ceil(riders / 90)
    assert s.loc["S3", "teachers_needed"] == 0 and s.loc["S3", "teacher_surplus"] == 6
    assert plan.summary["schools_after"]["junior"] == 1
    assert plan.summary["infeasible_pupils"] == 4


def test_status_quo_keeps_everything() -> None:
    sq = consolidate(make_county(), bus_matrix(), mode="status_quo")
    assert set(sq.schools["decision"]) == {"keep", "vacant"}
    a = sq.assignment.set_index(["village_id", "band"])
    assert a.loc[("V4", "lower"), "school_id"] == "S3"


def test_walking_mode() -> None:
    walk = bus_matrix() * 3
    walk.loc["V1", "S1"] = 12.0
    plan = consolidate(make_county(), bus_matrix(), walk, mode="rules")
    a = plan.assignment.set_index(["village_id", "band"])
    assert a.loc[("V1", "lower"), "mode"] == "walk" and a.loc[("V1", "lower"), "minutes"] == 12.0


def test_bus_radius_changes_keep_rule() -> None:
    plan = consolidate(make_county(), bus_matrix(), mode="rules", rules={"bus_minutes": 5})
    assert plan.schools.loc["S4", "decision"] in ("merge", "convert")
    assert "over 5 min by bus" in plan.schools.loc["S4", "reason_en"]


def test_lower_grades_cannot_board() -> None:
    # Without P5's 应留必留 (day limit raised) V6's grade 1–3 pupils are sent 40 min away: unserved.
    plan = consolidate(make_county(), bus_matrix(), mode="rules",
                       rules={"day_limit_minutes": {"lower": 60}, "min_enrolment": 50})
    a = plan.assignment.set_index(["village_id", "band"])
    assert plan.schools.loc["P5", "decision"] in ("merge", "convert")
    assert a.loc[("V6", "lower"), "school_id"] == "N9" and a.loc[("V6", "lower"), "mode"] == "bus"
    strict = consolidate(make_county(), bus_matrix(), mode="rules",
                         rules={"fixed_open": (), "boarding_bands": ()})
    b = strict.assignment.set_index(["village_id", "band"])
    assert b.loc[("V6", "upper"), "mode"] == "unserved"
    assert "not allowed to board" in strict.infeasible.set_index(["village_id", "band"]).loc[("V6", "upper"),
                                                                                           "reason_en"]


def test_max_size_overflow_opens_site_or_fails() -> None:
    rules = {"max_size": {"junior": 100}, "max_board_minutes": 43}
    with pytest.raises(InfeasibleError, match=r"not enough seats: 50 pupils .* township 河口乡 \(T2\) lacks 50 seats"):
        consolidate(make_county(), bus_matrix(), mode="rules", rules=rules)
    plan = consolidate(make_county(sites=True), bus_matrix({"X1": [10, 10, 20, 20, 20, 60, 20, 50]}),
                       mode="rules", rules=rules)
    assert plan.schools.loc["X1", "decision"] == "new"
    assert plan.schools.loc["X1", "students_after"] > 0


def test_bad_inputs() -> None:
    with pytest.raises(SchemaError, match="fixed school 'ZZ' does not exist"):
        consolidate(make_county(), bus_matrix(), rules={"fixed_open": ("ZZ",)})
    with pytest.raises(SchemaError, match="fixed school 'C1' is closed in the data"):
        consolidate(make_county(), bus_matrix(), rules={"fixed_open": ("C1",)})
    with pytest.raises(InfeasibleError, match="reach no school") as err:
        consolidate(make_county(), bus_matrix(), on_unreachable="raise")
    assert list(err.value.rows) == ["V8"]
    with pytest.raises(SchemaError, match="lacks rows or columns"):
        consolidate(make_county(), bus_matrix().drop(columns=["S4"]))
    with pytest.raises(SchemaError, match="unknown consolidation rule 'bus_minute'"):
        default_rules(bus_minute=20)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.floats(1, 90), min_size=8 * 8, max_size=8 * 8), st.sampled_from([15.0, 20.0, 30.0]))
def test_property_no_pupil_lost_kept_small_schools_within_radius(times: list[float], radius: float) -> None:
    m = pd.DataFrame(np.array(times).reshape(8, 8), index=VILLAGES, columns=list(SCHOOLS.index))
    plan = consolidate(make_county(), m, mode="rules", rules={"bus_minutes": radius})
    demand = village_pupils(make_county())
    assert plan.assignment["pupils"].sum() == pytest.approx(demand["pupils"].sum())
    assert not plan.assignment.duplicated(["village_id", "band", "school_id"]).any()
    s = plan.schools
    assert (s["students_after"] <= s["level"].map({"primary": 2000, "junior": 2000, "nine_year": 2500,
                                                   "teaching_point": 200}).fillna(2000) + 1e-6).all()
    # pupils served only by open schools
    served = plan.assignment[plan.assignment["mode"] != "unserved"]
    assert served["school_id"].map(s["decision"]).isin(["keep", "expand", "new"]).all()
    # every class within the standard size after the plan
    active = s[s["decision"].isin(["keep", "expand", "new"]) & (s["classes_after"] > 0)]
    assert (active["class_size_after"] <= 50 + 1e-9).all()
    # kept small schools (not anchors) serve only villages within the bus radius, except 应留必留 villages
    small_kept = s[(s["decision"].isin(["keep", "expand"])) & s["reason_en"].str.startswith("pupils within")]
    for sid in small_kept.index:
        rows = served[served["school_id"] == sid]
        assert (rows["minutes"] <= radius + 1e-9).all()


# --------------------------------------------------------------------------- optimise mode
def test_optimize_mode_decides_and_respects_rules() -> None:
    plan = consolidate(make_county(), bus_matrix(), mode="optimize")
    s = plan.schools
    for sid in ("S1", "J1", "S2", "N9"):  # receiving schools stay
        assert s.loc[sid, "decision"] in ("keep", "expand")
    assert plan.assignment["pupils"].sum() == pytest.approx(village_pupils(make_county())["pupils"].sum())
    served = plan.assignment[plan.assignment["mode"] != "unserved"]
    assert served["school_id"].map(s["decision"]).isin(["keep", "expand", "new"]).all()
    # a kept small school serves only villages within the bus radius
    for sid in ("S3", "S4", "P5"):
        if s.loc[sid, "decision"] in ("keep", "expand"):
            assert (served.loc[served["school_id"] == sid, "minutes"] <= 20).all()
    # V6's grade 1–3 pupils cannot board and have no other school within 30 min: P5 stays
    assert s.loc["P5", "decision"] in ("keep", "expand")
    assert plan.infeasible["village_id"].tolist() == ["V8"]


def test_optimize_max_closures_and_costs() -> None:
    none_closed = consolidate(make_county(), bus_matrix(), mode="optimize",
                               rules={"max_closures": 0, "min_enrolment": 0})
    assert not none_closed.schools["decision"].isin(["merge", "convert"]).drop("J2").any()
    with pytest.raises(InfeasibleError, match="no layout meets all consolidation rules"):
        consolidate(make_county(), bus_matrix(), mode="optimize", rules={"max_closures": 0, "min_enrolment": 500})
    cheap_small = consolidate(make_county(), bus_matrix(), mode="optimize",
                              rules={"costs": {"keep_small_school_wan": 0.0}, "min_enrolment": 0})
    # with no running cost a near school is worth keeping for shorter trips
    assert cheap_small.schools.loc["S4", "decision"] in ("keep", "expand")
    dear_small = consolidate(make_county(), bus_matrix(), mode="optimize",
                             rules={"costs": {"keep_small_school_wan": 1e4}})
    assert dear_small.schools.loc["S3", "decision"] in ("merge", "convert")
