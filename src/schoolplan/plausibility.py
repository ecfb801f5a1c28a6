"""Plausibility of a county's inputs: figures that load but look wrong.

Validation (:mod:`schoolplan._validate`, :func:`schoolplan.county.load_county`) stops
what cannot be right: negative pupils, unknown townships, grades a school cannot teach.
This module flags what is *possible but suspicious*, so that a planner checks it before
the figures reach a leadership meeting:

* pupils enrolled vs children of that age living there, county-wide and per township
  (gross enrolment ratio: junior enrolment 768 against 361 children of junior age);
* class sizes (pupils ÷ classes) and pupils per teacher against the norms;
* schools far from every mapped road (coordinates or roads wrong);
* births jumping from one year to the next, grade-1 entries out of line with births six
  years earlier, a school's pupils jumping between years;
* the schools layer's pupils disagreeing with the enrolment table.

The bounds are data (``[plausibility]`` in the standards). Every finding is one row of a
data-quality table (severity ``"check"``) with the figure and the expected range.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from schoolplan.errors import data_quality_frame
from schoolplan.schema import AGE_COLUMNS, LEVEL_AGES, LEVEL_LABELS, STAGE_GRADES

if TYPE_CHECKING:
    from schoolplan.county import County

__all__ = ["plausibility"]

#: Stages whose enrolment is compared with children of that age.
_STAGES = ("kindergarten", "primary", "junior")


def _stage_of_rows(enrol: pd.DataFrame) -> pd.Series:
    """Stage of each enrolment row: kindergarten rows, primary grades 1–6, junior 7–9, else senior."""
    grade = pd.to_numeric(enrol["grade"], errors="coerce")
    lv = enrol["level"] if "level" in enrol else pd.Series(None, index=enrol.index)
    return pd.Series(np.select([lv.eq("kindergarten").to_numpy(), grade.isin(STAGE_GRADES["primary"]).to_numpy(),
                                grade.isin(STAGE_GRADES["junior"]).to_numpy()],
                               ["kindergarten", "primary", "junior"], default="senior"), index=enrol.index)


def _pupils_by_township(county: County) -> pd.DataFrame:
    """Pupils of the register year by (township, stage): the enrolment table, else the schools' totals."""
    s = county.schools
    e = county.enrolment
    e = e[e["year"] == county.base_year]
    tw = s["township_id"] if "township_id" in s else pd.Series(None, index=s.index)
    rows = e.assign(stage=_stage_of_rows(e), township_id=e["school_id"].map(tw))
    by = rows.groupby(["township_id", "stage"])["students"].sum()
    covered = set(e["school_id"])
    rest = s[(s["status"] == "open") & ~s.index.isin(covered)]
    if "students" in rest and len(rest):
        lv = rest["level"].map({"kindergarten": "kindergarten", "teaching_point": "primary", "primary": "primary",
                                "junior": "junior"})
        extra = rest.assign(stage=lv, township_id=tw.reindex(rest.index)).dropna(subset=["stage"])
        extra = extra.groupby(["township_id", "stage"])["students"].sum()
        by = by.add(extra, fill_value=0)
    return by.rename("pupils").reset_index()


def _children_by_township(villages: pd.DataFrame) -> pd.DataFrame:
    out = []
    tw = villages["township_id"] if "township_id" in villages else pd.Series(None, index=villages.index)
    for stage in _STAGES:
        lo, hi = LEVEL_AGES[stage]
        cols = [c for c in AGE_COLUMNS[lo:hi + 1] if c in villages]
        if not cols:
            continue
        kids = villages[cols].apply(pd.to_numeric, errors="coerce").fillna(0).sum(axis=1)
        g = kids.groupby(tw).sum()
        out.append(pd.DataFrame({"township_id": g.index, "stage": stage, "children": g.to_numpy()}))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=["township_id", "stage", "children"])


