"""Internal: validated inputs shared by the location models (cost matrix, vectors, options)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from schoolplan._highs import HighsModel, HighsRun
from schoolplan.errors import InfeasibleError, OptimizationError

#: Relative gap below which a solution is reported as ``"optimal"``.
OPTIMAL_GAP = 1e-6
#: Seconds a ``solve_*`` call may take unless ``time_limit`` says otherwise.
DEFAULT_TIME_LIMIT = 600.0
CHUNK_ELEMS = 1 << 22  # dense matrices are processed in row blocks of ~4 M cells


# ----------------------------------------------------------------- cost handling


class Costs:
    """Validated cost matrix, dense (``inf`` = not allowed) or CSR (stored = allowed)."""

    def __init__(
        self,
        cost: Any,
        client_ids: Iterable[Any] | None = None,
        facility_ids: Iterable[Any] | None = None,
    ) -> None:
        self.dense: np.ndarray | None = None
        self.csr: sp.csr_array | None = None
        self._sorted: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        row_ids: Any = None
        col_ids: Any = None
        if isinstance(cost, pd.DataFrame):
            row_ids, col_ids = cost.index, cost.columns
            try:
                arr = cost.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
            except (TypeError, ValueError) as exc:
                raise OptimizationError(
                    "cost matrix has non-numeric values",
                    fix="give numbers (NaN or inf for pairs that are not allowed)",
                ) from exc
            self._set_dense(arr)
        elif sp.issparse(cost):
            if cost.ndim != 2:
                raise OptimizationError(f"cost matrix must be 2-D, got {cost.ndim}-D")
            m = sp.csr_array(cost, dtype=np.float64, copy=True)
            m.sum_duplicates()
            m.sort_indices()
            bad = ~np.isfinite(m.data) & ~(m.data == -np.inf)
            if bad.any():  # NaN / +inf stored in a sparse matrix: not allowed
                keep = ~bad
                rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))[keep]
                m = sp.csr_array(
                    (m.data[keep], (rows, m.indices[keep])), shape=m.shape, dtype=np.float64
                )
                m.sort_indices()
            self.csr = m
        else:
            try:
                arr = np.array(cost, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise OptimizationError(
                    "cost matrix has non-numeric values",
                    fix="give numbers (NaN or inf for pairs that are not allowed)",
                ) from exc
            self._set_dense(arr)
        n, m_ = self.shape
        if n == 0 or m_ == 0:
            raise OptimizationError(
                f"cost matrix is empty ({n} clients x {m_} facilities)",
                fix="give at least one client row and one facility column",
            )
        self.client_ids = clean_ids(client_ids, row_ids, n, "client_ids", "clients (rows)")
        self.facility_ids = clean_ids(facility_ids, col_ids, m_, "facility_ids", "facilities (columns)")
        data = self.dense if self.dense is not None else self.csr.data  # type: ignore[union-attr]
        if np.any(data < 0):
            if self.dense is not None:
                rows = np.nonzero((self.dense < 0).any(axis=1))[0]
            else:
                rows = np.unique(self._rows()[self.csr.data < 0])  # type: ignore[union-attr]
            raise OptimizationError(
                "cost matrix has negative values",
                rows=list(self.client_ids[rows]),
                fix="costs are travel times/distances and must be >= 0",
            )

    def _set_dense(self, arr: np.ndarray) -> None:
        if arr.ndim != 2:
            raise OptimizationError(
                f"cost matrix must be 2-D (clients x facilities), got shape {arr.shape}"
            )
        arr[np.isnan(arr)] = np.inf
        self.dense = arr

    @property
    def shape(self) -> tuple[int, int]:
        mat = self.dense if self.dense is not None else self.csr
        return mat.shape  # type: ignore[union-attr, return-value]

    def _rows(self) -> np.ndarray:
        assert self.csr is not None
        return np.repeat(np.arange(self.shape[0]), np.diff(self.csr.indptr))

    def copy(self) -> Costs:
        """An independent copy (for restricting without touching the original)."""
        out = object.__new__(Costs)
        out.__dict__.update(self.__dict__)
        out.dense = None if self.dense is None else self.dense.copy()
        out.csr = None if self.csr is None else self.csr.copy()
        out._sorted = None
        return out

    # -- restrictions -----------------------------------------------------------

    def restrict(self, max_cost: np.ndarray | None, forbidden: np.ndarray) -> None:
        """Disallow pairs above a per-client ``max_cost`` and columns of forbidden sites."""
        if self.dense is not None:
            if max_cost is not None:
                self.dense[self.dense > max_cost[:, None]] = np.inf
            if forbidden.any():
                self.dense[:, forbidden] = np.inf
        else:
            assert self.csr is not None
            keep = np.ones(self.csr.nnz, dtype=bool)
            if max_cost is not None:
                keep &= self.csr.data <= max_cost[self._rows()]
            if forbidden.any():
                keep &= ~forbidden[self.csr.indices]
            if not keep.all():
                rows = self._rows()[keep]
                self.csr = sp.csr_array(
                    (self.csr.data[keep], (rows, self.csr.indices[keep])), shape=self.shape
                )
                self.csr.sort_indices()
        self._sorted = None

    # -- queries ----------------------------------------------------------------

    def allowed_count(self) -> np.ndarray:
        """Number of allowed facilities of each client."""
        if self.dense is not None:
            return np.isfinite(self.dense).sum(axis=1)
        return np.diff(self.csr.indptr)  # type: ignore[union-attr]

    def _row_blocks(self) -> Iterable[tuple[int, int]]:
        n, m = self.shape
        step = max(1, CHUNK_ELEMS // max(m, 1))
        for s in range(0, n, step):
            yield s, min(n, s + step)

    def prefix(self, kcap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each client's ``kcap`` cheapest allowed facilities, cheapest first.

        Returns CSR-like ``(indptr, facility, cost)``; ties are broken by facility
        index.
        """
        n, m = self.shape
        if self.dense is not None:
            k = min(kcap, m)
            facs = np.empty((n, k), dtype=np.int64)
            vals = np.empty((n, k), dtype=np.float64)
            for s, e in self._row_blocks():
                block = self.dense[s:e]
                if k < m:
                    part = np.argpartition(block, k - 1, axis=1)[:, :k]
                else:
                    part = np.broadcast_to(np.arange(m), block.shape)
                v = np.take_along_axis(block, part, axis=1)
                order = np.lexsort((part, v), axis=1)
                facs[s:e] = np.take_along_axis(part, order, axis=1)
                vals[s:e] = np.take_along_axis(v, order, axis=1)
            finite = np.isfinite(vals)  # inf sorts last: finite entries form a prefix
            indptr = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(finite.sum(axis=1), out=indptr[1:])
            return indptr, facs[finite], vals[finite]
        if self._sorted is None:
            assert self.csr is not None
            rows = self._rows()
            order = np.lexsort((self.csr.indices, self.csr.data, rows))
            self._sorted = (
                self.csr.indptr.astype(np.int64),
                self.csr.indices[order].astype(np.int64),
                self.csr.data[order],
            )
        indptr, fac, val = self._sorted
        counts = np.minimum(np.diff(indptr), kcap)
        if kcap >= m:
            return indptr, fac, val
        pos = np.arange(len(fac)) - np.repeat(indptr[:-1], np.diff(indptr))
        keep = pos < np.repeat(counts, np.diff(indptr))
        new_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=new_ptr[1:])
        return new_ptr, fac[keep], val[keep]

    def nearest_open(self, is_open: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cheapest open allowed facility of each client: ``(cost, facility)``.

        Clients without one get ``(inf, -1)``. Ties go to the lowest column.
        """
        n, _ = self.shape
        best = np.full(n, np.inf)
        arg = np.full(n, -1, dtype=np.int64)
        open_idx = np.flatnonzero(is_open)
        if len(open_idx) == 0:
            return best, arg
        if self.dense is not None:
            for s, e in self._row_blocks():
                sub = self.dense[s:e][:, open_idx]
                a = np.argmin(sub, axis=1)
                best[s:e] = sub[np.arange(e - s), a]
                arg[s:e] = open_idx[a]
        else:
            indptr, fac, val = self.prefix(self.shape[1])
            sel = np.flatnonzero(is_open[fac])
            rows = np.repeat(np.arange(n), np.diff(indptr))[sel]
            uniq, first = np.unique(rows, return_index=True)
            best[uniq] = val[sel[first]]
            arg[uniq] = fac[sel[first]]
        arg[~np.isfinite(best)] = -1
        return best, arg

    def within(self, radius: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Allowed pairs with ``cost[j, i] <= radius[j]``, as ``(clients, facilities)``."""
        if self.dense is not None:
            rr: list[np.ndarray] = []
            cc: list[np.ndarray] = []
            for s, e in self._row_blocks():
                r, c = np.nonzero(self.dense[s:e] <= radius[s:e, None])
                rr.append(r + s)
                cc.append(c)
            return np.concatenate(rr), np.concatenate(cc)
        rows = self._rows()
        ok = self.csr.data <= radius[rows]  # type: ignore[union-attr]
        return rows[ok], self.csr.indices[ok].astype(np.int64)  # type: ignore[union-attr]


def clean_ids(given: Iterable[Any] | None, native: Any, n: int, what: str, label: str) -> np.ndarray:
    if given is not None:
        native = list(given)
    if native is None:
        return np.arange(n)
    arr = np.asarray(pd.Index(native), dtype=object)
    if len(arr) != n:
        raise OptimizationError(
            f"{what} has {len(arr)} entries but the cost matrix has {n} {label}"
        )
    idx = pd.Index(arr)
    if idx.has_duplicates:
        raise OptimizationError(
            f"{what} are not unique",
            rows=list(idx[idx.duplicated()].unique()),
            fix="give every client/facility a distinct id",
        )
    if all(isinstance(v, (int, np.integer)) for v in arr):
        return np.asarray(arr, dtype=np.int64)
    return arr


def vector(
    name: str,
    values: Any,
    ids: np.ndarray,
    *,
    default: float | None = None,
    positive: bool = False,
    allow_inf: bool = False,
) -> np.ndarray:
    """A validated float vector aligned to ``ids`` (a Series is aligned by label)."""
    n = len(ids)
    if values is None:
        if default is None:
            raise OptimizationError(f"{name} is required")
        return np.full(n, float(default))
    if isinstance(values, pd.Series) and not isinstance(values.index, pd.RangeIndex):
        idx = pd.Index(ids)
        missing = idx.difference(values.index)
        if len(missing):
            raise OptimizationError(
                f"{name} has no value for some ids",
                rows=list(missing),
                fix=f"give {name} for every id",
            )
        values = values.reindex(idx)
    elif isinstance(values, pd.Series):
        values = values.to_numpy()
    try:
        arr = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise OptimizationError(f"{name} has non-numeric values") from exc
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise OptimizationError(
            f"{name} has shape {arr.shape} but {n} values are needed (one per "
            f"{'facility' if name in ('capacity', 'fixed_cost', 'facility_cost') else 'client'})"
        )
    bad = np.isnan(arr) if allow_inf else ~np.isfinite(arr)
    if bad.any():
        raise OptimizationError(
            f"{name} has NaN or infinite values",
            rows=list(ids[bad]),
            fix=f"give a number for every {name} entry",
        )
    neg = arr <= 0 if positive else arr < 0
    if neg.any():
        raise OptimizationError(
            f"{name} has {'non-positive' if positive else 'negative'} values",
            rows=list(ids[neg]),
            fix=f"{name} must be {'> 0' if positive else '>= 0'}",
        )
    return arr


def facility_mask(name: str, given: Any, ids: np.ndarray) -> np.ndarray:
    """Boolean mask over facilities from a collection of facility ids."""
    mask = np.zeros(len(ids), dtype=bool)
    if given is None:
        return mask
    if isinstance(given, (str, bytes)) or not isinstance(given, Iterable):
        given = [given]
    wanted = list(given)
    if not wanted:
        return mask
    pos = pd.Index(ids).get_indexer(pd.Index(wanted, tupleize_cols=False))
    if (pos < 0).any():
        unknown = [w for w, q in zip(wanted, pos, strict=True) if q < 0]
        raise OptimizationError(
            f"{name} names facilities that are not columns of the cost matrix",
            rows=unknown,
            fix="use facility ids exactly as in the cost matrix columns",
        )
    mask[pos] = True
    return mask


def check_p(p: Any, n_fac: int) -> int:
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)):
        if isinstance(p, float) and p.is_integer():
            p = int(p)
        else:
            raise OptimizationError(f"p must be an integer, got {p!r}")
    p = int(p)
    if p < 1:
        raise OptimizationError(f"p must be at least 1, got {p}")
    if p > n_fac:
        raise OptimizationError(
            f"p = {p} is larger than the number of facilities ({n_fac})",
            fix="lower p or add candidate facilities",
        )
    return p


