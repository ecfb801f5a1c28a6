"""Bad and awkward inputs at every entry point: what the user sees, and how to fix it.

Every case is registered with :func:`case` and carries ``(case_id, entry point, input,
what you see, key fragment, fix)``. The table ``docs/bad_inputs.md`` is generated from
the registry (``python tests/test_bad_inputs.py > docs/bad_inputs.md``) and
:func:`test_doc_lists_every_case` keeps the two in sync.

Inputs are generated from the tiny county of ``conftest.py`` (plus a road grid, see
``tests/bad_inputs/``), so nothing large is committed. Errors are checked for their type,
their key fragment, the file/column/rows they name and a ``Fix:``; the command line is
checked to print them without a traceback and to exit with code 2.
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import CRS
from shapely.geometry import Point, box

from bad_inputs import road_grid, write_county, write_scenario
from conftest import (
    DEMO,
    ROOT,
    births_table,
    enrolment_table,
    schools_table,
    township_frame,
    villages_frame,
)
from schoolplan import coords
from schoolplan.cli import SUPPORT, main
from schoolplan.county import County, load_county
from schoolplan.errors import DataWarning, SchoolplanError, UnreachableWarning

DOC = ROOT / "docs" / "bad_inputs.md"
SCHOOLS_XLSX = "学校.xlsx"


# =========================================================================== the registry
@dataclass(frozen=True)
class Case:
    """One bad or awkward input.

    Attributes
    ----------
    id
        Stable case id (used in ``docs/bad_inputs.md``).
    entry
        Entry point (``load_county``, ``network``, ``forecast``, ``consolidate``,
        ``reserve``, ``scenario``, ``cli``, ``outputs``).
    given
        The input, in a few words.
    expect
        What the user sees: an error type, a warning type, ``loads`` or an exit code.
    fragment
        Key fragment of the message.
    fix
        How to fix it (for the table).
    run
        The check.
    """

    id: str
    entry: str
    given: str
    expect: str
    fragment: str
    fix: str
    run: Callable[[Ctx, Case], None]


@dataclass
class Ctx:
    """What a case may use: a temporary folder and pytest's capture and monkeypatch."""

    tmp: Path
    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch

    def county(self, name: str = "c", *, roads: bool = True) -> Path:
        """A fresh tiny county with roads (``roads.gpkg``)."""
        return write_county(self.tmp / name, roads=roads)


CASES: dict[str, Case] = {}


def case(id: str, entry: str, given: str, expect: str, fragment: str, fix: str
         ) -> Callable[[Callable[[Ctx, Case], None]], Callable[[Ctx, Case], None]]:
    """Register a case (the decorated function runs the check)."""

    def deco(fn: Callable[[Ctx, Case], None]) -> Callable[[Ctx, Case], None]:
        assert id not in CASES, id
        CASES[id] = Case(id, entry, given, expect, fragment, fix, fn)
        return fn

    return deco


# =========================================================================== helpers
def raises(c: Case, fn: Callable[[], Any], *, file: str | None = None, column: str | None = None,
           rows: list[Any] | None = None, layer: str | None = None) -> SchoolplanError:
    """Run ``fn`` and check the typed error: type, fragment, fix, and where it points."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(SchoolplanError) as info:
            fn()
    err = info.value
    text = str(err)
    assert type(err).__name__ == c.expect, f"{type(err).__name__}: {text}"
    assert c.fragment in text, text
    assert err.fix and "Fix:" in text, text
    if file is not None:
        assert err.file and Path(err.file).name == file, text
        assert file in text
    if column is not None:
        assert err.column == column, text
    if rows is not None:
        assert list(err.rows) == rows, text
    if layer is not None:
        assert err.layer == layer, text
    return err


def warns(c: Case, fn: Callable[[], Any], category: type[Warning] = DataWarning) -> Any:
    """Run ``fn`` and check that it warns with the case's fragment; return its result."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    texts = [str(w.message) for w in caught if issubclass(w.category, category)]
    assert any(c.fragment in t for t in texts), texts
    return out


def cli(ctx: Ctx, c: Case, argv: list[str], *, code: int = 2) -> str:
    """Run the CLI in-process: exit code, the fragment on stderr, no traceback."""
    ctx.capsys.readouterr()
    assert main(argv) == code
    err = ctx.capsys.readouterr().err
    assert "Traceback" not in err, err
    assert c.fragment in err, err
    if code == 2:
        assert "error:" in err and "Fix:" in err, err
    return err


def cli_shows(ctx: Ctx, c: Case, err: SchoolplanError) -> None:
    """An API error reaches the CLI user as one line and exit code 2 (``info`` raising it)."""
    import schoolplan.county

    def boom(*_a: Any, **_k: Any) -> None:
        raise err

    with ctx.monkeypatch.context() as mp:
        mp.setattr(schoolplan.county, "load_county", boom)
        cli(ctx, c, ["info", str(ctx.tmp), "--no-roads"])


def set_schools(folder: Path, df: pd.DataFrame, name: str = SCHOOLS_XLSX) -> None:
    for p in folder.glob("学校.*"):
        p.unlink()
    if name.endswith(".csv"):
        df.to_csv(folder / name, index=False)
    else:
        df.to_excel(folder / name, index=False)


def set_layer(folder: Path, name: str, gdf: gpd.GeoDataFrame) -> None:
    (folder / f"{name}.gpkg").unlink(missing_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pyogrio's note on layers without a CRS
        gdf.to_file(folder / f"{name}.gpkg", driver="GPKG")


def schools() -> pd.DataFrame:
    """The tiny county's school list (as written by ``write_county``)."""
    return schools_table().assign(学位数=[1350, 120, 450, 180])


def small_memory(ctx: Ctx, gb: float) -> None:
    """Pretend the machine has ``gb`` GB of available memory."""
    import psutil

    ctx.monkeypatch.setattr(psutil, "virtual_memory", lambda: SimpleNamespace(available=int(gb * 2**30)))


def sparse(path: Path, size: int) -> None:
    """Make ``path`` a sparse file of ``size`` bytes (big on paper, nothing on disk)."""
    with open(path, "r+b" if path.exists() else "wb") as fh:
        fh.truncate(size)


def metric_county(n_villages: int = 3) -> County:
    """A hand-made county in metres for engine-level cases (no files)."""
    crs = CRS.from_epsg(4546)
    v = gpd.GeoDataFrame({"name": [f"村{i}" for i in range(n_villages)], "township_id": "T1", "population": 500},
                         geometry=[Point(500000 + 1000 * i, 3650000) for i in range(n_villages)], crs=crs,
                         index=pd.Index([f"V{i}" for i in range(n_villages)], name="village_id"))
    for a in range(18):
        v[f"age_{a}"] = 10
    s = gpd.GeoDataFrame({"name": ["一小", "二小"], "level": ["primary", "primary"], "township_id": "T1",
                          "status": "open", "students": [300, 200], "classes": [6, 6], "is_central": [True, False]},
                         geometry=[Point(500000, 3651000), Point(502000, 3651000)], crs=crs,
                         index=pd.Index(["S1", "S2"], name="school_id"))
    t = gpd.GeoDataFrame({"name": ["城关镇"], "is_county_seat": [True]},
                         geometry=[box(499000, 3640000, 510000, 3660000)], crs=crs,
                         index=pd.Index(["T1"], name="township_id"))
    empty = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=crs))
    return County(name="测试县", crs=crs, schools=s, villages=v, townships=t,
                  births=pd.DataFrame({"year": [2024], "births": [100]}),
                  enrolment=pd.DataFrame(columns=["year", "school_id", "level", "grade", "students"]),
                  zones=empty, sites=empty.rename_axis("site_id"), developments=empty, base_year=2024)


def minutes(county: County, value: Any = 10.0) -> pd.DataFrame:
    """A village × open-school matrix filled with ``value``."""
    return pd.DataFrame(value, index=county.villages.index, columns=county.schools.index)


def forecast_enrolment() -> pd.DataFrame:
    return pd.DataFrame([{"zone": "T1", "level": "primary", "year": y, "grade": g, "students": 100 + g}
                         for y in (2022, 2023, 2024) for g in range(1, 7)])


def forecast_births() -> pd.DataFrame:
    return pd.DataFrame({"zone": "T1", "year": range(2010, 2025), "births": [120] * 15})


# =========================================================================== load_county and readers
@case("missing_crs", "load_county", "villages.gpkg without a coordinate reference system", "CrsError",
      "the layer has no coordinate reference system",
      "define the CRS in QGIS (e.g. EPSG:4490 CGCS2000) or ship the shapefile's .prj")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_layer(f, "villages", villages_frame().set_crs(None, allow_override=True))
    raises(c, lambda: load_county(f), file="villages.gpkg")
    cli(ctx, c, ["info", str(f), "--no-roads"])


