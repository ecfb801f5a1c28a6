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
    "HIGHER_IS_BETTER",
    "INDICATOR_LABELS",
    "LOWER_IS_BETTER",
    "balance_report",
    "capital_cost",
    "class_size_counts",
    "coefficient_of_variation",
    "scenario_indicators",
    "school_balance_values",
    "seats_short",
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


#: Labels of the scenario indicators (key → (zh, en)), in display order.
INDICATOR_LABELS: dict[str, tuple[str, str]] = {
    "schools_primary": ("小学（含九年制）数", "Primary schools (incl. nine-year)"),
    "schools_teaching_point": ("教学点数", "Teaching points"),
    "schools_junior": ("初中（含九年制）数", "Junior schools (incl. nine-year)"),
    "schools_kept": ("保留学校", "Schools kept"),
    "schools_expanded": ("扩建学校", "Schools expanded"),
    "schools_merged": ("撤并学校（含改建）", "Schools merged (incl. converted)"),
    "schools_new": ("新建学校", "New schools"),
    "pupils": ("义务教育学生", "Compulsory pupils"),
    "pupils_over_limit": ("校车单程超时学生", "Pupils over the bus limit"),
    "share_within_limit": ("校车时限内学生比例", "Share within the bus limit"),
    "mean_minutes": ("平均单程（分钟）", "Mean one-way minutes"),
    "p95_minutes": ("95%分位单程（分钟）", "95th percentile minutes"),
    "max_minutes": ("最长单程（分钟）", "Longest one-way minutes"),
    "boarders": ("寄宿生", "Boarders"),
    "beds_needed": ("需新增床位", "Beds to add"),
    "buses": ("校车（辆）", "School buses"),
    "classes_added": ("需新增班级（教室）", "Classrooms to build"),
    "classes_over_standard": ("超标准班额班级", "Classes above 45/50"),
    "classes_large": ("大班额（≥56人）", "Large classes (≥56)"),
    "classes_very_large": ("超大班额（≥66人）", "Very large classes (≥66)"),
    "seats_short_kindergarten": ("目标年幼儿园学位缺口", "Kindergarten seats short (target year)"),
    "seats_short_primary": ("目标年小学学位缺口", "Primary seats short (target year)"),
    "seats_short_junior": ("目标年初中学位缺口", "Junior seats short (target year)"),
    "land_m2_kindergarten": ("幼儿园预留用地（㎡）", "Kindergarten land to reserve (m²)"),
    "land_m2_primary": ("小学预留用地（㎡）", "Primary land to reserve (m²)"),
    "land_m2_junior": ("初中预留用地（㎡）", "Junior land to reserve (m²)"),
    "kindergarten_public_share": ("公办园在园幼儿占比", "Public kindergarten share"),
    "kindergarten_inclusive_share": ("普惠性幼儿园覆盖率", "Inclusive (普惠) share"),
    "teachers_needed": ("需要教师", "Teachers needed"),
    "teachers_surplus": ("富余教师（可调配）", "Surplus teachers (redeployable)"),
    "vacated_buildings": ("闲置校舍", "Vacated buildings"),
    "capital_cost_wan": ("投资估算（万元）", "Capital cost estimate (10k yuan)"),
    "cv_primary_max": ("小学最大差异系数", "Largest primary CV"),
    "cv_junior_max": ("初中最大差异系数", "Largest junior CV"),
    "cv_primary_pass": ("小学达标指标数（/7）", "Primary CV indicators passing (of 7)"),
    "cv_junior_pass": ("初中达标指标数（/7）", "Junior CV indicators passing (of 7)"),
}

#: Indicators where a larger value is better (for highlighting the best scenario).
HIGHER_IS_BETTER = {"share_within_limit", "kindergarten_public_share", "kindergarten_inclusive_share",
                    "teachers_surplus", "cv_primary_pass", "cv_junior_pass"}
#: Indicators where a smaller value is better; the others (counts of schools, pupils) are not ranked.
LOWER_IS_BETTER = {"pupils_over_limit", "mean_minutes", "p95_minutes", "max_minutes", "beds_needed", "buses",
                   "classes_added", "classes_over_standard", "classes_large", "classes_very_large",
                   "seats_short_kindergarten", "seats_short_primary", "seats_short_junior", "capital_cost_wan",
                   "cv_primary_max", "cv_junior_max"}


