"""Moving forecast pupils between zones: 进城读书 and 两集中 (totals kept).

Both functions take a :func:`schoolplan.forecast.seat_demand` frame and move a share
of each source row's p10, p50 and p90 to a receiving zone in the same level, grade and
year, so that per (level, grade, year) the sums of p10, p50 and p90 are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping

import numpy as np
import pandas as pd

from schoolplan.errors import ConfigError
from schoolplan.forecast._inputs import (
    DEMAND_KEY,
    LEVELS,
    QUANTILES,
    add_rows,
    check_int,
    demand_frame,
    fmt,
)

__all__ = ["concentrate", "urbanisation_shift"]


def _reallocate(demand: pd.DataFrame, share: Callable[[pd.DataFrame], np.ndarray],
                destination: Mapping[Hashable, Hashable]) -> pd.DataFrame:
    """Move ``share(rows)`` of each source row's p10/p50/p90 to ``destination[zone]``."""
    out = demand.copy()
    src = out["zone"].isin(list(destination)).to_numpy()
    if not src.any():
        return out
    frac = np.zeros(len(out))
    frac[src] = np.clip(share(out[src]), 0.0, 1.0)
    moved = out.loc[src, ["level", "grade", "year", *QUANTILES]].copy()
    moved["zone"] = out.loc[src, "zone"].map(destination).to_numpy()
    for q in QUANTILES:
        moved[q] = out.loc[src, q].to_numpy(float) * frac[src]
        out[q] = out[q].to_numpy(float) * (1.0 - frac)
    add = moved.groupby(DEMAND_KEY, sort=False, as_index=False)[list(QUANTILES)].sum()
    return add_rows(out, add, DEMAND_KEY)


def _zones_check(demand: pd.DataFrame, zones: Iterable[Hashable], what: str) -> None:
    known = set(demand["zone"])
    unknown = [z for z in zones if z not in known]
    if unknown:
        raise ConfigError(f"{what}: zone(s) {fmt(unknown)} not in demand",
                          fix=f"use zones from: {fmt(sorted(known, key=str), 12)}")


def urbanisation_shift(
    demand: pd.DataFrame,
    *,
    to_zone: Hashable,
    rate_per_year: float | Mapping[str, float],
    from_zones: Iterable[Hashable] | None = None,
    base_year: int | None = None,
) -> pd.DataFrame:
    """Move a yearly share of rural pupils to the county seat (进城读书); totals kept.

    After k years (``k = year − base_year``) a zone keeps ``(1 − rate)^k`` of its
    forecast and the county seat receives the rest, in the same level, grade and year.
    This is *on top of* the migration already embodied in the historical ratios.

    Parameters
    ----------
    demand
        Output of :func:`schoolplan.forecast.seat_demand` (``zone, level, grade, year, p10, p50, p90``).
    to_zone
        The county-seat zone (must be in ``demand``).
    rate_per_year
        Share moving each year (0–1), one number or ``{level: rate}`` (missing levels 0).
    from_zones
        Zones losing pupils (default: all except ``to_zone``).
    base_year
        Year with no extra shift (default: first year in ``demand`` − 1).

    Returns
    -------
    DataFrame
        Same columns; per (level, grade, year) the sums of p10, p50 and p90 are unchanged.
    """
    df = demand_frame(demand)
    _zones_check(df, [to_zone], "to_zone")
    sources = [z for z in df["zone"].unique() if z != to_zone] if from_zones is None else list(from_zones)
    _zones_check(df, sources, "from_zones")
    rates = rate_per_year if isinstance(rate_per_year, Mapping) else dict.fromkeys(LEVELS, rate_per_year)
    for lv, r in rates.items():
        if not 0.0 <= float(r) <= 1.0:
            raise ConfigError(f"rate_per_year for {lv} must lie in [0, 1], got {r!r}",
                              fix="give a share such as 0.03 (3 % a year)")
    base = int(df["year"].min()) - 1 if base_year is None else int(base_year)

    def share(rows: pd.DataFrame) -> np.ndarray:
        r = rows["level"].map(lambda lv: float(rates.get(lv, 0.0))).to_numpy(float)
        k = np.maximum(rows["year"].to_numpy(float) - base, 0.0)
        return 1.0 - np.power(1.0 - r, k)

    return _reallocate(df, share, {z: to_zone for z in sources if z != to_zone})


def concentrate(
    demand: pd.DataFrame,
    *,
    to_zone: Hashable | Mapping[Hashable, Hashable],
    level: str = "junior",
    share: float = 1.0,
    from_zones: Iterable[Hashable] | None = None,
    start_year: int | None = None,
    ramp_years: int = 1,
) -> pd.DataFrame:
    """Reallocate a level's demand to receiving zones under 两集中; totals kept.

    "初中向县城集中": ``concentrate(d, to_zone="城关镇")`` moves all junior pupils of the
    other zones to the county seat. "小学向乡镇集中" with village-level zones:
    ``concentrate(d, to_zone={"村A": "某镇", ...}, level="primary")``. With township
    zones the primary concentration happens inside a zone and changes nothing here.

    Parameters
    ----------
    demand
        Output of :func:`schoolplan.forecast.seat_demand`.
    to_zone
        Receiving zone, or ``{source zone: receiving zone}``.
    level
        Level to move.
    share
        Share of the level's pupils moved once fully phased in (0–1).
    from_zones
        Source zones when ``to_zone`` is a single zone (default: all others).
    start_year
        First year with transfers (default: first year in ``demand``).
    ramp_years
        Years to phase in linearly (1 = all at once): moved share in year y is
        ``share · min(1, (y − start_year + 1) / ramp_years)``.

    Returns
    -------
    DataFrame
        Same columns; per (level, grade, year) the sums of p10, p50 and p90 are unchanged.
    """
    df = demand_frame(demand)
    if not 0.0 <= float(share) <= 1.0:
        raise ConfigError(f"share must lie in [0, 1], got {share!r}", fix="e.g. 1.0 or 0.6")
    ramp = check_int(ramp_years, "ramp_years")
    if isinstance(to_zone, Mapping):
        dest = {k: v for k, v in to_zone.items() if k != v}
        _zones_check(df, dest.keys(), "to_zone (sources)")
    else:
        _zones_check(df, [to_zone], "to_zone")
        sources = [z for z in df["zone"].unique() if z != to_zone] if from_zones is None else list(from_zones)
        _zones_check(df, sources, "from_zones")
        dest = {z: to_zone for z in sources if z != to_zone}
    start = int(df["year"].min()) if start_year is None else int(start_year)

    def part(rows: pd.DataFrame) -> np.ndarray:
        years = rows["year"].to_numpy(float)
        phase = np.clip((years - start + 1) / ramp, 0.0, 1.0)
        return np.where(rows["level"].to_numpy() == level, float(share) * phase, 0.0)

    return _reallocate(df, part, dest)
