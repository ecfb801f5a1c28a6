"""Assembling a layout plan: travel modes, boarding, buses, classes, teachers, upgrades, reasons.

Every count is a whole number. Modes of a group of pupils (one village, band, school
before and school after):

- ``unserved``: no school could take them (the cause is given);
- ``no_route``: their village has no road route to the school (minutes unknown);
- ``walk``: the walk takes at most ``walk_limit_minutes``;
- ``bus``: a daily ride (``over_limit`` when longer than the band's day limit);
- ``boarding``: longer than the day limit, in a band that may board, within the
  boarding ride limit. In the status quo boarding is limited to today's beds (the
  farthest pupils board first); a plan adds the beds it needs.

Per school: classes needed are whole classes per grade (band pupils split evenly
over its grades), teaching points in mixed-grade classes; a plan builds the missing
classrooms of every school that stays (the status quo builds nothing); buses =
⌈bus riders / (seats × morning trips)⌉; teachers = ⌈primary pupils / ratio⌉ +
⌈junior pupils / ratio⌉.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from schoolplan.consolidate.attendance import largest_remainder
from schoolplan.consolidate.rules import Rules
from schoolplan.schema import BANDS, COMPULSORY_LEVELS

__all__ = ["ASSIGNMENT_COLUMNS", "assignment_modes", "classes_needed", "school_table"]

#: Columns of ``LayoutPlan.assignment``.
ASSIGNMENT_COLUMNS = ["village_id", "band", "school_id", "pupils", "mode", "minutes", "school_before",
                      "minutes_before", "over_limit", "moved", "cause"]


def _lookup(m: pd.DataFrame, rows: pd.Series, cols: pd.Series) -> np.ndarray:
    """m[row, col] for aligned label arrays (NaN where either label is missing or None)."""
    ri = m.index.get_indexer(rows.where(rows.notna(), "\x00"))
    ci = m.columns.get_indexer(cols.where(cols.notna(), "\x00"))
    out = np.full(len(rows), np.nan)
    ok = (ri >= 0) & (ci >= 0)
    out[ok] = m.to_numpy(float)[ri[ok], ci[ok]]
    return out


def assignment_modes(
    rows: pd.DataFrame,
    minutes: pd.DataFrame,
    walks: pd.DataFrame,
    rules: Rules,
    *,
    beds: pd.Series | None = None,
) -> pd.DataFrame:
    """Modes, minutes and limits of assignment rows.

    Parameters
    ----------
    rows
        ``village_id, band, school_before, school_id`` (None: unplaced), ``pupils``
        (int) and optionally ``cause`` (why unplaced).
    minutes, walks
        Door-to-door minutes and walk flags, villages × schools.
    rules
        Limits and boarding bands.
    beds
        Beds per school today. Pupils who stay at their school keep today's mode:
        at most these beds' worth of them board (the farthest first), the others
        ride; pupils who move may board wherever the rules allow (the plan adds the
        beds).

    Returns
    -------
    pandas.DataFrame
        :data:`ASSIGNMENT_COLUMNS`, one row per group (a group may be split into
        boarders and riders when beds run out).
    """
    a = rows.reset_index(drop=True).copy()
    if "cause" not in a:
        a["cause"] = None
    a["pupils"] = a["pupils"].astype(np.int64)
    a["minutes"] = _lookup(minutes, a["village_id"], a["school_id"])
    a["minutes_before"] = _lookup(minutes, a["village_id"], a["school_before"])
    walk = _lookup(walks.astype(float), a["village_id"], a["school_id"]) > 0.5
    limit = a["band"].map(dict(rules.day_limit_minutes)).astype(float).to_numpy()
    boardable = a["band"].isin(rules.boarding_bands).to_numpy() & (a["minutes"] <= rules.max_board_minutes).to_numpy()
    t = a["minutes"].to_numpy(float)
    mode = np.select([a["school_id"].isna().to_numpy(), np.isnan(t), walk, t <= limit, boardable],
                     ["unserved", "no_route", "walk", "bus", "boarding"], default="bus")
    a["mode"] = mode
    a.loc[(a["mode"] == "unserved") & a["cause"].isna(), "cause"] = "no_school"
    a["moved"] = a["school_id"].notna() & (a["school_id"] != a["school_before"])
    if beds is not None:
        a = _limit_boarding(a, beds)
    lim = a["band"].map(dict(rules.day_limit_minutes)).astype(float)
    a["over_limit"] = (a["mode"] == "bus") & (a["minutes"] > lim)
    a.loc[a["mode"] == "no_route", "cause"] = a.loc[a["mode"] == "no_route", "cause"].fillna("no_route")
    return a[ASSIGNMENT_COLUMNS]


def _limit_boarding(a: pd.DataFrame, beds: pd.Series) -> pd.DataFrame:
    """Pupils who stay: at most ``beds`` boarders per school, the farthest first; the others ride."""
    board = a[(a["mode"] == "boarding") & ~a["moved"]].sort_values(["school_id", "minutes"], ascending=[True, False])
    extra = []
    for sid, grp in board.groupby("school_id", sort=False):
        left = int(beds.get(sid, 0) or 0)
        for i, row in grp.iterrows():
            take = min(left, int(row["pupils"]))
            left -= take
            if take == row["pupils"]:
                continue
            if take > 0:
                extra.append(row.to_frame().T.assign(pupils=int(row["pupils"]) - take, mode="bus"))
                a.at[i, "pupils"] = take
            else:
                a.at[i, "mode"] = "bus"
    if extra:
        a = pd.concat([a, *extra], ignore_index=True)
        a["pupils"] = a["pupils"].astype(np.int64)
        a["minutes"] = a["minutes"].astype(float)
        a["minutes_before"] = a["minutes_before"].astype(float)
    return a


def classes_needed(pupils_by_band: Mapping[str, int], level: str, rules: Rules) -> int:
    """Whole classes for a school's pupils: per grade at the standard size (teaching points: mixed grades)."""
    if level == "teaching_point":
        return math.ceil(sum(pupils_by_band.values()) / rules.class_size["teaching_point"])
    n = 0
    for band, p in pupils_by_band.items():
        if p <= 0:
            continue
        grades = BANDS[band]["grades"]
        size = rules.class_size["junior" if BANDS[band]["stage"] == "junior" else "primary"]
        per_grade = largest_remainder(np.ones(len(grades)), int(p))  # type: ignore[arg-type]
        n += sum(math.ceil(int(g) / size) for g in per_grade if g > 0)
    return n


