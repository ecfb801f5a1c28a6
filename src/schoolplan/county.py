"""The County bundle and :func:`load_county`.

A county is a folder (or one GeoPackage) with the layers described in
:mod:`schoolplan.schema`: schools, villages, townships, zones, sites,
developments, births, enrolment, and roads (an OSM PBF/XML file, GraphML, or a
road line layer). Layers are validated, projected to one metric CRS chosen from
the extent (CGCS2000 3° Gauss–Krüger in China, UTM elsewhere) and returned in a
frozen :class:`County`. The files are never modified.
"""

from __future__ import annotations

import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from schoolplan import coords as _coords
from schoolplan._validate import validate_layer
from schoolplan.errors import (
    ConfigError,
    CrsError,
    DataWarning,
    InputFileError,
    SchemaError,
    format_rows,
)
from schoolplan.io import (
    TABLE_SUFFIXES,
    VECTOR_SUFFIXES,
    check_memory,
    estimate_layer_bytes,
    list_layers,
    read_layer,
)
from schoolplan.schema import AGE_COLUMNS, LAYERS, LEVEL_AGES, LEVEL_LABELS, LEVELS

__all__ = ["County", "county_summary", "load_county"]

#: File stems accepted for each layer in a county folder (English and Chinese).
FILE_STEMS: dict[str, tuple[str, ...]] = {
    "schools": ("schools", "school", "学校", "学校名录", "学校信息"),
    "villages": ("villages", "village", "村庄", "行政村", "居民点"),
    "townships": ("townships", "township", "乡镇", "乡镇边界"),
    "zones": ("zones", "zone", "控规单元", "规划单元"),
    "sites": ("sites", "site", "候选用地", "候选地块"),
    "developments": ("developments", "development", "住宅项目", "新建住宅区"),
    "births": ("births", "birth", "出生人口", "出生"),
    "enrolment": ("enrolment", "enrollment", "在校生", "分年级在校生"),
}
ROAD_NAMES = ("roads.osm.pbf", "roads.pbf", "roads.osm", "roads.graphml", "roads.gpkg", "roads.shp",
              "道路.gpkg", "道路.shp")
OPTIONAL_LAYERS = ("zones", "sites", "developments")

#: Age ranges (inclusive) of children by level, for summaries and demand.


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


# --------------------------------------------------------------------------- discovery
def _find_file(folder: Path, stems: tuple[str, ...]) -> Path | None:
    for stem in stems:
        for suffix in (".gpkg", ".shp", ".geojson", ".json", ".fgb", ".gdb", ".xlsx", ".xls", ".csv"):
            p = folder / f"{stem}{suffix}"
            if p.exists():
                return p
    return None


def _read_meta(folder: Path) -> dict[str, Any]:
    meta_path = folder / "county.toml"
    if not meta_path.exists():
        return {}
    try:
        return tomllib.loads(meta_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read county.toml: {exc}", file=str(meta_path),
                          fix="check the TOML syntax and save as UTF-8") from None


def _sources(path: Path, meta: dict[str, Any]) -> dict[str, tuple[Path, str | None]]:
    """Where each layer comes from: (file, layer name inside a GeoPackage)."""
    found: dict[str, tuple[Path, str | None]] = {}
    folder = path if path.is_dir() else path.parent
    gpkgs: list[Path] = []
    if path.is_file():
        gpkgs = [path]
    else:
        if meta.get("gpkg"):
            gpkgs.append(folder / str(meta["gpkg"]))
        gpkgs += sorted(p for p in folder.glob("*.gpkg") if p not in gpkgs)
    # explicit files in county.toml win, then separate files, then GeoPackage layers
    for name, stems in FILE_STEMS.items():
        if name in meta and isinstance(meta[name], str):
            found[name] = (folder / meta[name], None)
            continue
        f = _find_file(folder, stems) if path.is_dir() else None
        if f is not None:
            found[name] = (f, None)
            continue
        for g in gpkgs:
            if not g.exists():
                continue
            layers = list_layers(g)
            hit = next((s for s in stems if s in layers), None)
            if hit:
                found[name] = (g, hit)
                break
    return found


