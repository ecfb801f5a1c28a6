"""Command line: ``schoolplan info | run | sweep | demo`` (学校布局规划命令行).

Global options may come before or after the command (``schoolplan --lang en run a.toml``
and ``schoolplan run a.toml --lang en`` are the same):

``--lang zh|en``
    Language of the report, the workbook's words and the terminal (default zh).
``--debug``
    Show the traceback of an error (for reporting bugs).
``--quiet`` / ``-q``
    Print errors only: no progress bars, tables or warnings (they are all in the
    report and the log).

Exit codes
----------
====  ==========================================================================
0     success
1     internal error: a bug in schoolplan (the message names the log with the
      traceback and the README's support section)
2     user error: a bad input file, option or scenario (one message naming the
      file, layer, column, rows and the fix; nothing is written)
3     ``--strict``: a plan fails its audit or the data raise warnings (the
      outputs are written all the same)
130   interrupted (Ctrl-C): the outputs of this run are not written, earlier
      outputs are intact
====  ==========================================================================

Log
---
``run``, ``sweep`` and ``demo`` keep a log of the run: the command, each stage with
its time, every warning, and whatever the solvers print (HiGHS writes to the log,
never to the terminal). It is written into the output folder as
``schoolplan.log``; a run that fails or is interrupted leaves it next to the folder
as ``<out>.log``. A crash outside a run writes ``schoolplan-crash-<pid>.log`` in the
temporary folder. The crash message names the file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import re
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from schoolplan import __version__
from schoolplan.errors import SchoolplanError
from schoolplan.fmt import number
from schoolplan.i18n import check_lang, t

if TYPE_CHECKING:
    from schoolplan.county import County

__all__ = ["EXIT_CODES", "SUPPORT", "app", "main", "safe_text"]

#: Where to report a bug: the README section that says how (and what to attach).
SUPPORT = 'README.md, section "Support / 问题反馈"'

#: Exit codes of the ``schoolplan`` command.
EXIT_CODES: dict[int, tuple[str, str]] = {
    0: ("成功", "success"),
    1: ("程序内部错误（请按 README 的“问题反馈”报告，附日志）", "internal error (a bug: report it as the README's "
        "support section says, with the log)"),
    2: ("输入、参数或方案文件有误（提示会写明文件、列、行和改法）", "user error (bad input, option or scenario file; the "
        "message names file, column, rows and the fix)"),
    3: ("--strict：方案自检未通过或数据有质量提示（结果已写出）", "--strict: a plan fails its audit or the data raise "
        "warnings (outputs are written)"),
    130: ("已中断（Ctrl-C），之前的结果保持不变", "interrupted (Ctrl-C); earlier outputs are intact"),
}

DEMO_COUNTY = Path(__file__).resolve().parents[2] / "data" / "demo_county"
DEMO_SCENARIOS = ("status_quo", "two_concentrations_20", "two_concentrations_boarding_30")

_EPILOG = ("退出码 Exit codes: " + "; ".join(f"{k} {zh} / {en}" for k, (zh, en) in EXIT_CODES.items())
           + ".  全局选项 --lang、--debug、--quiet 可放在命令前后 / global options may come before or after "
           "the command.  问题反馈 Support: " + SUPPORT + ".")

app = typer.Typer(
    name="schoolplan",
    help="县域学校布局规划：两集中撤并、学位需求预测、预留用地、方案比较。 County school-layout planning: 两集中 "
         "consolidation, seat demand, reserved land, scenario comparison.",
    epilog=_EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

_STATE: dict[str, Any] = {"debug": False, "quiet": False, "lang": None, "log": None, "signal": None}

LangOpt = Annotated[str | None, typer.Option(
    "--lang", help="语言 zh 或 en（报告、表格和终端）。 Language zh or en (report, workbook, terminal).")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="出错时显示回溯（报告程序错误用）。 Show the traceback "
                                                        "of an error.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="只显示错误。 Print errors only (no progress, tables "
                                                              "or warnings).")]
#: Options every command accepts, before or after its name (flag → takes a value).
_GLOBAL_OPTIONS = {"--debug": False, "--quiet": False, "-q": False, "--lang": True}


def _globals(lang: str | None = None, debug: bool = False, quiet: bool = False) -> str:
    """Record global options given to a command; return the language in force."""
    _STATE["debug"] = _STATE["debug"] or debug
    _STATE["quiet"] = _STATE["quiet"] or quiet
    if lang is not None:
        _STATE["lang"] = check_lang(lang)
    return _STATE["lang"] or "zh"

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
                                          help="显示版本。 Show the version and exit.")] = False,
    lang: LangOpt = None,
    debug: DebugOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """县域学校布局规划 County school-layout planning (学校布局规划)."""
    _globals(lang, debug, quiet)


def demo_county_path() -> Path:
    """The bundled demo county folder (``data/demo_county`` of the source tree)."""
    if not DEMO_COUNTY.exists():
        raise SchoolplanError("the bundled demo county is not found", file=str(DEMO_COUNTY),
                              fix="run from a source checkout (git clone) or pass a county path")
    return DEMO_COUNTY


# --------------------------------------------------------------------------- log and solver output
class _RunLog:
    """The log of one command's run: ``<out>.log`` while it runs, ``<out>/schoolplan.log`` once written."""

    NAME = "schoolplan.log"

    def __init__(self, out: Path) -> None:
        target = out.resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        self.path = target.with_name(f"{target.name}.log")
        self.final = target / self.NAME
        self.path.write_text("", encoding="utf-8")
        self.fh: IO[str] = self.path.open("a", encoding="utf-8", buffering=1)  # O_APPEND: C output interleaves
        self.start = time.perf_counter()
        self.write(f"schoolplan {__version__} · Python {platform.python_version()} · {platform.platform()}")
        self.write(f"started {dt.datetime.now().isoformat(timespec='seconds')}")
        self.write("command: schoolplan " + " ".join(_STATE.get("argv", [])))

    def write(self, text: str) -> None:
        """Append a line with the seconds since the start."""
        if not self.fh.closed:
            self.fh.write(f"[{time.perf_counter() - self.start:8.1f}s] {text}\n")
            self.fh.flush()

    def fileno(self) -> int:
        return self.fh.fileno()

    def text(self) -> str:
        """Everything logged so far."""
        self.fh.flush()
        return self.path.read_text(encoding="utf-8", errors="replace")

    def close(self, *, written: bool) -> Path:
        """Close the log; when the outputs were written (holding a copy), remove the one next to the folder."""
        if not self.fh.closed:
            self.fh.close()
        if written and self.final.exists():
            with contextlib.suppress(OSError):
                self.path.unlink()
            return self.final
        return self.path

    @property
    def shown_path(self) -> Path:
        """Where the log is now (for messages)."""
        return self.final if self.fh.closed and not self.path.exists() else self.path


