"""Typed errors and warnings of schoolplan.

Every error a user can cause derives from :class:`SchoolplanError` and carries
*where* the problem is (file, layer, column, rows) and *how to fix it*. The CLI
prints ``str(error)`` and exits with code 2 instead of showing a traceback.

Warnings for suspicious-but-usable data derive from :class:`SchoolplanWarning`
so that users can filter them (``warnings.simplefilter("ignore", DataWarning)``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ConfigError",
    "CrsError",
    "DataWarning",
    "EncodingError",
    "InfeasibleError",
    "InputFileError",
    "NetworkError",
    "NonUniqueIdError",
    "OptimizationError",
    "OutputError",
    "ResourceError",
    "SchemaError",
    "SchoolplanError",
    "SchoolplanWarning",
    "UnreachableWarning",
    "format_rows",
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


class InputFileError(SchoolplanError):
    """A file is missing, unreadable, empty or of an unknown format."""


class EncodingError(InputFileError):
    """Text could not be decoded (e.g. GBK read as UTF-8, mojibake)."""


class SchemaError(SchoolplanError):
    """A required column is missing, or values have the wrong type or range."""


class NonUniqueIdError(SchemaError):
    """Ids that must be unique are duplicated or missing."""


class CrsError(SchoolplanError):
    """A coordinate reference system is missing, unknown or inconsistent."""


class NetworkError(SchoolplanError):
    """A road network cannot be built or queried (no drivable roads, bad file, ...)."""


class OptimizationError(SchoolplanError):
    """A model is malformed (negative costs, NaN, p out of range, ...)."""


class InfeasibleError(SchoolplanError):
    """A model or plan has no feasible solution; the message says why and where."""


class ConfigError(SchoolplanError):
    """A scenario or standards configuration is invalid (key, type or allowed value)."""


class OutputError(SchoolplanError):
    """An output location cannot be written (exists and is not empty, not writable, ...)."""


class ResourceError(SchoolplanError):
    """The machine lacks the resources for a job (memory): the message gives the estimate and the fix."""


class SchoolplanWarning(UserWarning):
    """Base class of schoolplan's warnings."""


class DataWarning(SchoolplanWarning):
    """Suspicious but usable input (lat/lon look swapped, points outside the county, ...)."""


class UnreachableWarning(SchoolplanWarning):
    """Some points cannot reach the network or each other; they are reported, not dropped."""
