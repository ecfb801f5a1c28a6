"""Honest intervals and forecast combination from the model's own past errors.

Every forecast is re-made at each earlier origin o (data and births up to o only) and
its log errors :math:`e = \\log((A + 1) / (F + 1))` (one pupil added so empty grades
stay finite) are kept by horizon h, zone z and *cell type* c:

* ``carried`` — the cohort was enrolled at the origin and is carried forward by
  progression ratios;
* ``entry`` — the cohort enters after the origin from observed births;
* ``entry_projected`` — it enters from projected births.

For a forecast made at origin T only errors with :math:`o + h \\le T` count (known by
then), and of those only the ones whose target year :math:`o + h` lies in the last
``window`` years (default 8: recent errors describe the present better). Zones and
grades differ in how noisy they are, so every error is first scaled by a zone factor
:math:`f_z` and a grade factor :math:`f_g` — medians of :math:`|e| / m_{h,c}` over the
zone's (grade's) cells, :math:`m_{h,c}` being the median of :math:`|e|` at (h, c),
fitted alternately and shrunk towards 1 by ten cells' worth. With :math:`Q_{h,c}` the
80 % quantile of :math:`|e| / (f_z f_g)` at (h, c) over :math:`n_{h,c}` origins, the 80 %
band is symmetric in logs:

.. math::  q_{z,g,h,c} = \\frac{t_{0.9,\\,n_{h,c}}}{z_{0.9}} \\, Q_{h,c} \\, f_z f_g, \\qquad
           p_{10} = (F + 1) e^{-q} - 1, \\quad p_{90} = (F + 1) e^{q} - 1,

the ratio of Student's t to the normal 90 % quantile (on :math:`n_{h,c}` degrees of
freedom: the origins, not the correlated cells) widening bands that rest on few
origins. A quantile of absolute errors (not a root mean square) keeps a few wild years
from inflating every band. Horizons past the reach of the history take :math:`Q` from
the longest horizon with errors, scaled by :math:`h / h_{ref}` (errors of carried
cohorts grow about linearly with h in the US back-test: exponent 0.89); a cell type
never seen takes the scale of another type at the same horizon; the band of a zone's
grade never narrows as the horizon grows. Without any past error the band is
:math:`\\pm 1.2816 \\cdot 0.05 \\sqrt h` in logs (``default_band`` diagnostic). Bands for
totals (a zone's level, all zones) come the same way from the errors of the totals
themselves, so they are not the (too wide) sums of grade bands.

*Combination* (optional): at horizon h and cell type c the forecast is
:math:`w F_{cohort} + (1 - w) F_{persistence}` with
:math:`w = M_c^{-1} / (M_c^{-1} + M_p^{-1})`, where :math:`M_c` and :math:`M_p` are the
mean squared past log errors of the cohort model and of persistence at (h, c), pooled
over zones and grades, from origins o with o + h ≤ T only; without past errors w = 1.
"""

from __future__ import annotations

import warnings

import numpy as np

from schoolplan.forecast._inputs import nan_median

__all__ = [
    "CARRIED",
    "CELL_TYPES",
    "DEFAULT_LOG_SD",
    "ENTRY",
    "ENTRY_PROJECTED",
    "MIN_ORIGINS",
    "apply_band",
    "band_scales",
    "cell_bands",
    "combination_weights",
    "log_error",
    "t_quantile",
]

CARRIED, ENTRY, ENTRY_PROJECTED = 0, 1, 2
#: Names of the cell types (index = code).
CELL_TYPES: tuple[str, ...] = ("carried", "entry", "entry_projected")
#: Fallback log spread per √year when no past error exists.
DEFAULT_LOG_SD = 0.05
#: Fewest origins a horizon needs for its own scale.
MIN_ORIGINS = 2
_Z90 = 1.2815515655446004
_PRIOR_CELLS = 10.0
_FALLBACK_TYPES = {CARRIED: (ENTRY, ENTRY_PROJECTED), ENTRY: (ENTRY_PROJECTED, CARRIED),
                   ENTRY_PROJECTED: (ENTRY, CARRIED)}


