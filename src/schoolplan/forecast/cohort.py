"""Cohort-survival (grade-progression) forecast with intervals (学位需求的队列推移预测).

Model
-----
For zone :math:`z`, grades :math:`g_0, g_1, \\dots` (entry grade first) and school
year t (the year starting in September of t):

.. math::

    \\hat N_{z,g_0,t} = e_z \\, B_z(t - a), \\qquad
    \\hat N_{z,g_{i+1},t} = r_{z,i} \\, \\hat N_{z,g_i,t-1},

starting from the observed counts of the origin year T (the jump-off), with entry
ratio :math:`e_z`, progression ratios :math:`r_{z,i}` (:mod:`schoolplan.forecast.ratios`,
after count breaks are left out and bridged, :mod:`schoolplan.forecast.breaks`),
births :math:`B_z` observed or projected (:mod:`schoolplan.forecast.births`) and entry
age :math:`a` (3 for kindergarten 小班, 6 for primary grade 1, 12 for junior grade 7).

Optionally (``combine=True``) the forecast is mixed with persistence per horizon and
cell type, weighted by each method's past errors (:mod:`schoolplan.forecast.intervals`).
The 80 % band (p10–p90) comes from the model's own past log errors at earlier
origins, by horizon and cell type, with Student-t widening; p50 is the point
forecast. Bands for totals come from the errors of the totals.

Every past origin is re-fitted with data up to that origin only (births included,
optionally lagged: ``births_lag_years``), so the intervals and the combination weights
never look ahead. Units: pupils and births in persons per school year.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from schoolplan.errors import SchemaError
from schoolplan.forecast._inputs import (
    ALL,
    BirthsTable,
    Diagnostics,
    Grade,
    Panel,
    build_births,
    build_panel,
    check_int,
    fmt,
    grade_dtype,
    zone_keys,
)
from schoolplan.forecast.births import (
    DEFAULT_BIRTHS_MODEL,
    DEFAULT_BIRTHS_WINDOW,
    DEFAULT_DAMPING,
    BirthsModel,
    Scenario,
    check_births_params,
    extend_births,
    scenario_multiplier,
)
from schoolplan.forecast.breaks import Breaks, BreakYears, breaks_frame
from schoolplan.forecast.intervals import (
    CARRIED,
    CELL_TYPES,
    DEFAULT_LOG_SD,
    ENTRY,
    ENTRY_PROJECTED,
    apply_band,
    band_scales,
    cell_bands,
    combination_weights,
    log_error,
)
from schoolplan.forecast.ratios import (
    DEFAULT_BREAK_THRESHOLD,
    DEFAULT_ENTRY_WINDOW,
    DEFAULT_MIN_PAIRS,
    DEFAULT_PROGRESSION_WINDOW,
    DEFAULT_SMOOTHING,
    RatioOptions,
    Ratios,
    fit_origin,
    ratio_options,
    ratios_frame,
)

__all__ = [
    "DEFAULT_COMBINE",
    "DEFAULT_ERROR_WINDOW",
    "SHORT_HISTORY_ORIGINS",
    "CohortForecast",
    "Engine",
    "Settings",
    "cohort_forecast",
    "cohort_survival",
    "make_settings",
    "project_origin",
    "run_engine",
]

#: Mix with persistence by default (chosen by back-test).
DEFAULT_COMBINE = False
#: Fewer past origins than this make a ``short_history`` diagnostic.
SHORT_HISTORY_ORIGINS = 5
#: Bands from the errors of the last this many target years (chosen by back-test).
DEFAULT_ERROR_WINDOW: int | None = 8


@dataclass(frozen=True)
class Settings:
    """All model options after validation."""

    ratios: RatioOptions
    births_model: str
    births_window: int
    damping: float
    combine: bool
    births_lag: int
    error_window: int | None


def make_settings(panel: Panel, *, entry_age: int, progression_window: int | None, entry_window: int | None,
                  smoothing: float, min_pairs: int, break_threshold: float | None, break_years: BreakYears,
                  births_model: str, births_window: int, damping: float, combine: bool,
                  births_lag_years: int = 0, error_window_years: int | None = None) -> Settings:
    """Validate every option (ConfigError naming the option otherwise)."""
    ro = ratio_options(panel, entry_age=entry_age, progression_window=progression_window,
                       entry_window=entry_window, smoothing=smoothing, min_pairs=min_pairs,
                       break_threshold=break_threshold, break_years=break_years)
    model, window, phi = check_births_params(births_model, births_window, damping)
    lag = check_int(births_lag_years, "births_lag_years", minimum=0)
    ew = None if error_window_years is None else check_int(error_window_years, "error_window_years")
    return Settings(ratios=ro, births_model=model, births_window=window, damping=phi, combine=bool(combine),
                    births_lag=lag, error_window=ew)


def project_origin(panel: Panel, births: BirthsTable, ratios: Ratios, oi: int, horizon: int, s: Settings, *,
                   known_to: int | None, scenario: Scenario | None) -> tuple[np.ndarray, np.ndarray]:
    """Point forecast ``(zones, horizon, grades)`` from year index ``oi`` and the cell types.

    Cell types: :data:`~schoolplan.forecast.intervals.CARRIED` where the cohort was
    enrolled at the origin, :data:`~schoolplan.forecast.intervals.ENTRY` where it enters
    from observed births, :data:`~schoolplan.forecast.intervals.ENTRY_PROJECTED` from
    projected births.
    """
    a = s.ratios.entry_age
    origin = int(panel.years[oi])
    fut = origin + 1 + np.arange(horizon) - a
    bvals, bproj = extend_births(births, fut, known_to=known_to, model=s.births_model,
                                 window=s.births_window, damping=s.damping, scenario=scenario)
    bz, pz = bvals[births.series_of_zone], bproj[births.series_of_zone]
    n_z, n_g = panel.counts.shape[0], panel.counts.shape[2]
    out = np.empty((n_z, horizon, n_g))
    prev = panel.counts[:, oi, :]
    for k in range(horizon):
        out[:, k, 0] = bz[:, k] * ratios.entry
        out[:, k, 1:] = prev[:, :-1] * ratios.prog
        prev = out[:, k]
    k_idx = np.arange(horizon)[:, None]
    g_idx = np.arange(n_g)[None, :]
    entered = g_idx <= k_idx  # (H, G): cohort entered after the origin
    src = np.clip(k_idx - g_idx, 0, horizon - 1)  # births index of its entry year
    proj = pz[:, src]  # (Z, H, G)
    ctype = np.where(entered[None], np.where(proj, ENTRY_PROJECTED, ENTRY), CARRIED).astype(np.int8)
    return out, ctype


@dataclass
class Engine:
    """Rolling forecasts from every origin, with errors, combination weights and bands."""

    origins: list[int]
    point: dict[int, np.ndarray]
    ctype: dict[int, np.ndarray]
    q: dict[int, np.ndarray]
    q_total: dict[int, np.ndarray]
    q_all: dict[int, np.ndarray]
    fallback: dict[int, bool]
    weights: dict[int, np.ndarray]
    ratios: dict[int, Ratios]
    breaks: dict[int, Breaks]
    n_errors: int


def _group_sums(x: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum the last axis of ``x`` by group; NaN if any member is NaN."""
    out = np.zeros((*x.shape[:-1], n_groups))
    for gi in range(n_groups):
        out[..., gi] = x[..., groups == gi].sum(axis=-1)
    return out


