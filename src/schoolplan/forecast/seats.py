"""Seats and classes (学位与班级): demand against class-size norms and capacity.

Class sizes are norms read from the standards data (``[class_size]`` of
``schoolplan/standards/cn_national.toml``: primary 45 and junior 50 pupils per class,
建标102-2002 / GB 50099-2011 §3.0.1; kindergarten 小班 25 / 中班 30 / 大班 35,
幼儿园工作规程 2016). Pass ``standards=load_standards(...)`` for a local variant or
``class_sizes={...}`` to override single values.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from schoolplan.errors import ConfigError, NonUniqueIdError, SchemaError
from schoolplan.forecast._inputs import (
    LEVELS,
    QUANTILES,
    Diagnostics,
    Grade,
    demand_frame,
    fmt,
    grade_key,
    nonneg,
    require_frame,
)
from schoolplan.standards import load_standards

__all__ = ["DEFAULT_CLASS_SIZES", "class_size_table", "classes_needed", "seat_balance"]

_KG_KEYS = {"kindergarten_small": 1, "kindergarten_middle": 2, "kindergarten_large": 3}


def _from_standards(table: Mapping[str, Any]) -> dict[str, Any]:
    """``{level: size or {grade: size}}`` from a flat ``[class_size]`` standards table."""
    out: dict[str, Any] = {lv: table[lv] for lv in LEVELS if lv in table}
    kg = {g: table[k] for k, g in _KG_KEYS.items() if k in table}
    if kg:
        out["kindergarten"] = kg
    return out


#: Pupils per class by level (kindergarten by grade 1/2/3 = 小班/中班/大班), from ``[class_size]``
#: of the national standards data.
DEFAULT_CLASS_SIZES: Mapping[str, int | Mapping[int, int]] = MappingProxyType({
    lv: (MappingProxyType(dict(v)) if isinstance(v, Mapping) else v)
    for lv, v in _from_standards(load_standards()["class_size"]).items()
})


def class_size_table(class_sizes: Mapping[str, Any] | None = None, *,
                     standards: Mapping[str, Any] | None = None) -> dict[str, dict[Hashable, int] | int]:
    """Class sizes per level: the standards' ``[class_size]`` with overrides merged on top.

    Parameters
    ----------
    class_sizes
        ``{level: size}`` or ``{level: {grade: size}}``; also accepts the flat
        ``[class_size]`` table of ``schoolplan.standards`` (``primary``, ``junior``,
        ``kindergarten_small`` / ``_middle`` / ``_large`` for grades 1/2/3); other keys
        are ignored.
    standards
        Loaded standards (:func:`schoolplan.standards.load_standards`) whose
        ``[class_size]`` replaces the national defaults.

    Returns
    -------
    dict
        ``{level: size or {grade key: size}}``.
    """
    base = DEFAULT_CLASS_SIZES if standards is None else _from_standards(standards["class_size"])
    table: dict[str, Any] = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in base.items()}
    for key, value in (class_sizes or {}).items():
        if key in _KG_KEYS:
            current = table.get("kindergarten", {})
            if not isinstance(current, dict):
                current = dict.fromkeys((1, 2, 3), current)
            current[_KG_KEYS[key]] = value
            table["kindergarten"] = current
        elif key in LEVELS:
            table[key] = ({grade_key(g): v for g, v in value.items()} if isinstance(value, Mapping) else value)
    for lv, v in table.items():
        sizes = v.values() if isinstance(v, dict) else [v]
        if any(not isinstance(x, int | float) or isinstance(x, bool) or x <= 0 for x in sizes):
            raise ConfigError(f"class size for {lv} must be positive numbers, got {v!r}",
                              fix="e.g. {'primary': 45}")
    return table


def _size_of(table: Mapping[str, Any], level: str, grade: Grade | None) -> float:
    v = table.get(level)
    if v is None:
        raise ConfigError(f"no class size for level {level!r}", fix="pass class_sizes={level: size}")
    if isinstance(v, Mapping):
        key = None if grade is None else grade_key(grade)
        if key not in v:
            return float(np.mean(list(v.values())))
        return float(v[key])
    return float(v)


def classes_needed(demand: pd.DataFrame, *, class_sizes: Mapping[str, Any] | None = None,
                   standards: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Classes (班) needed per zone, level, grade and year: ⌈pupils / class size⌉.

    Parameters
    ----------
    demand
        ``zone, level, grade, year, p10, p50, p90``.
    class_sizes, standards
        See :func:`class_size_table`.

    Returns
    -------
    DataFrame
        ``demand`` plus ``class_size`` and ``classes_p10``, ``classes_p50``,
        ``classes_p90`` (integers). Rounding per grade and zone assumes one school per
        zone and level; several schools need at least as many classes.
    """
    df = demand_frame(demand)
    table = class_size_table(class_sizes, standards=standards)
    size = np.array([_size_of(table, lv, g) for lv, g in zip(df["level"], df["grade"], strict=True)])
    out = df.copy()
    out["class_size"] = size
    for q in QUANTILES:
        out[f"classes_{q}"] = np.ceil(np.round(df[q].to_numpy(float) / size, 9)).astype(np.int64)
    return out


