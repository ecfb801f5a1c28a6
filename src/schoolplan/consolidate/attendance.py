"""Today's attendance: which village's children attend which school, calibrated to the register.

The register (``enrolment``, base year) says how many pupils of each grade every
school has; the villages say where children of each age live. Attendance links
them so that **every school's pupils by grade band equal its register exactly**.

Model (per grade band :math:`b`; a transportation problem, i.e. the
:math:`\\beta \\to \\infty` limit of Wilson's doubly-constrained allocation). With
register pupils :math:`D_s` of school :math:`s`, village pupils :math:`O_v` (the
village's children of the band's ages, scaled by :math:`R/C`, register total over
children total, and rounded by largest remainder so that :math:`\\sum_v O_v =
\\sum_s D_s = R`), and door-to-door minutes :math:`t_{vs}`:

.. math::

    \\min \\sum_{v,s} t_{vs} x_{vs} + M \\Big(\\sum_v u_v + \\sum_s w_s\\Big)
    \\quad\\text{s.t.}\\quad \\sum_s x_{vs} + u_v = O_v,\\;
    \\sum_v x_{vs} + w_s = D_s,\\; x, u, w \\ge 0 .

Pupils attend the nearest school whose register still has room (就近入学,
Compulsory Education Law art. 12). The constraint matrix is that of a bipartite
network, so the optimal vertex is integral: whole pupils without rounding. Pairs
are the schools that teach the band (register pupils > 0) reachable by road;
villages that reach no such school are linked to the schools of their township by
straight-line distance at a cost above every road pair (their minutes stay NaN:
"no road route"). :math:`M` (slack) is used only when a school's register cannot
be filled from any village at all.

:func:`project_attendance` carries these flows to a later year: each school keeps
its villages' shares, and its pupils of band :math:`b` grow with its township's
forecast, :math:`P_{sb}(y) = D_{sb} \\cdot F_{tb}(y) / \\sum_{s' \\in t} D_{s'b}`, with
largest-remainder rounding that keeps township totals and school totals whole.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import linprog

from schoolplan.errors import DataWarning, SchemaError
from schoolplan.schema import BANDS, COMPULSORY_LEVELS, LEVEL_GRADES

__all__ = ["attendance_fit", "calibrate_attendance", "largest_remainder", "project_attendance",
           "register_by_band"]

_GRADE_BAND = {int(g): b for b, spec in BANDS.items() for g in spec["grades"]}  # type: ignore[union-attr]
_SLACK_COST = 1e6
_FALLBACK_COST = 1e4


def largest_remainder(values: np.ndarray | pd.Series, total: int | None = None) -> np.ndarray:
    """Round non-negative values to integers that sum to ``total`` (Hamilton's method).

    Parameters
    ----------
    values
        Non-negative reals.
    total
        The integer sum wanted; ``round(sum(values))`` by default.

    Returns
    -------
    numpy.ndarray of int64
        Each value rounded down, then the largest remainders rounded up until the
        sum is ``total`` (ties broken by position, so the result is deterministic).
    """
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return np.zeros(0, dtype=np.int64)
    v = np.where(np.isfinite(v) & (v > 0), v, 0.0)
    want = round(float(v.sum())) if total is None else int(total)
    if v.sum() <= 0:
        if want == 0:
            return np.zeros(v.size, dtype=np.int64)
        v = np.ones_like(v)
    scaled = v * (want / v.sum())
    base = np.floor(scaled + 1e-9).astype(np.int64)
    left = want - int(base.sum())
    if left > 0:
        order = np.lexsort((np.arange(v.size), -(scaled - base)))
        base[order[:left]] += 1
    elif left < 0:
        order = np.lexsort((np.arange(v.size), scaled - base))
        for i in order:
            if left == 0:
                break
            if base[i] > 0:
                base[i] -= 1
                left += 1
    return base


def register_by_band(county: object, *, year: int | None = None) -> pd.DataFrame:
    """Register pupils of every open compulsory school by grade band in the base year.

    From the ``enrolment`` layer (grades mapped to :data:`schoolplan.schema.BANDS`);
    a school missing from it contributes its ``students`` split evenly over the
    grades its level teaches, with a :class:`~schoolplan.errors.DataWarning`.

    Returns
    -------
    pandas.DataFrame
        ``school_id, band, pupils`` (int), one row per school and band with pupils > 0.
    """
    schools = county.schools  # type: ignore[attr-defined]
    open_ = schools[(schools["status"] == "open") & schools["level"].isin(COMPULSORY_LEVELS)]
    y = int(year if year is not None else county.base_year)  # type: ignore[attr-defined]
    e = county.enrolment  # type: ignore[attr-defined]
    rows = []
    if e is not None and len(e):
        sub = e[(e["year"] == y) & e["school_id"].isin(open_.index)]
        sub = sub[pd.to_numeric(sub["grade"], errors="coerce").isin(list(_GRADE_BAND))]
        if len(sub):
            band = pd.to_numeric(sub["grade"]).astype(int).map(_GRADE_BAND)
            got = sub.assign(band=band).groupby(["school_id", "band"])["students"].sum()
            rows.append(got.reset_index().rename(columns={"students": "pupils"}))
    have = set(rows[0]["school_id"]) if rows else set()
    missing = [s for s in open_.index if s not in have]
    fill = []
    for sid in missing:
        n = open_.at[sid, "students"] if "students" in open_ else np.nan
        if pd.isna(n) or float(n) <= 0:
            continue
        grades = [g for g in LEVEL_GRADES[open_.at[sid, "level"]] if g in _GRADE_BAND]
        parts = largest_remainder(np.ones(len(grades)), round(float(n)))
        for g, p in zip(grades, parts, strict=True):
            fill.append({"school_id": sid, "band": _GRADE_BAND[g], "pupils": int(p)})
    if fill:
        named = [s for s in missing if any(f["school_id"] == s for f in fill)]
        warnings.warn(f"{len(named)} open school(s) have no {y} rows in the enrolment register "
                      f"({', '.join(map(str, named[:8]))}{' …' if len(named) > 8 else ''}): their pupils "
                      "(students column) are split evenly over the grades their level teaches",
                      DataWarning, stacklevel=2)
        rows.append(pd.DataFrame(fill).groupby(["school_id", "band"], as_index=False)["pupils"].sum())
    if not rows:
        return pd.DataFrame({"school_id": pd.Series(dtype=object), "band": pd.Series(dtype=object),
                             "pupils": pd.Series(dtype=np.int64)})
    out = pd.concat(rows, ignore_index=True)
    out["pupils"] = pd.to_numeric(out["pupils"]).round().astype(np.int64)
    return out[out["pupils"] > 0].sort_values(["band", "school_id"], ignore_index=True)


def _village_pupils(villages: pd.DataFrame, band: str, total: int) -> np.ndarray:
    cols = [f"age_{a}" for a in BANDS[band]["ages"]]  # type: ignore[union-attr]
    missing = [c for c in cols if c not in villages]
    if missing:
        raise SchemaError("villages lack the age columns needed for pupils", layer="villages",
                          column=", ".join(missing), fix="give children by single year of age (age_0 … age_17)")
    kids = villages[cols].apply(pd.to_numeric, errors="coerce").fillna(0).sum(axis=1).to_numpy(float)
    if kids.sum() <= 0 and total > 0:
        raise SchemaError(f"the register has {total} pupils in {BANDS[band]['en']} but no village has children "
                          f"aged {', '.join(str(a) for a in BANDS[band]['ages'])}",  # type: ignore[union-attr]
                          layer="villages", column=", ".join(cols), fix="give children by single year of age")
    return largest_remainder(kids, total)


def _pairs(t: np.ndarray, allowed: np.ndarray, fallback: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(village index, school index, cost) of the allowed pairs; fallback pairs for villages with no road pair."""
    ok = allowed & np.isfinite(t)
    vi, sj = np.nonzero(ok)
    cost = t[vi, sj]
    lost = ~ok.any(axis=1)
    if lost.any():
        fv, fs = np.nonzero(lost[:, None] & allowed)
        vi = np.concatenate([vi, fv])
        sj = np.concatenate([sj, fs])
        cost = np.concatenate([cost, _FALLBACK_COST + fallback[fv, fs]])
    return vi, sj, cost


def _transport(origin: np.ndarray, dest: np.ndarray, vi: np.ndarray, sj: np.ndarray,
               cost: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve the balanced transportation problem with slacks; integral flows, village and school slacks."""
    n, m, k = len(origin), len(dest), len(vi)
    c = np.concatenate([cost, np.full(n + m, _SLACK_COST)])
    rows_v = sp.csr_matrix((np.ones(k), (vi, np.arange(k))), shape=(n, k))
    rows_s = sp.csr_matrix((np.ones(k), (sj, np.arange(k))), shape=(m, k))
    a = sp.vstack([sp.hstack([rows_v, sp.identity(n), sp.csr_matrix((n, m))]),
                   sp.hstack([rows_s, sp.csr_matrix((m, n)), sp.identity(m)])]).tocsr()
    b = np.concatenate([origin, dest]).astype(float)
    res = linprog(c, A_eq=a, b_eq=b, bounds=(0, None), method="highs-ds")
    if res.status != 0 or res.x is None:
        raise SchemaError(f"the attendance model could not be solved ({res.message})",
                          fix="check the travel times and the enrolment register")
    x = np.rint(res.x).astype(np.int64)
    return x[:k], x[k:k + n], x[k + n:]


def calibrate_attendance(
    county: object,
    minutes: pd.DataFrame,
    *,
    year: int | None = None,
) -> pd.DataFrame:
    """Base-year attendance flows village → school that reproduce the register exactly.

    Parameters
    ----------
    county
        A loaded :class:`~schoolplan.County` (schools, villages with ``age_*``,
        enrolment register).
    minutes
        Door-to-door minutes, villages × open compulsory schools (NaN: no road route).
    year
        Register year (the county's base year by default).

    Returns
    -------
    pandas.DataFrame
        ``village_id, band, school_id, pupils`` (int64 > 0), ``minutes`` (float; NaN
        when the village has no road route to that school). For every school and
        band, ``pupils`` sums to the register exactly (see the module docstring).

    Warns
    -----
    DataWarning
        When register pupils and village children of a band differ by more than
        15 % (villages are scaled to the register), when villages have no road
        route, and when a register cannot be filled from any village.
    """
    villages = county.villages  # type: ignore[attr-defined]
    reg = register_by_band(county, year=year)
    geom_v = villages.geometry.centroid
    schools = county.schools  # type: ignore[attr-defined]
    out = []
    for band in BANDS:
        r = reg[reg["band"] == band]
        if r.empty:
            continue
        sids = list(r["school_id"])
        missing = [s for s in sids if s not in minutes.columns]
        if missing:
            raise SchemaError("the travel-time matrix lacks schools of the register", column="minutes",
                              rows=list(map(str, missing[:8])), fix="compute travel times to every open school")
        dest = r["pupils"].to_numpy(np.int64)
        total = int(dest.sum())
        origin = _village_pupils(villages, band, total)
        kids = float(villages[[f"age_{a}" for a in BANDS[band]["ages"]]].sum().sum())  # type: ignore[union-attr]
        if kids > 0 and abs(total / kids - 1) > 0.15:
            warnings.warn(f"{BANDS[band]['en']}: the register has {total:,} pupils but the villages have "
                          f"{kids:,.0f} children of that age (ratio {total / kids:.2f}); village pupils are scaled "
                          "to the register — check the village ages and the register", DataWarning, stacklevel=2)
        t = minutes.reindex(index=villages.index, columns=sids).to_numpy(float)
        gs = schools.loc[sids].geometry
        dist_km = np.hypot(np.subtract.outer(geom_v.x.to_numpy(), gs.x.to_numpy()),
                           np.subtract.outer(geom_v.y.to_numpy(), gs.y.to_numpy())) / 1000.0
        same_tw = np.equal.outer(villages["township_id"].astype(str).to_numpy(),
                                 schools.loc[sids, "township_id"].astype(str).to_numpy())
        allowed = np.ones_like(t, dtype=bool)
        # villages without any road pair: link to their own township's schools (all, if it has none)
        fallback_ok = np.where(same_tw.any(axis=1)[:, None], same_tw, True)
        vi, sj, cost = _pairs(t, allowed, np.where(fallback_ok, dist_km, dist_km + 1e3))
        keep = origin[vi] > 0
        vi, sj, cost = vi[keep], sj[keep], cost[keep]
        x, _u, w = _transport(origin, dest, vi, sj, cost)
        if w.sum() > 0:
            warnings.warn(f"{BANDS[band]['en']}: {int(w.sum())} register pupils of "
                          f"{', '.join(str(sids[j]) for j in np.flatnonzero(w)[:8])} could not be matched to any "
                          "village (they stay at their school with no village of origin)", DataWarning, stacklevel=2)
        nz = x > 0
        flows = pd.DataFrame({"village_id": villages.index.to_numpy()[vi[nz]], "band": band,
                              "school_id": np.array(sids, dtype=object)[sj[nz]], "pupils": x[nz],
                              "minutes": t[vi[nz], sj[nz]]})
        if w.sum() > 0:
            flows = pd.concat([flows, pd.DataFrame({"village_id": None, "band": band,
                                                    "school_id": np.array(sids, dtype=object)[w > 0],
                                                    "pupils": w[w > 0], "minutes": np.nan})], ignore_index=True)
        out.append(flows)
    no_route = villages.index[minutes.reindex(index=villages.index).isna().all(axis=1)]
    if len(no_route):
        warnings.warn(f"{len(no_route)} village(s) reach no school by road ({', '.join(map(str, no_route[:8]))}"
                      f"{' …' if len(no_route) > 8 else ''}): their pupils are kept at a school of their township "
                      "with no travel time (no road route) — check their coordinates and the road network",
                      DataWarning, stacklevel=2)
    if not out:
        return _empty_flows()
    flows = pd.concat(out, ignore_index=True)
    flows["pupils"] = flows["pupils"].astype(np.int64)
    return flows.sort_values(["band", "school_id", "village_id"], ignore_index=True, na_position="last")


def _empty_flows() -> pd.DataFrame:
    return pd.DataFrame({"village_id": pd.Series(dtype=object), "band": pd.Series(dtype=object),
                         "school_id": pd.Series(dtype=object), "pupils": pd.Series(dtype=np.int64),
                         "minutes": pd.Series(dtype=float)})


def attendance_fit(flows: pd.DataFrame, county: object, *, year: int | None = None) -> pd.DataFrame:
    """How well the calibrated attendance reproduces the register, per school and band.

    Returns
    -------
    pandas.DataFrame
        ``school_id, band, register, modelled, difference`` (ints; difference must be
        0), ``mean_minutes`` and ``max_minutes`` of its pupils, ``no_route`` (pupils
        without a road route) and ``unknown_origin`` (register pupils matched to no
        village).
    """
    reg = register_by_band(county, year=year).set_index(["school_id", "band"])["pupils"]
    f = flows.assign(w=flows["pupils"] * flows["minutes"].fillna(0.0),
                     nr=np.where(flows["minutes"].isna() & flows["village_id"].notna(), flows["pupils"], 0),
                     unk=np.where(flows["village_id"].isna(), flows["pupils"], 0))
    g = f.groupby(["school_id", "band"]).agg(modelled=("pupils", "sum"), w=("w", "sum"),
                                              max_minutes=("minutes", "max"), no_route=("nr", "sum"),
                                              unknown_origin=("unk", "sum"))
    idx = reg.index.union(g.index)
    out = pd.DataFrame({"register": reg.reindex(idx).fillna(0).astype(np.int64),
                        "modelled": g["modelled"].reindex(idx).fillna(0).astype(np.int64)}, index=idx)
    out["difference"] = out["modelled"] - out["register"]
    routed = (g["modelled"] - g["no_route"] - g["unknown_origin"]).reindex(idx)
    out["mean_minutes"] = (g["w"].reindex(idx) / routed.where(routed > 0)).round(1)
    out["max_minutes"] = g["max_minutes"].reindex(idx).round(1)
    out["no_route"] = g["no_route"].reindex(idx).fillna(0).astype(np.int64)
    out["unknown_origin"] = g["unknown_origin"].reindex(idx).fillna(0).astype(np.int64)
    return out.reset_index()


def project_attendance(
    flows: pd.DataFrame,
    county: object,
    demand: pd.DataFrame | None,
    year: int,
) -> pd.DataFrame:
    """Carry base-year attendance flows to ``year`` with the township forecast.

    Parameters
    ----------
    flows
        From :func:`calibrate_attendance`.
    county
        The county (schools' townships).
    demand
        Seat forecast ``zone`` (township id), ``level``, ``grade``, ``year``, ``p50``;
        None or ``year`` = base year returns ``flows`` unchanged.
    year
        Target year.

    Returns
    -------
    pandas.DataFrame
        Same columns as ``flows``; every school keeps its villages' shares; township
        and school totals are whole numbers (see the module docstring). Pupils of a
        township and band the forecast has but no school of it taught in the base
        year get a row with no village and no school (they are counted, never
        placed by invention), and a :class:`~schoolplan.errors.DataWarning` names them.
    """
    base_year = int(county.base_year)  # type: ignore[attr-defined]
    if demand is None or year == base_year or flows.empty:
        return flows.copy()
    d = demand[demand["year"] == year]
    if d.empty:
        raise SchemaError(f"the seat forecast has no year {year}", column="year",
                          fix="forecast up to the target year or choose another target year")
    d = d[d["level"].isin(["primary", "junior"])]
    d = d.assign(band=pd.to_numeric(d["grade"], errors="coerce").map(_GRADE_BAND)).dropna(subset=["band"])
    target = d.groupby(["zone", "band"])["p50"].sum()
    tw_of = county.schools["township_id"].astype(str)  # type: ignore[attr-defined]
    f = flows.assign(township=flows["school_id"].map(tw_of))
    school_tot = f.groupby(["township", "band", "school_id"])["pupils"].sum()
    new_school: dict[tuple[str, str], int] = {}
    lost = []
    for (tw, band), grp in school_tot.groupby(level=[0, 1]):
        want = float(target.get((tw, band), np.nan))
        if not np.isfinite(want):
            lost.append(f"{tw}/{band}")
            want = float(grp.sum())
        alloc = largest_remainder(grp.to_numpy(float), round(want))
        for (_, _, sid), n in zip(grp.index, alloc, strict=True):
            new_school[(str(sid), str(band))] = int(n)
    taught = set(zip(school_tot.index.get_level_values(0), school_tot.index.get_level_values(1), strict=True))
    orphan = {(str(z), str(b)): round(float(v)) for (z, b), v in target.items()
              if (str(z), str(b)) not in taught and round(float(v)) > 0}
    if lost:
        warnings.warn(f"the forecast has no {year} figure for {', '.join(lost[:8])}: their pupils are kept at "
                      "base-year numbers", DataWarning, stacklevel=2)
    if orphan:
        warnings.warn(f"the {year} forecast has {sum(orphan.values()):,} pupils in township/band "
                      f"{', '.join(f'{z}/{b}' for z, b in list(orphan)[:8])} where no school taught that band in the "
                      "base year: they are counted as pupils without a school (cause no_school)",
                      DataWarning, stacklevel=2)
    parts = []
    for (sid, band), grp in f.groupby(["school_id", "band"], sort=False):
        n = new_school.get((str(sid), str(band)), int(grp["pupils"].sum()))
        parts.append(grp.assign(pupils=largest_remainder(grp["pupils"].to_numpy(float), n)))
    out = pd.concat(parts, ignore_index=True).drop(columns="township")
    if orphan:
        out = pd.concat([out, pd.DataFrame({"village_id": None, "band": [b for _, b in orphan],
                                            "school_id": None, "pupils": list(orphan.values()),
                                            "minutes": np.nan})], ignore_index=True)
    out = out[out["pupils"] > 0]
    out["pupils"] = out["pupils"].astype(np.int64)
    return out.sort_values(["band", "school_id", "village_id"], ignore_index=True, na_position="last")


def village_band_totals(flows: pd.DataFrame, villages: Mapping[str, object] | pd.DataFrame) -> pd.DataFrame:
    """Pupils per village and band from flows: ``village_id, township_id, band, pupils``."""
    g = flows.dropna(subset=["village_id"]).groupby(["village_id", "band"], as_index=False)["pupils"].sum()
    g["township_id"] = g["village_id"].map(villages["township_id"])
    return g[["village_id", "township_id", "band", "pupils"]]
