"""Count breaks (统计口径变化): years whose counts jump and then reverse or settle.

A census change, a school moved between townships, charter schools counted from one
year, or the 2020 disruption make one year's counts incomparable with the year
before. Grade-progression ratios straddling such a year are not flows a demographer
would carry forward, so they are detected, reported, left out of the ratios and
bridged.

Detection
---------
For zone :math:`z` and year :math:`t` the *continuation index* compares the pupils
who moved up a grade with the pupils who could have (entry and leaving grades out,
so a large entry cohort does not look like a jump):

.. math::

    \\ell_t = \\log \\frac{\\sum_{g \\ge 1} N_{g,t}}{\\sum_{g \\le G-2} N_{g,t-1}}, \\qquad
    d_t = \\ell_t - \\operatorname{median}\\{\\ell_s : 0 < |s - t| \\le 3,\\ s \\le T\\},

using years up to the origin :math:`T` only. Year t is a *break* when
:math:`|d_t| > \\tau_z`, with :math:`\\tau_z = \\max(\\tau, 3 \\cdot 1.4826\\,
\\mathrm{MAD}(d))` (``break_threshold`` τ, widened for zones whose counts are noisy
anyway), and the next year shows what happened:

* **spike** — :math:`d_{t+1}` has the opposite sign and at least half the size: the
  counts of year t are off (reversal). Year t is bridged: every inner grade is
  replaced by the geometric interpolation along its cohort,
  :math:`N^*_{g,t} = \\sqrt{N_{g-1,t-1} N_{g+1,t+1} \\, r_{g-1} / r_g}` with the clean
  ratios :math:`r` (fitted without the straddling years), so the two-year cohort ratio
  :math:`N_{g+1,t+1} / N_{g-1,t-1}` is kept and split around the clean ratios; the
  entry and last grades of year t become unknown.
* **shift** — :math:`|d_{t+1}| < |d_t| / 2`: a level shift (the counts settle at the
  new level). The ratios of year t (pairs t−1 → t and the entry ratio of year t) are
  left out; later years are comparable with each other.
* otherwise the change continues (a real trend) and is kept.

A jump in the origin year itself cannot be classified yet (``jump_unconfirmed``): its
ratios are left out as well (either kind of break would distort them) and it is
reported. Breaks of the sum over all zones apply to every zone. ``break_years``
lists breaks explicitly (classified by the next year the same way, without the
threshold).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from schoolplan.errors import ConfigError
from schoolplan.forecast._inputs import (
    Diagnostics,
    Grade,
    Panel,
    build_panel,
    check_fraction,
    nan_median,
    zone_keys,
)

__all__ = [
    "BREAK_KINDS",
    "NONE",
    "SHIFT",
    "SPIKE",
    "UNCONFIRMED",
    "BreakYears",
    "Breaks",
    "breaks_frame",
    "bridge_spikes",
    "continuation_index",
    "detect_breaks",
    "explicit_breaks",
    "find_breaks",
]

NONE, SPIKE, SHIFT, UNCONFIRMED = 0, 1, 2, 3
#: Codes of :attr:`Breaks.kind` and their names in diagnostics.
BREAK_KINDS: dict[int, str] = {SPIKE: "spike", SHIFT: "shift", UNCONFIRMED: "unconfirmed"}
BreakYears = Iterable[int] | Mapping[Hashable, Iterable[int]] | None

_NEIGHBOURS = 3
_NOISE_MULT = 3.0
_MAD_TO_SD = 1.4826


@dataclass(frozen=True)
class Breaks:
    """Breaks per zone and year index (``kind``), with the deviations that found them."""

    kind: np.ndarray  # (zones, years) int8 codes
    deviation: np.ndarray  # (zones, years) d_t, NaN where undefined
    threshold: np.ndarray  # (zones, years) τ of the series that was tested
    source: np.ndarray  # (zones, years) "zone" or "county" (object), "" where no break


def _continuation_sums(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numerator and denominator of :math:`\\ell_t` per row and year (pairs observed in both years)."""
    prev, cur = counts[:, :-1, :-1], counts[:, 1:, 1:]
    ok = np.isfinite(prev) & np.isfinite(cur)
    num = np.where(ok, cur, 0.0).sum(axis=2)
    den = np.where(ok, prev, 0.0).sum(axis=2)
    pad = np.zeros((counts.shape[0], 1))
    return np.concatenate([pad, num], axis=1), np.concatenate([pad, den], axis=1)


