"""Two-stage forecast for series that only have intake and total pupils (e.g. national bulletins).

Stage 1: :math:`I_t = r_E \\, B_{t-a}` (intake 招生 from births a years earlier). Stage 2:
:math:`S_t = r_S \\sum_{j=0}^{d-1} I_{t-j}` (pupils 在校生 as the surviving cohorts of the
last d intakes; repetition, drop-out and transfers folded into :math:`r_S`). Both ratios
are weighted ratios of sums, :math:`r = \\sum_t w_t N_t / \\sum_t w_t D_t` with
:math:`w_t = (1 - α)^{T - t}` over all years (α = ``smoothing``, 0.5 by default: this
model was measured with it, see ``benchmarks/RESULTS_forecast.md``). Births beyond the
last observed year are projected by :mod:`schoolplan.forecast.births`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from schoolplan.errors import ConfigError, NonUniqueIdError, SchemaError
from schoolplan.forecast._inputs import (
    check_fraction,
    check_int,
    fmt,
    nonneg,
    require_frame,
    whole_years,
)
from schoolplan.forecast.backtest import ape
from schoolplan.forecast.births import (
    DEFAULT_BIRTHS_MODEL,
    DEFAULT_BIRTHS_WINDOW,
    DEFAULT_DAMPING,
    BirthsModel,
    Scenario,
    check_births_params,
    project_values,
    scenario_multiplier,
)

__all__ = ["backtest_intake_students", "intake_students_forecast"]


def _series_frame(series: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    df = require_frame(series, name, ("year", "intake", "students"))
    years = whole_years(df, name)
    intake = nonneg(df, name, "intake")
    students = nonneg(df, name, "students")
    if pd.Series(years).duplicated().any():
        dup = pd.Series(years).duplicated(keep=False).to_numpy()
        raise NonUniqueIdError(f"{name}: more than one row per year", rows=list(df.index[dup]),
                               fix="keep one row per year")
    order = np.argsort(years)
    years, intake, students = years[order], intake[order], students[order]
    gap = np.setdiff1d(np.arange(years[0], years[-1] + 1), years)
    if gap.size:
        raise SchemaError(f"{name}: missing year(s) {fmt(gap.tolist())}", column="year",
                          fix="supply every year (the students model sums consecutive intakes)")
    return years, intake, students


def _births_series(births: pd.DataFrame) -> pd.Series:
    df = require_frame(births, "births", ("year", "births"))
    if "zone" in df.columns:
        raise SchemaError("births: a single (national or county) series is expected, found 'zone'",
                          column="zone", fix="sum births over zones first")
    years = whole_years(df, "births")
    vals = nonneg(df, "births", "births")
    s = pd.Series(vals, index=years).sort_index()
    if s.index.duplicated().any():
        dup = pd.Series(years).duplicated(keep=False).to_numpy()
        raise NonUniqueIdError("births: more than one row per year", rows=list(df.index[dup]),
                               fix="keep one births figure per year")
    gap = np.setdiff1d(np.arange(s.index[0], s.index[-1] + 1), s.index.to_numpy())
    if gap.size:
        raise SchemaError(f"births: missing year(s) {fmt(gap.tolist())}", column="year",
                          fix="supply continuous years")
    return s


def _ratio(num: np.ndarray, den: np.ndarray, w: np.ndarray) -> float:
    ok = np.isfinite(num) & np.isfinite(den)
    d = float((den[ok] * w[ok]).sum())
    return float((num[ok] * w[ok]).sum()) / d if d > 0 else float("nan")


def _two_stage(years: np.ndarray, intake: np.ndarray, students: np.ndarray, bseries: pd.Series, origin: int,
               horizon: int, *, entry_age: int, duration: int, smoothing: float, model: str, window: int,
               damping: float, scenario: Scenario | None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    keep = years <= origin
    yrs, itk, stu = years[keep], intake[keep], students[keep]
    b_obs = bseries[bseries.index <= origin] if scenario is None else bseries
    w = np.power(1.0 - smoothing, (origin - yrs).astype(float))
    r_entry = _ratio(itk, b_obs.reindex(yrs - entry_age).to_numpy(dtype=float), w)
    sums = pd.Series(itk).rolling(duration).sum().to_numpy()
    r_surv = _ratio(stu, sums, w)
    fut = origin + 1 + np.arange(horizon)
    need = fut - entry_age
    b_last = int(b_obs.index[-1])
    bvals = b_obs.reindex(need).to_numpy(dtype=float, copy=True)
    proj = need > b_last
    if proj.any():
        hist = b_obs.to_numpy(dtype=float)[-window:][None, :]
        bvals[proj] = project_values(hist, need[proj] - b_last, model=model, damping=damping)[0]
        if scenario is not None:
            bvals[proj] *= scenario_multiplier(scenario, need[proj], b_last)
    i_fc = bvals * r_entry
    all_int = np.concatenate([itk, i_fc])
    n = len(itk)
    s_fc = np.array([all_int[n + h - duration + 1 : n + h + 1].sum() if n + h - duration + 1 >= 0 else np.nan
                     for h in range(horizon)])
    return fut, i_fc, s_fc * r_surv, r_entry, r_surv


def intake_students_forecast(
    series: pd.DataFrame,
    births: pd.DataFrame,
    *,
    horizon_years: int,
    entry_age: int = 6,
    duration: int = 6,
    smoothing: float = 0.5,
    births_model: BirthsModel = DEFAULT_BIRTHS_MODEL,
    births_window: int = DEFAULT_BIRTHS_WINDOW,
    damping: float = DEFAULT_DAMPING,
    births_scenario: Scenario = "medium",
) -> pd.DataFrame:
    """Two-stage forecast of intake and total pupils (module docstring).

    Parameters
    ----------
    series
        Columns ``year``, ``intake`` (new entrants, 招生), ``students`` (在校生), persons;
        consecutive years.
    births
        Columns ``year``, ``births`` (persons), one series.
    horizon_years
        Years to forecast after the last year of ``series``.
    entry_age
        Years between birth and entry (6 for primary).
    duration
        Grades in the level (6 for primary, 3 for junior).
    smoothing
        α of the ratio weights.
    births_model, births_window, damping, births_scenario
        As in :func:`schoolplan.forecast.project_births`.

    Returns
    -------
    DataFrame
        ``year, intake, students, births_projected`` (point forecasts, persons);
        ``attrs`` hold ``entry_ratio`` and ``survival_ratio`` (two numbers).
    """
    horizon = check_int(horizon_years, "horizon_years")
    entry_age = check_int(entry_age, "entry_age", minimum=0)
    duration = check_int(duration, "duration")
    alpha = check_fraction(smoothing, "smoothing", fix="use e.g. 0.5 (recent years weigh more) or 0")
    model, window, phi = check_births_params(births_model, births_window, damping)
    years, intake, students = _series_frame(series, "series")
    bs = _births_series(births)
    need = int(years[-1]) + 1 - entry_age
    if int(bs.index[0]) > need:
        raise SchemaError(f"births start in {bs.index[0]} but intake in {years[-1] + 1} needs {need}",
                          column="year", fix=f"supply births from {need} on")
    fut, i_fc, s_fc, r_e, r_s = _two_stage(years, intake, students, bs, int(years[-1]), horizon,
                                           entry_age=entry_age, duration=duration, smoothing=alpha, model=model,
                                           window=window, damping=phi, scenario=births_scenario)
    if not (math.isfinite(r_e) and math.isfinite(r_s)):
        raise SchemaError("cannot estimate the ratios: no year with intake, births and a full "
                          f"{duration}-year intake history", fix="supply longer series")
    out = pd.DataFrame({"year": fut, "intake": i_fc, "students": s_fc,
                        "births_projected": fut - entry_age > bs.index[-1]})
    out.attrs.update(entry_ratio=r_e, survival_ratio=r_s)
    return out


def backtest_intake_students(
    series: pd.DataFrame,
    births: pd.DataFrame,
    *,
    origins: Iterable[int],
    horizons: Iterable[int],
    entry_age: int = 6,
    duration: int = 6,
    smoothing: float = 0.5,
    births_model: BirthsModel = DEFAULT_BIRTHS_MODEL,
    births_window: int = DEFAULT_BIRTHS_WINDOW,
    damping: float = DEFAULT_DAMPING,
) -> pd.DataFrame:
    """Rolling-origin back-test of :func:`intake_students_forecast` against persistence.

    Fits use intake, pupils and births of years ≤ origin only. Persistence = the value
    of the origin year carried forward (separately for intake and students).

    Parameters
    ----------
    series, births, entry_age, duration, smoothing, births_model, births_window, damping
        As in :func:`intake_students_forecast`.
    origins, horizons
        Origin years (inside the series, before its last year) and horizons (≥ 1).

    Returns
    -------
    DataFrame
        ``origin, horizon, year, series ("intake"/"students"), actual, forecast,
        persistence, ape, ape_persistence``.
    """
    entry_age = check_int(entry_age, "entry_age", minimum=0)
    duration = check_int(duration, "duration")
    alpha = check_fraction(smoothing, "smoothing", fix="use e.g. 0.5 (recent years weigh more) or 0")
    model, window, phi = check_births_params(births_model, births_window, damping)
    years, intake, students = _series_frame(series, "series")
    bs = _births_series(births)
    o_list = sorted({int(o) for o in origins})
    h_list = sorted({int(h) for h in horizons})
    bad = [o for o in o_list if o <= years[0] or o >= years[-1]]
    if bad or not o_list or not h_list or min(h_list) < 1:
        raise ConfigError(f"origin(s) {fmt(bad)} outside the usable range {years[0] + 1}…{years[-1] - 1}" if bad
                          else "origins and horizons must be non-empty, horizons ≥ 1",
                          fix="choose origins inside the series and horizons such as range(1, 6)")
    rows: list[dict[str, Any]] = []
    for origin in o_list:
        h_ok = [h for h in h_list if origin + h <= years[-1]]
        if not h_ok or bs.index[0] > origin:
            continue
        _, i_fc, s_fc, _, _ = _two_stage(years, intake, students, bs, origin, max(h_ok), entry_age=entry_age,
                                         duration=duration, smoothing=alpha, model=model, window=window,
                                         damping=phi, scenario=None)
        oi = origin - int(years[0])
        for h in h_ok:
            t = oi + h
            for name, fc, obs in (("intake", i_fc, intake), ("students", s_fc, students)):
                rows.append({"origin": origin, "horizon": h, "year": origin + h, "series": name,
                             "actual": obs[t], "forecast": fc[h - 1], "persistence": obs[oi]})
    if not rows:
        raise ConfigError("no (origin, horizon) pair has an observed outcome",
                          fix="choose origins + horizons within the series")
    out = pd.DataFrame(rows)
    out = out[np.isfinite(out["forecast"].to_numpy(float))].reset_index(drop=True)
    out["ape"] = ape(out["forecast"].to_numpy(float), out["actual"].to_numpy(float))
    out["ape_persistence"] = ape(out["persistence"].to_numpy(float), out["actual"].to_numpy(float))
    return out
