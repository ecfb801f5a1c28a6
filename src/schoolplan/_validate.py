"""Schema checks: alias mapping, type coercion, ranges, ids — failing early with the fix."""

from __future__ import annotations

import re
from collections.abc import Hashable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from schoolplan._text import to_halfwidth
from schoolplan.errors import NonUniqueIdError, SchemaError, warn_data
from schoolplan.schema import GRADE_LABELS, LEVEL_ALIASES, LEVEL_SPELLINGS, Column, LayerSpec

__all__ = ["normalise_columns", "parse_grade", "validate_layer"]

#: Text that means "no value" in a number or category cell.
_BLANK = {"", "-", "—", "–", "/", "nan", "none", "null", "n/a", "na", "#n/a", "空", "－"}
#: Largest magnitude an integer column may hold (exactly representable as float64, far from int64 overflow).
_INT_LIMIT = 2.0**53

_TRUE = {"1", "true", "t", "yes", "y", "是", "有", "√", "✓", "x"}
_FALSE = {"0", "false", "f", "no", "n", "否", "无", "", "nan", "none"}

_OWNERSHIP_ALIASES = {
    "公办": "public", "公立": "public", "教育部门办": "public", "其他部门办": "public",
    "普惠": "inclusive_private", "普惠性民办": "inclusive_private", "普惠民办": "inclusive_private",
    "民办": "private", "私立": "private", "非普惠民办": "private", "营利性": "private",
}
_STATUS_ALIASES = {"在办": "open", "正常": "open", "开办": "open", "active": "open",
                   "撤并": "closed", "停办": "closed", "闲置": "closed", "closed": "closed",
                   "merged": "closed", "inactive": "closed"}
_SITE_ALIASES = {"空地": "vacant", "规划教育用地": "planned_education", "教育用地": "planned_education",
                 "撤并校舍": "closed_school", "闲置校舍": "closed_school", "办公楼": "government_building",
                 "闲置办公楼": "government_building", "其他": "other"}



def _plain(x: float | None) -> str:
    """A bound as a person writes it: 1,000,000 (not 1e+06), 0.5, 1e+20 only when huge."""
    if x is None:
        return ""
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:g}"

def _key(name: Hashable) -> str:
    return re.sub(r"[\s_\-()（）/]+", "", to_halfwidth(str(name))).lower()


def normalise_columns(df: pd.DataFrame, spec: LayerSpec) -> dict[str, str]:
    """Map a frame's column names to canonical names via the schema's aliases.

    Parameters
    ----------
    df
        Input frame (not modified).
    spec
        The layer's schema.

    Returns
    -------
    dict
        ``{input name: canonical name}`` for every recognised column.
    """
    lookup: dict[str, str] = {}
    for col in spec.all_columns:
        for name in (col.name, *col.aliases):
            lookup.setdefault(_key(name), col.name)
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    # exact canonical names first, then aliases
    for c in df.columns:
        if str(c) in {col.name for col in spec.all_columns}:
            mapping[str(c)] = str(c)
            taken.add(str(c))
    for c in df.columns:
        if str(c) in mapping or c == getattr(df, "_geometry_column_name", None):
            continue
        canon = lookup.get(_key(c))
        if canon and canon not in taken:
            mapping[str(c)] = canon
            taken.add(canon)
    return mapping


def _text(v: object) -> str | None:
    """Text value: numbers read from spreadsheets lose their '.0'; blanks become None."""
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return None
    if isinstance(v, float) and v.is_integer() and abs(v) < _INT_LIMIT:
        return str(int(v))
    t = str(v).strip()
    return t or None


def _ref(v: object) -> str | None:
    """An id or a reference to one: text with full-width characters made ASCII (``Ｓ１`` → ``S1``)."""
    t = _text(v)
    return None if t is None else (to_halfwidth(t) or None)


