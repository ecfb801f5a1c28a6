"""Tests of the synthetic province generator (schoolplan.synthetic)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from schoolplan.errors import ConfigError
from schoolplan.synthetic import synthetic_province, write_county


@pytest.fixture(scope="module")
def small():
    return synthetic_province(counties=4, county_km2=300, townships_per_county=4, seed=11)


def _same(a, b) -> None:
    for attr in ("node_x", "node_y", "edge_u", "edge_v", "edge_class", "edge_link"):
        np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))
    for layer in ("counties", "townships", "villages", "schools"):
        pd.testing.assert_frame_equal(getattr(a, layer).drop(columns="geometry"),
                                      getattr(b, layer).drop(columns="geometry"))
        assert getattr(a, layer).geometry.geom_equals_exact(getattr(b, layer).geometry, 0.0).all()


def test_deterministic_by_seed(small):
    _same(small, synthetic_province(counties=4, county_km2=300, townships_per_county=4, seed=11))
    other = synthetic_province(counties=4, county_km2=300, townships_per_county=4, seed=12)
    assert not np.array_equal(other.node_x[:100], small.node_x[:100])


def test_layout_is_consistent(small):
    c, t, v, s = small.counties, small.townships, small.villages, small.schools
    assert len(c) == 4 and len(t) == 16
    assert t.groupby("county_id")["is_county_seat"].sum().eq(1).all()  # one county seat (县城) each
    for layer, key in ((t, "township_id"), (v, "village_id"), (s, "school_id")):
        assert layer[key].is_unique
    # townships tile their county; villages lie in their township
    for cid, grp in t.groupby("county_id"):
        county = c.set_index("county_id").geometry[cid]
        assert abs(grp.geometry.union_all().area - county.area) < 1e-3 * county.area
    poly = t.set_index("township_id").geometry
    assert all(poly[tid].buffer(1.0).contains(p) for tid, p in zip(v["township_id"], v.geometry, strict=True))
    assert len(v) == 20 * 16  # default: 20 per township
    # every township has a central primary school at its seat
    central = s[s["is_central"]]
    assert sorted(central["township_id"]) == sorted(t["township_id"]) and set(central["level"]) == {"primary"}
    assert set(s["level"]) == {"primary", "teaching_point", "junior", "kindergarten", "senior"}
    # realistic rural road density (km of road per km²) and a connected network
    area_km2 = c.geometry.area.sum() / 1e6
    assert 1.0 < small.road_km() / area_km2 < 2.0
    g = small.graph()
    assert g.stats["km"] > 0.98 * small.road_km()


def test_requested_counts_and_sizes():
    p = synthetic_province(counties=2, county_km2=200, townships_per_county=3, villages=500, schools=90, seed=3)
    assert len(p.villages) == 500 and len(p.schools) == 90
    assert p.schools["is_central"].sum() == 6
    with pytest.raises(ConfigError, match="counties"):
        synthetic_province(counties=0)


def test_written_county_loads_like_real_data(small, tmp_path: Path):
    from schoolplan.county import load_county

    folder = write_county(small, "C02", tmp_path / "c02")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        county = load_county(folder)
    assert not [w for w in caught if "schoolplan" in type(w.message).__module__], [str(w.message) for w in caught]
    assert county.name == "合成二县" and county.base_year == 2024
    assert len(county.villages) == (small.villages["county_id"] == "C02").sum()
    assert len(county.schools) == (small.schools["county_id"] == "C02").sum()
    assert county.county_seat == "C02T01"
    # the register's pupils are the enrolment of the base year
    e = county.enrolment[county.enrolment["year"] == 2024].groupby("school_id")["students"].sum()
    reg = county.schools["students"]
    assert (reg[reg > 0] == e.reindex(reg[reg > 0].index)).all()
    assert sorted(county.enrolment["year"].unique()) == list(range(2014, 2025))
    assert county.births["year"].min() == 1997 and county.births["year"].max() == 2024
    # births fall after the 2016-17 peak, as the national series
    by_year = county.births.groupby("year")["births"].sum()
    assert by_year[2016] > by_year[2024]
    # children by age at the base year come from the township cohorts
    ages = county.villages[[f"age_{a}" for a in range(18)]].sum()
    assert ages.sum() > 0 and ages["age_0"] < ages["age_8"]
    # the road layer is read by the network
    from schoolplan.network import build_graph

    g = build_graph(county.roads, crs=county.crs)
    assert g.stats["km"] > 100
    assert shapely.contains_xy(county.boundary.buffer(5000), g.node_x, g.node_y).all()


def test_write_county_errors(small, tmp_path: Path):
    with pytest.raises(ConfigError, match="unknown county"):
        write_county(small, "C99", tmp_path / "x")
    with pytest.raises(ConfigError, match="first_year"):
        write_county(small, "C01", tmp_path / "x", first_year=2024, base_year=2024)