@contextlib.contextmanager
def _solver_output_to(log: _RunLog) -> Iterator[IO[str] | None]:
    """Send what C libraries print on file descriptors 1 and 2 (HiGHS' banner and logs) into the log.

    Yields a stream to the real standard error (for progress bars), or None when
    the descriptors cannot be redirected (then nothing changes).
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    try:
        saved = (os.dup(1), os.dup(2))
    except OSError:
        yield None
        return
    term = os.fdopen(os.dup(saved[1]), "w", encoding=getattr(sys.stderr, "encoding", None) or "utf-8",
                     errors="replace", buffering=1)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    try:
        yield term
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        with contextlib.suppress(Exception):
            term.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        term.close()


class _Progress:
    """Stage names with a progress bar (a terminal) or one line per stage (a pipe); nothing when quiet."""

    def __init__(self, term: IO[str] | None, lang: str, total: int, log: _RunLog | None) -> None:
        self.lang, self.log, self.total = lang, log, max(total, 1)
        self.quiet = bool(_STATE["quiet"])
        self.term = term if term is not None else sys.stderr
        self.bar: Any = None
        self.done = 0
        self.last: tuple[str, float] | None = None
        if not self.quiet and self.term.isatty():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=Console(file=self.term, highlight=False), transient=True)
            self.task = self.bar.add_task("schoolplan", total=self.total)
            self.bar.start()

    def stage(self, what: str, stage: str) -> None:
        """A stage starts (``stage`` is a key of the runner: load, network, travel_times ...)."""
        now = time.perf_counter()
        if self.last is not None and self.log is not None:
            self.log.write(f"  done in {now - self.last[1]:.1f}s")
        label = t(f"stage_{stage}", self.lang)
        text = f"{what} · {label}" if what else label
        self.last = (text, now)
        if self.log is not None:
            self.log.write(text)
        if stage == "done":
            self.done += 1
            if self.bar is not None:
                self.bar.update(self.task, advance=1)
            return
        self.done += 1
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=escape(text))
        elif not self.quiet:
            self.term.write(f"[{min(self.done, self.total)}/{self.total}] {text}\n")
            self.term.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=self.total)
            self.bar.stop()
            self.bar = None
        if self.last is not None and self.log is not None:
            self.log.write(f"  done in {time.perf_counter() - self.last[1]:.1f}s")
            self.last = None


# --------------------------------------------------------------------------- printing
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
        (t("townships", lang), f"{summary['townships']} ({t('county_seat', lang)}: {safe_text(summary['county_seat'])})"),
        (t("villages", lang), number(summary["villages"])),
        (t("zones", lang), number(summary["zones"])),
        (t("sites", lang), number(summary["sites"])),
        (t("population", lang), number(summary["population"])),
        (t("base_year", lang), str(summary["base_year"])),
        (t("road_km", lang), number(summary["road_km"], "decimal")),
    ]
    births = summary["births"]
    if births:
        years = sorted(births)
        peak = max(births, key=births.__getitem__)
        rows.append((t("births", lang), f"{years[0]}: {number(births[years[0]])} · {t('peak', lang)} {peak}: "
                     f"{number(births[peak])} · {years[-1]}: {number(births[years[-1]])}"))
    for k, v in rows:
        head.add_row(k, v)
    levels = Table(title=t("schools", lang))
    for col in ("level", "open", "closed", "pupils", "children"):
        levels.add_column(t(col, lang), justify="right" if col != "level" else "left")
    for lv, counts in summary["schools"].items():
        levels.add_row(t(lv, lang), number(counts["open"]), number(counts["closed"]),
                       number(summary["pupils"].get(lv, 0)),
                       number(summary["children"].get(lv, 0)) if lv in summary["children"] else "")
    return [head, levels]


def _print(*items: Any) -> None:
    """Print to standard output unless --quiet."""
    if not _STATE["quiet"]:
        for item in items:
            console.print(item)


def _print_warnings(caught: list[warnings.WarningMessage], *, only_ours: bool = False) -> None:
    """Print each distinct warning once, as ``warning: message`` (schoolplan's own only if asked); log them all."""
    from schoolplan.errors import SchoolplanWarning

    seen: set[str] = set()
    log: _RunLog | None = _STATE["log"]
    for w in caught:
        text = str(w.message)
        if text in seen:
            continue
        seen.add(text)
        if log is not None:
            log.write(f"warning ({w.category.__name__}): {text}")
        if _STATE["quiet"] or (only_ours and not issubclass(w.category, SchoolplanWarning)):
            continue
        err_console.print(f"[yellow]{'提示 warning' if _lang() == 'zh' else 'warning'}:[/yellow] {safe_text(text)}",
                          soft_wrap=True)


def _lang() -> str:
    return _STATE["lang"] or "zh"


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


def _graph(county: County) -> Any:
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


def _road_km(county: County) -> float | None:
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


# --------------------------------------------------------------------------- commands
@app.command(epilog=_EPILOG)
def info(
    path: Annotated[Path, typer.Argument(help="县域数据文件夹或 GeoPackage。 County folder or GeoPackage.")],
    coords: CoordsOpt = None,
    crs: CrsOpt = None,
    base_year: BaseYearOpt = None,
    roads: Annotated[bool, typer.Option(help="构建道路网以报告可通行里程。 Build the road graph to report routable "
                                             "km.")] = True,
    lang: LangOpt = None,
    debug: DebugOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """县域概况：各学段学校、村庄、适龄儿童、道路、坐标系。 Summary of a county: schools by level, villages, children, roads, CRS, extent; notes on derived values and plausibility checks."""
    from schoolplan.county import county_summary
    from schoolplan.plausibility import plausibility

    lang = _globals(lang, debug, quiet)
    county = _load(path, coords, crs, base_year)
    graph = _graph(county) if roads else None
    summary = county_summary(county, road_km=None if graph is None else float(graph.stats["km"]))
    _print(*_summary_tables(summary, lang))
    dq = county.data_quality
    notes = dq[dq["severity"] == "note"] if len(dq) else dq
    if len(notes):
        _print(_findings_table(notes, lang, title_zh="数据说明（推导与选择）",
                                      title_en="Notes on the data (derived values and choices)"))
    checks = plausibility(county, graph=graph)
    if len(checks):
        _print(_findings_table(checks, lang, title_zh="合理性检查（请核实）",
                                      title_en="Plausibility checks (please verify)"))


@app.command(epilog=_EPILOG)
def inspect(
    path: Annotated[Path, typer.Argument(help="县域数据文件夹或 GeoPackage。 County folder or GeoPackage.")],
    standards: Annotated[Path | None, typer.Option(help="地方标准文件（TOML），默认国家标准。 Local standards TOML "
                                                      "(default: national norms).")] = None,
    coords: CoordsOpt = None,
    crs: CrsOpt = None,
    base_year: BaseYearOpt = None,
    lang: LangOpt = None,
    debug: DebugOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """控辍保学底数与优质均衡达标情况：巩固率、疑似辍学、七项指标、差异系数、最低补充投入。 Keeping every child in school and 优质均衡 readiness today: consolidation rates, suspected out-of-school pupils, the seven indicators, coefficients of variation and the cheapest fix."""
    from schoolplan.readiness import county_inspection
    from schoolplan.readiness.views import inspect_tables
    from schoolplan.standards import load_standards

    lang = _globals(lang, debug, quiet)
    county = _load(path, coords, crs, base_year)
    std = load_standards(str(standards) if standards is not None else None)
    ins = county_inspection(county, std)
    for title, rows in inspect_tables(ins, lang):
        table = Table(title=title)
        table.add_column("项目" if lang == "zh" else "Item", overflow="fold")
        table.add_column("数值" if lang == "zh" else "Value", justify="right", overflow="fold")
        for k, v in rows:
            table.add_row(safe_text(k), safe_text(v))
        _print(table)


def _steps(scenarios: list[Any]) -> int:
    """Stages the runner reports per scenario (reserve and phasing only when enabled), plus writing the outputs."""
    per = ("load", "network", "travel_times", "forecast", "attendance", "consolidate", "isochrones", "indicators",
           "done")
    writing = ("report", "workbook", "layers")

    def optional(s: Any) -> int:
        reserve = bool(getattr(getattr(s, "reserve", None), "enabled", False))
        phasing = bool(getattr(getattr(s, "phasing", None), "enabled", False)) and \
            getattr(getattr(s, "consolidation", None), "mode", "") != "status_quo"
        return int(reserve) + int(phasing)

    return sum(len(per) + optional(s) for s in scenarios) + len(writing)


def _run_and_write(scenarios: list[Any], out: Path, lang: str, *, overwrite: bool, maps: bool,
                   inputs: Any = None, extra: Callable[[list[Any]], dict[str, str]] | None = None,
                   log: _RunLog | None = None) -> list[Any]:
    """Run scenarios with progress, solver output in the log; write the outputs; print the summary table.

    ``extra(results)`` gives more text files (name → content) written into the same
    atomic output folder.
    """
    from schoolplan.report import write_outputs
    from schoolplan.scenario import run_scenarios

    log = log or _RunLog(out)
    _STATE["log"] = log
    labels = {s.name: (s.scenario.name_zh if lang == "zh" else s.scenario.name_en) for s in scenarios}
    written = False
    with _solver_output_to(log) as term:
        progress = _Progress(term, lang, _steps(scenarios), log)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                results = run_scenarios(scenarios, progress=lambda name, step: progress.stage(labels.get(name, name),
                                                                                               step))
            for w in caught:
                log.write(f"warning ({w.category.__name__}): {w.message}")
            files = dict(extra(results)) if extra is not None else {}
            log.write(f"writing {out.resolve()}")
            files[_RunLog.NAME] = log.text()
            write_outputs(results, out, lang=lang, overwrite=overwrite, maps=maps,
                          inputs=inputs if inputs is not None else results[0].county, extra=files,
                          progress=lambda step: progress.stage("", step))
            written = True
        finally:
            progress.close()
    shown = log.close(written=written)
    _STATE["log"] = None
    _print_warnings(caught, only_ours=True)
    _print(_comparison_table(results, lang))
    _print(f"{t('wrote', lang)} {out}/report.html, comparison.xlsx, results.gpkg, run.json, {shown.name}, "
           f"scenarios/*.toml")
    _print_audit(results, lang)
    return results


def _print_audit(results: list[Any], lang: str) -> int:
    """Print the failed audit checks (if any); return how many failed."""
    from schoolplan.audit import audit_failures

    fails = audit_failures(results)
    if _STATE["quiet"]:
        return len(fails)
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
    """The five-minute page on the terminal: the headline rows of the report."""
    from schoolplan.report import headline_rows

    table = Table(title="方案比较（一页纸摘要）" if lang == "zh" else "Scenario comparison (one-page summary)")
    table.add_column("指标" if lang == "zh" else "Indicator")
    for r in results:
        table.add_column(safe_text(r.label_zh if lang == "zh" else r.label_en), justify="right")
    for row in headline_rows(results, lang):
        table.add_row(row["label"], *[("[bold green]" + c["text"] + "[/]") if c["best"] else c["text"]
                                      for c in row["cells"]])
    return table


@app.command(epilog=_EPILOG)
def run(
    scenarios: Annotated[list[Path], typer.Argument(help="方案文件（TOML），可多个。 Scenario TOML files.")],
    out: Annotated[Path, typer.Option(help="输出文件夹。 Output folder.")] = Path("schoolplan_output"),
    overwrite: Annotated[bool, typer.Option(help="可替换非 schoolplan 输出的非空文件夹。 Replace a non-empty --out "
                                                 "folder that is not an earlier schoolplan output.")] = False,
    maps: Annotated[bool, typer.Option(help="在报告中嵌入交互地图。 Embed interactive maps in the report.")] = True,
    strict: Annotated[bool, typer.Option(help="方案自检未通过或数据有提示时退出码为 3（仍写出结果）。 Exit with "
                                              "code 3 when a plan fails its audit or the data raise warnings "
                                              "(outputs are still written).")] = False,
    coords: CoordsOpt = None,
    crs: CrsOpt = None,
    base_year: BaseYearOpt = None,
    lang: LangOpt = None,
    debug: DebugOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """运行方案（共用县域数据和道路网）并写出比较报告。 Run scenarios (sharing the county and road graph) and write the comparison."""
    from schoolplan.scenario import load_scenario

    lang = _globals(lang, debug, quiet)
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


@app.command(epilog=_EPILOG)
def sweep(
    base: Annotated[Path, typer.Argument(help="基础方案文件（TOML）。 Base scenario TOML.")],
    param: Annotated[str, typer.Option(help="参数及取值 SECTION.KEY=V1,V2,...，如 consolidation.bus_minutes="
                                            "15,20,25,30。 Parameter and its values.")],
    out: Annotated[Path, typer.Option(help="输出文件夹。 Output folder.")] = Path("schoolplan_sweep"),
    overwrite: Annotated[bool, typer.Option(help="可替换非空文件夹。 Replace a non-empty --out folder.")] = False,
    maps: Annotated[bool, typer.Option(help="在报告中嵌入交互地图。 Embed interactive maps in the report.")] = False,
    strict: Annotated[bool, typer.Option(help="方案自检未通过或数据有提示时退出码为 3。 Exit with code 3 when a "
                                              "plan fails its audit or the data raise warnings.")] = False,
    coords: CoordsOpt = None,
    crs: CrsOpt = None,
    base_year: BaseYearOpt = None,
    lang: LangOpt = None,
    debug: DebugOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """对一个方案参数取多个值分别运行：权衡曲线 tradeoff.csv。 Run one scenario over several values of a parameter: trade-off curves."""
    from schoolplan.config import load_scenario, scenario_dict
    from schoolplan.errors import ConfigError

    lang = _globals(lang, debug, quiet)
    _check_out(out, overwrite=overwrite)
    path, values = _parse_param(param)
    raw = scenario_dict(base)
    variants = []
    for v in values:
        data = {k: (dict(x) if isinstance(x, dict) else x) for k, x in raw.items()}
        section = data.setdefault(path[0], {})
        if not isinstance(section, dict) or len(path) != 2:
            raise SchoolplanError(f"--param must name SECTION.KEY, got '{'.'.join(path)}'", file=str(base),
                                  column="--param", fix="e.g. consolidation.bus_minutes=15,20")
        section[path[1]] = v
        sc = data.setdefault("scenario", {})
        sc["name_zh"] = f"{sc.get('name_zh', base.stem)}（{path[1]}={v}）"
        sc["name_en"] = f"{sc.get('name_en', base.stem)} ({path[1]}={v})"
        safe = re.sub(r"[^\w.-]+", "_", f"{base.stem}_{path[1]}_{v}")  # a name for files and layers
        try:
            variants.append(load_scenario(data, name=safe, file=base))
        except ConfigError as exc:  # name the real file (and the value tried), not '<dict>'
            if exc.file in (None, "<dict>"):
                exc.file = f"{base} (--param {'.'.join(path)}={v})"
            raise
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
    _print(f"{t('wrote', lang)} {out / 'tradeoff.csv'}")
    if strict:
        _strict_exit(results, lang)


@app.command(epilog=_EPILOG)
def demo(
    out: Annotated[Path, typer.Option(help="输出文件夹。 Output folder.")] = Path("demo_output"),
    maps: Annotated[bool, typer.Option(help="在报告中嵌入交互地图。 Embed interactive maps in the report.")] = True,
    strict: Annotated[bool, typer.Option(help="方案自检未通过时退出码为 3。 Exit with code 3 when a plan fails "
                                              "its audit.")] = False,
    coords: CoordsOpt = None,
    crs: CrsOpt = None,
    base_year: BaseYearOpt = None,
    lang: LangOpt = None,
    debug: DebugOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """在自带示范县上运行三个方案（现状；两集中 20 分钟；两集中 + 寄宿 30 分钟）。 Run the three demo scenarios on the bundled county."""
    from schoolplan.county import county_summary
    from schoolplan.scenario import load_scenario

    lang = _globals(lang, debug, quiet)
    _check_out(out, overwrite=False)
    folder = demo_county_path() / "scenarios"
    scenarios = _with_county_options([load_scenario(folder / f"{n}.toml") for n in DEMO_SCENARIOS], coords, crs,
                                     base_year)
    log = _RunLog(out)
    _STATE["log"] = log
    with _solver_output_to(log) as term:
        progress = _Progress(term, lang, 2, log)
        try:
            progress.stage(t("summary_title", lang), "load")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                county = _load(demo_county_path(), coords, crs, base_year)
                progress.stage(t("summary_title", lang), "network")
                km = _road_km(county)
        finally:
            progress.close()
    _print_warnings(caught)
    _print(*_summary_tables(county_summary(county, road_km=km), lang))
    results = _run_and_write(scenarios, out, lang, overwrite=False, maps=maps, inputs=county, log=log)
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


# --------------------------------------------------------------------------- entry point
def _interrupted() -> int:
    """Say that the run stopped (Ctrl-C, or SIGTERM/SIGHUP from the system) and return the exit code."""
    signum = _STATE.get("signal")
    term = signum is not None and signum != signal.SIGINT
    what = f"terminated ({signal.Signals(signum).name})" if term else "interrupted"
    log: _RunLog | None = _STATE["log"]
    where = ""
    if log is not None:
        log.write(what if term else "interrupted (Ctrl-C)")
        where = f" (log: {log.close(written=False)})"
        _STATE["log"] = None
    if term:
        err_console.print(f"{what}; outputs of this run were not written, earlier outputs are intact" + where,
                          soft_wrap=True)
        return 128 + int(signum)
    err_console.print("interrupted; outputs of this run were not written, earlier outputs are intact" + where,
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


def _crash_log(exc: BaseException) -> Path:
    """Write the traceback into the run's log (or a crash log in the temporary folder); return its path."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    log: _RunLog | None = _STATE["log"]
    if log is not None:
        log.write("internal error:\n" + text)
        _STATE["log"] = None
        return log.close(written=False)
    path = Path(tempfile.gettempdir()) / f"schoolplan-crash-{os.getpid()}.log"
    path.write_text(f"schoolplan {__version__} · Python {platform.python_version()} · {platform.platform()}\n"
                    f"command: schoolplan {' '.join(_STATE.get('argv', []))}\n\n{text}", encoding="utf-8")
    return path


def _command_options() -> dict[str, set[str]]:
    """Options each command declares (to know which global options must move in front of it)."""
    group = typer.main.get_command(app)
    commands = getattr(group, "commands", {})
    return {name: {o for p in cmd.params for o in (*getattr(p, "opts", ()), *getattr(p, "secondary_opts", ()))}
            for name, cmd in commands.items()}


def _hoist_globals(args: list[str]) -> list[str]:
    """Move global options given after a command that does not declare them in front of the command.

    ``schoolplan batch x --debug`` then means ``schoolplan --debug batch x`` for every
    command, including ones that declare only their own options.
    """
    commands = _command_options()
    i = 0
    while i < len(args) and args[i] not in commands:
        if args[i] == "--":
            return args
        i += 2 if args[i] in _GLOBAL_OPTIONS and _GLOBAL_OPTIONS[args[i]] else 1
    if i >= len(args):
        return args
    own = commands[args[i]]
    front, rest, j = list(args[:i]), [], i + 1
    while j < len(args):
        tok = args[j]
        if tok == "--":
            rest += args[j:]
            break
        name = tok.split("=", 1)[0]
        if name in _GLOBAL_OPTIONS and name not in own:
            takes = _GLOBAL_OPTIONS[name] and "=" not in tok
            front += args[j:j + 2] if takes else [tok]
            j += 2 if takes else 1
            continue
        rest.append(tok)
        j += 1
    return [*front, args[i], *rest]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``schoolplan`` console script; returns the exit code (see :data:`EXIT_CODES`)."""
    args = list(sys.argv[1:] if argv is None else argv)
    _STATE.update(debug=False, quiet=False, lang=None, log=None, argv=args)
    args = _hoist_globals(args)
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
        if debug or _STATE["debug"]:
            raise
        log: _RunLog | None = _STATE["log"]
        where = ""
        if log is not None:
            log.write(f"error: {exc}")
            where = f"\n(log: {log.close(written=False)})"
            _STATE["log"] = None
        err_console.print(f"[bold red]{'错误 error' if _lang() == 'zh' else 'error'}:[/bold red] {safe_text(exc)}"
                          f"{escape(where)}", soft_wrap=True)
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
        if "Exit" in kinds and hasattr(exc, "exit_code"):
            return int(getattr(exc, "exit_code", 0) or 0)
        if "ClickException" in kinds:  # usage errors: "Error: Missing argument ...", exit code 2
            exc.show()  # type: ignore[attr-defined]
            return int(getattr(exc, "exit_code", 2))
        if "Abort" in kinds:
            return _interrupted()
        path = _crash_log(exc)
        if debug or _STATE["debug"]:
            raise
        err_console.print(
            f"[bold red]internal error:[/bold red] {type(exc).__name__}: {safe_text(exc)}\n"
            f"This is a bug in schoolplan {__version__}. Please report it as described in {SUPPORT}, with the "
            f"command you ran and the log {path} (it holds the traceback; --debug shows it here).\n"
            f"这是 schoolplan 的程序错误。请按 README.md 的“问题反馈”一节报告，附上所运行的命令和日志 {path}。",
            soft_wrap=True)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
