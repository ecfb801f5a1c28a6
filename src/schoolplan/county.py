"""The County bundle and :func:`load_county`, the one loading path of every command.

A county is a folder (or one GeoPackage) with the layers described in
:mod:`schoolplan.schema`: schools, villages, townships, zones, sites,
developments, births, enrolment, and roads (an OSM PBF/XML file, GraphML, or a
road line layer). Files are found by their English or Chinese names (``学校.xlsx``,
``村庄人口.shp``, ``乡镇界.shp`` ..., also inside longer names such as
``XX县学校名录2024.xlsx``) or named in ``county.toml``. Layers are validated
(types, units, ranges, references between layers, the forecast inputs), projected
to one metric CRS chosen from the townships (CGCS2000 3° Gauss–Krüger in China,
UTM elsewhere) and returned in a frozen :class:`County`. The files are never modified.

Every data warning issued while loading is also kept in ``County.data_quality``
(one row per finding: severity, check, file, layer, column, rows, message, fix),
together with notes on what was derived (a township from the polygons, seats from
classes × the standard class size, an id from a name).
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from schoolplan import _text
from schoolplan import coords as _coords
from schoolplan._validate import validate_layer
from schoolplan.errors import (
    ConfigError,
    CrsError,
    InputFileError,
    MissingFileError,
    NonUniqueIdError,
    SchemaError,
    collect_warnings,
    data_quality_frame,
    format_rows,
    warn_data,
)
from schoolplan.io import (
    TABLE_SUFFIXES,
    VECTOR_SUFFIXES,
    check_memory,
    estimate_layer_bytes,
    list_layers,
    read_layer,
)
from schoolplan.schema import (
    AGE_COLUMNS,
    COUNTY_TOML_KEYS,
    LAYERS,
    LEVEL_AGES,
    LEVEL_GRADES,
    LEVEL_LABELS,
    LEVELS,
    STAGE_GRADES,
)

__all__ = ["COORDS", "County", "county_options", "county_summary", "load_county"]

#: Layers of a county folder, in loading order.
LAYER_NAMES = ("schools", "villages", "townships", "zones", "sites", "developments", "births", "enrolment")
#: File stems accepted for each layer in a county folder (English and Chinese; see ``schema.LAYERS``).
FILE_STEMS: dict[str, tuple[str, ...]] = {name: LAYERS[name].file_names for name in LAYER_NAMES}
ROAD_NAMES = ("roads.osm.pbf", "roads.pbf", "roads.osm", "roads.graphml", "roads.gpkg", "roads.shp",
              "道路.gpkg", "道路.shp")
OPTIONAL_LAYERS = ("zones", "sites", "developments")
REQUIRED_LAYERS = ("schools", "villages", "townships", "births", "enrolment")
#: Coordinate systems of lon/lat columns.
COORDS = ("wgs84", "cgcs2000", "gcj02", "bd09")
_COORDS_ALIASES = {"wgs84": "wgs84", "wgs": "wgs84", "gps": "wgs84", "osm": "wgs84", "epsg:4326": "wgs84",
                   "cgcs2000": "cgcs2000", "epsg:4490": "cgcs2000", "gcj02": "gcj02", "gcj": "gcj02",
                   "gaode": "gcj02", "amap": "gcj02", "bd09": "bd09", "baidu": "bd09"}
#: Points farther than this outside the townships are flagged by name, m.
OUTSIDE_TOLERANCE_M = 2000.0
_FILE_SUFFIXES = (".gpkg", ".shp", ".geojson", ".json", ".fgb", ".gdb", ".zip", ".xlsx", ".xlsm", ".xls", ".csv",
                  ".tsv", ".txt")


@dataclass(frozen=True)
class County:
    """A county's validated planning inputs, in one metric CRS.

    Attributes
    ----------
    name
        County name (Chinese).
    name_en
        English name.
    crs
        The metric CRS of every layer (metres).
    schools, villages, townships, zones, sites, developments
        GeoDataFrames indexed by their ids (``school_id`` ...). Empty when absent.
    births
        ``year, township_id, births``.
    enrolment
        ``year, school_id, level, grade, students[, classes]``.
    roads
        Path of the road source (OSM PBF/XML, GraphML, road layer file), a road
        GeoDataFrame, or ``None``.
    base_year
        The year the register describes (latest enrolment year by default).
    source
        Where the county was loaded from.
    meta
        Contents of ``county.toml`` (attribution and options).
    data_quality
        Every data warning issued while loading and every value derived, one row each:
        ``severity`` (``warning``/``note``), ``check``, ``file``, ``layer``, ``column``,
        ``n_rows``, ``rows``, ``message``, ``fix`` (see
        :func:`schoolplan.errors.data_quality_frame`).
    options
        The loading options used (``coords``, ``crs``, ``base_year``), after
        ``county.toml`` and the caller's overrides, and ``layers``: per layer its
        ``file``, GeoPackage ``layer``, ``sheet``, whether it was a longitude/latitude
        table (``lonlat_table``) and the ``coords`` it was read with.
    """

    name: str
    crs: CRS
    schools: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    townships: gpd.GeoDataFrame
    births: pd.DataFrame
    enrolment: pd.DataFrame
    zones: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    developments: gpd.GeoDataFrame
    roads: Path | gpd.GeoDataFrame | None = None
    base_year: int = 2024
    name_en: str = ""
    source: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    data_quality: pd.DataFrame = field(default_factory=data_quality_frame)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def county_seat(self) -> str | None:
        """Township id of the county seat (县城), if flagged."""
        seat = self.townships.index[self.townships["is_county_seat"]]
        return str(seat[0]) if len(seat) else None

    @property
    def boundary(self) -> Any:
        """Union of the townships (the county outline), in the metric CRS."""
        return self.townships.geometry.union_all()

    def layers(self) -> dict[str, pd.DataFrame]:
        """All layers by name (for writing a cleaned GeoPackage)."""
        return {"schools": self.schools, "villages": self.villages, "townships": self.townships,
                "zones": self.zones, "sites": self.sites, "developments": self.developments,
                "births": self.births, "enrolment": self.enrolment}


@dataclass(frozen=True)
class _Source:
    """Where a layer comes from."""

    file: Path
    layer: str | None = None
    sheet: str | int | None = None
    coords: str | None = None
    how: str = "name"  # "toml", "name" (exact stem), "keyword" (part of the name), "gpkg"


class _Notes(list[dict[str, Any]]):
    """Data-quality notes gathered while loading (values derived, choices made)."""

    def add(self, message: str, *, check: str, layer: str | None = None, column: str | None = None,
            rows: Any = (), file: str | None = None, fix: str | None = None) -> None:
        self.append({"severity": "note", "check": check, "file": file, "layer": layer, "column": column,
                     "rows": list(rows), "message": message, "fix": fix})


# --------------------------------------------------------------------------- county.toml

def _deg(x: float) -> str:
    """Degrees to 4 decimals, never "-0.0000"."""
    return f"{round(float(x), 4) + 0.0:.4f}"

def _coords_name(value: Any, *, where: str, file: str | None = None) -> str:
    key = str(value).strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    if key in _COORDS_ALIASES:
        return _COORDS_ALIASES[key]
    raise CrsError(f"unknown coordinate system '{value}'", file=file, column=where,
                   fix="use coords='wgs84', 'cgcs2000', 'gcj02' or 'bd09' (CLI: --coords wgs84, cgcs2000, gcj02 "
                   "or bd09)")


def _year(value: Any, *, key: str, file: str | None) -> int:
    """A year from ``2024``, ``"2024"``, ``"2024年"``, ``"２０２４"``; anything else is a ConfigError."""
    year = _text.parse_year(value)
    if year is None:
        raise ConfigError(f"{key} must be a year, got {value!r}", file=file, column=key,
                          fix=f"write {key} = 2024 (a plain number)")
    if not 1990 <= year <= 2100:
        raise ConfigError(f"{key} {year} is not a plausible register year", file=file, column=key,
                          fix=f"write the year the register describes, e.g. {key} = 2024")
    return year


def _read_meta(folder: Path) -> dict[str, Any]:
    """``county.toml`` of a folder, checked: known keys, values of the right type (UTF-8, BOM allowed)."""
    meta_path = folder / "county.toml"
    if not meta_path.exists():
        return {}
    file = str(meta_path)
    try:
        meta = tomllib.loads(meta_path.read_text(encoding="utf-8-sig"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cannot read county.toml: {exc}", file=file,
                          fix="check the TOML syntax (quotes around text, one key = value per line)") from None
    except UnicodeDecodeError:
        raise ConfigError("cannot read county.toml: it is not UTF-8", file=file,
                          fix="save county.toml as UTF-8 (in Notepad: Save as ▸ Encoding UTF-8)") from None
    unknown = [k for k in meta if k not in COUNTY_TOML_KEYS]
    if unknown:
        hints = {k: difflib.get_close_matches(k, list(COUNTY_TOML_KEYS), n=1) for k in unknown}
        said = ", ".join(f"'{k}'" + (f" (did you mean '{h[0]}'?)" if h else "") for k, h in hints.items())
        raise ConfigError(f"unknown key(s) in county.toml: {said}", file=file, column=unknown[0],
                          fix=f"use the documented keys: {', '.join(COUNTY_TOML_KEYS)} (docs/schema.md)")
    for key in ("name", "name_zh", "name_en", "gpkg", "roads", "attribution", "description", "notes", "source",
                "license", "crs"):
        if key in meta and not isinstance(meta[key], str):
            raise ConfigError(f"county.toml key '{key}' must be text, got {type(meta[key]).__name__}", file=file,
                              column=key, fix=f'write {key} = "..." (in quotes)')
    if "base_year" in meta:
        meta["base_year"] = _year(meta["base_year"], key="base_year", file=file)
    if "coords" in meta:
        meta["coords"] = _coords_name(meta["coords"], where="coords", file=file)
    for name in LAYER_NAMES:
        v = meta.get(name)
        if v is None or isinstance(v, str):
            continue
        if not isinstance(v, dict):
            raise ConfigError(f"county.toml key '{name}' must be a file name or a table", file=file, column=name,
                              fix=f'write {name} = "file.xlsx", or a table [{name}] with file = "..."')
        extra = set(v) - {"file", "sheet", "layer", "coords"}
        if extra or not isinstance(v.get("file"), str):
            raise ConfigError(f"county.toml table [{name}] needs file = \"...\" and may have sheet, layer and "
                              f"coords" + (f" (unknown: {', '.join(sorted(extra))})" if extra else ""), file=file,
                              column=name, fix=f'[{name}]\nfile = "{name}.xlsx"\nsheet = "Sheet1"')
        if "coords" in v:
            v["coords"] = _coords_name(v["coords"], where=f"{name}.coords", file=file)
    return meta


# --------------------------------------------------------------------------- discovery
def _norm(name: str) -> str:
    return _text.to_halfwidth(name).lower().replace(" ", "").replace("_", "").replace("-", "")


def _candidates(folder: Path) -> list[Path]:
    out = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith((".", "~$")) or p.name == "county.toml":
            continue
        if p.suffix.lower() in _FILE_SUFFIXES and (p.is_file() or p.suffix.lower() == ".gdb"):
            out.append(p)
    return out


def _stem(p: Path) -> str:
    name = p.name
    for suffix in (".osm.pbf", ".shp.zip", ".geojson"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return p.stem


def _match(names: list[str], layer: str) -> tuple[list[str], str]:
    """Names that denote ``layer``: exact file-name stems first, else names containing a keyword.

    A name containing keywords of several layers belongs to the layer of the longest
    keyword (``分年级在校生`` is enrolment although it contains ``在校生`` and not ``学校``;
    ``出生人口`` is births although ``村庄人口`` shares ``人口``).
    """
    stems = {_norm(s) for s in FILE_STEMS[layer]}
    exact = [n for n in names if _norm(n) in stems]
    if exact:
        return exact, "name"
    hits = []
    for n in names:
        key = _norm(n)
        best: tuple[int, str] | None = None
        for other in LAYER_NAMES:
            for kw in FILE_STEMS[other]:
                k = _norm(kw)
                if len(k) >= 2 and k in key and (best is None or len(k) > best[0]):
                    best = (len(k), other)
        if best is not None and best[1] == layer:
            hits.append(n)
    return hits, "keyword"


def _sources(path: Path, meta: dict[str, Any], notes: _Notes) -> dict[str, _Source]:
    """Where each layer comes from: county.toml entries, then files named for a layer, then GeoPackage layers."""
    found: dict[str, _Source] = {}
    folder = path if path.is_dir() else path.parent
    toml = str(folder / "county.toml")
    gpkgs: list[Path] = []
    if path.is_file():
        gpkgs = [path]
    else:
        if meta.get("gpkg"):
            g = folder / str(meta["gpkg"])
            if not g.exists():
                raise MissingFileError("the GeoPackage named in county.toml does not exist", file=str(g),
                                       column="gpkg", fix=f"fix the 'gpkg' entry in {toml} (the folder has: "
                                       f"{', '.join(p.name for p in _candidates(folder)) or 'no data files'})")
            gpkgs.append(g)
    files = _candidates(folder) if path.is_dir() else []
    named = {p for p in files if p.suffix.lower() != ".gpkg" or not meta.get("gpkg")}
    for name in LAYER_NAMES:
        entry = meta.get(name)
        if entry is not None:
            spec = entry if isinstance(entry, dict) else {"file": entry}
            f = folder / str(spec["file"])
            if not f.exists():
                raise MissingFileError(f"the {name} file named in county.toml does not exist", file=str(f),
                                       layer=name, column=name, fix=f"fix the '{name}' entry in {toml}")
            found[name] = _Source(f, spec.get("layer"), spec.get("sheet"), spec.get("coords"), "toml")
    taken = {s.file for s in found.values() if s.file.suffix.lower() != ".gpkg"}
    for name in LAYER_NAMES:
        if name in found:
            continue
        pool = [p for p in named if p not in taken and not (p.suffix.lower() == ".gpkg" and _gpkg_has_layers(p))]
        by_stem: dict[str, list[Path]] = {}
        for p in pool:
            by_stem.setdefault(_stem(p), []).append(p)
        hits, how = _match(list(by_stem), name)
        paths = [p for h in hits for p in by_stem[h]]
        if len(paths) > 1:
            order = {s: i for i, s in enumerate(_FILE_SUFFIXES)}
            paths.sort(key=lambda p: order.get(p.suffix.lower(), 99))
            if len(hits) > 1 or how == "keyword":
                raise InputFileError(
                    f"several files could hold the {name} layer: {', '.join(p.name for p in paths)}", file=str(folder),
                    layer=name, fix=f'name the one to use in county.toml: {name} = "{paths[0].name}" (or move the '
                    "others out of the folder)")
        if paths:
            found[name] = _Source(paths[0], how=how)
            taken.add(paths[0])
            if how == "keyword":
                notes.add(f"'{paths[0].name}' was read as the {name} layer ({LAYERS[name].zh})", check="file_name",
                          layer=name, file=str(paths[0]),
                          fix=f'name it in county.toml ({name} = "...") if this is not the right file')
    if path.is_dir():
        gpkgs += [p for p in files if p.suffix.lower() == ".gpkg" and p not in gpkgs and p not in taken]
    for name in LAYER_NAMES:
        if name in found:
            continue
        for g in gpkgs:
            if not g.exists():
                continue
            layers = list_layers(g)
            hits, how = _match(layers, name)
            if hits:
                found[name] = _Source(g, hits[0], how="gpkg")
                if how == "keyword" or len(hits) > 1:
                    notes.add(f"GeoPackage layer '{hits[0]}' of {g.name} was read as the {name} layer", check="file_name",
                              layer=name, file=str(g), fix="rename the layer if this is not the right one")
                break
    return found


def _gpkg_has_layers(p: Path) -> bool:
    """A GeoPackage holding several layers (a county bundle), not a single-layer file."""
    try:
        return len(list_layers(p)) > 1
    except InputFileError:
        return False


def _road_source(path: Path, meta: dict[str, Any]) -> Path | None:
    folder = path if path.is_dir() else path.parent
    if meta.get("roads"):
        p = folder / str(meta["roads"])
        if not p.exists():
            raise MissingFileError("the road file named in county.toml does not exist", file=str(p), column="roads",
                                   fix="fix the 'roads' entry in county.toml")
        return p
    for n in ROAD_NAMES:
        if (folder / n).exists():
            return folder / n
    if path.is_dir():
        pbfs = sorted(folder.glob("*.osm.pbf")) + sorted(folder.glob("*.osm"))
        if pbfs:
            return pbfs[0]
        keys = [_norm(k) for k in LAYERS["roads"].file_names]
        lines = [p for p in _candidates(folder) if p.suffix.lower() in {".shp", ".gpkg", ".geojson", ".fgb", ".zip"}
                 and any(k in _norm(_stem(p)) for k in keys) and not _gpkg_has_layers(p)]
        if lines:
            return lines[0]
    for g in ([path] if path.is_file() else [folder / str(meta["gpkg"])] if meta.get("gpkg") else []):
        if g.exists() and {"roads", "道路"} & set(list_layers(g)):
            return g
    return None


# --------------------------------------------------------------------------- reading
def _read(name: str, src: _Source, coords: str, notes: _Notes) -> pd.DataFrame:
    file = src.file
    suffix = file.suffix.lower()
    if suffix not in TABLE_SUFFIXES | VECTOR_SUFFIXES:
        raise InputFileError(f"unknown file format '{suffix}' for the {name} layer", file=str(file),
                             fix="use GPKG, SHP, GeoJSON, FileGDB, CSV or XLSX")
    df = read_layer(file, layer=src.layer, coords=src.coords or coords, sheet=src.sheet, expect=name)
    attrs = dict(df.attrs)
    sheets = attrs.get("sheets") or []
    if len(sheets) > 1:
        notes.add(f"sheet '{attrs['sheet']}' of {file.name} was read as the {name} layer (the workbook has "
                  f"{', '.join(map(str, sheets))})", check="sheet", layer=name, file=str(file),
                  fix=f'name another sheet in county.toml if needed: [{name}] file = "{file.name}", sheet = "..."')
    if attrs.get("empty_rows_dropped"):
        notes.add(f"{attrs['empty_rows_dropped']} blank row(s) of {file.name} were ignored", check="blank_rows",
                  layer=name, file=str(file))
    for col, cells in (attrs.get("formulas_without_values") or {}).items():
        notes.add(f"column '{col}' of {file.name} (not used) holds formulas without saved values "
                  f"({', '.join(cells[:4])})", check="formulas", layer=name, column=col, file=str(file))
    return df


def _validate(name: str, df: pd.DataFrame, src: _Source) -> pd.DataFrame:
    spec = LAYERS[name]
    where = src.layer or (f"{name} (sheet {df.attrs['sheet']})" if len(df.attrs.get("sheets") or []) > 1 else name)
    if spec.geometry is not None and not isinstance(df, gpd.GeoDataFrame):
        raise SchemaError(f"no coordinates: the {name} layer has no geometry and no longitude/latitude "
                          "columns", file=str(src.file), layer=where,
                          fix="add columns 'lon' and 'lat' (or 经度/纬度), or give a GeoPackage/shapefile")
    if spec.geometry is None and isinstance(df, gpd.GeoDataFrame):
        df = pd.DataFrame(df.drop(columns=df.geometry.name))
    try:
        return validate_layer(df, spec, file=str(src.file), layer=where)
    except SchemaError as exc:
        sheets = df.attrs.get("sheets") or []
        if exc.message.startswith("required column") and len(sheets) > 1:
            exc.fix = (exc.fix or "") + (f"; the workbook's sheets are {', '.join(map(str, sheets))} — name the "
                                         f"right one in county.toml ([{name}] sheet = \"...\")")
        raise


# --------------------------------------------------------------------------- geography
def _lonlat_points(gdf: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    pts = gdf.geometry.representative_point().to_crs(4326)
    return pts.x.to_numpy(float), pts.y.to_numpy(float)


def _choose_crs(frames: dict[str, gpd.GeoDataFrame], crs: Any) -> CRS:
    """The working CRS: given, else the metric CRS at the median of the townships (robust to outliers).

    A median is not moved by a few points geocoded to (0, 0) or to another province;
    when the townships are empty the median of every layer's points is used.
    """
    if crs is not None:
        try:
            out = CRS.from_user_input(crs)
        except Exception:  # pyproj raises CRSError with a long text
            raise CrsError(f"unknown CRS '{crs}'", fix="give an EPSG code such as EPSG:4547") from None
        if not out.is_projected:
            raise CrsError(f"the working CRS must be projected (metres), got {out.name}",
                           fix="pass a projected CRS such as EPSG:4547, or omit crs to choose automatically")
        return out
    base = frames.get("townships")
    pools = [base] if base is not None and len(base) else [f for f in frames.values() if len(f)]
    lon = np.concatenate([_lonlat_points(f)[0] for f in pools])
    lat = np.concatenate([_lonlat_points(f)[1] for f in pools])
    ok = np.isfinite(lon) & np.isfinite(lat)
    return _coords.metric_crs(float(np.median(lon[ok])), float(np.median(lat[ok])))


def _flag_outliers(out: dict[str, Any], outline: Any, files: dict[str, str]) -> None:
    """Warn about points and townships far outside the county, each named with id, name and distance."""
    for name in ("schools", "villages", "sites", "developments", "zones"):
        gdf = out.get(name)
        if gdf is None or not len(gdf):
            continue
        dist = gdf.geometry.distance(outline)
        far = dist > OUTSIDE_TOLERANCE_M
        if not far.any():
            continue
        lon, lat = _lonlat_points(gdf[far])
        names = gdf.loc[far, "name"] if "name" in gdf else pd.Series("", index=gdf.index[far])
        items = [f"{i} {n or ''} ({d / 1000:,.1f} km away, at {_deg(x)}, {_deg(y)})".replace("  ", " ")
                 for i, n, d, x, y in zip(gdf.index[far], names.fillna(""), dist[far], lon, lat, strict=True)]
        warn_data(f"{int(far.sum())} {name} lie more than {OUTSIDE_TOLERANCE_M / 1000:g} km outside the county: "
                  + "; ".join(items[:5]) + (f" (+{len(items) - 5} more)" if len(items) > 5 else ""),
                  file=files.get(name), layer=name, rows=list(gdf.index[far]), check="outside_county",
                  fix="check their coordinates (geocoded to (0, 0) or to a place of the same name elsewhere? "
                  "GCJ-02/BD-09 given as WGS-84? swapped lon/lat?); they stay in the plan as given", stacklevel=4)
    t = out["townships"]
    if len(t) >= 3:
        c = t.geometry.representative_point()
        cx, cy = float(np.median(c.x)), float(np.median(c.y))
        d = np.hypot(c.x - cx, c.y - cy)
        scale = max(float(np.median(d)), 5000.0)
        far = d > 10 * scale
        if far.any():
            warn_data("township(s) far from the others: "
                      + ", ".join(f"{i} {n} ({v / 1000:,.0f} km from the county's centre)"
                                  for i, n, v in zip(t.index[far], t.loc[far, "name"], d[far], strict=True)),
                      file=files.get("townships"), layer="townships", rows=list(t.index[far]),
                      check="outside_county", fix="check the township polygons' coordinates and CRS", stacklevel=4)


def _derive_townships(out: dict[str, Any], notes: _Notes, files: dict[str, str]) -> None:
    """Fill ``township_id`` of points (schools, villages, sites, zones) from the township polygons where absent."""
    t = out["townships"]
    for name in ("schools", "villages", "sites", "zones"):
        gdf = out.get(name)
        if gdf is None or not len(gdf):
            continue
        had = "township_id" in gdf
        blank = gdf["township_id"].isna() if had else pd.Series(True, index=gdf.index)
        if not blank.any():
            continue
        pts = gdf.loc[blank].geometry.representative_point()
        joined = gpd.sjoin_nearest(gpd.GeoDataFrame(geometry=pts, crs=gdf.crs),
                                   t[["geometry"]].rename_axis("_tw").reset_index(), how="left",
                                   max_distance=OUTSIDE_TOLERANCE_M, distance_col="_d")
        joined = joined[~joined.index.duplicated()]
        tw = joined["_tw"].reindex(gdf.index[blank])
        gdf = gdf.copy()
        if not had:
            gdf["township_id"] = None
        gdf["township_id"] = gdf["township_id"].astype(object)
        gdf.loc[tw.index, "township_id"] = tw.where(tw.notna(), None).to_numpy()
        out[name] = gdf
        got = tw.notna()
        msg = (f"township_id of {int(got.sum())} {name} was derived from the township polygons"
               + ("" if had else " (the layer has no township column)"))
        notes.add(msg, check="derived_township", layer=name, column="township_id", rows=list(tw.index[got]),
                  file=files.get(name), fix="add a township column (乡镇代码 or 乡镇 names) to use your own")
        if (~got).any():
            warn_data(f"{int((~got).sum())} {name} lie in no township (more than "
                      f"{OUTSIDE_TOLERANCE_M / 1000:g} km from every township polygon) and have no township_id",
                      file=files.get(name), layer=name, column="township_id", rows=list(tw.index[~got]),
                      check="no_township", fix="check their coordinates or give their township", stacklevel=4)


def _name_key(s: str) -> str:
    return _text.to_halfwidth(s).replace(" ", "")


def _resolve_refs(child: pd.DataFrame, column: str, parent: pd.DataFrame, *, layer: str, file: str | None,
                  notes: _Notes, parent_name: str) -> pd.DataFrame:
    """Let references name the parent by id or by name (麦田镇, 麦田 → T03); unknown names stay for the check."""
    if column not in child or not len(parent) or "name" not in parent:
        return child
    vals = child[column]
    unknown = vals.notna() & ~vals.isin(parent.index)
    if not unknown.any():
        return child
    names: dict[str, list[Any]] = {}
    suffixes = ("街道办事处", "办事处", "街道", "镇", "乡", "县")
    for pid, nm in parent["name"].items():
        if not isinstance(nm, str) or not nm.strip():
            continue
        keys = {_name_key(nm)}
        keys |= {_name_key(nm)[: -len(sfx)] for sfx in suffixes if _name_key(nm).endswith(sfx)
                 and len(_name_key(nm)) > len(sfx) + 1}
        for k in keys:
            names.setdefault(k, []).append(pid)
    mapped = vals[unknown].map(lambda v: names.get(_name_key(str(v)), []))
    ambiguous = mapped.map(len) > 1
    if ambiguous.any():
        v = vals[unknown][ambiguous].iloc[0]
        raise SchemaError(f"'{v}' names more than one {parent_name} ({', '.join(map(str, mapped[ambiguous].iloc[0]))})",
                          file=file, layer=layer, column=column, rows=list(mapped.index[ambiguous]),
                          fix=f"use the {parent_name} id instead of its name")
    ok = mapped.map(len) == 1
    if not ok.any():
        return child
    out = child.copy()
    out[column] = out[column].astype(object)
    out.loc[mapped.index[ok], column] = mapped[ok].map(lambda ids: ids[0]).to_numpy()
    pairs = sorted({f"{a} → {b[0]}" for a, b in zip(vals[mapped.index[ok]], mapped[ok], strict=True)})
    notes.add(f"{int(ok.sum())} {column} value(s) of {layer} were given as {parent_name} names and were matched to "
              f"ids: {', '.join(pairs[:6])}" + (" …" if len(pairs) > 6 else ""), check="name_to_id", layer=layer,
              column=column, rows=list(mapped.index[ok]) if child.index.name else [int(i) + 1 for i in
                                                                                 mapped.index[ok]], file=file)
    return out


def _check_refs(child: pd.DataFrame, column: str, parent: pd.Index, *, file: str | None, layer: str,
                fix: str) -> None:
    if column not in child:
        return
    vals = child[column]
    bad = vals.notna() & ~vals.isin(parent)
    if bad.any():
        unknown = sorted(set(map(str, vals[bad])))
        rows = list(child.index[bad]) if child.index.name else [int(i) + 1 for i in child.index[bad]]
        raise SchemaError(f"unknown {column} value(s): {', '.join(unknown[:8])}", file=file,
                          layer=layer, column=column, rows=rows, fix=fix)


# --------------------------------------------------------------------------- register and forecast inputs
def _check_enrolment(enrol: pd.DataFrame, schools: gpd.GeoDataFrame, file: str, notes: _Notes) -> pd.DataFrame:
    """Enrolment rows: known schools, a level for every grade, no duplicates, grades the school teaches.

    A grade a school cannot teach (grade 8 at a primary school, grade 2 at a junior
    school) is an error: the school's 学段 or the row is wrong, and either way a pupil
    count would land in the wrong forecast. Kindergarten classes at a primary school
    (附设幼儿班) and grades 5–6 at a teaching point are warnings.
    """
    _check_refs(enrol, "school_id", schools.index, file=file, layer="enrolment",
                fix="every enrolment row must name a school in the schools layer (by id or by name)")
    out = enrol.copy()
    if "level" not in out:
        out["level"] = None
    school_level = out["school_id"].map(schools["level"])
    grade = pd.to_numeric(out["grade"], errors="coerce")
    derived = pd.Series(np.select(
        [school_level.eq("kindergarten").to_numpy(), (grade <= 6).to_numpy(), (grade <= 9).to_numpy()],
        ["kindergarten", "primary", "junior"], default="senior"), index=out.index)
    blank = out["level"].isna()
    if blank.any():
        out["level"] = out["level"].astype(object).where(~blank, derived)
    dup = out.duplicated(["year", "school_id", "level", "grade"], keep=False)
    if dup.any():
        raise NonUniqueIdError("the same (year, school, grade) appears more than once", file=file, layer="enrolment",
                               rows=[int(i) + 1 for i in dup[dup].index],
                               fix="sum duplicate rows or delete the repeated ones")
    kg_rows = out["level"].eq("kindergarten")
    span = {**STAGE_GRADES, "senior": (10, 11, 12)}
    off = pd.Series([g not in span.get(lv, ()) for g, lv in zip(grade, out["level"], strict=True)], index=out.index)
    if off.any():
        i = off[off].index[0]
        lv = out.at[i, "level"]
        raise SchemaError(f"{lv} rows with grade {grade.at[i]:g}: {lv} grades are "
                          f"{span[lv][0]}–{span[lv][-1]}", file=file, layer="enrolment", column="grade",
                          rows=[int(j) + 1 for j in off[off].index],
                          fix="kindergarten grades are 1–3 (小班/中班/大班), primary 1–6, junior 7–9 (初一–初三), "
                          "senior 10–12: correct the grade or the level of the rows")
    teaches = school_level.map(lambda lv: set(LEVEL_GRADES.get(lv, ())) if isinstance(lv, str) else set())
    in_span = pd.Series([g in t for g, t in zip(grade, teaches, strict=True)], index=out.index)
    wrong_stage = ~kg_rows & ~in_span
    soft = wrong_stage & (
        (school_level.eq("teaching_point") & grade.between(5, 6))
        | (school_level.eq("senior") & grade.between(1, 9)))  # 完全中学 / 十二年一贯制 teach junior grades too
    kg_at_school = kg_rows & ~school_level.eq("kindergarten")
    hard = (wrong_stage & ~soft) | (~kg_rows & school_level.eq("kindergarten"))
    if hard.any():
        i = hard[hard].index[0]
        sid, lv = out.at[i, "school_id"], school_level.at[i]
        raise SchemaError(
            f"grades the school cannot teach: school {sid} is a {LEVEL_LABELS[lv]['en'].lower()} "
            f"({LEVEL_LABELS[lv]['zh']}) but has pupils in {out.at[i, 'level']} grade {int(grade.at[i])}",
            file=file, layer="enrolment", column="grade", rows=[int(j) + 1 for j in hard[hard].index],
            fix="correct the school's 学段 in the schools layer (e.g. 九年一贯制 for grades 1–9), or the grade of the "
            "rows")
    hard_soft = soft & ~school_level.eq("senior")
    if hard_soft.any():
        ids = sorted(set(out.loc[hard_soft, "school_id"]))
        warn_data(f"teaching point(s) with pupils in grades 5–6 ({', '.join(map(str, ids[:6]))}): teaching points "
                  "usually teach grades 1–4", file=file, layer="enrolment", column="grade",
                  rows=[int(j) + 1 for j in hard_soft[hard_soft].index], check="grade_span",
                  fix="check the grades, or give the school the level 小学 if it is a full primary school",
                  stacklevel=4)
    if kg_at_school.any():
        ids = sorted(set(out.loc[kg_at_school, "school_id"]))
        notes.add(f"{len(ids)} school(s) that are not kindergartens have kindergarten classes (附设幼儿班): "
                  f"{', '.join(map(str, ids[:8]))}; they count as kindergarten pupils of the township",
                  check="attached_kindergarten", layer="enrolment", column="level",
                  rows=[int(j) + 1 for j in kg_at_school[kg_at_school].index], file=file)
    return out


def _check_years(enrol: pd.DataFrame, births: pd.DataFrame, base_year: int, *, files: dict[str, str],
                 explicit: bool) -> None:
    """Enrolment and births years against the register (base) year; births without gaps or duplicates."""
    years = sorted({int(y) for y in enrol["year"]})
    after = [y for y in years if y > base_year]
    if after:
        raise SchemaError(f"enrolment for year(s) after the register year {base_year}: "
                          f"{', '.join(map(str, after))}", file=files.get("enrolment"), layer="enrolment",
                          column="year", rows=[int(i) + 1 for i in enrol.index[enrol["year"].isin(after)]][:50],
                          fix="enrolment must be counted, not projected: delete those rows, or set base_year in "
                          "county.toml to the latest counted year")
    if base_year not in years:
        raise SchemaError(f"no enrolment for the register year {base_year} (the enrolment covers "
                          f"{years[0]}–{years[-1]})", file=files.get("enrolment"), layer="enrolment", column="year",
                          fix=f"add the {base_year} enrolment, or set base_year in county.toml to {years[-1]}"
                          if explicit else "add the register year's enrolment")
    gap = sorted(set(range(years[0], years[-1] + 1)) - set(years))
    if gap:
        raise SchemaError(f"enrolment has no rows for year(s) {', '.join(map(str, gap))} between {years[0]} and "
                          f"{years[-1]}", file=files.get("enrolment"), layer="enrolment", column="year",
                          fix="add the missing years, or delete the years before the gap (the forecast follows "
                          "cohorts from one year to the next)")
    bfile = files.get("births")
    keys = ["year", "township_id"] if "township_id" in births else ["year"]
    dup = births.duplicated(keys, keep=False)
    if dup.any():
        raise NonUniqueIdError("births: the same " + ("(year, township)" if len(keys) == 2 else "year")
                               + " appears more than once", file=bfile, layer="births", column="year",
                               rows=[int(i) + 1 for i in dup[dup].index],
                               fix="keep one row per year" + (" and township" if len(keys) == 2 else "")
                               + " (sum them if they are parts of one count)")
    future = births["year"] > base_year
    if future.any():
        ys = sorted({int(y) for y in births.loc[future, "year"]})
        raise SchemaError(f"births for year(s) after the register year {base_year}: {', '.join(map(str, ys))} — "
                          "births must be registered counts, not projections", file=bfile, layer="births",
                          column="year", rows=[int(i) + 1 for i in births.index[future]][:50],
                          fix="delete the projected rows (schoolplan projects births itself: [forecast] fertility = "
                          "\"low\"/\"medium\"/\"high\"), or set base_year in county.toml if they are registered")
    groups = births.groupby("township_id") if "township_id" in births else [(None, births)]
    for tw, b in groups:
        ys = set(b["year"].astype(int))
        gap = sorted(set(range(min(ys), max(ys) + 1)) - ys)
        if gap:
            where = f" for township {tw}" if tw is not None else ""
            raise SchemaError(f"births: missing year(s) {', '.join(map(str, gap[:8]))}{where}", file=bfile,
                              layer="births", column="year", rows=[tw] if tw is not None else (),
                              fix="add the missing years (the registered count, or an interpolated one) so "
                              "that births run without gaps")


def _warn_school_counts(schools: gpd.GeoDataFrame, enrol: pd.DataFrame, base_year: int, file: str) -> None:
    """Warn about open schools whose pupils or classes cannot be used as given, and closed schools with pupils.

    Blank enrolment: the enrolment rule of 两集中 is not applied to the school.
    Pupils but 0 (or blank) classes: a data-entry slip in most registers; class sizes
    cannot be computed and seats come from ``capacity_seats`` only. A closed school
    with pupils (in the schools layer or in the register year's enrolment) is
    contradictory: its pupils are counted in the forecast but it offers no seats.
    All are warnings, not errors, so that a plan can still be drafted while the
    register is corrected.
    """
    name = Path(file).name
    open_s = schools[(schools["status"] == "open") & (schools["level"] != "kindergarten")]
    blank = open_s.index[open_s["students"].isna()] if "students" in open_s else open_s.index
    if len(blank):
        warn_data(f"{name}: {len(blank)} open school(s) have no enrolment (在校生数 blank: "
                  f"{format_rows(blank)}); the minimum-enrolment rule is not applied to them — fill in "
                  "the number of pupils", file=file, layer="schools", column="students", rows=list(blank),
                  check="blank_enrolment", stacklevel=4)
    if "classes" in schools and "students" in schools:
        pupils = pd.to_numeric(schools["students"], errors="coerce").fillna(0) > 0
        no_class = pupils & (pd.to_numeric(schools["classes"], errors="coerce").fillna(0) <= 0)
        if no_class.any():
            warn_data(f"{name}: {int(no_class.sum())} school(s) have pupils but 0 classes (班级数: "
                      f"{format_rows(schools.index[no_class])}); their class sizes cannot be computed and "
                      "their seats count as capacity_seats only — enter the number of classes", file=file,
                      layer="schools", column="classes", rows=list(schools.index[no_class]), check="zero_classes",
                      stacklevel=4)
    closed = schools.index[schools["status"] == "closed"]
    if len(closed):
        st = pd.to_numeric(schools.loc[closed, "students"], errors="coerce").fillna(0) if "students" in schools \
            else pd.Series(0.0, index=closed)
        now = enrol[(enrol["year"] == base_year) & enrol["school_id"].isin(closed)].groupby("school_id")["students"].sum()
        with_pupils = sorted(set(st.index[st > 0]) | set(now.index[now > 0]))
        if with_pupils:
            warn_data(f"{name}: {len(with_pupils)} closed school(s) have pupils ({', '.join(map(str, with_pupils[:8]))})"
                      f": a closed school offers no seats, so these pupils count in the forecast but not in any "
                      "school", file=file, layer="schools", column="status", rows=with_pupils,
                      check="closed_with_pupils", fix="set the status to open (在办) if the school still teaches, "
                      "or move its pupils to the schools they attend now", stacklevel=4)


def _check_seats(townships: gpd.GeoDataFrame, file: str | None) -> None:
    seats = townships.index[townships["is_county_seat"]]
    if len(seats) > 1:
        raise SchemaError(f"{len(seats)} townships are flagged as the county seat (县城): "
                          + ", ".join(f"{i} {townships.at[i, 'name']}" for i in seats), file=file, layer="townships",
                          column="is_county_seat", rows=list(seats),
                          fix="flag exactly one township as the county seat (是否县城 = 是); for a seat spread over "
                          "several 街道, flag the one whose schools receive the county's junior pupils, or merge them")
    if not len(seats):
        warn_data("no township is flagged is_county_seat (县城); junior schools cannot concentrate "
                  "into the county seat until one is", file=file, layer="townships", column="is_county_seat",
                  check="no_county_seat", fix="flag the county seat (是否县城 = 是) in the townships layer",
                  stacklevel=4)


def _warn_duplicates(villages: gpd.GeoDataFrame, schools: gpd.GeoDataFrame, files: dict[str, str]) -> None:
    """Villages entered twice (same name and township within 200 m, or the same point and population); repeated
    school names."""
    if len(villages) > 1:
        from scipy.spatial import cKDTree

        xy = np.column_stack([villages.geometry.representative_point().x, villages.geometry.representative_point().y])
        pairs = cKDTree(xy).query_pairs(200.0, output_type="ndarray")
        dups = []
        for a, b in pairs:
            d = float(np.hypot(*(xy[a] - xy[b])))
            same_name = villages["name"].iat[a] == villages["name"].iat[b]
            same_tw = "township_id" not in villages or villages["township_id"].iat[a] == villages["township_id"].iat[b]
            same_pop = "population" in villages and villages["population"].iat[a] == villages["population"].iat[b]
            if (same_name and same_tw) or (d < 1.0 and same_pop):
                dups.append((villages.index[a], villages.index[b], villages["name"].iat[a], d))
        if dups:
            warn_data(f"{len(dups)} pair(s) of villages look like the same village entered twice: "
                      + "; ".join(f"{a} and {b} ({n}, {d:.0f} m apart)" for a, b, n, d in dups[:5]),
                      file=files.get("villages"), layer="villages", rows=sorted({x for p in dups for x in p[:2]}),
                      check="duplicate_village",
                      fix="delete the repeated row (its children would be counted twice), or move the point if "
                      "they are different villages", stacklevel=4)
    dup_names = schools["name"].duplicated(keep=False)
    if dup_names.any():
        warn_data(f"school names repeat: {', '.join(sorted(set(schools['name'][dup_names]))[:5])}"
                  " — check they are different schools", file=files.get("schools"), layer="schools", column="name",
                  rows=list(schools.index[dup_names]), check="duplicate_school_name", stacklevel=4)


def _derive_seats(schools: gpd.GeoDataFrame, standards: Mapping[str, Any], notes: _Notes,
                  file: str | None) -> gpd.GeoDataFrame:
    """``capacity_seats`` = classes × standard class size where it is absent or blank (noted)."""
    size = standards["class_size"]
    per_level = {"kindergarten": float(size["kindergarten_mixed"]), "teaching_point": float(size["teaching_point"]),
                 "primary": float(size["primary"]), "nine_year": float(size["primary"]),
                 "junior": float(size["junior"]), "senior": float(size["senior"])}
    had = "capacity_seats" in schools
    blank = schools["capacity_seats"].isna() if had else pd.Series(True, index=schools.index)
    if not blank.any() or "classes" not in schools:
        if not had:
            notes.add("the schools layer has no capacity_seats (学位数) and no classes (班级数): seats are unknown "
                      "and later steps fall back to pupils", check="no_seats", layer="schools",
                      column="capacity_seats", file=file, fix="add 学位数 or 班级数")
        return schools
    classes = pd.to_numeric(schools["classes"], errors="coerce")
    seats = (classes * schools["level"].map(per_level)).round()
    fill = blank & seats.notna()
    out = schools.copy()
    col = out["capacity_seats"] if had else pd.Series(np.nan, index=out.index)
    out["capacity_seats"] = col.astype("Float64").where(~fill, seats.astype("Float64")).round().astype("Int64")
    if fill.any():
        used = sorted(set(schools.loc[fill, "level"]))
        notes.add(f"capacity_seats of {int(fill.sum())} school(s) = classes × standard class size ("
                  + ", ".join(f"{LEVEL_LABELS[lv]['zh']} {per_level[lv]:g}" for lv in used) + ")"
                  + ("" if had else " (the layer has no capacity_seats column)"), check="derived_seats",
                  layer="schools", column="capacity_seats", rows=list(schools.index[fill]), file=file,
                  fix="add 学位数 (核定学位) to use the approved seats")
    return out


def _check_road_layer(roads: Path | None, meta_layer: str | None = None) -> None:
    """Speeds of a road line layer: finite, 0–150 km/h (a typo of 1,200 km/h would shrink every trip)."""
    if roads is None or roads.suffix.lower() not in {".gpkg", ".shp", ".geojson", ".json", ".fgb", ".zip"}:
        return
    import pyogrio

    from schoolplan._validate import normalise_columns

    layer = meta_layer
    if roads.suffix.lower() == ".gpkg":
        names = list_layers(roads)
        layer = next((n for n in ("roads", "道路") if n in names), names[0] if len(names) == 1 else None)
        if layer is None:
            return
    try:
        info = pyogrio.read_info(str(roads), layer=layer)
        fields = [str(f) for f in info["fields"]]
        spec = LAYERS["roads"]
        mapping = normalise_columns(pd.DataFrame(columns=fields), spec)
        speed = next((k for k, v in mapping.items() if v == "speed_kmh"), None)
        if speed is None:
            return
        df = pyogrio.read_dataframe(str(roads), layer=layer, columns=[speed], read_geometry=False)
    except Exception:  # unreadable road files are reported by the graph builder
        return
    num = pd.to_numeric(df[speed].map(lambda v: _text.to_halfwidth(v) if isinstance(v, str) else v),
                        errors="coerce").astype(float)
    bad = (num.notna() & ~np.isfinite(num)) | (num < 0) | (num > 150)
    if bad.any():
        raise SchemaError(f"road speeds outside 0–150 km/h (e.g. {num[bad].iloc[0]:g} km/h)", file=str(roads),
                          layer=layer or "roads", column=speed, rows=[int(i) + 1 for i in bad[bad].index],
                          fix="speeds are km/h of a vehicle on that road (国道 60–80, 乡道 30–40): correct the typos, "
                          "or delete the column to use the speed profile's class speeds")


# --------------------------------------------------------------------------- loading
def county_options(*, coords: str | None = None, crs: Any = None, base_year: int | str | None = None) -> dict[str, Any]:
    """Check and normalise loading options given by a caller (command line, scenario, API).

    Parameters
    ----------
    coords, crs, base_year
        As for :func:`load_county`; None leaves the choice to ``county.toml`` or the default.

    Returns
    -------
    dict
        ``coords`` (``wgs84``/``cgcs2000``/``gcj02``/``bd09`` or None), ``crs`` (text or None),
        ``base_year`` (int or None).

    Raises
    ------
    CrsError, ConfigError
        An unknown coordinate system, a CRS that is not projected, a year that is not one.
    """
    out: dict[str, Any] = {"coords": None, "crs": None, "base_year": None}
    if coords is not None:
        out["coords"] = _coords_name(coords, where="coords")
    if crs is not None:
        out["crs"] = _choose_crs({}, crs).to_string()
    if base_year is not None:
        out["base_year"] = _year(base_year, key="base_year", file=None)
    return out


def load_county(
    path: str | Path,
    *,
    coords: str | None = None,
    crs: Any = None,
    base_year: int | str | None = None,
    standards: Mapping[str, Any] | None = None,
) -> County:
    """Load and validate a county: the one loading path of ``info``, ``run``, ``sweep``, ``demo`` and the API.

    Options given here override ``county.toml``, which overrides the defaults.

    Parameters
    ----------
    path
        A folder with layer files (``schools.gpkg``/``学校.xlsx`` ..., an optional
        ``county.toml`` naming files and options) or one GeoPackage holding the layers.
    coords
        Coordinate system of lon/lat columns in CSV/XLSX inputs: ``wgs84`` (default),
        ``cgcs2000``, ``gcj02`` (Gaode/Tencent) or ``bd09`` (Baidu). Offset systems are
        converted to WGS-84 on import. Overrides ``coords`` in ``county.toml``.
    crs
        Working metric CRS; ``county.toml`` ``crs``, else chosen at the median of the
        townships (CGCS2000 3° GK in China, UTM elsewhere).
    base_year
        Year of the register; defaults to ``county.toml`` or the latest enrolment year.
    standards
        Norms (:func:`schoolplan.standards.load_standards`) for derived seats
        (classes × standard class size); national defaults when omitted.

    Returns
    -------
    County
        With ``data_quality`` listing every warning issued and every value derived.

    Raises
    ------
    InputFileError, MissingFileError, EncodingError, SchemaError, NonUniqueIdError, CrsError, ConfigError,
    ResourceError
        Naming the file, layer, column and rows, with the fix.

    Examples
    --------
    >>> import schoolplan
    >>> county = schoolplan.load_county("data/demo_county")  # doctest: +SKIP
    >>> county.schools.groupby("level").size()  # doctest: +SKIP
    >>> county.data_quality[["severity", "message"]]  # doctest: +SKIP
    """
    notes = _Notes()
    with collect_warnings() as found:
        county = _load(Path(path), coords=coords, crs=crs, base_year=base_year, standards=standards, notes=notes)
    dq = data_quality_frame([*found, *notes])
    return dataclasses.replace(county, data_quality=dq)


def _load(p: Path, *, coords: str | None, crs: Any, base_year: int | str | None,
          standards: Mapping[str, Any] | None, notes: _Notes) -> County:
    if p.is_file() and p.name == "county.toml":
        p = p.parent
    if not p.exists():
        raise MissingFileError("county path not found", file=str(p),
                               fix="give a folder with the county's layers or one GeoPackage")
    if p.is_file() and p.suffix.lower() not in {".gpkg", ".gdb"}:
        raise InputFileError(f"a county is a folder or a GeoPackage, not a '{p.suffix}' file", file=str(p),
                             fix="give the folder that holds the layer files (and county.toml)")
    meta = _read_meta(p) if p.is_dir() else {}
    coords = _coords_name(coords, where="coords") if coords is not None else str(meta.get("coords", "wgs84"))
    srcs = _sources(p, meta, notes)
    for required in REQUIRED_LAYERS:
        if required not in srcs:
            stems = "/".join(FILE_STEMS[required][:1] + FILE_STEMS[required][2:3])
            raise InputFileError(f"no {required} layer found", file=str(p), layer=required,
                                 fix=f"add a file named {stems}.gpkg/.csv/.xlsx or a GeoPackage layer "
                                 f"'{required}' (or name the file in county.toml: {required} = \"...\")")
    check_memory(sum(estimate_layer_bytes(s.file, s.layer) for s in srcs.values() if s.file.exists()),
                 what="loading the county", file=str(p),
                 fix="clip the layers to the county (a province-wide file is too big for this machine), "
                 "drop columns you do not need, or use a machine with more memory")
    files = {name: str(src.file) for name, src in srcs.items()}
    raw = {name: _read(name, src, coords, notes) for name, src in srcs.items()}
    provenance = {name: {"file": str(src.file), "layer": src.layer, "sheet": df.attrs.get("sheet"),
                         "lonlat_table": src.file.suffix.lower() in TABLE_SUFFIXES and isinstance(df, gpd.GeoDataFrame),
                         "coords": src.coords or coords}
                  for (name, src), df in zip(srcs.items(), raw.values(), strict=True)}
    frames = {name: _validate(name, raw[name], src) for name, src in srcs.items()}
    geo = {n: f for n, f in frames.items() if isinstance(f, gpd.GeoDataFrame)}
    work_crs = _choose_crs(geo, crs if crs is not None else meta.get("crs"))
    out: dict[str, Any] = {}
    for name, df in frames.items():
        spec = LAYERS[name]
        if isinstance(df, gpd.GeoDataFrame):
            df = df.to_crs(work_crs)
            if spec.id_column:
                df = df.set_index(spec.id_column, drop=True)
        out[name] = df
    for name in OPTIONAL_LAYERS:
        out.setdefault(name, _empty(name, work_crs))
    townships = out["townships"]
    _check_seats(townships, files.get("townships"))
    outline = townships.geometry.union_all()
    _flag_outliers(out, outline, files)
    # references: ids or names, then every reference must resolve
    refs = (("schools", "township_id", "townships", "township"), ("villages", "township_id", "townships", "township"),
            ("villages", "zone_id", "zones", "zone"), ("zones", "township_id", "townships", "township"),
            ("sites", "township_id", "townships", "township"), ("sites", "school_id", "schools", "school"),
            ("developments", "zone_id", "zones", "zone"), ("births", "township_id", "townships", "township"),
            ("enrolment", "school_id", "schools", "school"))
    for child, col, parent, what in refs:
        out[child] = _resolve_refs(out[child], col, out[parent], layer=child, file=files.get(child), notes=notes,
                                   parent_name=what)
    _derive_townships(out, notes, files)
    for child, col, parent, what in refs:
        if child == "enrolment" or not len(out[parent]):
            continue
        extra = ", or leave the column out for county totals" if child == "births" else ""
        _check_refs(out[child], col, out[parent].index, file=files.get(child), layer=child,
                    fix=f"use {what} ids (or names) from the {parent} layer{extra}")
    out["enrolment"] = _check_enrolment(out["enrolment"], out["schools"], files["enrolment"], notes)
    folder = p if p.is_dir() else p.parent
    explicit = base_year is not None or "base_year" in meta
    if base_year is not None:
        year = _year(base_year, key="base_year", file=None)
    else:
        year = int(meta.get("base_year") or int(out["enrolment"]["year"].max()))
    _check_years(out["enrolment"], out["births"], year, files=files, explicit=explicit)
    _warn_school_counts(out["schools"], out["enrolment"], year, files["schools"])
    _warn_duplicates(out["villages"], out["schools"], files)
    if standards is None:
        from schoolplan.standards import load_standards

        standards = load_standards()
    out["schools"] = _derive_seats(out["schools"], standards, notes, files.get("schools"))
    roads = _road_source(p, meta)
    _check_road_layer(roads)
    if crs is None and meta.get("crs") is None:
        notes.add(f"working CRS {work_crs.to_string()} ({work_crs.name}) chosen at the median of the townships",
                  check="crs", layer="townships", file=files.get("townships"),
                  fix="set crs in county.toml (or --crs) to use another")
    return County(
        name=str(meta.get("name_zh", meta.get("name", folder.name))),
        name_en=str(meta.get("name_en", "")),
        crs=work_crs,
        schools=out["schools"],
        villages=out["villages"],
        townships=out["townships"],
        zones=out["zones"],
        sites=out["sites"],
        developments=out["developments"],
        births=out["births"].reset_index(drop=True),
        enrolment=out["enrolment"].reset_index(drop=True),
        roads=roads,
        base_year=int(year),
        source=p,
        meta=meta,
        options={"coords": coords, "crs": work_crs.to_string(), "base_year": int(year), "layers": provenance},
    )


def _empty(spec_name: str, crs: CRS) -> gpd.GeoDataFrame:
    spec = LAYERS[spec_name]
    cols = [c.name for c in spec.columns if c.name != spec.id_column]
    idx = pd.Index([], name=spec.id_column, dtype=object)
    return gpd.GeoDataFrame({c: [] for c in cols}, geometry=gpd.GeoSeries([], crs=crs), index=idx)


# --------------------------------------------------------------------------- summary
def children_by_level(villages: pd.DataFrame) -> dict[str, int]:
    """Children by level from the single-year age columns (kindergarten 3–5, primary 6–11, ...)."""
    out = {}
    for level, (lo, hi) in LEVEL_AGES.items():
        cols = [c for c in AGE_COLUMNS[lo:hi + 1] if c in villages]
        out[level] = int(villages[cols].sum().sum()) if cols else 0
    return out


def county_summary(county: County, *, road_km: float | None = None) -> dict[str, Any]:
    """Key figures of a county for ``schoolplan info`` and reports.

    Parameters
    ----------
    county
        A loaded county.
    road_km
        Routable road length, if already computed.

    Returns
    -------
    dict
        ``name``, ``crs``, ``extent`` (lon/lat), ``schools`` (level → status → count),
        ``villages``, ``townships``, ``population``, ``children`` (level → count),
        ``pupils`` (level → enrolled), ``births`` (first/last year and values), ``road_km``,
        ``data_quality`` (warnings and notes from loading).
    """
    s = county.schools
    table = s.groupby(["level", "status"]).size().unstack(fill_value=0)
    schools = {lv: {st: int(table.loc[lv].get(st, 0)) for st in ("open", "closed")}
               for lv in LEVELS if lv in table.index}
    open_s = s[s["status"] == "open"]
    pupils = {lv: int(open_s.loc[open_s["level"] == lv, "students"].fillna(0).sum()) if "students" in open_s else 0
              for lv in LEVELS if (open_s["level"] == lv).any()}
    lon0, lat0, lon1, lat1 = county.townships.to_crs(4326).total_bounds
    births = county.births.groupby("year")["births"].sum()
    dq = county.data_quality
    return {
        "name": county.name,
        "name_en": county.name_en,
        "crs": county.crs.to_string(),
        "crs_name": county.crs.name,
        "extent": (round(float(lon0), 4), round(float(lat0), 4), round(float(lon1), 4), round(float(lat1), 4)),
        "schools": schools,
        "schools_total": len(s),
        "villages": len(county.villages),
        "townships": len(county.townships),
        "county_seat": county.county_seat,
        "zones": len(county.zones),
        "sites": len(county.sites),
        "population": int(county.villages["population"].fillna(0).sum()) if "population" in county.villages else None,
        "children": children_by_level(county.villages),
        "pupils": pupils,
        "births": {int(y): int(v) for y, v in births.items()},
        "base_year": county.base_year,
        "road_km": None if road_km is None else round(float(road_km), 1),
        "roads": str(county.roads) if isinstance(county.roads, Path) else ("layer" if county.roads is not None else None),
        "labels": {lv: LEVEL_LABELS[lv] for lv in LEVELS},
        "data_quality": {"warnings": int((dq["severity"] == "warning").sum()) if len(dq) else 0,
                         "notes": int((dq["severity"] == "note").sum()) if len(dq) else 0},
    }
