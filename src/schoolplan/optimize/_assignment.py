"""The assignment MILP shared by the p-median and the capacitated location models."""

from __future__ import annotations

import numpy as np

from schoolplan._highs import HighsModel

__all__ = ["build_assignment"]


def build_assignment(
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
) -> tuple[HighsModel, dict[str, int]]:
    r"""The facility-location assignment model shared by the p-median and the capacitated models.

    Columns: :math:`y_i \in \{0,1\}` (facility :math:`i` open; fixed ones at 1,
    forbidden at 0), :math:`x_{ji}\in[0,1]` (share of client :math:`j` at :math:`i`,
    integer when ``single_source``) on the listed pairs ``(e_client, e_fac, e_cost)``,
    and a tail :math:`t_j\in[0,1]` per client in ``tail_clients`` standing for all its
    unlisted pairs at cost ``tail_cost[j]`` (a lower bound on them, so the model stays
    a relaxation of the full one).

    .. math::

        \min\ \sum_i f_i y_i + \sum_{(j,i)} w_j c_{ji} x_{ji} + \sum_j w_j \tau_j t_j
        \quad\text{s.t.}\quad \sum_i x_{ji} + t_j = 1,\ x_{ji} \le y_i,\
        [\textstyle\sum_i y_i = p],\ [\sum_j d_j x_{ji} \le Q_i y_i,\ \sum_i Q_i y_i \ge \sum_j d_j]

    The bracketed rows exist only with ``p`` / ``capacity``; capacity rows are added
    late (lazily) by the solver wrapper.

    Returns
    -------
    tuple
        The model and the first column index of each block (``y``, ``x``, ``t``).
    """
    mdl = HighsModel()
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
