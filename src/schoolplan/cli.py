"""Command line: ``schoolplan info``, ``schoolplan demo`` and friends.

User errors print one message naming the file, column, rows and the fix and exit
with code 2 (``--debug`` shows the traceback); internal errors say where to
report them and exit with code 1.
"""

from __future__ import annotations

import re
import signal
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from schoolplan import __version__
from schoolplan.errors import SchoolplanError
from schoolplan.i18n import check_lang, t

__all__ = ["app", "main", "safe_text"]

REPORT_URL = "https://github.com/schoolplan/schoolplan/issues"
DEMO_COUNTY = Path(__file__).resolve().parents[2] / "data" / "demo_county"
DEMO_SCENARIOS = ("status_quo", "two_concentrations_20", "two_concentrations_boarding_30")

app = typer.Typer(
    name="schoolplan",
    help="County school-layout planning (学校布局规划): 两集中 consolidation, seat demand, reserved land.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

_STATE: dict[str, Any] = {"debug": False, "signal": None}

#: Characters that could drive a terminal (escape sequences, bidi overrides) in user text.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe_text(text: Any) -> str:
    """User text for the terminal: rich markup escaped (a county named ``[/b]x``), control characters shown as ``�``."""
    return escape(_CONTROL.sub("\ufffd", str(text)))


#: Loading options shared by every command that loads a county (one loading path: ``load_county``).
CoordsOpt = Annotated[str | None, typer.Option("--coords", help="lon/lat system of CSV/XLSX layers: wgs84, cgcs2000, "
                                               "gcj02, bd09 (overrides county.toml and the scenario).")]
CrsOpt = Annotated[str | None, typer.Option("--crs", help="Working metric CRS, e.g. EPSG:4547 (overrides "
                                            "county.toml and the scenario).")]
BaseYearOpt = Annotated[str | None, typer.Option("--base-year", help="Register year (overrides county.toml and the "
                                                 "scenario).")]


def _version(value: bool) -> None:
    if value:
        console.print(f"schoolplan {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    """County school-layout planning (学校布局规划)."""
    _STATE["debug"] = debug


def demo_county_path() -> Path:
    """The bundled demo county folder (``data/demo_county`` of the source tree)."""
    if not DEMO_COUNTY.exists():
        raise SchoolplanError("the bundled demo county is not found", file=str(DEMO_COUNTY),
                              fix="run from a source checkout (git clone) or pass a county path")
    return DEMO_COUNTY


def _summary_tables(summary: dict[str, Any], lang: str) -> list[Table]:
    head = Table(title=f"{t('summary_title', lang)}: {safe_text(summary['name'])}"
                 + (f" ({safe_text(summary['name_en'])})" if summary.get("name_en") and lang == "en" else ""),
                 show_header=False)
    head.add_column(style="bold")
    head.add_column()
    ext = summary["extent"]
    rows = [
        (t("crs", lang), safe_text(f"{summary['crs']} — {summary['crs_name']}")),
        (t("extent", lang), f"{ext[0]}, {ext[1]} … {ext[2]}, {ext[3]}"),
        (t("townships", lang), f"{summary['townships']} ({t('county_seat', lang)}: "
                               f"{safe_text(summary['county_seat'])})"),
        (t("villages", lang), str(summary["villages"])),
        (t("zones", lang), str(summary["zones"])),
        (t("sites", lang), str(summary["sites"])),
        (t("population", lang), f"{summary['population']:,}" if summary["population"] is not None else "—"),
        (t("base_year", lang), str(summary["base_year"])),
        (t("road_km", lang), "—" if summary["road_km"] is None else f"{summary['road_km']:,.1f}"),
    ]
    births = summary["births"]
    if births:
        years = sorted(births)
        peak = max(births, key=births.__getitem__)
        rows.append((t("births", lang), f"{years[0]}: {births[years[0]]:,} · {t('peak', lang)} {peak}: "
                     f"{births[peak]:,} · {years[-1]}: {births[years[-1]]:,}"))
    for k, v in rows:
        head.add_row(k, v)
    levels = Table(title=t("schools", lang))
    for col in ("level", "open", "closed", "pupils", "children"):
        levels.add_column(t(col, lang), justify="right" if col != "level" else "left")
    for lv, counts in summary["schools"].items():
        levels.add_row(t(lv, lang), str(counts["open"]), str(counts["closed"]),
                       f"{summary['pupils'].get(lv, 0):,}", f"{summary['children'].get(lv, 0):,}"
                       if lv in summary["children"] else "")
    return [head, levels]


def _print_warnings(caught: list[warnings.WarningMessage], *, only_ours: bool = False) -> None:
    """Print each distinct warning once, as ``warning: message`` (schoolplan's own only if asked)."""
    from schoolplan.errors import SchoolplanWarning

    seen: set[str] = set()
    for w in caught:
        text = str(w.message)
        if text in seen or (only_ours and not issubclass(w.category, SchoolplanWarning)):
            continue
        seen.add(text)
        err_console.print(f"[yellow]warning:[/yellow] {safe_text(text)}", soft_wrap=True)


def _load(path: Path, coords: str | None, crs: str | None = None, base_year: str | None = None) -> Any:
    """Load a county through :func:`schoolplan.county.load_county` (the one loading path), printing its warnings."""
    from schoolplan.county import load_county

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            county = load_county(path, coords=coords, crs=crs, base_year=base_year)
        finally:
            _print_warnings(caught)
    return county


def _with_county_options(scenarios: list[Any], coords: str | None, crs: str | None,
                         base_year: str | None) -> list[Any]:
    """Scenarios whose county is loaded with the command-line options (which override the scenario and county.toml)."""
    from schoolplan.county import county_options

    update = {k: v for k, v in county_options(coords=coords, crs=crs, base_year=base_year).items() if v is not None}
    if not update:
        return scenarios
    return [sc.model_copy(update={"scenario": sc.scenario.model_copy(update=update)}) for sc in scenarios]


def _graph(county: Any) -> Any:
    """The county's school-bus road graph (None without roads), with the coordinate-offset check."""
    try:
        from schoolplan.network import build_graph
    except ImportError:  # network engine not installed in this build
        return None
    if county.roads is None:
        return None
    from schoolplan.preflight import check_offsets, check_road_memory

    check_road_memory(county.roads)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            graph = build_graph(county.roads, profile="school_bus", crs=county.crs)
            check_offsets(county, graph)
        finally:
            _print_warnings(caught, only_ours=True)
    return graph


def _road_km(county: Any) -> float | None:
    graph = _graph(county)
    return None if graph is None else float(graph.stats["km"])


def _findings_table(frame: Any, lang: str, *, title_zh: str, title_en: str) -> Table:
    """Data-quality notes or plausibility checks as a table (user text escaped)."""
    table = Table(title=title_zh if lang == "zh" else title_en, show_lines=False)
    table.add_column("检查" if lang == "zh" else "Check")
    table.add_column("说明" if lang == "zh" else "Finding", overflow="fold")
    table.add_column("建议" if lang == "zh" else "What to do", overflow="fold")
    for _, r in frame.iterrows():
        table.add_row(safe_text(r.get("check") or ""), safe_text(r.get("message") or ""), safe_text(r.get("fix") or ""))
    return table


def _check_out(out: Path, *, overwrite: bool) -> None:
    """Fail before the work, not after it, when --out cannot take the outputs."""
    from schoolplan.report import check_output_dir

    check_output_dir(out, overwrite=overwrite)


@app.command()
def info(
    path: Annotated[Path, typer.Argument(help="County folder or GeoPackage.")],
    coords: CoordsOpt = None,
    crs: CrsOpt = None,
    base_year: BaseYearOpt = None,
    lang: Annotated[str, typer.Option(help="zh or en.")] = "zh",
    roads: Annotated[bool, typer.Option(help="Build the road graph to report routable km.")] = True,
) -> None:
    """Print a summary of a county, notes on derived values and plausibility checks of the inputs."""
    from schoolplan.county import county_summary
    from schoolplan.plausibility import plausibility

    lang = check_lang(lang)
    county = _load(path, coords, crs, base_year)
    graph = _graph(county) if roads else None
    summary = county_summary(county, road_km=None if graph is None else float(graph.stats["km"]))
    for table in _summary_tables(summary, lang):
        console.print(table)
    dq = county.data_quality
    notes = dq[dq["severity"] == "note"] if len(dq) else dq
    if len(notes):
        console.print(_findings_table(notes, lang, title_zh="数据说明（推导与选择）",
                                      title_en="Notes on the data (derived values and choices)"))
    checks = plausibility(county, graph=graph)
    if len(checks):
        console.print(_findings_table(checks, lang, title_zh="合理性检查（请核实）",
                                      title_en="Plausibility checks (please verify)"))


def _run_and_write(scenarios: list[Any], out: Path, lang: str, *, overwrite: bool, maps: bool,
                   inputs: Any = None, extra: Callable[[list[Any]], dict[str, str]] | None = None) -> list[Any]:
    """Run scenarios with a progress bar, write the outputs, print the summary table.

    ``extra(results)`` gives more text files (name → content) written into the same
    atomic output folder.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from schoolplan.report import write_outputs
    from schoolplan.scenario import run_scenarios

    steps = ("load", "network", "travel_times", "forecast", "attendance", "consolidate", "isochrones", "reserve",
             "indicators", "done")
    total = len(scenarios) * len(steps) + 1
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err_console,
                  transient=not err_console.is_terminal) as bar:
        task = bar.add_task("schoolplan", total=total)

        def tick(name: str, step: str) -> None:
            bar.update(task, advance=1, description=f"{name}: {step}")

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            results = run_scenarios(scenarios, progress=tick)
        bar.update(task, description="writing outputs")
        write_outputs(results, out, lang=lang, overwrite=overwrite, maps=maps,
                      inputs=inputs if inputs is not None else results[0].county,
                      extra=extra(results) if extra is not None else None)
        bar.update(task, completed=total)
    _print_warnings(caught, only_ours=True)
    console.print(_comparison_table(results, lang))
    console.print(f"{t('wrote', lang)} {out}/report.html, comparison.xlsx, results.gpkg, run.json")
    _print_audit(results, lang)
    return results


def _print_audit(results: list[Any], lang: str) -> int:
    """Print the failed audit checks (if any); return how many failed."""
    from schoolplan.audit import audit_failures

    fails = audit_failures(results)
    for _, f in fails.iterrows():
        label = f["label_zh"] if lang == "zh" else f["label_en"]
        detail = f["detail_zh"] if lang == "zh" else f["detail"]
        err_console.print(f"[bold red]{'自检未通过' if lang == 'zh' else 'audit failed'}:[/bold red] "
                          f"{escape(str(f['scenario']))} — {escape(label)}: {escape(detail)}", soft_wrap=True)
    return len(fails)


def _failed(results: list[Any]) -> int:
    from schoolplan.audit import audit_failures

    return len(audit_failures(results))


def _strict_exit(results: list[Any], lang: str) -> None:
    """``--strict``: any failed audit check or any data-quality warning ends with exit code 3."""
    fails = _failed(results)
    notes = sum(0 if r.data_quality is None else len(r.data_quality) for r in results)
    if fails or notes:
        err_console.print(f"[bold red]--strict:[/bold red] {fails} failed audit check(s) and {notes} data-quality "
                          "warning(s) (see report.html, 数据质量提示 / Data quality); outputs were written",
                          soft_wrap=True)
        raise typer.Exit(3)


def _comparison_table(results: list[Any], lang: str) -> Table:
    from schoolplan.metrics import INDICATOR_LABELS
    from schoolplan.report import _fmt

    table = Table(title="方案比较" if lang == "zh" else "Scenario comparison")
    table.add_column("指标" if lang == "zh" else "Indicator")
    for r in results:
        table.add_column(safe_text(r.label_zh if lang == "zh" else r.label_en), justify="right")
    for key, (zh, en) in INDICATOR_LABELS.items():
        table.add_row(zh if lang == "zh" else en, *[_fmt(r.indicators.get(key), key) for r in results])
    return table


@app.command()
def run(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario TOML files.")],
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("schoolplan_output"),
    lang: Annotated[str, typer.Option(help="Report language: zh or en.")] = "zh",
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty --out folder that is not an earlier "
                                                  "schoolplan output.")] = False,
    maps: Annotated[bool, typer.Option(help="Embed interactive maps in the report.")] = True,
    strict: Annotated[bool, typer.Option(help="Exit with code 3 when a plan fails its audit or the data raise "
                                              "warnings (outputs are still written).")] = False,
    coords: CoordsOpt = None,
    crs: CrsOpt = None,
    base_year: BaseYearOpt = None,
) -> None:
    """Run scenarios (sharing the county and road graph) and write the comparison."""
    from schoolplan.scenario import load_scenario

    lang = check_lang(lang)
    _check_out(out, overwrite=overwrite)
    loaded = _with_county_options([load_scenario(p) for p in scenarios], coords, crs, base_year)
    names = [s.name for s in loaded]
    if len(set(names)) != len(names):
        raise SchoolplanError("two scenario files have the same name", rows=names,
                              fix="give every scenario file its own file name")
    results = _run_and_write(loaded, out, lang, overwrite=overwrite, maps=maps)
    if strict:
        _strict_exit(results, lang)


def _parse_param(text: str) -> tuple[list[str], list[Any]]:
    from schoolplan.errors import ConfigError

    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ConfigError(f"cannot read --param '{text}'", column="--param",
                          fix="write SECTION.KEY=V1,V2,... e.g. consolidation.bus_minutes=15,20,25,30")
    key, values = text.split("=", 1)
    out: list[Any] = []
    for v in values.split(","):
        v = v.strip()
        try:
            out.append(int(v) if v.lstrip("-").isdigit() else float(v))
        except ValueError:
            out.append({"true": True, "false": False}.get(v.lower(), v))
    return key.split("."), out


@app.command()
def sweep(
    base: Annotated[Path, typer.Argument(help="Base scenario TOML.")],
    param: Annotated[str, typer.Option(help="SECTION.KEY=V1,V2,... e.g. consolidation.bus_minutes=15,20,25,30")],
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("schoolplan_sweep"),
    lang: Annotated[str, typer.Option(help="zh or en.")] = "zh",
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty --out folder.")] = False,
    maps: Annotated[bool, typer.Option(help="Embed interactive maps in the report.")] = False,
    strict: Annotated[bool, typer.Option(help="Exit with code 3 when a plan fails its audit or the data raise "
                                              "warnings.")] = False,
    coords: CoordsOpt = None,
    crs: CrsOpt = None,
    base_year: BaseYearOpt = None,
) -> None:
    """Run one scenario over several values of a parameter: trade-off curves."""
    from schoolplan.config import load_scenario, scenario_dict

    lang = check_lang(lang)
    _check_out(out, overwrite=overwrite)
    path, values = _parse_param(param)
    raw = scenario_dict(base)
    variants = []
    for v in values:
        data = {k: (dict(x) if isinstance(x, dict) else x) for k, x in raw.items()}
        section = data.setdefault(path[0], {})
        if not isinstance(section, dict) or len(path) != 2:
            raise SchoolplanError(f"--param must name SECTION.KEY, got '{'.'.join(path)}'",
                                  fix="e.g. consolidation.bus_minutes=15,20")
        section[path[1]] = v
        sc = data.setdefault("scenario", {})
        sc["name_zh"] = f"{sc.get('name_zh', base.stem)}（{path[1]}={v}）"
        sc["name_en"] = f"{sc.get('name_en', base.stem)} ({path[1]}={v})"
        safe = re.sub(r"[^\w.-]+", "_", f"{base.stem}_{path[1]}_{v}")  # a name for files and layers
        variants.append(load_scenario(data, name=safe, file=base))
    variants = _with_county_options(variants, coords, crs, base_year)

    def tradeoff(results: list[Any]) -> dict[str, str]:
        import pandas as pd

        curve = pd.DataFrame({
            path[1]: values,
            "schools_after": [r.indicators["schools_kept"] + r.indicators["schools_expanded"]
                              + r.indicators["schools_new"] for r in results],
            "schools_merged": [r.indicators["schools_merged"] for r in results],
            "pupils_over_limit": [r.indicators["pupils_over_limit"] for r in results],
            "boarders": [r.indicators["boarders"] for r in results],
            "capital_cost_wan": [r.indicators["capital_cost_wan"] for r in results],
        })
        return {"tradeoff.csv": curve.to_csv(index=False)}

    results = _run_and_write(variants, out, lang, overwrite=overwrite, maps=maps, extra=tradeoff)
    console.print(f"{t('wrote', lang)} {out / 'tradeoff.csv'}")
    if strict:
        _strict_exit(results, lang)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("demo_output"),
    lang: Annotated[str, typer.Option(help="zh or en.")] = "zh",
    maps: Annotated[bool, typer.Option(help="Embed interactive maps in the report.")] = True,
    strict: Annotated[bool, typer.Option(help="Exit with code 3 when a plan fails its audit.")] = False,
    coords: CoordsOpt = None,
    crs: CrsOpt = None,
    base_year: BaseYearOpt = None,
) -> None:
    """Run the three demo scenarios on the bundled county (现状; 两集中 20 min; 两集中 + boarding 30 min)."""
    from schoolplan.county import county_summary
    from schoolplan.scenario import load_scenario

    lang = check_lang(lang)
    _check_out(out, overwrite=False)
    county = _load(demo_county_path(), coords, crs, base_year)
    for table in _summary_tables(county_summary(county, road_km=_road_km(county)), lang):
        console.print(table)
    folder = demo_county_path() / "scenarios"
    scenarios = _with_county_options([load_scenario(folder / f"{n}.toml") for n in DEMO_SCENARIOS], coords, crs,
                                     base_year)
    results = _run_and_write(scenarios, out, lang, overwrite=False, maps=maps, inputs=county)
    if strict and _failed(results):
        raise typer.Exit(3)


@app.command()
def batch(
    manifest: Annotated[Path, typer.Argument(help="Manifest TOML: scenarios = [...] and [[county]] name, path.")],
    out: Annotated[Path, typer.Option(help="Output folder; an earlier batch folder is resumed.")],
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address, e.g. tcp://host:8786 "
                                                       "(default: a local cluster on 127.0.0.1).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes of the local cluster "
                                                     "(default: the CPU count).")] = None,
    lang: Annotated[str, typer.Option(help="Report language: zh or en.")] = "zh",
    maps: Annotated[bool, typer.Option(help="Embed interactive maps in each report.")] = True,
) -> None:
    """Run every county × scenario of a manifest on Dask; write province.xlsx / province.csv (省级批量)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from schoolplan.batch import read_manifest, run_batch

    lang = check_lang(lang)
    man = read_manifest(manifest)
    total = len(man.counties) * len(man.scenarios)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=not err_console.is_terminal) as bar:
        task = bar.add_task("schoolplan batch", total=total)

        def tick(outcome: dict[str, Any], done: int, _total: int) -> None:
            bar.update(task, completed=done,
                       description=f"{outcome.get('county')} / {outcome.get('scenario')}: {outcome.get('status')}")

        result = run_batch(man, out, scheduler=scheduler, workers=workers, lang=lang, maps=maps, progress=tick)
    counts = result.table["status"].value_counts()
    console.print(f"{t('wrote', lang)} {result.out / 'province.xlsx'}, province.csv, batch.json — "
                  + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    if result.failures:
        table = Table(title="失败的任务" if lang == "zh" else "Failed tasks")
        for col in ("county", "scenario", "error"):
            table.add_column(col)
        for f in result.failures:
            table.add_row(escape(f["county"]), escape(f["scenario"]), escape(f["error"]))
        err_console.print(table)
        raise typer.Exit(code=2)


def _interrupted() -> int:
    """Say that the run stopped (Ctrl-C, or SIGTERM/SIGHUP from the system) and return the exit code."""
    signum = _STATE.get("signal")
    if signum is not None and signum != signal.SIGINT:
        name = signal.Signals(signum).name
        err_console.print(f"terminated ({name}); outputs of this run were not written, earlier outputs are intact",
                          soft_wrap=True)
        return 128 + int(signum)
    err_console.print("interrupted; outputs of this run were not written, earlier outputs are intact",
                      soft_wrap=True)
    return 130


def _on_signal(signum: int, _frame: Any) -> None:
    """SIGTERM/SIGHUP handled like Ctrl-C: unwind (temporary output folders are removed), then exit."""
    _STATE["signal"] = signum
    raise KeyboardInterrupt


def _install_signals() -> dict[int, Any]:
    """Route SIGTERM (and SIGHUP) through KeyboardInterrupt; returns the previous handlers (main thread only)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}
    old = {}
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is None:
            continue
        try:
            old[sig] = signal.signal(sig, _on_signal)
        except (ValueError, OSError):  # not allowed here
            continue
    return old


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``schoolplan`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    _STATE["signal"] = None
    previous = _install_signals()
    try:
        return _main(args, debug)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _main(args: list[str], debug: bool) -> int:
    try:
        result = app(args=args, prog_name="schoolplan", standalone_mode=False)
        code = int(result or 0) if isinstance(result, int) else 0
        return _interrupted() if code == 130 else code  # typer returns Ctrl-C as exit code 130
    except SchoolplanError as exc:
        if debug:
            raise
        err_console.print(f"[bold red]error:[/bold red] {safe_text(exc)}", soft_wrap=True)
        return 2
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.ClickException as exc:
        exc.show()
        return int(exc.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        return _interrupted()
    except Exception as exc:
        # typer ≥ 0.20 raises its own copy of click's exceptions (typer._click): match them by name
        kinds = {c.__name__ for c in type(exc).__mro__}
        if "ClickException" in kinds:  # usage errors: "Error: Missing argument ...", exit code 2
            exc.show()  # type: ignore[attr-defined]
            return int(getattr(exc, "exit_code", 2))
        if "Abort" in kinds:
            return _interrupted()
        if debug:
            raise
        err_console.print(f"[bold red]internal error:[/bold red] {type(exc).__name__}: {safe_text(exc)}\n"
                          f"This is a bug in schoolplan {__version__}; please report it with the command "
                          f"you ran at {REPORT_URL} (run again with --debug for the traceback).", soft_wrap=True)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
