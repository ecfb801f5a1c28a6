"""Phased plans on hand-checkable counties: the optimal schedule is known from the table in each test.

The county builder takes schools, villages (pupils per grade band), the register and
bus minutes; the forecast gives each township's pupils per band and year, so every
year's pupils can be worked out by hand. Class counts: the standard class is 45
pupils in primary grades, and a band's pupils split evenly over its three grades.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import CRS
from shapely.geometry import Point, box

from schoolplan.audit import PHASING_CHECKS, audit_phasing
from schoolplan.consolidate import calibrate_attendance, consolidate, make_rules, project_attendance
from schoolplan.county import County
from schoolplan.errors import ConfigError, DataWarning
from schoolplan.phasing import phase_plan
from schoolplan.results import ScenarioResult
from schoolplan.schema import BANDS

CRS_M = CRS.from_epsg(4546)
GRADES = {b: spec["grades"] for b, spec in BANDS.items()}
AGES = {b: spec["ages"] for b, spec in BANDS.items()}
ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo_county"


def build(schools: list[dict], villages: dict[str, tuple[str, dict[str, int]]],
          register: dict[str, dict[str, int]]) -> County:
    """A county from tables (as in test_consolidate): schools, villages id → (township, {band: children})."""
    s = pd.DataFrame(schools).set_index("school_id")
    defaults = {"status": "open", "is_central": False, "quality_score": 80.0, "condition_score": 80.0,
                "boarding_beds": 0, "teachers": 10, "township_id": "T1"}
    for k, v in defaults.items():
        if k not in s:
            s[k] = v
        s[k] = s[k].fillna(v) if s[k].dtype != bool else s[k]
    s["students"] = [sum(register.get(i, {}).values()) for i in s.index]
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
    tws = sorted(set(s["township_id"]) | {tw for tw, _ in villages.values()} | {"T9"})
    townships = gpd.GeoDataFrame({"name": tws, "is_county_seat": [t == "T9" for t in tws]},
                                 geometry=[box(499000 + 10000 * i, 3640000, 509000 + 10000 * i, 3660000)
                                           for i in range(len(tws))], crs=CRS_M,
                                 index=pd.Index(tws, name="township_id"))
    empty = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=CRS_M))
    sites = gpd.GeoDataFrame({"name": [], "site_type": [], "area_m2": []}, geometry=gpd.GeoSeries([], crs=CRS_M),
                             index=pd.Index([], name="site_id", dtype=object))
    return County(name="测试县", crs=CRS_M, schools=geo, villages=vill, townships=townships,
                  births=pd.DataFrame({"year": [2024], "township_id": ["T1"], "births": [100]}),
                  enrolment=pd.DataFrame(erows), zones=empty, sites=sites, developments=empty, base_year=2024)


def forecast(totals: dict[str, dict[str, int]], years: range, scale: dict[int, float] | None = None) -> pd.DataFrame:
    """Forecast rows: township → band → pupils, the same every year (times ``scale[year]``)."""
    rows = []
    for y in years:
        f = (scale or {}).get(y, 1.0)
        for tw, bands in totals.items():
            for band, n in bands.items():
                g = GRADES[band]
                for grade in g:
                    v = n * f / len(g)
                    rows.append({"zone": tw, "level": "junior" if band == "junior" else "primary", "grade": grade,
                                 "year": y, "p10": v, "p50": v, "p90": v})
    return pd.DataFrame(rows)


def bus(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index").astype(float)


def plan_and_phase(county: County, m: pd.DataFrame, demand: pd.DataFrame, target: int, **options: object):  # type: ignore[no-untyped-def]
    """The rules-mode plan for ``target`` and its phased plan; returns (plan, phased, result for the audit)."""
    rules = make_rules(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        base = calibrate_attendance(county, m[[c for c in m.columns if c in county.schools.index]])
        flows = project_attendance(base, county, demand, target)
        plan = consolidate(county, m, mode="rules", pupils=flows, rules=rules, year=target, attendance=base)
        ph = phase_plan(plan, county, m, attendance=base, demand=demand, rules=rules, **options)  # type: ignore[arg-type]
    res = ScenarioResult(name="t", label_zh="测试", label_en="test", county=county, plan=plan, demand=demand,
                         reserved=None, isochrones=gpd.GeoDataFrame(), indicators=pd.Series(dtype=float),
                         phasing=ph)
    return plan, ph, res


def action(ph, kind: str, sid: str | None = None) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    a = ph.actions[ph.actions["action"] == kind]
    return a if sid is None else a[a["school_id"] == sid]


def assert_audit_passes(res: ScenarioResult) -> None:
    a = audit_phasing(res)
    assert list(a["check"]) == list(PHASING_CHECKS)
    failed = a[a["passed"].eq(False)]
    assert failed.empty, failed[["check", "detail", "rows"]].to_dict("records")


# --------------------------------------------------------------------------- a closure that waits for classrooms
# A (central, 6 classrooms) keeps 90 + 90 pupils: 30 a grade, one class each. B (quality 40: it merges) has
# 60 + 60 within 6 minutes of A. Together 150 a band = 50 a grade > 45: two classes per grade, 12 classes, so
# A needs 6 more classrooms (60 万元 each = 360 万元) before B's pupils can come.
WAIT_SCHOOLS = [{"school_id": "A", "level": "primary", "is_central": True, "classes": 6},
                {"school_id": "B", "level": "primary", "quality_score": 40.0, "classes": 6}]
WAIT_VILLAGES = {"V1": ("T1", {"lower": 90, "upper": 90}), "V2": ("T1", {"lower": 60, "upper": 60})}
WAIT_REGISTER = {"A": {"lower": 90, "upper": 90}, "B": {"lower": 60, "upper": 60}}
WAIT_BUS = bus({"V1": {"A": 5, "B": 8}, "V2": {"A": 6, "B": 3}})
WAIT_DEMAND = {"T1": {"lower": 150, "upper": 150}}


def test_closure_waits_for_the_classrooms_it_needs() -> None:
    c = build(WAIT_SCHOOLS, WAIT_VILLAGES, WAIT_REGISTER)
    plan, ph, res = plan_and_phase(c, WAIT_BUS, forecast(WAIT_DEMAND, range(2024, 2029)), 2027)
    assert plan.schools.at["B", "decision"] == "merge" and plan.schools.at["A", "classes_added"] == 6
    cls = action(ph, "classrooms", "A")
    # funded in the first year (2025), ready a year later; B closes the day they are ready
    assert cls[["fund_year", "year", "quantity"]].values.tolist() == [[2025, 2026, 6]]
    assert float(cls["cost_wan"].sum()) == 360.0
    close = action(ph, "close", "B").iloc[0]
    assert close["year"] == 2026 and close["quantity"] == 120 and close["receiving"] == "A"
    assert "学校A在2025年需12个班" in close["reason_zh"] and "has 6 classrooms then" in close["reason_en"]
    years = ph.years.set_index("year")
    assert years.loc[2025, "closures"] == 0 and years.loc[2026, "closures"] == 1
    assert years.loc[2025, "spending_wan"] == 360.0 and years["spending_wan"].sum() == 360.0
    assert years.loc[2025, "teachers_freed"] == 0 and years.loc[2026, "teachers_freed"] == 10
    assert ph.slips.empty and ph.summary["reached_by_target"]
    assert_audit_passes(res)


def test_no_lead_time_closes_in_the_first_year() -> None:
    c = build(WAIT_SCHOOLS, WAIT_VILLAGES, WAIT_REGISTER)
    _, ph, res = plan_and_phase(c, WAIT_BUS, forecast(WAIT_DEMAND, range(2024, 2029)), 2027, build_lead_years=0)
    assert action(ph, "close", "B")["year"].tolist() == [2025]
    assert action(ph, "classrooms", "A")[["fund_year", "year"]].values.tolist() == [[2025, 2025]]
    assert_audit_passes(res)


def test_budget_forces_a_delay_and_says_why() -> None:
    # 200 万元 a year buys 3 classrooms (180): 3 in 2025 and 3 in 2026, so B closes in 2027, not 2026
    c = build(WAIT_SCHOOLS, WAIT_VILLAGES, WAIT_REGISTER)
    _, ph, res = plan_and_phase(c, WAIT_BUS, forecast(WAIT_DEMAND, range(2024, 2029)), 2028,
                                budget_wan_per_year=200.0)
    assert sorted(action(ph, "classrooms", "A")[["fund_year", "quantity"]].values.tolist()) == [[2025, 3], [2026, 3]]
    close = action(ph, "close", "B").iloc[0]
    assert close["year"] == 2027 and close["ideal_year"] == 2026
    slip = ph.slips[ph.slips["action"] == "close"].iloc[0]
    assert (slip["school_id"], slip["ideal_year"], slip["year"], slip["cause"]) == ("B", 2026, 2027, "budget")
    assert "2025年预算200万元已安排180万元" in slip["reason_zh"] and "由2026年推迟到2027年" in slip["reason_zh"]
    assert "the 2025 budget of 200" in slip["reason_en"]
    assert (ph.years["spending_wan"] <= 200.0).all()
    assert_audit_passes(res)


def test_budget_too_small_for_the_target_year_slips_beyond_it() -> None:
    # 100 万元 a year: one classroom a year; six by 2030 (funded 2025–2030), so B closes in 2031 > target 2027
    c = build(WAIT_SCHOOLS, WAIT_VILLAGES, WAIT_REGISTER)
    _, ph, res = plan_and_phase(c, WAIT_BUS, forecast(WAIT_DEMAND, range(2024, 2036)), 2027,
                                budget_wan_per_year=100.0)
    assert action(ph, "close", "B")["year"].tolist() == [2031]
    assert not ph.summary["reached_by_target"]
    assert "2027年无法完成全部调整" in ph.summary["headline_zh"] and "360" in ph.summary["headline_en"]
    a = audit_phasing(res).set_index("check")
    assert a.loc["phasing_end_state", "passed"] is False  # the plan's target year is not met: shown at the top
    assert a.drop(index="phasing_end_state")["passed"].ne(False).all()


# --------------------------------------------------------------------------- at most one closure a year
# A (12 classrooms) has room for everyone. B's pupils ride 1 minute longer, C's 10 minutes longer: closing B
# first costs less travel, so B closes in 2025 and C in 2026.
CAP_SCHOOLS = [{"school_id": "A", "level": "primary", "is_central": True, "classes": 12},
               {"school_id": "B", "level": "primary", "quality_score": 40.0, "classes": 6},
               {"school_id": "C", "level": "primary", "quality_score": 40.0, "classes": 6}]
CAP_VILLAGES = {"V1": ("T1", {"lower": 90, "upper": 90}), "V2": ("T1", {"lower": 15, "upper": 15}),
                "V3": ("T1", {"lower": 15, "upper": 15})}
CAP_REGISTER = {"A": {"lower": 90, "upper": 90}, "B": {"lower": 15, "upper": 15}, "C": {"lower": 15, "upper": 15}}
CAP_BUS = bus({"V1": {"A": 5, "B": 9, "C": 9}, "V2": {"A": 4, "B": 3, "C": 15}, "V3": {"A": 13, "B": 15, "C": 3}})
CAP_DEMAND = {"T1": {"lower": 120, "upper": 120}}


def test_at_most_one_closure_a_year() -> None:
    c = build(CAP_SCHOOLS, CAP_VILLAGES, CAP_REGISTER)
    free = plan_and_phase(c, CAP_BUS, forecast(CAP_DEMAND, range(2024, 2029)), 2027)[1]
    assert action(free, "close")["year"].tolist() == [2025, 2025]  # no limit: both at once, nothing to build
    _, ph, res = plan_and_phase(c, CAP_BUS, forecast(CAP_DEMAND, range(2024, 2029)), 2027, max_closures_per_year=1)
    got = action(ph, "close").set_index("school_id")["year"].to_dict()
    assert got == {"B": 2025, "C": 2026}
    slip = ph.slips.iloc[0]
    assert (slip["school_id"], slip["ideal_year"], slip["year"], slip["cause"]) == ("C", 2025, 2026, "closures")
    assert "每年最多撤并1所" in slip["reason_zh"]
    assert "at most 1 closure" in action(ph, "close", "C").iloc[0]["reason_en"]
    assert_audit_passes(res)


# --------------------------------------------------------------------------- schools close as enrolment falls
# C passes every test but size: 64 pupils today, falling with the township (×0.875 in 2026, ×0.75 in 2027):
# 56 in 2026 (still ≥ 50, it may stay), 48 in 2027 (< 50): it closes in 2027, not before.
FALL_SCHOOLS = [{"school_id": "A", "level": "primary", "is_central": True, "classes": 12},
                {"school_id": "C", "level": "primary", "classes": 6}]
FALL_VILLAGES = {"V1": ("T1", {"lower": 90, "upper": 90}), "V3": ("T1", {"lower": 32, "upper": 32})}
FALL_REGISTER = {"A": {"lower": 90, "upper": 90}, "C": {"lower": 32, "upper": 32}}
FALL_BUS = bus({"V1": {"A": 5, "C": 9}, "V3": {"A": 8, "C": 3}})


def test_a_school_closes_when_its_enrolment_falls_below_the_keep_rule() -> None:
    c = build(FALL_SCHOOLS, FALL_VILLAGES, FALL_REGISTER)
    demand = forecast({"T1": {"lower": 122, "upper": 122}}, range(2024, 2029),
                      scale={2025: 1.0, 2026: 0.875, 2027: 0.75, 2028: 0.75})
    plan, ph, res = plan_and_phase(c, FALL_BUS, demand, 2027)
    assert plan.schools.at["C", "decision"] == "merge" and not plan.schools.at["C", "enrolment_ok"]
    close = action(ph, "close", "C").iloc[0]
    assert close["year"] == 2027 and close["quantity"] == 48
    assert "2026年该校仍有56名学生，不少于保留下限50人" in close["reason_zh"]
    assert_audit_passes(res)


# --------------------------------------------------------------------------- options
def test_bad_options_name_the_key() -> None:
    c = build(WAIT_SCHOOLS, WAIT_VILLAGES, WAIT_REGISTER)
    demand = forecast(WAIT_DEMAND, range(2024, 2029))
    for opts, key in (({"start_year": 2024}, "phasing.start_year"), ({"start_year": 2028}, "phasing.start_year"),
                      ({"budget_wan_per_year": 0.0}, "phasing.budget_wan_per_year"),
                      ({"max_closures_per_year": 0}, "phasing.max_closures_per_year")):
        with pytest.raises(ConfigError) as e:
            plan_and_phase(c, WAIT_BUS, demand, 2027, **opts)
        assert e.value.column == key
    with pytest.raises(ConfigError, match="lacks the year"):
        plan_and_phase(c, WAIT_BUS, demand[demand["year"] != 2026], 2027)


def test_scenario_phasing_section() -> None:
    from schoolplan.config import load_scenario

    sc = load_scenario({"scenario": {"county": str(ROOT), "target_year": 2030},
                        "phasing": {"budget_wan_per_year": 800, "max_closures_per_year": 2}})
    assert sc.phasing.options() == {"start_year": None, "budget_wan_per_year": 800.0, "max_closures_per_year": 2,
                                    "build_lead_years": None}
    with pytest.raises(ConfigError, match="phasing"):
        load_scenario({"scenario": {"county": str(ROOT), "target_year": 2030}, "phasing": {"start_year": 2031}})
    with pytest.raises(ConfigError, match="budget"):
        load_scenario({"scenario": {"county": str(ROOT)}, "phasing": {"budget": 5}})


# --------------------------------------------------------------------------- properties
@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(budget=st.one_of(st.none(), st.sampled_from([70.0, 130.0, 250.0, 400.0])),
       most=st.one_of(st.none(), st.just(1)), lead=st.integers(0, 2),
       kids=st.lists(st.integers(10, 60), min_size=2, max_size=2))
def test_property_every_year_audits(budget: float | None, most: int | None, lead: int, kids: list[int]) -> None:
    register = {"A": {"lower": 90, "upper": 90}, "B": {"lower": kids[0], "upper": kids[0]},
                "C": {"lower": kids[1], "upper": kids[1]}}
    villages = {"V1": ("T1", {"lower": 90, "upper": 90}), "V2": ("T1", {"lower": kids[0], "upper": kids[0]}),
                "V3": ("T1", {"lower": kids[1], "upper": kids[1]})}
    schools = [{**CAP_SCHOOLS[0], "classes": 6}, *CAP_SCHOOLS[1:]]
    c = build(schools, villages, register)
    total = 90 + kids[0] + kids[1]
    demand = forecast({"T1": {"lower": total, "upper": total}}, range(2024, 2036),
                      scale={y: 1.0 - 0.05 * max(0, y - 2025) for y in range(2024, 2036)})
    _, ph, res = plan_and_phase(c, CAP_BUS, demand, 2029, budget_wan_per_year=budget, max_closures_per_year=most,
                                build_lead_years=lead)
    a = audit_phasing(res).set_index("check")
    assert a.drop(index="phasing_end_state")["passed"].ne(False).all(), a[["passed", "detail"]]
    if ph.summary["reached_by_target"]:
        assert a.loc["phasing_end_state", "passed"] is True
    if budget is not None:
        assert (ph.years["spending_wan"] <= budget + 1e-9).all()
    if most is not None:
        assert (ph.years["closures"] <= most).all()
    # every pupil each year, whole
    assert pd.api.types.is_integer_dtype(ph.assignment["pupils"])
    assert (ph.years["pupils"] > 0).all() and np.isfinite(ph.years["spending_wan"]).all()


# --------------------------------------------------------------------------- the demo
@pytest.mark.slow
def test_demo_two_concentrations_is_phased_over_three_years_and_audits_every_year() -> None:
    from schoolplan.scenario import load_scenario, run_scenario

    if not (DEMO / "county.gpkg").exists():
        pytest.skip("demo county not built")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = run_scenario(load_scenario(DEMO / "scenarios" / "two_concentrations_20.toml"))
    ph = r.phasing
    assert ph is not None
    years = ph.summary["years_with_actions"]
    assert len(years) >= 3 and years[0] == 2025 and ph.summary["reached_by_target"]
    assert len(set(action(ph, "close")["year"])) >= 3
    # the schedule delivers the plan: same spending, same closures, and the audit holds every year
    assert ph.years["spending_wan"].sum() == pytest.approx(r.indicators["capital_cost_wan"])
    assert len(action(ph, "close")) == int(r.indicators["schools_merged"])
    a = r.audit.set_index("check")
    assert a.loc[list(PHASING_CHECKS), "passed"].eq(True).all(), a.loc[list(PHASING_CHECKS), "detail"].to_dict()
    assert set(ph.assignment["year"]) == set(range(2025, 2031))
    assert (ph.actions["reason_zh"].str.len() > 0).all() and (ph.actions["reason_en"].str.len() > 0).all()
