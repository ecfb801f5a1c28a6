"""Births beyond the last observed year (出生人口预测), scenarios, and their back-test.

Models (``births_model``), fitted on the last ``births_window`` observed years of each
series :math:`B_y`, with :math:`z_y = \\log(1 + B_y)` and :math:`x = y - T` (T = last
observed year):

``"damped_trend"``
    A robust line :math:`z \\approx a + b x` (Huber M-estimate, tuning constant 1.345,
    scale = 1.4826 · MAD of the residuals, iteratively re-weighted least squares in
    closed form: no per-series model fitting library in the hot path), projected from
    the fitted level at T with the slope damped by φ = ``damping`` each year:

    .. math::  \\hat z_{T+k} = a + b \\, \\frac{φ (1 - φ^k)}{1 - φ},

    so the cumulative change approaches :math:`b φ / (1 - φ)`. Why: births keep
    falling for a structural reason (the cohorts of women aged 25–35 shrink through
    2035), so a flat projection overstates entrants, while a fall of 7 %/year cannot
    go on for ever (damped trends are the robust standard in forecasting
    competitions); the Huber loss keeps one-off spikes (dragon years, the 2016
    two-child bump) from tilting the line.
``"recent_mean"``
    The mean of the window (the practice of the Weldon Cooper Center for Virginia
    school divisions).

Fewer than three observed years → mean. Scenario multipliers then scale projected
births only: presets ``"low"``, ``"medium"``, ``"high"`` reach ×0.9, ×1.0, ×1.1
linearly over :data:`SCENARIO_RAMP_YEARS` years (:data:`BIRTH_SCENARIOS`); a number
applies from the first projected year; a mapping ``{year: multiplier}`` gives each
year explicitly (missing years = 1).

:func:`backtest_births` measures the projection itself on a births series (rolling
origins, persistence alongside); see ``benchmarks/RESULTS_forecast.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Literal

import numpy as np
import pandas as pd

from schoolplan.errors import ConfigError, NonUniqueIdError, SchemaError
from schoolplan.forecast._inputs import (
    BirthsTable,
    Diagnostics,
    Panel,
    build_births,
    check_fraction,
    check_int,
    fmt,
    nonneg,
    require_frame,
    whole_years,
)

__all__ = [
    "BIRTH_MODELS",
    "BIRTH_SCENARIOS",
    "DEFAULT_BIRTHS_MODEL",
    "DEFAULT_BIRTHS_WINDOW",
    "DEFAULT_DAMPING",
    "SCENARIO_RAMP_YEARS",
    "BirthsModel",
    "Scenario",
    "backtest_births",
    "check_births_params",
    "extend_births",
    "project_births",
    "project_values",
    "robust_line",
    "scenario_multiplier",
]

BirthsModel = Literal["damped_trend", "recent_mean"]
Scenario = str | float | Mapping[int, float]

#: Defaults of the births projection, chosen by the rolling-origin back-test on the births of
#: 236 countries 1990–2016 (UN WPP 2022 estimates; ``benchmarks/RESULTS_forecast.md``).
DEFAULT_BIRTHS_MODEL: BirthsModel = "damped_trend"
DEFAULT_BIRTHS_WINDOW = 4
DEFAULT_DAMPING = 0.8

#: Births models understood by :func:`project_births`.
BIRTH_MODELS: tuple[str, ...] = ("damped_trend", "recent_mean")

#: Births multipliers reached after :data:`SCENARIO_RAMP_YEARS` projected years.
BIRTH_SCENARIOS: Mapping[str, float] = MappingProxyType({"low": 0.9, "medium": 1.0, "high": 1.1})
SCENARIO_RAMP_YEARS = 5

_HUBER_C = 1.345
_MAD_TO_SD = 1.4826


def check_births_params(births_model: str, births_window: int, damping: float) -> tuple[str, int, float]:
    """Validate the births-projection options; ConfigError naming the option otherwise."""
    if births_model not in BIRTH_MODELS:
        raise ConfigError(f"births_model must be one of {', '.join(BIRTH_MODELS)}, got {births_model!r}",
                          fix="choose 'damped_trend' or 'recent_mean'")
    window = check_int(births_window, "births_window")
    phi = check_fraction(damping, "damping", fix="use e.g. 0.8; 0 = flat, 1 = undamped linear trend in logs")
    return births_model, window, phi


def robust_line(x: np.ndarray, z: np.ndarray, *, iterations: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """Huber M-estimate of ``z ≈ a + b·x`` for every row of ``z`` at once.

    Iteratively re-weighted least squares: weights :math:`w_i = \\min(1, c s / |r_i|)`
    with :math:`c = 1.345` and :math:`s = 1.4826\\,\\mathrm{MAD}(r)` re-estimated each
    step; each step is the closed-form weighted least-squares line.

    Parameters
    ----------
    x
        Abscissae, shape ``(n,)``.
    z
        Values, shape ``(rows, n)``.
    iterations
        IRLS steps (the fit is exact for ≤ 2 points and converges in a few steps).

    Returns
    -------
    tuple of ndarray
        Intercepts ``a`` and slopes ``b``, shape ``(rows,)``.
    """
    x = np.asarray(x, dtype=float)[None, :]
    z = np.asarray(z, dtype=float)
    n = z.shape[1]
    lo, hi = (n - 1) // 2, n // 2

    def median(v: np.ndarray) -> np.ndarray:
        srt = np.sort(v, axis=1)
        return 0.5 * (srt[:, lo] + srt[:, hi])

    w = np.ones_like(z)
    a = b = np.zeros(z.shape[0])
    for _ in range(iterations):
        sw, sx, sz = w.sum(1), (w * x).sum(1), (w * z).sum(1)
        sxx, sxz = (w * x * x).sum(1), (w * x * z).sum(1)
        det = sw * sxx - sx * sx
        b_new = np.where(det > 1e-12, (sw * sxz - sx * sz) / np.where(det > 1e-12, det, 1.0), 0.0)
        a_new = (sz - b_new * sx) / sw
        done = max(np.abs(a_new - a).max(initial=0.0), np.abs(b_new - b).max(initial=0.0)) < 1e-10
        a, b = a_new, b_new
        if done:
            break
        r = z - a[:, None] - b[:, None] * x
        s = _MAD_TO_SD * median(np.abs(r - median(r)[:, None]))
        u = np.abs(r) / (_HUBER_C * np.maximum(s, 1e-9)[:, None])
        w = np.where(u <= 1.0, 1.0, 1.0 / np.maximum(u, 1e-12))
    return a, b


def project_values(values: np.ndarray, steps: np.ndarray, *, model: str, damping: float) -> np.ndarray:
    """Project every row of observed ``values`` (last column = last observed year) ``steps`` years ahead.

    Parameters
    ----------
    values
        ``(series, window)`` observed births, oldest first.
    steps
        Years after the last observed year (≥ 1).
    model, damping
        See the module docstring.

    Returns
    -------
    ndarray
        ``(series, len(steps))`` projected births (≥ 0).
    """
    n = values.shape[1]
    if model == "recent_mean" or n < 3:
        return np.repeat(values.mean(axis=1, keepdims=True), len(steps), axis=1)
    z = np.log1p(values)
    a, b = robust_line(np.arange(-n + 1, 1, dtype=float), z)
    k = steps.astype(float)[None, :]
    growth = damping * (1.0 - damping**k) / (1.0 - damping) if damping < 1.0 else k
    flat = np.ptp(z, axis=1) == 0
    out = np.expm1(a[:, None] + b[:, None] * growth)
    out[flat] = values[flat, -1:]
    return np.maximum(out, 0.0)


def scenario_multiplier(scenario: Scenario, years: np.ndarray, last_observed: int | np.ndarray) -> np.ndarray:
    """Multipliers of projected births for ``years`` (see the module docstring)."""
    years = np.asarray(years)
    if isinstance(scenario, str):
        if scenario not in BIRTH_SCENARIOS:
            raise ConfigError(f"unknown births scenario {scenario!r}",
                              fix=f"use one of {', '.join(BIRTH_SCENARIOS)}, a number or {{year: multiplier}}")
        target = BIRTH_SCENARIOS[scenario]
        k = np.clip(years - last_observed, 0, SCENARIO_RAMP_YEARS) / SCENARIO_RAMP_YEARS
        out = 1.0 + (target - 1.0) * k
    elif isinstance(scenario, Mapping):
        out = np.array([float(scenario.get(int(y), 1.0)) for y in years.reshape(-1)]).reshape(years.shape)
    elif isinstance(scenario, int | float) and not isinstance(scenario, bool):
        out = np.full(years.shape, float(scenario))
    else:
        raise ConfigError(f"births_scenario must be a preset name, a number or a mapping, got {scenario!r}",
                          fix="e.g. 'low', 0.95 or {2026: 0.95, 2027: 0.9}")
    if not np.all(np.isfinite(out)) or np.any(out < 0):
        raise ConfigError("births_scenario multipliers must be finite and ≥ 0",
                          fix="use multipliers such as 0.9 or 1.1")
    return out


def extend_births(table: BirthsTable, years: np.ndarray, *, known_to: int | None, model: str, window: int,
                  damping: float, scenario: Scenario | None) -> tuple[np.ndarray, np.ndarray]:
    """Births of ``years`` per series: observed up to ``known_to``, projected after.

    Returns
    -------
    tuple of ndarray
        Values and a projected flag, both ``(series, len(years))``. Years before a
        series starts are NaN; ``scenario`` (None = no multiplier) scales projected
        years only.
    """
    years = np.asarray(years, dtype=np.int64)
    vals = table.observed(years, known_to)
    proj = np.zeros(vals.shape, dtype=bool)
    last = table.end if known_to is None else np.minimum(table.end, known_to)
    for end in np.unique(last):
        rows = np.nonzero(last == end)[0]
        after = years > end
        if not after.any():
            continue
        start = np.maximum(table.start[rows], end - window + 1)
        for s0 in np.unique(start):
            sub = rows[start == s0]
            if s0 > end:  # no observed year at all before the cut
                continue
            hist = table.observed(np.arange(s0, end + 1))[sub]
            p = project_values(hist, years[after] - end, model=model, damping=damping)
            if scenario is not None:
                p = p * scenario_multiplier(scenario, years[after], int(end))[None, :]
            vals[np.ix_(sub, np.nonzero(after)[0])] = p
            proj[np.ix_(sub, np.nonzero(after)[0])] = True
    return vals, proj


def _births_only(births: pd.DataFrame, notes: Diagnostics) -> tuple[BirthsTable, list[str | None]]:
    df = require_frame(births, "births", ("year", "births"))
    has_zone = "zone" in df.columns
    zones: list[str | None] = sorted({str(z) for z in df["zone"].tolist()}) if has_zone else [None]
    panel = Panel(zones=list(zones), has_zone=has_zone, years=np.arange(1), grades=[1],
                  counts=np.zeros((len(zones), 1, 1)))
    return build_births(df, panel, notes=notes), zones


def project_births(births: pd.DataFrame, *, until_year: int, births_model: BirthsModel = DEFAULT_BIRTHS_MODEL,
                   births_window: int = DEFAULT_BIRTHS_WINDOW, damping: float = DEFAULT_DAMPING,
                   births_scenario: Scenario = "medium") -> pd.DataFrame:
    """Observed births followed by projected births up to ``until_year``.

    Parameters
    ----------
    births
        Columns ``year``, ``births`` (persons), optionally ``zone``; years continuous.
    until_year
        Last year to return.
    births_model
        ``"damped_trend"`` or ``"recent_mean"`` (module docstring).
    births_window
        Number of most recent observed years the model is fitted on.
    damping
        Yearly damping φ of the trend slope (0 = flat at the fitted level, 1 = no damping).
    births_scenario
        ``"low"``/``"medium"``/``"high"`` (×0.9/1/1.1 reached over five years), a number,
        or ``{year: multiplier}``; applies to projected years only.

    Returns
    -------
    DataFrame
        ``[zone,] year, births, projected``. Input not modified.
    """
    model, window, phi = check_births_params(births_model, births_window, damping)
    notes = Diagnostics()
    table, zones = _births_only(births, notes)
    notes.warn()
    years = np.arange(int(table.start.min()), int(until_year) + 1)
    vals, proj = extend_births(table, years, known_to=None, model=model, window=window, damping=phi,
                               scenario=births_scenario)
    frames = []
    for k, zone in enumerate(zones):
        keep = years >= table.start[k]
        part = pd.DataFrame({"year": years[keep], "births": vals[k][keep], "projected": proj[k][keep]})
        if zone is not None:
            part.insert(0, "zone", zone)
        frames.append(part)
    return pd.concat(frames, ignore_index=True)


def backtest_births(births: pd.DataFrame, *, origins: Iterable[int], horizons: Iterable[int],
                    births_model: BirthsModel = DEFAULT_BIRTHS_MODEL, births_window: int = DEFAULT_BIRTHS_WINDOW,
                    damping: float = DEFAULT_DAMPING) -> pd.DataFrame:
    """Rolling-origin back-test of :func:`project_births` against persistence.

    At origin o the model sees births of years ≤ o only and projects o + h; the
    persistence baseline carries births of year o forward.

    Parameters
    ----------
    births
        One series: ``year, births`` (no ``zone``), continuous years.
    origins, horizons
        Origin years and horizons (≥ 1); pairs beyond the last year are skipped.
    births_model, births_window, damping
        As in :func:`project_births`.

    Returns
    -------
    DataFrame
        ``origin, horizon, year, actual, forecast, persistence, ape, ape_persistence``
        (APE in percent; summarise with :func:`schoolplan.forecast.summarize_backtest`).
    """
    model, window, phi = check_births_params(births_model, births_window, damping)
    df = require_frame(births, "births", ("year", "births"))
    if "zone" in df.columns:
        raise SchemaError("births: a single series is expected, found 'zone'", column="zone",
                          fix="back-test one zone at a time, or sum births over zones")
    years = whole_years(df, "births")
    nonneg(df, "births", "births")
    if pd.Series(years).duplicated().any():
        dup = pd.Series(years).duplicated(keep=False).to_numpy()
        raise NonUniqueIdError("births: more than one row per year", rows=list(df.index[dup]),
                               fix="keep one births figure per year")
    notes = Diagnostics()
    table, _ = _births_only(df, notes)
    first, last = int(years.min()), int(years.max())
    o_list = sorted({int(o) for o in origins})
    h_list = sorted({check_int(int(h), "horizons") for h in horizons})
    bad = [o for o in o_list if o < first or o >= last]
    if bad or not o_list or not h_list:
        raise ConfigError(f"origin(s) {fmt(bad)} outside {first}…{last - 1}" if bad else
                          "origins and horizons must not be empty",
                          fix="choose origins inside the series with at least one later year")
    rows = []
    obs = table.values[0]
    for o in o_list:
        hs = np.array([h for h in h_list if o + h <= last])
        if not len(hs):
            continue
        fc, _ = extend_births(table, o + hs, known_to=o, model=model, window=window, damping=phi, scenario=None)
        for h, f in zip(hs, fc[0], strict=True):
            rows.append({"origin": o, "horizon": int(h), "year": o + int(h), "actual": obs[o + h - first],
                         "forecast": float(f), "persistence": obs[o - first]})
    out = pd.DataFrame(rows)
    a = out["actual"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ape"] = np.where(a > 0, np.abs(out["forecast"] - a) / a * 100, np.nan)
        out["ape_persistence"] = np.where(a > 0, np.abs(out["persistence"] - a) / a * 100, np.nan)
    return out
