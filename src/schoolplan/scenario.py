"""Scenario files (TOML), runs and comparison.

A scenario is a TOML file validated with pydantic; every error names the key and
the allowed values. A scenario may inherit from a base file (``inherit =
"base.toml"``) and override a few keys; paths are resolved relative to the file
that names them. Example::

    inherit = "base.toml"

    [scenario]
    name_zh = "两集中（20分钟）"
    name_en = "Two concentrations, 20 min"
    county = "../data/demo_county"
    target_year = 2030

    [consolidation]
    mode = "rules"
    bus_minutes = 20

:func:`run_scenarios` runs several scenarios sharing the loaded county, road graphs
and travel-time matrices.
"""

from __future__ import annotations

import copy
import time
import tomllib
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schoolplan.errors import ConfigError, SchoolplanError
from schoolplan.results import ScenarioResult

__all__ = ["Scenario", "check_offsets", "compare", "load_scenario", "run_scenario", "run_scenarios"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScenarioSection(_Strict):
    """Identity, data and horizon of a scenario."""

    name_zh: str = "方案"
    name_en: str = "Scenario"
    county: Path = Path(".")
    coords: Literal["wgs84", "cgcs2000", "gcj02", "bd09"] = "wgs84"
    target_year: int = Field(2030, ge=2000, le=2100)
    horizon_year: int = Field(2035, ge=2000, le=2100)
    standards: str = "cn_national"
    seed: int = 0
    lang: Literal["zh", "en"] = "zh"

    @model_validator(mode="after")
    def _target_within_horizon(self) -> ScenarioSection:
        if self.target_year > self.horizon_year:
            raise ValueError(f"target_year {self.target_year} is after horizon_year {self.horizon_year}: the "
                             "forecast would not reach it")
        return self


class NetworkSection(_Strict):
    """Road network and travel-time options."""

    profile: str = "school_bus"
    walk_profile: str = "walk"
    bad_weather: bool = False
    max_snap_m: float = Field(2000.0, gt=0)
    cutoff_minutes: float = Field(120.0, gt=0)


class ForecastSection(_Strict):
    """Seat-demand forecast options."""

    fertility: Literal["low", "medium", "high"] = "medium"
    urbanisation_rate: float = Field(0.0, ge=0, le=0.5)
    housing_yield: bool = True


class ConsolidationSection(_Strict):
    """两集中 rules (see :func:`schoolplan.consolidate.default_rules`)."""

    mode: Literal["status_quo", "rules", "optimize"] = "rules"
    bus_minutes: float = Field(20.0, gt=0, le=180)
    day_limit_lower: float = Field(30.0, gt=0, le=180)
    day_limit_upper: float | None = Field(None, gt=0, le=180)
    day_limit_junior: float | None = Field(None, gt=0, le=180)
    boarding: bool = True
    min_enrolment: int = Field(50, ge=0)
    min_quality: float | None = Field(60.0, ge=0, le=100)
    min_condition: float | None = Field(60.0, ge=0, le=100)
    max_closures: int | None = Field(None, ge=0)
    fixed_open: tuple[str, ...] = ()
    allow_new: bool = True
    junior_to_county_seat: bool = True
    time_limit: float = Field(60.0, gt=0)


class ReserveSection(_Strict):
    """Reserved-land options."""

    enabled: bool = True
    radius_preset: str = "urban"
    planning_year: int | None = Field(None, ge=2000, le=2100)
    spacing_m: float = Field(150.0, gt=0)


class Scenario(_Strict):
    """A validated scenario."""

    scenario: ScenarioSection = ScenarioSection()
    network: NetworkSection = NetworkSection()
    forecast: ForecastSection = ForecastSection()
    consolidation: ConsolidationSection = ConsolidationSection()
    reserve: ReserveSection = ReserveSection()
    costs: dict[str, float] = Field(default_factory=dict)
    standards_overrides: dict[str, Any] = Field(default_factory=dict)
    name: str = "scenario"
    source: Path | None = None

    @field_validator("costs")
    @classmethod
    def _costs_non_negative(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k, x in v.items() if x < 0]
        if bad:
            raise ValueError(f"costs must be ≥ 0: {', '.join(bad)}")
        return v

    def rules(self) -> dict[str, Any]:
        """Consolidation rules for :func:`schoolplan.consolidate.consolidate`."""
        c = self.consolidation
        day = {"lower": c.day_limit_lower, "upper": c.day_limit_upper or c.bus_minutes,
               "junior": c.day_limit_junior or c.bus_minutes}
        out: dict[str, Any] = {
            "bus_minutes": c.bus_minutes, "day_limit_minutes": day, "min_enrolment": c.min_enrolment,
            "min_quality": c.min_quality, "min_condition": c.min_condition, "max_closures": c.max_closures,
            "fixed_open": c.fixed_open, "allow_new": c.allow_new,
            "junior_to_county_seat": c.junior_to_county_seat, "time_limit": c.time_limit,
            "boarding_bands": ("upper", "junior") if c.boarding else (),
        }
        if self.costs:
            out["costs"] = dict(self.costs)
        return out


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


#: Scenario keys that name files or folders; all are read, none is written.
_PATH_KEYS = (("scenario", "county"), ("scenario", "standards"), ("network", "profile"),
              ("network", "walk_profile"))


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError("scenario file not found", file=str(path), fix="check the path")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", file=str(path), fix="check quotes, brackets and '=' signs") from None
    except UnicodeDecodeError:
        raise ConfigError("the scenario file is not UTF-8", file=str(path), fix="save it as UTF-8") from None
    # resolve paths relative to this file (county folder, standards and speed-profile TOML files)
    for section, key in _PATH_KEYS:
        sub = data.get(section)
        if not isinstance(sub, dict) or not isinstance(sub.get(key), str):
            continue
        value = sub[key]
        if key == "county" or value.lower().endswith(".toml"):
            sub[key] = str((path.parent / value).resolve())
    return data


def _raw(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise ConfigError("scenario files inherit from each other in a loop", file=str(path),
                          fix="remove the circular 'inherit'")
    data = _read_toml(path)
    parent = data.pop("inherit", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ConfigError("'inherit' must be a file name", file=str(path), column="inherit",
                          fix='write inherit = "base.toml"')
    return _deep_merge(_raw(path.parent / parent, (*seen, path)), data)


def _explain(exc: ValidationError, file: str) -> ConfigError:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            section = err["loc"][:-1]
            model: Any = Scenario
            for part in section:
                model = model.model_fields[str(part)].annotation
            allowed = ", ".join(model.model_fields) if hasattr(model, "model_fields") else ""
            msg = f"unknown key (allowed: {allowed})"
        lines.append(f"{key}: {msg}")
    return ConfigError("invalid scenario: " + "; ".join(lines), file=file, column=lines[0].split(":")[0],
                       fix="correct the keys and values named above")


def load_scenario(path: str | Path | Mapping[str, Any], *, name: str | None = None) -> Scenario:
    """Load and validate a scenario file (or a mapping of the same shape).

    Parameters
    ----------
    path
        TOML file, or a dict (paths then relative to the working directory).
    name
        Scenario key; the file stem by default.

    Returns
    -------
    Scenario

    Raises
    ------
    ConfigError
        Naming the file, the key and the allowed values.
    """
    if isinstance(path, Mapping):
        data, file, stem = copy.deepcopy(dict(path)), "<dict>", name or "scenario"
    else:
        p = Path(path)
        data, file, stem = _raw(p), str(p), name or p.stem
    data.pop("inherit", None)
    try:
        sc = Scenario(**data, name=stem, source=None if file == "<dict>" else Path(file).resolve())
    except ValidationError as exc:
        raise _explain(exc, file) from None
    except TypeError as exc:
        raise ConfigError(f"invalid scenario: {exc}", file=file, fix="use the documented sections") from None
    _check_references(sc, file)
    return sc


def _check_references(sc: Scenario, file: str) -> None:
    """Fail at load time (not after an hour of other scenarios) on files and names that do not exist."""
    from schoolplan.network import load_profile
    from schoolplan.standards import load_standards

    if not Path(sc.scenario.county).exists():
        raise ConfigError("the county folder named in the scenario does not exist", file=file,
                          column="scenario.county", rows=[str(sc.scenario.county)],
                          fix="give the county folder or GeoPackage, relative to the scenario file")
    try:
        std = load_standards(None if sc.scenario.standards == "cn_national" else sc.scenario.standards,
                             overrides=sc.standards_overrides or None)
        for key in ("profile", "walk_profile"):
            load_profile(getattr(sc.network, key))
    except ConfigError as exc:
        exc.file = exc.file or file
        exc.column = exc.column or "scenario.standards / standards_overrides / network.profile"
        raise
    presets = std.get("service_radius_presets", {})
    if sc.reserve.enabled and sc.reserve.radius_preset not in presets:
        raise ConfigError(f"unknown service-radius preset '{sc.reserve.radius_preset}'", file=file,
                          column="reserve.radius_preset", fix=f"use one of: {', '.join(sorted(presets))}")


# --------------------------------------------------------------------------- running
class _Cache:
    """Loaded counties, graphs and matrices shared between scenarios of one run."""

    def __init__(self) -> None:
        self.store: dict[tuple[Any, ...], Any] = {}

    def get(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        if key not in self.store:
            self.store[key] = make()
        return self.store[key]


def _county(sc: Scenario, cache: _Cache) -> Any:
    from schoolplan.county import load_county

    return cache.get(("county", str(sc.scenario.county), sc.scenario.coords),
                     lambda: load_county(sc.scenario.county, coords=sc.scenario.coords))


def _graph(county: Any, profile: str, bad_weather: bool, cache: _Cache) -> Any:
    from schoolplan.errors import InputFileError
    from schoolplan.network import build_graph

    if county.roads is None:
        raise InputFileError("the county has no road network", file=str(county.source),
                             fix="add roads.osm.pbf (or a road layer) to the county folder")
    check_road_memory(county.roads)
    return cache.get(("graph", str(county.source), profile, bad_weather),
                     lambda: build_graph(county.roads, profile=profile, crs=county.crs, bad_weather=bad_weather))


def check_road_memory(roads: Any) -> None:
    """Stop with a :class:`~schoolplan.errors.ResourceError` before building a graph too big for memory."""
    from schoolplan.io import check_memory, estimate_road_bytes

    if isinstance(roads, str | Path) and Path(roads).exists():
        check_memory(estimate_road_bytes(roads), what="building the road graph", file=str(roads),
                     fix="clip the road file to the county plus a few km (e.g. osmium extract --bbox ...); "
                     "a province-wide OSM extract is too big for this machine")


def check_matrix_memory(n_villages: int, n_destinations: int) -> None:
    """Stop before village × school matrices (and the assignment built on them) exceed memory.

    About 64 bytes per village–school pair: the bus and walking matrices, their
    copies in the consolidation, and the assignment model.
    """
    from schoolplan.io import check_memory

    check_memory(64.0 * n_villages * n_destinations * 2,
                 what=f"travel times for {n_villages:,} villages × {n_destinations:,} schools and sites",
                 fix="clip the villages and schools to the county, aggregate villages (自然村 → 行政村), or "
                 "use a machine with more memory")


def check_offsets(county: Any, graph: Any) -> list[str]:
    """Warn when schools or villages look like GCJ-02 web-map coordinates given as WGS-84.

    Compares their distance to the road graph before and after a GCJ-02 → WGS-84
    conversion (:func:`schoolplan.coords.detect_gcj02_offset`); only points in China
    are checked, so counties elsewhere cost nothing.

    Parameters
    ----------
    county
        A loaded county.
    graph
        Its road graph (:class:`~schoolplan.network.RoadGraph`).

    Returns
    -------
    list of str
        The layers that look offset (a :class:`~schoolplan.errors.DataWarning` is
        issued for them).
    """
    import shapely
    from pyproj import Transformer

    from schoolplan import coords as _coords
    from schoolplan.errors import DataWarning

    layers = {name: getattr(county, name).geometry for name in ("schools", "villages")}
    to_ll = Transformer.from_crs(county.crs, 4326, always_xy=True)
    pts = {}
    for name, geom in layers.items():
        geom = geom[geom.notna() & ~geom.is_empty]
        lon, lat = to_ll.transform(geom.centroid.x.to_numpy(), geom.centroid.y.to_numpy())
        if _coords.in_china(lon, lat).any():
            pts[name] = (np.asarray(lon), np.asarray(lat))
    edges = getattr(graph, "edges", None)
    if not pts or edges is None or not len(edges):
        return []
    xy = shapely.get_coordinates(shapely.segmentize(edges.geometry.to_numpy(), 50.0))
    rlon, rlat = Transformer.from_crs(graph.crs, 4326, always_xy=True).transform(xy[:, 0], xy[:, 1])
    groups = dict(pts)
    if len(pts) == 2:  # too few schools or villages alone: judge them together
        groups["schools and villages"] = tuple(np.concatenate([pts["schools"][i], pts["villages"][i]])
                                               for i in (0, 1))
    offset: list[str] = []
    found: list[_coords.OffsetCheck] = []
    for name, (lon, lat) in groups.items():
        if offset and name == "schools and villages":
            break
        res = _coords.detect_gcj02_offset(lon, lat, rlon, rlat)
        if res is not None and res.likely_gcj02:
            offset.append(name)
            found.append(res)
    if offset:
        checked = found[0]
        warnings.warn(
            f"{' and '.join(offset)} look like GCJ-02 (Gaode/Tencent web-map) coordinates labelled WGS-84: "
            f"converting them GCJ-02 → WGS-84 would move them about {checked.median_shift_m:.0f} m and bring "
            f"them from {checked.median_before_m:.0f} m to {checked.median_after_m:.0f} m (median) from the roads. "
            'Load them with coords="gcj02" (scenario: coords = "gcj02"; CLI: --coords gcj02) for lon/lat '
            "tables, or convert GeoPackage/shapefile layers with schoolplan.coords.gcj02_to_wgs84",
            DataWarning, stacklevel=2)
    return offset


def _matrix(graph: Any, origins: gpd.GeoDataFrame, dest: gpd.GeoDataFrame, cutoff: float, key: tuple[Any, ...],
            cache: _Cache, max_snap_m: float) -> pd.DataFrame:
    from schoolplan.errors import UnreachableWarning
    from schoolplan.network import travel_time_matrix

    def make() -> pd.DataFrame:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnreachableWarning)
            return travel_time_matrix(graph, origins, dest, cutoff_minutes=cutoff, max_snap_m=max_snap_m,
                                      dtype=np.float64)

    return cache.get(key, make)


def _fill_untaught_grades(e: pd.DataFrame, grades: Mapping[str, tuple[int, ...]]) -> pd.DataFrame:
    """Add 0-pupil rows for grades no school of a township teaches in any year.

    A township whose only primary school is a teaching point (grades 1–4) has no
    grade 5–6 rows at all: its pupils go elsewhere, so 0 is the truth there. Grades
    missing only in some years are left to the forecast (warning or error).
    """
    fill = []
    for (zone, level), g in e.groupby(["zone", "level"], sort=False):
        absent = [x for x in grades.get(str(level), ()) if x not in set(g["grade"])]
        if absent:
            years = sorted(set(g["year"]))
            fill.append(pd.DataFrame([{"zone": zone, "level": level, "year": y, "grade": x, "students": 0}
                                      for y in years for x in absent]))
    if not fill:
        return e
    return pd.concat([e, *fill], ignore_index=True).sort_values(["zone", "level", "year", "grade"],
                                                                 ignore_index=True)


def _forecast(sc: Scenario, county: Any, cache: _Cache) -> pd.DataFrame:
    from schoolplan import forecast as fc

    def make() -> pd.DataFrame:
        e = _fill_untaught_grades(fc.enrolment_by_zone(county.enrolment, county.schools), fc.DEFAULT_LEVEL_GRADES)
        b = county.births.rename(columns={"township_id": "zone"})
        last = int(e["year"].max())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                d = fc.seat_demand(e, b, horizon_years=max(sc.scenario.horizon_year - last, 1),
                                   births_scenario=sc.forecast.fertility)
            except SchoolplanError as exc:  # say which county's births/enrolment
                exc.file = exc.file or str(county.source)
                exc.layer = exc.layer or "births, enrolment"
                raise
        if sc.forecast.urbanisation_rate > 0 and county.county_seat is not None:
            d = fc.urbanisation_shift(d, to_zone=county.county_seat, rate_per_year=sc.forecast.urbanisation_rate,
                                      base_year=last)
        return d

    return cache.get(("forecast", str(county.source), sc.forecast.fertility, sc.forecast.urbanisation_rate,
                      sc.scenario.horizon_year), make)


def run_scenario(sc: Scenario, *, cache: _Cache | None = None,
                 progress: Callable[[str], None] | None = None) -> ScenarioResult:
    """Run one scenario: forecast, travel times, consolidation, isochrones, reserved land, indicators.

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
    from schoolplan.consolidate import consolidate, village_pupils
    from schoolplan.metrics import scenario_indicators
    from schoolplan.network import isochrones
    from schoolplan.standards import load_standards

    cache = cache or _Cache()
    say = progress or (lambda _s: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def tick(step: str) -> None:
        nonlocal t0
        now = time.perf_counter()
        say(step)
        timings[step] = 0.0
        if len(timings) > 1:
            prev = list(timings)[-2]
            timings[prev] = round(now - t0, 3)
        t0 = now

    std = load_standards(None if sc.scenario.standards == "cn_national" else sc.scenario.standards,
                         overrides=sc.standards_overrides or None)
    tick("load")
    county = _county(sc, cache)
    tick("network")
    bus_g = _graph(county, sc.network.profile, sc.network.bad_weather, cache)
    cache.get(("offsets", str(county.source), sc.scenario.coords), lambda: check_offsets(county, bus_g))
    walk_g = _graph(county, sc.network.walk_profile, False, cache)
    compulsory = county.schools[county.schools["status"].eq("open")
                                & county.schools["level"].isin(["teaching_point", "primary", "nine_year", "junior"])]
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
    demand = _forecast(sc, county, cache)
    target = sc.scenario.target_year
    if target < county.base_year:
        raise ConfigError(f"target_year {target} is before the register year {county.base_year}",
                          file=str(sc.source) if sc.source else None, column="scenario.target_year",
                          fix=f"choose a target year from {county.base_year} on")
    years = set(demand["year"])
    pupils = village_pupils(county, year=target, demand=demand) if target in years else village_pupils(county)
    tick("consolidate")
    plan = consolidate(county, bus, walk, mode=sc.consolidation.mode, pupils=pupils, rules=sc.rules(),
                       standards=std)
    tick("isochrones")
    receiving = plan.schools[plan.schools["decision"].isin(["keep", "expand", "new"])]
    iso = isochrones(bus_g, receiving[["geometry"]], minutes=sc.consolidation.bus_minutes)
    iso = iso.rename(columns={"id": "school_id"})
    reserved = None
    if sc.reserve.enabled and len(county.zones):
        tick("reserve")
        reserved = _reserve(sc, county, demand, plan, walk_g, std, cache)
    tick("indicators")
    indicators = scenario_indicators(county, plan, reserved, demand, std, target_year=target)
    tick("done")
    timings.pop("done", None)
    return ScenarioResult(name=sc.name, label_zh=sc.scenario.name_zh, label_en=sc.scenario.name_en,
                          county=county, plan=plan, demand=demand, reserved=reserved, isochrones=iso,
                          indicators=indicators, config=sc.model_dump(mode="json"), timings=timings)


def _reserve(sc: Scenario, county: Any, demand: pd.DataFrame, plan: Any, walk_g: Any, std: Mapping[str, Any],
             cache: _Cache) -> Any:
    from schoolplan.reserve import reserve_land, zone_points

    pts = cache.get(("zone_points", str(county.source), sc.reserve.spacing_m),
                    lambda: zone_points(county.zones, spacing_m=sc.reserve.spacing_m, villages=county.villages))
    m_per_min = float(walk_g.profile.data.get("default_speed_kmh", 4.0)) * 1000.0 / 60.0
    schools = county.schools[county.schools["status"] == "open"]
    # buildings this plan empties (schools closed before the plan are already candidate sites)
    vacated = plan.schools[plan.schools["decision"].isin(["merge", "convert"])]
    areas = [c for c in ("land_area_m2", "building_area_m2") if c in county.schools]
    vacated = vacated.join(county.schools[areas], how="left")
    walk_s = _matrix(walk_g, pts, schools[["geometry"]], 60.0, ("zone_walk", str(county.source)), cache,
                     sc.network.max_snap_m) * m_per_min
    site_geo = pd.concat([county.sites[["geometry"]].set_geometry(county.sites.geometry.centroid),
                          vacated[["geometry"]].loc[~vacated.index.isin(schools.index)]])
    site_geo = gpd.GeoDataFrame(site_geo[~site_geo.index.duplicated()], geometry="geometry", crs=county.crs)
    walk_sites = _matrix(walk_g, pts, site_geo, 60.0, ("site_walk", str(county.source), tuple(site_geo.index)),
                         cache, sc.network.max_snap_m) * m_per_min
    closed_now = vacated[vacated.index.isin(schools.index)]
    if len(closed_now):
        walk_sites = walk_sites.join(walk_s[closed_now.index])
    return reserve_land(county, demand, walk_s.drop(columns=closed_now.index, errors="ignore"),
                        site_walk_m=walk_sites, year=sc.reserve.planning_year or sc.scenario.target_year,
                        standards=std, radius_preset=sc.reserve.radius_preset, vacated=vacated, points=pts)


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
