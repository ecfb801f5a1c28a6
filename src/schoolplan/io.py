"""Readers and writers at the edges: encodings, spreadsheets, vector files, atomic outputs.

Bureau data arrive as UTF-8, UTF-8 with BOM, GBK or GB18030 CSV; Excel sheets
with merged, multi-row headers; shapefiles with or without ``.cpg``; GeoPackage,
GeoJSON or FileGDB. Readers here return plain (Geo)DataFrames and never modify
the files they read. Writers go through a temporary file or folder in the same
directory and are moved into place only when complete.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from schoolplan import _text
from schoolplan import coords as _coords
from schoolplan.errors import (
    CrsError,
    EncodingError,
    InputFileError,
    MissingFileError,
    OutputError,
    ResourceError,
    SchemaError,
    warn_data,
)

__all__ = [
    "CGROUP_ROOT",
    "FORMULA_PREFIXES",
    "LAT_NAMES",
    "LON_NAMES",
    "MAX_UNPACKED_BYTES",
    "atomic_dir",
    "atomic_file",
    "available_memory",
    "cgroup_memory_available",
    "check_archive",
    "check_memory",
    "detect_encoding",
    "disk_full",
    "estimate_layer_bytes",
    "estimate_road_bytes",
    "list_layers",
    "memory_limits",
    "points_from_lonlat",
    "read_layer",
    "read_table",
    "rlimit_memory_available",
    "safe_cell_value",
    "write_gpkg",
]

TABLE_SUFFIXES = {".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls"}
VECTOR_SUFFIXES = {".gpkg", ".shp", ".geojson", ".json", ".gdb", ".fgb", ".zip"}

#: Accepted names of longitude/latitude columns (case-insensitive).
LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度", "东经", "point_x")
LAT_NAMES = ("lat", "latitude", "y", "纬度", "北纬", "point_y")



# --------------------------------------------------------------------------- encodings
def detect_encoding(raw: bytes) -> str:
    """Guess the encoding of Chinese or English text bytes (see :func:`schoolplan._text.detect_encoding`).

    Byte-order marks first (UTF-8-BOM, UTF-16, UTF-32), then UTF-8, then GB18030 (a
    superset of GBK and GB 2312), then ``charset_normalizer``.

    Parameters
    ----------
    raw
        The file's bytes (or a large prefix of them).

    Returns
    -------
    str
        A Python codec name.
    """
    return _text.detect_encoding(raw)


def _check_mojibake(df: pd.DataFrame, *, file: str, layer: str | None = None) -> None:
    """Raise or warn when text looks mis-decoded (mojibake), naming the likely encoding.

    Latin-looking mojibake (``åŸŽå…³`` for 城关: UTF-8 read as Latin-1; ``ºÓ¿Ú`` for 河口:
    GBK read as Latin-1) in a column name or in at least a fifth of a column's values is
    an :class:`~schoolplan.errors.EncodingError`; in fewer values, and CJK-looking
    mojibake (``娌冲彛`` for 河口: UTF-8 read as GBK, typical of a UTF-8 CSV opened and
    saved again in a GBK Excel) anywhere, is a warning, because the test is a heuristic.
    Replacement characters (``�``, ``锟斤拷``) mean the characters were lost before the
    file was saved: an error naming the rows.
    """
    for col in map(str, df.columns):
        moji = _text.explain_mojibake(col)
        if (moji is not None and moji.latin) or _text.lost_characters(col):
            what = moji.describe() if moji else "it holds replacement characters (�)"
            raise EncodingError(
                f"column names look garbled (mojibake): {what}",
                file=file, layer=layer, column=col,
                fix="re-export the file as UTF-8, or pass the encoding it was saved in"
                + (f" (encoding='{moji.encoding.split('/')[-1].lower()}')" if moji else ""),
            )
    for col in df.columns:
        s = df[col]
        if not (s.dtype == object or pd.api.types.is_string_dtype(s)):
            continue
        values = s.dropna()
        values = values[values.map(lambda v: isinstance(v, str) and not v.isascii())]
        if values.empty:
            continue
        n_text = int(s.map(lambda v: isinstance(v, str) and v.strip() != "").sum())
        lost = values[values.map(_text.lost_characters)]
        if len(lost):
            raise EncodingError(
                f"text holds replacement characters (e.g. '{lost.iloc[0][:30]}'): characters were lost when the "
                "file was converted between encodings", file=file, layer=layer, column=str(col),
                rows=[int(i) + 1 for i in lost.index[:50]],
                fix="export the table again from the original (Excel/WPS: save as CSV UTF-8, or as .xlsx); the "
                "lost characters cannot be recovered from this file")
        found = {v: m for v in values.unique() if (m := _text.explain_mojibake(v)) is not None}
        if not found:
            continue
        bad = values[values.isin(list(found))]
        first = found[bad.iloc[0]]
        rows = [int(i) + 1 for i in bad.index]
        latin = [m for m in found.values() if m.latin]
        if latin and len(bad) >= max(1, n_text // 5):
            raise EncodingError(
                f"text looks garbled (mojibake): {latin[0].describe()}", file=file, layer=layer, column=str(col),
                rows=rows,
                fix="re-export the file as UTF-8, or pass the encoding it was saved in (GBK files: "
                "encoding='gb18030')")
        warn_data(
            f"{Path(file).name}: text in column '{col}' looks garbled (mojibake): {first.describe()}"
            + (" (the file was probably opened and saved again in a GBK program)" if first.read_as == "GBK" else ""),
            file=file, layer=layer, column=str(col), rows=rows, check="mojibake",
            fix="re-export the file as UTF-8 from the original", stacklevel=3)


# --------------------------------------------------------------------------- archives
#: Largest total unpacked size of a zip-based input (XLSX workbook, zipped shapefile), bytes.
#: Override with the environment variable ``SCHOOLPLAN_MAX_UNPACKED_MB``.
MAX_UNPACKED_BYTES = 256 * 2**20


def _max_unpacked() -> int:
    env = os.environ.get("SCHOOLPLAN_MAX_UNPACKED_MB", "").strip()
    try:
        return int(float(env) * 2**20) if env else MAX_UNPACKED_BYTES
    except ValueError:
        return MAX_UNPACKED_BYTES


def check_archive(path: str | Path, *, max_bytes: int | None = None, what: str = "the file") -> int:
    """Check a zip-based file (XLSX, zipped shapefile) before it is unpacked.

    Reads only the zip directory: the declared unpacked sizes of its members. Python's
    ``zipfile`` never inflates a member beyond its declared size, so the sum is a
    real bound on what reading the file can unpack.

    Parameters
    ----------
    path
        The file.
    max_bytes
        Largest total unpacked size allowed (default :data:`MAX_UNPACKED_BYTES`, 256 MB,
        or ``SCHOOLPLAN_MAX_UNPACKED_MB``).
    what
        How to call the file in messages.

    Returns
    -------
    int
        The total unpacked size, bytes.

    Raises
    ------
    InputFileError
        Not a zip file (a damaged or renamed file), or one that unpacks to more than the limit
        (a "zip bomb", or a sheet with a million formatted empty rows).
    """
    import zipfile

    p = Path(path)
    limit = _max_unpacked() if max_bytes is None else int(max_bytes)
    try:
        with zipfile.ZipFile(p) as z:
            total = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputFileError(f"cannot open {what}: it is not a valid zip-based file ({exc})", file=str(p),
                             fix="save it again from Excel/WPS as .xlsx (or zip the shapefile again)") from None
    if total > limit:
        raise InputFileError(
            f"{what} unpacks to {_mb(total)}, more than the {_mb(limit)} allowed for an input (a zip bomb, or a "
            "sheet with very many formatted empty rows or columns)", file=str(p),
            fix="delete unused rows, columns and sheets (or save the table as CSV); if the file is genuinely this "
            "large, raise the limit with the environment variable SCHOOLPLAN_MAX_UNPACKED_MB")
    return total


# --------------------------------------------------------------------------- tables
def _drop_empty(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Drop rows that are entirely blank (the ``,,,,`` rows Excel leaves) and unnamed blank columns."""
    blank = df.apply(lambda s: s.isna() | s.map(lambda v: isinstance(v, str) and v.strip() == ""))
    empty_rows = blank.all(axis=1)
    unnamed = [c for c in df.columns if (str(c).startswith("Unnamed:") or str(c).strip() == "") and blank[c].all()]
    out = df.loc[~empty_rows].drop(columns=unnamed)
    return out, int(empty_rows.sum())


