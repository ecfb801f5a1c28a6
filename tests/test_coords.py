"""GCJ-02 / BD-09 conversions against published pairs; metric CRS choice."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from schoolplan import coords

GEOD = Geod(ellps="WGS84")

# Reference values published with open-source converters (coordtransform family), Beijing.
KNOWN = [
    (coords.wgs84_to_gcj02, (116.404, 39.915), (116.41024449916938, 39.91640428150164)),
    (coords.gcj02_to_bd09, (116.404, 39.915), (116.41036949371029, 39.92133699351021)),
    (coords.bd09_to_gcj02, (116.404, 39.915), (116.39762729119315, 39.90865673957631)),
]


@pytest.mark.parametrize(("func", "inp", "expected"), KNOWN)
def test_known_pairs(func, inp, expected) -> None:  # type: ignore[no-untyped-def]
    lon, lat = func(*inp)
    assert float(lon) == pytest.approx(expected[0], abs=1e-9)
    assert float(lat) == pytest.approx(expected[1], abs=1e-9)


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.inv(a[0], a[1], b[0], b[1])[2])


@settings(max_examples=200, deadline=None)
@given(st.floats(75, 134), st.floats(18, 53))
def test_gcj02_round_trip_within_1m(lon: float, lat: float) -> None:
    g = coords.wgs84_to_gcj02(lon, lat)
    back = coords.gcj02_to_wgs84(*g)
    assert _metres((lon, lat), (float(back[0]), float(back[1]))) < 1.0
    b = coords.wgs84_to_bd09(lon, lat)
    back = coords.bd09_to_wgs84(*b)
    assert _metres((lon, lat), (float(back[0]), float(back[1]))) < 1.0


def test_offset_size_and_outside_china() -> None:
    g = coords.wgs84_to_gcj02(111.5, 33.0)
    assert 100 < _metres((111.5, 33.0), (float(g[0]), float(g[1]))) < 1000
    lon, lat = coords.wgs84_to_gcj02(np.array([-121.6, 139.69]), np.array([39.1, 35.68]))
    assert np.allclose(lon, [-121.6, 139.69]) and np.allclose(lat, [39.1, 35.68])


def test_metric_crs() -> None:
    assert coords.metric_crs(111.5, 33.0).to_epsg() == 4546  # CGCS2000 GK CM 111E
    assert coords.metric_crs(114.2, 33.0).to_epsg() == 4547  # CM 114E
    assert coords.metric_crs(-121.5, 39.2).to_epsg() == 32610  # UTM 10N outside China
    assert coords.cgcs2000_gk_epsg(111.5, zone_prefix=True) == 4525


# --------------------------------------------------------------------------- web-map offsets from several signals
def _town(seed: int = 3) -> tuple[np.ndarray, np.ndarray, list]:
    """Streets at irregular spacings (60–400 m) over 6 × 6 km near 114.3°E 33.2°N, and 60 points 0–30 m off them."""
    from shapely.geometry import LineString

    rng = np.random.default_rng(seed)
    lon0, lat0 = 114.3, 33.2
    mx, my = 1 / (111320 * np.cos(np.radians(lat0))), 1 / 110574
    xs = np.cumsum(rng.uniform(60, 400, 30))
    ys = np.cumsum(rng.uniform(60, 400, 30))
    xs, ys = xs[xs < 6000], ys[ys < 6000]
    lines = [LineString([(lon0 + x * mx, lat0), (lon0 + x * mx, lat0 + 6000 * my)]) for x in xs]
    lines += [LineString([(lon0, lat0 + y * my), (lon0 + 6000 * mx, lat0 + y * my)]) for y in ys]
    pick = rng.integers(0, len(xs), 60)
    px = xs[pick] + rng.choice([-1, 1], 60) * rng.uniform(0, 30, 60)
    py = rng.uniform(500, 5500, 60)
    return lon0 + px * mx, lat0 + py * my, lines


@pytest.mark.parametrize(("convert", "kind"), [
    (lambda x, y: (x, y), "wgs84"), (coords.wgs84_to_gcj02, "gcj02"), (coords.wgs84_to_bd09, "bd09"),
    (coords.gcj02_to_wgs84, "gcj02_twice")])
def test_detect_offset_kinds(convert, kind: str) -> None:  # type: ignore[no-untyped-def]
    lon, lat, lines = _town()
    x, y = convert(lon, lat)
    res = coords.detect_offset(x, y, lines)
    assert res is not None and res.kind == kind, res
    assert res.offset == (kind != "wgs84") and res.likely_gcj02 == (kind == "gcj02")
    if kind != "wgs84":
        assert res.scores_m[kind] < 15 and res.median_after_m < res.median_before_m


def test_detect_offset_no_verdict_without_signal() -> None:
    rng = np.random.default_rng(5)
    _, _, lines = _town()
    x = 114.3 + rng.uniform(0, 0.06, 50)
    y = 33.2 + rng.uniform(0, 0.05, 50)
    assert coords.detect_offset(x, y, lines).kind in {"unknown", "wgs84"}  # points unrelated to the streets
    lon, lat, lines = _town()
    assert coords.detect_offset(lon[:4], lat[:4], lines) is None  # too few points
    assert coords.detect_offset(lon - 200, lat, lines) is None  # outside China
    assert coords.detect_offset(lon, lat, []) is None  # no roads
