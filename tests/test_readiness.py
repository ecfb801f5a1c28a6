"""控辍保学 and 优质均衡 readiness (schoolplan.readiness): hand-checkable counties and known optima."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from schoolplan.metrics import coefficient_of_variation
from schoolplan.readiness import (
    cheapest_fix,
    children_by_age,
    cohort_retention,
    cohort_table,
    consolidation_rate,
    county_inspection,
    risk_by_township,
    risk_groups,
    school_readiness,
)
from schoolplan.standards import load_standards

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo_county"
STD = load_standards()


# --------------------------------------------------------------------------- cohorts (底数)
def _county(enrol: dict[tuple[int, int], int], *, births: float = 100.0, children: float = 100.0,
            base: int = 2024) -> SimpleNamespace:
    """One township, one school; ``enrol`` maps (year, grade) to pupils; flat births and children."""
    e = pd.DataFrame([{"year": y, "school_id": "S1", "level": "primary" if g <= 6 else "junior", "grade": g,
                       "students": n, "classes": 1} for (y, g), n in enrol.items()])
    b = pd.DataFrame({"year": range(1990, base + 1), "township_id": "T1", "births": births})
    v = pd.DataFrame({"township_id": ["T1"], "name": ["村一"], **{f"age_{a}": [children] for a in range(18)}},
                     index=pd.Index(["V1"], name="village_id"))
    s = pd.DataFrame({"township_id": ["T1"], "level": ["nine_year"], "status": ["open"]},
                     index=pd.Index(["S1"], name="school_id"))
    return SimpleNamespace(enrolment=e, births=b, villages=v, schools=s, base_year=base,
                           townships=pd.DataFrame(index=pd.Index(["T1"], name="township_id")))


def test_cohort_with_a_planted_gap_is_named() -> None:
    # every grade 100 pupils every year, except the cohort that entered grade 1 in 2019: 80 in grade 4 (2022)
    enrol = {(y, g): 100 for y in range(2014, 2025) for g in range(1, 10)}
    for y in range(2022, 2025):
        enrol[(y, 4 + y - 2022)] = 80
    ret = cohort_retention(_county(enrol), STD)
    flagged = ret[ret["suspected"] > 0]
    assert flagged[["year", "grade", "entry_year", "suspected"]].values.tolist() == [[2022, 4, 2019, 20]]
    # the same cohort one year later keeps its 80 pupils: no second flag
    row = ret[(ret["year"] == 2023) & (ret["grade"] == 5)].iloc[0]
    assert row["expected"] == 80 and row["suspected"] == 0
    # migration is neutral here (children = births at every age)
    assert ret["migration_rate"].dropna().eq(1.0).all()


def test_small_shortfalls_stay_within_the_tolerance() -> None:
    enrol = {(y, g): 100 for y in range(2020, 2025) for g in range(1, 10)}
    enrol[(2023, 5)] = 97  # 3 < max(5 pupils, 2 % of 100)
    ret = cohort_retention(_county(enrol), STD)
    assert ret["suspected"].sum() == 0
    assert ret.loc[(ret["year"] == 2023) & (ret["grade"] == 5), "shortfall"].item() == 3


def test_migration_is_taken_out_of_the_shortfall() -> None:
    # children at the base year are 90 % of births at every age 6-14 except 14 (81 %): the grade 8 -> 9
    # step loses 10 % through migration, which is not a dropout
    enrol = {(y, g): 100 for y in range(2020, 2025) for g in range(1, 9)}
    enrol.update({(y, 9): 90 for y in range(2020, 2025)})
    c = _county(enrol, children=90.0)
    c.villages["age_14"] = 81.0
    ret = cohort_retention(c, STD)
    g9 = ret[ret["grade"] == 9]
    assert g9["migration_rate"].round(6).eq(0.9).all()
    assert g9["expected"].eq(90).all() and g9["suspected"].eq(0).all()
    kids = children_by_age(c, [2020, 2024])
    k = kids[(kids["township_id"] == "T1") & (kids["age"] == 14)].set_index("year")["children"]
    assert k[2024] == 81 and k[2020] == pytest.approx(81.0)  # births flat: the same cohort size carried back


def test_consolidation_rates() -> None:
    enrol = {(y, g): 100 for y in range(2014, 2025) for g in range(1, 10)}
    enrol[(2016, 1)] = 125   # entrants of the cohort graduating in 2024
    enrol[(2022, 7)] = 110
    r = consolidation_rate(_county(enrol)).set_index("year")
    assert r.loc[2024, "nine_year_rate"] == pytest.approx(100 / 125)
    assert r.loc[2024, "junior_rate"] == pytest.approx(100 / 110)
    assert np.isnan(r.loc[2021, "nine_year_rate"])  # grade 1 of 2013 is not in the enrolment
    t = cohort_table(_county(enrol))
    row = t[(t["township_id"] == "ALL") & (t["year"] == 2024) & (t["grade"] == 1)].iloc[0]
    assert row["children"] == 100 and row["pupils"] == 100 and row["enrolment_rate"] == 1.0


# --------------------------------------------------------------------------- risk from a plan
def test_risk_groups_count_each_reason() -> None:
    a = pd.DataFrame([
        # village, band, before, after, pupils, t0, t, mode, moved
        ("V1", "lower", "A", "B", 10, 5.0, 25.0, "bus", True),     # +20 min and newly over the 20-min limit
        ("V2", "upper", "A", "B", 7, 10.0, 18.0, "bus", True),     # +8: no risk
        ("V3", "upper", "A", "C", 4, 12.0, 50.0, "boarding", True),  # newly boarding, primary age
        ("V4", "junior", "D", "C", 6, 45.0, 50.0, "boarding", True),  # boarded before (45 > 40): no new risk
        ("V5", "lower", "A", "A", 9, 40.0, 40.0, "bus", False),    # unchanged: never a risk of the plan
        ("V6", "junior", "D", "C", 3, 10.0, 30.0, "walk", True),   # +20, within the 40-min limit
    ], columns=["village_id", "band", "school_before", "school_id", "pupils", "minutes_before", "minutes", "mode",
                "moved"])
    a["over_limit"] = False
    plan = SimpleNamespace(assignment=a, params={"day_limit_minutes": {"lower": 20, "upper": 20, "junior": 40},
                                                 "boarding_bands": ["upper", "junior"]})
    g = risk_groups(plan, STD).set_index("village_id")
    assert set(g.index) == {"V1", "V3", "V6"}
    assert g.loc["V1", ["longer_ride", "newly_over_limit", "newly_boarding"]].tolist() == [True, True, False]
    assert g.loc["V3", ["newly_boarding", "young_boarder"]].tolist() == [True, True]
    assert g.loc["V6", ["longer_ride", "newly_over_limit"]].tolist() == [True, False]
    villages = pd.DataFrame({"township_id": ["T1", "T1", "T2", "T2", "T1", "T2"],
                             "name": ["一村", "二村", "三村", "四村", "五村", "六村"]},
                            index=pd.Index([f"V{i}" for i in range(1, 7)], name="village_id"))
    tw = risk_by_township(g.reset_index(), villages).set_index("township_id")
    assert tw.loc["T1", "at_risk"] == 10 and tw.loc["T2", "at_risk"] == 7
    assert tw.loc["T2", "villages"] == "三村 (4), 六村 (3)"
    assert tw["at_risk"].sum() == 17 and tw["longer_ride"].sum() == 13


# --------------------------------------------------------------------------- 优质均衡
def _school(n: int, level: str = "primary", **over: float) -> dict:
    """Resources that meet the primary thresholds exactly (whole teachers and rooms rounded up)."""
    th = STD["balance"]["thresholds"]["junior" if level == "junior" else "primary"]
    base = {"teachers_qualified": np.ceil(th["teachers_qualified_per100"] * n / 100),
            "teachers_key": np.ceil(th["teachers_key_per100"] * n / 100),
            "teachers_pe_art": np.ceil(th["teachers_pe_art_per100"] * n / 100),
            "teaching_rooms_m2": th["teaching_rooms_m2_per_pupil"] * n,
            "sports_area_m2": th["sports_area_m2_per_pupil"] * n,
            "equipment_yuan": th["equipment_yuan_per_pupil"] * n,
            "multimedia_rooms": np.ceil(th["multimedia_rooms_per100"] * n / 100)}
    return {"level": level, "students": n, **base, **over}


def _schools(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows), index=pd.Index([f"S{i}" for i in range(1, len(rows) + 1)], name="school_id"))


def test_school_pass_rule_six_of_seven_and_85_percent() -> None:
    s = _schools(_school(100),
                 _school(100, sports_area_m2=7.5 * 0.9 * 100),          # one miss at 90 %: passes
                 _school(100, sports_area_m2=7.5 * 0.8 * 100),          # one miss at 80 %: fails
                 _school(100, sports_area_m2=700, equipment_yuan=190000),  # two misses: fails
                 _school(100, sports_area_m2=np.nan))                   # unknown: not assessable
    r = school_readiness(s, STD).drop_duplicates("school_id").set_index("school_id")
    assert r["passes"].tolist()[:4] == [True, True, False, False]
    assert r.loc["S5", "passes"] is pd.NA
    assert r.loc["S2", "indicators_met"] == 6 and r.loc["S4", "indicators_met"] == 5


def test_nine_year_schools_meet_the_higher_threshold() -> None:
    s = _schools(_school(100, "nine_year", teaching_rooms_m2=500))  # 5.0 m²: above primary 4.5, below junior 5.8
    r = school_readiness(s, STD)
    row = r[r["indicator"] == "teaching_rooms_m2_per_pupil"].iloc[0]
    assert row["threshold"] == 5.8 and not row["met"]


def test_coefficient_of_variation_worked_example() -> None:
    # the calculation note's example (five primaries): 0.52
    assert round(coefficient_of_variation([6.20, 3.70, 10.51, 2.11, 7.31], [45, 37, 89, 76, 55]), 2) == 0.52


def test_cheapest_fix_known_optimum_per_school() -> None:
    # 200 pupils, 1 PE/art teacher (0.5 per 100, 56 % of 0.9: may not be the miss) and sports ground at 93 %
    # (may be the one miss): the optimum hires one PE/art teacher and nothing else
    s = _schools(_school(200, teachers_pe_art=1, sports_area_m2=7.0 * 200))
    actions, summ = cheapest_fix(s, STD)
    assert summ["status"] == "optimal"
    assert actions[["resource", "add"]].values.tolist() == [["teachers_pe_art", 1.0]]
    assert summ["cost_wan"] == pytest.approx(STD["balance"]["fix_costs_wan"]["teachers_pe_art"])


def test_cheapest_fix_meets_the_coefficient_limit_by_cutting_planes() -> None:
    # both schools meet every threshold, but sports area per pupil is 7.5 and 30 m²: CV 0.6 > 0.5.
    # With equal weights (30 - x) / (30 + x) <= 0.5 needs x >= 10: 250 m² more at the first school.
    s = _schools(_school(100), _school(100, sports_area_m2=3000))
    actions, summ = cheapest_fix(s, STD)
    assert summ["rounds"] > 1
    assert actions["resource"].tolist() == ["sports_area_m2"] and actions["school_id"].tolist() == ["S1"]
    # whole m², rounded up from just inside the limit: the known optimum 250 or one m² more
    assert actions["add"].item() in (250, 251)
    assert summ["cv_after"]["primary"]["sports_area_m2_per_pupil"] <= 0.5
    unit = STD["balance"]["fix_costs_wan"]["sports_area_m2"]
    assert summ["cost_wan"] == pytest.approx(actions["add"].item() * unit)


def test_nothing_to_fix_and_nothing_to_assess() -> None:
    _, summ = cheapest_fix(_schools(_school(100), _school(120)), STD)
    assert summ["status"] == "nothing_to_do" and summ["cost_wan"] == 0
    bare = _schools(_school(100)).drop(columns=["sports_area_m2"])
    _, summ = cheapest_fix(bare, STD)
    assert summ["status"] == "not_assessable" and np.isnan(summ["cost_wan"]) and summ["left_out"] == ["S1"]


# --------------------------------------------------------------------------- the demo county
def test_demo_inspection_pinned() -> None:
    if not (DEMO / "county.gpkg").exists():
        pytest.skip("demo county not built")
    from schoolplan import load_county

    c = load_county(DEMO)
    ins = county_inspection(c, STD)
    s = ins["summary"]
    assert (s["children"], s["pupils"]) == (14582, 14870)
    assert round(s["rate"], 4) == 0.9163 and round(s["junior_rate"], 4) == 0.9563
    assert (s["suspected_cohorts"], s["suspected_all_years"], s["suspected_base_year"]) == (18, 920, 0)
    assert (s["readiness_schools_assessed"], s["readiness_schools_passing"], s["readiness_cv_failing"]) == (29, 0, 3)
    assert round(s["readiness_fix_cost_wan"], 1) == 11376.8
    # after the fix every school passes and every coefficient is within its limit
    ready = ins["readiness"]
    fixed = c.schools.loc[ready.schools["school_id"].unique()].copy()
    for _, a in ready.fix.iterrows():
        fixed.loc[a["school_id"], a["resource"]] += a["add"]
    after = school_readiness(fixed, STD).drop_duplicates("school_id")
    assert after["passes"].all()
    from schoolplan.readiness import county_readiness

    assert county_readiness(fixed, STD)["cv_pass"].all()


def test_inspect_command_prints_the_readiness_summary(capsys: pytest.CaptureFixture[str]) -> None:
    if not (DEMO / "county.gpkg").exists():
        pytest.skip("demo county not built")
    from schoolplan.cli import main

    assert main(["inspect", str(DEMO), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "Nine-year consolidation rate" in out and "91.6%" in out and "Cheapest fix" in out
    assert "11,376.8" in out and "0 / 29" in out
    assert main(["inspect", str(DEMO), "--lang", "zh"]) == 0
    assert "初中三年巩固率" in capsys.readouterr().out