def _enrolment_vs_children(county: County, p: Mapping[str, float], out: list[dict[str, Any]]) -> None:
    pupils = _pupils_by_township(county)
    kids = _children_by_township(county.villages)
    both = pupils.merge(kids, on=["township_id", "stage"], how="outer").fillna({"pupils": 0, "children": 0})
    both = both[both["stage"].isin(_STAGES)]
    names = county.townships["name"] if "name" in county.townships else pd.Series(dtype=object)
    min_kids = float(p["min_children"])
    for stage, g in both.groupby("stage"):
        label = LEVEL_LABELS[str(stage)]
        ages = LEVEL_AGES[str(stage)]
        tot_p, tot_c = float(g["pupils"].sum()), float(g["children"].sum())
        lo, hi = float(p["county_enrolment_ratio_min"]), float(p["county_enrolment_ratio_max"])
        if tot_c >= min_kids and not lo <= tot_p / tot_c <= hi:
            out.append({"check": "enrolment_vs_children", "layer": "schools, villages", "column": "students",
                        "message": f"{label['en']} ({label['zh']}) pupils {tot_p:,.0f} against {tot_c:,.0f} children "
                        f"aged {ages[0]}–{ages[1]} in the villages: ratio {tot_p / tot_c:.2f}, outside {lo:g}–{hi:g}",
                        "fix": "check the pupils (counted twice? senior or other levels included?) and the villages' "
                        "age columns (children missing? ages in the wrong columns?)",
                        "value": round(tot_p / tot_c, 3), "expected": f"{lo:g}–{hi:g}"})
        hi = float(p["township_enrolment_ratio_max"])
        for _, r in g.iterrows():
            if r["children"] < min_kids or pd.isna(r["township_id"]):
                continue
            ratio = float(r["pupils"]) / float(r["children"])
            if ratio <= hi:  # low ratios are normal where pupils attend schools elsewhere
                continue
            tw = r["township_id"]
            out.append({"check": "enrolment_vs_children", "layer": "schools, villages", "column": "students",
                        "rows": [tw], "message": f"township {tw} {names.get(tw, '')}: {label['zh']} pupils "
                        f"{r['pupils']:,.0f} against {r['children']:,.0f} children aged {ages[0]}–{ages[1]} "
                        f"(ratio {ratio:.2f}, above {hi:g})",
                        "fix": "check the township's schools and villages (a school or village in the wrong "
                        "township? children missing?)", "value": round(ratio, 3), "expected": f"≤ {hi:g}"})


def _school_ratios(county: County, std: Mapping[str, Any], out: list[dict[str, Any]]) -> None:
    s = county.schools[county.schools["status"] == "open"]
    if "students" not in s:
        return
    p = std["plausibility"]
    pupils = pd.to_numeric(s["students"], errors="coerce").astype(float)
    if "classes" in s:
        classes = pd.to_numeric(s["classes"], errors="coerce").astype(float)
        size = pupils / classes.where(classes > 0)
        huge = size > float(std["class_size"]["very_large_class"])
        tiny = (size < float(p["class_size_min"])) & (classes > 1)
        for mask, what, fix in (
                (huge, f"more than {std['class_size']['very_large_class']} pupils per class (超大班额)",
                 "check the pupils and classes (classes under-counted?); if right, the plan addresses it"),
                (tiny, f"fewer than {p['class_size_min']:g} pupils per class",
                 "check the pupils and classes (swapped columns? classes of several years added up?)")):
            if mask.any():
                items = [f"{i} ({pupils[i]:,.0f} pupils / {classes[i]:,.0f} classes = {size[i]:.1f})"
                         for i in s.index[mask]]
                out.append({"check": "class_size", "layer": "schools", "column": "classes", "rows": list(s.index[mask]),
                            "message": f"{int(mask.sum())} school(s) with {what}: " + "; ".join(items[:5]),
                            "fix": fix, "value": round(float(size[mask].max() if mask is huge else size[mask].min()), 1),
                            "expected": f"{p['class_size_min']:g}–{std['class_size']['very_large_class']}"})
    if "teachers" in s:
        teachers = pd.to_numeric(s["teachers"], errors="coerce").astype(float)
        ratio = pupils / teachers.where(teachers > 0)
        norm = s["level"].map({"kindergarten": std["teacher_ratio"]["kindergarten"],
                               "teaching_point": std["teacher_ratio"]["primary"],
                               "primary": std["teacher_ratio"]["primary"], "nine_year": std["teacher_ratio"]["primary"],
                               "junior": std["teacher_ratio"]["junior"], "senior": std["teacher_ratio"]["senior"]})
        high = ratio > norm.astype(float) * float(p["pupils_per_teacher_factor"])
        low = ratio < float(p["pupils_per_teacher_min"])
        for mask, what in ((high, f"more than {p['pupils_per_teacher_factor']:g} × the staffing norm of pupils "
                            "per teacher"), (low, "fewer pupils than teachers")):
            if mask.any():
                items = [f"{i} ({pupils[i]:,.0f} pupils / {teachers[i]:,.0f} teachers = {ratio[i]:.1f}; norm "
                         f"{norm[i]:g})" for i in s.index[mask]]
                out.append({"check": "pupils_per_teacher", "layer": "schools", "column": "teachers",
                            "rows": list(s.index[mask]), "message": f"{int(mask.sum())} school(s) with {what}: "
                            + "; ".join(items[:5]), "fix": "check the teachers (专任教师数) and pupils",
                            "value": round(float(ratio[mask].iloc[0]), 1), "expected": "the norm (teacher_ratio)"})


