"""Leaflet plumbing for schoolplan's maps: a documented internal module.

:mod:`schoolplan.maps` draws the planning layers (schools, villages, assignment,
isochrones, reserved land, forecasts); this module holds what any Leaflet map of
schoolplan needs and knows nothing about planning:

* **assets** — Leaflet 1.9.4 alone, linked from jsDelivr, rewritten to a mirror, or
  inlined from the installed ``django-js-lib-leaflet`` package for offline pages
  (:func:`map_html`, :func:`save_map`, :func:`external_assets`);
* **basemaps** — OSM, 天地图 (with a key), 高德 (GCJ-02) or none (:data:`BASEMAPS`,
  :func:`check_basemap`, :func:`new_map`, :func:`prepare_map`);
* **coordinates** — :class:`MapFrame` puts any layer into map lon/lat (shifted to
  GCJ-02 for Gaode tiles); :func:`lonlat_bounds`, :func:`union_bounds`;
* **elements** — :class:`FeatureLayer` (GeoJSON styled by its own properties),
  :class:`Legend`, :class:`MapTitle`, :class:`MapChrome` (scale bar),
  :class:`FitOnShow` (fit the county whenever the map is shown or resized),
  :class:`SyncedDualMap`, :func:`finish_map` (title, legend, layer control, fit);
* **legend pieces** — :func:`legend_html`, swatches, marker SVG shapes;
* **output** — deterministic HTML (:func:`map_html`), atomic files (:func:`save_map`),
  and :func:`map_layers` for tests and reports.

Legends and layer panels stay small: the layer control is collapsed to an icon
(it opens on hover or tap) and an open legend is at most 40 % of the map's height
and 32 % of its width, so the two cover well under 15 % of the map; a legend can
be folded to one line. Maps fit their extent when first shown, including inside
an ``<iframe>``, a tab or a ``<details>`` block that opens later (Leaflet needs
``invalidateSize`` and ``fitBounds`` once its container has a size), and keep the
user's view once the user has panned or zoomed.

The names here are public for schoolplan's own modules (maps, reserve layers);
users import the map functions from :mod:`schoolplan.maps`.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import Element, Figure, MacroElement
from folium.elements import ElementAddToElement
from folium.map import Layer
from folium.plugins import DualMap
from folium.template import Template
from shapely.geometry import mapping

from schoolplan.coords import wgs84_to_gcj02
from schoolplan.errors import ConfigError, CrsError, SchoolplanWarning
from schoolplan.i18n import t
from schoolplan.io import atomic_file

__all__ = [
    "BACKGROUND",
    "BASEMAPS",
    "LEAFLET_CSS_URL",
    "LEAFLET_JS_URL",
    "LEAFLET_VERSION",
    "PANES",
    "SHAPES",
    "FeatureLayer",
    "FitOnShow",
    "Legend",
    "MapChrome",
    "MapFrame",
    "MapTitle",
    "SyncedDualMap",
    "TileLayer",
    "check_basemap",
    "esc",
    "external_assets",
    "feature",
    "finish_map",
    "legend_html",
    "lonlat_bounds",
    "map_css",
    "map_html",
    "map_layers",
    "marker_svg",
    "new_map",
    "point_xy",
    "prepare_map",
    "save_map",
    "script_json",
    "swatch_box",
    "swatch_dot",
    "swatch_line",
    "swatch_shape",
    "union_bounds",
]

LEAFLET_VERSION = "1.9.4"
LEAFLET_JS_URL = f"https://cdn.jsdelivr.net/npm/leaflet@{LEAFLET_VERSION}/dist/leaflet.js"
LEAFLET_CSS_URL = f"https://cdn.jsdelivr.net/npm/leaflet@{LEAFLET_VERSION}/dist/leaflet.css"
_LEAFLET_PACKAGE = "js_lib_leaflet"
_LEAFLET_DIR = "static/js_lib_leaflet"

#: Basemap keys and their attribution strings.
BASEMAPS: dict[str, str] = {
    "osm": '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
    "tianditu": '&copy; <a href="https://www.tianditu.gov.cn/">天地图 Tianditu</a>',
    "gaode": '&copy; <a href="https://www.amap.com/">高德地图 AutoNavi</a> (GCJ-02)',
    "none": "",
}
_OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
_GAODE_URL = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"
_TIANDITU_URL = (
    "https://t{s}.tianditu.gov.cn/%(layer)s_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER=%(layer)s&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=%(token)s"
)
BACKGROUND = "#eef0ea"


#: Leaflet panes (z-index): isochrones < zones < outlines < lines (400) < points < markers (600).
PANES = {"sp_iso": 340, "sp_zones": 350, "sp_outlines": 360, "sp_points": 450}

#: Marker shapes (SVG in a 24-unit view box), drawn by :func:`marker_svg`.
SHAPES: dict[str, str] = {
    "circle": '<circle cx="12" cy="12" r="9.5"/>',
    "square": '<rect x="3" y="3" width="18" height="18" rx="1.5"/>',
    "diamond": '<polygon points="12,1.5 22.5,12 12,22.5 1.5,12"/>',
    "triangle": '<polygon points="12,2 22.5,21 1.5,21"/>',
    "cross": '<polygon points="5,2 12,9 19,2 22,5 15,12 22,19 19,22 12,15 5,22 2,19 9,12 2,5"/>',
}


def _regular_points(n: int, r_outer: float, r_inner: float | None, phase_deg: float) -> str:
    """SVG polygon points of a regular polygon (or a star when ``r_inner`` is set)."""
    pts = []
    steps = 2 * n if r_inner else n
    for i in range(steps):
        r = r_outer if (r_inner is None or i % 2 == 0) else r_inner
        a = math.radians(phase_deg + 360.0 * i / steps)
        pts.append(f"{12 + r * math.cos(a):.2f},{12.5 + r * math.sin(a):.2f}")
    return " ".join(pts)


SHAPES["star"] = f'<polygon points="{_regular_points(5, 11.5, 5.0, -90)}"/>'
SHAPES["hexagon"] = f'<polygon points="{_regular_points(6, 10.5, None, 0)}"/>'



def esc(value: Any) -> str:
    """HTML-escape any value (quotes too)."""
    return html.escape(str(value), quote=True)



def marker_svg(shape: str, fill: str, size: float, *, stroke: str = "#ffffff", stroke_width: float = 1.6,
               fill_opacity: float = 1.0) -> str:
    """Inline SVG of a marker shape (24-unit view box scaled to ``size`` pixels)."""
    return (
        f'<svg width="{size:g}" height="{size:g}" viewBox="0 0 24 24" style="display:block">'
        f'<g fill="{fill}" fill-opacity="{fill_opacity:g}" stroke="{stroke}" '
        f'stroke-width="{stroke_width:g}" stroke-linejoin="round">{SHAPES[shape]}</g></svg>'
    )


def swatch_box(fill: str, stroke: str = "#666666", opacity: float = 0.8) -> str:
    """Legend swatch: a filled square."""
    return (f'<span class="sp-sw" style="background:{fill};opacity:{opacity:g};'
            f'border:1px solid {stroke}"></span>')


def swatch_dot(fill: str, stroke: str = "#333333", *, hollow: bool = False) -> str:
    """Legend swatch: a dot (or a ring when ``hollow``)."""
    bg = "transparent" if hollow else fill
    width = 2 if hollow else 1
    return (f'<span class="sp-sw" style="background:{bg};border:{width}px solid {stroke};'
            'border-radius:50%"></span>')


def swatch_line(colour: str, dash: str | None = None, width: float = 2.5) -> str:
    """Legend swatch: a line, dashed when ``dash`` is an SVG dash pattern."""
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<svg class="sp-sw" width="18" height="14" viewBox="0 0 18 14"><line x1="1" y1="7" '
            f'x2="17" y2="7" stroke="{colour}" stroke-width="{width:g}"{dash_attr}/></svg>')


def swatch_shape(shape: str, colour: str) -> str:
    """Legend swatch: a marker shape of :data:`SHAPES`."""
    return f'<span class="sp-sw">{marker_svg(shape, colour, 14, stroke="#333333", stroke_width=1.2)}</span>'



# =========================================================================== coordinates
@dataclass(frozen=True)
class MapFrame:
    """The map's coordinate frame: WGS-84 lon/lat, shifted to GCJ-02 for Gaode tiles."""

    gcj02: bool = False
    default_crs: Any = None

    def geoms(self, frame: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
        """Geometries of ``frame`` in map lon/lat (rounded to 1e-6°, ≈0.1 m).

        Parameters
        ----------
        frame
            Geometries in any CRS (a missing CRS is taken as ``default_crs``).

        Returns
        -------
        numpy.ndarray of shapely geometries
        """
        series = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame
        if series.crs is None:
            if self.default_crs is None:
                raise CrsError("a map layer has no CRS", fix="set the CRS of the GeoDataFrame (set_crs)")
            series = series.set_crs(self.default_crs)
        lonlat = np.asarray(series.to_crs(4326).values, dtype=object)
        return shapely.transform(lonlat, self._shift)

    def _shift(self, xy: np.ndarray) -> np.ndarray:
        if self.gcj02 and len(xy):
            lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
            xy = np.column_stack([lon, lat])
        return np.round(xy, 6)


def lonlat_bounds(geoms: Iterable[Any]) -> tuple[float, float, float, float] | None:
    """lon/lat bounds (west, south, east, north) of non-empty geometries."""
    arr = np.asarray([g for g in geoms if g is not None and not g.is_empty], dtype=object)
    if not len(arr):
        return None
    b = shapely.bounds(arr)
    return float(np.nanmin(b[:, 0])), float(np.nanmin(b[:, 1])), float(np.nanmax(b[:, 2])), float(
        np.nanmax(b[:, 3]))


def union_bounds(*boxes: tuple[float, float, float, float] | None) -> tuple[float, float, float, float] | None:
    """The box (west, south, east, north) around the given boxes (None ignored; None when all are)."""
    found = [b for b in boxes if b is not None]
    if not found:
        return None
    arr = np.asarray(found)
    return float(arr[:, 0].min()), float(arr[:, 1].min()), float(arr[:, 2].max()), float(arr[:, 3].max())


def script_json(obj: Any) -> str:
    """Compact UTF-8 JSON safe inside ``<script>`` (no raw ``<``, ``>``, ``&``, ``'``, U+2028/9)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))  # NaN is valid JavaScript
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027"),
                       ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, code)
    return text


def feature(geom: Any, **properties: Any) -> dict[str, Any]:
    """A GeoJSON feature of a shapely geometry (map lon/lat) with ``properties``."""
    return {"type": "Feature", "geometry": mapping(geom), "properties": properties}


def point_xy(geom: Any) -> tuple[float, float] | None:
    """(lon, lat) of a point, or of a representative point of any other geometry; None when empty."""
    if geom is None or geom.is_empty:
        return None
    p = geom if geom.geom_type == "Point" else geom.representative_point()
    return float(p.x), float(p.y)



# =========================================================================== Leaflet elements
class _AddedOnce:
    """Layer render that adds the layer to its parent with one stable statement.

    folium's ``Layer.render`` creates a new ``addTo`` statement on every render, so
    a map rendered twice (``map_html`` then ``save_map``) would repeat them.
    """

    show: bool
    _added: ElementAddToElement | None = None

    def render(self, **kwargs: Any) -> None:
        this: Any = self
        if self.show and self._added is None:
            self._added = ElementAddToElement(element_name=this.get_name(),
                                              element_parent_name=this._parent.get_name())
            this.add_child(self._added, name=this.get_name() + "_add")
        elif not self.show and self._added is not None:
            this._children.pop(this.get_name() + "_add", None)
            this.get_root().script._children.pop(self._added.get_name(), None)
            self._added = None
        super(Layer, this).render(**kwargs)  # skip Layer.render (it would add another statement)


class TileLayer(_AddedOnce, folium.TileLayer):
    """A tile layer that renders identically every time."""


class FeatureLayer(_AddedOnce, Layer):
    """A toggleable layer of GeoJSON features styled by their own properties.

    Needs Leaflet only. Each feature's ``properties`` may hold ``style`` (Leaflet
    path options; for points a circle marker), ``icon`` (``L.divIcon`` options:
    the point becomes a marker), ``popup`` and ``tip`` (safe HTML strings), and
    ``id``/``kind`` for tests and reports.

    Parameters
    ----------
    features
        GeoJSON features in map lon/lat.
    name
        Name in the layer control.
    key
        Stable key of the layer kind (``schools``, ``villages`` ...).
    pane
        Leaflet pane of paths and circle markers.
    overlay, control, show
        As :class:`folium.map.Layer` (``overlay=False`` makes it a radio choice).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJSON({{ this.json() }}, {
            pane: {{ this.pane|tojson }},
            style: function (f) { return f.properties.style || {}; },
            pointToLayer: function (f, latlng) {
                var p = f.properties;
                if (p.icon) { return L.marker(latlng, {icon: L.divIcon(p.icon), riseOnHover: true}); }
                return L.circleMarker(latlng, Object.assign({pane: {{ this.pane|tojson }}}, p.style || {}));
            },
            onEachFeature: function (f, layer) {
                var p = f.properties;
                if (p.popup) { layer.bindPopup(p.popup, {maxWidth: 380}); }
                if (p.tip) { layer.bindTooltip(p.tip, {sticky: true}); }
            }
        });
        {% endmacro %}
        """
    )

    def __init__(self, features: list[dict[str, Any]], *, name: str, key: str, pane: str = "overlayPane",
                 overlay: bool = True, control: bool = True, show: bool = True) -> None:
        super().__init__(name=name, overlay=overlay, control=control, show=show)
        self._name = "FeatureLayer"
        self.key = key
        self.pane = pane
        self.data = {"type": "FeatureCollection", "features": features}

    @property
    def features(self) -> list[dict[str, Any]]:
        """The GeoJSON features of the layer."""
        return self.data["features"]

    def json(self) -> str:
        """The features as compact JSON that is safe inside an HTML ``<script>``."""
        return script_json(self.data)


class FitOnShow(MacroElement):
    """Fit the map to ``bounds`` whenever it is shown or resized, until the user moves it.

    A map inside an ``<iframe>``, a tab or a closed ``<details>`` block has no size
    when its script runs, and Leaflet then computes a world-scale view. This element
    calls ``invalidateSize`` and ``fitBounds`` at once, on ``load``, and each time
    the container changes size (``ResizeObserver``; ``resize`` as a fallback), as
    long as the user has not panned, zoomed or clicked the map. The left padding
    makes room for an open legend when the legend is narrower than 35 % of the map.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var box = L.latLngBounds({{ this.bounds|tojson }});
            var c = map.getContainer();
            var touched = false;
            ['mousedown', 'touchstart', 'wheel', 'keydown'].forEach(function (e) {
                c.addEventListener(e, function () { touched = true; }, {passive: true});
            });
            function fit() {
                map.invalidateSize({animate: false});
                var size = map.getSize();
                if (size.x < 2 || size.y < 2) { return; }
                var lg = c.querySelector('.sp-legend');
                var left = {{ this.padding|tojson }};
                if (lg && lg.offsetWidth && lg.offsetWidth < 0.35 * size.x) { left = lg.offsetWidth + 12; }
                map.fitBounds(box, {paddingTopLeft: [left, 44], paddingBottomRight: [{{ this.padding|tojson }}, 20],
                                    animate: false});
            }
            function onResize() { if (touched) { map.invalidateSize({animate: false}); } else { fit(); } }
            if (window.ResizeObserver) { new ResizeObserver(onResize).observe(c); }
            window.addEventListener('resize', onResize);
            window.addEventListener('load', function () { if (!touched) { fit(); } });
            map.whenReady(fit);
            map.spFit = fit;
        })();
        {% endmacro %}
        """
    )

    def __init__(self, bounds: list[list[float]], *, padding: int = 16) -> None:
        super().__init__()
        self._name = "FitOnShow"
        self.bounds = bounds
        self.padding = int(padding)


class Legend(MacroElement):
    """One legend block (an HTML string built from escaped parts) as a Leaflet control.

    Check boxes with ``data-sp-toggle="X"`` hide markers of CSS class ``sp-d-X``.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var ctl = L.control({position: {{ this.position|tojson }}});
            ctl.onAdd = function () {
                var div = L.DomUtil.create('div', 'sp-legend');
                div.innerHTML = {{ this.html|tojson }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                div.querySelectorAll('input[data-sp-toggle]').forEach(function (box) {
                    box.addEventListener('change', function () {
                        var cls = 'sp-off-' + box.getAttribute('data-sp-toggle');
                        if (box.checked) { L.DomUtil.removeClass(map.getContainer(), cls); }
                        else { L.DomUtil.addClass(map.getContainer(), cls); }
                    });
                });
                return div;
            };
            ctl.addTo(map);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, html_text: str, *, position: str = "bottomleft") -> None:
        super().__init__()
        self._name = "Legend"
        self.html = html_text
        self.position = position


