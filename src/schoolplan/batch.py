"""Batches (省级批量运行): many counties × scenarios on a Dask cluster.

A province education department runs the same scenarios for every county. A
*manifest* (TOML) lists the scenario files and the counties::

    scenarios = ["scenarios/status_quo.toml", "scenarios/two_concentrations_20.toml"]

    [[county]]
    name = "示范县"
    path = "counties/demo"        # relative to the manifest; replaces each scenario's county

Each county × scenario is one task on a ``dask.distributed`` cluster (a
``LocalCluster`` of worker processes on the loopback interface when no scheduler is
given). A task runs the scenario with the county replaced
(:func:`schoolplan.scenario.run_scenarios`) and writes the usual outputs
(:func:`schoolplan.report.write_outputs`) to ``OUT/<county>/<scenario>/``, then —
last, atomically — a completion marker holding the indicators and a fingerprint of
its inputs. The results are gathered into the province table ``OUT/province.csv``
and ``OUT/province.xlsx``: one row per county × scenario with the comparison
indicators, or the county's error message when its task failed (the other tasks go
on). Running the same manifest again skips the tasks whose marker matches their
inputs (resume); ``OUT/batch.json`` records every task, its warnings and failures.

Province-size travel times can also be split over the workers by chunks of schools
(:func:`distributed_travel_times`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import platform
import re
import time
import tomllib
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from schoolplan import __version__
from schoolplan.errors import ConfigError, OutputError, SchoolplanError
from schoolplan.io import atomic_file

if TYPE_CHECKING:
    from distributed import Client

    from schoolplan.network import RoadGraph, SnappedPoints

__all__ = ["BatchResult", "Manifest", "TaskSpec", "distributed_travel_times", "read_manifest", "run_batch",
           "run_task"]

#: the completion marker of a task, written last
MARKER = "batch_task.json"


# --------------------------------------------------------------------------- manifest
@dataclass(frozen=True)
class CountyEntry:
    """One county of a manifest: its name (folder name of its outputs) and path."""

    name: str
    path: Path


@dataclass(frozen=True)
class Manifest:
    """A validated batch manifest.

    Attributes
    ----------
    path
        The manifest file.
    scenarios
        Scenario files (resolved).
    counties
        Counties in manifest order.
    """

    path: Path
    scenarios: tuple[Path, ...]
    counties: tuple[CountyEntry, ...]


def _folder_name(name: str) -> str:
    """A file-system-safe folder name for a county or scenario (CJK kept)."""
    safe = re.sub(r"[^\w.-]+", "_", name.strip()).strip("._")
    return safe or "_"


def read_manifest(path: str | Path) -> Manifest:
    """Read and check a batch manifest (see the module docstring).

    Parameters
    ----------
    path
        The TOML file. Paths in it are relative to its folder.

    Returns
    -------
    Manifest

    Raises
    ------
    ConfigError
        Missing or unreadable file, missing keys, wrong types, scenario files that do
        not exist or repeat a name, counties without a name or path, or names that
        repeat. County folders that do not exist are not an error here: that task
        fails with the loader's message and the others run.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError("batch manifest not found", file=str(p), fix="check the path of the manifest TOML")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", file=str(p), fix="check quotes, brackets and '=' signs") from None
    except UnicodeDecodeError:
        raise ConfigError("the manifest is not UTF-8", file=str(p), fix="save it as UTF-8") from None
    unknown = sorted(set(data) - {"scenarios", "county"})
    if unknown:
        raise ConfigError(f"unknown keys in the manifest: {', '.join(unknown)}", file=str(p), column=unknown[0],
                          fix="a manifest has 'scenarios = [...]' and [[county]] tables with name and path")
    base = p.resolve().parent
    return Manifest(path=p.resolve(), scenarios=_manifest_scenarios(data, base, str(p)),
                    counties=_manifest_counties(data, base, str(p)))


