"""A county as a bureau sends it, built from the demo county: the raw-input county of issues 15 and 21.

The demo county (Yuba County, California, as a stand-in) is moved into China — every
coordinate shifted by a constant so that the county lies around 114.3°E 33.2°N (Henan,
CGCS2000 Gauss–Krüger zone CM 114°E, EPSG:4547) — and written the way county bureaus
export their data:

========================  ====================================================================
file                      what it exercises
========================  ====================================================================
``学校.csv``               GBK CSV with 学校代码/学校名称/学段/办学状态/所属乡镇/班级数/在校生数/
                          学位数/专任教师数/寄宿床位/经度/纬度, schools in GCJ-02 (Gaode) coordinates
``村庄人口.shp``            GBK shapefile without ``.cpg``, EPSG:4547, ages as 0岁 … 17岁
``乡镇界.shp``              GBK shapefile without ``.cpg``, EPSG:4547, 是否县城 as 是/否
``出生人口.xlsx``           births by year and township (ids, or township names such as 麦田镇)
``分年级在校生.xlsx``        a notes sheet (说明) before the data sheet, grades as 一年级/初一/小班 …
``道路.shp``               road lines with Chinese classes (国道/省道/县道/乡道/村道 …), EPSG:4490
``county.toml``           name, base year and ``coords = "gcj02"``
========================  ====================================================================

API
---
``write_raw_county(folder, *, without=(), township_names=False, gcj02=True, coords_in_toml=True,
roads=True) -> Path`` writes the county and returns ``folder``. ``without`` names optional
columns to leave out, as ``"layer.column"`` with canonical column names (every key of
:data:`RAW_OPTIONAL`). ``truth()`` returns the demo layers shifted into China (WGS-84), to
compare a load with. Building takes about 3 s; the demo layers are read once per process.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from conftest import DEMO

__all__ = ["DLAT", "DLON", "RAW_OPTIONAL", "TOWNSHIP_NAMES", "truth", "write_raw_county"]

#: Shift of every demo coordinate, degrees (Yuba County → Henan).
DLON, DLAT = 235.62, -6.08
#: Chinese names of the demo's townships T01–T10 (T01 is the county seat).
TOWNSHIP_NAMES = ("城关镇", "麦田镇", "河口镇", "柳林镇", "杨庄乡", "石桥乡", "白沙乡", "马营乡", "青山乡", "龙泉乡")
#: Optional columns that ``without`` may leave out (canonical name → the header written).
RAW_OPTIONAL: dict[str, str] = {
    "schools.status": "办学状态",
    "schools.township_id": "所属乡镇",
    "schools.classes": "班级数",
    "schools.capacity_seats": "学位数",
    "schools.teachers": "专任教师数",
    "schools.boarding_beds": "寄宿床位",
    "villages.township_id": "乡镇代码",
    "villages.population": "人口",
    "townships.population": "人口",
    "births.township_id": "乡镇",
    "enrolment.classes": "班级数",
}
_LEVEL_ZH = {"kindergarten": "幼儿园", "teaching_point": "教学点", "primary": "小学", "nine_year": "九年一贯制学校",
             "junior": "初中", "senior": "高中"}
_GRADE_ZH = {("kindergarten", 1): "小班", ("kindergarten", 2): "中班", ("kindergarten", 3): "大班",
             **{("primary", g): f"{'一二三四五六'[g - 1]}年级" for g in range(1, 7)},
             **{("junior", g): f"初{'一二三'[g - 7]}" for g in (7, 8, 9)},
             **{("senior", g): f"高{'一二三'[g - 10]}" for g in (10, 11, 12)}}
_ROAD_CLASS = {"motorway": "高速公路", "motorway_link": "高速公路", "trunk": "国道", "trunk_link": "国道",
               "primary": "省道", "primary_link": "省道", "secondary": "县道", "secondary_link": "县道",
               "tertiary": "乡道", "tertiary_link": "乡道", "unclassified": "村道", "road": "村道",
               "residential": "支路", "living_street": "街巷", "track": "机耕路"}
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田"
_PLACES = ("庄", "营", "寨", "集", "店", "湾", "岗", "洼", "楼", "桥")


def _shift(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = gdf.to_crs(4326)
    return out.set_geometry(shapely.transform(out.geometry.to_numpy(), lambda xy: xy + np.array([DLON, DLAT])),
                            crs=4326)


@functools.cache
def _demo() -> dict[str, Any]:
    """The demo county's layers (as loaded, WGS-84) and its roads, shifted into China."""
    import pyogrio

    from schoolplan.county import load_county

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        county = load_county(DEMO)
    layers = {n: _shift(getattr(county, n)) for n in ("schools", "villages", "townships")}
    roads = pyogrio.read_dataframe(DEMO / "roads.osm.pbf", layer="lines", columns=["highway", "name"])
    roads = roads[roads["highway"].isin(list(_ROAD_CLASS))].reset_index(drop=True)
    layers["roads"] = _shift(roads)
    layers["births"] = county.births.copy()
    layers["enrolment"] = county.enrolment.copy()
    return layers


def truth() -> dict[str, Any]:
    """Copies of the demo layers shifted into China (WGS-84 geometry, canonical columns)."""
    return {k: v.copy() for k, v in _demo().items()}


