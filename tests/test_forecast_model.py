"""Forecast model on synthetic districts with known truth: ratios, count breaks, intervals.

Every district is generated from known entry and progression ratios (and known noise),
so the tests check recovery, not just that something runs.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schoolplan import forecast as fc
from schoolplan.errors import ConfigError, DataWarning
from schoolplan.forecast.births import robust_line
from schoolplan.forecast.intervals import band_scales, t_quantile
from schoolplan.standards import load_standards

# the synthetic counts are exact (fractional) cohort arithmetic on purpose
pytestmark = pytest.mark.filterwarnings("ignore:.*not a whole number of persons:schoolplan.errors.DataWarning")

ENTRY = {"seat": 0.62, "east": 0.41, "west": 0.30}
PROG = {"seat": [1.04, 1.03, 1.02, 1.03, 1.01], "east": [0.97, 0.98, 0.96, 0.97, 0.99],
        "west": [1.00, 0.99, 1.01, 0.98, 0.97]}


def district(*, years: range = range(2000, 2025), noise: float = 0.0, seed: int = 0,
             zones: tuple[str, ...] = ("seat", "east", "west")) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Grades 1–6 from births at 6 with the ratios above and lognormal noise of sd ``noise`` per step."""
    rng = np.random.default_rng(seed)
    first = years.start - 15
    b_years = np.arange(first, years.stop)
    births = 1000 * np.exp(-0.02 * (b_years - first)) * (1 + 0.05 * np.sin(b_years / 2.0))
    rows = []
    for z in zones:
        counts = np.zeros((len(years), 6))
        for i, y in enumerate(years):
            counts[i, 0] = ENTRY[z] * births[y - 6 - first] * np.exp(rng.normal(0, noise))
            for g in range(1, 6):
                prev = counts[i - 1, g - 1] if i else ENTRY[z] * births[y - 6 - g - first] * np.prod(PROG[z][: g - 1])
                counts[i, g] = prev * PROG[z][g - 1] * np.exp(rng.normal(0, noise))
        for i, y in enumerate(years):
            for g in range(6):
                rows.append({"zone": z, "year": y, "grade": g + 1, "students": counts[i, g]})
    e = pd.DataFrame(rows)
    return e, pd.DataFrame({"year": b_years, "births": births})


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return fn(*args, **kwargs)


# ----------------------------------------------------------------------------- ratios


def test_true_ratios_recovered_exactly_without_noise():
    e, b = district()
    r = fc.fit_ratios(e, b)
    for z in ENTRY:
        zr = r[r.zone == z].set_index("grade")
        assert zr.loc[1, "ratio"] == pytest.approx(ENTRY[z], rel=1e-9)
        assert zr.loc[2:, "ratio"].to_numpy() == pytest.approx(PROG[z], rel=1e-9)
    assert set(r.n_years[r.transition == "progression"]) == {5}  # the window
    assert set(r.n_years[r.transition == "entry"]) == {10}


def test_true_ratios_recovered_within_noise():
    e, b = district(noise=0.02, seed=3)
    r = quiet(fc.fit_ratios, e, b)
    for z in ENTRY:
        zr = r[r.zone == z].set_index("grade")
        # 2 % noise per year, averaged over 5 (progression) or 10 (entry) years
        assert zr.loc[1, "ratio"] == pytest.approx(ENTRY[z], rel=0.03)
        assert zr.loc[2:, "ratio"].to_numpy() == pytest.approx(PROG[z], rel=0.04)


def test_windows_and_weights():
    e, b = district()
    r_all = fc.fit_ratios(e, b, progression_window=None, entry_window=None)
    assert set(r_all.n_years[r_all.transition == "progression"]) == {24}
    assert set(r_all.n_years[r_all.transition == "entry"]) == {25}
    # a ratio that changed in 2022: a 3-year window weighted to recent years follows it
    moved = e.assign(students=np.where((e.year >= 2022) & (e.grade == 2), e.students * 1.05, e.students))
    moved = moved.assign(students=np.where((moved.year >= 2023) & (moved.grade == 3),
                                           moved.students * 1.05, moved.students))
    r3 = fc.fit_ratios(moved, b, progression_window=3, smoothing=0.5, break_threshold=None)
    assert set(r3.n_years[r3.transition == "progression"]) == {3}
    seat = r3[(r3.zone == "seat") & (r3.grade == 2)].ratio.item()
    assert seat == pytest.approx(PROG["seat"][0] * 1.05, rel=1e-6)  # 2022, 2023, 2024 all moved
    with pytest.raises(ConfigError, match="progression_window"):
        fc.fit_ratios(e, b, progression_window=0)
    with pytest.raises(ConfigError, match="break_threshold"):
        fc.fit_ratios(e, b, break_threshold=-0.1)