def _manifest_scenarios(data: Mapping[str, Any], base: Path, file: str) -> tuple[Path, ...]:
    scen = data.get("scenarios")
    if not isinstance(scen, list) or not scen or not all(isinstance(s, str) for s in scen):
        raise ConfigError("'scenarios' must be a non-empty list of scenario file names", file=file,
                          column="scenarios", fix='write scenarios = ["scenarios/status_quo.toml", ...]')
    paths = tuple((base / s).resolve() for s in scen)
    missing = [str(s) for s, q in zip(scen, paths, strict=True) if not q.is_file()]
    if missing:
        raise ConfigError("scenario file(s) not found", file=file, column="scenarios", rows=missing,
                          fix="paths are relative to the manifest")
    stems = [_folder_name(q.stem) for q in paths]
    if len(set(stems)) != len(stems):
        raise ConfigError("two scenario files have the same name", file=file, column="scenarios",
                          rows=[q.name for q in paths], fix="give every scenario file its own file name")
    return paths


def _manifest_counties(data: Mapping[str, Any], base: Path, file: str) -> tuple[CountyEntry, ...]:
    rows = data.get("county")
    if not isinstance(rows, list) or not rows:
        raise ConfigError("the manifest lists no counties", file=file, column="county",
                          fix='add [[county]] tables with name = "..." and path = "..."')
    out = []
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not isinstance(row.get("name"), str) or not row["name"].strip() \
                or not isinstance(row.get("path"), str):
            raise ConfigError(f"county entry {i} needs a name and a path (text)", file=file, column="county",
                              rows=[i], fix='write name = "示范县" and path = "counties/demo"')
        extra = sorted(set(row) - {"name", "path"})
        if extra:
            raise ConfigError(f"county entry {i} has unknown keys: {', '.join(extra)}", file=file,
                              column="county", rows=[i], fix="a county has only name and path")
        out.append(CountyEntry(name=row["name"].strip(), path=(base / row["path"]).resolve()))
    folders = [_folder_name(c.name) for c in out]
    dup = sorted({c.name for c, f in zip(out, folders, strict=True) if folders.count(f) > 1})
    if dup:
        raise ConfigError("county names repeat (or differ only in punctuation)", file=file, column="county.name",
                          rows=dup, fix="give every county its own name")
    return tuple(out)


# --------------------------------------------------------------------------- tasks
@dataclass(frozen=True)
class TaskSpec:
    """One county × scenario task (everything a worker needs, picklable).

    Attributes
    ----------
    county, scenario
        County name and scenario name (file stem).
    county_path, scenario_file
        Where they are.
    folder
        The task's output folder ``OUT/<county>/<scenario>``.
    lang, maps
        Report language and whether maps are embedded.
    fingerprint
        Hash of the task's inputs (scenario settings, county files' names, sizes and
        modification times, schoolplan version, report options).
    """

    county: str
    scenario: str
    county_path: Path
    scenario_file: Path
    folder: Path
    lang: str
    maps: bool
    fingerprint: str


def _county_signature(path: Path) -> list[tuple[str, int, int]]:
    """Names, sizes and modification times of a county's files (cheap change detection)."""
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(q for q in path.rglob("*") if q.is_file() and "scenarios" not in q.relative_to(path).parts)
    else:
        return []
    return [(str(q.relative_to(path.parent)), q.stat().st_size, q.stat().st_mtime_ns) for q in files]


def _task_specs(manifest: Manifest, out: Path, *, lang: str, maps: bool) -> list[TaskSpec]:
    from schoolplan.config import scenario_dict

    specs = []
    raw = {f: scenario_dict(f) for f in manifest.scenarios}
    for c in manifest.counties:
        sig = _county_signature(c.path)
        for f in manifest.scenarios:
            settings = dict(raw[f])
            settings["scenario"] = {**settings.get("scenario", {}), "county": str(c.path)}
            blob = json.dumps({"settings": settings, "county": sig, "schoolplan": __version__, "lang": lang,
                               "maps": maps}, sort_keys=True, default=str, ensure_ascii=False)
            specs.append(TaskSpec(county=c.name, scenario=_folder_name(f.stem), county_path=c.path,
                                  scenario_file=f, folder=out / _folder_name(c.name) / _folder_name(f.stem),
                                  lang=lang, maps=maps, fingerprint=hashlib.sha256(blob.encode()).hexdigest()))
    return specs


