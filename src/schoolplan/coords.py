"""Coordinates: GCJ-02 / BD-09 ⇄ WGS-84, CGCS2000 helpers and the metric CRS choice.

Chinese web maps use offset coordinates: GCJ-02 (Gaode/AutoNavi, Tencent) and
BD-09 (Baidu). Government data use CGCS2000 (EPSG:4490), usually projected in a
3° Gauss–Krüger zone (EPSG:4513–4554). OSM and GPS use WGS-84 (EPSG:4326).
CGCS2000 and WGS-84 agree to a few centimetres, so they are treated as equal
for planning.

The GCJ-02 transform is the public, reverse-engineered polynomial (ellipsoid
a = 6378245 m, e² = 0.00669342162296594323), applied only inside China's bounding
box. Its inverse has no closed form; :func:`gcj02_to_wgs84` iterates the forward
transform to below 1e-7° (≈1 cm).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS

__all__ = [
    "OffsetCheck",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "cgcs2000_gk_epsg",
    "detect_gcj02_offset",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_china",
    "metric_crs",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0
#: lon/lat box inside which GCJ-02 offsets apply.
CHINA_BOX = (73.66, 3.86, 135.05, 53.55)

Arr = NDArray[np.float64]


def _arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[Arr, Arr]:
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def in_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Whether points lie in the box where GCJ-02 offsets apply.

    Parameters
    ----------
    lon, lat
        Degrees.

    Returns
    -------
    numpy.ndarray of bool
    """
    x, y = _arrays(lon, lat)
    w, s, e, n = CHINA_BOX
    return (x >= w) & (x <= e) & (y >= s) & (y <= n)


def _offset(lon: Arr, lat: Arr) -> tuple[Arr, Arr]:
    x = lon - 105.0
    y = lat - 35.0
    dlat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Arr, Arr]:
    """Convert WGS-84 lon/lat to GCJ-02 (unchanged outside China).

    Parameters
    ----------
    lon, lat
        WGS-84 degrees (scalars or arrays).

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 lon, lat in degrees.
    """
    x, y = _arrays(lon, lat)
    dlon, dlat = _offset(x, y)
    inside = in_china(x, y)
    return np.where(inside, x + dlon, x), np.where(inside, y + dlat, y)


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike, *, tol_deg: float = 1e-7) -> tuple[Arr, Arr]:
    """Convert GCJ-02 lon/lat to WGS-84 by iterating the forward transform.

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees.
    tol_deg
        Stop when the forward transform of the estimate is this close (degrees).

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 lon, lat in degrees (round trip better than 1 cm).
    """
    gx, gy = _arrays(lon, lat)
    wx, wy = gx.copy(), gy.copy()
    for _ in range(30):
        fx, fy = wgs84_to_gcj02(wx, wy)
        ex, ey = fx - gx, fy - gy
        wx, wy = wx - ex, wy - ey
        if np.all(np.abs(ex) < tol_deg) and np.all(np.abs(ey) < tol_deg):
            break
    return wx, wy


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Arr, Arr]:
    """Convert GCJ-02 to BD-09 (Baidu)."""
    x, y = _arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Arr, Arr]:
    """Convert BD-09 (Baidu) to GCJ-02."""
    bx, by = _arrays(lon, lat)
    x, y = bx - 0.0065, by - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Arr, Arr]:
    """Convert WGS-84 to BD-09."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Arr, Arr]:
    """Convert BD-09 to WGS-84."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def cgcs2000_gk_epsg(lon: float, *, zone_prefix: bool = False) -> int:
    """EPSG code of the CGCS2000 3° Gauss–Krüger zone containing ``lon``.

    Parameters
    ----------
    lon
        Longitude in degrees east (73.5–136.5).
    zone_prefix
        True for the variant whose false easting carries the zone number
        (EPSG:4513–4533), False for the "CM xxE" variant (EPSG:4534–4554).

    Returns
    -------
    int
        EPSG code.
    """
    zone = round(lon / 3.0)
    zone = min(max(zone, 25), 45)
    return 4488 + zone if zone_prefix else 4534 + (zone - 25)