class MapTitle(MacroElement):
    """A title box at the top centre of a map (plain text, never HTML)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var box = L.DomUtil.create('div', 'sp-map-title', {{ this._parent.get_name() }}.getContainer());
            box.textContent = {{ this.text|tojson }};
            L.DomEvent.disableClickPropagation(box);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Title"
        self.text = text


class MapChrome(MacroElement):
    """Metric scale bar and a plain "Leaflet" attribution prefix (no flag icon)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.control.scale({imperial: false, position: 'bottomleft'}).addTo({{ this._parent.get_name() }});
        if ({{ this._parent.get_name() }}.attributionControl) {
            {{ this._parent.get_name() }}.attributionControl.setPrefix(
                '<a href="https://leafletjs.com" title="A JavaScript library for interactive maps">Leaflet</a>');
        }
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "MapChrome"


class SyncedDualMap(DualMap):
    """:class:`folium.plugins.DualMap` with a small inline view sync instead of Leaflet.Sync."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (a, b) {
            var busy = false;
            function follow(src, dst) {
                src.on('move zoomend', function () {
                    if (busy) { return; }
                    busy = true;
                    dst.setView(src.getCenter(), src.getZoom(), {animate: false});
                    busy = false;
                });
            }
            follow(a, b);
            follow(b, a);
        })({{ this.m1.get_name() }}, {{ this.m2.get_name() }});
        {% endmacro %}
        """
    )
    default_js: list[tuple[str, str]] = []  # noqa: RUF012 - overrides folium's class attribute



