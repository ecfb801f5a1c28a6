"""Scenario runs and comparison.

Scenario files are read and validated by :mod:`schoolplan.config`;
:func:`run_scenarios` runs several scenarios sharing the loaded county, road graphs
and travel-time matrices.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from schoolplan.config import Scenario, load_scenario
from schoolplan.errors import ConfigError, SchoolplanError
from schoolplan.preflight import check_matrix_memory, check_offsets, check_road_memory
from schoolplan.results import ScenarioResult

if TYPE_CHECKING:
    from schoolplan.county import County
    from schoolplan.results import LayoutPlan

__all__ = ["Scenario", "compare", "load_scenario", "run_scenario", "run_scenarios"]


# --------------------------------------------------------------------------- running
class _Cache:
    """Loaded counties, graphs and matrices shared between scenarios of one run.

    Warnings raised while an item is made are kept with it and raised again each
    time the item is used, so every scenario's data-quality section lists them.
    """

    def __init__(self) -> None:
        self.store: dict[tuple[Any, ...], Any] = {}
        self.notes: dict[tuple[Any, ...], list[warnings.WarningMessage]] = {}

    def get(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        if key not in self.store:
            with warnings.catch_warnings(record=True) as rec:
                warnings.simplefilter("always")
                self.store[key] = make()
            self.notes[key] = list(rec)
        for w in self.notes[key]:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return self.store[key]


def _county(sc: Scenario, cache: _Cache) -> Any:
    from schoolplan.county import load_county

    return cache.get(("county", str(sc.scenario.county), sc.scenario.coords),
                     lambda: load_county(sc.scenario.county, coords=sc.scenario.coords))


def _graph(county: County, profile: str, bad_weather: bool, cache: _Cache) -> Any:
    from schoolplan.errors import InputFileError
    from schoolplan.network import build_graph

    if county.roads is None:
        raise InputFileError("the county has no road network", file=str(county.source),
                             fix="add roads.osm.pbf (or a road layer) to the county folder")
    check_road_memory(county.roads)
    return cache.get(("graph", str(county.source), profile, bad_weather),
                     lambda: build_graph(county.roads, profile=profile, crs=county.crs, bad_weather=bad_weather))


def _matrix(graph: Any, origins: gpd.GeoDataFrame, dest: gpd.GeoDataFrame, cutoff: float, key: tuple[Any, ...],
            cache: _Cache, max_snap_m: float) -> pd.DataFrame:
    from schoolplan.network import travel_time_matrix

    def make() -> pd.DataFrame:
        return travel_time_matrix(graph, origins, dest, cutoff_minutes=cutoff, max_snap_m=max_snap_m,
                                  dtype=np.float64)

    return cache.get(key, make)


def _forecast(sc: Scenario, county: County, cache: _Cache) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seat demand by zone, level, grade and year (the register year included, observed) and county totals.

    Returns ``(demand, totals)``; ``totals`` are the forecast's own per-level totals with
    bands from the errors of the totals (zone ``"ALL"``: the county), which a chart of a
    level's range should use rather than summing grade bands.
    """
    from schoolplan import forecast as fc

    def make() -> tuple[pd.DataFrame, pd.DataFrame]:
        e = fc.enrolment_by_zone(county.enrolment, county.schools, fill_untaught=True)
        b = county.births.rename(columns={"township_id": "zone"})
        last = int(e["year"].max())
        try:
            sf = fc.seat_forecast(e, b, horizon_years=max(sc.scenario.horizon_year - last, 1),
                                  births_scenario=sc.forecast.fertility)
        except SchoolplanError as exc:  # say which county's births/enrolment
            exc.file = exc.file or str(county.source)
            exc.layer = exc.layer or "births, enrolment"
            raise
        d = sf.demand
        if sc.forecast.urbanisation_rate > 0 and county.county_seat is not None:
            d = fc.urbanisation_shift(d, to_zone=county.county_seat, rate_per_year=sc.forecast.urbanisation_rate,
                                      base_year=last)
        # the register year itself, observed (no range), so that a plan may target it
        obs = e[e["year"] == last].rename(columns={"students": "p50"})
        obs = obs.assign(p10=obs["p50"].astype(float), p50=obs["p50"].astype(float), p90=obs["p50"].astype(float))
        demand = pd.concat([obs[["zone", "level", "grade", "year", "p10", "p50", "p90"]], d], ignore_index=True)
        tot = sf.totals[sf.totals["zone"] == "ALL"]
        seen = obs.groupby(["level", "year"], as_index=False)["p50"].sum().assign(zone="ALL")
        seen = seen.assign(p10=seen["p50"], p90=seen["p50"])
        totals = pd.concat([seen[["zone", "level", "year", "p10", "p50", "p90"]], tot], ignore_index=True)
        return demand, totals

    return cache.get(("forecast", str(county.source), sc.forecast.fertility, sc.forecast.urbanisation_rate,
                      sc.scenario.horizon_year), make)