@case("lonlat_swapped", "load_county", "经度/纬度 columns swapped in 学校.xlsx", "SchemaError",
      "longitude and latitude look swapped", "swap the two columns (the message names them)")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_schools(f, schools().rename(columns={"经度": "纬度", "纬度": "经度"}))
    raises(c, lambda: load_county(f), file=SCHOOLS_XLSX, column="纬度", rows=[1, 2, 3, 4])
    cli(ctx, c, ["info", str(f), "--no-roads"])


@case("lonlat_swapped_west", "read_layer", "lon/lat swapped in western China (both values below 90)",
      "DataWarning", "fall in China only if longitude and latitude are swapped",
      "swap the longitude and latitude columns")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.io import read_layer

    p = ctx.tmp / "kashgar.csv"
    pd.DataFrame({"name": ["一小", "二小"], "lon": [39.47, 39.5], "lat": [75.99, 76.0]}).to_csv(p, index=False)
    gdf = warns(c, lambda: read_layer(p))
    assert len(gdf) == 2


@case("gcj02_as_wgs84", "scenario run, info", "schools and villages copied from Gaode (GCJ-02) but labelled WGS-84",
      "DataWarning", 'look like GCJ-02 (Gaode/Tencent web-map) coordinates labelled WGS-84',
      'load with coords="gcj02" (scenario: coords = "gcj02"; CLI: --coords gcj02), or convert vector layers '
      "with schoolplan.coords.gcj02_to_wgs84")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.scenario import load_scenario, run_scenarios

    f = ctx.county()
    s = schools()
    s["经度"], s["纬度"] = coords.wgs84_to_gcj02(s["经度"], s["纬度"])
    set_schools(f, s)
    v = villages_frame()
    x, y = coords.wgs84_to_gcj02(v.geometry.x, v.geometry.y)
    set_layer(f, "villages", v.set_geometry(gpd.points_from_xy(x, y), crs=4326))
    sc = write_scenario(ctx.tmp / "s.toml", f)
    results = warns(c, lambda: run_scenarios([load_scenario(sc)]))
    assert len(results) == 1  # a warning, not an error: the plan is still drafted
    err = cli(ctx, c, ["info", str(f)], code=0)
    assert "villages" in err and "warning:" in err


@case("duplicate_ids", "load_county", "two schools with 学校代码 S1", "NonUniqueIdError", "ids are not unique: S1",
      "give every row its own id (a repeated row may be the same school entered twice)")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_schools(f, schools().assign(学校代码=["S1", "S1", "S3", "K1"]))
    raises(c, lambda: load_county(f), file=SCHOOLS_XLSX, column="school_id", rows=[1, 2])
    cli(ctx, c, ["info", str(f), "--no-roads"])


@case("missing_ids", "load_county", "a school without 学校代码", "NonUniqueIdError", "ids are missing",
      "give every row a unique id")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_schools(f, schools().assign(学校代码=["S1", None, "S3", "K1"]))
    raises(c, lambda: load_county(f), file=SCHOOLS_XLSX, column="school_id", rows=[2])
    cli(ctx, c, ["info", str(f), "--no-roads"])


@case("negative_enrolment", "load_county", "在校生数 = -5", "SchemaError", "values below 0",
      "counts cannot be negative; correct the entries named by id")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_schools(f, schools().assign(在校生数=[1300, -5, 420, 180]))
    raises(c, lambda: load_county(f), file=SCHOOLS_XLSX, column="students", rows=["S2"])
    cli(ctx, c, ["info", str(f), "--no-roads"])


@case("nan_enrolment", "load_county", "blank students in enrolment.csv", "SchemaError",
      "required values are missing", "fill in every row (0 where a grade has no pupils)")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    e = enrolment_table().astype({"students": object})
    e.loc[2, "students"] = None
    e.to_csv(f / "enrolment.csv", index=False)
    raises(c, lambda: load_county(f), file="enrolment.csv", column="students", rows=[3])
    cli(ctx, c, ["info", str(f), "--no-roads"])


@case("text_enrolment", "load_county", "在校生数 = 四十 (text)", "SchemaError", "values are not numbers (e.g. '四十')",
      "enter plain numbers without units or notes")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_schools(f, schools().astype({"在校生数": object}).assign(在校生数=[1300, "四十", 420, 180]))
    raises(c, lambda: load_county(f), file=SCHOOLS_XLSX, column="students", rows=["S2"])
    cli(ctx, c, ["info", str(f), "--no-roads"])


@case("enrolment_with_unit", "load_county", "在校生数 = 1300人 (number with a unit)", "SchemaError",
      "values are not numbers (e.g. '1300人')", "remove units and notes from number cells")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_schools(f, schools().astype({"在校生数": object}).assign(在校生数=["1300人", 40, 420, 180]))
    raises(c, lambda: load_county(f), file=SCHOOLS_XLSX, column="students", rows=["S1"])


@case("thousands_separator", "load_county", "在校生数 = \"1,300\" (thousands separator)", "loads",
      "students = 1300", "nothing to fix: separators are removed")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_schools(f, schools().astype({"在校生数": object}).assign(在校生数=["1,300", "40", "420", "180"]))
    assert load_county(f).schools.loc["S1", "students"] == 1300


