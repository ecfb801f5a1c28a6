"""Input checking for the forecast: enrolment panels, births tables, diagnostics.

Everything here fails early with a typed error naming the column, the rows and the
fix (:mod:`schoolplan.errors`), or records a diagnostic that the public functions
return as data and emit as :class:`~schoolplan.errors.DataWarning`.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from schoolplan.errors import ConfigError, DataWarning, NonUniqueIdError, SchemaError
from schoolplan.schema import STAGE_ENTRY_AGES, STAGE_GRADES, STAGES

__all__ = [
    "ALL",
    "COUNTY",
    "DEFAULT_ENTRY_AGES",
    "DEFAULT_LEVEL_GRADES",
    "DEMAND_KEY",
    "DIAGNOSTIC_COLUMNS",
    "LEVELS",
    "QUANTILES",
    "BirthsTable",
    "Diagnostics",
    "Grade",
    "Panel",
    "add_rows",
    "build_births",
    "build_panel",
    "check_fraction",
    "check_int",
    "demand_frame",
    "fmt",
    "grade_dtype",
    "grade_key",
    "grade_list",
    "nan_median",
    "nonneg",
    "require_frame",
    "whole_years",
    "zone_keys",
]

Grade = int | str

#: School levels handled by :func:`schoolplan.forecast.seat_demand` (:data:`schoolplan.schema.STAGES`).
LEVELS: tuple[str, ...] = STAGES

#: Entry age in completed years at the start of the school year (:data:`schoolplan.schema.STAGE_ENTRY_AGES`).
DEFAULT_ENTRY_AGES: Mapping[str, int] = MappingProxyType(dict(STAGE_ENTRY_AGES))

#: Grade labels per level (:data:`schoolplan.schema.STAGE_GRADES`): kindergarten 1–3 = 小班/中班/大班,
#: primary 1–6, junior 7–9 ("6+3").
DEFAULT_LEVEL_GRADES: Mapping[str, tuple[int, ...]] = MappingProxyType(dict(STAGE_GRADES))

#: Zone label of a forecast without zones, and of all-zone totals.
COUNTY = "county"
ALL = "ALL"

#: Quantile columns of a demand frame, and the key of its rows.
QUANTILES = ("p10", "p50", "p90")
DEMAND_KEY = ["zone", "level", "grade", "year"]

#: Columns of every ``diagnostics`` frame.
DIAGNOSTIC_COLUMNS = ("kind", "level", "zone", "year", "grade", "value", "detail", "message")


# --------------------------------------------------------------------------- diagnostics


@dataclass
class Diagnostics:
    """Collector of data notes: returned as a frame and emitted as DataWarnings.

    ``kind`` is a stable code: ``count_break`` and ``jump_unconfirmed`` (count breaks),
    ``pooled_ratio`` and ``assumed_ratio`` (a zone without enough history), ``default_band``
    and ``short_history`` (intervals on no or little evidence), ``missing_rows``,
    ``missing_years``, ``fractional_counts``, ``births_unused``, ``births_summed``,
    ``junior_from_births``, ``no_capacity`` (input notes). ``message`` is the English
    sentence also used for the warning.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    level: str | None = None

    def add(self, kind: str, message: str, *, zone: Hashable = None, year: int | None = None,
            grade: Any = None, value: float | None = None, detail: str = "", warn: bool = True) -> None:
        self.rows.append({"kind": kind, "level": self.level, "zone": zone,
                          "year": None if year is None else int(year), "grade": grade,
                          "value": np.nan if value is None else float(value), "detail": detail,
                          "message": message, "_warn": warn})

    def extend(self, other: Diagnostics) -> None:
        self.rows.extend(other.rows)

    def frame(self) -> pd.DataFrame:
        """The notes as a frame with :data:`DIAGNOSTIC_COLUMNS` (``year`` as Int64)."""
        df = pd.DataFrame(self.rows, columns=[*DIAGNOSTIC_COLUMNS, "_warn"]).drop(columns="_warn")
        df["year"] = df["year"].astype("Int64")
        df["value"] = df["value"].astype(float)
        for c in ("kind", "level", "zone", "grade", "detail", "message"):
            df[c] = df[c].astype(object)
        return df

    def warn(self, stacklevel: int = 2) -> None:
        """Emit each distinct message once as a :class:`~schoolplan.errors.DataWarning`."""
        seen: set[str] = set()
        for r in self.rows:
            if r["_warn"] and r["message"] not in seen:
                seen.add(r["message"])
                warnings.warn(r["message"], DataWarning, stacklevel=stacklevel + 1)


