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
from collections.abc import Mapping, Sequence
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
from schoolplan.io import atomic_dir, write_gpkg
from schoolplan.metrics import HIGHER_IS_BETTER, INDICATOR_LABELS, LOWER_IS_BETTER
from schoolplan.results import ScenarioResult
from schoolplan.schema import BANDS, DECISIONS, LEVEL_LABELS, MODES, STAGES

__all__ = ["assignment_lines", "check_output_dir", "findings", "write_outputs", "write_xlsx"]

_LEVELS3 = STAGES
_FIXED_TIME = (2000, 1, 1, 0, 0, 0)


def _fmt(value: Any, key: str = "") -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    if "share" in key:
        return f"{float(value) * 100:.1f}%"
    if isinstance(value, float | np.floating) and not float(value).is_integer():
        return f"{float(value):,.1f}" if abs(value) >= 10 else f"{float(value):.3g}"
    return f"{round(float(value)):,}"


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
                     f"（需新增床位{_n(i['beds_needed'])}张）；投资估算{_fmt(i['capital_cost_wan'])}万元。")
        else:
            text = (f"{name}: {_n(stay)} schools kept, expanded or new, {_n(i['schools_merged'])} merged{why}, "
                    f"{_n(i['schools_must_stay'])} must stay (应留必留); {_n(i['pupils_moved'])} pupils change school, "
                    "all within their day limit or boarding" if i["pupils_moved"]
                    else f"{name}: all {_n(stay)} schools stay and no pupil changes school")
            text += (f"; {_n(i['pupils_over_limit'])} day pupils ride over their limit, {_n(i['boarders'])} board "
                     f"({_n(i['beds_needed'])} beds to add); capital cost {_fmt(i['capital_cost_wan'])} × 10k yuan.")
        out.append(text)
    b = base.indicators
    for r in results[1:]:
        i = r.indicators
        name = r.label_zh if zh else r.label_en
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
    return "—" if value is None or pd.isna(value) else f"{round(float(value)):,}"


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


def _comparison_rows(results: Sequence[ScenarioResult], lang: str) -> list[dict[str, Any]]:
    rows = []
    for key, (zh, en) in INDICATOR_LABELS.items():
        vals = [r.indicators.get(key) for r in results]
        nums = [float(v) for v in vals if v is not None and not pd.isna(v)]
        best = None
        if len(nums) > 1 and len(set(nums)) > 1 and key in HIGHER_IS_BETTER | LOWER_IS_BETTER:
            best = max(nums) if key in HIGHER_IS_BETTER else min(nums)
        cells = [{"text": _fmt(v, key), "best": best is not None and v is not None and not pd.isna(v)
                  and float(v) == best} for v in vals]
        rows.append({"key": key, "label": zh if lang == "zh" else en, "label2": en if lang == "zh" else zh,
                     "cells": cells})
    return rows


def _demand_charts(r: ScenarioResult, lang: str) -> list[str]:
    d = r.demand
    charts = []
    obs = r.county.enrolment.groupby(["level", "year"])["students"].sum()
    for lv in _LEVELS3:
        sub = d[d["level"] == lv].groupby("year")[["p10", "p50", "p90"]].sum()
        if sub.empty:
            continue
        seats = r.county.schools.query("status == 'open'")
        cap = float(seats.loc[seats["level"] == lv, "capacity_seats"].fillna(0).sum()) if lv == "kindergarten" \
            else None
        hist = obs.loc[lv] if lv in obs.index.get_level_values(0) else None
        title = (f"{LEVEL_LABELS[lv]['zh']}学位需求（p10–p90）" if lang == "zh"
                 else f"{LEVEL_LABELS[lv]['en']} seat demand (p10–p90)")
        charts.append(band_chart_svg(list(sub.index), list(sub["p50"]), list(sub["p10"]), list(sub["p90"]),
                                     title=title, ylabel="学生" if lang == "zh" else "pupils", capacity=cap,
                                     capacity_label="学位" if lang == "zh" else "seats",
                                     observed=(list(hist.index), list(hist.values)) if hist is not None else None))
    return charts


def _township_table(r: ScenarioResult) -> pd.DataFrame:
    s = r.plan.schools
    a = r.plan.assignment
    tw = r.county.townships
    vt = r.county.villages["township_id"]
    a = a.assign(township_id=a["village_id"].map(vt))
    rows = []
    for tid, trow in tw.iterrows():
        ss = s[s["township_id"] == tid]
        aa = a[a["township_id"] == tid]
        rows.append({
            "township": trow["name"], "schools_before": int((ss["students_before"] > 0).sum()),
            "schools_after": int(ss["decision"].isin(["keep", "expand", "new"]).sum()),
            "merged": int(ss["decision"].isin(["merge", "convert"]).sum()),
            "pupils": round(float(aa["pupils"].sum())),
            "over_limit": round(float(aa.loc[aa["over_limit"], "pupils"].sum())),
            "boarders": round(float(aa.loc[aa["mode"] == "boarding", "pupils"].sum())),
            "classes_added": int(ss["classes_added"].sum()),
        })
    return pd.DataFrame(rows)


