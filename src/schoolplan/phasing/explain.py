"""Why each action of a phased plan has its year, and which actions slip and why — in numbers.

For a closure in year :math:`c` the reason names what stops it a year earlier, read
from the schedule itself with the one year moved: the keep test (the school still has
enough pupils), a receiving school's classrooms, beds, upgrade or new building not yet
ready (with the numbers), the closures allowed per year, or — when nothing stops it —
the yearly costs it would add. A capital action names the pupils it serves. An action
later than in the schedule without the budget and the closure limit (the *ideal*
schedule) is a *slip*: the reason names the year's budget and what it went to, or the
closures of that year.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from schoolplan.consolidate import Rules
from schoolplan.phasing.model import CAPITAL_KINDS, Problem, Schedule, group_classes
from schoolplan.phasing.years import NONE_ID
from schoolplan.results import LayoutPlan, PhasedPlan
from schoolplan.schema import BANDS, PHASING_ACTIONS

__all__ = ["explain", "school_need"]


def school_need(prob: Problem, rules: Rules, j: str, year: int, moved: set[str]) -> dict[str, int]:
    """Pupils, classes needed and boarders of school ``j`` in ``year`` when the sources in ``moved`` have moved."""
    row = prob.base[year].get(j, {})
    tot = {b: float(row.get(b, 0)) for b in BANDS}
    boarders = float(row.get("boarders", 0))
    for (i, jj), v in prob.delta[year].items():
        if jj == j and i in moved:
            for b in BANDS:
                tot[b] += float(v[b])
            boarders += float(v["boarders"])
    lv = prob.level.get(j, "primary")
    bands = {b: max(0, round(v)) for b, v in tot.items()}
    if lv == "teaching_point":
        cls = group_classes(lv, {"lower": sum(bands.values())}, rules)
    else:
        cls = sum(group_classes(lv, {b: p}, rules) for b, p in bands.items())
    return {"pupils": sum(bands.values()), "classes": int(cls), "boarders": max(0, round(boarders))}


def _ready(sched: Schedule, kind: str, j: str, year: int, lead: int) -> int:
    f = sched.funded
    if not len(f):
        return 0
    return int(f.loc[(f["kind"] == kind) & (f["school_id"] == j) & (f["fund_year"] + lead <= year), "quantity"].sum())


def _next_ready(sched: Schedule, kind: str, j: str, year: int, lead: int) -> tuple[int, int] | None:
    """(units, school year) of the next units of ``kind`` at ``j`` ready after ``year``."""
    f = sched.funded
    if not len(f):
        return None
    later = f[(f["kind"] == kind) & (f["school_id"] == j) & (f["fund_year"] + lead > year)]
    if later.empty:
        return None
    y = int(later["fund_year"].min()) + lead
    return int(later.loc[later["fund_year"] + lead == y, "quantity"].sum()), y


class _Text:
    """Reason parts in Chinese and English."""

    def __init__(self) -> None:
        self.zh: list[str] = []
        self.en: list[str] = []

    def add(self, zh: str, en: str) -> None:
        self.zh.append(zh)
        self.en.append(en)

    def done(self) -> tuple[str, str]:
        return "；".join(self.zh), "; ".join(self.en)


def _wan(v: float) -> str:
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"


def _blockers(i: str, y: int, prob: Problem, sched: Schedule, rules: Rules, names: Mapping[str, str],
              state_pupils: Mapping[int, Mapping[str, int]], max_closures: int | None
              ) -> list[tuple[str, str, str, bool]]:
    """What keeps source ``i`` from moving its pupils in year ``y`` (given the rest of the schedule).

    Returns ``(cause, zh, en, fixable)``: cause is ``gate``, ``classrooms``, ``beds``,
    ``upgrade``, ``new_school``, ``max_size`` or ``closures``; ``fixable`` is True when
    the plan's own buildings, ready earlier, would remove it.
    """
    lead = prob.lead
    out: list[tuple[str, str, str, bool]] = []
    if y < prob.gate.get(i, prob.years[0]):
        p = state_pupils.get(y, {}).get(i, 0)
        out.append(("gate", f"{y}年该校仍有{p}名学生，不少于保留下限{rules.min_enrolment}人，仍符合保留条件",
                    f"in {y} it still has {p} pupils, not fewer than the {rules.min_enrolment} a small school "
                    "needs to stay", False))
        return out
    moved = {s for s, yr in sched.move_year.items() if yr is not None and yr <= y} | {i}
    targets = sorted({j for (src, j), v in prob.delta[y].items()
                      if src == i and j != i and j != NONE_ID and any(float(v[b]) > 0 for b in BANDS)})
    for j in targets:
        nm = names.get(j, j)
        got = school_need(prob, rules, j, y, moved)
        before = prob.classes_before.get(j, 0)
        planned = prob.qty["classrooms"].get(j, 0)
        have = before + _ready(sched, "classrooms", j, y, lead)
        if got["classes"] > have:
            zh = f"接收学校{nm}在{y}年需{got['classes']}个班（含转入学生）"
            en = f"the receiving school {nm} would need {got['classes']} classes in {y} (with the arrivals)"
            fixable = got["classes"] <= before + planned
            if not planned:
                zh += f"，现有教室{before}间，方案不在该校加建（目标年学生减少后即可容纳）"
                en += f" but has {before} classrooms, and the plan builds none there (its pupils fit once " \
                      "enrolment has fallen)"
            elif not fixable:
                zh += f"，方案新增的{planned}间教室全部建成也只有{before + planned}间"
                en += f"; even with all {planned} planned classrooms it would have {before + planned}"
            else:
                nxt = _next_ready(sched, "classrooms", j, y, lead)
                zh += f"，届时只有{have}间教室" + (f"，新增的{nxt[0]}间{nxt[1]}年起可用" if nxt else "")
                en += f" but has {have} classrooms then" + (f"; {nxt[0]} more are ready from {nxt[1]}" if nxt else "")
            out.append(("classrooms", zh, en, fixable))
        beds_before = prob.beds_before.get(j, 0)
        planned_b = prob.qty["beds"].get(j, 0)
        beds = beds_before + _ready(sched, "beds", j, y, lead)
        if got["boarders"] > beds:
            fixable = got["boarders"] <= beds_before + planned_b
            zh = f"{nm}在{y}年将有寄宿生{got['boarders']}人"
            en = f"{nm} would have {got['boarders']} boarders in {y}"
            if not fixable:
                zh += f"，方案的床位全部建成也只有{beds_before + planned_b}张"
                en += f"; even with all the plan's beds it would have {beds_before + planned_b}"
            else:
                nxt = _next_ready(sched, "beds", j, y, lead)
                zh += f"，届时只有床位{beds}张" + (f"，新增的{nxt[0]}张{nxt[1]}年起可用" if nxt else "")
                en += f" but {beds} beds then" + (f"; {nxt[0]} more are ready from {nxt[1]}" if nxt else "")
            out.append(("beds", zh, en, fixable))
        for kind in ("upgrade", "new_school"):
            if j in prob.qty[kind] and _ready(sched, kind, j, y, lead) < 1:
                nxt = _next_ready(sched, kind, j, y, lead)
                when = f"{nxt[1]}年" if nxt else "规划期内未"
                when_en = f"from {nxt[1]}" if nxt else "not within the plan's years"
                zh = (f"{nm}须先改善办学条件，{when}完成" if kind == "upgrade" else f"新学校{nm}{when}建成")
                en = (f"{nm} must be upgraded first, done {when_en}" if kind == "upgrade"
                      else f"the new school {nm} is ready {when_en}")
                out.append((kind, zh, en, True))
        cap = prob.max_size.get(j, math.inf)
        if got["pupils"] > cap and got["pupils"] > prob.plan_load.get(j, 0):
            out.append(("max_size", f"{nm}在{y}年将有{got['pupils']}名学生，超过最大规模{int(cap)}人",
                        f"{nm} would have {got['pupils']} pupils in {y}, above its maximum size of {int(cap)}",
                        False))
    if max_closures is not None and i in prob.closing:
        others = [s for s, yr in sched.move_year.items() if yr == y and s in prob.closing and s != i]
        if len(others) >= max_closures:
            out.append(("closures", f"{y}年已安排撤并{len(others)}所（{'、'.join(names.get(s, s) for s in others)}），"
                        f"达到每年上限{max_closures}所",
                        f"{y} already has {len(others)} closure(s) ({', '.join(names.get(s, s) for s in others)}), "
                        f"the limit of {max_closures} a year", False))
    return out


def _why_not_build(t: _Text, sid: str, kind: str, y: int, blocked: bool, prob: Problem, rules: Rules) -> None:
    """Why the schedule does not build earlier and move the pupils a year sooner."""
    if blocked and y - 1 - prob.lead < prob.years[0]:
        t.add(f"建设周期{prob.lead}年：{prob.years[0]}年起安排的资金最早{prob.years[0] + prob.lead}年可用",
              f"buildings take {prob.lead} year(s): money from {prob.years[0]} serves from {prob.years[0] + prob.lead}")
        return
    dm, db, wan = _yearly_cost(sid, y - 1, prob, rules)
    run = float(rules.costs.get("keep_small_school_wan", 0.0)) if kind == "close" else 0.0
    if wan > run:
        first = "提前建设并" if blocked else ""
        first_en = "building earlier and " if blocked else ""
        t.add(f"{first}在{y - 1}年撤并将使当年学生单程增加{dm:,.0f}分钟·人、寄宿生增加{db:,.0f}人"
              f"（折合{_wan(round(wan, 1))}万元），高于保留该校一年的运行成本{_wan(run)}万元",
              f"{first_en}closing in {y - 1} would add {dm:,.0f} pupil-minutes a day and {db:,.0f} boarders that "
              f"year ({_wan(round(wan, 1))} × 10k yuan), more than the {_wan(run)} it costs to keep the school open "
              "a year")
    elif not blocked:
        t.add("与其他撤并和建设的先后顺序共同决定", "set together with the order of the other closures and buildings")


def _yearly_cost(i: str, y: int, prob: Problem, rules: Rules) -> tuple[float, float, float]:
    """(pupil-minutes a day, boarders, 万元 a year) that moving source ``i`` adds in year ``y``."""
    dm = sum(float(v["pupil_minutes"]) for (s, _j), v in prob.delta[y].items() if s == i)
    db = sum(float(v["boarders"]) for (s, _j), v in prob.delta[y].items() if s == i)
    return dm, db, rules.travel_weight * dm + float(rules.costs.get("boarding_pupil_wan", 0.0)) * db


def _spent(actions: pd.DataFrame, year: int, names: Mapping[str, str]) -> tuple[float, str, str]:
    """Money funded in ``year`` and the three largest items (zh, en)."""
    a = actions[(actions["fund_year"] == year) & actions["cost_wan"].notna()]
    total = float(a["cost_wan"].sum())
    top = a.sort_values("cost_wan", ascending=False).head(3)
    zh = "、".join(f"{names.get(str(r.school_id), '') if r.school_id else ''}{PHASING_ACTIONS[r.action]['zh']}"
                  f"{int(r.quantity) if r.action in ('classrooms', 'beds', 'buses') else ''}"
                  f"{'间' if r.action == 'classrooms' else '张' if r.action == 'beds' else '辆' if r.action == 'buses' else ''}"
                  f"（{_wan(r.cost_wan)}万元）" for r in top.itertuples())
    en = ", ".join(f"{PHASING_ACTIONS[r.action]['en'].lower()}"
                   f"{' ×' + str(int(r.quantity)) if r.action in ('classrooms', 'beds', 'buses') else ''}"
                   f"{' at ' + names.get(str(r.school_id), str(r.school_id)) if r.school_id else ''}"
                   f" ({_wan(r.cost_wan)})" for r in top.itertuples())
    return total, zh, en


def explain(out: PhasedPlan, plan: LayoutPlan, prob: Problem, sched: Schedule, ideal: Schedule, rules: Rules,
            params: Mapping[str, Any], state_pupils: Mapping[int, Mapping[str, int]] | None = None) -> PhasedPlan:
    """Add ``reason_zh``/``reason_en`` to every action and the ``slips`` table (see the module docstring)."""
    names = {str(k): str(v) for k, v in plan.schools["name"].items()}
    pupils = state_pupils or {}
    lead = prob.lead
    start = prob.years[0]
    target = prob.target
    budget = params.get("budget_wan_per_year")
    cap = params.get("max_closures_per_year")
    acts = out.actions.copy()
    slips = []
    for k, a in acts.iterrows():
        t = _Text()
        sid = None if a["school_id"] is None or pd.isna(a["school_id"]) else str(a["school_id"])
        y = None if pd.isna(a["year"]) else int(a["year"])
        kind = str(a["action"])
        if kind in ("close", "shed", "convert"):
            assert sid is not None
            recv = [names.get(r.strip(), r.strip()) for r in str(a["receiving"]).split(",") if r.strip()]
            if kind == "convert":
                t.add("校舍在学校撤并后改作他用（改建费用未计入投资估算）",
                      "the building is converted once the school has closed (conversion costs are not in the "
                      "investment estimate)")
            elif y is None:
                t.add(f"规划期内无法撤并：{int(a['quantity'])}名学生尚无接收条件",
                      f"cannot close within the plan's years: {int(a['quantity'])} pupils have no receiving place")
            else:
                verb_z, verb_e = ("撤并", "closes") if kind == "close" else ("分流超出最大规模的学生", "sheds pupils above its maximum size")
                t.add(f"{y}年秋季学期起{verb_z}，{int(a['quantity'])}名学生转入{'、'.join(recv)}",
                      f"{verb_e} from the autumn term of {y}: {int(a['quantity'])} pupils move to {', '.join(recv)}")
                if y == start:
                    t.add(f"规划首年即可实施：接收学校在{y}年已有足够的教室和床位",
                          f"possible in the first year of the plan: the receiving schools have the classrooms and "
                          f"beds in {y}")
                else:
                    why = _blockers(sid, y - 1, prob, sched, rules, names, pupils, cap)
                    for _c, zh, en, _f in why:
                        t.add(f"未提前到{y - 1}年：{zh}", f"not in {y - 1}: {en}")
                    ideal_y = None if pd.isna(a["ideal_year"]) else int(a["ideal_year"])
                    if all(f for *_x, f in why) and (ideal_y is None or ideal_y >= y):
                        _why_not_build(t, sid, kind, y, bool(why), prob, rules)
        elif kind == "buses":
            t.add(f"{y}年需要校车{int(out.years.set_index('year').at[y, 'buses'])}辆，购置{int(a['quantity'])}辆",
                  f"{int(out.years.set_index('year').at[y, 'buses'])} buses are needed in {y}: buy "
                  f"{int(a['quantity'])}")
        else:
            assert sid is not None
            _capital_reason(t, kind, sid, a, y, prob, sched, rules, names, lead)
        ideal_y = None if pd.isna(a["ideal_year"]) else int(a["ideal_year"])
        slip = (y is None) or (ideal_y is not None and y > ideal_y) or (y is not None and y > target
                                                                         and kind != "buses")
        if slip and kind in ("close", "shed", *CAPITAL_KINDS):
            cause, zh, en = _slip(kind, sid, ideal_y, y, a, prob, sched, rules, names, acts, budget, cap, target)
            t.add(zh, en)
            slips.append({"action": kind, "school_id": sid, "name": names.get(sid or "", ""), "ideal_year": ideal_y,
                          "year": y, "cause": cause, "reason_zh": zh, "reason_en": en})
        acts.at[k, "reason_zh"], acts.at[k, "reason_en"] = t.done()
    slip_frame = pd.DataFrame(slips, columns=["action", "school_id", "name", "ideal_year", "year", "cause",
                                              "reason_zh", "reason_en"])
    for c in ("ideal_year", "year"):
        slip_frame[c] = pd.array(slip_frame[c].astype("object").where(slip_frame[c].notna(), None), dtype="Int64")
    summary = dict(out.summary)
    summary.update(_headline(out, acts, prob, params, names))
    return PhasedPlan(actions=acts, years=out.years, schools=out.schools, assignment=out.assignment,
                      slips=slip_frame, summary=summary, params=out.params)


def _capital_reason(t: _Text, kind: str, sid: str, a: pd.Series, y: int | None, prob: Problem, sched: Schedule,
                    rules: Rules, names: Mapping[str, str], lead: int) -> None:
    names.get(sid, sid)
    if y is None:
        t.add("规划期内未能安排资金", "not funded within the plan's years")
        return
    fund = int(a["fund_year"])
    senders = sorted(i for (i, j), v in prob.delta[y].items()
                     if j == sid and i != sid and any(float(v[b]) > 0 for b in BANDS))
    users = [i for i in senders if sched.move_year.get(i) is not None and int(sched.move_year[i]) >= y]
    first = min((int(sched.move_year[i]) for i in users), default=None)
    moved = {s for s, yr in sched.move_year.items() if yr is not None and yr <= y}
    need = school_need(prob, rules, sid, y, moved)
    t.add(f"{fund}年安排资金，{y}年秋季学期起可用", f"funded in {fund}, in use from the autumn term of {y}")
    if kind == "classrooms":
        have = prob.classes_before.get(sid, 0) + _ready(sched, "classrooms", sid, y, lead)
        if users:
            t.add(f"供{first}年起转入的{'、'.join(names.get(i, i) for i in users)}学生使用",
                  f"for the pupils of {', '.join(names.get(i, i) for i in users)} arriving from {first}")
        if need["classes"] > prob.classes_before.get(sid, 0):
            t.add(f"{y}年该校需{need['classes']}个班，现有教室{prob.classes_before.get(sid, 0)}间，届时共{have}间",
                  f"in {y} the school needs {need['classes']} classes; it has {prob.classes_before.get(sid, 0)} "
                  f"classrooms today and {have} then")
    elif kind == "beds":
        beds = prob.beds_before.get(sid, 0) + _ready(sched, "beds", sid, y, lead)
        if users:
            t.add(f"供{first}年起转入的{'、'.join(names.get(i, i) for i in users)}寄宿生使用",
                  f"for the boarders of {', '.join(names.get(i, i) for i in users)} arriving from {first}")
        t.add(f"{y}年寄宿生{need['boarders']}人，床位届时共{beds}张",
              f"{need['boarders']} boarders in {y}, {beds} beds then")
    elif kind == "upgrade":
        t.add("接收学生前达到质量和办学条件标准" if users else "达到质量和办学条件标准（应留必留学校）",
              "brought up to the quality and condition thresholds before pupils arrive" if users
              else "brought up to the quality and condition thresholds (a school that must stay)")
    elif kind == "new_school":
        t.add(f"供{first}年起转入的学生使用" if first else "新建学校",
              f"for the pupils arriving from {first}" if first else "a new school")


def _slip(kind: str, sid: str | None, ideal_y: int | None, y: int | None, a: pd.Series, prob: Problem,
          sched: Schedule, rules: Rules, names: Mapping[str, str], acts: pd.DataFrame, budget: float | None,
          cap: int | None, target: int) -> tuple[str, str, str]:
    """Cause and reason of an action later than in the ideal schedule (or after the target year)."""
    nm = names.get(sid or "", sid or "")
    label_zh, label_en = PHASING_ACTIONS[kind]["zh"], PHASING_ACTIONS[kind]["en"].lower()
    when_z = f"{y}年" if y is not None else "规划期以后"
    when_e = f"{y}" if y is not None else "beyond the plan's years"
    head_z = f"{nm}{label_zh}由{ideal_y}年推迟到{when_z}" if ideal_y is not None else f"{nm}{label_zh}推迟到{when_z}"
    head_e = f"{label_en} at {nm} slips from {ideal_y} to {when_e}" if ideal_y is not None \
        else f"{label_en} at {nm} slips to {when_e}"
    first = ideal_y if ideal_y is not None else target
    last = (y if y is not None else prob.years[-1] + 1) - 1
    full: list[int] = []
    if kind in ("close", "shed") and cap is not None:
        full = [yy for yy in range(first, last + 1)
                if sum(1 for s, yr in sched.move_year.items() if yr == yy and s in prob.closing and s != sid) >= cap]
    parts_z, parts_e = [], []
    rest = [yy for yy in range(first, last + 1) if yy not in full]
    if rest and budget is not None:
        f0 = rest[0] - prob.lead
        spent, zh_items, en_items = _spent(acts, f0, names)
        what_z = "接收学校所需的建设" if kind in ("close", "shed") else "这项投资"
        what_e = "what the receiving schools need" if kind in ("close", "shed") else "it"
        parts_z.append(f"{_span(rest)}年：{f0}年预算{_wan(float(budget))}万元已安排{_wan(spent)}万元"
                       f"（{zh_items or '无'}），无法同时安排{what_z}")
        parts_e.append(f"{_span(rest)}: the {f0} budget of {_wan(float(budget))} × 10k yuan already funds "
                       f"{_wan(spent)} ({en_items or 'nothing'}), leaving too little for {what_e}")
    if full:
        parts_z.append(f"{_span(full)}年：每年最多撤并{cap}所，名额已满")
        parts_e.append(f"{_span(full)}: at most {cap} closure(s) a year, already taken")
    if not parts_z:
        return ("order", f"{head_z}：与其他撤并和投资的先后安排共同决定",
                f"{head_e}: set together with the order of the other closures and investments")
    cause = "budget" if rest and budget is not None else "closures"
    if rest and budget is not None and full:
        cause = "budget+closures"
    return cause, f"{head_z}。" + "；".join(parts_z), f"{head_e}. " + "; ".join(parts_e)


def _span(ys: list[int]) -> str:
    """Years as runs: 2026–2027, 2030."""
    runs: list[list[int]] = []
    for v in sorted(ys):
        if runs and v == runs[-1][-1] + 1:
            runs[-1].append(v)
        else:
            runs.append([v])
    return ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 1 else f"{r[0]}" for r in runs)


def _headline(out: PhasedPlan, acts: pd.DataFrame, prob: Problem, params: Mapping[str, Any],
              names: Mapping[str, str]) -> dict[str, Any]:
    """Summary sentences (zh, en) for the report."""
    yrs = out.years
    closes = acts[acts["action"] == "close"]
    by_year = closes.dropna(subset=["year"]).groupby("year")["name"].apply(list)
    zh = [f"{int(y)}年撤并{len(v)}所" for y, v in by_year.items()]
    en = [f"{len(v)} in {int(y)}" for y, v in by_year.items()]
    span = out.summary.get("years_with_actions", [])
    lead = int(params["build_lead_years"])
    s_zh = (f"分{len(span)}个年度实施（{span[0]}–{span[-1]}年）：" if span else "无需分年度实施：") + "，".join(zh)
    s_en = (f"In {len(span)} school years ({span[0]}–{span[-1]}): closures " if span else "Nothing to phase. ") \
        + ", ".join(en)
    s_zh += f"；投资{_wan(float(yrs['spending_wan'].sum()))}万元，建设周期{lead}年（当年安排资金、次年秋季启用）" \
        if lead == 1 else f"；投资{_wan(float(yrs['spending_wan'].sum()))}万元，建设周期{lead}年"
    s_en += f"; capital {_wan(float(yrs['spending_wan'].sum()))} × 10k yuan, buildings ready {lead} year{'s' if lead != 1 else ''} " \
        "after funding"
    if not out.summary.get("reached_by_target", True):
        s_zh += f"；在现有条件下{prob.target}年无法完成全部调整（见推迟事项）"
        s_en += f"; the end state is not reached by {prob.target} (see the slipped actions)"
        budget = params.get("budget_wan_per_year")
        total = float(acts["cost_wan"].fillna(0).sum())
        funding = [f for f in prob.years if prob.years[0] <= f and f + lead <= prob.target]
        if budget is not None and funding and total > float(budget) * len(funding):
            s_zh += (f"：方案共需投资{_wan(total)}万元，而{funding[0]}–{funding[-1]}年每年{_wan(float(budget))}万元、"
                     f"共{_wan(float(budget) * len(funding))}万元")
            s_en += (f": the plan needs {_wan(total)} × 10k yuan, but {funding[0]}–{funding[-1]} fund "
                     f"{len(funding)} × {_wan(float(budget))} = {_wan(float(budget) * len(funding))}")
    return {"headline_zh": s_zh + "。", "headline_en": s_en + "."}
