"""Leadership outputs: ``report.html``, ``comparison.xlsx``, ``results.gpkg``, ``run.json``.

Everything is written into a temporary folder and moved into place at the end
(:func:`schoolplan.io.atomic_dir`), so a failed or interrupted run leaves the
previous outputs intact. Files carry no timestamps, so the same inputs give
byte-identical outputs.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from shapely.geometry import LineString

from schoolplan import __version__
from schoolplan.charts import band_chart_svg, bar_chart_svg
from schoolplan.fmt import DASH, is_missing, kind_of, number
from schoolplan.i18n import code_label, local_names
from schoolplan.io import atomic_dir, write_gpkg
from schoolplan.metrics import HIGHER_IS_BETTER, INDICATOR_LABELS, LOWER_IS_BETTER
from schoolplan.results import ScenarioResult
from schoolplan.schema import BANDS, LEVEL_LABELS, STAGES

__all__ = ["HEADLINE", "assignment_lines", "check_output_dir", "findings", "headline_rows", "scenario_toml",
           "write_outputs", "write_xlsx"]

_LEVELS3 = STAGES
_FIXED_TIME = (2000, 1, 1, 0, 0, 0)


def _fmt(value: Any, key: str = "") -> str:
    """A figure as people read it (:func:`schoolplan.fmt.number`; the kind from the indicator or column ``key``)."""
    return number(value, name=key) if key else number(value)


def findings(results: Sequence[ScenarioResult], lang: str = "zh") -> list[str]:
    """Plain-language findings that name causes, comparing the scenarios to the first one (the baseline).

    Parameters
    ----------
    results
        Scenario results; the first is the baseline (usually 现状).
    lang
        ``zh`` or ``en``.

    Returns
    -------
    list of str
        Sentences, not escaped.
    """
    if not results:
        return []
    base = results[0]
    out = []
    zh = lang == "zh"
    for r in results:
        i = r.indicators
        name = r.label_zh if zh else r.label_en
        stay = i["schools_kept"] + i["schools_expanded"] + i["schools_new"]
        why = _merge_causes(r, lang)
        if zh:
            text = (f"{name}：保留/扩建/新建学校{_n(stay)}所，撤并{_n(i['schools_merged'])}所{why}，"
                    f"其中应留必留{_n(i['schools_must_stay'])}所；转学学生{_n(i['pupils_moved'])}人，全部在走读时限内或寄宿"
                    if i["pupils_moved"] else f"{name}：保留全部{_n(stay)}所学校，学生不转学")
            text += (f"；超过走读时限的走读学生{_n(i['pupils_over_limit'])}人，寄宿生{_n(i['boarders'])}人"
                     f"（需新增床位{_n(i['beds_needed'])}张）；投资估算{_fmt(i['capital_cost_wan'], 'capital_cost_wan')}万元。")
        else:
            text = (f"{name}: {_n(stay)} schools kept, expanded or new, {_n(i['schools_merged'])} merged{why}, "
                    f"{_n(i['schools_must_stay'])} must stay (应留必留); {_n(i['pupils_moved'])} pupils change school, "
                    "all within their day limit or boarding" if i["pupils_moved"]
                    else f"{name}: all {_n(stay)} schools stay and no pupil changes school")
            text += (f"; {_n(i['pupils_over_limit'])} day pupils ride over their limit, {_n(i['boarders'])} board "
                     f"({_n(i['beds_needed'])} beds to add); capital cost {_fmt(i['capital_cost_wan'], 'capital_cost_wan')} × 10k yuan.")
        out.append(text)
    b = base.indicators
    for r in results[1:]:
        i = r.indicators
        name = r.label_zh if zh else r.label_en
        risk = r.readiness.summary if r.readiness is not None else {}
        if risk.get("risk_at_risk"):
            out.append(f"{name}：{_n(risk['risk_at_risk'])}名转学学生面临控辍保学风险（单程明显变长{_n(risk['risk_longer_ride'])}人，"
                       f"新增超时{_n(risk['risk_newly_over_limit'])}人，新增寄宿{_n(risk['risk_newly_boarding'])}人，"
                       f"其中小学{_n(risk['risk_young_boarder'])}人），须逐人落实校车、寄宿和资助，名单见 dropout_risk 工作表。"
                       if zh else
                       f"{name}: {_n(risk['risk_at_risk'])} pupils who change school are at risk of dropping out "
                       f"({_n(risk['risk_longer_ride'])} ride notably longer, {_n(risk['risk_newly_over_limit'])} newly "
                       f"exceed the day limit, {_n(risk['risk_newly_boarding'])} newly board, "
                       f"{_n(risk['risk_young_boarder'])} of them of primary age): each needs transport, a bed or an "
                       "allowance arranged; the list is in the dropout_risk sheet.")
        d_over = int(i["pupils_over_limit"]) - int(b["pupils_over_limit"])
        if int(b["classes_large"]) and int(i["classes_large"]) < int(b["classes_large"]):
            out.append(f"{name}：大班额由{_n(b['classes_large'])}个降至{_n(i['classes_large'])}个，原因是新增教室"
                       f"{_n(i['classes_added'])}间（按标准班额所需），而不是撤并本身。" if zh else
                       f"{name}: large classes fall from {_n(b['classes_large'])} to {_n(i['classes_large'])} because "
                       f"{_n(i['classes_added'])} classrooms are built to the standard class size, not because of the "
                       "mergers themselves.")
        if d_over:
            out.append(f"与{base.label_zh}相比，{name}超过走读时限的学生{'增加' if d_over > 0 else '减少'}"
                       f"{abs(d_over)}人：转学学生全部在时限内或寄宿，变化来自被撤并学校原有的超时学生。" if zh else
                       f"Compared with {base.label_en}, {name} has {abs(d_over)} {'more' if d_over > 0 else 'fewer'} "
                       "day pupils over their limit: every pupil who moves rides within the limit or boards, so the "
                       "change comes from pupils of the closed schools who rode over the limit before.")
    return out


def _n(value: Any) -> str:
    return number(value, "count")


def _merge_causes(r: ScenarioResult, lang: str) -> str:
    """Why schools merge, counted by cause: "（初中向县城集中2所、规模不足3所…）"."""
    s = r.plan.schools
    m = s[s["decision"].isin(["merge", "convert"])]
    if m.empty or "enrolment_ok" not in m:
        return ""
    causes = {"junior": (m["junior_moves"].fillna(False).astype(bool), "初中向县城集中", "juniors to the county seat"),
              "size": (~m["enrolment_ok"].fillna(True).astype(bool), "规模不足", "too few pupils"),
              "radius": (~m["radius_ok"].fillna(True).astype(bool), "生源超出校车时限", "pupils beyond the bus radius"),
              "quality": (~(m["quality_ok"].fillna(True).astype(bool) & m["condition_ok"].fillna(True).astype(bool)),
                          "质量或条件不达标", "quality or conditions below the thresholds")}
    parts = [(int(mask.sum()), z, e) for mask, z, e in causes.values() if mask.any()]
    if not parts:
        return ""
    if lang == "zh":
        return "（" + "、".join(f"{z}{n}所" for n, z, _ in parts) + "，可重复计）"
    return " (" + ", ".join(f"{e}: {n}" for n, _, e in parts) + "; a school may have several)"


#: The five-minute page: at most 12 rows a county leader asks about, in this order.
#: Each row: (row key, main indicator or None for a sum, (zh, en) label, indicators summed, note indicators).
HEADLINE: tuple[tuple[str, tuple[str, str], tuple[str, ...], tuple[tuple[str, str, str], ...]], ...] = (
    ("schools_stay", ("保留学校（含扩建）", "Schools kept (incl. expanded)"), ("schools_kept", "schools_expanded"),
     (("schools_expanded", "其中扩建", "of which expanded"),)),
    ("schools_merged", INDICATOR_LABELS["schools_merged"], ("schools_merged",), ()),
    ("schools_new", ("新建学校", "Schools to build"), ("schools_new",), ()),
    ("pupils_over_limit", INDICATOR_LABELS["pupils_over_limit"], ("pupils_over_limit",), ()),
    ("boarders", INDICATOR_LABELS["boarders"], ("boarders",), ()),
    ("beds_needed", INDICATOR_LABELS["beds_needed"], ("beds_needed",), ()),
    ("buses", INDICATOR_LABELS["buses"], ("buses",), (("buses_to_buy", "需新购", "to buy"),)),
    ("classes_added", INDICATOR_LABELS["classes_added"], ("classes_added",), ()),
    ("teachers_surplus", INDICATOR_LABELS["teachers_surplus"], ("teachers_surplus",),
     (("teachers_needed", "需要教师", "needed"),)),
    ("land_m2", ("预留用地合计（㎡）", "Land to reserve (m²)"), tuple(f"land_m2_{lv}" for lv in STAGES),
     tuple((f"land_m2_{lv}", LEVEL_LABELS[lv]["zh"], LEVEL_LABELS[lv]["en"]) for lv in STAGES)),
    ("capital_cost_wan", INDICATOR_LABELS["capital_cost_wan"], ("capital_cost_wan",), ()),
    ("classes_large", INDICATOR_LABELS["classes_large"], ("classes_large",),
     (("classes_very_large", "其中≥66人", "of which ≥66"),)),
)

#: Effort and cost rows: a plan that does nothing is never "best" on them while it leaves 大班额 or
#: pupils over the travel limit.
_EFFORT = frozenset({"capital_cost_wan", "classes_added", "beds_needed", "buses", "buses_to_buy",
                     "teachers_needed", "land_m2"})


def _does_nothing(i: pd.Series) -> bool:
    """No school merged, expanded or built, no classroom or bed added."""
    keys = ("schools_merged", "schools_expanded", "schools_new", "classes_added", "beds_needed")
    return all(not is_missing(i.get(k)) and float(i.get(k)) == 0 for k in keys)


def _leaves_problems(i: pd.Series) -> bool:
    return any(not is_missing(i.get(k)) and float(i.get(k)) > 0 for k in ("classes_large", "pupils_over_limit"))


def _not_rewarded(results: Sequence[ScenarioResult]) -> list[bool]:
    """Per scenario: it does nothing and leaves 大班额 or pupils over the limit (no 'best' on effort rows)."""
    return [_does_nothing(r.indicators) and _leaves_problems(r.indicators) for r in results]


def _best_cells(key: str, values: Sequence[Any], excluded: Sequence[bool]) -> list[bool]:
    """Which cells of a row are the best value (none when the row is not ranked or all are equal)."""
    direction = "high" if key in HIGHER_IS_BETTER else "low" if key in LOWER_IS_BETTER | {"land_m2"} else None
    if key == "land_m2":
        direction = None  # land follows demand; less land is not better
    if direction is None:
        return [False] * len(values)
    skip = [bool(x) and key in _EFFORT for x in excluded]
    nums = [float(v) for v, s in zip(values, skip, strict=True) if not is_missing(v) and not s]
    if len(nums) < 2 or len(set(nums)) < 2:
        return [False] * len(values)
    best = max(nums) if direction == "high" else min(nums)
    return [not s and not is_missing(v) and float(v) == best for v, s in zip(values, skip, strict=True)]


def headline_rows(results: Sequence[ScenarioResult], lang: str = "zh") -> list[dict[str, Any]]:
    """The rows of the five-minute page (:data:`HEADLINE`), one cell per scenario.

    Parameters
    ----------
    results
        Scenario results.
    lang
        ``zh`` or ``en``.

    Returns
    -------
    list of dict
        ``key``, ``label``, ``label2`` (the other language), ``cells``: ``text``,
        ``note`` (a smaller second line, e.g. "其中扩建8"), ``best`` (bool), ``value``
        (the number). A sum is "—" when any of its parts cannot be computed. A plan
        that changes nothing is never marked best on effort and cost rows when it
        leaves 大班额 or pupils over the travel limit.
    """
    zh = lang == "zh"
    excluded = _not_rewarded(results)
    rows = []
    for key, (label_zh, label_en), parts, notes in HEADLINE:
        values = []
        for r in results:
            got = [r.indicators.get(k) for k in parts]
            values.append(None if any(is_missing(v) for v in got) else float(sum(float(v) for v in got)))
        best = _best_cells(key, values, excluded)
        cells = []
        for r, v, b in zip(results, values, best, strict=True):
            note = " · ".join(f"{nz if zh else ne} {_fmt(r.indicators.get(k), k)}" for k, nz, ne in notes
                              if not is_missing(r.indicators.get(k)) and (len(notes) > 1 or r.indicators.get(k)))
            cells.append({"text": _fmt(v, parts[0]), "note": note, "best": b, "value": v})
        rows.append({"key": key, "label": label_zh if zh else label_en, "label2": label_en if zh else label_zh,
                     "cells": cells})
    return rows


def _headline_keys() -> set[str]:
    """Indicators shown as the main figure of a headline row (the appendix table lists the others)."""
    return {parts[0] for key, _, parts, _ in HEADLINE if len(parts) == 1}


def _comparison_rows(results: Sequence[ScenarioResult], lang: str, *, skip: set[str] | None = None
                     ) -> list[dict[str, Any]]:
    """Rows of the indicator table (all indicators, or all but ``skip``), best values marked."""
    excluded = _not_rewarded(results)
    rows = []
    for key, (zh, en) in INDICATOR_LABELS.items():
        if skip and key in skip:
            continue
        vals = [r.indicators.get(key) for r in results]
        best = _best_cells(key, vals, excluded)
        cells = [{"text": _fmt(v, key), "best": b, "note": ""} for v, b in zip(vals, best, strict=True)]
        rows.append({"key": key, "label": zh if lang == "zh" else en, "label2": en if lang == "zh" else zh,
                     "cells": cells})
    return rows


def _best_note(results: Sequence[ScenarioResult], lang: str) -> str:
    """Why a plan that changes nothing is not marked best on cost rows (empty when none is excluded)."""
    out = []
    for r, ex in zip(results, _not_rewarded(results), strict=True):
        if not ex:
            continue
        i = r.indicators
        if lang == "zh":
            out.append(f"{r.label_zh}不作调整，仍有大班额{_n(i.get('classes_large'))}个、超过走读时限的学生"
                       f"{_n(i.get('pupils_over_limit'))}人，因此其投资、新增教室和床位等“零投入”不标为最优。")
        else:
            out.append(f"{r.label_en} changes nothing and leaves {_n(i.get('classes_large'))} large classes and "
                       f"{_n(i.get('pupils_over_limit'))} day pupils over the travel limit, so its zero cost, "
                       "classrooms and beds are not marked best.")
    return " ".join(out)


def _scenario_standards(r: ScenarioResult) -> dict[str, Any]:
    """The norms a scenario ran with (its standards file and overrides), for figures derived here."""
    from schoolplan.errors import ConfigError
    from schoolplan.standards import load_standards

    sc = r.config.get("scenario", {}) if isinstance(r.config, Mapping) else {}
    name = sc.get("standards", "cn_national") if isinstance(sc, Mapping) else "cn_national"
    try:
        return load_standards(None if name in (None, "cn_national") else name,
                              overrides=r.config.get("standards_overrides") or None)
    except (ConfigError, OSError):
        return load_standards()


def _seats_today(r: ScenarioResult) -> pd.Series:
    """Seats of the schools open today by stage (:func:`schoolplan.reserve.school_seats`)."""
    from schoolplan.reserve import school_seats

    return school_seats(r.county, _scenario_standards(r)).sum()


def _demand_charts(r: ScenarioResult, lang: str) -> list[str]:
    """Seat demand p10–p90 by year per stage, with the register history and today's seats."""
    d = r.demand
    charts = []
    obs = r.county.enrolment.groupby(["level", "year"])["students"].sum()
    tot = r.demand_totals if r.demand_totals is not None and len(r.demand_totals) else None
    seats = _seats_today(r)
    zh = lang == "zh"
    for lv in _LEVELS3:
        # the level's own band (from the errors of totals), not a sum of grade bands
        sub = tot[tot["level"] == lv].set_index("year")[["p10", "p50", "p90"]].sort_index() if tot is not None \
            else d[d["level"] == lv].groupby("year")[["p10", "p50", "p90"]].sum()
        if sub.empty:
            continue
        cap = float(seats.get(lv, 0.0)) if lv in seats.index else None
        hist = obs.loc[lv] if lv in obs.index.get_level_values(0) else None
        title = (f"{LEVEL_LABELS[lv]['zh']}学位需求（p10–p90）" if zh
                 else f"{LEVEL_LABELS[lv]['en']} seat demand (p10–p90)")
        charts.append(band_chart_svg(list(sub.index), list(sub["p50"]), list(sub["p10"]), list(sub["p90"]),
                                     title=title, ylabel="学生" if zh else "pupils", capacity=cap or None,
                                     capacity_label="现有学位" if zh else "seats today",
                                     observed=(list(hist.index), list(hist.values)) if hist is not None else None,
                                     labels=("预测中位数", "p10–p90", "在校生（学籍）") if zh
                                     else ("median forecast", "p10–p90", "enrolled (register)")))
    return charts


