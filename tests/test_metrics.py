"""Metrics: the worked 差异系数 example, class-size counts, balance report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schoolplan.metrics import (
    balance_report,
    class_size_counts,
    coefficient_of_variation,
    school_balance_values,
)
from schoolplan.standards import load_standards


def test_worked_cv_example_from_the_calculation_note() -> None:
    # Five primaries, enrolments 45/37/89/76/55 (total 302), books per pupil; published:
    # county mean 6.33, weighted squared deviations 10.65, S = 3.26, CV = 0.52.
    enrol = np.array([45, 37, 89, 76, 55])
    books = np.array([6.20, 3.70, 10.51, 2.11, 7.31])
    p = enrol / enrol.sum()
    mean = (p * books).sum()
    assert mean == pytest.approx(6.33, abs=0.01)  # the note truncates 6.3368 to 6.33
    assert (p * (books - mean) ** 2).sum() == pytest.approx(10.65, abs=0.01)
    assert round(np.sqrt((p * (books - mean) ** 2).sum()), 2) == 3.26
    assert round(coefficient_of_variation(books, enrol), 2) == 0.52


@given(st.lists(st.floats(0.1, 100), min_size=2, max_size=20), st.floats(0.1, 10))
def test_cv_scale_invariant_and_equal_values_zero(values: list[float], k: float) -> None:
    x = np.array(values)
    w = np.arange(1, len(x) + 1)
    assert coefficient_of_variation(x * k, w) == pytest.approx(coefficient_of_variation(x, w), rel=1e-9, abs=1e-12)
    assert coefficient_of_variation(np.full(len(x), 3.0), w) == pytest.approx(0.0, abs=1e-12)


def test_class_size_counts_even_split() -> None:
    # 113 pupils in 2 classes → 56 + 57: both 大班额, none 超大; 132 in 2 → 66+66 both 超大
    c = class_size_counts([113, 132, 90, 10], [2, 2, 2, 0], limit=45)
    assert c == {"classes": 6, "over_limit": 4, "large": 4, "very_large": 2, "no_class_with_pupils": 1}
    assert class_size_counts([91], [2], limit=45)["over_limit"] == 1  # 45 + 46


def test_balance_report_thresholds() -> None:
    schools = pd.DataFrame({
        "level": ["primary", "primary", "junior", "nine_year"],
        "students": [400, 100, 600, 300],
        "teachers_qualified": [20, 5, 40, 18], "teachers_key": [4, 1, 6, 3], "teachers_pe_art": [4, 1, 6, 3],
        "teaching_rooms_m2": [2000, 300, 4000, 1800], "sports_area_m2": [3200, 600, 7000, 3000],
        "equipment_yuan": [900000, 150000, 1600000, 700000], "multimedia_rooms": [10, 2, 15, 8],
    })
    vals = school_balance_values(schools)
    assert vals.loc[0, "teachers_qualified_per100"] == pytest.approx(5.0)
    assert vals.loc[1, "teaching_rooms_m2_per_pupil"] == pytest.approx(3.0)
    rep = balance_report(schools, load_standards())
    assert len(rep) == 14 and set(rep["level"]) == {"primary", "junior"}
    row = rep[(rep.level == "primary") & (rep.indicator == "teaching_rooms_m2_per_pupil")].iloc[0]
    assert row["schools"] == 3 and row["schools_below"] == 1 and row["threshold"] == 4.5
    assert row["cv_threshold"] == 0.50 and bool(row["cv_pass"])