def _read_marker(spec: TaskSpec) -> dict[str, Any] | None:
    """The task's completion marker when it matches the task's inputs, else None."""
    marker = spec.folder / MARKER
    try:
        done = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if done.get("fingerprint") != spec.fingerprint or done.get("status") != "done" \
            or not (spec.folder / "run.json").exists():
        return None
    return done


def run_task(spec: TaskSpec) -> dict[str, Any]:
    """Run one county × scenario task and write its outputs (runs on a Dask worker).

    The scenario file is loaded, its county replaced by the task's county
    (``Scenario.model_copy``), run with :func:`schoolplan.scenario.run_scenarios` and
    written with :func:`schoolplan.report.write_outputs`; the completion marker is
    written last. Errors do not escape: they are returned, so that one broken county
    never stops the others.

    Returns
    -------
    dict
        ``status`` (``"done"`` or ``"failed"``), ``indicators`` (the scenario's
        comparison column), ``label_zh`` / ``label_en``, ``warnings`` (messages
        collected during the run), ``seconds``; when failed ``error`` (the message),
        ``error_type`` and, for internal errors, ``traceback``.
    """
    from schoolplan.report import write_outputs
    from schoolplan.scenario import compare, load_scenario, run_scenarios

    t0 = time.perf_counter()
    out: dict[str, Any] = {"county": spec.county, "scenario": spec.scenario}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            sc = load_scenario(spec.scenario_file, name=spec.scenario)
            sc = sc.model_copy(update={"scenario": sc.scenario.model_copy(update={"county": spec.county_path})})
            results = run_scenarios([sc])
            write_outputs(results, spec.folder, lang=spec.lang, maps=spec.maps)
            table = compare(results)
            out.update(status="done", indicators={k: _plain(v) for k, v in table[sc.name].items()},
                       label_zh=results[0].label_zh, label_en=results[0].label_en)
        except SchoolplanError as exc:
            out.update(status="failed", error=str(exc), error_type=type(exc).__name__)
        except Exception as exc:  # an internal error in one county must not stop the province
            out.update(status="failed", error=f"internal error: {type(exc).__name__}: {exc}",
                       error_type=type(exc).__name__, traceback=traceback.format_exc())
    out["warnings"] = sorted({str(w.message) for w in caught})
    out["seconds"] = round(time.perf_counter() - t0, 3)
    if out["status"] == "done":
        marker = {**out, "fingerprint": spec.fingerprint, "schoolplan": __version__}
        with atomic_file(spec.folder / MARKER, mode="w") as fh:
            json.dump(marker, fh, ensure_ascii=False, indent=2, default=str)
    return out