def log_error(actual: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """:math:`\\log((A + 1) / (F + 1))` (NaN where either is unknown)."""
    with np.errstate(invalid="ignore"):
        return np.log((actual + 1.0) / (np.maximum(forecast, 0.0) + 1.0))


#: Student's t 90 % quantiles for 1–30 degrees of freedom (beyond: Cornish–Fisher expansion).
_T90 = np.array([3.077684, 1.885618, 1.637744, 1.533206, 1.475884, 1.439756, 1.414924, 1.396815, 1.383029,
                 1.372184, 1.363430, 1.356217, 1.350171, 1.345030, 1.340606, 1.336757, 1.333379, 1.330391,
                 1.327728, 1.325341, 1.323188, 1.321237, 1.319460, 1.317836, 1.316345, 1.314972, 1.313703,
                 1.312527, 1.311434, 1.310415])


def t_quantile(df: np.ndarray | float) -> np.ndarray:
    """Student's t 90 % quantile for ``df`` degrees of freedom (the normal 1.2816 for infinite df).

    Exact (six digits) for whole df ≤ 30; beyond, the Cornish–Fisher expansion
    :math:`z + (z^3 + z) / 4ν + (5z^5 + 16z^3 + 3z) / 96ν^2 + (3z^7 + 19z^5 + 17z^3 - 15z) / 384ν^3`
    (error below 1e-5). Fractional df ≤ 30 are rounded down (wider).
    """
    df = np.asarray(df, dtype=float)
    z = _Z90
    with np.errstate(divide="ignore", invalid="ignore"):
        cf = (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
              + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))
    small = np.isfinite(df) & (df >= 1) & (df <= 30)
    idx = np.clip(np.floor(np.where(small, df, 1)).astype(int) - 1, 0, 29)
    out = np.where(small, _T90[idx], np.where(np.isfinite(df) & (df > 30), cf, z))
    return out


def _fill_horizons(s: np.ndarray, df: np.ndarray) -> None:
    """Extrapolate missing horizons in place from the nearest horizon with a scale (∝ h)."""
    n_h = s.shape[0]
    hs = np.arange(1, n_h + 1, dtype=float)
    for c in range(s.shape[1]):
        have = np.nonzero(np.isfinite(s[:, c]))[0]
        if not len(have):
            continue
        for i in np.nonzero(~np.isfinite(s[:, c]))[0]:
            lower = have[have < i]
            ref = int(lower.max()) if len(lower) else int(have.min())
            s[i, c] = s[ref, c] * hs[i] / hs[ref]
            df[i, c] = df[ref, c]


def _median_ratio(num: np.ndarray, den: np.ndarray, keep: int) -> np.ndarray:
    """Median of ``num / den`` over every axis but ``keep`` (NaN cells ignored), shrunk towards 1."""
    ratio = np.moveaxis(num / den, keep, 0).reshape(num.shape[keep], -1)
    n = np.isfinite(ratio).sum(axis=1)
    med = nan_median(ratio, axis=1)
    med = np.where(np.isfinite(med) & (med > 0), med, 1.0)
    return (n * med + _PRIOR_CELLS) / (n + _PRIOR_CELLS)


