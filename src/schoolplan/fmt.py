"""One number format for every output: report, XLSX, maps, command line and dossiers.

A number is shown according to its *kind*, decided once from the name of the
indicator or column it belongs to (:func:`kind_of`), so that the same figure reads
the same everywhere (``7,716`` pupils in the report, the workbook, a map popup and
the terminal):

==========  ============================================  ===========  ============
kind        what                                          text         XLSX format
==========  ============================================  ===========  ============
count       whole things: pupils, schools, classes,       ``7,716``    ``#,##0``
            seats, beds, buses, teachers
area        land and floor area, m²                       ``19,800``   ``#,##0``
decimal     measured quantities: minutes, mean class      ``34.3``     ``#,##0.0``
            size, km
money       amounts in 万元 (10k yuan)                    ``2,919.0``  ``#,##0.0``
share       a fraction, shown as a percentage             ``41.7%``    ``0.0%``
ratio       coefficients of variation (差异系数)          ``0.35``     ``0.00``
year        calendar years                                ``2030``     ``0``
==========  ============================================  ===========  ============

Counts are rounded half away from zero (``0.5`` → ``1``); a value that cannot be
computed is shown as :data:`DASH` (never 0, never a default).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = ["DASH", "EXCEL_FORMATS", "KINDS", "Kind", "excel_format", "is_missing", "kind_of", "number",
           "rounded"]

Kind = Literal["count", "area", "decimal", "money", "share", "ratio", "year"]

#: The kinds of numbers, in the order of the table above.
KINDS: tuple[Kind, ...] = ("count", "area", "decimal", "money", "share", "ratio", "year")

#: Shown for a figure the inputs cannot support.
DASH = "—"

#: openpyxl number format of each kind.
EXCEL_FORMATS: dict[Kind, str] = {
    "count": "#,##0", "area": "#,##0", "decimal": "#,##0.0", "money": "#,##0.0", "share": "0.0%",
    "ratio": "0.00", "year": "0",
}

_DECIMALS: dict[Kind, int] = {"count": 0, "area": 0, "decimal": 1, "money": 1, "share": 4, "ratio": 2, "year": 0}


def is_missing(value: Any) -> bool:
    """Whether ``value`` is None, NaN, ``pd.NA`` or ``NaT`` (a figure that cannot be shown)."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def kind_of(name: str) -> Kind:
    """The kind of number an indicator or column holds, from its name.

    Parameters
    ----------
    name
        Indicator key or column name (``pupils_over_limit``, ``mean_minutes``,
        ``land_m2_primary``, ``capital_cost_wan``, ``kindergarten_public_share``,
        ``cv_primary_max``, ``year`` ...). Units are part of names in schoolplan,
        which is what makes this work.

    Returns
    -------
    Kind
        ``count`` unless the name says otherwise.
    """
    n = name.lower()
    if n == "year" or n.endswith("_year") or n.startswith("year_"):
        return "year"
    if "share" in n or n.endswith("_pct") or n.endswith("_rate"):
        return "share"
    if n.startswith("cv_") and not n.endswith("_pass"):
        return "ratio"
    if n.endswith("_wan") or "cost" in n:
        return "money"
    if "km2" in n or "per_pupil" in n or "per100" in n or "per_unit" in n:  # indicator values (e.g. m² per pupil)
        return "decimal"
    if "_m2" in n or n.endswith("m2"):
        return "area"
    if "minutes" in n or "class_size" in n or n.endswith("_km") or n.startswith("mean_") or n.endswith("_kmh"):
        return "decimal"
    return "count"


def _round_half_away(x: float, decimals: int) -> float:
    scale = 10.0 ** decimals
    return math.copysign(math.floor(abs(x) * scale + 0.5 + 1e-9), x) / scale


def rounded(value: Any, kind: Kind = "count") -> int | float | None:
    """The value as it is shown: an ``int`` for counts, areas and years, else a rounded ``float``.

    Used for workbook cells, so that a cell holds ``940`` rather than
    ``939.5999999999999``. Missing values give None; non-numbers are returned as they are.
    """
    if is_missing(value):
        return None
    if isinstance(value, bool | np.bool_):
        return value  # type: ignore[return-value]
    try:
        x = float(value)
    except (TypeError, ValueError):
        return value  # type: ignore[no-any-return]
    if not math.isfinite(x):
        return None
    d = _DECIMALS[kind]
    r = _round_half_away(x, d)
    return int(r) if d == 0 else r


def number(value: Any, kind: Kind | None = None, *, name: str | None = None) -> str:
    """Format a number for people.

    Parameters
    ----------
    value
        A number (int, float, NumPy scalar), or None/NaN for "cannot be computed".
    kind
        How to show it (see the module table); taken from ``name`` when omitted.
    name
        Indicator key or column name whose :func:`kind_of` gives the kind.

    Returns
    -------
    str
        ``"7,716"``, ``"34.3"``, ``"41.7%"``, ``"0.35"``, ``"2030"`` ... or :data:`DASH`.
        Booleans and text are returned as text.

    Examples
    --------
    >>> number(939.5999999999999)
    '940'
    >>> number(7699.46, "decimal")
    '7,699.5'
    >>> number(0.4167, name="kindergarten_public_share")
    '41.7%'
    >>> number(float("nan"))
    '—'
    """
    k: Kind = kind or (kind_of(name) if name else "count")
    if is_missing(value):
        return DASH
    if isinstance(value, bool | np.bool_ | str):
        return str(value)
    r = rounded(value, k)
    if r is None:
        return DASH
    if not isinstance(r, int | float):
        return str(r)
    if k == "share":
        return f"{r * 100:.1f}%"
    if k == "ratio":
        return f"{r:.2f}"
    if k == "year":
        return str(int(r))
    if _DECIMALS[k] == 0:
        return f"{int(r):,}"
    return f"{r:,.{_DECIMALS[k]}f}"


def excel_format(kind: Kind) -> str:
    """The openpyxl ``number_format`` of a kind (``#,##0``, ``#,##0.0``, ``0.0%`` ...)."""
    return EXCEL_FORMATS[kind]
