"""A plan that audits itself: the invariants every scenario result must satisfy.

:func:`audit` runs after every scenario (:func:`schoolplan.scenario.run_scenario`) and
returns one row per check. Failures go to the top of the report, and
``schoolplan run --strict`` exits non-zero on any failure. ``passed`` is None where a
check does not apply (e.g. capacity limits in the status quo, which builds nothing and
shows today's crowding as a finding instead).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from schoolplan.results import ScenarioResult
from schoolplan.schema import BANDS

__all__ = ["AUDIT_CHECKS", "PHASING_CHECKS", "audit", "audit_failures", "audit_phasing"]

#: Checks (key → zh, en) in the order they are reported.
AUDIT_CHECKS: dict[str, tuple[str, str]] = {
    "register_reproduced": ("基年就读复现学籍", "Base-year attendance reproduces the register"),
    "status_quo_is_today": ("现状方案即现状", "The status quo keeps every pupil at today's school"),
    "pupils_conserved": ("学生总数守恒", "Every pupil accounted for"),
    "whole_pupils": ("学生数为整数", "Whole pupils"),
    "unplaced_have_cause": ("未安置学生均有原因", "Unplaced pupils have a cause"),
    "served_means_reachable": ("时限内须可达", "Within the limit means reachable"),
    "travel_limits": ("转学学生不超走读时限", "Moved pupils within their day limit or boarding"),
    "no_young_boarders": ("1–3年级不寄宿", "No boarders in grades 1–3"),
    "boarding_within_beds": ("寄宿生不超床位", "Boarders within beds"),
    "capacity_and_class_size": ("规模与班额达标", "School size and class size within limits"),
    "reasons_match_numbers": ("理由与数字一致", "Reasons match the numbers"),
    "receivers_meet_thresholds": ("接收学校达标或列入改善", "Receiving schools meet thresholds or are upgraded"),
    "comparison_matches_sections": ("对比页与各节一致", "Comparison page equals the section totals"),
    # ------------------------------------------------------------------ the phased plan, every year
    "phasing_end_state": ("分年度方案按期达到规划终态", "The phased plan reaches the plan by its target year"),
    "phasing_conserved": ("逐年学生总数守恒", "Every pupil accounted for, every year"),
    "phasing_travel_limits": ("逐年转学学生不超走读时限", "Moved pupils within their day limit or boarding, every year"),
    "phasing_capacity": ("逐年接收学校教室与规模达标", "Receiving schools within classrooms and size, every year"),
    "phasing_beds": ("逐年寄宿生不超床位", "Boarders within beds, every year"),
    "phasing_built_before_used": ("先建后用：建成后才接收学生", "Capacity built before it is used"),
    "phasing_limits": ("逐年投资与撤并数量不超限", "Yearly budget and closures per year within their limits"),
}

#: The checks of a phased plan (a subset of :data:`AUDIT_CHECKS`).
PHASING_CHECKS: tuple[str, ...] = tuple(k for k in AUDIT_CHECKS if k.startswith("phasing_"))


def _row(key: str, passed: bool | None, zh: str, en: str, rows: Iterable[Any] = ()) -> dict[str, Any]:
    rs = [str(r) for r in rows]
    return {"check": key, "label_zh": AUDIT_CHECKS[key][0], "label_en": AUDIT_CHECKS[key][1],
            "passed": None if passed is None else bool(passed), "detail_zh": zh, "detail": en,
            "rows": ", ".join(rs[:20]) + (" …" if len(rs) > 20 else ""), "n_rows": len(rs)}


def _register(result: ScenarioResult) -> dict[str, Any]:
    from schoolplan.consolidate import attendance_fit

    if result.attendance is None or result.attendance.empty:
        return _row("register_reproduced", None, "未记录基年就读", "no attendance recorded for this result")
    fit = attendance_fit(result.attendance, result.county)
    bad = fit[fit["difference"] != 0]
    big = int(bad["difference"].abs().max()) if len(bad) else 0
    return _row("register_reproduced", bad.empty,
                f"{len(fit)}个学校年级段，{len(bad)}个与学籍不一致（最大差{big}人）",
                f"{len(fit)} school-bands; {len(bad)} differ from the register (largest difference {big} pupils)",
                bad["school_id"].unique())


def _status_quo(result: ScenarioResult) -> dict[str, Any]:
    plan = result.plan
    if plan.params.get("mode") != "status_quo":
        return _row("status_quo_is_today", None, "非现状方案", "not the status quo")
    a = plan.assignment
    moved = a[a["moved"].astype(bool)]
    s = plan.schools[plan.schools["decision"] != "vacant"]
    off = s[s["students_after"] != s["pupils_if_unchanged"]]
    ok = moved.empty and off.empty and (plan.schools["classes_added"] == 0).all()
    base = plan.params.get("year") == getattr(result.county, "base_year", None)
    extra_zh = extra_en = ""
    if base:
        reg = plan.schools["students_before"]
        diff = s[s["students_after"] != reg.reindex(s.index)]
        ok = ok and diff.empty
        extra_zh, extra_en = f"；基年{len(diff)}所学校与学籍不一致", f"; base year: {len(diff)} schools differ from the register"
    n_moved, n_cls = int(moved["pupils"].sum()), int(plan.schools["classes_added"].sum())
    return _row("status_quo_is_today", ok, f"转学{n_moved}人，{len(off)}所学校人数改变，新建教室{n_cls}间{extra_zh}",
                f"{n_moved} pupils moved, {len(off)} schools changed, {n_cls} classrooms built{extra_en}",
                [*moved["village_id"].dropna().unique(), *off.index])


def _forecast_by_stage(d: pd.DataFrame, year: int) -> pd.Series:
    """Forecast pupils of ``year`` per stage: p50 summed per township and band, rounded, then summed."""
    stage_of = {b: spec["stage"] for b, spec in BANDS.items()}
    grade_band = {g: b for b, spec in BANDS.items() for g in spec["grades"]}  # type: ignore[union-attr]
    f = d[(d["year"] == year) & d["level"].isin(["primary", "junior"])]
    f = f.assign(band=pd.to_numeric(f["grade"], errors="coerce").map(grade_band)).dropna(subset=["band"])
    by_tb = f.groupby(["zone", "band"])["p50"].sum().round()
    return by_tb.groupby(lambda k: stage_of[k[1]]).sum()


def _conserved(result: ScenarioResult) -> dict[str, Any]:
    a = result.plan.assignment
    year = result.plan.params.get("year")
    d = result.demand
    stage_of = {b: spec["stage"] for b, spec in BANDS.items()}
    got = a.assign(stage=a["band"].map(stage_of)).groupby("stage")["pupils"].sum()
    placed = a[a["mode"] != "unserved"].assign(stage=a["band"].map(stage_of)).groupby("stage")["pupils"].sum()
    if year is None or d is None or year not in set(d["year"]):
        return _row("pupils_conserved", None, f"无{year}年预测", f"no forecast for {year}")
    want = _forecast_by_stage(d, int(year))
    zh, en, bad = [], [], []
    for st, name in (("primary", "小学"), ("junior", "初中")):
        w, g, p = int(want.get(st, 0)), int(got.get(st, 0)), int(placed.get(st, 0))
        zh.append(f"{name}：预测{w:,} = 已安置{p:,} + 未安置{g - p:,}" + ("" if w == g else f"（实为{g:,}）"))
        en.append(f"{st}: forecast {w:,} = placed {p:,} + unplaced {g - p:,}" + ("" if w == g else f" (≠ {g:,})"))
        if w != g:
            bad.append(st)
    return _row("pupils_conserved", not bad, "；".join(zh), "; ".join(en), bad)


def _whole(result: ScenarioResult) -> dict[str, Any]:
    a = result.plan.assignment
    s = result.plan.schools
    cols = ["students_before", "students_after", "classes_added", "boarders", "beds_needed", "buses",
            "teachers_needed", "capacity_after"]
    bad = [c for c in cols if c in s and not pd.api.types.is_integer_dtype(s[c])]
    if not pd.api.types.is_integer_dtype(a["pupils"]):
        bad.append("assignment.pupils")
    return _row("whole_pupils", not bad, "全部计数为整数" if not bad else "非整数：" + "、".join(bad),
                "all counts are integers" if not bad else "not integer: " + ", ".join(bad), bad)


def _causes(result: ScenarioResult) -> dict[str, Any]:
    a = result.plan.assignment
    un = a[a["mode"].isin(["unserved", "no_route"])]
    missing = un[un["cause"].isna()]
    n_un, n_nr = int(un.loc[un["mode"] == "unserved", "pupils"].sum()), int(un.loc[un["mode"] == "no_route", "pupils"].sum())
    n_miss = int(missing["pupils"].sum())
    return _row("unplaced_have_cause", missing.empty, f"未安置{n_un}人、无道路连通{n_nr}人；无原因{n_miss}人",
                f"{n_un} unplaced and {n_nr} without a road route; {n_miss} without a cause",
                missing["village_id"].dropna().unique())


def _reachable(result: ScenarioResult) -> dict[str, Any]:
    from schoolplan.metrics import pupils_over_limit

    a = result.plan.assignment
    summ = result.plan.summary
    bad = a[a["mode"].isin(["walk", "bus", "boarding"]) & a["minutes"].isna()]
    within = a["mode"].isin(["walk", "bus", "boarding"]) & ~a["over_limit"].astype(bool)
    total = int(a["pupils"].sum())
    share = float(a.loc[within, "pupils"].sum() / total) if total else float("nan")
    ok = bad.empty and (np.isnan(share) or abs(share - float(summ["share_within_limit"])) < 1e-9) \
        and int(summ["pupils_over_limit"]) == pupils_over_limit(a)
    n_nr, n_un = int(a.loc[a["mode"] == "no_route", "pupils"].sum()), int(a.loc[a["mode"] == "unserved", "pupils"].sum())
    return _row("served_means_reachable", ok,
                f"无道路连通{n_nr}人、未安置{n_un}人均不计入时限内；缺少单程时间的已安置学生{int(bad['pupils'].sum())}人",
                f"{n_nr} pupils with no road route and {n_un} unplaced are not counted within the limit; "
                f"{int(bad['pupils'].sum())} routed pupils lack minutes", bad["village_id"].dropna().unique())


def _limit_breaks(a: pd.DataFrame, p: Mapping[str, Any]) -> tuple[pd.DataFrame, ...]:
    """Moved pupils (not of forced closures): all, over the day limit, boarding outside the rules, route lost."""
    forced = {s for s, d in dict(p.get("force", {})).items() if d == "close"}
    day = dict(p["day_limit_minutes"])
    moved = a[a["moved"].astype(bool) & ~a["school_before"].isin(forced)]
    over = moved[(moved["mode"] == "bus") & (moved["minutes"] > moved["band"].map(day))]
    board_bad = moved[(moved["mode"] == "boarding") & (~moved["band"].isin(list(p["boarding_bands"]))
                                                       | (moved["minutes"] > float(p["max_board_minutes"])))]
    routes = moved[(moved["mode"] == "no_route") & moved["minutes_before"].notna()]  # had a route, lost it
    return moved, over, board_bad, routes


def _limits(result: ScenarioResult) -> dict[str, Any]:
    a = result.plan.assignment
    p = result.plan.params
    forced = {s for s, d in dict(p.get("force", {})).items() if d == "close"}
    day = dict(p["day_limit_minutes"])
    moved, over, board_bad, routes = _limit_breaks(a, p)
    bad = pd.concat([over, board_bad, routes])
    forced_rows = a[a["moved"].astype(bool) & a["school_before"].isin(forced)]
    forced_over = forced_rows[(forced_rows["mode"] == "bus") & (forced_rows["minutes"] > forced_rows["band"].map(day))]
    n = [int(x["pupils"].sum()) for x in (moved, over, board_bad, routes)]
    zh = f"转学{n[0]}人；超走读时限{n[1]}人，违规寄宿{n[2]}人，失去道路连通{n[3]}人"
    en = (f"{n[0]} pupils move; {n[1]} would ride over their day limit, {n[2]} board outside the rules, "
          f"{n[3]} lose their road route")
    if len(forced_rows):
        k = int(forced_over["pupils"].sum())
        zh += f"；指定撤并（{'、'.join(sorted(forced))}）使{k}人超过走读时限"
        en += f"; forced closures ({', '.join(sorted(forced))}) send {k} pupils over their day limit"
        bad = pd.concat([bad, forced_over])
    return _row("travel_limits", bad.empty, zh, en,
                [f"{v}/{b}" for v, b in zip(bad["village_id"], bad["band"], strict=True)])


def _young(result: ScenarioResult) -> dict[str, Any]:
    a = result.plan.assignment
    bad = a[(a["band"] == "lower") & (a["mode"] == "boarding")]
    k = int(bad["pupils"].sum())
    return _row("no_young_boarders", bad.empty, f"1–3年级寄宿生{k}人", f"{k} pupils of grades 1–3 board",
                bad["village_id"].dropna().unique())


def _beds(result: ScenarioResult) -> dict[str, Any]:
    s = result.plan.schools
    s = s[s["decision"].isin(["keep", "expand", "new"])]
    bad = s[s["boarders"] > s["beds_available"] + s["beds_needed"]]
    b, today, add = int(s["boarders"].sum()), int(s["beds_available"].sum()), int(s["beds_needed"].sum())
    return _row("boarding_within_beds", bad.empty, f"寄宿生{b}人，现有床位{today}张，新增{add}张；{len(bad)}所学校床位不足",
                f"{b} boarders, {today} beds today, {add} to add; {len(bad)} schools short", bad.index)


def _capacity(result: ScenarioResult) -> dict[str, Any]:
    plan = result.plan
    s = plan.schools[plan.schools["decision"].isin(["keep", "expand", "new"])]
    big = s["level"].map(lambda lv: dict(plan.params["max_size"]).get(lv, np.inf)).astype(float)
    crowded = s[s["students_after"] > s["capacity_after"]]
    oversize = s[s["students_after"] > big]
    if plan.params.get("mode") == "status_quo":
        k = int((crowded["students_after"] - crowded["capacity_after"]).sum())
        return _row("capacity_and_class_size", None, f"现状不新建：{len(crowded)}所学校超过标准学位（{k}人）",
                    f"the status quo builds nothing: {len(crowded)} schools above their standard seats ({k} pupils)",
                    crowded.index)
    forced = {k for k, v in dict(plan.params.get("force", {})).items() if v == "keep"}
    bad = pd.Index(crowded.index).union(oversize.index).difference(list(forced))
    return _row("capacity_and_class_size", bad.empty,
                f"{len(crowded)}所学校超过标准学位，{len(oversize)}所超过最大规模",
                f"{len(crowded)} schools above standard seats, {len(oversize)} above their maximum size", bad)


_ENROL = re.compile(r"预计在校生(\d[\d,]*)人")


def _reasons(result: ScenarioResult) -> dict[str, Any]:
    plan = result.plan
    p = plan.params
    s = plan.schools[plan.schools["decision"] != "vacant"]
    bad = []
    for sid, row in s.iterrows():
        zh = str(row["reason_zh"])
        if "enrolment_ok" not in row or pd.isna(row.get("enrolment_ok")):
            continue
        flags = [bool(row[c]) for c in ("radius_ok", "enrolment_ok", "quality_ok", "condition_ok")]
        if zh.startswith("生源均在") and (not all(flags) or bool(row["junior_moves"])):
            bad.append(sid)
        if row["decision"] in ("merge", "convert") and all(flags) and not bool(row["junior_moves"]) \
                and p.get("mode") == "rules" and dict(p.get("force", {})).get(sid) != "close":
            bad.append(sid)
        if zh.startswith("应留必留") and not (bool(row["must_stay"]) and int(row["blocked_pupils"]) > 0):
            bad.append(sid)
        m = _ENROL.search(zh)
        if m and int(m.group(1).replace(",", "")) != int(row["pupils_if_unchanged"]):
            bad.append(sid)
        if zh.startswith("生源均在") and int(row["pupils_if_unchanged"]) < int(p["min_enrolment"]):
            bad.append(sid)
    bad = list(dict.fromkeys(bad))
    return _row("reasons_match_numbers", not bad, f"核对{len(s)}条理由与保留、撤并检验的数字；{len(bad)}条不一致",
                f"{len(s)} reasons checked against the keep and closure tests; {len(bad)} contradict them", bad)


def _receivers(result: ScenarioResult) -> dict[str, Any]:
    plan = result.plan
    a = plan.assignment
    got = set(a.loc[a["moved"].astype(bool) & a["school_id"].notna(), "school_id"])
    s = plan.schools.loc[[x for x in got if x in plan.schools.index]]
    if s.empty or "quality_ok" not in s:
        return _row("receivers_meet_thresholds", True, "无接收学校" if s.empty else "未提供评分",
                    "no school receives pupils" if s.empty else "no scores given")
    fails = s[~(s["quality_ok"].fillna(True).astype(bool) & s["condition_ok"].fillna(True).astype(bool))]
    bad = fails[~fails["upgrade"].astype(bool)]
    return _row("receivers_meet_thresholds", bad.empty,
                f"接收学校{len(s)}所；{len(fails)}所质量或条件未达标，其中{len(fails) - len(bad)}所已列入改善",
                f"{len(s)} receiving schools; {len(fails)} below the quality/condition thresholds, "
                f"{len(fails) - len(bad)} of them with an upgrade in the plan", bad.index)


def _comparison(result: ScenarioResult) -> dict[str, Any]:
    from schoolplan.metrics import capital_cost, pupils_over_limit

    ind = result.indicators
    plan = result.plan
    s, a = plan.schools, plan.assignment
    expect: Mapping[str, float] = {
        "schools_merged": int(s["decision"].isin(["merge", "convert"]).sum()),
        "schools_new": int((s["decision"] == "new").sum()),
        "pupils": int(a["pupils"].sum()),
        "pupils_over_limit": pupils_over_limit(a),
        "boarders": int(s["boarders"].sum()),
        "classes_added": int(s["classes_added"].sum()),
        "buses": int(s["buses"].sum()),
        "capital_cost_wan": round(capital_cost(plan.summary, plan.params.get("costs", {})), 1),
    }
    if result.reserved is not None:
        for lv in ("kindergarten", "primary", "junior"):
            expect[f"land_m2_{lv}"] = round(float(result.reserved.summary.get(f"land_m2_{lv}", 0.0)))
    bad = [k for k, v in expect.items() if k in ind.index and not np.isclose(float(ind[k]), float(v))]
    return _row("comparison_matches_sections", not bad, f"由方案明细重算{len(expect)}项对比指标；{len(bad)}项不一致",
                f"{len(expect)} headline figures recomputed from the plan's tables; {len(bad)} differ", bad)


# --------------------------------------------------------------------------- the phased plan, every year
def _phase_rules(result: ScenarioResult) -> Any:
    from dataclasses import fields

    from schoolplan.consolidate import Rules, make_rules

    names = {f.name for f in fields(Rules)}
    return make_rules(None, **{k: v for k, v in result.plan.params.items() if k in names})


def _ready_by(actions: pd.DataFrame, kind: str, year: int) -> pd.Series:
    a = actions[(actions["action"] == kind) & actions["year"].notna()]
    a = a[a["year"].astype(int) <= year]
    return a.groupby("school_id")["quantity"].sum()


def _phase_end_state(result: ScenarioResult) -> dict[str, Any]:
    ph, plan = result.phasing, result.plan
    assert ph is not None
    target = int(ph.summary["target_year"])
    s = plan.schools
    want = {"classrooms": s["classes_added"], "beds": s["beds_needed"],
            "upgrade": s["upgrade"].astype(int), "new_school": (s["decision"] == "new").astype(int)}
    short = []
    for kind, q in want.items():
        got = _ready_by(ph.actions, kind, target).reindex(s.index).fillna(0).astype(int)
        short += [f"{sid}:{kind}" for sid in s.index[got < q.astype(int)]]
    closing = set(s.index[s["decision"].isin(["merge", "convert"])])
    closes = ph.actions[ph.actions["action"] == "close"]
    late = closes[closes["year"].isna() | (closes["year"].fillna(10**6).astype(int) > target)]
    missing = sorted(closing - set(closes["school_id"]))
    same = None
    a = ph.assignment[ph.assignment["year"] == target]
    if len(a):
        key = ["village_id", "band", "school_before", "school_id", "mode"]

        def agg(x: pd.DataFrame) -> pd.Series:
            return x[[*key, "pupils"]].fillna({"village_id": "—", "school_before": "—", "school_id": "—"}) \
                .groupby(key)["pupils"].sum().sort_index()

        g1, g2 = agg(a), agg(plan.assignment)
        same = g1.index.equals(g2.index) and bool((g1.to_numpy() == g2.to_numpy()).all())
    ok = not short and late.empty and not missing and same is not False
    zh = (f"{target}年：撤并{len(closes) - len(late)}/{len(closing)}所，建设项目未完成{len(short)}项，"
          f"逐村逐学段去向{'与规划一致' if same else '与规划不一致' if same is False else '未核对'}")
    en = (f"{target}: {len(closes) - len(late)} of {len(closing)} closures done, {len(short)} building items "
          f"unfinished, village-by-band destinations {'equal the plan' if same else 'differ from the plan' if same is False else 'not compared'}")
    if len(late):
        zh += f"；推迟到目标年以后：{'、'.join(map(str, late['name']))}"
        en += f"; after the target year: {', '.join(map(str, late['name']))}"
    return _row("phasing_end_state", ok, zh, en, [*late["school_id"], *missing, *short])


def _phase_conserved(result: ScenarioResult) -> dict[str, Any]:
    ph = result.phasing
    assert ph is not None
    stage_of = {b: spec["stage"] for b, spec in BANDS.items()}
    bad, checked = [], 0
    for y, a in ph.assignment.groupby("year"):
        got = a.assign(stage=a["band"].map(stage_of)).groupby("stage")["pupils"].sum()
        if int(y) not in set(result.demand["year"]):
            continue
        want = _forecast_by_stage(result.demand, int(y))
        checked += 1
        for st in ("primary", "junior"):
            if int(want.get(st, 0)) != int(got.get(st, 0)):
                bad.append(f"{int(y)}/{st}")
    tot = ph.years.set_index("year")["pupils"]
    return _row("phasing_conserved", not bad and checked > 0,
                f"{checked}个年度逐年核对：学生数（{'、'.join(f'{y}年{v:,}' for y, v in tot.items())}）等于当年预测；"
                f"{len(bad)}项不一致",
                f"{checked} years checked: pupils ({', '.join(f'{y}: {v:,}' for y, v in tot.items())}) equal the "
                f"year's forecast; {len(bad)} differ", bad)


def _phase_limits_travel(result: ScenarioResult) -> dict[str, Any]:
    ph = result.phasing
    assert ph is not None
    bad, moved_n = [], []
    for y, a in ph.assignment.groupby("year"):
        moved, over, board_bad, routes = _limit_breaks(a, result.plan.params)
        moved_n.append(f"{int(y)}: {int(moved['pupils'].sum())}")
        for frame in (over, board_bad, routes):
            bad += [f"{int(y)}/{v}/{b}" for v, b in zip(frame["village_id"], frame["band"], strict=True)]
    return _row("phasing_travel_limits", not bad,
                f"每年转学学生（{'、'.join(moved_n)}）均在走读时限内或按规定寄宿；违规{len(bad)}组",
                f"pupils who have moved each year ({', '.join(moved_n)}) ride within their day limit or board as "
                f"the rules allow; {len(bad)} groups break it", bad)


def _school_loads(a: pd.DataFrame) -> pd.DataFrame:
    served = a[a["school_id"].notna() & (a["mode"] != "unserved")]
    out = served.pivot_table(index="school_id", columns="band", values="pupils", aggfunc="sum", fill_value=0)
    for b in BANDS:
        if b not in out:
            out[b] = 0
    out["boarders"] = served[served["mode"] == "boarding"].groupby("school_id")["pupils"].sum()
    out["arrivals"] = served[served["moved"].astype(bool)].groupby("school_id")["pupils"].sum()
    return out.fillna(0)


def _phase_capacity(result: ScenarioResult) -> dict[str, Any]:
    from schoolplan.consolidate.layout import classes_needed

    ph, plan = result.phasing, result.plan
    assert ph is not None
    r = _phase_rules(result)
    s = plan.schools
    bad, crowded = [], []
    for y, a in ph.assignment.groupby("year"):
        loads = _school_loads(a)
        ready = _ready_by(ph.actions, "classrooms", int(y))
        for sid, row in loads.iterrows():
            if sid not in s.index:
                continue
            lv = str(s.at[sid, "level"])
            need = classes_needed({b: int(row[b]) for b in BANDS}, lv, r)
            have = int(s.at[sid, "classes_before"]) + int(ready.get(sid, 0))
            pupils = int(sum(int(row[b]) for b in BANDS))
            big = float(dict(plan.params["max_size"]).get(lv, np.inf))
            if int(row["arrivals"]) > 0:
                if need > have or pupils > max(big, int(s.at[sid, "students_after"])):
                    bad.append(f"{int(y)}/{sid}")
            elif need > have:
                crowded.append(need - have)
    return _row("phasing_capacity", not bad,
                f"接收学生的学校逐年按标准班额有足够教室、且不超过最大规模；{len(bad)}校次不足。"
                f"不接收学生的学校在目标年前仍有{sum(crowded)}个班次超过标准班额（方案按目标年学生建设，早年学生较多）",
                f"schools receiving pupils have a classroom for every class at the standard size and stay within "
                f"their maximum size every year; {len(bad)} school-years fall short. Schools receiving no pupils still "
                f"lack {sum(crowded)} classroom-years before the target year (the plan builds for the target year's "
                "pupils; earlier years have more)", bad)


def _phase_beds(result: ScenarioResult) -> dict[str, Any]:
    ph, s = result.phasing, result.plan.schools
    assert ph is not None
    bad = []
    for y, a in ph.assignment.groupby("year"):
        loads = _school_loads(a)
        ready = _ready_by(ph.actions, "beds", int(y))
        for sid, row in loads.iterrows():
            beds = int(s.at[sid, "beds_available"]) if sid in s.index else 0
            if int(row["boarders"]) > beds + int(ready.get(sid, 0)):
                bad.append(f"{int(y)}/{sid}")
    peak = ph.years.set_index("year")["boarders"]
    return _row("phasing_beds", not bad,
                f"各年寄宿生（{'、'.join(f'{y}年{v}' for y, v in peak.items())}）均不超过当年已有床位；{len(bad)}校次超出",
                f"boarders each year ({', '.join(f'{y}: {v}' for y, v in peak.items())}) within the beds ready that "
                f"year; {len(bad)} school-years over", bad)


def _phase_built(result: ScenarioResult) -> dict[str, Any]:
    ph, s = result.phasing, result.plan.schools
    assert ph is not None
    lead = int(ph.params["build_lead_years"])
    start = int(ph.params["start_year"])
    acts = ph.actions
    cap = acts[acts["action"].isin(["classrooms", "beds", "upgrade", "new_school"]) & acts["year"].notna()]
    bad = [f"{r.school_id}:{r.action}" for r in cap.itertuples()
           if int(r.year) != int(r.fund_year) + lead or int(r.fund_year) < start]
    closed_at = {r.school_id: int(r.year) for r in acts[(acts["action"] == "close") & acts["year"].notna()]
                 .itertuples()}
    for y, a in ph.assignment.groupby("year"):
        loads = _school_loads(a)
        for sid, row in loads.iterrows():
            if sid in closed_at and int(y) >= closed_at[sid] and sum(int(row[b]) for b in BANDS) > 0:
                bad.append(f"{int(y)}/{sid}: open after closing")
            if int(row["arrivals"]) <= 0 or sid not in s.index:
                continue
            for kind, need in (("upgrade", bool(s.at[sid, "upgrade"])), ("new_school", s.at[sid, "decision"] == "new")):
                if need and int(_ready_by(acts, kind, int(y)).get(sid, 0)) < 1:
                    bad.append(f"{int(y)}/{sid}: {kind}")
    return _row("phasing_built_before_used", not bad,
                f"{len(cap)}项建设均在安排资金{lead}年后启用，接收学校在学生转入前完成改善或新建；撤并学校撤并后不再有学生；"
                f"{len(bad)}项不符",
                f"{len(cap)} buildings serve {lead} year(s) after funding, receiving schools are upgraded or built "
                f"before pupils arrive, and closed schools have no pupils; {len(bad)} break this", bad)


def _phase_limits(result: ScenarioResult) -> dict[str, Any]:
    ph = result.phasing
    assert ph is not None
    budget = ph.params.get("budget_wan_per_year")
    most = ph.params.get("max_closures_per_year")
    yrs = ph.years.set_index("year")
    bad = []
    if budget is not None:
        bad += [f"{y}: {v:,.1f} > {float(budget):,.1f}" for y, v in yrs["spending_wan"].items()
                if v > float(budget) + 1e-6]
    if most is not None:
        bad += [f"{y}: {v} closures > {most}" for y, v in yrs["closures"].items() if v > int(most)]
    closes = ph.actions[ph.actions["action"] == "close"]
    bad += [f"{sid}: closes {n} times" for sid, n in closes.groupby("school_id").size().items() if n > 1]
    lim_z = f"每年预算{float(budget):,.0f}万元" if budget is not None else "不限年度预算"
    lim_e = f"yearly budget {float(budget):,.0f} × 10k yuan" if budget is not None else "no yearly budget limit"
    lim_z += f"、每年最多撤并{most}所" if most is not None else "、不限每年撤并数量"
    lim_e += f", at most {most} closures a year" if most is not None else ", no limit on closures a year"
    spend = "、".join(f"{y}年{v:,.0f}" for y, v in yrs["spending_wan"].items())
    spend_e = ", ".join(f"{y}: {v:,.0f}" for y, v in yrs["spending_wan"].items())
    return _row("phasing_limits", not bad, f"{lim_z}；逐年投资（万元）{spend}；每校最多撤并一次；{len(bad)}项超限",
                f"{lim_e}; spending by year (10k yuan) {spend_e}; each school closes at most once; {len(bad)} over",
                bad)


_PHASING_FUNCS = (_phase_end_state, _phase_conserved, _phase_limits_travel, _phase_capacity, _phase_beds,
                  _phase_built, _phase_limits)


def audit_phasing(result: ScenarioResult) -> pd.DataFrame:
    """The checks of :data:`PHASING_CHECKS` on a result's phased plan (not applicable rows without one)."""
    if result.phasing is None:
        rows = [_row(k, None, "无分年度方案", "no phased plan") for k in PHASING_CHECKS]
    else:
        rows = [f(result) for f in _PHASING_FUNCS]
    out = pd.DataFrame(rows, columns=["check", "label_zh", "label_en", "passed", "detail_zh", "detail", "rows",
                                      "n_rows"])
    out["passed"] = pd.Series([r["passed"] for r in rows], dtype=object)  # True, False or None (not numpy bools)
    return out