# ----------------------------------------------------------------------------- count breaks


def test_planted_spike_is_found_and_bridged():
    e, b = district()
    spiked = e.assign(students=np.where(e.year == 2020, e.students * 1.12, e.students))
    found = fc.detect_breaks(spiked, grades=range(1, 7))
    spikes = found[found.kind == "spike"]
    assert set(spikes.year) == {2020} and set(spikes.zone) == set(ENTRY)
    assert spikes.change_pct.to_numpy() == pytest.approx(12.0, abs=1.5)
    r = fc.fit_ratios(spiked, b)
    for z in ENTRY:  # bridged with two-year cohort ratios: the truth comes back exactly
        assert r[(r.zone == z) & (r.grade > 1)].ratio.to_numpy() == pytest.approx(PROG[z], rel=1e-9)
    fcst = quiet(fc.cohort_forecast, spiked, b, horizon_years=3)
    notes = fcst.diagnostics
    assert (notes.kind == "count_break").sum() == 3
    assert notes[notes.kind == "count_break"].year.tolist() == [2020] * 3
    with pytest.warns(DataWarning, match=r"count break in 2020 \(zone east, spike"):
        fc.cohort_survival(spiked, b, horizon_years=1)


def test_planted_level_shift_is_found_and_left_out():
    e, b = district()
    shift = e.assign(students=np.where(e.year >= 2021, e.students * 1.10, e.students))
    found = fc.detect_breaks(shift, grades=range(1, 7))
    assert found[["year", "kind"]].drop_duplicates().values.tolist() == [[2021, "shift"]]
    r = fc.fit_ratios(shift, b)
    naive = fc.fit_ratios(shift, b, break_threshold=None)
    prog = r[r.grade > 1].ratio.to_numpy()
    truth = np.concatenate([PROG[z] for z in sorted(ENTRY)])
    assert prog == pytest.approx(truth, rel=1e-9)  # 2021's pairs left out
    # without detection the one-off jump sits in every ratio (≈ +10 % / 5 years each)
    assert naive[naive.grade > 1].ratio.to_numpy() == pytest.approx(truth * 1.10 ** 0.2, rel=2e-3)


def test_break_in_one_zone_does_not_spread_and_last_year_jump_is_unconfirmed():
    e, b = district()
    one = e.assign(students=np.where((e.zone == "east") & (e.year == 2018), e.students * 0.85, e.students))
    found = fc.detect_breaks(one, grades=range(1, 7))
    assert found[["zone", "year", "kind"]].values.tolist() == [["east", 2018, "spike"]]
    last = e.assign(students=np.where(e.year == 2024, e.students * 1.08, e.students))
    found = fc.detect_breaks(last, grades=range(1, 7))
    assert set(found.kind) == {"unconfirmed"} and set(found.year) == {2024}
    out = quiet(fc.cohort_forecast, last, b, horizon_years=2)
    assert (out.diagnostics.kind == "jump_unconfirmed").any()
    r = out.ratios
    assert r[(r.zone == "seat") & (r.grade > 1)].ratio.to_numpy() == pytest.approx(PROG["seat"], rel=1e-9)


def test_explicit_break_years():
    e, _ = district(noise=0.004, seed=1)
    small = e.assign(students=np.where(e.year >= 2019, e.students * 1.02, e.students))  # below τ = 3 %
    assert fc.detect_breaks(small, grades=range(1, 7)).empty
    listed = fc.detect_breaks(small, grades=range(1, 7), break_years=[2019])
    assert set(listed.year) == {2019} and set(listed.kind) == {"shift"}
    per_zone = fc.detect_breaks(small, grades=range(1, 7), break_years={"west": [2019]})
    assert per_zone[["zone", "year"]].values.tolist() == [["west", 2019]]
    with pytest.raises(ConfigError, match="not in the enrolment"):
        fc.detect_breaks(small, grades=range(1, 7), break_years={"north": [2019]})


