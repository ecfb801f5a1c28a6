"""Scenario files, inheritance, config errors, end-to-end runs on the demo county and outputs."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest

from conftest import DEMO
from schoolplan.errors import ConfigError
from schoolplan.metrics import INDICATOR_LABELS
from schoolplan.scenario import compare, load_scenario, run_scenarios

SCEN = DEMO / "scenarios"
NAMES = ("status_quo", "two_concentrations_20", "two_concentrations_boarding_30")


def test_inheritance_and_relative_paths(tmp_path: Path) -> None:
    sc = load_scenario(SCEN / "two_concentrations_boarding_30.toml")
    assert sc.scenario.county == DEMO.resolve()
    assert sc.forecast.urbanisation_rate == 0.02  # from base.toml
    assert sc.consolidation.day_limit_upper == 30 and sc.rules()["day_limit_minutes"]["upper"] == 30
    assert sc.name == "two_concentrations_boarding_30"
    child = tmp_path / "child.toml"
    child.write_text(f'inherit = "{(SCEN / "base.toml").as_posix()}"\n[consolidation]\nbus_minutes = 25\n',
                     encoding="utf-8")
    c = load_scenario(child)
    assert c.consolidation.bus_minutes == 25 and c.rules()["day_limit_minutes"]["junior"] == 25
    assert c.scenario.county == DEMO.resolve()


@pytest.mark.parametrize(("text", "fragment"), [
    ("[consolidation]\nmode = 'merge_all'\n", "consolidation.mode: Input should be 'status_quo', 'rules' or 'optimize'"),
    ("[consolidation]\nbus_minuts = 20\n", "consolidation.bus_minuts: unknown key (allowed: mode, bus_minutes"),
    ("[consolidation]\nbus_minutes = 'twenty'\n", "consolidation.bus_minutes"),
    ("[consolidation]\nbus_minutes = -5\n", "greater than 0"),
    ("[network]\nprofile = 1\n", "network.profile"),
    ("[scenaro]\nname_zh = 'x'\n", "scenaro: unknown key"),
    ("[scenario\n", "invalid TOML"),
    ('inherit = "nope.toml"\n', "scenario file not found"),
    ("[costs]\nbus_wan = -1\n", "costs must be ≥ 0"),
])
def test_config_errors_name_the_key(tmp_path: Path, text: str, fragment: str) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_scenario(p)
    assert fragment in str(err.value)
    assert "bad.toml" in str(err.value) or "nope.toml" in str(err.value)


def test_inheritance_loop(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('inherit = "b.toml"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('inherit = "a.toml"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="loop"):
        load_scenario(tmp_path / "a.toml")


@pytest.fixture(scope="module")
def demo_results():  # type: ignore[no-untyped-def]
    if not (DEMO / "county.gpkg").exists():
        pytest.skip("demo county not built")
    scs = [load_scenario(SCEN / f"{n}.toml") for n in NAMES]
    return run_scenarios(scs)


def test_demo_runs_end_to_end(demo_results) -> None:  # type: ignore[no-untyped-def]
    sq, two20, board30 = demo_results
    assert sq.plan.schools["decision"].isin(["keep", "vacant"]).all()
    assert two20.indicators["schools_merged"] > 0
    # teaching points close or stay only for 应留必留 reasons; large classes disappear with the plan
    assert two20.indicators["classes_large"] == 0 < sq.indicators["classes_large"]
    # a 30-minute day limit for upper grades lets more of them ride instead of boarding
    assert board30.indicators["boarders"] < two20.indicators["boarders"]
    for r in demo_results:
        a = r.plan.assignment
        assert a["pupils"].sum() == pytest.approx(sq.plan.assignment["pupils"].sum())
        assert set(r.indicators.index) == set(INDICATOR_LABELS)
        assert len(r.isochrones) > 0


def test_comparison_equals_underlying_results(demo_results) -> None:  # type: ignore[no-untyped-def]
    table = compare(demo_results)
    for r in demo_results:
        s = r.plan.schools
        assert table.loc["schools_merged", r.name] == s["decision"].isin(["merge", "convert"]).sum()
        assert table.loc["boarders", r.name] == round(r.plan.summary["boarders"])
        assert table.loc["buses", r.name] == s["buses"].sum()
        assert table.loc["classes_added", r.name] == s["classes_added"].sum()
        over = r.plan.assignment.loc[r.plan.assignment["over_limit"], "pupils"].sum()
        assert table.loc["pupils_over_limit", r.name] == round(over)


def test_outputs_reopen_with_same_content(demo_results, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from schoolplan.report import write_outputs

    out = write_outputs(demo_results, tmp_path / "out", lang="zh", maps=False)
    names = {p.name for p in out.iterdir()}
    assert {"report.html", "comparison.xlsx", "results.gpkg", "run.json", "scenarios"} <= names
    wb = openpyxl.load_workbook(out / "comparison.xlsx")
    assert {"summary", "schools", "assignment", "seats_by_year"} <= set(wb.sheetnames)
    ws = wb["summary"]
    assert ws.cell(1, 2).value == "指标" and ws.cell(2, 2).value == "Indicator"
    header = [c.value for c in ws[1]]
    col = header.index(demo_results[1].label_zh) + 1
    keys = [ws.cell(i, 1).value for i in range(3, ws.max_row + 1)]
    row = keys.index("schools_merged") + 3
    assert ws.cell(row, col).value == demo_results[1].indicators["schools_merged"]
    schools = pd.read_excel(out / "comparison.xlsx", sheet_name="schools", skiprows=[1])
    assert len(schools) == sum(len(r.plan.schools) for r in demo_results)
    layer = gpd.read_file(out / "results.gpkg", layer="two_concentrations_20_schools")
    plan = demo_results[1].plan.schools
    assert len(layer) == len(plan)
    assert layer.set_index("school_id")["decision"].to_dict() == plan["decision"].to_dict()
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["county"]["sha256"] and len(run["scenarios"]) == 3
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "一页纸摘要" in html and "撤并学校论证材料" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_outputs_deterministic(demo_results, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from schoolplan.report import write_outputs

    a = write_outputs(demo_results, tmp_path / "a", maps=False)
    b = write_outputs(demo_results, tmp_path / "b", maps=False)
    for name in ("report.html", "comparison.xlsx", "results.gpkg"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_failed_write_keeps_previous_outputs(demo_results, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from schoolplan import report

    out = report.write_outputs(demo_results, tmp_path / "o", maps=False)
    before = (out / "report.html").read_bytes()

    def boom(*_a, **_k):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(report, "write_xlsx", boom)
    with pytest.raises(RuntimeError):
        report.write_outputs(demo_results, tmp_path / "o", maps=False)
    assert (out / "report.html").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


@pytest.mark.browser
def test_report_opens_in_chromium_without_errors(demo_results, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import html as html_lib
    import re

    from browser import find_chromium, image_stats, probe, read_png, screenshot
    from schoolplan.report import write_outputs

    if find_chromium() is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    out = write_outputs(demo_results, tmp_path / "out", lang="zh", maps=True)
    page = (out / "report.html").read_text(encoding="utf-8")
    top = probe(page, tmp_path, max_popups=0)
    assert top["errors"] == [] and top["alerts"] == []
    frames = [html_lib.unescape(f) for f in re.findall(r'srcdoc="(.*?)"', page, re.S)]
    assert len(frames) == len(demo_results)
    for i, doc in enumerate(frames):
        sub = tmp_path / f"map{i}"
        sub.mkdir()
        res = probe(doc, sub, max_popups=20)
        assert res["leaflet"] == "object" and res["maps"] == 1
        assert res["errors"] == [] and res["markers"] > 10 and res["legends"] >= 1
    png = screenshot(page, tmp_path / "report.png", size=(1100, 1600))
    assert image_stats(read_png(png))["std"] > 10  # not a blank page


def test_demo_optimize_mode(demo_results) -> None:  # type: ignore[no-untyped-def]
    sc = load_scenario(SCEN / "two_concentrations_20.toml")
    opt = sc.model_copy(update={"consolidation": sc.consolidation.model_copy(update={"mode": "optimize"}),
                                "reserve": sc.reserve.model_copy(update={"enabled": False}), "name": "opt"})
    (r,) = run_scenarios([opt])
    s = r.plan.schools
    assert r.plan.params["mode"] == "optimize"
    assert r.plan.assignment["pupils"].sum() == pytest.approx(demo_results[0].plan.assignment["pupils"].sum())
    served = r.plan.assignment[r.plan.assignment["mode"] != "unserved"]
    assert served["school_id"].map(s["decision"]).isin(["keep", "expand", "new"]).all()
    # receiving schools (county seat, central, nine-year) stay open in both modes
    rules = demo_results[1].plan.schools
    anchors = rules.index[rules["reason_en"].str.contains("receiving|nine-year")]
    assert s.loc[anchors, "decision"].isin(["keep", "expand"]).all()
