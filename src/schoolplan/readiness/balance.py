"""优质均衡 readiness: which school fails which indicator, the 差异系数, and the cheapest fix.

The seven resource indicators, their per-pupil thresholds and the 差异系数 limits come
from the standards (``[balance]``, 教督〔2017〕6号); values and coefficients are those
of :mod:`schoolplan.metrics` (one definition). A school passes when it meets at least
``school_min_indicators_met`` of the seven thresholds and reaches
``school_min_share_of_threshold`` of every threshold it misses. A nine-year school is
counted in both the primary and the junior pool with the same per-pupil values, so it
must meet the higher of the two thresholds.

Cheapest fix
------------
For schools :math:`j` with pupils :math:`n_j`, indicators :math:`i` with resource
:math:`R_{ij}` (teachers, m², yuan, rooms), scale :math:`k_i` (100 for "per 100 pupils",
else 1), threshold :math:`\\theta_{ij}` and unit cost :math:`c_i` (万元, standards
``[balance.fix_costs_wan]``), choose additions :math:`a_{ij} \\ge 0` (whole teachers and
rooms) and binaries :math:`f_{ij}` (indicator allowed to miss):

.. math::

    \\min \\sum_{ij} c_i a_{ij} \\quad\\text{s.t.}\\quad
    \\frac{k_i (R_{ij} + a_{ij})}{n_j} \\ge \\theta_{ij}\\,(1 - (1 - s_0) f_{ij}),\\qquad
    \\sum_i f_{ij} \\le 7 - m_0,

and, for every pool :math:`L` (primary, junior; schools of at least
``cv_exclude_below_pupils``) and indicator, the 差异系数 limit
:math:`S(x) \\le \\gamma_L \\bar x` with :math:`x_j = k_i (R_{ij} + a_{ij}) / n_j`,
weights :math:`p_j = n_j / \\sum n`, :math:`\\bar x = \\sum p_j x_j`,
:math:`S = \\sqrt{\\sum p_j (x_j - \\bar x)^2}`. :math:`S - \\gamma \\bar x` is convex, so
the limit is enforced by outer approximation (Kelley's cutting planes): at a solution
:math:`x^0` that breaks it, the cut

.. math::

    \\sum_j p_j \\left(\\frac{x^0_j - \\bar x^0}{S^0} - \\gamma\\right) x_j \\le 0

(the tangent of the convex function, whose constant term vanishes because :math:`S`
is homogeneous in the deviations) is added and the MILP re-solved until every
coefficient is within its limit. Each cut is valid for every feasible point, so the
last solution is the cheapest within the limits (up to the solver's gap).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from schoolplan._highs import HighsModel
from schoolplan.metrics import (
    BALANCE_INDICATORS,
    balance_report,
    coefficient_of_variation,
    school_balance_values,
)

__all__ = ["balance_pools", "cheapest_fix", "county_readiness", "school_readiness", "thresholds"]

_POOLS = {"primary": ("primary", "teaching_point", "nine_year"), "junior": ("junior", "nine_year")}
_INTEGER = ("teachers_qualified", "teachers_key", "teachers_pe_art", "multimedia_rooms")
_EPS = 1e-9  # relative tolerance of "meets the threshold" (floating-point noise, not substance)


def thresholds(schools: pd.DataFrame, standards: Mapping[str, Any]) -> pd.DataFrame:
    """Per-school thresholds of the seven indicators (nine-year: the higher of the two levels).

    Returns
    -------
    pandas.DataFrame
        Same index as ``schools``, one column per indicator key; NaN for levels
        without thresholds (kindergartens).
    """
    th = standards["balance"]["thresholds"]
    out = pd.DataFrame(index=schools.index, columns=list(BALANCE_INDICATORS), dtype=float)
    for key in BALANCE_INDICATORS:
        by = {lv: max(float(th[pool][key]) for pool, lvs in _POOLS.items() if lv in lvs)
              for lv in {x for lvs in _POOLS.values() for x in lvs}}
        out[key] = schools["level"].map(by).astype(float)
    return out


def balance_pools(schools: pd.DataFrame, standards: Mapping[str, Any]) -> dict[str, pd.Index]:
    """Schools in the 差异系数 pool of each level (at least ``cv_exclude_below_pupils`` pupils)."""
    low = int(standards["balance"].get("cv_exclude_below_pupils", 0))
    n = schools["students"].fillna(0)
    return {pool: schools.index[schools["level"].isin(lvs) & (n >= max(low, 1))] for pool, lvs in _POOLS.items()}


def school_readiness(schools: pd.DataFrame, standards: Mapping[str, Any]) -> pd.DataFrame:
    """Which school meets which 优质均衡 indicator, and whether it passes.

    Parameters
    ----------
    schools
        Compulsory schools with ``level``, ``students`` and the resource columns of
        :data:`schoolplan.metrics.BALANCE_INDICATORS` (missing values: not assessable).
    standards
        Norms (``[balance]``).

    Returns
    -------
    pandas.DataFrame
        Long table ``school_id, indicator, value, threshold, share`` (value ÷ threshold),
        ``met`` (bool; NA when the value is unknown), plus per school
        ``indicators_met`` and ``passes`` (bool; NA when any value is unknown).
    """
    bal = standards["balance"]
    m0 = int(bal["school_min_indicators_met"])
    s0 = float(bal["school_min_share_of_threshold"])
    values = school_balance_values(schools)
    th = thresholds(schools, standards)
    long = values.stack(future_stack=True).rename("value").to_frame()
    long["threshold"] = th.stack(future_stack=True)
    long.index.names = ["school_id", "indicator"]
    long = long.reset_index()
    long = long[long["threshold"].notna()]
    long["share"] = long["value"] / long["threshold"]
    long["met"] = (long["value"] >= long["threshold"] * (1 - _EPS)).astype("boolean").mask(long["value"].isna())
    per = long.groupby("school_id").agg(known=("value", lambda v: bool(v.notna().all())),
                                        indicators_met=("met", lambda v: int(v.fillna(False).sum())),
                                        worst=("share", "min"))
    ok = (per["indicators_met"] >= m0) & (per["worst"] >= s0 - _EPS)
    per["passes"] = ok.astype("boolean").mask(~per["known"])
    long = long.merge(per[["indicators_met", "passes"]], left_on="school_id", right_index=True)
    return long.reset_index(drop=True)


def _unit_costs(standards: Mapping[str, Any]) -> dict[str, float]:
    costs = standards["balance"]["fix_costs_wan"]
    return {col: float(costs[col]) for col, *_ in BALANCE_INDICATORS.values()}


def cheapest_fix(schools: pd.DataFrame, standards: Mapping[str, Any], *, time_limit: float = 30.0,
                 max_rounds: int = 60) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The cheapest additions that make every school and both 差异系数 pools pass (module docs).

    Parameters
    ----------
    schools
        As for :func:`school_readiness`; schools with an unknown value are left out
        (named in the summary).
    standards
        Norms (``[balance]`` with ``fix_costs_wan``).
    time_limit
        Seconds per MILP solve.
    max_rounds
        Most cutting-plane rounds.

    Returns
    -------
    actions : pandas.DataFrame
        ``school_id, resource, indicator, add`` (whole teachers, rooms, m² and yuan), ``cost_wan``.
    summary : dict
        ``status`` ("optimal", "nothing_to_do", "not_assessable", or HiGHS' status),
        ``cost_wan``, ``rounds``, ``schools_fixed``, ``left_out`` (ids), ``cv_after``
        (pool → indicator → coefficient after the additions), and totals per resource.
    """
    cols = ["school_id", "resource", "indicator", "add", "cost_wan"]
    bal = standards["balance"]
    m0 = int(bal["school_min_indicators_met"])
    s0 = float(bal["school_min_share_of_threshold"])
    res_cols = [c for c, *_ in BALANCE_INDICATORS.values()]
    keys = list(BALANCE_INDICATORS)
    pupils = schools["students"].astype(float)
    known = schools.index[pupils.gt(0) & schools.reindex(columns=res_cols).notna().all(axis=1)
                          & schools["level"].isin(_POOLS["primary"] + _POOLS["junior"])]
    left_out = [str(s) for s in schools.index.difference(known)]
    if not len(known):
        return pd.DataFrame(columns=cols), {"status": "not_assessable", "cost_wan": np.nan, "rounds": 0,
                                            "schools_fixed": 0, "left_out": left_out, "cv_after": {}}
    s = schools.loc[known]
    n = s["students"].to_numpy(float)
    R = s[res_cols].to_numpy(float)
    k = np.array([100.0 if BALANCE_INDICATORS[key][1] == "100" else 1.0 for key in keys])
    th = thresholds(s, standards)[keys].to_numpy(float)
    cost = np.array([_unit_costs(standards)[c] for c in res_cols])
    J, m = R.shape
    lp = HighsModel()
    integer = np.array([c in _INTEGER for c in res_cols])  # whole teachers and rooms
    A = np.column_stack([lp.add_cols(np.full(J, cost[i]), 0.0, np.inf, integer=bool(integer[i])) + np.arange(J)
                         for i in range(m)])  # column of a_ij
    f0 = lp.add_cols(np.zeros(J * m), 0.0, 1.0, integer=True)
    # k_i (R + a) / n >= th (1 - (1 - s0) f)  <=>  a + th (1 - s0) n / k f >= th n / k - R
    need = th * n[:, None] / k[None, :]
    r0 = lp.add_rows((need - R).ravel(), np.inf, J * m)
    idx = np.arange(J * m)
    lp.add_entries(r0 + idx, A.ravel(), 1.0)
    lp.add_entries(r0 + idx, f0 + idx, ((1.0 - s0) * need).ravel())
    r1 = lp.add_rows(-np.inf, float(m - m0), J)
    lp.add_entries(np.repeat(r1 + np.arange(J), m), f0 + idx, 1.0)
    pools = {p: np.flatnonzero(np.isin(s.index, ix)) for p, ix in balance_pools(s, standards).items()}
    limits = {p: float(bal[f"cv_{p}"]) for p in pools}
    rounds, status, add = 0, "optimal", np.zeros((J, m))
    for rounds in range(1, max_rounds + 1):  # noqa: B007 - the count is reported
        run = lp.solve(time_limit=time_limit, mip_rel_gap=1e-6)
        status = run.status
        if run.x is None:
            break
        # whole teachers and rooms; areas and money rounded up to whole m² and yuan
        add = np.where(integer[None, :], np.round(run.x[A]), np.ceil(np.maximum(run.x[A], 0.0) - 1e-6))
        x = k[None, :] * (R + add) / n[:, None]
        cuts = 0
        for p, rows in pools.items():
            if len(rows) < 2:
                continue
            w = n[rows] / n[rows].sum()
            for i in range(m):
                xi = x[rows, i]
                mean = float(w @ xi)
                sd = float(np.sqrt(w @ (xi - mean) ** 2))
                if mean <= 0 or sd <= limits[p] * mean * (1 + 1e-6):
                    continue
                # cut in a: sum_j w_j ((x0_j - mean)/sd - gamma) k (R_j + a_j) / n_j <= 0, gamma slightly inside
                g = w * ((xi - mean) / sd - (limits[p] - 1e-4)) * k[i] / n[rows]
                r = lp.add_rows(-np.inf, float(-(g @ R[rows, i])), 1)
                lp.add_entries(np.full(len(rows), r), A[rows, i], g)
                cuts += 1
        if not cuts:
            break
    if run.x is None:
        return pd.DataFrame(columns=cols), {"status": status, "cost_wan": np.nan, "rounds": rounds,
                                            "schools_fixed": 0, "left_out": left_out, "cv_after": {}}
    x = k[None, :] * (R + add) / n[:, None]
    cv_after = {p: {keys[i]: coefficient_of_variation(x[rows, i], n[rows]) for i in range(m)}
                for p, rows in pools.items() if len(rows)}
    jj, ii = np.nonzero(add > 1e-6)
    actions = pd.DataFrame({"school_id": s.index[jj].astype(str), "resource": [res_cols[i] for i in ii],
                            "indicator": [keys[i] for i in ii], "add": add[jj, ii],
                            "cost_wan": add[jj, ii] * cost[ii]})
    summary = {"status": status if len(actions) else "nothing_to_do", "cost_wan": float(actions["cost_wan"].sum()),
               "rounds": rounds, "schools_fixed": int(actions["school_id"].nunique()), "left_out": left_out,
               "cv_after": cv_after,
               **{f"add_{c}": float(add[:, i].sum()) for i, c in enumerate(res_cols)}}
    return actions[cols], summary


def county_readiness(schools: pd.DataFrame, standards: Mapping[str, Any]) -> pd.DataFrame:
    """差异系数 per pool and indicator (:func:`schoolplan.metrics.balance_report`, same pools)."""
    low = int(standards["balance"].get("cv_exclude_below_pupils", 0))
    return balance_report(schools, standards, exclude_below=low)