def run_scenario(sc: Scenario, *, cache: _Cache | None = None,
                 progress: Callable[[str], None] | None = None) -> ScenarioResult:
    """Run one scenario: forecast, travel times, attendance, consolidation, reserved land, indicators, audit.

    Every warning raised on the way is kept in ``result.data_quality`` (and raised
    again to the caller); nothing is silenced.

    Parameters
    ----------
    sc
        A validated scenario.
    cache
        Shared cache (counties, graphs, matrices) across scenarios.
    progress
        Called with the name of each step as it starts.

    Returns
    -------
    ScenarioResult
    """
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        stages: list[tuple[int, str]] = []
        result = _run(sc, cache or _Cache(), progress, lambda step: stages.append((len(rec), step)))
    notes = _data_quality(rec, stages)
    for w in rec:  # pass every warning on to the caller
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    from dataclasses import replace

    from schoolplan.audit import audit

    county_notes = getattr(result.county, "data_quality", None)
    if isinstance(county_notes, pd.DataFrame) and len(county_notes):
        notes = pd.concat([county_notes.assign(stage="load"), notes], ignore_index=True)
    result = replace(result, data_quality=notes)
    return replace(result, audit=audit(result))


def _data_quality(rec: list[warnings.WarningMessage], stages: list[tuple[int, str]]) -> pd.DataFrame:
    """Warnings as rows ``stage, category, message`` (duplicates dropped, order kept)."""
    rows = []
    for i, w in enumerate(rec):
        stage = next((s for start, s in reversed(stages) if start <= i), "load")
        rows.append({"stage": stage, "category": w.category.__name__, "message": str(w.message)})
    out = pd.DataFrame(rows, columns=["stage", "category", "message"])
    return out.drop_duplicates(subset=["category", "message"], ignore_index=True)