def _village_names(n: int) -> list[str]:
    names = []
    for i in range(n):
        s = _SURNAMES[i % len(_SURNAMES)]
        p = _PLACES[(i // len(_SURNAMES)) % len(_PLACES)]
        names.append(f"{s}{p}村" if i < len(_SURNAMES) * len(_PLACES) else f"{s}{p}{i}村")
    return names


def write_raw_county(folder: Path, *, without: Iterable[str] = (), township_names: bool = False, gcj02: bool = True,
                     coords_in_toml: bool = True, roads: bool = True) -> Path:
    """Write the raw-input county into ``folder`` (created) and return it.

    Parameters
    ----------
    folder
        Where to write.
    without
        Optional columns to leave out (keys of :data:`RAW_OPTIONAL`, e.g. ``"schools.capacity_seats"``).
    township_names
        Name townships by name (麦田镇) instead of id in the schools and births tables.
    gcj02
        Write school coordinates in GCJ-02 (as copied from Gaode); False writes WGS-84.
    coords_in_toml
        Write ``coords = "gcj02"`` into county.toml when ``gcj02``.
    roads
        Write ``道路.shp``.
    """
    drop = set(without)
    unknown = drop - set(RAW_OPTIONAL)
    assert not unknown, f"not optional in the raw county: {unknown}"
    demo = _demo()
    folder.mkdir(parents=True, exist_ok=True)
    tw = demo["townships"]
    tw_name = dict(zip(tw.index, TOWNSHIP_NAMES, strict=True))
    ref = (lambda t: tw_name.get(t, t)) if township_names else (lambda t: t)

    # schools: GBK CSV, Chinese headers and labels, GCJ-02 lon/lat
    s = demo["schools"]
    lon, lat = s.geometry.x.to_numpy(), s.geometry.y.to_numpy()
    if gcj02:
        from schoolplan.coords import wgs84_to_gcj02

        lon, lat = wgs84_to_gcj02(lon, lat)
    counter: dict[tuple[str, str], int] = {}
    names = []
    for t, lv in zip(s["township_id"], s["level"], strict=True):
        counter[(t, lv)] = counter.get((t, lv), 0) + 1
        names.append(f"{tw_name[t]}{_LEVEL_ZH[lv]}{counter[(t, lv)]:02d}")
    schools = pd.DataFrame({
        "学校代码": s.index.to_numpy(), "学校名称": names, "学段": s["level"].map(_LEVEL_ZH),
        "办学状态": s["status"].map({"open": "在办", "closed": "撤并"}), "所属乡镇": s["township_id"].map(ref),
        "班级数": s["classes"], "在校生数": s["students"], "学位数": s["capacity_seats"],
        "专任教师数": s["teachers"], "寄宿床位": s["boarding_beds"],
        "经度": np.round(lon, 6), "纬度": np.round(lat, 6)})
    schools = schools.drop(columns=[RAW_OPTIONAL[k] for k in drop if k.startswith("schools.")])
    schools.to_csv(folder / "学校.csv", index=False, encoding="gbk")

    # villages and townships: GBK shapefiles without .cpg, EPSG:4547
    v = demo["villages"]
    villages = gpd.GeoDataFrame({"村代码": v.index.to_numpy(), "村名": _village_names(len(v)),
                                 "乡镇代码": v["township_id"].to_numpy(), "人口": v["population"].to_numpy()},
                                geometry=v.geometry.to_numpy(), crs=4326)
    for a in range(18):
        villages[f"{a}岁"] = v[f"age_{a}"].to_numpy()
    villages = villages.drop(columns=[RAW_OPTIONAL[k] for k in drop if k.startswith("villages.")])
    towns = gpd.GeoDataFrame({"乡镇代码": tw.index.to_numpy(), "乡镇名称": list(TOWNSHIP_NAMES),
                              "是否县城": np.where(tw["is_county_seat"], "是", "否"),
                              "人口": tw["population"].to_numpy()}, geometry=tw.geometry.to_numpy(), crs=4326)
    towns = towns.drop(columns=[RAW_OPTIONAL[k] for k in drop if k.startswith("townships.")])
    for frame, stem in ((villages, "村庄人口"), (towns, "乡镇界")):
        frame.to_crs(4547).to_file(folder / f"{stem}.shp", encoding="gbk", engine="pyogrio")
        (folder / f"{stem}.cpg").unlink(missing_ok=True)

    # births: XLSX, townships by id or name
    b = demo["births"]
    births = pd.DataFrame({"年份": b["year"], "乡镇": b["township_id"].map(ref), "出生人口": b["births"]})
    if "births.township_id" in drop:
        births = births.groupby("年份", as_index=False)["出生人口"].sum()
    births.to_excel(folder / "出生人口.xlsx", index=False)

    # enrolment: a notes sheet first, Chinese grade labels
    e = demo["enrolment"]
    enrol = pd.DataFrame({"学年": e["year"], "学校代码": e["school_id"],
                          "年级": [_GRADE_ZH[(lv, int(g))] for lv, g in zip(e["level"], e["grade"], strict=True)],
                          "在校生数": e["students"], "班级数": e["classes"]})
    if "enrolment.classes" in drop:
        enrol = enrol.drop(columns=["班级数"])
    with pd.ExcelWriter(folder / "分年级在校生.xlsx", engine="openpyxl") as xw:
        pd.DataFrame({"说明": ["本表为各学校分年级在校生数（教育事业统计）", "单位：人", "数据来源：县教育局"]}).to_excel(
            xw, sheet_name="说明", index=False)
        enrol.to_excel(xw, sheet_name="在校生", index=False)

    if roads:
        r = demo["roads"]
        lines = gpd.GeoDataFrame({"道路等级": r["highway"].map(_ROAD_CLASS), "道路名称": r["name"].fillna("")},
                                 geometry=r.geometry.to_numpy(), crs=4326).to_crs(4490)
        lines.to_file(folder / "道路.shp", encoding="gbk", engine="pyogrio")
    toml = ['name_zh = "麦田县"', 'name_en = "Maitian County (test)"', "base_year = 2024"]
    if gcj02 and coords_in_toml:
        toml.append('coords = "gcj02"')
    (folder / "county.toml").write_text("\n".join(toml) + "\n", encoding="utf-8")
    return folder