def _read_csv(path: Path, encoding: str | None) -> pd.DataFrame:
    raw = path.read_bytes()
    if not raw.strip() or not raw.replace(b"\x00", b"").replace(b"\xef\xbb\xbf", b"").replace(
            b"\xff\xfe", b"").replace(b"\xfe\xff", b"").strip():
        raise InputFileError("the file is empty", file=str(path), fix="export the table again with a header row")
    try:
        enc = encoding or detect_encoding(raw)
        text = raw.decode(enc)
    except (UnicodeDecodeError, LookupError) as exc:
        raise EncodingError(
            f"cannot decode the text ({exc})", file=str(path),
            fix="save the file as UTF-8 or GBK, or pass encoding=...",
        ) from None
    import io as _io

    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    sep = "\t" if path.suffix.lower() == ".tsv" or first.count("\t") > first.count(",") else ","
    if sep == "," and first.count("，") > first.count(","):  # full-width commas as separators
        sep = "，"
    try:
        df = pd.read_csv(_io.StringIO(text), sep=sep, dtype=str, keep_default_na=True, skipinitialspace=True,
                         engine="python" if len(sep) > 1 or not sep.isascii() else "c")
    except pd.errors.ParserError as exc:
        raise InputFileError(f"cannot parse the CSV: {' '.join(str(exc).split())}", file=str(path),
                             fix="check for unquoted commas and a consistent number of columns") from None
    except pd.errors.EmptyDataError:
        raise InputFileError("the file is empty", file=str(path), fix="export the table again with a header row") \
            from None
    df.attrs["encoding"] = enc
    return df


def _header_rows(raw: pd.DataFrame, max_rows: int = 4) -> int:
    """How many leading rows form the header (merged multi-row headers in bureau sheets)."""
    n = 1
    for i in range(1, min(max_rows, len(raw))):
        row = raw.iloc[i]
        filled = row.notna()
        if not filled.any():
            break
        numeric = pd.to_numeric(row[filled], errors="coerce").notna().mean()
        prev = raw.iloc[i - 1]
        # A header row has text, and the row above has gaps (merged cells)
        if numeric < 0.5 and prev.isna().any():
            n = i + 1
        else:
            break
    return n


def _title_rows(raw: pd.DataFrame) -> int:
    """Leading title rows ("XX县2024年学校基本情况表") above the header: one filled cell in a wide sheet."""
    n = 0
    width = raw.shape[1]
    while n < min(3, len(raw) - 1) and width >= 3 and raw.iloc[n].notna().sum() == 1 \
            and raw.iloc[n + 1].notna().sum() >= 2:
        n += 1
    return n


