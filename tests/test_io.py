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


# --------------------------------------------------------------------------- text as people send it (issue 21)
def test_utf16_and_bom_detected(tmp_path: Path) -> None:
    p = tmp_path / "s.txt"
    p.write_bytes(ZH.to_csv(index=False, sep="\t").encode("utf-16"))
    assert io.read_table(p)["学校名称"].tolist() == ["城关一小", "河口小学"]
    assert io.detect_encoding("a,b\n".encode("utf-16-le")) == "utf-16-le"  # no BOM: NUL bytes tell
    assert io.detect_encoding(b"\xef\xbb\xbfa,b\n") == "utf-8-sig"


def test_blank_rows_and_unnamed_blank_columns_dropped(tmp_path: Path) -> None:
    p = tmp_path / "s.csv"
    p.write_text(ZH.to_csv(index=False).replace("\n", ",\n") + ",,,,\n,,,,\n", encoding="utf-8")
    df = io.read_table(p)
    assert list(df.columns) == list(ZH.columns) and len(df) == 2
    assert df.attrs["empty_rows_dropped"] == 2


def test_mojibake_names_the_encoding() -> None:
    from schoolplan._text import explain_mojibake

    gbk_latin = explain_mojibake("河口小学".encode("gbk").decode("latin-1"))
    assert gbk_latin is not None and gbk_latin.encoding == "GBK/GB18030" and gbk_latin.repaired == "河口小学"
    utf8_gbk = explain_mojibake("河口初中".encode().decode("gbk"))
    assert utf8_gbk is not None and utf8_gbk.read_as == "GBK" and not utf8_gbk.latin
    for fine in ("城关一小", "Marysville镇", "café", "垴坨峪岙村", "São Paulo"):
        assert explain_mojibake(fine) is None, fine


def _workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
    wb.save(path)
    return path


def test_sheet_choice_by_columns(tmp_path: Path) -> None:
    rows = [list(ZH.columns), *ZH.astype(object).values.tolist()]
    p = _workbook(tmp_path / "s.xlsx", {"说明": [["本表说明"], ["单位：人"]], "数据": rows})
    df = io.read_table(p, expect="schools")
    assert df.attrs["sheet"] == "数据" and df.attrs["sheets"] == ["说明", "数据"] and len(df) == 2
    tied = _workbook(tmp_path / "t.xlsx", {"2023": rows, "2024": rows})
    with pytest.raises(InputFileError, match="several sheets hold schools data"):
        io.read_table(tied, expect="schools")
    assert io.read_table(tied, expect="schools", sheet="2024").attrs["sheet"] == "2024"


def test_title_row_above_header(tmp_path: Path) -> None:
    rows = [["XX县2024年学校基本情况表", None, None, None], list(ZH.columns), *ZH.astype(object).values.tolist()]
    df = io.read_table(_workbook(tmp_path / "s.xlsx", {"Sheet1": rows}))
    assert list(df.columns) == list(ZH.columns) and len(df) == 2


def test_formulas_without_values_named(tmp_path: Path) -> None:
    rows = [["学校名称", "在校生数", "备注"], ["城关一小", "=2*650", "=A2"], ["河口小学", 40, None]]
    p = _workbook(tmp_path / "s.xlsx", {"Sheet1": rows})
    with pytest.raises(InputFileError, match="formulas without saved values") as err:
        io.read_table(p, expect="schools")
    assert list(err.value.rows) == ["B2"] and err.value.column == "在校生数"
    only_notes = _workbook(tmp_path / "n.xlsx", {"Sheet1": [["学校名称", "在校生数", "备注"], ["城关一小", 1300, "=A2"]]})
    df = io.read_table(only_notes, expect="schools")  # a formula in a column not used: read, and noted
    assert df.attrs["formulas_without_values"] == {"备注": ["C2"]}


def test_archive_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zipfile

    p = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", b"0" * (2 * 2**20))
    assert p.stat().st_size < 20_000
    with pytest.raises(InputFileError, match="unpacks to 2.0 MB, more than the 1.0 MB allowed"):
        io.check_archive(p, max_bytes=2**20)
    monkeypatch.setenv("SCHOOLPLAN_MAX_UNPACKED_MB", "1")
    with pytest.raises(InputFileError, match="unpacks to"):
        io.read_table(p)
    (tmp_path / "not.xlsx").write_bytes(b"PK\x03\x04 nope")
    with pytest.raises(InputFileError, match="not a valid zip-based file"):
        io.check_archive(tmp_path / "not.xlsx")


