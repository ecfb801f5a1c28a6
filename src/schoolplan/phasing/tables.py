"""The tables of a phased plan: actions, years, schools by year and the assignment of every year.

Each year's numbers come from the same functions as the plan's own: the year's
assignment from :func:`~schoolplan.consolidate.layout.assignment_modes`, the per-school
figures from :func:`~schoolplan.consolidate.layout.school_table`, the headline numbers
from :func:`~schoolplan.metrics.plan_figures` and the spending from
:func:`~schoolplan.metrics.investment`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from schoolplan.consolidate import Rules
from schoolplan.consolidate.layout import assignment_modes, school_table
from schoolplan.metrics import investment, plan_figures
from schoolplan.phasing.model import Problem, Schedule
from schoolplan.phasing.years import Destinations, YearState, rows_for
from schoolplan.results import LayoutPlan, PhasedPlan

if TYPE_CHECKING:
    from schoolplan.county import County

__all__ = ["ACTION_COLUMNS", "assemble", "spending", "year_assignment"]

#: Columns of ``PhasedPlan.actions``.
ACTION_COLUMNS = ["action", "school_id", "name", "township_id", "quantity", "fund_year", "year", "cost_wan",
                  "receiving", "ideal_year", "reason_zh", "reason_en"]
_KIND_ITEM = {"classrooms": "classes_added", "beds": "beds_needed", "upgrade": "upgrades",
              "new_school": "new_schools"}


def spending(funded: pd.DataFrame, bought: int, year: int, costs: Mapping[str, float]) -> float:
    """Capital funded in ``year`` (万元), item by item through :func:`schoolplan.metrics.investment`."""
    f = funded[funded["fund_year"] == year] if len(funded) else funded
    summary = {item: int(f.loc[f["kind"] == kind, "quantity"].sum()) if len(f) else 0
               for kind, item in _KIND_ITEM.items()}
    summary["buses_to_buy"] = int(bought)
    return float(investment(summary, costs)["cost_wan"].sum())


def year_assignment(state: YearState, moved: list[str], dest: Destinations, minutes: pd.DataFrame,
                    walks: pd.DataFrame, rules: Rules, beds: pd.Series) -> pd.DataFrame:
    """The assignment of one year when the sources in ``moved`` have moved (with modes)."""
    return assignment_modes(rows_for(state.flows, moved, dest, minutes, rules), minutes, walks, rules, beds=beds)


def _frame(plan: LayoutPlan) -> gpd.GeoDataFrame:
    """The plan's existing schools in the shape :func:`school_table` reads (numbers as in the register)."""
    s = plan.schools[~plan.schools["decision"].isin(["vacant", "new"])]
    out = s[["name", "level", "township_id", "geometry"]].copy()
    out["classes"] = s["classes_before"].astype(np.int64)
    out["boarding_beds"] = s["beds_available"].astype(np.int64)
    out["teachers"] = s["teachers_on_staff"].astype(np.int64)
    out["students"] = s["students_before"].astype(np.int64)
    return out


def _ready(funded: pd.DataFrame, kind: str, year: int, lead: int) -> pd.Series:
    """Units of ``kind`` ready per school by school year ``year``."""
    if not len(funded):
        return pd.Series(dtype=np.int64)
    f = funded[(funded["kind"] == kind) & (funded["fund_year"] + lead <= year)]
    return f.groupby("school_id")["quantity"].sum().astype(np.int64)


