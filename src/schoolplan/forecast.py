"""Seat demand from birth cohorts (学位需求预测).

How many kindergarten (幼儿园), primary (小学) and junior-middle (初中) pupils each
township or county-seat zone will have every year, with an 80 % range, as births fall
after the 2016–17 peak and families move into the county seat (进城读书).

Model (cohort survival / grade progression)
-------------------------------------------
For zone :math:`z`, grades :math:`g_0, g_1, \\dots` in order (entry grade first) and
calendar (school) year :math:`t`:

.. math::

    E_{z,g_0,t} = r^{E}_{z} \\, B_{z}(t - a), \\qquad
    E_{z,g_{i+1},t} = r^{P}_{z,i} \\, E_{z,g_i,t-1}

where :math:`B_z(y)` is births in year :math:`y` (by zone, or one county series shared by
all zones), :math:`a` the entry age (3 for kindergarten 小班, 6 for primary grade 1, 12 for
junior grade 7; configurable, e.g. 5 for "5+3" systems), :math:`r^E` the *entry ratio*
and :math:`r^P` the *grade-progression ratios*. Ratios are estimated from history with
an exponentially weighted ratio estimator (the "smoothed ratio" of NCES practice):

.. math::

    r = \\frac{\\sum_t w_t N_t}{\\sum_t w_t D_t}, \\qquad w_t = (1-\\alpha)^{T-t},

with numerator :math:`N_t` (entrants or pupils in grade :math:`g_{i+1}` in year t) and
denominator :math:`D_t` (births :math:`t-a` years earlier, or pupils in :math:`g_i` in
year :math:`t-1`), :math:`T` the last year used and :math:`\\alpha` = ``smoothing``
(0 = plain ratio of sums over all years, 1 = last year only). Ratios absorb net
migration, mortality, repetition and registration gaps; a ratio above 1 means net
in-flow (typical of the county seat), below 1 net out-flow. Ratios are estimated per
zone; a zone with fewer than ``min_pairs`` usable years (or no pupils to progress)
gets the county-pooled ratio and a :class:`~schoolplan.errors.DataWarning` naming it.

Junior entry. :func:`cohort_survival` with ``grades=range(7, 10), entry_age=12`` feeds
grade 7 from births. :func:`seat_demand` instead chains primary and junior into one
progression 1 → … → 9 (``junior_entry="progression"``, the default), so grade 7 is
grade 6 of the year before times the 6→7 ratio. This is the usual case in China
(almost every grade-6 pupil enters junior school the next year, 升学率 ≈ 100 %); the
6→7 ratio also captures the flow of junior pupils to the county seat under 两集中
(a township without a junior school has ratio ≈ 0, the county seat a ratio above 1).

Births beyond the last observed year are projected by a *damped local log-linear
trend*: a Huber-robust regression (:class:`sklearn.linear_model.HuberRegressor`) of
``log(1 + births)`` on year over the last ``births_window`` observed years (default 6),
projected from the fitted level at the last year with the slope damped by ``damping``
(φ = 0.8) each year, so the cumulative change approaches ``slope · φ / (1 − φ)`` (four
years' worth). Why: (i) births keep falling for a structural reason — the cohorts of
women aged 25–35 shrink through 2035 because births fell from 28 M (1990) to 17 M
(2000) — so a flat projection would overstate entrants; (ii) a fall of 7 %/year cannot
continue indefinitely, and damped trends are the robust standard in forecasting
competitions; (iii) a short window keeps the level close to the latest years after a
turning point (fitted on UN WPP 2012–2021, a 10-year line starts 15 % above the 2021
value, a 6-year line 2 %); (iv) the Huber loss keeps one-off spikes (dragon years 2012
and 2024, the 2016 two-child bump) from tilting the line. ``births_model=
"recent_mean"`` uses the mean of the last ``births_window`` years instead (the practice
of the Weldon Cooper Center for Virginia school divisions); it did better in the
national back-test of 2005–2024 origins (mostly flat births) but lags whenever births trend.
Fewer than three observed years → mean. Scenario multipliers
(``births_scenario``) then scale the *projected* births only: presets ``"low"``,
``"medium"``, ``"high"`` reach ×0.9, ×1.0, ×1.1 linearly over five years
(:data:`BIRTH_SCENARIOS`); a number applies from the first projected year; a mapping
``{year: multiplier}`` gives each year explicitly (missing years = 1).

Intervals (p10, p90) come from *empirical back-test errors*, not a simulation: the
model is re-fitted at every past origin with at least ``min_pairs + 1`` years of
history (using only data up to that origin, births included), projected forward, and
the log ratios :math:`\\log((A+1)/(F+1))` of actual to forecast pupils (a one-pupil
continuity correction keeps empty grades finite) are collected by horizon. Their
10 % and 90 % empirical quantiles give the band at that horizon, per zone where the
zone has at least 10 errors at that horizon and pooled over zones otherwise. Horizons
longer than the back-test can reach are extrapolated from the longest horizon with at
least 5 errors by :math:`\\sqrt{h/h_{max}}` (random-walk growth); bands never narrow
with horizon and always contain the point forecast (p10 ≤ p50 ≤ p90, all ≥ 0). With no
back-test possible (fewer than ``min_pairs + 2`` years) the band is
``±1.2816 · 0.05 · √h`` in logs (≈ ±6 % at one year) and a DataWarning says so. p50
is the point forecast. Bands from few errors (say < 20) are likely too narrow, and
they do not include scenario uncertainty: run ``"low"`` and ``"high"`` as well.

Units: pupils (persons) and births (persons) per calendar year; the school year
starting in September of year t is labelled t. Births must be observations (or your
own projection); the UN WPP series bundled for tests are estimates, not NBS counts.

Other functions turn demand into classes (:func:`classes_needed`), compare it with
capacity (:func:`seat_balance`), move pupils to the county seat
(:func:`urbanisation_shift` for 进城读书, :func:`concentrate` for 两集中), add pupils
from new housing (:func:`housing_yield`, :func:`add_extra_pupils`), and back-test
(:func:`backtest`, :func:`summarize_backtest`, and for national series that only have
intake and total pupils, :func:`intake_students_forecast` and
:func:`backtest_intake_students`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd

from schoolplan.errors import ConfigError, DataWarning, NonUniqueIdError, SchemaError
from schoolplan.schema import STAGE_ENTRY_AGES, STAGE_GRADES, STAGES

__all__ = [
    "BIRTH_SCENARIOS",
    "DEFAULT_CLASS_SIZES",
    "DEFAULT_ENTRY_AGES",
    "DEFAULT_LEVEL_GRADES",
    "DEFAULT_PERSONS_PER_DWELLING",
    "DEFAULT_PUPILS_PER_1000",
    "LEVELS",
    "add_extra_pupils",
    "backtest",
    "backtest_intake_students",
    "class_size_table",
    "classes_needed",
    "cohort_survival",
    "concentrate",
    "enrolment_by_zone",
    "fit_ratios",
    "housing_yield",
    "intake_students_forecast",
    "project_births",
    "seat_balance",
    "seat_demand",
    "summarize_backtest",
    "urbanisation_shift",
]

Grade = int | str
Scenario = str | float | Mapping[int, float]
BirthsModel = Literal["damped_trend", "recent_mean"]

#: School levels handled by :func:`seat_demand` (:data:`schoolplan.schema.STAGES`).
LEVELS: tuple[str, ...] = STAGES

#: Entry age in completed years at the start of the school year (standards.md §8.2; 幼儿园 小班 at 3).
DEFAULT_ENTRY_AGES: Mapping[str, int] = MappingProxyType(dict(STAGE_ENTRY_AGES))

#: Grade labels per level: kindergarten 1–3 = 小班/中班/大班, primary 1–6, junior 7–9 ("6+3").
DEFAULT_LEVEL_GRADES: Mapping[str, tuple[int, ...]] = MappingProxyType(dict(STAGE_GRADES))

#: Pupils per class: primary 45, junior 50 (建标102-2002; GB 50099-2011 §3.0.1), kindergarten
#: 小班 25 / 中班 30 / 大班 35 (幼儿园工作规程 2016). Same numbers as ``[class_size]`` in
#: ``schoolplan/standards/cn_national.toml``.
DEFAULT_CLASS_SIZES: Mapping[str, int | Mapping[int, int]] = MappingProxyType(
    {"kindergarten": MappingProxyType({1: 25, 2: 30, 3: 35}), "primary": 45, "junior": 50}
)

#: Births multipliers reached after :data:`SCENARIO_RAMP_YEARS` projected years.
BIRTH_SCENARIOS: Mapping[str, float] = MappingProxyType({"low": 0.9, "medium": 1.0, "high": 1.1})
SCENARIO_RAMP_YEARS = 5

#: Pupils per 1,000 residents of new housing at maturity (千人指标). Planning assumptions
#: (standards.md §1.4 local examples; same as ``[housing_yield]`` in cn_national.toml):
#: replace them with the local rule.
DEFAULT_PUPILS_PER_1000: Mapping[str, float] = MappingProxyType(
    {"kindergarten": 30.0, "primary": 70.0, "junior": 35.0}
)

#: Residents per occupied dwelling (planning assumption, cn_national.toml ``[housing_yield]``).
DEFAULT_PERSONS_PER_DWELLING = 2.8

_Z80 = 1.2815515655446004  # standard-normal 90 % quantile
_MIN_ZONE_ERRORS = 10
_MIN_POOLED_ERRORS = 5
_FALLBACK_LOG_SD = 0.05
_COUNTY = "county"
_ALL = "ALL"
_TOTAL = "total"


# --------------------------------------------------------------------------- validation


def _warn(message: str) -> None:
    warnings.warn(message, DataWarning, stacklevel=3)


def _frame(obj: Any, name: str, required: Sequence[str]) -> pd.DataFrame:
    if not isinstance(obj, pd.DataFrame):
        raise SchemaError(
            f"{name} must be a pandas DataFrame, got {type(obj).__name__}",
            fix=f"pass a DataFrame with columns {', '.join(required)}",
        )
    missing = [c for c in required if c not in obj.columns]
    if missing:
        raise SchemaError(
            f"{name} lacks required column(s) {', '.join(repr(c) for c in missing)}",
            column=missing[0],
            fix=f"provide columns {', '.join(required)} (have {', '.join(map(str, obj.columns))})",
        )
    if len(obj) == 0:
        raise SchemaError(f"{name} has no rows", fix="pass at least one year of data")
    return obj


def _whole_years(df: pd.DataFrame, name: str, col: str = "year") -> np.ndarray:
    values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    bad[~bad] = values[~bad] != np.round(values[~bad])
    if bad.any():
        raise SchemaError(
            f"{name}: '{col}' must hold whole calendar years",
            column=col,
            rows=list(df.index[bad]),
            fix="give years as integers such as 2024",
        )
    return values.astype(np.int64)


def _nonneg(df: pd.DataFrame, name: str, col: str, *, what: str = "counts") -> np.ndarray:
    values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        raise SchemaError(
            f"{name}: '{col}' is missing or not a number",
            column=col,
            rows=list(df.index[bad]),
            fix="fill in the numbers (0 if there were none) or drop the rows",
        )
    neg = values < 0
    if neg.any():
        raise SchemaError(
            f"{name}: '{col}' is negative",
            column=col,
            rows=list(df.index[neg]),
            fix=f"{what} cannot be negative; correct the values",
        )
    if what == "counts":
        frac = values != np.round(values)
        if frac.any():
            _warn(
                f"{name}: '{col}' is not a whole number of persons in rows "
                f"{_fmt(df.index[frac])}; used as given (convert units such as 万 to persons)"
            )
    return values


def _fmt(items: Iterable[Any], limit: int = 8) -> str:
    items = [str(i) for i in items]
    text = ", ".join(items[:limit])
    if len(items) > limit:
        text += f" (+{len(items) - limit} more)"
    return text


def _grade_key(value: Any) -> Hashable:
    """Normalise a grade label so that 1, 1.0, "1" and " k" / "K" compare equal."""
    if isinstance(value, bool | np.bool_):
        return str(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        if np.isfinite(value) and float(value).is_integer():
            return int(value)
        return str(value)
    text = str(value).strip()
    if text.lstrip("+-").isdigit():
        return int(text)
    return text.upper()


def _grade_list(grades: Iterable[Grade], what: str = "grades") -> tuple[list[Grade], list[Hashable]]:
    labels = list(grades)
    if len(labels) < 1:
        raise ConfigError(f"{what} is empty", fix="list the grades in order, entry grade first")
    keys = [_grade_key(g) for g in labels]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"{what} {labels} repeats a grade", fix="list each grade once")
    return labels, keys


def _check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{name} must be an integer ≥ {minimum}, got {value!r}",
                          fix=f"pass a whole number ≥ {minimum}")
    return int(value)


def _check_params(smoothing: float, min_pairs: int, births_model: str, births_window: int,
                  damping: float) -> None:
    if not 0.0 <= float(smoothing) <= 1.0:
        raise ConfigError(f"smoothing must lie in [0, 1], got {smoothing!r}",
                          fix="use e.g. 0.5 (recent years weigh more) or 0 (all years equal)")
    _check_positive_int(min_pairs, "min_pairs")
    if births_model not in ("damped_trend", "recent_mean"):
        raise ConfigError(f"births_model must be 'damped_trend' or 'recent_mean', got {births_model!r}",
                          fix="choose one of the two")
    _check_positive_int(births_window, "births_window")
    if not 0.0 <= float(damping) <= 1.0:
        raise ConfigError(f"damping must lie in [0, 1], got {damping!r}",
                          fix="use e.g. 0.8; 0 = flat, 1 = undamped linear trend in logs")


@dataclass(frozen=True)
class _Panel:
    """Enrolment as an array ``counts[zone, year, grade]`` (NaN = not observed)."""

    zones: list[Hashable]
    has_zone: bool
    years: np.ndarray
    grades: list[Grade]
    counts: np.ndarray


def _build_panel(enrolment: pd.DataFrame, grades: Iterable[Grade], *, name: str = "enrolment",
                 quiet: bool = False) -> _Panel:
    df = _frame(enrolment, name, ("year", "grade", "students"))
    labels, keys = _grade_list(grades)
    years = _whole_years(df, name)
    students = _nonneg(df, name, "students")
    pos = {k: i for i, k in enumerate(keys)}
    gidx = np.array([pos.get(_grade_key(g), -1) for g in df["grade"].tolist()], dtype=np.int64)
    bad = gidx < 0
    if bad.any():
        values = sorted({str(v) for v in df["grade"][bad].tolist()})
        raise SchemaError(
            f"{name}: grade(s) {', '.join(values)} are not among the grades {labels}",
            column="grade",
            rows=list(df.index[bad]),
            fix="drop those rows, or pass grades=[...] listing every grade in order (entry grade first)",
        )
    has_zone = "zone" in df.columns
    if has_zone:
        zcol = df["zone"]
        nan = zcol.isna().to_numpy()
        if nan.any():
            raise SchemaError(f"{name}: 'zone' is empty", column="zone", rows=list(df.index[nan]),
                              fix="name the zone (township or county-seat zone) of every row")
        zone_values = zcol.tolist()
        zones = sorted(dict.fromkeys(zone_values), key=lambda z: (str(type(z)), str(z)))
    else:
        zone_values = [None] * len(df)
        zones = [None]
    zpos = {z: i for i, z in enumerate(zones)}
    zidx = np.array([zpos[z] for z in zone_values], dtype=np.int64)

    first, last = int(years.min()), int(years.max())
    yidx = years - first
    n_z, n_y, n_g = len(zones), last - first + 1, len(labels)
    flat = (zidx * n_y + yidx) * n_g + gidx
    dup = pd.Series(flat).duplicated(keep=False).to_numpy()
    if dup.any():
        raise NonUniqueIdError(
            f"{name}: more than one row for the same {'zone, ' if has_zone else ''}year and grade",
            rows=list(df.index[dup]),
            fix="sum duplicates first (e.g. df.groupby([...]).students.sum().reset_index())",
        )
    counts = np.full(n_z * n_y * n_g, np.nan)
    counts[flat] = students
    counts = counts.reshape(n_z, n_y, n_g)

    def zname(i: int) -> str:
        return f"zone {zones[i]} " if has_zone else ""

    # every zone must reach the last year with every grade
    ends = [int(np.nonzero(np.isfinite(counts[z]).any(axis=1))[0].max()) for z in range(n_z)]
    late = [zones[z] for z in range(n_z) if ends[z] < n_y - 1]
    if late:
        raise SchemaError(
            f"{name}: zone(s) {_fmt(late)} have no data for the last year {last}",
            column="year",
            fix=f"add their {last} rows, or forecast them separately",
        )
    gaps_last = [(z, g) for z in range(n_z) for g in range(n_g) if not np.isfinite(counts[z, -1, g])]
    if gaps_last:
        raise SchemaError(
            f"{name}: no row for {_fmt(f'{zname(z)}grade {labels[g]}'.strip() for z, g in gaps_last)} "
            f"in the last year {last}",
            column="grade",
            fix="add the rows (with students = 0 where a grade has no pupils)",
        )
    if not quiet:
        missing_years: list[str] = []
        missing_cells: list[str] = []
        for z in range(n_z):
            seen = np.isfinite(counts[z]).any(axis=1)
            start = int(np.argmax(seen))
            for y in range(start, n_y):
                if not seen[y]:
                    missing_years.append(f"{zname(z)}{first + y}".strip())
                else:
                    for g in np.nonzero(~np.isfinite(counts[z, y]))[0]:
                        missing_cells.append(f"{zname(z)}{first + y} grade {labels[g]}".strip())
        if missing_years:
            _warn(f"{name}: missing year(s) {_fmt(missing_years)}; ratios use the years on either side "
                  "only where consecutive years exist")
        if missing_cells:
            _warn(f"{name}: missing row(s) {_fmt(missing_cells)}; treated as unknown (not zero)")
    return _Panel(zones=zones, has_zone=has_zone, years=np.arange(first, last + 1),
                  grades=labels, counts=counts)


@dataclass(frozen=True)
class _Births:
    """Observed births per key (a zone, or ``None`` for one county series)."""

    series: dict[Hashable, pd.Series]
    key_of_zone: list[Hashable]


def _build_births(births: pd.DataFrame, panel: _Panel, *, name: str = "births",
                  quiet: bool = False) -> _Births:
    df = _frame(births, name, ("year", "births"))
    years = _whole_years(df, name)
    values = _nonneg(df, name, "births")
    by_zone = "zone" in df.columns
    frame = pd.DataFrame({"year": years, "births": values}, index=df.index)
    if by_zone:
        zcol = df["zone"]
        nan = zcol.isna().to_numpy()
        if nan.any():
            raise SchemaError(f"{name}: 'zone' is empty", column="zone", rows=list(df.index[nan]),
                              fix="name the zone of every row, or drop the zone column for county births")
        frame["zone"] = [str(z) for z in zcol.tolist()]
    dup = frame.duplicated(["zone", "year"] if by_zone else ["year"], keep=False).to_numpy()
    if dup.any():
        raise NonUniqueIdError(f"{name}: more than one row for the same {'zone and ' if by_zone else ''}year",
                               rows=list(df.index[dup]), fix="keep one births figure per year")

    if by_zone and not panel.has_zone:
        if not quiet:
            _warn(f"{name}: births are given by zone but enrolment is not; summed to a county total "
                  "over the years every zone reports")
        counts_per_year = frame.groupby("year")["zone"].nunique()
        full = counts_per_year[counts_per_year == frame["zone"].nunique()].index
        frame = frame[frame["year"].isin(full)].groupby("year", as_index=False)["births"].sum()
        by_zone = False

    def series_of(sub: pd.DataFrame, label: str) -> pd.Series:
        s = pd.Series(sub["births"].to_numpy(dtype=float), index=sub["year"].to_numpy()).sort_index()
        expected = np.arange(s.index.min(), s.index.max() + 1)
        gap = np.setdiff1d(expected, s.index.to_numpy())
        if gap.size:
            raise SchemaError(
                f"{name}: missing year(s) {_fmt(gap.tolist())}{label}",
                column="year",
                fix="fill the gap (e.g. with the registered or interpolated count) so births are continuous",
            )
        return s

    if not by_zone:
        s = series_of(frame, "")
        return _Births(series={None: s}, key_of_zone=[None] * len(panel.zones))
    enrol_zones = {str(z): z for z in panel.zones}
    birth_zones = set(frame["zone"])
    extra = sorted(birth_zones - set(enrol_zones))
    if extra and not quiet:
        _warn(f"{name}: zone(s) {_fmt(extra)} have births but no enrolment; ignored")
    absent = [z for z in panel.zones if str(z) not in birth_zones]
    if absent:
        raise SchemaError(
            f"{name}: no births for enrolment zone(s) {_fmt(absent)}",
            column="zone",
            fix="add births for those zones, or drop the zone column of births to share county births",
        )
    series = {
        str(z): series_of(frame[frame["zone"] == str(z)], f" for zone {z}") for z in panel.zones
    }
    return _Births(series=series, key_of_zone=[str(z) for z in panel.zones])


# --------------------------------------------------------------------------- births projection


def _extrapolate(years: np.ndarray, values: np.ndarray, future: np.ndarray, *,
                 model: str, window: int, damping: float) -> np.ndarray:
    """Project births to ``future`` years (all after ``years[-1]``); see the module docstring."""
    y = years[-window:]
    v = values[-window:]
    if len(future) == 0:
        return np.empty(0)
    if model == "recent_mean" or len(y) < 3:
        return np.full(len(future), float(np.mean(v)))
    z = np.log1p(v)
    if np.ptp(z) == 0:
        return np.full(len(future), float(v[-1]))
    x = (y - y[-1]).astype(float).reshape(-1, 1)
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import HuberRegressor

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fit = HuberRegressor(alpha=0.0, max_iter=500).fit(x, z)
        slope, level = float(fit.coef_[0]), float(fit.intercept_)
    except ValueError:  # degenerate scale; fall back to least squares
        slope, level = (float(c) for c in np.polyfit(x[:, 0], z, 1))
    k = (np.asarray(future) - y[-1]).astype(float)
    geometric = damping * (1.0 - damping**k) / (1.0 - damping) if damping < 1.0 else k
    cum = slope * geometric
    return np.maximum(np.expm1(level + cum), 0.0)


def _scenario_multiplier(scenario: Scenario, years: np.ndarray, last_observed: int) -> np.ndarray:
    years = np.asarray(years)
    if isinstance(scenario, str):
        if scenario not in BIRTH_SCENARIOS:
            raise ConfigError(f"unknown births scenario {scenario!r}",
                              fix=f"use one of {', '.join(BIRTH_SCENARIOS)}, a number or {{year: multiplier}}")
        target = BIRTH_SCENARIOS[scenario]
        k = np.clip(years - last_observed, 0, SCENARIO_RAMP_YEARS) / SCENARIO_RAMP_YEARS
        out = 1.0 + (target - 1.0) * k
    elif isinstance(scenario, Mapping):
        out = np.array([float(scenario.get(int(y), 1.0)) for y in years])
    elif isinstance(scenario, int | float) and not isinstance(scenario, bool):
        out = np.full(len(years), float(scenario))
    else:
        raise ConfigError(f"births_scenario must be a preset name, a number or a mapping, got {scenario!r}",
                          fix="e.g. 'low', 0.95 or {2026: 0.95, 2027: 0.9}")
    if not np.all(np.isfinite(out)) or np.any(out < 0):
        raise ConfigError("births_scenario multipliers must be finite and ≥ 0",
                          fix="use multipliers such as 0.9 or 1.1")
    return out


@dataclass(frozen=True)
class _Params:
    entry_age: int
    smoothing: float
    min_pairs: int
    births_model: str
    births_window: int
    damping: float


def _births_values(births: _Births, zones: int, years: np.ndarray, cutoff: int | None,
                   params: _Params, scenario: Scenario | None) -> tuple[np.ndarray, np.ndarray]:
    """Births for ``years`` per zone: observed up to ``cutoff`` (inclusive), projected after.

    Returns the values ``(zones, len(years))`` and a boolean array marking projected ones.
    """
    years = np.asarray(years, dtype=np.int64)
    out = np.full((zones, len(years)), np.nan)
    projected = np.zeros((zones, len(years)), dtype=bool)
    cache: dict[Hashable, tuple[np.ndarray, np.ndarray]] = {}
    for key in dict.fromkeys(births.key_of_zone):
        s = births.series[key]
        if cutoff is not None:
            s = s[s.index <= cutoff]
        vals = np.full(len(years), np.nan)
        proj = np.zeros(len(years), dtype=bool)
        if len(s):
            first, last = int(s.index[0]), int(s.index[-1])
            inside = (years >= first) & (years <= last)
            vals[inside] = s.to_numpy()[years[inside] - first]
            after = years > last
            if after.any():
                vals[after] = _extrapolate(s.index.to_numpy(), s.to_numpy(), years[after],
                                           model=params.births_model, window=params.births_window,
                                           damping=params.damping)
                if scenario is not None:
                    vals[after] *= _scenario_multiplier(scenario, years[after], last)
                proj[after] = True
        cache[key] = (vals, proj)
    for z, key in enumerate(births.key_of_zone):
        out[z], projected[z] = cache[key]
    return out, projected


def project_births(births: pd.DataFrame, *, until_year: int, births_model: BirthsModel = "damped_trend",
                   births_window: int = 6, damping: float = 0.8,
                   births_scenario: Scenario = "medium") -> pd.DataFrame:
    """Observed births followed by projected births up to ``until_year``.

    Parameters
    ----------
    births
        Columns ``year``, ``births`` (persons), optionally ``zone``; years continuous.
    until_year
        Last year to return.
    births_model
        ``"damped_trend"`` (Huber-robust log-linear trend, damped) or ``"recent_mean"``;
        see the module docstring for the reasons.
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
        ``year, births, projected`` (plus ``zone`` first when given). Input not modified.
    """
    _check_params(0.5, 1, births_model, births_window, damping)
    df = _frame(births, "births", ("year", "births"))
    has_zone = "zone" in df.columns
    dummy_zones: list[Hashable] = sorted({str(z) for z in df["zone"].tolist()}) if has_zone else [None]
    panel = _Panel(zones=dummy_zones, has_zone=has_zone, years=np.arange(1), grades=[1],
                   counts=np.zeros((len(dummy_zones), 1, 1)))
    b = _build_births(df, panel)
    params = _Params(0, 0.5, 1, births_model, births_window, damping)
    first = min(int(s.index[0]) for s in b.series.values())
    years = np.arange(first, int(until_year) + 1)
    vals, proj = _births_values(b, len(dummy_zones), years, None, params, births_scenario)
    frames = []
    for z, zone in enumerate(dummy_zones):
        s = b.series[b.key_of_zone[z]]
        keep = years >= s.index[0]
        part = pd.DataFrame({"year": years[keep], "births": vals[z][keep], "projected": proj[z][keep]})
        if has_zone:
            part.insert(0, "zone", zone)
        frames.append(part)
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- ratio fitting


def _weighted_ratio(num: np.ndarray, den: np.ndarray, weights: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted ratio estimator per row of ``num``/``den`` (zones × years).

    Returns the per-zone weighted numerator and denominator sums, the number of usable
    years, and the ratio (NaN where the denominator sum is 0).
    """
    ok = np.isfinite(num) & np.isfinite(den)
    wn = np.where(ok, num, 0.0) @ weights
    wd = np.where(ok, den, 0.0) @ weights
    n = ok.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(wd > 0, wn / np.where(wd > 0, wd, 1.0), np.nan)
    return wn, wd, n, ratio


