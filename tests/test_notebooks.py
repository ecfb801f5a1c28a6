"""The planner notebooks run end to end, offline, with the project's Python.

Each notebook in ``notebooks/`` is executed with nbclient in ``notebooks/`` (its
outputs go to ``notebooks/notebook_output/NN/``), 120 s per cell at most, with
``SCHOOLPLAN_ONLINE`` unset so cells tagged ``internet`` skip their downloads. The
last cell prints the files the notebook wrote, one path per line; they must exist.

The kernel is pinned to this interpreter: a ``python3`` kernelspec whose argv is
``sys.executable`` is written to a temporary folder put first on ``JUPYTER_PATH``,
so a user-level ``python3`` kernel of another Python cannot shadow it, and a probe
cell checks ``sys.executable`` inside the kernel.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 120
PROBE = "import sys\nprint(sys.executable)\nprint(sys.prefix)"
#: Names that are not public API: private modules or attributes.
PRIVATE = re.compile(r"\bschoolplan\.(?:\w+\.)*_\w|\bfrom\s+schoolplan(?:\.\w+)*\s+import\s+.*\b_[a-z]|\w\._[a-z]\w*")


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")


@pytest.fixture(scope="module")
def kernel_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A JUPYTER_PATH folder holding a ``python3`` kernelspec that runs this interpreter."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (schoolplan tests)",
        "language": "python",
    }), encoding="utf-8")
    return root


def test_notebooks_present() -> None:
    assert {"01_", "02_", "03_", "04_", "05_"} <= {p.name[:3] for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_clean(path: Path) -> None:
    """Stored without outputs, public API only, internet cells guarded."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in _code_cells(nb):
        assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: outputs not stripped"
        assert not PRIVATE.search(cell.source), f"{path.name}: private name in\n{cell.source}"
        if "internet" in cell.metadata.get("tags", []):
            assert "if ONLINE:" in cell.source, f"{path.name}: internet cell without an ONLINE guard"
    assert nb.cells[0].cell_type == "markdown", "a notebook starts by saying what a planner learns"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, kernel_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_path))  # first on the kernelspec search path
    monkeypatch.delenv("SCHOOLPLAN_ONLINE", raising=False)
    out_dir = NOTEBOOK_DIR / "notebook_output" / path.name[:2]
    shutil.rmtree(out_dir, ignore_errors=True)  # stale files must not pass the final check

    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(PROBE))
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT_S,
                                     resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError on the first failing cell
    elapsed = time.perf_counter() - start
    print(f"{path.name}: {elapsed:.1f} s")

    executable, prefix = _stdout(nb.cells[0]).split("\n")[:2]
    assert executable == sys.executable and prefix == sys.prefix, "the kernel runs another Python"

    errors = [o for c in _code_cells(nb) for o in c.outputs if o.get("output_type") == "error"]
    assert not errors, errors
    listed = [line.strip() for line in _stdout(_code_cells(nb)[-1]).splitlines() if line.strip()]
    assert listed, f"{path.name}: the last cell lists no files"
    for name in listed:
        file = NOTEBOOK_DIR / name
        assert file.is_file() and file.stat().st_size > 0, f"{path.name}: listed file {name} missing or empty"
        assert file.resolve().is_relative_to(out_dir.resolve()), f"{name} is outside {out_dir}"