def _township_table(r: ScenarioResult, lang: str = "zh") -> pd.DataFrame:
    s = r.plan.schools
    a = r.plan.assignment
    tw = r.county.townships
    names = local_names(tw, lang)
    vt = r.county.villages["township_id"]
    a = a.assign(township_id=a["village_id"].map(vt))
    rows = []
    for tid in tw.index:
        ss = s[s["township_id"] == tid]
        aa = a[a["township_id"] == tid]
        rows.append({
            "township": names[tid], "schools_before": _n((ss["students_before"] > 0).sum()),
            "schools_after": _n(ss["decision"].isin(["keep", "expand", "new"]).sum()),
            "merged": _n(ss["decision"].isin(["merge", "convert"]).sum()),
            "pupils": _n(aa["pupils"].sum()),
            "over_limit": _n(aa.loc[aa["over_limit"].astype(bool), "pupils"].sum()),
            "boarders": _n(aa.loc[aa["mode"] == "boarding", "pupils"].sum()),
            "classes_added": _n(ss["classes_added"].sum()),
        })
    return pd.DataFrame(rows)


def _school_names(r: ScenarioResult, lang: str) -> pd.Series:
    """Names of the plan's schools in ``lang`` (``name_en`` of the county's schools in English)."""
    s = r.plan.schools
    names = local_names(s, lang)
    county = r.county.schools
    if lang == "en" and "name_en" in county:
        en = local_names(county, "en")
        names = en.reindex(names.index).where(lambda x: x.notna(), names)
    return names