def map_css(toggles: Iterable[str] = ()) -> str:
    """The ``<style>`` block of every schoolplan map.

    Parameters
    ----------
    toggles
        Keys ``X`` of legend check boxes (``data-sp-toggle="X"``) that hide the
        markers of CSS class ``sp-d-X``.

    Returns
    -------
    str
        A ``<style>`` element. Legends are at most 40 % of the map's height and 32 %
        of its width (scrolling inside), so that legend and collapsed layer control
        cover well under 15 % of the map.
    """
    hide = " ".join(f".sp-off-{d} .sp-d-{d} {{display: none;}}" for d in toggles)
    return f"""<style>
.folium-map.leaflet-container {{ background: {BACKGROUND}; font-family: "Noto Sans CJK SC", "Source Han Sans SC",
  "Microsoft YaHei", "PingFang SC", "WenQuanYi Micro Hei", "Helvetica Neue", Arial, sans-serif; }}
.sp-legend {{ background: rgba(255,255,255,0.94); padding: 4px 8px; border-radius: 5px;
  box-shadow: 0 1px 5px rgba(0,0,0,0.4); font-size: 11.5px; line-height: 1.3; color: #222;
  max-height: 40vh; overflow-y: auto; max-width: min(240px, 32vw); box-sizing: border-box; }}
.folium-map .leaflet-control-layers {{ font-size: 12px; line-height: 1.3; }}
.folium-map .leaflet-control-layers-expanded {{ max-height: 70vh; overflow-y: auto; }}
.sp-legend summary {{ font-weight: 700; cursor: pointer; font-size: 12.5px; }}
.sp-legend h4 {{ margin: 5px 0 1px 0; font-size: 11.5px; }}
.sp-legend .sp-row {{ display: flex; align-items: center; gap: 5px; white-space: nowrap; margin: 1px 0; }}
.sp-legend .sp-note {{ color: #555; font-size: 11px; }}
.sp-sw {{ display: inline-block; width: 14px; height: 14px; flex: none; box-sizing: border-box; }}
svg.sp-sw {{ width: 18px; }}
.sp-icon {{ background: none; border: none; }}
.sp-popup {{ font-size: 12px; }}
.sp-popup .sp-title {{ font-weight: 700; font-size: 13px; }}
.sp-popup .sp-sub {{ color: #555; margin-bottom: 3px; }}
.sp-popup table {{ border-collapse: collapse; }}
.sp-popup td {{ padding: 1px 8px 1px 0; vertical-align: top; }}
.sp-popup .sp-reason {{ margin-top: 4px; max-width: 340px; white-space: normal; }}
.sp-map-title {{ position: absolute; top: 8px; left: 50%; transform: translateX(-50%); z-index: 1000;
  background: rgba(255,255,255,0.92); padding: 3px 12px; border-radius: 4px; font-weight: 700;
  font-size: 14px; box-shadow: 0 1px 4px rgba(0,0,0,0.35); pointer-events: auto; max-width: 60%;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }}
{hide}
</style>"""


