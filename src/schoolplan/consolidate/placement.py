"""Placing the pupils of closing schools at receiving schools: a min-cost flow on HiGHS.

Each moving group :math:`k` (pupils :math:`p_k` of one village and band at one closing
school) is sent to receiving schools :math:`r` it may reach: teaching its band, within
the day limit of the band, or — for bands that may board — within the boarding ride
limit. With minutes :math:`t_{kr}`, a receiving school's free seats :math:`F_r` (its
seats less the pupils who stay) and extra room up to its maximum size :math:`E_r`:

.. math::

    \\min \\sum_{k,r} t_{kr} x_{kr} + \\pi \\sum_r o_r + M \\sum_k u_k \\quad
    \\text{s.t.}\\quad \\sum_r x_{kr} + u_k = p_k,\\;
    \\sum_k x_{kr} = f_r + o_r,\\; 0 \\le f_r \\le F_r,\\; 0 \\le o_r \\le E_r .

:math:`\\pi` (``expansion_penalty_minutes``) makes pupils fill empty seats before
classrooms are built. The matrix is a network matrix, so the optimal vertex found by
the dual simplex is integral: whole pupils. :math:`u_k > 0` means every reachable
receiving school is at its maximum size (the caller then opens a new school).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import linprog

from schoolplan.consolidate.attendance import largest_remainder
from schoolplan.consolidate.policy import receives
from schoolplan.consolidate.rules import Rules
from schoolplan.errors import InfeasibleError

__all__ = ["place_pupils"]

_SLACK = 1e7


def _reach(band: str, rules: Rules, respect_limits: bool) -> float:
    if not respect_limits:
        return np.inf
    limit = float(rules.day_limit_minutes[band])
    return max(limit, rules.max_board_minutes) if band in rules.boarding_bands else limit


def place_pupils(
    moving: pd.DataFrame,
    minutes: pd.DataFrame,
    level_of: Mapping[str, str],
    receivers: list[str],
    staying: pd.Series,
    seats: pd.Series,
    max_size: pd.Series,
    rules: Rules,
    *,
    forced: frozenset[str] = frozenset(),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Send moving pupils to receiving schools (see the module docstring).

    Parameters
    ----------
    moving
        ``village_id, band, school_before, pupils`` (int) of the schools that close.
    minutes
        Door-to-door minutes villages × schools (receivers included).
    level_of
        Level per school id.
    receivers
        Receiving school ids.
    staying
        Pupils staying at each receiver (its own pupils).
    seats
        Seats now per receiver.
    max_size
        Maximum pupils per receiver.
    rules
        Limits, boarding bands, expansion penalty.
    forced
        Closing schools forced by the planner: their pupils may go beyond the limits
        (the audit reports it).

    Returns
    -------
    tuple of DataFrame
        Placed rows ``village_id, band, school_before, school_id, pupils`` and unplaced
        rows ``village_id, band, school_before, pupils, cause`` (``capacity``: every
        reachable receiving school is full; ``no_receiver``: none reachable).
    """
    cols = ["village_id", "band", "school_before", "school_id", "pupils"]
    if moving.empty:
        return pd.DataFrame(columns=cols), pd.DataFrame(columns=[*cols[:3], "pupils", "cause"])
    own = np.array([minutes.at[v, b] if v in minutes.index and b in minutes.columns else np.nan
                    for v, b in zip(moving["village_id"], moving["school_before"], strict=True)], dtype=float)
    routed = moving["village_id"].notna().to_numpy() & np.isfinite(own)
    known = moving[routed].reset_index(drop=True)
    unknown = moving[~routed]  # no village, or no road route to their school today: they follow their mates
    rec = list(receivers)
    t = minutes.reindex(index=known["village_id"], columns=rec).to_numpy(float)
    vi, sj, cost = [], [], []
    for band in known["band"].unique():
        rows = np.flatnonzero(known["band"].to_numpy() == band)
        teach = np.array([receives(level_of[r], str(band)) for r in rec], dtype=bool)
        for k in rows:
            reach = _reach(str(band), rules, str(known.at[k, "school_before"]) not in forced)
            ok = teach & np.isfinite(t[k]) & (t[k] <= reach)
            js = np.flatnonzero(ok)
            vi.extend([k] * len(js))
            sj.extend(js.tolist())
            cost.extend(t[k, js].tolist())
    n, m, npair = len(known), len(rec), len(vi)
    if n == 0 or m == 0 or npair == 0:  # nothing to solve: every group follows its mates or has no receiver
        lost = known.assign(cause="no_receiver")
        followed, stranded = _follow(unknown, pd.DataFrame(columns=cols), level_of)
        lost = pd.concat([lost, stranded.assign(cause="no_route")], ignore_index=True)
        return followed[cols], lost[["village_id", "band", "school_before", "pupils", "cause"]]
    vi_a, sj_a = np.array(vi, dtype=np.int64), np.array(sj, dtype=np.int64)
    stay = staying.reindex(rec).fillna(0).to_numpy(float)
    cap = seats.reindex(rec).fillna(0).to_numpy(float)
    big = max_size.reindex(rec).fillna(0).to_numpy(float)
    free = np.maximum(np.minimum(cap, big) - stay, 0.0)
    extra = np.maximum(big - np.maximum(np.minimum(cap, big), stay), 0.0)
    # variables: x (pairs) | f (m) | o (m) | u (n)
    c = np.concatenate([np.array(cost, dtype=float), np.zeros(m), np.full(m, rules.expansion_penalty_minutes),
                        np.full(n, _SLACK)])
    a_k = sp.hstack([sp.csr_matrix((np.ones(npair), (vi_a, np.arange(npair))), shape=(n, npair)),
                     sp.csr_matrix((n, 2 * m)), sp.identity(n)])
    a_r = sp.hstack([sp.csr_matrix((np.ones(npair), (sj_a, np.arange(npair))), shape=(m, npair)),
                     -sp.identity(m), -sp.identity(m), sp.csr_matrix((m, n))])
    a = sp.vstack([a_k, a_r]).tocsr()
    b = np.concatenate([known["pupils"].to_numpy(float), np.zeros(m)])
    bounds = [(0, None)] * npair + [(0, f) for f in free] + [(0, e) for e in extra] + [(0, None)] * n
    res = linprog(c, A_eq=a, b_eq=b, bounds=bounds, method="highs-ds")
    if res.status != 0 or res.x is None:
        raise InfeasibleError(f"placing the pupils of closing schools failed ({res.message})",
                              fix="report this with your data (run with --debug)")
    x = np.rint(res.x[:npair]).astype(np.int64)
    u = np.rint(res.x[npair + 2 * m:]).astype(np.int64)
    nz = x > 0
    placed = pd.DataFrame({"village_id": known["village_id"].to_numpy()[vi_a[nz]],
                           "band": known["band"].to_numpy()[vi_a[nz]],
                           "school_before": known["school_before"].to_numpy()[vi_a[nz]],
                           "school_id": np.array(rec, dtype=object)[sj_a[nz]], "pupils": x[nz]})
    has_pair = np.zeros(n, dtype=bool)
    has_pair[vi_a] = True
    lost = known[u > 0].assign(pupils=u[u > 0], cause=np.where(has_pair[u > 0], "capacity", "no_receiver"))
    followed, stranded = _follow(unknown, placed, level_of)
    placed = pd.concat([placed, followed], ignore_index=True)
    lost = pd.concat([lost, stranded.assign(cause="no_route")], ignore_index=True)
    return placed[cols], lost[["village_id", "band", "school_before", "pupils", "cause"]]