def _far_from_roads(county: County, graph: Any, p: Mapping[str, float], out: list[dict[str, Any]]) -> None:
    edges = getattr(graph, "edges", None)
    if edges is None or not len(edges):
        return
    import shapely

    s = county.schools[county.schools["status"] == "open"]
    if not len(s):
        return
    lines = edges.geometry.to_crs(county.crs).to_numpy() if edges.crs is not None else edges.geometry.to_numpy()
    tree = shapely.STRtree(lines)
    pts = s.geometry.representative_point().to_numpy()
    _, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
    d = pd.Series(dist, index=s.index)
    far = d > float(p["far_from_road_m"])
    if far.any():
        items = [f"{i} {s.at[i, 'name']} ({d[i]:,.0f} m)" for i in s.index[far]]
        out.append({"check": "far_from_road", "layer": "schools", "rows": list(s.index[far]),
                    "message": f"{int(far.sum())} school(s) more than {p['far_from_road_m']:g} m from every mapped "
                    "road: " + "; ".join(items[:5]),
                    "fix": "check their coordinates (a web-map offset? a typo?) and whether the road data covers "
                    "them (government road layers often lack 村道)", "value": round(float(d[far].max())),
                    "expected": f"≤ {p['far_from_road_m']:g} m"})


def _jumps(county: County, p: Mapping[str, float], out: list[dict[str, Any]]) -> None:
    b = county.births
    f = float(p["births_jump_factor"])
    groups = b.groupby("township_id") if "township_id" in b else [("county", b)]
    for tw, g in groups:
        g = g.sort_values("year")
        v = g["births"].astype(float).to_numpy()
        y = g["year"].astype(int).to_numpy()
        for i in range(1, len(v)):
            a, c = v[i - 1], v[i]
            if max(a, c) >= 20 and (c > a * f or c < a / f):
                out.append({"check": "births_jump", "layer": "births", "column": "births", "rows": [tw],
                            "message": f"births of {tw} jump from {a:,.0f} ({y[i - 1]}) to {c:,.0f} ({y[i]})",
                            "fix": "check the two years (a typo, a missing digit, a township merged or split?)",
                            "value": round(c / a, 2) if a else None, "expected": f"÷{f:g} – ×{f:g}"})
                break
    e = county.enrolment
    if "township_id" in county.schools:
        tw_of = e["school_id"].map(county.schools["township_id"])
    else:
        tw_of = pd.Series("county", index=e.index)
    first = e[(pd.to_numeric(e["grade"], errors="coerce") == 1) & (e["level"] == "primary")]
    g1 = first.groupby([tw_of[first.index], first["year"]])["students"].sum()
    if "township_id" in b:
        births = b.groupby(["township_id", "year"])["births"].sum()
    else:
        births = b.groupby("year")["births"].sum()
        g1 = g1.groupby(level=1).sum()
    ratios = []
    for key, n in g1.items():
        bkey = (key[0], key[1] - 6) if isinstance(key, tuple) else key - 6
        if bkey in births.index and births[bkey] >= float(p["min_children"]):
            ratios.append((key, float(n) / float(births[bkey])))
    if len(ratios) >= 3:
        r = pd.Series(dict(ratios))
        groups_r = r.groupby(level=0) if isinstance(r.index, pd.MultiIndex) else [("county", r)]
        tol = float(p["entry_ratio_jump"])
        for tw, rr in groups_r:
            if len(rr) < 3:
                continue
            med = float(rr.median())
            bad = rr[(rr - med).abs() > tol * med]
            if len(bad):
                key = bad.index[0]
                year = key[1] if isinstance(key, tuple) else key
                out.append({"check": "entry_vs_births", "layer": "enrolment, births", "column": "students",
                            "rows": [tw], "message": f"{tw}: grade-1 pupils in {year} are {float(bad.iloc[0]):.2f} × "
                            f"the births of {year - 6}, against {med:.2f} in other years",
                            "fix": "check the grade-1 enrolment of that year and the births six years earlier",
                            "value": round(float(bad.iloc[0]), 3), "expected": f"{med:.2f} ± {tol:.0%}"})
    tot = e.groupby(["school_id", "year"])["students"].sum().unstack("year").sort_index(axis=1)
    fj, mn = float(p["enrolment_jump_factor"]), float(p["enrolment_jump_min_pupils"])
    flagged = []
    for sid, row in tot.iterrows():
        v = row.dropna()
        for (y0, a), (y1, c) in zip(list(v.items())[:-1], list(v.items())[1:], strict=True):
            if abs(c - a) >= mn and (c > a * fj or c < a / fj):
                flagged.append(f"{sid} {a:,.0f} ({y0}) → {c:,.0f} ({y1})")
                break
    if flagged:
        out.append({"check": "enrolment_jump", "layer": "enrolment", "column": "students",
                    "rows": [f.split(" ")[0] for f in flagged],
                    "message": f"{len(flagged)} school(s) whose pupils jump between years: " + "; ".join(flagged[:5]),
                    "fix": "check those years (a merger or a new school explains a jump; a typo does not)",
                    "value": None, "expected": f"÷{fj:g} – ×{fj:g}"})