def _int(value: object) -> int:
    v = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return 0 if pd.isna(v) else round(float(v))


def school_table(
    county: object,
    schools: pd.DataFrame,
    new_sites: Mapping[str, str],
    assignment: pd.DataFrame,
    decision: Mapping[str, str],
    reason: Mapping[str, tuple[str, str]],
    facts: pd.DataFrame,
    rules: Rules,
    *,
    status_quo: bool,
    upgrades: Mapping[str, str],
    reuse: Mapping[str, tuple[str, str, str]] | None = None,
) -> gpd.GeoDataFrame:
    """The per-school table of :class:`~schoolplan.results.LayoutPlan` (see its docstring).

    Parameters
    ----------
    county
        The county (schools, sites, CRS).
    schools
        Open compulsory schools.
    new_sites
        Site id → level of the new schools the plan opens.
    assignment
        Rows with modes (:func:`assignment_modes`).
    decision, reason
        Per school id.
    facts
        Keep-test numbers per school (``pupils`` = target-year pupils without the plan).
    rules
        Class sizes, teacher ratios, bus capacity, costs.
    status_quo
        The status quo builds nothing (no classes, beds or upgrades).
    upgrades
        School id → why it needs an upgrade to the quality/condition thresholds.
    reuse
        School id → (reuse key, zh note, en note) for vacated buildings.
    """
    served = assignment[assignment["school_id"].notna() & (assignment["mode"] != "unserved")]
    load = served.groupby(["school_id", "band"])["pupils"].sum()
    boarders = served[served["mode"] == "boarding"].groupby("school_id")["pupils"].sum()
    riders = served[served["mode"] == "bus"].groupby("school_id")["pupils"].sum()
    moved_out = assignment[assignment["moved"]].groupby(["school_before", "school_id"])["pupils"].sum()
    rows = []
    for sid in [*schools.index, *new_sites]:
        is_new = sid in new_sites
        base = county.sites.loc[sid] if is_new else schools.loc[sid]  # type: ignore[attr-defined]
        level = new_sites[sid] if is_new else str(base["level"])
        dec = decision.get(sid, "keep")
        bands = {b: int(load.get((sid, b), 0)) for b in BANDS}
        after = sum(bands.values())
        before_classes = 0 if is_new else _int(base.get("classes"))
        open_after = dec in ("keep", "expand", "new")
        need = classes_needed(bands, level, rules)
        added = 0 if status_quo or not open_after else max(0, need - before_classes)
        if dec == "keep" and added > 0:
            dec = "expand"
        n_board = int(boarders.get(sid, 0))
        beds = 0 if is_new else _int(base.get("boarding_beds"))
        prim = sum(v for b, v in bands.items() if BANDS[b]["stage"] == "primary")
        t_need = (math.ceil(prim / rules.teacher_ratio["primary"]) + math.ceil(bands["junior"] / rules.teacher_ratio["junior"])
                  if open_after else 0)
        zh, en = reason.get(sid, ("", ""))
        receiving = None
        if sid in moved_out.index.get_level_values(0):
            receiving = str(moved_out.loc[sid].idxmax())
        re_key = None
        if reuse and sid in reuse and not open_after:
            re_key, rz, ren = reuse[sid]
            zh, en = zh + rz, en + ren
            if re_key == "kindergarten":
                dec = "convert"
        if added > 0:
            zh += f"；需增加{added}个班（教室）以容纳学生并达到标准班额"
            en += f"; needs {added} more classrooms to seat its pupils at the standard class size"
        if sid in upgrades:
            zh += f"；需改善办学条件（{upgrades[sid]}）"
            en += f"; needs an upgrade ({upgrades[sid]})"
        classes_after = before_classes + added if open_after else 0
        rows.append({
            "school_id": sid, "name": (base.get("name") or sid), "level": level,
            "township_id": base.get("township_id"), "decision": dec, "receiving_id": receiving if not open_after else None,
            "reason_zh": zh, "reason_en": en,
            "students_before": 0 if is_new else _int(base.get("students")),
            "pupils_if_unchanged": int(facts["pupils"].get(sid, 0)) if "pupils" in facts else 0,
            "students_after": after if open_after else 0,
            "classes_before": before_classes, "classes_needed": need if open_after else 0,
            "classes_after": classes_after, "classes_added": added,
            "boarders": n_board if open_after else 0, "beds_available": beds,
            "beds_needed": 0 if status_quo else max(0, n_board - beds),
            "buses": math.ceil(int(riders.get(sid, 0)) / rules.bus_capacity) if open_after else 0,
            "teachers_needed": t_need, "teachers_on_staff": 0 if is_new else _int(base.get("teachers")),
            "upgrade": bool(sid in upgrades and not status_quo),
            "reuse": re_key,
            "_prim": prim, "_jun": bands["junior"],
            "geometry": base.geometry.centroid if is_new else base.geometry,
        })
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=county.crs).set_index("school_id")  # type: ignore[attr-defined]
    size = np.array([_seats_per_class(lv, p, j, rules) for lv, p, j in zip(out["level"], out["_prim"], out["_jun"],
                                                                           strict=True)])
    out["capacity_after"] = np.floor(out["classes_after"].to_numpy(float) * size + 1e-9).astype(np.int64)
    out["class_size_after"] = (out["students_after"] / out["classes_after"].where(out["classes_after"] > 0)).round(1)
    out["teacher_surplus"] = out["teachers_on_staff"] - out["teachers_needed"]
    out = out.drop(columns=["_prim", "_jun"])
    out = pd.concat([out, _vacant(county)]) if len(_vacant(county)) else out
    for c in ("students_before", "pupils_if_unchanged", "students_after", "classes_before", "classes_needed",
              "classes_after", "classes_added", "boarders", "beds_available", "beds_needed", "buses",
              "teachers_needed", "teachers_on_staff", "teacher_surplus", "capacity_after"):
        out[c] = out[c].fillna(0).astype(np.int64)
    out["upgrade"] = out["upgrade"].fillna(False).astype(bool)
    out.index.name = "school_id"
    return out