def _road_source(path: Path, meta: dict[str, Any]) -> Path | None:
    folder = path if path.is_dir() else path.parent
    if meta.get("roads"):
        p = folder / str(meta["roads"])
        if not p.exists():
            raise InputFileError("the road file named in county.toml does not exist", file=str(p),
                                 fix="fix the 'roads' entry in county.toml")
        return p
    for n in ROAD_NAMES:
        if (folder / n).exists():
            return folder / n
    pbfs = sorted(folder.glob("*.osm.pbf")) + sorted(folder.glob("*.osm"))
    if pbfs:
        return pbfs[0]
    if path.is_file() and "roads" in list_layers(path):
        return path
    return None


# --------------------------------------------------------------------------- loading
def _read(name: str, src: tuple[Path, str | None], coords: str) -> pd.DataFrame:
    file, layer = src
    if not file.exists():
        raise InputFileError(f"the {name} file does not exist", file=str(file), fix="check county.toml")
    suffix = file.suffix.lower()
    if suffix not in TABLE_SUFFIXES | VECTOR_SUFFIXES:
        raise InputFileError(f"unknown file format '{suffix}' for the {name} layer", file=str(file),
                             fix="use GPKG, SHP, GeoJSON, FileGDB, CSV or XLSX")
    return read_layer(file, layer=layer, coords=coords)


def _choose_crs(frames: list[gpd.GeoDataFrame], crs: Any) -> CRS:
    if crs is not None:
        out = CRS.from_user_input(crs)
        if not out.is_projected:
            raise CrsError(f"the working CRS must be projected (metres), got {out.name}",
                           fix="pass a projected CRS such as EPSG:4547, or omit crs to choose automatically")
        return out
    bounds = np.array([f.to_crs(4326).total_bounds for f in frames if len(f)])
    lon = float((bounds[:, 0].min() + bounds[:, 2].max()) / 2)
    lat = float((bounds[:, 1].min() + bounds[:, 3].max()) / 2)
    return _coords.metric_crs(lon, lat)


def _empty(spec_name: str, crs: CRS) -> gpd.GeoDataFrame:
    spec = LAYERS[spec_name]
    cols = [c.name for c in spec.columns if c.name != spec.id_column]
    idx = pd.Index([], name=spec.id_column, dtype=object)
    return gpd.GeoDataFrame({c: [] for c in cols}, geometry=gpd.GeoSeries([], crs=crs), index=idx)


def _check_refs(child: pd.DataFrame, column: str, parent: pd.Index, *, file: str, layer: str,
                fix: str) -> None:
    if column not in child:
        return
    vals = child[column]
    bad = vals.notna() & ~vals.isin(parent)
    if bad.any():
        unknown = sorted(set(map(str, vals[bad])))
        raise SchemaError(f"unknown {column} value(s): {', '.join(unknown[:8])}", file=file,
                          layer=layer, column=column, rows=list(child.index[bad]), fix=fix)


def _warn_outside(gdf: gpd.GeoDataFrame, outline: Any, *, name: str, tolerance_m: float = 2000) -> None:
    if not len(gdf):
        return
    inside = gdf.geometry.intersects(outline.buffer(tolerance_m))
    if not inside.all():
        ids = ", ".join(map(str, gdf.index[~inside][:8]))
        warnings.warn(
            f"{(~inside).sum()} {name} lie more than {tolerance_m / 1000:g} km outside the county "
            f"({ids}); check their coordinates (GCJ-02/BD-09 given as WGS-84? swapped lon/lat?)",
            DataWarning, stacklevel=4,
        )


