"""Readers and writers at the edges: encodings, spreadsheets, vector files, atomic outputs.

Bureau data arrive as UTF-8, UTF-8 with BOM, GBK or GB18030 CSV; Excel sheets
with merged, multi-row headers; shapefiles with or without ``.cpg``; GeoPackage,
GeoJSON or FileGDB. Readers here return plain (Geo)DataFrames and never modify
the files they read. Writers go through a temporary file or folder in the same
directory and are moved into place only when complete.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from schoolplan import coords as _coords
from schoolplan.errors import CrsError, DataWarning, EncodingError, InputFileError, SchemaError

__all__ = [
    "LAT_NAMES",
    "LON_NAMES",
    "atomic_dir",
    "atomic_file",
    "available_memory",
    "check_memory",
    "detect_encoding",
    "estimate_layer_bytes",
    "estimate_road_bytes",
    "list_layers",
    "points_from_lonlat",
    "read_layer",
    "read_table",
    "write_gpkg",
]

TABLE_SUFFIXES = {".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls"}
VECTOR_SUFFIXES = {".gpkg", ".shp", ".geojson", ".json", ".gdb", ".fgb", ".zip"}

#: Accepted names of longitude/latitude columns (case-insensitive).
LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度", "东经", "point_x")
LAT_NAMES = ("lat", "latitude", "y", "纬度", "北纬", "point_y")

_ENCODINGS = ("utf-8-sig", "gb18030")
#: Character sequences typical of UTF-8 text decoded with a wrong code page.
_MOJIBAKE = re.compile(r"锟斤拷|烫烫|屯屯|Ã.|Â.|å[\x80-\xbf]|æ[\x80-\xbf]|ç[\x80-\xbf]|è[\x80-\xbf]|é[\x80-\xbf]")


# --------------------------------------------------------------------------- encodings
def detect_encoding(raw: bytes) -> str:
    """Guess the encoding of Chinese or English text bytes.

    UTF-8 (with or without BOM) is tried first because a valid UTF-8 decoding
    of Chinese GBK text is very unlikely; otherwise GB18030 (a superset of GBK
    and GB2312) is used when it decodes cleanly, then ``charset_normalizer``.

    Parameters
    ----------
    raw
        The file's bytes (or a large prefix of them).

    Returns
    -------
    str
        A Python codec name.
    """
    for enc in _ENCODINGS:
        try:
            raw.decode(enc)
        except UnicodeDecodeError:
            continue
        return enc
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None:
        raise UnicodeDecodeError("unknown", raw[:1], 0, 1, "no encoding fits")
    return best.encoding


def _utf8_read_as_gbk(text: str) -> str | None:
    """The repaired text when ``text`` is UTF-8 Chinese that was decoded as GBK (else None)."""
    if len(text) < 2 or text.isascii():
        return None
    try:
        fixed = text.encode("gbk").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None
    return fixed if fixed != text and any("\u4e00" <= c <= "\u9fff" for c in fixed) else None


def _check_mojibake(df: pd.DataFrame, *, file: str, layer: str | None = None) -> None:
    """Raise when text columns look like mis-decoded Chinese (mojibake).

    UTF-8 text decoded as GBK (``河口初中`` → ``娌冲彛鍒濅腑``, typical of a UTF-8 CSV
    opened and saved again in a GBK Excel) is only a warning: the test is a heuristic.
    """
    for col in [*map(str, df.columns)]:
        if _MOJIBAKE.search(col):
            raise EncodingError(
                "column names look garbled (mojibake): the file was saved in one encoding "
                "and read in another",
                file=file, layer=layer, column=col,
                fix="re-export the file as UTF-8, or pass encoding='gb18030' / 'utf-8'",
            )
    for col in df.columns:
        if df[col].dtype != object and not pd.api.types.is_string_dtype(df[col]):
            continue
        values = df[col].dropna().astype(str)
        bad = values[values.str.contains(_MOJIBAKE)]
        gbk = values.map(_utf8_read_as_gbk).dropna()
        if len(gbk) >= max(2, len(values) // 5):
            warnings.warn(
                f"{file}: text in column '{col}' looks like UTF-8 read as GBK (mojibake), e.g. "
                f"'{values.loc[gbk.index[0]][:20]}' is probably '{gbk.iloc[0][:20]}' (rows "
                f"{', '.join(str(int(i) + 1) for i in gbk.index[:8])}); re-export the file as UTF-8",
                DataWarning, stacklevel=4)
        if len(bad) and len(bad) >= max(1, len(values) // 5):
            raise EncodingError(
                f"text looks garbled (mojibake), e.g. '{bad.iloc[0][:30]}'",
                file=file, layer=layer, column=str(col), rows=[int(i) + 1 for i in bad.index[:8]],
                fix="re-export the file as UTF-8, or pass the right encoding (GBK files: encoding='gb18030')",
            )


# --------------------------------------------------------------------------- tables
def _read_csv(path: Path, encoding: str | None) -> pd.DataFrame:
    raw = path.read_bytes()
    if not raw.strip():
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

    sep = "\t" if path.suffix.lower() == ".tsv" or text.split("\n", 1)[0].count("\t") > text.split("\n", 1)[0].count(",") else ","
    try:
        return pd.read_csv(_io.StringIO(text), sep=sep, dtype=str, keep_default_na=True, skipinitialspace=True)
    except pd.errors.ParserError as exc:
        raise InputFileError(f"cannot parse the CSV: {' '.join(str(exc).split())}", file=str(path),
                             fix="check for unquoted commas and a consistent number of columns") from None


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


def _read_excel(path: Path, sheet: str | int | None) -> pd.DataFrame:
    try:
        book = pd.ExcelFile(path, engine="openpyxl" if path.suffix.lower() != ".xls" else None)
    except Exception as exc:  # openpyxl raises many types for broken files
        raise InputFileError(f"cannot open the spreadsheet: {exc}", file=str(path),
                             fix="save it again as .xlsx from Excel/WPS") from None
    with book:
        name = book.sheet_names[0] if sheet is None else sheet
        if isinstance(name, str) and name not in book.sheet_names:
            raise InputFileError(f"sheet '{name}' not found", file=str(path),
                                 fix=f"use one of the sheets: {', '.join(book.sheet_names)}")
        raw = pd.read_excel(book, sheet_name=name, header=None, dtype=object)
    raw = raw.dropna(how="all").dropna(axis=1, how="all").reset_index(drop=True)
    if raw.empty:
        raise InputFileError("the sheet is empty", file=str(path), layer=str(name),
                             fix="put a header row and data in the first sheet, or pass sheet=...")
    n = _header_rows(raw)
    head = raw.iloc[:n].ffill(axis=1) if n > 1 else raw.iloc[:n]
    names = []
    for j in range(raw.shape[1]):
        parts = [str(v).strip() for v in head.iloc[:, j] if pd.notna(v) and str(v).strip()]
        # drop repeated parent labels ("基本情况 基本情况"), keep the most specific last part
        dedup = list(dict.fromkeys(parts))
        names.append(dedup[-1] if dedup else f"column_{j + 1}")
    df = raw.iloc[n:].reset_index(drop=True)
    df.columns = _unique(names)
    return df.astype(object).where(df.notna(), None)


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


def read_table(path: str | Path, *, sheet: str | int | None = None, encoding: str | None = None) -> pd.DataFrame:
    """Read a CSV/TSV or Excel table as text columns.

    Parameters
    ----------
    path
        ``.csv``, ``.tsv``, ``.txt``, ``.xlsx``, ``.xlsm`` or ``.xls``.
    sheet
        Excel sheet name or index (default: the first sheet).
    encoding
        Force a text encoding; by default UTF-8, UTF-8-BOM and GBK/GB18030 are detected.

    Returns
    -------
    pandas.DataFrame
        Values as strings/objects; :mod:`schoolplan._validate` coerces types.
        Multi-row (merged) Excel headers are flattened to the most specific label.

    Raises
    ------
    InputFileError, EncodingError
    """
    p = Path(path)
    if not p.exists():
        raise InputFileError("file not found", file=str(p), fix="check the path")
    suffix = p.suffix.lower()
    if suffix in {".csv", ".txt", ".tsv"}:
        df = _read_csv(p, encoding)
    elif suffix in {".xlsx", ".xlsm", ".xls"}:
        df = _read_excel(p, sheet)
    else:
        raise InputFileError(f"unknown table format '{suffix}'", file=str(p),
                             fix="use CSV or XLSX (or a vector file for layers with geometry)")
    df.columns = [str(c).strip().replace("\ufeff", "") for c in df.columns]
    _check_mojibake(df, file=str(p))
    return df


# --------------------------------------------------------------------------- vectors
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
    lon = pd.to_numeric(df[lon_c], errors="coerce")
    lat = pd.to_numeric(df[lat_c], errors="coerce")
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
        warnings.warn(
            f"{file}: most points fall in China only if longitude and latitude are swapped "
            f"(columns '{lon_c}'/'{lat_c}'); check the columns",
            DataWarning, stacklevel=3,
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
        Excel sheet.

    Returns
    -------
    geopandas.GeoDataFrame or pandas.DataFrame
        A table without coordinate columns is returned as a DataFrame.
    """
    p = Path(path)
    if not p.exists():
        raise InputFileError("file not found", file=str(p), fix="check the path")
    suffix = p.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        df = read_table(p, sheet=sheet, encoding=encoding)
        cols = list(df.columns)
        if _find_column(cols, LON_NAMES) and _find_column(cols, LAT_NAMES):
            return points_from_lonlat(df, file=str(p), layer=layer, coords=coords)
        return df
    kwargs: dict[str, Any] = {}
    if suffix == ".shp":
        enc = encoding or _shapefile_encoding(p)
        if enc:
            kwargs["encoding"] = enc
    elif encoding:
        kwargs["encoding"] = encoding
    try:
        gdf = gpd.read_file(p, layer=layer, engine="pyogrio", **kwargs)
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
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8", "newline": ""} if "b" not in mode else {})) as fh:
            yield fh
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
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
    """
    from schoolplan.errors import OutputError

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
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
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
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".gpkg", dir=target.parent)
    os.close(fd)
    os.unlink(tmp)
    # a fixed "last change" date keeps GeoPackages byte-identical for the same content
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2000-01-01T00:00:00.000Z"})
    try:
        for name, df in layers.items():
            frame = _gpkg_safe(df)
            pyogrio.write_dataframe(frame, tmp, layer=name, driver="GPKG", append=Path(tmp).exists())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
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


# --------------------------------------------------------------------------- memory guard
#: In-memory bytes per byte of file, by suffix (measured on the demo county and rounded up).
_TABLE_FACTOR = {".csv": 10, ".txt": 10, ".tsv": 10, ".xlsx": 40, ".xlsm": 40, ".xls": 20}
#: Road sources: bytes of graph building per byte of file (PBF is densely compressed).
_ROAD_FACTOR = {".pbf": 120, ".osm": 15, ".xml": 15, ".graphml": 15}


def available_memory() -> int:
    """Bytes of memory available to this process now (``psutil.virtual_memory().available``)."""
    import psutil

    return int(psutil.virtual_memory().available)


def _size(path: Path) -> int:
    if path.is_dir():  # FileGDB
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def estimate_layer_bytes(path: str | Path, layer: str | None = None) -> int:
    """Rough memory needed to read and validate one input layer, bytes.

    Vector layers: feature count × (fields + geometry) from the file header (cheap,
    no features are read); tables: file size × a factor per format.
    """
    p = Path(path)
    suffix = p.suffix.lower()
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
    from schoolplan.errors import ResourceError

    avail = available_memory()
    if needed > avail:
        raise ResourceError(f"{what} needs about {_mb(needed)} of memory but only {_mb(avail)} is available",
                            file=file, fix=fix)
