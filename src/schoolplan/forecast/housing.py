"""Extra pupils from planned housing (新建住宅配套学位), ramping in as residents move in.

Yields per 1,000 residents (千人指标) and residents per dwelling are planning norms read
from the standards data (``[housing_yield]`` in ``schoolplan/standards/cn_national.toml``);
replace them with the local rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np
import pandas as pd

from schoolplan.errors import ConfigError, SchemaError
from schoolplan.forecast._inputs import (
    DEFAULT_ENTRY_AGES,
    DEFAULT_LEVEL_GRADES,
    DEMAND_KEY,
    LEVELS,
    QUANTILES,
    Grade,
    add_rows,
    demand_frame,
    nonneg,
    require_frame,
    whole_years,
)
from schoolplan.standards import load_standards

__all__ = ["DEFAULT_PERSONS_PER_DWELLING", "DEFAULT_PUPILS_PER_1000", "add_extra_pupils", "housing_yield"]

_HOUSING = load_standards()["housing_yield"]

#: Pupils per 1,000 residents of new housing at maturity (千人指标), from ``[housing_yield]
#: per_1000_residents`` of the national standards data (planning assumptions; replace locally).
DEFAULT_PUPILS_PER_1000: Mapping[str, float] = MappingProxyType(
    {lv: float(v) for lv, v in _HOUSING["per_1000_residents"].items()}
)

#: Residents per occupied dwelling, from ``[housing_yield] persons_per_dwelling`` (planning assumption).
DEFAULT_PERSONS_PER_DWELLING = float(_HOUSING["persons_per_dwelling"])


def housing_yield(
    developments: pd.DataFrame,
    *,
    pupils_per_1000_residents: Mapping[str, float] | None = None,
    pupils_per_dwelling: Mapping[str, float] | None = None,
    persons_per_dwelling: float = DEFAULT_PERSONS_PER_DWELLING,
    occupancy: Sequence[float] = (0.5, 0.8, 1.0),
    present_at_move_in: float = 0.5,
    until_year: int | None = None,
    entry_ages: Mapping[str, int] | None = None,
    level_grades: Mapping[str, Sequence[Grade]] | None = None,
) -> pd.DataFrame:
    """Extra pupils from planned housing, ramping in as residents move in and children age.

    Steady-state yield per level is ``Y_L`` pupils per 1,000 residents (千人指标, default
    :data:`DEFAULT_PUPILS_PER_1000`) or per dwelling, spread evenly over the level's
    grades. Dwellings completed in year y are occupied cumulatively by ``occupancy[k]``
    of them k years later (default 50 %, 80 %, 100 %). Households moving in bring a share
    ``s = present_at_move_in`` of the steady-state children of every age; the rest
    arrive young or are born later and reach a grade whose age is ``a`` after ``a``
    years, so the yield of that grade k years after move-in is
    ``Y_L / n_L · (s + (1 − s) · min(1, k / a))`` — kindergarten demand matures within
    3–5 years, junior demand over 12–14 years. A stylised ramp; replace the parameters
    with local survey values.

    Parameters
    ----------
    developments
        Columns ``zone``, ``year`` (completion year, 交付), and ``dwellings`` (套) or
        ``residents`` (persons).
    pupils_per_1000_residents
        ``{level: pupils per 1,000 residents}``; default used if neither yield is given.
    pupils_per_dwelling
        ``{level: pupils per occupied dwelling}``, instead of the above.
    persons_per_dwelling
        Converts dwellings ↔ residents (default 2.8, planning assumption).
    occupancy
        Cumulative occupied share in years 0, 1, 2, … after completion; non-decreasing
        in [0, 1]; the last value holds afterwards.
    present_at_move_in
        Share s (0–1) of steady-state children present when a household moves in.
    until_year
        Last year of output (default: last completion year + 15).
    entry_ages, level_grades
        As in :func:`seat_demand`.

    Returns
    -------
    DataFrame
        ``zone, level, grade, year, pupils`` (extra pupils, ≥ 0), one row per zone,
        level, grade and year from the first completion year to ``until_year``.
    """
    df = require_frame(developments, "developments", ("zone", "year"))
    if "dwellings" not in df.columns and "residents" not in df.columns:
        raise SchemaError("developments needs a 'dwellings' or a 'residents' column",
                          column="dwellings", fix="add dwellings (套) or residents (persons) per row")
    years = whole_years(df, "developments")
    if "residents" in df.columns:
        residents = nonneg(df, "developments", "residents")
    else:
        residents = nonneg(df, "developments", "dwellings") * float(persons_per_dwelling)
    if not persons_per_dwelling > 0:
        raise ConfigError("persons_per_dwelling must be > 0", fix="e.g. 2.8")
    if pupils_per_1000_residents is not None and pupils_per_dwelling is not None:
        raise ConfigError("give pupils_per_1000_residents or pupils_per_dwelling, not both",
                          fix="drop one of them")
    if pupils_per_dwelling is not None:
        per_resident = {k: float(v) / float(persons_per_dwelling) for k, v in pupils_per_dwelling.items()}
    else:
        per_resident = {k: float(v) / 1000.0 for k, v in
                        (pupils_per_1000_residents or DEFAULT_PUPILS_PER_1000).items()}
    bad = [k for k in per_resident if k not in LEVELS]
    if bad:
        raise ConfigError(f"unknown level(s) {bad} in the yield", fix=f"use {', '.join(LEVELS)}")
    if any(v < 0 for v in per_resident.values()):
        raise ConfigError("yields must be ≥ 0", fix="give pupils per 1,000 residents such as 70")
    occ = np.asarray(list(occupancy), dtype=float)
    if occ.size == 0 or np.any(np.diff(occ) < 0) or occ.min() < 0 or occ.max() > 1:
        raise ConfigError(f"occupancy must be non-decreasing shares in [0, 1], got {list(occupancy)}",
                          fix="e.g. (0.5, 0.8, 1.0)")
    s = float(present_at_move_in)
    if not 0.0 <= s <= 1.0:
        raise ConfigError("present_at_move_in must lie in [0, 1]", fix="e.g. 0.5")
    ages = {**DEFAULT_ENTRY_AGES, **(entry_ages or {})}
    grades_of = {k: list(v) for k, v in {**DEFAULT_LEVEL_GRADES, **(level_grades or {})}.items()}
    last = int(years.max()) + 15 if until_year is None else int(until_year)
    out_years = np.arange(int(years.min()), last + 1)
    arrivals = np.diff(np.concatenate([[0.0], occ]))  # share moving in k years after completion
    zones = sorted(dict.fromkeys(df["zone"].tolist()), key=str)
    zpos = {z: i for i, z in enumerate(zones)}
    # residents arriving per zone and year
    moved_in = np.zeros((len(zones), len(out_years)))
    for z, y, r in zip(df["zone"].tolist(), years, residents, strict=True):
        for k, a in enumerate(arrivals):
            t = y + k - out_years[0]
            if 0 <= t < len(out_years):
                moved_in[zpos[z], t] += r * a
    frames: list[pd.DataFrame] = []
    since = out_years[:, None] - out_years[None, :]  # years since move-in (row: year, col: move-in)
    for lv in LEVELS:
        if lv not in per_resident:
            continue
        gl = grades_of[lv]
        per_grade = per_resident[lv] / len(gl)
        for i, g in enumerate(gl):
            age = ages[lv] + i
            ramp = s + (1.0 - s) * np.clip(since / max(age, 1), 0.0, 1.0)
            ramp = np.where(since >= 0, ramp, 0.0)  # (year, move-in year)
            pupils = moved_in @ ramp.T * per_grade  # (zone, year)
            frames.append(pd.DataFrame({
                "zone": np.repeat(np.array(zones, dtype=object), len(out_years)),
                "level": lv, "grade": g, "year": np.tile(out_years, len(zones)),
                "pupils": pupils.reshape(-1),
            }))
    if not frames:
        return pd.DataFrame(columns=["zone", "level", "grade", "year", "pupils"])
    return pd.concat(frames, ignore_index=True)


def add_extra_pupils(demand: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    """Add deterministic extra pupils (e.g. :func:`housing_yield`) to p10/p50/p90.

    Parameters
    ----------
    demand
        ``zone, level, grade, year, p10, p50, p90``.
    extra
        ``zone, level, grade, year, pupils``; only years present in ``demand`` are used;
        combinations missing from ``demand`` (e.g. a new district) are added.

    Returns
    -------
    DataFrame
        Same columns as ``demand``.
    """
    df = demand_frame(demand)
    ex = require_frame(extra, "extra", ("zone", "level", "grade", "year", "pupils"))
    nonneg(ex, "extra", "pupils", what="pupils")
    ex = ex[ex["year"].isin(set(df["year"]))]
    add = ex.groupby(DEMAND_KEY, as_index=False, sort=False)["pupils"].sum()
    add = add.assign(**{q: add["pupils"].to_numpy(float) for q in QUANTILES}).drop(columns="pupils")
    return add_rows(df, add, DEMAND_KEY)