@case("blank_school_enrolment", "load_county, consolidate", "在校生数 blank for an open school", "DataWarning",
      "open school(s) have no enrolment",
      "fill in the pupils; meanwhile the plan takes them from the grade register (enrolment), and applies no "
      "minimum-enrolment rule to a school that neither gives")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.consolidate import consolidate

    f = ctx.county()
    set_schools(f, schools().assign(在校生数=[1300, None, 420, 180]))
    county = warns(c, lambda: load_county(f))
    e = county.enrolment
    reg = int(e[(e["year"] == county.base_year) & (e["school_id"] == "S2")]["students"].sum())
    for mode in ("rules", "status_quo", "optimize"):  # no crash; S2's pupils come from the grade register
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plan = consolidate(county, minutes(county), mode=mode)
        assert plan.schools.loc["S2", "pupils_if_unchanged"] == reg
    # neither the schools layer nor the register gives S2's pupils: no size rule, not "0 pupils"
    county = dataclasses.replace(county, enrolment=e[e["school_id"] != "S2"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = consolidate(county, minutes(county), mode="rules")
    assert "below" not in plan.schools.loc["S2", "reason_en"]


@case("zero_classes_with_pupils", "load_county", "班级数 = 0 for a school with pupils", "DataWarning",
      "have pupils but 0 classes",
      "enter the number of classes; until then class sizes are not computed for that school (a warning, not "
      "an error, so that a plan can be drafted)")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.consolidate import consolidate

    f = ctx.county()
    set_schools(f, schools().assign(班级数=[24, 0, 9, 6]))
    county = warns(c, lambda: load_county(f))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = consolidate(county, minutes(county), mode="status_quo")
    assert np.isnan(plan.schools.loc["S2", "class_size_after"])  # not infinite, not a crash


@case("empty_sheet", "load_county", "学校.xlsx with a header row only", "SchemaError", "the layer is empty",
      "add the school rows (or point county.toml at the right file)")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_schools(f, schools().iloc[0:0])
    raises(c, lambda: load_county(f), file=SCHOOLS_XLSX, layer="schools")
    cli(ctx, c, ["info", str(f), "--no-roads"])


@case("empty_layer", "load_county", "villages.gpkg with no features", "SchemaError", "the layer is empty",
      "export the villages layer again with its features")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_layer(f, "villages", villages_frame().iloc[0:0])
    raises(c, lambda: load_county(f), file="villages.gpkg", layer="villages")


@case("empty_file", "load_county", "enrolment.csv of 0 bytes", "InputFileError", "the file is empty",
      "export the table again with a header row")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    (f / "enrolment.csv").write_bytes(b"")
    raises(c, lambda: load_county(f), file="enrolment.csv")
    cli(ctx, c, ["info", str(f), "--no-roads"])


@case("shapefile_gbk_no_cpg", "load_county", "villages.shp in GBK without a .cpg file", "loads",
      "Chinese names intact", "nothing to fix: GBK is assumed when the DBF is not UTF-8")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    (f / "villages.gpkg").unlink()
    v = villages_frame().rename(columns={"village_id": "村代码", "name": "村名", "township_id": "乡镇代码",
                                         "population": "人口"})
    v.to_file(f / "villages.shp", encoding="gbk", engine="pyogrio")
    (f / "villages.cpg").unlink(missing_ok=True)
    county = load_county(f)
    assert county.villages["name"].tolist() == [f"村{i}" for i in range(6)]


@case("mojibake_latin1", "load_county", "school names that are UTF-8 read as Latin-1 (åŸŽå…³...)", "EncodingError",
      "text looks garbled (mojibake)", "re-export the file as UTF-8 (or pass the right encoding)")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    s = schools()
    s["学校名称"] = [n.encode("utf-8").decode("latin-1") for n in s["学校名称"]]
    set_schools(f, s, "学校.csv")
    raises(c, lambda: load_county(f), file="学校.csv", column="学校名称")
    cli(ctx, c, ["info", str(f), "--no-roads"])


@case("mojibake_utf8_as_gbk", "load_county", "names that are UTF-8 read as GBK (娌冲彛鍒濅腑 for 河口初中)",
      "DataWarning", "looks like UTF-8 read as GBK", "re-export the file as UTF-8")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    s = schools().assign(学校名称=["城关一小", "鏉戝皬", "娌冲彛鍒濅腑", "城关幼儿园"])
    set_schools(f, s, "学校.csv")
    warns(c, lambda: load_county(f))


@case("xlsx_merged_header", "load_county", "学校.xlsx with a merged two-row header (基本情况 / 学校名称 ...)", "loads",
      "columns flattened", "nothing to fix: the most specific header label is used")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    s = schools()
    for p in f.glob("学校.*"):
        p.unlink()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["基本情况", None, None, None, "规模", None, None, "位置", None])
    ws.append(list(s.columns[:4]) + ["班级数", "在校生数", "学位数", "经度", "纬度"])
    ws.merge_cells("A1:D1")
    ws.merge_cells("E1:G1")
    ws.merge_cells("H1:I1")
    for row in s[[*s.columns[:4], "班级数", "在校生数", "学位数", "经度", "纬度"]].itertuples(index=False):
        ws.append(list(row))
    wb.save(f / SCHOOLS_XLSX)
    county = load_county(f)
    assert county.schools.loc["S1", "students"] == 1300 and county.schools.loc["S2", "level"] == "teaching_point"


@case("points_outside_county", "load_county", "a village 100 km outside the townships", "DataWarning",
      "outside the county", "check its coordinates (GCJ-02/BD-09 given as WGS-84? swapped lon/lat?)")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    v = villages_frame()
    v.loc[0, "geometry"] = Point(112.6, 33.5)
    set_layer(f, "villages", v)
    warns(c, lambda: load_county(f))
    err = cli(ctx, c, ["info", str(f), "--no-roads"], code=0)
    assert "V0" in err


@case("births_missing_year", "load_county", "births.csv without 2016 for township T1", "SchemaError",
      "births: missing year(s) 2016 for township T1",
      "add the missing years (registered or interpolated counts) so births run without gaps")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    b = births_table()
    b[~((b["年份"] == 2016) & (b["乡镇代码"] == "T1"))].to_csv(f / "births.csv", index=False, encoding="gbk")
    raises(c, lambda: load_county(f), file="births.csv", column="year", rows=["T1"])
    cli(ctx, c, ["info", str(f), "--no-roads"])


@case("births_blank_year", "load_county", "a births row with no year", "SchemaError", "required values are missing",
      "fill in the year of every row")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    b = births_table().astype({"年份": object})
    b.loc[5, "年份"] = None
    b.to_csv(f / "births.csv", index=False, encoding="gbk")
    raises(c, lambda: load_county(f), file="births.csv", column="year", rows=[6])


@case("unknown_township", "load_county", "a school in township T9 that the townships layer lacks", "SchemaError",
      "unknown township_id value(s): T9", "use township ids from the townships layer")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_schools(f, schools().assign(乡镇代码=["T1", "T9", "T2", "T1"]))
    raises(c, lambda: load_county(f), file=SCHOOLS_XLSX, column="township_id", rows=["S2"])


@case("unknown_level", "load_county", "学段 = 大学", "SchemaError", "unknown value '大学'",
      "use kindergarten/teaching_point/primary/nine_year/junior/senior or 幼儿园/教学点/小学/初中 ...")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_schools(f, schools().assign(学段=["小学", "大学", "初中", "幼儿园"]))
    raises(c, lambda: load_county(f), file=SCHOOLS_XLSX, column="level", rows=["S2"])


@case("missing_column", "load_county", "学校.xlsx without 学校名称", "SchemaError", "required column(s) missing: name",
      "add the column (name or 学校名称); the message lists the columns the file has")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_schools(f, schools().drop(columns=["学校名称"]))
    err = raises(c, lambda: load_county(f), file=SCHOOLS_XLSX, column="name")
    assert "学校名称" in str(err)


@case("dms_coordinates", "load_county", "经度 written as 111°33′ (degrees-minutes)", "SchemaError",
      "coordinates are missing or not numbers", "give decimal degrees (111.55), not degree-minute-second text")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_schools(f, schools().astype({"经度": object}).assign(经度=["111°33′", 111.65, 111.66, 111.54]))
    raises(c, lambda: load_county(f), file=SCHOOLS_XLSX, column="经度/纬度", rows=[1])


@case("metres_in_lonlat", "load_county", "projected metres (500000, 3650000) in 经度/纬度", "SchemaError",
      "coordinates out of range for degrees", "give degrees, or a GeoPackage/shapefile with its projected CRS")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_schools(f, schools().assign(经度=[500000.0 + i for i in range(4)], 纬度=[3650000.0] * 4))
    raises(c, lambda: load_county(f), file=SCHOOLS_XLSX, rows=[1, 2, 3, 4])


@case("no_county_seat", "load_county", "no township flagged 是否县城", "DataWarning",
      "no township is flagged is_county_seat", "flag the county seat (县城) in the townships layer")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_layer(f, "townships", township_frame().assign(is_county_seat=[False, False]))
    warns(c, lambda: load_county(f))


@case("csv_unparseable", "load_county", "a CSV row with more fields than the header", "InputFileError",
      "cannot parse the CSV", "quote cells that contain commas; keep one value per column")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    (f / "enrolment.csv").write_text("year,school_id,grade,students\n2024,S1,1,200\n2024,S1,2,3,4,5\n",
                                     encoding="utf-8")
    err = raises(c, lambda: load_county(f), file="enrolment.csv")
    assert "\n" not in str(err)
    cli(ctx, c, ["info", str(f), "--no-roads"])


@case("xlsx_corrupt", "load_county", "学校.xlsx that is not a spreadsheet", "InputFileError",
      "cannot open the spreadsheet", "save it again as .xlsx from Excel/WPS")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    (f / SCHOOLS_XLSX).write_bytes(b"PK\x03\x04 not really a zip")
    raises(c, lambda: load_county(f), file=SCHOOLS_XLSX)


@case("unknown_format", "load_county", "county.toml names schools.docx", "InputFileError",
      "unknown file format '.docx' for the schools layer", "use GPKG, SHP, GeoJSON, FileGDB, CSV or XLSX")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    (f / "county.toml").write_text('schools = "schools.docx"\n', encoding="utf-8")
    (f / "schools.docx").write_bytes(b"x")
    raises(c, lambda: load_county(f), file="schools.docx")


@case("not_a_county", "load_county", "an empty folder", "InputFileError", "no schools layer found",
      "add the layer files (schools/学校 .gpkg/.csv/.xlsx ...) or a GeoPackage with the layers")
def _(ctx: Ctx, c: Case) -> None:
    (ctx.tmp / "empty").mkdir()
    raises(c, lambda: load_county(ctx.tmp / "empty"), file="empty", layer="schools")
    cli(ctx, c, ["info", str(ctx.tmp / "empty")])


@case("null_geometry", "load_county", "a village without a location", "SchemaError", "features without geometry",
      "give every feature a location (or delete the empty rows)")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    v = villages_frame()
    v.loc[2, "geometry"] = None
    set_layer(f, "villages", v)
    raises(c, lambda: load_county(f), file="villages.gpkg", rows=["V2"])


@case("memory_load", "load_county", "a 600 MB births.csv on a machine with 1 GB free", "ResourceError",
      "loading the county needs about", "clip the layers to the county, drop unneeded columns, or use a bigger machine")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    sparse(f / "births.csv", 600 * 2**20)
    small_memory(ctx, 1.0)
    err = raises(c, lambda: load_county(f))
    assert "only 1.0 GB is available" in str(err)
    cli(ctx, c, ["info", str(f), "--no-roads"])


# =========================================================================== network
@case("roads_no_crs", "network", "roads.gpkg without a CRS", "CrsError",
      "the layer has no coordinate reference system", "define the road layer's CRS in QGIS")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.network import build_graph

    f = ctx.county()
    set_layer(f, "roads", road_grid().set_crs(None, allow_override=True))
    raises(c, lambda: build_graph(f / "roads.gpkg"), file="roads.gpkg")
    cli(ctx, c, ["info", str(f)])


@case("roads_not_lines", "network", "roads.gpkg holding points", "NetworkError",
      "the road layer has no line geometries", "use a LineString layer of road centre lines")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.network import build_graph

    g = road_grid()
    g = g.set_geometry(g.geometry.representative_point())
    set_layer(ctx.tmp, "roads", g)
    raises(c, lambda: build_graph(ctx.tmp / "roads.gpkg"), file="roads.gpkg")


@case("roads_corrupt_pbf", "network", "roads.osm.pbf that is not a PBF", "InputFileError",
      "cannot read the OSM file", "download the extract again")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.network import build_graph

    p = ctx.tmp / "roads.osm.pbf"
    p.write_bytes(b"\x00\x00\x00\x0dnot osm data at all")
    raises(c, lambda: build_graph(p), file="roads.osm.pbf")


@case("road_islands", "network", "a village on a road island not joined to the network", "UnreachableWarning",
      "lie on roads cut off from the main network (V5)",
      "join the island to the network, or pass snap_dropped=True; its travel times stay NaN and it is reported")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.network import build_graph, travel_time_matrix

    roads = road_grid(island=True)
    v = villages_frame().set_index("village_id")
    v.loc["V5", "geometry"] = Point(111.735, 33.045)  # on the island, 3 km east
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = build_graph(roads, crs="EPSG:4546")
    assert g.dropped.n_nodes > 0
    s = schools_table().set_index("学校代码")
    s = gpd.GeoDataFrame(s, geometry=gpd.points_from_xy(s["经度"], s["纬度"]), crs=4326)
    tt = warns(c, lambda: travel_time_matrix(g, v, s), UnreachableWarning)
    assert tt.loc["V5"].isna().all() and tt.drop(index="V5").notna().all().all()
    assert tt.attrs["unroutable_origins"] == {"V5": "dropped"}


@case("school_off_network", "network", "a school 6 km from the nearest road", "UnreachableWarning",
      "lie more than 2000 m from any road (S9)", "check its coordinates, or raise max_snap_m / pass snap_far=True")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.network import build_graph, travel_time_matrix

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = build_graph(road_grid(), crs="EPSG:4546")
    s = gpd.GeoDataFrame({"name": ["一小", "远校"]}, geometry=[Point(111.55, 33.05), Point(111.55, 33.16)],
                         crs=4326, index=pd.Index(["S1", "S9"], name="school_id"))
    v = villages_frame().set_index("village_id")
    tt = warns(c, lambda: travel_time_matrix(g, v, s), UnreachableWarning)
    assert tt["S9"].isna().all() and tt["S1"].notna().all()


@case("tt_bad_cutoff", "network", "travel_time_matrix(cutoff_minutes=-5)", "ConfigError",
      "cutoff_minutes must be > 0", "give a positive number of minutes")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.network import build_graph, travel_time_matrix

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = build_graph(road_grid(), crs="EPSG:4546")
    v = villages_frame().set_index("village_id")
    err = raises(c, lambda: travel_time_matrix(g, v, v, cutoff_minutes=-5))
    cli_shows(ctx, c, err)


@case("tt_duplicate_ids", "network", "two villages with the same id given to travel_time_matrix",
      "NonUniqueIdError", "ids are not unique", "give every point its own id")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.network import build_graph, travel_time_matrix

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = build_graph(road_grid(), crs="EPSG:4546")
    v = villages_frame().set_index("village_id").rename(index={"V1": "V0"})
    err = raises(c, lambda: travel_time_matrix(g, v, v))
    assert "V0" in list(map(str, err.rows))


@case("memory_roads", "network", "a 300 MB province PBF on a machine with 4 GB free", "ResourceError",
      "building the road graph needs about", "clip the road file to the county plus a few km (osmium extract --bbox)")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    sparse(f / "roads.osm.pbf", 300 * 2**20)
    small_memory(ctx, 4.0)
    from schoolplan.preflight import check_road_memory

    raises(c, lambda: check_road_memory(f / "roads.osm.pbf"), file="roads.osm.pbf")
    cli(ctx, c, ["info", str(f)])


# =========================================================================== forecast
@case("forecast_negative_births", "forecast", "seat_demand with births = -5", "SchemaError",
      "'births' is negative", "counts cannot be negative; correct the values")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.forecast import seat_demand

    b = forecast_births().assign(births=[120] * 14 + [-5])
    err = raises(c, lambda: seat_demand(forecast_enrolment(), b, horizon_years=3, levels=["primary"]),
                 column="births", rows=[14])
    cli_shows(ctx, c, err)


@case("forecast_last_year_gap", "forecast", "no grade-6 row in the last enrolment year", "SchemaError",
      "no row for zone T1 grade 6 in the last year 2024", "add the rows (students = 0 where a grade has no pupils)")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.forecast import seat_demand

    e = forecast_enrolment()
    e = e[~((e["year"] == 2024) & (e["grade"] == 6))]
    raises(c, lambda: seat_demand(e, forecast_births(), horizon_years=3, levels=["primary"]), column="grade")


@case("forecast_bad_scenario", "forecast", "births_scenario='boom'", "ConfigError", "unknown births scenario 'boom'",
      "use low, medium, high, a number or {year: multiplier}")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.forecast import seat_demand

    raises(c, lambda: seat_demand(forecast_enrolment(), forecast_births(), horizon_years=3, levels=["primary"],
                                  births_scenario="boom"))


@case("forecast_duplicate_rows", "forecast", "the same zone, year and grade twice", "NonUniqueIdError",
      "more than one row for the same zone, year and grade", "sum the duplicate rows first")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.forecast import seat_demand

    e = pd.concat([forecast_enrolment(), forecast_enrolment().iloc[[0]]], ignore_index=True)
    raises(c, lambda: seat_demand(e, forecast_births(), horizon_years=3, levels=["primary"]))


@case("forecast_births_too_late", "scenario run", "births only from 2019 (entry ratios need earlier years)",
      "SchemaError", "cannot estimate the entry ratio",
      "supply births from the year the message names (the county folder is named)")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.scenario import load_scenario, run_scenarios

    f = ctx.county()
    b = births_table()
    b[b["年份"] >= 2019].to_csv(f / "births.csv", index=False, encoding="gbk")
    sc = write_scenario(ctx.tmp / "s.toml", f)
    err = raises(c, lambda: run_scenarios([load_scenario(sc)]), column="year")
    assert err.file == str(f)


# =========================================================================== consolidate
@case("consolidate_negative_minutes", "consolidate", "a travel time of -3 minutes", "SchemaError",
      "negative bus_minutes", "travel times must be ≥ 0 minutes (NaN = unreachable)")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.consolidate import consolidate

    county = metric_county()
    m = minutes(county)
    m.loc["V1", "S2"] = -3
    err = raises(c, lambda: consolidate(county, m), column="bus_minutes", rows=["V1"])
    cli_shows(ctx, c, err)


@case("consolidate_text_minutes", "consolidate", "a travel time written as 'n/a'", "SchemaError",
      "the bus_minutes matrix holds values that are not numbers (e.g. 'n/a')",
      "give minutes as numbers and leave unreachable pairs empty")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.consolidate import consolidate

    county = metric_county()
    m = minutes(county).astype(object)
    m.loc["V2", "S1"] = "n/a"
    raises(c, lambda: consolidate(county, m), column="bus_minutes", rows=["V2"])


@case("consolidate_missing_village", "consolidate", "a travel-time matrix without village V2", "SchemaError",
      "the bus_minutes matrix lacks rows or columns", "compute travel times for every village and school")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.consolidate import consolidate

    county = metric_county()
    raises(c, lambda: consolidate(county, minutes(county).drop(index="V2")), rows=["V2"])


@case("consolidate_unknown_rule", "consolidate", "rules={'bus_minute': 20} (typo)", "SchemaError",
      "unknown consolidation rule 'bus_minute'", "use a rule name from the list in the message")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.consolidate import consolidate

    county = metric_county()
    raises(c, lambda: consolidate(county, minutes(county), rules={"bus_minute": 20}))


@case("junior_without_seat_school", "consolidate", "junior schools but none in the county seat to receive them",
      "DataWarning", "no junior middle or nine-year school in the county seat",
      "check is_county_seat and the county-seat schools; the junior schools are kept meanwhile")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.consolidate import consolidate

    county = metric_county()
    s = county.schools.copy()
    s.loc["S2", ["level", "township_id"]] = ["junior", "T2"]
    t = pd.concat([county.townships, gpd.GeoDataFrame({"name": ["河口乡"], "is_county_seat": [False]},
                                                      geometry=[box(510000, 3640000, 520000, 3660000)],
                                                      crs=county.crs, index=pd.Index(["T2"], name="township_id"))])
    county = dataclasses.replace(county, schools=s, townships=t)
    plan = warns(c, lambda: consolidate(county, minutes(county)))
    assert plan.schools.loc["S2", "decision"] in ("keep", "expand")
    assert (plan.assignment["mode"] != "unserved").all()


# =========================================================================== reserve
@case("reserve_overlapping_zones", "reserve", "two 控规单元 polygons that overlap", "SchemaError",
      "zones Z1 and Z2 overlap", "zones must partition the county seat: clip one of each pair")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.reserve import reserve_land

    county = metric_county()
    zones = gpd.GeoDataFrame({"name": ["北区", "南区"], "township_id": "T1", "population": 1000},
                             geometry=[box(499000, 3649000, 502000, 3652000), box(501000, 3648000, 504000, 3651000)],
                             crs=county.crs, index=pd.Index(["Z1", "Z2"], name="zone_id"))
    county = dataclasses.replace(county, zones=zones)
    demand = pd.DataFrame({"zone": "T1", "level": "primary", "grade": 1, "year": 2030, "p10": 1.0, "p50": 1.0,
                           "p90": 1.0}, index=[0])
    err = raises(c, lambda: reserve_land(county, demand, pd.DataFrame()), rows=["Z1", "Z2"], layer="zones")
    cli_shows(ctx, c, err)


@case("reserve_bad_spacing", "reserve", "zone_points(spacing_m=0)", "ConfigError", "spacing_m must be positive metres",
      "give a spacing such as 150 m")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.reserve import zone_points

    zones = gpd.GeoDataFrame({"name": ["北区"]}, geometry=[box(0, 0, 1000, 1000)], crs=4546,
                             index=pd.Index(["Z1"], name="zone_id"))
    raises(c, lambda: zone_points(zones, spacing_m=0))


@case("reserve_unknown_preset", "scenario file", "[reserve] radius_preset = \"metro\"", "ConfigError",
      "unknown service-radius preset 'metro'", "use a preset of the standards (urban, ...)")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.scenario import load_scenario

    f = ctx.county()
    sc = write_scenario(ctx.tmp / "s.toml", f, reserve={"enabled": True, "radius_preset": "metro"})
    raises(c, lambda: load_scenario(sc), file="s.toml", column="reserve.radius_preset")
    cli(ctx, c, ["run", str(sc), "--out", str(ctx.tmp / "out")])
    assert not (ctx.tmp / "out").exists()


# =========================================================================== scenario files
@case("scenario_unknown_key", "scenario file", "[consolidation] bus_minuts = 20 (typo)", "ConfigError",
      "consolidation.bus_minuts: unknown key (allowed: mode, bus_minutes", "use one of the allowed keys listed")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.scenario import load_scenario

    f = ctx.county()
    sc = write_scenario(ctx.tmp / "s.toml", f, consolidation={"bus_minuts": 20})
    raises(c, lambda: load_scenario(sc), file="s.toml")
    cli(ctx, c, ["run", str(sc), "--out", str(ctx.tmp / "out")])


@case("scenario_wrong_type", "scenario file", "bus_minutes = \"twenty\"", "ConfigError",
      "consolidation.bus_minutes: Input should be a valid number", "give a number of minutes")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.scenario import load_scenario

    f = ctx.county()
    sc = write_scenario(ctx.tmp / "s.toml", f, consolidation={"bus_minutes": "twenty"})
    raises(c, lambda: load_scenario(sc), file="s.toml")


@case("scenario_county_missing", "scenario file", "county = \"../nowhere\"", "ConfigError",
      "the county folder named in the scenario does not exist",
      "give the county folder or GeoPackage, relative to the scenario file")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.scenario import load_scenario

    sc = write_scenario(ctx.tmp / "s.toml", "../nowhere")
    raises(c, lambda: load_scenario(sc), file="s.toml", column="scenario.county")
    cli(ctx, c, ["run", str(sc), "--out", str(ctx.tmp / "out")])


@case("scenario_relative_paths", "scenario file", "county and standards given relative to the scenario file, "
      "run from another folder", "loads", "resolved next to the scenario file",
      "nothing to fix: paths are relative to the file that names them; none of them is written to")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.scenario import load_scenario

    f = ctx.county()
    (ctx.tmp / "henan.toml").write_text("[class_size]\nprimary = 40\n", encoding="utf-8")
    write_scenario(ctx.tmp / "s.toml", "c", scenario={"standards": "henan.toml"})
    elsewhere = ctx.tmp / "elsewhere"
    elsewhere.mkdir()
    ctx.monkeypatch.chdir(elsewhere)
    s = load_scenario(Path("..") / "s.toml")
    assert s.scenario.county == f.resolve()
    assert Path(s.scenario.standards) == (ctx.tmp / "henan.toml").resolve()


@case("scenario_standards_bad_key", "scenario file", "[standards_overrides] class_sise = ... (typo)",
      "ConfigError", "unknown standards key 'class_sise'", "use a key of cn_national.toml (listed in the message)")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.scenario import load_scenario

    f = ctx.county()
    sc = write_scenario(ctx.tmp / "s.toml", f)
    sc.write_text(sc.read_text(encoding="utf-8") + "[standards_overrides.class_sise]\nprimary = 40\n",
                  encoding="utf-8")
    raises(c, lambda: load_scenario(sc), file="s.toml")


@case("scenario_not_utf8", "scenario file", "a scenario file saved in GBK", "ConfigError",
      "the scenario file is not UTF-8", "save it as UTF-8")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.scenario import load_scenario

    sc = ctx.tmp / "s.toml"
    sc.write_bytes('[scenario]\nname_zh = "两集中"\n'.encode("gbk"))
    raises(c, lambda: load_scenario(sc), file="s.toml")
    cli(ctx, c, ["run", str(sc), "--out", str(ctx.tmp / "out")])


@case("scenario_target_after_horizon", "scenario file", "target_year = 2040 with horizon_year = 2035",
      "ConfigError", "target_year 2040 is after horizon_year 2035", "raise horizon_year or lower target_year")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.scenario import load_scenario

    f = ctx.county()
    sc = write_scenario(ctx.tmp / "s.toml", f)
    sc.write_text(sc.read_text(encoding="utf-8").replace("target_year = 2026", "target_year = 2040")
                  .replace("horizon_year = 2028", "horizon_year = 2035"), encoding="utf-8")
    raises(c, lambda: load_scenario(sc), file="s.toml")


@case("scenario_target_before_register", "scenario run", "target_year = 2020, register of 2024", "ConfigError",
      "target_year 2020 is before the register year 2024", "choose a target year from the register year on")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.scenario import load_scenario, run_scenarios

    f = ctx.county()
    sc = write_scenario(ctx.tmp / "s.toml", f, scenario={"target_year": 2020})
    sc.write_text(sc.read_text(encoding="utf-8").replace("target_year = 2026\n", ""), encoding="utf-8")
    raises(c, lambda: run_scenarios([load_scenario(sc)]), file="s.toml", column="scenario.target_year")


@case("scenario_unknown_profile", "scenario file", "[network] profile = \"tractor\"", "ConfigError",
      "unknown speed profile 'tractor'", "use school_bus, walk, car or the path of a profile TOML")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.scenario import load_scenario

    f = ctx.county()
    sc = write_scenario(ctx.tmp / "s.toml", f, network={"profile": "tractor"})
    raises(c, lambda: load_scenario(sc), file="s.toml")


# =========================================================================== command line
@case("cli_missing_scenario", "cli run", "schoolplan run nope.toml", "exit 2", "scenario file not found",
      "check the path")
def _(ctx: Ctx, c: Case) -> None:
    cli(ctx, c, ["run", str(ctx.tmp / "nope.toml"), "--out", str(ctx.tmp / "out")])


@case("cli_duplicate_names", "cli run", "two scenario files both called s.toml", "exit 2",
      "two scenario files have the same name", "give every scenario file its own file name")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    (ctx.tmp / "a").mkdir()
    (ctx.tmp / "b").mkdir()
    a = write_scenario(ctx.tmp / "a" / "s.toml", f)
    b = write_scenario(ctx.tmp / "b" / "s.toml", f)
    cli(ctx, c, ["run", str(a), str(b), "--out", str(ctx.tmp / "out")])


@case("cli_sweep_bad_param", "cli sweep", "--param bus_minutes=15 (no section)", "exit 2", "cannot read --param",
      "write SECTION.KEY=V1,V2,... e.g. consolidation.bus_minutes=15,20,25,30")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    sc = write_scenario(ctx.tmp / "s.toml", f)
    cli(ctx, c, ["sweep", str(sc), "--param", "bus_minutes=15", "--out", str(ctx.tmp / "out")])


@case("cli_sweep_unknown_key", "cli sweep", "--param consolidation.bus_minuts=15,20", "exit 2",
      "consolidation.bus_minuts: unknown key", "use a key listed in the message")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    sc = write_scenario(ctx.tmp / "s.toml", f)
    cli(ctx, c, ["sweep", str(sc), "--param", "consolidation.bus_minuts=15,20", "--out", str(ctx.tmp / "out")])


@case("cli_unknown_coords", "cli info", "schoolplan info --coords beijing54", "exit 2",
      "unknown coordinate system 'beijing54'", "use --coords wgs84, cgcs2000, gcj02 or bd09")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    cli(ctx, c, ["info", str(f), "--coords", "beijing54", "--no-roads"])


@case("cli_usage_error", "cli", "schoolplan run (no scenario), an option without its value, an unknown command",
      "exit 2", "Error:", "see schoolplan --help / schoolplan COMMAND --help")
def _(ctx: Ctx, c: Case) -> None:
    for argv, what in ((["run"], "Missing"), (["info", str(ctx.tmp), "--lang"], "requires an argument"),
                       (["nosuchcmd"], "No such command")):
        ctx.capsys.readouterr()
        assert main(argv) == 2
        err = ctx.capsys.readouterr().err
        assert c.fragment in err and what in err and "internal error" not in err and "Traceback" not in err, err


@case("cli_internal_error", "cli", "a bug inside schoolplan (any non-user error)", "exit 1",
      "This is a bug in schoolplan", "report it as the README's Support section says, with the command and the log "
      "file named (it holds the traceback); --debug shows it")
def _(ctx: Ctx, c: Case) -> None:
    import schoolplan.county

    f = ctx.county()

    def bug(*_a: Any, **_k: Any) -> None:
        raise ZeroDivisionError("division by zero")

    ctx.monkeypatch.setattr(schoolplan.county, "county_summary", bug)
    err = cli(ctx, c, ["info", str(f), "--no-roads"], code=1)
    assert SUPPORT in err and "--debug" in err and "ZeroDivisionError" in err
    log = Path(re.search(r"the log (\S+) ", err.replace("\n", " ")).group(1))
    assert "ZeroDivisionError" in log.read_text(encoding="utf-8") and "Traceback" in log.read_text(encoding="utf-8")


@case("cli_debug", "cli", "schoolplan --debug info nowhere", "traceback", "county path not found",
      "--debug is for reporting bugs: it shows where an error was raised")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.errors import InputFileError

    with pytest.raises(InputFileError, match=c.fragment):
        main(["--debug", "info", str(ctx.tmp / "nowhere")])


# =========================================================================== outputs
@case("out_not_empty", "outputs", "--out is a folder with other files in it", "exit 2",
      "the output folder exists and is not empty",
      "choose another --out folder or pass --overwrite; checked before any work, nothing is touched")
def _(ctx: Ctx, c: Case) -> None:
    import schoolplan.scenario

    f = ctx.county()
    sc = write_scenario(ctx.tmp / "s.toml", f)
    out = ctx.tmp / "mine"
    out.mkdir()
    (out / "notes.docx").write_text("keep me", encoding="utf-8")

    def never(*_a: Any, **_k: Any) -> None:
        raise AssertionError("the scenarios ran before --out was checked")

    ctx.monkeypatch.setattr(schoolplan.scenario, "run_scenarios", never)
    for argv in (["run", str(sc)], ["sweep", str(sc), "--param", "consolidation.bus_minutes=15,20"], ["demo"]):
        cli(ctx, c, [*argv, "--out", str(out)])
    assert [p.name for p in out.iterdir()] == ["notes.docx"]


@case("out_is_file", "outputs", "--out names an existing file", "exit 2", "the output path exists and is a file",
      "choose a folder name for --out")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    sc = write_scenario(ctx.tmp / "s.toml", f)
    (ctx.tmp / "report.txt").write_text("x", encoding="utf-8")
    cli(ctx, c, ["run", str(sc), "--out", str(ctx.tmp / "report.txt")])


@case("out_not_writable", "outputs", "--out inside a path that cannot be written (a file, or a read-only folder)",
      "exit 2", "the output folder cannot be written", "choose a folder you can write to")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.errors import OutputError
    from schoolplan.report import check_output_dir

    f = ctx.county()
    sc = write_scenario(ctx.tmp / "s.toml", f)
    (ctx.tmp / "afile").write_text("x", encoding="utf-8")
    cli(ctx, c, ["run", str(sc), "--out", str(ctx.tmp / "afile" / "out")])
    ro = ctx.tmp / "ro"
    ro.mkdir()
    ctx.monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != ro)  # root ignores chmod: pretend
    with pytest.raises(OutputError, match="is not writable"):
        check_output_dir(ro / "out")