def _plain(v: Any) -> Any:
    """JSON-safe scalars (NaN → None: "not computed", never 0)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


# --------------------------------------------------------------------------- running
@dataclass(frozen=True)
class BatchResult:
    """What a batch produced.

    Attributes
    ----------
    table
        The province table: one row per county × scenario (manifest order) with
        ``county``, ``scenario``, ``scenario_zh``, ``scenario_en``, ``status``
        (``"done"``, ``"resumed"`` or ``"failed"``), ``error``, ``warnings`` (count),
        ``folder`` (relative to ``out``) and the comparison indicators.
    failures
        One dict per failed task: ``county``, ``scenario``, ``error``, ``error_type``
        (and ``traceback`` for internal errors).
    out
        The output folder.
    """

    table: pd.DataFrame
    failures: list[dict[str, Any]] = field(default_factory=list)
    out: Path = Path(".")


def _check_out(out: Path) -> Path:
    target = out.resolve()
    if target.exists() and not target.is_dir():
        raise OutputError("the output path exists and is a file", file=str(target), fix="choose a folder for --out")
    if target.exists() and any(target.iterdir()) and not (target / "batch.json").exists():
        raise OutputError("the output folder exists, is not empty and is not an earlier batch output",
                          file=str(target), fix="choose another --out folder (an earlier batch folder is resumed)")
    target.mkdir(parents=True, exist_ok=True)
    return target


def _client(scheduler: str | None, workers: int | None, n_tasks: int) -> tuple[Client, Any]:
    """A Dask client: to the given scheduler, or to a new LocalCluster on the loopback interface."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        if workers is not None:
            raise ConfigError("--workers sets the size of the local cluster; it cannot be used with --scheduler",
                              fix="start the workers with the scheduler (dask worker tcp://host:8786 --nworkers N)")
        try:
            return Client(scheduler, timeout="30s"), None
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler {scheduler}: {exc}", column="--scheduler",
                              fix="check the address (tcp://host:8786) and that the scheduler runs") from None
    import os

    n = workers if workers is not None else max(1, min(os.cpu_count() or 1, n_tasks))
    if n < 1:
        raise ConfigError(f"--workers must be ≥ 1 (got {n})", column="--workers", fix="e.g. --workers 2")
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=logging.ERROR)
    return Client(cluster), cluster


def run_batch(
    manifest: str | Path | Manifest,
    out: str | Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    lang: str = "zh",
    maps: bool = True,
    progress: Callable[[dict[str, Any], int, int], None] | None = None,
) -> BatchResult:
    """Run every county × scenario of a manifest on Dask and write the province table.

    Parameters
    ----------
    manifest
        Manifest file (or a :class:`Manifest`).
    out
        Output folder: ``province.csv``, ``province.xlsx``, ``batch.json`` and one
        sub-folder per county with one folder of the usual outputs per scenario. An
        earlier batch folder is resumed: tasks whose completion marker matches their
        inputs are not run again.
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``); its workers need
        schoolplan and the county and output paths. None: a ``LocalCluster`` of worker
        processes on 127.0.0.1, closed at the end.
    workers
        Worker processes of the local cluster (default: the CPU count, at most one per task).
    lang, maps
        Report language and maps, as for ``schoolplan run``.
    progress
        Called as ``progress(outcome, done, total)`` after each task (resumed ones first).

    Returns
    -------
    BatchResult

    Raises
    ------
    ConfigError
        Invalid manifest or options, unreachable scheduler.
    OutputError
        ``out`` is a file, or a non-empty folder that is not a batch output.
    """
    from schoolplan.i18n import check_lang

    lang = check_lang(lang)
    man = manifest if isinstance(manifest, Manifest) else read_manifest(manifest)
    target = _check_out(Path(out))
    specs = _task_specs(man, target, lang=lang, maps=maps)
    for f in man.scenarios:  # fail early on a broken scenario file, before any county runs
        _validate_scenario(f)
    _write_json(target / "batch.json", {"schoolplan": __version__, "manifest": str(man.path), "status": "running"})
    outcomes: dict[int, dict[str, Any]] = {}
    todo = []
    for i, spec in enumerate(specs):
        done = _read_marker(spec)
        if done is None:
            todo.append(i)
            continue
        outcomes[i] = {**done, "status": "resumed"}
        if progress:
            progress(outcomes[i], len(outcomes), len(specs))
    if todo:
        _run_on_dask([specs[i] for i in todo], todo, outcomes, scheduler=scheduler, workers=workers,
                     progress=progress, total=len(specs))
    result = _gather(specs, outcomes, target)
    _write_province(result, lang, scheduler=scheduler, workers=workers, manifest=man, outcomes=outcomes,
                    specs=specs)
    return result


def _validate_scenario(path: Path) -> None:
    from schoolplan.config import load_scenario

    load_scenario(path)  # TOML, inheritance, keys, values, files it names


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    with atomic_file(path, mode="w") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=2, default=str)