def _pooled(wn: np.ndarray, wd: np.ndarray, ratio: np.ndarray, n: np.ndarray, min_pairs: int,
            *, fallback: float, label: str, zones: list[Hashable], has_zone: bool,
            notes: list[str]) -> np.ndarray:
    total_d = float(wd.sum())
    pooled = float(wn.sum()) / total_d if total_d > 0 else float("nan")
    use = (n >= min_pairs) & (wd > 0)
    out = np.where(use, ratio, np.nan)
    need = ~use
    if not need.any():
        return out
    # zones with nothing to progress and nothing arriving: the ratio does not matter
    silent = need & (wd == 0) & (wn == 0)
    loud = need & ~silent
    if np.isfinite(pooled):
        out[need] = pooled
        if loud.any():
            who = f"zone(s) {_fmt(zones[i] for i in np.nonzero(loud)[0])}" if has_zone else "the county"
            notes.append(f"{label}: {who} have fewer than {min_pairs} usable year(s) or no pupils to "
                         f"progress; used the county-pooled ratio {pooled:.4f}")
    else:
        out[need] = fallback
        if loud.any() or not has_zone:
            notes.append(f"{label}: no usable history anywhere; assumed ratio {fallback:g}")
    return out


def _fit(panel: _Panel, births_hist: np.ndarray, oi: int, params: _Params
         ) -> tuple[np.ndarray, np.ndarray, list[str], dict[str, np.ndarray]]:
    """Fit entry and progression ratios on years ``0..oi`` of the panel.

    ``births_hist[z, y]`` holds births of ``years[y] - entry_age`` (NaN if unknown).
    Returns entry ratios (Z,), progression ratios (Z, G-1), notes for warnings, and a
    dict with usable-year counts and pooled flags for reporting.
    """
    counts = panel.counts
    n_g = counts.shape[2]
    age = (panel.years[oi] - panel.years[: oi + 1]).astype(float)
    w = np.power(1.0 - params.smoothing, age)
    notes: list[str] = []
    info: dict[str, np.ndarray] = {}
    g0 = panel.grades[0]
    wn, wd, n, ratio = _weighted_ratio(counts[:, : oi + 1, 0], births_hist[:, : oi + 1], w)
    if n.sum() == 0:  # no year with both entrants and births: caller decides
        entry = np.full(len(panel.zones), np.nan)
    else:  # births all zero in the years used -> ratio 0 (no births, no entrants)
        entry = _pooled(wn, wd, ratio, n, params.min_pairs, fallback=0.0,
                        label=f"entry ratio (grade {g0} / births {params.entry_age} years earlier)",
                        zones=panel.zones, has_zone=panel.has_zone, notes=notes)
    info["entry_n"], info["entry_pooled"] = n, ~((n >= params.min_pairs) & (wd > 0))
    prog = np.empty((counts.shape[0], n_g - 1))
    prog_n = np.zeros_like(prog, dtype=np.int64)
    prog_pooled = np.zeros_like(prog, dtype=bool)
    for i in range(n_g - 1):
        if oi == 0:
            num = np.full((counts.shape[0], 1), np.nan)
            den = num
            wi = np.ones(1)
        else:
            num, den, wi = counts[:, 1 : oi + 1, i + 1], counts[:, :oi, i], w[1:]
        wn, wd, n, ratio = _weighted_ratio(num, den, wi)
        prog[:, i] = _pooled(wn, wd, ratio, n, params.min_pairs, fallback=1.0,
                             label=f"progression grade {panel.grades[i]} → {panel.grades[i + 1]}",
                             zones=panel.zones, has_zone=panel.has_zone, notes=notes)
        prog_n[:, i] = n
        prog_pooled[:, i] = ~((n >= params.min_pairs) & (wd > 0))
    info["prog_n"], info["prog_pooled"] = prog_n, prog_pooled
    return entry, prog, notes, info