def _class_counts_now(county: Any, standards: Mapping[str, Any]) -> dict[str, int]:
    e = county.enrolment
    e = e[(e["year"] == e["year"].max()) & e["level"].isin(["primary", "junior"])]
    if "classes" not in e or e["classes"].isna().all():
        s = county.schools[(county.schools["status"] == "open") & county.schools["level"].isin(
            ["primary", "teaching_point", "nine_year", "junior"])]
        e = pd.DataFrame({"level": s["level"].replace({"teaching_point": "primary", "nine_year": "primary"}),
                          "students": s["students"], "classes": s["classes"]})
    cs = standards["class_size"]
    out = {"over_limit": 0, "large": 0, "very_large": 0}
    for level, limit in (("primary", cs["primary"]), ("junior", cs["junior"])):
        sub = e[e["level"] == level]
        c = class_size_counts(sub["students"], sub["classes"], limit=limit, large=cs["large_class"],
                              very_large=cs["very_large_class"])
        for k in out:
            out[k] += c[k]
    return out


def _class_counts_plan(plan: Any, standards: Mapping[str, Any]) -> dict[str, int]:
    s = plan.schools[plan.schools["decision"].isin(["keep", "expand", "new"]) & (plan.schools["classes_after"] > 0)]
    cs = standards["class_size"]
    out = {"over_limit": 0, "large": 0, "very_large": 0}
    for _sid, row in s.iterrows():
        # each school's own standard: seats per class after the plan (45, 50, 30 or a nine-year mix)
        limit = int(np.floor(row["capacity_after"] / row["classes_after"] + 1e-9))
        c = class_size_counts([row["students_after"]], [row["classes_after"]], limit=limit,
                              large=cs["large_class"], very_large=cs["very_large_class"])
        for k in out:
            out[k] += c[k]
    return out


def seats_short(county: Any, plan: Any, demand: pd.DataFrame, year: int) -> dict[str, float]:
    """Seats short per level in ``year``.

    Primary and junior: for every school of the plan, the target-year pupils it is
    assigned above its seats after the plan (``capacity_after``), plus pupils the
    plan cannot place; nine-year schools are split by the bands they serve.
    Kindergarten: per township, forecast children (p50) above the kindergarten
    seats (``capacity_seats``), summed.
    """
    out = {"primary": 0.0, "junior": 0.0}
    a = plan.assignment
    stage = a["band"].map({"lower": "primary", "upper": "primary", "junior": "junior"})
    load = a[a["mode"] != "unserved"].assign(stage=stage).groupby(["school_id", "stage"])["pupils"].sum()
    active = plan.schools[plan.schools["decision"].isin(["keep", "expand", "new"])]
    for sid, row in active.iterrows():
        if sid not in load.index.get_level_values(0):
            continue
        parts = load.loc[sid]
        total = float(parts.sum())
        over = max(0.0, total - float(row["capacity_after"]))
        for st, p in parts.items():
            out[str(st)] += over * float(p) / total if total else 0.0
    unserved = a[a["mode"] == "unserved"].assign(stage=stage).groupby("stage")["pupils"].sum()
    for st, p in unserved.items():
        out[str(st)] += float(p)
    d = demand[(demand["year"] == year) & (demand["level"] == "kindergarten")].groupby("zone")["p50"].sum()
    kg = county.schools[(county.schools["status"] == "open") & (county.schools["level"] == "kindergarten")]
    fallback = kg["classes"].fillna(0).astype(float) * 30 if "classes" in kg else pd.Series(0.0, index=kg.index)
    seats = kg["capacity_seats"].astype(float).fillna(fallback) if "capacity_seats" in kg else fallback
    cap = seats.groupby(kg["township_id"]).sum()  # classes × 30 (mixed-age class) when seats are not given
    out["kindergarten"] = float(sum(max(0.0, v - float(cap.get(tw, 0.0))) for tw, v in d.items()))
    return out


def capital_cost(summary: Mapping[str, Any], costs: Mapping[str, float]) -> float:
    """Capital cost estimate of a plan, 万元: classrooms, new schools, beds and buses.

    Parameters
    ----------
    summary
        ``LayoutPlan.summary`` (``classes_added``, ``new_schools``, ``beds_needed``, ``buses``).
    costs
        Unit costs in 万元 (``classroom_wan``, ``new_primary_24_wan`` or ``new_school_wan``,
        ``boarding_bed_wan`` or ``bed_wan``, ``bus_wan``), e.g. ``standards["costs"]``.

    Returns
    -------
    float
    """
    return float(summary["classes_added"] * costs.get("classroom_wan", 0.0)
                 + summary["new_schools"] * costs.get("new_primary_24_wan", costs.get("new_school_wan", 0.0))
                 + summary["beds_needed"] * costs.get("boarding_bed_wan", costs.get("bed_wan", 0.0))
                 + summary["buses"] * costs.get("bus_wan", 0.0))


