"""Exact facility-location models solved with HiGHS.

The planning code asks five questions of a cost matrix (one row per client, e.g. a
village's pupils, one column per candidate site, e.g. a school):

* :func:`solve_p_median` — open exactly ``p`` sites, minimise total (weighted) travel;
* :func:`solve_capacitated_p_median` — the same with seat capacities;
* :func:`solve_cflp` — capacitated facility location with opening costs, free count;
* :func:`solve_set_cover` — the fewest (cheapest) sites so that every client is
  within a radius;
* :func:`solve_max_cover` — ``p`` sites covering the most (weighted) clients.

Models are built directly as sparse numpy arrays (column-wise CSC) and passed to
HiGHS through :mod:`highspy`; there is no modelling layer and no per-variable
Python loop.

Cost matrix convention
----------------------
``cost[j, i]`` is the cost of serving **all** of client ``j``'s demand from facility
``i`` (a fractional assignment pays that fraction); ``weights`` multiplies rows.
``cost`` may be

* a dense array: NaN or ``+inf`` means the pair is not allowed;
* a :class:`pandas.DataFrame`: index = client ids, columns = facility ids; results
  use these ids;
* a :mod:`scipy.sparse` matrix: an entry that is not stored means the pair is not
  allowed (an explicitly stored zero is an allowed pair of cost 0).

Sparsification
--------------
Assignment models (p-median, capacitated p-median, CFLP) give each client an
assignment variable only for its ``K_j`` cheapest allowed facilities, plus one
*tail* variable whose cost is the ``(K_j + 1)``-th cheapest cost and which uses no
capacity. Every client that is served from outside its list would cost at least
that much, so the restricted model is a **relaxation** of the full one: its dual
bound is a valid lower bound of the true optimum. When the relaxation's solution
is also feasible and equally cheap in the full model (no client relies on its
tail), it is optimal for the full model; otherwise ``K_j`` is doubled for the
clients that used their tail and the model is solved again (warm-started).
Clients whose list holds every allowed facility have no tail. The initial
``K_j`` is about ``1.5 n_facilities / p`` (uncapacitated) or ``3 n_facilities / p``
(capacitated) plus a few, or all allowed pairs for small models.

Solving a round
---------------
1. A start: for the p-median a greedy + swap local search on the candidate lists;
   for the capacitated p-median the uncapacitated optimum (which is returned at
   once when it happens to respect the capacities); then the previous round.
2. The LP relaxation (capacity rows added to the solved uncapacitated LP and
   re-optimised by dual simplex, several times faster than from scratch).
3. Reduced-cost fixing: with LP value ``L`` and start value ``U``, a variable whose
   reduced cost exceeds ``U - L`` keeps its LP bound in every better solution
   (for split assignments only its bound is tightened).
4. HiGHS branch-and-cut on what is left, warm-started.

Statuses
--------
``"optimal"`` (proven within ``mip_rel_gap``, default ``1e-6``), ``"gap_limit"``
(HiGHS stopped at a looser user ``mip_rel_gap``), ``"time_limit"``,
``"iteration_limit"``, ``"solution_limit"``, ``"interrupted"``. Anything but
``"optimal"`` comes with the best solution found, its ``gap`` and ``bound``.
Infeasible models raise :class:`~schoolplan.errors.InfeasibleError`; malformed
ones :class:`~schoolplan.errors.OptimizationError`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import highspy
import numpy as np
import pandas as pd
import scipy.sparse as sp

from schoolplan.errors import InfeasibleError, OptimizationError

__all__ = [
    "LocationResult",
    "solve_capacitated_p_median",
    "solve_cflp",
    "solve_max_cover",
    "solve_p_median",
    "solve_set_cover",
]

#: Relative gap below which a solution is reported as ``"optimal"``.
OPTIMAL_GAP = 1e-6
_scheduler_threads: int | None = None  # size of HiGHS' global thread pool, if we set it
_CHUNK_ELEMS = 1 << 22  # dense matrices are processed in row blocks of ~4 M cells


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class LocationResult:
    """Solution of a location model.

    Attributes
    ----------
    model
        Which model was solved (``"p_median"``, ``"capacitated_p_median"``,
        ``"cflp"``, ``"set_cover"``, ``"max_cover"``).
    objective
        Objective value of the returned solution, recomputed from it: total
        weighted assignment cost (+ opening costs for CFLP / set cover), or the
        covered weight for max cover.
    open
        Ids of the open facilities, in input (column) order.
    assignment
        Tidy table with columns ``client``, ``facility``, ``share`` (fraction of
        the client's demand, 1.0 unless splitting is allowed) and ``cost`` (this
        row's contribution to the objective, ``share * weight * cost``; for the
        cover models the plain ``cost[j, i]``). Cover models add a boolean
        ``covered``. Rows are in client input order.
    gap
        Relative gap ``|objective - bound| / max(|objective|, 1e-9)``.
    status
        ``"optimal"``, ``"gap_limit"``, ``"time_limit"``, ... (see module docs).
    bound
        Proven bound on the optimum (lower bound for minimisation, upper bound
        for max cover).
    solve_seconds
        Wall-clock seconds for the whole call (validation, model building, all
        HiGHS runs).
    iterations
        Number of HiGHS runs (sparsification rounds).
    n_variables, n_constraints
        Size of the last model passed to HiGHS.
    k_nearest
        Largest candidate-list length used by the last round (assignment models).
    load
        Demand served by each open facility (``demand`` for capacitated models,
        ``weights`` — or client counts — otherwise), indexed by facility id.
    unassigned
        Clients without any open allowed facility (max cover only).
    """

    model: str
    objective: float
    open: tuple[Any, ...]
    assignment: pd.DataFrame
    gap: float
    status: str
    bound: float
    solve_seconds: float
    iterations: int = 1
    n_variables: int = 0
    n_constraints: int = 0
    k_nearest: int | None = None
    load: pd.Series | None = None
    unassigned: tuple[Any, ...] = ()

    @property
    def cost(self) -> pd.Series:
        """Objective contribution of each assignment, indexed by ``(client, facility)``."""
        return self.assignment.set_index(["client", "facility"])["cost"]

    @property
    def is_optimal(self) -> bool:
        """True when the solution is proven optimal (``status == "optimal"``)."""
        return self.status == "optimal"

    def facility_of(self) -> pd.Series:
        """Main facility of each client (largest share), indexed by client id."""
        a = self.assignment.sort_values("share", ascending=False, kind="stable")
        a = a.drop_duplicates("client")
        order = {c: k for k, c in enumerate(self.assignment["client"].drop_duplicates())}
        a = a.sort_values("client", key=lambda s: s.map(order), kind="stable")
        return pd.Series(a["facility"].to_numpy(), index=a["client"].to_numpy(), name="facility")


# ----------------------------------------------------------------- cost handling


class _Costs:
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
        self.client_ids = _ids(client_ids, row_ids, n, "client_ids", "clients (rows)")
        self.facility_ids = _ids(facility_ids, col_ids, m_, "facility_ids", "facilities (columns)")
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
        step = max(1, _CHUNK_ELEMS // max(m, 1))
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


def _ids(given: Iterable[Any] | None, native: Any, n: int, what: str, label: str) -> np.ndarray:
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


def _vector(
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


def _facility_mask(name: str, given: Any, ids: np.ndarray) -> np.ndarray:
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


def _check_p(p: Any, n_fac: int) -> int:
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
class _Common:
    """Validated inputs shared by all models."""

    costs: _Costs
    fixed: np.ndarray
    forbidden: np.ndarray
    t0: float
    deadline: float
    mip_rel_gap: float
    threads: int | None


def _prepare(
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
) -> _Common:
    t0 = time.perf_counter()
    costs = _Costs(cost, client_ids, facility_ids)
    fixed = _facility_mask("fixed_open", fixed_open, costs.facility_ids)
    closed = _facility_mask("forbidden", forbidden, costs.facility_ids)
    both = fixed & closed
    if both.any():
        raise OptimizationError(
            "facilities are both fixed open and forbidden",
            rows=list(costs.facility_ids[both]),
            fix="remove them from one of fixed_open / forbidden",
        )
    cutoff = None
    if max_cost is not None:
        cutoff = _vector("max_cost", max_cost, costs.client_ids, allow_inf=True)
    costs.restrict(cutoff, closed)
    if time_limit is not None and not (time_limit > 0):
        raise OptimizationError(f"time_limit must be > 0 seconds, got {time_limit!r}")
    gap = OPTIMAL_GAP if mip_rel_gap is None else float(mip_rel_gap)
    if not (0 <= gap < 1):
        raise OptimizationError(f"mip_rel_gap must be in [0, 1), got {mip_rel_gap!r}")
    deadline = math.inf if time_limit is None else t0 + float(time_limit)
    return _Common(costs, fixed, closed, t0, deadline, gap, threads)


def _require_allowed(costs: _Costs, what: str = "allowed facility") -> np.ndarray:
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


# ----------------------------------------------------------------- HiGHS plumbing


class _Model:
    """Column/row blocks and COO triplets, passed to HiGHS as one CSC matrix."""

    def __init__(self) -> None:
        self.n_col = 0
        self.n_row = 0
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

    def add_cols(self, cost: np.ndarray, lo: Any, hi: Any, integer: bool) -> int:
        n = len(cost)
        start = self.n_col
        self._cost.append(np.asarray(cost, dtype=np.float64))
        self._lo.append(np.broadcast_to(np.asarray(lo, dtype=np.float64), (n,)))
        self._hi.append(np.broadcast_to(np.asarray(hi, dtype=np.float64), (n,)))
        self._int.append(np.full(n, 1 if integer else 0, dtype=np.int32))
        self.n_col += n
        self._built = None
        return start

    def add_rows(self, lo: Any, hi: Any, n: int, *, late: bool = False) -> int:
        """Add ``n`` rows; ``late`` rows are added only after a first LP solve."""
        start = self.n_row
        self._rlo.append(np.broadcast_to(np.asarray(lo, dtype=np.float64), (n,)))
        self._rhi.append(np.broadcast_to(np.asarray(hi, dtype=np.float64), (n,)))
        self._late.append(np.full(n, late))
        self.n_row += n
        self._built = None
        return start

    def add_entries(self, rows: np.ndarray, cols: np.ndarray, vals: Any) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        self._r.append(rows)
        self._c.append(np.asarray(cols, dtype=np.int64))
        self._v.append(np.broadcast_to(np.asarray(vals, dtype=np.float64), rows.shape))
        self._built = None

    def arrays(self) -> dict[str, Any]:
        """The model as numpy arrays (CSC matrix ``a``), built once."""
        if self._built is None:
            cat = np.concatenate
            r = cat(self._r) if self._r else np.zeros(0, np.int64)
            c = cat(self._c) if self._c else np.zeros(0, np.int64)
            v = cat(self._v) if self._v else np.zeros(0)
            nz = v != 0
            a = sp.csc_array((v[nz], (r[nz], c[nz])), shape=(self.n_row, self.n_col))
            a.sum_duplicates()
            a.sort_indices()
            self._built = {
                "a": a,
                "cost": cat(self._cost) if self._cost else np.zeros(0),
                "lo": np.ascontiguousarray(cat(self._lo)) if self._lo else np.zeros(0),
                "hi": np.ascontiguousarray(cat(self._hi)) if self._hi else np.zeros(0),
                "int": cat(self._int) if self._int else np.zeros(0, np.int32),
                "rlo": np.ascontiguousarray(cat(self._rlo)) if self._rlo else np.zeros(0),
                "rhi": np.ascontiguousarray(cat(self._rhi)) if self._rhi else np.zeros(0),
                "late": cat(self._late) if self._late else np.zeros(0, bool),
            }
        return self._built

    @staticmethod
    def _highs(time_limit: float, mip_rel_gap: float | None, threads: int | None) -> Any:
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        if mip_rel_gap is not None:
            h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
        if math.isfinite(time_limit):
            h.setOptionValue("time_limit", max(float(time_limit), 1e-3))
        if threads is not None:
            global _scheduler_threads
            if int(threads) != _scheduler_threads:
                # HiGHS keeps one global thread pool: resize it for a new count
                highspy.Highs.resetGlobalScheduler(True)
                _scheduler_threads = int(threads)
            h.setOptionValue("threads", int(threads))
        return h

    @staticmethod
    def _pass(
        h: Any,
        a: sp.csc_array,
        sense: int,
        d: dict[str, Any],
        lo: np.ndarray,
        hi: np.ndarray,
        rlo: np.ndarray,
        rhi: np.ndarray,
        integrality: np.ndarray,
    ) -> None:
        h.passModel(
            a.shape[1],
            a.shape[0],
            int(a.nnz),
            1,  # column-wise
            int(sense),
            0.0,
            d["cost"],
            np.ascontiguousarray(lo, dtype=np.float64),
            np.ascontiguousarray(hi, dtype=np.float64),
            rlo,
            rhi,
            a.indptr.astype(np.int32),
            a.indices.astype(np.int32),
            a.data.astype(np.float64),
            integrality,
        )

    def solve_lp(self, *, time_limit: float, threads: int | None) -> _LP:
        """LP relaxation (minimisation); ``late`` rows are added to a solved LP.

        Solving the uncapacitated part first and re-optimising after adding the
        capacity rows (dual simplex from the previous basis) is several times
        faster than solving the capacitated LP from scratch.
        """
        d = self.arrays()
        a, late = d["a"], d["late"]
        t_end = time.perf_counter() + time_limit
        h = self._highs(time_limit, None, threads)
        early = np.flatnonzero(~late)
        a_early = a[early, :] if late.any() else a
        zeros = np.zeros(self.n_col, dtype=np.int32)
        self._pass(h, a_early, 1, d, d["lo"], d["hi"], d["rlo"][early], d["rhi"][early], zeros)
        h.run()
        if late.any() and h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            rows = np.flatnonzero(late)
            a_late = sp.csr_array(a[rows, :])
            a_late.sort_indices()
            remaining = t_end - time.perf_counter()
            if math.isfinite(remaining):
                h.setOptionValue("time_limit", max(remaining, 1e-3))
            h.addRows(
                len(rows),
                d["rlo"][rows],
                d["rhi"][rows],
                int(a_late.nnz),
                a_late.indptr.astype(np.int32),
                a_late.indices.astype(np.int32),
                a_late.data.astype(np.float64),
            )
            h.run()
        status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            return _LP(status, None, None, math.nan)
        sol = h.getSolution()
        return _LP(
            status,
            np.asarray(sol.col_value, dtype=np.float64),
            np.asarray(sol.col_dual, dtype=np.float64),
            float(h.getInfo().objective_function_value),
        )

    def solve(
        self,
        *,
        sense: int,
        time_limit: float,
        mip_rel_gap: float,
        threads: int | None,
        start: tuple[np.ndarray, np.ndarray] | None = None,
        lo: np.ndarray | None = None,
        hi: np.ndarray | None = None,
    ) -> _Run:
        """Solve the MIP, optionally with overridden column bounds and a start."""
        d = self.arrays()
        integrality = d["int"]
        h = self._highs(time_limit, mip_rel_gap, threads)
        self._pass(
            h,
            d["a"],
            sense,
            d,
            d["lo"] if lo is None else lo,
            d["hi"] if hi is None else hi,
            d["rlo"],
            d["rhi"],
            integrality,
        )
        if start is not None and len(start[0]):
            h.setSolution(len(start[0]), start[0].astype(np.int32), start[1].astype(np.float64))
        h.run()
        status = h.getModelStatus()
        info = h.getInfo()
        has_sol = info.primal_solution_status == 2  # kSolutionStatusFeasible
        x = np.asarray(h.getSolution().col_value, dtype=np.float64) if has_sol else None
        obj = float(info.objective_function_value) if has_sol else math.nan
        if integrality.any():
            bound = float(info.mip_dual_bound)
        else:
            bound = obj if status == highspy.HighsModelStatus.kOptimal else -sense * math.inf
        return _Run(status, x, obj, bound, self.n_col, self.n_row)


@dataclass
class _LP:
    status: Any
    x: np.ndarray | None
    rc: np.ndarray | None
    objective: float


@dataclass
class _Run:
    status: Any
    x: np.ndarray | None
    objective: float
    bound: float
    n_col: int
    n_row: int


def _status_text(status: Any, gap: float) -> str:
    s = highspy.HighsModelStatus
    if status == s.kOptimal:
        return "optimal" if gap <= OPTIMAL_GAP * 1.0001 else "gap_limit"
    return {
        s.kTimeLimit: "time_limit",
        s.kIterationLimit: "iteration_limit",
        s.kSolutionLimit: "solution_limit",
        s.kInterrupt: "interrupted",
    }.get(status, "not_optimal")


def _is_infeasible(status: Any) -> bool:
    s = highspy.HighsModelStatus
    return status in (s.kInfeasible, s.kUnboundedOrInfeasible)


def _gap(obj: float, bound: float) -> float:
    if not (math.isfinite(obj) and math.isfinite(bound)):
        return math.inf
    diff = abs(obj - bound)
    if diff <= 1e-9 * max(1.0, abs(obj)):
        return 0.0
    return diff / max(abs(obj), 1e-9)


def _remaining(common: _Common) -> float:
    return common.deadline - time.perf_counter()


def _no_solution(status: Any) -> OptimizationError:
    return OptimizationError(
        f"HiGHS stopped ({highspy.Highs().modelStatusToString(status)}) before finding "
        "any feasible solution",
        fix="raise time_limit",
    )


# ----------------------------------------------------- assignment-type models


def _assignment_models(
    common: _Common,
    *,
    model_name: str,
    w: np.ndarray,
    p: int | None,
    demand: np.ndarray | None,
    capacity: np.ndarray | None,
    fixed_cost: np.ndarray | None,
    single_source: bool,
    k_nearest: int | None,
    warm_start: np.ndarray | None = None,
    initial_bound: float = -math.inf,
) -> LocationResult:
    """Shared solver of the p-median, capacitated p-median and CFLP models."""
    costs = common.costs
    n, m = costs.shape
    n_allowed = _require_allowed(costs)
    openable = ~common.forbidden
    n_open_max = int(openable.sum())
    if p is not None:
        if p > n_open_max:
            raise InfeasibleError(
                f"p = {p} but only {n_open_max} facilities may be opened "
                f"({int(common.forbidden.sum())} are forbidden)"
            )
        if int(common.fixed.sum()) > p:
            raise OptimizationError(
                f"{int(common.fixed.sum())} facilities are fixed open but p = {p}",
                rows=list(costs.facility_ids[common.fixed]),
                fix="raise p or fix fewer facilities open",
            )
    capacitated = capacity is not None
    if capacitated:
        assert demand is not None
        _check_capacity(common, demand, capacity, p, single_source)

    # Initial candidate-list length.
    if k_nearest is None:
        n_target = p if p is not None else _expected_open(demand, capacity, n_open_max)
        factor = 3.0 if capacitated else 1.5
        k0 = math.ceil(factor * n_open_max / max(n_target, 1)) + (5 if capacitated else 3)
        k0 = max(k0, 8)
        if 2 * k0 >= int(n_allowed.max()) or n * m <= 20_000:
            k0 = int(n_allowed.max())
    else:
        if int(k_nearest) < 1:
            raise OptimizationError(f"k_nearest must be >= 1, got {k_nearest!r}")
        k0 = int(k_nearest)
    kj = np.minimum(n_allowed, k0).astype(np.int64)

    best_bound = initial_bound
    iterations = 0
    warm = warm_start  # y of the previous round (or a heuristic)
    while True:
        iterations += 1
        kmax = int(kj.max())
        indptr, fac_all, val_all = costs.prefix(kmax + 1)
        row_len = np.diff(indptr)
        rows_all = np.repeat(np.arange(n), row_len)
        pos = np.arange(len(fac_all)) - np.repeat(indptr[:-1], row_len)
        in_list = pos < kj[rows_all]
        e_client = rows_all[in_list]
        e_fac = fac_all[in_list]
        e_cost = val_all[in_list]
        tail_sel = pos == kj[rows_all]
        tail_cost = np.zeros(n)
        tail_cost[rows_all[tail_sel]] = val_all[tail_sel]
        tail_clients = np.flatnonzero(kj < n_allowed)

        mdl, cols = _build_assignment(
            n,
            m,
            e_client,
            e_fac,
            e_cost,
            tail_clients,
            tail_cost,
            w=w,
            p=p,
            demand=demand,
            capacity=capacity,
            fixed_cost=fixed_cost,
            single_source=single_source,
            fixed=common.fixed,
            forbidden=common.forbidden,
        )
        if warm is None and p is not None and capacity is None:
            warm = _p_median_heuristic(
                n,
                m,
                e_client,
                e_fac,
                e_cost,
                np.where(kj < n_allowed, tail_cost, np.inf),
                w,
                p,
                common.fixed,
                common.forbidden,
                time.perf_counter() + min(0.2 * _remaining(common), 5.0),
            )
        run = _solve_round(
            mdl,
            common,
            m=m,
            warm=warm,
            incumbent=_Incumbent(
                n, m, e_client, e_fac, cols, tail_clients, capacitated, single_source, p
            ),
        )
        if _is_infeasible(run.status):
            raise InfeasibleError(
                f"the {model_name.replace('_', ' ')} model has no feasible solution "
                "(capacities, p, fixed/forbidden facilities and allowed pairs conflict)",
                fix="raise capacities or p, or allow more client-facility pairs",
            )
        if math.isfinite(run.bound):
            best_bound = max(best_bound, run.bound)
        # every client pays at least its cheapest allowed pair
        best_bound = max(best_bound, float(np.dot(w, val_all[indptr[:-1]])))
        if run.x is not None:
            y = run.x[:m] > 0.5
            xe = run.x[cols["x"] : cols["x"] + len(e_client)]
            xt = np.zeros(n)
            xt[tail_clients] = run.x[cols["t"] : cols["t"] + len(tail_clients)]
        elif not capacitated and warm is not None:  # stopped early: keep the warm start
            y, xe, xt = warm.copy(), np.zeros(len(e_client)), np.ones(n)
        else:
            raise _no_solution(run.status)
        time_up = _remaining(common) <= 0 or run.status != highspy.HighsModelStatus.kOptimal

        if not capacitated:
            near_cost, near_fac = costs.nearest_open(y)
            # clients whose true cost exceeds what the relaxation charged them
            short = (xt > 1e-7) & ~(near_cost <= tail_cost * (1 + 1e-12) + 1e-12)
            feasible = bool(np.isfinite(near_cost).all())
            ub = float(np.dot(w, np.where(np.isfinite(near_cost), near_cost, 0.0)))
            if fixed_cost is not None:
                ub += float(fixed_cost[y].sum())
            converged = feasible and (not short.any() or _gap(ub, best_bound) <= common.mip_rel_gap)
            if converged or (time_up and feasible):
                a_client, a_fac, share, unit = np.arange(n), near_fac, np.ones(n), near_cost
                break
        else:
            short = xt > 1e-7
            converged = not short.any()
            if converged:
                a_client, a_fac, share = _shares(e_client, e_fac, xe)
                unit = e_cost[_pair_positions(e_client, e_fac, a_client, a_fac)]
                break
            if time_up:
                a_client, a_fac, share, unit = _repair(
                    common, y, demand, capacity, w, single_source
                )
                break
        if time_up:  # uncapacitated and some client has no open allowed facility
            raise _no_solution(run.status)
        grow = np.flatnonzero(short)
        kj[grow] = np.minimum(n_allowed[grow], np.maximum(2 * kj[grow], kj[grow] + 8))
        warm = y

    share = np.where(np.abs(share - 1) < 1e-7, 1.0, share)
    contrib = share * w[a_client] * unit
    objective = float(contrib.sum())
    if fixed_cost is not None:
        objective += float(fixed_cost[y].sum())
    best_bound = min(best_bound, objective)
    gap = _gap(objective, best_bound)
    status = _status_text(run.status, gap)
    if not converged and status in ("optimal", "gap_limit"):
        status = "time_limit"
    dem = demand if demand is not None else w
    return _result(
        common,
        model_name,
        objective=objective,
        y=y,
        a_client=a_client,
        a_fac=a_fac,
        share=share,
        contrib=contrib,
        bound=best_bound,
        gap=gap,
        status=status,
        iterations=iterations,
        run=run,
        k_nearest=int(kj.max()),
        demand=dem,
    )


@dataclass
class _Incumbent:
    """Builds a feasible start of one round's (relaxed) model from open sites."""

    n: int
    m: int
    e_client: np.ndarray
    e_fac: np.ndarray
    cols: dict[str, int]
    tail_clients: np.ndarray
    capacitated: bool
    single_source: bool
    p: int | None

    @property
    def integral_assignment(self) -> bool:
        """Whether an optimal solution with integral assignment always exists."""
        return not self.capacitated or self.single_source

    def from_sites(
        self, mdl: _Model, common: _Common, y: np.ndarray
    ) -> tuple[np.ndarray, float] | None:
        """Full column vector and cost for open sites ``y`` (None if none found)."""
        d = mdl.arrays()
        m = self.m
        if self.capacitated:  # best assignment to these sites: a small MIP
            lo, hi = d["lo"].copy(), d["hi"].copy()
            lo[:m] = hi[:m] = y.astype(np.float64)
            budget = min(max(0.25 * _remaining(common), 1e-3), 30.0)
            run = mdl.solve(
                sense=1,
                time_limit=budget,
                mip_rel_gap=max(common.mip_rel_gap, 1e-4),
                threads=common.threads,
                lo=lo,
                hi=hi,
            )
            return None if run.x is None else (run.x, float(run.objective))
        x = np.zeros(mdl.n_col)
        x[:m] = y
        oi = np.flatnonzero(y[self.e_fac])
        cl = self.e_client[oi]
        first = np.ones(len(oi), dtype=bool)
        first[1:] = cl[1:] != cl[:-1]
        x[self.cols["x"] + oi[first]] = 1.0
        served = np.zeros(self.n, dtype=bool)
        served[cl[first]] = True
        slot = np.full(self.n, -1)
        slot[self.tail_clients] = np.arange(len(self.tail_clients))
        if (slot[~served] < 0).any():
            return None
        x[self.cols["t"] + slot[~served]] = 1.0
        return x, float(np.dot(d["cost"], x))

    def from_lp(
        self, mdl: _Model, common: _Common, x_lp: np.ndarray
    ) -> tuple[np.ndarray, float] | None:
        """CFLP: open every site the LP uses (its assignment stays feasible)."""
        if self.p is not None:
            return None
        d = mdl.arrays()
        y = (x_lp[: self.m] > 1e-9) | (d["lo"][: self.m] > 0.5)
        if self.single_source:
            return self.from_sites(mdl, common, y)
        x = x_lp.copy()
        x[: self.m] = y
        return x, float(np.dot(d["cost"], x))


