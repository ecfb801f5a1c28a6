"""The phased plan for readers: a timeline by township, a table per year, XLSX sheets and GIS columns.

Every number shown here is read from :class:`~schoolplan.results.PhasedPlan`; nothing
is recomputed. Labels are bilingual (``lang="zh"`` or ``"en"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from schoolplan.charts import bar_chart_svg, gantt_svg
from schoolplan.results import PhasedPlan, ScenarioResult
from schoolplan.schema import PHASING_ACTIONS

__all__ = ["ACTION_COLOURS", "YEAR_LABELS", "action_years", "phasing_sheets", "phasing_view", "school_action_years",
           "timeline_svg"]

#: Colour of each action in the timeline and on maps.
ACTION_COLOURS: dict[str, str] = {"close": "#d7191c", "shed": "#f28e2b", "convert": "#e66101",
                                  "classrooms": "#2166ac", "beds": "#984ea3", "upgrade": "#e08214",
                                  "new_school": "#7b3294", "buses": "#4d9221"}

#: Columns of ``PhasedPlan.years`` → (zh, en).
YEAR_LABELS: dict[str, tuple[str, str]] = {
    "year": ("学年（秋季）", "School year (autumn)"), "closures": ("撤并学校", "Closures"),
    "schools_open": ("在办学校", "Schools open"), "pupils": ("学生", "Pupils"),
    "pupils_moving": ("当年转学", "Pupils moving that year"),
    "pupils_moved": ("在新学校就读（累计）", "Pupils at a new school (all years)"),
    "pupils_over_limit": ("超过走读时限", "Over the day limit"), "pupils_unplaced": ("未安置", "Unplaced"),
    "boarders": ("寄宿生", "Boarders"), "beds": ("床位", "Beds"), "buses": ("需要校车", "Buses needed"),
    "buses_bought": ("新购校车", "Buses bought"), "fleet": ("校车保有量", "Bus fleet"),
    "classrooms_ready": ("新增教室（累计启用）", "New classrooms in use"),
    "classes_short": ("按标准班额缺教室", "Classrooms short of the standard size"),
    "teachers_needed": ("需要教师", "Teachers needed"), "teachers_surplus": ("富余教师", "Surplus teachers"),
    "teachers_freed": ("撤并学校可调配教师", "Teachers of closing schools to redeploy"),
    "spending_wan": ("当年安排投资（万元）", "Capital funded (10k yuan)"),
    "budget_wan": ("年度预算（万元）", "Yearly budget (10k yuan)"),
}

_ACTION_LABELS: dict[str, tuple[str, str]] = {
    "action": ("事项", "Action"), "action_label": ("事项名称", "Action (label)"), "school_id": ("学校代码", "School id"),
    "name": ("学校名称", "School"), "township_id": ("乡镇", "Township"), "quantity": ("数量", "Quantity"),
    "fund_year": ("安排资金年份", "Funded in"), "year": ("实施（启用）学年", "Takes effect (school year)"),
    "cost_wan": ("投资（万元）", "Cost (10k yuan)"), "receiving": ("接收学校", "Receiving schools"),
    "ideal_year": ("不限预算与撤并数量时的年份", "Year without the budget and closure limits"),
    "reason_zh": ("理由", "Reason (zh)"), "reason_en": ("理由（英文）", "Reason"), "cause": ("原因类别", "Cause"),
    "scenario": ("方案", "Scenario"),
}


def _n(v: Any) -> str:
    return "—" if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA else f"{round(float(v)):,}"


def _short(kind: str, q: int, lang: str) -> str:
    zh = {"classrooms": f"+{q}间教室", "beds": f"+{q}张床位", "upgrade": "改善条件", "new_school": "新建学校",
          "buses": f"+{q}辆校车"}
    en = {"classrooms": f"+{q} classrooms", "beds": f"+{q} beds", "upgrade": "upgrade", "new_school": "new school",
          "buses": f"+{q} buses"}
    return (zh if lang == "zh" else en).get(kind, kind)


def _names(r: ScenarioResult) -> dict[str, str]:
    return {str(k): str(v) for k, v in r.plan.schools["name"].items()}


def _receiving(text: str, names: dict[str, str], lang: str) -> str:
    ids = [x.strip() for x in str(text).split(",") if x.strip()]
    if not ids:
        return ""
    first = names.get(ids[0], ids[0])
    if len(ids) == 1:
        return first
    return f"{first}等{len(ids)}校" if lang == "zh" else f"{first} + {len(ids) - 1}"


def timeline_svg(r: ScenarioResult, lang: str = "zh") -> str:
    """A Gantt-style timeline of the phased plan, one row per school with an action, grouped by township."""
    ph = r.phasing
    assert ph is not None
    zh = lang == "zh"
    names = _names(r)
    acts = ph.actions[ph.actions["school_id"].notna()]
    tw = r.county.townships
    tw_name = (tw["name"].astype(str) if "name" in tw else pd.Series(tw.index.astype(str), index=tw.index)).to_dict()
    if not zh and "name_en" in tw:
        tw_name = {k: (f"{v} ({tw_name[k]})" if isinstance(v, str) and v.strip() else tw_name[k])
                   for k, v in tw["name_en"].items()}
    seat = r.county.county_seat
    order = ([seat] if seat in tw.index else []) + [t for t in tw.index if t != seat]
    groups = []
    for t in order:
        sub = acts[acts["township_id"] == t]
        if sub.empty:
            continue
        rows = []
        closes = sub[sub["action"].isin(["close", "shed"])]
        first = {sid: int(y) if not pd.isna(y) else 10**6 for sid, y in zip(closes["school_id"], closes["year"],
                                                                            strict=True)}
        schools = sorted(set(sub["school_id"]), key=lambda s: (s not in first, first.get(s, 0), names.get(s, s)))
        for sid in schools:
            mine = sub[sub["school_id"] == sid]
            bars = []
            cap = mine[mine["action"].isin(["classrooms", "beds", "upgrade", "new_school"]) & mine["year"].notna()]
            for f, grp in cap.groupby("fund_year"):
                kinds = [k for k in ("new_school", "classrooms", "beds", "upgrade") if k in set(grp["action"])]
                text = " ".join(_short(k, int(grp.loc[grp["action"] == k, "quantity"].sum()), lang) for k in kinds)
                ready = int(grp["year"].max())
                bars.append((int(f), ready if ready > int(f) else int(f) + 0.35, ACTION_COLOURS[kinds[0]], text))
            marks, closed = [], None
            for a in mine[mine["action"].isin(["close", "shed"]) & mine["year"].notna()].itertuples():
                to = _receiving(str(a.receiving), names, lang)
                if a.action == "close":
                    text = f"{int(a.year)}年撤并→{to}（{_n(a.quantity)}人）" if zh else \
                        f"{int(a.year)}: closes → {to} ({_n(a.quantity)} pupils)"
                    closed = int(a.year)
                else:
                    text = f"{int(a.year)}年分流{_n(a.quantity)}人→{to}" if zh else \
                        f"{int(a.year)}: {_n(a.quantity)} pupils → {to}"
                marks.append((int(a.year), ACTION_COLOURS[str(a.action)], text))
            rows.append({"label": names.get(sid, sid), "bars": bars, "marks": marks, "closed_from": closed})
        groups.append((tw_name.get(t, str(t)), rows))
    years = [int(y) for y in ph.years["year"]]
    legend = [(ACTION_COLOURS["classrooms"], "新增教室（建设期→启用）" if zh else "classrooms (build → in use)"),
              (ACTION_COLOURS["beds"], "新增床位" if zh else "beds"),
              (ACTION_COLOURS["upgrade"], "改善办学条件" if zh else "upgrade"),
              (ACTION_COLOURS["new_school"], "新建学校" if zh else "new school"),
              (ACTION_COLOURS["close"], "撤并（×：秋季学期起）" if zh else "closure (× from the autumn term)"),
              ("hatch", "已撤并" if zh else "closed")]
    title = "分年度实施时间表（按乡镇）" if zh else "Phasing timeline by township"
    return gantt_svg(years, groups, title=title, legend=legend)


def action_years(ph: PhasedPlan, names: dict[str, str], lang: str = "zh") -> dict[int, list[str]]:
    """Per school year: what happens (closures, buildings coming into use, money funded), as sentences."""
    zh = lang == "zh"
    out: dict[int, list[str]] = {}
    a = ph.actions
    for y in ph.years["year"]:
        y = int(y)
        lines = []
        for r in a[(a["year"] == y) & a["action"].isin(["close", "shed"])].itertuples():
            to = _receiving(str(r.receiving), names, lang)
            lines.append(f"撤并{r.name}（{_n(r.quantity)}人→{to}）" if zh and r.action == "close" else
                         f"{r.name}分流{_n(r.quantity)}人→{to}" if zh else
                         f"{r.name} closes ({_n(r.quantity)} pupils → {to})" if r.action == "close" else
                         f"{r.name} sheds {_n(r.quantity)} pupils → {to}")
        ready = a[(a["year"] == y) & a["action"].isin(["classrooms", "beds", "upgrade", "new_school"])]
        if len(ready):
            items = [f"{r.name}{_short(str(r.action), int(r.quantity), lang)}" if zh else
                     f"{_short(str(r.action), int(r.quantity), lang)} at {r.name}" for r in ready.itertuples()]
            lines.append(("启用：" if zh else "in use: ") + ("、".join(items) if zh else ", ".join(items)))
        funded = a[(a["fund_year"] == y) & a["cost_wan"].notna()]
        if len(funded):
            total = float(funded["cost_wan"].sum())
            lines.append(f"安排资金{_n(total)}万元" if zh else f"funds {_n(total)} × 10k yuan")
        out[y] = lines
    return out


def phasing_view(r: ScenarioResult, lang: str = "zh") -> dict[str, Any] | None:
    """Everything the report's phasing section shows (None without a phased plan)."""
    ph = r.phasing
    if ph is None:
        return None
    zh = lang == "zh"
    names = _names(r)
    yrs = ph.years
    what = action_years(ph, names, lang)
    cols = ["pupils", "pupils_moving", "pupils_moved", "boarders", "beds", "buses", "buses_bought",
            "classrooms_ready", "classes_short", "teachers_needed", "teachers_surplus", "teachers_freed",
            "spending_wan"]
    if ph.params.get("budget_wan_per_year") is not None:
        cols.append("budget_wan")
    rows = [{"year": int(y["year"]), "actions": what.get(int(y["year"]), []),
             "cells": [_n(y[c]) for c in cols]} for _, y in yrs.iterrows()]
    spend = {("当年投资" if zh else "capital funded"): list(yrs["spending_wan"].astype(float))}
    budget = ph.params.get("budget_wan_per_year")
    if budget is not None:
        spend["年度预算" if zh else "budget"] = [float(budget)] * len(yrs)
    acts = ph.actions.copy()
    acts["label"] = acts["action"].map(lambda k: PHASING_ACTIONS[str(k)]["zh" if zh else "en"])
    reasons = [{"year": "—" if pd.isna(a.year) else int(a.year), "action": a.label,
                "school": a.name if isinstance(a.name, str) else "—",
                "quantity": _n(a.quantity), "cost": _n(a.cost_wan), "kind": str(a.action),
                "reason": a.reason_zh if zh else a.reason_en}
               for a in acts.sort_values(["year", "action"], na_position="last").itertuples()]
    closures = [x for x in reasons if x["kind"] in ("close", "shed")]
    slips = [{"school": s.name, "action": PHASING_ACTIONS[str(s.action)]["zh" if zh else "en"],
              "ideal": "—" if pd.isna(s.ideal_year) else int(s.ideal_year),
              "year": "—" if pd.isna(s.year) else int(s.year), "reason": s.reason_zh if zh else s.reason_en}
             for s in ph.slips.itertuples()]
    opts = ph.params
    lim = []
    lim.append(f"起始学年{opts['start_year']}" if zh else f"starts {opts['start_year']}")
    lim.append((f"每年预算{_n(budget)}万元" if zh else f"budget {_n(budget)} × 10k yuan a year") if budget is not None
               else ("不限年度预算" if zh else "no yearly budget limit"))
    most = opts.get("max_closures_per_year")
    lim.append((f"每年最多撤并{most}所" if zh else f"at most {most} closures a year") if most is not None
               else ("不限每年撤并数量" if zh else "no limit on closures a year"))
    lead = int(opts["build_lead_years"])
    lim.append(f"建设周期{lead}年" if zh else f"buildings ready {lead} year{'s' if lead != 1 else ''} after funding")
    return {
        "headline": ph.summary.get("headline_zh" if zh else "headline_en", ""),
        "options": ("；" if zh else "; ").join(lim),
        "timeline": timeline_svg(r, lang),
        "spending": bar_chart_svg([str(int(y)) for y in yrs["year"]], spend,
                                  title="逐年安排投资（万元）" if zh else "Capital funded by year (10k yuan)"),
        "columns": [YEAR_LABELS[c][0 if zh else 1] for c in cols],
        "rows": rows, "reasons": reasons, "slips": slips, "closures": closures,
        "reached": bool(ph.summary.get("reached_by_target", True)),
        "solve_seconds": ph.summary.get("solve_seconds"),
    }