# ----------------------------------------------------------------------------- intervals


def test_coverage_on_district_with_known_noise():
    e, b = district(noise=0.03, seed=11, years=range(1990, 2025))
    bt = quiet(fc.backtest, e, b, origins=range(2004, 2024), horizons=range(1, 6))
    grades = fc.summarize_backtest(bt[bt.scope == "grade"]).set_index("horizon")
    totals = fc.summarize_backtest(bt[bt.scope == "total"]).set_index("horizon")
    assert 70 <= bt[bt.scope == "grade"].pipe(lambda g: ((g.p10 <= g.actual) & (g.actual <= g.p90)).mean() * 100) <= 90
    assert grades.coverage.between(60, 95).all()
    assert totals.coverage.mean() >= 60
    # the band of a grade at h = 1 matches the noise: q ≈ 1.28 σ (σ = 3 % per year, ratios estimated)
    g1 = bt[(bt.scope == "grade") & (bt.horizon == 1) & (bt.cell == "carried")]
    q = np.log((g1.p90 + 1) / (g1.p50 + 1))
    assert q.median() == pytest.approx(1.2816 * 0.03, rel=0.35)


def test_short_history_is_reported_as_data():
    e, b = district(years=range(2019, 2025))  # six years: four past origins to learn the errors from
    with pytest.warns(DataWarning, match="past origin"):
        out = fc.cohort_forecast(e, b, horizon_years=3)
    row = out.diagnostics[out.diagnostics.kind == "short_history"]
    assert len(row) == 1 and row.value.item() < 5
    long = quiet(fc.cohort_forecast, *district(years=range(2010, 2025)), horizon_years=3)
    assert not (long.diagnostics.kind == "short_history").any()


def test_band_scales_student_t_and_extrapolation():
    # two origins, one zone, one grade, errors 0.1 and 0.2 at h = 1, none at h = 2
    err = np.full((2, 2, 1, 1), np.nan)
    err[:, 0, 0, 0] = [0.1, 0.2]
    ctype = np.where(np.isfinite(err), 0, -1).astype(np.int8)
    q, fallback = band_scales(err, ctype, target=5, origins=np.array([0, 1]), n_types=1)
    q80 = np.quantile([0.1, 0.2], 0.8)
    assert not fallback
    assert q[0, 0, 0, 0] == pytest.approx(q80 * t_quantile(2.0) / 1.2815515655446004)
    assert q[0, 1, 0, 0] == pytest.approx(2 * q[0, 0, 0, 0])  # ∝ h beyond the reach of the history
    q, fallback = band_scales(np.full((1, 3, 1, 1), np.nan), np.full((1, 3, 1, 1), -1, np.int8), target=5,
                              origins=np.array([0]), n_types=1)
    assert fallback and q[0, :, 0, 0] == pytest.approx(1.2815515655446004 * 0.05 * np.sqrt([1, 2, 3]))


def test_t_quantile_matches_scipy():
    from scipy.special import stdtrit

    df = np.array([1, 2, 3, 4, 7, 12, 30, 31, 40, 75, 200, 5000])
    assert t_quantile(df) == pytest.approx(stdtrit(df, 0.9), abs=2e-5)
    assert t_quantile(np.inf) == pytest.approx(1.2815515655446004)


@settings(max_examples=25, deadline=None)
@given(a=st.floats(-5, 5), b=st.floats(-0.5, 0.5), n=st.integers(2, 12))
def test_robust_line_exact_on_lines(a, b, n):
    x = np.arange(-n + 1, 1, dtype=float)
    fa, fb = robust_line(x, (a + b * x)[None, :])
    assert fa[0] == pytest.approx(a, abs=1e-7) and fb[0] == pytest.approx(b, abs=1e-7)


def test_robust_line_resists_one_spike():
    x = np.arange(-5, 1, dtype=float)
    z = 7.0 - 0.05 * x
    z[2] += 0.4  # a dragon year
    a, b = robust_line(x, z[None, :])
    ols = np.polyfit(x, z, 1)
    assert abs(b[0] + 0.05) < abs(ols[0] + 0.05) / 5
    assert a[0] == pytest.approx(7.0, abs=0.01)


# ----------------------------------------------------------------------------- seat demand as data