def _dossiers(r: ScenarioResult, lang: str) -> list[dict[str, Any]]:
    s = r.plan.schools
    merged = s[s["decision"].isin(["merge", "convert"])]
    e = r.county.enrolment
    out = []
    for sid, row in merged.iterrows():
        trend = e[e["school_id"] == sid].groupby("year")["students"].sum()
        go = _moves(r, sid, lang)
        recv = row["receiving_id"]
        rs = s.loc[recv] if recv in s.index else None
        out.append({
            "id": sid, "name": row["name"], "level": LEVEL_LABELS.get(row["level"], {}).get(lang, row["level"]),
            "decision": DECISIONS[row["decision"]][lang], "reason": row["reason_zh" if lang == "zh" else "reason_en"],
            "trend": ", ".join(f"{int(y)}: {int(v)}" for y, v in trend.items()),
            "moves": go,
            "receiving": None if rs is None else {
                "name": rs["name"], "students_before": int(rs["students_before"]),
                "students_after": round(float(rs["students_after"])), "classes_after": int(rs["classes_after"]),
                "classes_added": int(rs["classes_added"]), "capacity_after": int(rs["capacity_after"]),
                "beds_needed": int(rs["beds_needed"]), "buses": int(rs["buses"])},
            "teachers_freed": int(row["teacher_surplus"]),
            "reuse": row.get("reuse"),
        })
    return out


def _moves(r: ScenarioResult, sid: str, lang: str = "zh") -> list[dict[str, Any]]:
    """Villages whose pupils attended ``sid`` before the plan: where they go, minutes before/after, mode."""
    a = r.plan.assignment
    rows = a[a["school_before"] == sid]
    names = r.county.villages["name"]
    snames = r.plan.schools["name"]
    return [{"village": names.get(v, "—" if v is None or pd.isna(v) else v), "band": BANDS[b][lang],
             "pupils": int(p), "to": snames.get(s, "—" if s is None or pd.isna(s) else s),
             "before": _fmt(mb), "after": _fmt(m), "mode": MODES[mode][lang]}
            for v, b, p, s, mb, m, mode in zip(rows["village_id"], rows["band"], rows["pupils"], rows["school_id"],
                                                rows["minutes_before"], rows["minutes"], rows["mode"], strict=True)]


def _reserved_view(r: ScenarioResult, lang: str) -> dict[str, Any]:
    """Headline figures, deficit zones and recommended sites of the reserved-land result."""
    res = r.reserved
    summ = res.summary
    zh = lang == "zh"
    rows = []
    for lv in _LEVELS3:
        name = LEVEL_LABELS[lv][lang]
        rows.append((f"{name}{'服务半径内学位缺口' if zh else ' seats short within the service radius'}", _fmt(summ.get(f"seats_short_{lv}"))))
        rows.append((f"{name}{'预留用地（㎡）' if zh else ' land to reserve (m²)'}", _fmt(summ.get(f"land_m2_{lv}"))))
    rows.append(("需预留用地的控规单元" if zh else "Zones needing land", ", ".join(summ.get("zones_flagged_ids", []))))
    rows.append(("缺少配套学校用地的住宅项目" if zh else "Developments without school land",
                 ", ".join(summ.get("developments_flagged_ids", []))))
    for key, zh_l, en_l in (("kindergarten_public_share", "公办园在园幼儿占比", "Public kindergarten share"),
                            ("kindergarten_inclusive_share", "普惠性幼儿园覆盖率", "Inclusive share")):
        if key in summ:
            gap = summ.get(f"{key}_gap_seats", 0)
            rows.append((zh_l if zh else en_l, f"{_fmt(summ[key], 'share')}" +
                         (f"（缺{gap}个学位）" if zh and gap else f" ({gap} seats short)" if gap else "")))
    zones = res.zones[res.zones["flag"]] if "flag" in res.zones else res.zones
    zone_rows = [{"name": z["name"], "reason": z["reason_zh" if zh else "reason_en"]} for _, z in zones.iterrows()]
    site_rows = [{"id": sid, "name": x.get("name"), "level": LEVEL_LABELS.get(x.get("level"), {}).get(lang, ""),
                  "area": _fmt(x.get("area_m2")), "need": _fmt(x.get("land_needed_m2")), "seats": _fmt(x.get("seats")),
                  "reason": x.get("reason_zh" if zh else "reason_en")} for sid, x in res.sites.iterrows()]
    return {"rows": rows, "zones": zone_rows, "sites": site_rows}


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
        causes = un.groupby(un["cause"].fillna("no_school"))["pupils"].sum()
        label = LEVEL_LABELS[st][lang]
        if lang == "zh":
            why = "、".join(f"{_CAUSES[c][0]}{int(v)}人" for c, v in causes.items())
            parts.append(f"{label}：预测{tot:,}人 = 已安置{tot - int(un['pupils'].sum()):,}人（其中无道路连通{nr}人）"
                         f" + 未安置{int(un['pupils'].sum())}人" + (f"（{why}）" if why else ""))
        else:
            why = ", ".join(f"{_CAUSES[c][1]}: {int(v)}" for c, v in causes.items())
            parts.append(f"{label}: forecast {tot:,} = placed {tot - int(un['pupils'].sum()):,} (of which {nr} with "
                         f"no road route) + unplaced {int(un['pupils'].sum())}" + (f" ({why})" if why else ""))
    year = r.plan.params.get("year")
    head = f"{year}年学生去向核算：" if lang == "zh" else f"Every pupil of {year} accounted for: "
    return head + ("；".join(parts) if lang == "zh" else "; ".join(parts))