@dataclass
class Common:
    """Validated inputs shared by all models."""

    costs: Costs
    fixed: np.ndarray
    forbidden: np.ndarray
    t0: float
    deadline: float
    mip_rel_gap: float
    threads: int | None
    time_limit: float = math.inf
    log: list[str] | None = None


def prepare(
    cost: Any,
    *,
    fixed_open: Any,
    forbidden: Any,
    max_cost: Any,
    time_limit: float | None,
    mip_rel_gap: float | None,
    threads: int | None,
    client_ids: Any,
    facility_ids: Any,
) -> Common:
    t0 = time.perf_counter()
    costs = Costs(cost, client_ids, facility_ids)
    fixed = facility_mask("fixed_open", fixed_open, costs.facility_ids)
    closed = facility_mask("forbidden", forbidden, costs.facility_ids)
    both = fixed & closed
    if both.any():
        raise OptimizationError(
            "facilities are both fixed open and forbidden",
            rows=list(costs.facility_ids[both]),
            fix="remove them from one of fixed_open / forbidden",
        )
    cutoff = None
    if max_cost is not None:
        cutoff = vector("max_cost", max_cost, costs.client_ids, allow_inf=True)
    costs.restrict(cutoff, closed)
    if time_limit is not None and not (time_limit > 0):
        raise OptimizationError(f"time_limit must be > 0 seconds, got {time_limit!r}")
    gap = OPTIMAL_GAP if mip_rel_gap is None else float(mip_rel_gap)
    if not (0 <= gap < 1):
        raise OptimizationError(f"mip_rel_gap must be in [0, 1), got {mip_rel_gap!r}")
    limit = DEFAULT_TIME_LIMIT if time_limit is None else float(time_limit)
    deadline = t0 + limit if math.isfinite(limit) else math.inf
    return Common(costs, fixed, closed, t0, deadline, gap, threads, limit, [])