def _run_on_dask(specs: list[TaskSpec], index: list[int], outcomes: dict[int, dict[str, Any]], *,
                 scheduler: str | None, workers: int | None,
                 progress: Callable[[dict[str, Any], int, int], None] | None, total: int) -> None:
    from distributed import as_completed

    client, cluster = _client(scheduler, workers, len(specs))
    try:
        keys = [f"schoolplan-task-{i}-{s.fingerprint[:12]}" for i, s in zip(index, specs, strict=True)]
        futures = client.map(run_task, specs, pure=False, key=keys)
        where = {f.key: (i, s) for f, i, s in zip(futures, index, specs, strict=True)}
        for fut in as_completed(futures):
            i, spec = where[fut.key]
            try:
                outcomes[i] = fut.result()
            except Exception as exc:  # the worker died (memory, signal): the task failed, the rest go on
                outcomes[i] = {"county": spec.county, "scenario": spec.scenario, "status": "failed",
                               "error": f"the worker running this task failed: {type(exc).__name__}: {exc}",
                               "error_type": type(exc).__name__, "warnings": []}
            if progress:
                progress(outcomes[i], len(outcomes), total)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


#: the province table's columns before the indicators
_FIXED = ("county", "scenario", "scenario_zh", "scenario_en", "status", "error", "warnings", "folder")


def _gather(specs: Sequence[TaskSpec], outcomes: Mapping[int, dict[str, Any]], target: Path) -> BatchResult:
    from schoolplan.metrics import INDICATOR_LABELS

    rows, failures = [], []
    for i, spec in enumerate(specs):
        o = outcomes[i]
        row: dict[str, Any] = {"county": spec.county, "scenario": spec.scenario,
                               "scenario_zh": o.get("label_zh"), "scenario_en": o.get("label_en"),
                               "status": o["status"], "error": o.get("error"), "warnings": len(o.get("warnings", [])),
                               "folder": str(spec.folder.relative_to(target))}
        row.update({k: o.get("indicators", {}).get(k) for k in INDICATOR_LABELS})
        for k, v in o.get("indicators", {}).items():  # indicators added later than the labels
            row.setdefault(k, v)
        rows.append(row)
        if o["status"] == "failed":
            failures.append({k: o[k] for k in ("county", "scenario", "error", "error_type", "traceback") if k in o})
    table = pd.DataFrame(rows)
    ind = [c for c in table.columns if c not in _FIXED]
    table[ind] = table[ind].apply(pd.to_numeric, errors="coerce")
    return BatchResult(table=table, failures=failures, out=target)


def _write_province(result: BatchResult, lang: str, *, scheduler: str | None, workers: int | None,
                    manifest: Manifest, outcomes: Mapping[int, dict[str, Any]], specs: Sequence[TaskSpec]) -> None:
    from schoolplan.metrics import INDICATOR_LABELS

    target = result.out
    with atomic_file(target / "province.csv", mode="w") as fh:
        fh.write("\ufeff")  # Excel opens UTF-8 Chinese text only with the byte-order mark
        result.table.to_csv(fh, index=False)
    heads = {"county": ("县", "County"), "scenario": ("方案", "Scenario"), "scenario_zh": ("方案名称", "Scenario (zh)"),
             "scenario_en": ("方案名称（英文）", "Scenario (en)"), "status": ("状态", "Status"),
             "error": ("错误信息", "Error"), "warnings": ("警告数", "Warnings"), "folder": ("输出文件夹", "Folder"),
             **INDICATOR_LABELS}
    pick = 0 if lang == "zh" else 1
    shown = result.table.rename(columns={k: v[pick] for k, v in heads.items() if k in result.table.columns})
    keys = pd.DataFrame({"column": list(result.table.columns),
                         "zh": [heads.get(c, (c, c))[0] for c in result.table.columns],
                         "en": [heads.get(c, (c, c))[1] for c in result.table.columns]})
    with atomic_file(target / "province.xlsx") as fh, pd.ExcelWriter(fh, engine="openpyxl") as xl:
        shown.to_excel(xl, sheet_name="province", index=False)
        keys.to_excel(xl, sheet_name="columns", index=False)
    run = {"schoolplan": __version__, "python": platform.python_version(), "manifest": str(manifest.path),
           "status": "finished", "failed": len(result.failures),
           "scheduler": scheduler or "LocalCluster (127.0.0.1)", "workers": workers,
           "tasks": [{**{k: v for k, v in outcomes[i].items() if k != "indicators"},
                      "folder": str(s.folder.relative_to(target)), "fingerprint": s.fingerprint}
                     for i, s in enumerate(specs)]}
    _write_json(target / "batch.json", run)


