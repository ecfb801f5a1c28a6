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
import shapely
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from openpyxl.utils.exceptions import IllegalCharacterError
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


def _interrupt(ctx: Ctx, c: Case, stage: str, *, sig: int = signal.SIGINT, code: int = 130) -> None:
    """Run ``schoolplan run`` in a subprocess, interrupt it at ``stage`` (Ctrl-C or ``sig``), check what is left."""
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
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert c.fragment in err and "Traceback" not in err, err
    assert not [p for p in ctx.tmp.iterdir() if p.name.startswith(".out.")], "a partial folder was left"
    assert (out / "report.html").read_text(encoding="utf-8") == "EARLIER REPORT"
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "run.json"]


#: Subprocess body: slow down one stage (so that Ctrl-C lands in it), then run the CLI.
_SLOW = """
import pathlib, signal, sys, time
# Ctrl-C as at a terminal, whatever the runner passed down (a shell starts background jobs with SIGINT ignored)
signal.signal(signal.SIGINT, signal.default_int_handler)
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


# =========================================================================== issue 21: trust under bad input
# Numbers that wrap, references across layers, TOML sections, forecast inputs, geography,
# files as people send them, safe outputs and limits. Each kind has at least one case.

def bow_tie(x0: float, y0: float, d: float) -> Any:
    """A self-intersecting (figure-eight) polygon, as real SHP boundaries sometimes are."""
    from shapely.geometry import Polygon

    return Polygon([(x0, y0), (x0 + d, y0 + d), (x0 + d, y0), (x0, y0 + d), (x0, y0)])


def write_toml(path: Path, text: str, *, bom: bool = False) -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def zones_and_sites(f: Path, *, zone: str = "Z1", township: str = "T1", site_school: str | None = None) -> None:
    """Add a zones layer (one zone in T1), a developments layer naming ``zone`` and a sites layer in ``township``."""
    from conftest import LAT0, LON0

    z = gpd.GeoDataFrame({"zone_id": ["Z1"], "name": ["城北片区"], "township_id": ["T1"], "population": [5000]},
                         geometry=[box(LON0 + 0.01, LAT0 + 0.01, LON0 + 0.09, LAT0 + 0.09)], crs=4326)
    d = gpd.GeoDataFrame({"development_id": ["D1"], "name": ["新城小区"], "zone_id": [zone], "year": [2026],
                          "dwellings": [800]}, geometry=[Point(LON0 + 0.05, LAT0 + 0.05)], crs=4326)
    s = gpd.GeoDataFrame({"site_id": ["P1"], "name": ["北地块"], "township_id": [township],
                          "school_id": [site_school]}, geometry=[Point(LON0 + 0.06, LAT0 + 0.06)], crs=4326)
    for name, gdf in (("zones", z), ("developments", d), ("sites", s)):
        set_layer(f, name, gdf)


@case("enrolment_inf", "load_county", "在校生数 = inf", "SchemaError", "values are not finite numbers",
      "enter the real count (inf would wrap around to −9,223,372,036,854,775,808 pupils)")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_schools(f, schools().astype({"在校生数": object}).assign(在校生数=[1300, "inf", 420, 180]), "学校.csv")
    raises(c, lambda: load_county(f), file="学校.csv", column="students", rows=["S2"])
    cli(ctx, c, ["info", str(f), "--no-roads"])


@case("enrolment_1e20", "load_county", "在校生数 = 1e20 (and births of 1e20)", "SchemaError",
      "values above 30,000 pupils", "check for a typo, a total entered as one row, or a number in the wrong unit")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_schools(f, schools().astype({"在校生数": object}).assign(在校生数=[1300, 1e20, 420, 180]))
    raises(c, lambda: load_county(f), file=SCHOOLS_XLSX, column="students", rows=["S2"])
    g = ctx.county("g")
    b = births_table().astype({"出生人口": object})
    b.loc[3, "出生人口"] = "1e20"
    b.to_csv(g / "births.csv", index=False, encoding="gbk")
    with pytest.raises(SchoolplanError, match="values above 1,000,000 births") as err:
        load_county(g)
    assert err.value.column == "births" and list(err.value.rows) == [4]


@case("count_not_whole", "load_county", "班级数 = 24.5", "SchemaError", "values must be whole numbers (e.g. 24.5)",
      "counts of pupils, classes and teachers are whole numbers")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_schools(f, schools().assign(班级数=[24.5, 3, 9, 6]))
    raises(c, lambda: load_county(f), column="classes", rows=["S1"])


@case("two_county_seats", "load_county", "two townships flagged 是否县城", "SchemaError",
      "2 townships are flagged as the county seat (县城)", "flag exactly one township as the county seat")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_layer(f, "townships", township_frame().assign(is_county_seat=[True, True]))
    raises(c, lambda: load_county(f), file="townships.gpkg", column="is_county_seat", rows=["T1", "T2"])
    cli(ctx, c, ["info", str(f), "--no-roads"])


@case("duplicate_village", "load_county", "a village row copied with a new id (children counted twice)",
      "DataWarning", "look like the same village entered twice",
      "delete the repeated row, or move the point if they are different villages")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    v = villages_frame()
    copy = v.iloc[[2]].assign(village_id="V9")
    set_layer(f, "villages", pd.concat([v, copy], ignore_index=True))
    county = warns(c, lambda: load_county(f))
    dq = county.data_quality
    row = dq[dq["check"] == "duplicate_village"].iloc[0]
    assert row["layer"] == "villages" and "V2" in row["rows"] and "V9" in row["rows"]


@case("development_unknown_zone", "load_county", "a development in zone Z9 that the zones layer lacks",
      "SchemaError", "unknown zone_id value(s): Z9", "use zone ids (or names) from the zones layer")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    zones_and_sites(f, zone="Z9")
    raises(c, lambda: load_county(f), file="developments.gpkg", column="zone_id", rows=["D1"])


@case("site_unknown_township", "load_county", "a candidate site in township T9, or naming school X9",
      "SchemaError", "unknown township_id value(s): T9", "use township ids (or names) from the townships layer")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    zones_and_sites(f, township="T9")
    raises(c, lambda: load_county(f), file="sites.gpkg", column="township_id", rows=["P1"])
    zones_and_sites(f, site_school="X9")
    with pytest.raises(SchoolplanError, match="unknown school_id value"):
        load_county(f)


@case("references_by_name", "load_county", "townships given by name (城关镇, 河口乡) in schools, births and sites",
      "loads", "matched to ids", "nothing to fix: names are matched to ids, and the data-quality table says so")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_schools(f, schools().assign(乡镇代码=["城关镇", "河口乡", "河口", "T1"]))
    b = births_table()
    b["乡镇代码"] = b["乡镇代码"].map({"T1": "城关镇", "T2": "河口乡"})
    b.to_csv(f / "births.csv", index=False, encoding="gbk")
    zones_and_sites(f, township="城关镇")
    county = load_county(f)
    assert county.schools["township_id"].tolist() == ["T1", "T2", "T2", "T1"]
    assert set(county.births["township_id"]) == {"T1", "T2"} and county.sites.loc["P1", "township_id"] == "T1"
    notes = county.data_quality[county.data_quality["check"] == "name_to_id"]
    assert len(notes) == 3 and all(c.fragment in m for m in notes["message"])
    set_schools(f, schools().assign(乡镇代码=["城关镇", "城关", "T2", "T1"]))  # 城关 names only T1: fine
    assert load_county(f).schools.loc["S2", "township_id"] == "T1"


@case("township_column_missing", "load_county", "学校.xlsx without a township column (乡镇代码)", "loads",
      "derived from the township polygons", "nothing to fix: townships come from the polygons (a note says so)")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_schools(f, schools().drop(columns=["乡镇代码"]))
    v = villages_frame().drop(columns=["township_id"])
    set_layer(f, "villages", v)
    county = load_county(f)
    assert county.schools["township_id"].tolist() == ["T1", "T2", "T2", "T1"]
    assert county.villages["township_id"].tolist() == ["T1", "T1", "T1", "T2", "T2", "T2"]
    dq = county.data_quality
    assert set(dq.loc[dq["check"] == "derived_township", "layer"]) == {"schools", "villages"}
    assert all(c.fragment in m for m in dq.loc[dq["check"] == "derived_township", "message"])


@case("capacity_column_missing", "load_county", "学校.xlsx without 学位数 (capacity_seats)", "loads",
      "classes × standard class size", "nothing to fix: seats = classes × the standard class size (a note says so)")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_schools(f, schools_table())
    county = load_county(f)
    assert county.schools["capacity_seats"].tolist() == [24 * 45, 3 * 30, 9 * 50, 6 * 30]
    note = county.data_quality[county.data_quality["check"] == "derived_seats"].iloc[0]
    assert c.fragment in note["message"] and note["n_rows"] == 4
    set_schools(f, schools().assign(学位数=[1350, None, 450, 180]))  # one blank: only that one is derived
    assert load_county(f).schools["capacity_seats"].tolist() == [1350, 90, 450, 180]


@case("births_future_years", "load_county", "births for 2025–2030 (projections) with a 2024 register",
      "SchemaError", "births for year(s) after the register year 2024",
      "delete the projected rows (schoolplan projects births itself), or set base_year if they are registered")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    b = births_table()
    more = pd.DataFrame([{"年份": y, "乡镇代码": t, "出生人口": 400} for y in range(2025, 2031) for t in ("T1", "T2")])
    pd.concat([b, more]).to_csv(f / "births.csv", index=False, encoding="gbk")
    raises(c, lambda: load_county(f), file="births.csv", column="year")
    cli(ctx, c, ["info", str(f), "--no-roads"])


@case("births_duplicate_rows", "load_county", "the same (year, township) twice in births.csv", "NonUniqueIdError",
      "births: the same (year, township) appears more than once", "keep one row per year and township")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    b = births_table()
    pd.concat([b, b.iloc[[4]]]).to_csv(f / "births.csv", index=False, encoding="gbk")
    raises(c, lambda: load_county(f), file="births.csv", rows=[5, 31])


@case("enrolment_year_gap", "load_county", "enrolment for 2022 and 2024 but not 2023", "SchemaError",
      "enrolment has no rows for year(s) 2023", "add the missing years, or delete the years before the gap")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    e = enrolment_table()
    e2 = e[e["year"] == 2023].assign(year=2022)
    pd.concat([e2, e[e["year"] == 2024]]).to_csv(f / "enrolment.csv", index=False)
    raises(c, lambda: load_county(f), file="enrolment.csv", column="year")


@case("enrolment_after_register_year", "load_county", "county.toml base_year = 2023 with enrolment for 2024",
      "SchemaError", "enrolment for year(s) after the register year 2023",
      "delete those rows, or set base_year to the latest counted year")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    write_toml(f / "county.toml", "base_year = 2023\n")
    raises(c, lambda: load_county(f), file="enrolment.csv", column="year")
    write_toml(f / "county.toml", "base_year = 2025\n")  # a register year without enrolment
    with pytest.raises(SchoolplanError, match="no enrolment for the register year 2025"):
        load_county(f)


@case("grade_school_cannot_teach", "load_county", "grade-8 pupils at a primary school", "SchemaError",
      "grades the school cannot teach", "correct the school's 学段 (e.g. 九年一贯制) or the grade of the rows")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    e = enrolment_table()
    extra = pd.DataFrame([{"year": 2024, "school_id": "S1", "grade": 8, "students": 30}])
    pd.concat([e, extra], ignore_index=True).to_csv(f / "enrolment.csv", index=False)
    raises(c, lambda: load_county(f), file="enrolment.csv", column="grade", rows=[len(e) + 1])


@case("closed_school_with_pupils", "load_county", "a school marked 撤并 (closed) that still has 420 pupils",
      "DataWarning", "closed school(s) have pupils", "set the status to open if it still teaches, or move its pupils")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_schools(f, schools().assign(状态=["在办", "在办", "撤并", "在办"]))
    county = warns(c, lambda: load_county(f))
    assert county.data_quality.loc[county.data_quality["check"] == "closed_with_pupils", "rows"].iloc[0] == "S3"


@case("outlier_at_zero", "load_county", "one village geocoded to (0, 0)", "DataWarning",
      "V0 村0 (", "check its coordinates; the working CRS is chosen from the townships and does not move")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    v = villages_frame()
    v.loc[0, "geometry"] = Point(0.0, 0.0)
    set_layer(f, "villages", v)
    county = warns(c, lambda: load_county(f))
    assert county.crs.to_epsg() == 4546  # not a UTM zone off Africa
    dq = county.data_quality
    assert "at 0.0000, 0.0000" in dq.loc[dq["check"] == "outside_county", "message"].iloc[0]
    err = cli(ctx, c, ["info", str(f), "--no-roads"], code=0)
    assert "EPSG:4546" in ctx.capsys.readouterr().out or "V0" in err


@case("self_intersecting_township", "load_county", "a figure-eight (self-intersecting) township polygon",
      "DataWarning", "polygon(s) were invalid", "repair them in QGIS (Fix Geometries) and compare")
def _(ctx: Ctx, c: Case) -> None:
    from conftest import LAT0, LON0, D

    f = ctx.county()
    t = township_frame()
    t.loc[1, "geometry"] = bow_tie(LON0 + D, LAT0, D)
    set_layer(f, "townships", t)
    county = warns(c, lambda: load_county(f))
    assert county.townships.geometry.is_valid.all()
    cli(ctx, c, ["info", str(f), "--no-roads"], code=0)


@case("road_speed_1200", "load_county", "roads.gpkg with 设计速度 = 1200 km/h", "SchemaError",
      "road speeds outside 0–150 km/h (e.g. 1200 km/h)", "correct the typos, or delete the column to use class speeds")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    g = road_grid()
    g["设计速度"] = 40.0
    g.loc[3, "设计速度"] = 1200.0
    set_layer(f, "roads", g)
    raises(c, lambda: load_county(f), file="roads.gpkg", column="设计速度", rows=[4])


@case("profile_speed_1200", "scenario file", "a speed profile with 县道 = 1200 km/h", "ConfigError",
      "is outside 0.5–150 km/h", "correct the profile (speeds are km/h)")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.scenario import load_scenario

    f = ctx.county()
    write_toml(ctx.tmp / "fast.toml", 'base = "school_bus"\nname = "fast"\n[speeds_kmh]\n"县道" = 1200.0\n')
    sc = write_scenario(ctx.tmp / "s.toml", f, network={"profile": "fast.toml"})
    raises(c, lambda: load_scenario(sc), file="s.toml", column="network.profile")


@case("standards_class_size_zero", "scenario file", "[standards_overrides.class_size] primary = 0", "ConfigError",
      "standards value class_size.primary = 0 is out of range: it must be > 0",
      "correct it (the national default is named)")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.scenario import load_scenario

    f = ctx.county()
    sc = write_scenario(ctx.tmp / "s.toml", f)
    sc.write_text(sc.read_text(encoding="utf-8") + "[standards_overrides.class_size]\nprimary = 0\n", encoding="utf-8")
    raises(c, lambda: load_scenario(sc), file="s.toml", column="class_size.primary")
    cli(ctx, c, ["run", str(sc), "--out", str(ctx.tmp / "out")])


@case("costs_typo_and_nan", "scenario file", "[costs] clasroom_wan = 50 (typo), classroom_wan = nan", "ConfigError",
      "unknown cost(s) 'clasroom_wan' (did you mean 'classroom_wan'?)", "use a cost key listed in the message")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.scenario import load_scenario

    f = ctx.county()
    sc = write_scenario(ctx.tmp / "s.toml", f, costs={"clasroom_wan": 50.0})
    raises(c, lambda: load_scenario(sc), file="s.toml", column="costs")
    sc.write_text(sc.read_text(encoding="utf-8").replace("clasroom_wan = 50.0", "classroom_wan = nan"),
                  encoding="utf-8")
    with pytest.raises(SchoolplanError, match="finite number"):
        load_scenario(sc)
    sc.write_text(sc.read_text(encoding="utf-8").replace("classroom_wan = nan", "classroom_wan = 55.0"),
                  encoding="utf-8")
    assert load_scenario(sc).costs == {"classroom_wan": 55.0}


@case("scenario_nan_minutes", "scenario file", "bus_minutes = nan, cutoff_minutes = inf", "ConfigError",
      "Input should be a finite number", "give a number of minutes")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.scenario import load_scenario

    f = ctx.county()
    sc = write_scenario(ctx.tmp / "s.toml", f)
    sc.write_text(sc.read_text(encoding="utf-8") + "[consolidation]\nbus_minutes = nan\n", encoding="utf-8")
    raises(c, lambda: load_scenario(sc), file="s.toml", column="consolidation.bus_minutes")
    sc2 = write_scenario(ctx.tmp / "s2.toml", f)
    sc2.write_text(sc2.read_text(encoding="utf-8") + "[network]\ncutoff_minutes = inf\n", encoding="utf-8")
    with pytest.raises(SchoolplanError, match="finite number"):
        load_scenario(sc2)


@case("base_year_text", "load_county", 'county.toml base_year = "2024年" (and "去年")', "ConfigError",
      "base_year must be a year, got '去年'", "write base_year = 2024 (a plain number); 2024年 and ２０２４ are read")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.scenario import load_scenario

    f = ctx.county()
    write_toml(f / "county.toml", 'base_year = "2024年"\n')
    assert load_county(f).base_year == 2024
    write_toml(f / "county.toml", 'base_year = "２０２４"\n')
    assert load_county(f).base_year == 2024
    write_toml(f / "county.toml", 'base_year = "去年"\n')
    raises(c, lambda: load_county(f), file="county.toml", column="base_year")
    cli(ctx, c, ["info", str(f), "--no-roads"])
    write_toml(f / "county.toml", "")
    sc = write_scenario(ctx.tmp / "s.toml", f, scenario={"target_year": "2026年"})
    assert load_scenario(sc).scenario.target_year == 2026


@case("toml_with_bom", "scenario file", "county.toml, a scenario and a standards file saved with a UTF-8 BOM",
      "loads", "BOM ignored", "nothing to fix: the byte-order mark Notepad writes is ignored")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.scenario import load_scenario

    f = ctx.county()
    write_toml(f / "county.toml", 'name_zh = "示例县"\nbase_year = 2024\n', bom=True)
    assert load_county(f).name == "示例县"
    write_toml(ctx.tmp / "local.toml", "[class_size]\nprimary = 40\n", bom=True)
    sc = write_scenario(ctx.tmp / "s.toml", f, scenario={"standards": "local.toml"})
    write_toml(sc, sc.read_text(encoding="utf-8"), bom=True)
    assert load_scenario(sc).scenario.target_year == 2026


@case("county_toml_typo", "load_county", "county.toml with base_yaer = 2024 (typo)", "ConfigError",
      "unknown key(s) in county.toml: 'base_yaer' (did you mean 'base_year'?)",
      "use the documented keys (docs/schema.md lists them)")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    write_toml(f / "county.toml", "base_yaer = 2024\n")
    raises(c, lambda: load_county(f), file="county.toml", column="base_yaer")
    cli(ctx, c, ["info", str(f), "--no-roads"])


@case("county_toml_missing_gpkg", "load_county", "county.toml names a GeoPackage that does not exist (another one is "
      "in the folder)", "MissingFileError", "the GeoPackage named in county.toml does not exist",
      "fix the 'gpkg' entry (the message lists the folder's files)")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    write_toml(f / "county.toml", 'gpkg = "county_2024.gpkg"\n')
    err = raises(c, lambda: load_county(f), file="county_2024.gpkg", column="gpkg")
    assert isinstance(err, FileNotFoundError) and "villages.gpkg" in str(err)
    write_toml(f / "county.toml", 'schools = "学校名录.xlsx"\n')
    with pytest.raises(SchoolplanError, match="the schools file named in county.toml does not exist"):
        load_county(f)


@case("fullwidth_digits", "load_county", "在校生数 = １３００, 学校代码 = Ｓ１, 经度 with a full-width point", "loads",
      "students = 1300", "nothing to fix: full-width digits and punctuation are read as ASCII")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    s = schools().astype({"在校生数": object, "经度": object, "学校代码": object})
    s.loc[0, ["在校生数", "学校代码"]] = ["１，３００", "Ｓ１"]
    s.loc[1, "经度"] = "１１１．６５"
    set_schools(f, s, "学校.csv")
    county = load_county(f)
    assert county.schools.loc["S1", "students"] == 1300
    assert county.schools.to_crs(4326).loc["S2"].geometry.x == pytest.approx(111.65)


@case("chinese_grade_labels", "load_county", "年级 = 一年级 … 六年级, 初一 … 初三, 小班/中班/大班", "loads",
      "grades 1–9 read", "nothing to fix: Chinese grade labels are read (docs/schema.md lists them)")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.schema import GRADE_LABELS

    f = ctx.county()
    e = enrolment_table()
    zh = {1: "一年级", 2: "二年级", 3: "三年级", 4: "四年级", 5: "五年级", 6: "六年级", 7: "初一", 8: "初二", 9: "初三"}
    kg = {1: "小班", 2: "中班", 3: "大班"}
    e["grade"] = [kg[g] if s == "K1" else zh[g] for s, g in zip(e["school_id"], e["grade"], strict=True)]
    e.to_csv(f / "enrolment.csv", index=False)
    county = load_county(f)
    want = load_county(ctx.county("ref")).enrolment
    pd.testing.assert_frame_equal(county.enrolment[want.columns].astype({"grade": int}), want.astype({"grade": int}),
                                  check_dtype=False)
    assert GRADE_LABELS["初一"] == (7, "junior")


@case("trailing_empty_rows", "load_county", "the empty ,,,,, rows Excel leaves at the end of a CSV", "loads",
      "blank row(s)", "nothing to fix: blank rows are ignored (a note says how many)")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    text = enrolment_table().to_csv(index=False) + ",,,\n" * 5 + " , , , \n"
    (f / "enrolment.csv").write_text(text, encoding="utf-8")
    county = load_county(f)
    assert len(county.enrolment) == len(enrolment_table())
    dq = county.data_quality
    assert c.fragment in dq.loc[dq["check"] == "blank_rows", "message"].iloc[0]


@case("mojibake_gbk_as_latin1", "load_county", "GBK text read as Latin-1 and saved (ºÓ¿ÚÐ¡Ñ§ for 河口小学)",
      "EncodingError", "it looks like GBK/GB18030 read as Latin-1",
      "re-export the file as UTF-8, or pass the encoding it was saved in")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    s = schools()
    s["学校名称"] = [n.encode("gbk").decode("latin-1") for n in s["学校名称"]]
    set_schools(f, s, "学校.csv")
    err = raises(c, lambda: load_county(f), file="学校.csv", column="学校名称")
    assert "'河口小学'" in str(err) or "'城关一小'" in str(err)


@case("replacement_characters", "load_county", "names with � (characters lost in an earlier conversion)",
      "EncodingError", "text holds replacement characters", "export the table again from the original")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    set_schools(f, schools().assign(学校名称=["城关一小", "河口\ufffd\ufffd", "河口初中", "城关幼儿园"]), "学校.csv")
    raises(c, lambda: load_county(f), file="学校.csv", column="学校名称", rows=[2])


@case("utf16_csv", "load_county", "enrolment saved by Excel as 'Unicode text' (UTF-16, tab-separated)", "loads",
      "UTF-16 read", "nothing to fix: byte-order marks decide the encoding")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    (f / "enrolment.csv").unlink()
    (f / "enrolment.txt").write_bytes(enrolment_table().to_csv(index=False, sep="\t").encode("utf-16"))
    assert len(load_county(f).enrolment) == len(enrolment_table())


@case("notes_sheet_first", "load_county", "学校.xlsx with a notes sheet (填表说明) before the data sheet", "loads",
      "was read as the schools layer", "nothing to fix: the sheet with the schools' columns is chosen (a note says so)")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    (f / SCHOOLS_XLSX).unlink()
    with pd.ExcelWriter(f / SCHOOLS_XLSX) as xw:
        pd.DataFrame({"填表说明": ["1. 学段填写小学/初中", "2. 经纬度为 WGS-84"]}).to_excel(xw, sheet_name="填表说明",
                                                                               index=False)
        schools().to_excel(xw, sheet_name="学校", index=False)
    county = load_county(f)
    assert len(county.schools) == 4
    dq = county.data_quality
    assert c.fragment in dq.loc[dq["check"] == "sheet", "message"].iloc[0]


@case("two_data_sheets", "load_county", "学校.xlsx with two equally good data sheets (2023 and 2024)",
      "InputFileError", "several sheets hold schools data (2023, 2024): which one is meant?",
      'name the sheet in county.toml: [schools] file = "学校.xlsx", sheet = "2024"')
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    (f / SCHOOLS_XLSX).unlink()
    with pd.ExcelWriter(f / SCHOOLS_XLSX) as xw:
        schools().to_excel(xw, sheet_name="2023", index=False)
        schools().to_excel(xw, sheet_name="2024", index=False)
    raises(c, lambda: load_county(f), file=SCHOOLS_XLSX, layer="schools")
    write_toml(f / "county.toml", '[schools]\nfile = "学校.xlsx"\nsheet = "2024"\n')
    assert len(load_county(f).schools) == 4


@case("formulas_without_values", "load_county", "在校生数 written as formulas by a script, never calculated",
      "InputFileError", "cells hold formulas without saved values",
      "open the file in Excel/WPS and save it, or paste the values without formulas")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    (f / SCHOOLS_XLSX).unlink()
    s = schools()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(s.columns))
    for i, row in enumerate(s.itertuples(index=False), start=2):
        values = list(row)
        values[list(s.columns).index("在校生数")] = f"=E{i}*50"  # 班级数 × 50, never calculated
        ws.append(values)
    wb.save(f / SCHOOLS_XLSX)
    err = raises(c, lambda: load_county(f), file=SCHOOLS_XLSX, column="在校生数")
    assert list(err.rows)[:2] == ["F2", "F3"]  # column F = 在校生数


@case("xlsx_unpacks_too_big", "load_county", "a 学校.xlsx whose sheet unpacks to more than the limit (zip bomb)",
      "InputFileError", "unpacks to", "delete unused rows and columns (or save as CSV); SCHOOLPLAN_MAX_UNPACKED_MB "
      "raises the limit")
def _(ctx: Ctx, c: Case) -> None:
    import zipfile

    f = ctx.county()
    (f / SCHOOLS_XLSX).unlink()
    with zipfile.ZipFile(f / SCHOOLS_XLSX, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", b"<row/>" * (3 * 2**20 // 6))  # 3 MB of empty rows, ~3 kB packed
    ctx.monkeypatch.setenv("SCHOOLPLAN_MAX_UNPACKED_MB", "1")
    t0 = time.monotonic()
    raises(c, lambda: load_county(f), file=SCHOOLS_XLSX)
    assert time.monotonic() - t0 < 10  # refused before parsing


@case("xlsx_formula_injection", "outputs", "a school named =HYPERLINK(\"http://evil\",\"点我\") written to the XLSX",
      "text", "'=HYPERLINK", "nothing to fix: user text is written as text (a leading apostrophe), never as a formula")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.report import write_xlsx

    res = _tiny_results(ctx)[0]
    evil = '=HYPERLINK("http://evil","点我")'
    names = [evil, "+1+1", "@SUM(A1)", "-2+3"][:len(res.plan.schools)]
    plan = dataclasses.replace(res.plan, schools=res.plan.schools.assign(name=names))
    path = write_xlsx([dataclasses.replace(res, plan=plan)], ctx.tmp / "c.xlsx")
    wb = openpyxl.load_workbook(path)
    ws = wb["schools"]
    col = [cell.value for cell in ws[2]].index("School") + 1
    values = [ws.cell(row=r, column=col) for r in range(3, 3 + len(names))]
    assert all(v.data_type == "s" for v in values)
    assert [v.value for v in values] == ["'" + n for n in names]
    assert c.fragment in values[0].value


@case("memory_process_limits", "load_county", "a process address-space limit (ulimit -v) or a container memory "
      "limit (cgroup) below the need", "ResourceError", "needs about",
      "clip the layers, or raise the limit; the message says which limit binds")
def _(ctx: Ctx, c: Case) -> None:
    import resource

    from schoolplan import io

    f = ctx.county()
    sparse(f / "births.csv", 600 * 2**20)
    ctx.monkeypatch.setattr(resource, "getrlimit", lambda _r: (2 * 2**30, resource.RLIM_INFINITY))
    import psutil

    real = psutil.Process

    class Vms:
        def memory_info(self) -> Any:
            return SimpleNamespace(vms=int(1.5 * 2**30), rss=0)

    ctx.monkeypatch.setattr(psutil, "Process", lambda *_a: Vms())
    err = raises(c, lambda: load_county(f))
    assert "address-space limit" in str(err)
    ctx.monkeypatch.setattr(psutil, "Process", real)
    ctx.monkeypatch.setattr(resource, "getrlimit", lambda _r: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    root = ctx.tmp / "cgroup"
    (root / "sys").mkdir(parents=True)
    (root / "cgroup.controllers").write_text("memory\n")
    (root / "memory.max").write_text(str(2**30))
    (root / "memory.current").write_text(str(512 * 2**20))
    ctx.monkeypatch.setattr(io, "CGROUP_ROOT", root)
    ctx.monkeypatch.setattr(io, "_cgroup_paths", lambda: [("v2", "/")])
    assert io.cgroup_memory_available() == 512 * 2**20
    err = raises(c, lambda: load_county(f))
    assert "container's memory limit" in str(err) and "512.0 MB" in str(err)


@case("terminal_markup_in_name", "cli info", "county.toml name_zh = \"[/b]示范[bold red]县\\x1b[2J\" (markup and an "
      "escape sequence)", "exit 0", "[/b]示范[bold red]县", "nothing to fix: user text is shown as text")
def _(ctx: Ctx, c: Case) -> None:
    f = ctx.county()
    write_toml(f / "county.toml", 'name_zh = "[/b]示范[bold red]县\\u001b[2J"\n')
    ctx.capsys.readouterr()
    assert main(["info", str(f), "--no-roads", "--lang", "en"]) == 0
    out = ctx.capsys.readouterr().out
    assert c.fragment in out and "\x1b[2J" not in out and "internal error" not in out


@case("sigterm_while_writing", "outputs", "SIGTERM (a scheduler or `kill`) while the outputs are being written",
      "exit 143", "terminated (SIGTERM); outputs of this run were not written, earlier outputs are intact",
      "nothing to clean up: the half-written folder is removed, as for Ctrl-C")
def _(ctx: Ctx, c: Case) -> None:
    _interrupt(ctx, c, "write", sig=signal.SIGTERM, code=143)


@case("disk_full_in_gdal", "outputs", "the disk fills up inside GDAL/SQLite while writing results.gpkg",
      "OutputError", "the disk is full", "free disk space (or choose an --out on another disk) and run again")
def _(ctx: Ctx, c: Case) -> None:
    import pyogrio

    from schoolplan import io, report

    results = _tiny_results(ctx)

    def full(*_a: Any, **_k: Any) -> None:
        raise pyogrio.errors.DataSourceError("sqlite3_exec(COMMIT) failed: database or disk is full")

    ctx.monkeypatch.setattr(io.pyogrio, "write_dataframe", full)
    raises(c, lambda: report.write_outputs(results, ctx.tmp / "o", maps=False))
    assert not (ctx.tmp / "o").exists() and not [p for p in ctx.tmp.iterdir() if p.name.startswith(".o.")]

    def enospc(*_a: Any, **_k: Any) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(SchoolplanError, match="the disk is full") as err, io.atomic_file(ctx.tmp / "x.txt", mode="w") \
            as fh:
        fh.write("x")
        enospc()
    assert isinstance(err.value, OSError)


@case("offset_gcj02_dense_seat", "preflight", "GCJ-02 schools of the raw county (dense county seat) labelled "
      "WGS-84, roads from a government layer", "DataWarning",
      "schools look like GCJ-02 (Gaode/Tencent web-map) coordinates labelled WGS-84",
      'read 学校.csv with coords = "gcj02" (county.toml, [schools] coords, scenario or --coords)')
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.preflight import check_offsets

    county, graph = _raw(ctx, coords="wgs84")
    found = warns(c, lambda: check_offsets(county, graph))
    assert list(found["layer"]) == ["schools"] and list(found["kind"]) == ["gcj02"]
    assert 'coords = "gcj02"' in found["fix"].iloc[0]
    seat = county.schools[county.schools["township_id"] == county.county_seat]
    dense = dataclasses.replace(county, schools=seat, villages=county.villages.iloc[0:0])
    assert list(warns(c, lambda: check_offsets(dense, graph))["kind"]) == ["gcj02"]
    right, _ = _raw(ctx)  # as county.toml says: coords = "gcj02"
    assert check_offsets(right, graph).empty


@case("offset_bd09_villages", "preflight", "villages copied from Baidu (BD-09) into a shapefile labelled WGS-84",
      "DataWarning", "villages look like BD-09 (Baidu web-map) coordinates labelled WGS-84",
      "convert the layer (schoolplan.coords.bd09_to_wgs84) before loading")
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.preflight import check_offsets

    county, graph = _raw(ctx)
    v = county.villages.to_crs(4326)
    x, y = coords.wgs84_to_bd09(v.geometry.x, v.geometry.y)
    bd = dataclasses.replace(county, villages=v.set_geometry(gpd.points_from_xy(x, y), crs=4326).to_crs(county.crs))
    found = warns(c, lambda: check_offsets(bd, graph))
    assert list(found["kind"]) == ["bd09"] and "bd09_to_wgs84" in found["fix"].iloc[0]


@case("offset_converted_twice", "preflight", 'WGS-84 schools read with coords = "gcj02" (converted although they '
      "were not GCJ-02)", "DataWarning", "converted from GCJ-02 although they were not GCJ-02 (converted twice)",
      'remove coords = "gcj02" (or give [schools] coords = "wgs84")')
def _(ctx: Ctx, c: Case) -> None:
    from schoolplan.preflight import check_offsets

    county, graph = _raw(ctx, gcj02=False, coords="gcj02")
    found = warns(c, lambda: check_offsets(county, graph))
    assert list(found["kind"]) == ["gcj02_twice"] and "remove coords" in found["fix"].iloc[0]


_RAW: dict[Any, Any] = {}


def _raw(ctx: Ctx, *, gcj02: bool = True, coords: str | None = None) -> tuple[County, Any]:
    """The raw-input county (tests/raw_county.py) loaded with ``coords``, and its road graph (built once)."""
    from raw_county import write_raw_county
    from schoolplan.network import build_graph

    key = ("folder", gcj02)
    if key not in _RAW:
        _RAW[key] = write_raw_county(ctx.tmp.parent / f"raw_shared_{gcj02}", gcj02=gcj02)
    folder = _RAW[key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        county = load_county(folder, coords=coords)
        if "graph" not in _RAW:
            _RAW["graph"] = build_graph(county.roads, profile="school_bus", crs=county.crs)
    return county, _RAW["graph"]


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

    enrolment, births, horizon = data
    # one school per township, summed to zones the way a scenario does (untaught grades are 0)
    schools = pd.DataFrame({"township_id": sorted(set(enrolment["zone"]))},
                           index=pd.Index(sorted(set(enrolment["zone"])), name="school_id"))
    e = fc.enrolment_by_zone(enrolment.rename(columns={"zone": "school_id"}), schools, fill_untaught=True)
    assert len(e) == len(schools) * len(set(e["year"])) * 12  # 3 + 6 + 3 grades per zone and year
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fc.seat_demand(e, births, horizon_years=horizon, births_scenario=fertility)
    q = out[["p10", "p50", "p90"]].to_numpy()
    assert np.isfinite(q).all() and (q >= 0).all()
    assert (out["p10"] <= out["p50"] + 1e-9).all() and (out["p50"] <= out["p90"] + 1e-9).all()
    assert set(out["year"]) == set(range(2025, 2025 + horizon))
    assert set(out["level"]) == {"kindergarten", "primary", "junior"}



# =========================================================================== fuzzing the loaders (issue 21, item 6)
#: Values people (and broken exports) put into cells.
FUZZ_VALUES = ("", " ", "nan", "NaN", "inf", "-inf", "1e20", "-1e300", "1e400", "-1", "0", "1.5", "１２", "四十",
               "=SUM(A1)", "#DIV/0!", "\x00", "\ufffd\ufffd", "åŸŽ", "娌冲彛", "x" * 300, "一年级", "初一", "小班",
               "2024年", "T9", "S9", "城关镇", "是", "否", "-", "—", None)
FUZZ_LAYERS = {"schools": SCHOOLS_XLSX, "villages": "villages.gpkg", "townships": "townships.gpkg",
               "births": "births.csv", "enrolment": "enrolment.csv"}


def _frames() -> dict[str, pd.DataFrame]:
    return {"schools": schools_table(), "villages": villages_frame(), "townships": township_frame(),
            "births": births_table(), "enrolment": enrolment_table()}


def _write_layer(folder: Path, layer: str, df: pd.DataFrame) -> None:
    path = folder / FUZZ_LAYERS[layer]
    path.unlink(missing_ok=True)
    if path.suffix == ".gpkg":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gpd.GeoDataFrame(df, geometry="geometry", crs=4326).to_file(path, driver="GPKG")
    elif path.suffix == ".xlsx":
        df.to_excel(path, index=False)
    else:
        df.to_csv(path, index=False, encoding="gbk" if layer == "births" else "utf-8")


#: Text a bureau's files can hold at all: GBK-encodable (the CSVs are GBK), no control characters (XLSX refuses them).
_WRITABLE = st.characters(codec="gbk", exclude_categories=("Cc", "Cs"))


@st.composite
def corruptions(draw: st.DrawFn) -> tuple[str, str, Any]:
    layer = draw(st.sampled_from(sorted(FUZZ_LAYERS)))
    kind = draw(st.sampled_from(["cell", "cell", "cell", "drop_column", "rename_column", "duplicate_row", "no_rows",
                                 "truncate_bytes", "flip_bytes", "geometry"]))
    if kind == "cell":
        value = draw(st.one_of(st.sampled_from(FUZZ_VALUES), st.floats(allow_nan=True, allow_infinity=True),
                               st.integers(-2**70, 2**70), st.text(_WRITABLE, max_size=12)))
        arg: Any = (draw(st.integers(0, 10_000)), draw(st.integers(0, 10_000)), value)
    elif kind in {"drop_column", "rename_column", "duplicate_row"}:
        arg = (draw(st.integers(0, 10_000)), draw(st.text(_WRITABLE, min_size=1, max_size=8)))
    elif kind in {"truncate_bytes", "flip_bytes"}:
        arg = (draw(st.floats(0.0, 1.0)), draw(st.binary(min_size=1, max_size=8)))
    elif kind == "geometry":
        arg = (draw(st.integers(0, 10_000)), draw(st.sampled_from(["none", "zero", "inf", "far", "bowtie"])))
    else:
        arg = None
    return layer, kind, arg


def _corrupt(folder: Path, layer: str, kind: str, arg: Any) -> None:
    df = _frames()[layer]
    cols = [c for c in df.columns if c != "geometry"]
    if kind == "cell":
        r, c, value = arg
        df = df.astype({cols[c % len(cols)]: object})
        df.iloc[r % len(df), df.columns.get_loc(cols[c % len(cols)])] = value
    elif kind == "drop_column":
        df = df.drop(columns=[cols[arg[0] % len(cols)]])
    elif kind == "rename_column":
        df = df.rename(columns={cols[arg[0] % len(cols)]: arg[1]})
    elif kind == "duplicate_row":
        df = pd.concat([df, df.iloc[[arg[0] % len(df)]]], ignore_index=True)
    elif kind == "no_rows":
        df = df.iloc[0:0]
    elif kind == "geometry" and "geometry" in df:
        from conftest import LAT0, LON0

        i, how = arg
        geom = {"none": None, "zero": Point(0, 0), "inf": Point(float("inf"), 33.0), "far": Point(75.0, 40.0),
                "bowtie": bow_tie(LON0, LAT0, 0.1)}[how]
        if how == "bowtie" and layer != "townships":
            geom = Point(LON0, LAT0)
        df = df.copy()
        df.loc[df.index[i % len(df)], "geometry"] = geom
    try:
        _write_layer(folder, layer, df.reset_index(drop=True) if layer not in {"villages", "townships"} else df)
    except (UnicodeEncodeError, IllegalCharacterError):  # text no GBK CSV or XLSX can hold: no user has it
        reject()
    if kind in {"truncate_bytes", "flip_bytes"}:
        path = folder / FUZZ_LAYERS[layer]
        raw = bytearray(path.read_bytes())
        at = int(arg[0] * (len(raw) - 1))
        if kind == "truncate_bytes":
            raw = raw[:at]
        else:
            raw[at:at + len(arg[1])] = arg[1]
        path.write_bytes(bytes(raw))


def _check_loaded(county: County) -> None:
    """A load that succeeds is a correct load: every invariant the later steps rely on holds."""
    from schoolplan.errors import DATA_QUALITY_COLUMNS
    from schoolplan.schema import LAYERS

    assert county.crs.is_projected
    for name in ("schools", "villages", "townships", "births", "enrolment"):
        df = getattr(county, name)
        spec = LAYERS[name]
        assert len(df) > 0, name
        if spec.id_column:
            assert df.index.is_unique and df.index.notna().all(), name
        for col in spec.all_columns:
            if col.name not in df or col.kind not in {"int", "float"}:
                continue
            v = pd.to_numeric(df[col.name], errors="raise").astype(float).dropna()
            assert np.isfinite(v).all(), (name, col.name)
            if col.minimum is not None:
                assert (v >= col.minimum).all(), (name, col.name)
            if col.maximum is not None:
                assert (v <= col.maximum).all(), (name, col.name)
        if isinstance(df, gpd.GeoDataFrame):
            assert not (df.geometry.isna() | df.geometry.is_empty).any(), name
            xy = shapely.get_coordinates(df.geometry.to_numpy())
            assert np.isfinite(xy).all(), name
    for child in ("schools", "villages"):
        tw = county.__getattribute__(child)["township_id"].dropna()
        assert tw.isin(county.townships.index).all(), child
    assert county.enrolment["school_id"].isin(county.schools.index).all()
    assert county.base_year in set(county.enrolment["year"])
    assert county.townships["is_county_seat"].sum() <= 1
    assert list(county.data_quality.columns[:len(DATA_QUALITY_COLUMNS)]) == list(DATA_QUALITY_COLUMNS)


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(corruptions())
def test_fuzz_loaders_typed_error_or_correct_load(tmp_path_factory: pytest.TempPathFactory, corruption: Any) -> None:
    """Random corruption of one layer of the tiny county: a typed schoolplan error, or a load that is correct."""
    from conftest import write_tiny_county

    layer, kind, arg = corruption
    folder = write_tiny_county(tmp_path_factory.mktemp("fuzz"))
    _corrupt(folder, layer, kind, arg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            county = load_county(folder)
        except SchoolplanError as err:
            assert str(err) and err.fix, repr(err)  # typed, with a fix
            return
    _check_loaded(county)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.sampled_from([".csv", ".xlsx", ".txt", ".gpkg", ".shp.zip"]))
def test_fuzz_readers_on_random_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes, suffix: str) -> None:
    """Any bytes named like an input file: a typed error or a table, never an untyped exception."""
    from schoolplan.io import read_layer

    path = tmp_path_factory.mktemp("bytes") / f"layer{suffix}"
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = read_layer(path)
        except SchoolplanError:
            return
    assert isinstance(out, pd.DataFrame)


if __name__ == "__main__":  # regenerate the table: python tests/test_bad_inputs.py > docs/bad_inputs.md
    sys.stdout.write(render_doc() + "\n")