def _check_enrolment(enrol: pd.DataFrame, schools: gpd.GeoDataFrame, file: str) -> pd.DataFrame:
    _check_refs(enrol, "school_id", schools.index, file=file, layer="enrolment",
                fix="every enrolment row must name a school in the schools layer")
    out = enrol.copy()
    if "level" not in out or out["level"].isna().any():
        school_level = out["school_id"].map(schools["level"])
        derived = np.select(
            [school_level.eq("kindergarten"), out["grade"] <= 6, out["grade"] <= 9],
            ["kindergarten", "primary", "junior"], default="senior")
        out["level"] = out["level"].fillna(pd.Series(derived, index=out.index)) if "level" in out else derived
    dup = out.duplicated(["year", "school_id", "level", "grade"], keep=False)
    if dup.any():
        raise SchemaError("the same (year, school, grade) appears more than once", file=file, layer="enrolment",
                          rows=[int(i) + 1 for i in dup[dup].index],
                          fix="sum duplicate rows or delete the repeated ones")
    return out


def _warn_school_counts(schools: gpd.GeoDataFrame, file: str) -> None:
    """Warn about open schools whose pupils or classes cannot be used as given.

    Blank enrolment: the enrolment rule of 两集中 is not applied to the school.
    Pupils but 0 (or blank) classes: a data-entry slip in most registers; class sizes
    cannot be computed and seats come from ``capacity_seats`` only. Both are
    warnings, not errors, so that a plan can still be drafted while the register
    is corrected.
    """
    open_s = schools[(schools["status"] == "open") & (schools["level"] != "kindergarten")]
    blank = open_s.index[open_s["students"].isna()] if "students" in open_s else open_s.index
    if len(blank):
        warnings.warn(f"{file}: {len(blank)} open school(s) have no enrolment (在校生数 blank: "
                      f"{format_rows(blank)}); the minimum-enrolment rule is not applied to them — fill in "
                      "the number of pupils", DataWarning, stacklevel=3)
    if "classes" in schools:
        pupils = pd.to_numeric(schools["students"], errors="coerce").fillna(0) > 0
        no_class = pupils & (pd.to_numeric(schools["classes"], errors="coerce").fillna(0) <= 0)
        if no_class.any():
            warnings.warn(f"{file}: {int(no_class.sum())} school(s) have pupils but 0 classes (班级数: "
                          f"{format_rows(schools.index[no_class])}); their class sizes cannot be computed and "
                          "their seats count as capacity_seats only — enter the number of classes",
                          DataWarning, stacklevel=3)


def _check_births(births: pd.DataFrame, file: str) -> None:
    """Births must cover every year between the first and the last, per township."""
    groups = births.groupby("township_id") if "township_id" in births else [(None, births)]
    for tw, b in groups:
        years = set(b["year"].astype(int))
        gap = sorted(set(range(min(years), max(years) + 1)) - years)
        if gap:
            where = f" for township {tw}" if tw is not None else ""
            raise SchemaError(f"births: missing year(s) {', '.join(map(str, gap[:8]))}{where}", file=file,
                              layer="births", column="year", rows=[tw] if tw is not None else (),
                              fix="add the missing years (the registered count, or an interpolated one) so "
                              "that births run without gaps")