@case("out_name_escapes", "outputs", "a scenario name such as ../../evil (outputs named after it)", "OutputError",
      "would be written outside the output folder", "use scenario names without '/', '\\' or '..'")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.report import write_outputs

    results = _tiny_results(ctx)
    evil = [dataclasses.replace(results[0], name="../../evil")]
    raises(c, lambda: write_outputs(evil, ctx.tmp / "out", maps=False))
    assert not (ctx.tmp / "out").exists() and not list(ctx.tmp.parent.glob("evil*"))
    assert not [p for p in ctx.tmp.iterdir() if p.name.startswith(".out.")]


@case("write_failed", "outputs", "a write that fails half-way (disk full)", "OutputError",
      "writing the outputs failed", "free disk space and run again; the earlier outputs are still there")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan import report

    results = _tiny_results(ctx)
    out = report.write_outputs(results, ctx.tmp / "o", maps=False)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def full(*_a: Any, **_k: Any) -> None:
        raise OSError(28, "No space left on device: disk full")

    ctx.monkeypatch.setattr(report, "write_gpkg", full)
    err = raises(c, lambda: report.write_outputs(results, out, maps=False), file="o")
    assert "disk full" in str(err)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert sorted(p.name for p in ctx.tmp.iterdir() if p.name.startswith(".o.")) == []


