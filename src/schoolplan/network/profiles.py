"""Speed profiles (速度方案) as data: school bus, walking children, car.

A profile is a TOML file in ``schoolplan/profiles/`` (``school_bus.toml``,
``walk.toml``, ``car.toml``). It maps road classes — OSM ``highway`` values and
Chinese classes (高速公路/国道/省道/县道/乡道/村道 ...) — to speeds in km/h and states
the caps that apply on top:

* the school-bus rules of 《校车安全管理条例》 §35–36: ≤ 80 km/h on expressways,
  ≤ 60 km/h on other roads, ≤ 20 km/h on sharp bends, steep slopes and narrow
  roads (``bad_road``) and in bad weather;
* posted limits (OSM ``maxspeed``: ``"50"``, ``"50 km/h"``, ``"30 mph"``,
  ``"CN:rural"`` ...), which prevail when lower.

Profiles can be overridden with a dict (``{"base": "school_bus", "speeds_kmh":
{"村道": 20}}``) or replaced by the path of another TOML file.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from schoolplan.errors import ConfigError

__all__ = [
    "CHINESE_CLASSES",
    "Profile",
    "WayRule",
    "WayRules",
    "available_profiles",
    "evaluate_way",
    "evaluate_ways",
    "load_profile",
    "normalize_road_class",
    "parse_maxspeed",
]

#: Chinese road classes recognised in road layers (administrative and technical grades).
CHINESE_CLASSES: tuple[str, ...] = (
    "高速公路", "城市快速路", "国道", "省道", "县道", "乡道", "村道", "专用公路",
    "一级公路", "二级公路", "三级公路", "四级公路", "等外公路", "机耕路",
    "主干路", "次干路", "支路", "街巷", "人行道", "小路",
)

# substring → class, checked in order (longest / most specific first)
_CONTAINS: tuple[tuple[str, str], ...] = (
    ("城市快速", "城市快速路"), ("快速路", "城市快速路"), ("高速", "高速公路"),
    ("国道", "国道"), ("省道", "省道"), ("县道", "县道"), ("乡道", "乡道"), ("镇道", "乡道"),
    ("村道", "村道"), ("专用", "专用公路"), ("机耕", "机耕路"), ("等外", "等外公路"),
    ("一级", "一级公路"), ("二级", "二级公路"), ("三级", "三级公路"), ("四级", "四级公路"),
    ("主干", "主干路"), ("次干", "次干路"), ("支路", "支路"), ("街巷", "街巷"), ("巷", "街巷"),
    ("人行", "人行道"),
)
_ENGLISH: dict[str, str] = {
    "expressway": "高速公路", "national": "国道", "national_road": "国道",
    "provincial": "省道", "provincial_road": "省道", "county": "县道", "county_road": "县道",
    "township": "乡道", "township_road": "乡道", "village": "村道", "village_road": "村道",
}
# route numbers: G1-G99 and 4-digit G are national expressways, G101-G999 national roads ...
_ROUTE = re.compile(r"^\s*([GSXYCZ])\s*(\d{1,4})\b", re.IGNORECASE)

_PROFILE_KEYS = {
    "name", "description", "mode", "osmnx_network_type", "default_speed_kmh", "access_speed_kmh",
    "respect_oneway", "use_maxspeed", "speeds_kmh", "caps", "weather", "access", "slope", "base",
}


def normalize_road_class(value: Any) -> str | None:
    """Canonical road class of a raw value (OSM highway value or Chinese class).

    Parameters
    ----------
    value
        ``"residential"``, ``"县道"``, ``"X203县道"``, ``"G105"``, a list of OSM values
        (the first is used), ``None`` ...

    Returns
    -------
    str or None
        Lower-case OSM value, one of :data:`CHINESE_CLASSES`, the stripped input
        when unknown, or None when empty.

    Notes
    -----
    Route numbers map to classes: G + 1–2 or 4 digits (国家高速) and S + 1–2 digits
    (省级高速) → 高速公路; G + 3 digits → 国道; S + 3 digits → 省道; X → 县道;
    Y → 乡道; C → 村道; Z → 专用公路.
    """
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    text = str(value).strip()
    if not text or text.lower() in {"nan", "none", "<na>"}:
        return None
    if text in CHINESE_CLASSES:
        return text
    low = text.lower()
    if low.isascii():
        m = _ROUTE.match(text)
        if m and len(text.strip()) <= 8:
            return _route_class(m.group(1).upper(), m.group(2))
        return _ENGLISH.get(low.replace(" ", "_"), low)
    for needle, cls in _CONTAINS:
        if needle in text:
            return cls
    m = _ROUTE.match(text)
    if m:
        return _route_class(m.group(1).upper(), m.group(2))
    return text


def _route_class(letter: str, digits: str) -> str:
    n = len(digits)
    if letter == "G":
        return "国道" if n == 3 else "高速公路"
    if letter == "S":
        return "省道" if n == 3 else "高速公路"
    return {"X": "县道", "Y": "乡道", "C": "村道", "Z": "专用公路"}[letter]


@lru_cache(maxsize=1)
def _implicit_maxspeeds() -> tuple[dict[str, float], dict[str, float]]:
    data = tomllib.loads(resources.files("schoolplan.profiles").joinpath("_maxspeed.toml").read_text("utf-8"))
    zones = {k.lower(): float(v) for k, v in data.get("zones", {}).items()}
    words = {k.lower(): float(v) for k, v in data.get("words", {}).items()}
    return zones, words


_NUM = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|km|mph|knots?)?\s*$")


def parse_maxspeed(value: Any) -> float:
    """Read an OSM ``maxspeed`` value in km/h.

    Parameters
    ----------
    value
        ``50``, ``"50"``, ``"50 km/h"``, ``"30 mph"``, ``"CN:rural"``, ``"walk"``,
        ``"none"``, ``"50;70"`` (the lowest is used), a list of such values, None.

    Returns
    -------
    float
        km/h; ``inf`` for ``"none"`` (no limit); NaN when absent or unreadable
        (``"signals"``, ``"variable"``, unknown zones).
    """
    if isinstance(value, list | tuple):
        vals = [parse_maxspeed(v) for v in value]
        vals = [v for v in vals if not math.isnan(v)]
        return min(vals) if vals else math.nan
    if value is None:
        return math.nan
    if isinstance(value, int | float):
        v = float(value)
        return v if v > 0 and math.isfinite(v) else math.nan
    text = str(value).strip().lower()
    if not text:
        return math.nan
    if ";" in text or "|" in text:
        return parse_maxspeed(re.split(r"[;|]", text))
    if text == "none":
        return math.inf
    m = _NUM.match(text)
    if m:
        v = float(m.group(1))
        unit = m.group(2) or "km/h"
        if unit == "mph":
            v *= 1.609344
        elif unit.startswith("knot"):
            v *= 1.852
        return v if v > 0 else math.nan
    zones, words = _implicit_maxspeeds()
    if text in zones:
        return zones[text]
    if text in words:
        return words[text]
    return math.nan


@dataclass(frozen=True, eq=False)
class Profile:
    """A speed profile (see the module docstring and the TOML files for the meaning).

    Attributes
    ----------
    name, description, mode
        Identification; ``mode`` is ``"drive"`` or ``"walk"``.
    default_speed_kmh
        Speed of road-layer rows whose class is not listed, km/h.
    access_speed_kmh
        Speed of the access leg from a point to the nearest road, km/h.
    respect_oneway, use_maxspeed
        Whether one-way rules and posted limits apply.
    speeds_kmh
        Road class → speed, km/h (before caps).
    expressway_kmh, expressway_classes, other_kmh
        Legal caps: on expressway classes, and on every other road, km/h.
    bad_road_kmh, bad_road_classes
        Cap on roads flagged ``bad_road`` (急弯陡坡窄路) and classes always treated so, km/h.
    bad_weather_factor, bad_weather_max_kmh
        With ``bad_weather``: speed × factor, capped at the maximum, km/h.
    access_tags, access_forbidden, exclude_service
        OSM access rules: the first tag present decides; forbidden values; excluded
        ``service=*`` values.
    exclude_classes
        Road classes never used (e.g. 高速公路 for walking), whatever the source.
    slope
        DEM slope model parameters (``model`` ``"linear"`` or ``"tobler"``).
    osmnx_network_type
        Network type used when downloading by place name.
    """

    name: str
    description: str
    mode: str
    default_speed_kmh: float
    access_speed_kmh: float
    respect_oneway: bool
    use_maxspeed: bool
    speeds_kmh: Mapping[str, float]
    expressway_kmh: float
    expressway_classes: frozenset[str]
    other_kmh: float
    bad_road_kmh: float
    bad_road_classes: frozenset[str]
    bad_weather_factor: float
    bad_weather_max_kmh: float
    access_tags: tuple[str, ...]
    access_forbidden: frozenset[str]
    exclude_service: frozenset[str]
    slope: Mapping[str, Any]
    exclude_classes: frozenset[str] = frozenset()
    osmnx_network_type: str = "drive"
    data: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def cap_kmh(self, road_class: str | None, *, bad_road: bool = False) -> float:
        """Legal cap for a road class, km/h (expressway, other, bad road)."""
        cap = self.expressway_kmh if road_class in self.expressway_classes else self.other_kmh
        if bad_road or road_class in self.bad_road_classes:
            cap = min(cap, self.bad_road_kmh)
        return cap


def available_profiles() -> list[str]:
    """Names of the built-in profiles."""
    folder = resources.files("schoolplan.profiles")
    return sorted(p.name[:-5] for p in folder.iterdir()
                  if p.name.endswith(".toml") and not p.name.startswith("_"))


@lru_cache(maxsize=16)
def _builtin(name: str) -> dict[str, Any]:
    folder = resources.files("schoolplan.profiles")
    f = folder.joinpath(f"{name}.toml")
    if name.startswith("_") or not f.is_file():
        raise ConfigError(f"unknown speed profile '{name}'",
                          fix=f"use one of {', '.join(available_profiles())} or the path of a TOML file")
    return tomllib.loads(f.read_text("utf-8"))


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def load_profile(profile: str | Path | Mapping[str, Any] | Profile = "school_bus") -> Profile:
    """Load a speed profile.

    Parameters
    ----------
    profile
        A built-in name (``"school_bus"``, ``"walk"``, ``"car"``), the path of a TOML
        file, a dict of overrides (merged onto ``dict["base"]``, default
        ``"school_bus"``; nested tables merge key by key), or a :class:`Profile`.

    Returns
    -------
    Profile

    Raises
    ------
    ConfigError
        Unknown name, unreadable file, unknown keys or non-positive speeds.
    """
    if isinstance(profile, Profile):
        return profile
    if isinstance(profile, Mapping):
        over = dict(profile)
        base_name = over.pop("base", "school_bus")
        base = load_profile(base_name).data
        data = _merge(base, over)
        src = f"overrides of '{base_name}'"
    else:
        text = str(profile)
        if text.endswith(".toml") or Path(text).is_file():
            p = Path(text)
            try:
                raw = tomllib.loads(p.read_text("utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"cannot read the speed profile: {exc}", file=str(p),
                                  fix="check the TOML syntax (see schoolplan/profiles/*.toml)") from None
            base_name = raw.pop("base", None)
            data = _merge(load_profile(base_name).data, raw) if base_name else raw
            src = str(p)
        else:
            data = _builtin(text)
            src = text
    return _from_dict(data, src)


def _from_dict(data: Mapping[str, Any], src: str) -> Profile:
    unknown = set(data) - _PROFILE_KEYS
    if unknown:
        raise ConfigError(f"unknown keys in speed profile {src}: {', '.join(sorted(unknown))}",
                          fix=f"allowed keys: {', '.join(sorted(_PROFILE_KEYS - {'base'}))}")
    try:
        speeds = {str(k): float(v) for k, v in data.get("speeds_kmh", {}).items()}
        caps = data.get("caps", {})
        weather = data.get("weather", {})
        access = data.get("access", {})
        prof = Profile(
            name=str(data.get("name", "custom")),
            description=str(data.get("description", "")),
            mode=str(data.get("mode", "drive")),
            default_speed_kmh=float(data.get("default_speed_kmh", 30.0)),
            access_speed_kmh=float(data.get("access_speed_kmh", 4.0)),
            respect_oneway=bool(data.get("respect_oneway", True)),
            use_maxspeed=bool(data.get("use_maxspeed", True)),
            speeds_kmh=speeds,
            expressway_kmh=float(caps.get("expressway_kmh", math.inf)),
            expressway_classes=frozenset(caps.get("expressway_classes", ())),
            other_kmh=float(caps.get("other_kmh", math.inf)),
            bad_road_kmh=float(caps.get("bad_road_kmh", math.inf)),
            bad_road_classes=frozenset(caps.get("bad_road_classes", ())),
            bad_weather_factor=float(weather.get("bad_weather_factor", 1.0)),
            bad_weather_max_kmh=float(weather.get("bad_weather_max_kmh", math.inf)),
            access_tags=tuple(access.get("tags", ("access",))),
            access_forbidden=frozenset(access.get("forbidden", ("no", "private"))),
            exclude_service=frozenset(access.get("exclude_service", ())),
            exclude_classes=frozenset(access.get("exclude_classes", ())),
            slope=dict(data.get("slope", {})),
            osmnx_network_type=str(data.get("osmnx_network_type", "drive")),
            data=dict(data),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid value in speed profile {src}: {exc}",
                          fix="speeds and caps are numbers in km/h") from None
    bad = [k for k, v in speeds.items() if not v > 0]
    for label, v in (("default_speed_kmh", prof.default_speed_kmh),
                     ("access_speed_kmh", prof.access_speed_kmh),
                     ("caps.other_kmh", prof.other_kmh), ("caps.expressway_kmh", prof.expressway_kmh),
                     ("caps.bad_road_kmh", prof.bad_road_kmh),
                     ("weather.bad_weather_factor", prof.bad_weather_factor),
                     ("weather.bad_weather_max_kmh", prof.bad_weather_max_kmh)):
        if not v > 0:
            bad.append(label)
    if bad:
        raise ConfigError(f"speeds must be positive in speed profile {src}: {', '.join(bad)}",
                          fix="give speeds in km/h greater than 0")
    return prof


# --------------------------------------------------------------------------- per-way rules
_YES = {"yes", "true", "1", "t", "y", "forward", "是", "单行", "单向"}
_REV = {"-1", "reverse", "backward"}
_NO = {"no", "false", "0", "f", "both", "n", "否", "双向", ""}


@dataclass(frozen=True)
class WayRule:
    """Outcome of the profile for one way / road-layer row.

    Attributes
    ----------
    allowed
        Whether the profile may use the way.
    road_class
        Canonical class.
    speed_kmh
        Speed after all caps, km/h (before any DEM slope factor).
    forward, backward
        Whether travel is allowed in / against the digitised direction.
    bad_road
        Whether the bad-road cap applied (急弯陡坡窄路 or class rule).
    unknown_class
        True when the class was not in the profile and the default speed was used.
    """

    allowed: bool
    road_class: str | None
    speed_kmh: float
    forward: bool
    backward: bool
    bad_road: bool
    unknown_class: bool = False
    cap_kmh: float = math.inf


_EXCLUDED = WayRule(False, None, math.nan, False, False, False)


def _truthy(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return not math.isnan(v) and v != 0
    return str(v).strip().lower() in {"1", "true", "t", "yes", "y", "是", "有", "√"}


def _oneway(tags: Mapping[str, Any], road_class: str | None) -> tuple[bool, bool]:
    raw = tags.get("oneway")
    if isinstance(raw, bool):
        return (True, not raw)
    if isinstance(raw, int | float) and not (isinstance(raw, float) and math.isnan(raw)):
        if raw == -1:
            return (False, True)
        return (True, raw == 0)
    text = "" if raw is None else str(raw).strip().lower()
    if text in _YES:
        return (True, False)
    if text in _REV:
        return (False, True)
    if text in _NO and raw is not None:
        return (True, True)
    junction = str(tags.get("junction", "")).lower()
    if junction in {"roundabout", "circular"}:
        return (True, False)
    if road_class in {"motorway"} and raw is None:  # OSM: motorway implies oneway=yes
        return (True, False)
    return (True, True)


def evaluate_way(
    profile: Profile,
    tags: Mapping[str, Any],
    *,
    unknown_class: str = "exclude",
    bad_weather: bool | float = False,
) -> WayRule:
    """Apply a profile to one way's tags.

    Parameters
    ----------
    profile
        The speed profile.
    tags
        OSM-style tags: ``highway`` (or a Chinese class), ``maxspeed``, ``oneway``,
        ``junction``, access tags, ``service``, ``area``, and the road-layer fields
        ``speed_kmh`` (explicit speed, overrides the class speed) and ``bad_road``.
    unknown_class
        ``"exclude"`` (OSM: a ``highway`` value the profile does not list is not a road
        for it) or ``"default"`` (road layers: use ``default_speed_kmh``).
    bad_weather
        False; True (speed × ``bad_weather_factor``, capped at ``bad_weather_max_kmh``);
        or a factor in (0, 1] used instead of the profile's.

    Returns
    -------
    WayRule
    """
    cls = normalize_road_class(tags.get("highway"))
    base, unknown = _base_speed(profile, cls, tags, unknown_class)
    if base is None or _forbidden(profile, cls, tags):
        return _EXCLUDED
    speed = base
    if profile.use_maxspeed:
        ms = parse_maxspeed(tags.get("maxspeed"))
        if ms == ms:  # not NaN
            speed = min(speed, ms)
    bad = _truthy(tags.get("bad_road")) or cls in profile.bad_road_classes
    cap = profile.cap_kmh(cls, bad_road=bad)
    speed = min(speed, cap)
    if bad_weather is not False and bad_weather is not None:
        factor = profile.bad_weather_factor if bad_weather is True else float(bad_weather)
        speed = min(speed * factor, profile.bad_weather_max_kmh)
        cap = min(cap, profile.bad_weather_max_kmh)
    fwd, bwd = _oneway(tags, cls) if profile.respect_oneway else (True, True)
    return WayRule(True, cls, float(speed), fwd, bwd, bad, unknown, float(cap))


def _base_speed(profile: Profile, cls: str | None, tags: Mapping[str, Any],
                unknown_class: str) -> tuple[float | None, bool]:
    """Speed before limits and caps (None: not a road for the profile), and whether the
    class was unknown (default speed used)."""
    speed_kmh = tags.get("speed_kmh")
    explicit = float(speed_kmh) if speed_kmh is not None and _isnum(speed_kmh) and float(speed_kmh) > 0 else None
    if cls in profile.exclude_classes:
        return None, False
    if cls is not None and cls in profile.speeds_kmh:
        return (explicit if explicit is not None else profile.speeds_kmh[cls]), False
    # OSM: a highway value the profile does not list is not a road for it
    if unknown_class == "exclude" and (cls is not None or explicit is None):
        return None, False
    return (explicit if explicit is not None else profile.default_speed_kmh), explicit is None


def _forbidden(profile: Profile, cls: str | None, tags: Mapping[str, Any]) -> bool:
    """Areas, forbidden access values (the first access tag present decides), excluded services."""
    if _truthy(tags.get("area")):
        return True
    for tag in profile.access_tags:
        val = tags.get(tag)
        if val is not None and str(val).strip():
            if str(val).strip().lower() in profile.access_forbidden:
                return True
            break
    return cls == "service" and str(tags.get("service", "")).lower() in profile.exclude_service


def _isnum(v: Any) -> bool:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return False
    return math.isfinite(f)


# --------------------------------------------------------------------------- many ways at once
@dataclass(frozen=True, eq=False)
class WayRules:
    """:class:`WayRule` for many ways at once: one array entry per way.

    Attributes
    ----------
    allowed, road_class, speed_kmh, forward, backward, bad_road, unknown_class
        As in :class:`WayRule` (``road_class`` is an object array, None when absent).
    """

    allowed: NDArray[np.bool_]
    road_class: NDArray[np.object_]
    speed_kmh: NDArray[np.float64]
    forward: NDArray[np.bool_]
    backward: NDArray[np.bool_]
    bad_road: NDArray[np.bool_]
    unknown_class: NDArray[np.bool_]

    def unknown_classes(self) -> list[str]:
        """Sorted classes that got the profile's default speed (allowed ways only)."""
        hit = self.allowed & self.unknown_class
        return sorted({str(c) for c in self.road_class[hit] if c})