def run_engine(panel: Panel, births: BirthsTable, s: Settings, *, horizon: int, groups: np.ndarray,
               n_groups: int, band_origins: Iterable[int], final: bool, scenario: Scenario | None,
               notes: Diagnostics | None) -> Engine:
    """Forecast from every usable origin, collect past errors, combine and band.

    ``final=True``: the last year is the forecast origin (all births, ``scenario``,
    ``horizon`` years, notes recorded); earlier origins only feed errors.
    ``final=False`` (back-test): origins up to the year before the last, births known to
    ``origin − births_lag``. Bands are computed for ``band_origins`` (year indices).
    """
    counts = panel.counts
    n_z, n_y, n_g = counts.shape
    last = n_y - 1
    o_min = max(1, s.ratios.min_pairs)
    origins = list(range(o_min, last + (1 if final else 0)))
    if final and last not in origins:
        origins.append(last)
    orig_idx = np.array(origins, dtype=np.int64)
    n_o, n_c = len(origins), len(CELL_TYPES)
    shape = (n_o, horizon, n_z, n_g)
    err_c = np.full(shape, np.nan)  # log errors of the cohort model, persistence and the final forecast
    err_p = np.full(shape, np.nan)
    cells = np.full(shape, -1, dtype=np.int8)  # cell type, −1 = no error
    cohort: dict[int, np.ndarray] = {}
    ctypes: dict[int, np.ndarray] = {}
    ratios_at: dict[int, Ratios] = {}
    breaks_at: dict[int, Breaks] = {}
    for r, o in enumerate(origins):
        is_final = final and o == last
        known_to = None if is_final else int(panel.years[o]) - s.births_lag
        h_o = horizon if is_final else min(horizon, last - o)
        if h_o < 1:
            continue
        rat, br = fit_origin(panel, births, o, s.ratios, known_to=known_to, notes=notes if is_final else None)
        ratios_at[o], breaks_at[o] = rat, br
        f, ct = project_origin(panel, births, rat, o, h_o, s, known_to=known_to,
                               scenario=scenario if is_final else None)
        cohort[o], ctypes[o] = f, ct
        if is_final:
            continue
        actual = counts[:, o + 1 : o + 1 + h_o, :]
        persist = np.broadcast_to(counts[:, o : o + 1, :], actual.shape)
        ok = np.isfinite(actual) & np.isfinite(f) & np.isfinite(persist) & (actual + np.abs(f) > 0)
        err_c[r, :h_o] = np.where(ok, log_error(actual, f), np.nan).transpose(1, 0, 2)
        err_p[r, :h_o] = np.where(ok, log_error(actual, persist), np.nan).transpose(1, 0, 2)
        cells[r, :h_o] = np.where(ok, ct, -1).transpose(1, 0, 2)
    # combination with persistence, origin by origin (weights from earlier errors only)
    point: dict[int, np.ndarray] = {}
    weights: dict[int, np.ndarray] = {}
    err_f = err_c
    if s.combine:
        err_f = np.full(shape, np.nan)
        by_type = [cells == c for c in range(n_c)]
        sq_c = np.stack([np.where(m, err_c, 0.0) ** 2 for m in by_type], axis=-1).sum(axis=(2, 3))
        sq_p = np.stack([np.where(m, err_p, 0.0) ** 2 for m in by_type], axis=-1).sum(axis=(2, 3))
        n_cells = np.stack([m.sum(axis=(2, 3)) for m in by_type], axis=-1).astype(float)
    for r, o in enumerate(origins):
        if o not in cohort:
            continue
        f, ct = cohort[o], ctypes[o]
        if not s.combine:
            point[o] = f
            weights[o] = np.ones((horizon, n_c))
            continue
        w = combination_weights(sq_c, sq_p, n_cells, target=o, origins=orig_idx)
        weights[o] = w
        h_o = f.shape[1]
        wc = w[np.arange(h_o)[None, :, None], ct]
        persist = np.broadcast_to(counts[:, o : o + 1, :], f.shape)
        point[o] = wc * f + (1.0 - wc) * persist
        if final and o == last:
            continue
        actual = counts[:, o + 1 : o + 1 + h_o, :]
        ok = cells[r, :h_o].transpose(1, 0, 2) >= 0
        err_f[r, :h_o] = np.where(ok, log_error(actual, point[o]), np.nan).transpose(1, 0, 2)
    # errors of totals (per zone and group; all zones)
    err_t = np.full((n_o, horizon, n_z, n_groups), np.nan)
    err_a = np.full((n_o, horizon, 1, n_groups), np.nan)
    for r, o in enumerate(origins):
        if o not in point or (final and o == last):
            continue
        h_o = point[o].shape[1]
        actual = _group_sums(counts[:, o + 1 : o + 1 + h_o, :], groups, n_groups)
        fc = _group_sums(point[o], groups, n_groups)
        ok = np.isfinite(actual) & np.isfinite(fc) & (actual + fc > 0)
        err_t[r, :h_o] = np.where(ok, log_error(actual, fc), np.nan).transpose(1, 0, 2)
        okz = ok.all(axis=0)
        tot_a, tot_f = np.where(ok, actual, 0).sum(axis=0), np.where(ok, fc, 0).sum(axis=0)
        err_a[r, :h_o, 0] = np.where(okz, log_error(tot_a, tot_f), np.nan)
    q: dict[int, np.ndarray] = {}
    q_total: dict[int, np.ndarray] = {}
    q_all: dict[int, np.ndarray] = {}
    fallback: dict[int, bool] = {}
    one_type = np.zeros(err_t.shape, dtype=np.int8)
    for o in band_origins:
        if o not in point:
            continue
        opts = {"target": o, "origins": orig_idx, "window": s.error_window}
        q[o], fallback[o] = band_scales(np.abs(err_f), cells, n_types=n_c, **opts)
        q_total[o], _ = band_scales(np.abs(err_t), one_type, n_types=1, **opts)
        q_all[o], _ = band_scales(np.abs(err_a), one_type[:, :, :1], n_types=1, **opts)
    return Engine(origins=origins, point=point, ctype=ctypes, q=q, q_total=q_total, q_all=q_all,
                  fallback=fallback, weights=weights, ratios=ratios_at, breaks=breaks_at,
                  n_errors=int((cells >= 0).sum()))