def _frame_from_grid(grid: pd.DataFrame) -> pd.DataFrame:
    """A sheet's cells (header=None) → a frame with flattened (merged) header labels."""
    raw = grid.dropna(how="all").dropna(axis=1, how="all")
    if raw.empty:
        return pd.DataFrame()
    raw = raw.iloc[_title_rows(raw.reset_index(drop=True)):]
    n = _header_rows(raw.reset_index(drop=True))
    head = raw.iloc[:n].ffill(axis=1) if n > 1 else raw.iloc[:n]
    names = []
    for j in range(raw.shape[1]):
        parts = [str(v).strip() for v in head.iloc[:, j] if pd.notna(v) and str(v).strip()]
        # drop repeated parent labels ("基本情况 基本情况"), keep the most specific last part
        dedup = list(dict.fromkeys(parts))
        names.append(dedup[-1] if dedup else f"column_{j + 1}")
    df = raw.iloc[n:]
    df.columns = _unique(names)
    return df.astype(object).where(df.notna(), None)


def _xlsx_grids(path: Path, *, data_only: bool = True) -> dict[str, pd.DataFrame]:
    """Every worksheet's cells as a frame indexed by 1-based sheet row and column numbers."""
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=data_only)
    try:
        out = {}
        for ws in wb.worksheets:
            ws.reset_dimensions()  # some writers store a wrong sheet size; read what is there
            rows = [list(r) for r in ws.iter_rows(values_only=True)]
            width = max((len(r) for r in rows), default=0)
            grid = pd.DataFrame([r + [None] * (width - len(r)) for r in rows], dtype=object)
            grid.index = range(1, len(grid) + 1)
            grid.columns = range(1, width + 1)
            out[str(ws.title)] = grid
        return out
    finally:
        wb.close()


def _sheet_score(df: pd.DataFrame, expect: str | None) -> tuple[int, int, int]:
    """(required columns found, schema columns found, cells filled) of a candidate data sheet."""
    if df.empty:
        return (0, 0, 0)
    filled = int(df.notna().sum().sum())
    if expect is None:
        return (0, 0, filled)
    from schoolplan._validate import normalise_columns
    from schoolplan.schema import LAYERS

    spec = LAYERS[expect]
    canon = set(normalise_columns(df, spec).values())
    required = sum(1 for c in spec.columns if c.required and c.name in canon)
    return (required, len(canon), filled)


def _formula_cells(path: Path, sheet: str, grid: pd.DataFrame, frame: pd.DataFrame) -> dict[str, list[str]]:
    """Cells of the data area that hold a formula but no saved value, by column name."""
    from openpyxl.utils import get_column_letter

    empty = [(r, c) for c in grid.columns for r in grid.index[grid[c].isna()]]
    if not empty or frame.empty:
        return {}
    formulas = _xlsx_grids(path, data_only=False).get(sheet)
    if formulas is None:
        return {}
    rows = set(frame.index)
    col_of = dict(zip(grid.columns[grid.notna().any()], frame.columns, strict=False))
    found: dict[str, list[str]] = {}
    for r, c in empty:
        if r not in rows or r not in formulas.index or c not in formulas.columns:
            continue
        v = formulas.at[r, c]
        if (isinstance(v, str) and v.startswith("=")) or type(v).__name__ in {"ArrayFormula", "DataTableFormula"}:
            found.setdefault(str(col_of.get(c, c)), []).append(f"{get_column_letter(c)}{r}")
    return found


def _read_excel(path: Path, sheet: str | int | None, expect: str | None = None) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix == ".xls":
        return _read_xls(path, sheet)
    check_archive(path, what="the spreadsheet")
    try:
        grids = _xlsx_grids(path)
    except Exception as exc:  # openpyxl raises many types for broken files
        raise InputFileError(f"cannot open the spreadsheet: {' '.join(str(exc).split())[:200]}", file=str(path),
                             fix="save it again as .xlsx from Excel/WPS") from None
    names = list(grids)
    if not names:
        raise InputFileError("the workbook has no worksheets", file=str(path), fix="put the table in a worksheet")
    if sheet is not None:
        name = names[sheet] if isinstance(sheet, int) and 0 <= sheet < len(names) else str(sheet)
        if name not in grids:
            raise InputFileError(f"sheet '{sheet}' not found", file=str(path),
                                 fix=f"use one of the sheets: {', '.join(names)}")
    elif len(names) == 1:
        name = names[0]
    else:
        frames = {n: _frame_from_grid(g) for n, g in grids.items()}
        scores = {n: _sheet_score(f, expect) for n, f in frames.items()}
        ranked = sorted(names, key=lambda n: scores[n], reverse=True)
        name = ranked[0]
        if expect is not None and scores[ranked[1]][:2] == scores[name][:2] and scores[name][0] > 0:
            tied = [n for n in ranked if scores[n][:2] == scores[name][:2]]
            raise InputFileError(
                f"several sheets hold {expect} data ({', '.join(tied)}): which one is meant?", file=str(path),
                layer=expect, fix=f"name the sheet in county.toml, e.g. [{expect}] file = \"{path.name}\", "
                f"sheet = \"{tied[-1]}\" (or delete the other sheets)")
    grid = grids[name]
    df = _frame_from_grid(grid)
    if df.shape[1] == 0:
        raise InputFileError("the sheet is empty", file=str(path), layer=str(name),
                             fix="put a header row and data in the sheet, or name the sheet to read")
    formulas = _formula_cells(path, name, grid, df)
    if formulas:
        from schoolplan._validate import normalise_columns
        from schoolplan.schema import LAYERS

        used = set(normalise_columns(df, LAYERS[expect])) if expect else set(df.columns)
        hit = {c: cells for c, cells in formulas.items() if c in used}
        if hit:
            col, cells = next(iter(hit.items()))
            raise InputFileError(
                f"cells hold formulas without saved values (e.g. {', '.join(cells[:4])} in column '{col}'): the "
                "workbook was written by a program and never calculated, so the values are unknown",
                file=str(path), layer=name, column=col, rows=cells,
                fix="open the file in Excel/WPS and save it (the values are then stored), or paste the values "
                "without formulas")
        df.attrs["formulas_without_values"] = formulas
    df = df.reset_index(drop=True)
    df.attrs["sheet"] = name
    df.attrs["sheets"] = names
    return df