def _hashable(v: Any) -> Any:
    if isinstance(v, list | tuple):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((str(k), _hashable(x)) for k, x in v.items()))
    return v


def _tag_key(tags: Mapping[str, Any]) -> tuple[Any, ...]:
    """A key equal for two tag dicts exactly when they hold the same values of the same types."""
    return tuple(sorted((k, type(v).__name__, _hashable(v)) for k, v in tags.items()))


def _group_dicts(tags: Sequence[Mapping[str, Any]]) -> tuple[NDArray[np.int64], list[Mapping[str, Any]]]:
    index: dict[tuple[Any, ...], int] = {}
    reps: list[Mapping[str, Any]] = []
    group = np.empty(len(tags), dtype=np.int64)
    for i, t in enumerate(tags):
        k = _tag_key(t)
        g = index.get(k)
        if g is None:
            g = index[k] = len(reps)
            reps.append(t)
        group[i] = g
    return group, reps


def _absent(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT


def _factorize_column(values: Any, n: int, name: str) -> tuple[NDArray[np.int64], NDArray[Any]]:
    """Codes (−1 = absent) and the first row of each code, for one tag column."""
    v = np.asarray(values) if not isinstance(values, pd.Series) else values.to_numpy()
    if v.shape != (n,):
        raise ConfigError(f"tag column '{name}' has {v.size} values for {n} ways",
                          fix="give one value per way (or None)")
    one_type = v.dtype != object or pd.api.types.infer_dtype(v, skipna=True) in {
        "string", "integer", "floating", "boolean", "empty"}
    if one_type:  # pandas factorizes at C speed (None / NaN = absent)
        codes, _ = pd.factorize(v, use_na_sentinel=True)
        return codes.astype(np.int64), v
    index: dict[tuple[str, Any], int] = {}
    codes = np.full(n, -1, dtype=np.int64)
    for i, x in enumerate(v.tolist()):
        if not _absent(x):
            codes[i] = index.setdefault((type(x).__name__, _hashable(x)), len(index))
    return codes, v


def _group_columns(columns: Mapping[str, Any], n: int) -> tuple[NDArray[np.int64], list[Mapping[str, Any]]]:
    names = list(columns)
    if not names:
        return np.zeros(n, dtype=np.int64), [{}]
    coded = [_factorize_column(columns[c], n, c) for c in names]
    group = np.zeros(n, dtype=np.int64)
    for codes, _ in coded:  # combine column by column, renumbering (codes stay < n: no overflow)
        group = pd.factorize(group * (int(codes.max(initial=-1)) + 2) + codes + 1)[0].astype(np.int64)
    # factorize numbers groups in order of first appearance: a group starts where the running max grows
    running = np.maximum.accumulate(group) if n else group
    first = np.flatnonzero(np.r_[True, running[1:] > running[:-1]]) if n else np.empty(0, dtype=np.int64)
    reps: list[Mapping[str, Any]] = []
    for i in first.tolist():
        rep = {}
        for c, (codes, vals) in zip(names, coded, strict=True):
            x = vals[i]
            if codes[i] >= 0 and not _absent(x):
                rep[c] = x.item() if isinstance(x, np.generic) else x
        reps.append(rep)
    return group.astype(np.int64), reps


def evaluate_ways(
    profile: Profile,
    tags: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    *,
    n: int | None = None,
    unknown_class: str = "exclude",
    bad_weather: bool | float = False,
) -> WayRules:
    """Apply a profile to many ways: :func:`evaluate_way` once per distinct set of tags.

    Road networks repeat a few tag combinations (class, limit, one-way) over many
    ways, so the rules run once per combination and are broadcast back — the same
    result as calling :func:`evaluate_way` on every way, at array speed.

    Parameters
    ----------
    profile
        The speed profile.
    tags
        A sequence of tag dicts (one per way), or a mapping of tag name → array of
        values (one per way; None/NaN = tag absent).
    n
        Number of ways when ``tags`` is a mapping with no columns.
    unknown_class, bad_weather
        As in :func:`evaluate_way`.

    Returns
    -------
    WayRules
    """
    if isinstance(tags, Mapping):
        size = n if n is not None else (len(next(iter(tags.values()))) if tags else 0)
        group, reps = _group_columns(tags, size)
    else:
        group, reps = _group_dicts(tags)
    rules = [evaluate_way(profile, t, unknown_class=unknown_class, bad_weather=bad_weather) for t in reps]

    def col(attr: str, dtype: Any) -> NDArray[Any]:
        return np.array([getattr(r, attr) for r in rules], dtype=dtype)[group] if rules else np.empty(0, dtype)

    return WayRules(allowed=col("allowed", bool), road_class=col("road_class", object),
                    speed_kmh=col("speed_kmh", np.float64), forward=col("forward", bool),
                    backward=col("backward", bool), bad_road=col("bad_road", bool),
                    unknown_class=col("unknown_class", bool))