def _solve_round(
    mdl: _Model,
    common: _Common,
    *,
    m: int,
    warm: np.ndarray | None,
    incumbent: _Incumbent,
) -> _Run:
    """Solve one round's model: LP, incumbent, reduced-cost fixing, MIP.

    With an LP optimum of value ``L`` (reduced costs ``r``) and a feasible
    solution of value ``U``, a column at its lower (upper) bound with
    ``r > U - L`` (``r < -(U - L)``) takes that bound in every solution better
    than ``U``; fixing it leaves a much smaller MIP whose optimum (or the
    incumbent) is optimal, with bound ``max(L, min(U, MIP bound))``.
    """
    lp = mdl.solve_lp(time_limit=_remaining(common), threads=common.threads)
    if _is_infeasible(lp.status):
        return _Run(lp.status, None, math.nan, math.nan, mdl.n_col, mdl.n_row)
    inc = None
    if lp.x is not None:
        if warm is not None:
            inc = incumbent.from_sites(mdl, common, warm)
        lp_inc = incumbent.from_lp(mdl, common, lp.x)
        if lp_inc is not None and (inc is None or lp_inc[1] < inc[1]):
            inc = lp_inc
    if lp.x is None or lp.rc is None or inc is None:
        start = None if warm is None else (np.arange(m), warm.astype(np.float64))
        run = mdl.solve(
            sense=1,
            time_limit=_remaining(common),
            mip_rel_gap=common.mip_rel_gap,
            threads=common.threads,
            start=start,
        )
        if lp.x is not None and math.isfinite(lp.objective):
            run.bound = max(run.bound, lp.objective) if math.isfinite(run.bound) else lp.objective
        return run
    x_inc, upper = inc
    lower = lp.objective
    slack = upper - lower
    if slack <= max(common.mip_rel_gap * abs(upper), 1e-9 * max(1.0, abs(upper))):
        return _Run(highspy.HighsModelStatus.kOptimal, x_inc, upper, lower, mdl.n_col, mdl.n_row)
    d = mdl.arrays()
    lo, hi = d["lo"].copy(), d["hi"].copy()
    tol = slack + 1e-6 * max(1.0, abs(upper))
    at_lo = (lp.x <= lo + 1e-9) & (lp.rc > tol)
    at_hi = (lp.x >= hi - 1e-9) & (lp.rc < -tol)
    # Fixing needs integral values: true for integer columns, and for all columns
    # when some optimum has an integral assignment (uncapacitated or single-source
    # models). Split assignments only get tighter bounds: |x - bound| <= slack / |r|.
    fix = (d["int"] > 0) | incumbent.integral_assignment
    hi[at_lo & fix] = lo[at_lo & fix]
    lo[at_hi & fix] = hi[at_hi & fix]
    with np.errstate(divide="ignore"):
        reach = tol / np.abs(lp.rc) * (1 + 1e-6) + 1e-9
    k = at_lo & ~fix
    hi[k] = np.minimum(hi[k], lo[k] + reach[k])
    k = at_hi & ~fix
    lo[k] = np.maximum(lo[k], hi[k] - reach[k])
    run = mdl.solve(
        sense=1,
        time_limit=_remaining(common),
        mip_rel_gap=common.mip_rel_gap,
        threads=common.threads,
        start=(np.arange(mdl.n_col), x_inc),
        lo=lo,
        hi=hi,
    )
    if _is_infeasible(run.status):  # only numerically possible: keep the incumbent
        return _Run(highspy.HighsModelStatus.kOptimal, x_inc, upper, upper, mdl.n_col, mdl.n_row)
    if run.x is None or not run.objective < upper:
        run.x, run.objective = x_inc, upper
    bound = min(upper, run.bound) if math.isfinite(run.bound) else lower
    run.bound = max(lower, bound)
    return run