def _dossiers(r: ScenarioResult, lang: str) -> list[dict[str, Any]]:
    """Closure dossiers (论证–公示材料): every figure formatted, every code in words."""
    from schoolplan.readiness.views import dossier_risk

    s = r.plan.schools
    names = _school_names(r, lang)
    merged = s[s["decision"].isin(["merge", "convert"])]
    e = r.county.enrolment
    out = []
    for sid, row in merged.iterrows():
        trend = e[e["school_id"] == sid].groupby("year")["students"].sum()
        recv = row["receiving_id"]
        rs = s.loc[recv] if not is_missing(recv) and recv in s.index else None
        out.append({
            "id": sid, "name": names.get(sid, sid), "level": code_label("level", row["level"], lang),
            "decision": code_label("decision", row["decision"], lang),
            "reason": row["reason_zh" if lang == "zh" else "reason_en"],
            "trend": ", ".join(f"{int(y)}: {_n(v)}" for y, v in trend.items()),
            "moves": _moves(r, sid, lang),
            "receiving": None if rs is None else {
                "name": names.get(recv, recv), "students_before": _n(rs["students_before"]),
                "students_after": _n(rs["students_after"]), "classes_after": _n(rs["classes_after"]),
                "classes_added": _n(rs["classes_added"]), "capacity_after": _n(rs["capacity_after"]),
                "beds_needed": _n(rs["beds_needed"]), "buses": _n(rs["buses"])},
            "teachers_freed": _n(row["teacher_surplus"]),
            "reuse": None if is_missing(row.get("reuse")) else code_label("reuse", row.get("reuse"), lang),
            "risk": dossier_risk(r, sid, lang),
        })
    return out


def _moves(r: ScenarioResult, sid: str, lang: str = "zh") -> list[dict[str, Any]]:
    """Villages whose pupils attended ``sid`` before the plan: where they go, minutes before/after, mode."""
    a = r.plan.assignment
    rows = a[a["school_before"] == sid]
    names = local_names(r.county.villages, lang)
    snames = _school_names(r, lang)
    return [{"village": DASH if is_missing(v) else names.get(v, v), "band": code_label("band", b, lang),
             "pupils": _n(p), "to": DASH if is_missing(s) else snames.get(s, s),
             "before": _fmt(mb, "minutes"), "after": _fmt(m, "minutes"), "mode": code_label("mode", mode, lang)}
            for v, b, p, s, mb, m, mode in zip(rows["village_id"], rows["band"], rows["pupils"], rows["school_id"],
                                                rows["minutes_before"], rows["minutes"], rows["mode"], strict=True)]


def _reserved_view(r: ScenarioResult, lang: str) -> dict[str, Any]:
    """Headline figures, per-zone explanation, recommended sites, plan expansions and vacated buildings.

    Every number comes from ``r.reserved`` (zones, sites, summary) unchanged, so the
    report, the XLSX sheets and the GeoPackage layers show the same figures.
    """
    res = r.reserved
    summ = res.summary
    zh = lang == "zh"
    rows = []
    for lv in _LEVELS3:
        name = LEVEL_LABELS[lv][lang]
        rows.append((f"{name}{'服务半径内学位缺口' if zh else ' seats short within the service radius'}",
                     _fmt(summ.get(f"seats_short_{lv}"))))
        rows.append((f"{name}{'预留用地合计（㎡）' if zh else ' land to reserve (m²)'}",
                     _fmt(summ.get(f"land_m2_{lv}"))
                     + (f"（推荐地块 {_fmt(summ.get(f'land_m2_sites_{lv}'))}；待落实 {_fmt(summ.get(f'land_m2_to_find_{lv}'))}；"
                        f"扩建学校周边 {_fmt(summ.get(f'land_m2_plan_expansion_{lv}'))}）" if zh else
                        f" (on recommended parcels {_fmt(summ.get(f'land_m2_sites_{lv}'))}; still to find "
                        f"{_fmt(summ.get(f'land_m2_to_find_{lv}'))}; next to expanded schools "
                        f"{_fmt(summ.get(f'land_m2_plan_expansion_{lv}'))})")))
        reason = summ.get(f"reason_{lang}_{lv}")
        if reason:
            rows.append((f"{name}{'结论' if zh else ': conclusion'}", reason))
    rows.append(("需预留用地的控规单元" if zh else "Zones needing land", ", ".join(summ.get("zones_flagged_ids", []))))
    rows.append(("缺少配套学校用地的住宅项目" if zh else "Developments without school land",
                 ", ".join(summ.get("developments_flagged_ids", []))))
    for key, zh_l, en_l in (("kindergarten_public_share", "公办园在园幼儿占比", "Public kindergarten share"),
                            ("kindergarten_inclusive_share", "普惠性幼儿园覆盖率", "Inclusive share")):
        if key in summ:
            gap = summ.get(f"{key}_gap_seats", 0)
            after = summ.get(f"{key}_after")
            text = _fmt(summ[key], "share") + (f"（缺{_n(gap)}个学位）" if zh and gap else f" ({_n(gap)} seats short)" if gap else "")
            if after is not None:
                text += (f"；推荐幼儿园按公办建成后 {_fmt(after, 'share')}" if zh else
                         f"; {_fmt(after, 'share')} once the recommended kindergartens open as public")
            rows.append((zh_l if zh else en_l, text))
    znames = local_names(res.zones, lang)
    zone_rows = []
    for zid, z in res.zones.iterrows():
        for lv in _LEVELS3:
            if z.get(f"deficit_{lv}", 0) <= 0:
                continue
            zone_rows.append({
                "name": znames.get(zid, z.get("name", zid)), "level": LEVEL_LABELS[lv][lang],
                "demand_plan": _fmt(z.get(f"demand_plan_{lv}")), "demand_peak": _fmt(z.get(f"demand_peak_{lv}")),
                "supply": _fmt(z.get(f"supply_{lv}")), "deficit": _fmt(z.get(f"deficit_{lv}")),
                "sites": z.get(f"sites_{lv}") or "—",
                "reason": z.get(f"reason_{lang}_{lv}") or z.get("reason_zh" if zh else "reason_en")})
    site_rows = [{"id": sid, "name": x.get("name"), "level": LEVEL_LABELS.get(x.get("level"), {}).get(lang, ""),
                  "area": _fmt(x.get("area_m2"), "area_m2"), "need": _fmt(x.get("land_needed_m2"), "land_needed_m2"), "seats": _fmt(x.get("seats")),
                  "classes": _fmt(x.get("classes")), "covered": _fmt(x.get("covered_demand")),
                  "reason": x.get("reason_zh" if zh else "reason_en")} for sid, x in res.sites.iterrows()]
    exp = summ.get("plan_expansions")
    exp_rows = [] if exp is None else [{"name": e["name"], "extra": _fmt(e["extra_land_m2"]),
                                        "reason": e["reason_zh" if zh else "reason_en"]} for _, e in exp.iterrows()]
    reuse = summ.get("vacated_kindergarten")
    reuse_rows = [] if reuse is None else [
        {"id": sid, "name": r.plan.schools["name"].get(sid, sid) if "name" in r.plan.schools else sid,
         "shortfall": _fmt(x["shortfall"]), "kg": x["reuse"] == "kindergarten",
         "reason": x["reason_zh" if zh else "reason_en"]} for sid, x in reuse.iterrows()]
    return {"rows": rows, "zones": zone_rows, "sites": site_rows, "expansions": exp_rows, "reuse": reuse_rows}


