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