# --------------------------------------------------------------------------- travel times over workers
def distributed_travel_times(
    client: Client,
    graph: RoadGraph,
    origins: Any,
    destinations: Any,
    *,
    cutoff_minutes: float | None = 60.0,
    chunk: int = 2000,
    dtype: Any = np.float32,
) -> pd.DataFrame:
    """:func:`schoolplan.network.travel_times_long` split over Dask workers by chunks of destinations.

    The graph and the snapped origins go to every worker once (``client.scatter``);
    each task computes the pairs of ``chunk`` destinations (e.g. schools) searching
    from them, and the parts are joined into one table — the same pairs and minutes
    as one call on one machine (the searches run from the destinations in both).

    Parameters
    ----------
    client
        A connected ``distributed.Client``.
    graph
        The routing graph.
    origins, destinations
        GeoDataFrames or :class:`~schoolplan.network.SnappedPoints` of this graph.
    cutoff_minutes, dtype
        As in :func:`~schoolplan.network.travel_times_long`.
    chunk
        Destinations per task.

    Returns
    -------
    pandas.DataFrame
        As :func:`~schoolplan.network.travel_times_long` (categorical ``origin`` and
        ``destination``, ``minutes``), grouped by chunk.
    """
    from schoolplan.network import prepare_points

    if not (isinstance(chunk, int) and chunk >= 1):
        raise ConfigError(f"chunk must be a whole number ≥ 1 (got {chunk!r})", fix="e.g. chunk=2000")
    o = origins if _is_snapped(origins) else prepare_points(graph, origins, role="origins")
    d = destinations if _is_snapped(destinations) else prepare_points(graph, destinations, role="destinations")
    g_f, o_f = client.scatter([graph, o], broadcast=True)
    rows = np.arange(d.n)
    parts = [rows[i:i + chunk] for i in range(0, d.n, chunk)]
    futures = [client.submit(_chunk_pairs, g_f, o_f, d.take(r), cutoff_minutes, dtype, pure=False) for r in parts]
    codes_o, codes_d, mins = [], [], []
    for r, fut in zip(parts, futures, strict=True):
        part = fut.result()
        codes_o.append(part["origin"].cat.codes.to_numpy())
        codes_d.append(r[part["destination"].cat.codes.to_numpy()])
        mins.append(part["minutes"].to_numpy())
        del part
    cat_o = pd.Categorical.from_codes(np.concatenate(codes_o) if codes_o else np.empty(0, np.int64),
                                      categories=pd.Index(o.ids, name=None))
    cat_d = pd.Categorical.from_codes(np.concatenate(codes_d) if codes_d else np.empty(0, np.int64),
                                      categories=pd.Index(d.ids, name=None))
    return pd.DataFrame({"origin": cat_o, "destination": cat_d,
                         "minutes": np.concatenate(mins) if mins else np.empty(0, dtype)})


def _is_snapped(points: Any) -> bool:
    from schoolplan.network import SnappedPoints

    return isinstance(points, SnappedPoints)


def _chunk_pairs(graph: RoadGraph, o: SnappedPoints, d: SnappedPoints, cutoff: float | None,
                 dtype: Any) -> pd.DataFrame:
    from schoolplan.network import travel_times_long

    return travel_times_long(graph, o, d, cutoff_minutes=cutoff, dtype=dtype, search_from="destinations")

