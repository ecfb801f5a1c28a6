"""控辍保学 底数: children of each compulsory age against pupils of that grade, cohort by cohort.

Notation: base year :math:`Y`, grade :math:`g = 1 … 9` taught at age :math:`a = g + 5`
(:data:`schoolplan.schema.STAGE_ENTRY_AGES`), township :math:`t`.

Children
    :math:`C_{t,a}(Y)` is the villages' population of age :math:`a` (``age_a`` columns)
    summed over township :math:`t`. Earlier years are carried back along the birth
    cohort: :math:`\\mu_{t,a} = C_{t,a}(Y) / B_{t,Y-a}` is what survival and net migration
    made of the births :math:`B` of the cohort now aged :math:`a`, and
    :math:`C_{t,a}(y) = B_{t,y-a}\\,\\mu_{t,a}` (the same age pattern of migration in every
    year). Without births or age columns the children are unknown (NaN), never guessed.
Pupils
    :math:`P_{t,g}(y)`, enrolled in grade :math:`g` at the schools of township :math:`t`
    (``enrolment`` joined to ``schools.township_id``). Township figures mix residence and
    school location: pupils who attend a school in another township (进城读书, junior
    schools at the county seat) count where they study. The county row is free of that.
Cohort retention
    Following one cohort from grade :math:`g-1` in year :math:`y-1` to grade :math:`g` in
    :math:`y`, the county's children of the cohort change by
    :math:`m_a = \\mu_a / \\mu_{a-1}` (births cancel: both counts are of the same birth
    year). The expected pupils are :math:`E = P_{g-1}(y-1)\\, m_a` and the cohort's
    shortfall :math:`D = \\max(0, E - P_g(y))`. A shortfall is *suspected out of school*
    (疑似辍学, to be checked school by school, 核查) when
    :math:`D > \\max(d_0, s_0 E)` with the tolerances of the standards
    (``[enrolment_tracking]``). Repeaters, pupils leaving for schools outside the county
    and registration errors also make a shortfall: the figure says where to look.
九年义务教育巩固率
    :math:`R(y) = P_9(y) / P_1(y-8)`: the pupils of grade 9 against the first-grade
    entrants of the same cohort eight years before (county; official definition, not
    corrected for migration); the migration-corrected rate divides by
    :math:`\\mu_{14} / \\mu_{6}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from schoolplan.schema import COMPULSORY_LEVELS, STAGE_ENTRY_AGES, STAGE_GRADES

if TYPE_CHECKING:
    from schoolplan.county import County

__all__ = [
    "COMPULSORY_GRADES",
    "COUNTY",
    "children_by_age",
    "cohort_retention",
    "cohort_table",
    "consolidation_rate",
    "pupils_by_grade",
]

#: Grades of compulsory education (1–9), from the schema's stages.
COMPULSORY_GRADES: tuple[int, ...] = (*STAGE_GRADES["primary"], *STAGE_GRADES["junior"])
#: Key of the county-wide rows in the township column.
COUNTY = "ALL"
_ENTRY_AGE = STAGE_ENTRY_AGES["primary"]


def _age(grade: int) -> int:
    return grade + _ENTRY_AGE - 1


def pupils_by_grade(county: County) -> pd.DataFrame:
    """Pupils of compulsory grades by township, year and grade (county rows ``"ALL"``).

    Returns
    -------
    pandas.DataFrame
        ``township_id, year, grade, pupils`` (int); empty without an enrolment table.
    """
    e = getattr(county, "enrolment", None)
    cols = ["township_id", "year", "grade", "pupils"]
    if e is None or not len(e):
        return pd.DataFrame(columns=cols)
    e = e[e["level"].isin(COMPULSORY_LEVELS) & e["grade"].isin(COMPULSORY_GRADES)]
    tw = county.schools["township_id"] if "township_id" in county.schools else pd.Series(dtype=object)
    e = e.assign(township_id=e["school_id"].astype(str).map(tw.rename(index=str)).fillna("?"))
    by_t = e.groupby(["township_id", "year", "grade"], as_index=False)["students"].sum()
    total = e.groupby(["year", "grade"], as_index=False)["students"].sum().assign(township_id=COUNTY)
    out = pd.concat([by_t, total], ignore_index=True).rename(columns={"students": "pupils"})
    out["pupils"] = out["pupils"].astype(int)
    return out[cols]


def _births(county: County) -> pd.DataFrame:
    b = getattr(county, "births", None)
    if b is None or not len(b) or "township_id" not in b:
        return pd.DataFrame(columns=["township_id", "year", "births"])
    b = b.groupby(["township_id", "year"], as_index=False)["births"].sum()
    total = b.groupby("year", as_index=False)["births"].sum().assign(township_id=COUNTY)
    return pd.concat([b, total], ignore_index=True)


def children_by_age(county: County, years: Any = None) -> pd.DataFrame:
    """Children of each compulsory age by township and year (module docs: :math:`C_{t,a}(y)`).

    Parameters
    ----------
    county
        A :class:`schoolplan.County` (villages with ``age_6 … age_14`` and
        ``township_id``; births by township and year for earlier years).
    years
        Years to estimate (default: the enrolment years and the base year).

    Returns
    -------
    pandas.DataFrame
        ``township_id, year, age, grade, children`` (float; NaN when the inputs do not
        give it) and ``migration`` (:math:`\\mu_{t,a}`).
    """
    base = int(county.base_year)
    v = county.villages
    ages = [_age(g) for g in COMPULSORY_GRADES]
    cols = [f"age_{a}" for a in ages]
    if years is None:
        e = getattr(county, "enrolment", None)
        years = sorted({base, *([] if e is None or not len(e) else e["year"].unique().tolist())})
    rows = []
    if "township_id" not in v or not set(cols) <= set(v.columns):
        return pd.DataFrame(columns=["township_id", "year", "age", "grade", "children", "migration"])
    now = v.groupby("township_id")[cols].sum(min_count=1)
    now.loc[COUNTY] = v[cols].sum(min_count=1)
    births = _births(county).set_index(["township_id", "year"])["births"]
    for t, row in now.iterrows():
        for g, a in zip(COMPULSORY_GRADES, ages, strict=True):
            c_now = float(row[f"age_{a}"])
            b_now = births.get((t, base - a), np.nan)
            mu = c_now / b_now if b_now and b_now > 0 else np.nan
            for y in years:
                if y == base:
                    c = c_now
                else:
                    b = births.get((t, int(y) - a), np.nan)
                    c = float(b) * mu  # NaN when the cohort's births are not given
                rows.append({"township_id": t, "year": int(y), "age": a, "grade": g, "children": c,
                             "migration": mu})
    return pd.DataFrame(rows)


def cohort_table(county: County) -> pd.DataFrame:
    """Children of each compulsory age against pupils of that grade, by township and year.

    Returns
    -------
    pandas.DataFrame
        ``township_id, year, grade, age, children, pupils, enrolment_rate`` (``pupils /
        children``; NaN when the children are unknown). County rows have
        ``township_id == "ALL"``.
    """
    p = pupils_by_grade(county)
    years = sorted(set(p["year"]) | {int(county.base_year)}) if len(p) else [int(county.base_year)]
    c = children_by_age(county, years)
    if not len(c):
        c = pd.DataFrame(columns=["township_id", "year", "age", "grade", "children", "migration"])
    out = c.merge(p, on=["township_id", "year", "grade"], how="outer")
    out["age"] = out["grade"].map(_age)
    out["pupils"] = out["pupils"].fillna(0).astype(int)
    out["children"] = out["children"].astype(float)
    out["enrolment_rate"] = np.where(out["children"] > 0, out["pupils"] / out["children"].where(out["children"] > 0), np.nan)
    out = out[out["year"].isin(p["year"].unique()) | (out["year"] == int(county.base_year))]
    return out[["township_id", "year", "grade", "age", "children", "pupils", "enrolment_rate"]].sort_values(
        ["township_id", "year", "grade"]).reset_index(drop=True)


def cohort_retention(county: County, standards: Mapping[str, Any]) -> pd.DataFrame:
    """Grade-to-grade retention of each cohort and suspected out-of-school pupils (county).

    Parameters
    ----------
    county
        The county (enrolment of at least two consecutive years).
    standards
        Norms; ``standards["enrolment_tracking"]`` gives ``tolerance_pupils`` (:math:`d_0`)
        and ``tolerance_share`` (:math:`s_0`).

    Returns
    -------
    pandas.DataFrame
        One row per year and grade 2–9 whose cohort was enrolled the year before:
        ``year, grade, entry_year`` (year the cohort entered grade 1), ``birth_year``,
        ``pupils_before`` (grade − 1, year − 1), ``pupils``, ``retention_rate``,
        ``migration_rate`` (:math:`m_a`; NaN without children or births: then the
        expected pupils assume no migration), ``expected``, ``shortfall`` (:math:`D`)
        and ``suspected`` (pupils suspected out of school: :math:`D` when above the
        tolerance, else 0).
    """
    tol = standards.get("enrolment_tracking", {})
    d0 = float(tol.get("tolerance_pupils", 5))
    s0 = float(tol.get("tolerance_share", 0.02))
    p = pupils_by_grade(county)
    p = p[p["township_id"] == COUNTY].set_index(["year", "grade"])["pupils"]
    mig = children_by_age(county, [int(county.base_year)])
    mig = mig[mig["township_id"] == COUNTY].set_index("grade")["migration"]
    rows = []
    for (y, g), now in p.items():
        if g == COMPULSORY_GRADES[0] or (y - 1, g - 1) not in p.index:
            continue
        before = int(p[(y - 1, g - 1)])
        m = float(mig.get(g, np.nan) / mig.get(g - 1, np.nan)) if g in mig and g - 1 in mig else np.nan
        expected = before * (m if np.isfinite(m) and m > 0 else 1.0)
        short = max(0.0, expected - now)
        rows.append({"year": int(y), "grade": int(g), "entry_year": int(y - g + 1), "birth_year": int(y - _age(g)),
                     "pupils_before": before, "pupils": int(now),
                     "retention_rate": now / before if before else np.nan, "migration_rate": m,
                     "expected": round(expected, 1), "shortfall": round(short, 1),
                     "suspected": round(short) if short > max(d0, s0 * expected) else 0})
    cols = ["year", "grade", "entry_year", "birth_year", "pupils_before", "pupils", "retention_rate",
            "migration_rate", "expected", "shortfall", "suspected"]
    return pd.DataFrame(rows, columns=cols).sort_values(["year", "grade"]).reset_index(drop=True)


def consolidation_rate(county: County) -> pd.DataFrame:
    """九年义务教育巩固率 and 初中三年巩固率 by year (county; module docs: :math:`R(y)`).

    Returns
    -------
    pandas.DataFrame
        One row per year with grade-9 pupils: ``year, graduates`` (grade 9), ``entrants``
        (grade 1 eight years before), ``nine_year_rate``, ``migration_adjusted_rate``,
        ``junior_entrants`` (grade 7 two years before) and ``junior_rate``; NaN where the
        enrolment does not reach back far enough.
    """
    first, last = COMPULSORY_GRADES[0], COMPULSORY_GRADES[-1]
    junior_first = STAGE_GRADES["junior"][0]
    p = pupils_by_grade(county)
    p = p[p["township_id"] == COUNTY].set_index(["year", "grade"])["pupils"]
    mig = children_by_age(county, [int(county.base_year)])
    mig = mig[mig["township_id"] == COUNTY].set_index("grade")["migration"]
    m = float(mig.get(last, np.nan) / mig.get(first, np.nan)) if len(mig) else np.nan
    rows = []
    for (y, g), grads in p.items():
        if g != last:
            continue
        entrants = p.get((y - (last - first), first), np.nan)
        junior = p.get((y - (last - junior_first), junior_first), np.nan)
        rate = grads / entrants if entrants and entrants == entrants else np.nan
        rows.append({"year": int(y), "graduates": int(grads), "entrants": entrants, "nine_year_rate": rate,
                     "migration_adjusted_rate": rate / m if np.isfinite(m) and m > 0 else np.nan,
                     "junior_entrants": junior,
                     "junior_rate": grads / junior if junior and junior == junior else np.nan})
    return pd.DataFrame(rows, columns=["year", "graduates", "entrants", "nine_year_rate", "migration_adjusted_rate",
                                       "junior_entrants", "junior_rate"])