def parse_grade(value: object) -> tuple[float | None, str | None]:
    """A grade from a number or a Chinese/English label: ``(grade, implied level)``.

    ``"3"``, ``"３"``, ``3.0`` → ``(3, None)``; ``"一年级"`` → ``(1, None)``; ``"初一"`` →
    ``(7, "junior")``; ``"小班"`` → ``(1, "kindergarten")``; blank → ``(None, None)``.
    Anything else → ``(nan, None)`` (reported as not a number).
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None, None
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return float(value), None
    t = to_halfwidth(str(value)).lower()
    t = re.sub(r"\s+", " ", t)
    if t in _BLANK:
        return None, None
    if t in GRADE_LABELS:
        g, level = GRADE_LABELS[t]
        return float(g), level
    try:
        return float(t), None
    except ValueError:
        return float("nan"), None


def _rows(mask: pd.Series, ids: pd.Series | None) -> list[object]:
    idx = mask[mask].index
    if ids is not None:
        return [ids.loc[i] for i in idx]
    return [int(i) + 1 for i in idx]


def _coerce_numeric(s: pd.Series, col: Column, where: dict[str, object], ids: pd.Series | None) -> pd.Series:
    text = s.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else
                 (to_halfwidth(v) if isinstance(v, str) else str(v)))
    text = text.astype(object).map(lambda v: v.replace(",", "").replace(" ", "").replace("\u00a0", "")
                                   if isinstance(v, str) else v)
    text = text.where(~text.map(lambda v: isinstance(v, str) and v.lower() in _BLANK), None)
    num = pd.to_numeric(text, errors="coerce").astype(np.float64)
    bad = text.notna() & num.isna()
    if bad.any():
        example = text[bad].iloc[0]
        raise SchemaError(f"values are not numbers (e.g. '{example}')", column=col.name,
                          rows=_rows(bad, ids), fix="enter plain numbers without units or notes", **where)
    inf = num.notna() & ~np.isfinite(num)
    if inf.any():
        raise SchemaError(f"values are not finite numbers (e.g. '{text[inf].iloc[0]}')", column=col.name,
                          rows=_rows(inf, ids), fix="enter the real count or measure (infinite values are "
                          "not allowed; leave the cell blank when it is unknown)", **where)
    if col.required and num.isna().any():
        raise SchemaError("required values are missing", column=col.name, rows=_rows(num.isna(), ids),
                          fix="fill in every row (use 0 where there are none)", **where)
    unit = f" {col.unit}" if col.unit and col.unit not in {"year", "grade"} else ""
    if col.minimum is not None and (num < col.minimum).any():
        bad = num < col.minimum
        raise SchemaError(f"values below {_plain(col.minimum)}{unit} (e.g. {num[bad].iloc[0]:g})", column=col.name,
                          rows=_rows(bad, ids),
                          fix="counts and areas cannot be negative; correct the entries" if col.minimum == 0 else
                          f"values must lie between {_plain(col.minimum)} and {_plain(col.maximum)}{unit}", **where)
    hi = col.maximum if col.maximum is not None else (_INT_LIMIT if col.kind == "int" else None)
    if hi is not None and (num > hi).any():
        bad = num > hi
        lo = 0 if col.minimum is None else col.minimum
        raise SchemaError(f"values above {_plain(hi)}{unit} (e.g. {num[bad].iloc[0]:g})", column=col.name,
                          rows=_rows(bad, ids),
                          fix=f"values must lie between {_plain(lo)} and {_plain(hi)}{unit}: check for a typo, a total "
                          "entered as one row, or a number in the wrong unit", **where)
    if col.kind == "int":
        if (num.abs() > _INT_LIMIT).any():  # no maximum declared: still never wrap around int64
            bad = num.abs() > _INT_LIMIT
            raise SchemaError("values are too large to be counts", column=col.name, rows=_rows(bad, ids),
                              fix="check the entries", **where)
        frac = num.notna() & (np.abs(num - np.round(num)) > 1e-9)
        if frac.any():
            raise SchemaError(f"values must be whole numbers (e.g. {num[frac].iloc[0]:g})", column=col.name,
                              rows=_rows(frac, ids),
                              fix="counts of pupils, classes and teachers are whole numbers", **where)
        if num.isna().any():
            return num.round().astype("Int64")
        return num.round().astype(np.int64)
    return num.astype(np.float64)


def _coerce_bool(s: pd.Series, col: Column, where: dict[str, object], ids: pd.Series | None) -> pd.Series:
    def conv(v: object) -> object:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return col.default if col.default is not None else False
        if isinstance(v, bool | np.bool_):
            return bool(v)
        t = str(v).strip().lower()
        if t in _TRUE:
            return True
        if t in _FALSE:
            return False
        return None

    out = s.map(conv)
    bad = out.isna()
    if bad.any():
        raise SchemaError(f"not a yes/no value (e.g. '{s[bad].iloc[0]}')", column=col.name,
                          rows=_rows(bad, ids), fix="use 是/否, yes/no, true/false or 1/0", **where)
    return out.astype(bool)


def _level_of(text: str) -> str | None:
    """Level of a school-type label: exact spellings, then the longest known ending (``乡镇中心幼儿园``)."""
    spellings = {**LEVEL_ALIASES, **LEVEL_SPELLINGS}
    t = re.sub(r"[(（\[【].*?[)）\]】]", "", text).strip()
    if t in spellings:
        return spellings[t]
    ends = [k for k in spellings if len(k) >= 2 and not k.isascii() and t.endswith(k)]
    return spellings[max(ends, key=len)] if ends else None


def _coerce_category(s: pd.Series, col: Column, where: dict[str, object], ids: pd.Series | None) -> pd.Series:
    aliases = {**LEVEL_ALIASES, **_OWNERSHIP_ALIASES, **_STATUS_ALIASES, **_SITE_ALIASES}
    allowed = set(col.allowed)
    remap = dict(col.remap)

    def conv(v: object) -> object:
        if v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == "":
            return col.default
        t = to_halfwidth(str(v))
        out: object
        if t in allowed:
            out = t
        elif (low := t.lower().replace(" ", "_").replace("-", "_")) in allowed:
            out = low
        else:
            mapped = aliases.get(t) or aliases.get(t.lower())
            if mapped is None and col.name == "level":
                mapped = _level_of(t)
            out = mapped if mapped in allowed or mapped in remap else f"\x00{t}"
        if out in remap:
            return remap[out] or col.default  # "" = derive later (e.g. a nine-year school's grade decides)
        return out

    out = s.map(conv)
    bad = out.map(lambda v: isinstance(v, str) and v.startswith("\x00")) | (out.isna() & col.required)
    if bad.any():
        example = str(s[bad].iloc[0])
        raise SchemaError(f"unknown value '{example}'", column=col.name, rows=_rows(bad, ids),
                          fix=f"use one of: {', '.join(col.allowed)} (Chinese names such as 小学/初中/幼儿园 "
                          "are accepted)", **where)
    return out.astype(object)


def validate_layer(
    df: pd.DataFrame | gpd.GeoDataFrame,
    spec: LayerSpec,
    *,
    file: str | None = None,
    layer: str | None = None,
) -> pd.DataFrame | gpd.GeoDataFrame:
    """Check and normalise one layer against its schema.

    Renames aliased columns to canonical names, coerces types, checks ranges,
    allowed values and unique ids, fills optional columns with their defaults,
    and checks the geometry type. Unknown columns are kept unchanged.

    Parameters
    ----------
    df
        The layer as read (not modified).
    spec
        Its schema (``schoolplan.schema.LAYERS[name]``).
    file, layer
        Where it came from, for messages.

    Returns
    -------
    DataFrame or GeoDataFrame
        A new, validated frame.

    Raises
    ------
    SchemaError, NonUniqueIdError
        Naming the file, layer, column and rows, and saying how to fix it.
    """
    where: dict[str, object] = {"file": file, "layer": layer or spec.name}
    if len(df) == 0:
        raise SchemaError("the layer is empty", fix=f"add at least one {spec.name} row", **where)
    mapping = normalise_columns(df, spec)
    out = df.rename(columns=mapping).copy()
    missing = [c.name for c in spec.columns if c.required and c.name not in out.columns]
    if missing:
        have = ", ".join(str(c) for c in df.columns if c != getattr(df, "_geometry_column_name", None))
        zh = "/".join(spec.column(m).zh for m in missing if spec.column(m).zh)
        raise SchemaError(
            f"required column(s) missing: {', '.join(missing)}", column=", ".join(missing),
            fix=f"add the column(s) {', '.join(missing)}" + (f" (or {zh})" if zh else "")
            + f"; the file has: {have}", **where)
    ids: pd.Series | None = None
    if spec.id_column:
        raw_ids = out[spec.id_column]
        empty = raw_ids.isna() | (raw_ids.astype("string").str.strip() == "")
        if empty.any():
            raise NonUniqueIdError("ids are missing", column=spec.id_column,
                                   rows=[int(i) + 1 for i in empty[empty].index],
                                   fix="give every row a unique id", **where)
        as_text = raw_ids.map(_ref)
        out[spec.id_column] = as_text.astype(object)
        dup = as_text.duplicated(keep=False)
        if dup.any():
            dups = sorted(set(as_text[dup]))
            raise NonUniqueIdError(
                f"ids are not unique: {', '.join(dups[:8])}", column=spec.id_column,
                rows=[int(i) + 1 for i in dup[dup].index],
                fix="give every row its own id (duplicated rows may be the same record entered twice)",
                **where)
        ids = out[spec.id_column]
    if "grade" in out.columns and any(c.name == "grade" for c in spec.columns):
        parsed = out["grade"].map(parse_grade)
        out["grade"] = parsed.map(lambda t: t[0]).astype(object)
        implied = parsed.map(lambda t: t[1])
        if implied.notna().any():
            if "level" in out.columns:
                blank = out["level"].isna() | (out["level"].astype("string").str.strip() == "")
                out["level"] = out["level"].where(~blank, implied).astype(object)
            else:
                out["level"] = implied.astype(object)
    for col in spec.all_columns:
        if col.name == spec.id_column:
            continue
        if col.name not in out.columns:
            if col.default is not None:
                out[col.name] = col.default
            continue
        s = out[col.name]
        if col.kind in {"int", "float"}:
            out[col.name] = _coerce_numeric(s, col, where, ids)
        elif col.kind == "bool":
            out[col.name] = _coerce_bool(s, col, where, ids)
        elif col.kind == "category":
            out[col.name] = _coerce_category(s, col, where, ids)
        else:
            if col.required and (s.isna() | (s.astype("string").str.strip() == "")).any():
                bad = s.isna() | (s.astype("string").str.strip() == "")
                raise SchemaError("required text is missing", column=col.name, rows=_rows(bad, ids),
                                  fix="fill in every row", **where)
            out[col.name] = s.map(_ref if col.name.endswith("_id") else _text).astype(object)
    if isinstance(out, gpd.GeoDataFrame) and spec.geometry is not None:
        out = _check_geometry(out, spec, where, ids)
    return out


def _check_geometry(gdf: gpd.GeoDataFrame, spec: LayerSpec, where: dict[str, object],
                    ids: pd.Series | None) -> gpd.GeoDataFrame:
    """Geometry present, finite, of the layer's type; invalid polygons repaired (with a warning).

    Single-part multi-points (shapefile exports) become points; self-intersecting or
    otherwise invalid polygons (common in SHP boundaries) are repaired with
    ``shapely.make_valid`` keeping their polygonal parts, and named in a
    :class:`~schoolplan.errors.DataWarning`.
    """
    geom = gdf.geometry
    empty = geom.isna() | geom.is_empty
    if empty.any():
        raise SchemaError("features without geometry", rows=_rows(empty, ids),
                          fix="give every feature a location (or delete the empty rows)", **where)
    xy = shapely.get_coordinates(geom.to_numpy(), return_index=True)
    finite = np.isfinite(xy[0]).all(axis=1)
    if not finite.all():
        bad_pos = np.unique(xy[1][~finite])
        mask = pd.Series(False, index=gdf.index)
        mask.iloc[bad_pos] = True
        raise SchemaError("coordinates are not finite numbers (inf or NaN)", rows=_rows(mask, ids),
                          fix="correct or delete these features' coordinates", **where)
    out = gdf
    if spec.geometry == "Point":
        multi = (geom.geom_type == "MultiPoint") & (shapely.get_num_geometries(geom.to_numpy()) == 1)
        if multi.any():
            out = out.copy()
            out.loc[multi, out.geometry.name] = shapely.get_geometry(geom[multi].to_numpy(), 0)
            geom = out.geometry
    if spec.geometry == "Any":
        return out
    want = {"Point": {"Point"}, "Polygon": {"Polygon", "MultiPolygon"},
            "Line": {"LineString", "MultiLineString"}}[str(spec.geometry)]
    wrong = ~geom.geom_type.isin(want)
    if wrong.any():
        got = geom.geom_type[wrong].iloc[0]
        raise SchemaError(f"geometry must be {spec.geometry}, found {got}", rows=_rows(wrong, ids),
                          fix=f"export the {spec.name} layer as {spec.geometry} features", **where)
    if spec.geometry == "Polygon":
        invalid = ~geom.is_valid
        if invalid.any():
            reasons = [shapely.is_valid_reason(g) for g in geom[invalid]]
            fixed = geom[invalid].make_valid()
            polys = fixed.map(_polygonal)
            lost = polys.isna()
            if lost.any():
                raise SchemaError(f"invalid polygons that cannot be repaired ({reasons[0]})",
                                  rows=_rows(invalid & invalid.index.isin(lost[lost].index), ids),
                                  fix="repair them in QGIS (Vector ▸ Geometry Tools ▸ Fix Geometries)", **where)
            out = out.copy()
            out.loc[invalid, out.geometry.name] = polys.to_numpy()
            warn_data(f"{int(invalid.sum())} {spec.name} polygon(s) were invalid ({reasons[0]}) and were repaired "
                      "(shapely make_valid); check their outlines", file=str(where.get("file") or "") or None,
                      layer=str(where.get("layer") or spec.name), rows=_rows(invalid, ids), check="invalid_polygon",
                      fix="repair them in QGIS (Vector ▸ Geometry Tools ▸ Fix Geometries) and compare", stacklevel=4)
    return out


def _polygonal(g: object) -> object:
    """The polygonal part of a repaired geometry (None when nothing of it is an area)."""
    if g is None:
        return None
    parts = [p for p in getattr(g, "geoms", [g]) if p.geom_type in {"Polygon", "MultiPolygon"} and not p.is_empty]
    if not parts:
        return None
    merged = shapely.union_all(parts)
    return merged if merged.geom_type in {"Polygon", "MultiPolygon"} and merged.area > 0 else None
