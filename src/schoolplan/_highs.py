"""Internal: the shared HiGHS model builder and solve helpers.

Every model in the package (the facility-location models of
:mod:`schoolplan.optimize`, the consolidation MILP, the pupil assignment LP) is
built here as column blocks, row blocks and COO triplets, passed to HiGHS as one
CSC matrix through :mod:`highspy`, and solved with a time limit, a relative gap
and, optionally, an objective cutoff and a start. Nothing is printed: HiGHS'
banner and log are captured and kept on the result (:attr:`HighsRun.log`).

Internal module: the names are public so that other modules of the package may
import them, but the API is not part of schoolplan's user contract.
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
import scipy.sparse as sp

__all__ = [
    "HighsLP",
    "HighsModel",
    "HighsRun",
    "banner",
    "is_infeasible",
    "new_highs",
    "status_name",
]

_lock = threading.Lock()
_banner_done = False
_banner = ""
_scheduler_threads: int | None = None  # size of HiGHS' global thread pool, if we set it
_IPM_COLS = 20_000  # LP relaxations with more columns start with interior point


def _swallow_banner() -> None:
    """Create the process' first Highs object with C-level stdout/stderr redirected.

    HiGHS prints its version banner once per process, from C++, when the first
    ``Highs`` object is made; Python-level redirection does not catch it. The
    banner is kept (see :func:`banner`) and prefixed to every captured log.
    """
    global _banner_done, _banner
    with _lock:
        if _banner_done:
            return
        saved = [os.dup(1), os.dup(2)]
        try:
            with tempfile.TemporaryFile(mode="w+b") as tmp:
                os.dup2(tmp.fileno(), 1)
                os.dup2(tmp.fileno(), 2)
                try:
                    highspy.Highs()
                finally:
                    os.dup2(saved[0], 1)
                    os.dup2(saved[1], 2)
                tmp.seek(0)
                _banner = tmp.read().decode("utf-8", "replace")
        finally:
            for fd in saved:
                os.close(fd)
        _banner_done = True


def banner() -> str:
    """HiGHS' version banner (captured, never printed)."""
    _swallow_banner()
    return _banner


def new_highs(
    *,
    time_limit: float | None = None,
    mip_rel_gap: float | None = None,
    threads: int | None = None,
    log: list[str] | None = None,
) -> Any:
    """A silent ``highspy.Highs`` whose log lines are appended to ``log``.

    Parameters
    ----------
    time_limit
        Seconds (``None`` or ``inf``: no limit).
    mip_rel_gap
        Relative MIP gap at which HiGHS stops.
    threads
        HiGHS threads. HiGHS keeps one global thread pool; a new count resizes it.
    log
        List receiving the solver's log messages (nothing is printed).
    """
    _swallow_banner()
    h = highspy.Highs()
    h.setOptionValue("log_to_console", False)
    if log is not None:
        h.setOptionValue("output_flag", True)
        h.cbLogging.subscribe(lambda e: log.append(str(e.message)))
    else:
        h.setOptionValue("output_flag", False)
    if mip_rel_gap is not None:
        h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    if time_limit is not None and math.isfinite(time_limit):
        h.setOptionValue("time_limit", max(float(time_limit), 1e-3))
    if threads is not None:
        global _scheduler_threads
        if int(threads) != _scheduler_threads:
            highspy.Highs.resetGlobalScheduler(True)
            _scheduler_threads = int(threads)
        h.setOptionValue("threads", int(threads))
    return h


_STATUS = {
    highspy.HighsModelStatus.kOptimal: "optimal",
    highspy.HighsModelStatus.kInfeasible: "infeasible",
    highspy.HighsModelStatus.kUnboundedOrInfeasible: "infeasible",
    highspy.HighsModelStatus.kUnbounded: "unbounded",
    highspy.HighsModelStatus.kTimeLimit: "time_limit",
    highspy.HighsModelStatus.kIterationLimit: "iteration_limit",
    highspy.HighsModelStatus.kSolutionLimit: "solution_limit",
    highspy.HighsModelStatus.kInterrupt: "interrupted",
    highspy.HighsModelStatus.kObjectiveBound: "cutoff",
    highspy.HighsModelStatus.kObjectiveTarget: "objective_target",
}