def assemble(plan: LayoutPlan, county: County, dest: Destinations, state: Callable[[int], YearState], sched: Schedule,
             ideal: Schedule, prob: Problem, rules: Rules, minutes: pd.DataFrame, walks: pd.DataFrame,
             beds: pd.Series, params: Mapping[str, Any]) -> PhasedPlan:
    """The tables of the schedule (reasons are added by :func:`schoolplan.phasing.explain.explain`)."""
    lead = int(params["build_lead_years"])
    costs = dict(rules.costs)
    s = plan.schools
    frame = _frame(plan)
    new_level = {str(k): str(v) for k, v in s.loc[s["decision"] == "new", "level"].items()}
    act_years = [y for y in sched.move_year.values() if y is not None]
    act_years += [int(f) + lead for f in sched.funded["fund_year"]] if len(sched.funded) else []
    act_years += [y for y, n in sched.buses_bought.items() if n]
    last = max([prob.target, *act_years])
    years = [y for y in sched.years if y <= last]
    budget = params.get("budget_wan_per_year")
    budget_v = float(budget) if budget is not None else np.nan
    rows_y, rows_s, assign = [], [], []
    fleet = prob.buses_today
    cum_cls = 0
    for y in years:
        st = state(y)
        moved = [i for i, yr in sched.move_year.items() if yr is not None and yr <= y]
        if not moved:
            a = st.none
        elif len(moved) == len(dest.sources):
            a = st.all
        else:
            a = year_assignment(st, moved, dest, minutes, walks, rules, beds)
        assign.append(a.assign(year=y))
        arrived = a[a["moved"] & a["school_id"].notna()]
        opened = {sid: lv for sid, lv in new_level.items() if sid in set(arrived["school_id"])}
        decision = {i: "merge" for i in moved if i in dest.closing}
        pupils_now = st.flows.groupby("school_id")["pupils"].sum()
        facts = pd.DataFrame({"pupils": pupils_now.reindex(list(frame.index) + list(opened)).fillna(0)
                              .astype(np.int64)})
        table = school_table(county, frame, opened, a, decision, {}, facts, rules, status_quo=False, upgrades={})
        table = table[table["decision"] != "vacant"]
        fig = plan_figures(table, a, {"mode": "rules"}, buses_today=prob.buses_today, county=county)
        cls_ready = _ready(sched.funded, "classrooms", y, lead)
        bed_ready = _ready(sched.funded, "beds", y, lead)
        is_open = table["decision"].isin(["keep", "expand", "new"])
        ready_cls = table["classes_before"] + cls_ready.reindex(table.index).fillna(0).astype(np.int64)
        ready_beds = table["beds_available"] + bed_ready.reindex(table.index).fillna(0).astype(np.int64)
        short = (table["classes_needed"] - ready_cls).clip(lower=0).where(is_open, 0)
        arrivals = arrived.groupby("school_id")["pupils"].sum()
        closing_now = [i for i, yr in sched.move_year.items() if yr == y and i in dest.closing]
        movers_now = a[a["moved"] & a["school_before"].isin([i for i, yr in sched.move_year.items() if yr == y])]
        bought = int(sched.buses_bought.get(y, 0))
        fleet += bought
        cum_cls = int(cls_ready.sum()) if len(cls_ready) else 0
        rows_y.append({
            "year": y, "closures": len(closing_now), "schools_open": int(is_open.sum()),
            "pupils": int(fig["pupils"]), "pupils_moving": int(movers_now["pupils"].sum()),
            "pupils_moved": int(fig["pupils_moved"]), "pupils_over_limit": int(fig["pupils_over_limit"]),
            "pupils_unplaced": int(fig["pupils_unplaced"]), "boarders": int(fig["boarders"]),
            "beds": int(ready_beds.where(is_open, 0).sum()), "buses": int(fig["buses"]), "buses_bought": bought,
            "fleet": int(fleet), "classrooms_ready": cum_cls, "classes_short": int(short.sum()),
            "teachers_needed": int(fig["teachers_needed"]), "teachers_surplus": int(fig["teachers_surplus"]),
            "teachers_freed": int(frame.loc[[i for i in closing_now if i in frame.index], "teachers"].sum()),
            "spending_wan": round(spending(sched.funded, bought, y, costs), 1), "budget_wan": budget_v,
        })
        for sid, row in table.iterrows():
            rows_s.append({"year": y, "school_id": sid, "open": bool(is_open[sid]),
                           "pupils": int(row["students_after"]), "arrivals": int(arrivals.get(sid, 0)),
                           "classes_needed": int(row["classes_needed"]), "classes_ready": int(ready_cls[sid]),
                           "boarders": int(row["boarders"]), "beds_ready": int(ready_beds[sid]),
                           "buses": int(row["buses"]), "teachers_needed": int(row["teachers_needed"]),
                           "teachers_on_staff": int(row["teachers_on_staff"])})
    actions = _actions(plan, dest, sched, ideal, lead, costs, assign, years)
    summary = {"start_year": int(params["start_year"]), "target_year": int(prob.target), "end_year": int(years[-1]),
               "years": years, "reached_by_target": bool(_done_by(sched, prob.target, lead)),
               "years_with_actions": sorted({int(y) for y in actions["year"].dropna()}),
               "closures": int((actions["action"] == "close").sum()),
               "spending_wan": round(float(sum(r["spending_wan"] for r in rows_y)), 1)}
    return PhasedPlan(actions=actions, years=pd.DataFrame(rows_y), schools=pd.DataFrame(rows_s),
                      assignment=pd.concat(assign, ignore_index=True), slips=pd.DataFrame(), summary=summary,
                      params=dict(params))


def _done_by(sched: Schedule, target: int, lead: int) -> bool:
    late = len(sched.funded) and bool((sched.funded["fund_year"] + lead > target).any())
    return not sched.missing and not late and all(y is not None and y <= target for y in sched.move_year.values())