def scenario_indicators(
    county: Any,
    plan: Any,
    reserved: Any,
    demand: pd.DataFrame,
    standards: Mapping[str, Any],
    *,
    target_year: int,
) -> pd.Series:
    """One row of indicators for a scenario (keys of :data:`INDICATOR_LABELS`).

    Parameters
    ----------
    county, plan, reserved, demand
        The scenario's county, :class:`~schoolplan.results.LayoutPlan`,
        :class:`~schoolplan.results.ReservedLand` (or None) and seat forecast.
    standards
        Norms (class sizes, 优质均衡 thresholds, costs).
    target_year
        Year of the seat balance.

    Returns
    -------
    pandas.Series
    """
    s = plan.schools
    summ = plan.summary
    active = s[s["decision"].isin(["keep", "expand", "new"])]
    status_quo = plan.params.get("mode") == "status_quo"
    classes = _class_counts_now(county, standards) if status_quo else _class_counts_plan(plan, standards)
    short = seats_short(county, plan, demand, target_year) if target_year in set(demand["year"]) else {}
    capital = capital_cost(plan.summary, standards["costs"] | dict(plan.params.get("costs", {})))
    # 优质均衡: resources per pupil of the schools that stay, with their pupils after the plan
    # (today's pupils in the status quo); schools under 50 pupils are left out (Hebei rule).
    balance_schools = active[["level", "students_before", "students_after"]].join(
        county.schools[[c for c, *_ in BALANCE_INDICATORS.values() if c in county.schools]], how="left")
    balance_schools["students"] = balance_schools["students_before" if status_quo else "students_after"]
    bal = balance_report(balance_schools, standards, exclude_below=50)
    row: dict[str, Any] = {
        "schools_primary": int(active["level"].isin(["primary", "nine_year"]).sum()),
        "schools_teaching_point": int((active["level"] == "teaching_point").sum()),
        "schools_junior": int(active["level"].isin(["junior", "nine_year"]).sum()),
        "schools_kept": int((s["decision"] == "keep").sum()),
        "schools_expanded": int((s["decision"] == "expand").sum()),
        "schools_merged": int(s["decision"].isin(["merge", "convert"]).sum()),
        "schools_new": int((s["decision"] == "new").sum()),
        "pupils": round(summ["pupils"]),
        "pupils_over_limit": round(summ["pupils_over_limit"]),
        "share_within_limit": round(summ["share_within_limit"], 4),
        "mean_minutes": round(summ["mean_minutes"], 1),
        "p95_minutes": round(summ["p95_minutes"], 1),
        "max_minutes": round(summ["max_minutes"], 1),
        "boarders": round(summ["boarders"]),
        "beds_needed": int(summ["beds_needed"]),
        "buses": int(summ["buses"]),
        "classes_added": int(summ["classes_added"]),
        "classes_over_standard": classes["over_limit"],
        "classes_large": classes["large"],
        "classes_very_large": classes["very_large"],
        "seats_short_kindergarten": round(short.get("kindergarten", np.nan)),
        "seats_short_primary": round(short.get("primary", np.nan)),
        "seats_short_junior": round(short.get("junior", np.nan)),
        "teachers_needed": int(summ["teachers_needed"]),
        "teachers_surplus": int(summ["teachers_surplus"]),
        "vacated_buildings": int(summ["vacated"]),
        "capital_cost_wan": round(float(capital), 1),
        "cv_primary_max": round(float(bal.loc[bal.level == "primary", "cv"].max()), 3),
        "cv_junior_max": round(float(bal.loc[bal.level == "junior", "cv"].max()), 3),
        "cv_primary_pass": int(bal.loc[bal.level == "primary", "cv_pass"].fillna(False).astype(bool).sum()),
        "cv_junior_pass": int(bal.loc[bal.level == "junior", "cv_pass"].fillna(False).astype(bool).sum()),
    }
    for lv in ("kindergarten", "primary", "junior"):
        row[f"land_m2_{lv}"] = round(float(reserved.summary.get(f"land_m2_{lv}", 0.0))) if reserved else np.nan
    kg = county.schools[(county.schools["status"] == "open") & (county.schools["level"] == "kindergarten")]
    kids = float(kg["students"].fillna(0).sum())
    row["kindergarten_public_share"] = round(float(kg.loc[kg["ownership"] == "public", "students"].sum()) / kids, 4) \
        if kids else np.nan
    row["kindergarten_inclusive_share"] = round(float(kg.loc[kg["ownership"].isin(["public", "inclusive_private"]),
                                                             "students"].sum()) / kids, 4) if kids else np.nan
    return pd.Series({k: row[k] for k in INDICATOR_LABELS})
