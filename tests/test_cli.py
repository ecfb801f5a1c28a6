"""CLI: help, version, info, error handling without tracebacks, and the README example."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DEMO, ROOT
from schoolplan.cli import main


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert "schoolplan 0.1.0" in capsys.readouterr().out
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "info" in out and "demo" in out


def test_info_tiny(tiny_county: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(tiny_county), "--no-roads", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "EPSG:4546" in out and "Primary" in out and "1,300" in out


def test_user_error_exit_2_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "schoolplan.cli", "info", str(tmp_path / "nope")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "county path not found" in proc.stderr and "Traceback" not in proc.stderr
    assert str(tmp_path / "nope") in proc.stderr


def test_debug_shows_traceback(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "schoolplan.cli", "--debug", "info", str(tmp_path / "nope")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_bad_lang(tiny_county: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(tiny_county), "--lang", "fr"]) == 2
    assert "unknown language 'fr'" in capsys.readouterr().err


def test_schema_doc_is_current() -> None:
    from schoolplan.schema import schema_markdown

    assert (ROOT / "docs" / "schema.md").read_text(encoding="utf-8") == schema_markdown(), (
        "docs/schema.md is stale: run `python -m schoolplan.schema > docs/schema.md`")


@pytest.mark.skipif(not (DEMO / "county.gpkg").exists(), reason="demo county not built")
def test_readme_example_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Python in ten lines.*?```python\n(.*?)```", text, re.S)
    assert block, "README lost its Python example"
    code = block.group(1)
    assert len([ln for ln in code.splitlines() if ln.strip()]) <= 12
    monkeypatch.chdir(ROOT)
    out = tmp_path / "readme_output"
    exec(compile(code.replace('"readme_output"', repr(str(out))), "README.md", "exec"), {})
    assert (out / "report.html").exists()


@pytest.mark.skipif(not (DEMO / "county.gpkg").exists(), reason="demo county not built")
def test_run_and_sweep_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scen = DEMO / "scenarios" / "two_concentrations_20.toml"
    out = tmp_path / "run"
    assert main(["run", str(scen), "--out", str(out), "--lang", "en", "--no-maps"]) == 0
    assert (out / "report.html").exists() and (out / "inputs_clean.gpkg").exists()
    assert "Scenario comparison" in capsys.readouterr().out
    # an earlier schoolplan output is replaced; a folder with other files is protected
    assert main(["run", str(scen), "--out", str(out), "--no-maps"]) == 0
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.docx").write_text("keep me")
    assert main(["run", str(scen), "--out", str(other), "--no-maps"]) == 2
    assert "not empty" in capsys.readouterr().err and (other / "notes.docx").exists()
    sw = tmp_path / "sweep"
    assert main(["sweep", str(scen), "--param", "consolidation.bus_minutes=15,30", "--out", str(sw)]) == 0
    import pandas as pd

    curve = pd.read_csv(sw / "tradeoff.csv")
    assert curve["bus_minutes"].tolist() == [15, 30]
    assert curve.loc[0, "pupils_over_limit"] >= curve.loc[1, "pupils_over_limit"]
    assert main(["sweep", str(scen), "--param", "bus_minutes=15", "--out", str(sw)]) == 2


@pytest.mark.skipif(not (DEMO / "county.gpkg").exists(), reason="demo county not built")
def test_strict_exits_non_zero_when_a_forced_closure_breaks_the_rules(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # Camptonville (a remote nine-year school) forced to close: its grade 1–3 pupils would ride far over 30 min
    p = tmp_path / "forced.toml"
    p.write_text(f'inherit = "{(DEMO / "scenarios" / "base.toml").as_posix()}"\n'
                 '[consolidation]\nmode = "rules"\nforce = {"58727286056600" = "close"}\n[reserve]\nenabled = false\n',
                 encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(p), "--out", str(out), "--no-maps", "--lang", "en"]) == 0
    err = capsys.readouterr().err
    assert "audit failed" in err and "forced closures (58727286056600) send" in err
    assert main(["run", str(p), "--out", str(out), "--no-maps", "--strict"]) == 3
    assert (out / "report.html").exists()
    assert "方案自检未通过" in (out / "report.html").read_text(encoding="utf-8")