def band_scales(abs_err: np.ndarray, ctype: np.ndarray, *, target: int, origins: np.ndarray,
                n_types: int = len(CELL_TYPES), window: int | None = None) -> tuple[np.ndarray, bool]:
    """Half-widths :math:`q` of the 80 % log band for a forecast made at year index ``target``.

    Parameters
    ----------
    abs_err
        Absolute past log errors ``(origins, H, zones, grades)`` (NaN = none).
    ctype
        Cell type of each error (same shape; −1 = none); use one type (all 0) and
        groups as "grades" for totals.
    target
        Year index of the forecast origin T; only errors with ``o + h ≤ T`` count.
    origins
        Year index of each row of ``abs_err``.
    n_types
        Number of cell types (3, or 1 for totals).
    window
        Use only errors whose target year lies in the last ``window`` years up to T
        (None = all).

    Returns
    -------
    tuple
        ``q`` of shape ``(zones, H, n_types, grades)`` (non-decreasing in h) and
        whether the default spread had to be used for every type.
    """
    _, n_h, n_z, n_g = abs_err.shape
    hs = np.arange(1, n_h + 1)
    valid = (origins[:, None] + hs[None, :]) <= target  # (O, H)
    if window is not None:  # only errors of target years in the last `window` years
        valid &= (origins[:, None] + hs[None, :]) > target - window
    ok = valid[:, :, None, None] & np.isfinite(abs_err) & (ctype >= 0)
    e = np.where(ok, abs_err, np.nan)
    by_type = [ok & (ctype == c) for c in range(n_types)]
    orig = np.stack([m.any(axis=(2, 3)).sum(axis=0) for m in by_type], axis=1).astype(float)  # (H, C)
    fz, fg = np.ones(n_z), np.ones(n_g)
    q80 = np.full((n_h, n_types), np.nan)
    if ok.any():
        med = np.stack([nan_median(np.moveaxis(np.where(m, e, np.nan), 1, 0).reshape(n_h, -1), axis=1)
                        for m in by_type], axis=1)
        h_idx = np.broadcast_to(np.arange(n_h)[None, :, None, None], ok.shape)
        typical = np.where(ok, med[h_idx, np.clip(ctype, 0, n_types - 1)], np.nan)
        typical = np.where(typical > 0, typical, np.nan)
        for _ in range(3):  # zone and grade factors: medians of |e| relative to the typical error
            fz = _median_ratio(e, typical * fg[None, None, None, :], 2)
            fg = _median_ratio(e, typical * fz[None, None, :, None], 3)
        u = e / (fz[None, None, :, None] * fg[None, None, None, :])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            q80 = np.stack([np.nanquantile(np.where(m, u, np.nan), 0.8, axis=(0, 2, 3)) for m in by_type], axis=1)
    q80 = np.where(orig >= MIN_ORIGINS, q80, np.nan)
    df = np.where(orig >= MIN_ORIGINS, orig, np.nan)
    _fill_horizons(q80, df)
    for c in range(n_types):
        if np.isfinite(q80[:, c]).any():
            continue
        for other in _FALLBACK_TYPES.get(c, ()):
            if other < n_types and np.isfinite(q80[:, other]).any():
                q80[:, c], df[:, c] = q80[:, other], df[:, other]
                break
    missing = ~np.isfinite(q80).any(axis=0)
    fallback = bool(missing.all())
    if missing.any():
        q80[:, missing] = (_Z90 * DEFAULT_LOG_SD * np.sqrt(hs))[:, None]
        df[:, missing] = np.inf
    widen = t_quantile(df) / _Z90
    q = (widen * q80)[None, :, :, None] * fz[:, None, None, None] * fg[None, None, None, :]
    q = np.fmax.accumulate(np.nan_to_num(q, nan=0.0), axis=1)
    return q, fallback


def combination_weights(sse_model: np.ndarray, sse_persist: np.ndarray, cnt: np.ndarray, *, target: int,
                        origins: np.ndarray) -> np.ndarray:
    """Weight ``(H, C)`` of the cohort model against persistence (module docstring).

    Arrays are ``(origins, H, C)`` sums pooled over zones and grades; only origins with
    ``o + h ≤ target`` count. Horizons or types without past errors take the weight of
    the nearest shorter horizon, else 1.
    """
    n_h = sse_model.shape[1]
    hs = np.arange(1, n_h + 1)
    valid = ((origins[:, None] + hs[None, :]) <= target)[:, :, None]
    m = (sse_model * valid).sum(axis=0)
    p = (sse_persist * valid).sum(axis=0)
    n = (cnt * valid).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where((n > 0) & (m + p > 0), p / (m + p), np.nan)
    for c in range(w.shape[1]):
        last = 1.0
        for h in range(n_h):
            if np.isfinite(w[h, c]):
                last = w[h, c]
            else:
                w[h, c] = last
    return w


def cell_bands(q: np.ndarray, ctype: np.ndarray) -> np.ndarray:
    """Half-width of every forecast cell ``(zones, H, grades)`` from ``q`` ``(zones, H, types, grades)``.

    Picks each cell's type, then keeps the band of a zone's grade from narrowing as the
    horizon grows (a later year is never more certain than an earlier one).
    """
    n_z, n_h, n_g = ctype.shape
    qc = q[np.arange(n_z)[:, None, None], np.arange(n_h)[None, :, None], ctype, np.arange(n_g)[None, None, :]]
    return np.maximum.accumulate(qc, axis=1)


def apply_band(point: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """p10, p50, p90 from a point forecast and log half-widths (same shapes); all ≥ 0, ordered."""
    p50 = np.maximum(point, 0.0)
    p10 = np.clip((p50 + 1.0) * np.exp(-q) - 1.0, 0.0, None)
    p90 = (p50 + 1.0) * np.exp(q) - 1.0
    return np.minimum(p10, p50), p50, np.maximum(p90, p50)
