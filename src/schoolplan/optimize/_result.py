"""Internal: the result type of the location models and its assembly."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from schoolplan._highs import HighsRun, banner
from schoolplan.optimize._data import Common


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
    formulation
        Model given to HiGHS: ``"radius"`` (one variable per client and distinct
        cost level), ``"assignment"`` (one per client-facility pair) or
        ``"cover"``; the start heuristic alone when it was proven optimal
        before any branching is noted in ``message``.
    n_facilities_reduced
        Facilities left after reduced-cost and Lagrangian reduction (the
        others provably cannot be open in a better solution).
    message
        Plain-language summary; says so clearly when a time limit stopped the
        solve (best solution, bound and gap).
    log
        The captured HiGHS log of every run (nothing is printed).
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
    formulation: str = ""
    n_facilities_reduced: int | None = None
    message: str = ""
    log: str = ""

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

    @property
    def clients(self) -> pd.Series:
        """Clients served by each open facility (a list per facility id, input order)."""
        groups = self.assignment.groupby("facility", sort=False)["client"].agg(list)
        out = pd.Series([groups.get(f, []) for f in self.open], index=pd.Index(self.open, name="facility"),
                        name="clients", dtype=object)
        return out


def describe(model: str, status: str, objective: float, bound: float, gap: float,
             time_limit: float) -> str:
    """One-line summary of a solve; explicit about a time limit."""
    name = model.replace("_", " ")
    if status == "optimal":
        return f"{name}: proven optimal, objective {objective:,.6g}"
    if status == "time_limit":
        return (f"{name}: TIME LIMIT of {time_limit:g} s reached before optimality was proven; "
                f"best solution {objective:,.6g}, proven bound {bound:,.6g}, gap {100 * gap:.3g} % "
                "(raise time_limit to prove optimality)")
    return (f"{name}: stopped with status {status}; best solution {objective:,.6g}, "
            f"bound {bound:,.6g}, gap {100 * gap:.3g} %")


def make_result(
    common: Common,
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
    run: HighsRun,
    k_nearest: int | None,
    demand: np.ndarray,
    covered: np.ndarray | None = None,
    unassigned: tuple[Any, ...] = (),
    formulation: str = "",
    n_facilities_reduced: int | None = None,
) -> LocationResult:
    """Assemble a :class:`LocationResult` from index arrays."""
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
        formulation=formulation,
        n_facilities_reduced=n_facilities_reduced,
        message=describe(model_name, status, objective, bound, gap, common.time_limit),
        log=banner() + "".join(common.log or []),
    )
