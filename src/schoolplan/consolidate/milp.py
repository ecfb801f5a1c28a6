"""Optimise mode: which schools stay, solved exactly as a MILP on HiGHS.

Groups :math:`k` are the target-year pupils :math:`d_k` of one village and band at one
school today (:math:`o(k)`). With open :math:`y_s` (sites: new schools), added classes
:math:`e_s`, added beds :math:`n_s`, shares :math:`x_{ks}` and unplaced :math:`u_k`:

.. math::

    \\min\\; w \\sum d_k t_{ks} x_{ks} + \\sum_s (F_s y_s + C e_s + B n_s)
          + \\sum d_k (c_{bus} [\\text{bus}] + c_{board} [\\text{board}]) x_{ks} + M \\sum d_k u_k

subject to :math:`\\sum_s x_{ks} + u_k = 1`; :math:`x_{ks} \\le y_s`; pupils stay while
their school is open, :math:`x_{k,o(k)} \\ge y_{o(k)}`; a group may go only to schools
that teach its band within the band's day limit, or where it may board (bands allowed
to board, ride ≤ the boarding limit), and non-receiving small schools take others'
pupils only within the bus radius; classes :math:`\\sum d x / \\text{size} \\le
\\text{classes}_s + e_s`; size :math:`\\sum d x \\le M_s y_s`; a kept small school keeps
at least the minimum enrolment, :math:`\\sum d x \\ge E y_s`; beds
:math:`\\sum_{board} d x \\le \\text{beds}_s + n_s`; receiving and forced schools have
:math:`y_s = 1`, forced closures :math:`y_s = 0`; at most ``max_closures`` closures.
:math:`F_s` is the new-school cost on sites and the yearly running cost of a kept small
school. The pupils of closed schools are then placed by the same min-cost flow as in
rules mode (:mod:`schoolplan.consolidate.placement`), so counts are whole pupils.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from schoolplan.consolidate.policy import receives
from schoolplan.consolidate.rules import Rules
from schoolplan.errors import InfeasibleError

__all__ = ["choose_open"]

_UNPLACED_WAN = 1e4  # 万元 per pupil: far above any real cost


def choose_open(
    groups: pd.DataFrame,
    minutes: pd.DataFrame,
    walks: pd.DataFrame,
    level_of: Mapping[str, str],
    seats_classes: pd.DataFrame,
    receivers: set[str],
    sites: list[str],
    rules: Rules,
) -> set[str]:
    """The schools (and sites) the optimal plan keeps open.

    Parameters
    ----------
    groups
        ``village_id, band, school_before, pupils`` (known villages only).
    minutes, walks
        Door-to-door minutes and walk flags (villages × schools and sites).
    level_of
        Level per school and site.
    seats_classes
        Per school: ``classes``, ``beds`` (today).
    receivers
        Schools that must stay and may receive (anchors, forced keep/expand).
    sites
        Candidate sites for new schools.
    rules
        The plan's rules.

    Returns
    -------
    set of str
        Open school and site ids.

    Raises
    ------
    InfeasibleError
        When no layout meets the rules together, or no solution within the time limit.
    """
    cols = [*seats_classes.index, *sites]
    pos = {c: i for i, c in enumerate(cols)}
    forced_close = {s for s, d in rules.force.items() if d == "close"}
    small = [c for c in seats_classes.index if c not in receivers]
    costs = rules.costs
    bus_cost = costs["bus_wan"] / rules.bus_capacity
    g = groups.reset_index(drop=True)
    t_all = minutes.reindex(index=g["village_id"], columns=cols).to_numpy(float)
    w_all = walks.reindex(index=g["village_id"], columns=cols).fillna(False).to_numpy(bool)
    pv, ps, pc, pb = [], [], [], []
    for k in range(len(g)):
        band = str(g.at[k, "band"])
        limit = float(rules.day_limit_minutes[band])
        boardable = band in rules.boarding_bands
        own = g.at[k, "school_before"]
        for j, c in enumerate(cols):
            t = t_all[k, j]
            if not receives(level_of[c], band):
                continue
            if c != own and (not np.isfinite(t) or (c in small and not w_all[k, j] and t > rules.bus_minutes)):
                continue
            board = bool(np.isfinite(t) and not w_all[k, j] and t > limit)
            if c != own and board and (not boardable or t > rules.max_board_minutes):
                continue
            tt = t if np.isfinite(t) else 0.0
            cost = rules.travel_weight * tt + (costs["boarding_pupil_wan"] if board and boardable else 0.0) \
                + (bus_cost if not w_all[k, j] and not board else 0.0)
            pv.append(k)
            ps.append(j)
            pc.append(cost * g.at[k, "pupils"])
            pb.append(board and boardable)
    n, m, npair = len(g), len(cols), len(pv)
    pv_a, ps_a = np.array(pv, dtype=np.int64), np.array(ps, dtype=np.int64)
    d = g["pupils"].to_numpy(float)
    pd_ = d[pv_a]
    board_a = np.array(pb, dtype=bool)
    # variable blocks: x (npair) | u (n) | y (m) | e (m) | b (m)
    ox, ou, oy, oe, ob = 0, npair, npair + n, npair + n + m, npair + n + 2 * m
    nv = npair + n + 3 * m
    is_site = np.array([c in set(sites) for c in cols])
    y_cost = np.where(is_site, costs["new_school_wan"],
                      np.array([costs["keep_small_school_wan"] if c in small else 0.0 for c in cols]))
    c = np.concatenate([np.array(pc, dtype=float), d * _UNPLACED_WAN, y_cost, np.full(m, costs["classroom_wan"]),
                        np.full(m, costs["bed_wan"])])
    y_lo = np.array([1.0 if c_ in receivers else 0.0 for c_ in cols])
    y_hi = np.array([0.0 if c_ in forced_close else 1.0 for c_ in cols])
    size = np.array([float(rules.stage_class_size(level_of[c_])) for c_ in cols])
    classes = np.array([0.0 if c_ in set(sites) else float(seats_classes.at[c_, "classes"]) for c_ in cols])
    beds = np.array([0.0 if c_ in set(sites) else float(seats_classes.at[c_, "beds"]) for c_ in cols])
    big = np.array([float(rules.max_size.get(level_of[c_], rules.max_size["primary"])) for c_ in cols])
    e_hi = np.maximum(np.ceil(big / size) - classes, 0.0)
    lo = np.concatenate([np.zeros(npair + n), y_lo, np.zeros(2 * m)])
    hi = np.concatenate([np.ones(npair + n), y_hi, e_hi, np.full(m, np.inf)])
    integrality = np.concatenate([np.zeros(npair + n), np.ones(2 * m), np.zeros(m)])
    rows: list[sp.csr_matrix] = []
    lb: list[np.ndarray] = []
    ub: list[np.ndarray] = []

    def add(mat: sp.coo_matrix, low: np.ndarray, up: np.ndarray) -> None:
        rows.append(mat.tocsr())
        lb.append(low)
        ub.append(up)

    ar = np.arange(npair)
    # every group placed once (or unplaced)
    add(sp.coo_matrix((np.concatenate([np.ones(npair), np.ones(n)]),
                       (np.concatenate([pv_a, np.arange(n)]), np.concatenate([ox + ar, ou + np.arange(n)]))),
                      shape=(n, nv)), np.ones(n), np.ones(n))
    # x <= y
    add(sp.coo_matrix((np.concatenate([np.ones(npair), -np.ones(npair)]),
                       (np.concatenate([ar, ar]), np.concatenate([ox + ar, oy + ps_a]))), shape=(npair, nv)),
        np.full(npair, -np.inf), np.zeros(npair))
    # stay while the own school is open: x_{k,own} - y_own >= 0
    own_pair = [i for i in range(npair) if cols[ps_a[i]] == g.at[pv_a[i], "school_before"]]
    if own_pair:
        op = np.array(own_pair, dtype=np.int64)
        add(sp.coo_matrix((np.concatenate([np.ones(len(op)), -np.ones(len(op))]),
                           (np.concatenate([np.arange(len(op))] * 2), np.concatenate([ox + op, oy + ps_a[op]]))),
                          shape=(len(op), nv)), np.zeros(len(op)), np.full(len(op), np.inf))
    # classes: sum d x / size - e <= classes
    add(sp.coo_matrix((np.concatenate([pd_ / size[ps_a], -np.ones(m)]),
                       (np.concatenate([ps_a, np.arange(m)]), np.concatenate([ox + ar, oe + np.arange(m)]))),
                      shape=(m, nv)), np.full(m, -np.inf), classes)
    # size: sum d x - M y <= 0
    add(sp.coo_matrix((np.concatenate([pd_, -big]), (np.concatenate([ps_a, np.arange(m)]),
                                                     np.concatenate([ox + ar, oy + np.arange(m)]))),
                      shape=(m, nv)), np.full(m, -np.inf), np.zeros(m))
    # kept small schools keep the minimum enrolment: sum d x - E y >= 0
    small_idx = np.array([pos[s] for s in small], dtype=np.int64)
    if len(small_idx):
        sel = np.isin(ps_a, small_idx)
        where = {s: i for i, s in enumerate(small_idx)}
        add(sp.coo_matrix((np.concatenate([pd_[sel], -np.full(len(small_idx), float(rules.min_enrolment))]),
                           (np.concatenate([[where[s] for s in ps_a[sel]], np.arange(len(small_idx))]),
                            np.concatenate([ox + ar[sel], oy + small_idx]))), shape=(len(small_idx), nv)),
            np.zeros(len(small_idx)), np.full(len(small_idx), np.inf))
    # beds: boarders - new beds <= beds
    add(sp.coo_matrix((np.concatenate([pd_[board_a], -np.ones(m)]),
                       (np.concatenate([ps_a[board_a], np.arange(m)]), np.concatenate([ox + ar[board_a],
                                                                                       ob + np.arange(m)]))),
                      shape=(m, nv)), np.full(m, -np.inf), beds)
    if rules.max_closures is not None and len(small_idx):
        add(sp.coo_matrix((np.ones(len(small_idx)), (np.zeros(len(small_idx), dtype=np.int64), oy + small_idx)),
                          shape=(1, nv)), np.array([len(small_idx) - float(rules.max_closures)]), np.array([np.inf]))
    a = sp.vstack(rows).tocsr()
    res = milp(c, constraints=LinearConstraint(a, np.concatenate(lb), np.concatenate(ub)), integrality=integrality,
               bounds=Bounds(lo, hi), options={"time_limit": rules.time_limit, "mip_rel_gap": 1e-6, "disp": False})
    if res.x is None:
        if res.status == 2:
            raise InfeasibleError(
                "no layout meets all consolidation rules together (max_closures, minimum enrolment of kept "
                "schools, maximum school sizes, forced decisions)",
                fix="relax max_closures or min_enrolment, raise max_size, or allow new schools on sites")
        raise InfeasibleError("the consolidation model found no solution within the time limit",
                              fix="raise time_limit in the consolidation rules")
    y = res.x[oy:oy + m] > 0.5
    return {c_ for c_, open_ in zip(cols, y, strict=True) if open_}