_CAUSES = {"capacity": ("接收学校已满", "receiving schools full"), "no_receiver": ("无可达接收学校", "no receiving school"),
           "no_route": ("无道路连通", "no road route"), "no_school": ("本乡镇无该学段学校", "no school of the band")}


def _investment_rows(r: ScenarioResult, lang: str) -> list[dict[str, str]]:
    from schoolplan.metrics import investment

    inv = investment(r.plan.summary, r.plan.params.get("costs", {}))
    rows = [{"item": x["label_zh"] if lang == "zh" else x["label_en"], "quantity": _fmt(x["quantity"]),
             "unit": _fmt(x["unit_cost_wan"]), "cost": _fmt(x["cost_wan"])} for _, x in inv.iterrows()]
    rows.append({"item": "合计" if lang == "zh" else "Total", "quantity": "", "unit": "",
                 "cost": _fmt(float(inv["cost_wan"].sum()))})
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
            "pupils": int(r.attendance["pupils"].sum()), "mean": _fmt(float((m * w).sum() / w.sum())),
            "p95": _fmt(p95), "no_route": int(fit["no_route"].sum()), "unknown": int(fit["unknown_origin"].sum()),
            "over60": int(f.loc[f["minutes"] > 60, "pupils"].sum())}


def _glossary(lang: str) -> list[dict[str, str]]:
    from schoolplan.metrics import INDICATOR_DEFINITIONS

    return [{"label": INDICATOR_LABELS.get(k, (k, k))[0 if lang == "zh" else 1], "text": v[0 if lang == "zh" else 1]}
            for k, v in INDICATOR_DEFINITIONS.items()]