_MISSING_NOTES: dict[str, tuple[str, str]] = {
    "kindergarten_public_share": ("幼儿园缺少办园性质（ownership）字段或在园人数", "kindergartens lack the ownership "
                                  "column or their children"),
    "kindergarten_inclusive_share": ("幼儿园缺少办园性质（ownership）字段或在园人数", "kindergartens lack the ownership "
                                     "column or their children"),
    "cv_primary_max": ("学校缺少优质均衡资源字段（教师、用房、设备等）", "schools lack the 优质均衡 resource columns"),
    "cv_junior_max": ("学校缺少优质均衡资源字段（教师、用房、设备等）", "schools lack the 优质均衡 resource columns"),
    "cv_primary_pass": ("学校缺少优质均衡资源字段（教师、用房、设备等）", "schools lack the 优质均衡 resource columns"),
    "cv_junior_pass": ("学校缺少优质均衡资源字段（教师、用房、设备等）", "schools lack the 优质均衡 resource columns"),
    "seats_short_kindergarten": ("预测不含目标年", "the forecast does not reach the target year"),
    "land_m2_primary": ("未计算预留用地（无控规单元或已关闭）", "reserved land not computed (no zones, or disabled)"),
}


def _missing_notes(results: Sequence[ScenarioResult], lang: str) -> list[str]:
    """Why a figure shows "—": the inputs cannot support it (never a default)."""
    out = []
    for key, (zh, en) in INDICATOR_LABELS.items():
        if any(pd.isna(r.indicators.get(key)) for r in results):
            note = _MISSING_NOTES.get(key) or _MISSING_NOTES.get(key.replace("kindergarten", "primary"), ("", ""))
            label = zh if lang == "zh" else en
            out.append(f"{label}：{note[0] or '输入数据不足以计算'}" if lang == "zh"
                       else f"{label}: {note[1] or 'the inputs cannot support it'}")
    return out


def _audit_view(results: Sequence[ScenarioResult], lang: str) -> dict[str, Any]:
    """Failures first (for the top of the report), then every check per scenario."""
    zh = lang == "zh"
    fails, tables = [], []
    for r in results:
        name = r.label_zh if zh else r.label_en
        a = r.audit if r.audit is not None else pd.DataFrame()
        rows = []
        for _, c in a.iterrows():
            status = "通过" if c["passed"] is True else "不适用" if c["passed"] is None else "未通过"
            if not zh:
                status = {"通过": "passed", "不适用": "n/a", "未通过": "FAILED"}[status]
            detail = c["detail_zh"] if zh else c["detail"]
            rows.append({"label": c["label_zh"] if zh else c["label_en"], "status": status,
                         "failed": c["passed"] is False, "detail": detail, "rows": c["rows"]})
            if c["passed"] is False:
                fails.append({"scenario": name, "label": c["label_zh"] if zh else c["label_en"],
                              "detail": detail, "rows": c["rows"]})
        tables.append({"name": name, "rows": rows})
    n = sum(len(t["rows"]) for t in tables)
    return {"fails": fails, "tables": tables, "checks": n}


def _accounting(r: ScenarioResult, lang: str) -> str:
    """Every pupil accounted for: forecast = placed + unplaced (with causes)."""
    a = r.plan.assignment
    stage = a["band"].map({b: spec["stage"] for b, spec in BANDS.items()})
    parts = []
    for st in ("primary", "junior"):
        sub = a[stage == st]
        tot, un = int(sub["pupils"].sum()), sub[sub["mode"] == "unserved"]
        nr = int(sub.loc[sub["mode"] == "no_route", "pupils"].sum())
        n_un = int(un["pupils"].sum())
        causes = un.groupby(un["cause"].fillna("no_school"))["pupils"].sum()
        label = LEVEL_LABELS[st][lang]
        why = ("、" if lang == "zh" else ", ").join(
            f"{code_label('cause', c, lang)}{_n(v)}人" if lang == "zh" else f"{code_label('cause', c, lang)}: {_n(v)}"
            for c, v in causes.items())
        if lang == "zh":
            parts.append(f"{label}：预测{_n(tot)}人 = 已安置{_n(tot - n_un)}人（其中无道路连通{_n(nr)}人）"
                         f" + 未安置{_n(n_un)}人" + (f"（{why}）" if why else ""))
        else:
            parts.append(f"{label}: forecast {_n(tot)} = placed {_n(tot - n_un)} (of which {_n(nr)} with "
                         f"no road route) + unplaced {_n(n_un)}" + (f" ({why})" if why else ""))
    year = r.plan.params.get("year")
    head = f"{year}年学生去向核算：" if lang == "zh" else f"Every pupil of {year} accounted for: "
    return head + ("；".join(parts) if lang == "zh" else "; ".join(parts))


def _infeasible_rows(r: ScenarioResult, lang: str) -> list[dict[str, str]]:
    """Pupils the plan cannot place or route: village names and bands in words."""
    inf = r.plan.infeasible
    if inf is None or not len(inf):
        return []
    names = local_names(r.county.villages, lang)
    out = []
    for _, x in inf.iterrows():
        vid = x.get("village_id")
        village = DASH if is_missing(vid) else f"{names.get(vid, vid)}（{vid}）" if lang == "zh" else \
            f"{names.get(vid, vid)} ({vid})"
        out.append({"village": village, "band": code_label("band", x.get("band"), lang), "pupils": _n(x.get("pupils")),
                    "reason": x.get("reason_zh" if lang == "zh" else "reason_en")})
    return out


def _investment_rows(r: ScenarioResult, lang: str) -> list[dict[str, str]]:
    from schoolplan.metrics import investment

    inv = investment(r.plan.summary, r.plan.params.get("costs", {}))
    rows = [{"item": x["label_zh"] if lang == "zh" else x["label_en"], "quantity": _fmt(x["quantity"]),
             "unit": _fmt(x["unit_cost_wan"], "unit_cost_wan"), "cost": _fmt(x["cost_wan"], "cost_wan")}
            for _, x in inv.iterrows()]
    rows.append({"item": "合计" if lang == "zh" else "Total", "quantity": "", "unit": "",
                 "cost": _fmt(float(inv["cost_wan"].sum()), "cost_wan")})
    return rows


def _attendance_view(r: ScenarioResult, lang: str) -> dict[str, Any] | None:
    """How well today's modelled attendance reproduces the register, and how far pupils travel today."""
    from schoolplan.consolidate import attendance_fit

    if r.attendance is None or r.attendance.empty:
        return None
    fit = attendance_fit(r.attendance, r.county)
    f = r.attendance[r.attendance["minutes"].notna()]
    w = f["pupils"].to_numpy(float)
    m = f["minutes"].to_numpy(float)
    order = np.argsort(m)
    p95 = float(m[order][np.searchsorted(np.cumsum(w[order]) / w.sum(), 0.95)]) if w.sum() else float("nan")
    return {"schools": int(fit["school_id"].nunique()), "max_diff": int(fit["difference"].abs().max()),
            "pupils": _n(r.attendance["pupils"].sum()),
            "mean": _fmt(float((m * w).sum() / w.sum()), "minutes"), "p95": _fmt(p95, "minutes"), "no_route": int(fit["no_route"].sum()), "unknown": int(fit["unknown_origin"].sum()),
            "over60": int(f.loc[f["minutes"] > 60, "pupils"].sum())}


def _glossary(lang: str) -> list[dict[str, str]]:
    from schoolplan.metrics import INDICATOR_DEFINITIONS

    return [{"label": INDICATOR_LABELS.get(k, (k, k))[0 if lang == "zh" else 1], "text": v[0 if lang == "zh" else 1]}
            for k, v in INDICATOR_DEFINITIONS.items()]


