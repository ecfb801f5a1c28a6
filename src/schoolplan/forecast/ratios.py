"""Entry and grade-progression ratios (入学比, 年级递进比) as a demographer would use them.

For zone :math:`z`, grades :math:`g_0, g_1, \\dots` (entry grade first) and school year t:

* progression ratio :math:`r_{z,i} = \\sum_t w_t N_{z,g_{i+1},t} \\,/\\, \\sum_t w_t N_{z,g_i,t-1}`
  over the last ``progression_window`` *usable* years (years whose pair is observed and
  not a count break; see :mod:`schoolplan.forecast.breaks`);
* entry ratio :math:`e_z = \\sum_t w_t N_{z,g_0,t} \\,/\\, \\sum_t w_t B_z(t - a)` over the
  last ``entry_window`` usable years (default: all years), with births
  :math:`B_z(y)` observed, not projected, and :math:`a` the entry age.

Weights :math:`w_t = (1 - α)^{T - t}` with α = ``smoothing`` (0 = every year of the
window counts the same; T = origin year). Ratios of sums (not means of yearly ratios)
keep small grades from dominating. Ratios absorb net migration, mortality, repetition
and registration gaps: above 1 means net in-flow (typical of the county seat), below 1
net out-flow. A zone with fewer than ``min_pairs`` usable years, or no pupils to
progress, gets the ratio pooled over zones (same window and weights) and a
``pooled_ratio`` diagnostic; with no usable year anywhere the progression ratio is
assumed 1 and the entry ratio 0 (``assumed_ratio``).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from schoolplan.forecast._inputs import (
    BirthsTable,
    Diagnostics,
    Grade,
    Panel,
    build_births,
    build_panel,
    check_fraction,
    check_int,
    fmt,
    zone_keys,
)
from schoolplan.forecast.breaks import (
    NONE,
    SHIFT,
    SPIKE,
    UNCONFIRMED,
    Breaks,
    BreakYears,
    bridge_spikes,
    explicit_breaks,
    find_breaks,
)

__all__ = [
    "DEFAULT_BREAK_THRESHOLD",
    "DEFAULT_ENTRY_WINDOW",
    "DEFAULT_MIN_PAIRS",
    "DEFAULT_PROGRESSION_WINDOW",
    "DEFAULT_SMOOTHING",
    "RatioOptions",
    "Ratios",
    "entry_births",
    "estimate_ratios",
    "fit_origin",
    "fit_ratios",
    "ratio_options",
    "ratios_frame",
    "window_sums",
]

#: Defaults of the ratio fit, chosen by the rolling-origin back-test in
#: ``benchmarks/bench_forecast.py`` (see ``benchmarks/RESULTS_forecast.md``).
DEFAULT_PROGRESSION_WINDOW: int | None = 5
DEFAULT_ENTRY_WINDOW: int | None = 10
DEFAULT_SMOOTHING = 0.0
DEFAULT_MIN_PAIRS = 2
DEFAULT_BREAK_THRESHOLD: float | None = 0.03


@dataclass(frozen=True)
class RatioOptions:
    """Options of the ratio fit (see :func:`schoolplan.forecast.fit_ratios`).

    ``break_threshold`` is τ in logs (None = no detection); ``explicit`` the
    ``(zones, years)`` user-listed breaks.
    """

    entry_age: int
    progression_window: int | None
    entry_window: int | None
    smoothing: float
    min_pairs: int
    break_threshold: float | None
    explicit: np.ndarray | None = None


@dataclass(frozen=True)
class Ratios:
    """Ratios fitted at one origin: entry ``(zones,)``, progression ``(zones, grades − 1)``."""

    entry: np.ndarray
    prog: np.ndarray
    entry_n: np.ndarray
    prog_n: np.ndarray
    entry_pooled: np.ndarray
    prog_pooled: np.ndarray


def window_sums(num: np.ndarray, den: np.ndarray, usable: np.ndarray, weights: np.ndarray,
                window: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted sums over the last ``window`` usable years along axis 1.

    Parameters
    ----------
    num, den
        ``(zones, years, k)`` numerators and denominators.
    usable
        Same shape; years that may be used.
    weights
        ``(years,)`` weights.
    window
        Number of most recent usable years (None = all).

    Returns
    -------
    tuple of ndarray
        Weighted numerator and denominator sums and the number of years used, ``(zones, k)``.
    """
    ok = usable & np.isfinite(num) & np.isfinite(den)
    if window is not None:
        rank = np.cumsum(ok[:, ::-1], axis=1)[:, ::-1]
        ok = ok & (rank <= window)
    w = weights[None, :, None] * ok
    wn = (np.where(ok, num, 0.0) * w).sum(axis=1)
    wd = (np.where(ok, den, 0.0) * w).sum(axis=1)
    return wn, wd, ok.sum(axis=1)