def _seats_per_class(level: str, prim: int, jun: int, rules: Rules) -> float:
    """Standard seats per class; nine-year schools blend primary and junior sizes by their pupils."""
    if level == "nine_year" and prim + jun > 0:
        return (rules.class_size["primary"] * prim + rules.class_size["junior"] * jun) / (prim + jun)
    return float(rules.stage_class_size(level))


def _vacant(county: object) -> gpd.GeoDataFrame:
    """Buildings of compulsory schools closed before the plan (vacated stock)."""
    sch = county.schools  # type: ignore[attr-defined]
    closed = sch[(sch["status"] == "closed") & sch["level"].isin(COMPULSORY_LEVELS)]
    if closed.empty:
        return gpd.GeoDataFrame()
    beds = pd.to_numeric(closed["boarding_beds"], errors="coerce") if "boarding_beds" in closed else 0
    return gpd.GeoDataFrame({
        "name": closed["name"], "level": closed["level"], "township_id": closed.get("township_id"),
        "decision": "vacant", "receiving_id": None,
        "reason_zh": "已停办的闲置校舍", "reason_en": "closed before the plan (vacated building)",
        "students_before": 0, "pupils_if_unchanged": 0, "students_after": 0, "classes_before": 0,
        "classes_needed": 0, "classes_after": 0, "classes_added": 0, "capacity_after": 0,
        "class_size_after": np.nan, "boarders": 0, "beds_available": pd.Series(beds, index=closed.index).fillna(0),
        "beds_needed": 0, "buses": 0, "teachers_needed": 0, "teachers_on_staff": 0, "teacher_surplus": 0,
        "upgrade": False, "reuse": None,
    }, geometry=closed.geometry, crs=county.crs)  # type: ignore[attr-defined]