def _data_quality(results: Sequence[ScenarioResult], lang: str = "zh") -> list[dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    for r in results:
        dq = r.data_quality if r.data_quality is not None else pd.DataFrame()
        for _, w in dq.iterrows():
            seen.setdefault(str(w["message"]), {"stage": code_label("stage", w.get("stage", ""), lang),
                                                "category": str(w["category"]), "message": str(w["message"])})
    return list(seen.values())


def _map_html(r: ScenarioResult, lang: str) -> str | None:
    try:
        from schoolplan.maps import map_html, plan_map
    except ImportError:
        return None
    return map_html(plan_map(r, basemap="none", lang=lang), offline=True)


def _phasing_view(r: ScenarioResult, lang: str) -> dict[str, Any] | None:
    from schoolplan.phasing.views import phasing_view

    return phasing_view(r, lang)


def _phasing_map_html(r: ScenarioResult, lang: str) -> str | None:
    try:
        from schoolplan.maps import map_html, phasing_map
    except ImportError:
        return None
    return map_html(phasing_map(r, basemap="none", lang=lang), offline=True)


def render_html(results: Sequence[ScenarioResult], *, lang: str = "zh", maps: bool = True) -> str:
    """The self-contained bilingual report as one HTML string.

    The first screen is the five-minute page: the audit verdict, at most 12 headline
    rows (:func:`headline_rows`) and the findings; every other indicator is in the
    appendix table (and all of them in the workbook's summary sheet).
    """
    env = Environment(loader=PackageLoader("schoolplan", "templates"), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    from schoolplan.readiness.views import readiness_view

    tpl = env.get_template("report.html.j2")
    zh = lang == "zh"
    scen = []
    for r in results:
        tw = _township_table(r, lang)
        scen.append({
            "name": r.name, "label": r.label_zh if zh else r.label_en,
            "label2": r.label_en if zh else r.label_zh,
            "map": _map_html(r, lang) if maps else None,
            "charts": _demand_charts(r, lang),
            "townships": tw.to_dict("records"),
            "dossiers": _dossiers(r, lang),
            "reserved": None if r.reserved is None else _reserved_view(r, lang),
            "infeasible": _infeasible_rows(r, lang),
            "accounting": _accounting(r, lang),
            "investment": _investment_rows(r, lang),
            "phasing": _phasing_view(r, lang),
            "phasing_map": _phasing_map_html(r, lang) if maps and r.phasing is not None else None,
        })
    bars = bar_chart_svg([r.label_zh if zh else r.label_en for r in results],
                         {("保留/扩建/新建" if zh else "kept/expanded/new"):
                          [r.indicators["schools_kept"] + r.indicators["schools_expanded"] + r.indicators["schools_new"]
                           for r in results],
                          ("撤并" if zh else "merged"): [r.indicators["schools_merged"] for r in results]},
                         title="学校数" if zh else "Schools")
    county = results[0].county if results else None
    return tpl.render(
        lang=lang, zh=zh, version=__version__,
        county=None if county is None else {"name": county.name, "name_en": county.name_en,
                                            "attribution": county.meta.get("attribution", "")},
        names=[r.label_zh if zh else r.label_en for r in results],
        headline=headline_rows(results, lang), best_note=_best_note(results, lang),
        rows=_comparison_rows(results, lang, skip=_headline_keys()), findings=findings(results, lang), bars=bars,
        scenarios=scen, audit=_audit_view(results, lang), glossary=_glossary(lang),
        missing=_missing_notes(results, lang), quality=_data_quality(results, lang),
        attendance=_attendance_view(results[0], lang) if results else None,
        readiness=readiness_view(results, lang),
    )


# --------------------------------------------------------------------------- XLSX
#: Columns holding codes of the data model, and the kind of label (:func:`schoolplan.i18n.code_label`).
_CODE_COLUMNS = {"level": "level", "decision": "decision", "mode": "mode", "band": "band", "reuse": "reuse",
                 "cause": "cause", "site_type": "site", "stage": "stage"}


def _width(value: Any) -> int:
    """Display width of a cell's text (CJK characters count double)."""
    text = "" if value is None else str(value)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _header(col: str, labels: Mapping[str, tuple[str, str]]) -> tuple[str, str]:
    """Chinese and English header of a column: given labels, indicators, the input schema, per-level names."""
    from schoolplan.schema import LAYERS, LEVELS

    if col in labels:
        return labels[col]
    if col in INDICATOR_LABELS:
        return INDICATOR_LABELS[col]
    for lv in (*STAGES, *LEVELS):
        if col.endswith(f"_{lv}") and col != lv:
            base = _header(col[: -len(lv) - 1], labels)
            if base[1] != col[: -len(lv) - 1]:
                return f"{LEVEL_LABELS[lv]['zh']}{base[0]}", f"{LEVEL_LABELS[lv]['en']}: {base[1]}"
    for spec in LAYERS.values():
        for c in spec.all_columns:
            if c.name == col and c.zh:
                return c.zh, col.replace("_", " ").capitalize()
    return col, col


def _cell(value: Any, kind: Any, code: str | None, lang: str) -> Any:
    """A value as the workbook shows it: codes in words, yes/no, rounded numbers, None for missing."""
    from schoolplan.fmt import rounded

    if value is pd.NA or value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, bool | np.bool_):
        return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")
    if code is not None:
        return code_label(code, value, lang)
    if isinstance(value, np.generic):
        value = value.item()
    if kind is not None and isinstance(value, int | float):
        return rounded(value, kind)
    if isinstance(value, list | tuple | dict | set):
        return ", ".join(map(str, value)) if not isinstance(value, dict) else json.dumps(value, ensure_ascii=False)
    return value


def _sheet(wb: Any, title: str, frame: pd.DataFrame, labels: Mapping[str, tuple[str, str]], *,
           lang: str = "zh", row_kinds: Sequence[Any] | None = None, freeze_cols: int = 0) -> None:
    """One formatted sheet: Chinese header row, English second row, frozen headers, autofilter,
    column widths, integer / one-decimal / percent formats and codes in words.

    Parameters
    ----------
    wb
        The openpyxl workbook.
    title
        Sheet name.
    frame
        The table; numbers are rounded as shown (:func:`schoolplan.fmt.rounded`), with
        the kind taken from the column name (:func:`schoolplan.fmt.kind_of`).
    labels
        Column → (Chinese, English) headers; indicators, input columns and per-level
        columns (``deficit_primary``) are labelled without an entry.
    lang
        Language of the words that replace codes (decisions, levels, modes, bands ...).
    row_kinds
        A kind per row, overriding the column kinds of numeric cells (the summary sheet,
        where each row is another indicator).
    freeze_cols
        Leading columns kept in view when scrolling sideways.
    """
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    from schoolplan.fmt import excel_format
    from schoolplan.io import safe_cell_value  # user text stays text (no formulas), XML-safe

    ws = wb.create_sheet(title)
    cols = [str(c) for c in frame.columns]
    heads = [_header(c, labels) for c in cols]
    ws.append([safe_cell_value(h[0]) for h in heads])
    ws.append([safe_cell_value(h[1]) for h in heads])
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in frame.columns]
    kinds = [kind_of(c) if num or frame[c].dtype == object else None for c, num in zip(cols, numeric, strict=True)]
    codes = [_CODE_COLUMNS.get(c) for c in cols]
    widths = [max(_width(h[0]), _width(h[1]) * 0.9, 6) for h in heads]
    for i, row in enumerate(frame.itertuples(index=False)):
        rk = row_kinds[i] if row_kinds is not None else None
        values = [_cell(v, rk if rk is not None and isinstance(v, int | float | np.number) and
                        not isinstance(v, bool | np.bool_) else k, code, lang)
                  for v, k, code in zip(row, kinds, codes, strict=True)]
        ws.append([safe_cell_value(v) for v in values])
        r = ws.max_row
        for j, (v, k) in enumerate(zip(values, kinds, strict=True), start=1):
            if isinstance(v, int | float) and not isinstance(v, bool):
                ws.cell(r, j).number_format = excel_format(rk or k or "count")
            if i < 300:
                widths[j - 1] = max(widths[j - 1], _width(number(v, rk or k or "count") if isinstance(v, int | float)
                                                          and not isinstance(v, bool) else v))
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for cell in ws[1]:
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for cell in ws[2]:
        cell.font = Font(italic=True, color="555555")
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    ws.freeze_panes = f"{get_column_letter(freeze_cols + 1)}3"
    if cols:
        ws.auto_filter.ref = f"A2:{get_column_letter(len(cols))}{max(ws.max_row, 2)}"
    for j, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = min(max(w + 2, 8), 60)


