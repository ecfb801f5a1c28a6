"""Built-in planning norms as data (TOML), with overrides.

``load_standards()`` returns the national defaults in ``cn_national.toml``;
``load_standards("path/to/henan.toml")`` or ``load_standards(overrides={...})``
deep-merges a local variant on top. Every number in the TOML cites its source.
"""

from __future__ import annotations

import copy
import fnmatch
import math
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from schoolplan.errors import ConfigError

__all__ = ["PRESETS", "RANGES", "check_standards", "deep_merge", "load_standards"]

#: Allowed range of each norm: key pattern → (lowest, highest, lowest excluded, whole numbers only).
#: Keys not listed must be finite numbers ≥ 0. The first matching pattern applies.
RANGES: tuple[tuple[str, tuple[float, float, bool, bool]], ...] = (
    ("class_size.*", (0, 100, True, False)),                    # pupils per class: a class of 0 is no class
    ("max_school_size.*", (0, 30_000, True, False)),
    ("school_classes.*", (0, 200, True, True)),
    ("teacher_ratio.*", (0, 100, True, False)),                  # pupils per teacher
    ("service_radius_m.*", (0, 50_000, True, False)),
    ("service_radius_presets.*.*", (0, 50_000, True, False)),
    ("land_per_pupil_m2.*", (0, 1000, False, False)),
    ("building_per_pupil_m2.*", (0, 1000, False, False)),
    ("kindergarten_targets.*", (0, 1, False, False)),            # shares
    ("consolidation.bus_minutes", (0, 180, True, False)),
    ("consolidation.day_pupil_max_minutes", (0, 180, True, False)),
    ("consolidation.*_grades*", (1, 12, False, True)),
    ("consolidation.bus_seats", (0, 100, True, True)),
    ("consolidation.bus_trips_morning", (0, 10, True, True)),
    ("consolidation.*", (0, 100_000, False, False)),
    ("school_bus.*", (0, 150, True, False)),                     # km/h
    ("housing_yield.persons_per_dwelling", (0, 10, True, False)),
    ("housing_yield.per_1000_residents.*", (0, 1000, False, False)),
    ("balance.cv_exclude_below_pupils", (0, 10_000, False, True)),
    ("balance.cv_*", (0, 1, True, False)),
    ("balance.school_min_indicators_met", (0, 7, False, True)),
    ("balance.school_min_share_of_threshold", (0, 1, False, False)),
    ("balance.junior_retention_min", (0, 1, False, False)),
    ("enrolment_tracking.tolerance_share", (0, 1, False, False)),
    ("dropout_risk.ride_increase_minutes", (0, 180, True, False)),
    ("costs.*", (0, 1e7, False, False)),                         # 万元
    ("plausibility.*", (0, 1e6, True, False)),
)

#: Built-in presets (file stems in this package).
PRESETS: tuple[str, ...] = ("cn_national",)


@cache
def _builtin(name: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath(f"{name}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any], *, path: str = "") -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``; unknown keys are errors.

    Parameters
    ----------
    base
        The defaults.
    override
        Values to replace; nested tables merge key by key.
    path
        Key prefix used in error messages.

    Returns
    -------
    dict
        A new mapping; neither input is modified.

    Raises
    ------
    ConfigError
        When ``override`` names a key that ``base`` does not have, or replaces a
        table by a scalar.
    """
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        where = f"{path}{key}"
        if key not in out:
            raise ConfigError(
                f"unknown standards key '{where}'",
                fix=f"use one of: {', '.join(sorted(out))}",
            )
        if isinstance(out[key], dict):
            if not isinstance(value, Mapping):
                raise ConfigError(f"standards key '{where}' must be a table", fix="give a table of values")
            # presets and threshold tables may gain new entries
            if key in {"service_radius_presets", "costs"}:
                merged = copy.deepcopy(out[key])
                merged.update(copy.deepcopy(dict(value)))
                out[key] = merged
            else:
                out[key] = deep_merge(out[key], value, path=f"{where}.")
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_standards(
    source: str | Path | None = None, *, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Load planning norms.

    Parameters
    ----------
    source
        ``None`` or a preset name (``"cn_national"``) for built-in norms, or a
        path to a TOML file whose keys override the national defaults.
    overrides
        Extra overrides applied last (e.g. from a scenario file).

    Returns
    -------
    dict
        Nested mapping of norms (see ``cn_national.toml`` for keys and units).

    Raises
    ------
    ConfigError
        Unknown preset, unreadable file or unknown keys.
    """
    base = copy.deepcopy(_builtin("cn_national"))
    if source is not None and str(source) not in PRESETS:
        path = Path(source)
        if not path.exists():
            raise ConfigError(
                f"standards preset '{source}' does not exist",
                fix=f"use one of {', '.join(PRESETS)} or the path of a TOML file",
            )
        try:
            local = tomllib.loads(path.read_text(encoding="utf-8-sig"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read standards file: {exc}", file=str(path),
                              fix="check the TOML syntax and save as UTF-8") from None
        local.pop("meta", None)
        base = deep_merge(base, local)
    if overrides:
        base = deep_merge(base, overrides)
    check_standards(base, file=None if source is None or str(source) in PRESETS else str(source))
    return base


def _leaves(d: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out += _leaves(v, f"{key}.")
        else:
            out.append((key, v))
    return out


def check_standards(std: Mapping[str, Any], *, file: str | None = None) -> None:
    """Check every norm: the type of the national default, finite, and within :data:`RANGES`.

    Parameters
    ----------
    std
        Merged norms (as returned by :func:`load_standards`).
    file
        The local standards file, for messages.

    Raises
    ------
    ConfigError
        Naming the key, the value and the allowed range (e.g. ``class_size.primary = 0``:
        a class size must be > 0).
    """
    defaults = dict(_leaves(_builtin("cn_national")))
    for key, value in _leaves({k: v for k, v in std.items() if k != "meta"}):
        want = defaults.get(key)
        values = value if isinstance(value, list) else [value]
        if isinstance(want, list) != isinstance(value, list) and key in defaults:
            raise ConfigError(f"standards value {key} must be {'a list' if isinstance(want, list) else 'a number'}, "
                              f"got {value!r}", file=file, column=key, fix=f"write it like the default: {want!r}")
        if isinstance(want, str):
            continue
        if isinstance(want, bool):  # a switch (e.g. consolidation.junior_to_county_seat)
            if not isinstance(value, bool):
                raise ConfigError(f"standards value {key} must be true or false, got {value!r}", file=file,
                                  column=key, fix=f"write true or false (the national default is {str(want).lower()})")
            continue
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ConfigError(f"standards value {key} must be a number, got {v!r}", file=file, column=key,
                                  fix=f"write a plain number (the national default is {want!r})")
            if not math.isfinite(v):
                raise ConfigError(f"standards value {key} must be a finite number, got {v!r}", file=file,
                                  column=key, fix=f"write a number (the national default is {want!r})")
            lo, hi, strict, whole = next((r for pat, r in RANGES if fnmatch.fnmatchcase(key, pat)),
                                         (0.0, math.inf, False, False))
            if (v <= lo if strict else v < lo) or v > hi or (whole and float(v) != int(v)):
                rng = f"{'>' if strict else '≥'} {lo:g}" + (f" and ≤ {hi:g}" if math.isfinite(hi) else "")
                raise ConfigError(f"standards value {key} = {v!r} is out of range: it must be {rng}"
                                  + (" (whole numbers)" if whole else ""), file=file, column=key,
                                  fix=f"correct it (the national default is {want!r})" if want is not None else
                                  "correct it")
