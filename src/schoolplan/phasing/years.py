"""Pupils of every year of a phased plan: who stays, who has moved, and what each move adds where.

A layout plan says where every pupil of the target year goes. A phased plan carries
that to any year ``y``: the base-year attendance is projected to ``y``
(:func:`~schoolplan.consolidate.project_attendance`), and the pupils of a *source*
school (one that closes, or sheds the pupils above its maximum size) go where the
plan sends that school's pupils of the same village and grade band, in the same
proportions (largest remainder, so whole pupils). In the target year this is the
plan's own assignment, pupil for pupil. A village-band a closing school has in an
earlier year but not in the target year goes to the nearest of the schools that
receive that school's pupils of the same band (within the band's day limit, or the
boarding ride limit where the band may board); at a school that only sheds pupils, it
stays.

Every quantity a constraint of the schedule needs — pupils per school and band,
boarders, bus riders, pupil-minutes — is then *separable* by source: with
:math:`x_i \\in \\{0, 1\\}` (source :math:`i`'s pupils have moved),

.. math::

    Q_j(x) = Q_j^{\\text{fixed}} + \\sum_i \\bigl[(1 - x_i)\\, Q^0_{ij} + x_i\\, Q^1_{ij}\\bigr],

because the only coupling inside :func:`~schoolplan.consolidate.layout.assignment_modes`
(today's beds limit the boarders among the pupils who stay at a school) involves one
source's own pupils at its own school. :func:`year_state` evaluates the two states of
every source once per year; the schedule model reads :math:`Q^0, Q^1` from them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from schoolplan.consolidate import Rules, project_attendance
from schoolplan.consolidate.attendance import largest_remainder
from schoolplan.consolidate.layout import assignment_modes
from schoolplan.consolidate.policy import receives
from schoolplan.schema import BANDS

if TYPE_CHECKING:
    from schoolplan.county import County
    from schoolplan.results import LayoutPlan

__all__ = ["NONE_ID", "Destinations", "YearState", "block_totals", "destinations", "rows_for", "year_state"]

_ROW_COLS = ["village_id", "band", "school_before", "school_id", "pupils", "cause"]
#: Stands for "no village" / "no school" in dictionary keys and block tables.
NONE_ID = "\x00none"


def _key(v: Any) -> Any:
    return NONE_ID if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA else v


def _val(k: Any) -> Any:
    return None if k == NONE_ID else k


@dataclass(frozen=True)
class Destinations:
    """Where the plan sends the target-year pupils of each source school.

    Attributes
    ----------
    sources
        Ids of the schools whose pupils move (closing schools, and schools shedding
        the pupils above their maximum size).
    closing
        The sources that close (decision ``merge`` or ``convert``).
    groups
        ``(village, band, source)`` → ``{destination: pupils}`` in the target year
        (destination ``None``: pupils the plan cannot place; ``source`` itself: the
        pupils a shedding school keeps).
    by_band
        ``(source, band)`` → ``{destination: pupils}``, summed over villages.
    receivers
        Schools open after the plan (keep, expand, new), by level.
    """

    sources: tuple[str, ...]
    closing: tuple[str, ...]
    groups: Mapping[tuple[Any, str, str], Mapping[Any, int]]
    by_band: Mapping[tuple[str, str], Mapping[Any, int]]
    receivers: Mapping[str, str]


def destinations(plan: LayoutPlan) -> Destinations:
    """The target-year destinations of every source school of a layout plan."""
    a = plan.assignment
    s = plan.schools
    closing = [str(i) for i in s.index[s["decision"].isin(["merge", "convert"])]]
    movers = a[a["moved"].astype(bool)]
    sources = sorted(set(closing) | {str(x) for x in movers["school_before"].dropna()})
    rows = a[a["school_before"].isin(sources)]
    groups: dict[tuple[Any, str, str], dict[Any, int]] = {}
    by_band: dict[tuple[str, str], dict[Any, int]] = {}
    for v, b, src, dst, p in zip(rows["village_id"], rows["band"], rows["school_before"], rows["school_id"],
                                 rows["pupils"], strict=True):
        d = _key(dst)
        g = groups.setdefault((_key(v), str(b), str(src)), {})
        g[d] = g.get(d, 0) + int(p)
        bb = by_band.setdefault((str(src), str(b)), {})
        bb[d] = bb.get(d, 0) + int(p)
    recv = s[s["decision"].isin(["keep", "expand", "new"])]
    return Destinations(sources=tuple(sources), closing=tuple(sorted(closing)), groups=groups, by_band=by_band,
                        receivers={str(k): str(v) for k, v in recv["level"].items()})


def _fallback(v: Any, band: str, src: str, dest: Destinations, minutes: pd.DataFrame, rules: Rules) -> dict[Any, int]:
    """Destination weights for a village-band the plan does not see at ``src`` in the target year."""
    own = dest.by_band.get((src, band), {})
    if src not in dest.closing:  # a shedding school keeps the pupils the plan does not see
        return {src: 1}
    cands = [d for d in own if d != NONE_ID and d != src] or \
        [r for r, lv in dest.receivers.items() if r != src and receives(lv, band)]
    if v != NONE_ID and v in minutes.index and cands:
        t = minutes.reindex(index=[v], columns=cands).iloc[0].to_numpy(float)
        reach = float(rules.day_limit_minutes[band])
        if band in rules.boarding_bands:
            reach = max(reach, rules.max_board_minutes)
        ok = np.isfinite(t) & (t <= reach)
        if ok.any():
            best = cands[int(np.flatnonzero(ok)[np.argmin(t[ok])])]
            return {best: 1}
    if own:
        moved = {d: p for d, p in own.items() if d != src}
        return moved or dict(own)
    return {cands[0]: 1} if cands else {NONE_ID: 1}


def rows_for(flows: pd.DataFrame, moved: Sequence[str], dest: Destinations, minutes: pd.DataFrame,
             rules: Rules) -> pd.DataFrame:
    """Assignment rows of one year when the pupils of the sources in ``moved`` have moved.

    Parameters
    ----------
    flows
        That year's attendance ``village_id, band, school_id, pupils``
        (:func:`~schoolplan.consolidate.project_attendance`).
    moved
        Source schools whose pupils have moved by that year.
    dest
        The plan's destinations (:func:`destinations`).
    minutes
        Door-to-door minutes, villages × schools (for the fallback of village-bands
        the plan does not see).
    rules
        Day limits and boarding bands (for the same fallback).

    Returns
    -------
    pandas.DataFrame
        ``village_id, band, school_before, school_id, pupils, cause`` (whole pupils).
    """
    moving = set(moved)
    f = flows[flows["pupils"] > 0]
    src = f["school_id"].map(lambda x: _key(x) in moving)
    stay = f[~src]
    out = [pd.DataFrame({"village_id": stay["village_id"].to_numpy(), "band": stay["band"].to_numpy(),
                         "school_before": stay["school_id"].to_numpy(), "school_id": stay["school_id"].to_numpy(),
                         "pupils": stay["pupils"].to_numpy(np.int64), "cause": None})]
    rows = []
    for v, b, s, n in zip(f.loc[src, "village_id"], f.loc[src, "band"], f.loc[src, "school_id"],
                          f.loc[src, "pupils"], strict=True):
        k = (_key(v), str(b), str(s))
        w = dest.groups.get(k) or _fallback(k[0], str(b), str(s), dest, minutes, rules)
        ids = list(w)
        take = largest_remainder(np.array([w[d] for d in ids], dtype=float), int(n))
        for d, p in zip(ids, take, strict=True):
            if p > 0:
                rows.append((_val(k[0]), str(b), str(s), _val(d), int(p), "capacity" if d == NONE_ID else None))
    if rows:
        out.append(pd.DataFrame(rows, columns=_ROW_COLS))
    res = pd.concat(out, ignore_index=True)
    res["pupils"] = res["pupils"].astype(np.int64)
    return res


@dataclass(frozen=True)
class YearState:
    """One year's pupils in the two states of every source (see the module docstring).

    Attributes
    ----------
    year
        School year (its autumn).
    flows
        Attendance of the year without the plan.
    none
        Assignment (with modes) when no source has moved.
    all
        Assignment (with modes) when every source has moved.
    none_totals, all_totals
        :func:`block_totals` of the two.
    """

    year: int
    flows: pd.DataFrame
    none: pd.DataFrame
    all: pd.DataFrame
    none_totals: pd.DataFrame
    all_totals: pd.DataFrame


def year_state(year: int, base: pd.DataFrame, county: County, demand: pd.DataFrame, dest: Destinations,
               minutes: pd.DataFrame, walks: pd.DataFrame, rules: Rules, beds: pd.Series) -> YearState:
    """The pupils of ``year`` with no source moved and with every source moved."""
    flows = project_attendance(base, county, demand, int(year))
    none = assignment_modes(rows_for(flows, (), dest, minutes, rules), minutes, walks, rules, beds=beds)
    full = assignment_modes(rows_for(flows, dest.sources, dest, minutes, rules), minutes, walks, rules, beds=beds)
    return YearState(year=int(year), flows=flows, none=none, all=full, none_totals=block_totals(none, dest.sources),
                     all_totals=block_totals(full, dest.sources))


def block_totals(a: pd.DataFrame, sources: Sequence[str]) -> pd.DataFrame:
    """Per block (source id, or ``""`` for pupils of schools that are no source) and school:
    pupils per band, boarders, bus riders and pupil-minutes.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``(block, school_id)``: one column per band, ``boarders``,
        ``riders``, ``pupil_minutes`` (no-route and unplaced pupils count 0 minutes).
    """
    src = set(sources)
    block = np.array(["" if _key(x) not in src else str(x) for x in a["school_before"]], dtype=object)
    school = np.array([str(_key(x)) for x in a["school_id"]], dtype=object)
    keys = pd.MultiIndex.from_arrays([block, school], names=["block", "school_id"])
    codes, uniq = pd.factorize(keys)
    n = len(uniq)
    pupils = a["pupils"].to_numpy(np.int64)
    mode = a["mode"].to_numpy(object)
    served = np.isin(mode, ["walk", "bus", "boarding", "no_route"])
    band = a["band"].astype(str).to_numpy(object)
    cols: dict[str, np.ndarray] = {}
    for b in BANDS:
        v = np.zeros(n)
        np.add.at(v, codes, np.where(served & (band == b), pupils, 0))
        cols[b] = v
    for name, mask in (("boarders", mode == "boarding"), ("riders", mode == "bus")):
        v = np.zeros(n)
        np.add.at(v, codes, np.where(mask, pupils, 0))
        cols[name] = v
    minutes = np.nan_to_num(a["minutes"].to_numpy(float), nan=0.0)
    v = np.zeros(n)
    np.add.at(v, codes, np.where(served, pupils * minutes, 0.0))
    cols["pupil_minutes"] = v
    out = pd.DataFrame(cols, index=pd.MultiIndex.from_tuples(list(uniq), names=["block", "school_id"]))
    for c in [*BANDS, "boarders", "riders"]:
        out[c] = out[c].round().astype(np.int64)
    return out