def _open_costs(
    y: np.ndarray,
    n: int,
    e_client: np.ndarray,
    e_fac: np.ndarray,
    e_cost: np.ndarray,
    tail: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cheapest (``d1``, facility ``f1``) and second-cheapest (``d2``) open list entry.

    Entries are sorted by client, then cost. Missing ones default to ``tail``
    (``f1 = -1``).
    """
    oi = np.flatnonzero(y[e_fac])
    cl = e_client[oi]
    first = np.ones(len(oi), dtype=bool)
    first[1:] = cl[1:] != cl[:-1]
    second = np.zeros(len(oi), dtype=bool)
    second[1:] = ~first[1:] & first[:-1]
    d1 = tail.copy()
    f1 = np.full(n, -1, dtype=np.int64)
    d1[cl[first]] = e_cost[oi[first]]
    f1[cl[first]] = e_fac[oi[first]]
    d2 = tail.copy()
    d2[cl[second]] = e_cost[oi[second]]
    return d1, f1, d2


def _p_median_heuristic(
    n: int,
    m: int,
    e_client: np.ndarray,
    e_fac: np.ndarray,
    e_cost: np.ndarray,
    tail: np.ndarray,
    w: np.ndarray,
    p: int,
    fixed: np.ndarray,
    forbidden: np.ndarray,
    deadline: float,
) -> np.ndarray:
    """Greedy + best-improvement swap local search on the candidate-list model.

    Client ``j`` costs ``min(cheapest open list entry, tail_j)``; clients
    without tail pay a large penalty when no list entry is open. Every step
    is ``O(#entries + m * p)``. Returns a boolean ``y`` with ``p`` open sites
    (a warm start for HiGHS).
    """
    finite = np.isfinite(tail)
    big = 2.0 * max(float(e_cost.max(initial=0.0)), float(tail[finite].max(initial=0.0))) + 1.0
    tail = np.where(finite, tail, big)
    we = w[e_client]
    y = fixed.copy()
    closed_ok = ~forbidden
    # greedy
    while int(y.sum()) < p:
        d1, _, _ = _open_costs(y, n, e_client, e_fac, e_cost, tail)
        gain = np.bincount(e_fac, weights=we * np.maximum(d1[e_client] - e_cost, 0.0), minlength=m)
        gain[y | ~closed_ok] = -1.0
        y[int(np.argmax(gain))] = True
    # swaps: delta(i in, r out) = -gain_i + loss_r + corr[i, r]
    max_iter = 100 + 10 * p
    for _ in range(max_iter):
        if time.perf_counter() > deadline:
            break
        d1, f1, d2 = _open_costs(y, n, e_client, e_fac, e_cost, tail)
        movable = np.flatnonzero(y & ~fixed)
        addable = ~y & closed_ok
        if len(movable) == 0 or not addable.any():
            break
        gain = np.bincount(e_fac, weights=we * np.maximum(d1[e_client] - e_cost, 0.0), minlength=m)
        has = f1 >= 0
        loss = np.bincount(f1[has], weights=(w * (d2 - d1))[has], minlength=m)
        slot = np.full(m, -1, dtype=np.int64)
        slot[movable] = np.arange(len(movable))
        fe = f1[e_client]
        sel = (fe >= 0) & (e_cost < d2[e_client]) & addable[e_fac]
        sel &= slot[np.maximum(fe, 0)] >= 0
        cj = e_client[sel]
        c = e_cost[sel]
        corr_val = we[sel] * (np.minimum(d2[cj], c) - np.minimum(d1[cj], c) - (d2[cj] - d1[cj]))
        corr = np.zeros((m, len(movable)))
        np.add.at(corr, (e_fac[sel], slot[fe[sel]]), corr_val)
        delta = corr - gain[:, None] + loss[movable][None, :]
        delta[~addable, :] = np.inf
        k = int(np.argmin(delta))
        i, r = divmod(k, len(movable))
        if not delta[i, r] < -1e-9 * max(1.0, float(np.dot(w, d1))):
            break
        y[i] = True
        y[movable[r]] = False
    return y


def _expected_open(demand: np.ndarray | None, capacity: np.ndarray | None, n_open: int) -> int:
    """Rough number of open sites of a CFLP, to size the candidate lists."""
    if demand is None or capacity is None:
        return max(1, n_open // 4)
    cap = float(np.median(capacity[capacity > 0])) if (capacity > 0).any() else 1.0
    return int(min(n_open, max(1, math.ceil(1.5 * demand.sum() / max(cap, 1e-12)))))


def _check_capacity(
    common: _Common,
    demand: np.ndarray,
    capacity: np.ndarray,
    p: int | None,
    single_source: bool,
) -> None:
    costs = common.costs
    openable = ~common.forbidden
    total = float(demand.sum())
    cap_all = float(capacity[openable].sum())
    if total > cap_all * (1 + 1e-12):
        raise InfeasibleError(
            f"total demand {total:g} exceeds total capacity {cap_all:g} of the facilities "
            "that may be opened",
            fix="add capacity or candidate facilities, or reduce demand",
        )
    if p is not None:
        fixed_cap = float(capacity[common.fixed].sum())
        rest = np.sort(capacity[openable & ~common.fixed])[::-1]
        best = fixed_cap + float(rest[: p - int(common.fixed.sum())].sum())
        if total > best * (1 + 1e-12):
            raise InfeasibleError(
                f"total demand {total:g} exceeds {best:g}, the most capacity any {p} "
                "facilities (including the fixed-open ones) can offer",
                fix="raise p or capacities",
            )
    if single_source:
        indptr, fac, _ = costs.prefix(costs.shape[1])
        rows = np.repeat(np.arange(costs.shape[0]), np.diff(indptr))
        best_cap = np.zeros(costs.shape[0])
        np.maximum.at(best_cap, rows, capacity[fac])
        too_big = demand > best_cap * (1 + 1e-12)
        if too_big.any():
            raise InfeasibleError(
                "with single-source assignment some clients' demand exceeds the capacity of "
                "every facility they may use",
                rows=list(costs.client_ids[too_big]),
                fix="allow splitting (single_source=False) or raise capacities",
            )


def _build_assignment(
    n: int,
    m: int,
    e_client: np.ndarray,
    e_fac: np.ndarray,
    e_cost: np.ndarray,
    tail_clients: np.ndarray,
    tail_cost: np.ndarray,
    *,
    w: np.ndarray,
    p: int | None,
    demand: np.ndarray | None,
    capacity: np.ndarray | None,
    fixed_cost: np.ndarray | None,
    single_source: bool,
    fixed: np.ndarray,
    forbidden: np.ndarray,
) -> tuple[_Model, dict[str, int]]:
    mdl = _Model()
    ne = len(e_client)
    y_cost = np.zeros(m) if fixed_cost is None else fixed_cost
    y_lo = fixed.astype(np.float64)
    y_hi = (~forbidden).astype(np.float64)
    cy = mdl.add_cols(y_cost, y_lo, y_hi, integer=True)
    cx = mdl.add_cols(w[e_client] * e_cost, 0.0, 1.0, integer=single_source)
    ct = mdl.add_cols(w[tail_clients] * tail_cost[tail_clients], 0.0, 1.0, integer=False)
    ex = cx + np.arange(ne)
    # sum_i x_ji + t_j = 1
    ra = mdl.add_rows(1.0, 1.0, n)
    mdl.add_entries(ra + e_client, ex, 1.0)
    mdl.add_entries(ra + tail_clients, ct + np.arange(len(tail_clients)), 1.0)
    # x_ji <= y_i (not needed where y_i is fixed to 1)
    link = np.flatnonzero(~fixed[e_fac])
    rl = mdl.add_rows(-np.inf, 0.0, len(link))
    mdl.add_entries(rl + np.arange(len(link)), ex[link], 1.0)
    mdl.add_entries(rl + np.arange(len(link)), cy + e_fac[link], -1.0)
    if p is not None:
        rp = mdl.add_rows(float(p), float(p), 1)
        mdl.add_entries(np.full(m, rp), cy + np.arange(m), 1.0)
    if capacity is not None:
        assert demand is not None
        # sum_j d_j x_ji - Q_i y_i <= 0
        rc = mdl.add_rows(-np.inf, 0.0, m, late=True)
        mdl.add_entries(rc + e_fac, ex, demand[e_client])
        mdl.add_entries(rc + np.arange(m), cy + np.arange(m), -capacity)
        # sum_i Q_i y_i >= sum_j d_j (valid for the full model, tightens the relaxation)
        rq = mdl.add_rows(float(demand.sum()), np.inf, 1, late=True)
        mdl.add_entries(np.full(m, rq), cy + np.arange(m), capacity)
    return mdl, {"y": cy, "x": cx, "t": ct}


def _shares(
    e_client: np.ndarray, e_fac: np.ndarray, xe: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positive assignment values, renormalised per client."""
    keep = xe > 1e-9
    c, f, s = e_client[keep], e_fac[keep], xe[keep]
    tot = np.bincount(c, weights=s, minlength=int(e_client.max()) + 1 if len(e_client) else 0)
    s = s / tot[c]
    order = np.lexsort((f, c))
    return c[order], f[order], s[order]


def _pair_positions(
    e_client: np.ndarray, e_fac: np.ndarray, c: np.ndarray, f: np.ndarray
) -> np.ndarray:
    m = int(max(e_fac.max(), f.max())) + 1
    keys = e_client.astype(np.int64) * m + e_fac
    order = np.argsort(keys, kind="stable")
    return order[np.searchsorted(keys[order], c.astype(np.int64) * m + f)]


def _repair(
    common: _Common,
    y: np.ndarray,
    demand: np.ndarray | None,
    capacity: np.ndarray | None,
    w: np.ndarray,
    single_source: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Best assignment to the open facilities ``y`` over all allowed pairs."""
    assert demand is not None and capacity is not None
    costs = common.costs
    n, m = costs.shape
    indptr, fac, val = costs.prefix(m)
    rows = np.repeat(np.arange(n), np.diff(indptr))
    keep = y[fac]
    c, f, v = rows[keep], fac[keep], val[keep]
    if len(np.unique(c)) < n:
        raise OptimizationError(
            "time limit reached before a feasible assignment was found",
            fix="raise time_limit",
        )
    mdl = _Model()
    cx = mdl.add_cols(w[c] * v, 0.0, 1.0, integer=single_source)
    ra = mdl.add_rows(1.0, 1.0, n)
    mdl.add_entries(ra + c, cx + np.arange(len(c)), 1.0)
    rc = mdl.add_rows(-np.inf, capacity, m)
    mdl.add_entries(rc + f, cx + np.arange(len(c)), demand[c])
    budget = max(_remaining(common), 1.0)
    run = mdl.solve(
        sense=1, time_limit=budget, mip_rel_gap=common.mip_rel_gap, threads=common.threads
    )
    if run.x is None:
        raise OptimizationError(
            "time limit reached before a feasible assignment was found",
            fix="raise time_limit",
        )
    a_c, a_f, s = _shares(c, f, run.x)
    unit = v[_pair_positions(c, f, a_c, a_f)]
    return a_c, a_f, s, unit


def _result(
    common: _Common,
    model_name: str,
    *,
    objective: float,
    y: np.ndarray,
    a_client: np.ndarray,
    a_fac: np.ndarray,
    share: np.ndarray,
    contrib: np.ndarray,
    bound: float,
    gap: float,
    status: str,
    iterations: int,
    run: _Run,
    k_nearest: int | None,
    demand: np.ndarray,
    covered: np.ndarray | None = None,
    unassigned: tuple[Any, ...] = (),
) -> LocationResult:
    costs = common.costs
    fids = costs.facility_ids
    cids = costs.client_ids
    table = {
        "client": cids[a_client],
        "facility": fids[a_fac],
        "share": share.astype(np.float64),
        "cost": contrib.astype(np.float64),
    }
    if covered is not None:
        table["covered"] = covered
    assignment = pd.DataFrame(table)
    served = np.bincount(a_fac, weights=share * demand[a_client], minlength=len(fids))
    open_idx = np.flatnonzero(y)
    load = pd.Series(served[open_idx], index=pd.Index(fids[open_idx], name="facility"), name="load")
    return LocationResult(
        model=model_name,
        objective=objective,
        open=tuple(fids[open_idx].tolist()),
        assignment=assignment,
        gap=gap,
        status=status,
        bound=bound,
        solve_seconds=time.perf_counter() - common.t0,
        iterations=iterations,
        n_variables=run.n_col,
        n_constraints=run.n_row,
        k_nearest=k_nearest,
        load=load,
        unassigned=unassigned,
    )


# ----------------------------------------------------------------- public API


def solve_p_median(
    cost: Any,
    p: int,
    *,
    weights: Any = None,
    fixed_open: Iterable[Any] = (),
    forbidden: Iterable[Any] = (),
    max_cost: Any = None,
    time_limit: float | None = None,
    mip_rel_gap: float | None = None,
    threads: int | None = None,
    k_nearest: int | None = None,
    client_ids: Iterable[Any] | None = None,
    facility_ids: Iterable[Any] | None = None,
) -> LocationResult:
    r"""Open exactly ``p`` facilities minimising total weighted assignment cost.

    .. math::

        \min \sum_{j}\sum_{i \in A_j} w_j c_{ji} x_{ji}
        \quad\text{s.t.}\quad
        \sum_{i \in A_j} x_{ji} = 1 \;\forall j,\qquad
        x_{ji} \le y_i \;\forall j, i \in A_j,\qquad
        \sum_i y_i = p,

        y_i \in \{0, 1\},\; y_i = 1 \ (i \in F),\; y_i = 0 \ (i \in B),\;
        0 \le x_{ji} \le 1,

    where :math:`A_j` are client ``j``'s allowed facilities (finite / stored cost,
    ``c_{ji} <= max_cost_j``), ``F`` = ``fixed_open``, ``B`` = ``forbidden``.
    Every client is served entirely by its nearest open facility. The model is
    solved on candidate lists with tail variables and enlarged until provably
    optimal (see module docs).

    Parameters
    ----------
    cost
        Client x facility cost (travel time in minutes, distance in metres, ...):
        dense array, DataFrame or scipy sparse matrix; missing / NaN / inf pairs
        are not allowed.
    p
        Number of facilities to open (``1 <= p <= n_facilities``).
    weights
        Per-client multiplier of the row (e.g. pupils); default 1. Units:
        objective = ``weights x cost`` (e.g. pupil-minutes).
    fixed_open
        Facility ids that must be open (count towards ``p``).
    forbidden
        Facility ids that must stay closed.
    max_cost
        Scalar or per-client cutoff: pairs with a larger cost are not allowed.
    time_limit
        Seconds for the whole call (all rounds); the best solution is returned
        with status ``"time_limit"`` when it is reached.
    mip_rel_gap
        Relative optimality gap at which HiGHS stops (default ``1e-6``).
    threads
        HiGHS threads (default: HiGHS' choice). HiGHS has one global thread
        pool; a new value resizes it, so do not vary it between solves that
        run concurrently in one process.
    k_nearest
        Initial candidate-list length per client (default: from ``n_facilities / p``).
    client_ids, facility_ids
        Ids for array / sparse input (a DataFrame's index/columns are used otherwise).

    Returns
    -------
    LocationResult
        ``objective`` in cost x weight units, ``open``, ``assignment``, ``gap``,
        ``status``; ``load`` is the served weight per open facility.

    Raises
    ------
    OptimizationError
        Malformed input (p out of range, negative costs, NaN weights, shape
        mismatch, more fixed-open facilities than ``p``, ...).
    InfeasibleError
        A client has no allowed facility, or too many facilities are forbidden.
    """
    common = _prepare(
        cost,
        fixed_open=fixed_open,
        forbidden=forbidden,
        max_cost=max_cost,
        time_limit=time_limit,
        mip_rel_gap=mip_rel_gap,
        threads=threads,
        client_ids=client_ids,
        facility_ids=facility_ids,
    )
    _, m = common.costs.shape
    p = _check_p(p, m)
    w = _vector("weights", weights, common.costs.client_ids, default=1.0)
    return _assignment_models(
        common,
        model_name="p_median",
        w=w,
        p=p,
        demand=None,
        capacity=None,
        fixed_cost=None,
        single_source=False,
        k_nearest=k_nearest,
    )


def solve_capacitated_p_median(
    cost: Any,
    p: int,
    demand: Any,
    capacity: Any,
    *,
    single_source: bool = True,
    weights: Any = None,
    fixed_open: Iterable[Any] = (),
    forbidden: Iterable[Any] = (),
    max_cost: Any = None,
    time_limit: float | None = None,
    mip_rel_gap: float | None = None,
    threads: int | None = None,
    k_nearest: int | None = None,
    client_ids: Iterable[Any] | None = None,
    facility_ids: Iterable[Any] | None = None,
) -> LocationResult:
    r"""Capacitated p-median: open exactly ``p`` facilities with capacities.

    .. math::

        \min \sum_{j}\sum_{i \in A_j} w_j c_{ji} x_{ji}
        \quad\text{s.t.}\quad
        \sum_{i \in A_j} x_{ji} = 1,\qquad
        \sum_{j} d_j x_{ji} \le Q_i y_i,\qquad
        x_{ji} \le y_i,\qquad
        \sum_i y_i = p,

        \sum_i Q_i y_i \ge \sum_j d_j,\quad
        y_i \in \{0,1\},\quad
        x_{ji} \in \{0,1\}\ \text{(single source) or } [0,1],

    with fixed-open / forbidden facilities as bounds on :math:`y`. A client's
    cost ``c_ji`` is for its whole demand ``d_j`` (a share pays that fraction).

    Parameters
    ----------
    cost
        Client x facility cost, as for :func:`solve_p_median`.
    p
        Number of facilities to open.
    demand
        Per-client demand ``d_j`` (e.g. pupils), ``>= 0``.
    capacity
        Per-facility capacity ``Q_i`` in demand units (e.g. seats), ``>= 0``.
    single_source
        Each client served by exactly one facility (default) or split.
    weights
        Per-client objective multiplier (default 1; pass ``demand`` for
        demand-weighted travel).
    fixed_open, forbidden, max_cost, time_limit, mip_rel_gap, threads, k_nearest, client_ids, facility_ids
        As for :func:`solve_p_median`.

    Returns
    -------
    LocationResult
        ``load`` is the demand served per open facility; ``share`` is fractional
        when ``single_source=False``.

    Raises
    ------
    OptimizationError
        Malformed input.
    InfeasibleError
        Total demand above the capacity of the ``p`` largest sites, a client
        whose demand fits no allowed facility (single source), a client without
        allowed facility, or an infeasible combination found by the solver.
    """
    common = _prepare(
        cost,
        fixed_open=fixed_open,
        forbidden=forbidden,
        max_cost=max_cost,
        time_limit=time_limit,
        mip_rel_gap=mip_rel_gap,
        threads=threads,
        client_ids=client_ids,
        facility_ids=facility_ids,
    )
    _, m = common.costs.shape
    p = _check_p(p, m)
    d = _vector("demand", demand, common.costs.client_ids)
    q = _vector("capacity", capacity, common.costs.facility_ids)
    w = _vector("weights", weights, common.costs.client_ids, default=1.0)
    _check_capacity(common, d, q, p, bool(single_source))
    # The uncapacitated optimum is a lower bound; when its nearest-facility
    # assignment respects the capacities it is optimal here too. Otherwise its
    # sites warm-start the capacitated model.
    deadline = common.deadline
    if math.isfinite(deadline):
        common.deadline = time.perf_counter() + max(0.34 * _remaining(common), 1e-3)
    free = _assignment_models(
        common,
        model_name="capacitated_p_median",
        w=w,
        p=p,
        demand=None,
        capacity=None,
        fixed_cost=None,
        single_source=False,
        k_nearest=k_nearest,
    )
    common.deadline = deadline
    fids = pd.Index(common.costs.facility_ids)
    y0 = np.zeros(m, dtype=bool)
    y0[fids.get_indexer(list(free.open))] = True
    fac = fids.get_indexer(free.assignment["facility"])
    load = np.bincount(fac, weights=d, minlength=m)
    if (load <= q * (1 + 1e-9) + 1e-9).all():
        return replace(
            free,
            load=pd.Series(load[y0], index=free.load.index, name="load"),
            solve_seconds=time.perf_counter() - common.t0,
        )
    result = _assignment_models(
        common,
        model_name="capacitated_p_median",
        w=w,
        p=p,
        demand=d,
        capacity=q,
        fixed_cost=None,
        single_source=bool(single_source),
        k_nearest=k_nearest,
        warm_start=y0,
        initial_bound=free.bound,
    )
    return replace(result, iterations=result.iterations + free.iterations)


def solve_cflp(
    cost: Any,
    fixed_cost: Any,
    demand: Any,
    capacity: Any,
    *,
    single_source: bool = False,
    weights: Any = None,
    fixed_open: Iterable[Any] = (),
    forbidden: Iterable[Any] = (),
    max_cost: Any = None,
    time_limit: float | None = None,
    mip_rel_gap: float | None = None,
    threads: int | None = None,
    k_nearest: int | None = None,
    client_ids: Iterable[Any] | None = None,
    facility_ids: Iterable[Any] | None = None,
) -> LocationResult:
    r"""Capacitated facility location with opening costs (any number open).

    .. math::

        \min \sum_i f_i y_i + \sum_{j}\sum_{i \in A_j} w_j c_{ji} x_{ji}
        \quad\text{s.t.}\quad
        \sum_{i \in A_j} x_{ji} = 1,\qquad
        \sum_{j} d_j x_{ji} \le Q_i y_i,\qquad
        x_{ji} \le y_i,

        \sum_i Q_i y_i \ge \sum_j d_j,\quad
        y_i \in \{0,1\},\quad
        x_{ji} \in [0,1]\ \text{(default) or } \{0,1\}\ \text{(single source)}.

    Parameters
    ----------
    cost
        Client x facility cost of serving the client's whole demand.
    fixed_cost
        Per-facility opening cost ``f_i`` (same money/time unit as ``cost``).
        Fixed-open facilities pay it too.
    demand
        Per-client demand ``d_j``.
    capacity
        Per-facility capacity ``Q_i`` (use a large number for uncapacitated).
    single_source
        Force each client to one facility (default: splitting allowed, as in
        the OR-Library capacitated warehouse location instances).
    weights, fixed_open, forbidden, max_cost, time_limit, mip_rel_gap, threads, k_nearest, client_ids, facility_ids
        As for :func:`solve_p_median`.

    Returns
    -------
    LocationResult
        ``objective`` includes the opening costs.

    Raises
    ------
    OptimizationError
        Malformed input.
    InfeasibleError
        Total demand above total capacity, a client without an allowed
        facility, or an infeasible combination found by the solver.
    """
    common = _prepare(
        cost,
        fixed_open=fixed_open,
        forbidden=forbidden,
        max_cost=max_cost,
        time_limit=time_limit,
        mip_rel_gap=mip_rel_gap,
        threads=threads,
        client_ids=client_ids,
        facility_ids=facility_ids,
    )
    f = _vector("fixed_cost", fixed_cost, common.costs.facility_ids)
    d = _vector("demand", demand, common.costs.client_ids)
    q = _vector("capacity", capacity, common.costs.facility_ids)
    w = _vector("weights", weights, common.costs.client_ids, default=1.0)
    return _assignment_models(
        common,
        model_name="cflp",
        w=w,
        p=None,
        demand=d,
        capacity=q,
        fixed_cost=f,
        single_source=bool(single_source),
        k_nearest=k_nearest,
    )


def solve_set_cover(
    cost: Any,
    radius: Any,
    *,
    facility_cost: Any = None,
    fixed_open: Iterable[Any] = (),
    forbidden: Iterable[Any] = (),
    time_limit: float | None = None,
    mip_rel_gap: float | None = None,
    threads: int | None = None,
    client_ids: Iterable[Any] | None = None,
    facility_ids: Iterable[Any] | None = None,
) -> LocationResult:
    r"""Fewest (cheapest) facilities such that every client is within ``radius``.

    .. math::

        \min \sum_i f_i y_i
        \quad\text{s.t.}\quad
        \sum_{i:\, c_{ji} \le r_j} y_i \ge 1 \;\forall j,\qquad
        y_i \in \{0,1\},

    with fixed-open / forbidden facilities as bounds (fixed-open ones are counted
    in the objective). Each client is then assigned to its cheapest open
    facility. To also minimise travel among minimal covers, call
    :func:`solve_p_median` with ``p = len(result.open)`` and ``max_cost = radius``.

    Parameters
    ----------
    cost
        Client x facility cost, as for :func:`solve_p_median`.
    radius
        Coverage radius in cost units: scalar or one per client.
    facility_cost
        Per-facility cost ``f_i`` (default 1: minimise the number of facilities).
    fixed_open, forbidden, time_limit, mip_rel_gap, threads, client_ids, facility_ids
        As for :func:`solve_p_median`.

    Returns
    -------
    LocationResult
        ``objective`` = number (total cost) of open facilities; assignment
        ``cost`` = plain ``cost[j, i]`` and ``covered`` (all True).

    Raises
    ------
    OptimizationError
        Malformed input (negative radius, NaN, shapes, ...).
    InfeasibleError
        Some client has no allowed facility within its radius (ids named).
    """
    common = _prepare(
        cost,
        fixed_open=fixed_open,
        forbidden=forbidden,
        max_cost=None,
        time_limit=time_limit,
        mip_rel_gap=mip_rel_gap,
        threads=threads,
        client_ids=client_ids,
        facility_ids=facility_ids,
    )
    costs = common.costs
    n, m = costs.shape
    r = _vector("radius", radius, costs.client_ids)
    fc = _vector("facility_cost", facility_cost, costs.facility_ids, default=1.0)
    rows, cols = costs.within(r)
    covered_by = np.bincount(rows, minlength=n)
    if (covered_by == 0).any():
        bad = covered_by == 0
        raise InfeasibleError(
            f"{int(bad.sum())} client(s) have no allowed facility within the radius",
            rows=list(costs.client_ids[bad]),
            fix="raise the radius or add candidate facilities near these clients",
        )
    pre = np.zeros(n, dtype=bool)
    pre[rows[common.fixed[cols]]] = True
    need = ~pre
    keep = need[rows]
    mdl = _Model()
    cy = mdl.add_cols(fc, common.fixed.astype(float), (~common.forbidden).astype(float), True)
    need_idx = np.flatnonzero(need)
    row_of = np.full(n, -1)
    row_of[need_idx] = np.arange(len(need_idx))
    rc = mdl.add_rows(1.0, np.inf, len(need_idx))
    mdl.add_entries(rc + row_of[rows[keep]], cy + cols[keep], 1.0)
    run = mdl.solve(
        sense=1,
        time_limit=_remaining(common),
        mip_rel_gap=common.mip_rel_gap,
        threads=common.threads,
    )
    if _is_infeasible(run.status):
        raise InfeasibleError("the set-cover model has no feasible solution")
    if run.x is None:
        raise _no_solution(run.status)
    y = run.x[:m] > 0.5
    near_cost, near_fac = costs.nearest_open(y)
    a_client = np.arange(n)
    objective = float(fc[y].sum())
    bound = min(float(run.bound), objective) if math.isfinite(run.bound) else -math.inf
    gap = _gap(objective, bound)
    return _result(
        common,
        "set_cover",
        objective=objective,
        y=y,
        a_client=a_client,
        a_fac=near_fac,
        share=np.ones(n),
        contrib=near_cost,
        bound=bound,
        gap=gap,
        status=_status_text(run.status, gap),
        iterations=1,
        run=run,
        k_nearest=None,
        demand=np.ones(n),
        covered=near_cost <= r,
    )


def solve_max_cover(
    cost: Any,
    radius: Any,
    p: int,
    weights: Any = None,
    *,
    fixed_open: Iterable[Any] = (),
    forbidden: Iterable[Any] = (),
    time_limit: float | None = None,
    mip_rel_gap: float | None = None,
    threads: int | None = None,
    client_ids: Iterable[Any] | None = None,
    facility_ids: Iterable[Any] | None = None,
) -> LocationResult:
    r"""Open ``p`` facilities covering the largest client weight within ``radius``.

    .. math::

        \max \sum_j w_j z_j
        \quad\text{s.t.}\quad
        z_j \le \sum_{i:\, c_{ji} \le r_j} y_i \;\forall j,\qquad
        \sum_i y_i = p,\qquad
        y_i \in \{0,1\},\; 0 \le z_j \le 1,

    with fixed-open / forbidden facilities as bounds on :math:`y`. Each client is
    assigned to its cheapest open allowed facility (covered or not).

    Parameters
    ----------
    cost
        Client x facility cost, as for :func:`solve_p_median`.
    radius
        Coverage radius in cost units: scalar or one per client.
    p
        Number of facilities to open.
    weights
        Per-client weight (e.g. pupils), default 1.
    fixed_open, forbidden, time_limit, mip_rel_gap, threads, client_ids, facility_ids
        As for :func:`solve_p_median`.

    Returns
    -------
    LocationResult
        ``objective`` = covered weight, ``bound`` = proven upper bound;
        assignment ``cost`` = plain ``cost[j, i]``, ``covered`` per client;
        ``unassigned`` = clients with no open allowed facility at all.

    Raises
    ------
    OptimizationError
        Malformed input.
    InfeasibleError
        Too many facilities forbidden for ``p``.
    """
    common = _prepare(
        cost,
        fixed_open=fixed_open,
        forbidden=forbidden,
        max_cost=None,
        time_limit=time_limit,
        mip_rel_gap=mip_rel_gap,
        threads=threads,
        client_ids=client_ids,
        facility_ids=facility_ids,
    )
    costs = common.costs
    n, m = costs.shape
    p = _check_p(p, m)
    if int(common.fixed.sum()) > p:
        raise OptimizationError(
            f"{int(common.fixed.sum())} facilities are fixed open but p = {p}",
            rows=list(costs.facility_ids[common.fixed]),
            fix="raise p or fix fewer facilities open",
        )
    if p > int((~common.forbidden).sum()):
        raise InfeasibleError(
            f"p = {p} but only {int((~common.forbidden).sum())} facilities may be opened"
        )
    r = _vector("radius", radius, costs.client_ids)
    w = _vector("weights", weights, costs.client_ids, default=1.0)
    rows, cols = costs.within(r)
    pre = np.zeros(n, dtype=bool)
    pre[rows[common.fixed[cols]]] = True
    coverable = np.bincount(rows, minlength=n) > 0
    free = coverable & ~pre & (w > 0)
    free_idx = np.flatnonzero(free)
    mdl = _Model()
    cy = mdl.add_cols(
        np.zeros(m), common.fixed.astype(float), (~common.forbidden).astype(float), True
    )
    cz = mdl.add_cols(w[free_idx], 0.0, 1.0, False)
    z_of = np.full(n, -1)
    z_of[free_idx] = np.arange(len(free_idx))
    rz = mdl.add_rows(-np.inf, 0.0, len(free_idx))
    mdl.add_entries(rz + np.arange(len(free_idx)), cz + np.arange(len(free_idx)), 1.0)
    keep = free[rows]
    mdl.add_entries(rz + z_of[rows[keep]], cy + cols[keep], -1.0)
    rp = mdl.add_rows(float(p), float(p), 1)
    mdl.add_entries(np.full(m, rp), cy + np.arange(m), 1.0)
    run = mdl.solve(
        sense=-1,
        time_limit=_remaining(common),
        mip_rel_gap=common.mip_rel_gap,
        threads=common.threads,
    )
    if _is_infeasible(run.status):
        raise InfeasibleError("the max-cover model has no feasible solution")
    if run.x is None:
        raise _no_solution(run.status)
    y = run.x[:m] > 0.5
    near_cost, near_fac = costs.nearest_open(y)
    covered = near_cost <= r
    objective = float(w[covered].sum())
    const = float(w[pre].sum())
    bound = float(run.bound) + const if math.isfinite(run.bound) else math.inf
    bound = max(bound, objective)
    gap = _gap(objective, bound)
    has = near_fac >= 0
    a_client = np.flatnonzero(has)
    return _result(
        common,
        "max_cover",
        objective=objective,
        y=y,
        a_client=a_client,
        a_fac=near_fac[has],
        share=np.ones(len(a_client)),
        contrib=near_cost[has],
        bound=bound,
        gap=gap,
        status=_status_text(run.status, gap),
        iterations=1,
        run=run,
        k_nearest=None,
        demand=w,
        covered=covered[has],
        unassigned=tuple(costs.client_ids[~has].tolist()),
    )