def legend_html(sections: Sequence[tuple[str, Sequence[tuple[str, ...]]]], lang: str, *,
                 title: str = "", note: str = "", open_: bool = True) -> str:
    """Legend block HTML. Section titles and row labels are escaped; swatches are ours."""
    head = t("map_legend", lang) + (f" · {title}" if title else "")
    parts = [f"<details{' open' if open_ else ''}><summary>{esc(head)}</summary>"]
    for heading, rows in sections:
        if not rows:
            continue
        parts.append(f"<h4>{esc(heading)}</h4>")
        for row in rows:
            swatch, label = row[0], row[1]
            if len(row) > 2:  # a check box that hides the markers of CSS class sp-d-<key>
                box = f'<input type="checkbox" checked data-sp-toggle="{esc(row[2])}">'
                parts.append(f'<label class="sp-row">{box}{swatch}<span>{esc(label)}</span></label>')
            else:
                parts.append(f'<div class="sp-row">{swatch}<span>{esc(label)}</span></div>')
    if note:
        parts.append(f'<div class="sp-note">{esc(note)}</div>')
    parts.append("</details>")
    return "".join(parts)



# =========================================================================== basemaps
def _tianditu_token(token: str | None) -> str:
    token = (token or os.environ.get("TIANDITU_TOKEN") or "").strip()
    if not token:
        raise ConfigError("the Tianditu basemap needs a key (tk)",
                          fix="pass tianditu_token=... or set the TIANDITU_TOKEN environment variable "
                          "(a browser key from tianditu.gov.cn), or use basemap='osm'/'gaode'/'none'")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", token):
        raise ConfigError("the Tianditu key has unexpected characters",
                          fix="copy the 32-character key from the Tianditu console")
    return token