def load_county(
    path: str | Path,
    *,
    coords: str | None = None,
    crs: Any = None,
    base_year: int | None = None,
) -> County:
    """Load and validate a county.

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
        Working metric CRS; chosen from the extent when omitted (CGCS2000 3° GK in
        China, UTM elsewhere).
    base_year
        Year of the register; defaults to ``county.toml`` or the latest enrolment year.

    Returns
    -------
    County

    Raises
    ------
    InputFileError, SchemaError, NonUniqueIdError, CrsError, ConfigError
        Naming the file, layer, column and rows, with the fix.

    Examples
    --------
    >>> import schoolplan
    >>> county = schoolplan.load_county("data/demo_county")  # doctest: +SKIP
    >>> county.schools.groupby("level").size()  # doctest: +SKIP
    """
    p = Path(path)
    if not p.exists():
        raise InputFileError("county path not found", file=str(p),
                             fix="give a folder with the county's layers or one GeoPackage")
    meta = _read_meta(p if p.is_dir() else p.parent) if p.is_dir() else {}
    coords = coords or str(meta.get("coords", "wgs84"))
    srcs = _sources(p, meta)
    for required in ("schools", "villages", "townships", "births", "enrolment"):
        if required not in srcs:
            stems = "/".join(FILE_STEMS[required][:1] + FILE_STEMS[required][2:3])
            raise InputFileError(f"no {required} layer found", file=str(p), layer=required,
                                 fix=f"add a file named {stems}.gpkg/.csv/.xlsx or a GeoPackage layer "
                                 f"'{required}'")
    check_memory(sum(estimate_layer_bytes(f, layer) for f, layer in srcs.values() if f.exists()),
                 what="loading the county", file=str(p),
                 fix="clip the layers to the county (a province-wide file is too big for this machine), "
                 "drop columns you do not need, or use a machine with more memory")
    raw = {name: _read(name, src, coords) for name, src in srcs.items()}
    frames: dict[str, pd.DataFrame] = {}
    for name, df in raw.items():
        file, layer = srcs[name]
        spec = LAYERS[name]
        if spec.geometry is not None and not isinstance(df, gpd.GeoDataFrame):
            raise SchemaError(f"no coordinates: the {name} layer has no geometry and no longitude/latitude "
                              "columns", file=str(file), layer=layer or name,
                              fix="add columns 'lon' and 'lat' (or 经度/纬度), or give a GeoPackage/shapefile")
        if spec.geometry is None and isinstance(df, gpd.GeoDataFrame):
            df = pd.DataFrame(df.drop(columns=df.geometry.name))
        frames[name] = validate_layer(df, spec, file=str(file), layer=layer or name)
    geo = [f for f in frames.values() if isinstance(f, gpd.GeoDataFrame)]
    work_crs = _choose_crs(geo, crs)
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
    schools_file = str(srcs["schools"][0])
    _check_refs(out["schools"], "township_id", townships.index, file=schools_file, layer="schools",
                fix="use township ids from the townships layer")
    _check_refs(out["villages"], "township_id", townships.index, file=str(srcs["villages"][0]),
                layer="villages", fix="use township ids from the townships layer")
    if len(out["zones"]):
        _check_refs(out["villages"], "zone_id", out["zones"].index, file=str(srcs["villages"][0]),
                    layer="villages", fix="use zone ids from the zones layer")
    _check_refs(out["births"], "township_id", townships.index, file=str(srcs["births"][0]), layer="births",
                fix="use township ids from the townships layer, or leave the column out for county totals")
    out["enrolment"] = _check_enrolment(out["enrolment"], out["schools"], str(srcs["enrolment"][0]))
    _check_births(out["births"], str(srcs["births"][0]))
    _warn_school_counts(out["schools"], Path(schools_file).name)
    outline = townships.geometry.union_all()
    for name in ("schools", "villages", "sites"):
        _warn_outside(out[name], outline, name=name)
    dup_names = out["schools"]["name"].duplicated(keep=False)
    if dup_names.any():
        warnings.warn(f"school names repeat: {', '.join(sorted(set(out['schools']['name'][dup_names]))[:5])}"
                      " — check they are different schools", DataWarning, stacklevel=2)
    if not out["townships"]["is_county_seat"].any():
        warnings.warn("no township is flagged is_county_seat (县城); junior schools cannot concentrate "
                      "into the county seat until one is", DataWarning, stacklevel=2)
    folder = p if p.is_dir() else p.parent
    year = base_year or meta.get("base_year") or int(out["enrolment"]["year"].max())
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
        roads=_road_source(p, meta),
        base_year=int(year),
        source=p,
        meta=meta,
    )


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
        ``pupils`` (level → enrolled), ``births`` (first/last year and values), ``road_km``.
    """
    s = county.schools
    table = s.groupby(["level", "status"]).size().unstack(fill_value=0)
    schools = {lv: {st: int(table.loc[lv].get(st, 0)) for st in ("open", "closed")}
               for lv in LEVELS if lv in table.index}
    open_s = s[s["status"] == "open"]
    pupils = {lv: int(open_s.loc[open_s["level"] == lv, "students"].fillna(0).sum())
              for lv in LEVELS if (open_s["level"] == lv).any()}
    lon0, lat0, lon1, lat1 = county.townships.to_crs(4326).total_bounds
    births = county.births.groupby("year")["births"].sum()
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
    }
