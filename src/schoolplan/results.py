"""Result types passed between engines, maps and reports.

Plain frozen dataclasses holding (Geo)DataFrames. The column contracts below are
relied on by :mod:`schoolplan.maps`, :mod:`schoolplan.metrics` and
:mod:`schoolplan.report`; engines must fill them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from schoolplan.schema import DECISIONS, MODES

if TYPE_CHECKING:
    from schoolplan.county import County

__all__ = ["DECISIONS", "MODES", "LayoutPlan", "PhasedPlan", "Readiness", "ReservedLand", "ScenarioResult"]

@dataclass(frozen=True)
class LayoutPlan:
    """A school layout decision (两集中 consolidation or status quo).

    Attributes
    ----------
    schools
        GeoDataFrame indexed by ``school_id`` (existing schools, new sites and buildings
        closed before the plan), Point geometry in the county CRS, columns: ``name``,
        ``level``, ``township_id``, ``decision`` (a key of :data:`DECISIONS`),
        ``receiving_id`` (for ``merge``/``convert``: the school most of its pupils go
        to), ``reason_zh``, ``reason_en`` (why, in words made from its numbers),
        ``students_before`` (register, base year), ``pupils_if_unchanged`` (target-year
        pupils without the plan), ``students_after`` (target year, after the plan),
        ``classes_before``, ``classes_needed``, ``classes_after``, ``classes_added``
        (whole classrooms built), ``capacity_after`` (standard seats),
        ``class_size_after`` (mean pupils per class), ``boarders``, ``beds_available``,
        ``beds_needed`` (beds to add), ``buses``, ``teachers_needed``,
        ``teachers_on_staff``, ``teacher_surplus`` (positive = freed), ``upgrade``
        (bool: must be brought up to the quality/condition thresholds), ``reuse``
        (suggested use of a vacated building, or None). Counts are integers.
    assignment
        DataFrame, one row per group of pupils (village × grade band × school before ×
        school after): ``village_id`` (None: register pupils of unknown village),
        ``band`` (``lower`` = grades 1–3, ``upper`` = 4–6, ``junior`` = 7–9),
        ``school_id`` (None: no school could take them), ``pupils`` (int), ``mode`` (a
        key of :data:`MODES`), ``minutes`` (one-way; NaN with no road route),
        ``school_before`` and ``minutes_before`` (the school attended today, from the
        attendance calibrated to the register), ``over_limit`` (bool: a day pupil
        riding longer than the band's day limit), ``moved`` (bool), ``cause`` (why a
        group is unplaced or has no route).
    summary
        Headline numbers from :func:`schoolplan.metrics.plan_figures` (the one place
        they are computed): ``pupils``, ``pupils_unplaced``, ``pupils_over_limit``,
        ``boarders``, ``buses``, ``buses_to_buy``, ``classes_added``, ``upgrades``, ...
    infeasible
        DataFrame ``village_id, band, pupils, cause, placed, reason_zh, reason_en`` of
        pupils the plan cannot place (``placed`` False) or cannot route (True).
    params
        The rules and options used (for reports and reproducibility).
    """

    schools: gpd.GeoDataFrame
    assignment: pd.DataFrame
    summary: dict[str, Any]
    infeasible: pd.DataFrame = field(default_factory=pd.DataFrame)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReservedLand:
    """Where new urban schools and kindergartens need land (预留用地).

    Attributes
    ----------
    zones
        GeoDataFrame indexed by ``zone_id`` (Polygon): ``name``, and per level
        ``L`` in (kindergarten, primary, junior): ``demand_L`` (pupils, planning or
        peak year), ``supply_L`` (seats reachable within the service radius,
        shared), ``deficit_L`` (pupils, ≥ 0), ``classes_L``, ``schools_L`` (standard
        schools), ``land_m2_L``, ``building_m2_L``; plus ``flag`` (bool) and
        ``reason_zh``/``reason_en``.
    sites
        GeoDataFrame indexed by ``site_id`` of recommended parcels: ``name``,
        ``site_type``, ``level``, ``area_m2``, ``land_needed_m2``, ``seats``,
        ``classes``, ``covered_demand``, ``fits`` (bool), ``reason_zh``/``reason_en``.
    developments
        GeoDataFrame of planned developments with ``needs_school``,
        ``needs_kindergarten``, ``flag`` and reasons.
    kindergarten
        DataFrame of public / 普惠 shares against the targets.
    summary
        Headline numbers (land to reserve m² per level, seats short, sites chosen ...).
    """

    zones: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    summary: dict[str, Any]
    developments: gpd.GeoDataFrame = field(default_factory=gpd.GeoDataFrame)
    kindergarten: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class PhasedPlan:
    """A layout plan in steps: which school changes in which year (:mod:`schoolplan.phasing`).

    Attributes
    ----------
    actions
        One row per action: ``action`` (a key of
        :data:`schoolplan.schema.PHASING_ACTIONS`), ``school_id``, ``name``,
        ``township_id``, ``quantity`` (pupils moved, classrooms, beds, buses; int),
        ``fund_year`` (year the money is spent; NA for closures), ``year`` (school
        year it takes effect: pupils move, or the building is ready; NA when not
        done within the model's years), ``cost_wan`` (NaN: not costed),
        ``receiving`` (schools that receive the pupils), ``ideal_year`` (the year
        without the budget and closure limits), ``reason_zh``, ``reason_en`` (why this
        year, in numbers).
    years
        One row per school year: ``year``, ``closures``, ``schools_open``, ``pupils``,
        ``pupils_moving`` (pupils of the schools closing that year), ``pupils_moved``
        (pupils at another school than without the plan), ``pupils_over_limit``,
        ``pupils_unplaced``, ``boarders``, ``beds``, ``buses``, ``buses_bought``,
        ``classrooms_ready``, ``classes_short`` (classrooms short of the standard
        class size), ``teachers_needed``, ``teachers_surplus``, ``teachers_freed``,
        ``spending_wan`` (capital funded that year), ``budget_wan``.
    schools
        One row per school and year: ``year``, ``school_id``, ``open``, ``pupils``,
        ``arrivals``, ``classes_needed``, ``classes_ready``, ``boarders``,
        ``beds_ready``, ``buses``, ``teachers_needed``, ``teachers_on_staff``.
    assignment
        The assignment of every year (columns of ``LayoutPlan.assignment`` plus ``year``).
    slips
        Actions later than without the budget and closure limits (or after the target
        year): ``action``, ``school_id``, ``ideal_year``, ``year``, ``cause``,
        ``reason_zh``, ``reason_en``.
    summary
        ``start_year``, ``end_year``, ``target_year``, ``years_with_actions``,
        ``reached_by_target`` (bool), ``solve_seconds``, ``status`` ...
    params
        The options used (start year, budget, closure limit, lead years, penalties).
    """

    actions: pd.DataFrame
    years: pd.DataFrame
    schools: pd.DataFrame
    assignment: pd.DataFrame
    slips: pd.DataFrame
    summary: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Readiness:
    """优质均衡 readiness of one layout and the 控辍保学 risk of the plan behind it (:mod:`schoolplan.readiness`).

    Attributes
    ----------
    schools
        Long table ``school_id, indicator, value, threshold, share, met, indicators_met,
        passes`` (``met``/``passes`` NA where a resource is not recorded).
    coefficients
        差异系数 per pool and indicator (:func:`schoolplan.metrics.balance_report`).
    fix
        The cheapest additions that make every school and pool pass: ``school_id,
        resource, indicator, add, cost_wan``.
    risk
        Groups of pupils the plan puts at risk (:func:`schoolplan.readiness.risk_groups`);
        empty for today's register.
    risk_townships
        Pupils at risk by township of residence, villages named.
    risk_schools
        Pupils at risk by the school they attend today (indexed by ``school_before``).
    summary
        Headline figures (schools passing, coefficients, fix cost, risk counts).
    """

    schools: pd.DataFrame
    coefficients: pd.DataFrame
    fix: pd.DataFrame
    risk: pd.DataFrame
    risk_townships: pd.DataFrame
    risk_schools: pd.DataFrame
    summary: dict[str, Any]


@dataclass(frozen=True)
class ScenarioResult:
    """Everything one scenario run produced.

    Attributes
    ----------
    name
        Scenario key (file stem).
    label_zh, label_en
        Display names.
    county
        The :class:`schoolplan.County` it ran on.
    plan
        The layout plan.
    demand
        Seat demand ``zone, level, grade, year, p10, p50, p90``.
    reserved
        Reserved-land result (or None).
    isochrones
        GeoDataFrame of bus-radius polygons of receiving schools (``school_id``, ``minutes``).
    indicators
        One row of :mod:`schoolplan.metrics` indicators (a Series).
    config
        The validated scenario configuration.
    timings
        Seconds per step.
    attendance
        Base-year attendance flows ``village_id, band, school_id, pupils, minutes`` that
        reproduce the register (:func:`schoolplan.consolidate.calibrate_attendance`).
    data_quality
        Every warning raised while loading and running: ``stage, category, message``
        (shown in the report's data-quality section and ``run.json``).
    demand_totals
        County seat demand per level and year, ``zone`` (``"ALL"``), ``level``, ``year``,
        ``p10/p50/p90``, with bands from the forecast's errors of the totals (use these,
        not sums of grade bands, for a level's range).
    audit
        The plan's self-audit (:func:`schoolplan.audit.audit`): ``check, passed,
        detail, rows``.
    phasing
        The plan in yearly steps (:func:`schoolplan.phasing.phase_plan`), or None (status
        quo, target year = base year, or ``[phasing] enabled = false``).
    readiness
        优质均衡 readiness of the plan's schools in the target year and the 控辍保学 risk
        it creates (:func:`schoolplan.readiness.plan_readiness`), or None.
    inspection
        The county today (:func:`schoolplan.readiness.county_inspection` with the
        scenario's norms): 底数 tables, 巩固率, readiness and the norms used; or None.
    """

    name: str
    label_zh: str
    label_en: str
    county: County
    plan: LayoutPlan
    demand: pd.DataFrame
    reserved: ReservedLand | None
    isochrones: gpd.GeoDataFrame
    indicators: pd.Series
    config: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    attendance: pd.DataFrame = field(default_factory=pd.DataFrame)
    data_quality: pd.DataFrame = field(default_factory=pd.DataFrame)
    audit: pd.DataFrame = field(default_factory=pd.DataFrame)
    demand_totals: pd.DataFrame = field(default_factory=pd.DataFrame)
    phasing: PhasedPlan | None = None
    readiness: Readiness | None = None
    inspection: dict[str, Any] | None = None