def check_basemap(basemap: str) -> str:
    """Return ``basemap`` if it is a key of :data:`BASEMAPS`, else raise :class:`ConfigError`."""
    if basemap not in BASEMAPS:
        raise ConfigError(f"unknown basemap '{basemap}'", fix=f"use one of {', '.join(BASEMAPS)}")
    return basemap


def _add_basemap(m: folium.Map, basemap: str, lang: str, token: str | None) -> None:
    """Add the tile layers of ``basemap`` to ``m`` (always on; annotation toggleable)."""
    attr = BASEMAPS[basemap]
    if basemap == "osm":
        TileLayer(_OSM_URL, attr=attr, name="OpenStreetMap", max_zoom=19, control=False).add_to(m)
    elif basemap == "gaode":
        TileLayer(_GAODE_URL, attr=attr, name="高德地图" if lang == "zh" else "Gaode",
                   subdomains="1234", max_zoom=18, control=False).add_to(m)
    elif basemap == "tianditu":
        key = _tianditu_token(token)
        TileLayer(_TIANDITU_URL % {"layer": "vec", "token": key}, attr=attr, subdomains="01234567",
                   name="天地图" if lang == "zh" else "Tianditu", max_zoom=18, control=False).add_to(m)
        TileLayer(_TIANDITU_URL % {"layer": "cva", "token": key}, attr=attr, overlay=True, control=True,
                   name="天地图注记" if lang == "zh" else "Tianditu labels",
                   subdomains="01234567", max_zoom=18).add_to(m)


