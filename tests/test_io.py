"""Readers: encodings, spreadsheets with merged headers, shapefiles with and without .cpg, atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
from shapely.geometry import Point

from schoolplan import io
from schoolplan.errors import CrsError, EncodingError, InputFileError, SchemaError

ZH = pd.DataFrame({"学校名称": ["城关一小", "河口小学"], "在校生数": ["1300", "40"],
                   "经度": [111.55, 111.65], "纬度": [33.05, 33.05]})


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings_detected(tmp_path: Path, encoding: str) -> None:
    p = tmp_path / "s.csv"
    ZH.to_csv(p, index=False, encoding=encoding)
    df = io.read_table(p)
    assert list(df.columns) == list(ZH.columns)
    assert df["学校名称"].tolist() == ["城关一小", "河口小学"]


def test_detect_encoding_gbk_bytes() -> None:
    assert io.detect_encoding("河口小学".encode("gbk")) == "gb18030"
    assert io.detect_encoding("河口小学".encode()) == "utf-8-sig"


def test_mojibake_is_reported(tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    # UTF-8 bytes decoded as Latin-1 and saved again: the classic mojibake
    garbled = ZH.copy()
    garbled["学校名称"] = [s.encode("utf-8").decode("latin-1") for s in garbled["学校名称"]]
    garbled.to_csv(p, index=False, encoding="utf-8")
    with pytest.raises(EncodingError, match="garbled"):
        io.read_table(p)


def test_empty_csv(tmp_path: Path) -> None:
    p = tmp_path / "empty.csv"
    p.write_text("")
    with pytest.raises(InputFileError, match="empty"):
        io.read_table(p)


def test_xlsx_with_merged_header_rows(tmp_path: Path) -> None:
    p = tmp_path / "stats.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["基本情况", None, "在校生", None])
    ws.append(["学校名称", "学段", "在校生数", "班级数"])
    ws.merge_cells("A1:B1")
    ws.merge_cells("C1:D1")
    ws.append(["城关一小", "小学", 1300, 24])
    ws.append(["河口小学", "教学点", 40, 3])
    wb.save(p)
    df = io.read_table(p)
    assert list(df.columns) == ["学校名称", "学段", "在校生数", "班级数"]
    assert len(df) == 2 and df.iloc[0]["学校名称"] == "城关一小"


def test_xlsx_missing_sheet(tmp_path: Path) -> None:
    p = tmp_path / "s.xlsx"
    ZH.to_excel(p, index=False)
    with pytest.raises(InputFileError, match="sheet 'nope' not found"):
        io.read_table(p, sheet="nope")


def test_points_from_lonlat_and_offsets(tmp_path: Path) -> None:
    p = tmp_path / "s.csv"
    ZH.to_csv(p, index=False)
    wgs = io.read_layer(p)
    gcj = io.read_layer(p, coords="gcj02")
    assert wgs.crs.to_epsg() == 4326
    # GCJ-02 input is shifted back to WGS-84 by a few hundred metres
    shift = wgs.to_crs(4546).distance(gcj.to_crs(4546))
    assert ((shift > 100) & (shift < 1000)).all()
    assert io.read_layer(p, coords="cgcs2000").crs.to_epsg() == 4490


def test_lonlat_swapped_and_missing(tmp_path: Path) -> None:
    swapped = ZH.rename(columns={"经度": "纬度", "纬度": "经度"})
    with pytest.raises(SchemaError, match="swapped"):
        io.points_from_lonlat(swapped, file="s.csv")
    missing = ZH.copy()
    missing.loc[1, "经度"] = None
    with pytest.raises(SchemaError, match="missing or not numbers") as err:
        io.points_from_lonlat(missing, file="s.csv")
    assert err.value.rows == [2]
    with pytest.raises(SchemaError, match="no coordinates"):
        io.points_from_lonlat(ZH.drop(columns=["经度", "纬度"]), file="s.csv")


def test_unknown_coords_system() -> None:
    with pytest.raises(CrsError, match="unknown coordinate system"):
        io.points_from_lonlat(ZH, file="s.csv", coords="beijing54")


def _shapefile(tmp_path: Path, *, encoding: str, cpg: bool) -> Path:
    gdf = gpd.GeoDataFrame({"name": ["城关一小", "河口小学"]},
                           geometry=[Point(111.55, 33.05), Point(111.65, 33.05)], crs=4490)
    p = tmp_path / "schools.shp"
    gdf.to_file(p, encoding=encoding, engine="pyogrio")
    if not cpg:
        p.with_suffix(".cpg").unlink(missing_ok=True)
    return p


def test_shapefile_gbk_without_cpg(tmp_path: Path) -> None:
    p = _shapefile(tmp_path, encoding="gbk", cpg=False)
    assert not p.with_suffix(".cpg").exists()
    gdf = io.read_layer(p)
    assert gdf["name"].tolist() == ["城关一小", "河口小学"]


def test_shapefile_with_cpg(tmp_path: Path) -> None:
    p = _shapefile(tmp_path, encoding="utf-8", cpg=True)
    assert io.read_layer(p)["name"].tolist() == ["城关一小", "河口小学"]


def test_layer_without_crs(tmp_path: Path) -> None:
    p = tmp_path / "nocrs.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[Point(1, 2)]).to_file(p)
    with pytest.raises(CrsError, match="no coordinate reference system"):
        io.read_layer(p)


def test_geojson_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "v.geojson"
    gpd.GeoDataFrame({"name": ["村"]}, geometry=[Point(111.5, 33)], crs=4326).to_file(p, driver="GeoJSON")
    assert io.read_layer(p)["name"].tolist() == ["村"]
    with pytest.raises(InputFileError, match="file not found"):
        io.read_layer(tmp_path / "nope.gpkg")


def test_corrupt_gpkg(tmp_path: Path) -> None:
    p = tmp_path / "broken.gpkg"
    p.write_bytes(b"not a geopackage")
    with pytest.raises(InputFileError, match="cannot read the layer"):
        io.read_layer(p)


def test_atomic_file_keeps_old_on_error(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), io.atomic_file(target, mode="w") as fh:
        fh.write("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_dir_replaces_only_on_success(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with io.atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("1")
    assert (out / "a.txt").read_text() == "1"
    with pytest.raises(KeyboardInterrupt), io.atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("2")
        raise KeyboardInterrupt
    assert (out / "a.txt").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_atomic_dir_refuses_nonempty_without_overwrite(tmp_path: Path) -> None:
    from schoolplan.errors import OutputError

    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(OutputError, match="not empty"), io.atomic_dir(out, overwrite=False):
        pass
    assert (out / "keep.txt").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_atomic_dir_not_writable(tmp_path: Path) -> None:  # pragma: no cover - CI runs as root
    from schoolplan.errors import OutputError

    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    with pytest.raises(OutputError, match="cannot be written"), io.atomic_dir(ro / "out"):
        pass


def test_write_gpkg_layers_roundtrip(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"name": ["村"], "tags": [["a", "b"]]}, geometry=[Point(111.5, 33)], crs=4326)
    table = pd.DataFrame({"year": [2024], "births": [10]})
    p = io.write_gpkg({"villages": gdf, "births": table}, tmp_path / "o.gpkg")
    assert set(io.list_layers(p)) == {"villages", "births"}
    back = gpd.read_file(p, layer="births")
    assert int(back["births"].iloc[0]) == 10