def phasing_sheets(results: Sequence[ScenarioResult]) -> list[tuple[str, pd.DataFrame, dict[str, tuple[str, str]]]]:
    """XLSX sheets of the phased plans: ``phasing_years``, ``phasing_actions``, ``phasing_slips`` (title, frame, labels)."""
    ph = [r for r in results if r.phasing is not None]
    if not ph:
        return []
    years = pd.concat([r.phasing.years.assign(scenario=r.name) for r in ph], ignore_index=True)  # type: ignore[union-attr]
    years = years[["scenario", *[c for c in years.columns if c != "scenario"]]]
    acts = pd.concat([r.phasing.actions.assign(scenario=r.name) for r in ph], ignore_index=True)  # type: ignore[union-attr]
    acts.insert(1, "action_label", acts["action"].map(lambda k: f"{PHASING_ACTIONS[str(k)]['zh']} "
                                                              f"{PHASING_ACTIONS[str(k)]['en']}"))
    acts = acts[["scenario", *[c for c in acts.columns if c != "scenario"]]]
    for c in ("fund_year", "year", "ideal_year"):
        acts[c] = acts[c].astype(object).where(acts[c].notna(), None)
    slips = pd.concat([r.phasing.slips.assign(scenario=r.name) for r in ph], ignore_index=True)  # type: ignore[union-attr]
    slips = slips[["scenario", *[c for c in slips.columns if c != "scenario"]]]
    for c in ("ideal_year", "year"):
        slips[c] = slips[c].astype(object).where(slips[c].notna(), None)
    labels = {**YEAR_LABELS, **_ACTION_LABELS}
    return [("phasing_years", years, labels), ("phasing_actions", acts, labels), ("phasing_slips", slips, labels)]


def school_action_years(r: ScenarioResult) -> pd.DataFrame:
    """Per school of the plan: the school year of each of its actions (NA: none), for the GeoPackage.

    Columns: ``close_year``, ``classrooms_year`` (the last classrooms come into use),
    ``beds_year``, ``upgrade_year``, ``new_school_year``, ``first_action_year``.
    """
    idx = r.plan.schools.index
    out = pd.DataFrame(index=idx)
    ph = r.phasing
    kinds = {"close": "close_year", "classrooms": "classrooms_year", "beds": "beds_year", "upgrade": "upgrade_year",
             "new_school": "new_school_year"}
    for kind, col in kinds.items():
        if ph is None:
            out[col] = pd.array([None] * len(idx), dtype="Int64")
            continue
        a = ph.actions[(ph.actions["action"] == kind) & ph.actions["year"].notna()]
        got = a.groupby("school_id")["year"].max() if len(a) else pd.Series(dtype="Int64")
        out[col] = pd.array(got.reindex(idx).astype("object").where(got.reindex(idx).notna(), None), dtype="Int64")
    out["first_action_year"] = out[list(kinds.values())].min(axis=1, skipna=True).astype("Int64")
    return out
