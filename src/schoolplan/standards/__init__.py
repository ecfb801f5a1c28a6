"""Built-in planning norms as data (TOML), with overrides.

``load_standards()`` returns the national defaults in ``cn_national.toml``;
``load_standards("path/to/henan.toml")`` or ``load_standards(overrides={...})``
deep-merges a local variant on top. Every number in the TOML cites its source.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from schoolplan.errors import ConfigError

__all__ = ["PRESETS", "deep_merge", "load_standards"]

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
            local = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read standards file: {exc}", file=str(path),
                              fix="check the TOML syntax and save as UTF-8") from None
        local.pop("meta", None)
        base = deep_merge(base, local)
    if overrides:
        base = deep_merge(base, overrides)
    return base