def prepare_map(m: folium.Map, basemap: str, lang: str, token: str | None, *,
                toggles: Iterable[str] = ()) -> None:
    """Leaflet-only assets, panes, CSS (:func:`map_css`), scale bar and the basemap for one map."""
    m.default_js = [("leaflet", LEAFLET_JS_URL)]
    m.default_css = [("leaflet_css", LEAFLET_CSS_URL)]
    for pane, z in PANES.items():
        folium.map.CustomPane(pane, z_index=z, pointer_events=True).add_to(m)
    m.get_root().header.add_child(Element(map_css(toggles)), name="schoolplan_css")
    MapChrome().add_to(m)
    _add_basemap(m, basemap, lang, token)


def new_map(basemap: str, lang: str, token: str | None, *, title: str = "",
            toggles: Iterable[str] = ()) -> folium.Map:
    """An empty folium map prepared by :func:`prepare_map` (it fits its extent in :func:`finish_map`)."""
    m = folium.Map(location=[35.0, 105.0], zoom_start=5, tiles=None, zoom_snap=0.25)
    if title:
        m.get_root().title = esc(title)
    prepare_map(m, basemap, lang, token, toggles=toggles)
    return m


def finish_map(m: folium.Map, sections: list[tuple[str, list[tuple[str, ...]]]], extent: Any, lang: str, *,
               title: str = "", note: str = "", collapsed: bool = False) -> None:
    """Add title, legend, layer control and the fit to ``extent`` (west, south, east, north).

    The layer control is always collapsed to an icon (it opens on hover or tap);
    the legend is open unless ``collapsed``. :class:`FitOnShow` fits the extent
    whenever the map is shown or resized.
    """
    if title:
        MapTitle(title).add_to(m)
    Legend(legend_html(sections, lang, note=note, open_=not collapsed)).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    if extent is not None:
        w, s, e, n = extent
        m.location = [(s + n) / 2, (w + e) / 2]
        FitOnShow([[s, w], [n, e]]).add_to(m)


