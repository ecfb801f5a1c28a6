"""Seat demand by zone, level, grade and year (学位需求): the three stages together.

:func:`seat_forecast` runs the cohort model (:mod:`schoolplan.forecast.cohort`) per
stage: kindergarten from births at 3, primary from births at 6, and junior either by
progression from primary grade 6 (default: one 1 → 9 chain, since almost every grade-6
pupil enters junior school the next year, 升学率 ≈ 100 %, and the 6→7 ratio captures
the flow to the county seat under 两集中 — a township without a junior school has
ratio ≈ 0, the county seat a ratio above 1) or from births at 12. Stages, grades and
entry ages come from :mod:`schoolplan.schema`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from schoolplan.errors import ConfigError, SchemaError
from schoolplan.forecast._inputs import (
    COUNTY,
    DEFAULT_ENTRY_AGES,
    DEFAULT_LEVEL_GRADES,
    LEVELS,
    Diagnostics,
    Grade,
    build_births,
    build_panel,
    check_int,
    fmt,
    grade_key,
    grade_list,
    require_frame,
)
from schoolplan.forecast.births import (
    DEFAULT_BIRTHS_MODEL,
    DEFAULT_BIRTHS_WINDOW,
    DEFAULT_DAMPING,
    BirthsModel,
    Scenario,
    scenario_multiplier,
)
from schoolplan.forecast.breaks import BreakYears
from schoolplan.forecast.cohort import (
    DEFAULT_COMBINE,
    DEFAULT_ERROR_WINDOW,
    CohortForecast,
    check_births_cover,
    forecast_panel,
    make_settings,
)
from schoolplan.forecast.ratios import (
    DEFAULT_BREAK_THRESHOLD,
    DEFAULT_ENTRY_WINDOW,
    DEFAULT_MIN_PAIRS,
    DEFAULT_PROGRESSION_WINDOW,
    DEFAULT_SMOOTHING,
)

__all__ = ["DEMAND_COLUMNS", "SeatForecast", "enrolment_by_zone", "seat_demand", "seat_forecast"]

#: Columns of :func:`seat_demand`.
DEMAND_COLUMNS = ("zone", "level", "grade", "year", "p10", "p50", "p90")

_LEVEL_ALIASES = {"幼儿园": "kindergarten", "学前": "kindergarten", "小学": "primary", "初中": "junior"}


@dataclass(frozen=True)
class SeatForecast:
    """Seat demand with its totals, ratios, count breaks and diagnostics, all as frames.

    Attributes
    ----------
    demand
        ``zone, level, grade, year, p10, p50, p90`` (the :func:`seat_demand` frame).
    totals
        ``zone, level, year, p10, p50, p90``: totals per zone and level with bands from
        the errors of the totals themselves (zone ``"ALL"`` = all zones); use these for
        a level's range rather than summing grade bands.
    ratios
        ``level, zone, transition, grade_from, grade, ratio, n_years, pooled``.
    breaks
        ``level, zone, year, kind, change_pct, threshold_pct, found_in``.
    diagnostics
        ``kind, level, zone, year, grade, value, detail, message`` (see
        :class:`schoolplan.forecast.CohortForecast`).
    method
        How the intervals were made, per model run.
    """

    demand: pd.DataFrame
    totals: pd.DataFrame
    ratios: pd.DataFrame
    breaks: pd.DataFrame
    diagnostics: pd.DataFrame
    method: str


def seat_forecast(
    enrolment: pd.DataFrame,
    births: pd.DataFrame,
    *,
    horizon_years: int,
    levels: Sequence[str] = LEVELS,
    entry_ages: Mapping[str, int] | None = None,
    level_grades: Mapping[str, Sequence[Grade]] | None = None,
    junior_entry: Literal["progression", "births"] = "progression",
    progression_window: int | None = DEFAULT_PROGRESSION_WINDOW,
    entry_window: int | None = DEFAULT_ENTRY_WINDOW,
    smoothing: float = DEFAULT_SMOOTHING,
    min_pairs: int = DEFAULT_MIN_PAIRS,
    break_threshold: float | None = DEFAULT_BREAK_THRESHOLD,
    break_years: BreakYears = None,
    births_model: BirthsModel = DEFAULT_BIRTHS_MODEL,
    births_window: int = DEFAULT_BIRTHS_WINDOW,
    damping: float = DEFAULT_DAMPING,
    births_scenario: Scenario = "medium",
    combine: bool = DEFAULT_COMBINE,
    births_lag_years: int = 0,
    error_window_years: int | None = DEFAULT_ERROR_WINDOW,
) -> SeatForecast:
    """Seat demand with everything behind it (:class:`SeatForecast`); see :func:`seat_demand`."""
    df = require_frame(enrolment, "enrolment", ("level", "year", "grade", "students"))
    horizon = check_int(horizon_years, "horizon_years")
    scenario_multiplier(births_scenario, np.array([2000]), 1999)  # validate early
    ages = {**DEFAULT_ENTRY_AGES, **(entry_ages or {})}
    grades_of = {k: tuple(v) for k, v in {**DEFAULT_LEVEL_GRADES, **(level_grades or {})}.items()}
    level_col = df["level"].map(lambda v: _LEVEL_ALIASES.get(str(v).strip(), str(v).strip().lower()))
    unknown = ~level_col.isin(list(LEVELS))
    if unknown.any():
        vals = sorted({str(v) for v in df["level"][unknown].tolist()})
        raise SchemaError(f"enrolment: unknown level(s) {', '.join(vals)}", column="level",
                          rows=list(df.index[unknown]), fix=f"use {', '.join(LEVELS)}")
    levels = list(dict.fromkeys(levels))
    bad = [lv for lv in levels if lv not in LEVELS]
    if bad:
        raise ConfigError(f"unknown level(s) {bad}", fix=f"choose from {', '.join(LEVELS)}")
    absent = [lv for lv in levels if not (level_col == lv).any()]
    if absent:
        raise SchemaError(f"enrolment has no rows for level(s) {', '.join(absent)}", column="level",
                          fix="add the rows or drop those levels from levels=")
    if junior_entry not in ("progression", "births"):
        raise ConfigError(f"junior_entry must be 'progression' or 'births', got {junior_entry!r}",
                          fix="choose one")
    data = df.assign(level=level_col.to_numpy())
    if "zone" not in data.columns:
        data = data.assign(zone=COUNTY)
        if "zone" in births.columns:
            births = births.groupby("year", as_index=False)["births"].sum()
    opts: dict[str, Any] = {
        "progression_window": progression_window, "entry_window": entry_window, "smoothing": smoothing,
        "min_pairs": min_pairs, "break_threshold": break_threshold, "break_years": break_years,
        "births_model": births_model, "births_window": births_window, "damping": damping,
        "combine": combine, "births_lag_years": births_lag_years, "error_window_years": error_window_years,
    }
    cols = ["zone", "year", "grade", "students"]
    notes = Diagnostics()
    runs: list[tuple[str, CohortForecast, dict[Any, str]]] = []

    def run(label: str, rows: pd.DataFrame, grades: Sequence[Grade], age: int, level_of: dict[Any, str],
            group_names: list[str]) -> None:
        sub = Diagnostics(level=label)
        panel = build_panel(rows[cols], grades, notes=sub)
        table = build_births(births, panel, notes=sub)
        s = make_settings(panel, entry_age=age, **opts)
        check_births_cover(panel, table, s.ratios.entry_age)
        groups = [group_names.index(level_of[grade_key(g)]) for g in panel.grades]
        res = forecast_panel(panel, table, s, horizon=horizon, scenario=births_scenario, notes=sub,
                             groups=groups, group_names=group_names)
        notes.extend(sub)
        runs.append((label, res, level_of))

    chain = junior_entry == "progression" and "primary" in levels and "junior" in levels
    if chain:
        prim, jun = data[data["level"] == "primary"], data[data["level"] == "junior"]
        orphan = sorted(set(jun["zone"]) - set(prim["zone"]), key=str)
        if orphan:
            notes.add("junior_from_births", f"enrolment: zone(s) {fmt(orphan)} have junior but no primary rows; "
                      "junior entry taken from births instead of progression from grade 6")
            chain = False
    done: set[str] = set()
    if chain:
        pg, jg = grades_of["primary"], grades_of["junior"]
        _, pkeys = grade_list(pg, "primary grades")
        _, jkeys = grade_list(jg, "junior grades")
        if set(pkeys) & set(jkeys):
            raise ConfigError("primary and junior grades overlap; cannot chain them",
                              fix="use distinct labels (e.g. 1–6 and 7–9) or junior_entry='births'")
        missing_j = sorted(set(prim["zone"]) - set(jun["zone"]), key=str)
        fill = [pd.DataFrame({"zone": z, "year": yrs, "grade": g, "students": 0})
                for z in missing_j for yrs in [sorted(set(prim.loc[prim["zone"] == z, "year"]))] for g in jg]
        rows = pd.concat([prim[cols], jun[cols], *fill], ignore_index=True)
        level_of = {**dict.fromkeys(pkeys, "primary"), **dict.fromkeys(jkeys, "junior")}
        run("primary+junior", rows, [*pg, *jg], ages["primary"], level_of, ["primary", "junior"])
        done = {"primary", "junior"}
    for lv in levels:
        if lv in done:
            continue
        _, keys = grade_list(grades_of[lv], f"{lv} grades")
        run(lv, data[data["level"] == lv], grades_of[lv], ages[lv], dict.fromkeys(keys, lv), [lv])
    notes.warn()
    return _assemble(runs, levels, notes)


def _assemble(runs: list[tuple[str, CohortForecast, dict[Any, str]]], levels: Sequence[str],
              notes: Diagnostics) -> SeatForecast:
    demand, totals, ratios, breaks, methods = [], [], [], [], []
    for label, res, level_of in runs:
        p = res.pupils
        demand.append(p.assign(level=[level_of[grade_key(g)] for g in p["grade"]]))
        totals.append(res.totals.rename(columns={"group": "level"}))
        r = res.ratios
        ratios.append(r.assign(level=[level_of[grade_key(g)] for g in r["grade"]]))
        breaks.append(res.breaks.assign(level=label))
        methods.append(f"{label}: {res.method}")
    order = {lv: i for i, lv in enumerate(LEVELS)}
    d = pd.concat(demand, ignore_index=True)
    d = d[d["level"].isin(levels)]
    d = d.assign(_lv=d["level"].map(order)).sort_values(["zone", "_lv", "year"], kind="stable")
    d = d[list(DEMAND_COLUMNS)].reset_index(drop=True)
    t = pd.concat(totals, ignore_index=True)
    t = t[t["level"].isin(levels)]
    t = t.assign(_lv=t["level"].map(order)).sort_values(["zone", "_lv", "year"], kind="stable")
    t = t[["zone", "level", "year", "p10", "p50", "p90"]].reset_index(drop=True)
    r = pd.concat(ratios, ignore_index=True)
    r = r[["level", *[c for c in r.columns if c != "level"]]]
    b = pd.concat(breaks, ignore_index=True)
    b = b[["level", *[c for c in b.columns if c != "level"]]]
    return SeatForecast(demand=d, totals=t, ratios=r, breaks=b, diagnostics=notes.frame(),
                        method="; ".join(methods))


def seat_demand(
    enrolment: pd.DataFrame,
    births: pd.DataFrame,
    *,
    horizon_years: int,
    levels: Sequence[str] = LEVELS,
    entry_ages: Mapping[str, int] | None = None,
    level_grades: Mapping[str, Sequence[Grade]] | None = None,
    junior_entry: Literal["progression", "births"] = "progression",
    progression_window: int | None = DEFAULT_PROGRESSION_WINDOW,
    entry_window: int | None = DEFAULT_ENTRY_WINDOW,
    smoothing: float = DEFAULT_SMOOTHING,
    min_pairs: int = DEFAULT_MIN_PAIRS,
    break_threshold: float | None = DEFAULT_BREAK_THRESHOLD,
    break_years: BreakYears = None,
    births_model: BirthsModel = DEFAULT_BIRTHS_MODEL,
    births_window: int = DEFAULT_BIRTHS_WINDOW,
    damping: float = DEFAULT_DAMPING,
    births_scenario: Scenario = "medium",
    combine: bool = DEFAULT_COMBINE,
    births_lag_years: int = 0,
    error_window_years: int | None = DEFAULT_ERROR_WINDOW,
) -> pd.DataFrame:
    """Pupils needing a seat by zone, level, grade and year (p10/p50/p90).

    Parameters
    ----------
    enrolment
        Columns ``level`` (kindergarten / primary / junior; also 幼儿园 / 小学 / 初中),
        ``year``, ``grade``, ``students``, optionally ``zone``. Grades per
        :data:`schoolplan.schema.STAGE_GRADES` (kindergarten 1–3 = 小班/中班/大班,
        primary 1–6, junior 7–9).
    births
        As in :func:`schoolplan.forecast.cohort_survival`.
    horizon_years
        Years after the last enrolment year (e.g. ``2035 − 2024 = 11``).
    levels
        Levels to forecast.
    entry_ages
        Overrides of :data:`schoolplan.schema.STAGE_ENTRY_AGES`, e.g. ``{"kindergarten": 3}``.
    level_grades
        Overrides of the grades, e.g. ``{"primary": range(1, 6), "junior": range(6, 10)}``
        for 五四制.
    junior_entry
        ``"progression"`` (grade 7 from grade 6; needs primary in ``levels``) or
        ``"births"``. Zones with junior rows but no primary rows make it fall back to
        ``"births"`` (diagnostic); zones with primary but no junior rows (no junior
        school) get junior = 0 in history, so their pupils show up where they went.
    progression_window, entry_window, smoothing, min_pairs, break_threshold, break_years,
    births_model, births_window, damping, births_scenario, combine, births_lag_years,
    error_window_years
        As in :func:`schoolplan.forecast.cohort_survival`.

    Returns
    -------
    DataFrame
        ``zone, level, grade, year, p10, p50, p90`` (pupils); ``zone == "county"``
        when enrolment has no zone column. Summing p10 (p90) over rows gives a
        conservative band for a total; :func:`seat_forecast` returns totals with their
        own bands, the ratios, count breaks and diagnostics as frames.
    """
    return seat_forecast(enrolment, births, horizon_years=horizon_years, levels=levels, entry_ages=entry_ages,
                         level_grades=level_grades, junior_entry=junior_entry,
                         progression_window=progression_window, entry_window=entry_window,
                         smoothing=smoothing, min_pairs=min_pairs, break_threshold=break_threshold,
                         break_years=break_years, births_model=births_model, births_window=births_window,
                         damping=damping, births_scenario=births_scenario, combine=combine,
                         births_lag_years=births_lag_years, error_window_years=error_window_years).demand


def enrolment_by_zone(
    enrolment: pd.DataFrame,
    schools: pd.DataFrame,
    *,
    zone_column: str = "township_id",
    levels: Sequence[str] = LEVELS,
    fill_untaught: bool = False,
    level_grades: Mapping[str, Sequence[int]] = DEFAULT_LEVEL_GRADES,
) -> pd.DataFrame:
    """Sum a register's school-level enrolment to zones, ready for :func:`seat_demand`.

    With ``fill_untaught``, a zone gets 0-pupil rows (every year it has rows for the
    level) for the grades of ``level_grades`` that none of its schools teaches in any
    year: a township whose only primary school is a teaching point (grades 1–4) sends
    its grade 5–6 pupils elsewhere, so 0 is the truth there. Grades missing only in
    some years are left to the forecast (which warns or stops).

    Parameters
    ----------
    enrolment
        ``year, school_id, level, grade, students`` (as in :attr:`schoolplan.County.enrolment`).
    schools
        Schools indexed by ``school_id`` with the zone column.
    zone_column
        Column of ``schools`` naming each school's zone (the township by default).
    levels
        Levels to keep.
    fill_untaught, level_grades
        Add zeros for grades no school of a zone teaches; the grades of each level.

    Returns
    -------
    pandas.DataFrame
        ``zone, level, year, grade, students``; schools without a zone are left out.
    """
    e = enrolment.assign(zone=enrolment["school_id"].map(schools[zone_column]))
    e = e[e["level"].isin(list(levels)) & e["zone"].notna()]
    e = e.groupby(["zone", "level", "year", "grade"], as_index=False)["students"].sum()
    if not fill_untaught:
        return e
    fill = []
    for (zone, level), g in e.groupby(["zone", "level"], sort=False):
        taught = set(g["grade"])
        absent = [x for x in level_grades.get(str(level), ()) if x not in taught]
        if absent:
            fill.append(pd.DataFrame([{"zone": zone, "level": level, "year": y, "grade": x, "students": 0}
                                      for y in sorted(set(g["year"])) for x in absent]))
    if not fill:
        return e
    return pd.concat([e, *fill], ignore_index=True).sort_values(["zone", "level", "year", "grade"],
                                                                 ignore_index=True)
