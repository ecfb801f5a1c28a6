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
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from schoolplan.errors import SchemaError

if TYPE_CHECKING:
    from schoolplan.county import County
    from schoolplan.results import LayoutPlan, ReservedLand

__all__ = [
    "BALANCE_INDICATORS",
    "HIGHER_IS_BETTER",
    "INDICATOR_DEFINITIONS",
    "INDICATOR_LABELS",
    "INVESTMENT_ITEMS",
    "LOWER_IS_BETTER",
    "balance_report",
    "capital_cost",
    "class_counts",
    "class_size_counts",
    "coefficient_of_variation",
    "investment",
    "plan_figures",
    "pupils_over_limit",
    "scenario_indicators",
    "school_balance_values",
    "seats_short",
    "travel_figures",
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
    "schools_must_stay": ("其中应留必留", "of which must stay (应留必留)"),
    "schools_expanded": ("扩建学校", "Schools expanded"),
    "schools_merged": ("撤并学校（含改建）", "Schools merged (incl. converted)"),
    "schools_new": ("新建学校", "New schools"),
    "schools_upgraded": ("需改善办学条件的学校", "Schools to upgrade"),
    "pupils": ("义务教育学生", "Compulsory pupils"),
    "pupils_unplaced": ("无法安置学生", "Pupils without a school"),
    "pupils_no_route": ("无道路连通学生", "Pupils with no road route"),
    "pupils_moved": ("转学学生", "Pupils who change school"),
    "pupils_over_limit": ("超过走读时限的学生", "Day pupils over the travel limit"),
    "share_within_limit": ("走读时限内或寄宿学生比例", "Share within the day limit or boarding"),
    "mean_minutes": ("平均单程（分钟）", "Mean one-way minutes"),
    "p95_minutes": ("95%分位单程（分钟）", "95th percentile minutes"),
    "max_minutes": ("最长单程（分钟）", "Longest one-way minutes"),
    "boarders": ("寄宿生", "Boarders"),
    "beds_needed": ("需新增床位", "Beds to add"),
    "buses": ("校车（辆）", "School buses"),
    "buses_to_buy": ("需新购校车（辆）", "Buses to buy"),
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

#: What each indicator means (zh, en): the report's glossary. One definition per number.
INDICATOR_DEFINITIONS: dict[str, tuple[str, str]] = {
    "pupils": ("目标年各乡镇义务教育学生预测数（中位数）之和，按学生现在就读学校的生源村分配。",
               "Target-year forecast pupils (median) of all townships, attached to the villages that attend "
               "each school today."),
    "pupils_unplaced": ("方案无法为其安排学位的学生（接收学校均已满且无新校址）。",
                        "Pupils the plan cannot seat (every reachable receiving school full, no site left)."),
    "pupils_no_route": ("所在村没有道路通往其学校、无法计算单程时间的学生；不计入时限内。",
                        "Pupils whose village has no road route to their school: no travel time, never counted "
                        "as within the limit."),
    "pupils_moved": ("因撤并而转到其他学校的学生。", "Pupils whose school closes and who move to another."),
    "pupils_over_limit": ("每天乘车单程超过其年级段走读时限（1–3年级30分钟，其他年级为校车时限）的走读学生；寄宿生不计。",
                          "Day pupils whose daily one-way ride exceeds the day limit of their grade band "
                          "(grades 1–3: 30 min; others: the bus radius); boarders are not counted."),
    "share_within_limit": ("步行、时限内乘车或寄宿的学生占全部学生的比例。",
                           "Pupils who walk, ride within their day limit or board, as a share of all pupils."),
    "mean_minutes": ("有道路连通的学生单程时间的加权平均（步行或校车）。",
                     "Pupil-weighted mean one-way minutes of pupils with a road route (walking or bus)."),
    "boarders": ("单程超过走读时限、年级允许寄宿的学生。现状以现有床位为限（最远者优先）。",
                 "Pupils beyond their day limit in grades that may board; the status quo is limited to "
                 "today's beds (farthest first)."),
    "beds_needed": ("寄宿生超过现有床位的部分（方案新增）；现状不新增。",
                    "Boarders above a school's beds, to be added by the plan; the status quo adds none."),
    "buses": ("⌈各校乘车走读学生 ÷（座位数×早班趟数）⌉之和。", "Sum over schools of ⌈bus riders / (seats × "
              "morning trips)⌉."),
    "buses_to_buy": ("方案所需校车超过现状基年所需校车的部分；现状不新购。",
                     "Buses the plan needs above those the base-year status quo needs; the status quo buys none."),
    "classes_added": ("保留和接收学校按标准班额所需班数超过现有班数的部分（整班）；现状不新建。",
                      "Whole classrooms a school that stays needs above its classes today to seat its pupils at "
                      "the standard class size; the status quo builds none."),
    "classes_large": ("按学校平均班额估计的≥56人班级数。", "Classes of 56 or more, estimated from each school's mean "
                      "class size."),
    "seats_short_primary": ("目标年各校学生超过其标准学位的部分，加上无法安置的学生（全县合计）。",
                            "Target-year pupils above each school's standard seats plus pupils without a school "
                            "(county total)."),
    "seats_short_kindergarten": ("目标年各乡镇幼儿园适龄儿童预测超过幼儿园学位的部分之和。",
                                 "Target-year kindergarten-age children above kindergarten seats, summed over "
                                 "townships."),
    "land_m2_primary": ("预留用地章节：服务半径内的学位缺口所需用地（与全县学位缺口不同）。",
                        "Reserved land: land for the seats short within the walking service radius of homes "
                        "(not the county-wide seat shortfall)."),
    "capital_cost_wan": ("新增教室、床位、校车、办学条件改善和新建学校的投资之和（按标准单价）。",
                         "Sum of classrooms, beds, buses to buy, upgrades and new schools at standard unit costs."),
    "teachers_surplus": ("在编教师减去按师生比所需教师（撤并学校全部教师计入富余）。",
                         "Teachers on staff minus teachers needed at the pupil-teacher ratios (all teachers of "
                         "closed schools count as surplus)."),
}

#: Indicators where a larger value is better (for highlighting the best scenario).
HIGHER_IS_BETTER = {"share_within_limit", "kindergarten_public_share", "kindergarten_inclusive_share",
                    "teachers_surplus", "cv_primary_pass", "cv_junior_pass"}
#: Indicators where a smaller value is better; the others (counts of schools, pupils) are not ranked.
LOWER_IS_BETTER = {"pupils_over_limit", "pupils_unplaced", "pupils_no_route", "mean_minutes", "p95_minutes",
                   "max_minutes", "beds_needed", "buses", "buses_to_buy", "classes_added", "classes_over_standard",
                   "classes_large", "classes_very_large", "seats_short_kindergarten", "seats_short_primary",
                   "seats_short_junior", "capital_cost_wan", "cv_primary_max", "cv_junior_max"}

_OPEN = ("keep", "expand", "new")


def _weighted_quantile(m: np.ndarray, w: np.ndarray, q: float) -> float:
    if not len(m) or w.sum() <= 0:
        return float("nan")
    order = np.argsort(m, kind="stable")
    cw = np.cumsum(w[order]) / w.sum()
    return float(m[order][min(np.searchsorted(cw, q), len(m) - 1)])


def pupils_over_limit(assignment: pd.DataFrame) -> int:
    """Day pupils riding longer than their band's day limit (the ``over_limit`` rows)."""
    return int(assignment.loc[assignment["over_limit"].astype(bool), "pupils"].sum())


def travel_figures(assignment: pd.DataFrame) -> dict[str, float]:
    """Mean, 95th percentile and longest one-way minutes of pupils with a road route."""
    a = assignment[assignment["mode"].isin(["walk", "bus", "boarding"]) & assignment["minutes"].notna()]
    m, w = a["minutes"].to_numpy(float), a["pupils"].to_numpy(float)
    return {"mean_minutes": float((m * w).sum() / w.sum()) if w.sum() > 0 else float("nan"),
            "p95_minutes": _weighted_quantile(m, w, 0.95),
            "max_minutes": float(m.max()) if len(m) else float("nan")}


def plan_figures(
    schools: pd.DataFrame,
    assignment: pd.DataFrame,
    params: Mapping[str, Any],
    *,
    buses_today: int,
    county: County | None = None,
) -> dict[str, Any]:
    """Headline numbers of a layout plan (``LayoutPlan.summary``): the one place they are computed.

    Parameters
    ----------
    schools, assignment
        The plan's tables.
    params
        The plan's rules and mode (``mode``, ``bus_minutes``).
    buses_today
        Buses the base-year status quo needs (the fleet the plan starts from).
    county
        For the schools before the plan (by level).

    Returns
    -------
    dict
        Whole numbers for counts; see :data:`INDICATOR_DEFINITIONS`.
    """
    a = assignment
    active = schools[schools["decision"].isin(_OPEN)]
    status_quo = params.get("mode") == "status_quo"
    routed_ok = a["mode"].isin(["walk", "bus", "boarding"]) & ~a["over_limit"].astype(bool)
    total = int(a["pupils"].sum())
    buses = int(schools["buses"].sum())
    before = {}
    if county is not None:
        s = county.schools
        from schoolplan.schema import COMPULSORY_LEVELS

        before = s[(s["status"] == "open") & s["level"].isin(COMPULSORY_LEVELS)].groupby("level").size().to_dict()
    out: dict[str, Any] = {
        "schools_before": {k: int(v) for k, v in before.items()},
        "schools_after": {k: int(v) for k, v in active.groupby("level").size().items()},
        "decisions": {k: int(v) for k, v in schools.groupby("decision").size().items()},
        "pupils": total,
        "pupils_placed": int(a.loc[a["mode"] != "unserved", "pupils"].sum()),
        "pupils_unplaced": int(a.loc[a["mode"] == "unserved", "pupils"].sum()),
        "pupils_no_route": int(a.loc[a["mode"] == "no_route", "pupils"].sum()),
        "pupils_moved": int(a.loc[a["moved"].astype(bool), "pupils"].sum()),
        "pupils_over_limit": pupils_over_limit(a),
        "share_within_limit": float(a.loc[routed_ok, "pupils"].sum() / total) if total else float("nan"),
        **travel_figures(a),
        "boarders": int(schools["boarders"].sum()),
        "beds_needed": int(schools["beds_needed"].sum()),
        "buses": buses,
        "buses_today": int(buses_today),
        "buses_to_buy": 0 if status_quo else max(0, buses - int(buses_today)),
        "classes_added": int(schools["classes_added"].sum()),
        "new_schools": int((schools["decision"] == "new").sum()),
        "merged": int(schools["decision"].isin(["merge", "convert"]).sum()),
        "vacated": int(schools["decision"].isin(["merge", "convert", "vacant"]).sum()),
        "must_keep": int(schools["reason_zh"].astype(str).str.startswith("应留必留").sum()),
        "upgrades": int(schools["upgrade"].astype(bool).sum()) if "upgrade" in schools else 0,
        "teachers_needed": int(schools["teachers_needed"].sum()),
        "teachers_on_staff": int(schools["teachers_on_staff"].sum()),
        "teachers_surplus": int(schools["teacher_surplus"].sum()),
        "infeasible_pupils": int(a.loc[a["mode"] == "unserved", "pupils"].sum()),
        "bus_minutes": params.get("bus_minutes"),
    }
    return out


#: Items of the investment estimate (key → zh, en, quantity key in the plan summary, unit-cost key).
INVESTMENT_ITEMS: dict[str, tuple[str, str, str, str]] = {
    "classrooms": ("新增教室", "Classrooms", "classes_added", "classroom_wan"),
    "beds": ("新增寄宿床位", "Boarding beds", "beds_needed", "bed_wan"),
    "buses": ("新购校车", "Buses to buy", "buses_to_buy", "bus_wan"),
    "upgrades": ("改善办学条件", "School upgrades", "upgrades", "upgrade_school_wan"),
    "new_schools": ("新建学校", "New schools", "new_schools", "new_school_wan"),
}


def investment(summary: Mapping[str, Any], costs: Mapping[str, float]) -> pd.DataFrame:
    """The capital investment of a plan, item by item (万元).

    Parameters
    ----------
    summary
        ``LayoutPlan.summary`` (quantities; the status quo's are all 0).
    costs
        Unit costs (``LayoutPlan.params["costs"]``: ``classroom_wan``, ``bed_wan``,
        ``bus_wan``, ``upgrade_school_wan``, ``new_school_wan``).

    Returns
    -------
    pandas.DataFrame
        Indexed by item: ``label_zh``, ``label_en``, ``quantity`` (int),
        ``unit_cost_wan``, ``cost_wan``.
    """
    rows = []
    for key, (zh, en, qty, unit) in INVESTMENT_ITEMS.items():
        q = int(summary.get(qty, 0) or 0)
        u = float(costs.get(unit, 0.0))
        rows.append({"item": key, "label_zh": zh, "label_en": en, "quantity": q, "unit_cost_wan": u,
                     "cost_wan": q * u})
    return pd.DataFrame(rows).set_index("item")


def capital_cost(summary: Mapping[str, Any], costs: Mapping[str, float]) -> float:
    """Capital cost estimate of a plan, 万元: the total of :func:`investment`."""
    return float(investment(summary, costs)["cost_wan"].sum())


def class_counts(plan: LayoutPlan, standards: Mapping[str, Any]) -> dict[str, int]:
    """Classes above the standard size, 大班额 and 超大班额 in the plan's target year.

    Each school's pupils after the plan are spread evenly over its classes after the
    plan (the status quo: today's classes); the limit is the school's standard
    seats per class.
    """
    s = plan.schools[plan.schools["decision"].isin(_OPEN) & (plan.schools["classes_after"] > 0)]
    cs = standards["class_size"]
    out = {"over_limit": 0, "large": 0, "very_large": 0}
    for _sid, row in s.iterrows():
        limit = int(np.floor(row["capacity_after"] / row["classes_after"] + 1e-9))
        c = class_size_counts([row["students_after"]], [row["classes_after"]], limit=limit,
                              large=cs["large_class"], very_large=cs["very_large_class"])
        for k in out:
            out[k] += c[k]
    return out


def seats_short(county: County, plan: LayoutPlan, demand: pd.DataFrame, year: int) -> dict[str, int]:
    """Seats short per stage in ``year``: the one definition of the seat shortfall.

    Primary and junior: for every school open after the plan, its pupils above its
    standard seats (``capacity_after``), split by stage in proportion to its pupils,
    plus the pupils the plan cannot place. Kindergarten: per township, forecast
    children (p50) above the kindergarten seats (``capacity_seats``, else classes ×
    the mixed-class size), summed. Whole seats (largest remainder).
    """
    from schoolplan.schema import BANDS

    out = {"primary": 0.0, "junior": 0.0}
    a = plan.assignment
    stage = a["band"].map({b: spec["stage"] for b, spec in BANDS.items()})
    load = a[a["mode"] != "unserved"].assign(stage=stage).groupby(["school_id", "stage"])["pupils"].sum()
    active = plan.schools[plan.schools["decision"].isin(_OPEN)]
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
    res = {k: round(v) for k, v in out.items()}
    d = demand[(demand["year"] == year) & (demand["level"] == "kindergarten")].groupby("zone")["p50"].sum()
    kg = county.schools[(county.schools["status"] == "open") & (county.schools["level"] == "kindergarten")]
    size = float(plan.params.get("kindergarten_class_size", 30))
    fallback = pd.to_numeric(kg["classes"], errors="coerce").fillna(0).astype(float) * size if "classes" in kg \
        else pd.Series(0.0, index=kg.index)
    seats = pd.to_numeric(kg["capacity_seats"], errors="coerce").fillna(fallback) if "capacity_seats" in kg \
        else fallback
    cap = seats.groupby(kg["township_id"]).sum()
    res["kindergarten"] = round(sum(max(0.0, v - float(cap.get(tw, 0.0))) for tw, v in d.items()))
    return res


def _share(kg: pd.DataFrame, owners: tuple[str, ...]) -> float:
    """Share of kindergarten children in kindergartens of the given ownership (NaN when unknown)."""
    if "ownership" not in kg or kg["ownership"].isna().all():
        return float("nan")
    kids = pd.to_numeric(kg["students"], errors="coerce")
    known = kg["ownership"].notna() & kids.notna()
    if not known.any() or kids[known].sum() <= 0:
        return float("nan")
    return round(float(kids[known & kg["ownership"].isin(owners)].sum() / kids[known].sum()), 4)


def scenario_indicators(
    county: County,
    plan: LayoutPlan,
    reserved: ReservedLand | None,
    demand: pd.DataFrame,
    standards: Mapping[str, Any],
    *,
    target_year: int,
) -> pd.Series:
    """One row of indicators for a scenario (keys of :data:`INDICATOR_LABELS`).

    Every figure comes from one function (:func:`plan_figures`, :func:`seats_short`,
    :func:`investment`, :func:`class_counts`, :func:`balance_report`); a figure the
    inputs cannot support is NaN (shown as "—").

    Parameters
    ----------
    county, plan, reserved, demand
        The scenario's county, :class:`~schoolplan.results.LayoutPlan`,
        :class:`~schoolplan.results.ReservedLand` (or None) and seat forecast.
    standards
        Norms (class sizes, 优质均衡 thresholds).
    target_year
        Year of the seat balance.

    Returns
    -------
    pandas.Series
    """
    s = plan.schools
    summ = plan.summary
    active = s[s["decision"].isin(_OPEN)]
    classes = class_counts(plan, standards)
    short = seats_short(county, plan, demand, target_year) if target_year in set(demand["year"]) or \
        target_year == getattr(county, "base_year", None) else {}
    capital = capital_cost(summ, plan.params.get("costs", {}))
    have_balance = [c for c, *_ in BALANCE_INDICATORS.values() if c in county.schools
                    and county.schools[c].notna().any()]
    row: dict[str, Any] = {
        "schools_primary": int(active["level"].isin(["primary", "nine_year"]).sum()),
        "schools_teaching_point": int((active["level"] == "teaching_point").sum()),
        "schools_junior": int(active["level"].isin(["junior", "nine_year"]).sum()),
        "schools_kept": int((s["decision"] == "keep").sum()),
        "schools_must_stay": int(summ.get("must_keep", 0)),
        "schools_expanded": int((s["decision"] == "expand").sum()),
        "schools_merged": int(s["decision"].isin(["merge", "convert"]).sum()),
        "schools_new": int((s["decision"] == "new").sum()),
        "schools_upgraded": int(summ.get("upgrades", 0)),
        "pupils": int(summ["pupils"]),
        "pupils_unplaced": int(summ["pupils_unplaced"]),
        "pupils_no_route": int(summ["pupils_no_route"]),
        "pupils_moved": int(summ["pupils_moved"]),
        "pupils_over_limit": int(summ["pupils_over_limit"]),
        "share_within_limit": round(summ["share_within_limit"], 4),
        "mean_minutes": round(summ["mean_minutes"], 1),
        "p95_minutes": round(summ["p95_minutes"], 1),
        "max_minutes": round(summ["max_minutes"], 1),
        "boarders": int(summ["boarders"]),
        "beds_needed": int(summ["beds_needed"]),
        "buses": int(summ["buses"]),
        "buses_to_buy": int(summ["buses_to_buy"]),
        "classes_added": int(summ["classes_added"]),
        "classes_over_standard": classes["over_limit"],
        "classes_large": classes["large"],
        "classes_very_large": classes["very_large"],
        "seats_short_kindergarten": short.get("kindergarten", np.nan),
        "seats_short_primary": short.get("primary", np.nan),
        "seats_short_junior": short.get("junior", np.nan),
        "teachers_needed": int(summ["teachers_needed"]),
        "teachers_surplus": int(summ["teachers_surplus"]),
        "vacated_buildings": int(summ["vacated"]),
        "capital_cost_wan": round(float(capital), 1),
        "cv_primary_max": np.nan, "cv_junior_max": np.nan, "cv_primary_pass": np.nan, "cv_junior_pass": np.nan,
    }
    if have_balance:
        # 优质均衡: resources per pupil of the schools that stay, with their pupils after the plan;
        # small schools are left out of the coefficients (standards: cv_exclude_below_pupils).
        bs = active[["level", "students_after"]].join(county.schools[have_balance], how="left")
        bs["students"] = bs["students_after"]
        bal = balance_report(bs, standards, exclude_below=int(standards["balance"]["cv_exclude_below_pupils"]))
        for lv in ("primary", "junior"):
            b = bal[(bal.level == lv) & bal["cv"].notna()]
            if len(b):
                row[f"cv_{lv}_max"] = round(float(b["cv"].max()), 3)
                row[f"cv_{lv}_pass"] = int(b["cv_pass"].astype(bool).sum())
    for lv in ("kindergarten", "primary", "junior"):
        row[f"land_m2_{lv}"] = round(float(reserved.summary.get(f"land_m2_{lv}", 0.0))) if reserved else np.nan
    kg = county.schools[(county.schools["status"] == "open") & (county.schools["level"] == "kindergarten")]
    row["kindergarten_public_share"] = _share(kg, ("public",))
    row["kindergarten_inclusive_share"] = _share(kg, ("public", "inclusive_private"))
    return pd.Series({k: row[k] for k in INDICATOR_LABELS})