def check_births_cover(panel: Panel, births: BirthsTable, entry_age: int) -> None:
    """Births must reach the year feeding the first forecast year's entrants."""
    need_from = int(panel.years[-1]) + 1 - entry_age
    short = [births.keys[k] for k in range(len(births.keys)) if int(births.start[k]) > need_from]
    if short:
        start = min(int(births.start[births.keys.index(k)]) for k in short)
        raise SchemaError(
            f"births start in {start}{' for zone(s) ' + fmt(short) if short != [None] else ''}, but "
            f"entrants in {panel.years[-1] + 1} need births of {need_from} (entry age {entry_age})",
            column="year",
            fix=f"supply births from {need_from} on (better: from {int(panel.years[0]) - entry_age})",
        )


@dataclass(frozen=True)
class CohortForecast:
    """A forecast with everything a planner (and an auditor) needs, all as frames.

    Attributes
    ----------
    pupils
        ``[zone,] [level,] year, grade, p10, p50, p90, cell`` — pupils per grade;
        ``cell`` is ``carried``, ``entry`` or ``entry_projected`` (the cell type of the band).
    totals
        ``[zone,] [level,] year, p10, p50, p90`` — totals with their own bands (zone
        ``"ALL"`` = all zones, when there are several).
    ratios
        Ratios fitted at the origin (:func:`schoolplan.forecast.fit_ratios` columns).
    breaks
        Count breaks found up to the origin (:func:`schoolplan.forecast.detect_breaks` columns).
    diagnostics
        Notes: ``kind, level, zone, year, grade, value, detail, message`` (kinds:
        ``count_break``, ``jump_unconfirmed``, ``pooled_ratio``, ``assumed_ratio``,
        ``default_band``, ``short_history``, ``missing_rows``, ``missing_years``, …).
        Every message is also emitted as a DataWarning.
    method
        One line on how the intervals were made.
    """

    pupils: pd.DataFrame
    totals: pd.DataFrame
    ratios: pd.DataFrame
    breaks: pd.DataFrame
    diagnostics: pd.DataFrame
    method: str


