"""Command line: ``schoolplan info``, ``schoolplan demo`` and friends.

User errors print one message naming the file, column, rows and the fix and exit
with code 2 (``--debug`` shows the traceback); internal errors say where to
report them and exit with code 1.
"""

from __future__ import annotations

import sys
import warnings
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


def _load(path: Path, coords: str | None) -> Any:
    from schoolplan.county import load_county

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        county = load_county(path, coords=coords)
    for w in caught:
        err_console.print(f"[yellow]warning:[/yellow] {escape(str(w.message))}")
    return county


def _road_km(county: Any) -> float | None:
    try:
        from schoolplan.network import build_graph
    except ImportError:  # network engine not installed in this build
        return None
    if county.roads is None:
        return None
    graph = build_graph(county.roads, profile="school_bus", crs=county.crs)
    return float(graph.stats["km"])


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


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("demo_output"),
    lang: Annotated[str, typer.Option(help="zh or en.")] = "zh",
) -> None:
    """Run the main job on the bundled demo county and write the outputs to --out."""
    from schoolplan.county import county_summary
    from schoolplan.io import atomic_dir, write_gpkg

    lang = check_lang(lang)
    county = _load(demo_county_path(), None)
    summary = county_summary(county, road_km=_road_km(county))
    for table in _summary_tables(summary, lang):
        console.print(table)
    with atomic_dir(out) as tmp:
        write_gpkg(county.layers(), tmp / "inputs_clean.gpkg")
    console.print(f"{t('wrote', lang)} {out / 'inputs_clean.gpkg'}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``schoolplan`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        result = app(args=args, prog_name="schoolplan", standalone_mode=False)
        return int(result or 0) if isinstance(result, int) else 0
    except SchoolplanError as exc:
        if debug:
            raise
        err_console.print(f"[bold red]error:[/bold red] {escape(str(exc))}")
        return 2
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.ClickException as exc:
        exc.show()
        return int(exc.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        err_console.print("interrupted; outputs of this run were not written, earlier outputs are intact")
        return 130
    except Exception as exc:
        if debug:
            raise
        err_console.print(f"[bold red]internal error:[/bold red] {type(exc).__name__}: {escape(str(exc))}\n"
                          f"This is a bug in schoolplan {__version__}; please report it with the command "
                          f"you ran at {REPORT_URL} (run again with --debug for the traceback).")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