def require_allowed(costs: Costs, what: str = "allowed facility") -> np.ndarray:
    n_allowed = costs.allowed_count()
    empty = n_allowed == 0
    if empty.any():
        raise InfeasibleError(
            f"{int(empty.sum())} client(s) have no {what} (all pairs missing, NaN/inf, "
            "above max_cost or at forbidden facilities)",
            rows=list(costs.client_ids[empty]),
            fix="allow at least one facility for every client (raise max_cost, add candidates)",
        )
    return n_allowed


def status_text(status: str, gap: float) -> str:
    """Result status from a HiGHS run status (see :func:`schoolplan._highs.status_name`)."""
    if status in ("optimal", "infeasible"):  # infeasible under a cutoff: incumbent proven
        return "optimal" if gap <= OPTIMAL_GAP * 1.0001 else "gap_limit"
    if status in ("time_limit", "iteration_limit", "solution_limit", "interrupted"):
        return status
    return "not_optimal"


def rel_gap(obj: float, bound: float) -> float:
    if not (math.isfinite(obj) and math.isfinite(bound)):
        return math.inf
    diff = abs(obj - bound)
    if diff <= 1e-9 * max(1.0, abs(obj)):
        return 0.0
    return diff / max(abs(obj), 1e-9)


def remaining(common: Common) -> float:
    return common.deadline - time.perf_counter()


def no_solution(status: str) -> OptimizationError:
    return OptimizationError(
        f"HiGHS stopped ({status}) before finding any feasible solution",
        fix="raise time_limit",
    )


def run_model(common: Common, mdl: HighsModel, *, budget: float | None = None, **kw: Any) -> HighsRun:
    """Solve ``mdl`` within the call's remaining time (or ``budget``), keeping its log."""
    left = remaining(common)
    limit = left if budget is None else min(left, budget)
    kw.setdefault("mip_rel_gap", common.mip_rel_gap)
    run = mdl.solve(time_limit=max(limit, 1e-3), threads=common.threads, **kw)
    if common.log is not None:
        common.log.append(run.log)
    return run


def cutoff_value(upper: float, delta: float) -> float | None:
    """Objective cutoff that keeps every solution of value ``<= upper - delta``.

    ``delta = 1`` for integer objective values (cut halfway to the incumbent),
    else 0 (cut just below the incumbent).
    """
    if not math.isfinite(upper):
        return None
    if delta >= 1:
        return upper - 0.5
    return upper - 1e-9 * max(1.0, abs(upper))