def test_fullwidth_coordinates(tmp_path: Path) -> None:
    df = ZH.astype(object).assign(经度=["１１１．５５", "111.65"])
    gdf = io.points_from_lonlat(df, file="s.csv")
    assert gdf.geometry.x.tolist() == pytest.approx([111.55, 111.65])


# --------------------------------------------------------------------------- safe outputs and limits
@pytest.mark.parametrize(("value", "want"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-1+2", "'-1+2"), ("@A1", "'@A1"),
    ("\tx", "'\tx"), ("城关一小", "城关一小"), ("a\x01b", "a\ufffdb"), (-5, -5), (3.5, 3.5), (None, None)])
def test_safe_cell_value(value: object, want: object) -> None:
    assert io.safe_cell_value(value) == want


def test_memory_limits_cgroup_v1_and_v2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    v2 = tmp_path / "v2"
    (v2 / "app").mkdir(parents=True)
    (v2 / "cgroup.controllers").write_text("memory")
    (v2 / "app" / "memory.max").write_text(str(3 * 2**30))
    (v2 / "app" / "memory.current").write_text(str(2**30))
    (v2 / "memory.max").write_text("max")
    monkeypatch.setattr(io, "CGROUP_ROOT", v2)
    monkeypatch.setattr(io, "_cgroup_paths", lambda: [("v2", "/app")])
    assert io.cgroup_memory_available() == 2 * 2**30
    v1 = tmp_path / "v1"
    (v1 / "memory" / "job").mkdir(parents=True)
    (v1 / "memory" / "job" / "memory.limit_in_bytes").write_text(str(2**30))
    (v1 / "memory" / "job" / "memory.usage_in_bytes").write_text(str(2**28))
    (v1 / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712")  # "no limit"
    monkeypatch.setattr(io, "CGROUP_ROOT", v1)
    monkeypatch.setattr(io, "_cgroup_paths", lambda: [("v1", "/job")])
    assert io.cgroup_memory_available() == 3 * 2**28
    limits = io.memory_limits()
    assert limits["cgroup"] == 3 * 2**28 and io.available_memory() <= 3 * 2**28


def test_rlimit_as_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource
    from types import SimpleNamespace

    import psutil

    monkeypatch.setattr(resource, "getrlimit", lambda _r: (4 * 2**30, resource.RLIM_INFINITY))
    monkeypatch.setattr(psutil, "Process", lambda *_a: SimpleNamespace(memory_info=lambda: SimpleNamespace(vms=2**30)))
    assert io.rlimit_memory_available() == 3 * 2**30
    from schoolplan.errors import ResourceError

    with pytest.raises(ResourceError, match="address-space limit"):
        io.check_memory(3.5 * 2**30, what="a test", fix="none")


def test_disk_full_becomes_output_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from schoolplan.errors import OutputError

    with pytest.raises(OutputError, match="the disk is full") as err, io.atomic_dir(tmp_path / "out") as tmp:
        (tmp / "a.txt").write_text("x")
        raise OSError(28, "No space left on device")
    assert isinstance(err.value, OSError) and sorted(p.name for p in tmp_path.iterdir()) == []
    assert io.disk_full(RuntimeError("sqlite3: database or disk is full"), tmp_path)
    assert not io.disk_full(RuntimeError("disk full"), tmp_path)  # a stand-in text is not the C library's
    monkeypatch.setattr(io, "_free_bytes", lambda _f: 1000)
    assert io.disk_full(RuntimeError("GDAL: write failed"), tmp_path)  # any failure with the disk at 0 MB free


def test_errors_are_builtin_errors_too() -> None:
    from schoolplan import errors as e

    pairs = [(e.SchemaError, ValueError), (e.NonUniqueIdError, ValueError), (e.ConfigError, ValueError),
             (e.CrsError, ValueError), (e.InputFileError, OSError), (e.MissingFileError, FileNotFoundError),
             (e.EncodingError, ValueError), (e.OutputError, OSError), (e.ResourceError, MemoryError),
             (e.InfeasibleError, RuntimeError), (e.NetworkError, ValueError), (e.OptimizationError, ValueError)]
    for cls, builtin in pairs:
        err = cls("what", file="f.csv", column="c", rows=[1], fix="how")
        assert isinstance(err, builtin) and isinstance(err, e.SchoolplanError), cls
        assert str(err) == "what [file 'f.csv', column 'c', rows 1]. Fix: how"
        import pickle

        assert str(pickle.loads(pickle.dumps(err))) == str(err)
    try:
        raise e.MissingFileError("county path not found", file="x")
    except FileNotFoundError as caught:
        assert "county path not found" in str(caught)