def _data_quality(results: Sequence[ScenarioResult]) -> list[dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    for r in results:
        dq = r.data_quality if r.data_quality is not None else pd.DataFrame()
        for _, w in dq.iterrows():
            seen.setdefault(str(w["message"]), {"stage": str(w.get("stage", "")), "category": str(w["category"]),
                                                "message": str(w["message"])})
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
    """The self-contained bilingual report as one HTML string."""
    env = Environment(loader=PackageLoader("schoolplan", "templates"), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    tpl = env.get_template("report.html.j2")
    scen = []
    for r in results:
        tw = _township_table(r)
        scen.append({
            "name": r.name, "label": r.label_zh if lang == "zh" else r.label_en,
            "label2": r.label_en if lang == "zh" else r.label_zh,
            "map": _map_html(r, lang) if maps else None,
            "charts": _demand_charts(r, lang),
            "townships": tw.to_dict("records"),
            "dossiers": _dossiers(r, lang),
            "reserved": None if r.reserved is None else _reserved_view(r, lang),
            "infeasible": r.plan.infeasible.to_dict("records"),
            "accounting": _accounting(r, lang),
            "investment": _investment_rows(r, lang),
            "phasing": _phasing_view(r, lang),
            "phasing_map": _phasing_map_html(r, lang) if maps and r.phasing is not None else None,
        })
    bars = bar_chart_svg([r.label_zh if lang == "zh" else r.label_en for r in results],
                         {("保留/扩建/新建" if lang == "zh" else "kept/expanded/new"):
                          [r.indicators["schools_kept"] + r.indicators["schools_expanded"] + r.indicators["schools_new"]
                           for r in results],
                          ("撤并" if lang == "zh" else "merged"): [r.indicators["schools_merged"] for r in results]},
                         title="学校数" if lang == "zh" else "Schools")
    county = results[0].county if results else None
    return tpl.render(
        lang=lang, zh=lang == "zh", version=__version__,
        county=None if county is None else {"name": county.name, "name_en": county.name_en,
                                            "attribution": county.meta.get("attribution", "")},
        names=[r.label_zh if lang == "zh" else r.label_en for r in results],
        rows=_comparison_rows(results, lang), findings=findings(results, lang), bars=bars, scenarios=scen,
        audit=_audit_view(results, lang), glossary=_glossary(lang), missing=_missing_notes(results, lang),
        quality=_data_quality(results), attendance=_attendance_view(results[0], lang) if results else None,
    )


# --------------------------------------------------------------------------- XLSX
def _sheet(wb: Any, title: str, frame: pd.DataFrame, labels: dict[str, tuple[str, str]]) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(title)
    cols = list(frame.columns)
    ws.append([labels.get(c, (c, c))[0] for c in cols])
    ws.append([labels.get(c, (c, c))[1] for c in cols])
    for row in frame.itertuples(index=False):
        ws.append([None if (v is pd.NA or (isinstance(v, float) and np.isnan(v))) else
                   (v.item() if isinstance(v, np.generic) else v) for v in row])
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for cell in ws[1]:
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for cell in ws[2]:
        cell.font = Font(italic=True, color="555555")
    ws.freeze_panes = "A3"
    for j, c in enumerate(cols, start=1):
        width = max(len(str(labels.get(c, (c, c))[0])) * 2, len(str(c)), 8)
        ws.column_dimensions[get_column_letter(j)].width = min(width + 2, 40)


_SCHOOL_LABELS = {
    "scenario": ("方案", "Scenario"), "school_id": ("学校代码", "School id"), "name": ("学校名称", "Name"),
    "level": ("学段", "Level"), "township_id": ("乡镇", "Township"), "decision": ("处置", "Decision"),
    "receiving_id": ("接收学校", "Receiving school"), "reason_zh": ("理由", "Reason (zh)"),
    "reason_en": ("理由（英文）", "Reason"), "students_before": ("现有学生", "Pupils before"),
    "students_after": ("规划学生", "Pupils after"), "classes_before": ("现有班级", "Classes before"),
    "classes_after": ("规划班级", "Classes after"), "classes_added": ("新增班级", "Classes added"),
    "capacity_after": ("规划学位", "Seats after"), "class_size_after": ("平均班额", "Mean class size"),
    "boarders": ("寄宿生", "Boarders"), "beds_available": ("现有床位", "Beds"), "beds_needed": ("需新增床位", "Beds to add"),
    "buses": ("校车", "Buses"), "teachers_needed": ("需要教师", "Teachers needed"),
    "teachers_on_staff": ("在编教师", "Teachers on staff"), "teacher_surplus": ("富余教师", "Surplus teachers"),
    "reuse": ("校舍再利用", "Building reuse"), "village_id": ("村代码", "Village id"), "band": ("学段组", "Band"),
    "pupils": ("学生", "Pupils"), "mode": ("方式", "Mode"), "minutes": ("单程分钟", "Minutes"),
    "minutes_before": ("原单程分钟", "Minutes before"), "over_limit": ("超时", "Over limit"),
    "zone": ("区域", "Zone"), "year": ("年份", "Year"), "grade": ("年级", "Grade"),
    "indicator": ("指标", "Indicator"), "key": ("代码", "Key"),
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


def _extra_sheets(wb: Any, results: Sequence[ScenarioResult], labels: dict[str, tuple[str, str]]) -> None:
    """Audit, investment, attendance fit and data-quality sheets."""
    from schoolplan.consolidate import attendance_fit
    from schoolplan.metrics import investment

    lab = {**labels, **_AUDIT_LABELS}
    audits = [r.audit.assign(scenario=r.name) for r in results if r.audit is not None and len(r.audit)]
    if audits:
        a = pd.concat(audits, ignore_index=True)
        a["passed"] = a["passed"].map({True: "通过 passed", False: "未通过 FAILED", None: "不适用 n/a"})
        _sheet(wb, "audit", a[["scenario", "label_zh", "label_en", "passed", "detail_zh", "detail", "rows"]], lab)
    inv = pd.concat([investment(r.plan.summary, r.plan.params.get("costs", {})).reset_index().assign(scenario=r.name)
                     for r in results], ignore_index=True)
    _sheet(wb, "investment", inv[["scenario", "label_zh", "label_en", "quantity", "unit_cost_wan", "cost_wan"]], lab)
    if results and results[0].attendance is not None and len(results[0].attendance):
        _sheet(wb, "attendance_fit", attendance_fit(results[0].attendance, results[0].county), lab)
    dq = pd.concat([r.data_quality for r in results if r.data_quality is not None and len(r.data_quality)] or
                   [pd.DataFrame(columns=["stage", "category", "message"])], ignore_index=True)
    _sheet(wb, "data_quality", dq.drop_duplicates(subset=["message"]).reset_index(drop=True), lab)


def write_xlsx(results: Sequence[ScenarioResult], path: Path) -> Path:
    """Formatted comparison workbook: Chinese headers with an English second row.

    Sheets: summary, schools, assignment, seats_by_year, audit, investment, attendance_fit,
    data_quality, phasing_years / phasing_actions / phasing_slips (phased plans), reserved_land
    (when computed).
    """
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    comp = pd.DataFrame({"key": list(INDICATOR_LABELS), "indicator": [v[0] for v in INDICATOR_LABELS.values()],
                         "indicator_en": [v[1] for v in INDICATOR_LABELS.values()]})
    labels = dict(_SCHOOL_LABELS)
    labels["indicator_en"] = ("指标（英文）", "Indicator (en)")
    for r in results:
        comp[r.name] = [r.indicators.get(k) for k in INDICATOR_LABELS]
        labels[r.name] = (r.label_zh, r.label_en)
    _sheet(wb, "summary", comp, labels)
    schools = pd.concat([pd.DataFrame(r.plan.schools.drop(columns="geometry")).reset_index().assign(scenario=r.name)
                         for r in results], ignore_index=True)
    _sheet(wb, "schools", schools[["scenario", *[c for c in schools.columns if c != "scenario"]]], labels)
    assign = pd.concat([r.plan.assignment.assign(scenario=r.name) for r in results], ignore_index=True)
    _sheet(wb, "assignment", assign[["scenario", *[c for c in assign.columns if c != "scenario"]]], labels)
    d = results[0].demand.groupby(["zone", "level", "year"], as_index=False)[["p10", "p50", "p90"]].sum()
    _sheet(wb, "seats_by_year", d, labels)
    _extra_sheets(wb, results, labels)
    from schoolplan.phasing.views import phasing_sheets

    for title, frame, lab in phasing_sheets(results):
        _sheet(wb, title, frame, {**labels, **lab})
    res_zones = [pd.DataFrame(r.reserved.zones.drop(columns="geometry")).reset_index().assign(scenario=r.name)
                 for r in results if r.reserved is not None]
    if res_zones:
        z = pd.concat(res_zones, ignore_index=True)
        _sheet(wb, "reserved_land", z[["scenario", *[c for c in z.columns if c != "scenario"]]], labels)
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

    Returns
    -------
    pathlib.Path
        The output folder.
    """
    target = Path(out)
    previous = (target / "run.json").exists()  # our own earlier outputs may always be replaced
    try:
        return _write_outputs(results, target, lang=lang, overwrite=overwrite or previous, maps=maps,
                              inputs=inputs, extra=extra)
    except OSError as exc:  # disk full, permissions, a folder vanished: the user's environment, not a bug
        from schoolplan.errors import OutputError

        raise OutputError(f"writing the outputs failed: {exc.strerror or exc}", file=str(target),
                          fix="free disk space or fix the permissions and run again; earlier outputs in "
                          "the folder are intact") from exc


def _write_outputs(results: Sequence[ScenarioResult], target: Path, *, lang: str, overwrite: bool, maps: bool,
                   inputs: Any, extra: Mapping[str, str] | None) -> Path:
    for r in results:  # scenario names become file and layer names: they must not leave the folder
        _inside(target, f"scenarios/{r.name}.toml")
    with atomic_dir(target, overwrite=overwrite) as tmp:
        (tmp / "report.html").write_text(render_html(results, lang=lang, maps=maps), encoding="utf-8")
        write_xlsx(results, tmp / "comparison.xlsx")
        write_gpkg(_gpkg_layers(results), tmp / "results.gpkg")
        if inputs is not None:
            write_gpkg({k: v for k, v in inputs.layers().items() if len(v)}, tmp / "inputs_clean.gpkg")
        scen_dir = tmp / "scenarios"
        scen_dir.mkdir()
        for r in results:
            src = r.config.get("source")
            if src and Path(src).exists():
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

