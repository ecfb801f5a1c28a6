"""Scenario files (TOML): the validated configuration of a run.

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
"""

from __future__ import annotations

import copy
import difflib
import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schoolplan._text import parse_year
from schoolplan.errors import ConfigError

__all__ = ["Scenario", "load_scenario", "safe_name", "scenario_dict"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ScenarioSection(_Strict):
    """Identity, data and horizon of a scenario."""

    name_zh: str = "方案"
    name_en: str = "Scenario"
    county: Path = Path(".")
    #: lon/lat system of the county's tables; None = ``county.toml``'s ``coords``, else wgs84.
    coords: Literal["wgs84", "cgcs2000", "gcj02", "bd09"] | None = None
    #: working metric CRS (e.g. "EPSG:4547"); None = ``county.toml``'s ``crs``, else chosen from the townships.
    crs: str | None = None
    #: register year; None = ``county.toml``'s ``base_year``, else the latest enrolment year.
    base_year: int | None = Field(None, ge=1990, le=2100)
    target_year: int = Field(2030, ge=2000, le=2100)
    horizon_year: int = Field(2035, ge=2000, le=2100)
    standards: str = "cn_national"
    lang: Literal["zh", "en"] = "zh"

    @field_validator("base_year", "target_year", "horizon_year", mode="before")
    @classmethod
    def _year_text(cls, v: Any) -> Any:
        """Years written as text ("2024年", "２０２４") are read as numbers."""
        year = parse_year(v) if isinstance(v, str) else None
        return year if year is not None else v

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
    """两集中 rules (see :class:`schoolplan.consolidate.Rules`).

    Every rule left out (None) takes its value from the standards data
    (``[consolidation]`` and friends, after ``standards_overrides``); only the keys a
    scenario sets override them.
    """

    mode: Literal["status_quo", "rules", "optimize"] = "rules"
    bus_minutes: float | None = Field(None, gt=0, le=180)
    day_limit_lower: float | None = Field(None, gt=0, le=180)
    day_limit_upper: float | None = Field(None, gt=0, le=180)
    day_limit_junior: float | None = Field(None, gt=0, le=180)
    boarding: bool | list[Literal["upper", "junior"]] | None = None
    min_enrolment: int | None = Field(None, ge=0)
    min_quality: float | None = Field(None, ge=0, le=100)
    min_condition: float | None = Field(None, ge=0, le=100)
    max_closures: int | None = Field(None, ge=0)
    fixed_open: tuple[str, ...] = ()
    force: dict[str, Literal["keep", "close", "expand"]] = Field(default_factory=dict)
    allow_new: bool | None = None
    junior_to_county_seat: bool | None = None
    time_limit: float | None = Field(None, gt=0)


class ReserveSection(_Strict):
    """Reserved-land options."""

    enabled: bool = True
    radius_preset: str = "urban"
    planning_year: int | None = Field(None, ge=2000, le=2100)
    spacing_m: float = Field(150.0, gt=0)


class PhasingSection(_Strict):
    """The year-by-year schedule of the plan (:func:`schoolplan.phasing.phase_plan`).

    Left out: the plan starts the year after the register year, with no budget
    limit and no limit on closures per year; buildings take the standards' lead time.
    """

    enabled: bool = True
    start_year: int | None = Field(None, ge=2000, le=2100)
    budget_wan_per_year: float | None = Field(None, gt=0)
    max_closures_per_year: int | None = Field(None, ge=1)
    build_lead_years: int | None = Field(None, ge=0, le=10)

    def options(self) -> dict[str, Any]:
        """Keyword options of :func:`schoolplan.phasing.phase_plan`."""
        return {"start_year": self.start_year, "budget_wan_per_year": self.budget_wan_per_year,
                "max_closures_per_year": self.max_closures_per_year, "build_lead_years": self.build_lead_years}


class Scenario(_Strict):
    """A validated scenario."""

    scenario: ScenarioSection = ScenarioSection()
    network: NetworkSection = NetworkSection()
    forecast: ForecastSection = ForecastSection()
    consolidation: ConsolidationSection = ConsolidationSection()
    reserve: ReserveSection = ReserveSection()
    phasing: PhasingSection = PhasingSection()
    costs: dict[str, float] = Field(default_factory=dict)
    standards_overrides: dict[str, Any] = Field(default_factory=dict)
    name: str = "scenario"
    source: Path | None = None

    @model_validator(mode="after")
    def _phasing_within_target(self) -> Scenario:
        start = self.phasing.start_year
        if start is not None and start > self.scenario.target_year:
            raise ValueError(f"phasing.start_year {start} is after target_year {self.scenario.target_year}: the "
                             "schedule must start by the target year")
        return self

    @field_validator("costs")
    @classmethod
    def _costs_known_and_non_negative(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k, x in v.items() if not math.isfinite(x) or x < 0]
        if bad:
            raise ValueError(f"costs must be ≥ 0 and finite (万元): {', '.join(bad)}")
        allowed = cost_keys()
        unknown = [k for k in v if k not in allowed]
        if unknown:
            hints = {k: difflib.get_close_matches(k, sorted(allowed), n=1) for k in unknown}
            said = ", ".join(f"'{k}'" + (f" (did you mean '{h[0]}'?)" if h else "") for k, h in hints.items())
            raise ValueError(f"unknown cost(s) {said}; allowed: {', '.join(sorted(allowed))}")
        return v

    def county_options(self) -> dict[str, Any]:
        """Options for :func:`schoolplan.county.load_county` (None = ``county.toml``, else the default)."""
        return {"coords": self.scenario.coords, "crs": self.scenario.crs, "base_year": self.scenario.base_year}

    def rules(self) -> dict[str, Any]:
        """Overrides for :func:`schoolplan.consolidate.make_rules`: only the keys this scenario sets."""
        c = self.consolidation
        day = {"lower": c.day_limit_lower, "upper": c.day_limit_upper, "junior": c.day_limit_junior}
        out: dict[str, Any] = {
            "bus_minutes": c.bus_minutes, "min_enrolment": c.min_enrolment, "min_quality": c.min_quality,
            "min_condition": c.min_condition, "max_closures": c.max_closures, "allow_new": c.allow_new,
            "junior_to_county_seat": c.junior_to_county_seat, "time_limit": c.time_limit,
            "day_limit_minutes": {k: v for k, v in day.items() if v is not None},
            "force": {**{str(s): "keep" for s in c.fixed_open}, **{str(k): v for k, v in c.force.items()}},
        }
        if c.boarding is False:
            out["boarding_bands"] = ()
        elif isinstance(c.boarding, list):
            out["boarding_bands"] = tuple(c.boarding)
        if self.costs:
            out["costs"] = dict(self.costs)
        return {k: v for k, v in out.items() if v is not None and v != {}}


def cost_keys() -> set[str]:
    """Keys allowed in a scenario's ``[costs]``: the consolidation rules' unit costs and the standards' costs."""
    from schoolplan.consolidate import default_rules
    from schoolplan.standards import load_standards

    std = load_standards()
    return set(default_rules(std).costs) | set(std["costs"])


def safe_name(stem: str) -> str:
    """A scenario key usable in file and layer names: ``"..."`` → ``"scenario"``, ``"a/b"`` → ``"a_b"``."""
    name = re.sub(r"[^\w.-]+", "_", stem).strip("._ ")
    return name or "scenario"


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
    if path.is_dir():
        raise ConfigError("the scenario path is a folder, not a TOML file", file=str(path),
                          fix="give the scenario file (e.g. scenarios/base.toml)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", file=str(path), fix="check quotes, brackets and '=' signs") from None
    except UnicodeDecodeError:
        raise ConfigError("the scenario file is not UTF-8", file=str(path), fix="save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the scenario file: {exc.strerror or exc}", file=str(path),
                          fix="check the file's permissions") from None
    # resolve paths relative to this file (county folder, standards and speed-profile TOML files)
    for section, key in _PATH_KEYS:
        sub = data.get(section)
        if not isinstance(sub, dict) or not isinstance(sub.get(key), str):
            continue
        value = sub[key]
        if key == "county" or value.lower().endswith(".toml"):
            sub[key] = str((path.parent / value).resolve())
    return data


def scenario_dict(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The raw scenario mapping of a TOML file, with ``inherit`` chains merged and paths resolved.

    Parameters
    ----------
    path
        Scenario file.
    seen
        Files already on the inheritance chain (loop detection).

    Returns
    -------
    dict
        Keys as in the file (not validated; see :func:`load_scenario`).
    """
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
    return _deep_merge(scenario_dict(path.parent / parent, (*seen, path)), data)


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


def load_scenario(path: str | Path | Mapping[str, Any], *, name: str | None = None,
                  file: str | Path | None = None) -> Scenario:
    """Load and validate a scenario file (or a mapping of the same shape).

    Parameters
    ----------
    path
        TOML file, or a dict (paths then relative to the working directory).
    name
        Scenario key; the file stem by default (made safe for file names: a file called
        ``...toml`` gives ``"scenario"``).
    file
        For a dict: the file it came from, named in error messages (e.g. the base file of
        a sweep) instead of ``<dict>``.

    Returns
    -------
    Scenario

    Raises
    ------
    ConfigError
        Naming the file, the key and the allowed values.
    """
    if isinstance(path, Mapping):
        data, where, stem = copy.deepcopy(dict(path)), str(file) if file else "<dict>", name or "scenario"
        source = Path(file).resolve() if file else None
    else:
        p = Path(path)
        data, where, stem = scenario_dict(p), str(p), name or p.stem
        source = p.resolve()
    data.pop("inherit", None)
    file = where
    try:
        sc = Scenario(**data, name=safe_name(stem), source=source)
    except ValidationError as exc:
        raise _explain(exc, file) from None
    except TypeError as exc:
        raise ConfigError(f"invalid scenario: {exc}", file=file, fix="use the documented sections") from None
    _check_references(sc, file)
    return sc


#: Plausible speeds of a profile, km/h (walking 2–7, buses up to 80, nothing above 150).
_PROFILE_SPEEDS_KMH = (0.5, 150.0)


def _check_profile_speeds(profile: Any, key: str, file: str) -> None:
    lo, hi = _PROFILE_SPEEDS_KMH
    speeds = {f"speeds_kmh.{k}": v for k, v in profile.speeds_kmh.items()}
    speeds |= {"default_speed_kmh": profile.default_speed_kmh, "access_speed_kmh": profile.access_speed_kmh}
    bad = {k: v for k, v in speeds.items() if not (math.isfinite(v) and lo <= v <= hi)}
    if bad:
        k, v = next(iter(bad.items()))
        raise ConfigError(f"speed profile '{profile.name}': {k} = {v:g} km/h is outside {lo:g}–{hi:g} km/h",
                          file=file, column=f"network.{key}", rows=list(bad),
                          fix="speeds are km/h of a vehicle or a walker on that road class; correct the profile")


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
            _check_profile_speeds(load_profile(getattr(sc.network, key)), key, file)
    except ConfigError as exc:
        exc.file = exc.file or file
        exc.column = exc.column or "scenario.standards / standards_overrides / network.profile"
        raise
    if sc.scenario.crs is not None:
        from pyproj import CRS

        try:
            projected = CRS.from_user_input(sc.scenario.crs).is_projected
        except Exception:  # pyproj's CRSError
            projected = None
        if not projected:
            raise ConfigError(f"scenario.crs '{sc.scenario.crs}' is not a projected CRS", file=file,
                              column="scenario.crs", fix='give a projected EPSG code such as "EPSG:4547", or leave '
                              "crs out to choose it from the townships")
    presets = std.get("service_radius_presets", {})
    if sc.reserve.enabled and sc.reserve.radius_preset not in presets:
        raise ConfigError(f"unknown service-radius preset '{sc.reserve.radius_preset}'", file=file,
                          column="reserve.radius_preset", fix=f"use one of: {', '.join(sorted(presets))}")
