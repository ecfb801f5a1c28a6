"""控辍保学 and 优质均衡 for readers: the report section, XLSX sheets, GIS layers, dossier lines.

Every figure is read from :func:`schoolplan.readiness.county_inspection` (the county
today) and from each scenario's :class:`~schoolplan.results.Readiness`; nothing is
computed here but formatting. Labels are bilingual (``lang="zh"`` or ``"en"``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from schoolplan.fmt import DASH, is_missing, number
from schoolplan.i18n import local_names
from schoolplan.metrics import BALANCE_INDICATORS
from schoolplan.readiness import COUNTY, RISK_KINDS
from schoolplan.results import ScenarioResult
from schoolplan.schema import SCHOOLS

if TYPE_CHECKING:
    from schoolplan.county import County

__all__ = ["RESOURCE_LABELS", "SHEET_LABELS", "dossier_risk", "inspect_tables", "readiness_layers",
           "readiness_sheets", "readiness_view"]

#: Resource columns → (zh, en) labels (from the schema).
RESOURCE_LABELS: dict[str, tuple[str, str]] = {
    c: (SCHOOLS.column(c).zh, SCHOOLS.column(c).description.split(" (")[0])
    for c, *_ in BALANCE_INDICATORS.values()
}

#: Column headers of the readiness sheets → (zh, en).
SHEET_LABELS: dict[str, tuple[str, str]] = {
    "scenario": ("方案", "Scenario"), "township_id": ("乡镇代码", "Township id"), "township": ("乡镇", "Township"),
    "year": ("学年", "School year"), "grade": ("年级", "Grade"), "age": ("年龄", "Age"),
    "children": ("适龄儿童（估算）", "Children of that age (estimate)"), "pupils": ("在校生", "Pupils"),
    "enrolment_rate": ("在校生/适龄儿童", "Pupils per child"),
    "entry_year": ("入学年份（一年级）", "Year the cohort entered grade 1"), "birth_year": ("出生年份", "Birth year"),
    "pupils_before": ("上一年上一年级在校生", "Pupils a grade lower the year before"),
    "retention_rate": ("年级保留率", "Retention"), "migration_rate": ("同龄儿童变化（迁移）", "Children change (migration)"),
    "expected": ("预期在校生", "Expected pupils"), "shortfall": ("差额", "Shortfall"),
    "suspected": ("疑似辍学（需核查）", "Suspected out of school (to check)"),
    "graduates": ("九年级在校生", "Grade 9 pupils"), "entrants": ("八年前一年级入学", "Grade 1 entrants 8 years before"),
    "nine_year_rate": ("九年义务教育巩固率", "Nine-year consolidation rate"),
    "migration_adjusted_rate": ("巩固率（扣除迁移）", "Rate net of migration"),
    "junior_entrants": ("两年前七年级", "Grade 7 two years before"), "junior_rate": ("初中三年巩固率", "Junior 3-year rate"),
    "village_id": ("村代码", "Village id"), "village": ("村", "Village"), "band": ("学段组", "Band"),
    "school_before": ("现就读学校代码", "School today (id)"), "school_before_name": ("现就读学校", "School today"),
    "school_id": ("学校代码", "School id"), "name": ("学校", "School"),
    "minutes_before": ("原单程（分钟）", "Minutes before"), "minutes": ("规划单程（分钟）", "Minutes after"),
    "mode": ("方式", "Mode"), "villages": ("涉及村（人数）", "Villages (pupils)"),
    **RISK_KINDS,
    "indicator": ("指标代码", "Indicator key"), "indicator_label": ("指标", "Indicator"),
    "value_per_unit": ("指标值", "Value"), "threshold_per_unit": ("标准", "Threshold"),
    "share": ("达标程度", "Share of the threshold"), "met": ("达标", "Met"),
    "indicators_met": ("达标项数", "Indicators met"), "passes": ("学校达标", "School passes"),
    "level": ("学段", "Level"), "cv_value": ("差异系数", "Coefficient of variation"),
    "cv_threshold": ("差异系数上限", "Limit"), "cv_pass": ("达标", "Passes"), "mean_value": ("均值", "Mean"),
    "schools_below": ("未达标学校", "Schools below"), "schools": ("学校数", "Schools"),
    "resource": ("资源代码", "Resource key"), "resource_label": ("补充项目", "Addition"),
    "add": ("数量", "Quantity"), "cost_wan": ("投资（万元）", "Cost (10k yuan)"),
}

_TODAY = ("现状（基年）", "Today (base year)")


def _inspection(results: Sequence[ScenarioResult]) -> dict[str, Any] | None:
    """The county today, as the first scenario computed it (with its norms)."""
    return next((r.inspection for r in results if r.inspection is not None), None)


def _label(key: str, lang: str) -> str:
    zh, en = SHEET_LABELS.get(key) or RISK_KINDS.get(key) or (key, key)
    return zh if lang == "zh" else en


def _ind(key: str, lang: str) -> str:
    v = BALANCE_INDICATORS[key]
    return v[2] if lang == "zh" else v[3]


def _pct(x: Any) -> str:
    return DASH if is_missing(x) else f"{100 * float(x):.1f}%"


def _fmt(x: Any, kind: str = "count") -> str:
    return number(x, kind)  # type: ignore[arg-type]


def dossier_risk(r: ScenarioResult, sid: str, lang: str = "zh") -> str | None:
    """One line for a closure dossier: the pupils of ``sid`` the closure puts at risk (or None)."""
    if r.readiness is None or sid not in r.readiness.risk_schools.index:
        return None
    c = r.readiness.risk_schools.loc[sid]
    delta = f"{r.inspection['norms']['ride_increase_minutes']:g}" if r.inspection else "?"
    if lang == "zh":
        return (f"控辍保学风险：单程增加{delta}分钟及以上的走读生{_fmt(c['longer_ride'])}人，新增超时{_fmt(c['newly_over_limit'])}人，"
                f"新增寄宿{_fmt(c['newly_boarding'])}人（其中小学{_fmt(c['young_boarder'])}人），合计{_fmt(c['at_risk'])}人"
                "需逐一落实交通、寄宿和生活补助。")
    return (f"Risk to keeping pupils in school: {_fmt(c['longer_ride'])} day pupils ride {delta} minutes or more "
            "longer, "
            f"{_fmt(c['newly_over_limit'])} newly exceed the day limit, {_fmt(c['newly_boarding'])} newly board "
            f"({_fmt(c['young_boarder'])} of primary age): {_fmt(c['at_risk'])} pupils to follow up one by one "
            "(transport, boarding, living allowances).")


def _tracking(ins: Mapping[str, Any], county: County, lang: str) -> dict[str, Any]:
    zh = lang == "zh"
    s = ins["summary"]
    base = s["base_year"]
    co = ins["cohorts"]
    now = co[co["year"] == base].groupby("township_id")[["children", "pupils"]].sum(min_count=1)
    names = local_names(county.townships, lang)
    tw = []
    for t, row in now.iterrows():
        rate = row["pupils"] / row["children"] if row["children"] and row["children"] > 0 else None
        tw.append({"name": (("全县" if zh else "County") if t == COUNTY else names.get(t, t)),
                   "children": _fmt(row["children"]), "pupils": _fmt(row["pupils"]), "rate": _pct(rate),
                   "county": t == COUNTY})
    tw.sort(key=lambda x: (not x["county"], x["name"]))
    ret = ins["retention"]
    flagged = [{"year": int(x.year), "grade": int(x.grade), "entry": int(x.entry_year),
                "before": _fmt(x.pupils_before), "expected": _fmt(x.expected), "pupils": _fmt(x.pupils),
                "suspected": _fmt(x.suspected)} for x in ret[ret["suspected"] > 0].itertuples()]
    rates = [{"year": int(x.year), "entrants": _fmt(x.entrants), "graduates": _fmt(x.graduates),
              "rate": _pct(x.nine_year_rate), "adjusted": _pct(x.migration_adjusted_rate),
              "junior": _pct(x.junior_rate)} for x in ins["rates"].itertuples()
             if not (is_missing(x.nine_year_rate) and is_missing(x.junior_rate))]
    jmin = s["junior_rate_min"]
    if zh:
        head = (f"{base}年全县义务教育适龄儿童（6–14岁）约{_fmt(s['children'])}人，在校生{_fmt(s['pupils'])}人。"
                f"{s['rate_year'] or '—'}年九年义务教育巩固率{_pct(s['rate'])}（扣除迁移{_pct(s['rate_migration_adjusted'])}），"
                f"初中三年巩固率{_pct(s['junior_rate'])}（优质均衡要求≥{_pct(jmin)}）。"
                f"逐年跟踪各届学生，{s['suspected_cohorts']}个年级-年份的减少超过迁移所能解释的范围，"
                f"合计疑似辍学{_fmt(s['suspected_all_years'])}人次（{base}年{_fmt(s['suspected_base_year'])}人），需逐校逐生核查。")
    else:
        head = (f"In {base} the county has about {_fmt(s['children'])} children of compulsory age (6–14) and "
                f"{_fmt(s['pupils'])} pupils. The nine-year consolidation rate of {s['rate_year'] or '—'} is "
                f"{_pct(s['rate'])} ({_pct(s['rate_migration_adjusted'])} net of migration); the junior three-year rate "
                f"is {_pct(s['junior_rate'])} (the 优质均衡 inspection asks ≥ {_pct(jmin)}). Following every cohort, "
                f"{s['suspected_cohorts']} grade-years lose more pupils than migration explains: "
                f"{_fmt(s['suspected_all_years'])} pupil-years suspected out of school ({_fmt(s['suspected_base_year'])} "
                f"in {base}), to be checked school by school.")
    return {"headline": head, "townships": tw, "flagged": flagged, "rates": rates,
            "junior_fail": not is_missing(s["junior_rate"]) and s["junior_rate"] < jmin}


def _balance_row(name: str, summ: Mapping[str, Any], lang: str) -> dict[str, Any]:
    if not summ.get("assessable"):
        return {"name": name, "cells": [DASH] * 5}
    return {"name": name, "cells": [
        f"{summ['schools_passing']} / {summ['schools_assessed']}", _fmt(summ["cv_failing"]),
        number(summ["cv_primary_max"], "ratio"), number(summ["cv_junior_max"], "ratio"),
        number(summ.get("fix_cost_wan"), "money")]}


def _failing_schools(ready: Any, county: County, lang: str) -> list[dict[str, Any]]:
    per = ready.schools
    if not len(per):
        return []
    names = local_names(county.schools, lang)
    out = []
    for sid, d in per.groupby("school_id", sort=False):
        passes = d["passes"].iloc[0]
        if not is_missing(passes) and bool(passes):
            continue
        miss = d[d["met"].fillna(True).eq(False)]
        out.append({"name": names.get(sid, sid), "met": f"{int(d['indicators_met'].iloc[0])}/{len(d)}",
                    "passes": DASH if is_missing(passes) else ("否" if lang == "zh" else "no"),
                    "missing": "；".join(f"{_ind(x.indicator, lang)} {_pct(x.share)}" for x in miss.itertuples())
                    if lang == "zh" else "; ".join(f"{_ind(x.indicator, lang)} {_pct(x.share)}"
                                                   for x in miss.itertuples())})
    return out


def readiness_view(results: Sequence[ScenarioResult], lang: str = "zh") -> dict[str, Any] | None:
    """The report section: 底数, risk per scenario, 优质均衡 readiness today and after each plan."""
    ins = _inspection(results)
    if ins is None:
        return None
    zh = lang == "zh"
    county = results[0].county
    risk_cols = [_label(k, lang) for k in RISK_KINDS]
    risk_rows, risk_tw = [], []
    tw_names = local_names(county.townships, lang)
    for r in results:
        name = r.label_zh if zh else r.label_en
        if r.readiness is None:
            continue
        s = r.readiness.summary
        risk_rows.append({"name": name, "cells": [_fmt(s[f"risk_{k}"]) for k in RISK_KINDS]})
        t = r.readiness.risk_townships
        if len(t):
            risk_tw.append({"name": name, "rows": [
                {"township": tw_names.get(x["township_id"], x["township_id"]),
                 "cells": [_fmt(x[k]) for k in RISK_KINDS], "villages": x["villages"]}
                for _, x in t.iterrows()]})
    ready = ins["readiness"]
    bal_rows = [_balance_row(_TODAY[0] if zh else _TODAY[1], ready.summary, lang)]
    bal_rows += [_balance_row(r.label_zh if zh else r.label_en, r.readiness.summary, lang)
                 for r in results if r.readiness is not None]
    fix = ready.fix.groupby("resource")[["add", "cost_wan"]].sum() if len(ready.fix) else pd.DataFrame()
    fix_rows = [{"item": RESOURCE_LABELS[k][0 if zh else 1], "quantity": number(v["add"], "area" if "m2" in k else
                                                                                 "count"),
                 "cost": number(v["cost_wan"], "money")} for k, v in fix.iterrows()]
    nm = ins["norms"]
    delta = nm["ride_increase_minutes"]
    norms = {"cv_primary": number(nm["cv_primary"], "ratio"), "cv_junior": number(nm["cv_junior"], "ratio"),
             "min_met": nm["school_min_indicators_met"], "share": _pct(nm["school_min_share_of_threshold"])}
    return {
        "tracking": _tracking(ins, county, lang),
        "risk": {"columns": risk_cols, "rows": risk_rows, "townships": risk_tw,
                 "note": (f"“单程明显变长”指走读单程增加{delta:g}分钟及以上；只统计因方案转学的学生，每人只计一次。" if zh else
                          f"'Ride grows' means a day trip at least {delta:g} minutes longer; only pupils who change "
                          "school because of the plan are counted, each once.")},
        "balance": {"rows": bal_rows, "schools": _failing_schools(ready, county, lang), "fix": fix_rows,
                    "assessable": bool(ready.summary.get("assessable")),
                    "fix_cost": number(ready.summary.get("fix_cost_wan"), "money"), **norms},
    }


# --------------------------------------------------------------------------- XLSX and GIS
def readiness_sheets(results: Sequence[ScenarioResult], lang: str = "zh"
                     ) -> Iterator[tuple[str, pd.DataFrame, dict[str, tuple[str, str]]]]:
    """Sheets ``(title, frame, labels)``: enrolment_tracking, cohort_retention, consolidation_rate,
    dropout_risk, balance_schools, balance_cv, balance_fix."""
    ins = _inspection(results)
    if ins is None:
        return
    county = results[0].county
    tw_names = local_names(county.townships, lang)
    co = ins["cohorts"].copy()
    co.insert(1, "township", co["township_id"].map(lambda t: ("全县" if lang == "zh" else "County") if t == COUNTY
                                                   else tw_names.get(t, t)))
    yield "enrolment_tracking", co, SHEET_LABELS
    yield "cohort_retention", ins["retention"], SHEET_LABELS
    yield "consolidation_rate", ins["rates"], SHEET_LABELS
    snames = local_names(county.schools, lang)
    vnames = local_names(county.villages, lang)
    risk = [r.readiness.risk.assign(scenario=r.name) for r in results if r.readiness is not None
            and len(r.readiness.risk)]
    cols = ["scenario", "village_id", "village", "band", "school_before", "school_before_name", "school_id", "name",
            "pupils", "minutes_before", "minutes", "mode", *RISK_KINDS]
    if risk:
        rk = pd.concat(risk, ignore_index=True)
        rk["village"] = rk["village_id"].map(vnames)
        rk["school_before_name"] = rk["school_before"].map(snames)
        rk["name"] = rk["school_id"].map(snames)
    else:
        rk = pd.DataFrame(columns=cols)
    yield "dropout_risk", rk[cols], SHEET_LABELS
    layouts = [("today", ins["readiness"])] + [(r.name, r.readiness) for r in results if r.readiness is not None]
    per = [x.schools.assign(scenario=n) for n, x in layouts if len(x.schools)]
    if per:
        ps = pd.concat(per, ignore_index=True).rename(columns={"value": "value_per_unit",
                                                               "threshold": "threshold_per_unit"})
        ps["name"] = ps["school_id"].map(snames)
        ps["indicator_label"] = ps["indicator"].map(lambda k: _ind(k, lang))
        yield "balance_schools", ps[["scenario", "school_id", "name", "indicator", "indicator_label", "value_per_unit",
                                     "threshold_per_unit", "share", "met", "indicators_met", "passes"]], SHEET_LABELS
        cv = pd.concat([x.coefficients.assign(scenario=n) for n, x in layouts if len(x.coefficients)],
                       ignore_index=True).rename(columns={"cv": "cv_value", "mean": "mean_value",
                                                          "threshold": "threshold_per_unit"})
        cv["indicator_label"] = cv["indicator"].map(lambda k: _ind(k, lang))
        yield "balance_cv", cv[["scenario", "level", "indicator", "indicator_label", "cv_value", "cv_threshold",
                                "cv_pass", "mean_value", "threshold_per_unit", "schools_below", "schools"]], SHEET_LABELS
        fx = pd.concat([x.fix.assign(scenario=n) for n, x in layouts], ignore_index=True)
        fx["name"] = fx["school_id"].map(snames)
        fx["resource_label"] = fx["resource"].map(lambda k: RESOURCE_LABELS[k][0 if lang == "zh" else 1])
        yield "balance_fix", fx[["scenario", "school_id", "name", "resource", "resource_label", "add", "cost_wan"]], \
            SHEET_LABELS


def readiness_layers(results: Sequence[ScenarioResult]) -> dict[str, gpd.GeoDataFrame]:
    """GIS layers: ``enrolment_tracking`` (townships, base year) and ``<scenario>_dropout_risk`` (villages)."""
    ins = _inspection(results)
    if ins is None:
        return {}
    county = results[0].county
    out: dict[str, gpd.GeoDataFrame] = {}
    co = ins["cohorts"]
    base = ins["summary"]["base_year"]
    now = co[(co["year"] == base) & (co["township_id"] != COUNTY)].groupby("township_id")[
        ["children", "pupils"]].sum(min_count=1)
    if len(county.townships):
        t = county.townships[["geometry"]].join(now, how="left")
        t["enrolment_rate"] = t["pupils"] / t["children"].where(t["children"] > 0)
        out["enrolment_tracking"] = t.reset_index(names="township_id")
    for r in results:
        if r.readiness is None or not len(r.readiness.risk):
            continue
        g = r.readiness.risk
        by_v = pd.DataFrame({k: g["pupils"].where(g[k].astype(bool), 0).groupby(g["village_id"]).sum()
                             for k in RISK_KINDS})
        v = county.villages[["geometry"]].join(by_v, how="inner")
        out[f"{r.name}_dropout_risk"] = v.reset_index(names="village_id")
    return out


def inspect_tables(ins: Mapping[str, Any], lang: str = "zh") -> list[tuple[str, list[tuple[str, str]]]]:
    """The ``schoolplan inspect`` summary: ``(title, [(item, value), ...])`` tables."""
    zh = lang == "zh"
    s = ins["summary"]
    r = ins["readiness"].summary
    base = s["base_year"]
    track = [
        (f"{base}年6–14岁儿童（村人口）" if zh else f"Children aged 6–14 in {base} (villages)", _fmt(s["children"])),
        (f"{base}年1–9年级在校生" if zh else f"Pupils in grades 1–9 in {base}", _fmt(s["pupils"])),
        (f"九年义务教育巩固率（{s['rate_year'] or '—'}年）" if zh else f"Nine-year consolidation rate ({s['rate_year'] or '—'})",
         _pct(s["rate"])),
        ("巩固率（扣除迁移）" if zh else "Rate net of migration", _pct(s["rate_migration_adjusted"])),
        ("初中三年巩固率" if zh else "Junior three-year rate",
         f"{_pct(s['junior_rate'])} (≥ {_pct(s['junior_rate_min'])})"),
        ("疑似辍学年级-年份" if zh else "Grade-years losing more than migration explains", _fmt(s["suspected_cohorts"])),
        ("疑似辍学（人次，全部年份）" if zh else "Suspected out of school (pupil-years, all years)",
         _fmt(s["suspected_all_years"])),
        (f"其中{base}年" if zh else f"of which in {base}", _fmt(s["suspected_base_year"])),
    ]
    out = [("控辍保学底数" if zh else "Every child accounted for (底数)", track)]
    if not r.get("assessable"):
        out.append(("优质均衡" if zh else "优质均衡 readiness",
                    [("资源配置七项指标" if zh else "Seven resource indicators",
                      DASH + (" 学校缺少资源字段" if zh else " the schools have no resource columns"))]))
        return out
    bal = ins["norms"]
    ready = [
        ("达标学校 / 参评学校" if zh else "Schools passing / assessed", f"{r['schools_passing']} / {r['schools_assessed']}"),
        ("资源字段不全的学校" if zh else "Schools with missing resources", _fmt(r["schools_not_assessable"])),
        ("差异系数超标项" if zh else "Coefficients over the limit", _fmt(r["cv_failing"])),
        ("小学最大差异系数" if zh else "Largest primary coefficient",
         f"{number(r['cv_primary_max'], 'ratio')} (≤ {number(bal['cv_primary'], 'ratio')})"),
        ("初中最大差异系数" if zh else "Largest junior coefficient",
         f"{number(r['cv_junior_max'], 'ratio')} (≤ {number(bal['cv_junior'], 'ratio')})"),
        ("全部达标的最低投入（万元）" if zh else "Cheapest fix (10k yuan)", number(r.get("fix_cost_wan"), "money")),
    ]
    fix = ins["readiness"].fix
    if len(fix):
        for k, v in fix.groupby("resource")[["add", "cost_wan"]].sum().iterrows():
            ready.append((f"  {RESOURCE_LABELS[k][0 if zh else 1]}",
                          f"{number(v['add'], 'area' if 'm2' in k else 'count')} · {number(v['cost_wan'], 'money')}"))
    out.append(("优质均衡达标情况（现状）" if zh else "优质均衡 readiness today", ready))
    return out