def _births_for_entry(panel: _Panel, births: _Births, cutoff: int | None, params: _Params
                      ) -> np.ndarray:
    """Observed births of ``years[y] − entry_age`` per zone (NaN where not observed)."""
    need = panel.years - params.entry_age
    out = np.full((len(panel.zones), len(need)), np.nan)
    for z, key in enumerate(births.key_of_zone):
        s = births.series[key]
        if cutoff is not None:
            s = s[s.index <= cutoff]
        out[z] = s.reindex(need).to_numpy(dtype=float)
    return out


def _forecast_from(panel: _Panel, births: _Births, oi: int, horizon: int, params: _Params,
                   scenario: Scenario | None
                   ) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Point forecast ``F[zone, h, grade]`` for years ``years[oi]+1 … years[oi]+horizon``.

    Uses enrolment up to ``years[oi]`` and births up to ``years[oi]`` only when
    back-testing (``scenario is None``), all births otherwise.
    """
    origin = int(panel.years[oi])
    cutoff = origin if scenario is None else None
    bh = _births_for_entry(panel, births, cutoff, params)
    entry, prog, notes, info = _fit(panel, bh, oi, params)
    fut_years = origin + 1 + np.arange(horizon) - params.entry_age
    bf, bproj = _births_values(births, len(panel.zones), fut_years, cutoff, params, scenario)
    n_z, n_g = len(panel.zones), len(panel.grades)
    out = np.empty((n_z, horizon, n_g))
    prev = panel.counts[:, oi, :]
    for h in range(horizon):
        cur = np.empty((n_z, n_g))
        cur[:, 0] = bf[:, h] * entry
        cur[:, 1:] = prev[:, :-1] * prog
        out[:, h] = cur
        prev = cur
    return out, notes, entry, prog, {**info, "births_projected": bproj}


def _check_births_cover(panel: _Panel, births: _Births, horizon: int, entry_age: int) -> None:
    need_from = int(panel.years[-1]) + 1 - entry_age
    short = [k for k, s in births.series.items() if int(s.index[0]) > need_from]
    if short:
        start = min(int(births.series[k].index[0]) for k in short)
        raise SchemaError(
            f"births start in {start}{' for zone(s) ' + _fmt(short) if short != [None] else ''}, but "
            f"entrants in {panel.years[-1] + 1} need births of {need_from} (entry age {entry_age})",
            column="year",
            fix=f"supply births from {need_from} on (better: from {int(panel.years[0]) - entry_age})",
        )


# --------------------------------------------------------------------------- intervals


def _backtest_log_errors(panel: _Panel, births: _Births, params: _Params, horizon: int
                         ) -> pd.DataFrame:
    rows: list[pd.DataFrame] = []
    n_y = len(panel.years)
    for oi in range(params.min_pairs, n_y - 1):
        h_max = min(horizon, n_y - 1 - oi)
        fc, _, entry, _, _ = _forecast_from(panel, births, oi, h_max, params, None)
        if not np.isfinite(entry).any():
            continue
        actual = panel.counts[:, oi + 1 : oi + 1 + h_max, :]
        ok = np.isfinite(fc) & np.isfinite(actual)
        if not ok.any():
            continue
        z, h, _ = np.nonzero(ok)
        err = np.log((actual[ok] + 1.0) / (np.maximum(fc[ok], 0.0) + 1.0))
        rows.append(pd.DataFrame({"zone": z, "horizon": h + 1, "err": err}))
    if not rows:
        return pd.DataFrame({"zone": [], "horizon": [], "err": []})
    return pd.concat(rows, ignore_index=True)


def _band(errors: pd.DataFrame, n_z: int, horizon: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """10 % and 90 % log-error quantiles ``(zones, horizon)``; see the module docstring."""
    hs = np.arange(1, horizon + 1)
    q10 = np.full((n_z, horizon), np.nan)
    q90 = np.full((n_z, horizon), np.nan)
    pooled10 = np.full(horizon, np.nan)
    pooled90 = np.full(horizon, np.nan)
    if len(errors):
        for h, grp in errors.groupby("horizon"):
            h = int(h)
            if h > horizon or len(grp) < _MIN_POOLED_ERRORS:
                continue
            pooled10[h - 1], pooled90[h - 1] = np.quantile(grp["err"].to_numpy(), [0.1, 0.9])
            for z, zg in grp.groupby("zone"):
                if len(zg) >= _MIN_ZONE_ERRORS:
                    q10[int(z), h - 1], q90[int(z), h - 1] = np.quantile(zg["err"].to_numpy(), [0.1, 0.9])
    reliable = np.nonzero(np.isfinite(pooled10))[0]
    fallback = reliable.size == 0
    if fallback:
        pooled10 = -_Z80 * _FALLBACK_LOG_SD * np.sqrt(hs)
        pooled90 = -pooled10
    else:
        for i in range(horizon):
            if not np.isfinite(pooled10[i]):
                below = reliable[reliable < i]
                ref = int(below.max()) if below.size else int(reliable.min())
                scale = math.sqrt(hs[i] / hs[ref])
                pooled10[i], pooled90[i] = pooled10[ref] * scale, pooled90[ref] * scale
    q10 = np.where(np.isfinite(q10), q10, pooled10[None, :])
    q90 = np.where(np.isfinite(q90), q90, pooled90[None, :])
    q10 = np.minimum.accumulate(np.minimum(q10, 0.0), axis=1)
    q90 = np.maximum.accumulate(np.maximum(q90, 0.0), axis=1)
    return q10, q90, fallback


def _apply_band(point: np.ndarray, q10: np.ndarray, q90: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p50 = np.maximum(point, 0.0)
    p10 = np.clip((p50 + 1.0) * np.exp(q10) - 1.0, 0.0, None)
    p90 = (p50 + 1.0) * np.exp(q90) - 1.0
    return np.minimum(p10, p50), p50, np.maximum(p90, p50)


# --------------------------------------------------------------------------- public: cohorts


def _panel_and_births(enrolment: pd.DataFrame, births: pd.DataFrame, grades: Iterable[Grade],
                      *, quiet: bool = False) -> tuple[_Panel, _Births]:
    panel = _build_panel(enrolment, grades, quiet=quiet)
    b = _build_births(births, panel, quiet=quiet)
    return panel, b


def fit_ratios(enrolment: pd.DataFrame, births: pd.DataFrame, *, entry_age: int = 6,
               grades: Iterable[Grade] = range(1, 7), smoothing: float = 0.5,
               min_pairs: int = 2) -> pd.DataFrame:
    """Entry and grade-progression ratios as used by :func:`cohort_survival`.

    Parameters
    ----------
    enrolment, births, entry_age, grades, smoothing, min_pairs
        As in :func:`cohort_survival`.

    Returns
    -------
    DataFrame
        ``[zone,] transition, grade, ratio, n_years, pooled``: ``transition`` is
        ``"entry"`` (``grade`` = entry grade, ratio = entrants / births ``entry_age``
        years earlier) or ``"progression"`` (``grade`` = destination grade g+1, ratio =
        pupils in g+1 in year t / pupils in g in year t−1); ``n_years`` counts usable
        years; ``pooled`` marks zones that got the county-pooled ratio.
    """
    _check_params(smoothing, min_pairs, "recent_mean", 1, 0.0)
    entry_age = _check_positive_int(entry_age, "entry_age", minimum=0)
    panel, b = _panel_and_births(enrolment, births, grades)
    params = _Params(entry_age, float(smoothing), int(min_pairs), "recent_mean", 1, 0.0)
    bh = _births_for_entry(panel, b, None, params)
    entry, prog, notes, info = _fit(panel, bh, len(panel.years) - 1, params)
    for note in notes:
        _warn(note)
    rows: list[dict[str, Any]] = []
    for z, zone in enumerate(panel.zones):
        base = {"zone": zone} if panel.has_zone else {}
        rows.append({**base, "transition": "entry", "grade": panel.grades[0], "ratio": entry[z],
                     "n_years": int(info["entry_n"][z]), "pooled": bool(info["entry_pooled"][z])})
        for i in range(len(panel.grades) - 1):
            rows.append({**base, "transition": "progression", "grade": panel.grades[i + 1],
                         "ratio": prog[z, i], "n_years": int(info["prog_n"][z, i]),
                         "pooled": bool(info["prog_pooled"][z, i])})
    return pd.DataFrame(rows)


def cohort_survival(
    enrolment: pd.DataFrame,
    births: pd.DataFrame,
    *,
    horizon_years: int,
    entry_age: int = 6,
    grades: Iterable[Grade] = range(1, 7),
    smoothing: float = 0.5,
    min_pairs: int = 2,
    births_model: BirthsModel = "damped_trend",
    births_window: int = 6,
    damping: float = 0.8,
    births_scenario: Scenario = "medium",
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
        ``["K", 1, 2, 3, 4, 5, 6]`` ("K" is then the entry grade fed by births at
        ``entry_age`` and grade 1 follows by progression). Labels match ``1``, ``1.0`` and
        ``"1"`` alike, and text case-insensitively.
    smoothing
        α of the exponentially weighted ratio estimator (weights ``(1 − α)^(T − t)``).
    min_pairs
        Minimum usable years for a zone's own ratio; fewer → county-pooled ratio + warning.
    births_model, births_window, damping, births_scenario
        Projection of births beyond the last observed year (see module docstring).

    Returns
    -------
    DataFrame
        ``[zone,] year, grade, p10, p50, p90`` (pupils, floats ≥ 0; p10 ≤ p50 ≤ p90) for
        years ``last + 1 … last + horizon_years``; p50 is the point forecast and
        p10/p90 come from back-test errors by horizon. Quantiles are per row: the sum
        of p10 over zones or grades is a wider (conservative) band than the p10 of
        the sum. ``DataFrame.attrs`` holds
        ``entry_ratio``, ``progression_ratio`` (per zone) and ``interval_method``.

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
        Non-integer counts, missing years or rows, zones falling back to pooled ratios,
        births zones without enrolment, default intervals used for lack of history.

    Notes
    -----
    Assumes the ratios of the recent past continue; extra migration (进城读书),
    两集中 transfers and new housing are separate steps (:func:`urbanisation_shift`,
    :func:`concentrate`, :func:`housing_yield`).
    """
    horizon = _check_positive_int(horizon_years, "horizon_years")
    entry_age = _check_positive_int(entry_age, "entry_age", minimum=0)
    _check_params(smoothing, min_pairs, births_model, births_window, damping)
    _scenario_multiplier(births_scenario, np.array([2000]), 1999)  # validate early
    panel, b = _panel_and_births(enrolment, births, grades)
    params = _Params(entry_age, float(smoothing), int(min_pairs), births_model,
                     int(births_window), float(damping))
    _check_births_cover(panel, b, horizon, entry_age)
    oi = len(panel.years) - 1
    point, notes, entry, prog, _ = _forecast_from(panel, b, oi, horizon, params, births_scenario)
    if not np.isfinite(entry).all():
        raise SchemaError(
            f"no year where both grade {panel.grades[0]} pupils and births {entry_age} years earlier "
            "are known; cannot estimate the entry ratio",
            column="year",
            fix=f"supply births from {int(panel.years[0]) - entry_age} on",
        )
    for note in notes:
        _warn(note)
    errors = _backtest_log_errors(panel, b, params, horizon)
    q10, q90, fallback = _band(errors, len(panel.zones), horizon)
    if fallback:
        _warn(f"too little history to back-test ({len(panel.years)} year(s)); intervals use a default "
              f"log-normal spread of {_FALLBACK_LOG_SD:.0%} per √year")
    p10, p50, p90 = _apply_band(point, q10[:, :, None], q90[:, :, None])
    n_z, n_g = len(panel.zones), len(panel.grades)
    years = panel.years[-1] + 1 + np.arange(horizon)
    out = pd.DataFrame({
        "year": np.tile(np.repeat(years, n_g), n_z),
        "grade": pd.Series(list(panel.grades) * (n_z * horizon), dtype=_grade_dtype(panel.grades)),
        "p10": p10.reshape(-1),
        "p50": p50.reshape(-1),
        "p90": p90.reshape(-1),
    })
    if panel.has_zone:
        out.insert(0, "zone", np.repeat(np.array(panel.zones, dtype=object), horizon * n_g))
    out.attrs["entry_ratio"] = dict(zip(_zone_keys(panel), entry.tolist(), strict=True))
    out.attrs["progression_ratio"] = {
        zk: dict(zip(panel.grades[1:], prog[z].tolist(), strict=True))
        for z, zk in enumerate(_zone_keys(panel))
    }
    out.attrs["interval_method"] = ("default spread (no back-test possible)" if fallback
                                    else f"back-test log-error quantiles ({len(errors)} errors)")
    return out