def _read_xls(path: Path, sheet: str | int | None) -> pd.DataFrame:
    try:
        book = pd.ExcelFile(path)
    except Exception as exc:  # xlrd missing, or a broken file
        raise InputFileError(f"cannot open the spreadsheet: {' '.join(str(exc).split())[:200]}", file=str(path),
                             fix="save it again as .xlsx from Excel/WPS") from None
    with book:
        name = book.sheet_names[0] if sheet is None else sheet
        if isinstance(name, str) and name not in book.sheet_names:
            raise InputFileError(f"sheet '{name}' not found", file=str(path),
                                 fix=f"use one of the sheets: {', '.join(map(str, book.sheet_names))}")
        grid = pd.read_excel(book, sheet_name=name, header=None, dtype=object)
    df = _frame_from_grid(grid)
    if df.shape[1] == 0:
        raise InputFileError("the sheet is empty", file=str(path), layer=str(name),
                             fix="put a header row and data in the first sheet, or pass sheet=...")
    df = df.reset_index(drop=True)
    df.attrs["sheet"] = str(name)
    return df


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for nm in names:
        if nm in seen:
            seen[nm] += 1
            out.append(f"{nm}_{seen[nm]}")
        else:
            seen[nm] = 0
            out.append(nm)
    return out


def read_table(path: str | Path, *, sheet: str | int | None = None, encoding: str | None = None,
               expect: str | None = None) -> pd.DataFrame:
    """Read a CSV/TSV or Excel table as text columns.

    Parameters
    ----------
    path
        ``.csv``, ``.tsv``, ``.txt``, ``.xlsx``, ``.xlsm`` or ``.xls``.
    sheet
        Excel sheet name or index. By default the only sheet; in a workbook with
        several, the sheet whose header names the most columns of the ``expect``
        layer (a notes sheet before the data sheet is skipped), else the fullest one.
    encoding
        Force a text encoding; by default byte-order marks, UTF-8 and GBK/GB18030 are
        detected (UTF-16 "Unicode text" exports too).
    expect
        The schema layer the table should hold (``"schools"`` ...), used to choose the
        sheet and to decide which formula cells matter.

    Returns
    -------
    pandas.DataFrame
        Values as strings/objects; :mod:`schoolplan._validate` coerces types.
        Multi-row (merged) Excel headers are flattened to the most specific label, a
        title row above the header is skipped, and entirely blank rows (the ``,,,,``
        rows spreadsheets leave) are dropped. ``attrs`` records ``sheet`` and
        ``sheets`` (workbooks), ``encoding`` (text files) and ``empty_rows_dropped``.

    Raises
    ------
    InputFileError, EncodingError
        Missing, empty or unreadable files; several equally good data sheets;
        formulas without saved values in the columns used; archives that unpack to
        more than :data:`MAX_UNPACKED_BYTES`; mojibake.
    """
    p = Path(path)
    if not p.exists():
        raise MissingFileError("file not found", file=str(p), fix="check the path")
    suffix = p.suffix.lower()
    if suffix in {".csv", ".txt", ".tsv"}:
        df = _read_csv(p, encoding)
    elif suffix in {".xlsx", ".xlsm", ".xls"}:
        df = _read_excel(p, sheet, expect)
    else:
        raise InputFileError(f"unknown table format '{suffix}'", file=str(p),
                             fix="use CSV or XLSX (or a vector file for layers with geometry)")
    attrs = dict(df.attrs)
    df.columns = _unique([str(c).strip().replace("\ufeff", "") for c in df.columns])
    df, n_empty = _drop_empty(df)
    df = df.reset_index(drop=True)
    df.attrs = {**attrs, "empty_rows_dropped": n_empty}
    _check_mojibake(df, file=str(p), layer=attrs.get("sheet"))
    return df


# --------------------------------------------------------------------------- vectors
def _degrees(s: pd.Series) -> pd.Series:
    """Decimal degrees from text as typed: full-width digits and points, blanks; other text → NaN."""
    text = s.map(lambda v: _text.to_halfwidth(v) if isinstance(v, str) else v)
    return pd.to_numeric(text, errors="coerce").astype(float)


def _find_column(columns: list[str], names: tuple[str, ...]) -> str | None:
    lower = {str(c).strip().lower(): c for c in columns}
    for n in names:
        if n.lower() in lower:
            return lower[n.lower()]
    return None


