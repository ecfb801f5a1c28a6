"""Tests of province batches on Dask (schoolplan.batch, ``schoolplan batch``).

Three small counties — two synthetic ones and one broken on purpose — run on a
LocalCluster of two worker processes; the broken county's error is reported and the
others finish; a second run resumes (only the county fixed meanwhile runs).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from schoolplan.batch import MARKER, read_manifest, run_batch
from schoolplan.errors import ConfigError, OutputError
from schoolplan.synthetic import synthetic_province, write_county

DEMO_SCENARIOS = Path(__file__).resolve().parents[1] / "data" / "demo_county" / "scenarios"
SCENARIOS = ("status_quo", "two_concentrations_20")


def write_manifest(folder: Path, counties: dict[str, str], scenarios=SCENARIOS) -> Path:
    lines = ["scenarios = [" + ", ".join(f'"{DEMO_SCENARIOS / s}.toml"' for s in scenarios) + "]"]
    for name, path in counties.items():
        lines += ["[[county]]", f'name = "{name}"', f'path = "{path}"']
    manifest = folder / "manifest.toml"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    """Two small synthetic counties and a broken one, run once through ``schoolplan batch``."""
    from schoolplan.cli import main

    root = tmp_path_factory.mktemp("province")
    p = synthetic_province(counties=3, county_km2=150, townships_per_county=3, seed=5)
    write_county(p, "C01", root / "counties" / "c1")
    write_county(p, "C02", root / "counties" / "c2")
    broken = root / "counties" / "broken"
    broken.mkdir()
    (broken / "schools.csv").write_text("school_id,name,level\nS1,一小,小学\n", encoding="utf-8")  # no villages
    manifest = write_manifest(root, {"合成一县": "counties/c1", "坏县": "counties/broken", "合成二县": "counties/c2"})
    out = root / "out"
    code = main(["batch", str(manifest), "--out", str(out), "--workers", "2", "--no-maps", "--lang", "en"])
    return {"root": root, "manifest": manifest, "out": out, "code": code, "province": p}


@pytest.mark.slow
def test_batch_reports_the_broken_county_and_finishes_the_others(province):
    out = province["out"]
    assert province["code"] == 2  # a task failed
    table = pd.read_csv(out / "province.csv", encoding="utf-8-sig")
    assert list(zip(table["county"], table["scenario"], strict=True)) == [
        (c, s) for c in ("合成一县", "坏县", "合成二县") for s in SCENARIOS]  # manifest order
    failed = table[table["status"] == "failed"]
    assert set(failed["county"]) == {"坏县"}
    assert failed["error"].str.contains("villages").all() and failed["error"].str.contains("broken").all()
    assert failed["pupils"].isna().all()  # no number for a failed county, never 0
    done = table[table["status"] == "done"]
    assert len(done) == 4 and done["error"].isna().all() and (done["pupils"] > 0).all()
    for row in done.itertuples():
        folder = out / row.folder
        for name in ("report.html", "comparison.xlsx", "results.gpkg", "run.json", MARKER):
            assert (folder / name).is_file(), folder / name
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        assert marker["indicators"]["pupils"] == row.pupils  # the table is the gathered indicators
        assert marker["label_en"] == row.scenario_en
    assert not (out / "坏县" / SCENARIOS[0] / MARKER).exists()
    xlsx = pd.read_excel(out / "province.xlsx", sheet_name=None)
    assert set(xlsx) == {"province", "columns"} and len(xlsx["province"]) == 6
    assert "County" in xlsx["province"].columns  # English headers with --lang en
    run = json.loads((out / "batch.json").read_text(encoding="utf-8"))
    assert run["status"] == "finished" and run["failed"] == 2 and len(run["tasks"]) == 6
    # the same scenario gives the same numbers in every county it runs in (no cross-talk between tasks)
    sq = done[done["scenario"] == "status_quo"].set_index("county")
    assert sq.loc["合成一县", "pupils"] != sq.loc["合成二县", "pupils"]


@pytest.mark.slow
def test_resume_runs_only_unfinished_tasks(province, tmp_path):
    out, root = province["out"], province["root"]
    done_marker = out / "合成一县" / "status_quo" / MARKER
    before = done_marker.stat().st_mtime_ns
    # fix the broken county, then run again: only its tasks run
    broken = root / "counties" / "broken"
    for f in broken.iterdir():
        f.unlink()
    write_county(province["province"], "C03", broken)
    seen = []
    result = run_batch(province["manifest"], out, workers=2, maps=False, lang="en", progress=lambda o, d, n: seen.append(
        (o["county"], o["status"], d, n)))
    status = dict(zip(zip(result.table["county"], result.table["scenario"], strict=True), result.table["status"],
                      strict=True))
    assert [status[("坏县", s)] for s in SCENARIOS] == ["done", "done"]
    assert {status[(c, s)] for c in ("合成一县", "合成二县") for s in SCENARIOS} == {"resumed"}
    assert result.failures == []
    assert done_marker.stat().st_mtime_ns == before  # finished outputs were not rewritten
    assert [d for *_, d, _n in seen] == list(range(1, 7)) and seen[0][1] == "resumed"
    # a third run has nothing to do and starts no cluster
    again = run_batch(province["manifest"], out, workers=2, maps=False, lang="en")
    assert set(again.table["status"]) == {"resumed"}
    pd.testing.assert_frame_equal(again.table.drop(columns="status"), result.table.drop(columns="status"))


def test_manifest_errors(tmp_path: Path):
    good = {"a": "x", "b": "y"}
    m = read_manifest(write_manifest(tmp_path, good))
    assert [c.name for c in m.counties] == ["a", "b"] and len(m.scenarios) == 2
    assert m.counties[0].path == (tmp_path / "x").resolve()  # relative to the manifest
    cases = {
        'scenarios = ["nope.toml"]\n[[county]]\nname = "a"\npath = "x"\n': "not found",
        f'scenarios = ["{DEMO_SCENARIOS}/base.toml"]\n': "no counties",
        f'scenarios = ["{DEMO_SCENARIOS}/base.toml"]\n[[county]]\nname = "a"\n': "name and a path",
        f'scenarios = ["{DEMO_SCENARIOS}/base.toml"]\n[[county]]\nname = "a"\npath = "x"\n'
        '[[county]]\nname = "a"\npath = "y"\n': "repeat",
        f'scenarios = ["{DEMO_SCENARIOS}/base.toml", "{DEMO_SCENARIOS}/base.toml"]\n[[county]]\nname = "a"\n'
        'path = "x"\n': "same name",
        'scenario = []\n': "unknown keys",
        'scenarios = "a.toml"\n[[county]]\nname = "a"\npath = "x"\n': "non-empty list",
        'scenarios = [\n': "invalid TOML",
    }
    for text, message in cases.items():
        f = tmp_path / "bad.toml"
        f.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=message) as info:
            read_manifest(f)
        assert info.value.file == str(f)
    with pytest.raises(ConfigError, match="not found"):
        read_manifest(tmp_path / "missing.toml")


def test_output_folder_and_options_checked_before_work(tmp_path: Path):
    manifest = write_manifest(tmp_path, {"a": "x"})
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(OutputError, match="not an earlier batch output"):
        run_batch(manifest, other)
    with pytest.raises(ConfigError, match="--workers"):
        run_batch(manifest, tmp_path / "out", scheduler="tcp://127.0.0.1:1", workers=2)


def test_task_fingerprint_follows_the_inputs(tmp_path: Path):
    from schoolplan.batch import _read_marker, _task_specs

    county = tmp_path / "c"
    county.mkdir()
    (county / "births.csv").write_text("year,births\n2020,5\n", encoding="utf-8")
    man = read_manifest(write_manifest(tmp_path, {"甲县": "c"}))
    spec = _task_specs(man, tmp_path / "out", lang="zh", maps=False)[0]
    assert spec.folder == tmp_path / "out" / "甲县" / "status_quo"
    spec.folder.mkdir(parents=True)
    (spec.folder / "run.json").write_text("{}", encoding="utf-8")
    (spec.folder / MARKER).write_text(json.dumps({"status": "done", "fingerprint": spec.fingerprint}), "utf-8")
    assert _read_marker(spec) is not None
    (county / "births.csv").write_text("year,births\n2020,6\n2021,7\n", encoding="utf-8")  # the data changed
    again = _task_specs(man, tmp_path / "out", lang="zh", maps=False)[0]
    assert again.fingerprint != spec.fingerprint and _read_marker(again) is None
    assert _task_specs(man, tmp_path / "out", lang="en", maps=False)[0].fingerprint != again.fingerprint


def test_travel_times_split_over_workers_equal_one_call():
    from distributed import Client, LocalCluster

    from schoolplan.batch import distributed_travel_times
    from schoolplan.errors import UnreachableWarning
    from schoolplan.network import prepare_points, travel_times_long

    p = synthetic_province(counties=1, county_km2=150, townships_per_county=3, seed=9)
    g = p.graph()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreachableWarning)
        v = prepare_points(g, p.villages.set_index("village_id"), role="villages")
        s = p.schools.set_index("school_id")
        one = travel_times_long(g, v, s, cutoff_minutes=30, dtype=np.float64)
        with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            split = distributed_travel_times(client, g, v, s, cutoff_minutes=30, chunk=7, dtype=np.float64)
    key = ["destination", "origin"]
    a = one.assign(**{k: one[k].astype(str) for k in key}).sort_values(key, ignore_index=True)
    b = split.assign(**{k: split[k].astype(str) for k in key}).sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(a, b)
    assert list(split["destination"].cat.categories) == list(s.index)