def _follow(unknown: pd.DataFrame, placed: pd.DataFrame,
            level_of: Mapping[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pupils of unknown village (or route) follow their school-mates of the same band (in proportion).

    Without school-mates of their band they follow the others, to the schools among theirs
    that teach the band. Returns the placed rows and the rows that have no school-mate to follow.
    """
    rows, stranded = [], []
    for i, u in unknown.iterrows():
        mates = placed[(placed["school_before"] == u["school_before"]) & (placed["band"] == u["band"])]
        if mates.empty:
            mates = placed[placed["school_before"] == u["school_before"]]
            mates = mates[[receives(level_of[s], str(u["band"])) for s in mates["school_id"]]]
        if mates.empty:
            stranded.append(i)
            continue
        share = mates.groupby("school_id")["pupils"].sum()
        alloc = largest_remainder(share.to_numpy(float), int(u["pupils"]))
        for sid, p in zip(share.index, alloc, strict=True):
            if p > 0:
                rows.append({"village_id": u["village_id"], "band": u["band"], "school_before": u["school_before"],
                             "school_id": sid, "pupils": int(p)})
    return (pd.DataFrame(rows, columns=["village_id", "band", "school_before", "school_id", "pupils"]),
            unknown.loc[stranded, ["village_id", "band", "school_before", "pupils"]])