def _interrupt(ctx: Ctx, c: Case, stage: str) -> None:
    """Run ``schoolplan run`` in a subprocess, Ctrl-C it at ``stage``, check what is left."""
    f = ctx.county()
    sc = write_scenario(ctx.tmp / "s.toml", f)
    out = ctx.tmp / "out"
    out.mkdir()
    (out / "run.json").write_text("{}", encoding="utf-8")  # an earlier schoolplan output
    (out / "report.html").write_text("EARLIER REPORT", encoding="utf-8")
    marker = ctx.tmp / "marker"
    proc = subprocess.Popen([sys.executable, "-c", _SLOW, stage, str(marker), "run", str(sc), "--out", str(out),
                             "--no-maps"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never reached the stage"
            time.sleep(0.05)
        if stage == "write":
            assert list(ctx.tmp.glob(".out.*.partial")), "not writing yet"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert c.fragment in err and "Traceback" not in err, err
    assert not [p for p in ctx.tmp.iterdir() if p.name.startswith(".out.")], "a partial folder was left"
    assert (out / "report.html").read_text(encoding="utf-8") == "EARLIER REPORT"
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "run.json"]


#: Subprocess body: slow down one stage (so that Ctrl-C lands in it), then run the CLI.
_SLOW = """
import pathlib, sys, time
stage, marker = sys.argv[1], pathlib.Path(sys.argv[2])
import schoolplan.consolidate as consolidate, schoolplan.report as report
module, name = (report, "write_xlsx") if stage == "write" else (consolidate, "consolidate")
original = getattr(module, name)
def slow(*args, **kwargs):
    marker.write_text(stage)
    time.sleep(120)
    return original(*args, **kwargs)
setattr(module, name, slow)
from schoolplan.cli import main
sys.exit(main(sys.argv[3:]))
"""


@case("interrupted_mid_run", "outputs", "Ctrl-C while the scenarios are computed", "exit 130",
      "earlier outputs are intact", "nothing to clean up: run again")
def _(ctx: Ctx, c: Case) -> None:
    _interrupt(ctx, c, "run")


@case("interrupted_while_writing", "outputs", "Ctrl-C while the outputs are being written", "exit 130",
      "earlier outputs are intact", "nothing to clean up: the half-written folder is removed")
def _(ctx: Ctx, c: Case) -> None:
    _interrupt(ctx, c, "write")


@case("interrupted_at_swap", "outputs", "Ctrl-C between moving the old outputs aside and the new ones in",
      "KeyboardInterrupt", "previous outputs put back", "nothing to clean up: run again")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan import io

    out = ctx.tmp / "out"
    with io.atomic_dir(out) as tmp:
        (tmp / "report.html").write_text("EARLIER", encoding="utf-8")
    real, calls = os.replace, []

    def replace(src: Any, dst: Any) -> None:
        calls.append(dst)
        if len(calls) == 2:  # the new folder's move into place
            raise KeyboardInterrupt
        real(src, dst)

    with ctx.monkeypatch.context() as mp:
        mp.setattr(io.os, "replace", replace)
        with pytest.raises(KeyboardInterrupt), io.atomic_dir(out) as tmp:
            (tmp / "report.html").write_text("NEW", encoding="utf-8")
    assert (out / "report.html").read_text(encoding="utf-8") == "EARLIER"
    assert sorted(p.name for p in ctx.tmp.iterdir()) == ["out"]


@case("memory_matrix", "scenario run", "200,000 villages × 20,000 schools on a machine with 8 GB free",
      "ResourceError", "travel times for 200,000 villages × 20,000 schools and sites needs about",
      "clip to the county, aggregate villages (自然村 → 行政村), or use a bigger machine")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.preflight import check_matrix_memory

    small_memory(ctx, 8.0)
    err = raises(c, lambda: check_matrix_memory(200_000, 20_000))
    check_matrix_memory(2_000, 200)  # a real county fits
    cli_shows(ctx, c, err)


# =========================================================================== running the catalogue
_TINY: dict[str, Any] = {}


def _tiny_results(ctx: Ctx) -> list[Any]:
    """One scenario run on the tiny county (shared by the output cases of this module)."""
    if "results" not in _TINY:
        from schoolplan.scenario import load_scenario, run_scenarios

        folder = ctx.tmp.parent / "tiny_shared"
        if not folder.exists():
            write_county(folder / "c")
        sc = write_scenario(folder / "s.toml", folder / "c")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _TINY["results"] = run_scenarios([load_scenario(sc)])
    return _TINY["results"]


@pytest.mark.parametrize("case_id", list(CASES))
def test_bad_input(case_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                   monkeypatch: pytest.MonkeyPatch) -> None:
    c = CASES[case_id]
    c.run(Ctx(tmp_path, capsys, monkeypatch), c)


def test_catalogue_is_large_and_covers_every_entry_point() -> None:
    assert len(CASES) >= 40
    entries = " ".join(c.entry for c in CASES.values())
    for entry in ("load_county", "read_layer", "network", "forecast", "consolidate", "reserve", "scenario file",
                  "scenario run", "cli run", "cli sweep", "cli info", "outputs"):
        assert entry in entries, entry


# =========================================================================== the table
def render_doc() -> str:
    """``docs/bad_inputs.md``: one row per case, grouped by entry point."""
    lines = [
        "# Bad and awkward inputs / 错误与不规范输入",
        "",
        "What you see when an input is wrong, and how to fix it. Every row is a test case in",
        "`tests/test_bad_inputs.py` (the case id is the test id); regenerate this file with",
        "`python tests/test_bad_inputs.py > docs/bad_inputs.md`.",
        "",
        "Errors name the file, layer, column and rows and end with `Fix: ...`. The command line",
        "prints them as one line `error: ...` and exits with code 2 (no traceback; `--debug` shows",
        "it); bugs exit with code 1 and say where to report them; Ctrl-C exits with code 130.",
        "Warnings (`DataWarning`, `UnreachableWarning`) flag suspicious but usable data: the run",
        "goes on and the CLI prints `warning: ...`. Outputs are written to a temporary folder and",
        "moved into place at the end, so a failed or interrupted run leaves earlier outputs intact.",
        "",
        "Decisions: a school with pupils but 0 classes is a warning (its class sizes are not",
        "computed) so that a plan can be drafted while the register is corrected; blank enrolment",
        "of an open school is a warning and the minimum-enrolment rule is not applied to it; a",
        "township whose only school is a teaching point (grades 1–4) gets 0 pupils in grades 5–6",
        "in the forecast, since no school there teaches them.",
        "",
    ]
    by_entry: dict[str, list[Case]] = {}
    for c in CASES.values():
        by_entry.setdefault(c.entry.split(",")[0].split(" ")[0], []).append(c)
    for entry, cases in by_entry.items():
        lines += [f"## {entry}", "", "| case | input | what you see | how to fix |", "|---|---|---|---|"]
        for c in cases:
            cells = [f"`{c.id}`", c.given, f"{c.expect}: “{c.fragment}”", c.fix]
            lines.append("| " + " | ".join(x.replace("|", "\\|") for x in cells) + " |")
        lines.append("")
    return "\n".join(lines)


def test_doc_lists_every_case() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [cid for cid in CASES if f"`{cid}`" not in text]
    assert not missing, f"docs/bad_inputs.md lacks {missing}: run `python tests/test_bad_inputs.py > {DOC}`"
    assert text == render_doc() + "\n", f"docs/bad_inputs.md is stale: run `python tests/test_bad_inputs.py > {DOC}`"


def test_no_capacity_column_runs(tmp_path: Path) -> None:
    """A schools layer without 学位数 (capacity_seats) should run; the seats should come from classes × size."""
    from schoolplan.scenario import load_scenario, run_scenarios

    f = write_county(tmp_path / "c")
    set_schools(f, schools_table())  # the register as bureaus export it: no seats column
    sc = write_scenario(tmp_path / "s.toml", f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (res,) = run_scenarios([load_scenario(sc)])
    assert res.indicators["seats_short_kindergarten"] >= 0


# =========================================================================== GCJ-02 detector
def test_gcj02_detector_on_arrays() -> None:
    rng = np.random.default_rng(0)
    lon = 111.5 + rng.random(40) * 0.2
    lat = 33.0 + rng.random(40) * 0.1
    # roads through every true point, densified east-west and north-south
    t = np.linspace(-0.01, 0.01, 81)
    rlon = np.concatenate([np.add.outer(lon, t).ravel(), np.repeat(lon, t.size)])
    rlat = np.concatenate([np.repeat(lat, t.size), np.add.outer(lat, t).ravel()])
    clean = coords.detect_gcj02_offset(lon, lat, rlon, rlat)
    assert clean is not None and not clean.likely_gcj02
    glon, glat = coords.wgs84_to_gcj02(lon, lat)
    offset = coords.detect_gcj02_offset(glon, glat, rlon, rlat)
    assert offset is not None and offset.likely_gcj02
    assert 100 <= offset.median_shift_m <= 700 and offset.median_after_m < 5
    assert coords.detect_gcj02_offset(lon - 120, lat, rlon - 120, rlat) is None  # outside China: no verdict
    assert coords.detect_gcj02_offset(glon[:3], glat[:3], rlon, rlat) is None  # too few points


# =========================================================================== determinism and safety
def test_outputs_byte_identical_with_maps(tmp_path: Path) -> None:
    """Two independent runs of the same inputs give byte-identical GPKG, XLSX and HTML (maps embedded)."""
    from schoolplan.report import write_outputs
    from schoolplan.scenario import load_scenario, run_scenarios

    f = write_county(tmp_path / "c")
    sc = write_scenario(tmp_path / "s.toml", f, consolidation={"mode": "optimize"})
    outs = []
    for name in ("a", "b"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results = run_scenarios([load_scenario(sc)])
        outs.append(write_outputs(results, tmp_path / name, maps=True, inputs=results[0].county))
        time.sleep(1.1)  # a timestamp written to a file would now differ
    for name in ("report.html", "comparison.xlsx", "results.gpkg", "inputs_clean.gpkg"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    page = html.unescape((outs[0] / "report.html").read_text(encoding="utf-8"))
    ids = set(re.findall(r"_([0-9a-f]{32})\b", page))
    assert ids and all(int(i, 16) < 10_000 for i in ids), "folium's random element ids leaked into the report"


@pytest.mark.skipif(not (DEMO / "county.gpkg").exists(), reason="demo county not built")
def test_user_strings_are_escaped_in_report(tmp_path: Path) -> None:
    """A school named <script>alert(1)</script> in a copy of the demo data shows as text in report.html."""
    from schoolplan.io import list_layers, write_gpkg
    from schoolplan.report import write_outputs
    from schoolplan.scenario import load_scenario, run_scenarios

    evil, evil2 = "<script>alert(1)</script>", '"><img src=x onerror=alert(2)>'
    copy = tmp_path / "demo"
    shutil.copytree(DEMO, copy, ignore=shutil.ignore_patterns("scenarios", "README.md"))
    layers = {n: gpd.read_file(copy / "county.gpkg", layer=n) for n in list_layers(copy / "county.gpkg")}
    layers["schools"]["name"] = evil + layers["schools"]["name"]
    layers["villages"].loc[0, "name"] = evil2
    layers["townships"].loc[0, "name"] = evil
    (copy / "county.gpkg").unlink()
    write_gpkg(layers, copy / "county.gpkg")
    toml = (copy / "county.toml").read_text(encoding="utf-8")
    (copy / "county.toml").write_text(re.sub(r'name_zh = ".*"', f"name_zh = {json.dumps(evil)}", toml),
                                      encoding="utf-8")
    sc = write_scenario(tmp_path / "s.toml", copy, scenario={"name_zh": evil, "name_en": evil2},
                        consolidation={"mode": "rules"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = run_scenarios([load_scenario(sc)])
    assert results[0].plan.schools["decision"].isin(["merge", "convert"]).any()  # dossiers are rendered
    out = write_outputs(results, tmp_path / "out", maps=True)
    page = (out / "report.html").read_text(encoding="utf-8")
    for bad in (evil, evil2, "<img", "<script>alert"):  # never as markup
        assert bad not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown as text
    # inside the embedded map documents too (iframe srcdoc), once their attribute escaping is undone
    for doc in re.findall(r'srcdoc="([^"]*)"', page):
        inner = html.unescape(doc)
        assert evil not in inner and "<img src=x" not in inner


def test_no_pickle_or_eval_of_user_files() -> None:
    """Nothing in the package unpickles or evaluates data (user files are parsed, never executed)."""
    pattern = re.compile(r"\b(pickle|cPickle|dill|shelve|marshal|joblib)\b|\beval\s*\(|\bexec\s*\(|"
                         r"allow_pickle\s*=\s*True|read_pickle|yaml\.load\s*\(|yaml\.unsafe_load")
    hits = []
    for p in sorted((ROOT / "src" / "schoolplan").rglob("*.py")):
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
            code = line.split("#", 1)[0]
            if pattern.search(code):
                hits.append(f"{p.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not hits, hits


# =========================================================================== property-based engines
@st.composite
def layouts(draw: st.DrawFn) -> tuple[County, pd.DataFrame, dict[str, Any]]:
    """Random small counties: villages, open schools of every compulsory level, travel times, rules."""
    crs = CRS.from_epsg(4546)
    n_t = draw(st.integers(1, 3))
    n_v = draw(st.integers(1, 7))
    n_s = draw(st.integers(1, 6))
    levels = draw(st.lists(st.sampled_from(["teaching_point", "primary", "nine_year", "junior"]),
                           min_size=n_s, max_size=n_s))
    tw = [f"T{i}" for i in range(n_t)]
    v_tw = draw(st.lists(st.sampled_from(tw), min_size=n_v, max_size=n_v))
    s_tw = draw(st.lists(st.sampled_from(tw), min_size=n_s, max_size=n_s))
    kids = draw(st.lists(st.integers(0, 40), min_size=n_v * 9, max_size=n_v * 9))
    vills = gpd.GeoDataFrame({"name": [f"村{i}" for i in range(n_v)], "township_id": v_tw, "population": 500},
                             geometry=[Point(500000 + 700 * i, 3650000) for i in range(n_v)], crs=crs,
                             index=pd.Index([f"V{i}" for i in range(n_v)], name="village_id"))
    for a in range(18):
        vills[f"age_{a}"] = [kids[i * 9 + a - 6] if 6 <= a <= 14 else 0 for i in range(n_v)]
    sch = gpd.GeoDataFrame({
        "name": [f"学校{i}" for i in range(n_s)], "level": levels, "township_id": s_tw, "status": "open",
        "students": draw(st.lists(st.integers(0, 600), min_size=n_s, max_size=n_s)),
        "classes": draw(st.lists(st.integers(0, 12), min_size=n_s, max_size=n_s)),
        "is_central": draw(st.lists(st.booleans(), min_size=n_s, max_size=n_s)),
        "boarding_beds": 0, "teachers": 10,
    }, geometry=[Point(500000 + 900 * i, 3651000) for i in range(n_s)], crs=crs,
        index=pd.Index([f"S{i}" for i in range(n_s)], name="school_id"))
    towns = gpd.GeoDataFrame({"name": tw, "is_county_seat": [i == 0 for i in range(n_t)]},
                             geometry=[box(499000 + 9000 * i, 3640000, 508000 + 9000 * i, 3660000) for i in range(n_t)],
                             crs=crs, index=pd.Index(tw, name="township_id"))
    empty = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=crs))
    county = County(name="随机县", crs=crs, schools=sch, villages=vills, townships=towns,
                    births=pd.DataFrame({"year": [2024], "births": [100]}),
                    enrolment=pd.DataFrame(columns=["year", "school_id", "level", "grade", "students"]),
                    zones=empty, sites=empty.rename_axis("site_id"), developments=empty, base_year=2024)
    times = draw(st.lists(st.one_of(st.floats(0, 90), st.just(float("nan"))), min_size=n_v * n_s,
                          max_size=n_v * n_s))
    bus = pd.DataFrame(np.array(times).reshape(n_v, n_s), index=vills.index, columns=sch.index)
    size = draw(st.integers(20, 3000))
    rules = {"bus_minutes": draw(st.sampled_from([15.0, 20.0, 30.0])),
             "max_size": {"primary": size, "junior": size, "nine_year": size, "teaching_point": size}}
    return county, bus, rules


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(layouts(), st.sampled_from(["rules", "status_quo"]))
def test_property_consolidation_loses_no_pupil_and_respects_capacity(layout: Any, mode: str) -> None:
    from schoolplan.consolidate import consolidate, today_attendance, village_pupils
    from schoolplan.errors import SchemaError

    county, bus, rules = layout
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            flows = today_attendance(county, bus)  # today: the register, allocated to villages
            plan = consolidate(county, bus, mode=mode, rules=rules, attendance=flows)
        except SchemaError as err:  # a register with pupils of a band no village has: said so
            assert "no village has children" in str(err) and err.fix
            return
    said = " ".join(str(w.message) for w in caught)
    a = plan.assignment
    assert a["pupils"].sum() == flows["pupils"].sum()  # no pupil lost
    assert pd.api.types.is_integer_dtype(a["pupils"]) and (a["pupils"] > 0).all()
    per_band = a.groupby(["village_id", "band"])["pupils"].sum()
    want = village_pupils(county, flows=flows).set_index(["village_id", "band"])["pupils"]
    assert per_band.to_dict() == want.to_dict()  # every village and band, in full
    served = a[a["mode"] != "unserved"]
    load = served.groupby("school_id")["pupils"].sum()
    if mode == "rules":  # no school above its maximum size, or a warning names it (the status quo shows today)
        over = load[load > rules["max_size"]["primary"]]
        assert all(f"{sid} ({n} > " in said for sid, n in over.items()), said
    assert served["school_id"].map(plan.schools["decision"]).isin(["keep", "expand", "new"]).all()
    # pupils who move only go to schools that teach their band
    from schoolplan.schema import BANDS

    moved = served[served["moved"]]  # pupils who stay keep today's school (a teaching point's grade 4, say)
    lv = moved["school_id"].map(plan.schools["level"])
    assert all(level in BANDS[band]["levels"] for band, level in zip(moved["band"], lv, strict=True))


@st.composite
def zoned_enrolment(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Random township panels for the scenario forecast: some townships teach only grades 1–4."""
    n_z = draw(st.integers(1, 3))
    years = list(range(2024 - draw(st.integers(1, 5)), 2025))
    rows = []
    for z in range(n_z):
        top = draw(st.sampled_from([4, 6]))  # a teaching-point-only township stops at grade 4
        for lv, grades in (("kindergarten", (1, 2, 3)), ("primary", range(1, top + 1)), ("junior", (7, 8, 9))):
            for y in years:
                for g in grades:
                    rows.append({"zone": f"T{z}", "level": lv, "year": y, "grade": g,
                                 "students": draw(st.integers(0, 300))})
    births = pd.DataFrame([{"zone": f"T{z}", "year": y, "births": draw(st.integers(0, 400))}
                           for z in range(n_z) for y in range(2005, 2025)])
    return pd.DataFrame(rows), births, draw(st.integers(1, 8))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(zoned_enrolment(), st.sampled_from(["low", "medium", "high"]))
def test_property_forecast_bands_ordered_and_non_negative(data: Any, fertility: str) -> None:
    from schoolplan import forecast as fc
    from schoolplan.scenario import _fill_untaught_grades

    enrolment, births, horizon = data
    e = _fill_untaught_grades(enrolment, fc.DEFAULT_LEVEL_GRADES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fc.seat_demand(e, births, horizon_years=horizon, births_scenario=fertility)
    q = out[["p10", "p50", "p90"]].to_numpy()
    assert np.isfinite(q).all() and (q >= 0).all()
    assert (out["p10"] <= out["p50"] + 1e-9).all() and (out["p50"] <= out["p90"] + 1e-9).all()
    assert set(out["year"]) == set(range(2025, 2025 + horizon))
    assert set(out["level"]) == {"kindergarten", "primary", "junior"}


if __name__ == "__main__":  # regenerate the table: python tests/test_bad_inputs.py > docs/bad_inputs.md
    sys.stdout.write(render_doc() + "\n")