# =========================================================================== HTML output
_SCRIPT_TAG = re.compile(r"<script\b[^>]*\bsrc\s*=\s*[\"']([^\"']+)[\"'][^>]*>\s*</script>", re.I)
_LINK_TAG = re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']([^\"']+)[\"'][^>]*>", re.I)
#: folium's default assets our layers do not need (dropped from offline pages).
_UNNEEDED = ("jquery", "bootstrap", "awesome-markers", "fontawesome", "font-awesome",
             "leaflet.awesome.rotate", "leaflet.sync", "l.map.sync")


def external_assets(page: str) -> list[str]:
    """URLs of external scripts and stylesheets (http, https or protocol-relative) in a page.

    Parameters
    ----------
    page
        An HTML document.

    Returns
    -------
    list of str
        ``<script src>`` and ``<link href>`` URLs that would be fetched from a server.
    """
    urls = [m.group(1) for m in _SCRIPT_TAG.finditer(page)]
    urls += [m.group(1) for m in _LINK_TAG.finditer(page)]
    return [u for u in urls if re.match(r"(?i)(https?:)?//", u.strip())]


@lru_cache(maxsize=1)
def _leaflet_assets() -> tuple[str, str]:
    """Leaflet's JS and CSS from the installed ``django-js-lib-leaflet`` package (images inlined)."""
    try:
        root = resources.files(_LEAFLET_PACKAGE).joinpath(_LEAFLET_DIR)
        js = root.joinpath("leaflet.js").read_text(encoding="utf-8")
        css = root.joinpath("leaflet.css").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ConfigError(f"Leaflet files not found for offline maps ({exc})",
                          fix="pip install django-js-lib-leaflet (it ships leaflet.js/leaflet.css)") from None

    def inline_image(match: re.Match[str]) -> str:
        data = root.joinpath(match.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode('ascii')})"

    css = re.sub(r"url\((images/[\w.-]+\.png)\)", inline_image, css)
    return js.replace("</script", "<\\/script"), css.replace("</style", "<\\/style")


def _mirror_url(url: str, mirror: str | Mapping[str, str]) -> str:
    if isinstance(mirror, Mapping):
        for prefix, replacement in mirror.items():
            if url.startswith(prefix):
                return replacement + url[len(prefix):]
        return url
    path = re.sub(r"(?i)^(https?:)?//[^/]+/", "", url)
    return mirror.rstrip("/") + "/" + path


def _asset_kind(url: str) -> str:
    low = url.lower().rsplit("?", 1)[0]
    name = low.rsplit("/", 1)[-1]
    if "leaflet" in low and name in ("leaflet.js", "leaflet-src.js"):
        return "leaflet_js"
    if "leaflet" in low and name == "leaflet.css":
        return "leaflet_css"
    if any(k in low for k in _UNNEEDED):
        return "unneeded"
    return "other"