def _actions(plan: LayoutPlan, dest: Destinations, sched: Schedule, ideal: Schedule, lead: int,
             costs: Mapping[str, float], assign: list[pd.DataFrame], years: list[int]) -> pd.DataFrame:
    s = plan.schools
    by_year = {int(a["year"].iloc[0]): a for a in assign if len(a)}
    rows = []

    def unit_years(kind: str, sid: str, sc: Schedule) -> list[int | None]:
        """Ready year of each unit of ``kind`` at ``sid``, earliest first (None: not done)."""
        f = sc.funded[(sc.funded["kind"] == kind) & (sc.funded["school_id"] == sid)] if len(sc.funded) else None
        out: list[int | None] = []
        if f is not None:
            for r in f.sort_values("fund_year").itertuples(index=False):
                out += [int(r.fund_year) + lead] * int(r.quantity)
        return out + [None] * int(sc.missing.get((kind, sid), 0))

    def ideal_of(kind: str, sid: str, first_unit: int, n: int) -> int | None:
        """The ideal ready year of units ``first_unit`` … ``first_unit + n - 1`` (the latest of them)."""
        ys = unit_years(kind, sid, ideal)[first_unit:first_unit + n]
        if not ys or any(v is None for v in ys):
            return None
        return max(v for v in ys if v is not None)

    for i in dest.sources:
        y = sched.move_year.get(i)
        a = by_year.get(y) if y is not None else None
        moving = a[a["moved"] & (a["school_before"] == i)] if a is not None else pd.DataFrame(columns=["pupils"])
        recv = list(dict.fromkeys(str(x) for x in moving.sort_values("pupils", ascending=False)["school_id"].dropna()))
        kind = "close" if i in dest.closing else "shed"
        rows.append({"action": kind, "school_id": i, "quantity": int(moving["pupils"].sum()), "fund_year": pd.NA,
                     "year": y, "cost_wan": np.nan, "receiving": ", ".join(recv),
                     "ideal_year": ideal.move_year.get(i)})
        if i in s.index and s.at[i, "decision"] == "convert":
            rows.append({"action": "convert", "school_id": i, "quantity": 1, "fund_year": pd.NA, "year": y,
                         "cost_wan": np.nan, "receiving": "", "ideal_year": ideal.move_year.get(i)})
    unit = {"classrooms": "classroom_wan", "beds": "bed_wan", "upgrade": "upgrade_school_wan",
            "new_school": "new_school_wan"}
    f = sched.funded.sort_values(["fund_year", "kind", "school_id"]) if len(sched.funded) else sched.funded
    seen: dict[tuple[str, str], int] = {}
    for r in f.itertuples(index=False):
        k0 = seen.get((r.kind, r.school_id), 0)
        seen[r.kind, r.school_id] = k0 + int(r.quantity)
        rows.append({"action": r.kind, "school_id": r.school_id, "quantity": int(r.quantity),
                     "fund_year": int(r.fund_year), "year": int(r.fund_year) + lead,
                     "cost_wan": round(float(r.quantity) * float(costs.get(unit[r.kind], 0.0)), 1), "receiving": "",
                     "ideal_year": ideal_of(r.kind, r.school_id, k0, int(r.quantity))})
    for (kind, sid), n in sched.missing.items():
        k0 = seen.get((kind, sid), 0)
        rows.append({"action": kind, "school_id": sid, "quantity": int(n), "fund_year": pd.NA, "year": None,
                     "cost_wan": round(float(n) * float(costs.get(unit[kind], 0.0)), 1), "receiving": "",
                     "ideal_year": ideal_of(kind, sid, k0, int(n))})
    for y, n in sorted(sched.buses_bought.items()):
        if n:
            rows.append({"action": "buses", "school_id": None, "quantity": int(n), "fund_year": y, "year": y,
                         "cost_wan": round(float(n) * float(costs.get("bus_wan", 0.0)), 1), "receiving": "",
                         "ideal_year": None})
    out = pd.DataFrame(rows, columns=[c for c in ACTION_COLUMNS if c not in ("name", "township_id", "reason_zh",
                                                                             "reason_en")])
    names = s["name"].astype(str)
    out.insert(2, "name", out["school_id"].map(names))
    out.insert(3, "township_id", out["school_id"].map(s["township_id"]))
    for c in ("fund_year", "year", "ideal_year"):
        out[c] = pd.array(out[c].astype("object").where(out[c].notna(), None), dtype="Int64")
    out["quantity"] = out["quantity"].astype(np.int64)
    out["reason_zh"] = ""
    out["reason_en"] = ""
    return out