def points_from_lonlat(
    df: pd.DataFrame,
    *,
    file: str,
    layer: str | None = None,
    coords: str = "wgs84",
    lon_column: str | None = None,
    lat_column: str | None = None,
) -> gpd.GeoDataFrame:
    """Make a point layer from lon/lat columns.

    Parameters
    ----------
    df
        Table with longitude and latitude columns (经度/纬度, lon/lat, x/y ...).
    file, layer
        Where the table came from (for messages).
    coords
        ``"wgs84"`` (also GPS, OSM), ``"cgcs2000"`` (EPSG:4490), ``"gcj02"``
        (Gaode/Tencent) or ``"bd09"`` (Baidu); offset systems are converted to WGS-84.
    lon_column, lat_column
        Column names when they are not one of the usual ones.

    Returns
    -------
    geopandas.GeoDataFrame
        In EPSG:4326 (or EPSG:4490 for CGCS2000); the lon/lat columns are kept.

    Raises
    ------
    SchemaError
        Missing, non-numeric or out-of-range coordinates; lat/lon swapped.
    """
    cols = list(df.columns)
    lon_c = lon_column or _find_column(cols, LON_NAMES)
    lat_c = lat_column or _find_column(cols, LAT_NAMES)
    if lon_c is None or lat_c is None:
        raise SchemaError(
            "no coordinates: the table has no geometry and no longitude/latitude columns",
            file=file, layer=layer,
            fix="add columns 'lon' and 'lat' (or 经度/纬度), or give a GeoPackage/shapefile",
        )
    lon, lat = _degrees(df[lon_c]), _degrees(df[lat_c])
    bad = df.index[lon.isna() | lat.isna()]
    if len(bad):
        raise SchemaError(
            "coordinates are missing or not numbers",
            file=file, layer=layer, column=f"{lon_c}/{lat_c}", rows=[int(i) + 1 for i in bad],
            fix="fill in decimal degrees (e.g. 112.53, 32.99), not degree-minute-second text",
        )
    swapped = (lat.abs() > 90) & (lon.abs() <= 90)
    if swapped.any():
        raise SchemaError(
            "latitude values above 90°: longitude and latitude look swapped",
            file=file, layer=layer, column=lat_c, rows=[int(i) + 1 for i in df.index[swapped]],
            fix=f"swap the '{lon_c}' and '{lat_c}' columns",
        )
    out_of_range = (lon.abs() > 180) | (lat.abs() > 90)
    if out_of_range.any():
        raise SchemaError(
            "coordinates out of range for degrees (projected metres in a lon/lat column?)",
            file=file, layer=layer, column=f"{lon_c}/{lat_c}", rows=[int(i) + 1 for i in df.index[out_of_range]],
            fix="give decimal degrees, or a GeoPackage/shapefile with its projected CRS",
        )
    x, y = lon.to_numpy(float), lat.to_numpy(float)
    china_swapped = _coords.in_china(y, x) & ~_coords.in_china(x, y)
    if len(x) and china_swapped.mean() > 0.5:
        warn_data(
            f"{file}: most points fall in China only if longitude and latitude are swapped "
            f"(columns '{lon_c}'/'{lat_c}'); check the columns",
            file=file, layer=layer, column=f"{lon_c}/{lat_c}", check="lonlat_swapped",
            fix=f"swap the '{lon_c}' and '{lat_c}' columns if the points should lie in China", stacklevel=3,
        )
    kind = coords.lower().replace("-", "")
    crs = "EPSG:4326"
    if kind in {"gcj02", "gcj"}:
        x, y = _coords.gcj02_to_wgs84(x, y)
    elif kind in {"bd09", "baidu"}:
        x, y = _coords.bd09_to_wgs84(x, y)
    elif kind == "cgcs2000":
        crs = "EPSG:4490"
    elif kind not in {"wgs84", "gps", "osm"}:
        raise CrsError(f"unknown coordinate system '{coords}'", file=file, layer=layer,
                       fix="use coords='wgs84', 'cgcs2000', 'gcj02' or 'bd09'")
    return gpd.GeoDataFrame(df.copy(), geometry=gpd.points_from_xy(x, y), crs=crs)


def _shapefile_encoding(path: Path) -> str | None:
    """Encoding of a shapefile's DBF: from ``.cpg``, else UTF-8 if it decodes, else GB18030."""
    cpg = path.with_suffix(".cpg")
    if cpg.exists():
        name = cpg.read_text(encoding="ascii", errors="ignore").strip()
        return {"936": "gb18030", "cp936": "gb18030", "gbk": "gb18030"}.get(name.lower(), name or None)
    dbf = path.with_suffix(".dbf")
    if not dbf.exists():
        return None
    raw = dbf.read_bytes()
    ldid = raw[29] if len(raw) > 29 else 0
    if ldid == 0x4D:  # code page 936 (GBK) language driver
        return "gb18030"
    body = raw[32:]
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def list_layers(path: str | Path) -> list[str]:
    """Layer names of a multi-layer vector file (GeoPackage, FileGDB)."""
    try:
        return [str(n) for n in pyogrio.list_layers(str(path))[:, 0]]
    except Exception as exc:
        raise InputFileError(f"cannot open the file: {exc}", file=str(path),
                             fix="check that it is a valid GeoPackage/FileGDB") from None