def _rewrite_assets(page: str, *, offline: bool, mirror: str | Mapping[str, str] | None) -> str:
    """Inline Leaflet and drop unneeded assets (offline), or point assets at a mirror."""
    dropped: list[str] = []

    def replace(match: re.Match[str]) -> str:
        tag, url = match.group(0), match.group(1)
        if not re.match(r"(?i)(https?:)?//", url.strip()):
            return tag
        if tag.lower().startswith("<link") and "stylesheet" not in tag.lower():
            return tag
        if not offline:
            return tag if mirror is None else tag.replace(url, _mirror_url(url, mirror))
        kind = _asset_kind(url)
        js, css = _leaflet_assets()
        if kind == "leaflet_js":
            return f"<script>{js}</script>"
        if kind == "leaflet_css":
            return f"<style>{css}</style>"
        if kind == "other":
            dropped.append(url)
        return ""

    page = _SCRIPT_TAG.sub(replace, page)
    page = _LINK_TAG.sub(replace, page)
    if dropped:
        warnings.warn("offline HTML cannot include these external assets; parts of the map that need them "
                      f"will not work without a network: {', '.join(dropped)}", SchoolplanWarning, stacklevel=3)
    return page


def map_html(m: folium.Map | DualMap | Figure, *, offline: bool = True,
             asset_mirror: str | Mapping[str, str] | None = None) -> str:
    """The full HTML document of a map (for files or an iframe ``srcdoc``).

    Parameters
    ----------
    m
        A map from this module (or any folium map/figure).
    offline
        Inline Leaflet from the installed ``django-js-lib-leaflet`` package and drop
        other CDN assets, so the page needs no script or stylesheet from the network
        (basemap tiles still do).
    asset_mirror
        When not offline: a base URL replacing the scheme and host of every asset
        URL (``"https://mirror.example/"``), or a mapping of URL prefixes to
        replacements.

    Returns
    -------
    str
        A complete ``<!DOCTYPE html>`` document.
    """
    root = m if isinstance(m, Figure) else m.get_root()
    page = root.render()
    return _rewrite_assets(_stable_ids(root, page), offline=offline, mirror=asset_mirror)


def _element_ids(root: Element) -> set[str]:
    """Ids of every element reachable from ``root`` (children, and the halves of a dual map)."""
    seen: set[int] = set()
    ids: set[str] = set()
    stack: list[Any] = [root]
    while stack:
        e = stack.pop()
        if id(e) in seen or not isinstance(e, Element):
            continue
        seen.add(id(e))
        ids.add(e._id)
        stack.extend(e._children.values())
        stack.extend(v for k, v in vars(e).items() if k in ("m1", "m2", "header", "html", "script"))
    return ids


def _stable_ids(root: Element, page: str) -> str:
    """Replace folium's random element ids (``uuid4`` hex) by ids numbered in page order.

    The same map then gives byte-identical HTML on every run, which keeps reports
    reproducible (the ids only name JavaScript variables and HTML elements).
    """
    ids = [i for i in _element_ids(root) if re.fullmatch(r"[0-9a-f]{32}", i) and i in page]
    if not ids:
        return page
    ids.sort(key=page.find)
    new = {old: f"{n:032x}" for n, old in enumerate(ids, start=1)}
    return re.sub("|".join(ids), lambda match: new[match.group(0)], page)


def save_map(m: folium.Map | DualMap | Figure, path: str | Path, *, offline: bool = False,
             asset_mirror: str | Mapping[str, str] | None = None) -> Path:
    """Write a map to an HTML file atomically.

    Parameters
    ----------
    m
        The map.
    path
        Output ``.html`` path (folders are created).
    offline
        Self-contained page (Leaflet inlined; no CDN requests). See :func:`map_html`.
    asset_mirror
        Mirror for CDN assets when not offline.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    page = map_html(m, offline=offline, asset_mirror=asset_mirror)
    target = Path(path)
    with atomic_file(target, mode="w") as fh:
        fh.write(page)
    return target


def map_layers(m: folium.Map | DualMap) -> dict[str, dict[str, Any]]:
    """The overlay layers of a map built here: name → key, feature count, shown.

    Parameters
    ----------
    m
        A map from :func:`plan_map` or :func:`forecast_map` (for a dual map, its two
        halves are listed with ``"1: "``/``"2: "`` prefixes).

    Returns
    -------
    dict
        ``{layer name: {"key": str, "features": int, "show": bool}}``.
    """
    if isinstance(m, DualMap):
        out = {}
        for i, half in enumerate((m.m1, m.m2), start=1):
            out.update({f"{i}: {k}": v for k, v in map_layers(half).items()})
        return out
    return {child.layer_name: {"key": child.key, "features": len(child.features), "show": bool(child.show)}
            for child in m._children.values() if isinstance(child, FeatureLayer)}

