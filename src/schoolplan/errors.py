"""Typed errors and warnings of schoolplan.

Every error a user can cause derives from :class:`SchoolplanError` and carries
*where* the problem is (file, layer, column, rows) and *how to fix it*. The CLI
prints ``str(error)`` and exits with code 2 instead of showing a traceback. Each
error class also derives from the matching built-in exception (``SchemaError`` is a
``ValueError``, ``InputFileError`` an ``OSError``, ``MissingFileError`` a
``FileNotFoundError``, ``ResourceError`` a ``MemoryError`` ...), so code written
against the built-ins keeps catching them.

Warnings for suspicious-but-usable data derive from :class:`SchoolplanWarning`
so that users can filter them (``warnings.simplefilter("ignore", DataWarning)``).
They may carry the same *where* and *fix* fields as errors
(:func:`warn_data`), and :func:`collect_warnings` keeps every warning issued in a
block as rows of a data-quality table (:data:`DATA_QUALITY_COLUMNS`) while still
issuing it normally: warnings are collected and reported, never silenced.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DATA_QUALITY_COLUMNS",
    "ConfigError",
    "CrsError",
    "DataWarning",
    "EncodingError",
    "InfeasibleError",
    "InputFileError",
    "MissingFileError",
    "NetworkError",
    "NonUniqueIdError",
    "OptimizationError",
    "OutputError",
    "ResourceError",
    "SchemaError",
    "SchoolplanError",
    "SchoolplanWarning",
    "UnreachableWarning",
    "collect_warnings",
    "data_quality_frame",
    "format_rows",
    "warn_data",
]


def format_rows(rows: Iterable[Any], *, limit: int = 8) -> str:
    """Format row labels for a message: ``"3, 7, 12 (+5 more)"``.

    Parameters
    ----------
    rows
        Row labels (index values or 1-based line numbers).
    limit
        How many to show before summarising the rest.

    Returns
    -------
    str
        A short, human-readable list.
    """
    items = [str(r) for r in rows]
    shown = ", ".join(items[:limit])
    if len(items) > limit:
        shown += f" (+{len(items) - limit} more)"
    return shown


@dataclass(eq=False)
class SchoolplanError(Exception):
    """Base class of every error a user can cause.

    Parameters
    ----------
    message
        What is wrong, in one sentence.
    file
        The file (or folder) the problem was found in.
    layer
        The layer or sheet within the file.
    column
        The column concerned.
    rows
        Row labels concerned (ids or 1-based data-row numbers).
    fix
        How to fix it, in one sentence.
    """

    message: str
    file: str | None = None
    layer: str | None = None
    column: str | None = None
    rows: Sequence[Any] = field(default_factory=tuple)
    fix: str | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(f"file '{self.file}'")
        if self.layer:
            where.append(f"layer '{self.layer}'")
        if self.column:
            where.append(f"column '{self.column}'")
        if len(self.rows):
            where.append(f"rows {format_rows(self.rows)}")
        text = self.message
        if where:
            text += " [" + ", ".join(where) + "]"
        if self.fix:
            text += f". Fix: {self.fix}"
        return text

    def __reduce__(self) -> tuple[Any, ...]:  # picklable across Dask workers
        return (
            self.__class__,
            (self.message, self.file, self.layer, self.column, tuple(self.rows), self.fix),
        )


class InputFileError(SchoolplanError, OSError):
    """A file is missing, unreadable, empty or of an unknown format (an ``OSError``)."""


class MissingFileError(InputFileError, FileNotFoundError):
    """A file or folder that must exist does not (a ``FileNotFoundError``)."""


class EncodingError(InputFileError, ValueError):
    """Text could not be decoded (e.g. GBK read as UTF-8, mojibake)."""


class SchemaError(SchoolplanError, ValueError):
    """A required column is missing, or values have the wrong type or range (a ``ValueError``)."""


class NonUniqueIdError(SchemaError):
    """Ids that must be unique are duplicated or missing."""


class CrsError(SchoolplanError, ValueError):
    """A coordinate reference system is missing, unknown or inconsistent."""


class NetworkError(SchoolplanError, ValueError):
    """A road network cannot be built or queried (no drivable roads, bad file, ...)."""


class OptimizationError(SchoolplanError, ValueError):
    """A model is malformed (negative costs, NaN, p out of range, ...)."""


class InfeasibleError(SchoolplanError, RuntimeError):
    """A model or plan has no feasible solution; the message says why and where (a ``RuntimeError``)."""


class ConfigError(SchoolplanError, ValueError):
    """A scenario or standards configuration is invalid (key, type or allowed value)."""


class OutputError(SchoolplanError, OSError):
    """An output location cannot be written (exists and is not empty, not writable, disk full, ...)."""


class ResourceError(SchoolplanError, MemoryError):
    """The machine lacks the resources for a job (memory): the message gives the estimate and the fix."""


class SchoolplanWarning(UserWarning):
    """Base class of schoolplan's warnings.

    Parameters
    ----------
    message
        What looks wrong, in one sentence.
    file, layer, column, rows, fix
        Where, and how to fix it (as for :class:`SchoolplanError`); optional.
    check
        A stable key of the kind of finding (``"outside_county"``, ``"offset_gcj02"`` ...).

    Notes
    -----
    ``str(warning)`` is the full text (message, where, fix), as printed by the CLI.
    """

    def __init__(self, message: str = "", *, file: str | None = None, layer: str | None = None,
                 column: str | None = None, rows: Sequence[Any] = (), fix: str | None = None,
                 check: str | None = None) -> None:
        super().__init__(message)
        self.text = str(message)
        self.file, self.layer, self.column = file, layer, column
        self.rows = tuple(rows)
        self.fix = fix
        self.check = check

    def __str__(self) -> str:
        where = []
        if self.file and self.file not in self.text:
            where.append(f"file '{self.file}'")
        if self.layer and self.layer not in self.text:
            where.append(f"layer '{self.layer}'")
        if self.column:
            where.append(f"column '{self.column}'")
        if self.rows:
            where.append(f"rows {format_rows(self.rows)}")
        text = self.text
        if where:
            text += " [" + ", ".join(where) + "]"
        if self.fix:
            text += f". Fix: {self.fix}"
        return text


class DataWarning(SchoolplanWarning):
    """Suspicious but usable input (lat/lon look swapped, points outside the county, ...)."""


class UnreachableWarning(SchoolplanWarning):
    """Some points cannot reach the network or each other; they are reported, not dropped."""


def warn_data(message: str, *, file: str | None = None, layer: str | None = None, column: str | None = None,
              rows: Sequence[Any] = (), fix: str | None = None, check: str | None = None,
              category: type[SchoolplanWarning] = DataWarning, stacklevel: int = 2) -> None:
    """Issue a schoolplan warning that carries where it applies and how to fix it.

    Parameters
    ----------
    message
        What looks wrong.
    file, layer, column, rows, fix, check
        See :class:`SchoolplanWarning`.
    category
        :class:`DataWarning` (default) or another :class:`SchoolplanWarning`.
    stacklevel
        As for :func:`warnings.warn` (2 = the caller of the function calling this).
    """
    warnings.warn(category(message, file=file, layer=layer, column=column, rows=rows, fix=fix, check=check),
                  stacklevel=stacklevel + 1)


#: Columns of a data-quality table (``County.data_quality``, pre-flight findings, plausibility).
DATA_QUALITY_COLUMNS: tuple[str, ...] = ("severity", "check", "file", "layer", "column", "n_rows", "rows",
                                         "message", "fix")


def data_quality_frame(records: Iterable[Mapping[str, Any]] = ()) -> pd.DataFrame:
    """A data-quality table from records (dicts with some of :data:`DATA_QUALITY_COLUMNS`).

    Parameters
    ----------
    records
        Each with ``severity`` (``"warning"``: suspicious data, turned into errors by a
        strict run; ``"note"``: a value schoolplan derived or a choice it made, said so;
        ``"check"``: a plausibility finding), ``check`` (kind), ``file``, ``layer``,
        ``column``, ``rows`` (a sequence of ids or 1-based row numbers), ``message`` and
        ``fix``. Extra keys become extra columns.

    Returns
    -------
    pandas.DataFrame
        One row per finding; ``rows`` formatted as text (``"V1, V7 (+3 more)"``) and
        ``n_rows`` their count.
    """
    import pandas as pd

    out = []
    for r in records:
        row = {k: r.get(k) for k in DATA_QUALITY_COLUMNS}
        rows = r.get("rows") or ()
        if isinstance(rows, str):
            rows = (rows,)
        rows = list(rows)
        row["n_rows"] = len(rows)
        row["rows"] = format_rows(rows, limit=50) if rows else ""
        row["severity"] = row["severity"] or "warning"
        for k, v in r.items():
            if k not in row:
                row[k] = v
        out.append(row)
    frame = pd.DataFrame(out, columns=None if out else list(DATA_QUALITY_COLUMNS))
    for col in frame.columns:
        if col == "n_rows":
            frame[col] = frame[col].astype("int64")
        elif frame[col].dtype != object or frame[col].isna().any():
            frame[col] = pd.Series([None if _blank(v) else v for v in frame[col]], index=frame.index, dtype=object)
    return frame


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def _record(w: warnings.WarningMessage) -> dict[str, Any]:
    msg = w.message
    if isinstance(msg, SchoolplanWarning):
        return {"severity": "warning", "check": msg.check or w.category.__name__, "file": msg.file,
                "layer": msg.layer, "column": msg.column, "rows": msg.rows, "message": msg.text, "fix": msg.fix}
    return {"severity": "warning", "check": w.category.__name__, "message": str(msg)}


@contextlib.contextmanager
def collect_warnings(*, reissue: bool = True) -> Iterator[list[dict[str, Any]]]:
    """Collect the schoolplan warnings issued inside the block as data-quality records.

    Every warning is recorded (whatever the filters say) and, on leaving the block,
    issued again with its original category and source line, so that the caller's
    filters and the command line still see it (``warnings.simplefilter("error",
    DataWarning)`` then raises it at the end of the block).

    Parameters
    ----------
    reissue
        Issue the warnings again on leaving the block (default). False keeps them in
        the records only.

    Yields
    ------
    list of dict
        Filled when the block ends: one record per distinct :class:`SchoolplanWarning`
        (see :func:`data_quality_frame`).

    Examples
    --------
    >>> with collect_warnings() as found:  # doctest: +SKIP
    ...     county = load_county("my_county")
    >>> data_quality_frame(found)  # doctest: +SKIP
    """
    records: list[dict[str, Any]] = []
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as log:
            warnings.simplefilter("always")
            try:
                yield records
            finally:
                caught = list(log)
    finally:
        seen: set[tuple[str, str]] = set()
        for w in caught:
            if not issubclass(w.category, SchoolplanWarning):
                continue
            key = (w.category.__name__, str(w.message))
            if key not in seen:
                seen.add(key)
                records.append(_record(w))
        if reissue:
            for w in caught:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