# --------------------------------------------------------------------------- small helpers


def nan_median(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """Median along ``axis`` ignoring NaN (NaN where a slice has no number); fast for small slices."""
    a = np.moveaxis(np.asarray(a, dtype=float), axis, -1)
    n = np.isfinite(a).sum(axis=-1)
    srt = np.sort(np.where(np.isfinite(a), a, np.inf), axis=-1)
    lo = np.clip((n - 1) // 2, 0, None)[..., None]
    hi = np.clip(n // 2, 0, None)[..., None]
    if srt.shape[-1] == 0:
        return np.full(n.shape, np.nan)
    med = 0.5 * (np.take_along_axis(srt, lo, -1) + np.take_along_axis(srt, hi, -1))[..., 0]
    return np.where(n > 0, med, np.nan)


def fmt(items: Iterable[Any], limit: int = 8) -> str:
    """``"a, b, c (+4 more)"``."""
    items = [str(i) for i in items]
    text = ", ".join(items[:limit])
    if len(items) > limit:
        text += f" (+{len(items) - limit} more)"
    return text


def require_frame(obj: Any, name: str, required: Sequence[str]) -> pd.DataFrame:
    """Check ``obj`` is a non-empty DataFrame holding ``required`` columns."""
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


def whole_years(df: pd.DataFrame, name: str, col: str = "year") -> np.ndarray:
    """Column ``col`` as int64 calendar years; SchemaError naming rows otherwise."""
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


def nonneg(df: pd.DataFrame, name: str, col: str, *, what: str = "counts",
           notes: Diagnostics | None = None) -> np.ndarray:
    """Column ``col`` as finite non-negative floats; fractional head counts are noted."""
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
            msg = (f"{name}: '{col}' is not a whole number of persons in rows {fmt(df.index[frac])}; "
                   "used as given (convert units such as 万 to persons)")
            if notes is None:
                warnings.warn(msg, DataWarning, stacklevel=3)
            else:
                notes.add("fractional_counts", msg, detail=f"{name}.{col}")
    return values


def grade_key(value: Any) -> Hashable:
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


def grade_list(grades: Iterable[Grade], what: str = "grades") -> tuple[list[Grade], list[Hashable]]:
    """Grade labels and their normalised keys; ConfigError when empty or repeated."""
    labels = list(grades)
    if len(labels) < 1:
        raise ConfigError(f"{what} is empty", fix="list the grades in order, entry grade first")
    keys = [grade_key(g) for g in labels]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"{what} {labels} repeats a grade", fix="list each grade once")
    return labels, keys


def grade_dtype(grades: Sequence[Grade]) -> str:
    """``"int64"`` when every label is an integer, else ``"object"``."""
    return "int64" if all(isinstance(g, int | np.integer) for g in grades) else "object"


def check_int(value: Any, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """A whole number in ``[minimum, maximum]``; ConfigError otherwise."""
    ok = not isinstance(value, bool) and isinstance(value, int | np.integer) and value >= minimum
    if ok and maximum is not None:
        ok = value <= maximum
    if not ok:
        rng = f"≥ {minimum}" if maximum is None else f"in {minimum}…{maximum}"
        raise ConfigError(f"{name} must be an integer {rng}, got {value!r}", fix=f"pass a whole number {rng}")
    return int(value)


def check_fraction(value: Any, name: str, *, fix: str, low: float = 0.0, high: float = 1.0) -> float:
    """A finite number in ``[low, high]``; ConfigError otherwise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if isinstance(value, bool) or not low <= v <= high:
        raise ConfigError(f"{name} must lie in [{low:g}, {high:g}], got {value!r}", fix=fix)
    return v


# --------------------------------------------------------------------------- enrolment panel


@dataclass(frozen=True)
class Panel:
    """Enrolment as an array ``counts[zone, year, grade]`` (NaN = not observed)."""

    zones: list[Hashable]
    has_zone: bool
    years: np.ndarray
    grades: list[Grade]
    counts: np.ndarray


def zone_keys(panel: Panel) -> list[Hashable]:
    """Zone labels for output (``"county"`` when the enrolment has no zone)."""
    return [z if panel.has_zone else COUNTY for z in panel.zones]


def build_panel(enrolment: pd.DataFrame, grades: Iterable[Grade], *, notes: Diagnostics,
                name: str = "enrolment") -> Panel:
    """Validate enrolment (``[zone,] year, grade, students``) into a :class:`Panel`.

    Raises SchemaError for missing columns, bad or negative counts, unknown grades,
    duplicates, zones without the last year, and missing grades in the last year;
    records missing years and rows (treated as unknown, not zero) in ``notes``.
    """
    df = require_frame(enrolment, name, ("year", "grade", "students"))
    labels, keys = grade_list(grades)
    years = whole_years(df, name)
    students = nonneg(df, name, "students", notes=notes)
    pos = {k: i for i, k in enumerate(keys)}
    gidx = np.array([pos.get(grade_key(g), -1) for g in df["grade"].tolist()], dtype=np.int64)
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

    seen_years = np.isfinite(counts).any(axis=2)  # (zone, year)
    late = [zones[z] for z in range(n_z) if not seen_years[z, -1]]
    if late:
        raise SchemaError(
            f"{name}: zone(s) {fmt(late)} have no data for the last year {last}",
            column="year",
            fix=f"add their {last} rows, or forecast them separately",
        )
    gaps_last = np.argwhere(~np.isfinite(counts[:, -1, :]))
    if len(gaps_last):
        raise SchemaError(
            f"{name}: no row for {fmt(f'{zname(z)}grade {labels[g]}'.strip() for z, g in gaps_last)} "
            f"in the last year {last}",
            column="grade",
            fix="add the rows (with students = 0 where a grade has no pupils)",
        )
    start = np.argmax(seen_years, axis=1)
    after_start = np.arange(n_y)[None, :] >= start[:, None]
    gap_years = np.argwhere(after_start & ~seen_years)
    if len(gap_years):
        msg = (f"{name}: missing year(s) {fmt(f'{zname(z)}{first + y}'.strip() for z, y in gap_years)}; "
               "ratios use the years on either side only where consecutive years exist")
        for z, y in gap_years:
            notes.add("missing_years", msg, zone=zones[z] if has_zone else None, year=first + y)
    missing = np.argwhere(after_start[:, :, None] & seen_years[:, :, None] & ~np.isfinite(counts))
    if len(missing):
        msg = (f"{name}: missing row(s) {fmt(f'{zname(z)}{first + y} grade {labels[g]}'.strip() for z, y, g in missing)}"
               "; treated as unknown (not zero)")
        for z, y, g in missing:
            notes.add("missing_rows", msg, zone=zones[z] if has_zone else None, year=first + y, grade=labels[g])
    return Panel(zones=zones, has_zone=has_zone, years=np.arange(first, last + 1), grades=labels,
                 counts=counts)


# --------------------------------------------------------------------------- births table


@dataclass(frozen=True)
class BirthsTable:
    """Observed births: one row per series (a zone, or one county series shared by all zones).

    ``values[k, i]`` is births of year ``first_year + i`` of series ``k`` (NaN outside
    its observed years); ``series_of_zone[z]`` maps panel zones to series rows.
    """

    keys: list[Hashable]
    values: np.ndarray
    first_year: int
    start: np.ndarray
    end: np.ndarray
    series_of_zone: np.ndarray

    def observed(self, years: np.ndarray, known_to: int | None = None) -> np.ndarray:
        """Births of ``years`` per series ``(K, len(years))``; NaN where unknown or after ``known_to``."""
        years = np.asarray(years, dtype=np.int64)
        idx = years - self.first_year
        ok = (idx >= 0) & (idx < self.values.shape[1])
        out = np.full((len(self.keys), len(years)), np.nan)
        out[:, ok] = self.values[:, idx[ok]]
        if known_to is not None:
            out[:, years > known_to] = np.nan
        return out


def build_births(births: pd.DataFrame, panel: Panel, *, notes: Diagnostics,
                 name: str = "births") -> BirthsTable:
    """Validate births (``year, births[, zone]``) against the zones of ``panel``.

    Raises SchemaError for bad values, gaps inside a series and enrolment zones
    without births; NonUniqueIdError for duplicate years. Births by zone with a
    zone-less panel are summed over the years every zone reports (noted).
    """
    df = require_frame(births, name, ("year", "births"))
    years = whole_years(df, name)
    values = nonneg(df, name, "births", notes=notes)
    by_zone = "zone" in df.columns
    frame = pd.DataFrame({"year": years, "births": values}, index=df.index)
    if by_zone:
        zcol = df["zone"]
        nan = zcol.isna().to_numpy()
        if nan.any():
            raise SchemaError(f"{name}: 'zone' is empty", column="zone", rows=list(df.index[nan]),
                              fix="name the zone of every row, or drop the zone column for county births")
        frame["zone"] = zcol.astype(str).to_numpy()
    dup = frame.duplicated(["zone", "year"] if by_zone else ["year"], keep=False).to_numpy()
    if dup.any():
        raise NonUniqueIdError(f"{name}: more than one row for the same {'zone and ' if by_zone else ''}year",
                               rows=list(df.index[dup]), fix="keep one births figure per year")
    if by_zone and not panel.has_zone:
        notes.add("births_summed", f"{name}: births are given by zone but enrolment is not; summed to a county "
                  "total over the years every zone reports")
        counts_per_year = frame.groupby("year")["zone"].nunique()
        full = counts_per_year[counts_per_year == frame["zone"].nunique()].index
        frame = frame[frame["year"].isin(full)].groupby("year", as_index=False)["births"].sum()
        by_zone = False

    def check_gaps(years_of: pd.Series, label: str) -> None:
        gap = np.setdiff1d(np.arange(years_of.min(), years_of.max() + 1), years_of.to_numpy())
        if gap.size:
            raise SchemaError(
                f"{name}: missing year(s) {fmt(gap.tolist())}{label}",
                column="year",
                fix="fill the gap (e.g. with the registered or interpolated count) so births are continuous",
            )

    if not by_zone:
        check_gaps(frame["year"], "")
        keys: list[Hashable] = [None]
        key_col = np.zeros(len(frame), dtype=np.int64)
        of_zone = np.zeros(len(panel.zones), dtype=np.int64)
    else:
        birth_zones = set(frame["zone"])
        extra = sorted(birth_zones - {str(z) for z in panel.zones})
        if extra:
            notes.add("births_unused", f"{name}: zone(s) {fmt(extra)} have births but no enrolment; ignored")
        absent = [z for z in panel.zones if str(z) not in birth_zones]
        if absent:
            raise SchemaError(
                f"{name}: no births for enrolment zone(s) {fmt(absent)}",
                column="zone",
                fix="add births for those zones, or drop the zone column of births to share county births",
            )
        keys = [str(z) for z in panel.zones]
        frame = frame[frame["zone"].isin(set(keys))]
        for z, yrs in frame.groupby("zone", sort=False)["year"]:
            check_gaps(yrs, f" for zone {z}")
        pos = {k: i for i, k in enumerate(keys)}
        key_col = frame["zone"].map(pos).to_numpy(dtype=np.int64)
        of_zone = np.arange(len(panel.zones), dtype=np.int64)
    yrs = frame["year"].to_numpy(dtype=np.int64)
    first, last = int(yrs.min()), int(yrs.max())
    values = np.full((len(keys), last - first + 1), np.nan)
    values[key_col, yrs - first] = frame["births"].to_numpy(dtype=float)
    seen = np.isfinite(values)
    start = first + np.argmax(seen, axis=1)
    end = last - np.argmax(seen[:, ::-1], axis=1)
    return BirthsTable(keys=keys, values=values, first_year=first, start=start.astype(np.int64),
                       end=end.astype(np.int64), series_of_zone=of_zone)


# --------------------------------------------------------------------------- demand frames


def demand_frame(demand: pd.DataFrame, name: str = "demand") -> pd.DataFrame:
    """Check a demand frame (``zone, level, grade, year, p10, p50, p90``; quantiles ≥ 0)."""
    df = require_frame(demand, name, (*DEMAND_KEY, *QUANTILES))
    for q in QUANTILES:
        nonneg(df, name, q, what="pupils")
    return df


def add_rows(base: pd.DataFrame, add: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """Add ``add[p10/p50/p90]`` to matching rows of ``base`` (order kept); append the rest."""
    merged = base.merge(add, on=key, how="left", suffixes=("", "_in"), sort=False)
    for q in QUANTILES:
        merged[q] = merged[q].to_numpy(float) + merged[f"{q}_in"].fillna(0.0).to_numpy(float)
    merged = merged[list(base.columns)]
    new = add.merge(base[key], on=key, how="left", indicator=True)
    new = new[new["_merge"] == "left_only"]
    if len(new):
        extra = new[key + list(QUANTILES)].reindex(columns=list(base.columns))
        merged = pd.concat([merged, extra], ignore_index=True)
    return merged.reset_index(drop=True)
