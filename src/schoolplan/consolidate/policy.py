"""The 两集中 policy in rules mode: which schools receive, which may stay, which may close.

1. **Receiving schools** (接收学校): township central schools (flagged ``is_central``,
   else the township's largest primary), county-seat schools, nine-year schools, and
   schools the planner forces to ``expand``. With ``junior_to_county_seat`` only
   county-seat junior schools (and nine-year schools) receive junior pupils.
2. **Keep test** for every other school, on its target-year pupils: it stays as a
   small school only if all its pupils live within the bus radius of it, it has at
   least ``min_enrolment`` pupils, and its quality and condition scores reach the
   thresholds (when given). Junior schools outside the county seat fail it when
   juniors concentrate into the county seat.
3. **Closure test** (应留必留, 先建后撤): a school that fails the keep test closes only
   if every one of its pupils reaches a receiving school within the day limit of
   their grade band, or may board there (bands allowed to board, ride ≤
   ``max_board_minutes``). Otherwise it stays, and the reason gives the numbers
   ("23 pupils of grades 1–3 would ride 41 min, limit 30").

Receivers never change during the test, so the result does not depend on the order
schools are looked at. A larger bus radius can only pass more schools in step 2,
and step 3 does not depend on it when the bands beyond it may board, so closures
never increase with the radius in that case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from schoolplan.consolidate.rules import Rules
from schoolplan.schema import BANDS

__all__ = ["Closure", "anchors", "closure_test", "door_to_door", "keep_test", "receives"]


def door_to_door(bus: pd.DataFrame, walk: pd.DataFrame | None, walk_limit: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Door-to-door minutes (walk when the walk is within ``walk_limit``, else bus) and the walk flag."""
    if walk is None:
        return bus, pd.DataFrame(False, index=bus.index, columns=bus.columns)
    w = walk.reindex(index=bus.index, columns=bus.columns)
    walks = (w <= walk_limit).fillna(False).astype(bool)
    return bus.where(~walks, w), walks


def receives(level: str, band: str) -> bool:
    """Whether a school of ``level`` teaches grade band ``band``."""
    return level in BANDS[band]["levels"]  # type: ignore[operator]


def anchors(schools: pd.DataFrame, county_seat: str | None, rules: Rules) -> dict[str, str]:
    """Receiving schools (id → kind: central, county_seat, nine_year, largest, junior_kept, forced).

    Parameters
    ----------
    schools
        Open compulsory schools (``level``, ``township_id``, ``is_central``, ``students``).
    county_seat
        Township id of the county seat (县城), or None.
    rules
        The plan's rules (``junior_to_county_seat``, forced decisions).
    """
    out: dict[str, str] = {}
    for sid, row in schools.iterrows():
        lv, tw = row["level"], row.get("township_id")
        central = bool(row.get("is_central", False)) if not pd.isna(row.get("is_central", False)) else False
        if lv == "nine_year":
            out[str(sid)] = "nine_year"
        elif lv == "primary" and (central or tw == county_seat):
            out[str(sid)] = "county_seat" if tw == county_seat else "central"
        elif lv == "junior" and (tw == county_seat or not rules.junior_to_county_seat):
            out[str(sid)] = "county_seat" if tw == county_seat else "junior_kept"
    prim = schools[schools["level"].isin(["primary", "nine_year"])]
    for _tw, group in prim.groupby("township_id"):
        if not any(str(s) in out for s in group.index):
            big = pd.to_numeric(group["students"], errors="coerce").fillna(0).astype(float).idxmax()
            out[str(big)] = "largest"
    for sid, d in rules.force.items():
        if d == "expand" and sid in schools.index:
            out[str(sid)] = "forced"
    return out