def read_layer(
    path: str | Path,
    *,
    layer: str | None = None,
    encoding: str | None = None,
    coords: str = "wgs84",
    sheet: str | int | None = None,
    expect: str | None = None,
) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read one layer from a vector file or a table.

    Parameters
    ----------
    path
        GeoPackage, shapefile, GeoJSON, FileGDB, FlatGeobuf, or CSV/XLSX.
    layer
        Layer name inside a GeoPackage/FileGDB.
    encoding
        Text encoding for shapefiles and CSV (detected when omitted: ``.cpg``,
        then UTF-8, then GBK/GB18030 for shapefiles without ``.cpg``).
    coords
        Coordinate system of lon/lat columns in tables (``wgs84``, ``cgcs2000``,
        ``gcj02``, ``bd09``); vector files carry their own CRS.
    sheet
        Excel sheet (see :func:`read_table`).
    expect
        The schema layer the file should hold (chooses the sheet of a workbook).

    Returns
    -------
    geopandas.GeoDataFrame or pandas.DataFrame
        A table without coordinate columns is returned as a DataFrame.
    """
    p = Path(path)
    if not p.exists():
        raise MissingFileError("file not found", file=str(p), fix="check the path")
    suffix = p.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        df = read_table(p, sheet=sheet, encoding=encoding, expect=expect)
        cols = list(df.columns)
        if _find_column(cols, LON_NAMES) and _find_column(cols, LAT_NAMES):
            out = points_from_lonlat(df, file=str(p), layer=layer, coords=coords)
            out.attrs = dict(df.attrs)
            return out
        return df
    if suffix in {".zip", ".kmz"}:
        check_archive(p, what="the zipped layer")
    kwargs: dict[str, Any] = {}
    if suffix == ".shp":
        enc = encoding or _shapefile_encoding(p)
        if enc:
            kwargs["encoding"] = enc
    elif encoding:
        kwargs["encoding"] = encoding
    try:
        gdf = gpd.read_file(p, layer=layer, engine="pyogrio", **kwargs)
    except MemoryError:
        raise ResourceError("reading the layer ran out of memory", file=str(p), layer=layer,
                            fix="clip the layer to the county, or use a machine with more memory") from None
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(f"cannot read the layer: {msg}", file=str(p), layer=layer,
                             fix="check the file opens in QGIS and the layer name is right") from None
    if not isinstance(gdf, gpd.GeoDataFrame):  # attribute table (no geometry column)
        _check_mojibake(pd.DataFrame(gdf), file=str(p), layer=layer)
        return pd.DataFrame(gdf)
    if gdf.geometry.isna().all() and len(gdf):
        return pd.DataFrame(gdf.drop(columns="geometry"))
    if gdf.crs is None and len(gdf) and not gdf.geometry.isna().all():
        raise CrsError(
            "the layer has no coordinate reference system",
            file=str(p), layer=layer,
            fix="define the CRS in QGIS (e.g. EPSG:4490 CGCS2000, or the .prj of a shapefile)",
        )
    _check_mojibake(pd.DataFrame(gdf.drop(columns=gdf.geometry.name)), file=str(p), layer=layer)
    return gdf


# --------------------------------------------------------------------------- atomic outputs
#: errno values that mean "no space left" (ENOSPC) or "quota exceeded" (EDQUOT).
_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _free_bytes(folder: Path) -> int | None:
    for f in (folder, *folder.parents):
        if f.exists():
            try:
                return int(shutil.disk_usage(f).free)
            except OSError:
                return None
    return None


def disk_full(exc: BaseException, folder: str | Path) -> bool:
    """Whether ``exc`` (from any writer: OS, GDAL, SQLite, zip) came from a full disk or quota.

    True for ``OSError`` with ``errno`` ENOSPC/EDQUOT, for the messages the C libraries
    use ("No space left on device", SQLite's "database or disk is full", "Disk quota
    exceeded"), and for any error while the disk holding ``folder`` has less than 1 MB free.
    """
    if isinstance(exc, OSError) and exc.errno in _FULL:
        return True
    text = str(exc).lower()
    if "no space left on device" in text or "database or disk is full" in text or "disk quota exceeded" in text:
        return True
    free = _free_bytes(Path(folder))
    return free is not None and free < 2**20


def _disk_full_error(exc: BaseException, target: Path) -> OutputError:
    free = _free_bytes(target.parent)
    return OutputError(
        "the disk is full (no space left on the device" + (f"; {_mb(free)} free" if free is not None else "")
        + f"): {type(exc).__name__}: {' '.join(str(exc).split())[:160]}",
        file=str(target),
        fix="free disk space (or choose an --out folder on another disk) and run again; earlier outputs are "
        "intact and no half-written file was left")


@contextlib.contextmanager
def atomic_file(path: str | Path, *, mode: str = "wb") -> Iterator[Any]:
    """Write a file atomically: a temporary file in the same folder, renamed at the end.

    Parameters
    ----------
    path
        Final file path; its folder is created if needed.
    mode
        ``"wb"`` or ``"w"`` (UTF-8 text).

    Yields
    ------
    file object
        Write to it; on an exception the temporary file is removed and ``path`` is untouched.

    Raises
    ------
    OutputError
        The disk is full (the message says so) or the folder cannot be written.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        if disk_full(exc, target.parent):
            raise _disk_full_error(exc, target) from None
        raise OutputError(f"the output file cannot be written: {exc.strerror or exc}", file=str(target),
                          fix="choose a folder you can write to") from None
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8", "newline": ""} if "b" not in mode else {})) as fh:
            yield fh
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, Exception) and not isinstance(exc, OutputError) and disk_full(exc, target.parent):
            raise _disk_full_error(exc, target) from None
        raise


