"""Write the small synthetic Chinese road layer used by tests/test_network.py.

cn_roads.gpkg (layer "roads", EPSG:4490 CGCS2000 lon/lat) and cn_roads_gbk.shp —
the same rows written in GBK *without* a .cpg file, as bureau shapefiles often are.
Coordinates are an invented network near 111.5°E 33.0°N (no real roads).
Run: .venv/bin/python tests/data/network/_tools/make_cn_roads.py
"""

from pathlib import Path

import geopandas as gpd
from shapely.geometry import LineString

OUT = Path(__file__).resolve().parents[1]
LON0, LAT0 = 111.50, 33.00
KX, KY = 1 / 93.4, 1 / 110.9  # degrees per km at 33°N


def ll(*pts_km: tuple[float, float]) -> LineString:
    return LineString([(LON0 + x * KX, LAT0 + y * KY) for x, y in pts_km])


ROWS = [
    # 道路名称, 道路等级, 设计速度, 单行, 急弯陡坡, geometry (km)
    ("国道207", "国道", None, "否", "否", ll((0, 0), (2, 0), (3, 0), (5, 0))),
    ("国道207", "国道", None, "否", "否", ll((5, 0), (7, 0), (9, 0))),
    ("国道207", "国道", None, "否", "否", ll((9, 0), (10, 0))),
    ("G55二广高速", "高速公路", None, "否", "否", ll((0, -2), (5, -2), (10, -2))),
    ("高速连接线", "县道", None, "否", "否", ll((0, -2), (0, 0))),
    ("高速连接线", "县道", None, "否", "否", ll((10, -2), (10, 0))),
    ("省道311", "省道", 40, "否", "否", ll((5, 0), (5, 2), (5, 4))),
    ("省道311", "省道", 40, "否", "否", ll((5, 4), (5, 6), (5, 8))),
    ("县道X012", "县道", None, "否", "否", ll((5, 4), (7, 4), (9, 4))),
    ("乡道Y003", "乡道", None, "否", "否", ll((9, 4), (9, 2), (9, 0))),
    ("村道C101", "村道", None, "否", "是", ll((5, 8), (4, 8.6), (3, 9), (2, 8.6), (1, 8))),
    ("单行村道", "村道", None, "是", "否", ll((2, 0), (2, 2), (3, 2), (3, 0))),
    ("孤立村道", "村道", None, "否", "否", ll((12, 10), (12.5, 10.2), (13, 10))),
]


def main() -> None:
    gdf = gpd.GeoDataFrame(
        {"道路名称": [r[0] for r in ROWS], "道路等级": [r[1] for r in ROWS],
         "设计速度": [r[2] for r in ROWS], "单行": [r[3] for r in ROWS], "急弯陡坡": [r[4] for r in ROWS]},
        geometry=[r[5] for r in ROWS], crs="EPSG:4490",
    )
    gpkg = OUT / "cn_roads.gpkg"
    gpkg.unlink(missing_ok=True)
    gdf.to_file(gpkg, layer="roads", driver="GPKG", engine="pyogrio")
    shp = OUT / "cn_roads_gbk.shp"
    for f in OUT.glob("cn_roads_gbk.*"):
        f.unlink()
    gdf.to_file(shp, driver="ESRI Shapefile", engine="pyogrio", encoding="GBK")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    raw = shp.with_suffix(".dbf").read_bytes()
    assert "国道207".encode("gbk") in raw, "DBF is not GBK"
    print(sorted(p.name for p in OUT.glob("cn_roads*")))


if __name__ == "__main__":
    main()
