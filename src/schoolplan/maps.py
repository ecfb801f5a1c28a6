"""Interactive Folium maps of layout plans, reserved land and seat forecasts.

Three maps, all built from plain (Geo)DataFrames in the county's metric CRS:

* :func:`plan_map` — one scenario: schools by level, styled by decision
  (留/并/扩/新/改/闲置: colour *and* shape, size by enrolment), villages coloured by
  one-way minutes to their school, assignment lines, bus isochrones, boarders,
  seat-deficit zones (预留用地), recommended sites, townships and the county seat (县城);
* :func:`compare_map` — two scenarios side by side with synchronised panning;
* :func:`forecast_map` — seats short (or seats needed) by zone, one layer per year.

Every overlay is a toggleable layer in Leaflet's layer control and has a row in
one bilingual legend block (``lang="zh"`` or ``"en"``). Popups and tooltips carry
the facts of a feature and the reason for a school's decision; every user string
(names, reasons) is HTML-escaped before it reaches the page, and embedded data are
serialised with HTML-safe JSON.

Basemaps (``basemap=``)
-----------------------
``"osm"``
    OpenStreetMap standard tiles (WGS-84 / Web Mercator).
``"tianditu"``
    天地图 vector base ``vec_w`` + Chinese annotation ``cva_w``; needs a *browser*
    key from tianditu.gov.cn (``tianditu_token=`` or the ``TIANDITU_TOKEN``
    environment variable). The key is written into the HTML, as with any web map.
    Tile labels are Chinese whatever ``lang`` is.
``"gaode"``
    高德/AutoNavi road map (Chinese labels). Gaode tiles are drawn in GCJ-02, so
    every overlay is shifted WGS-84 → GCJ-02 (:func:`schoolplan.coords.wgs84_to_gcj02`)
    when this basemap is chosen; otherwise overlays are in WGS-84.
``"none"``
    No tiles: a plain light background (for printing, or where tiles are blocked).

Self-contained HTML and where the JavaScript comes from
-------------------------------------------------------
The layers are designed to need **Leaflet alone** plus a few lines of inline
JavaScript/CSS written here (feature layers, legend, title, dual-map sync):
schools are ``L.divIcon`` markers with inline SVG, villages are circle markers,
everything else GeoJSON paths. Folium's other default assets (jQuery, Bootstrap,
awesome-markers, Font Awesome, Leaflet.Sync) are removed from the maps built here.

* Online (default): the page links Leaflet 1.9.4 from jsDelivr.
  ``asset_mirror="https://mirror.example/"`` rewrites those links to a mirror
  (scheme and host replaced, path kept; or a mapping of URL prefixes), for users in
  mainland China where the default CDNs are slow.
* Offline (``offline=True`` in :func:`save_map`, the default of :func:`map_html`):
  ``leaflet.js`` and ``leaflet.css`` are read at run time from the installed PyPI
  package ``django-js-lib-leaflet`` (a declared dependency that ships the Leaflet
  1.9.4 distribution files; located through :mod:`importlib.resources`), and
  inlined into the page, with the CSS's control images as ``data:`` URIs. No
  third-party code is copied into this repository. The HTML then makes no
  script or stylesheet request. Basemap tiles still come from the tile server and
  simply do not appear without a network; the overlays render on the plain
  background.

The basemap and asset notes hold for :func:`compare_map` and :func:`forecast_map` too.
Popups carry the HTML of their feature, so a county with 2,000 villages gives a
page of about 6–7 MB.

Examples
--------
>>> from schoolplan import maps
>>> m = maps.plan_map(result, basemap="gaode", lang="zh")  # doctest: +SKIP
>>> maps.save_map(m, "plan.html", offline=True)  # doctest: +SKIP
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from folium.plugins import DualMap
from shapely.geometry import LineString

from schoolplan._leaflet import (
    BASEMAPS,
    LEAFLET_CSS_URL,
    LEAFLET_JS_URL,
    FeatureLayer,
    MapFrame,
    SyncedDualMap,
    check_basemap,
    esc,
    external_assets,
    feature,
    finish_map,
    lonlat_bounds,
    map_html,
    map_layers,
    marker_svg,
    new_map,
    point_xy,
    prepare_map,
    save_map,
    swatch_box,
    swatch_dot,
    swatch_line,
    swatch_shape,
    union_bounds,
)
from schoolplan.errors import ConfigError, SchemaError, SchoolplanWarning
from schoolplan.fmt import DASH, Kind, is_missing, number
from schoolplan.i18n import check_lang, t
from schoolplan.results import LayoutPlan, ReservedLand, ScenarioResult
from schoolplan.schema import DECISIONS, LEVEL_LABELS, LEVELS, MODES, STAGES

if TYPE_CHECKING:
    from schoolplan.county import County

__all__ = [
    "BASEMAPS",
    "DECISION_STYLES",
    "LEAFLET_CSS_URL",
    "LEAFLET_JS_URL",
    "MINUTE_BINS",
    "MODE_STYLES",
    "PHASE_STYLES",
    "FeatureLayer",
    "compare_map",
    "external_assets",
    "forecast_map",
    "map_html",
    "map_layers",
    "minutes_colour",
    "phasing_map",
    "plan_map",
    "save_map",
]


#: Decision → (marker shape, colour). Shapes differ so the map reads in greyscale.
DECISION_STYLES: dict[str, tuple[str, str]] = {
    "keep": ("circle", "#1a9850"),
    "expand": ("square", "#2166ac"),
    "new": ("star", "#7b3294"),
    "convert": ("diamond", "#e66101"),
    "merge": ("cross", "#d7191c"),
    "vacant": ("triangle", "#8c8c8c"),
}
_UNKNOWN_STYLE = ("circle", "#666666")

#: Upper edges (minutes, inclusive) of the travel-time classes and their colours.
MINUTE_BINS: tuple[tuple[float, str], ...] = (
    (10.0, "#1a9850"),
    (20.0, "#a6d96a"),
    (30.0, "#fdae61"),
    (math.inf, "#d7191c"),
)
_UNSERVED_COLOUR = "#222222"
_NOT_ASSIGNED_COLOUR = "#c8c8c8"

#: Travel mode → (line colour, SVG/Leaflet dash pattern or None).
MODE_STYLES: dict[str, tuple[str, str | None]] = {
    "walk": ("#1b9e77", None),
    "bus": ("#2c7fb8", None),
    "boarding": ("#984ea3", "5 4"),
}
_BOARDER_COLOUR = "#762a83"
_ISO_COLOUR = "#2171b5"
_SITE_STYLE = ("hexagon", "#c51b7d")
_SEAT_COLOUR = "#b2182b"
#: Sequential colours for seat shortfalls (ColorBrewer YlOrRd), and the zero class.
_DEFICIT_COLOURS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
_ZERO_COLOUR = "#f7f7f7"
_BANDS = ("kg", "lower", "upper", "junior")
_DEFICIT_LEVELS = STAGES


# =========================================================================== small helpers
def _fmt(value: Any, lang: str, kind: Kind = "count") -> str:
    """A value for a popup or tooltip (not escaped): numbers by :func:`schoolplan.fmt.number`, booleans 是/否."""
    if is_missing(value):
        return DASH
    if isinstance(value, bool | np.bool_):
        return t("map_yes" if value else "map_no", lang)
    if isinstance(value, int | float | np.integer | np.floating):
        return number(value, kind)
    return str(value)


def _limit(minutes: Any) -> str:
    """A travel-time limit as set (20, 22.5), not as a measurement."""
    return DASH if is_missing(minutes) else f"{float(minutes):g}"


def _level_label(level: Any, lang: str) -> str:
    return LEVEL_LABELS.get(str(level), {}).get(lang, str(level))


def _decision_label(decision: Any, lang: str) -> str:
    return DECISIONS.get(str(decision), {}).get(lang, str(decision))


def _mode_label(mode: Any, lang: str) -> str:
    return MODES.get(str(mode), {}).get(lang, str(mode))




def _popup(title: str, rows: Iterable[tuple[Any, ...]], lang: str, *, subtitle: str = "",
           reason: Any = None, extra: str = "") -> str:
    """Popup HTML: an escaped title, a table of ``(label, value)`` or ``(label, value, kind)`` rows and a reason.

    Numbers are shown by :func:`schoolplan.fmt.number` with ``kind`` (default ``count``).
    ``extra`` must already be safe HTML (built by this module from escaped parts).
    """
    body = "".join(
        f"<tr><td>{esc(row[0])}</td><td><b>{esc(_fmt(row[1], lang, *row[2:]))}</b></td></tr>"
        for row in rows if not is_missing(row[1])
    )
    out = f'<div class="sp-popup"><div class="sp-title">{esc(title)}</div>'
    if subtitle:
        out += f'<div class="sp-sub">{esc(subtitle)}</div>'
    out += f"<table>{body}</table>{extra}"
    if not is_missing(reason) and str(reason).strip():
        out += f'<div class="sp-reason"><b>{esc(t("map_reason", lang))}:</b> {esc(reason)}</div>'
    return out + "</div>"


def _reason(row: Mapping[str, Any], lang: str) -> Any:
    first, second = ("reason_zh", "reason_en") if lang == "zh" else ("reason_en", "reason_zh")
    value = row.get(first)
    return row.get(second) if is_missing(value) or not str(value).strip() else value


def minutes_colour(minutes: float | None) -> str:
    """Colour of a one-way travel time (minutes) in the village layer.

    Parameters
    ----------
    minutes
        One-way minutes; None/NaN gives the "not assigned" grey.

    Returns
    -------
    str
        Hex colour of the class ≤10, 10–20, 20–30 or >30 minutes (upper edges inclusive).
    """
    if is_missing(minutes):
        return _NOT_ASSIGNED_COLOUR
    return next(colour for edge, colour in MINUTE_BINS if float(minutes) <= edge)  # type: ignore[arg-type]


def _class_breaks(vmax: float, n: int = 5) -> list[float]:
    """Upper edges of at most ``n`` equal classes with a 1-2-2.5-5 step covering (0, vmax]."""
    if not vmax > 0:
        return []
    raw = vmax / n
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(k * mag for k in (1.0, 2.0, 2.5, 5.0, 10.0) if k * mag >= raw)
    return [step * (i + 1) for i in range(math.ceil(vmax / step - 1e-9))]


def _class_colour(value: float, breaks: Sequence[float]) -> str:
    if is_missing(value) or value <= 0 or not breaks:
        return _ZERO_COLOUR
    i = next((i for i, edge in enumerate(breaks) if value <= edge), len(breaks) - 1)
    return _DEFICIT_COLOURS[min(i, len(_DEFICIT_COLOURS) - 1)]


def _class_rows(breaks: Sequence[float], lang: str, *, zero_label: str | None = None) -> list[tuple[str, str]]:
    """Legend rows (swatch HTML, label) of a choropleth whose zero class means "no shortage"."""
    rows = [(swatch_box(_ZERO_COLOUR), t("map_no_shortage", lang) if zero_label is None else zero_label)]
    lo = 0.0
    for i, hi in enumerate(breaks):
        rows.append((swatch_box(_DEFICIT_COLOURS[min(i, len(_DEFICIT_COLOURS) - 1)]),
                     f"{lo:,.0f}–{hi:,.0f}"))
        lo = hi
    return rows






# =========================================================================== plan layers
@dataclass(frozen=True)
class _PlanInputs:
    plan: LayoutPlan
    county: County | None = None
    isochrones: gpd.GeoDataFrame | None = None
    reserved: ReservedLand | None = None
    label: str = ""


def _resolve(result: ScenarioResult | LayoutPlan, lang: str, *, county: County | None = None,
             isochrones: gpd.GeoDataFrame | None = None, reserved: ReservedLand | None = None,
             title: str | None = None) -> _PlanInputs:
    if isinstance(result, ScenarioResult):
        label = result.label_zh if lang == "zh" else result.label_en
        return _PlanInputs(
            plan=result.plan,
            county=county if county is not None else result.county,
            isochrones=isochrones if isochrones is not None else result.isochrones,
            reserved=reserved if reserved is not None else result.reserved,
            label=title if title is not None else (label or result.name),
        )
    if isinstance(result, LayoutPlan):
        return _PlanInputs(plan=result, county=county, isochrones=isochrones, reserved=reserved,
                           label=title or "")
    raise ConfigError(f"cannot map a {type(result).__name__}",
                      fix="pass a ScenarioResult or a LayoutPlan (with county=...)")


def _school_size(schools: pd.DataFrame) -> pd.Series:
    """Marker size in pixels (12–30) from the larger of pupils before and after."""
    cols = [c for c in ("students_before", "students_after") if c in schools]
    pupils = schools[cols].apply(pd.to_numeric, errors="coerce").max(axis=1).fillna(0) if cols else \
        pd.Series(0.0, index=schools.index)
    top = max(float(pupils.max()) if len(pupils) else 0.0, 1.0)
    return (12 + 18 * np.sqrt(pupils.clip(lower=0) / top)).round(1)


def _school_popup(row: Mapping[str, Any], lang: str, names: Mapping[Any, str],
                  townships: Mapping[Any, str]) -> str:
    def pair(a: str, b: str) -> str | None:
        x, y = row.get(a), row.get(b)
        if is_missing(x) and is_missing(y):
            return None
        return f"{_fmt(x, lang)} → {_fmt(y, lang)}" if a.endswith("before") else \
            f"{_fmt(x, lang)} / {_fmt(y, lang)}"

    receiving = row.get("receiving_id")
    rows = [
        (t("map_decision", lang), _decision_label(row.get("decision"), lang)),
        (t("townships", lang), townships.get(row.get("township_id"), row.get("township_id"))),
        (t("map_students", lang), pair("students_before", "students_after")),
        (t("map_classes", lang), pair("classes_before", "classes_after")),
        (t("map_classes_added", lang), row.get("classes_added") or None),
        (t("map_capacity", lang), row.get("capacity_after")),
        (t("map_class_size", lang), row.get("class_size_after"), "decimal"),
        (t("map_boarders", lang), row.get("boarders") or None),
        (t("map_beds", lang), pair("beds_needed", "beds_available")),
        (t("map_buses", lang), row.get("buses") or None),
        (t("map_teachers", lang), pair("teachers_needed", "teachers_on_staff")),
        (t("map_teacher_surplus", lang), row.get("teacher_surplus")),
        (t("map_receiving", lang), None if is_missing(receiving) else names.get(receiving, receiving)),
        (t("map_reuse", lang), row.get("reuse")),
    ]
    subtitle = _level_label(row.get("level"), lang)
    return _popup(str(row.get("name", "")), rows, lang, subtitle=subtitle, reason=_reason(row, lang))


def _school_layers(inputs: _PlanInputs, frame: MapFrame, lang: str) -> tuple[list[FeatureLayer], dict[str, int]]:
    """One layer per level; markers shaped and coloured by decision, sized by enrolment."""
    schools = inputs.plan.schools
    if not len(schools):
        return [], {}
    geoms = frame.geoms(schools)
    sizes = _school_size(schools)
    names = schools["name"].astype(str).to_dict() if "name" in schools else {}
    townships = _township_names(inputs.county)
    by_level: dict[str, list[dict[str, Any]]] = {}
    counts: dict[str, int] = {}
    for (sid, row), geom, size in zip(schools.iterrows(), geoms, sizes, strict=True):
        xy = point_xy(geom)
        if xy is None:
            continue
        decision = str(row.get("decision"))
        shape, colour = DECISION_STYLES.get(decision, _UNKNOWN_STYLE)
        faded = decision in ("merge", "vacant")
        icon = {"html": marker_svg(shape, colour, size, fill_opacity=0.75 if faded else 1.0),
                "className": f"sp-icon sp-d-{esc(decision)}", "iconSize": [size, size],
                "iconAnchor": [size / 2, size / 2], "popupAnchor": [0, -size / 2],
                "tooltipAnchor": [size / 2, 0]}
        tip = f"{esc(row.get('name', sid))} · {esc(_decision_label(decision, lang))}"
        feat = feature(shapely.Point(xy), id=str(sid), kind="school", level=str(row.get("level")),
                        decision=decision, icon=icon, tip=tip,
                        popup=_school_popup(row, lang, names, townships))
        by_level.setdefault(str(row.get("level")), []).append(feat)
        counts[decision] = counts.get(decision, 0) + 1
    order = [lv for lv in LEVELS if lv in by_level] + sorted(set(by_level) - set(LEVELS))
    layers = [
        FeatureLayer(by_level[lv], name=f"{t('map_schools', lang)} · {_level_label(lv, lang)} "
                     f"({len(by_level[lv])})", key=f"schools_{lv}")
        for lv in order
    ]
    return layers, counts


def _township_names(county: County) -> dict[Any, str]:
    if county is None or not len(getattr(county, "townships", [])):
        return {}
    return county.townships["name"].astype(str).to_dict() if "name" in county.townships else {}


def _assignment(plan: LayoutPlan) -> pd.DataFrame:
    a = plan.assignment
    if a is None or not len(a):
        return pd.DataFrame(columns=["village_id", "band", "school_id", "pupils", "mode", "minutes"])
    a = a.copy()
    for col, default in (("pupils", 0), ("minutes", np.nan), ("mode", "bus"), ("band", "")):
        if col not in a:
            a[col] = default
    a["pupils"] = pd.to_numeric(a["pupils"], errors="coerce").fillna(0)
    a["minutes"] = pd.to_numeric(a["minutes"], errors="coerce")
    return a


def _village_summary(a: pd.DataFrame) -> pd.DataFrame:
    """Per village: pupils, worst minutes, unserved flag and boarders."""
    if not len(a):
        return pd.DataFrame(columns=["pupils", "minutes", "unserved", "boarders"])
    unserved = a["mode"].eq("unserved") | a["school_id"].isna()
    boarding = a["pupils"].where(a["mode"].eq("boarding"), 0)
    return pd.DataFrame({
        "pupils": a.groupby("village_id")["pupils"].sum(),
        "minutes": a.groupby("village_id")["minutes"].max(),
        "unserved": unserved.groupby(a["village_id"]).any(),
        "boarders": boarding.groupby(a["village_id"]).sum(),
    })


def _village_popup(vid: Any, row: Mapping[str, Any], rows: pd.DataFrame, lang: str,
                   school_names: Mapping[Any, str], townships: Mapping[Any, str]) -> str:
    head = "".join(f"<th>{esc(t(k, lang))}</th>" for k in
                   ("map_band", "map_school", "map_mode", "map_minutes", "map_pupils"))
    body = []
    for _, r in rows.iterrows():
        band = t(f"map_band_{r['band']}", lang) if str(r["band"]) in _BANDS else str(r["band"])
        school = "–" if is_missing(r["school_id"]) else school_names.get(r["school_id"], r["school_id"])
        mins = _fmt(r["minutes"], lang, "decimal")
        if "minutes_before" in r and not is_missing(r["minutes_before"]):
            mins = f"{_fmt(r['minutes_before'], lang, 'decimal')} → {mins}"
        cells = (band, school, _mode_label(r["mode"], lang), mins, _fmt(r["pupils"], lang))
        body.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
    extra = f"<table><tr>{head}</tr>{''.join(body)}</table>" if body else ""
    info = [(t("townships", lang), townships.get(row.get("township_id"), row.get("township_id"))),
            (t("population", lang), row.get("population"))]
    return _popup(str(row.get("name", vid)), info, lang, extra=extra)


def _village_layers(inputs: _PlanInputs, frame: MapFrame, lang: str, a: pd.DataFrame,
                    school_names: Mapping[Any, str]) -> tuple[FeatureLayer | None, FeatureLayer | None]:
    """Villages coloured by worst one-way minutes, and the villages with boarders."""
    county = inputs.county
    if county is None or not len(getattr(county, "villages", [])):
        return None, None
    villages = county.villages
    geoms = frame.geoms(villages)
    summary = _village_summary(a)
    townships = _township_names(county)
    top = max(float(summary["pupils"].max()) if len(summary) else 0.0, 1.0)
    top_b = max(float(summary["boarders"].max()) if len(summary) else 0.0, 1.0)
    grouped = dict(tuple(a.groupby("village_id"))) if len(a) else {}
    dots, rings = [], []
    for (vid, row), geom in zip(villages.iterrows(), geoms, strict=True):
        xy = point_xy(geom)
        if xy is None:
            continue
        s = summary.loc[vid] if vid in summary.index else None
        pupils = float(s["pupils"]) if s is not None else 0.0
        colour = _UNSERVED_COLOUR if s is not None and bool(s["unserved"]) else \
            minutes_colour(None if s is None else s["minutes"])
        popup = _village_popup(vid, row, grouped.get(vid, a.iloc[:0]), lang, school_names, townships)
        name = esc(row.get("name", vid))
        mins = "" if s is None or is_missing(s["minutes"]) else f" · {_fmt(s['minutes'], lang, 'decimal')} {t('map_minutes', lang)}"
        style = {"radius": round(4 + 6 * math.sqrt(pupils / top), 1), "color": "#333333", "weight": 0.8,
                 "fillColor": colour, "fillOpacity": 0.9}
        dots.append(feature(shapely.Point(xy), id=str(vid), kind="village", style=style,
                             popup=popup, tip=f"{name}{esc(mins)}"))
        boarders = 0.0 if s is None else float(s["boarders"])
        if boarders > 0:
            ring = {"radius": round(7 + 9 * math.sqrt(boarders / top_b), 1), "color": _BOARDER_COLOUR,
                    "weight": 2.5, "fill": False}
            rings.append(feature(shapely.Point(xy), id=str(vid), kind="boarders", style=ring,
                                  tip=f"{name} · {esc(t('map_boarders', lang))}: {esc(_fmt(boarders, lang))}"))
    dot_layer = FeatureLayer(dots, name=t("map_villages", lang), key="villages", pane="sp_points")
    ring_layer = FeatureLayer(rings, name=t("map_boarders", lang), key="boarders", pane="sp_points") \
        if rings else None
    return dot_layer, ring_layer


def _assignment_layer(inputs: _PlanInputs, frame: MapFrame, lang: str, a: pd.DataFrame,
                      school_names: Mapping[Any, str]) -> FeatureLayer | None:
    """Lines village → school, coloured by mode, width by pupils."""
    county = inputs.county
    if county is None or not len(a) or not len(getattr(county, "villages", [])):
        return None
    served = a[a["school_id"].notna() & ~a["mode"].eq("unserved") & (a["pupils"] > 0)]
    if not len(served):
        return None
    links = served.groupby(["village_id", "school_id", "mode"], sort=False).agg(
        pupils=("pupils", "sum"), minutes=("minutes", "max")).reset_index()
    vxy = dict(zip(county.villages.index, map(point_xy, frame.geoms(county.villages)), strict=True))
    sxy = dict(zip(inputs.plan.schools.index, map(point_xy, frame.geoms(inputs.plan.schools)), strict=True))
    vnames = county.villages["name"].astype(str).to_dict() if "name" in county.villages else {}
    top = max(float(links["pupils"].max()), 1.0)
    feats = []
    for r in links.itertuples(index=False):
        p, q = vxy.get(r.village_id), sxy.get(r.school_id)
        if p is None or q is None:
            continue
        colour, dash = MODE_STYLES.get(str(r.mode), ("#555555", None))
        style = {"color": colour, "weight": round(1.2 + 3 * math.sqrt(r.pupils / top), 1), "opacity": 0.75}
        if dash:
            style["dashArray"] = dash
        tip = (f"{esc(vnames.get(r.village_id, r.village_id))} → "
               f"{esc(school_names.get(r.school_id, r.school_id))} · {esc(_mode_label(r.mode, lang))}"
               f" · {esc(_fmt(r.minutes, lang, 'decimal'))} {esc(t('map_minutes', lang))}"
               f" · {esc(_fmt(r.pupils, lang))} {esc(t('map_pupils', lang))}")
        feats.append(feature(LineString([p, q]), id=f"{r.village_id}>{r.school_id}", kind="assignment",
                              mode=str(r.mode), style=style, tip=tip))
    return FeatureLayer(feats, name=t("map_assignment", lang), key="assignment")


def _isochrone_layer(inputs: _PlanInputs, frame: MapFrame, lang: str,
                     school_names: Mapping[Any, str]) -> tuple[FeatureLayer | None, list[float]]:
    iso = inputs.isochrones
    if iso is None or not len(iso):
        return None, []
    geoms = frame.geoms(iso)
    minutes = pd.to_numeric(iso["minutes"], errors="coerce") if "minutes" in iso else \
        pd.Series(np.nan, index=iso.index)
    feats = []
    for (idx, row), geom, mins in zip(iso.iterrows(), geoms, minutes, strict=True):
        if geom is None or geom.is_empty:
            continue
        sid = next((row[c] for c in ("school_id", "id") if c in row and not is_missing(row[c])), idx)
        style = {"color": _ISO_COLOUR, "weight": 0.9, "opacity": 0.55, "fillColor": "#6baed6",
                 "fillOpacity": 0.06}
        tip = f"{esc(school_names.get(sid, sid))} · {esc(_limit(mins))} {esc(t('map_minutes', lang))}"
        feats.append(feature(geom, id=str(sid), kind="isochrone", style=style, tip=tip))
    values = sorted({float(v) for v in minutes.dropna()})
    name = t("map_isochrone_n", lang).format(n=_limit(values[0])) if len(values) == 1 else \
        t("map_isochrones", lang)
    return FeatureLayer(feats, name=name, key="isochrones", pane="sp_iso"), values


def _deficit_total(zones: pd.DataFrame) -> pd.Series:
    cols = [f"deficit_{lv}" for lv in _DEFICIT_LEVELS if f"deficit_{lv}" in zones]
    if not cols:
        return pd.Series(0.0, index=zones.index)
    return zones[cols].apply(pd.to_numeric, errors="coerce").fillna(0).clip(lower=0).sum(axis=1)


def _zone_popup(row: Mapping[str, Any], total: float, lang: str) -> str:
    rows: list[tuple[str, Any]] = [(t("map_seats_short", lang), total)]
    for lv in _DEFICIT_LEVELS:
        if f"deficit_{lv}" not in row:
            continue
        parts = [f"{t('map_demand', lang)} {_fmt(row.get(f'demand_{lv}'), lang)}",
                 f"{t('map_supply', lang)} {_fmt(row.get(f'supply_{lv}'), lang)}",
                 f"{t('map_seats_short', lang)} {_fmt(row.get(f'deficit_{lv}'), lang)}"]
        if not is_missing(row.get(f"classes_{lv}")):
            parts.append(f"{_fmt(row.get(f'classes_{lv}'), lang)} {'班' if lang == 'zh' else 'classes'}")
        if not is_missing(row.get(f"land_m2_{lv}")):
            parts.append(f"{_fmt(row.get(f'land_m2_{lv}'), lang, 'area')} m²")
        rows.append((_level_label(lv, lang), " · ".join(parts)))
    return _popup(str(row.get("name", "")), rows, lang, reason=_reason(row, lang))


def _deficit_layer(reserved: ReservedLand | None, frame: MapFrame, lang: str
                   ) -> tuple[FeatureLayer | None, list[float]]:
    if reserved is None or reserved.zones is None or not len(reserved.zones):
        return None, []
    zones = reserved.zones
    total = _deficit_total(zones)
    breaks = _class_breaks(float(total.max()))
    feats = []
    for (zid, row), geom, short in zip(zones.iterrows(), frame.geoms(zones), total, strict=True):
        if geom is None or geom.is_empty:
            continue
        flagged = bool(row.get("flag", short > 0))
        style = {"color": "#7f0000" if flagged else "#777777", "weight": 2.2 if flagged else 0.8,
                 "fillColor": _class_colour(short, breaks), "fillOpacity": 0.6}
        tip = f"{esc(row.get('name', zid))} · {esc(t('map_seats_short', lang))} {esc(_fmt(short, lang))}"
        feats.append(feature(geom, id=str(zid), kind="deficit", seats_short=float(short), style=style,
                              tip=tip, popup=_zone_popup(row, float(short), lang)))
    return FeatureLayer(feats, name=t("map_deficit", lang), key="deficit", pane="sp_zones"), breaks


def _site_popup(row: Mapping[str, Any], lang: str) -> str:
    site_type = row.get("site_type")
    type_label = None if is_missing(site_type) else t(f"map_site_{site_type}", lang)
    rows = [
        (t("map_site_type", lang), type_label if type_label != f"map_site_{site_type}" else site_type),
        (t("level", lang), None if is_missing(row.get("level")) else _level_label(row.get("level"), lang)),
        (t("map_area_m2", lang), row.get("area_m2"), "area"),
        (t("map_land_needed_m2", lang), row.get("land_needed_m2"), "area"),
        (t("map_seats", lang), row.get("seats")),
        (t("map_classes_added", lang), row.get("classes")),
        (t("map_covered", lang), row.get("covered_demand")),
        (t("map_fits", lang), row.get("fits")),
    ]
    return _popup(str(row.get("name", "")), rows, lang, reason=_reason(row, lang))


def _site_layer(reserved: ReservedLand | None, frame: MapFrame, lang: str) -> FeatureLayer | None:
    if reserved is None or reserved.sites is None or not len(reserved.sites):
        return None
    shape, colour = _SITE_STYLE
    size = 20
    icon = {"html": marker_svg(shape, "#fde0ef", size, stroke=colour, stroke_width=2.6),
            "className": "sp-icon sp-site", "iconSize": [size, size], "iconAnchor": [size / 2, size / 2],
            "popupAnchor": [0, -size / 2], "tooltipAnchor": [size / 2, 0]}
    feats = []
    for (sid, row), geom in zip(reserved.sites.iterrows(), frame.geoms(reserved.sites), strict=True):
        xy = point_xy(geom)
        if xy is None:
            continue
        popup = _site_popup(row, lang)
        tip = f"{esc(row.get('name', sid))} · {esc(_fmt(row.get('seats'), lang))} {esc(t('map_seats', lang))}"
        if geom.geom_type != "Point":
            feats.append(feature(geom, id=str(sid), kind="site_area", popup=popup, tip=tip,
                                  style={"color": colour, "weight": 2, "fillColor": colour,
                                         "fillOpacity": 0.25}))
        feats.append(feature(shapely.Point(xy), id=str(sid), kind="site", icon=icon, popup=popup, tip=tip))
    return FeatureLayer(feats, name=t("map_sites", lang), key="sites")


def _township_layers(county: County, frame: MapFrame, lang: str) -> tuple[FeatureLayer | None, FeatureLayer | None]:
    if county is None or not len(getattr(county, "townships", [])):
        return None, None
    tw = county.townships
    geoms = frame.geoms(tw)
    seat = tw["is_county_seat"].fillna(False).astype(bool) if "is_county_seat" in tw else \
        pd.Series(False, index=tw.index)
    outlines, seats = [], []
    for (tid, row), geom, is_seat in zip(tw.iterrows(), geoms, seat, strict=True):
        if geom is None or geom.is_empty:
            continue
        name = row.get("name", tid)
        if lang == "en" and not is_missing(row.get("name_en")) and str(row.get("name_en")).strip():
            name = f"{row.get('name_en')} ({name})"
        popup = _popup(str(name), [(t("population", lang), row.get("population"))], lang,
                       subtitle=t("county_seat", lang) if is_seat else "")
        style = {"color": "#555555", "weight": 1.3, "dashArray": "6 3", "fill": False}
        outlines.append(feature(geom, id=str(tid), kind="township", style=style, popup=popup,
                                 tip=esc(name)))
        if is_seat:
            seats.append(feature(geom, id=str(tid), kind="county_seat", popup=popup,
                                  tip=f"{esc(t('county_seat', lang))} · {esc(name)}",
                                  style={"color": _SEAT_COLOUR, "weight": 3.2, "fill": False}))
    town = FeatureLayer(outlines, name=t("map_townships", lang), key="townships", pane="sp_outlines")
    seat_layer = FeatureLayer(seats, name=t("map_county_seat", lang), key="county_seat",
                              pane="sp_outlines") if seats else None
    return town, seat_layer


def _plan_legend(lang: str, *, counts: Mapping[str, int], layers: Mapping[str, FeatureLayer | None],
                 iso_minutes: Sequence[float], breaks: Sequence[float]) -> list[tuple[str, list[tuple[str, ...]]]]:
    """Legend sections for the layers present."""
    sections: list[tuple[str, list[tuple[str, ...]]]] = []
    if counts:
        rows = []
        for d in DECISIONS:
            if d not in counts:
                continue
            shape, colour = DECISION_STYLES[d]
            rows.append((swatch_shape(shape, colour), f"{_decision_label(d, lang)} ({counts[d]})", d))
        sections.append((f"{t('map_schools', lang)} · {t('map_size_note', lang)}", rows))
    if layers.get("villages") is not None:
        unit = t("map_minutes", lang)
        labels = (f"≤ 10 {unit}", f"10–20 {unit}", f"20–30 {unit}", f"> 30 {unit}")
        rows = [(swatch_dot(colour), label) for (_, colour), label in zip(MINUTE_BINS, labels, strict=True)]
        rows += [(swatch_dot(_UNSERVED_COLOUR), t("map_unserved", lang)),
                 (swatch_dot(_NOT_ASSIGNED_COLOUR), t("map_not_assigned", lang))]
        sections.append((t("map_villages", lang), rows))
    if layers.get("boarders") is not None:
        sections.append((t("map_boarders", lang), [(swatch_dot(_BOARDER_COLOUR, _BOARDER_COLOUR, hollow=True),
                                                    t("map_boarders", lang))]))
    if layers.get("assignment") is not None:
        modes = {f["properties"]["mode"] for f in layers["assignment"].features}  # type: ignore[union-attr]
        rows = [(swatch_line(c, d), _mode_label(m, lang)) for m, (c, d) in MODE_STYLES.items() if m in modes]
        sections.append((t("map_assignment", lang), rows))
    if layers.get("isochrones") is not None:
        label = ", ".join(_limit(v) for v in iso_minutes) + f" {t('map_minutes', lang)}" if iso_minutes \
            else t("map_isochrones", lang)
        sections.append((t("map_isochrones", lang), [(swatch_box("#6baed6", _ISO_COLOUR, 0.6), label)]))
    if layers.get("deficit") is not None:
        sections.append((t("map_deficit", lang), _class_rows(breaks, lang)))
    if layers.get("sites") is not None:
        shape, colour = _SITE_STYLE
        sw = f'<span class="sp-sw">{marker_svg(shape, "#fde0ef", 14, stroke=colour, stroke_width=2.6)}</span>'
        sections.append((t("map_sites", lang), [(sw, t("map_sites", lang))]))
    boundary = []
    if layers.get("townships") is not None:
        boundary.append((swatch_line("#555555", "6 3", 1.5), t("map_townships", lang)))
    if layers.get("county_seat") is not None:
        boundary.append((swatch_line(_SEAT_COLOUR, None, 3), t("map_county_seat", lang)))
    if boundary:
        sections.append((t("map_townships", lang), boundary))
    return sections


def _populate_plan(m: folium.Map, inputs: _PlanInputs, frame: MapFrame, lang: str, *,
                   hide: Iterable[str] = (), collapsed: bool = False) -> tuple[float, float, float, float] | None:
    """Add every plan layer, the legend and the layer control to ``m``; return the extent."""
    school_names = inputs.plan.schools["name"].astype(str).to_dict() if "name" in inputs.plan.schools else {}
    a = _assignment(inputs.plan)
    school_layers, counts = _school_layers(inputs, frame, lang)
    villages, boarders = _village_layers(inputs, frame, lang, a, school_names)
    iso, iso_minutes = _isochrone_layer(inputs, frame, lang, school_names)
    deficit, breaks = _deficit_layer(inputs.reserved, frame, lang)
    townships, seat = _township_layers(inputs.county, frame, lang)
    named: dict[str, FeatureLayer | None] = {
        "sites": _site_layer(inputs.reserved, frame, lang), "villages": villages, "boarders": boarders,
        "assignment": _assignment_layer(inputs, frame, lang, a, school_names), "isochrones": iso,
        "deficit": deficit, "townships": townships, "county_seat": seat,
    }
    hidden = set(hide)
    for layer in [*school_layers, *named.values()]:
        if layer is None:
            continue
        layer.show = not any(layer.key == h or layer.key.startswith(f"{h}_") for h in hidden)
        layer.add_to(m)
    extent = _extent(inputs, frame, [*school_layers, *named.values()])
    sections = _plan_legend(lang, counts=counts, layers=named, iso_minutes=iso_minutes, breaks=breaks)
    finish_map(m, sections, extent, lang, title=inputs.label, collapsed=collapsed)
    return extent


def _extent(inputs: _PlanInputs, frame: MapFrame, layers: Iterable[FeatureLayer | None]
            ) -> tuple[float, float, float, float] | None:
    """County outline extent, else the extent of everything drawn."""
    county = inputs.county
    if county is not None and len(getattr(county, "townships", [])):
        return lonlat_bounds(frame.geoms(county.townships))
    shapes = [shapely.geometry.shape(f["geometry"]) for layer in layers if layer is not None
              for f in layer.features]
    return lonlat_bounds(shapes)


# =========================================================================== public maps
def plan_map(
    result: ScenarioResult | LayoutPlan,
    *,
    basemap: str = "osm",
    lang: str = "zh",
    county: County | None = None,
    isochrones: gpd.GeoDataFrame | None = None,
    reserved: ReservedLand | None = None,
    tianditu_token: str | None = None,
    title: str | None = None,
    hide: Iterable[str] = (),
    collapsed: bool = False,
) -> folium.Map:
    """Interactive map of one layout plan (学校布局规划图).

    Layers (each toggleable, each in the legend): schools per level (shape and
    colour by decision — keep ● / expand ■ / new ★ / convert ◆ / merge ✕ / vacant ▲ —
    size by the larger of pupils before and after; legend check boxes hide a
    decision), villages coloured by their worst one-way minutes (≤10, 10–20,
    20–30, >30; black = unserved pupils), assignment lines village → school by
    mode, bus isochrones, villages with boarders, deficit zones (choropleth of seats
    short), recommended sites, townships and the county seat. Popups give a
    school's facts and the reason for its decision. The view fits the county.

    Parameters
    ----------
    result
        A :class:`~schoolplan.results.ScenarioResult`, or a
        :class:`~schoolplan.results.LayoutPlan` (then pass ``county=`` to draw
        villages, lines and townships).
    basemap
        ``"osm"``, ``"tianditu"``, ``"gaode"`` (overlays shifted to GCJ-02) or ``"none"``.
    lang
        ``"zh"`` or ``"en"`` for labels, legend and popups.
    county, isochrones, reserved
        Override (or, for a LayoutPlan, supply) the county, the isochrone polygons
        (``school_id``, ``minutes``) and the reserved-land result.
    tianditu_token
        Tianditu browser key (else env ``TIANDITU_TOKEN``).
    title
        Title shown on the map (default: the scenario label).
    hide
        Layer keys to start switched off: ``schools`` (or ``schools_<level>``),
        ``villages``, ``boarders``, ``assignment``, ``isochrones``, ``deficit``,
        ``sites``, ``townships``, ``county_seat``.
    collapsed
        Collapse the layer control to an icon and close the legend (for small frames).

    Returns
    -------
    folium.Map
        Save it with :func:`save_map` or embed it with :func:`map_html`.

    Raises
    ------
    ConfigError
        Unknown basemap or language, or Tianditu without a key.
    CrsError
        A layer without a CRS when no county CRS is known.
    """
    lang = check_lang(lang)
    basemap = check_basemap(basemap)
    inputs = _resolve(result, lang, county=county, isochrones=isochrones, reserved=reserved, title=title)
    frame = MapFrame(gcj02=basemap == "gaode", default_crs=getattr(inputs.county, "crs", None))
    m = new_map(basemap, lang, tianditu_token, title=inputs.label, toggles=DECISIONS)
    _populate_plan(m, inputs, frame, lang, hide=hide, collapsed=collapsed)
    return m


def compare_map(
    result_a: ScenarioResult | LayoutPlan,
    result_b: ScenarioResult | LayoutPlan,
    *,
    basemap: str = "osm",
    lang: str = "zh",
    county: County | None = None,
    tianditu_token: str | None = None,
    titles: tuple[str, str] | None = None,
    layout: str = "horizontal",
    hide: Iterable[str] = (),
) -> DualMap:
    """Two scenarios side by side; panning and zooming one moves the other.

    Parameters
    ----------
    result_a, result_b
        Scenario results (or layout plans with ``county=``).
    basemap, lang, tianditu_token, hide
        As :func:`plan_map`.
    county
        County for layout plans given without one.
    titles
        Titles of the two halves (default: the scenario labels).
    layout
        ``"horizontal"`` (left | right) or ``"vertical"`` (top / bottom).

    Returns
    -------
    folium.plugins.DualMap
        A dual map (Leaflet only: the sync is a few inline lines, not Leaflet.Sync).
    """
    lang = check_lang(lang)
    basemap = check_basemap(basemap)
    dual = SyncedDualMap(location=[35.0, 105.0], layout=layout, tiles=None, zoom_start=5, zoom_snap=0.25)
    extents, labels = [], []
    for i, (res, m) in enumerate(((result_a, dual.m1), (result_b, dual.m2))):
        inputs = _resolve(res, lang, county=county, title=titles[i] if titles else None)
        frame = MapFrame(gcj02=basemap == "gaode", default_crs=getattr(inputs.county, "crs", None))
        prepare_map(m, basemap, lang, tianditu_token, toggles=DECISIONS)
        extents.append(_populate_plan(m, inputs, frame, lang, hide=hide, collapsed=True))
        labels.append(inputs.label)
    extent = union_bounds(*extents)
    if extent is not None:
        w, s, e, n = extent
        for m in (dual.m1, dual.m2):
            m.location = [(s + n) / 2, (w + e) / 2]
    dual.m1.get_root().title = esc(" | ".join(x for x in labels if x))
    return dual


def _forecast_table(demand: pd.DataFrame, capacity: pd.DataFrame | None, level: str | None) -> pd.DataFrame:
    """Per zone × year: demand p10/p50/p90 (summed over grades and levels), seats and shortfall."""
    need = {"zone", "level", "year", "p10", "p50", "p90"}
    missing = need - set(demand.columns)
    if missing:
        raise SchemaError(f"the forecast frame lacks column(s) {', '.join(sorted(missing))}",
                          fix="pass the tidy frame zone, level, grade, year, p10, p50, p90")
    d = demand if level is None else demand[demand["level"] == level]
    by_level = d.groupby(["zone", "level", "year"])[["p10", "p50", "p90"]].sum().reset_index()
    if capacity is not None:
        if not {"zone", "level", "seats"} <= set(capacity.columns):
            raise SchemaError("the capacity frame needs columns zone, level, seats",
                              fix="pass seats by zone and level")
        seats = capacity.groupby(["zone", "level"])["seats"].sum()
        by_level = by_level.join(seats, on=["zone", "level"])
        by_level["seats"] = by_level["seats"].fillna(0)
        by_level["short"] = (by_level["p50"] - by_level["seats"]).clip(lower=0)
    return by_level


def _forecast_popup(name: str, year: int, rows: pd.DataFrame, lang: str, shortfall: bool) -> str:
    out: list[tuple[str, Any]] = []
    for r in rows.itertuples(index=False):
        text = f"{t('map_demand', lang)} {_fmt(r.p50, lang)} ({_fmt(r.p10, lang)}–{_fmt(r.p90, lang)})"
        if shortfall:
            text += f" · {t('map_seats', lang)} {_fmt(r.seats, lang)} · {t('map_seats_short', lang)} " \
                    f"{_fmt(r.short, lang)}"
        out.append((_level_label(r.level, lang), text))
    return _popup(name, out, lang, subtitle=f"{t('map_year', lang)} {year}")


def forecast_map(
    demand: pd.DataFrame,
    year: int,
    *,
    zones: gpd.GeoDataFrame,
    capacity: pd.DataFrame | None = None,
    lang: str = "zh",
    level: str | None = None,
    years: Sequence[int] | None = None,
    basemap: str = "osm",
    tianditu_token: str | None = None,
    title: str | None = None,
) -> folium.Map:
    """Seats short (or seats needed) by zone, one selectable layer per year.

    Parameters
    ----------
    demand
        Tidy forecast ``zone, level, grade, year, p10, p50, p90`` (pupils).
    year
        The year shown first.
    zones
        GeoDataFrame indexed by zone id (the ``zone`` values of ``demand``), with a
        CRS; ``name`` is used when present.
    capacity
        Seats by zone and level (``zone, level, seats``). With it, zones are
        coloured by seats short = max(p50 − seats, 0) summed over levels; without
        it, by demand p50.
    lang
        ``"zh"`` or ``"en"``.
    level
        Restrict to one level (e.g. ``"primary"``); default all levels.
    years
        Years with a layer (default every year in ``demand``). The years are radio
        choices in the layer control (one shown at a time); all share one colour scale.
    basemap, tianditu_token
        As :func:`plan_map`.
    title
        Map title.

    Returns
    -------
    folium.Map

    Notes
    -----
    p10/p90 shown in popups are sums of per-grade quantiles, a conservative band
    rather than the quantiles of the sum.
    """
    lang = check_lang(lang)
    basemap = check_basemap(basemap)
    table = _forecast_table(demand, capacity, level)
    shortfall = capacity is not None
    value_col = "short" if shortfall else "p50"
    all_years = sorted(int(y) for y in table["year"].unique())
    chosen = [int(y) for y in years] if years is not None else all_years
    if int(year) not in chosen:
        raise ConfigError(f"year {year} is not in the forecast years {chosen[0]}–{chosen[-1]}"
                          if chosen else "the forecast has no years", fix="pick a forecast year")
    unknown = set(table["zone"]) - set(zones.index)
    if unknown:
        warnings.warn(f"{len(unknown)} forecast zone(s) have no geometry and are not drawn: "
                      f"{', '.join(map(str, sorted(unknown)[:5]))}", SchoolplanWarning, stacklevel=2)
    frame = MapFrame(gcj02=basemap == "gaode")
    geoms = dict(zip(zones.index, frame.geoms(zones), strict=True))
    names = zones["name"].astype(str).to_dict() if "name" in zones else {}
    totals = table.groupby(["zone", "year"])[value_col].sum()
    breaks = _class_breaks(float(totals.max()) if len(totals) else 0.0)
    label = t("map_forecast_short" if shortfall else "map_forecast_demand", lang)
    if level is not None:
        label += f" · {_level_label(level, lang)}"
    heading = title or label
    m = new_map(basemap, lang, tianditu_token, title=heading)
    for y in chosen:
        feats = []
        for zone, rows in table[table["year"] == y].groupby("zone"):
            geom = geoms.get(zone)
            if geom is None or geom.is_empty:
                continue
            value = float(totals.get((zone, y), 0.0))
            name = names.get(zone, str(zone))
            style = {"color": "#555555", "weight": 0.9, "fillColor": _class_colour(value, breaks),
                     "fillOpacity": 0.7}
            feats.append(feature(geom, id=str(zone), kind="forecast", year=y, value=value, style=style,
                                  tip=f"{esc(name)} · {y} · {esc(_fmt(value, lang))}",
                                  popup=_forecast_popup(name, y, rows, lang, shortfall)))
        FeatureLayer(feats, name=f"{label} {y}", key=f"year_{y}", pane="sp_zones", overlay=False,
                     show=y == int(year)).add_to(m)
    sections = [(f"{label} (p50)", _class_rows(breaks, lang, zero_label=None if shortfall else "0")),
                (t("map_year", lang), [("", f"{chosen[0]}–{chosen[-1]}: {t('map_year_hint', lang)}")])]
    finish_map(m, sections, lonlat_bounds(geoms.values()), lang, title=heading)
    return m


# =========================================================================== phased plans
#: Status of a school in one year of a phased plan → (marker shape, colour).
PHASE_STYLES: dict[str, tuple[str, str]] = {
    "open": ("circle", "#1a9850"),
    "works": ("square", "#2166ac"),
    "new": ("star", "#7b3294"),
    "closes": ("cross", "#d7191c"),
    "closed": ("cross", "#9a9a9a"),
}
_PHASE_TEXT: dict[str, tuple[str, str]] = {
    "open": ("在办，当年无调整", "open, nothing changes"),
    "works": ("接收学生或新增设施启用", "receives pupils or new buildings come into use"),
    "new": ("新学校启用", "new school opens"),
    "closes": ("当年秋季撤并", "closes this autumn"),
    "closed": ("已撤并", "closed"),
    "moves": ("当年转学（撤并学校→接收学校）", "pupils moving this year (closing → receiving school)"),
    "year": ("学年", "School year"),
    "hint": ("右上角选择年份", "choose the year at the top right"),
    "classes": ("班级需要/教室", "Classes needed / classrooms"),
    "beds": ("寄宿生/床位", "Boarders / beds"),
    "title": ("分年度实施", "Phased plan"),
}


def _phase_text(key: str, lang: str) -> str:
    return _PHASE_TEXT[key][0 if lang == "zh" else 1]


def phasing_map(
    result: ScenarioResult,
    *,
    basemap: str = "osm",
    lang: str = "zh",
    year: int | None = None,
    tianditu_token: str | None = None,
    title: str | None = None,
) -> folium.Map:
    """The phased plan of a scenario on a map, one selectable layer per school year (分年度实施图).

    Each year's layer shows every school of the plan by its status that year — open
    with nothing changing ●, receiving pupils or new buildings coming into use ■, a new
    school opening ★, closing that autumn ✕ (red), closed ✕ (grey) — and lines from
    each school closing that year to the schools receiving its pupils. Popups give the
    year's pupils, classes needed against classrooms, boarders against beds and why
    the school's actions fall in that year.

    Parameters
    ----------
    result
        A scenario result with a phased plan (``result.phasing``).
    basemap, lang, tianditu_token
        As :func:`plan_map`.
    year
        The year shown first (default: the first year of the plan).
    title
        Map title (default: the scenario label and "分年度实施").

    Returns
    -------
    folium.Map

    Raises
    ------
    ConfigError
        The result has no phased plan, or ``year`` is not one of its years.
    """
    lang = check_lang(lang)
    basemap = check_basemap(basemap)
    ph = getattr(result, "phasing", None)
    if ph is None:
        raise ConfigError("the scenario result has no phased plan",
                          fix="run a 两集中 scenario with a target year after the register year ([phasing] enabled)")
    years = [int(y) for y in ph.years["year"]]
    shown = int(year) if year is not None else years[0]
    if shown not in years:
        raise ConfigError(f"year {shown} is not a year of the phased plan ({years[0]}–{years[-1]})",
                          fix="pick one of the plan's school years")
    county = result.county
    frame = MapFrame(gcj02=basemap == "gaode", default_crs=getattr(county, "crs", None))
    schools = result.plan.schools[result.plan.schools["decision"] != "vacant"]
    xy = dict(zip(schools.index, map(point_xy, frame.geoms(schools)), strict=True))
    names = schools["name"].astype(str).to_dict()
    acts = ph.actions
    close_year = {str(r.school_id): int(r.year) for r in acts[(acts["action"] == "close") & acts["year"].notna()]
                  .itertuples()}
    state = ph.schools.set_index(["year", "school_id"])
    label = result.label_zh if lang == "zh" else result.label_en
    heading = title or f"{label} · {_phase_text('title', lang)}"
    m = new_map(basemap, lang, tianditu_token, title=heading)
    for y in years:
        now = acts[acts["year"] == y]
        closing = now[now["action"] == "close"]
        receivers = {x.strip() for rec in closing["receiving"] for x in str(rec).split(",") if x.strip()}
        works = set(now.loc[now["action"].isin(["classrooms", "beds", "upgrade"]), "school_id"]) | receivers
        opens = set(now.loc[now["action"] == "new_school", "school_id"])
        feats = []
        for sid in schools.index:
            p = xy.get(sid)
            st = state.loc[(y, sid)] if (y, sid) in state.index else None
            is_new = schools.at[sid, "decision"] == "new"
            if p is None or (is_new and st is None and sid not in opens):
                continue
            cy = close_year.get(str(sid))
            status = ("closed" if cy is not None and cy < y else "closes" if cy == y else
                      "new" if sid in opens or (is_new and sid in works) else "works" if sid in works else "open")
            shape, colour = PHASE_STYLES[status]
            size = 20.0 if status in ("closes", "works", "new") else 15.0
            icon = {"html": marker_svg(shape, colour, size, fill_opacity=0.55 if status == "closed" else 1.0),
                    "className": "sp-icon", "iconSize": [size, size], "iconAnchor": [size / 2, size / 2],
                    "popupAnchor": [0, -size / 2], "tooltipAnchor": [size / 2, 0]}
            rows: list[tuple[str, Any]] = [(t("map_decision", lang), _phase_text(status, lang))]
            if st is not None and bool(st["open"]):
                rows += [(t("map_students", lang), int(st["pupils"])),
                         (_phase_text("classes", lang), f"{int(st['classes_needed'])} / {int(st['classes_ready'])}"),
                         (_phase_text("beds", lang), f"{int(st['boarders'])} / {int(st['beds_ready'])}")]
            why = [str(r.reason_zh if lang == "zh" else r.reason_en) for r in now[now["school_id"] == sid].itertuples()]
            popup = _popup(names.get(sid, str(sid)), rows, lang, subtitle=f"{_phase_text('year', lang)} {y}",
                           reason="；".join(why) if lang == "zh" else "; ".join(why))
            feats.append(feature(shapely.Point(p), id=str(sid), kind="school", status=status, icon=icon,
                                  tip=f"{esc(names.get(sid, sid))} · {esc(_phase_text(status, lang))}",
                                  popup=popup))
        for r in closing.itertuples():
            a = xy.get(r.school_id)
            for rec in [x.strip() for x in str(r.receiving).split(",") if x.strip()]:
                b = xy.get(rec)
                if a is None or b is None:
                    continue
                feats.append(feature(LineString([a, b]), id=f"{r.school_id}>{rec}", kind="move",
                                      style={"color": PHASE_STYLES["closes"][1], "weight": 3, "opacity": 0.8,
                                             "dashArray": "6 4"},
                                      tip=f"{esc(names.get(r.school_id, r.school_id))} → {esc(names.get(rec, rec))}"))
        FeatureLayer(feats, name=f"{_phase_text('year', lang)} {y}", key=f"year_{y}", overlay=False,
                     show=y == shown).add_to(m)
    town, seat = _township_layers(county, frame, lang)
    for layer in (town, seat):
        if layer is not None:
            layer.add_to(m)
    rows = [(swatch_shape(shape, colour), _phase_text(k, lang)) for k, (shape, colour) in PHASE_STYLES.items()]
    rows.append((swatch_line(PHASE_STYLES["closes"][1], "6 4", 3), _phase_text("moves", lang)))
    sections = [(t("map_schools", lang), rows),
                (_phase_text("year", lang), [("", f"{years[0]}–{years[-1]}: {_phase_text('hint', lang)}")])]
    extent = lonlat_bounds(frame.geoms(county.townships)) if len(getattr(county, "townships", [])) else \
        lonlat_bounds(frame.geoms(schools))
    finish_map(m, sections, extent, lang, title=heading)
    return m
