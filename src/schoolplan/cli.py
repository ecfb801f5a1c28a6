"""Command line: ``schoolplan info``, ``schoolplan demo`` and friends.

User errors print one message naming the file, column, rows and the fix and exit
with code 2 (``--debug`` shows the traceback); internal errors say where to
report them and exit with code 1.
"""

from __future__ import annotations

import re
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

__all__ = ["app", "main"]

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

_STATE: dict[str, Any] = {"debug": False}


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
    head = Table(title=f"{t('summary_title', lang)}: {summary['name']}"
                 + (f" ({summary['name_en']})" if summary.get("name_en") and lang == "en" else ""),
                 show_header=False)
    head.add_column(style="bold")
    head.add_column()
    ext = summary["extent"]
    rows = [
        (t("crs", lang), f"{summary['crs']} — {summary['crs_name']}"),
        (t("extent", lang), f"{ext[0]}, {ext[1]} … {ext[2]}, {ext[3]}"),
        (t("townships", lang), f"{summary['townships']} ({t('county_seat', lang)}: {summary['county_seat']})"),
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
        err_console.print(f"[yellow]warning:[/yellow] {escape(text)}", soft_wrap=True)


def _load(path: Path, coords: str | None) -> Any:
    from schoolplan.county import load_county

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        county = load_county(path, coords=coords)
    _print_warnings(caught)
    return county


def _road_km(county: Any) -> float | None:
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
        graph = build_graph(county.roads, profile="school_bus", crs=county.crs)
        check_offsets(county, graph)
    _print_warnings(caught, only_ours=True)
    return float(graph.stats["km"])


def _check_out(out: Path, *, overwrite: bool) -> None:
    """Fail before the work, not after it, when --out cannot take the outputs."""
    from schoolplan.report import check_output_dir

    check_output_dir(out, overwrite=overwrite)


@app.command()
def info(
    path: Annotated[Path, typer.Argument(help="County folder or GeoPackage.")],
    coords: Annotated[str | None, typer.Option(help="lon/lat system of tables: wgs84, cgcs2000, gcj02, bd09.")] = None,
    lang: Annotated[str, typer.Option(help="zh or en.")] = "zh",
    roads: Annotated[bool, typer.Option(help="Build the road graph to report routable km.")] = True,
) -> None:
    """Print a summary of a county: schools by level, villages, children, roads, CRS, extent."""
    from schoolplan.county import county_summary

    lang = check_lang(lang)
    county = _load(path, coords)
    summary = county_summary(county, road_km=_road_km(county) if roads else None)
    for table in _summary_tables(summary, lang):
        console.print(table)


def _run_and_write(scenarios: list[Any], out: Path, lang: str, *, overwrite: bool, maps: bool,
                   inputs: Any = None, extra: Callable[[list[Any]], dict[str, str]] | None = None) -> list[Any]:
    """Run scenarios with a progress bar, write the outputs, print the summary table.

    ``extra(results)`` gives more text files (name → content) written into the same
    atomic output folder.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from schoolplan.report import write_outputs
    from schoolplan.scenario import run_scenarios

    steps = ("load", "network", "travel_times", "forecast", "attendance", "consolidate", "phasing", "isochrones",
             "reserve", "indicators", "done")
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
        table.add_column(r.label_zh if lang == "zh" else r.label_en, justify="right")
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
) -> None:
    """Run scenarios (sharing the county and road graph) and write the comparison."""
    from schoolplan.scenario import load_scenario

    lang = check_lang(lang)
    _check_out(out, overwrite=overwrite)
    loaded = [load_scenario(p) for p in scenarios]
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
        variants.append(load_scenario(data, name=safe))

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
) -> None:
    """Run the three demo scenarios on the bundled county (现状; 两集中 20 min; 两集中 + boarding 30 min)."""
    from schoolplan.county import county_summary
    from schoolplan.scenario import load_scenario

    lang = check_lang(lang)
    _check_out(out, overwrite=False)
    county = _load(demo_county_path(), None)
    for table in _summary_tables(county_summary(county, road_km=_road_km(county)), lang):
        console.print(table)
    folder = demo_county_path() / "scenarios"
    scenarios = [load_scenario(folder / f"{n}.toml") for n in DEMO_SCENARIOS]
    results = _run_and_write(scenarios, out, lang, overwrite=False, maps=maps, inputs=county)
    if strict and _failed(results):
        raise typer.Exit(3)


def _interrupted() -> int:
    err_console.print("interrupted; outputs of this run were not written, earlier outputs are intact",
                      soft_wrap=True)
    return 130


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``schoolplan`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        result = app(args=args, prog_name="schoolplan", standalone_mode=False)
        code = int(result or 0) if isinstance(result, int) else 0
        return _interrupted() if code == 130 else code  # typer returns Ctrl-C as exit code 130
    except SchoolplanError as exc:
        if debug:
            raise
        err_console.print(f"[bold red]error:[/bold red] {escape(str(exc))}", soft_wrap=True)
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
        err_console.print(f"[bold red]internal error:[/bold red] {type(exc).__name__}: {escape(str(exc))}\n"
                          f"This is a bug in schoolplan {__version__}; please report it with the command "
                          f"you ran at {REPORT_URL} (run again with --debug for the traceback).", soft_wrap=True)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
