"""Rolling-origin back-test of the cohort forecast, reported the way planners are asked.

At each origin year o the model is re-fitted on enrolment **and births** of years ≤ o
(births of the last ``births_lag_years`` before o count as not yet registered and are
projected), with intervals from errors of still earlier origins only, and forecasts
o + h. The *persistence* baseline carries the origin year forward grade by grade (the
forecast for grade g in year o + h is the count of grade g in year o) and, for totals,
the total of year o.

:func:`summarize_backtest` reports, by horizon (or any grouping): the mean absolute
percentage error :math:`\\mathrm{MAPE} = \\overline{|F - A| / A} \\cdot 100`, the bias
:math:`\\overline{(F - A) / A} \\cdot 100`, the share of actuals inside [p10, p90]
(``coverage``, target 80 %), and the same errors of persistence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from schoolplan.errors import ConfigError
from schoolplan.forecast._inputs import (
    ALL,
    Diagnostics,
    Grade,
    build_births,
    build_panel,
    fmt,
    require_frame,
    zone_keys,
)
from schoolplan.forecast.births import (
    DEFAULT_BIRTHS_MODEL,
    DEFAULT_BIRTHS_WINDOW,
    DEFAULT_DAMPING,
    BirthsModel,
)
from schoolplan.forecast.breaks import BreakYears
from schoolplan.forecast.cohort import (
    DEFAULT_COMBINE,
    DEFAULT_ERROR_WINDOW,
    make_settings,
    run_engine,
)
from schoolplan.forecast.intervals import CELL_TYPES, apply_band, cell_bands
from schoolplan.forecast.ratios import (
    DEFAULT_BREAK_THRESHOLD,
    DEFAULT_ENTRY_WINDOW,
    DEFAULT_MIN_PAIRS,
    DEFAULT_PROGRESSION_WINDOW,
    DEFAULT_SMOOTHING,
)

__all__ = ["BACKTEST_COLUMNS", "ape", "backtest", "summarize_backtest"]

#: Columns of :func:`backtest` (``zone`` only when the enrolment has zones).
BACKTEST_COLUMNS = ("origin", "horizon", "year", "zone", "grade", "scope", "cell", "actual", "p10", "p50",
                    "p90", "persistence", "ape", "ape_persistence")


def ape(forecast: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Absolute percentage error ``|F − A| / A × 100`` (NaN when A = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(actual > 0, np.abs(forecast - actual) / np.where(actual > 0, actual, 1.0) * 100, np.nan)


def _check_origins(origins: Iterable[int], horizons: Iterable[int], lo: int, hi: int
                   ) -> tuple[list[int], list[int]]:
    try:
        o_list = sorted({int(o) for o in origins})
        h_list = sorted({int(h) for h in horizons})
    except (TypeError, ValueError):
        raise ConfigError("origins and horizons must be whole numbers",
                          fix="e.g. origins=range(2010, 2020), horizons=range(1, 6)") from None
    if not o_list or not h_list:
        raise ConfigError("origins and horizons must not be empty", fix="give at least one of each")
    bad_h = [h for h in h_list if h < 1]
    if bad_h:
        raise ConfigError(f"horizons must be ≥ 1, got {bad_h}", fix="use horizons such as range(1, 6)")
    bad_o = [o for o in o_list if o < lo or o > hi]
    if bad_o:
        raise ConfigError(
            f"origin(s) {fmt(bad_o)} outside the usable range {lo}…{hi}",
            fix="an origin needs min_pairs years of data up to it and one observed year after it",
        )
    return o_list, h_list


def backtest(
    enrolment: pd.DataFrame,
    births: pd.DataFrame,
    *,
    origins: Iterable[int],
    horizons: Iterable[int],
    entry_age: int = 6,
    grades: Iterable[Grade] = range(1, 7),
    progression_window: int | None = DEFAULT_PROGRESSION_WINDOW,
    entry_window: int | None = DEFAULT_ENTRY_WINDOW,
    smoothing: float = DEFAULT_SMOOTHING,
    min_pairs: int = DEFAULT_MIN_PAIRS,
    break_threshold: float | None = DEFAULT_BREAK_THRESHOLD,
    break_years: BreakYears = None,
    births_model: BirthsModel = DEFAULT_BIRTHS_MODEL,
    births_window: int = DEFAULT_BIRTHS_WINDOW,
    damping: float = DEFAULT_DAMPING,
    combine: bool = DEFAULT_COMBINE,
    births_lag_years: int = 0,
    error_window_years: int | None = DEFAULT_ERROR_WINDOW,
) -> pd.DataFrame:
    """Rolling-origin back-test of :func:`schoolplan.forecast.cohort_survival`, with bands.

    Parameters
    ----------
    enrolment, births, entry_age, grades, progression_window, entry_window, smoothing,
    min_pairs, break_threshold, break_years, births_model, births_window, damping, combine,
    error_window_years
        As in :func:`schoolplan.forecast.cohort_survival`.
    origins
        Origin years; each needs ``min_pairs`` years of data before it and one observed
        year after it.
    horizons
        Horizons in years (≥ 1); pairs with ``o + h`` after the last year are skipped.
    births_lag_years
        Births of the last ``births_lag_years`` years up to each origin count as not yet
        known (registration lag; 0 = births of the origin year are known).

    Returns
    -------
    DataFrame
        ``origin, horizon, year, [zone,] grade, scope, cell, actual, p10, p50, p90,
        persistence, ape, ape_persistence``. ``scope`` is ``"grade"`` or ``"total"``
        (the sum over grades per zone, and over zones with ``zone == "ALL"``, with
        bands of their own; ``grade`` is missing there and otherwise keeps the dtype of
        the grade labels); ``cell`` is the cell type of grade rows (``carried``,
        ``entry``, ``entry_projected``). APE = ``|p50 − A| / A × 100`` (NaN when A = 0).
        Summarise with :func:`summarize_backtest`.
    """
    notes = Diagnostics()
    panel = build_panel(enrolment, grades, notes=notes)
    table = build_births(births, panel, notes=notes)
    s = make_settings(panel, entry_age=entry_age, progression_window=progression_window,
                      entry_window=entry_window, smoothing=smoothing, min_pairs=min_pairs,
                      break_threshold=break_threshold, break_years=break_years, births_model=births_model,
                      births_window=births_window, damping=damping, combine=combine,
                      births_lag_years=births_lag_years, error_window_years=error_window_years)
    notes.warn()
    first, last = int(panel.years[0]), int(panel.years[-1])
    o_min = max(1, s.ratios.min_pairs)
    o_list, h_list = _check_origins(origins, horizons, first + o_min, last - 1)
    h_max = max(h_list)
    idx = [o - first for o in o_list]
    eng = run_engine(panel, table, s, horizon=h_max, groups=np.zeros(len(panel.grades), dtype=np.int64),
                     n_groups=1, band_origins=idx, final=False, scenario=None, notes=None)
    counts = panel.counts
    n_z, n_g = counts.shape[0], counts.shape[2]
    keys = np.array(zone_keys(panel), dtype=object)
    grade_obj = np.array(panel.grades, dtype=object)
    frames: list[pd.DataFrame] = []
    for o, oi in zip(o_list, idx, strict=True):
        if oi not in eng.point:
            continue
        point, ct = eng.point[oi], eng.ctype[oi]
        qcell = cell_bands(eng.q[oi], ct)
        qt, qa = eng.q_total[oi], eng.q_all[oi]
        for h in h_list:
            if o + h > last or h > point.shape[1]:
                continue
            f = point[:, h - 1, :]
            p10, p50, p90 = apply_band(f, qcell[:, h - 1, :])
            a = counts[:, oi + h, :]
            base = counts[:, oi, :]
            parts = [pd.DataFrame({
                "zone": np.repeat(keys, n_g), "grade": np.tile(grade_obj, n_z), "scope": "grade",
                "cell": np.array(CELL_TYPES, dtype=object)[ct[:, h - 1, :].reshape(-1)],
                "actual": a.reshape(-1), "p10": p10.reshape(-1), "p50": p50.reshape(-1), "p90": p90.reshape(-1),
                "persistence": base.reshape(-1),
            })]
            tot = f.sum(axis=1)
            t10, t50, t90 = apply_band(tot, qt[:, h - 1, 0, 0])
            parts.append(pd.DataFrame({
                "zone": keys, "grade": None, "scope": "total", "cell": None, "actual": a.sum(axis=1),
                "p10": t10, "p50": t50, "p90": t90, "persistence": base.sum(axis=1),
            }))
            if panel.has_zone and n_z > 1:
                a10, a50, a90 = apply_band(np.array([tot.sum()]), qa[:, h - 1, 0, 0])
                parts.append(pd.DataFrame({
                    "zone": [ALL], "grade": [None], "scope": ["total"], "cell": [None], "actual": [a.sum()],
                    "p10": a10, "p50": a50, "p90": a90, "persistence": [base.sum()],
                }))
            part = pd.concat(parts, ignore_index=True)
            part.insert(0, "year", o + h)
            part.insert(0, "horizon", h)
            part.insert(0, "origin", o)
            frames.append(part)
    if not frames:
        raise ConfigError("no (origin, horizon) pair has an observed outcome",
                          fix=f"choose origins + horizons ≤ {last}")
    out = pd.concat(frames, ignore_index=True)
    keep = np.isfinite(out[["actual", "p50", "persistence"]].to_numpy(float)).all(axis=1)
    out = out[keep].reset_index(drop=True)
    out["ape"] = ape(out["p50"].to_numpy(float), out["actual"].to_numpy(float))
    out["ape_persistence"] = ape(out["persistence"].to_numpy(float), out["actual"].to_numpy(float))
    if all(isinstance(g, int | np.integer) for g in panel.grades):
        out["grade"] = out["grade"].astype("Int64")
    if not panel.has_zone:
        out = out.drop(columns="zone")
    return out


def summarize_backtest(errors: pd.DataFrame, *, by: Sequence[str] = ("horizon",)) -> pd.DataFrame:
    """MAPE, bias and interval coverage of the model, with persistence alongside.

    Parameters
    ----------
    errors
        Output of :func:`backtest` (filter it first, e.g. ``errors[errors.scope == "total"]``),
        :func:`schoolplan.forecast.backtest_births` or
        :func:`schoolplan.forecast.backtest_intake_students`.
    by
        Columns to group by.

    Returns
    -------
    DataFrame
        ``*by, n, mape, bias, coverage, mape_persistence, bias_persistence,
        beats_persistence``, in percent: bias = mean of ``(F − A) / A × 100`` (positive =
        over-forecast); coverage = share of actuals inside [p10, p90] (NaN without
        bands); F is ``p50`` (or ``forecast``).
    """
    df = require_frame(errors, "errors", (*by, "ape", "ape_persistence", "actual", "persistence"))
    fcol = "p50" if "p50" in df.columns else "forecast"
    if fcol not in df.columns:
        raise ConfigError("errors needs a 'p50' or 'forecast' column", fix="pass the output of backtest()")
    ok = df.dropna(subset=["ape", "ape_persistence"])
    a = ok["actual"].to_numpy(float)
    work = pd.DataFrame({k: ok[k].to_numpy() for k in by})
    work["ape"] = ok["ape"].to_numpy(float)
    work["ape_p"] = ok["ape_persistence"].to_numpy(float)
    work["err"] = (ok[fcol].to_numpy(float) - a) / a * 100
    work["err_p"] = (ok["persistence"].to_numpy(float) - a) / a * 100
    has_band = {"p10", "p90"} <= set(ok.columns)
    work["inside"] = (((ok["p10"].to_numpy(float) <= a) & (a <= ok["p90"].to_numpy(float))) * 100.0
                      if has_band else np.nan)
    g = work.groupby(list(by), sort=True)
    out = pd.DataFrame({
        "n": g["ape"].size(),
        "mape": g["ape"].mean(),
        "bias": g["err"].mean(),
        "coverage": g["inside"].mean(),
        "mape_persistence": g["ape_p"].mean(),
        "bias_persistence": g["err_p"].mean(),
    }).reset_index()
    out["beats_persistence"] = out["mape"] < out["mape_persistence"]
    return out