def keep_test(
    schools: pd.DataFrame,
    flows: pd.DataFrame,
    bus: pd.DataFrame,
    rules: Rules,
    *,
    county_seat: str | None,
    receivers: Mapping[str, str],
) -> pd.DataFrame:
    """The small-school keep test, as numbers per school.

    Returns
    -------
    pandas.DataFrame
        Indexed by school id: ``pupils`` (target year), ``far_pupils`` (pupils living
        beyond the bus radius of the school, or with no road route to it),
        ``far_villages``, ``quality``, ``condition``, and booleans ``radius_ok``,
        ``enrolment_ok``, ``quality_ok``, ``condition_ok``, ``junior_moves`` (the
        school is a junior school outside the county seat and juniors concentrate),
        ``passes``. Receiving schools have ``passes`` True.
    """
    f = flows.dropna(subset=["village_id"])
    t = pd.Series([bus.at[v, s] if s in bus.columns else np.nan for v, s in zip(f["village_id"], f["school_id"],
                                                                              strict=True)], index=f.index, dtype=float)
    far = f[(t > rules.bus_minutes) | t.isna()]
    pupils = flows.groupby("school_id")["pupils"].sum()
    rows = []
    for sid, row in schools.iterrows():
        q = pd.to_numeric(pd.Series([row.get("quality_score")]), errors="coerce").iloc[0]
        c = pd.to_numeric(pd.Series([row.get("condition_score")]), errors="coerce").iloc[0]
        mine = far[far["school_id"] == sid]
        n = int(pupils.get(sid, 0))
        rec = {
            "pupils": n, "far_pupils": int(mine["pupils"].sum()), "far_villages": int(mine["village_id"].nunique()),
            "quality": q, "condition": c,
            "radius_ok": mine.empty, "enrolment_ok": n >= rules.min_enrolment,
            "quality_ok": bool(pd.isna(q) or rules.min_quality is None or q >= rules.min_quality),
            "condition_ok": bool(pd.isna(c) or rules.min_condition is None or c >= rules.min_condition),
            "junior_moves": bool(row["level"] == "junior" and rules.junior_to_county_seat
                                 and row.get("township_id") != county_seat),
        }
        rec["passes"] = bool(str(sid) in receivers or (rec["radius_ok"] and rec["enrolment_ok"] and rec["quality_ok"]
                                                     and rec["condition_ok"] and not rec["junior_moves"]))
        rows.append(pd.Series(rec, name=sid))
    cols = ["pupils", "far_pupils", "far_villages", "quality", "condition", "radius_ok", "enrolment_ok",
            "quality_ok", "condition_ok", "junior_moves", "passes"]
    return pd.DataFrame(rows, columns=cols) if rows else pd.DataFrame(columns=cols)


@dataclass(frozen=True)
class Closure:
    """Whether a school's pupils can all move, and who cannot.

    Attributes
    ----------
    feasible
        Every pupil reaches a receiving school within the day limit of their band,
        or may board there.
    blocked
        ``band, pupils, villages, minutes, limit, cause`` of the pupils who cannot
        (pupils without a road route to their own school are not judged: they follow
        their school-mates)
        (cause ``over_limit``: the nearest receiving school is beyond the day limit and
        the band may not board; ``too_far``: beyond the boarding ride limit;
        ``no_route``: no road route to any receiving school; ``no_receiver``: no
        receiving school teaches the band).
    """

    feasible: bool
    blocked: pd.DataFrame


def closure_test(
    sid: str,
    flows: pd.DataFrame,
    minutes: pd.DataFrame,
    level_of: Mapping[str, str],
    receivers: list[str],
    rules: Rules,
) -> Closure:
    """Can the pupils of school ``sid`` all reach a receiving school within their limits?

    Parameters
    ----------
    sid
        The school that would close.
    flows
        Target-year attendance (``village_id, band, school_id, pupils``).
    minutes
        Door-to-door minutes villages × schools.
    level_of
        School level per id (receivers included).
    receivers
        Ids of the receiving schools (the school itself excluded).
    rules
        Day limits, boarding bands and ride limits.
    """
    mine = flows[(flows["school_id"] == sid) & flows["village_id"].notna()]
    # pupils with no road route to their own school cannot be judged by travel time: they follow the others
    if sid in minutes.columns and len(mine):
        mine = mine[np.isfinite(minutes.reindex(index=mine["village_id"])[sid].to_numpy(float))]
    rows = []
    for band, grp in mine.groupby("band"):
        rec = [r for r in receivers if r != sid and receives(level_of[r], str(band))]
        limit = float(rules.day_limit_minutes[str(band)])
        board = str(band) in rules.boarding_bands
        if not rec:
            rows.append({"band": band, "pupils": int(grp["pupils"].sum()), "villages": grp["village_id"].nunique(),
                         "minutes": np.nan, "limit": limit, "cause": "no_receiver"})
            continue
        best = minutes.reindex(index=grp["village_id"], columns=rec).min(axis=1).to_numpy(float)
        reach = limit if not board else max(limit, rules.max_board_minutes)
        bad = ~(best <= reach)
        if bad.any():
            b = grp[bad]
            m = best[bad]
            cause = np.where(np.isnan(m), "no_route", np.where(board, "too_far", "over_limit"))
            for c in np.unique(cause):
                sel = cause == c
                rows.append({"band": band, "pupils": int(b["pupils"][sel].sum()),
                             "villages": int(b["village_id"][sel].nunique()),
                             "minutes": float(np.nanmax(m[sel])) if np.isfinite(m[sel]).any() else np.nan,
                             "limit": limit if c == "over_limit" else rules.max_board_minutes, "cause": str(c)})
    blocked = pd.DataFrame(rows, columns=["band", "pupils", "villages", "minutes", "limit", "cause"])
    return Closure(feasible=blocked.empty, blocked=blocked)