_SCHOOL_LABELS = {
    "scenario": ("方案", "Scenario"), "school_id": ("学校代码", "School id"), "name": ("名称", "Name"),
    "level": ("学段", "Level"), "township_id": ("乡镇代码", "Township id"), "township": ("乡镇", "Township"),
    "decision": ("处置", "Decision"), "receiving_id": ("接收学校代码", "Receiving school id"),
    "receiving": ("接收学校", "Receiving school"), "reason_zh": ("理由", "Reason (zh)"),
    "reason_en": ("理由（英文）", "Reason"), "students_before": ("现有学生", "Pupils before"),
    "pupils_if_unchanged": ("不调整时目标年学生", "Pupils in the target year if unchanged"),
    "students_after": ("规划学生", "Pupils after"), "classes_before": ("现有班级", "Classes before"),
    "classes_needed": ("所需班级", "Classes needed"), "classes_after": ("规划班级", "Classes after"),
    "classes_added": ("新增班级", "Classes added"), "capacity_after": ("规划学位", "Seats after"),
    "class_size_after": ("平均班额", "Mean class size"), "boarders": ("寄宿生", "Boarders"),
    "beds_available": ("现有床位", "Beds"), "beds_needed": ("需新增床位", "Beds to add"), "buses": ("校车", "Buses"),
    "teachers_needed": ("需要教师", "Teachers needed"), "teachers_on_staff": ("在编教师", "Teachers on staff"),
    "teacher_surplus": ("富余教师", "Surplus teachers"), "upgrade": ("需改善办学条件", "Needs an upgrade"),
    "reuse": ("校舍再利用", "Building reuse"), "far_pupils": ("超出校车时限的学生", "Pupils beyond the bus radius"),
    "radius_ok": ("生源在校车时限内", "Pupils within the bus radius"), "enrolment_ok": ("规模达标", "Enrolment adequate"),
    "quality_ok": ("质量达标", "Quality adequate"), "condition_ok": ("条件达标", "Conditions adequate"),
    "junior_moves": ("初中向县城集中", "Juniors move to the county seat"), "must_stay": ("应留必留", "Must stay"),
    "blocked_pupils": ("无法转出的学生", "Pupils who cannot move"),
    "village_id": ("村代码", "Village id"), "village": ("村名", "Village"), "band": ("学段组", "Grade band"),
    "school": ("就读学校", "School"), "school_before": ("原就读学校代码", "School before (id)"),
    "school_before_name": ("原就读学校", "School before"), "pupils": ("学生", "Pupils"), "mode": ("方式", "Mode"),
    "minutes": ("单程分钟", "Minutes"), "minutes_before": ("原单程分钟", "Minutes before"),
    "over_limit": ("超时", "Over limit"), "moved": ("转学", "Moves school"), "cause": ("原因", "Cause"),
    "zone": ("区域代码", "Zone id"), "zone_name": ("区域", "Zone"), "year": ("年份", "Year"), "grade": ("年级", "Grade"),
    "p10": ("预测下限（p10）", "Low (p10)"), "p50": ("预测中位数（p50）", "Median (p50)"),
    "p90": ("预测上限（p90）", "High (p90)"), "seats_today": ("现有学位", "Seats today"),
    "indicator": ("指标", "Indicator"), "indicator_en": ("指标（英文）", "Indicator (en)"), "key": ("代码", "Key"),
    "zone_id": ("控规单元代码", "Zone id"), "flag": ("需预留用地", "Needs land"),
    "demand": ("需求（用于测算）", "Demand (sizing year)"), "demand_plan": ("规划年需求", "Demand, planning year"),
    "demand_peak": ("峰值需求", "Demand, peak"), "housing": ("其中新建住宅", "Of it, new housing"),
    "supply": ("服务半径内学位", "Seats within radius"), "surplus": ("富余学位", "Seats unused"),
    "deficit": ("学位缺口", "Seats short"), "classes": ("缺口班数", "Classes short"),
    "schools": ("标准学校（所）", "Standard schools"), "school_size": ("标准规模（班）", "Standard size (classes)"),
    "land_m2": ("预留用地（㎡）", "Land to reserve (m²)"), "building_m2": ("建筑面积（㎡）", "Floor area (m²)"),
    "site_covered": ("推荐地块解决", "Served by recommended sites"), "sites": ("推荐地块", "Recommended sites"),
}


_AUDIT_LABELS = {
    "check": ("检查", "Check"), "label_zh": ("检查项", "Check (zh)"), "label_en": ("检查项（英文）", "Check (en)"),
    "passed": ("通过", "Passed"), "detail_zh": ("说明", "Detail (zh)"), "detail": ("说明（英文）", "Detail"),
    "rows": ("涉及对象", "Rows affected"), "n_rows": ("涉及数量", "Count"), "item": ("项目", "Item"),
    "label": ("项目名称", "Label"), "quantity": ("数量", "Quantity"), "unit_cost_wan": ("单价（万元）", "Unit cost (10k yuan)"),
    "cost_wan": ("金额（万元）", "Cost (10k yuan)"), "register": ("学籍人数", "Register"),
    "modelled": ("模型人数", "Modelled"), "difference": ("差异", "Difference"), "mean_minutes": ("平均单程", "Mean minutes"),
    "max_minutes": ("最长单程", "Longest minutes"), "no_route": ("无道路连通", "No road route"),
    "unknown_origin": ("生源村不明", "Unknown village"), "stage": ("环节", "Stage"), "category": ("类别", "Category"),
    "message": ("提示", "Message"),
}
_INVESTMENT_LABELS = {"label_zh": ("投资项目", "Item (zh)"), "label_en": ("投资项目（英文）", "Item")}


def _extra_sheets(wb: Any, results: Sequence[ScenarioResult], labels: dict[str, tuple[str, str]],
                  lang: str = "zh") -> None:
    """Audit, investment, attendance fit and data-quality sheets."""
    from schoolplan.consolidate import attendance_fit
    from schoolplan.metrics import investment

    lab = {**labels, **_AUDIT_LABELS}
    audits = [r.audit.assign(scenario=r.name) for r in results if r.audit is not None and len(r.audit)]
    if audits:
        a = pd.concat(audits, ignore_index=True)
        a["passed"] = a["passed"].map({True: "通过 passed", False: "未通过 FAILED", None: "不适用 n/a"})
        _sheet(wb, "audit", a[["scenario", "label_zh", "label_en", "passed", "detail_zh", "detail", "rows"]], lab,
               lang=lang)
    inv = pd.concat([investment(r.plan.summary, r.plan.params.get("costs", {})).reset_index().assign(scenario=r.name)
                     for r in results], ignore_index=True)
    _sheet(wb, "investment", inv[["scenario", "label_zh", "label_en", "quantity", "unit_cost_wan", "cost_wan"]],
           {**lab, **_INVESTMENT_LABELS}, lang=lang)
    if results and results[0].attendance is not None and len(results[0].attendance):
        fit = attendance_fit(results[0].attendance, results[0].county)
        if "school_id" in fit:
            fit.insert(fit.columns.get_loc("school_id") + 1, "name",
                       fit["school_id"].map(local_names(results[0].county.schools, lang)))
        _sheet(wb, "attendance_fit", fit, lab, lang=lang, freeze_cols=2)
    dq = pd.concat([r.data_quality for r in results if r.data_quality is not None and len(r.data_quality)] or
                   [pd.DataFrame(columns=["stage", "category", "message"])], ignore_index=True)
    _sheet(wb, "data_quality", dq.drop_duplicates(subset=["message"]).reset_index(drop=True), lab, lang=lang)


def _reserved_labels() -> dict[str, tuple[str, str]]:
    """Chinese / English headers of the reserved-land sheets (per-level columns expanded)."""
    per_level = {
        "demand": ("需求（用于测算）", "Demand (sizing year)"), "demand_plan": ("规划年需求", "Demand, planning year"),
        "demand_peak": ("峰值需求", "Demand, peak"), "housing": ("其中新建住宅", "Of it, new housing"),
        "moved": ("其中规划迁入", "Of it, moved in by the plan"), "year": ("测算年份", "Sizing year"),
        "supply": ("服务半径内学位", "Seats within radius"), "surplus": ("富余学位", "Seats unused"),
        "deficit": ("学位缺口", "Seats short"), "classes": ("缺口班数", "Classes short"),
        "schools": ("标准学校（所）", "Standard schools"), "school_size": ("标准规模（班）", "Standard size (classes)"),
        "land_m2": ("单独建校用地（㎡）", "Land if built alone (m²)"),
        "building_m2": ("单独建校建筑面积（㎡）", "Floor if built alone (m²)"),
        "site_covered": ("推荐地块解决", "Served by recommendations"), "sites": ("推荐地块", "Recommendations"),
        "uncovered": ("未解决", "Uncovered"), "land_to_find_m2": ("待落实用地（㎡）", "Land still to find (m²)"),
        "more_land_m2": ("还需增加用地（㎡）", "More land needed (m²)"),
        "closest_site": ("最接近的地块", "Closest parcel"),
        "plan_extra_land_m2": ("扩建学校周边用地（㎡）", "Land next to expanded schools (m²)"),
        "reason_zh": ("说明", "Reason (zh)"), "reason_en": ("说明（英文）", "Reason"),
    }
    out = {"zone_id": ("控规单元", "Zone"), "flag": ("需预留", "Needs land"), "site_id": ("地块", "Site"),
           "site_type": ("用地类型", "Site type"), "area_m2": ("地块面积（㎡）", "Parcel area (m²)"),
           "land_needed_m2": ("需用地（㎡）", "Land needed (m²)"),
           "building_needed_m2": ("需建筑面积（㎡）", "Floor needed (m²)"),
           "building_area_m2": ("现有建筑面积（㎡）", "Existing floor (m²)"), "seats": ("学位", "Seats"),
           "covered_demand": ("解决学生", "Pupils served"), "zones": ("服务单元", "Zones served"),
           "fits": ("面积满足", "Fits"), "source": ("来源", "Source"), "radius_m": ("服务半径（米）", "Radius (m)"),
           "children_within": ("半径内幼儿园需求", "Children within radius"),
           "seats_within": ("半径内可用学位", "Places within radius"),
           "shortfall": ("无学位幼儿", "Children without a place"),
           "capacity_children": ("校舍可容纳幼儿", "Building holds (children)"),
           "classes_before": ("现有班级", "Classes before"), "extra_land_m2": ("需增加用地（㎡）", "Extra land (m²)"),
           "extra_land_m2_primary": ("其中小学（㎡）", "Of it, primary (m²)"),
           "extra_land_m2_junior": ("其中初中（㎡）", "Of it, junior (m²)"),
           "site_recommendation": ("推荐用途", "Recommended as")}
    for key, (zh, en) in per_level.items():
        for lv in _LEVELS3:
            out[f"{key}_{lv}"] = (f"{LEVEL_LABELS[lv]['zh']}{zh}", f"{LEVEL_LABELS[lv]['en']}: {en}")
    return out


