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
from schoolplan.schema import DECISIONS, LEVEL_LABELS, MODES, STAGES

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
    """Plain-language findings comparing the scenarios to the first one (the baseline).

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
    for r in results:
        i = r.indicators
        name = r.label_zh if lang == "zh" else r.label_en
        if lang == "zh":
            text = (f"{name}：保留/扩建/新建学校 {i['schools_kept'] + i['schools_expanded'] + i['schools_new']:.0f} 所，"
                    f"撤并 {i['schools_merged']:.0f} 所；校车单程超过时限的学生 {i['pupils_over_limit']:.0f} 人"
                    f"（时限内 {i['share_within_limit'] * 100:.1f}%），最长 {i['max_minutes']:.0f} 分钟；"
                    f"寄宿生 {i['boarders']:.0f} 人，需新增床位 {i['beds_needed']:.0f} 张、教室 {i['classes_added']:.0f} 间；"
                    f"大班额 {i['classes_large']:.0f} 个；投资估算约 {i['capital_cost_wan']:,.0f} 万元。")
        else:
            text = (f"{name}: {i['schools_kept'] + i['schools_expanded'] + i['schools_new']:.0f} schools kept, "
                    f"expanded or new, {i['schools_merged']:.0f} merged; {i['pupils_over_limit']:.0f} pupils ride "
                    f"over the bus limit ({i['share_within_limit'] * 100:.1f}% within), longest "
                    f"{i['max_minutes']:.0f} min; {i['boarders']:.0f} boarders, {i['beds_needed']:.0f} beds and "
                    f"{i['classes_added']:.0f} classrooms to add; {i['classes_large']:.0f} large classes (≥56); "
                    f"capital cost about {i['capital_cost_wan']:,.0f} × 10k yuan.")
        out.append(text)
    for r in results[1:]:
        d_over = r.indicators["pupils_over_limit"] - base.indicators["pupils_over_limit"]
        d_large = r.indicators["classes_large"] - base.indicators["classes_large"]
        name = r.label_zh if lang == "zh" else r.label_en
        if lang == "zh":
            out.append(f"与{base.label_zh}相比，{name}使超时学生{'增加' if d_over > 0 else '减少'}"
                       f"{abs(d_over):.0f}人，大班额{'增加' if d_large > 0 else '减少'}{abs(d_large):.0f}个。")
        else:
            out.append(f"Compared with {base.label_en}, {name} {'adds' if d_over > 0 else 'removes'} "
                       f"{abs(d_over):.0f} pupils over the bus limit and {'adds' if d_large > 0 else 'removes'} "
                       f"{abs(d_large):.0f} large classes.")
    return out


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
        go = _moves(r, sid)
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


def _moves(r: ScenarioResult, sid: str) -> list[dict[str, Any]]:
    """Villages whose pupils attended ``sid`` before the plan: where they go, minutes before/after, mode."""
    a = r.plan.assignment
    rows = a[a["school_before"] == sid]
    names = r.county.villages["name"]
    snames = r.plan.schools["name"]
    return [{"village": names.get(v, v), "band": b, "pupils": round(float(p)), "to": snames.get(s, s),
             "before": _fmt(mb), "after": _fmt(m), "mode": MODES[mode]["zh"] + " / " + MODES[mode]["en"]}
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
        rows.append((f"{name}{'学位缺口' if zh else ' seats short'}", _fmt(summ.get(f"seats_short_{lv}"))))
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


def _map_html(r: ScenarioResult, lang: str) -> str | None:
    try:
        from schoolplan.maps import map_html, plan_map
    except ImportError:
        return None
    return map_html(plan_map(r, basemap="none", lang=lang), offline=True)


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
    )


# --------------------------------------------------------------------------- XLSX
def _sheet(wb: Any, title: str, frame: pd.DataFrame, labels: dict[str, tuple[str, str]]) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    from schoolplan.io import safe_cell_value  # user text stays text (no formulas), XML-safe

    ws = wb.create_sheet(title)
    cols = list(frame.columns)
    ws.append([safe_cell_value(labels.get(c, (c, c))[0]) for c in cols])
    ws.append([safe_cell_value(labels.get(c, (c, c))[1]) for c in cols])
    for row in frame.itertuples(index=False):
        ws.append([safe_cell_value(None if (isinstance(v, float) and np.isnan(v)) else
                                   (v.item() if isinstance(v, np.generic) else v)) for v in row])
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


def write_xlsx(results: Sequence[ScenarioResult], path: Path) -> Path:
    """Formatted comparison workbook: Chinese headers with an English second row.

    Sheets: summary, schools, assignment, seats_by_year, reserved_land (when computed).
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
    a = r.plan.assignment.dropna(subset=["school_id"])
    v = r.county.villages.geometry
    s = r.plan.schools.geometry
    geoms = [LineString([v[vid], s[sid]]) for vid, sid in zip(a["village_id"], a["school_id"], strict=True)]
    return gpd.GeoDataFrame(a.reset_index(drop=True), geometry=geoms, crs=r.county.crs)


def _gpkg_layers(results: Sequence[ScenarioResult]) -> dict[str, gpd.GeoDataFrame]:
    layers: dict[str, gpd.GeoDataFrame] = {}
    for r in results:
        layers[f"{r.name}_schools"] = r.plan.schools
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
            "scenarios": [{"name": r.name, "label_zh": r.label_zh, "label_en": r.label_en, "timings_s": r.timings}
                          for r in results],
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

