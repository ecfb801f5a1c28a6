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
def test_readme_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Python in ten lines.*?```python\n(.*?)```", text, re.S)
    assert block, "README lost its Python example"
    code = block.group(1)
    assert len([ln for ln in code.splitlines() if ln.strip()]) <= 12
    monkeypatch.chdir(ROOT)
    exec(compile(code, "README.md", "exec"), {})