@contextlib.contextmanager
def atomic_dir(path: str | Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Build an output folder atomically.

    Outputs are written into a temporary sibling folder; when the block ends
    without error the old folder (if any) is replaced in one rename, so an
    interrupted or failed run leaves the previous outputs intact.

    Parameters
    ----------
    path
        Final folder.
    overwrite
        Replace an existing non-empty folder (the previous outputs). When False
        an existing non-empty folder is an error.

    Yields
    ------
    pathlib.Path
        The temporary folder to write into.

    Raises
    ------
    OutputError
        The path is a file, a non-empty folder (without ``overwrite``), cannot be
        written, or the disk filled up while writing (any writer's error then becomes
        an ``OutputError`` that says the disk is full).
    """
    target = Path(path).resolve()
    if target.exists() and not target.is_dir():
        raise OutputError("the output path exists and is a file", file=str(target),
                          fix="choose a folder name for --out")
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise OutputError("the output folder exists and is not empty", file=str(target),
                          fix="choose another --out folder, or pass --overwrite")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp makes 0700; outputs are ordinary folders
    except OSError as exc:
        if disk_full(exc, target.parent):
            raise _disk_full_error(exc, target) from None
        raise OutputError(f"the output folder cannot be written: {exc.strerror}", file=str(target),
                          fix="choose a folder you can write to") from None
    try:
        yield tmp
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
        try:
            os.replace(tmp, target)
        except BaseException:  # interrupted between the two renames: put the previous outputs back
            if old is not None and not target.exists():
                os.replace(old, target)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, Exception) and not isinstance(exc, OutputError) and disk_full(exc, target.parent):
            raise _disk_full_error(exc, target) from None
        if isinstance(exc, OutputError) and "disk" not in exc.message and disk_full(exc, target.parent):
            raise _disk_full_error(exc, target) from None
        raise


def write_gpkg(layers: dict[str, gpd.GeoDataFrame | pd.DataFrame], path: str | Path) -> Path:
    """Write several layers into one GeoPackage atomically.

    Parameters
    ----------
    layers
        Layer name → (Geo)DataFrame; plain DataFrames become attribute tables.
    path
        The ``.gpkg`` file.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    OutputError
        The disk is full (GDAL and SQLite errors included), or the folder cannot be written.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".gpkg", dir=target.parent)
    except OSError as exc:
        if disk_full(exc, target.parent):
            raise _disk_full_error(exc, target) from None
        raise OutputError(f"the GeoPackage cannot be written: {exc.strerror or exc}", file=str(target),
                          fix="choose a folder you can write to") from None
    os.close(fd)
    os.unlink(tmp)
    # a fixed "last change" date keeps GeoPackages byte-identical for the same content
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2000-01-01T00:00:00.000Z"})
    try:
        for name, df in layers.items():
            frame = _gpkg_safe(df)
            pyogrio.write_dataframe(frame, tmp, layer=name, driver="GPKG", append=Path(tmp).exists())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, Exception) and disk_full(exc, target.parent):
            raise _disk_full_error(exc, target) from None
        raise
    return target