def audit(result: ScenarioResult) -> pd.DataFrame:
    """Check a scenario result against the invariants every plan must satisfy.

    Parameters
    ----------
    result
        A scenario result (:func:`schoolplan.scenario.run_scenario`).

    Returns
    -------
    pandas.DataFrame
        One row per check of :data:`AUDIT_CHECKS` (the phased plan's checks,
        :func:`audit_phasing`, run on every year of it): ``check``, ``label_zh``,
        ``label_en``, ``passed`` (True, False, or None when it does not apply),
        ``detail_zh`` and ``detail`` (numbers, zh and en), ``rows`` (ids affected,
        first 20) and ``n_rows``.
    """
    rows = [f(result) for f in (_register, _status_quo, _conserved, _whole, _causes, _reachable, _limits, _young,
                                _beds, _capacity, _reasons, _receivers, _comparison)]
    out = pd.DataFrame(rows, columns=["check", "label_zh", "label_en", "passed", "detail_zh", "detail", "rows",
                                      "n_rows"])
    phased = audit_phasing(result)
    both = pd.concat([out, phased], ignore_index=True)
    both["passed"] = pd.Series([*(r["passed"] for r in rows), *phased["passed"]], dtype=object)
    return both


def audit_failures(results: Iterable[ScenarioResult]) -> pd.DataFrame:
    """The failed checks of several results: ``scenario`` plus the audit columns."""
    parts = [r.audit.assign(scenario=r.name) for r in results if r.audit is not None and len(r.audit)]
    if not parts:
        return pd.DataFrame(columns=["scenario", "check", "label_zh", "label_en", "passed", "detail_zh", "detail",
                                     "rows"])
    out = pd.concat(parts, ignore_index=True)
    return out[out["passed"].eq(False)][["scenario", *[c for c in out.columns if c != "scenario"]]]
