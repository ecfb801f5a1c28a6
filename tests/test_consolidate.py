"""两集中 consolidation on hand-checkable counties: every rule, every infeasibility, whole pupils.

The county builder takes schools, villages (children per grade band), a register (pupils
per school and band) and bus minutes, so that each expected number can be worked out
by hand from the table in the test.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import CRS
from shapely.geometry import Point, box

from schoolplan.consolidate import (
    Rules,
    apply_reuse,
    attendance_fit,
    calibrate_attendance,
    consolidate,
    make_rules,
    project_attendance,
    today_attendance,
    village_pupils,
)
from schoolplan.county import County
from schoolplan.errors import DataWarning, InfeasibleError, SchemaError
from schoolplan.schema import BANDS

CRS_M = CRS.from_epsg(4546)
NAN = np.nan
GRADES = {b: spec["grades"] for b, spec in BANDS.items()}
AGES = {b: spec["ages"] for b, spec in BANDS.items()}


def build(
    schools: list[dict],
    villages: dict[str, tuple[str, dict[str, int]]],
    register: dict[str, dict[str, int]],
    *,
    seat: str = "T9",
    sites: list[str] = (),  # type: ignore[assignment]
) -> County:
    """A county from tables: schools (dicts), villages id → (township, {band: children}), register."""
    s = pd.DataFrame(schools).set_index("school_id")
    defaults = {"status": "open", "is_central": False, "quality_score": 80.0, "condition_score": 80.0,
                "boarding_beds": 0, "teachers": 10, "township_id": "T1"}
    for k, v in defaults.items():
        if k not in s:
            s[k] = v
        s[k] = s[k].fillna(v) if s[k].dtype != bool else s[k]
    s["students"] = [sum(register.get(i, {}).values()) for i in s.index]
    if "classes" not in s:  # one class per grade taught (small rural schools)
        s["classes"] = [sum(len(GRADES[b]) for b in register.get(i, {})) for i in s.index]
    s["classes"] = s["classes"].fillna(pd.Series([sum(len(GRADES[b]) for b in register.get(i, {}))
                                                  for i in s.index], index=s.index)).astype(int)
    s["name"] = [f"学校{i}" for i in s.index]
    geo = gpd.GeoDataFrame(s, geometry=[Point(500000 + 1000 * i, 3650000) for i in range(len(s))], crs=CRS_M)
    vrows = []
    for i, (vid, (tw, kids)) in enumerate(villages.items()):
        row = {"village_id": vid, "name": vid, "township_id": tw, "population": 500}
        row.update({f"age_{a}": 0 for a in range(18)})
        for band, n in kids.items():
            for k, a in enumerate(AGES[band]):
                row[f"age_{a}"] = n // 3 + (1 if k < n % 3 else 0)
        vrows.append(row | {"geometry": Point(500000 + 900 * i, 3651000)})
    vill = gpd.GeoDataFrame(vrows, geometry="geometry", crs=CRS_M).set_index("village_id")
    erows = []
    for sid, bands in register.items():
        for band, n in bands.items():
            g = GRADES[band]
            for k, grade in enumerate(g):
                erows.append({"year": 2024, "school_id": sid, "level": "junior" if band == "junior" else "primary",
                              "grade": grade, "students": n // len(g) + (1 if k < n % len(g) else 0)})
    tws = sorted({s_["township_id"] for s_ in schools} | {tw for tw, _ in villages.values()} | {seat})
    townships = gpd.GeoDataFrame({"name": tws, "is_county_seat": [t == seat for t in tws]},
                                 geometry=[box(499000 + 10000 * i, 3640000, 509000 + 10000 * i, 3660000)
                                           for i in range(len(tws))], crs=CRS_M,
                                 index=pd.Index(tws, name="township_id"))
    site_frame = gpd.GeoDataFrame({"name": list(sites), "site_type": ["vacant"] * len(sites),
                                   "area_m2": [30000.0] * len(sites)},
                                  geometry=[box(501000 + 300 * i, 3650000, 501200 + 300 * i, 3650150)
                                            for i in range(len(sites))], crs=CRS_M,
                                  index=pd.Index(list(sites), name="site_id", dtype=object))
    empty = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=CRS_M))
    return County(name="测试县", crs=CRS_M, schools=geo, villages=vill, townships=townships,
                  births=pd.DataFrame({"year": [2024], "township_id": ["T1"], "births": [100]}),
                  enrolment=pd.DataFrame(erows), zones=empty, sites=site_frame, developments=empty, base_year=2024)


def bus(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index").astype(float)


def run(county: County, m: pd.DataFrame, mode: str = "rules", **rules: object):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return consolidate(county, m, mode=mode, rules=rules)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- today as the base
# Three schools: A central primary (T1), B small primary (T1), C teaching point (T2).
TODAY_SCHOOLS = [
    {"school_id": "A", "level": "primary", "township_id": "T1", "is_central": True},
    {"school_id": "B", "level": "primary", "township_id": "T1"},
    {"school_id": "C", "level": "teaching_point", "township_id": "T2"},
]
TODAY_VILLAGES = {"V1": ("T1", {"lower": 30, "upper": 30}), "V2": ("T1", {"lower": 30, "upper": 30}),
                  "V3": ("T2", {"lower": 12})}
TODAY_REGISTER = {"A": {"lower": 36, "upper": 45}, "B": {"lower": 24, "upper": 15}, "C": {"lower": 12}}
TODAY_BUS = bus({"V1": {"A": 5, "B": 10, "C": 40}, "V2": {"A": 12, "B": 4, "C": 35},
                 "V3": {"A": 35, "B": 30, "C": 3}})


def test_attendance_reproduces_register_and_is_nearest_first() -> None:
    c = build(TODAY_SCHOOLS, TODAY_VILLAGES, TODAY_REGISTER)
    flows = calibrate_attendance(c, TODAY_BUS)
    assert pd.api.types.is_integer_dtype(flows["pupils"])
    got = flows.groupby(["school_id", "band"])["pupils"].sum().to_dict()
    assert got == {("A", "lower"): 36, ("A", "upper"): 45, ("B", "lower"): 24, ("B", "upper"): 15,
                   ("C", "lower"): 12}
    f = flows.set_index(["village_id", "band", "school_id"])["pupils"]
    # V2 lives 4 min from B: B's 24 grade 1–3 places go to V2, the other 6 of V2 to A; V1 all to A
    assert f[("V2", "lower", "B")] == 24 and f[("V2", "lower", "A")] == 6 and f[("V1", "lower", "A")] == 30
    assert f[("V3", "lower", "C")] == 12
    fit = attendance_fit(flows, c)
    assert (fit["difference"] == 0).all()


def test_attendance_scales_villages_to_the_register_and_warns() -> None:
    reg = {"A": {"lower": 72, "upper": 45}, "B": {"lower": 24, "upper": 15}, "C": {"lower": 12}}  # 108 vs 72 kids
    c = build(TODAY_SCHOOLS, TODAY_VILLAGES, reg)
    with pytest.warns(DataWarning, match=r"grades 1–3: the register has 108 pupils but the villages have 72"):
        flows = calibrate_attendance(c, TODAY_BUS)
    assert flows.groupby("school_id")["pupils"].sum().to_dict() == {"A": 117, "B": 39, "C": 12}


def test_status_quo_is_today_in_the_base_year() -> None:
    c = build(TODAY_SCHOOLS, TODAY_VILLAGES, TODAY_REGISTER)
    sq = run(c, TODAY_BUS, mode="status_quo")
    s = sq.schools
    assert s.loc[["A", "B", "C"], "students_after"].tolist() == [81, 39, 12]
    assert (s.loc[["A", "B", "C"], "students_after"] == s.loc[["A", "B", "C"], "students_before"]).all()
    assert not sq.assignment["moved"].any() and sq.summary["classes_added"] == 0
    assert (sq.assignment["school_id"] == sq.assignment["school_before"]).all()


def test_projection_keeps_shares_and_whole_township_totals() -> None:
    c = build(TODAY_SCHOOLS, TODAY_VILLAGES, TODAY_REGISTER)
    flows = calibrate_attendance(c, TODAY_BUS)
    demand = pd.DataFrame([{"zone": "T1", "level": "primary", "grade": g, "year": 2030, "p50": 20.0}
                           for g in range(1, 7)] + [{"zone": "T2", "level": "primary", "grade": g, "year": 2030,
                                                     "p50": 2.0} for g in range(1, 7)])
    f = project_attendance(flows, c, demand, 2030)
    assert pd.api.types.is_integer_dtype(f["pupils"])
    tot = f.groupby(["school_id", "band"])["pupils"].sum()
    # T1 lower: 60 forecast shared 36:24 between A and B; upper 60 shared 45:15
    assert tot[("A", "lower")] == 36 and tot[("B", "lower")] == 24
    assert tot[("A", "upper")] == 45 and tot[("B", "upper")] == 15
    # T2's teaching point has only grades 1–3: 6 pupils; the 6 upper-grade pupils of T2 have no school
    assert tot[("C", "lower")] == 6
    orphan = f[f["school_id"].isna()]
    assert orphan["pupils"].sum() == 6 and orphan["band"].tolist() == ["upper"]


# --------------------------------------------------------------------------- the keep and closure tests
# County seat T9 has junior J; T1 has central primary A and small B; T2 has teaching point P.
RULE_SCHOOLS = [
    {"school_id": "A", "level": "primary", "township_id": "T1", "is_central": True, "classes": 3},
    {"school_id": "B", "level": "primary", "township_id": "T1"},
    {"school_id": "P", "level": "teaching_point", "township_id": "T2"},
    {"school_id": "J", "level": "junior", "township_id": "T9", "boarding_beds": 0},
    {"school_id": "K", "level": "junior", "township_id": "T1"},
]
RULE_VILLAGES = {"V1": ("T1", {"lower": 60, "upper": 60, "junior": 60}), "V2": ("T1", {"lower": 30, "upper": 30,
                                                                                      "junior": 30}),
                 "V3": ("T2", {"lower": 9}), "V9": ("T9", {"junior": 90})}
RULE_REGISTER = {"A": {"lower": 60, "upper": 60}, "B": {"lower": 30, "upper": 30}, "P": {"lower": 9},
                 "J": {"junior": 90}, "K": {"junior": 90}}


def rule_bus(**changes: float) -> pd.DataFrame:
    m = {"V1": {"A": 5, "B": 15, "P": 50, "J": 25, "K": 6}, "V2": {"A": 18, "B": 4, "P": 40, "J": 28, "K": 10},
         "V3": {"A": 25, "B": 22, "P": 3, "J": 45, "K": 30}, "V9": {"A": 30, "B": 30, "P": 60, "J": 3, "K": 30}}
    for k, v in changes.items():
        vill, school = k.split("_")
        m[vill][school] = v
    return bus(m)


def test_rules_keep_merge_and_must_stay_with_numbers() -> None:
    c = build(RULE_SCHOOLS, RULE_VILLAGES, RULE_REGISTER)
    plan = run(c, rule_bus())
    s = plan.schools
    # A is the township's central school; J the county-seat junior school
    assert s.loc["A", "decision"] in ("keep", "expand") and s.loc["J", "decision"] in ("keep", "expand")
    # B: 60 pupils ≥ 50, all within 20 min, scores 80: kept, and the reason says so with its numbers
    assert s.loc["B", "decision"] == "keep"
    assert s.loc["B", "reason_zh"].startswith("生源均在校车20分钟内；2024年预计在校生60人")
    # P: 9 pupils < 50, but its grade 1–3 pupils of V3 would ride 25 min — within 30: it closes into A
    assert s.loc["P", "decision"] == "merge" and s.loc["P", "receiving_id"] == "A"
    assert "在校生9人，少于50人" in s.loc["P", "reason_zh"]
    # K: juniors concentrate into the county seat; V1/V2 juniors ride 25/28 min: over 20, so they board at J
    assert s.loc["K", "decision"] == "merge" and s.loc["K", "receiving_id"] == "J"
    a = plan.assignment
    moved_k = a[a["school_before"] == "K"]
    assert set(moved_k["mode"]) == {"boarding"} and moved_k["pupils"].sum() == 90
    assert s.loc["J", "boarders"] == 90 and s.loc["J", "beds_needed"] == 90
    # A receives P's 9 pupils: 3 classes today, 2 per grade needed for 60+9 lower? (23 per grade: 1 class)
    assert s.loc["A", "students_after"] == 129 and s.loc["A", "classes_needed"] == 6
    assert s.loc["A", "classes_added"] == 3 and s.loc["A", "decision"] == "expand"
    assert plan.summary["pupils_over_limit"] == 0


def test_reuse_turns_a_vacated_building_into_a_conversion_and_nothing_else() -> None:
    c = build(RULE_SCHOOLS, RULE_VILLAGES, RULE_REGISTER)
    plan = run(c, rule_bus())
    reuse = pd.DataFrame({"reuse": ["kindergarten", None, "kindergarten"],
                          "reason_zh": ["可改建为幼儿园（周边缺位40个）", "", "x"],
                          "reason_en": ["could become a kindergarten (40 children without a seat)", "", "x"]},
                         index=pd.Index(["P", "K", "A"], name="school_id"))
    before = plan.schools.copy()
    out = apply_reuse(plan, reuse, county=c)
    s = out.schools
    # P merges today and gets a use: convert, its reason keeps the numbers and adds the suggestion
    assert s.loc["P", "decision"] == "convert" and s.loc["P", "reuse"] == "kindergarten"
    assert s.loc["P", "reason_zh"].startswith(before.loc["P", "reason_zh"]) and "幼儿园" in s.loc["P", "reason_zh"]
    # K has no suggestion; A is kept (an open school is never converted)
    assert s.loc["K", "decision"] == "merge" and s.loc["A", "decision"] == before.loc["A", "decision"]
    # pupils and every figure but the decision counts are unchanged; the input plan is untouched
    pd.testing.assert_frame_equal(out.assignment, plan.assignment)
    assert plan.schools.equals(before)
    assert out.summary["decisions"]["convert"] == 1
    assert out.summary["decisions"].get("merge", 0) == plan.summary["decisions"]["merge"] - 1
    assert out.summary["merged"] == plan.summary["merged"]
    assert {k: v for k, v in out.summary.items() if k != "decisions"} == \
        {k: v for k, v in plan.summary.items() if k != "decisions"}
    assert apply_reuse(plan, reuse.iloc[:0]) is plan


def test_must_stay_when_young_pupils_would_ride_too_long() -> None:
    c = build(RULE_SCHOOLS, RULE_VILLAGES, RULE_REGISTER)
    plan = run(c, rule_bus(V3_A=41, V3_B=22))
    s = plan.schools
    assert s.loc["P", "decision"] == "keep" and bool(s.loc["P", "must_stay"])
    assert s.loc["P", "reason_zh"].startswith("应留必留：2024年预计在校生9人，少于50人，但1个村9名小学1–3年级学生到最近的接收学校需41分钟")
    assert "(day limit 30 min, may not board)" in s.loc["P", "reason_en"]
    assert plan.summary["must_keep"] == 1
    # raising the grade 1–3 day limit to 45 min lets it close
    relaxed = run(c, rule_bus(V3_A=41, V3_B=22), day_limit_minutes={"lower": 45})
    assert relaxed.schools.loc["P", "decision"] == "merge"


def test_boarding_switch_and_day_limit_change_decisions() -> None:
    c = build(RULE_SCHOOLS, RULE_VILLAGES, RULE_REGISTER)
    with_boarding = run(c, rule_bus())
    assert with_boarding.schools.loc["K", "decision"] == "merge"
    no_boarding = run(c, rule_bus(), boarding_bands=())
    s = no_boarding.schools
    assert s.loc["K", "decision"] == "keep" and bool(s.loc["K", "must_stay"])
    assert "would ride 28 min to the nearest receiving school (day limit 20 min, may not board)" in s.loc["K", "reason_en"]
    longer_day = run(c, rule_bus(), boarding_bands=(), day_limit_minutes={"junior": 30})
    assert longer_day.schools.loc["K", "decision"] == "merge"
    assert longer_day.summary["boarders"] == 0 and longer_day.summary["pupils_over_limit"] == 0


def test_thresholds_change_decisions_and_receivers_get_upgrades() -> None:
    schools = [dict(r) for r in RULE_SCHOOLS]
    schools[1]["quality_score"] = 50.0  # B below the quality threshold
    schools[0]["condition_score"] = 40.0  # the receiving school A below the condition threshold
    c = build(schools, RULE_VILLAGES, RULE_REGISTER)
    plan = run(c, rule_bus())
    s = plan.schools
    assert s.loc["B", "decision"] == "merge" and "办学质量评分50低于60" in s.loc["B", "reason_zh"]
    assert bool(s.loc["A", "upgrade"]) and "条件40<60" in s.loc["A", "reason_zh"]
    assert plan.summary["upgrades"] == 1
    lenient = run(c, rule_bus(), min_quality=40.0)
    assert lenient.schools.loc["B", "decision"] == "keep"


def test_bus_radius_changes_keep_rule() -> None:
    c = build(RULE_SCHOOLS, RULE_VILLAGES, RULE_REGISTER)
    assert run(c, rule_bus(V2_B=12), bus_minutes=15.0).schools.loc["B", "decision"] == "keep"
    tight = run(c, rule_bus(V2_B=12), bus_minutes=10.0)  # B's pupils (all from V2) live 12 min away
    assert tight.schools.loc["B", "decision"] == "merge"
    assert "60 pupils of 1 village live over 10 min by bus" in tight.schools.loc["B", "reason_en"]


def test_overrides_force_decisions_and_the_audit_names_the_broken_rule() -> None:
    from schoolplan.audit import audit
    from schoolplan.results import ScenarioResult

    c = build(RULE_SCHOOLS, RULE_VILLAGES, RULE_REGISTER)
    m = rule_bus(V3_A=41, V3_B=22)
    forced = run(c, m, force={"P": "close", "B": "keep", "K": "keep"})
    s = forced.schools
    assert s.loc["P", "decision"] == "merge" and s.loc["P", "reason_zh"].startswith("规划指定撤并")
    assert s.loc["K", "decision"] == "keep" and s.loc["K", "reason_zh"].startswith("规划指定保留（未达标：初中向县城集中")
    demand = pd.DataFrame(columns=["zone", "level", "grade", "year", "p10", "p50", "p90"])
    result = ScenarioResult(name="x", label_zh="x", label_en="x", county=c, plan=forced, demand=demand,
                            reserved=None, isochrones=gpd.GeoDataFrame(), indicators=pd.Series(dtype=float))
    report = audit(result).set_index("check")
    assert not report.loc["travel_limits", "passed"]
    assert "forced closures (P) send 9 pupils over their day limit" in report.loc["travel_limits", "detail"]
    # expand: B becomes a receiving school and takes P's pupils (22 min) instead of A (41 min)
    expand = run(c, m, force={"B": "expand"})
    assert expand.schools.loc["P", "decision"] == "merge" and expand.schools.loc["P", "receiving_id"] == "B"


def test_capacity_opens_a_site_or_reports_unplaced_pupils() -> None:
    c = build(RULE_SCHOOLS, RULE_VILLAGES, RULE_REGISTER, sites=["X1"])
    m = rule_bus()
    m["X1"] = [20.0, 22.0, 40.0, 5.0]
    full = run(c, m, max_size={"junior": 100})  # J takes 100: 80 junior pupils need a new school
    assert full.schools.loc["X1", "decision"] == "new" and full.schools.loc["X1", "level"] == "junior"
    assert full.schools.loc["X1", "students_after"] == 80
    c2 = build(RULE_SCHOOLS, RULE_VILLAGES, RULE_REGISTER)
    with pytest.warns(DataWarning, match="not enough seats"):
        short = consolidate(c2, rule_bus(), rules={"max_size": {"junior": 100}})
    a = short.assignment
    lost = a[a["mode"] == "unserved"]
    assert lost["pupils"].sum() == 80 and set(lost["cause"]) == {"capacity"}
    assert a["pupils"].sum() == 60 + 60 + 30 + 30 + 9 + 90 + 90  # every pupil accounted for


def test_unreachable_village_is_never_within_the_limit() -> None:
    villages = dict(RULE_VILLAGES) | {"V8": ("T2", {"lower": 3})}
    reg = dict(RULE_REGISTER) | {"P": {"lower": 12}}
    c = build(RULE_SCHOOLS, villages, reg)
    m = rule_bus()
    m.loc["V8"] = NAN
    plan = run(c, m, mode="status_quo")
    a = plan.assignment
    v8 = a[a["village_id"] == "V8"]
    assert v8["pupils"].sum() == 3 and set(v8["mode"]) == {"no_route"}
    assert plan.summary["pupils_no_route"] == 3
    within = a["mode"].isin(["walk", "bus", "boarding"]) & ~a["over_limit"]
    assert plan.summary["share_within_limit"] == pytest.approx(a.loc[within, "pupils"].sum() / a["pupils"].sum())
    with pytest.raises(InfeasibleError, match="reach no school"):
        consolidate(c, m, on_unreachable="raise")


def test_walking_pupils() -> None:
    c = build(RULE_SCHOOLS, RULE_VILLAGES, RULE_REGISTER)
    walk = rule_bus() * 3
    walk.loc["V2", "B"] = 12.0
    plan = consolidate(c, rule_bus(), walk.drop(columns=[]), mode="rules")
    a = plan.assignment
    row = a[(a["village_id"] == "V2") & (a["school_id"] == "B")]
    assert set(row["mode"]) == {"walk"} and set(row["minutes"]) == {12.0}


def test_rules_come_from_the_standards() -> None:
    from schoolplan.standards import load_standards

    std = load_standards(overrides={"consolidation": {"bus_minutes": 30, "min_enrolment_keep": 80}})
    r = make_rules(std)
    assert isinstance(r, Rules) and r.bus_minutes == 30 and r.min_enrolment == 80
    assert dict(r.day_limit_minutes) == {"lower": 30.0, "upper": 30.0, "junior": 30.0}
    assert r.boarding_bands == ("upper", "junior")
    with pytest.raises(SchemaError, match="unknown consolidation rule"):
        make_rules(bus_minute=20)
    with pytest.raises(SchemaError, match="class_size must be > 0"):
        make_rules(class_size={"primary": 0})
    with pytest.raises(SchemaError, match="unknown forced decision"):
        make_rules(force={"A": "demolish"})
    with pytest.raises(AttributeError):
        r.bus_minutes = 10  # type: ignore[misc]


def test_bad_inputs() -> None:
    c = build(RULE_SCHOOLS, RULE_VILLAGES, RULE_REGISTER)
    with pytest.raises(SchemaError, match="forced school 'ZZ' does not exist"):
        consolidate(c, rule_bus(), rules={"fixed_open": ("ZZ",)})
    with pytest.raises(SchemaError, match="lacks rows or columns"):
        consolidate(c, rule_bus().drop(columns=["B"]))
    bad = rule_bus()
    bad.loc["V1", "A"] = -3
    with pytest.raises(SchemaError, match="negative bus_minutes"):
        consolidate(c, bad)


def test_village_pupils_are_whole() -> None:
    c = build(RULE_SCHOOLS, RULE_VILLAGES, RULE_REGISTER)
    vp = village_pupils(c)
    assert pd.api.types.is_integer_dtype(vp["pupils"]) and vp["pupils"].sum() == 369


# --------------------------------------------------------------------------- properties
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.floats(1, 70), min_size=20, max_size=20), st.lists(st.integers(0, 40), min_size=6, max_size=6),
       st.sampled_from([15.0, 20.0, 30.0]), st.booleans())
def test_property_register_conservation_and_limits(times: list[float], kids: list[int], radius: float,
                                                   boarding: bool) -> None:
    villages = {"V1": ("T1", {"lower": kids[0] + 3, "upper": kids[1], "junior": kids[2]}),
                "V2": ("T1", {"lower": kids[3], "upper": kids[4] + 3, "junior": kids[5]}),
                "V3": ("T2", {"lower": 9}), "V9": ("T9", {"junior": 30})}
    reg = {"A": {"lower": kids[0] + kids[3] // 2 + 3, "upper": kids[1] + kids[4] // 2 + 3},
           "B": {"lower": kids[3] - kids[3] // 2, "upper": kids[4] - kids[4] // 2},
           "P": {"lower": 9}, "J": {"junior": 30 + kids[2]}, "K": {"junior": max(kids[5], 1)}}
    reg = {k: {b: n for b, n in v.items() if n > 0} for k, v in reg.items()}
    c = build(RULE_SCHOOLS, villages, reg)
    m = pd.DataFrame(np.array(times).reshape(4, 5), index=["V1", "V2", "V3", "V9"], columns=["A", "B", "P", "J", "K"])
    r = {"bus_minutes": radius} | ({} if boarding else {"boarding_bands": ()})
    plan = run(c, m, **r)
    a = plan.assignment
    # register reproduced, and every pupil accounted for
    flows = calibrate_attendance(c, m)
    assert (attendance_fit(flows, c)["difference"] == 0).all()
    assert a["pupils"].sum() == sum(sum(v.values()) for v in reg.values())
    assert pd.api.types.is_integer_dtype(a["pupils"])
    # pupils of schools that stay do not move; moved pupils are within their limits or board
    open_ = set(plan.schools.index[plan.schools["decision"].isin(["keep", "expand", "new"])])
    assert not a[a["school_before"].isin(open_) & a["moved"]].size
    moved = a[a["moved"]]
    limit = moved["band"].map(dict(plan.params["day_limit_minutes"]))
    assert not ((moved["mode"] == "bus") & (moved["minutes"] > limit)).any()
    assert not (moved["mode"] == "boarding").any() or boarding
    assert not ((a["band"] == "lower") & (a["mode"] == "boarding")).any()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.floats(1, 60), min_size=20, max_size=20))
def test_property_closures_never_increase_with_the_bus_radius(times: list[float]) -> None:
    c = build(RULE_SCHOOLS, RULE_VILLAGES, RULE_REGISTER)
    m = pd.DataFrame(np.array(times).reshape(4, 5), index=["V1", "V2", "V3", "V9"], columns=["A", "B", "P", "J", "K"])
    closures = [int(run(c, m, bus_minutes=b).summary["merged"]) for b in (10.0, 15.0, 20.0, 25.0, 30.0)]
    assert closures == sorted(closures, reverse=True)


# --------------------------------------------------------------------------- optimise mode
def test_optimize_mode_keeps_receivers_and_obeys_the_closure_rule() -> None:
    c = build(RULE_SCHOOLS, RULE_VILLAGES, RULE_REGISTER)
    plan = run(c, rule_bus(V3_A=41, V3_B=41), mode="optimize")
    s = plan.schools
    assert s.loc["A", "decision"] in ("keep", "expand") and s.loc["J", "decision"] in ("keep", "expand")
    assert s.loc["P", "decision"] == "keep"  # its grade 1–3 pupils would ride 41 min
    a = plan.assignment
    assert a["pupils"].sum() == 369 and pd.api.types.is_integer_dtype(a["pupils"])
    moved = a[a["moved"]]
    assert not ((moved["mode"] == "bus") & (moved["minutes"] > moved["band"].map(dict(plan.params["day_limit_minutes"])))).any()


def test_optimize_max_closures_and_costs() -> None:
    c = build(RULE_SCHOOLS, RULE_VILLAGES, RULE_REGISTER)
    none_closed = run(c, rule_bus(), mode="optimize", max_closures=0, min_enrolment=0)
    assert not none_closed.schools["decision"].isin(["merge", "convert"]).any()
    with pytest.raises(InfeasibleError, match="no layout meets all consolidation rules"):
        run(c, rule_bus(), mode="optimize", max_closures=0, min_enrolment=500)
    dear = run(c, rule_bus(), mode="optimize", costs={"keep_small_school_wan": 1e4})
    assert dear.schools.loc["B", "decision"] == "merge"


def test_oversize_school_sheds_only_pupils_another_school_teaches() -> None:
    """Found by Hypothesis: a nine-year school above its maximum size (23 > 20) shed pupils of every band;
    those without a road route followed school-mates of another band to a junior school that cannot teach them.
    They must stay (the warning names the school), and a group stays one row."""
    crs = CRS.from_epsg(4546)
    vills = gpd.GeoDataFrame({"name": [f"村{i}" for i in range(5)], "township_id": "T0", "population": 500},
                             geometry=[Point(500000 + 700 * i, 3650000) for i in range(5)], crs=crs,
                             index=pd.Index([f"V{i}" for i in range(5)], name="village_id"))
    for a in range(18):
        vills[f"age_{a}"] = 0
    vills.loc["V0", "age_8"] = vills.loc["V1", "age_14"] = vills.loc["V2", "age_11"] = 1
    sch = gpd.GeoDataFrame({"name": [f"学校{i}" for i in range(5)],
                            "level": ["teaching_point", "teaching_point", "nine_year", "teaching_point", "junior"],
                            "township_id": "T0", "status": "open", "students": [0, 0, 23, 0, 0], "classes": 0,
                            "is_central": False, "boarding_beds": 0, "teachers": 10},
                           geometry=[Point(500000 + 900 * i, 3651000) for i in range(5)], crs=crs,
                           index=pd.Index([f"S{i}" for i in range(5)], name="school_id"))
    towns = gpd.GeoDataFrame({"name": ["T0"], "is_county_seat": [True]},
                             geometry=[box(499000, 3640000, 508000, 3660000)], crs=crs,
                             index=pd.Index(["T0"], name="township_id"))
    empty = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=crs))
    county = County(name="随机县", crs=crs, schools=sch, villages=vills, townships=towns,
                    births=pd.DataFrame({"year": [2024], "births": [100]}),
                    enrolment=pd.DataFrame(columns=["year", "school_id", "level", "grade", "students"]),
                    zones=empty, sites=empty.rename_axis("site_id"), developments=empty, base_year=2024)
    nan = np.nan
    bus = pd.DataFrame([[nan] * 5, [0, 0, 0, nan, 0], [0, 0, nan, nan, nan], [0, nan, nan, nan, 0],
                        [0, 0, 0, 0, nan]], index=vills.index, columns=sch.index, dtype=float)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        flows = today_attendance(county, bus)
        plan = consolidate(county, bus, mode="rules", attendance=flows,
                           rules={"bus_minutes": 15.0, "max_size": dict.fromkeys(
                               ["primary", "junior", "nine_year", "teaching_point"], 20)})
    a = plan.assignment
    moved = a[a["moved"]]
    assert all(lv in BANDS[b]["levels"] for b, lv in zip(moved["band"], moved["school_id"].map(sch["level"]),
                                                          strict=True))
    assert moved[["village_id", "band", "school_id", "pupils"]].values.tolist() == [["V1", "junior", "S4", 1]]
    assert not a.duplicated(["village_id", "band", "school_before", "school_id"]).any()
    assert a["pupils"].sum() == flows["pupils"].sum() == 23
    assert any("S2 (22 > 20)" in str(w.message) for w in caught)