def note_breaks(notes: Diagnostics, bf: pd.DataFrame) -> None:
    """Record detected breaks as diagnostics (``count_break`` / ``jump_unconfirmed``)."""
    for row in bf.itertuples(index=False):
        zone = getattr(row, "zone", None)
        where = f"zone {zone}, " if zone not in (None, "county") else ""
        if row.kind == "unconfirmed":
            msg = (f"count jump in the last year {row.year} ({where}continuation {row.change_pct:+.1f} %, "
                   f"threshold {row.threshold_pct:.1f} %): not yet known whether it reverses; its ratios "
                   "are left out")
            notes.add("jump_unconfirmed", msg, zone=zone, year=row.year, value=row.change_pct, detail=row.kind)
        else:
            how = "bridged with two-year cohort ratios" if row.kind == "spike" else "its ratios left out"
            msg = (f"count break in {row.year} ({where}{row.kind}, continuation {row.change_pct:+.1f} %, "
                   f"threshold {row.threshold_pct:.1f} %, found in the {row.found_in} series): {how}")
            notes.add("count_break", msg, zone=zone, year=row.year, value=row.change_pct, detail=row.kind)


def forecast_panel(panel: Panel, table: BirthsTable, s: Settings, *, horizon: int, scenario: Scenario,
                   notes: Diagnostics, groups: Sequence[int] | None = None,
                   group_names: Sequence[str] | None = None) -> CohortForecast:
    """Run the model on a validated panel; frames as in :class:`CohortForecast`."""
    n_z, n_y, n_g = panel.counts.shape
    grp = np.zeros(n_g, dtype=np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
    names = ["total"] if group_names is None else list(group_names)
    last = n_y - 1
    eng = run_engine(panel, table, s, horizon=horizon, groups=grp, n_groups=len(names), band_origins=[last],
                     final=True, scenario=scenario, notes=notes)
    rat = eng.ratios[last]
    if not np.isfinite(rat.entry).all():
        raise SchemaError(
            f"no year where both grade {panel.grades[0]} pupils and births {s.ratios.entry_age} years earlier "
            "are known; cannot estimate the entry ratio",
            column="year",
            fix=f"supply births from {int(panel.years[0]) - s.ratios.entry_age} on",
        )
    bf = breaks_frame(panel, eng.breaks[last], last)
    note_breaks(notes, bf)
    n_origins = len(eng.origins) - 1
    if eng.fallback[last]:
        notes.add("default_band", f"too little history to back-test ({n_y} year(s)); intervals use a default "
                  f"log-normal spread of {DEFAULT_LOG_SD:.0%} per √year", value=DEFAULT_LOG_SD)
    elif n_origins < SHORT_HISTORY_ORIGINS:
        notes.add("short_history", f"only {n_origins} past origin(s) to measure the model's errors "
                  f"({n_y} years of enrolment); bands are widened for the small sample (Student t) but rest "
                  "on little evidence", value=n_origins)
    point, ct = eng.point[last], eng.ctype[last]
    q = eng.q[last]
    qc = cell_bands(q, ct)
    p10, p50, p90 = apply_band(point, qc)
    keys = zone_keys(panel)
    years = panel.years[-1] + 1 + np.arange(horizon)
    pupils = pd.DataFrame({
        "zone": np.repeat(np.array(keys, dtype=object), horizon * n_g),
        "year": np.tile(np.repeat(years, n_g), n_z),
        "grade": pd.Series(list(panel.grades) * (n_z * horizon), dtype=grade_dtype(panel.grades)),
        "p10": p10.reshape(-1), "p50": p50.reshape(-1), "p90": p90.reshape(-1),
        "cell": np.array(CELL_TYPES, dtype=object)[ct.reshape(-1)],
    })
    tot = _group_sums(p50, grp, len(names))  # (Z, H, groups)
    t10, t50, t90 = apply_band(tot, eng.q_total[last][:, :, 0, :])
    parts = [pd.DataFrame({
        "zone": np.repeat(np.array(keys, dtype=object), horizon * len(names)),
        "group": np.tile(np.array(names, dtype=object), n_z * horizon),
        "year": np.tile(np.repeat(years, len(names)), n_z),
        "p10": t10.reshape(-1), "p50": t50.reshape(-1), "p90": t90.reshape(-1),
    })]
    if panel.has_zone and n_z > 1:
        a10, a50, a90 = apply_band(tot.sum(axis=0, keepdims=True), eng.q_all[last][:, :, 0, :])
        parts.append(pd.DataFrame({
            "zone": ALL, "group": np.tile(np.array(names, dtype=object), horizon),
            "year": np.repeat(years, len(names)),
            "p10": a10.reshape(-1), "p50": a50.reshape(-1), "p90": a90.reshape(-1),
        }))
    totals = pd.concat(parts, ignore_index=True)
    ratios = ratios_frame(rat, keys, panel.grades, has_zone=True)
    n_err = eng.n_errors
    method = ("default spread (no back-test possible)" if eng.fallback[last] else
              f"back-test log errors by horizon and cell type ({n_err} errors from {len(eng.origins) - 1} "
              f"origins), Student-t widened" + ("; combined with persistence" if s.combine else ""))
    if not panel.has_zone:
        pupils, totals, ratios = (x.drop(columns="zone") for x in (pupils, totals, ratios))
        bf = bf.drop(columns="zone")
    if groups is None:
        totals = totals.drop(columns="group")
    return CohortForecast(pupils=pupils, totals=totals, ratios=ratios, breaks=bf, diagnostics=notes.frame(),
                          method=method)


def cohort_forecast(
    enrolment: pd.DataFrame,
    births: pd.DataFrame,
    *,
    horizon_years: int,
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
    births_scenario: Scenario = "medium",
    combine: bool = DEFAULT_COMBINE,
    births_lag_years: int = 0,
    error_window_years: int | None = DEFAULT_ERROR_WINDOW,
) -> CohortForecast:
    """Forecast pupils by grade and year with 80 % bands, ratios and diagnostics as frames.

    Parameters are those of :func:`cohort_survival`; the result bundles the per-grade
    forecast, totals with their own bands, the ratios, the count breaks and the
    diagnostics (:class:`CohortForecast`).
    """
    horizon = check_int(horizon_years, "horizon_years")
    scenario_multiplier(births_scenario, np.array([2000]), 1999)  # validate early
    notes = Diagnostics()
    panel = build_panel(enrolment, grades, notes=notes)
    table = build_births(births, panel, notes=notes)
    s = make_settings(panel, entry_age=entry_age, progression_window=progression_window,
                      entry_window=entry_window, smoothing=smoothing, min_pairs=min_pairs,
                      break_threshold=break_threshold, break_years=break_years, births_model=births_model,
                      births_window=births_window, damping=damping, combine=combine,
                      births_lag_years=births_lag_years, error_window_years=error_window_years)
    check_births_cover(panel, table, s.ratios.entry_age)
    out = forecast_panel(panel, table, s, horizon=horizon, scenario=births_scenario, notes=notes)
    notes.warn()
    return out


def cohort_survival(
    enrolment: pd.DataFrame,
    births: pd.DataFrame,
    *,
    horizon_years: int,
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
    births_scenario: Scenario = "medium",
    combine: bool = DEFAULT_COMBINE,
    births_lag_years: int = 0,
    error_window_years: int | None = DEFAULT_ERROR_WINDOW,
) -> pd.DataFrame:
    """Forecast pupils by grade and year with an 80 % range (cohort survival).

    Parameters
    ----------
    enrolment
        Columns ``year``, ``grade``, ``students`` (pupils enrolled, persons), optionally
        ``zone`` (township / county-seat zone). One row per (zone,) year and grade; every
        zone needs every grade in the last year (0 where a grade has no pupils).
    births
        Columns ``year``, ``births`` (persons), optionally ``zone``. Without ``zone`` the
        county series is shared by all zones (each zone's entry ratio then estimates its
        share of county births). Years must be continuous and reach back to
        ``last enrolment year + 1 − entry_age``.
    horizon_years
        Number of years to forecast after the last enrolment year.
    entry_age
        Age at entry to the first grade of ``grades`` (6 for primary grade 1, 3 for
        kindergarten 小班, 12 for junior grade 7 fed from births).
    grades
        Grade labels in order, entry grade first, e.g. ``range(1, 7)``, ``[7, 8, 9]`` or
        ``["K", 1, 2, 3, 4, 5, 6]``. Labels match ``1``, ``1.0`` and ``"1"`` alike, and
        text case-insensitively.
    progression_window
        Most recent usable years averaged for each progression ratio (None = all).
    entry_window
        Most recent usable years for the entry ratio (None = all years).
    smoothing
        α of the weights :math:`(1 - α)^{T - t}` inside the windows (0 = equal weights).
    min_pairs
        Fewest usable years for a zone's own ratio; fewer → ratio pooled over zones.
    break_threshold
        τ of count-break detection as a share (None = no detection); see
        :mod:`schoolplan.forecast.breaks`.
    break_years
        Years known to be count breaks (all zones) or ``{zone: years}``.
    births_model, births_window, damping, births_scenario
        Projection of births beyond the last observed year
        (:func:`schoolplan.forecast.project_births`).
    combine
        Mix with persistence per horizon, weighted by past errors.
    births_lag_years
        In the past re-fits behind the intervals, births of the last
        ``births_lag_years`` years before each origin count as not yet registered.
    error_window_years
        Bands come from past errors whose target year lies in the last
        ``error_window_years`` years (None = all past errors).

    Returns
    -------
    DataFrame
        ``[zone,] year, grade, p10, p50, p90`` (pupils, floats ≥ 0; p10 ≤ p50 ≤ p90) for
        years ``last + 1 … last + horizon_years``; p50 is the point forecast. Quantiles
        are per row: summing p10 over grades gives a wider band than the p10 of the
        total; use :func:`cohort_forecast` for totals with their own bands, the ratios
        and the diagnostics as frames.

    Raises
    ------
    SchemaError
        Missing columns, negative/missing counts, unknown grades, duplicate rows, a zone
        without its last year, births that do not cover the years needed.
    ConfigError
        Invalid parameters.

    Warns
    -----
    DataWarning
        Every diagnostic (count breaks, pooled ratios, default bands, missing rows …).

    Notes
    -----
    Assumes the ratios of the recent past continue; extra migration (进城读书),
    两集中 transfers and new housing are separate steps.
    """
    fc = cohort_forecast(enrolment, births, horizon_years=horizon_years, entry_age=entry_age, grades=grades,
                         progression_window=progression_window, entry_window=entry_window,
                         smoothing=smoothing, min_pairs=min_pairs, break_threshold=break_threshold,
                         break_years=break_years, births_model=births_model, births_window=births_window,
                         damping=damping, births_scenario=births_scenario, combine=combine,
                         births_lag_years=births_lag_years, error_window_years=error_window_years)
    return fc.pupils.drop(columns="cell")