def seat_balance(demand: pd.DataFrame, capacity: pd.DataFrame, *,
                 class_sizes: Mapping[str, Any] | None = None,
                 standards: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Seats short or surplus per zone, level and year against current capacity.

    Parameters
    ----------
    demand
        ``zone, level, grade, year, p10, p50, p90``.
    capacity
        ``zone, level`` and ``seats`` (学位) or ``classes`` (converted with the level's
        class size; kindergarten: mean of 小/中/大班 sizes).
    class_sizes, standards
        See :func:`class_size_table`.

    Returns
    -------
    DataFrame
        ``zone, level, year, pupils_p10, pupils_p50, pupils_p90, seats, balance_p50,
        shortfall_p50, shortfall_p90, surplus_p50, classes_p50, classes_short_p50``:
        balance = seats − pupils (negative = short), shortfall = max(0, pupils − seats),
        surplus = max(0, seats − pupils), classes from :func:`classes_needed` summed over
        grades, ``classes_short_p50`` = ⌈shortfall_p50 / class size⌉.
        Zone-levels missing from ``capacity`` get 0 seats and a DataWarning.
    """
    df = classes_needed(demand, class_sizes=class_sizes, standards=standards)
    cap = require_frame(capacity, "capacity", ("zone", "level"))
    table = class_size_table(class_sizes, standards=standards)
    if "seats" in cap.columns:
        seats = nonneg(cap, "capacity", "seats", what="seats")
    elif "classes" in cap.columns:
        n = nonneg(cap, "capacity", "classes", what="classes")
        per = np.array([_size_of(table, lv, None) for lv in cap["level"]])
        seats = n * per
    else:
        raise SchemaError("capacity needs a 'seats' or a 'classes' column", column="seats",
                          fix="add seats (学位) per zone and level")
    cap = pd.DataFrame({"zone": cap["zone"].to_numpy(), "level": cap["level"].to_numpy(), "seats": seats})
    dup = cap.duplicated(["zone", "level"], keep=False).to_numpy()
    if dup.any():
        raise NonUniqueIdError("capacity: more than one row per zone and level",
                               rows=list(capacity.index[dup]), fix="sum seats per zone and level first")
    agg = df.groupby(["zone", "level", "year"], as_index=False, sort=True).agg(
        pupils_p10=("p10", "sum"), pupils_p50=("p50", "sum"), pupils_p90=("p90", "sum"),
        classes_p50=("classes_p50", "sum"))
    out = agg.merge(cap, on=["zone", "level"], how="left")
    miss = out["seats"].isna()
    if miss.any():
        pairs = sorted({f"{z}/{lv}" for z, lv in zip(out["zone"][miss], out["level"][miss], strict=True)})
        notes = Diagnostics()
        notes.add("no_capacity", f"capacity: no seats given for {fmt(pairs)}; counted as 0")
        notes.warn()
        out["seats"] = out["seats"].fillna(0.0)
    out["balance_p50"] = out["seats"] - out["pupils_p50"]
    out["shortfall_p50"] = np.maximum(out["pupils_p50"] - out["seats"], 0.0)
    out["shortfall_p90"] = np.maximum(out["pupils_p90"] - out["seats"], 0.0)
    out["surplus_p50"] = np.maximum(out["seats"] - out["pupils_p50"], 0.0)
    per = np.array([_size_of(table, lv, None) for lv in out["level"]])
    out["classes_short_p50"] = np.ceil(np.round(out["shortfall_p50"].to_numpy(float) / per, 9)).astype(np.int64)
    cols = ["zone", "level", "year", "pupils_p10", "pupils_p50", "pupils_p90", "seats", "balance_p50",
            "shortfall_p50", "shortfall_p90", "surplus_p50", "classes_p50", "classes_short_p50"]
    return out[cols]