def _zone_keys(panel: _Panel) -> list[Hashable]:
    return [z if panel.has_zone else _COUNTY for z in panel.zones]


def _grade_dtype(grades: Sequence[Grade]) -> str:
    return "int64" if all(isinstance(g, int | np.integer) for g in grades) else "object"


# --------------------------------------------------------------------------- back-testing


def _check_origins(origins: Iterable[int], horizons: Iterable[int], first: int, last: int
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
    bad_o = [o for o in o_list if o <= first or o >= last]
    if bad_o:
        raise ConfigError(
            f"origin(s) {_fmt(bad_o)} outside the usable range {first + 1}…{last - 1}",
            fix="an origin needs at least two years of data up to it and one observed year after it",
        )
    return o_list, h_list


def _ape(forecast: np.ndarray, actual: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(actual > 0, np.abs(forecast - actual) / np.where(actual > 0, actual, 1.0) * 100,
                        np.nan)


def backtest(
    enrolment: pd.DataFrame,
    births: pd.DataFrame,
    *,
    origins: Iterable[int],
    horizons: Iterable[int],
    entry_age: int = 6,
    grades: Iterable[Grade] = range(1, 7),
    smoothing: float = 0.5,
    min_pairs: int = 2,
    births_model: BirthsModel = "damped_trend",
    births_window: int = 6,
    damping: float = 0.8,
) -> pd.DataFrame:
    """Rolling-origin back-test of :func:`cohort_survival` against persistence.

    At each origin year o the model is fitted on enrolment **and births** of years ≤ o
    only (later births are projected as they would have been at the time) and
    forecasts years o + h. The *persistence* baseline carries the last observed value
    forward grade by grade: the forecast for grade g in year o + h is the number of
    pupils in grade g in year o (not the cohort that would move up); for totals it is
    the total of year o.

    Parameters
    ----------
    enrolment, births, entry_age, grades, smoothing, min_pairs, births_model,
    births_window, damping
        As in :func:`cohort_survival`.
    origins
        Origin years; each needs ≥ 2 years of data up to it and ≥ 1 observed year after.
    horizons
        Horizons in years (≥ 1); pairs with ``o + h`` after the last observed year are
        skipped.

    Returns
    -------
    DataFrame
        ``origin, horizon, year, [zone,] grade, actual, forecast, persistence, ape,
        ape_persistence``. ``grade == "total"`` rows sum the grades (per zone, and over
        zones with ``zone == "ALL"`` when zones are given); APE is the absolute
        percentage error ``|F − A| / A × 100`` (NaN when A = 0). Summarise with
        :func:`summarize_backtest`.
    """
    entry_age = _check_positive_int(entry_age, "entry_age", minimum=0)
    _check_params(smoothing, min_pairs, births_model, births_window, damping)
    panel, b = _panel_and_births(enrolment, births, grades)
    params = _Params(entry_age, float(smoothing), int(min_pairs), births_model,
                     int(births_window), float(damping))
    first, last = int(panel.years[0]), int(panel.years[-1])
    o_list, h_list = _check_origins(origins, horizons, first, last)
    n_g = len(panel.grades)
    frames: list[pd.DataFrame] = []
    fallback_origins: list[int] = []
    for origin in o_list:
        oi = origin - first
        h_ok = [h for h in h_list if origin + h <= last]
        if not h_ok:
            continue
        fc, notes, entry, _, _ = _forecast_from(panel, b, oi, max(h_ok), params, None)
        if notes:
            fallback_origins.append(origin)
        if not np.isfinite(entry).any():
            continue
        base = panel.counts[:, oi, :]
        for h in h_ok:
            f = fc[:, h - 1, :]
            a = panel.counts[:, oi + h, :]
            p = base
            zones = list(_zone_keys(panel))
            recs = {
                "zone": np.repeat(np.array(zones, dtype=object), n_g),
                "grade": np.tile(np.array(panel.grades, dtype=object), len(zones)),
                "actual": a.reshape(-1), "forecast": f.reshape(-1), "persistence": p.reshape(-1),
            }
            tz = {"zone": np.array(zones, dtype=object), "grade": np.full(len(zones), _TOTAL, dtype=object),
                  "actual": a.sum(axis=1), "forecast": f.sum(axis=1), "persistence": p.sum(axis=1)}
            parts = [pd.DataFrame(recs), pd.DataFrame(tz)]
            if panel.has_zone and len(zones) > 1:
                parts.append(pd.DataFrame({"zone": [_ALL], "grade": [_TOTAL], "actual": [a.sum()],
                                           "forecast": [f.sum()], "persistence": [p.sum()]}))
            part = pd.concat(parts, ignore_index=True)
            part.insert(0, "year", origin + h)
            part.insert(0, "horizon", h)
            part.insert(0, "origin", origin)
            frames.append(part)
    if fallback_origins:
        _warn(f"back-test: pooled or assumed ratios were needed at origin(s) {_fmt(fallback_origins)} "
              "(short history or empty grades)")
    if not frames:
        raise ConfigError("no (origin, horizon) pair has an observed outcome",
                          fix=f"choose origins + horizons ≤ {last}")
    out = pd.concat(frames, ignore_index=True)
    out = out[np.isfinite(out["actual"].to_numpy(float)) & np.isfinite(out["forecast"].to_numpy(float))
              & np.isfinite(out["persistence"].to_numpy(float))].reset_index(drop=True)
    out["ape"] = _ape(out["forecast"].to_numpy(float), out["actual"].to_numpy(float))
    out["ape_persistence"] = _ape(out["persistence"].to_numpy(float), out["actual"].to_numpy(float))
    if not panel.has_zone:
        out = out.drop(columns="zone")
    return out


def summarize_backtest(errors: pd.DataFrame, *, by: Sequence[str] = ("horizon",)) -> pd.DataFrame:
    """Mean absolute percentage error (MAPE) of model and persistence.

    Parameters
    ----------
    errors
        Output of :func:`backtest` or :func:`backtest_intake_students` (filter it first,
        e.g. ``errors[errors.grade == "total"]``).
    by
        Columns to group by.

    Returns
    -------
    DataFrame
        ``*by, n, mape, mape_persistence, beats_persistence`` (MAPE in percent).
    """
    _frame(errors, "errors", (*by, "ape", "ape_persistence"))
    ok = errors.dropna(subset=["ape", "ape_persistence"])
    grouped = ok.groupby(list(by), sort=True)
    out = pd.DataFrame({
        "n": grouped["ape"].size(),
        "mape": grouped["ape"].mean(),
        "mape_persistence": grouped["ape_persistence"].mean(),
    }).reset_index()
    out["beats_persistence"] = out["mape"] < out["mape_persistence"]
    return out


# --------------------------------------------------------------------------- national two-stage


def _series_frame(series: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    df = _frame(series, name, ("year", "intake", "students"))
    years = _whole_years(df, name)
    intake = _nonneg(df, name, "intake")
    students = _nonneg(df, name, "students")
    if pd.Series(years).duplicated().any():
        dup = pd.Series(years).duplicated(keep=False).to_numpy()
        raise NonUniqueIdError(f"{name}: more than one row per year", rows=list(df.index[dup]),
                               fix="keep one row per year")
    order = np.argsort(years)
    years, intake, students = years[order], intake[order], students[order]
    gap = np.setdiff1d(np.arange(years[0], years[-1] + 1), years)
    if gap.size:
        raise SchemaError(f"{name}: missing year(s) {_fmt(gap.tolist())}", column="year",
                          fix="supply every year (the students model sums consecutive intakes)")
    return years, intake, students


def _two_stage(years: np.ndarray, intake: np.ndarray, students: np.ndarray, bseries: pd.Series,
               origin: int, horizon: int, *, entry_age: int, duration: int, params: _Params,
               scenario: Scenario | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    keep = years <= origin
    yrs, itk, stu = years[keep], intake[keep], students[keep]
    b_obs = bseries[bseries.index <= origin] if scenario is None else bseries
    w = np.power(1.0 - params.smoothing, (origin - yrs).astype(float))
    # entry: intake(t) / births(t - a), observed births only
    b_hist = b_obs.reindex(yrs - entry_age).to_numpy(dtype=float)
    _, _, _, r_entry = _weighted_ratio(itk[None, :], b_hist[None, :], w)
    # survival: students(t) / sum of the last `duration` intakes
    sums = pd.Series(itk).rolling(duration).sum().to_numpy()
    _, _, _, r_surv = _weighted_ratio(stu[None, :], sums[None, :], w)
    fut = origin + 1 + np.arange(horizon)
    need = fut - entry_age
    b_last = int(b_obs.index[-1])
    bvals = b_obs.reindex(need).to_numpy(dtype=float, copy=True)
    proj = need > b_last
    if proj.any():
        bvals[proj] = _extrapolate(b_obs.index.to_numpy(), b_obs.to_numpy(dtype=float), need[proj],
                                   model=params.births_model, window=params.births_window,
                                   damping=params.damping)
        if scenario is not None:
            bvals[proj] *= _scenario_multiplier(scenario, need[proj], b_last)
    i_fc = bvals * r_entry[0]
    all_int = np.concatenate([itk, i_fc])
    s_fc = np.array([all_int[len(itk) + h - duration + 1 : len(itk) + h + 1].sum()
                     if len(itk) + h - duration + 1 >= 0 else np.nan for h in range(horizon)])
    return fut, i_fc, s_fc * r_surv[0], float(r_entry[0]), float(r_surv[0])


def _births_series(births: pd.DataFrame) -> pd.Series:
    df = _frame(births, "births", ("year", "births"))
    if "zone" in df.columns:
        raise SchemaError("births: a single (national or county) series is expected, found 'zone'",
                          column="zone", fix="sum births over zones first")
    years = _whole_years(df, "births")
    vals = _nonneg(df, "births", "births")
    s = pd.Series(vals, index=years).sort_index()
    if s.index.duplicated().any():
        dup = pd.Series(years).duplicated(keep=False).to_numpy()
        raise NonUniqueIdError("births: more than one row per year", rows=list(df.index[dup]),
                               fix="keep one births figure per year")
    gap = np.setdiff1d(np.arange(s.index[0], s.index[-1] + 1), s.index.to_numpy())
    if gap.size:
        raise SchemaError(f"births: missing year(s) {_fmt(gap.tolist())}", column="year",
                          fix="supply continuous years")
    return s


def intake_students_forecast(
    series: pd.DataFrame,
    births: pd.DataFrame,
    *,
    horizon_years: int,
    entry_age: int = 6,
    duration: int = 6,
    smoothing: float = 0.5,
    births_model: BirthsModel = "damped_trend",
    births_window: int = 6,
    damping: float = 0.8,
    births_scenario: Scenario = "medium",
) -> pd.DataFrame:
    """Two-stage forecast for series with only intake and total pupils (e.g. national).

    Stage 1: ``intake(t) = r_E · births(t − entry_age)``. Stage 2:
    ``students(t) = r_S · Σ_{j=0}^{duration−1} intake(t − j)``, i.e. pupils are the
    surviving cohorts of the last ``duration`` intakes (repetition, drop-out and
    transfers folded into ``r_S``). Both ratios use the weighted ratio estimator of the
    module docstring; births beyond the last observed year are projected as there.

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
    smoothing, births_model, births_window, damping, births_scenario
        As in :func:`cohort_survival`.

    Returns
    -------
    DataFrame
        ``year, intake, students, births_projected`` (point forecasts, persons);
        ``attrs`` hold ``entry_ratio`` and ``survival_ratio``.
    """
    horizon = _check_positive_int(horizon_years, "horizon_years")
    entry_age = _check_positive_int(entry_age, "entry_age", minimum=0)
    duration = _check_positive_int(duration, "duration")
    _check_params(smoothing, 1, births_model, births_window, damping)
    years, intake, students = _series_frame(series, "series")
    bs = _births_series(births)
    need = int(years[-1]) + 1 - entry_age
    if int(bs.index[0]) > need:
        raise SchemaError(f"births start in {bs.index[0]} but intake in {years[-1] + 1} needs {need}",
                          column="year", fix=f"supply births from {need} on")
    params = _Params(entry_age, float(smoothing), 1, births_model, int(births_window), float(damping))
    fut, i_fc, s_fc, r_e, r_s = _two_stage(years, intake, students, bs, int(years[-1]), horizon,
                                           entry_age=entry_age, duration=duration, params=params,
                                           scenario=births_scenario)
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
    births_model: BirthsModel = "damped_trend",
    births_window: int = 6,
    damping: float = 0.8,
) -> pd.DataFrame:
    """Rolling-origin back-test of :func:`intake_students_forecast` against persistence.

    Fits use intake, pupils and births of years ≤ origin only. Persistence = the value
    of the origin year carried forward (separately for intake and students).

    Parameters
    ----------
    series, births, entry_age, duration, smoothing, births_model, births_window, damping
        As in :func:`intake_students_forecast`.
    origins, horizons
        As in :func:`backtest`.

    Returns
    -------
    DataFrame
        ``origin, horizon, year, series ("intake"/"students"), actual, forecast,
        persistence, ape, ape_persistence``.
    """
    entry_age = _check_positive_int(entry_age, "entry_age", minimum=0)
    duration = _check_positive_int(duration, "duration")
    _check_params(smoothing, 1, births_model, births_window, damping)
    years, intake, students = _series_frame(series, "series")
    bs = _births_series(births)
    o_list, h_list = _check_origins(origins, horizons, int(years[0]), int(years[-1]))
    params = _Params(entry_age, float(smoothing), 1, births_model, int(births_window), float(damping))
    rows: list[dict[str, Any]] = []
    for origin in o_list:
        h_ok = [h for h in h_list if origin + h <= years[-1]]
        if not h_ok or bs.index[0] > origin:
            continue
        _, i_fc, s_fc, _, _ = _two_stage(years, intake, students, bs, origin, max(h_ok),
                                         entry_age=entry_age, duration=duration,
                                         params=params, scenario=None)
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
    out["ape"] = _ape(out["forecast"].to_numpy(float), out["actual"].to_numpy(float))
    out["ape_persistence"] = _ape(out["persistence"].to_numpy(float), out["actual"].to_numpy(float))
    return out


# --------------------------------------------------------------------------- seat demand


def seat_demand(
    enrolment: pd.DataFrame,
    births: pd.DataFrame,
    *,
    horizon_years: int,
    levels: Sequence[str] = LEVELS,
    entry_ages: Mapping[str, int] | None = None,
    level_grades: Mapping[str, Sequence[Grade]] | None = None,
    junior_entry: Literal["progression", "births"] = "progression",
    smoothing: float = 0.5,
    min_pairs: int = 2,
    births_model: BirthsModel = "damped_trend",
    births_window: int = 6,
    damping: float = 0.8,
    births_scenario: Scenario = "medium",
) -> pd.DataFrame:
    """Pupils needing a seat by zone, level, grade and year (p10/p50/p90).

    Runs :func:`cohort_survival` per level: kindergarten from births at 3, primary
    from births at 6, and junior either by progression from primary grade 6 (default,
    one 1 → 9 chain; see the module docstring) or from births at 12.

    Parameters
    ----------
    enrolment
        Columns ``level`` (kindergarten / primary / junior; also 幼儿园 / 小学 / 初中),
        ``year``, ``grade``, ``students``, optionally ``zone``. Grades per
        :data:`DEFAULT_LEVEL_GRADES` (kindergarten 1–3 = 小班/中班/大班, primary 1–6,
        junior 7–9).
    births
        As in :func:`cohort_survival`.
    horizon_years
        Years after the last enrolment year (e.g. ``2035 − 2024 = 11``).
    levels
        Levels to forecast.
    entry_ages
        Overrides of :data:`DEFAULT_ENTRY_AGES`, e.g. ``{"kindergarten": 3}``.
    level_grades
        Overrides of :data:`DEFAULT_LEVEL_GRADES`, e.g. ``{"primary": range(1, 6),
        "junior": range(6, 10)}`` for 五四制.
    junior_entry
        ``"progression"`` (grade 7 from grade 6; needs primary in ``levels``) or
        ``"births"``. Zones with junior rows but no primary rows make it fall back to
        ``"births"`` with a warning; zones with primary but no junior rows (no junior
        school) get junior = 0 in history, so their pupils show up where they went.
    smoothing, min_pairs, births_model, births_window, damping, births_scenario
        As in :func:`cohort_survival`.

    Returns
    -------
    DataFrame
        ``zone, level, grade, year, p10, p50, p90`` (pupils); ``zone == "county"``
        when enrolment has no zone column. Summing p10 (p90) over rows gives a
        conservative band for the total, not its 10 % (90 %) quantile.
    """
    df = _frame(enrolment, "enrolment", ("level", "year", "grade", "students"))
    ages = {**DEFAULT_ENTRY_AGES, **(entry_ages or {})}
    grades_of = {k: tuple(v) for k, v in {**DEFAULT_LEVEL_GRADES, **(level_grades or {})}.items()}
    aliases = {"幼儿园": "kindergarten", "学前": "kindergarten", "小学": "primary", "初中": "junior"}
    level_col = df["level"].map(lambda v: aliases.get(str(v).strip(), str(v).strip().lower()))
    unknown = ~level_col.isin(list(LEVELS))
    if unknown.any():
        vals = sorted({str(v) for v in df["level"][unknown].tolist()})
        raise SchemaError(f"enrolment: unknown level(s) {', '.join(vals)}", column="level",
                          rows=list(df.index[unknown]), fix=f"use {', '.join(LEVELS)}")
    levels = list(dict.fromkeys(levels))
    bad = [lv for lv in levels if lv not in LEVELS]
    if bad:
        raise ConfigError(f"unknown level(s) {bad}", fix=f"choose from {', '.join(LEVELS)}")
    absent = [lv for lv in levels if not (level_col == lv).any()]
    if absent:
        raise SchemaError(f"enrolment has no rows for level(s) {', '.join(absent)}", column="level",
                          fix="add the rows or drop those levels from levels=")
    if junior_entry not in ("progression", "births"):
        raise ConfigError(f"junior_entry must be 'progression' or 'births', got {junior_entry!r}",
                          fix="choose one")
    data = df.assign(level=level_col.to_numpy())
    if "zone" not in data.columns:
        data = data.assign(zone=_COUNTY)
        if "zone" in births.columns:
            births = births.groupby("year", as_index=False)["births"].sum()
    opts: dict[str, Any] = {"horizon_years": horizon_years, "smoothing": smoothing,
                            "min_pairs": min_pairs, "births_model": births_model,
                            "births_window": births_window, "damping": damping,
                            "births_scenario": births_scenario}
    cols = ["zone", "year", "grade", "students"]

    def run(level_rows: pd.DataFrame, grades: Sequence[Grade], age: int) -> pd.DataFrame:
        return cohort_survival(level_rows[cols], births, entry_age=age, grades=grades, **opts)

    results: list[pd.DataFrame] = []
    chain = junior_entry == "progression" and "primary" in levels and "junior" in levels
    if chain:
        prim, jun = data[data["level"] == "primary"], data[data["level"] == "junior"]
        orphan = sorted(set(jun["zone"]) - set(prim["zone"]), key=str)
        if orphan:
            _warn(f"enrolment: zone(s) {_fmt(orphan)} have junior but no primary rows; junior entry "
                  "taken from births instead of progression from grade 6")
            chain = False
    if chain:
        pg, jg = grades_of["primary"], grades_of["junior"]
        _, pkeys = _grade_list(pg, "primary grades")
        _, jkeys = _grade_list(jg, "junior grades")
        if set(pkeys) & set(jkeys):
            raise ConfigError("primary and junior grades overlap; cannot chain them",
                              fix="use distinct labels (e.g. 1–6 and 7–9) or junior_entry='births'")
        missing_j = sorted(set(prim["zone"]) - set(jun["zone"]), key=str)
        fill = [pd.DataFrame({"zone": z, "year": yrs, "grade": g, "students": 0})
                for z in missing_j for yrs in [sorted(set(prim.loc[prim["zone"] == z, "year"]))]
                for g in jg]
        rows = pd.concat([prim[cols], jun[cols], *fill], ignore_index=True)
        res = run(rows, [*pg, *jg], ages["primary"])
        jset = set(jkeys)
        res["level"] = ["junior" if _grade_key(g) in jset else "primary" for g in res["grade"]]
        results.append(res[res["level"].isin(levels)])
        done = {"primary", "junior"}
    else:
        done = set()
    for lv in levels:
        if lv in done:
            continue
        res = run(data[data["level"] == lv], grades_of[lv], ages[lv])
        res["level"] = lv
        results.append(res)
    out = pd.concat(results, ignore_index=True)
    order = {lv: i for i, lv in enumerate(LEVELS)}
    out = out.assign(_lv=out["level"].map(order)).sort_values(["zone", "_lv", "year"], kind="stable")
    out = out[["zone", "level", "grade", "year", "p10", "p50", "p90"]].reset_index(drop=True)
    return out


# --------------------------------------------------------------------------- reallocation


_DEMAND_COLS = ("zone", "level", "grade", "year", "p10", "p50", "p90")
_Q = ("p10", "p50", "p90")


def _demand_frame(demand: pd.DataFrame, name: str = "demand") -> pd.DataFrame:
    df = _frame(demand, name, _DEMAND_COLS)
    for q in _Q:
        _nonneg(df, name, q, what="pupils")
    return df


def _reallocate(demand: pd.DataFrame, share: Callable[[pd.DataFrame], np.ndarray],
                destination: Mapping[Hashable, Hashable]) -> pd.DataFrame:
    """Move ``share(rows)`` of each source row's p10/p50/p90 to ``destination[zone]``."""
    out = demand.copy()
    src = out["zone"].isin(list(destination)).to_numpy()
    if not src.any():
        return out
    frac = np.zeros(len(out))
    frac[src] = np.clip(share(out[src]), 0.0, 1.0)
    moved = out.loc[src, ["level", "grade", "year", *_Q]].copy()
    moved["zone"] = out.loc[src, "zone"].map(destination).to_numpy()
    for q in _Q:
        moved[q] = out.loc[src, q].to_numpy(float) * frac[src]
        out[q] = out[q].to_numpy(float) * (1.0 - frac)
    key = ["zone", "level", "grade", "year"]
    add = moved.groupby(key, sort=False, as_index=False)[list(_Q)].sum()
    return _add_rows(out, add, key)


def _add_rows(base: pd.DataFrame, add: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """Add ``add[p10/p50/p90]`` to matching rows of ``base`` (order kept); append the rest."""
    merged = base.merge(add, on=key, how="left", suffixes=("", "_in"), sort=False)
    for q in _Q:
        merged[q] = merged[q].to_numpy(float) + merged[f"{q}_in"].fillna(0.0).to_numpy(float)
    merged = merged[list(base.columns)]
    new = add.merge(base[key], on=key, how="left", indicator=True)
    new = new[new["_merge"] == "left_only"]
    if len(new):
        extra = new[key + list(_Q)].reindex(columns=list(base.columns))
        merged = pd.concat([merged, extra], ignore_index=True)
    return merged.reset_index(drop=True)


def _zones_check(demand: pd.DataFrame, zones: Iterable[Hashable], what: str) -> None:
    known = set(demand["zone"])
    unknown = [z for z in zones if z not in known]
    if unknown:
        raise ConfigError(f"{what}: zone(s) {_fmt(unknown)} not in demand",
                          fix=f"use zones from: {_fmt(sorted(known, key=str), 12)}")


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
        Output of :func:`seat_demand` (``zone, level, grade, year, p10, p50, p90``).
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
    df = _demand_frame(demand)
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
        Output of :func:`seat_demand`.
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
    df = _demand_frame(demand)
    if not 0.0 <= float(share) <= 1.0:
        raise ConfigError(f"share must lie in [0, 1], got {share!r}", fix="e.g. 1.0 or 0.6")
    ramp = _check_positive_int(ramp_years, "ramp_years")
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


# --------------------------------------------------------------------------- housing yield


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
    df = _frame(developments, "developments", ("zone", "year"))
    if "dwellings" not in df.columns and "residents" not in df.columns:
        raise SchemaError("developments needs a 'dwellings' or a 'residents' column",
                          column="dwellings", fix="add dwellings (套) or residents (persons) per row")
    years = _whole_years(df, "developments")
    if "residents" in df.columns:
        residents = _nonneg(df, "developments", "residents")
    else:
        residents = _nonneg(df, "developments", "dwellings") * float(persons_per_dwelling)
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
    df = _demand_frame(demand)
    ex = _frame(extra, "extra", ("zone", "level", "grade", "year", "pupils"))
    _nonneg(ex, "extra", "pupils", what="pupils")
    ex = ex[ex["year"].isin(set(df["year"]))]
    key = ["zone", "level", "grade", "year"]
    add = ex.groupby(key, as_index=False, sort=False)["pupils"].sum()
    add = add.assign(**{q: add["pupils"].to_numpy(float) for q in _Q}).drop(columns="pupils")
    return _add_rows(df, add, key)


# --------------------------------------------------------------------------- classes and seats


def class_size_table(class_sizes: Mapping[str, Any] | None = None) -> dict[str, dict[Hashable, int] | int]:
    """Merge class-size overrides over :data:`DEFAULT_CLASS_SIZES`.

    Parameters
    ----------
    class_sizes
        ``{level: size}`` or ``{level: {grade: size}}``; also accepts the flat
        ``[class_size]`` table of ``schoolplan.standards`` (``primary``, ``junior``,
        ``kindergarten_small`` / ``_middle`` / ``_large`` for grades 1/2/3); other keys
        are ignored.

    Returns
    -------
    dict
        ``{level: size or {grade key: size}}``.
    """
    table: dict[str, Any] = {k: (dict(v) if isinstance(v, Mapping) else v)
                             for k, v in DEFAULT_CLASS_SIZES.items()}
    if not class_sizes:
        return table
    kg = {"kindergarten_small": 1, "kindergarten_middle": 2, "kindergarten_large": 3}
    for key, value in class_sizes.items():
        if key in kg:
            current = table["kindergarten"]
            if not isinstance(current, dict):
                current = dict.fromkeys((1, 2, 3), current)
            current[kg[key]] = value
            table["kindergarten"] = current
        elif key in LEVELS:
            table[key] = ({_grade_key(g): v for g, v in value.items()} if isinstance(value, Mapping)
                          else value)
    for lv, v in table.items():
        sizes = v.values() if isinstance(v, dict) else [v]
        if any(not isinstance(x, int | float) or isinstance(x, bool) or x <= 0 for x in sizes):
            raise ConfigError(f"class size for {lv} must be positive numbers, got {v!r}",
                              fix="e.g. {'primary': 45}")
    return table


def _size_of(table: Mapping[str, Any], level: str, grade: Grade) -> float:
    v = table.get(level)
    if v is None:
        raise ConfigError(f"no class size for level {level!r}", fix="pass class_sizes={level: size}")
    if isinstance(v, Mapping):
        key = _grade_key(grade)
        if key not in v:
            return float(np.mean(list(v.values())))
        return float(v[key])
    return float(v)


def classes_needed(demand: pd.DataFrame, *, class_sizes: Mapping[str, Any] | None = None
                   ) -> pd.DataFrame:
    """Classes (班) needed per zone, level, grade and year: ⌈pupils / class size⌉.

    Parameters
    ----------
    demand
        ``zone, level, grade, year, p10, p50, p90``.
    class_sizes
        Overrides of :data:`DEFAULT_CLASS_SIZES` (see :func:`class_size_table`).

    Returns
    -------
    DataFrame
        ``demand`` plus ``class_size`` and ``classes_p10``, ``classes_p50``,
        ``classes_p90`` (integers). Rounding per grade and zone assumes one school per
        zone and level; several schools need at least as many classes.
    """
    df = _demand_frame(demand)
    table = class_size_table(class_sizes)
    size = np.array([_size_of(table, lv, g) for lv, g in zip(df["level"], df["grade"], strict=True)])
    out = df.copy()
    out["class_size"] = size
    for q in _Q:
        out[f"classes_{q}"] = np.ceil(np.round(df[q].to_numpy(float) / size, 9)).astype(np.int64)
    return out


def seat_balance(demand: pd.DataFrame, capacity: pd.DataFrame, *,
                 class_sizes: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Seats short or surplus per zone, level and year against current capacity.

    Parameters
    ----------
    demand
        ``zone, level, grade, year, p10, p50, p90``.
    capacity
        ``zone, level`` and ``seats`` (学位) or ``classes`` (converted with the level's
        class size; kindergarten: mean of 小/中/大班 sizes).
    class_sizes
        Overrides of :data:`DEFAULT_CLASS_SIZES`.

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
    df = classes_needed(demand, class_sizes=class_sizes)
    cap = _frame(capacity, "capacity", ("zone", "level"))
    table = class_size_table(class_sizes)
    if "seats" in cap.columns:
        seats = _nonneg(cap, "capacity", "seats", what="seats")
    elif "classes" in cap.columns:
        n = _nonneg(cap, "capacity", "classes", what="classes")
        per = np.array([_size_of(table, lv, -1) for lv in cap["level"]])
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
        _warn(f"capacity: no seats given for {_fmt(pairs)}; counted as 0")
        out["seats"] = out["seats"].fillna(0.0)
    out["balance_p50"] = out["seats"] - out["pupils_p50"]
    out["shortfall_p50"] = np.maximum(out["pupils_p50"] - out["seats"], 0.0)
    out["shortfall_p90"] = np.maximum(out["pupils_p90"] - out["seats"], 0.0)
    out["surplus_p50"] = np.maximum(out["seats"] - out["pupils_p50"], 0.0)
    per = np.array([_size_of(table, lv, -1) for lv in out["level"]])
    out["classes_short_p50"] = np.ceil(np.round(out["shortfall_p50"].to_numpy(float) / per, 9)).astype(np.int64)
    cols = ["zone", "level", "year", "pupils_p10", "pupils_p50", "pupils_p90", "seats", "balance_p50",
            "shortfall_p50", "shortfall_p90", "surplus_p50", "classes_p50", "classes_short_p50"]
    return out[cols]


def enrolment_by_zone(
    enrolment: pd.DataFrame,
    schools: pd.DataFrame,
    *,
    zone_column: str = "township_id",
    levels: Sequence[str] = LEVELS,
) -> pd.DataFrame:
    """Sum a register's school-level enrolment to zones, ready for :func:`seat_demand`.

    Parameters
    ----------
    enrolment
        ``year, school_id, level, grade, students`` (as in :attr:`schoolplan.County.enrolment`).
    schools
        Schools indexed by ``school_id`` with the zone column.
    zone_column
        Column of ``schools`` naming each school's zone (the township by default).
    levels
        Levels to keep.

    Returns
    -------
    pandas.DataFrame
        ``zone, level, year, grade, students``; schools without a zone are left out.
    """
    e = enrolment.assign(zone=enrolment["school_id"].map(schools[zone_column]))
    e = e[e["level"].isin(list(levels)) & e["zone"].notna()]
    return e.groupby(["zone", "level", "year", "grade"], as_index=False)["students"].sum()