def metric_crs(lon: float, lat: float) -> CRS:
    """Choose a metric CRS for work centred at ``lon``/``lat``.

    Inside China this is the CGCS2000 3° Gauss–Krüger zone (CM form,
    EPSG:4534–4554, axis order forced to easting/northing by geopandas);
    elsewhere the WGS-84 UTM zone.

    Parameters
    ----------
    lon, lat
        Centre of the study area, degrees.

    Returns
    -------
    pyproj.CRS
    """
    if bool(in_china(lon, lat)) and 73.5 <= lon <= 136.5:
        return CRS.from_epsg(cgcs2000_gk_epsg(lon))
    zone = int((lon + 180.0) // 6.0) + 1
    zone = min(max(zone, 1), 60)
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


# --------------------------------------------------------------------------- offset detection
@dataclass(frozen=True)
class OffsetCheck:
    """Result of :func:`detect_gcj02_offset`.

    Attributes
    ----------
    likely_gcj02
        True when the points look like GCJ-02 (Gaode/Tencent) coordinates given as WGS-84.
    n_points
        Points inside China that were checked.
    median_shift_m
        Median distance the GCJ-02 → WGS-84 conversion would move them, m.
    median_before_m, median_after_m
        Median distance to the nearest road vertex as given and after conversion, m.
    share_closer
        Share of points that conversion brings closer to a road.
    """

    likely_gcj02: bool
    n_points: int
    median_shift_m: float
    median_before_m: float
    median_after_m: float
    share_closer: float


def _local_metres(lon: Arr, lat: Arr, lon0: float, lat0: float) -> tuple[Arr, Arr]:
    """Equirectangular metres around (lon0, lat0): ample for county-sized comparisons."""
    r = 6371008.8
    k = math.pi / 180.0
    return (lon - lon0) * k * r * math.cos(lat0 * k), (lat - lat0) * k * r


def detect_gcj02_offset(
    lon: ArrayLike,
    lat: ArrayLike,
    road_lon: ArrayLike,
    road_lat: ArrayLike,
    *,
    min_points: int = 5,
    max_road_m: float = 2000.0,
) -> OffsetCheck | None:
    """Check whether points given as WGS-84 are really GCJ-02 (web-map) coordinates.

    Schools and villages copied from Gaode/Tencent maps carry the GCJ-02 offset
    (100–700 m in China). Roads from OpenStreetMap or surveys are in WGS-84/CGCS2000.
    If converting the points GCJ-02 → WGS-84 moves them consistently by a few
    hundred metres *and* brings them much closer to the roads, the points were
    almost certainly GCJ-02.

    Parameters
    ----------
    lon, lat
        The points, degrees, as given (assumed WGS-84).
    road_lon, road_lat
        Road vertices, degrees WGS-84; densify long segments (≤ 50 m apart) so that
        the nearest vertex approximates the nearest road.
    min_points
        Fewer points inside China than this: no verdict (``None``).
    max_road_m
        Points farther than this from every road (before and after) are ignored:
        they say nothing about a few-hundred-metre offset.

    Returns
    -------
    OffsetCheck or None
        ``None`` when there are too few points in China or no roads.

    Notes
    -----
    The verdict is positive when the median conversion shift lies in 100–700 m,
    the median distance to the roads at least halves and falls by at least 50 m,
    and at least 60 % of the points move closer. Cost: one KD-tree query of the
    points twice (milliseconds for a county).
    """
    from scipy.spatial import cKDTree

    x, y = _arrays(lon, lat)
    rx, ry = _arrays(road_lon, road_lat)
    ok = in_china(x, y) & np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    good = np.isfinite(rx) & np.isfinite(ry)
    rx, ry = rx[good], ry[good]
    if x.size < min_points or rx.size == 0:
        return None
    wx, wy = gcj02_to_wgs84(x, y)
    lon0, lat0 = float(np.median(x)), float(np.median(y))
    tree = cKDTree(np.column_stack(_local_metres(rx, ry, lon0, lat0)))
    d0, _ = tree.query(np.column_stack(_local_metres(x, y, lon0, lat0)))
    d1, _ = tree.query(np.column_stack(_local_metres(wx, wy, lon0, lat0)))
    sx, sy = _local_metres(wx, wy, lon0, lat0)
    px, py = _local_metres(x, y, lon0, lat0)
    shift = np.hypot(sx - px, sy - py)
    near = (d0 <= max_road_m) | (d1 <= max_road_m)
    if near.sum() < min_points:
        return None
    d0, d1, shift = d0[near], d1[near], shift[near]
    before, after = float(np.median(d0)), float(np.median(d1))
    med_shift = float(np.median(shift))
    closer = float(np.mean(d1 < d0))
    likely = (100.0 <= med_shift <= 700.0) and after <= 0.5 * before and before - after >= 50.0 and closer >= 0.6
    return OffsetCheck(likely_gcj02=bool(likely), n_points=int(near.sum()), median_shift_m=round(med_shift, 1),
                       median_before_m=round(before, 1), median_after_m=round(after, 1),
                       share_closer=round(closer, 3))