def _reserved_sheets(wb: Any, results: Sequence[ScenarioResult], labels: Mapping[str, tuple[str, str]],
                     lang: str = "zh") -> None:
    """Sheets reserved_land (zones), reserved_sites, plan_expansion_land and vacated_reuse."""
    labs = {**labels, **_reserved_labels()}
    done = [r for r in results if r.reserved is not None]
    if not done:
        return

    def frame(get: Any) -> pd.DataFrame | None:
        parts = [get(r).assign(scenario=r.name) for r in done if get(r) is not None and len(get(r))]
        if not parts:
            return None
        f = pd.concat(parts, ignore_index=True)
        return f[["scenario", *[c for c in f.columns if c != "scenario"]]]

    sheets = {
        "reserved_land": lambda r: pd.DataFrame(r.reserved.zones.drop(columns="geometry")).reset_index(),
        "reserved_sites": lambda r: pd.DataFrame(r.reserved.sites.drop(columns="geometry")).reset_index(),
        "plan_expansion_land": lambda r: r.reserved.summary.get("plan_expansions"),
        "vacated_reuse": lambda r: None if r.reserved.summary.get("vacated_kindergarten") is None else
        r.reserved.summary["vacated_kindergarten"].reset_index(),
    }
    for title, get in sheets.items():
        f = frame(get)
        if f is not None:
            _sheet(wb, title, f, labs, lang=lang, freeze_cols=2)


def _insert_after(frame: pd.DataFrame, after: str, name: str, values: pd.Series) -> pd.DataFrame:
    """``frame`` with a column ``name`` right after ``after`` (left as it is when ``after`` is absent)."""
    if after not in frame or name in frame:
        return frame
    out = frame.copy()
    out.insert(out.columns.get_loc(after) + 1, name, values)
    return out


def _named_schools(r: ScenarioResult, lang: str) -> pd.DataFrame:
    """The plan's schools as a table with township and receiving-school names next to their ids."""
    s = pd.DataFrame(r.plan.schools.drop(columns="geometry")).reset_index()
    names = _school_names(r, lang)
    s["name"] = s["school_id"].map(names).fillna(s.get("name"))
    s = _insert_after(s, "township_id", "township", s["township_id"].map(local_names(r.county.townships, lang)))
    return _insert_after(s, "receiving_id", "receiving", s["receiving_id"].map(names))


def _named_assignment(r: ScenarioResult, lang: str) -> pd.DataFrame:
    """The plan's assignment with village and school names next to their ids."""
    a = r.plan.assignment.copy()
    names = _school_names(r, lang)
    a = _insert_after(a, "village_id", "village", a["village_id"].map(local_names(r.county.villages, lang)))
    a = _insert_after(a, "school_id", "school", a["school_id"].map(names))
    return _insert_after(a, "school_before", "school_before_name", a["school_before"].map(names))


def write_xlsx(results: Sequence[ScenarioResult], path: Path, *, lang: str = "zh") -> Path:
    """Formatted comparison workbook: Chinese headers with an English second row on every sheet.

    Every sheet has frozen header rows, an autofilter, column widths to fit, whole
    numbers for counts and one decimal for minutes and money (:mod:`schoolplan.fmt`),
    and words instead of codes (in ``lang``). Sheets: summary (every indicator),
    schools, assignment, seats_by_year, audit, investment, attendance_fit,
    data_quality; phasing_years, phasing_actions, phasing_slips for phased plans;
    enrolment_tracking, cohort_retention, consolidation_rate, dropout_risk,
    balance_schools, balance_cv and balance_fix (控辍保学 and 优质均衡);
    reserved_land (zones), reserved_sites, plan_expansion_land and vacated_reuse when
    reserved land was computed.
    """
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    comp = pd.DataFrame({"key": list(INDICATOR_LABELS), "indicator": [v[0] for v in INDICATOR_LABELS.values()],
                         "indicator_en": [v[1] for v in INDICATOR_LABELS.values()]})
    labels = dict(_SCHOOL_LABELS)
    for r in results:
        comp[r.name] = [r.indicators.get(k) for k in INDICATOR_LABELS]
        labels[r.name] = (r.label_zh, r.label_en)
    _sheet(wb, "summary", comp, labels, lang=lang, row_kinds=[kind_of(k) for k in INDICATOR_LABELS], freeze_cols=2)
    schools = pd.concat([_named_schools(r, lang).assign(scenario=r.name) for r in results], ignore_index=True)
    _sheet(wb, "schools", schools[["scenario", *[c for c in schools.columns if c != "scenario"]]],
           {**labels, "name": ("学校名称", "School")}, lang=lang, freeze_cols=3)
    assign = pd.concat([_named_assignment(r, lang).assign(scenario=r.name) for r in results], ignore_index=True)
    _sheet(wb, "assignment", assign[["scenario", *[c for c in assign.columns if c != "scenario"]]], labels, lang=lang,
           freeze_cols=3)
    d = results[0].demand.groupby(["zone", "level", "year"], as_index=False)[["p10", "p50", "p90"]].sum()
    d = _insert_after(d, "zone", "zone_name", d["zone"].map(local_names(results[0].county.townships, lang)))
    _sheet(wb, "seats_by_year", d, labels, lang=lang, freeze_cols=2)
    _extra_sheets(wb, results, labels, lang)
    _reserved_sheets(wb, results, labels, lang)
    from schoolplan.phasing.views import phasing_sheets

    for title, frame, lab in phasing_sheets(results):
        _sheet(wb, title, frame, {**labels, **lab}, lang=lang, freeze_cols=2)
    from schoolplan.readiness.views import readiness_sheets

    for title, frame, lab in readiness_sheets(results, lang):
        _sheet(wb, title, frame, {**labels, **lab}, lang=lang, freeze_cols=2)
    import datetime as dt

    wb.properties.creator = f"schoolplan {__version__}"
    wb.properties.created = wb.properties.modified = dt.datetime(*_FIXED_TIME)
    wb.properties.lastModifiedBy = None
    wb.save(path)
    _fix_zip_times(path)
    return path