def three_stages() -> tuple[pd.DataFrame, pd.DataFrame]:
    e, b = district(years=range(2012, 2025))
    prim = e.assign(level="primary")
    rows = []
    bmap = dict(zip(b.year, b.births, strict=True))
    for z in ENTRY:
        for y in range(2012, 2025):
            for g in (1, 2, 3):
                rows.append({"zone": z, "level": "kindergarten", "year": y, "grade": g,
                             "students": round(bmap[y - 3 - (g - 1)] * 0.5)})
            for g in (7, 8, 9):
                rows.append({"zone": z, "level": "junior", "year": y, "grade": g,
                             "students": round(bmap[y - 12 - (g - 7)] * 0.45)})
    return pd.concat([prim, pd.DataFrame(rows)], ignore_index=True), b


def test_seat_forecast_returns_frames_with_diagnostics():
    e, b = three_stages()
    newzone = e[(e.zone == "west") & (e.year == 2024)].assign(zone="new")
    data = pd.concat([e, newzone], ignore_index=True)
    with pytest.warns(DataWarning, match=r"zone\(s\) new have fewer than 2 usable year"):
        sf = fc.seat_forecast(data, b, horizon_years=6)
    assert list(sf.demand.columns) == ["zone", "level", "grade", "year", "p10", "p50", "p90"]
    pd.testing.assert_frame_equal(sf.demand, quiet(fc.seat_demand, data, b, horizon_years=6))
    assert list(sf.totals.columns) == ["zone", "level", "year", "p10", "p50", "p90"]
    assert set(sf.totals.zone) == {"seat", "east", "west", "new", "ALL"}
    tot = sf.totals.set_index(["zone", "level", "year"])
    summed = sf.demand.groupby(["zone", "level", "year"]).p50.sum()
    assert tot.loc[summed.index, "p50"].to_numpy() == pytest.approx(summed.to_numpy())
    assert (tot.p10 <= tot.p50).all() and (tot.p50 <= tot.p90).all()
    d = sf.diagnostics
    assert list(d.columns) == ["kind", "level", "zone", "year", "grade", "value", "detail", "message"]
    pooled = d[d.kind == "pooled_ratio"]
    assert set(pooled.zone) == {"new"} and set(pooled.level) == {"primary+junior", "kindergarten"}
    assert d.year.dtype == "Int64"
    r = sf.ratios
    assert r.grade.dtype == np.int64
    assert set(r[r.zone == "new"].pooled) == {True}
    assert r[(r.zone == "seat") & (r.level == "junior") & (r.grade == 7)].grade_from.item() == 6


def test_class_sizes_come_from_the_standards():
    std = load_standards()
    assert fc.DEFAULT_CLASS_SIZES["primary"] == std["class_size"]["primary"]
    assert fc.DEFAULT_CLASS_SIZES["junior"] == std["class_size"]["junior"]
    assert dict(fc.DEFAULT_CLASS_SIZES["kindergarten"]) == {
        1: std["class_size"]["kindergarten_small"], 2: std["class_size"]["kindergarten_middle"],
        3: std["class_size"]["kindergarten_large"]}
    local = load_standards(overrides={"class_size": {"primary": 40}})
    d = pd.DataFrame({"zone": "a", "level": "primary", "grade": [1], "year": 2025,
                      "p10": [80.0], "p50": [81.0], "p90": [90.0]})
    assert fc.classes_needed(d).classes_p50.item() == 2  # 81 / 45
    assert fc.classes_needed(d, standards=local).classes_p50.item() == 3  # 81 / 40
    assert fc.DEFAULT_PUPILS_PER_1000["primary"] == std["housing_yield"]["per_1000_residents"]["primary"]
    assert std["housing_yield"]["persons_per_dwelling"] == fc.DEFAULT_PERSONS_PER_DWELLING


def test_no_scikit_learn_in_the_hot_path():
    code = ("import sys, warnings; warnings.simplefilter('ignore');"
            "import pandas as pd; from schoolplan import forecast as fc;"
            "e = pd.DataFrame({'year': [2020, 2020, 2021, 2021, 2022, 2022, 2023, 2023], 'grade': [1, 2] * 4,"
            " 'students': [100, 90, 110, 95, 105, 104, 99, 100]});"
            "b = pd.DataFrame({'year': range(2010, 2024), 'births': range(200, 214)});"
            "fc.cohort_forecast(e, b, horizon_years=12, grades=[1, 2]);"
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
