"""Tests of schoolplan.forecast: exact cohort arithmetic, contract, intervals, back-tests."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schoolplan import forecast as fc
from schoolplan.errors import ConfigError, DataWarning, NonUniqueIdError, SchemaError

DATA = Path(__file__).parent / "data" / "china_stats"


# ----------------------------------------------------------------------------- fixtures


def tiny() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three years, two grades; ratios computable by hand."""
    enrolment = pd.DataFrame({
        "year": [2020, 2020, 2021, 2021, 2022, 2022],
        "grade": [1, 2, 1, 2, 1, 2],
        "students": [100, 90, 120, 95, 110, 114],
    })
    births = pd.DataFrame({"year": [2014, 2015, 2016, 2017, 2018], "births": [200, 200, 250, 300, 280]})
    return enrolment, births


def zoned(n_years: int = 8) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two zones, grades 1-6, smooth synthetic history with migration to the seat."""
    rows = []
    years = range(2024 - n_years + 1, 2025)
    births = pd.DataFrame({"year": range(2000, 2025),
                           "births": [1000 - 10 * i for i in range(25)]})
    bmap = dict(zip(births.year, births.births, strict=True))
    for zone, entry, prog in (("seat", 0.6, 1.03), ("town", 0.35, 0.97)):
        for y in years:
            for g in range(1, 7):
                rows.append({"zone": zone, "year": y, "grade": g,
                             "students": round(bmap[y - 6 - (g - 1)] * entry * prog ** (g - 1))})
    return pd.DataFrame(rows), births


def national() -> tuple[pd.DataFrame, pd.DataFrame]:
    ed = pd.read_csv(DATA / "china_basic_education_1998_2025.csv")
    series = pd.DataFrame({"year": ed["year"],
                           "intake": (ed["primary_enrol_wan"] * 1e4).round(),
                           "students": (ed["primary_students_wan"] * 1e4).round()})
    un = pd.read_csv(DATA / "china_births_unwpp2022_1950_2100.csv")
    return series, un.loc[un["variant"] == "estimate", ["year", "births"]]


# ----------------------------------------------------------------------------- exact arithmetic


def test_fit_ratios_exact_weighted():
    enrolment, births = tiny()
    r = fc.fit_ratios(enrolment, births, grades=[1, 2], smoothing=0.5, min_pairs=1)
    entry = r[r.transition == "entry"].ratio.item()
    prog = r[r.transition == "progression"].ratio.item()
    # weights 2022: 1, 2021: 0.5, 2020: 0.25
    assert entry == pytest.approx((110 + 0.5 * 120 + 0.25 * 100) / (250 + 0.5 * 200 + 0.25 * 200))
    assert entry == pytest.approx(0.4875)
    assert prog == pytest.approx((114 + 0.5 * 95) / (120 + 0.5 * 100))  # = 0.95
    assert r.n_years.tolist() == [3, 2]
    assert not r.pooled.any()


def test_fit_ratios_plain_ratio_of_sums_when_unsmoothed():
    enrolment, births = tiny()
    r = fc.fit_ratios(enrolment, births, grades=[1, 2], smoothing=0.0, min_pairs=1)
    assert r.ratio.tolist() == pytest.approx([330 / 650, 209 / 220])
    last_only = fc.fit_ratios(enrolment, births, grades=[1, 2], smoothing=1.0, min_pairs=1)
    assert last_only.ratio.tolist() == pytest.approx([110 / 250, 114 / 120])


def test_cohort_survival_point_forecast_exact():
    enrolment, births = tiny()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # too short to back-test: default band
        out = fc.cohort_survival(enrolment, births, horizon_years=2, grades=[1, 2], min_pairs=1,
                                 smoothing=0.5)
        full = fc.cohort_forecast(enrolment, births, horizon_years=2, grades=[1, 2], min_pairs=1,
                                  smoothing=0.5)
        plain = fc.cohort_survival(enrolment, births, horizon_years=1, grades=[1, 2], min_pairs=1)
    p50 = out.set_index(["year", "grade"]).p50
    assert p50[(2023, 1)] == pytest.approx(300 * 0.4875)  # births 2017 x entry ratio
    assert p50[(2023, 2)] == pytest.approx(110 * 0.95)  # grade 1 of 2022 moves up
    assert p50[(2024, 1)] == pytest.approx(280 * 0.4875)
    assert p50[(2024, 2)] == pytest.approx(300 * 0.4875 * 0.95)
    # ratios come back as a frame (not DataFrame.attrs), grade keeping its integer dtype
    r = full.ratios
    assert r.loc[r.transition == "entry", "ratio"].item() == pytest.approx(0.4875)
    assert r.grade.dtype == np.int64 and not out.attrs
    # defaults: equal weights inside the window -> plain ratios of sums
    assert plain.set_index("grade").p50[1] == pytest.approx(300 * 330 / 650)
    assert plain.set_index("grade").p50[2] == pytest.approx(110 * 209 / 220)


def test_contract_columns_and_years():
    enrolment, births = zoned()
    out = fc.cohort_survival(enrolment, births, horizon_years=4)
    assert list(out.columns) == ["zone", "year", "grade", "p10", "p50", "p90"]
    assert sorted(out.year.unique()) == [2025, 2026, 2027, 2028]
    assert len(out) == 2 * 4 * 6
    county = fc.cohort_survival(enrolment.groupby(["year", "grade"], as_index=False).students.sum(),
                                births, horizon_years=3)
    assert list(county.columns) == ["year", "grade", "p10", "p50", "p90"]
    assert county.grade.tolist()[:6] == [1, 2, 3, 4, 5, 6]


def test_zone_ratios_recover_migration():
    enrolment, births = zoned()
    r = fc.fit_ratios(enrolment, births)
    seat = r[(r.zone == "seat") & (r.transition == "progression")].ratio
    town = r[(r.zone == "town") & (r.transition == "progression")].ratio
    assert seat.to_numpy() == pytest.approx(1.03, abs=0.01)
    assert town.to_numpy() == pytest.approx(0.97, abs=0.01)
    entry = r[r.transition == "entry"].set_index("zone").ratio
    assert entry["seat"] == pytest.approx(0.6, abs=0.01)


def test_kindergarten_entry_grade_label_k():
    enrolment = pd.DataFrame({
        "year": [2022] * 3 + [2023] * 3 + [2024] * 3,
        "grade": ["k", 1, "2"] * 3,
        "students": [50, 48, 47, 52, 50, 47, 54, 52, 49],
    })
    births = pd.DataFrame({"year": range(2015, 2025), "births": [100] * 10})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        out = fc.cohort_survival(enrolment, births, horizon_years=2, grades=["K", 1, 2], entry_age=5,
                                 smoothing=0.5)
    assert out.grade.tolist()[:3] == ["K", 1, 2]
    first = out[out.year == 2025].set_index("grade").p50
    assert first["K"] == pytest.approx(100 * (54 + 0.5 * 52 + 0.25 * 50) / 175)  # births 2020
    assert first[1] == pytest.approx(54.0)  # K -> 1 ratio is exactly 1 in this history
    assert first[2] == pytest.approx(52 * (49 + 0.5 * 47) / (50 + 0.5 * 48))
    r = fc.fit_ratios(enrolment, births, grades=["K", 1, 2], entry_age=5, smoothing=0.5)
    assert r.ratio.iloc[0] == pytest.approx((54 + 0.5 * 52 + 0.25 * 50) / (1.75 * 100))


# ----------------------------------------------------------------------------- intervals


@st.composite
def panels(draw):
    n_z = draw(st.integers(1, 3))
    n_y = draw(st.integers(2, 7))
    n_g = draw(st.integers(1, 4))
    entry_age = draw(st.integers(0, 6))
    counts = draw(st.lists(st.integers(0, 400), min_size=n_z * n_y * n_g, max_size=n_z * n_y * n_g))
    rows = [{"zone": f"z{z}", "year": 2010 + y, "grade": g + 1,
             "students": counts[(z * n_y + y) * n_g + g]}
            for z in range(n_z) for y in range(n_y) for g in range(n_g)]
    n_b = n_y + entry_age + draw(st.integers(0, 3))
    bvals = draw(st.lists(st.integers(0, 900), min_size=n_b, max_size=n_b))
    births = pd.DataFrame({"year": range(2010 - entry_age, 2010 - entry_age + n_b), "births": bvals})
    return pd.DataFrame(rows), births, n_g, entry_age


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=panels(), horizon=st.integers(1, 6), scenario=st.sampled_from(["low", "medium", "high"]))
def test_intervals_ordered_and_non_negative(data, horizon, scenario):
    enrolment, births, n_g, entry_age = data
    before = enrolment.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        out = fc.cohort_survival(enrolment, births, horizon_years=horizon, grades=range(1, n_g + 1),
                                 entry_age=entry_age, births_scenario=scenario)
    pd.testing.assert_frame_equal(enrolment, before)  # inputs never mutated
    q = out[["p10", "p50", "p90"]].to_numpy()
    assert np.isfinite(q).all()
    assert (q >= 0).all()
    assert (out.p10 <= out.p50).all() and (out.p50 <= out.p90).all()
    assert len(out) == enrolment.zone.nunique() * horizon * n_g


def test_band_widens_with_horizon_and_contains_truth_mostly():
    enrolment, births = zoned(12)
    rng = np.random.default_rng(1)
    noisy = enrolment.assign(students=(enrolment.students * rng.normal(1, 0.03, len(enrolment))).round())
    full = fc.cohort_forecast(noisy, births, horizon_years=6)
    out = full.pupils
    width = np.log1p(out.p90) - np.log1p(out.p10)
    assert (np.diff(width.groupby(out.year).mean().to_numpy()) >= -1e-12).all()
    by_cell = width.groupby([out.zone, out.grade]).apply(lambda w: np.diff(w.to_numpy()).min())
    assert (by_cell >= -1e-12).all()  # no zone's grade gets narrower with the horizon
    assert "back-test" in full.method
    truth = full.totals  # totals carry their own (narrower than summed) bands
    summed = out.groupby(["zone", "year"])[["p10", "p90"]].sum()
    own = truth[truth.zone != "ALL"].set_index(["zone", "year"])
    assert (own.p90 - own.p10 <= summed.p90 - summed.p10 + 1e-9).all()


def test_default_band_warns_when_history_too_short():
    enrolment, births = tiny()
    with pytest.warns(DataWarning, match="too little history to back-test"):
        fc.cohort_survival(enrolment, births, horizon_years=1, grades=[1, 2], min_pairs=2)


# ----------------------------------------------------------------------------- births and scenarios


def test_scenarios_only_touch_projected_births():
    enrolment, births = zoned()
    res = {s: fc.cohort_survival(enrolment, births, horizon_years=9, births_scenario=s)
           for s in ("low", "medium", "high")}
    g1 = {s: r[(r.grade == 1) & (r.zone == "seat")].set_index("year").p50 for s, r in res.items()}
    # births observed to 2024 -> entrants up to 2030 known; 2031+ use projected births
    assert g1["low"][2030] == pytest.approx(g1["high"][2030])
    assert g1["low"][2031] < g1["medium"][2031] < g1["high"][2031]
    assert g1["high"][2031] / g1["medium"][2031] == pytest.approx(1 + 0.1 / 5)  # ramp year 1


def test_project_births_damped_trend_and_flags():
    births = pd.DataFrame({"year": range(2015, 2025),
                           "births": [1655, 1786, 1723, 1523, 1465, 1202, 1062, 956, 902, 954]})
    p = fc.project_births(births, until_year=2035)
    assert p.projected.sum() == 11 and not p.projected.iloc[:10].any()
    fut = p[p.projected].births.to_numpy()
    assert (np.diff(fut) < 0).all()  # still falling ...
    assert (np.diff(np.log(fut))[-1]) > (np.diff(np.log(fut))[0])  # ... ever more slowly
    flat = fc.project_births(births, until_year=2030, births_model="recent_mean", births_window=5)
    assert flat.births.iloc[-1] == pytest.approx(np.mean([1202, 1062, 956, 902, 954]))
    custom = fc.project_births(births, until_year=2026, births_scenario={2026: 0.5})
    base = fc.project_births(births, until_year=2026)
    assert custom.births.iloc[-1] == pytest.approx(0.5 * base.births.iloc[-1])
    assert custom.births.iloc[-2] == pytest.approx(base.births.iloc[-2])


# ----------------------------------------------------------------------------- back-tests


def test_backtest_columns_persistence_and_no_lookahead():
    enrolment, births = zoned(10)
    bt = fc.backtest(enrolment, births, origins=[2019, 2020], horizons=[1, 2, 3])
    assert list(bt.columns) == ["origin", "horizon", "year", "zone", "grade", "scope", "cell", "actual",
                                "p10", "p50", "p90", "persistence", "ape", "ape_persistence"]
    assert bt.grade.dtype == "Int64"  # one dtype: totals have no grade, not the string "total"
    assert set(bt.zone) == {"seat", "town", "ALL"}
    assert bt[bt.scope == "total"].grade.isna().all() and bt[bt.scope == "grade"].grade.notna().all()
    row = bt[(bt.origin == 2019) & (bt.horizon == 3) & (bt.zone == "town") & (bt.grade == 4)]
    observed = enrolment.set_index(["zone", "year", "grade"]).students
    assert row.persistence.item() == observed[("town", 2019, 4)]  # same grade, origin year
    assert row.actual.item() == observed[("town", 2022, 4)]
    assert row.cell.item() == "carried"
    entry = bt[(bt.origin == 2019) & (bt.horizon == 3) & (bt.zone == "town") & (bt.grade == 2)]
    assert entry.cell.item() == "entry"  # entered in 2021 from births of 2015
    q = bt[["p10", "p50", "p90"]].to_numpy()
    assert (q[:, 0] <= q[:, 1]).all() and (q[:, 1] <= q[:, 2]).all()
    # data after the origin must not change the origin's forecasts, nor their bands
    later = enrolment.year > 2019
    altered = enrolment.assign(students=np.where(later, enrolment.students * 5, enrolment.students))
    births_altered = births.assign(births=np.where(births.year > 2019, births.births * 5, births.births))
    bt2 = fc.backtest(altered, births_altered, origins=[2019], horizons=[1, 2, 3])
    a = bt[bt.origin == 2019].reset_index(drop=True)
    for col in ("p10", "p50", "p90"):
        pd.testing.assert_series_equal(a[col], bt2[col], check_names=False)
    s = fc.summarize_backtest(bt[bt.scope == "total"])
    assert list(s.columns) == ["horizon", "n", "mape", "bias", "coverage", "mape_persistence",
                               "bias_persistence", "beats_persistence"]
    assert s.n.tolist() == [6, 6, 6]  # 2 origins x (2 zones + ALL)
    assert s.coverage.between(0, 100).all()


def test_backtest_births_lag_hides_origin_year_births():
    enrolment, births = zoned(10)
    bumped = births.assign(births=np.where(births.year == 2019, births.births * 3, births.births))
    kw = {"origins": [2019], "horizons": [1, 2, 3, 4, 5], "entry_age": 5}
    a = fc.backtest(enrolment, births, births_lag_years=1, **kw)
    b = fc.backtest(enrolment, bumped, births_lag_years=1, **kw)
    pd.testing.assert_series_equal(a.p50, b.p50)  # births of the origin year not yet registered
    c = fc.backtest(enrolment, bumped, **kw)
    g1 = (c.grade == 1) & (c.year == 2024) & (c.zone == "seat")
    assert c[g1].p50.item() == pytest.approx(3 * a[g1].p50.item(), rel=0.1)  # known: entrants of 2024


def test_two_stage_exact():
    series = pd.DataFrame({"year": range(2010, 2016), "intake": [100.0] * 6,
                           "students": [588.0] * 6})
    births = pd.DataFrame({"year": range(2000, 2012), "births": [125.0] * 10 + [150.0, 100.0]})
    out = fc.intake_students_forecast(series, births, horizon_years=2, duration=6)
    assert out.attrs["entry_ratio"] == pytest.approx(0.8)
    assert out.attrs["survival_ratio"] == pytest.approx(0.98)
    assert out.intake.tolist() == pytest.approx([120.0, 80.0])  # births 2010, 2011 x 0.8
    assert out.students.tolist() == pytest.approx([0.98 * 620, 0.98 * 600])


def test_national_backtest_beats_persistence():
    """Measured on MOE 1998-2025 and UN WPP estimates; see benchmarks/RESULTS_forecast.md."""
    series, births = national()
    bt = fc.backtest_intake_students(series, births, origins=range(2005, 2025), horizons=range(1, 11))
    s = fc.summarize_backtest(bt, by=["series", "horizon"]).set_index(["series", "horizon"])
    students = s.loc["students"]
    assert students.loc[2:, "beats_persistence"].all()  # total pupils: every horizon >= 2
    assert students.loc[1, "beats_persistence"]
    intake = s.loc["intake"]
    # intake: clearly better up to 7 years; 8 is a tie (6.3 vs 6.4 %), 9-10 worse (births projected)
    assert intake.loc[1:7, "beats_persistence"].all()
    assert intake.loc[2:6, "mape"].max() < 5.0  # births observed: intake within 5 % on average
    assert students.loc[2:10, "mape"].max() < 6.0


# ----------------------------------------------------------------------------- seat demand


def three_levels() -> tuple[pd.DataFrame, pd.DataFrame]:
    enrolment, births = zoned(8)
    prim = enrolment.assign(level="primary")
    bmap = dict(zip(births.year, births.births, strict=True))
    extra = []
    for zone, share in (("seat", 0.55), ("town", 0.3)):
        for y in range(2017, 2025):
            for g in (1, 2, 3):
                extra.append({"zone": zone, "level": "kindergarten", "year": y, "grade": g,
                              "students": round(bmap[y - 3 - (g - 1)] * share)})
            for g in (7, 8, 9):
                extra.append({"zone": zone, "level": "junior", "year": y, "grade": g,
                              "students": round(bmap[y - 12 - (g - 7)] * share * 1.2)})
    return pd.concat([prim, pd.DataFrame(extra)], ignore_index=True), births


def test_seat_demand_levels_and_chain():
    enrolment, births = three_levels()
    out = fc.seat_demand(enrolment, births, horizon_years=11)
    assert list(out.columns) == ["zone", "level", "grade", "year", "p10", "p50", "p90"]
    assert set(out.level) == {"kindergarten", "primary", "junior"}
    assert out.year.max() == 2035
    assert (out.p10 <= out.p50).all() and (out.p50 <= out.p90).all()
    # chained junior: grade 7 next year = grade 6 this year x the 6->7 ratio
    ratios = fc.fit_ratios(enrolment[enrolment.level.isin(["primary", "junior"])], births,
                           grades=range(1, 10))
    r67 = ratios[(ratios.zone == "seat") & (ratios.grade == 7)].ratio.item()
    seat = enrolment[(enrolment.zone == "seat")].set_index(["level", "year", "grade"]).students
    g7 = out[(out.zone == "seat") & (out.level == "junior") & (out.grade == 7) & (out.year == 2025)]
    assert g7.p50.item() == pytest.approx(seat[("primary", 2024, 6)] * r67)
    by_births = fc.seat_demand(enrolment, births, horizon_years=3, junior_entry="births",
                               levels=["junior"])
    assert set(by_births.level) == {"junior"}


def test_seat_demand_without_zone_and_township_without_junior():
    enrolment, births = three_levels()
    county = enrolment.groupby(["level", "year", "grade"], as_index=False).students.sum()
    out = fc.seat_demand(county, births, horizon_years=2, levels=["primary"])
    assert set(out.zone) == {"county"}
    no_junior = enrolment[~((enrolment.zone == "town") & (enrolment.level == "junior"))]
    out = fc.seat_demand(no_junior, births, horizon_years=3, levels=["primary", "junior"])
    town_junior = out[(out.zone == "town") & (out.level == "junior")]
    assert len(town_junior) == 9 and town_junior.p90.max() == pytest.approx(0.0, abs=1.0)


def test_seat_demand_bad_level():
    enrolment, births = three_levels()
    bad = enrolment.copy()
    bad.loc[3, "level"] = "senior"
    with pytest.raises(SchemaError, match="unknown level") as exc:
        fc.seat_demand(bad, births, horizon_years=2)
    assert 3 in exc.value.rows


# ----------------------------------------------------------------------------- reallocation


def demand_fixture() -> pd.DataFrame:
    enrolment, births = three_levels()
    return fc.seat_demand(enrolment, births, horizon_years=5)


def totals(d: pd.DataFrame) -> pd.DataFrame:
    return d.groupby(["level", "grade", "year"])[["p10", "p50", "p90"]].sum()


def test_urbanisation_shift_keeps_totals_and_compounds():
    d = demand_fixture()
    moved = fc.urbanisation_shift(d, to_zone="seat", rate_per_year=0.1)
    pd.testing.assert_frame_equal(totals(d), totals(moved))
    key = ["zone", "level", "grade", "year"]
    before, after = d.set_index(key), moved.set_index(key)
    assert after.loc[("town", "primary", 3, 2026), "p50"] == pytest.approx(
        before.loc[("town", "primary", 3, 2026), "p50"] * 0.9**2)
    by_level = fc.urbanisation_shift(d, to_zone="seat", rate_per_year={"junior": 0.05})
    assert (by_level.set_index(key).loc["town"].loc["primary"].p50
            == before.loc["town"].loc["primary"].p50).all()
    with pytest.raises(ConfigError, match="not in demand"):
        fc.urbanisation_shift(d, to_zone="nowhere", rate_per_year=0.1)


def test_concentrate_junior_to_county_seat():
    d = demand_fixture()
    out = fc.concentrate(d, to_zone="seat", start_year=2026, ramp_years=2)
    pd.testing.assert_frame_equal(totals(d), totals(out))
    town = out[(out.zone == "town") & (out.level == "junior")].groupby("year").p50.sum()
    orig = d[(d.zone == "town") & (d.level == "junior")].groupby("year").p50.sum()
    assert town[2025] == pytest.approx(orig[2025])
    assert town[2026] == pytest.approx(orig[2026] * 0.5)
    assert town[2027] == pytest.approx(0.0)
    prim = out[(out.zone == "town") & (out.level == "primary")].p50
    assert prim.sum() == pytest.approx(d[(d.zone == "town") & (d.level == "primary")].p50.sum())


# ----------------------------------------------------------------------------- housing, classes, seats


def test_housing_yield_ramp_exact():
    dev = pd.DataFrame({"zone": ["new"], "year": [2026], "residents": [1000]})
    out = fc.housing_yield(dev, occupancy=(1.0,), present_at_move_in=0.5, until_year=2040)
    g1 = out[(out.level == "primary") & (out.grade == 1)].set_index("year").pupils
    per_grade = 1000 * 70 / 1000 / 6
    assert g1[2026] == pytest.approx(per_grade * 0.5)
    assert g1[2029] == pytest.approx(per_grade * (0.5 + 0.5 * 3 / 6))
    assert g1[2032] == pytest.approx(per_grade)
    k1 = out[(out.level == "kindergarten") & (out.grade == 1)].set_index("year").pupils
    assert k1[2029] == pytest.approx(1000 * 0.030 / 3)  # 小班 age 3 matures after 3 years
    dw = fc.housing_yield(pd.DataFrame({"zone": ["new"], "year": [2026], "dwellings": [100]}),
                          pupils_per_dwelling={"primary": 0.3}, occupancy=(0.5, 1.0),
                          present_at_move_in=1.0, until_year=2030)
    assert dw.groupby("year").pupils.sum()[2026] == pytest.approx(15.0)
    assert dw.groupby("year").pupils.sum()[2027] == pytest.approx(30.0)
    with pytest.raises(SchemaError, match="dwellings"):
        fc.housing_yield(pd.DataFrame({"zone": ["a"], "year": [2026]}))


def test_add_extra_pupils():
    d = demand_fixture()
    dev = pd.DataFrame({"zone": ["seat", "newtown"], "year": [2025, 2025], "dwellings": [500, 300]})
    extra = fc.housing_yield(dev, until_year=2029)
    out = fc.add_extra_pupils(d, extra)
    assert set(out.zone) == {"seat", "town", "newtown"}
    added = out.p50.sum() - d.p50.sum()
    assert added == pytest.approx(extra[extra.year.between(2025, 2029)].pupils.sum())
    assert (out.p10 <= out.p50).all()


def test_classes_needed_and_standards_table():
    d = pd.DataFrame({"zone": "a", "level": ["primary", "primary", "kindergarten", "kindergarten", "junior"],
                      "grade": [1, 2, 1, 3, 7], "year": 2025,
                      "p10": [40.0, 45.0, 20.0, 30.0, 99.0], "p50": [45.0, 46.0, 26.0, 36.0, 100.0],
                      "p90": [50.0, 91.0, 30.0, 40.0, 101.0]})
    out = fc.classes_needed(d)
    assert out.classes_p50.tolist() == [1, 2, 2, 2, 2]
    assert out.class_size.tolist() == [45, 45, 25, 35, 50]
    flat = {"primary": 40, "junior": 50, "kindergarten_small": 20, "large_class": 56}
    assert fc.classes_needed(d, class_sizes=flat).classes_p50.tolist() == [2, 2, 2, 2, 2]


def test_seat_balance():
    d = pd.DataFrame({"zone": ["a", "a", "b"], "level": "primary", "grade": [1, 2, 1], "year": 2025,
                      "p10": [80.0, 80.0, 10.0], "p50": [90.0, 95.0, 20.0], "p90": [100.0, 110.0, 30.0]})
    cap = pd.DataFrame({"zone": ["a"], "level": ["primary"], "classes": [4]})
    with pytest.warns(DataWarning, match="b/primary"):
        out = fc.seat_balance(d, cap)
    a = out.set_index("zone").loc["a"]
    assert a.seats == 180 and a.pupils_p50 == 185
    assert a.shortfall_p50 == 5 and a.shortfall_p90 == 30 and a.classes_short_p50 == 1
    assert out.set_index("zone").loc["b"].shortfall_p50 == 20


# ----------------------------------------------------------------------------- bad input


def test_bad_counts_and_grades_name_rows():
    enrolment, births = tiny()
    neg = enrolment.copy()
    neg.loc[4, "students"] = -3
    with pytest.raises(SchemaError, match="negative") as exc:
        fc.cohort_survival(neg, births, horizon_years=1, grades=[1, 2])
    assert list(exc.value.rows) == [4] and exc.value.column == "students"
    frac = enrolment.astype({"students": float})
    frac.loc[2, "students"] = 12.5
    with pytest.warns(DataWarning, match=r"not a whole number of persons in rows 2"):
        fc.fit_ratios(frac, births, grades=[1, 2], min_pairs=1)
    out_of_range = enrolment.copy()
    out_of_range.loc[5, "grade"] = 7
    with pytest.raises(SchemaError, match="grade") as exc:
        fc.cohort_survival(out_of_range, births, horizon_years=1, grades=[1, 2])
    assert list(exc.value.rows) == [5]
    with pytest.raises(SchemaError, match="lacks required column") as exc:
        fc.cohort_survival(enrolment.drop(columns="students"), births, horizon_years=1)
    assert exc.value.column == "students"
    dup = pd.concat([enrolment, enrolment.iloc[[0]]], ignore_index=True)
    with pytest.raises(NonUniqueIdError) as exc:
        fc.cohort_survival(dup, births, horizon_years=1, grades=[1, 2])
    assert set(exc.value.rows) == {0, 6}


def test_missing_years_and_births_coverage():
    enrolment, births = zoned(6)
    gap = enrolment[enrolment.year != 2021]
    with pytest.warns(DataWarning, match=r"missing year\(s\) zone seat 2021"):
        fc.cohort_survival(gap, births, horizon_years=2)
    with pytest.raises(SchemaError, match=r"missing year\(s\) 2010"):
        fc.cohort_survival(enrolment, births[births.year != 2010], horizon_years=2)
    with pytest.raises(SchemaError, match="births start in 2020"):
        fc.cohort_survival(enrolment, births[births.year >= 2020], horizon_years=2)
    late = enrolment[~((enrolment.zone == "town") & (enrolment.year == 2024))]
    with pytest.raises(SchemaError, match="town"):
        fc.cohort_survival(late, births, horizon_years=2)


def test_zone_mismatch_between_births_and_enrolment():
    enrolment, births = zoned(6)
    zb = pd.concat([births.assign(zone=z) for z in ("seat", "town", "ghost")], ignore_index=True)
    with pytest.warns(DataWarning, match="ghost"):
        fc.cohort_survival(enrolment, zb, horizon_years=2)
    with pytest.raises(SchemaError, match=r"no births for enrolment zone\(s\) town"):
        fc.cohort_survival(enrolment, zb[zb.zone == "seat"], horizon_years=2)


def test_short_history_and_zero_denominators_fall_back_to_pooled():
    enrolment, births = zoned(6)
    newzone = enrolment[(enrolment.zone == "town") & (enrolment.year == 2024)].assign(zone="new")
    data = pd.concat([enrolment, newzone], ignore_index=True)
    with pytest.warns(DataWarning, match=r"zone\(s\) new have fewer than 2 usable year"):
        r = fc.fit_ratios(data, births)
    assert r[r.zone == "new"].pooled.all()
    empty = enrolment.copy()
    empty.loc[(empty.zone == "town") & (empty.grade == 3), "students"] = 0  # grade 4 has no feeder
    with pytest.warns(DataWarning, match=r"progression grade 3 → 4: zone\(s\) town"):
        out = fc.cohort_survival(empty, births, horizon_years=3)
    assert np.isfinite(out[["p10", "p50", "p90"]].to_numpy()).all()


def test_bad_parameters():
    enrolment, births = zoned(6)
    with pytest.raises(ConfigError, match="horizon_years"):
        fc.cohort_survival(enrolment, births, horizon_years=0)
    with pytest.raises(ConfigError, match="smoothing"):
        fc.cohort_survival(enrolment, births, horizon_years=2, smoothing=1.5)
    with pytest.raises(ConfigError, match="unknown births scenario"):
        fc.cohort_survival(enrolment, births, horizon_years=2, births_scenario="boom")
    with pytest.raises(ConfigError, match="outside the usable range"):
        fc.backtest(enrolment, births, origins=[2024], horizons=[1])
    with pytest.raises(ConfigError, match="repeats a grade"):
        fc.cohort_survival(enrolment, births, horizon_years=2, grades=[1, 1, 2])
    assert math.isclose(fc.BIRTH_SCENARIOS["high"], 1.1)