def _fix_zip_times(path: Path) -> None:
    """Give every member of a zip (XLSX) file a fixed timestamp so outputs are byte-identical."""
    import zipfile

    with zipfile.ZipFile(path) as zin:
        members = [(i, zin.read(i.filename)) for i in zin.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for info, data in members:
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time as "modified"
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>2000-01-01T00:00:00Z\g<2>", data)
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            zout.writestr(fixed, data)


# --------------------------------------------------------------------------- scenario copies
_SECTIONS = ("scenario", "network", "forecast", "consolidation", "reserve", "costs", "standards_overrides")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if value != value else ("inf" if value > 0 else "-inf") if abs(value) == float("inf") \
            else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml_key(str(k))} = {_toml_value(v)}" for k, v in value.items()
                                if v is not None) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def scenario_toml(result: ScenarioResult | Mapping[str, Any]) -> str:
    """The scenario a result ran, as a self-contained TOML file that runs again as it is.

    ``inherit`` chains are merged and every path (county folder, standards and speed
    profile files) is absolute, so ``schoolplan run <out>/scenarios/*.toml`` gives the
    same scenarios from any folder. Keys left to the standards (None) are left out,
    so they still mean "take the standards".

    Parameters
    ----------
    result
        A scenario result, or its ``config`` mapping (``Scenario.model_dump(mode="json")``).

    Returns
    -------
    str
        TOML text (UTF-8).
    """
    cfg = dict(result.config if isinstance(result, ScenarioResult) else result)
    source = cfg.pop("source", None)
    cfg.pop("name", None)
    lines = ["# 由 schoolplan 写出的完整方案文件：已合并 inherit，路径为绝对路径，可直接运行。",
             "# Written by schoolplan: the complete scenario (inherit merged, absolute paths); run it as it is."]
    if source:
        lines.append(f"# 原文件 / from: {source}")
    top = {k: v for k, v in cfg.items() if not isinstance(v, Mapping) and v is not None}
    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in top.items()]
    for name in [*_SECTIONS, *[k for k in cfg if k not in _SECTIONS]]:
        section = cfg.get(name)
        if not isinstance(section, Mapping):
            continue
        items = {k: v for k, v in section.items() if v is not None and not (isinstance(v, Mapping | list) and not v)}
        if not items:
            continue
        lines += ["", f"[{_toml_key(name)}]"]
        lines += [f"{_toml_key(str(k))} = {_toml_value(v)}" for k, v in items.items()]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- GPKG
def assignment_lines(r: ScenarioResult) -> gpd.GeoDataFrame:
    """Village → school lines of a plan's assignment (for maps and GIS)."""
    a = r.plan.assignment.dropna(subset=["school_id", "village_id"])  # unknown village: no line
    v = r.county.villages.geometry
    s = r.plan.schools.geometry
    geoms = [LineString([v[vid], s[sid]]) for vid, sid in zip(a["village_id"], a["school_id"], strict=True)]
    return gpd.GeoDataFrame(a.reset_index(drop=True), geometry=geoms, crs=r.county.crs)


def _with_action_years(r: ScenarioResult) -> gpd.GeoDataFrame:
    """The plan's schools with the school year of each of their actions in the phased plan."""
    from schoolplan.phasing.views import school_action_years

    if r.phasing is None:
        return r.plan.schools
    return r.plan.schools.join(school_action_years(r))


def _gpkg_layers(results: Sequence[ScenarioResult]) -> dict[str, gpd.GeoDataFrame]:
    layers: dict[str, gpd.GeoDataFrame] = {}
    for r in results:
        layers[f"{r.name}_schools"] = _with_action_years(r)
        layers[f"{r.name}_assignment"] = assignment_lines(r)
        if len(r.isochrones):
            layers[f"{r.name}_isochrones"] = r.isochrones
        if r.reserved is not None:
            layers[f"{r.name}_deficit_zones"] = r.reserved.zones
            if len(r.reserved.sites):
                layers[f"{r.name}_sites"] = r.reserved.sites
    from schoolplan.readiness.views import readiness_layers

    layers.update(readiness_layers(results))
    return layers


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")) if path.is_dir() else [path]:
        if p.is_file() and "scenarios" not in p.parts:
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def check_output_dir(out: str | Path, *, overwrite: bool = False) -> Path:
    """Check that ``out`` can take the outputs, before any work is done.

    Parameters
    ----------
    out
        The output folder.
    overwrite
        Whether a non-empty folder that is not an earlier schoolplan output may be replaced.

    Returns
    -------
    pathlib.Path
        The resolved folder.

    Raises
    ------
    OutputError
        The path is a file; the folder holds other files (and not ``overwrite``); or
        the nearest existing parent is not a writable folder.
    """
    import os

    from schoolplan.errors import OutputError

    target = Path(out).resolve()
    if target.exists() and not target.is_dir():
        raise OutputError("the output path exists and is a file", file=str(target),
                          fix="choose a folder name for --out")
    if target.exists() and not overwrite and not (target / "run.json").exists() and any(target.iterdir()):
        raise OutputError("the output folder exists and is not empty", file=str(target),
                          fix="choose another --out folder, or pass --overwrite")
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        why = "is not a folder" if not parent.is_dir() else "is not writable"
        raise OutputError(f"the output folder cannot be written: '{parent}' {why}", file=str(target),
                          fix="choose a folder you can write to")
    return target


def write_outputs(
    results: Sequence[ScenarioResult],
    out: str | Path,
    *,
    lang: str = "zh",
    overwrite: bool = False,
    maps: bool = True,
    inputs: Any = None,
    extra: Mapping[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Write report.html, comparison.xlsx, results.gpkg, scenario copies and run.json.

    Parameters
    ----------
    results
        Scenario results (the first is the baseline of the findings).
    out
        Output folder; replaced atomically at the end.
    lang
        Report language, ``zh`` (default) or ``en``.
    overwrite
        Replace an existing non-empty folder that is not an earlier schoolplan output
        (earlier outputs, recognised by their ``run.json``, are always replaced).
    maps
        Embed the interactive maps in the report.
    inputs
        A :class:`~schoolplan.County` whose cleaned input layers go to ``inputs_clean.gpkg``.
    extra
        More text files (file name → content, e.g. ``tradeoff.csv``) written in the same
        folder, so that they appear together with the rest or not at all.
    progress
        Called with ``"report"``, ``"workbook"`` and ``"layers"`` as each file is started.

    Returns
    -------
    pathlib.Path
        The output folder.
    """
    target = Path(out)
    previous = (target / "run.json").exists()  # our own earlier outputs may always be replaced
    try:
        return _write_outputs(results, target, lang=lang, overwrite=overwrite or previous, maps=maps,
                              inputs=inputs, extra=extra, progress=progress or (lambda _step: None))
    except OSError as exc:  # disk full, permissions, a folder vanished: the user's environment, not a bug
        from schoolplan.errors import OutputError

        raise OutputError(f"writing the outputs failed: {exc.strerror or exc}", file=str(target),
                          fix="free disk space or fix the permissions and run again; earlier outputs in "
                          "the folder are intact") from exc


def _write_outputs(results: Sequence[ScenarioResult], target: Path, *, lang: str, overwrite: bool, maps: bool,
                   inputs: Any, extra: Mapping[str, str] | None, progress: Callable[[str], None]) -> Path:
    for r in results:  # scenario names become file and layer names: they must not leave the folder
        _inside(target, f"scenarios/{r.name}.toml")
    with atomic_dir(target, overwrite=overwrite) as tmp:
        progress("report")
        (tmp / "report.html").write_text(render_html(results, lang=lang, maps=maps), encoding="utf-8")
        progress("workbook")
        write_xlsx(results, tmp / "comparison.xlsx", lang=lang)
        progress("layers")
        write_gpkg(_gpkg_layers(results), tmp / "results.gpkg")
        if inputs is not None:
            write_gpkg({k: v for k, v in inputs.layers().items() if len(v)}, tmp / "inputs_clean.gpkg")
        scen_dir = tmp / "scenarios"
        scen_dir.mkdir()
        for r in results:  # the complete scenario, so that it runs again as it is from any folder
            src = r.config.get("source")
            if r.config.get("scenario"):
                _inside(scen_dir, f"{r.name}.toml").write_text(scenario_toml(r), encoding="utf-8")
            elif src and Path(src).exists():
                shutil.copyfile(src, _inside(scen_dir, f"{r.name}.toml"))
        for name, text in (extra or {}).items():
            _inside(tmp, name).write_text(text, encoding="utf-8")
        county = results[0].county if results else None
        run = {
            "schoolplan": __version__,
            "python": platform.python_version(),
            "packages": {p: _version(p) for p in ("numpy", "pandas", "geopandas", "shapely", "scipy", "highspy",
                                                  "networkx", "osmnx", "folium", "scikit-learn", "pyogrio")},
            "county": None if county is None else {"name": county.name, "source": str(county.source),
                                                   "sha256": _sha256(Path(county.source))},
            "scenarios": [{"name": r.name, "label_zh": r.label_zh, "label_en": r.label_en, "timings_s": r.timings,
                           "audit": [] if r.audit is None else
                           r.audit[["check", "passed", "detail"]].to_dict("records"),
                           "data_quality": [] if r.data_quality is None else
                           r.data_quality.to_dict("records")} for r in results],
        }
        (tmp / "run.json").write_text(json.dumps(run, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return target


def _inside(folder: Path, name: str) -> Path:
    """``folder / name``, refusing names that would leave the output folder (``../x``, ``/x``)."""
    from schoolplan.errors import OutputError

    path = (folder / name).resolve()
    if not path.is_relative_to(folder.resolve()) or path == folder.resolve():
        raise OutputError(f"the output name '{name}' would be written outside the output folder",
                          fix="use scenario names without '/', '\\' or '..'")
    return path


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None