def status_name(status: Any) -> str:
    """Short text for a ``HighsModelStatus`` (``"optimal"``, ``"time_limit"``, ...)."""
    return _STATUS.get(status, "not_optimal")


def is_infeasible(status: Any) -> bool:
    """Whether a HiGHS model status (or its :func:`status_name`) means infeasible."""
    if isinstance(status, str):
        return status == "infeasible"
    return status_name(status) == "infeasible"


@dataclass
class HighsRun:
    """Outcome of one HiGHS solve.

    Attributes
    ----------
    status
        :func:`status_name` of HiGHS' model status; ``"infeasible"`` also when
        an objective cutoff removed every solution (then ``cutoff_hit``).
    x
        Column values of the best solution found, or ``None``.
    objective
        Its objective value (``nan`` without a solution).
    bound
        Proven dual bound (lower for minimisation, upper for maximisation).
    n_col, n_row
        Model size.
    log
        The solver's captured log of this run (the version banner is
        available from :func:`banner`).
    seconds
        Wall-clock seconds of the solve.
    cutoff_hit
        An objective cutoff was given and no solution strictly better exists.
    """

    status: str
    x: np.ndarray | None
    objective: float
    bound: float
    n_col: int
    n_row: int
    log: str = ""
    seconds: float = 0.0
    cutoff_hit: bool = False

    @property
    def infeasible(self) -> bool:
        """True when the model (with its cutoff, if any) has no feasible solution."""
        return self.status == "infeasible"