def _register_mismatch(county: County, p: Mapping[str, float], out: list[dict[str, Any]]) -> None:
    s = county.schools
    if "students" not in s:
        return
    e = county.enrolment
    now = e[e["year"] == county.base_year].groupby("school_id")["students"].sum()
    given = pd.to_numeric(s["students"], errors="coerce").reindex(now.index)
    diff = (given - now).abs()
    bad = given.notna() & (diff > float(p["register_mismatch"]) * now.clip(lower=1)) & (diff > 10)
    if bad.any():
        items = [f"{i}: {given[i]:,.0f} vs {now[i]:,.0f}" for i in now.index[bad]]
        out.append({"check": "register_mismatch", "layer": "schools, enrolment", "column": "students",
                    "rows": list(now.index[bad]), "message": f"{int(bad.sum())} school(s) whose pupils in the schools "
                    f"layer differ from the {county.base_year} enrolment table: " + "; ".join(items[:5]),
                    "fix": "make the two registers agree (the enrolment table drives the forecast, the schools layer "
                    "the plan)", "value": None, "expected": f"within {float(p['register_mismatch']):.0%}"})


def plausibility(county: County, *, graph: Any = None, standards: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Flag inputs that load but look wrong.

    Parameters
    ----------
    county
        A loaded :class:`~schoolplan.county.County`.
    graph
        Its road graph (:class:`~schoolplan.network.RoadGraph`); without it the
        distance of schools to the roads is not checked.
    standards
        Norms (class sizes, staffing ratios, the ``[plausibility]`` bounds); national by default.

    Returns
    -------
    pandas.DataFrame
        One row per finding in the data-quality format (severity ``"check"``, ``check``,
        ``layer``, ``column``, ``n_rows``, ``rows``, ``message``, ``fix``) plus ``value`` (the
        figure) and ``expected`` (its plausible range). Empty when nothing looks wrong.

    Notes
    -----
    Ratios: gross enrolment ratio = pupils of a stage in the register year (the
    enrolment table; the schools layer for schools missing from it) ÷ children of that
    stage's ages in the villages (kindergarten 3–5, primary 6–11, junior 12–14); class
    size = pupils ÷ classes; pupils per teacher = pupils ÷ teachers against
    ``teacher_ratio``; entry ratio = grade-1 pupils in year *y* ÷ births in *y* − 6.
    """
    if standards is None:
        from schoolplan.standards import load_standards

        standards = load_standards()
    p = standards["plausibility"]
    out: list[dict[str, Any]] = []
    _enrolment_vs_children(county, p, out)
    _school_ratios(county, standards, out)
    if graph is not None:
        _far_from_roads(county, graph, p, out)
    _jumps(county, p, out)
    _register_mismatch(county, p, out)
    frame = data_quality_frame([{**r, "severity": "check"} for r in out])
    for col in ("value", "expected"):
        if col not in frame:
            frame[col] = pd.Series(dtype=object)
    return frame