def _run(sc: Scenario, cache: _Cache, progress: Callable[[str], None] | None,
         mark: Callable[[str], None]) -> ScenarioResult:
    from schoolplan.consolidate import (
        apply_reuse,
        consolidate,
        make_rules,
        project_attendance,
        today_attendance,
    )
    from schoolplan.metrics import scenario_indicators
    from schoolplan.network import isochrones
    from schoolplan.schema import COMPULSORY_LEVELS
    from schoolplan.standards import load_standards

    say = progress or (lambda _s: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def tick(step: str) -> None:
        nonlocal t0
        now = time.perf_counter()
        say(step)
        mark(step)
        timings[step] = 0.0
        if len(timings) > 1:
            prev = list(timings)[-2]
            timings[prev] = round(now - t0, 3)
        t0 = now

    std = load_standards(None if sc.scenario.standards == "cn_national" else sc.scenario.standards,
                         overrides=sc.standards_overrides or None)
    rules = make_rules(std, **sc.rules())
    tick("load")
    county = _county(sc, cache)
    target = sc.scenario.target_year
    if target < county.base_year:
        raise ConfigError(f"target_year {target} is before the register year {county.base_year}",
                          file=str(sc.source) if sc.source else None, column="scenario.target_year",
                          fix=f"choose a target year from {county.base_year} on")
    tick("network")
    bus_g = _graph(county, sc.network.profile, sc.network.bad_weather, cache)
    cache.get(("offsets", str(county.source), sc.scenario.coords), lambda: check_offsets(county, bus_g))
    walk_g = _graph(county, sc.network.walk_profile, False, cache)
    compulsory = county.schools[county.schools["status"].eq("open") & county.schools["level"].isin(COMPULSORY_LEVELS)]
    sites = county.sites
    dest = pd.concat([compulsory[["geometry"]], sites[["geometry"]].set_geometry(sites.geometry.centroid)]) \
        if len(sites) else compulsory[["geometry"]]
    dest = gpd.GeoDataFrame(dest, geometry="geometry", crs=county.crs)
    tick("travel_times")
    check_matrix_memory(len(county.villages), len(dest))
    src = str(county.source)
    bus = _matrix(bus_g, county.villages, dest, sc.network.cutoff_minutes,
                  ("bus", src, sc.network.profile, sc.network.bad_weather), cache, sc.network.max_snap_m)
    walk = _matrix(walk_g, county.villages, compulsory, 60.0, ("walk", src, sc.network.walk_profile), cache,
                   sc.network.max_snap_m)
    tick("forecast")
    demand, totals = _forecast(sc, county, cache)
    tick("attendance")
    base = cache.get(("attendance", src, sc.network.profile, sc.network.bad_weather, rules.walk_limit_minutes),
                     lambda: today_attendance(county, bus[compulsory.index], walk, rules=rules))
    flows = project_attendance(base, county, demand, target)
    tick("consolidate")
    plan = consolidate(county, bus, walk, mode=sc.consolidation.mode, pupils=flows, rules=rules, standards=std,
                       year=target, attendance=base)
    phased = None
    if sc.phasing.enabled and sc.consolidation.mode != "status_quo" and target > county.base_year:
        tick("phasing")
        from schoolplan.phasing import phase_plan

        phased = phase_plan(plan, county, bus, walk, attendance=base, demand=demand, rules=rules, standards=std,
                            **sc.phasing.options())
    tick("isochrones")
    receiving = plan.schools[plan.schools["decision"].isin(["keep", "expand", "new"])]
    iso = isochrones(bus_g, receiving[["geometry"]], minutes=rules.bus_minutes)
    iso = iso.rename(columns={"id": "school_id"})
    reserved = None
    if sc.reserve.enabled and len(county.zones):
        tick("reserve")
        reserved = _reserve(sc, county, demand, plan, walk_g, std, cache)
        # a building the plan empties becomes a kindergarten where children still lack places (the status
        # quo changes nothing: its suggestions stay in the reserved-land section)
        if plan.params.get("mode") != "status_quo":
            plan = apply_reuse(plan, reserved.summary.get("vacated_kindergarten"), county=county)
    tick("indicators")
    indicators = scenario_indicators(county, plan, reserved, demand, std, target_year=target)
    from schoolplan.readiness import county_inspection, plan_readiness

    readiness = plan_readiness(county, plan, std)
    inspection = cache.get(("inspection", str(county.source), json.dumps(sc.standards_overrides, sort_keys=True,
                                                                         default=str), sc.scenario.standards),
                           lambda: county_inspection(county, std))
    tick("done")
    timings.pop("done", None)
    return ScenarioResult(name=sc.name, label_zh=sc.scenario.name_zh, label_en=sc.scenario.name_en,
                          county=county, plan=plan, demand=demand, reserved=reserved, isochrones=iso,
                          indicators=indicators, config=sc.model_dump(mode="json"), timings=timings,
                          attendance=base, demand_totals=totals,
                          phasing=phased, readiness=readiness, inspection=inspection)


def _reserve(sc: Scenario, county: County, demand: pd.DataFrame, plan: LayoutPlan, walk_g: Any, std: Mapping[str, Any],
             cache: _Cache) -> Any:
    from schoolplan.reserve import reserve_land, zone_points

    pts = cache.get(("zone_points", str(county.source), sc.reserve.spacing_m),
                    lambda: zone_points(county.zones, spacing_m=sc.reserve.spacing_m, villages=county.villages))
    m_per_min = float(walk_g.profile.data.get("default_speed_kmh", 4.0)) * 1000.0 / 60.0
    # one walking matrix (cached across scenarios) from the demand points to every school building and parcel
    schools = county.schools[county.schools["status"].isin(["open", "closed"])]
    sites = county.sites
    dest = pd.concat([schools[["geometry"]], sites[["geometry"]].set_geometry(sites.geometry.centroid)])
    dest = gpd.GeoDataFrame(dest[~dest.index.duplicated()], geometry="geometry", crs=county.crs)
    walk = _matrix(walk_g, pts, dest, 60.0, ("zone_walk", str(county.source), sc.reserve.spacing_m), cache,
                   sc.network.max_snap_m) * m_per_min
    ps = plan.schools
    seats_at = [s for s in ps.index[ps["decision"].isin(["keep", "expand", "new"])] if s in walk.columns]
    kgs = [s for s in schools.index[(schools["status"] == "open") & (schools["level"] == "kindergarten")]
           if s in walk.columns and s not in set(seats_at)]
    vacated = [s for s in ps.index[ps["decision"].isin(["merge", "convert", "vacant"])] if s in walk.columns]
    site_cols = list(dict.fromkeys([*sites.index, *vacated]))
    return reserve_land(county, demand, walk[seats_at + kgs], site_walk_m=walk[site_cols],
                        year=sc.reserve.planning_year or sc.scenario.target_year,
                        target_year=sc.scenario.target_year, standards=std, radius_preset=sc.reserve.radius_preset,
                        points=pts, plan=plan)


def run_scenarios(
    scenarios: Iterable[Scenario | str | Path],
    *,
    progress: Callable[[str, str], None] | None = None,
) -> list[ScenarioResult]:
    """Run several scenarios sharing the county, graphs and matrices.

    Parameters
    ----------
    scenarios
        Scenarios or scenario files.
    progress
        Called with (scenario name, step) as steps start.

    Returns
    -------
    list of ScenarioResult
    """
    cache = _Cache()
    out = []
    for s in scenarios:
        sc = s if isinstance(s, Scenario) else load_scenario(s)
        out.append(run_scenario(sc, cache=cache,
                                progress=(lambda step, n=sc.name: progress(n, step)) if progress else None))
    return out


def compare(results: Iterable[ScenarioResult]) -> pd.DataFrame:
    """The comparison table: one column per scenario, one row per indicator.

    Returns
    -------
    pandas.DataFrame
        Index = indicator keys, columns = scenario names (values straight from each
        result's ``indicators``).
    """
    rs = list(results)
    return pd.DataFrame({r.name: r.indicators for r in rs})