def _finish(wn: np.ndarray, wd: np.ndarray, n: np.ndarray, min_pairs: int, *, fallback: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Zone ratios, pooled where a zone lacks history; returns ratio, pooled flag, loud flag, pooled value."""
    total_d = wd.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = np.where(total_d > 0, wn.sum(axis=0) / np.where(total_d > 0, total_d, 1.0), np.nan)
        own = np.where(wd > 0, wn / np.where(wd > 0, wd, 1.0), np.nan)
    use = (n >= min_pairs) & (wd > 0)
    fill = np.where(np.isfinite(pooled), pooled, fallback)
    ratio = np.where(use, own, fill[None, :])
    need = ~use
    # a zone with nothing to progress and nothing arriving: the ratio does not matter
    loud = need & ~((wd == 0) & (wn == 0))
    return ratio, need, loud, pooled


def entry_births(panel: Panel, births: BirthsTable, entry_age: int, known_to: int | None) -> np.ndarray:
    """Observed births of ``year − entry_age`` for every zone and panel year ``(zones, years)``."""
    obs = births.observed(panel.years - entry_age, None if known_to is None else known_to)
    return obs[births.series_of_zone]


def estimate_ratios(counts: np.ndarray, births_entry: np.ndarray, oi: int, *, years: np.ndarray,
                    progression_window: int | None, entry_window: int | None, smoothing: float,
                    min_pairs: int, pair_ok: np.ndarray, entry_ok: np.ndarray,
                    notes: Diagnostics | None = None, zones: list[Hashable] | None = None,
                    grades: list[Grade] | None = None, entry_age: int = 0, has_zone: bool = True
                    ) -> Ratios:
    """Fit entry and progression ratios on years ``0..oi`` (module docstring).

    ``pair_ok[z, t]`` says whether the progression pairs ending in year t may be used,
    ``entry_ok[z, t]`` whether year t's entrants may; ``births_entry[z, t]`` holds the
    births feeding year t's entrants (NaN when unknown). Notes about pooled or assumed
    ratios go to ``notes`` when given.
    """
    n_z, _, n_g = counts.shape
    age = (years[oi] - years[: oi + 1]).astype(float)
    w = np.power(1.0 - smoothing, age)
    # entry
    wn, wd, n = window_sums(counts[:, : oi + 1, :1], births_entry[:, : oi + 1, None],
                            entry_ok[:, : oi + 1, None], w, entry_window)
    if n.sum() == 0:  # no year with both entrants and births: the caller decides
        entry = np.full(n_z, np.nan)
        entry_pooled = np.zeros(n_z, dtype=bool)
        loud_e = entry_pooled
        pooled_e = np.array([np.nan])
    else:
        e, entry_pooled2, loud2, pooled_e = _finish(wn, wd, n, min_pairs, fallback=0.0)
        entry, entry_pooled, loud_e = e[:, 0], entry_pooled2[:, 0], loud2[:, 0]
    entry_n = n[:, 0]
    # progression
    if oi >= 1 and n_g > 1:
        num = counts[:, 1 : oi + 1, 1:]
        den = counts[:, :oi, :-1]
        ok = np.repeat(pair_ok[:, 1 : oi + 1, None], n_g - 1, axis=2)
        pwn, pwd, pn = window_sums(num, den, ok, w[1:], progression_window)
    else:
        pwn = pwd = np.zeros((n_z, max(n_g - 1, 0)))
        pn = np.zeros((n_z, max(n_g - 1, 0)), dtype=np.int64)
    prog, prog_pooled, loud_p, pooled_p = _finish(pwn, pwd, pn, min_pairs, fallback=1.0)
    if notes is not None and zones is not None and grades is not None:
        def who(mask: np.ndarray) -> str:
            return f"zone(s) {fmt(zones[i] for i in np.nonzero(mask)[0])}" if has_zone else "the county"

        label = f"entry ratio (grade {grades[0]} / births {entry_age} years earlier)"
        if loud_e.any():
            kind = "pooled_ratio" if np.isfinite(pooled_e[0]) else "assumed_ratio"
            msg = (f"{label}: {who(loud_e)} have fewer than {min_pairs} usable year(s) or no pupils to "
                   f"progress; used the county-pooled ratio {pooled_e[0]:.4f}" if kind == "pooled_ratio"
                   else f"{label}: no usable history anywhere; assumed ratio 0")
            for z in np.nonzero(loud_e)[0]:
                notes.add(kind, msg, zone=zones[z] if has_zone else None, grade=grades[0],
                          value=float(entry[z]), detail=label)
        for i in range(n_g - 1):
            if not loud_p[:, i].any():
                continue
            label = f"progression grade {grades[i]} → {grades[i + 1]}"
            kind = "pooled_ratio" if np.isfinite(pooled_p[i]) else "assumed_ratio"
            msg = (f"{label}: {who(loud_p[:, i])} have fewer than {min_pairs} usable year(s) or no pupils "
                   f"to progress; used the county-pooled ratio {pooled_p[i]:.4f}" if kind == "pooled_ratio"
                   else f"{label}: no usable history anywhere; assumed ratio 1")
            for z in np.nonzero(loud_p[:, i])[0]:
                notes.add(kind, msg, zone=zones[z] if has_zone else None, grade=grades[i + 1],
                          value=float(prog[z, i]), detail=label)
    return Ratios(entry=entry, prog=prog, entry_n=entry_n, prog_n=pn, entry_pooled=entry_pooled,
                  prog_pooled=prog_pooled)


def ratios_frame(r: Ratios, zones: Iterable[Hashable], grades: list[Grade], *, has_zone: bool,
                 level: str | None = None) -> pd.DataFrame:
    """Ratios as a tidy frame ``[level,] [zone,] transition, grade_from, grade, ratio, n_years, pooled``.

    ``grade`` is the destination grade (the entry grade for ``transition == "entry"``,
    where ``grade_from`` is missing) and keeps the dtype of the grade labels.
    """
    zones = list(zones)
    n_z, n_g = len(zones), len(grades)
    dest = np.tile(np.arange(n_g), n_z)
    zi = np.repeat(np.arange(n_z), n_g)
    is_entry = dest == 0
    ratio = np.where(is_entry, r.entry[zi], r.prog[zi, np.maximum(dest - 1, 0)] if n_g > 1 else np.nan)
    n = np.where(is_entry, r.entry_n[zi], r.prog_n[zi, np.maximum(dest - 1, 0)] if n_g > 1 else 0)
    pooled = np.where(is_entry, r.entry_pooled[zi], r.prog_pooled[zi, np.maximum(dest - 1, 0)]
                      if n_g > 1 else False)
    dtype = "int64" if all(isinstance(g, int | np.integer) for g in grades) else "object"
    out = pd.DataFrame({
        "zone": pd.Series([zones[i] for i in zi], dtype=object),
        "transition": np.where(is_entry, "entry", "progression").astype(object),
        "grade_from": pd.Series([None if d == 0 else grades[d - 1] for d in dest], dtype=object),
        "grade": pd.Series([grades[d] for d in dest], dtype=dtype),
        "ratio": ratio.astype(float),
        "n_years": n.astype(np.int64),
        "pooled": pooled.astype(bool),
    })
    if dtype == "int64":
        out["grade_from"] = out["grade_from"].astype("Int64")
    if not has_zone:
        out = out.drop(columns="zone")
    if level is not None:
        out.insert(0, "level", level)
    return out


def fit_origin(panel: Panel, births: BirthsTable, oi: int, opts: RatioOptions, *, known_to: int | None,
               notes: Diagnostics | None = None) -> tuple[Ratios, Breaks]:
    """Detect count breaks up to year index ``oi``, bridge them, and fit the ratios.

    Spikes are bridged with ratios fitted without the two years around them; shifts and
    a jump in the origin year leave their year's pairs out (see
    :mod:`schoolplan.forecast.breaks`). Births after ``known_to`` count as unknown.
    """
    counts = panel.counts
    n_z, n_y = counts.shape[:2]
    if opts.break_threshold is None and opts.explicit is None:
        kind = np.zeros((n_z, n_y), dtype=np.int8)
        br = Breaks(kind=kind, deviation=np.full((n_z, n_y), np.nan), threshold=np.full((n_z, n_y), np.nan),
                    source=np.full((n_z, n_y), "", dtype=object))
    else:
        tau = np.inf if opts.break_threshold is None else opts.break_threshold
        br = find_breaks(counts, oi, threshold=tau, explicit=opts.explicit)
        kind = br.kind
    be = entry_births(panel, births, opts.entry_age, known_to)
    common = {"years": panel.years, "progression_window": opts.progression_window,
              "entry_window": opts.entry_window, "smoothing": opts.smoothing, "min_pairs": opts.min_pairs}
    entry_ok = kind == NONE
    pair_ok = ~np.isin(kind, (SHIFT, UNCONFIRMED))
    spikes = kind == SPIKE
    if spikes.any():
        around = spikes.copy()
        around[:, 1:] |= spikes[:, :-1]
        first = estimate_ratios(counts, be, oi, pair_ok=pair_ok & ~around, entry_ok=entry_ok, **common)
        counts = bridge_spikes(counts, kind, first.prog, oi)
    ratios = estimate_ratios(counts, be, oi, pair_ok=pair_ok, entry_ok=entry_ok, notes=notes,
                             zones=panel.zones, grades=panel.grades, entry_age=opts.entry_age,
                             has_zone=panel.has_zone, **common)
    return ratios, br


def ratio_options(panel: Panel, *, entry_age: int, progression_window: int | None, entry_window: int | None,
                  smoothing: float, min_pairs: int, break_threshold: float | None,
                  break_years: BreakYears) -> RatioOptions:
    """Validate the ratio options against ``panel``; ConfigError naming the option otherwise."""
    age = check_int(entry_age, "entry_age", minimum=0)
    pw = None if progression_window is None else check_int(progression_window, "progression_window")
    ew = None if entry_window is None else check_int(entry_window, "entry_window")
    alpha = check_fraction(smoothing, "smoothing",
                           fix="use e.g. 0.3 (recent years weigh more) or 0 (all years of the window equal)")
    mp = check_int(min_pairs, "min_pairs")
    tau = None
    if break_threshold is not None:
        tau = float(np.log1p(check_fraction(break_threshold, "break_threshold",
                                            fix="e.g. 0.03 (3 %), or None to detect no breaks")))
    return RatioOptions(entry_age=age, progression_window=pw, entry_window=ew, smoothing=alpha, min_pairs=mp,
                        break_threshold=tau, explicit=explicit_breaks(break_years, panel))


def fit_ratios(enrolment: pd.DataFrame, births: pd.DataFrame, *, entry_age: int = 6,
               grades: Iterable[Grade] = range(1, 7),
               progression_window: int | None = DEFAULT_PROGRESSION_WINDOW,
               entry_window: int | None = DEFAULT_ENTRY_WINDOW, smoothing: float = DEFAULT_SMOOTHING,
               min_pairs: int = DEFAULT_MIN_PAIRS, break_threshold: float | None = DEFAULT_BREAK_THRESHOLD,
               break_years: BreakYears = None) -> pd.DataFrame:
    """Entry and grade-progression ratios as used by :func:`schoolplan.forecast.cohort_survival`.

    Parameters
    ----------
    enrolment
        ``[zone,] year, grade, students``.
    births
        ``[zone,] year, births``.
    entry_age
        Years between birth and entry to the first grade.
    grades
        Grade labels in order, entry grade first.
    progression_window
        Number of most recent usable years averaged for each progression ratio (None = all).
    entry_window
        Number of most recent usable years for the entry ratio (None = all).
    smoothing
        α of the weights :math:`(1 - α)^{T - t}` inside the windows (0 = equal weights).
    min_pairs
        Fewest usable years for a zone's own ratio; fewer → ratio pooled over zones.
    break_threshold
        τ of count-break detection as a share (None = no detection); see
        :func:`schoolplan.forecast.detect_breaks`.
    break_years
        Years known to be count breaks (all zones) or ``{zone: years}``.

    Returns
    -------
    DataFrame
        ``[zone,] transition, grade_from, grade, ratio, n_years, pooled``:
        ``transition`` is ``"entry"`` (``grade`` = entry grade, ratio = entrants / births
        ``entry_age`` years earlier) or ``"progression"`` (ratio = pupils in ``grade`` in
        year t / pupils in ``grade_from`` in year t−1); ``n_years`` counts the years
        used; ``pooled`` marks zones that got the ratio pooled over zones. The grade
        columns keep the dtype of the grade labels.

    Warns
    -----
    DataWarning
        Pooled or assumed ratios, fractional counts, missing years or rows.
    """
    notes = Diagnostics()
    panel = build_panel(enrolment, grades, notes=notes)
    table = build_births(births, panel, notes=notes)
    opts = ratio_options(panel, entry_age=entry_age, progression_window=progression_window,
                         entry_window=entry_window, smoothing=smoothing, min_pairs=min_pairs,
                         break_threshold=break_threshold, break_years=break_years)
    ratios, _ = fit_origin(panel, table, len(panel.years) - 1, opts, known_to=None, notes=notes)
    notes.warn()
    return ratios_frame(ratios, zone_keys(panel), panel.grades, has_zone=panel.has_zone)
