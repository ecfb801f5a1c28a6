"""Indicators: class sizes (大班额), 优质均衡 resources and their 差异系数, scenario rows.

The 差异系数 (coefficient of variation between schools) follows 教督〔2017〕6号 and
its published calculation note: with enrolments :math:`P_i`, :math:`P=\\sum P_i`
and indicator values :math:`X_i`,

.. math::

    \\bar X = \\sum_i \\frac{P_i}{P} X_i, \\qquad
    S = \\sqrt{\\sum_i \\frac{P_i}{P} (X_i - \\bar X)^2}, \\qquad
    CV = S / \\bar X .

Thresholds: ≤ 0.50 for primary and ≤ 0.45 for junior, for each of the seven
indicators separately; each school must meet ≥ 6 of the 7 per-pupil thresholds,
and any failed one at ≥ 85 % of its threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from schoolplan.errors import SchemaError

__all__ = [
    "BALANCE_INDICATORS",
    "balance_report",
    "class_size_counts",
    "coefficient_of_variation",
    "school_balance_values",
]

#: indicator key → (numerator column, per: "pupil" or "100", zh label, en label)
BALANCE_INDICATORS: dict[str, tuple[str, str, str, str]] = {
    "teachers_qualified_per100": ("teachers_qualified", "100", "每百名学生拥有高于规定学历教师数",
                                  "Qualified teachers per 100 pupils"),
    "teachers_key_per100": ("teachers_key", "100", "每百名学生拥有县级以上骨干教师数",
                            "Key teachers per 100 pupils"),
    "teachers_pe_art_per100": ("teachers_pe_art", "100", "每百名学生拥有体育、艺术专任教师数",
                               "PE and art teachers per 100 pupils"),
    "teaching_rooms_m2_per_pupil": ("teaching_rooms_m2", "pupil", "生均教学及辅助用房面积",
                                    "Teaching rooms m² per pupil"),
    "sports_area_m2_per_pupil": ("sports_area_m2", "pupil", "生均体育运动场馆面积",
                                 "Sports area m² per pupil"),
    "equipment_yuan_per_pupil": ("equipment_yuan", "pupil", "生均教学仪器设备值",
                                 "Equipment yuan per pupil"),
    "multimedia_rooms_per100": ("multimedia_rooms", "100", "每百名学生拥有网络多媒体教室数",
                                "Multimedia classrooms per 100 pupils"),
}


def coefficient_of_variation(values: ArrayLike, weights: ArrayLike | None = None) -> float:
    """Enrolment-weighted coefficient of variation (差异系数).

    Parameters
    ----------
    values
        Indicator value per school (e.g. m² per pupil).
    weights
        Enrolment per school; equal weights when omitted.

    Returns
    -------
    float
        ``S / mean`` with the enrolment-weighted mean and standard deviation
        (population form, weights ``P_i / P``); NaN when the mean is 0 or no
        school has weight.

    Examples
    --------
    The worked example of the calculation note (five primaries, books per pupil):

    >>> round(coefficient_of_variation([6.20, 3.70, 10.51, 2.11, 7.31], [45, 37, 89, 76, 55]), 2)
    0.52
    """
    x = np.asarray(values, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    if x.shape != w.shape:
        raise SchemaError("values and weights differ in length", fix="give one weight per school")
    if (w < 0).any() or np.isnan(w).any():
        raise SchemaError("weights (enrolment) must be non-negative numbers", fix="check the enrolment column")
    ok = ~np.isnan(x) & (w > 0)
    if not ok.any():
        return float("nan")
    p = w[ok] / w[ok].sum()
    mean = float((p * x[ok]).sum())
    if mean == 0:
        return float("nan")
    sd = float(np.sqrt((p * (x[ok] - mean) ** 2).sum()))
    return sd / mean


def class_size_counts(
    students: ArrayLike,
    classes: ArrayLike,
    *,
    limit: int,
    large: int = 56,
    very_large: int = 66,
) -> dict[str, int]:
    """Count classes above the limit, 大班额 (≥ large) and 超大班额 (≥ very_large).

    Pupils of a grade (or school) are assumed spread as evenly as possible over
    its classes (sizes ⌊n/c⌋ and ⌈n/c⌉), the way schools form classes.

    Parameters
    ----------
    students, classes
        Pupils and classes per grade or school (same length).
    limit
        Standard class size (45 primary, 50 junior).
    large, very_large
        Thresholds of 大班额 and 超大班额 (国发〔2016〕40号: 56 and 66).

    Returns
    -------
    dict
        ``classes``, ``over_limit``, ``large``, ``very_large`` counts, and
        ``no_class_with_pupils`` (units with pupils but zero classes).
    """
    n = np.asarray(students, dtype=float)
    c = np.asarray(classes, dtype=float)
    valid = ~np.isnan(n) & ~np.isnan(c)
    n, c = n[valid], c[valid]
    zero = (c <= 0) & (n > 0)
    n, c = n[c > 0], c[c > 0]
    lo = np.floor(n / c)
    n_hi = n - lo * c  # classes with lo + 1 pupils
    n_lo = c - n_hi

    def count(threshold: float) -> int:
        return int(((lo >= threshold) * n_lo + (lo + 1 >= threshold) * n_hi).sum())

    return {"classes": int(c.sum()), "over_limit": count(limit + 1), "large": count(large),
            "very_large": count(very_large), "no_class_with_pupils": int(zero.sum())}


def school_balance_values(schools: pd.DataFrame) -> pd.DataFrame:
    """Per-school values of the seven 优质均衡 resource indicators.

    Parameters
    ----------
    schools
        Schools with ``students`` and the resource columns (``teachers_qualified``,
        ``teachers_key``, ``teachers_pe_art``, ``teaching_rooms_m2``,
        ``sports_area_m2``, ``equipment_yuan``, ``multimedia_rooms``); missing
        columns give NaN indicators.

    Returns
    -------
    pandas.DataFrame
        Same index, one column per indicator key of :data:`BALANCE_INDICATORS`.
    """
    pupils = schools["students"].astype(float).where(schools["students"] > 0)
    out = pd.DataFrame(index=schools.index)
    for key, (col, per, _zh, _en) in BALANCE_INDICATORS.items():
        if col not in schools:
            out[key] = np.nan
            continue
        v = schools[col].astype(float) / pupils
        out[key] = v * 100 if per == "100" else v
    return out


def balance_report(
    schools: pd.DataFrame,
    standards: Mapping[str, Any],
    *,
    exclude_below: int = 0,
) -> pd.DataFrame:
    """差异系数 per level and indicator against the 优质均衡 thresholds.

    Nine-year schools count in both the primary and the junior pool, split by
    their grade shares when ``students_primary``/``students_junior`` columns exist,
    else entirely in both (a documented simplification). Teaching points join the
    primary pool.

    Parameters
    ----------
    schools
        Open schools with ``level``, ``students`` and resource columns.
    standards
        Norms (``standards["balance"]``) from :func:`schoolplan.standards.load_standards`.
    exclude_below
        Leave out schools with fewer pupils (e.g. 50: Hebei excludes small teaching points).

    Returns
    -------
    pandas.DataFrame
        Rows ``level, indicator, label_zh, label_en, cv, cv_threshold, cv_pass,
        mean, threshold, schools_below, schools``.
    """
    bal = standards["balance"]
    pools = {
        "primary": schools[schools["level"].isin(["primary", "teaching_point", "nine_year"])],
        "junior": schools[schools["level"].isin(["junior", "nine_year"])],
    }
    rows = []
    for level, pool in pools.items():
        pool = pool[pool["students"].fillna(0) > max(exclude_below - 1, 0)]
        values = school_balance_values(pool)
        for key, (_col, _per, zh, en) in BALANCE_INDICATORS.items():
            x = values[key]
            threshold = float(bal["thresholds"][level][key])
            ok = x.notna()
            cv = coefficient_of_variation(x[ok], pool.loc[ok, "students"]) if ok.any() else float("nan")
            w = pool.loc[ok, "students"].astype(float)
            mean = float((x[ok] * w).sum() / w.sum()) if ok.any() and w.sum() > 0 else float("nan")
            cv_max = float(bal[f"cv_{level}"])
            rows.append({
                "level": level, "indicator": key, "label_zh": zh, "label_en": en,
                "cv": cv, "cv_threshold": cv_max, "cv_pass": bool(cv <= cv_max) if not np.isnan(cv) else None,
                "mean": mean, "threshold": threshold,
                "schools_below": int((x[ok] < threshold).sum()), "schools": int(ok.sum()),
            })
    return pd.DataFrame(rows)