@dataclass
class HighsLP:
    """An LP relaxation kept in HiGHS for warm re-solves after bound changes.

    Attributes
    ----------
    x, rc
        Primal values and reduced costs of the last optimal solve.
    objective
        Its value.
    status
        :func:`status_name` of the last solve.
    """

    h: Any
    lo: np.ndarray
    hi: np.ndarray
    log: list[str] = field(default_factory=list)
    x: np.ndarray | None = None
    rc: np.ndarray | None = None
    row_dual: np.ndarray | None = None
    objective: float = math.nan
    status: str = "not_solved"
    seconds: float = 0.0

    def resolve(self, *, time_limit: float | None = None) -> HighsLP:
        """Re-optimise (dual simplex from the last basis)."""
        t0 = time.perf_counter()
        if time_limit is not None and math.isfinite(time_limit):
            self.h.setOptionValue("time_limit", max(float(time_limit), 1e-3))
        self.h.run()
        st = self.h.getModelStatus()
        self.status = status_name(st)
        if self.status == "optimal":
            sol = self.h.getSolution()
            self.x = np.asarray(sol.col_value, dtype=np.float64)
            self.rc = np.asarray(sol.col_dual, dtype=np.float64)
            self.row_dual = np.asarray(sol.row_dual, dtype=np.float64)
            self.objective = float(self.h.getInfo().objective_function_value)
        else:
            self.x = self.rc = self.row_dual = None
            self.objective = math.nan
        self.seconds += time.perf_counter() - t0
        return self

    def set_bounds(self, cols: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        """Change the bounds of some columns (kept for the next :meth:`resolve`)."""
        cols = np.asarray(cols, dtype=np.int32)
        if len(cols) == 0:
            return
        lo = np.broadcast_to(np.asarray(lo, dtype=np.float64), cols.shape).copy()
        hi = np.broadcast_to(np.asarray(hi, dtype=np.float64), cols.shape).copy()
        self.lo[cols] = lo
        self.hi[cols] = hi
        self.h.changeColsBounds(len(cols), cols, lo, hi)

    def fix(self, at_lo: np.ndarray, at_hi: np.ndarray, *, time_limit: float | None = None) -> HighsLP:
        """Fix columns ``at_lo`` at their lower and ``at_hi`` at their upper bound, re-solve warm."""
        self.set_bounds(at_lo, self.lo[at_lo], self.lo[at_lo])
        self.set_bounds(at_hi, self.hi[at_hi], self.hi[at_hi])
        return self.resolve(time_limit=time_limit)


class HighsModel:
    """Column/row blocks and COO triplets, passed to HiGHS as one CSC matrix.

    Build with :meth:`add_cols`, :meth:`add_rows` and :meth:`add_entries`
    (duplicate entries are summed, zeros dropped), then :meth:`solve` (MIP or
    LP with the given integrality) or :meth:`lp` (LP relaxation for warm
    re-solves).
    """

    def __init__(self) -> None:
        self.n_col = 0
        self.n_row = 0
        self.offset = 0.0  # constant added to the objective
        self._cost: list[np.ndarray] = []
        self._lo: list[np.ndarray] = []
        self._hi: list[np.ndarray] = []
        self._int: list[np.ndarray] = []
        self._rlo: list[np.ndarray] = []
        self._rhi: list[np.ndarray] = []
        self._late: list[np.ndarray] = []
        self._r: list[np.ndarray] = []
        self._c: list[np.ndarray] = []
        self._v: list[np.ndarray] = []
        self._built: dict[str, Any] | None = None

    def add_cols(self, cost: Any, lo: Any, hi: Any, integer: bool) -> int:
        """Add ``len(cost)`` columns; returns the index of the first."""
        cost = np.asarray(cost, dtype=np.float64)
        n = len(cost)
        start = self.n_col
        self._cost.append(cost)
        self._lo.append(np.broadcast_to(np.asarray(lo, dtype=np.float64), (n,)))
        self._hi.append(np.broadcast_to(np.asarray(hi, dtype=np.float64), (n,)))
        self._int.append(np.full(n, 1 if integer else 0, dtype=np.int32))
        self.n_col += n
        self._built = None
        return start

    def add_rows(self, lo: Any, hi: Any, n: int, *, late: bool = False) -> int:
        """Add ``n`` rows ``lo <= a x <= hi``; returns the index of the first.

        ``late`` rows (e.g. capacities) are added to the LP relaxation only
        after it is solved without them, then re-optimised by dual simplex from
        that basis: several times faster than solving with them from scratch
        (models of up to 20,000 columns; larger ones start with interior point).
        Row order in :attr:`HighsLP.row_dual` is the non-late rows first.
        """
        start = self.n_row
        self._rlo.append(np.broadcast_to(np.asarray(lo, dtype=np.float64), (n,)))
        self._rhi.append(np.broadcast_to(np.asarray(hi, dtype=np.float64), (n,)))
        self._late.append(np.full(n, late))
        self.n_row += n
        self._built = None
        return start

    def add_entries(self, rows: Any, cols: Any, vals: Any) -> None:
        """Add matrix entries (COO); duplicates are summed."""
        rows = np.asarray(rows, dtype=np.int64)
        self._r.append(rows)
        self._c.append(np.asarray(cols, dtype=np.int64))
        self._v.append(np.broadcast_to(np.asarray(vals, dtype=np.float64), rows.shape))
        self._built = None

    def arrays(self) -> dict[str, Any]:
        """The model as numpy arrays (CSC matrix ``a``), built once."""
        if self._built is None:
            cat = np.concatenate

            def join(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
                return np.ascontiguousarray(cat(parts), dtype=dtype) if parts else np.zeros(0, dtype)

            r, c, v = join(self._r, np.int64), join(self._c, np.int64), join(self._v, np.float64)
            nz = v != 0
            a = sp.csc_array((v[nz], (r[nz], c[nz])), shape=(self.n_row, self.n_col))
            a.sum_duplicates()
            a.sort_indices()
            self._built = {
                "a": a,
                "cost": join(self._cost, np.float64),
                "lo": join(self._lo, np.float64),
                "hi": join(self._hi, np.float64),
                "int": join(self._int, np.int32),
                "rlo": join(self._rlo, np.float64),
                "rhi": join(self._rhi, np.float64),
                "late": join(self._late, np.bool_),
            }
        return self._built

    def _pass(
        self, h: Any, sense: int, lo: np.ndarray, hi: np.ndarray, integrality: np.ndarray
    ) -> None:
        d = self.arrays()
        a = d["a"]
        args = [
            a.shape[1],
            a.shape[0],
            int(a.nnz),
            1,  # column-wise
            int(sense),
            float(self.offset),
            d["cost"],
            np.ascontiguousarray(lo, dtype=np.float64),
            np.ascontiguousarray(hi, dtype=np.float64),
            d["rlo"],
            d["rhi"],
            a.indptr.astype(np.int32),
            a.indices.astype(np.int32),
            a.data.astype(np.float64),
            integrality,
        ]
        h.passModel(*args)

    def lp(
        self,
        *,
        time_limit: float | None = None,
        threads: int | None = None,
        lo: np.ndarray | None = None,
        hi: np.ndarray | None = None,
        log: list[str] | None = None,
    ) -> HighsLP:
        """Solve the LP relaxation (minimisation) and keep it for warm re-solves.

        The solver log goes to ``log`` (a new list when not given).
        """
        d = self.arrays()
        log = [] if log is None else log
        t_end = time.perf_counter() + (math.inf if time_limit is None else time_limit)
        h = new_highs(time_limit=time_limit, threads=threads, log=log)
        lo = (d["lo"] if lo is None else lo).astype(np.float64, copy=True)
        hi = (d["hi"] if hi is None else hi).astype(np.float64, copy=True)
        late = d["late"]
        zeros = np.zeros(self.n_col, dtype=np.int32)
        if self.n_col > _IPM_COLS:
            # measured (100 x 1,000 CFLP): interior point + crossover from scratch
            # beats both simplex variants on large models; the crossover basis
            # keeps later re-solves warm
            h.setOptionValue("solver", "ipm")
            self._pass(h, 1, lo, hi, zeros)
            out = HighsLP(h, lo, hi, log).resolve()
            h.setOptionValue("solver", "simplex")
            return out
        if not late.any():
            self._pass(h, 1, lo, hi, zeros)
            return HighsLP(h, lo, hi, log).resolve()
        early = np.flatnonzero(~late)
        a = d["a"]
        sub = HighsModel()
        sub.offset = self.offset
        sub._built = dict(d, a=a[early, :], rlo=d["rlo"][early], rhi=d["rhi"][early])
        sub.n_col, sub.n_row = self.n_col, len(early)
        sub._pass(h, 1, lo, hi, zeros)
        out = HighsLP(h, lo, hi, log).resolve()
        if out.status != "optimal":
            return out
        rows = np.flatnonzero(late)
        a_late = sp.csr_array(a[rows, :])
        a_late.sort_indices()
        h.addRows(
            len(rows), d["rlo"][rows], d["rhi"][rows], int(a_late.nnz),
            a_late.indptr.astype(np.int32), a_late.indices.astype(np.int32),
            a_late.data.astype(np.float64),
        )
        return out.resolve(time_limit=t_end - time.perf_counter())

    def solve(
        self,
        *,
        sense: int = 1,
        time_limit: float | None = None,
        mip_rel_gap: float | None = None,
        threads: int | None = None,
        start: tuple[np.ndarray, np.ndarray] | None = None,
        lo: np.ndarray | None = None,
        hi: np.ndarray | None = None,
        cutoff: float | None = None,
        options: dict[str, Any] | None = None,
        on_improve: Callable[[float], bool] | None = None,
    ) -> HighsRun:
        """Solve the model as built (MIP when some column is integer).

        Parameters
        ----------
        sense
            1 to minimise, -1 to maximise.
        time_limit, mip_rel_gap, threads
            As for :func:`new_highs`.
        start
            ``(column indices, values)`` of a (partial) starting solution.
        lo, hi
            Column bounds overriding the built ones.
        cutoff
            Objective value that a solution must beat (minimisation: be below).
            When none does, the run reports ``status == "infeasible"`` and
            ``cutoff_hit``.
        options
            Further HiGHS options (name -> value).
        on_improve
            Called with the objective value of each improving MIP solution;
            when it returns True the run stops (status ``"interrupted"``, with
            that solution).
        """
        t0 = time.perf_counter()
        d = self.arrays()
        integrality = d["int"]
        log: list[str] = []
        h = new_highs(time_limit=time_limit, mip_rel_gap=mip_rel_gap, threads=threads, log=log)
        if cutoff is not None and math.isfinite(cutoff):
            h.setOptionValue("objective_bound", float(cutoff))
        for key, value in (options or {}).items():
            h.setOptionValue(key, value)
        self._pass(
            h,
            sense,
            d["lo"] if lo is None else lo,
            d["hi"] if hi is None else hi,
            integrality,
        )
        if start is not None and len(start[0]):
            h.setSolution(len(start[0]), start[0].astype(np.int32), start[1].astype(np.float64))
        if on_improve is not None:
            stop = [False]

            def improved(e: Any) -> None:
                stop[0] = stop[0] or bool(on_improve(float(e.data_out.objective_function_value)))

            def interrupt(e: Any) -> None:
                if stop[0]:
                    e.data_in.user_interrupt = True

            h.cbMipImprovingSolution.subscribe(improved)
            h.cbMipInterrupt.subscribe(interrupt)
        h.run()
        st = h.getModelStatus()
        info = h.getInfo()
        has_sol = info.primal_solution_status == 2  # kSolutionStatusFeasible
        x = np.asarray(h.getSolution().col_value, dtype=np.float64) if has_sol else None
        obj = float(info.objective_function_value) if has_sol else math.nan
        if x is not None:
            value = float(np.dot(d["cost"], x) + self.offset)
            if abs(value - obj) > 1e-7 * max(1.0, abs(value)):
                # measured with HiGHS 1.16 (OR-Library cap83 after reduction): given a
                # start, it reported 970,984.76 as optimal for a solution worth
                # 975,889.56, so its proof rested on a wrong incumbent. The solution's
                # own cost is what counts; with a start, solve again without it
                log.append(f"schoolplan: HiGHS reported objective {obj:.10g} for a solution "
                           f"worth {value:.10g}\n")
                if start is not None:
                    left = None if time_limit is None else max(time_limit - (time.perf_counter() - t0), 1e-3)
                    again = self.solve(sense=sense, time_limit=left, mip_rel_gap=mip_rel_gap,
                                       threads=threads, lo=lo, hi=hi, cutoff=cutoff, options=options,
                                       on_improve=on_improve)
                    again.log = "".join(log) + again.log
                    return again
                obj = value
        name = status_name(st)
        if integrality.any():
            bound = float(info.mip_dual_bound)
        else:
            bound = obj if name == "optimal" else -sense * math.inf
        hit = False
        if cutoff is not None and math.isfinite(cutoff) and name in ("infeasible", "cutoff", "optimal"):
            # HiGHS prunes every node whose bound reaches the cutoff; a solution it
            # still reports at or above the cutoff proves none lies below it
            worse = x is None or sense * obj >= sense * float(cutoff)
            if worse:
                name, hit = "infeasible", True
                bound = float(cutoff) if x is None else max(bound, float(cutoff)) if sense > 0 else bound
        return HighsRun(
            name,
            x,
            obj,
            bound,
            self.n_col,
            self.n_row,
            log="".join(log),
            seconds=time.perf_counter() - t0,
            cutoff_hit=hit,
        )
