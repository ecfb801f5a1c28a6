"""load_county: formats, aliases, CRS handling, cross-layer checks and bad inputs."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from conftest import DEMO, births_table, schools_table, township_frame, villages_frame
from schoolplan._validate import normalise_columns, validate_layer
from schoolplan.county import county_summary, load_county
from schoolplan.errors import (
    ConfigError,
    CrsError,
    DataWarning,
    InputFileError,
    NonUniqueIdError,
    SchemaError,
)
from schoolplan.schema import LAYERS, schema_markdown


def test_tiny_county_loads_all_formats(tiny_county: Path) -> None:
    before = {p.name: p.read_bytes() for p in tiny_county.iterdir()}
    county = load_county(tiny_county)
    # metric CRS chosen from the extent: CGCS2000 3-degree GK, CM 111E
    assert county.crs.to_epsg() == 4546
    assert county.schools.crs == county.crs and county.villages.crs == county.crs
    assert county.schools.loc["S2", "level"] == "teaching_point"
    assert county.schools.loc["S1", "students"] == 1300
    assert county.schools.loc["S1", "status"] == "open"
    assert county.county_seat == "T1"
    assert county.births["births"].sum() == births_table()["出生人口"].sum()
    assert set(county.enrolment["level"]) == {"primary", "junior", "kindergarten"}
    assert county.base_year == 2024
    assert len(county.zones) == 0 and county.zones.crs == county.crs
    # inputs are never modified
    assert before == {p.name: p.read_bytes() for p in tiny_county.iterdir()}


def test_explicit_crs_and_geographic_rejected(tiny_county: Path) -> None:
    county = load_county(tiny_county, crs="EPSG:32649")
    assert county.crs.to_epsg() == 32649
    with pytest.raises(CrsError, match="must be projected"):
        load_county(tiny_county, crs="EPSG:4326")


def test_one_geopackage(tmp_path: Path, tiny_county: Path) -> None:
    county = load_county(tiny_county)
    from schoolplan.io import write_gpkg

    gpkg = write_gpkg({k: (v.to_crs(4490) if isinstance(v, gpd.GeoDataFrame) else v)
                       for k, v in county.layers().items() if len(v)}, tmp_path / "county.gpkg")
    again = load_county(gpkg)
    assert len(again.schools) == len(county.schools)
    assert again.crs.to_epsg() == 4546
    assert (again.schools.geometry.distance(county.schools.geometry) < 0.01).all()


def test_gcj02_option(tiny_county: Path) -> None:
    a = load_county(tiny_county)
    b = load_county(tiny_county, coords="gcj02")
    shift = a.schools.geometry.distance(b.schools.geometry)
    assert (shift > 100).all() and (shift < 1000).all()


def test_alias_mapping() -> None:
    mapping = normalise_columns(schools_table(), LAYERS["schools"])
    assert mapping == {"学校代码": "school_id", "学校名称": "name", "学段": "level", "乡镇代码": "township_id",
                       "班级数": "classes", "在校生数": "students"}


def test_schema_doc_lists_every_layer() -> None:
    text = schema_markdown()
    for name in LAYERS:
        assert f"`{name}`" in text
    assert "学校名称" in text


def test_summary_numbers(tiny_county: Path) -> None:
    s = county_summary(load_county(tiny_county), road_km=12.345)
    assert s["schools"]["primary"] == {"open": 1, "closed": 0}
    assert s["villages"] == 6 and s["townships"] == 2
    assert s["children"]["primary"] == 6 * villages_frame()["age_6"].sum()
    assert s["road_km"] == 12.3
    assert s["pupils"]["junior"] == 420


# --------------------------------------------------------------------------- bad inputs
def _rewrite_schools(folder: Path, df: pd.DataFrame) -> None:
    (folder / "学校.xlsx").unlink()
    df.to_excel(folder / "学校.xlsx", index=False)


BAD_SCHOOLS = [
    # (change, error type, message fragment, column)
    (lambda d: d.drop(columns=["学校名称"]), SchemaError, "required column(s) missing: name", "name"),
    (lambda d: d.assign(学校代码=["S1", "S1", "S3", "K1"]), NonUniqueIdError, "ids are not unique: S1", "school_id"),
    (lambda d: d.assign(学校代码=["S1", None, "S3", "K1"]), NonUniqueIdError, "ids are missing", "school_id"),
    (lambda d: d.assign(在校生数=[1300, -5, 420, 180]), SchemaError, "values below 0", "students"),
    (lambda d: d.assign(在校生数=[1300, "四十", 420, 180]), SchemaError, "not numbers (e.g. '四十')", "students"),
    (lambda d: d.assign(在校生数=[1300, 40.5, 420, 180]), SchemaError, "whole numbers", "students"),
    (lambda d: d.assign(学段=["小学", "大学", "初中", "幼儿园"]), SchemaError, "unknown value '大学'", "level"),
    (lambda d: d.assign(乡镇代码=["T1", "T9", "T2", "T1"]), SchemaError, "unknown township_id value(s): T9",
     "township_id"),
    (lambda d: d.assign(经度=[111.55, None, 111.65, 111.54]), SchemaError, "missing or not numbers", "经度/纬度"),
    (lambda d: d.rename(columns={"经度": "纬度", "纬度": "经度"}), SchemaError, "swapped", "纬度"),
    (lambda d: d.drop(columns=["经度", "纬度"]), SchemaError, "no coordinates", None),
    (lambda d: d.iloc[0:0], SchemaError, "empty", None),
]


@pytest.mark.parametrize(("change", "err", "fragment", "column"), BAD_SCHOOLS)
def test_bad_schools(tiny_county: Path, change, err, fragment: str, column: str | None) -> None:  # type: ignore[no-untyped-def]
    _rewrite_schools(tiny_county, change(schools_table()))
    with pytest.raises(err) as info:
        load_county(tiny_county)
    text = str(info.value)
    assert fragment in text
    assert "学校.xlsx" in text and "Fix:" in text
    if column:
        assert info.value.column == column


def test_bad_rows_are_named_by_id(tiny_county: Path) -> None:
    _rewrite_schools(tiny_county, schools_table().assign(在校生数=[1300, -5, 420, -1]))
    with pytest.raises(SchemaError) as info:
        load_county(tiny_county)
    assert list(info.value.rows) == ["S2", "K1"]


def test_missing_layer(tiny_county: Path) -> None:
    (tiny_county / "births.csv").unlink()
    with pytest.raises(InputFileError, match="no births layer found"):
        load_county(tiny_county)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="county path not found"):
        load_county(tmp_path / "nowhere")


def test_births_gbk_with_text_year(tiny_county: Path) -> None:
    b = births_table().astype({"年份": object})
    b.loc[3, "年份"] = "二〇一一"
    b.to_csv(tiny_county / "births.csv", index=False, encoding="gbk")
    with pytest.raises(SchemaError, match="not numbers") as info:
        load_county(tiny_county)
    assert info.value.rows == [4] and info.value.column == "year"


def test_enrolment_unknown_school_and_duplicates(tiny_county: Path) -> None:
    e = pd.read_csv(tiny_county / "enrolment.csv")
    e.loc[0, "school_id"] = "X99"
    e.to_csv(tiny_county / "enrolment.csv", index=False)
    with pytest.raises(SchemaError, match="unknown school_id value"):
        load_county(tiny_county)
    e = pd.read_csv(tiny_county / "enrolment.csv")
    e.loc[0, "school_id"] = "S1"
    pd.concat([e, e.iloc[[1]]]).to_csv(tiny_county / "enrolment.csv", index=False)
    with pytest.raises(SchemaError, match="more than once"):
        load_county(tiny_county)


def test_polygon_layer_with_points_rejected(tiny_county: Path) -> None:
    t = township_frame()
    t["geometry"] = t.geometry.centroid
    (tiny_county / "townships.gpkg").unlink()
    t.to_file(tiny_county / "townships.gpkg")
    with pytest.raises(SchemaError, match="geometry must be Polygon"):
        load_county(tiny_county)


def test_villages_without_crs(tiny_county: Path) -> None:
    v = villages_frame().set_crs(None, allow_override=True)
    (tiny_county / "villages.gpkg").unlink()
    v.to_file(tiny_county / "villages.gpkg")
    with pytest.raises(CrsError, match="no coordinate reference system"):
        load_county(tiny_county)


def test_points_outside_county_warn(tiny_county: Path) -> None:
    v = villages_frame()
    v.loc[0, "geometry"] = Point(113.0, 34.0)
    (tiny_county / "villages.gpkg").unlink()
    v.to_file(tiny_county / "villages.gpkg")
    with pytest.warns(DataWarning, match="outside the county"):
        load_county(tiny_county)


def test_duplicate_school_names_warn(tiny_county: Path) -> None:
    _rewrite_schools(tiny_county, schools_table().assign(学校名称=["一小", "一小", "初中", "幼儿园"]))
    with pytest.warns(DataWarning, match="school names repeat"):
        load_county(tiny_county)


def test_bad_county_toml(tiny_county: Path) -> None:
    (tiny_county / "county.toml").write_text("name_zh = [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="county.toml"):
        load_county(tiny_county)


def test_validate_bool_and_category_aliases() -> None:
    df = pd.DataFrame({"township_id": ["T1", "T2"], "name": ["城关镇", "乡"], "是否县城": ["是", "否"]})
    out = validate_layer(df, LAYERS["townships"])
    assert out["is_county_seat"].tolist() == [True, False]
    bad = df.assign(是否县城=["是", "也许"])
    with pytest.raises(SchemaError, match="not a yes/no value"):
        validate_layer(bad, LAYERS["townships"])


def test_validate_does_not_mutate_input() -> None:
    df = schools_table().drop(columns=["经度", "纬度"])
    copy = df.copy()
    validate_layer(df, LAYERS["schools"])
    pd.testing.assert_frame_equal(df, copy)


@pytest.mark.skipif(not (DEMO / "county.gpkg").exists(), reason="demo county not built")
def test_demo_county_loads() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        county = load_county(DEMO)
    s = county_summary(county)
    assert s["county_seat"] is not None
    assert s["schools"]["primary"]["open"] >= 10
    assert s["villages"] >= 30
    assert 2016 in s["births"] and 2024 in s["births"]
    assert county.roads is not None and Path(county.roads).exists()


def test_copy_of_demo_is_independent(tmp_path: Path) -> None:
    if not (DEMO / "county.gpkg").exists():
        pytest.skip("demo county not built")
    shutil.copytree(DEMO, tmp_path / "d")
    assert load_county(tmp_path / "d").source == tmp_path / "d"


# --------------------------------------------------------------------------- the raw-input county (issues 15 and 21)
@pytest.fixture(scope="module")
def raw_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from raw_county import write_raw_county

    if not (DEMO / "county.gpkg").exists():
        pytest.skip("demo county not built")
    return write_raw_county(tmp_path_factory.mktemp("raw") / "麦田县")


def test_raw_county_loads_as_sent(raw_folder: Path) -> None:
    """GBK CSV (GCJ-02), GBK shapefiles without .cpg in EPSG:4547, an XLSX with a notes sheet, Chinese labels."""
    from raw_county import TOWNSHIP_NAMES, truth

    before = {p.name: p.read_bytes() for p in raw_folder.iterdir()}
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # nothing suspicious in a correct county
        county = load_county(raw_folder)
    t = truth()
    assert county.crs.to_epsg() == 4547 and county.name == "麦田县" and county.options["coords"] == "gcj02"
    assert county.options["layers"]["schools"]["lonlat_table"] and county.options["layers"]["schools"]["coords"] == "gcj02"
    # GCJ-02 converted back: within a metre of the true (shifted demo) positions
    assert (county.schools.geometry.distance(t["schools"].to_crs(county.crs).geometry) < 1.0).all()
    assert (county.villages.geometry.distance(t["villages"].to_crs(county.crs).geometry) < 0.01).all()
    assert county.townships["name"].tolist() == list(TOWNSHIP_NAMES) and county.county_seat == "T01"
    assert set(county.schools["level"]) == set(t["schools"]["level"])
    assert county.schools["students"].sum() == t["schools"]["students"].sum()
    e = county.enrolment.sort_values(["year", "school_id", "grade"]).reset_index(drop=True)
    want = t["enrolment"].sort_values(["year", "school_id", "grade"]).reset_index(drop=True)
    assert (e["level"] == want["level"]).all() and (e["grade"].astype(int) == want["grade"]).all()
    assert county.births["births"].sum() == t["births"]["births"].sum()
    assert county.roads is not None and county.roads.name == "道路.shp"
    checks = set(county.data_quality["check"])
    assert "sheet" in checks  # the notes sheet was skipped, and the note says so
    assert before == {p.name: p.read_bytes() for p in raw_folder.iterdir()}  # nothing written


@pytest.mark.slow
@pytest.mark.parametrize("column", sorted(__import__("raw_county").RAW_OPTIONAL))
def test_raw_county_without_each_optional_column(tmp_path: Path, column: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Every optional column may be absent: load_county and `schoolplan info` work; derived fields are derived."""
    from raw_county import write_raw_county
    from schoolplan.cli import main

    if not (DEMO / "county.gpkg").exists():
        pytest.skip("demo county not built")
    folder = write_raw_county(tmp_path / "c", without=[column], roads=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        county = load_county(folder)
    layer, _col = column.split(".")
    dq = county.data_quality
    if column in {"schools.township_id", "villages.township_id"}:
        assert getattr(county, layer)["township_id"].notna().all()
        assert (dq["check"] == "derived_township").any()
    if column == "schools.capacity_seats":
        assert county.schools["capacity_seats"].notna().sum() >= county.schools["classes"].notna().sum()
        assert (dq["check"] == "derived_seats").any()
    if column == "births.township_id":
        assert "township_id" not in county.births
    assert main(["info", str(folder), "--no-roads", "--lang", "en"]) == 0
    out = capsys.readouterr()
    assert "County summary" in out.out and "internal error" not in out.err


def test_raw_county_township_names(tmp_path: Path) -> None:
    from raw_county import write_raw_county

    if not (DEMO / "county.gpkg").exists():
        pytest.skip("demo county not built")
    county = load_county(write_raw_county(tmp_path / "c", township_names=True, roads=False))
    assert county.schools["township_id"].str.fullmatch(r"T\d\d").all()
    assert set(county.births["township_id"]) == set(county.townships.index)
    assert (county.data_quality["check"] == "name_to_id").sum() == 2


def test_scenario_coords_default_takes_county_toml(raw_folder: Path, tmp_path: Path) -> None:
    """A scenario without coords loads the county as county.toml says (gcj02); CLI options override both."""
    from bad_inputs import write_scenario
    from schoolplan.county import county_options
    from schoolplan.scenario import load_scenario

    sc = load_scenario(write_scenario(tmp_path / "s.toml", raw_folder))
    assert sc.scenario.coords is None and sc.county_options() == {"coords": None, "crs": None, "base_year": None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        county = load_county(sc.scenario.county, **sc.county_options())
        assert county.options["coords"] == "gcj02"
        override = load_county(sc.scenario.county, **county_options(coords="wgs84", base_year="2024年"))
    assert override.options["coords"] == "wgs84" and override.base_year == 2024
    assert (override.schools.geometry.distance(county.schools.geometry) > 100).all()


def test_cli_run_sweep_demo_accept_loading_options(tiny_county: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import schoolplan.scenario
    from bad_inputs import write_scenario
    from schoolplan.cli import main

    seen: list[object] = []

    def capture(scenarios: list[object], **_k: object) -> list[object]:
        seen.extend(scenarios)
        raise KeyboardInterrupt  # stop before running

    monkeypatch.setattr(schoolplan.scenario, "run_scenarios", capture)
    sc = write_scenario(tmp_path / "s.toml", tiny_county)
    for argv in (["run", str(sc)], ["sweep", str(sc), "--param", "consolidation.bus_minutes=15,20"]):
        seen.clear()
        code = main([*argv, "--out", str(tmp_path / "o"), "--coords", "GCJ-02", "--crs", "EPSG:4547",
                     "--base-year", "2024年"])
        assert code == 130 and seen
        assert all(s.scenario.coords == "gcj02" and s.scenario.crs == "EPSG:4547" and s.scenario.base_year == 2024
                   for s in seen)
    assert main(["run", str(sc), "--out", str(tmp_path / "o"), "--coords", "beijing54"]) == 2


def test_plausibility_flags_enrolment_against_children(tiny_county: Path) -> None:
    """Junior enrolment 768 against 361 children of junior age: flagged, with both numbers."""
    from schoolplan.plausibility import plausibility

    e = pd.read_csv(tiny_county / "enrolment.csv")
    e.loc[e["school_id"] == "S3", "students"] = 256
    e.to_csv(tiny_county / "enrolment.csv", index=False)
    v = villages_frame()
    for a, n in zip((12, 13, 14), (121, 120, 120), strict=True):
        v[f"age_{a}"] = [n // 6 + (1 if i < n % 6 else 0) for i in range(6)]
    (tiny_county / "villages.gpkg").unlink()
    v.to_file(tiny_county / "villages.gpkg")
    county = load_county(tiny_county)
    found = plausibility(county)
    row = found[(found["check"] == "enrolment_vs_children") & found["message"].str.contains("Junior")].iloc[0]
    assert "768" in row["message"] and "361" in row["message"] and row["value"] == pytest.approx(768 / 361, abs=1e-3)
    assert row["severity"] == "check" and row["fix"]
    ok = plausibility(load_county(tiny_county), standards=None)
    assert set(ok.columns) >= {"severity", "check", "message", "fix", "value", "expected"}


def test_plausibility_class_sizes_teachers_roads_and_jumps(tiny_county: Path) -> None:
    from shapely.geometry import LineString

    from schoolplan.plausibility import plausibility

    s = schools_table().assign(班级数=[10, 3, 9, 6], 专任教师数=[10, 4, 30, 12])  # S1: 130 per class, 130 per teacher
    (tiny_county / "学校.xlsx").unlink()
    s.to_excel(tiny_county / "学校.xlsx", index=False)
    e = pd.read_csv(tiny_county / "enrolment.csv")
    e.loc[(e["year"] == 2023) & (e["school_id"] == "S3"), "students"] = 20  # 60 → 420 pupils in a year
    e.to_csv(tiny_county / "enrolment.csv", index=False)
    county = load_county(tiny_county)

    class Graph:  # one road far from S2 and S3
        edges = gpd.GeoDataFrame(geometry=[LineString([(111.50, 33.05), (111.58, 33.05)])], crs=4326)

    found = plausibility(county, graph=Graph())
    checks = set(found["check"])
    assert {"class_size", "pupils_per_teacher", "far_from_road", "enrolment_jump"} <= checks
    far = found[found["check"] == "far_from_road"].iloc[0]
    assert "S3" in far["rows"] and "S1" not in far["rows"]


@pytest.mark.slow
@pytest.mark.parametrize("without", [(), ("schools.capacity_seats",), ("schools.township_id",)])
def test_raw_county_runs_end_to_end_through_the_cli(tmp_path: Path, without: tuple[str, ...],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """`schoolplan run` on the county as a bureau sends it: outputs written, no traceback, no crash on optional columns."""
    import openpyxl

    from bad_inputs import write_scenario
    from raw_county import write_raw_county
    from schoolplan.cli import main

    if not (DEMO / "county.gpkg").exists():
        pytest.skip("demo county not built")
    folder = write_raw_county(tmp_path / "麦田县", without=without)
    sc = write_scenario(tmp_path / "s.toml", folder, consolidation={"mode": "rules"})
    out = tmp_path / "out"
    code = main(["run", str(sc), "--out", str(out), "--no-maps", "--lang", "en"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err and "internal error" not in err
    assert {"report.html", "comparison.xlsx", "results.gpkg", "run.json"} <= {p.name for p in out.iterdir()}
    wb = openpyxl.load_workbook(out / "comparison.xlsx", read_only=True)
    assert {"summary", "schools", "audit"} <= set(wb.sheetnames)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "麦田县" in html or "Maitian" in html
