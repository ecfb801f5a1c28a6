"""Shared fixtures: a tiny county written in the formats bureaus use."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo_county"
TEST_DATA = Path(__file__).resolve().parent / "data"

# Two townships side by side near 111.5°E 33.0°N (a Henan-like location), ~9 km wide each.
LON0, LAT0 = 111.50, 33.00
D = 0.1


def township_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"township_id": ["T1", "T2"], "name": ["城关镇", "河口乡"], "is_county_seat": [True, False],
         "population": [20000, 8000]},
        geometry=[box(LON0, LAT0, LON0 + D, LAT0 + D), box(LON0 + D, LAT0, LON0 + 2 * D, LAT0 + D)],
        crs=4326,
    )


def schools_table() -> pd.DataFrame:
    """A school list as a bureau exports it: Chinese headers, lon/lat columns."""
    return pd.DataFrame({
        "学校代码": ["S1", "S2", "S3", "K1"],
        "学校名称": ["城关一小", "河口小学", "河口初中", "城关幼儿园"],
        "学段": ["小学", "教学点", "初中", "幼儿园"],
        "乡镇代码": ["T1", "T2", "T2", "T1"],
        "班级数": [24, 3, 9, 6],
        "在校生数": [1300, 40, 420, 180],
        "经度": [LON0 + 0.05, LON0 + 0.15, LON0 + 0.16, LON0 + 0.04],
        "纬度": [LAT0 + 0.05, LAT0 + 0.05, LAT0 + 0.06, LAT0 + 0.04],
    })


def villages_frame() -> gpd.GeoDataFrame:
    pts = [Point(LON0 + 0.02 + 0.03 * i, LAT0 + 0.03 + 0.01 * (i % 3)) for i in range(6)]
    df = gpd.GeoDataFrame(
        {"village_id": [f"V{i}" for i in range(6)], "name": [f"村{i}" for i in range(6)],
         "township_id": ["T1", "T1", "T1", "T2", "T2", "T2"], "population": [3000, 2500, 2000, 900, 800, 700]},
        geometry=pts, crs=4326,
    )
    for a in range(18):
        df[f"age_{a}"] = (df["population"] // 100).astype(int)
    return df


def births_table() -> pd.DataFrame:
    rows = [{"年份": y, "乡镇代码": t, "出生人口": (300 if t == "T1" else 90) + (y - 2010) * 3}
            for y in range(2010, 2025) for t in ("T1", "T2")]
    return pd.DataFrame(rows)


def enrolment_table() -> pd.DataFrame:
    rows = []
    for y in (2023, 2024):
        for g in range(1, 7):
            rows.append({"year": y, "school_id": "S1", "grade": g, "students": 1300 // 6 + (4 if g <= 4 else 0)})
        rows.append({"year": y, "school_id": "S2", "grade": 1, "students": 10})
        for g in range(2, 5):
            rows.append({"year": y, "school_id": "S2", "grade": g, "students": 10})
        for g in (7, 8, 9):
            rows.append({"year": y, "school_id": "S3", "grade": g, "students": 140})
        for g in (1, 2, 3):
            rows.append({"year": y, "school_id": "K1", "grade": g, "students": 60})
    return pd.DataFrame(rows)


def write_tiny_county(folder: Path) -> Path:
    """Write a tiny county: XLSX schools, GPKG villages/townships, GBK births CSV, UTF-8 enrolment."""
    folder.mkdir(parents=True, exist_ok=True)
    township_frame().to_file(folder / "townships.gpkg", driver="GPKG")
    villages_frame().to_file(folder / "villages.gpkg", driver="GPKG")
    schools_table().to_excel(folder / "学校.xlsx", index=False)
    births_table().to_csv(folder / "births.csv", index=False, encoding="gbk")
    enrolment_table().to_csv(folder / "enrolment.csv", index=False)
    return folder


@pytest.fixture
def tiny_county(tmp_path: Path) -> Path:
    """Path of a freshly written tiny county folder."""
    return write_tiny_county(tmp_path / "tiny")


# benchmarks/instances.py (readers of the published location benchmarks) is shared by
# tests/test_optimize.py and benchmarks/bench_optimize.py; it is not part of the package.
import sys as _sys  # noqa: E402

_sys.path.insert(0, str(ROOT / "benchmarks"))