def _gpkg_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Columns GDAL can store: lists/dicts as text, named index as a column."""
    out = df.reset_index(drop=df.index.name is None)
    geom = out.geometry.name if isinstance(out, gpd.GeoDataFrame) else None
    for col in out.columns:
        if col == geom:
            continue
        s = out[col]
        if s.dtype == object and s.map(lambda v: isinstance(v, list | tuple | dict | set)).any():
            out[col] = s.map(lambda v: None if v is None else str(v))
        elif pd.api.types.is_float_dtype(s):
            out[col] = s.astype(np.float64)
    return out


# --------------------------------------------------------------------------- spreadsheet cells
#: First characters that make a spreadsheet treat a cell's text as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
#: Characters XML 1.0 (and so XLSX) cannot hold.
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def safe_cell_value(value: Any) -> Any:
    """A value safe to write into a spreadsheet cell: user text stays text.

    Text starting with ``=``, ``+``, ``-``, ``@``, a tab or a line break would be run
    as a formula by Excel/WPS (a school named ``=HYPERLINK("http://…")`` becomes a live
    link) or by openpyxl: it gets a leading apostrophe, the usual way to mark a cell as
    text. Control characters that XLSX cannot store become ``"\\ufffd"``. Numbers,
    dates, booleans and ``None`` are returned unchanged.

    Parameters
    ----------
    value
        A cell value.

    Returns
    -------
    object
        The value to write.

    Examples
    --------
    >>> safe_cell_value("=HYPERLINK(\\"http://x\\")")
    '\\'=HYPERLINK("http://x")'
    >>> safe_cell_value(-5)
    -5
    """
    if not isinstance(value, str):
        return value
    text = _ILLEGAL_XML.sub("\ufffd", value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


# --------------------------------------------------------------------------- memory guard
#: In-memory bytes per byte of file, by suffix (measured on the demo county and rounded up).
_TABLE_FACTOR = {".csv": 10, ".txt": 10, ".tsv": 10, ".xlsx": 40, ".xlsm": 40, ".xls": 20}
#: Road sources: bytes of graph building per byte of file (PBF is densely compressed).
_ROAD_FACTOR = {".pbf": 120, ".osm": 15, ".xml": 15, ".graphml": 15}
#: Where cgroup file systems are mounted (a constant so that tests can point elsewhere).
CGROUP_ROOT = Path("/sys/fs/cgroup")
#: cgroup v1 "no limit" is a huge page-rounded number; anything above this is no limit.
_NO_LIMIT = 2**60


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text or text == "max":
        return None
    try:
        value = int(text.split()[0])
    except ValueError:
        return None
    return value if value < _NO_LIMIT else None


def _cgroup_paths() -> list[tuple[str, str]]:
    """(version, path inside the hierarchy) of this process's memory cgroups, from ``/proc/self/cgroup``."""
    try:
        lines = Path("/proc/self/cgroup").read_text(encoding="ascii").splitlines()
    except OSError:
        return [("v2", "/"), ("v1", "/")]
    out = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, rel = parts
        if controllers == "":
            out.append(("v2", rel))
        elif "memory" in controllers.split(","):
            out.append(("v1", rel))
    return out or [("v2", "/"), ("v1", "/")]


def cgroup_memory_available() -> int | None:
    """Bytes this process's control group (container, systemd slice) still allows, or None (no limit).

    cgroup v2: ``memory.max − memory.current``; v1: ``memory.limit_in_bytes −
    memory.usage_in_bytes``. The group's own folder is tried and, inside containers
    where ``/proc/self/cgroup`` names a path of the host, the mount root; the lowest
    limit along the path to the root counts (a parent's limit binds its children).
    """
    best: int | None = None
    for version, rel in _cgroup_paths():
        base = CGROUP_ROOT if version == "v2" else CGROUP_ROOT / "memory"
        if version == "v2" and not (base / "cgroup.controllers").exists() and (CGROUP_ROOT / "memory").is_dir():
            continue
        rel_parts = [p for p in rel.strip("/").split("/") if p]
        folders = [base.joinpath(*rel_parts[:i]) for i in range(len(rel_parts), -1, -1)]
        for folder in folders:
            if version == "v2":
                limit, used = _read_int(folder / "memory.max"), _read_int(folder / "memory.current")
            else:
                limit, used = _read_int(folder / "memory.limit_in_bytes"), _read_int(folder / "memory.usage_in_bytes")
            if limit is None:
                continue
            if used is None:  # a parent's usage is not ours; without our usage assume none used
                used = 0
            avail = max(limit - used, 0)
            best = avail if best is None else min(best, avail)
    return best


def rlimit_memory_available() -> int | None:
    """Bytes of address space the process may still map under ``RLIMIT_AS`` (``ulimit -v``), or None."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft in (resource.RLIM_INFINITY, -1) or soft <= 0:
        return None
    import psutil

    used = int(psutil.Process().memory_info().vms)
    return max(int(soft) - used, 0)


def memory_limits() -> dict[str, int | None]:
    """Memory still available to this process under each limit, bytes (None: no such limit).

    Returns
    -------
    dict
        ``system`` (``psutil.virtual_memory().available``), ``rlimit_as`` (address-space
        limit minus what the process has mapped) and ``cgroup`` (container or slice
        limit minus its usage).
    """
    import psutil

    return {"system": int(psutil.virtual_memory().available), "rlimit_as": rlimit_memory_available(),
            "cgroup": cgroup_memory_available()}


def available_memory() -> int:
    """Bytes of memory available to this process now: the lowest of :func:`memory_limits`."""
    return min(v for v in memory_limits().values() if v is not None)


def _size(path: Path) -> int:
    if path.is_dir():  # FileGDB
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def estimate_layer_bytes(path: str | Path, layer: str | None = None) -> int:
    """Rough memory needed to read and validate one input layer, bytes.

    Vector layers: feature count × (fields + geometry) from the file header (cheap,
    no features are read); tables: file size × a factor per format (XLSX: the unpacked
    size from the zip directory, when it can be read).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        import zipfile

        try:
            with zipfile.ZipFile(p) as z:
                return max(sum(i.file_size for i in z.infolist()) * 4, _size(p) * _TABLE_FACTOR[suffix])
        except (zipfile.BadZipFile, OSError, ValueError):
            return _size(p) * _TABLE_FACTOR[suffix]
    if suffix in _TABLE_FACTOR:
        return _size(p) * _TABLE_FACTOR[suffix]
    try:
        info = pyogrio.read_info(str(p), layer=layer)
        n = int(info["features"])
        if n >= 0:
            return n * (len(info["fields"]) + 4) * 100
    except Exception:  # unreadable files are reported by the reader itself
        pass
    return _size(p) * 10


def estimate_road_bytes(path: str | Path) -> int:
    """Rough memory needed to build a road graph from a file, bytes (PBF ≈ 120 × its size)."""
    p = Path(path)
    suffix = p.suffix.lower()
    return _size(p) * _ROAD_FACTOR.get(suffix, 20)


def _mb(n: float) -> str:
    return f"{n / 2**30:,.1f} GB" if n >= 2**30 else f"{n / 2**20:,.1f} MB"


def check_memory(needed: float, *, what: str, file: str | None = None, fix: str) -> None:
    """Raise :class:`~schoolplan.errors.ResourceError` when ``needed`` bytes exceed the available memory.

    Called before big structures are built, so that a province-sized input on a small
    machine stops with the estimate and a fix instead of being killed by the system.
    The available memory is the lowest of the free system memory, the process's
    address-space limit (``RLIMIT_AS``) and its cgroup (container) limit.

    Parameters
    ----------
    needed
        Estimated bytes.
    what
        What needs them ("loading the county", "the travel-time matrices" ...).
    file
        The input responsible, if any.
    fix
        How to make the job fit.
    """
    limits = memory_limits()
    known = {k: v for k, v in limits.items() if v is not None}
    avail = min(known.values())
    if needed > avail:
        which = min(known, key=known.__getitem__)
        why = {"system": "", "rlimit_as": " under the process's address-space limit (ulimit -v)",
               "cgroup": " under the container's memory limit (cgroup)"}[which]
        raise ResourceError(f"{what} needs about {_mb(needed)} of memory but only {_mb(avail)} is available{why}",
                            file=file, fix=fix)