def continuation_index(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """:math:`\\ell_t = \\log(num / den)` (NaN where either is 0, e.g. the first year)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((num > 0) & (den > 0), np.log(num / np.where(den > 0, den, 1.0)), np.nan)


def _deviations(ell: np.ndarray, oi: int) -> np.ndarray:
    """:math:`d_t` for years 1..oi: ℓ_t minus the median of its neighbours within ±3 years (≤ oi)."""
    n_rows = ell.shape[0]
    d = np.full(ell.shape, np.nan)
    if oi < 1:
        return d
    t = np.arange(1, oi + 1)
    offsets = np.array([o for o in range(-_NEIGHBOURS, _NEIGHBOURS + 1) if o != 0])
    idx = t[:, None] + offsets[None, :]  # (T, 2k)
    inside = (idx >= 1) & (idx <= oi)
    nb = np.where(inside[None], ell[:, np.clip(idx, 0, oi)], np.nan)  # (rows, T, 2k)
    enough = np.isfinite(nb).sum(axis=2) >= 2
    d[:, 1 : oi + 1] = np.where(enough, ell[:, 1 : oi + 1] - nan_median(nb, axis=2), np.nan)
    return d.reshape(n_rows, -1)


def _classify(d: np.ndarray, big: np.ndarray, oi: int) -> np.ndarray:
    kind = np.zeros(d.shape, dtype=np.int8)
    for t in range(1, oi + 1):
        if t == oi:
            kind[:, t] = np.where(big[:, t] & (kind[:, t - 1] != SPIKE), UNCONFIRMED, NONE)
            continue
        nxt = d[:, t + 1]
        cur = d[:, t]
        known = np.isfinite(nxt) & np.isfinite(cur)
        spike = known & (np.sign(nxt) == -np.sign(cur)) & (np.abs(nxt) >= 0.5 * np.abs(cur))
        shift = known & ~spike & (np.abs(nxt) < 0.5 * np.abs(cur))
        kind[:, t] = np.where(big[:, t] & spike, SPIKE, np.where(big[:, t] & shift, SHIFT, NONE))
        kind[:, t] = np.where(kind[:, t - 1] == SPIKE, NONE, kind[:, t])  # the reversal of a spike
    return kind


def _detect(ell: np.ndarray, oi: int, threshold: float, explicit: np.ndarray | None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deviations, zone thresholds τ_z and break codes for each row of ``ell`` (years 0..oi)."""
    d = _deviations(ell, oi)
    med = nan_median(d, axis=1)[:, None]
    mad = nan_median(np.abs(d - med), axis=1)
    noise = np.where(np.isfinite(mad), _MAD_TO_SD * mad, 0.0)
    tau = np.maximum(threshold, _NOISE_MULT * noise)
    big = np.abs(np.nan_to_num(d)) > tau[:, None]
    if explicit is not None:
        big |= explicit & np.isfinite(d)
    kind = _classify(d, big, oi)
    if explicit is not None:  # listed years the next year cannot classify: shifts
        kind[(kind == NONE) & explicit & np.isfinite(d)] = SHIFT
    return d, tau, kind


def find_breaks(counts: np.ndarray, oi: int, *, threshold: float, explicit: np.ndarray | None = None,
                pool_zones: bool = True) -> Breaks:
    """Detect count breaks in years ``1..oi`` of ``counts[zone, year, grade]`` (see module docstring).

    Parameters
    ----------
    counts
        Pupils, NaN where unknown.
    oi
        Index of the origin year; later years are ignored.
    threshold
        τ, the smallest jump of the continuation index (in logs) counted as a break.
    explicit
        Optional ``(zones, years)`` booleans of user-listed break years.
    pool_zones
        Also test the sum over zones and apply its breaks to every zone.

    Returns
    -------
    Breaks
    """
    n_z, n_y = counts.shape[:2]
    if counts.shape[2] < 2 or oi < 2:
        empty = np.zeros((n_z, n_y), dtype=np.int8)
        return Breaks(kind=empty, deviation=np.full((n_z, n_y), np.nan), threshold=np.full((n_z, n_y), threshold),
                      source=np.full((n_z, n_y), "", dtype=object))
    num, den = _continuation_sums(counts[:, : oi + 1])
    exp = None if explicit is None else explicit[:, : oi + 1]
    zone_d, tau, zone_kind = _detect(continuation_index(num, den), oi, threshold, exp)
    source = np.where(zone_kind != NONE, "zone", "").astype(object)
    tau_used = np.repeat(tau[:, None], oi + 1, axis=1)
    if pool_zones and n_z > 1:
        # the sum over zones without the zone-years that already broke (so one zone's break
        # does not spread to all), each zone's pairs observed in both years
        own = zone_kind != NONE
        own[:, 1:] |= zone_kind[:, :-1] == SPIKE
        ell = continuation_index(np.where(own, 0.0, num).sum(axis=0, keepdims=True),
                                 np.where(own, 0.0, den).sum(axis=0, keepdims=True))
        d_all, tau_all, k_all = _detect(ell, oi, threshold,
                                        None if exp is None else exp.all(axis=0, keepdims=True))
        take = (k_all != NONE) & (zone_kind == NONE)
        tau_used = np.where(take, tau_all[:, None], tau_used)
        zone_kind = np.where(take, k_all, zone_kind)
        source = np.where(take, "county", source)
        zone_d = np.where(take, d_all, zone_d)
    full_kind = np.zeros((n_z, n_y), dtype=np.int8)
    full_kind[:, : oi + 1] = zone_kind
    full_d = np.full((n_z, n_y), np.nan)
    full_d[:, : oi + 1] = zone_d
    full_src = np.full((n_z, n_y), "", dtype=object)
    full_src[:, : oi + 1] = source
    full_tau = np.repeat(tau[:, None], n_y, axis=1)
    full_tau[:, : oi + 1] = tau_used
    return Breaks(kind=full_kind, deviation=full_d, threshold=full_tau, source=full_src)


def bridge_spikes(counts: np.ndarray, kind: np.ndarray, prog: np.ndarray, oi: int) -> np.ndarray:
    """Replace the counts of spike years by cohort interpolations (see module docstring).

    Parameters
    ----------
    counts
        ``(zones, years, grades)``; not modified.
    kind
        Break codes ``(zones, years)``.
    prog
        Clean progression ratios ``(zones, grades − 1)`` (ratio of grade i → i+1).
    oi
        Origin index (spikes need year t + 1 ≤ oi).

    Returns
    -------
    ndarray
        A bridged copy.
    """
    zs, ts = np.nonzero(kind[:, 1:oi] == SPIKE)
    if not len(zs):
        return counts
    out = counts.copy()
    ts = ts + 1
    n_g = counts.shape[2]
    for z, t in zip(zs, ts, strict=True):
        out[z, t, :] = np.nan
        if n_g < 3:
            continue
        before = counts[z, t - 1, : n_g - 2]
        after = counts[z, t + 1, 2:]
        r_in, r_out = prog[z, : n_g - 2], prog[z, 1:]
        with np.errstate(divide="ignore", invalid="ignore"):
            val = np.sqrt(before * after * r_in / r_out)
        ok = np.isfinite(val) & (r_out > 0)
        inner = out[z, t, 1 : n_g - 1]
        inner[ok] = val[ok]
    return out


def explicit_breaks(break_years: BreakYears, panel: Panel) -> np.ndarray | None:
    """``(zones, years)`` booleans from ``break_years`` (all zones, or ``{zone: years}``)."""
    if break_years is None:
        return None
    out = np.zeros((len(panel.zones), len(panel.years)), dtype=bool)
    first, last = int(panel.years[0]), int(panel.years[-1])

    def mark(rows: slice | int, years: Iterable[int]) -> None:
        for y in years:
            if isinstance(y, bool) or not isinstance(y, int | np.integer):
                raise ConfigError(f"break_years must hold whole years, got {y!r}", fix="e.g. break_years=[2020]")
            if first < int(y) <= last:
                out[rows, int(y) - first] = True

    if isinstance(break_years, Mapping):
        index = {str(z): i for i, z in enumerate(zone_keys(panel))}
        unknown = [z for z in break_years if str(z) not in index]
        if unknown:
            raise ConfigError(f"break_years names zone(s) {unknown} not in the enrolment",
                              fix="use the zones of the enrolment, or a plain list for all zones")
        for z, years in break_years.items():
            mark(index[str(z)], years)
    else:
        mark(slice(None), break_years)
    return out


def breaks_frame(panel: Panel, br: Breaks, oi: int) -> pd.DataFrame:
    """Detected breaks as rows ``[zone,] year, kind, change_pct, threshold_pct, found_in``."""
    zs, ts = np.nonzero(br.kind[:, : oi + 1] != NONE)
    keys = zone_keys(panel)
    return pd.DataFrame({
        "zone": [keys[z] for z in zs],
        "year": panel.years[ts].astype(np.int64),
        "kind": [BREAK_KINDS[int(br.kind[z, t])] for z, t in zip(zs, ts, strict=True)],
        "change_pct": np.round(np.expm1(br.deviation[zs, ts]) * 100, 2),
        "threshold_pct": np.round(np.expm1(br.threshold[zs, ts]) * 100, 2),
        "found_in": [br.source[z, t] for z, t in zip(zs, ts, strict=True)],
    })


def detect_breaks(enrolment: pd.DataFrame, *, grades: Iterable[Grade] = range(1, 7),
                  break_threshold: float = 0.03, break_years: BreakYears = None) -> pd.DataFrame:
    """Count breaks in an enrolment history (see the module docstring for the rule).

    Parameters
    ----------
    enrolment
        ``[zone,] year, grade, students``.
    grades
        Grade labels in order (at least two).
    break_threshold
        τ: the smallest jump of the continuation index counted as a break, as a share
        (0.03 = 3 %).
    break_years
        Years known to be breaks (all zones), or ``{zone: years}``.

    Returns
    -------
    DataFrame
        ``[zone,] year, kind, change_pct, threshold_pct, found_in``: ``kind`` is
        ``spike`` (counts off for one year, bridged), ``shift`` (level shift, ratios of
        that year left out) or ``unconfirmed`` (a jump in the last year);
        ``change_pct`` the jump of the continuation index; ``found_in`` ``zone`` or
        ``county`` (found in the sum over zones).
    """
    tau = check_fraction(break_threshold, "break_threshold", fix="e.g. 0.03 (3 %)", high=1.0)
    notes = Diagnostics()
    panel = build_panel(enrolment, grades, notes=notes)
    notes.warn()
    oi = len(panel.years) - 1
    br = find_breaks(panel.counts, oi, threshold=np.log1p(tau), explicit=explicit_breaks(break_years, panel))
    out = breaks_frame(panel, br, oi)
    if not panel.has_zone:
        out = out.drop(columns="zone")
    return out
