"""Reserved land for new urban schools and kindergartens (预留用地).

County-seat schools are full (大班额) and public kindergartens take too small a share
of children, so the county-seat plan must reserve school and kindergarten land, and
new residential areas must come with school land. :func:`reserve_land` says where
(which planning zones, 控规单元), how much (seats, classes, standard schools, m² of
land and floor area) and on which parcels.

Method
------
1. **Demand points.** Every zone is sampled by a square grid of points
   (:func:`zone_points`, default every 150 m) carrying weights that sum to 1 per
   zone: equal, or (the default inside :func:`reserve_land`) a kernel of the
   population of the zone's villages. The caller measures the *walking distance*
   (metres, on the road / footpath network) from these points to schools and to
   candidate sites, so any network (OSM, a bureau's road layer, a detour-scaled
   straight line) can be used; this module only reads the matrices.
2. **Demand per zone and level** (kindergarten, primary, junior) for the planning
   year and for the peak year within the plan horizon (by default each zone's own
   peak: old districts peak early as births fall, new-housing districts late). A seat forecast
   keyed by township (``zone`` = township id, as :func:`schoolplan.forecast.seat_demand`
   gives) is shared among the township's zones in proportion to the zones' current
   children of the level's ages (villages with ``zone_id``, ages from
   :data:`schoolplan.schema.LEVEL_AGES`), or to zone population when no village has
   a ``zone_id``. Children of the township who live outside every zone keep their
   share (they are not urban demand) unless ``include_outside=True``. A forecast keyed
   by zone ids is used as it is. Planned ``developments`` add their housing yield
   (千人指标: residents × pupils per 1,000 residents ÷ 1,000, residents = dwellings ×
   persons per dwelling when not given) from their completion year on, via
   :func:`schoolplan.forecast.housing_yield` with full occupancy at completion by
   default (the planning norm; pass ``housing_ramp`` for a gradual move-in); a
   development's pupils sit on the zone's points inside its polygon.
3. **Shared supply (2SFCA).** Seats of open schools (kindergartens, primary and
   teaching points, junior; nine-year schools split into primary and junior seats by
   their enrolment, else 6 : 3) count for a level only at demand points within the
   level's walking radius :math:`r_L` (GB 50180-2018: kindergarten 300 m, primary
   500 m, junior 1,000 m). Each school's seats :math:`S_s` are split over the points
   it reaches in proportion to their demand :math:`D_j`:

   .. math::

       a_{sj} = S_s \\, \\frac{D_j}{\\sum_{k:\\, d_{ks} \\le r_L} D_k}
       \\quad (d_{js} \\le r_L), \\qquad
       \\text{supply}_z = \\min\\Big(D_z,\\; \\sum_{j \\in z} \\sum_s a_{sj}\\Big),

   with :math:`D_j = D_z w_j` (+ housing pupils placed on the point). Seats beyond a
   zone's demand (``surplus_L``) and seats of schools reaching no demand are
   reported as unused (``seats_unused_L``), not moved elsewhere.
   **After the plan** (``plan=``, a :class:`schoolplan.results.LayoutPlan`): pupils the
   plan moves from villages outside every zone into zone schools count where they
   attend, net of those who attended zone schools before the plan,
   :math:`D_{zL} \\mathrel{+}= \\sum_{v \\notin Z}(P^{after}_{v \\to z} - P^{before}_{v \\to z})`
   (``moved_L``; placed on the zone point nearest the school); supply is the plan's
   schools after the plan (``capacity_after`` of ``keep`` / ``expand`` / ``new``,
   kindergartens from the register) and vacated buildings lose their seats.
4. **Deficit.** ``deficit_L = demand − supply`` (whole pupils, ≥ 0); classes
   :math:`k = \\lceil \\text{deficit} / c_L \\rceil` (class size :math:`c_L`: primary 45,
   junior 50, kindergarten 30); a zone alone would need ``schools_L`` standard schools
   of ``school_size_L`` classes (``standard_*`` of ``[school_classes]``: primary
   12/18/24/30/36, junior 12/18/24/30, kindergarten 3/6/9/12), with their land and
   floor area at the m² per seat of that size (``[land_per_pupil_by_size_m2]``,
   ``[building_per_pupil_by_size_m2]``): ``land_m2_L``, ``building_m2_L``.
5. **Sites that fit, chosen exactly.** Unmet pupils sit on the zone's points in
   proportion to the points' own shortfall. One MILP for all levels (HiGHS via
   :func:`scipy.optimize.milp`, written out in :func:`_site_model`) first covers as
   many unmet pupils within the radius as the parcels allow, then at least cost:
   each parcel used once, at a standard size whose land fits its area, covering at
   least one class; an existing school may instead add classes on its own plot when
   that plot holds them and the school stays within the largest standard size and
   ``[max_school_size]`` (cheaper: a classroom vs a new school, ``[costs]``); equal
   costs prefer education land, then vacant land, then vacated schools
   (``[reserve_site_preference]``). Each chosen parcel gets the smallest standard
   size holding the pupils it serves, so no recommended site fails to fit. Pupils
   left uncovered are explained per zone (``uncovered_L``, ``more_land_m2_L``: land
   the largest free parcel within reach lacks for the smallest standard school,
   ``closest_site_L``) and pooled within the radius to size the land still to find
   (``land_to_find_m2_L``). Schools the plan expands beyond their plots need land
   next to them (``plan_extra_land_m2_L``). Inside planned developments, whose streets
   are not yet in the road data, distance to a parcel of the same development is at
   most the straight line × ``[reserve_distance] new_street_detour``.
   Land to reserve (``summary["land_m2_L"]``) = land of the recommended new schools
   + land still to find + land next to expanded schools.
6. **Kindergarten targets** (县域学前教育普及普惠督导评估, "5080"): public share of
   enrolled children ≥ 50 %, 普惠 (public + inclusive private) ≥ 80 %, 毛入园率 ≥ 85 %
   (90 % by 2025) of children aged 3–5, with the seats missing to each target.
7. **Developments** are checked against the school-land rules (a primary school for
   ≥ 5,000 residents, a junior school for ≥ 10,000, a kindergarten for ≥ 1,500
   dwellings; ``[housing_yield]`` in the standards).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy.sparse import identity as sp_identity

from schoolplan.county import County
from schoolplan.errors import (
    ConfigError,
    CrsError,
    DataWarning,
    OptimizationError,
    SchemaError,
    format_rows,
)
from schoolplan.forecast import housing_yield
from schoolplan.results import LayoutPlan, ReservedLand
from schoolplan.schema import AGE_COLUMNS, BANDS, LEVEL_AGES, STAGES
from schoolplan.standards import load_standards

__all__ = [
    "RESERVE_LEVELS",
    "check_developments",
    "kindergarten_reuse",
    "kindergarten_shares",
    "reserve_land",
    "school_seats",
    "zone_demand",
    "zone_points",
]

#: Levels handled here, and the order sites are chosen in (largest parcels first).
RESERVE_LEVELS: tuple[str, ...] = STAGES
_SITE_ORDER: tuple[str, ...] = ("junior", "primary", "kindergarten")
_ZH = {"kindergarten": "幼儿园", "primary": "小学", "junior": "初中"}
_QUANTILES = ("p10", "p50", "p90")
_SITE_TYPES_ZH = {"vacant": "空地", "planned_education": "规划教育用地", "closed_school": "撤并校舍",
                  "government_building": "闲置办公楼", "other": "其他用地"}
_OVERLAP_M2 = 1.0  # zones may touch; overlaps above this area (m²) are errors


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class _Rules:
    radius: dict[str, float]
    class_size: dict[str, int]
    sizes: dict[str, tuple[int, ...]]
    land: dict[str, float]
    building: dict[str, float]
    per_1000: dict[str, float]
    persons_per_dwelling: float
    primary_residents: float
    junior_residents: float
    kindergarten_dwellings: float
    land_by_size: dict[str, dict[int, float]]
    building_by_size: dict[str, dict[int, float]]
    max_pupils: dict[str, float]
    preference: dict[str, int]
    cost_per_class_wan: dict[str, float]
    classroom_wan: float

    def land_per_seat(self, level: str, classes: int) -> float:
        """m² of site per seat of a ``classes``-class school: the row of the largest size ≤ it."""
        return _size_row(self.land_by_size[level], classes)

    def building_per_seat(self, level: str, classes: int) -> float:
        """m² of floor per seat of a ``classes``-class school (same row rule)."""
        return _size_row(self.building_by_size[level], classes)

    def land_m2(self, level: str, classes: int) -> float:
        """Site area (m²) of a ``classes``-class school of ``level``."""
        return classes * self.class_size[level] * self.land_per_seat(level, classes)

    def floor_m2(self, level: str, classes: int) -> float:
        """Floor area (m²) of a ``classes``-class school of ``level``."""
        return classes * self.class_size[level] * self.building_per_seat(level, classes)


def _size_row(table: Mapping[int, float], classes: int) -> float:
    keys = sorted(table)
    below = [k for k in keys if k <= classes]
    return float(table[below[-1] if below else keys[0]])


def _by_size(std: Mapping[str, Any], key: str, fallback: str) -> dict[str, dict[int, float]]:
    """Per-seat area by school size (classes) per level; a level without a table uses ``fallback``."""
    out: dict[str, dict[int, float]] = {}
    table = std.get(key, {})
    for lv in RESERVE_LEVELS:
        rows = table.get(lv)
        if rows:
            try:
                out[lv] = {int(k): float(v) for k, v in rows.items()}
            except (TypeError, ValueError):
                raise ConfigError(f"[{key}] {lv} must map classes to m² per seat, got {rows!r}",
                                  column=f"{key}.{lv}", fix='e.g. primary = { "24" = 22.0 }') from None
            if any(not (math.isfinite(v) and v > 0) for v in out[lv].values()):
                raise ConfigError(f"[{key}] {lv} holds a non-positive area", column=f"{key}.{lv}",
                                  fix="give m² per seat > 0")
        else:
            out[lv] = {1: float(std[fallback][lv])}
    return out


def _standards(standards: Mapping[str, Any] | str | Path | None) -> Mapping[str, Any]:
    if standards is None or isinstance(standards, str | Path):
        return load_standards(standards)
    return standards


def _radii(std: Mapping[str, Any], preset: str | None,
           radius_m: float | Mapping[str, float] | None) -> dict[str, float]:
    radius = {lv: float(v) for lv, v in std["service_radius_m"].items() if lv in RESERVE_LEVELS}
    if preset is not None:
        presets = std.get("service_radius_presets", {})
        if preset not in presets:
            raise ConfigError(f"unknown service-radius preset '{preset}'",
                              fix=f"use one of: {', '.join(sorted(presets))} (service_radius_presets), "
                              "or pass radius_m")
        radius.update({lv: float(v) for lv, v in presets[preset].items() if lv in RESERVE_LEVELS})
    if radius_m is not None:
        if isinstance(radius_m, Mapping):
            bad = [k for k in radius_m if k not in RESERVE_LEVELS]
            if bad:
                raise ConfigError(f"radius_m names unknown level(s) {', '.join(map(str, bad))}",
                                  fix=f"use {', '.join(RESERVE_LEVELS)}")
            radius.update({lv: float(v) for lv, v in radius_m.items()})
        else:
            radius = dict.fromkeys(RESERVE_LEVELS, float(radius_m))
    missing = [lv for lv in RESERVE_LEVELS if lv not in radius]
    if missing:
        raise ConfigError(f"no service radius for {', '.join(missing)}",
                          fix="add it to [service_radius_m] or pass radius_m")
    bad = {lv: r for lv, r in radius.items() if not (math.isfinite(r) and r > 0)}
    if bad:
        raise ConfigError(f"service radii must be positive metres, got {bad}",
                          fix="e.g. radius_m={'primary': 500}")
    return radius


def _sizes(std: Mapping[str, Any], sizes: Mapping[str, Sequence[int]] | None) -> dict[str, tuple[int, ...]]:
    classes = std["school_classes"]
    out = {lv: tuple(int(x) for x in classes[f"standard_{lv}"]) for lv in RESERVE_LEVELS}
    for lv, vals in (sizes or {}).items():
        if lv not in RESERVE_LEVELS:
            raise ConfigError(f"sizes names unknown level '{lv}'", fix=f"use {', '.join(RESERVE_LEVELS)}")
        vals = [vals] if isinstance(vals, int | float) else list(vals)
        if not vals or any(not float(v).is_integer() or v <= 0 for v in vals):
            raise ConfigError(f"standard school sizes for {lv} must be positive whole classes, got {vals}",
                              fix="e.g. sizes={'primary': [24, 36]}")
        out[lv] = tuple(int(v) for v in vals)
    return {lv: tuple(sorted(set(v))) for lv, v in out.items()}


def _rules(std: Mapping[str, Any], preset: str | None, radius_m: Any, sizes: Any) -> _Rules:
    cs = std["class_size"]
    hy = std["housing_yield"]
    ppd = float(hy["persons_per_dwelling"])
    if not ppd > 0:
        raise ConfigError("housing_yield.persons_per_dwelling must be > 0", fix="e.g. 2.8")
    return _Rules(
        radius=_radii(std, preset, radius_m),
        class_size={"kindergarten": int(cs.get("kindergarten_mixed", 30)), "primary": int(cs["primary"]),
                    "junior": int(cs["junior"])},
        sizes=_sizes(std, sizes),
        land={lv: float(std["land_per_pupil_m2"][lv]) for lv in RESERVE_LEVELS},
        building={lv: float(std["building_per_pupil_m2"][lv]) for lv in RESERVE_LEVELS},
        per_1000={lv: float(v) for lv, v in hy["per_1000_residents"].items() if lv in RESERVE_LEVELS},
        persons_per_dwelling=ppd,
        primary_residents=float(hy["school_required_residents"]),
        junior_residents=float(hy["junior_required_residents"]),
        kindergarten_dwellings=float(hy["kindergarten_required_dwellings"]),
        land_by_size=_by_size(std, "land_per_pupil_by_size_m2", "land_per_pupil_m2"),
        building_by_size=_by_size(std, "building_per_pupil_by_size_m2", "building_per_pupil_m2"),
        max_pupils={lv: float(std["max_school_size"][lv]) for lv in RESERVE_LEVELS},
        preference={str(k): int(v) for k, v in std.get("reserve_site_preference", {}).items()},
        cost_per_class_wan=_class_costs(std),
        classroom_wan=float(std["costs"]["classroom_wan"]),
    )


def _class_costs(std: Mapping[str, Any]) -> dict[str, float]:
    """Cost of a new school per class (万元): ``[costs]`` new 24-class primary ÷ 24 (primary and
    junior, no junior figure exists), new 9-class kindergarten ÷ 9."""
    c = std["costs"]
    school = float(c["new_primary_24_wan"]) / 24.0
    return {"kindergarten": float(c["new_kindergarten_9_wan"]) / 9.0, "primary": school, "junior": school}


# --------------------------------------------------------------------------- checks


def _check_crs(crs: Any, what: str) -> None:
    if crs is None or not CRS.from_user_input(crs).is_projected:
        raise CrsError(f"the {what} must be in a projected (metric) CRS",
                       fix="use county.crs (load_county chooses one) or .to_crs() a metric CRS")


def _check_zones(zones: gpd.GeoDataFrame) -> None:
    """Zones must exist, have polygons and not overlap (touching is fine)."""
    if not len(zones):
        raise SchemaError("the county has no planning zones (控规单元)", layer="zones",
                          fix="add a zones layer with the county seat's 控规单元 polygons")
    _check_crs(zones.crs, "zones layer")
    geoms = zones.geometry
    bad = geoms.isna() | geoms.is_empty | ~geoms.geom_type.isin(["Polygon", "MultiPolygon"])
    if bad.any():
        raise SchemaError("zones need polygon geometry", layer="zones", rows=list(zones.index[bad]),
                          fix="give each 控规单元 its boundary polygon")
    left, right = geoms.sindex.query(geoms.to_numpy(), predicate="intersects")
    pairs = [(i, j) for i, j in zip(left, right, strict=True) if i < j]
    overlaps = []
    for i, j in pairs:
        area = geoms.iloc[i].intersection(geoms.iloc[j]).area
        if area > _OVERLAP_M2:
            overlaps.append((zones.index[i], zones.index[j], area))
    if overlaps:
        a, b, area = overlaps[0]
        more = f" and {len(overlaps) - 1} more pair(s)" if len(overlaps) > 1 else ""
        raise SchemaError(f"zones {a} and {b} overlap ({area:,.0f} m²){more}", layer="zones",
                          rows=sorted({x for p in overlaps for x in p[:2]}, key=str),
                          fix="zones must partition the county seat; clip one of each pair")


def _site_areas(sites: gpd.GeoDataFrame, column: str, what: str) -> pd.Series:
    """Parcel area (m²): the given column, else the polygon area; Points without one are errors."""
    given = pd.to_numeric(sites[column], errors="coerce") if column in sites else pd.Series(
        np.nan, index=sites.index)
    poly = sites.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    area = given.where(given.notna(), sites.geometry.area.where(poly))
    missing = area.isna() | (area <= 0)
    if missing.any():
        raise SchemaError(f"{what} without an area: no {column} and no polygon", layer=what,
                          column=column, rows=list(sites.index[missing]),
                          fix=f"give {column} (m²) or the parcel polygon")
    return area.astype(float)


def _matrix(m: pd.DataFrame, rows: pd.Index, columns: pd.Index | None, what: str) -> pd.DataFrame:
    """Validate a distance matrix (points × ids, metres); returns float, rows in ``rows`` order."""
    if not isinstance(m, pd.DataFrame):
        raise SchemaError(f"{what} must be a DataFrame (demand points × ids, metres)",
                          fix="index = zone_points(...).index, columns = ids")
    m = m.copy()
    m.index = m.index.map(str)
    m.columns = m.columns.map(str)
    missing = rows.difference(m.index)
    if len(missing):
        raise SchemaError(f"{what} has no row for {len(missing)} demand point(s)", rows=list(missing),
                          fix="compute distances from every point of zone_points(county.zones)")
    if columns is not None:
        unknown = m.columns.difference(columns)
        if len(unknown):
            raise SchemaError(f"{what} has column(s) that are not known ids", rows=list(unknown),
                              fix="columns must be school ids (walk_m) or site / vacated school ids")
    try:
        out = m.loc[rows].apply(pd.to_numeric, errors="raise").astype(float)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"{what} holds non-numeric distances: {exc}", fix="give metres") from None
    if (out < 0).any().any():
        raise SchemaError(f"{what} holds negative distances", fix="give walking distances in metres (≥ 0)")
    return out


# --------------------------------------------------------------------------- demand points


def zone_points(zones: gpd.GeoDataFrame, *, spacing_m: float = 150.0,
                villages: pd.DataFrame | None = None, bandwidth_m: float = 400.0) -> gpd.GeoDataFrame:
    """Grid points inside each zone, used as demand points.

    Parameters
    ----------
    zones
        Zone polygons in a metric CRS, indexed by zone id.
    spacing_m
        Grid spacing (m). The grid is anchored at multiples of ``spacing_m`` (cell
        centres), so points do not move when other zones change.
    villages
        Optional settlements (Point geometry, ``zone_id``, ``population``). When
        given, a zone's points are weighted by a Gaussian kernel of its villages'
        population, :math:`w_j \\propto \\sum_v P_v \\exp(-d_{jv}^2 / 2h^2)`, so residents
        concentrate around the settlements; zones without villages keep equal
        weights. The points themselves do not change, so the same distance matrices
        serve both weightings.
    bandwidth_m
        Kernel bandwidth :math:`h` (m).

    Returns
    -------
    GeoDataFrame
        Indexed by ``point_id`` (``"<zone_id>#<k>"``), columns ``zone_id`` and
        ``weight`` (share of the zone's residents, summing to 1 per zone; equal within
        a zone by default), Point geometry in the zones' CRS. A zone too small to hold
        a grid point gets its representative point (weight 1).

    Raises
    ------
    ConfigError
        ``spacing_m`` or ``bandwidth_m`` ≤ 0.
    CrsError, SchemaError
        Geographic CRS; missing geometry.
    """
    for name, val in (("spacing_m", spacing_m), ("bandwidth_m", bandwidth_m)):
        if not (math.isfinite(val) and val > 0):
            raise ConfigError(f"{name} must be positive metres, got {val}", fix="e.g. 150")
    _check_crs(zones.crs, "zones layer")
    kernel = _village_kernel(villages, zones.crs)
    s = float(spacing_m)
    ids, xs, ys, weights = [], [], [], []
    for zid, geom in zip(zones.index.map(str), zones.geometry, strict=True):
        if geom is None or geom.is_empty:
            raise SchemaError("zone without geometry", layer="zones", rows=[zid], fix="give its polygon")
        x0, y0, x1, y1 = geom.bounds
        gx = (np.arange(math.floor(x0 / s), math.ceil(x1 / s) + 1) + 0.5) * s
        gy = (np.arange(math.floor(y0 / s), math.ceil(y1 / s) + 1) + 0.5) * s
        X, Y = (a.ravel() for a in np.meshgrid(gx, gy))
        inside = shapely.contains_xy(geom, X, Y)
        if inside.any():
            X, Y = X[inside], Y[inside]
        else:
            rp = geom.representative_point()
            X, Y = np.array([rp.x]), np.array([rp.y])
        w = np.ones(len(X))
        if kernel is not None and zid in kernel.groups:
            v = kernel.get_group(zid)
            d2 = (X[:, None] - v["x"].to_numpy()) ** 2 + (Y[:, None] - v["y"].to_numpy()) ** 2
            k = np.exp(-d2 / (2 * float(bandwidth_m) ** 2)) @ v["population"].to_numpy()
            if k.sum() > 0:
                w = k
        ids += [f"{zid}#{k}" for k in range(len(X))]
        xs.append(X)
        ys.append(Y)
        weights.append(w / w.sum())
    x = np.concatenate(xs) if xs else np.array([])
    y = np.concatenate(ys) if ys else np.array([])
    zone_of = [i.rsplit("#", 1)[0] for i in ids]
    return gpd.GeoDataFrame(
        {"zone_id": zone_of, "weight": np.concatenate(weights) if weights else np.array([])},
        geometry=gpd.points_from_xy(x, y, crs=zones.crs), index=pd.Index(ids, name="point_id"))


def _village_kernel(villages: pd.DataFrame | None, crs: Any) -> Any:
    """Villages with a zone and residents, grouped by zone (x, y, population), or None."""
    if villages is None or not len(villages) or "zone_id" not in villages:
        return None
    if not isinstance(villages, gpd.GeoDataFrame):
        raise SchemaError("villages need Point geometry", layer="villages", fix="pass county.villages")
    v = villages.to_crs(crs) if villages.crs is not None and villages.crs != crs else villages
    zone = _village_zones(v)
    pop = pd.to_numeric(v["population"], errors="coerce") if "population" in v else \
        pd.Series(np.nan, index=v.index)
    ok = zone.notna() & pop.gt(0) & v.geometry.notna() & (v.geometry.geom_type == "Point")
    if not ok.any():
        return None
    g = v.geometry[ok]
    frame = pd.DataFrame({"zone": zone[ok], "x": g.x, "y": g.y, "population": pop[ok].astype(float)})
    return frame.groupby("zone")


# --------------------------------------------------------------------------- demand


def _children(villages: pd.DataFrame) -> pd.DataFrame:
    """Children by level per village (ages from LEVEL_AGES)."""
    out = {}
    for lv in RESERVE_LEVELS:
        lo, hi = LEVEL_AGES[lv]
        cols = [c for c in AGE_COLUMNS[lo:hi + 1] if c in villages]
        out[lv] = villages[cols].apply(pd.to_numeric, errors="coerce").fillna(0).sum(axis=1) if cols \
            else pd.Series(0.0, index=villages.index)
    return pd.DataFrame(out, index=villages.index).astype(float)


def _demand_table(demand: pd.DataFrame, quantile: str) -> pd.DataFrame:
    if quantile not in _QUANTILES:
        raise ConfigError(f"quantile must be one of {', '.join(_QUANTILES)}, got {quantile!r}",
                          fix="p50 = point forecast, p90 = cautious")
    if not isinstance(demand, pd.DataFrame):
        raise SchemaError("demand must be a DataFrame zone, level, [grade,] year, p50",
                          fix="use schoolplan.forecast.seat_demand")
    missing = [c for c in ("zone", "level", "year", quantile) if c not in demand]
    if missing:
        raise SchemaError(f"demand lacks column(s) {', '.join(missing)}", layer="demand",
                          fix="use the seat forecast: zone, level, grade, year, p10, p50, p90")
    d = demand[demand["level"].isin(RESERVE_LEVELS)]
    pupils = pd.to_numeric(d[quantile], errors="coerce")
    if pupils.isna().any() or (pupils < 0).any():
        raise SchemaError(f"demand {quantile} must be pupils ≥ 0", layer="demand", column=quantile,
                          rows=list(d.index[pupils.isna() | (pupils < 0)]), fix="check the forecast")
    d = pd.DataFrame({"zone": d["zone"].map(str), "level": d["level"], "year": d["year"].astype(int),
                      "pupils": pupils.astype(float)})
    return d.groupby(["zone", "level", "year"], as_index=False)["pupils"].sum()


def _zone_keys(county: County, zones: gpd.GeoDataFrame, demand_zones: set[str]) -> pd.Series:
    """Which demand series (township id) each zone takes its share of."""
    seat = county.county_seat
    if demand_zones == {"county"}:  # a county-wide forecast (seat_demand without zones)
        return pd.Series("county", index=zones.index)
    if "township_id" in zones:
        keys = zones["township_id"].map(lambda v: None if pd.isna(v) or v == "" else str(v))
    else:
        keys = pd.Series(None, index=zones.index, dtype=object)
    if seat is not None:
        keys = keys.fillna(seat)
    if keys.isna().any() and len(demand_zones) == 1:
        keys = keys.fillna(next(iter(demand_zones)))
    if keys.isna().any():
        raise SchemaError("zones without a township and no county seat is flagged", layer="zones",
                          column="township_id", rows=list(zones.index[keys.isna()]),
                          fix="give zones a township_id or flag the county seat (is_county_seat)")
    absent = sorted(set(keys) - demand_zones)
    if absent:
        rows = list(zones.index[keys.isin(absent)])
        raise SchemaError(f"the demand has no rows for township(s) {', '.join(absent)} of the zones",
                          layer="demand", column="zone", rows=rows,
                          fix="forecast seats for that township (zone = township id) or key demand by zone id")
    return keys.astype(str)


def _population_shares(county: County, zones: gpd.GeoDataFrame, key: str,
                       include_outside: bool) -> pd.DataFrame:
    pop = pd.to_numeric(zones["population"], errors="coerce") if "population" in zones else \
        pd.Series(np.nan, index=zones.index)
    missing = pop.isna()
    if missing.any() or pop.sum() <= 0:
        rows = list(zones.index[missing]) if missing.any() else list(zones.index)
        raise SchemaError(f"zones without population and no villages with zone_id: {format_rows(rows)}",
                          layer="zones", column="population", rows=rows,
                          fix="give the zones' population (现状人口) or villages with zone_id and ages")
    denom = float(pop.sum())
    tw = county.townships
    if not include_outside and key in tw.index and "population" in tw:
        tw_pop = pd.to_numeric(pd.Series([tw.loc[key, "population"]]), errors="coerce").iloc[0]
        if pd.notna(tw_pop):
            denom = max(denom, float(tw_pop))
    share = pop / denom
    return pd.DataFrame(dict.fromkeys(RESERVE_LEVELS, share), index=zones.index)


def _village_zones(villages: pd.DataFrame) -> pd.Series:
    """Zone id of each village as text (None outside zones; blank counts as none)."""
    if "zone_id" not in villages:
        return pd.Series(None, index=villages.index, dtype=object)
    return villages["zone_id"].map(lambda x: None if pd.isna(x) or str(x).strip() == "" else str(x))


def _children_shares(county: County, zones: gpd.GeoDataFrame, key: str, all_zones: pd.Index,
                     include_outside: bool) -> pd.DataFrame:
    v = county.villages
    kids = _children(v)
    zid = _village_zones(v)
    zoned = kids[zid.isin(zones.index)].groupby(zid[zid.isin(zones.index)]).sum()
    zoned = zoned.reindex(zones.index)
    pop = pd.to_numeric(zones["population"], errors="coerce") if "population" in zones else \
        pd.Series(np.nan, index=zones.index)
    empty = zoned.isna().all(axis=1)
    if empty.any():
        no_pop = empty & pop.isna()
        if no_pop.any():
            rows = list(zones.index[no_pop])
            raise SchemaError(f"zones without population and without villages: {format_rows(rows)}",
                              layer="zones", column="population", rows=rows,
                              fix="give the zones' population or assign villages to them (zone_id)")
        with_v = ~empty & pop.notna()
        known = float(pop[with_v].sum())
        if known <= 0:
            raise SchemaError("cannot estimate the children of zones without villages: no zone with "
                              "villages has a population", layer="zones", column="population",
                              rows=list(zones.index[empty]),
                              fix="give the population of every zone, or villages for every zone")
        rate = zoned[with_v].sum() / known  # children per resident of the zoned villages
        for z in zones.index[empty]:
            zoned.loc[z] = rate * float(pop[z])
    denom = zoned.sum()
    if not include_outside:
        in_tw = v["township_id"].map(str).eq(key) if "township_id" in v and key in set(
            county.townships.index) else pd.Series(True, index=v.index)
        outside = in_tw & ~zid.isin(all_zones)
        denom = denom + kids[outside].sum()
    shares = zoned.div(denom.where(denom > 0))
    if shares.isna().any().any():  # a level without children: share by population instead
        fallback = _population_shares(county, zones, key, include_outside)
        shares = shares.fillna(fallback)
    return shares


def zone_demand(
    county: County,
    demand: pd.DataFrame,
    *,
    quantile: str = "p50",
    include_outside: bool = False,
    add_housing: bool | None = None,
    housing_ramp: Mapping[str, Any] | None = None,
    standards: Mapping[str, Any] | str | Path | None = None,
) -> pd.DataFrame:
    """Pupils needing a seat per zone, level and year.

    Parameters
    ----------
    county
        County with ``zones`` (and villages / developments).
    demand
        Seat forecast ``zone, level, [grade,] year, p10, p50, p90``. When ``zone`` holds
        township ids (e.g. from :func:`schoolplan.forecast.seat_demand` on enrolment
        keyed by township), each township's demand is shared among its zones (zones'
        ``township_id``, else the county seat) by the zones' current children of the
        level's ages (villages with ``zone_id``; zones without villages by population
        × the children per resident of the zoned villages), or by zone population when
        no village has a ``zone_id``. When ``zone`` holds zone ids it is used as it is.
    quantile
        Forecast column used (``p50``; ``p90`` for a cautious plan).
    include_outside
        When False (default) children of the township living outside every zone keep
        their share of the township's demand (it is not urban demand); when True the
        whole township demand goes to the zones.
    add_housing
        Add the housing yield of ``county.developments``. Default: True for a
        township-keyed forecast, False for a zone-keyed one (assumed to include it).
    housing_ramp
        Keyword arguments of :func:`schoolplan.forecast.housing_yield` (``occupancy``,
        ``present_at_move_in``); default full yield from the completion year
        (``occupancy=(1.0,)``, ``present_at_move_in=1.0``), the planning norm.
    standards
        Norms (``[housing_yield]``); default :func:`schoolplan.standards.load_standards`.

    Returns
    -------
    DataFrame
        ``zone_id, level, year, base, housing, pupils`` (pupils, floats; ``pupils =
        base + housing``), every zone × level × forecast year. ``attrs`` hold
        ``keyed_by`` (``"zone"`` or ``"township"``) and ``outside`` (DataFrame
        ``level, year, pupils``: the townships' demand left outside the zones).

    Raises
    ------
    SchemaError
        Missing columns, townships without demand rows, zones without population and
        without villages (named).
    """
    parts = _demand_parts(county, county.zones.set_axis(county.zones.index.map(str)), demand,
                          quantile=quantile, include_outside=include_outside, add_housing=add_housing,
                          housing_ramp=housing_ramp, rules=_rules(_standards(standards), None, None, None))
    out = parts.table.copy()
    out.attrs["keyed_by"] = parts.keyed_by
    out.attrs["outside"] = parts.outside
    return out


@dataclass(frozen=True)
class _Demand:
    table: pd.DataFrame  # zone_id, level, year, base, housing, pupils
    housing: pd.DataFrame  # development_id, zone_id, level, year, pupils
    outside: pd.DataFrame  # level, year, pupils of the townships left outside the zones
    keyed_by: str


def _demand_parts(county: County, zones: gpd.GeoDataFrame, demand: pd.DataFrame, *, quantile: str,
                  include_outside: bool, add_housing: bool | None, housing_ramp: Mapping[str, Any] | None,
                  rules: _Rules) -> _Demand:
    zones_idx = zones.index
    d = _demand_table(demand, quantile)
    years = sorted(int(y) for y in d["year"].unique())
    if not years:
        raise SchemaError("demand has no kindergarten, primary or junior rows", layer="demand",
                          column="level", fix="forecast those levels")
    keyed_by_zone = bool(set(d["zone"]) & set(zones_idx))
    names = ["zone_id", "level", "year"]
    grid = pd.MultiIndex.from_product([zones_idx, RESERVE_LEVELS, years], names=names)
    outside = pd.Series(0.0, index=pd.MultiIndex.from_product([RESERVE_LEVELS, years], names=["level", "year"]))
    if keyed_by_zone:
        rows = d[d["zone"].isin(set(zones_idx))]
        absent = sorted(set(zones_idx) - set(rows["zone"]), key=str)
        if absent:
            warnings.warn(f"demand has no rows for zone(s) {format_rows(absent)}; their demand is 0",
                          DataWarning, stacklevel=3)
        base = rows.set_index(["zone", "level", "year"])["pupils"].rename_axis(names).reindex(grid, fill_value=0.0)
    else:
        keys = _zone_keys(county, zones, set(d["zone"]))
        v_zone = _village_zones(county.villages)
        parts = []
        for key, members in keys.groupby(keys):
            zsub = zones.loc[members.index]
            shares = (_children_shares(county, zsub, key, zones_idx, include_outside)
                      if v_zone.isin(zsub.index).any()
                      else _population_shares(county, zsub, key, include_outside))
            series = d[d["zone"] == key].set_index(["level", "year"])["pupils"]
            for lv in RESERVE_LEVELS:
                s = series.xs(lv, level="level") if lv in series.index.get_level_values(0) else \
                    pd.Series(dtype=float)
                s = s.reindex(years, fill_value=0.0)
                outside.loc[lv] = (outside.loc[lv] + s * (1.0 - shares[lv].sum())).to_numpy()
                vals = np.outer(shares[lv].to_numpy(), s.to_numpy())
                parts.append(pd.Series(vals.ravel(), index=pd.MultiIndex.from_product(
                    [zsub.index, [lv], years], names=names)))
        base = pd.concat(parts).reindex(grid, fill_value=0.0)
    if add_housing is None:
        add_housing = not keyed_by_zone
    housing = _housing(county, zones, rules, years[-1], housing_ramp) if add_housing else _no_housing()
    housing = housing[housing["year"].isin(years)]
    out = base.rename("base").to_frame()
    out["housing"] = housing.groupby(names)["pupils"].sum().reindex(grid, fill_value=0.0)
    out["pupils"] = out["base"] + out["housing"]
    return _Demand(table=out.reset_index(), housing=housing, keyed_by="zone" if keyed_by_zone else "township",
                   outside=outside.rename("pupils").reset_index())


def _no_housing() -> pd.DataFrame:
    return pd.DataFrame({"development_id": pd.Series(dtype=object), "zone_id": pd.Series(dtype=object),
                         "level": pd.Series(dtype=object), "year": pd.Series(dtype=int),
                         "pupils": pd.Series(dtype=float)})


def _development_zones(devs: gpd.GeoDataFrame, zones: gpd.GeoDataFrame) -> pd.Series:
    """Zone of each development: its zone_id when valid, else the zone holding it."""
    given = devs["zone_id"].map(lambda x: None if pd.isna(x) or x == "" else str(x)) \
        if "zone_id" in devs else pd.Series(None, index=devs.index, dtype=object)
    given = given.where(given.isin(set(zones.index)))
    todo = given.isna() & devs.geometry.notna()
    if todo.any():
        pts = gpd.GeoDataFrame(geometry=devs.geometry[todo].representative_point(), crs=devs.crs)
        hit = gpd.sjoin(pts, zones[["geometry"]].rename_axis("_zone").reset_index(), predicate="within",
                        how="left")
        hit = hit[~hit.index.duplicated()]
        given.loc[todo] = hit["_zone"].reindex(pts.index)
    return given


def _housing(county: County, zones: gpd.GeoDataFrame, rules: _Rules, until_year: int,
             ramp: Mapping[str, Any] | None) -> pd.DataFrame:
    """Housing yield per development: ``development_id, zone_id, level, year, pupils``."""
    devs = county.developments
    if devs is None or not len(devs):
        return _no_housing()
    devs = devs.set_axis(devs.index.map(str))
    zone_of = _development_zones(devs, zones)
    lost = zone_of.isna()
    if lost.any():
        warnings.warn(f"development(s) {format_rows(devs.index[lost])} lie in no zone; their housing "
                      "yield is not added to zone demand", DataWarning, stacklevel=4)
    frame = pd.DataFrame({"zone": devs.index, "year": pd.to_numeric(devs["year"], errors="coerce"),
                          "residents": _residents(devs, rules)}, index=devs.index)[~lost]
    frame = frame[frame["year"].notna() & (frame["year"] <= until_year)]
    if not len(frame):
        return _no_housing()
    opts = {"occupancy": (1.0,), "present_at_move_in": 1.0, **dict(ramp or {})}
    y = housing_yield(frame.astype({"year": int}), pupils_per_1000_residents=rules.per_1000,
                      persons_per_dwelling=rules.persons_per_dwelling, until_year=until_year, **opts)
    y = y.groupby(["zone", "level", "year"], as_index=False)["pupils"].sum()
    y = y.rename(columns={"zone": "development_id"})
    y.insert(1, "zone_id", y["development_id"].map(zone_of))
    return y


def _residents(devs: pd.DataFrame, rules: _Rules) -> pd.Series:
    res = pd.to_numeric(devs["residents"], errors="coerce") if "residents" in devs else \
        pd.Series(np.nan, index=devs.index)
    dw = pd.to_numeric(devs["dwellings"], errors="coerce") if "dwellings" in devs else \
        pd.Series(np.nan, index=devs.index)
    return res.fillna(dw * rules.persons_per_dwelling).fillna(0.0).astype(float)


# --------------------------------------------------------------------------- supply


def _enrolment_split(county: County, ids: pd.Index) -> pd.Series:
    """Primary share of a nine-year school's pupils (latest enrolment year ≤ base year)."""
    e = county.enrolment
    if e is None or not len(e) or not {"school_id", "level", "students", "year"} <= set(e.columns):
        return pd.Series(np.nan, index=ids)
    e = e[e["school_id"].map(str).isin(set(ids)) & (e["year"] <= county.base_year)]
    if not len(e):
        return pd.Series(np.nan, index=ids)
    e = e[e["year"] == e.groupby("school_id")["year"].transform("max")]
    t = e.pivot_table(index=e["school_id"].map(str), columns="level", values="students", aggfunc="sum")
    prim = t.get("primary", pd.Series(0.0, index=t.index)).fillna(0)
    jun = t.get("junior", pd.Series(0.0, index=t.index)).fillna(0)
    tot = prim + jun
    return (prim / tot.where(tot > 0)).reindex(ids)


def school_seats(county: County, standards: Mapping[str, Any] | str | Path | None = None,
                 *, exclude: Sequence[Any] = ()) -> pd.DataFrame:
    """Seats by open school and level (kindergarten, primary, junior).

    Parameters
    ----------
    county
        The county (schools, enrolment).
    standards
        Norms (class sizes for schools without ``capacity_seats``).
    exclude
        School ids to leave out (e.g. those a consolidation plan closes).

    Returns
    -------
    DataFrame
        Indexed by ``school_id``: ``kindergarten``, ``primary``, ``junior`` (seats).
        Seats = ``capacity_seats``, else ``classes`` × class size (teaching points 30),
        else ``students``. Teaching points count as primary. Nine-year schools are
        split by the primary / junior pupils of their latest enrolment year, else 6 : 3.
    """
    std = _standards(standards)
    cs = std["class_size"]
    s = county.schools
    s = s.set_axis(s.index.map(str))
    status = s["status"] if "status" in s else pd.Series("open", index=s.index)
    level = s["level"]
    keep = status.eq("open") & level.isin(["kindergarten", "teaching_point", "primary", "nine_year", "junior"])
    keep &= ~s.index.isin({str(x) for x in exclude})
    s = s[keep]
    size = s["level"].map({"kindergarten": cs.get("kindergarten_mixed", 30), "teaching_point": cs["teaching_point"],
                           "primary": cs["primary"], "junior": cs["junior"],
                           "nine_year": (6 * cs["primary"] + 3 * cs["junior"]) / 9}).astype(float)
    num = {c: pd.to_numeric(s[c], errors="coerce") if c in s else pd.Series(np.nan, index=s.index)
           for c in ("capacity_seats", "classes", "students")}
    seats = num["capacity_seats"].fillna(num["classes"] * size).fillna(num["students"]).fillna(0.0)
    out = pd.DataFrame(0.0, index=s.index.rename("school_id"), columns=list(RESERVE_LEVELS))
    out.loc[s["level"] == "kindergarten", "kindergarten"] = seats
    out.loc[s["level"].isin(["primary", "teaching_point"]), "primary"] = seats
    out.loc[s["level"] == "junior", "junior"] = seats
    nine = s.index[s["level"] == "nine_year"]
    if len(nine):
        share = _enrolment_split(county, nine).fillna(6 / 9)
        out.loc[nine, "primary"] = seats[nine] * share
        out.loc[nine, "junior"] = seats[nine] * (1 - share)
    return out


def _two_step(dist: np.ndarray, radius: float, point_demand: np.ndarray, seats: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """2SFCA: seats reaching each point (points,), and seats of schools reaching some demand."""
    reach = np.nan_to_num(dist, nan=np.inf) <= radius  # points × schools
    catch = point_demand @ reach  # demand within each school's radius
    ratio = np.divide(seats, catch, out=np.zeros_like(seats, dtype=float), where=catch > 0)
    return point_demand * (reach @ ratio), np.where(catch > 0, seats, 0.0)


# --------------------------------------------------------------------------- sizes and words


def _standard_schools(classes: int, sizes: tuple[int, ...]) -> tuple[int, int]:
    """(number of standard schools, classes each) for ``classes`` classes."""
    if classes <= 0:
        return 0, 0
    n = math.ceil(classes / sizes[-1])
    each = math.ceil(classes / n)
    return n, next(sz for sz in sizes if sz >= each)


def _ha(m2: float) -> str:
    ha = m2 / 10_000
    return f"{ha:.1f}" if ha >= 10 else f"{ha:.2f}"


def _explain_uncovered(lv: str, zone: str, u: float, zpts: np.ndarray, S: pd.DataFrame | None,
                       cands: gpd.GeoDataFrame, used: set[str], rules: _Rules, minimum: float,
                       left: np.ndarray) -> dict[str, Any]:
    """Why ``u`` unmet pupils of ``zone`` got no site, how much land they need, which parcel comes closest.

    ``zpts`` are the zone's points still holding unmet pupils. Land needed = the
    standard schools for ``u`` pupils (as :func:`_standard_schools`); ``more_land_m2``
    = the smallest standard school's land minus the largest free parcel within the
    radius (or the land of the school for ``u`` pupils when no parcel is in reach).
    """
    cs, sizes, r = rules.class_size[lv], rules.sizes[lv], rules.radius[lv]
    classes = math.ceil(round(u / cs, 9))
    n, size = _standard_schools(classes, sizes)
    land = n * rules.land_m2(lv, size) if n else 0.0
    noun = "kindergarten" if lv == "kindergarten" else f"{lv} school"
    what_zh, what_en = f"{n}所{size}班{_ZH[lv]}" if n > 1 else f"{size}班{_ZH[lv]}", \
        f"{n} × {size}-class {noun}s" if n > 1 else f"a {size}-class {noun}"
    base = {"land_m2": land, "closest_site": "", "more_land_m2": 0.0}
    uz = round(u)
    if u < minimum:
        return {**base, "land_m2": 0.0,
                "zh": f"另有{uz}人未覆盖，不足一个班（{minimum:.0f}人），不单独建校",
                "en": f"{uz} more uncovered: less than one class ({minimum:.0f}), no school sized for them"}
    if S is None or not len(cands):
        return {**base, "zh": f"另有{uz}人无候选地块，需另找用地约{_ha(land)}公顷（{what_zh}）",
                "en": f"{uz} more without candidate parcels: find about {_ha(land)} ha ({what_en})"}
    ids = [k for k in cands.index if k in S.columns]
    d = np.nan_to_num(S.loc[:, ids].to_numpy(float)[zpts], nan=np.inf).min(axis=0) if len(zpts) and ids \
        else np.full(len(ids), np.inf)
    dist = pd.Series(d, index=ids)
    area = cands["area_m2"].reindex(ids)
    smallest = rules.land_m2(lv, sizes[0])
    within = dist[dist <= r].index
    is_used = pd.Series([k in used for k in ids], index=ids, dtype=bool)

    def reach(k: str) -> float:
        return float(left @ (np.nan_to_num(S[k].to_numpy(float), nan=np.inf) <= r))

    fit_free = [k for k in within if not is_used[k] and area[k] + 1e-6 >= smallest]
    fit_used = [k for k in within if is_used[k] and area[k] + 1e-6 >= smallest]
    if fit_free:  # a parcel that holds a school was left free: too few pupils near it, or the cap
        k = str(max(fit_free, key=lambda x: (reach(x), -dist[x])))
        near = reach(k)
        if near < minimum:
            return {**base, "closest_site": k, "more_land_m2": land,
                    "zh": f"另有{uz}人未覆盖：可容纳学校的空闲地块{k}步行{r:.0f}米内仅有{near:.0f}名未满足学生"
                          f"（不足一个班{minimum:.0f}人），学生主要住在其服务半径以外；需在学生集中处另找用地约"
                          f"{_ha(land)}公顷（{what_zh}）",
                    "en": f"{uz} more uncovered: the free parcel {k} could hold a school but only {near:.0f} unmet "
                          f"pupils live within {r:.0f} m of it (less than one class, {minimum:.0f}); find about "
                          f"{_ha(land)} ha where they live ({what_en})"}
        return {**base, "closest_site": k,
                "zh": f"另有{uz}人未覆盖：已达每学段地块数上限，空闲地块{k}未用；需{what_zh}，约{_ha(land)}公顷",
                "en": f"{uz} more uncovered: the cap on sites per level was reached, free parcel {k} unused; "
                      f"they need {what_en}, about {_ha(land)} ha"}
    if fit_used:
        names = ", ".join(map(str, fit_used))
        return {**base, "closest_site": str(fit_used[0]), "more_land_m2": land,
                "zh": f"另有{uz}人未覆盖：{r:.0f}米内能容纳学校的地块（{names}）已推荐给其他学校，需另找用地约"
                      f"{_ha(land)}公顷（{what_zh}）",
                "en": f"{uz} more uncovered: the parcels within {r:.0f} m that hold a school ({names}) are "
                      f"recommended for other schools; find about {_ha(land)} ha more ({what_en})"}
    if len(within):  # every parcel in reach is too small
        k = str(area[within].idxmax())
        a = float(area[k])
        more = max(0.0, smallest - a)
        note_zh = "，已推荐作其他用途" if is_used[k] else ""
        note_en = ", recommended for another school" if is_used[k] else ""
        return {**base, "closest_site": k, "more_land_m2": more,
                "zh": f"另有{uz}人未覆盖：{r:.0f}米内最大的地块{k}（{_ha(a)}公顷{note_zh}）比最小的"
                      f"{sizes[0]}班{_ZH[lv]}（需{_ha(smallest)}公顷）还少{_ha(more)}公顷；"
                      f"全部{uz}人需{what_zh}，约{_ha(land)}公顷",
                "en": f"{uz} more uncovered: the largest parcel within {r:.0f} m, {k} ({_ha(a)} ha{note_en}), "
                      f"is {_ha(more)} ha short of the smallest {sizes[0]}-class {noun} "
                      f"({_ha(smallest)} ha); all {uz} need {what_en}, about {_ha(land)} ha"}
    free = dist[~is_used]
    if len(free) and np.isfinite(free.min()):
        k = str(free.idxmin())
        return {**base, "closest_site": k, "more_land_m2": land,
                "zh": f"另有{uz}人未覆盖：{r:.0f}米内无地块（最近的空闲地块{k}距{free.min():,.0f}米），"
                      f"需在本单元另找用地约{_ha(land)}公顷（{what_zh}）",
                "en": f"{uz} more uncovered: no parcel within {r:.0f} m (nearest free parcel {k} at "
                      f"{free.min():,.0f} m); find about {_ha(land)} ha in the zone ({what_en})"}
    return {**base, "more_land_m2": land,
            "zh": f"另有{uz}人未覆盖：无可达的空闲地块，需另找用地约{_ha(land)}公顷（{what_zh}）",
            "en": f"{uz} more uncovered: no free parcel in reach; find about {_ha(land)} ha ({what_en})"}


def _zone_level_reason(row: Mapping[str, Any], lv: str, note: Mapping[str, Any] | None) -> tuple[str, str]:
    """Why a zone gets what it gets for one level (empty when the level has no deficit)."""
    short = int(row[f"deficit_{lv}"])
    if short <= 0:
        return "", ""
    cls = int(row[f"classes_{lv}"])
    zh = f"缺{_ZH[lv]}学位{short}个（{cls}个班）"
    en = f"{short} {lv} seats short ({cls} classes)"
    got, ids = float(row[f"site_covered_{lv}"]), row[f"sites_{lv}"]
    if got >= 0.5:
        zh += f"，其中{round(got)}人由{ids}解决"
        en += f": {round(got)} served by {ids}"
    if note:
        zh += "；" + note["zh"]
        en += "; " + note["en"]
    return zh, en


def _zone_reason(row: Mapping[str, Any]) -> tuple[str, str]:
    zh = [row[f"reason_zh_{lv}"] for lv in RESERVE_LEVELS if row[f"reason_zh_{lv}"]]
    en = [row[f"reason_en_{lv}"] for lv in RESERVE_LEVELS if row[f"reason_en_{lv}"]]
    if not zh:
        return "步行服务半径内学位充足", "enough seats within walking distance"
    return "。".join(zh), ". ".join(en)


# --------------------------------------------------------------------------- kindergartens


def kindergarten_shares(county: County, standards: Mapping[str, Any] | str | Path | None = None
                        ) -> pd.DataFrame:
    """Public and 普惠 shares of kindergarten children against the county targets.

    Parameters
    ----------
    county
        The county: open kindergartens with ``students`` and ``ownership``
        (public 公办 / inclusive_private 普惠性民办 / private 民办), villages with
        ``age_3`` … ``age_5``.
    standards
        Norms (``[kindergarten_targets]``).

    Returns
    -------
    DataFrame
        One row per indicator: ``indicator``, ``indicator_zh``, ``numerator``,
        ``denominator``, ``value`` (share), ``target``, ``gap_seats`` and ``pass``.
        Indicators: ``public_share`` = public ÷ enrolled (≥ 50 %),
        ``inclusive_share`` = (public + inclusive private) ÷ enrolled (≥ 80 %),
        ``gross_enrolment`` = enrolled ÷ children aged 3–5 (≥ 85 %),
        ``gross_enrolment_2025`` (≥ 90 %). ``gap_seats`` = ⌈target × denominator −
        numerator⌉ (≥ 0): for the shares, the children who must be in public
        (普惠) places at today's enrolment; for 毛入园率, the extra children to enrol.
        Counts are county-wide (the 督导评估 is by county).
    """
    t = _standards(standards)["kindergarten_targets"]
    s = county.schools
    kg = s[(s.get("status", "open") == "open") & (s["level"] == "kindergarten")]
    pupils = pd.to_numeric(kg["students"], errors="coerce") if "students" in kg else \
        pd.Series(np.nan, index=kg.index)
    if pupils.isna().any() and len(county.enrolment):
        e = county.enrolment
        e = e[(e["year"] == county.base_year) & (e["level"] == "kindergarten")]
        pupils = pupils.fillna(e.groupby(e["school_id"].map(str))["students"].sum().reindex(
            kg.index.map(str)).set_axis(kg.index))
    pupils = pupils.fillna(0.0)
    own = kg["ownership"] if "ownership" in kg else pd.Series("public", index=kg.index)
    enrolled = float(pupils.sum())
    public = float(pupils[own.eq("public")].sum())
    inclusive = float(pupils[own.isin(["public", "inclusive_private"])].sum())
    has_ages = any(c in county.villages for c in AGE_COLUMNS[3:6])
    children = float(_children(county.villages)["kindergarten"].sum()) if has_ages else np.nan
    rows = [
        ("public_share", "公办园在园幼儿占比", public, enrolled, float(t["public_share"])),
        ("inclusive_share", "普惠性幼儿园覆盖率", inclusive, enrolled, float(t["inclusive_share"])),
        ("gross_enrolment", "学前三年毛入园率", enrolled, children, float(t["gross_enrolment"])),
        ("gross_enrolment_2025", "学前三年毛入园率（2025年目标）", enrolled, children,
         float(t.get("gross_enrolment_2025", t["gross_enrolment"]))),
    ]
    out = []
    for key, zh, num, den, target in rows:
        ok = den > 0 and math.isfinite(den)
        value = num / den if ok else np.nan
        gap = max(0, math.ceil(round(target * den - num, 6))) if ok else np.nan
        out.append({"indicator": key, "indicator_zh": zh, "numerator": num, "denominator": den,
                    "value": value, "target": target, "gap_seats": gap,
                    "pass": bool(value >= target - 1e-12) if ok else None})
    return pd.DataFrame(out)


# --------------------------------------------------------------------------- developments


def check_developments(county: County, standards: Mapping[str, Any] | str | Path | None = None
                       ) -> gpd.GeoDataFrame:
    """Check planned developments against the school-land rules (配建学校 / 幼儿园用地).

    Parameters
    ----------
    county
        County with ``developments`` (``dwellings``, ``residents``, ``school_land``,
        ``kindergarten_land``) and ``zones``.
    standards
        Norms (``[housing_yield]``: primary for ≥ ``school_required_residents``,
        junior for ≥ ``junior_required_residents``, kindergarten for ≥
        ``kindergarten_required_dwellings``; ``per_1000_residents``).

    Returns
    -------
    GeoDataFrame
        The developments with ``zone_id`` (given or by location), ``residents_est``,
        ``dwellings_est``, ``pupils_kindergarten`` / ``_primary`` / ``_junior``
        (yield at maturity, 千人指标), ``requires_primary``, ``requires_junior``,
        ``requires_kindergarten`` (rule triggered), ``needs_school`` /
        ``needs_kindergarten`` (triggered but no land planned), ``flag`` and
        ``reason_zh`` / ``reason_en``. Inputs are not modified.
    """
    rules = _rules(_standards(standards), None, None, None)
    devs = county.developments
    if devs is None or not len(devs):
        return gpd.GeoDataFrame(
            {c: [] for c in ("zone_id", "residents_est", "dwellings_est", "needs_school",
                             "needs_kindergarten", "flag", "reason_zh", "reason_en")},
            geometry=gpd.GeoSeries([], crs=county.crs))
    out = devs.copy()
    zones = county.zones.set_axis(county.zones.index.map(str)) if len(county.zones) else county.zones
    out["zone_id"] = _development_zones(devs, zones) if len(zones) else devs.get("zone_id")
    res = _residents(devs, rules)
    dw = pd.to_numeric(devs["dwellings"], errors="coerce") if "dwellings" in devs else \
        pd.Series(np.nan, index=devs.index)
    dw = dw.fillna(res / rules.persons_per_dwelling)
    out["residents_est"] = res
    out["dwellings_est"] = dw
    for lv in RESERVE_LEVELS:
        out[f"pupils_{lv}"] = (res * rules.per_1000.get(lv, 0.0) / 1000).round(1)
    school = devs["school_land"].fillna(False).astype(bool) if "school_land" in devs else \
        pd.Series(False, index=devs.index)
    kgl = devs["kindergarten_land"].fillna(False).astype(bool) if "kindergarten_land" in devs else \
        pd.Series(False, index=devs.index)
    out["requires_primary"] = res >= rules.primary_residents
    out["requires_junior"] = res >= rules.junior_residents
    out["requires_kindergarten"] = dw >= rules.kindergarten_dwellings
    out["needs_school"] = (out["requires_primary"] | out["requires_junior"]) & ~school
    out["needs_kindergarten"] = out["requires_kindergarten"] & ~kgl
    out["flag"] = out["needs_school"] | out["needs_kindergarten"]
    reasons = [_development_reason(r, rules) for _, r in out.iterrows()]
    out["reason_zh"] = [z for z, _ in reasons]
    out["reason_en"] = [e for _, e in reasons]
    return out


def _development_reason(r: Mapping[str, Any], rules: _Rules) -> tuple[str, str]:
    res, dw = round(float(r["residents_est"])), round(float(r["dwellings_est"]))
    zh, en = [], []
    if r["needs_school"]:
        what = "初中和小学" if r["requires_junior"] else "小学"
        what_en = "junior and primary schools" if r["requires_junior"] else "a primary school"
        limit = rules.junior_residents if r["requires_junior"] else rules.primary_residents
        pupils = round(float(r["pupils_primary"]) + (float(r["pupils_junior"]) if r["requires_junior"] else 0))
        zh.append(f"规划人口{res}人（≥{limit:.0f}人应配建{what}），未配建学校用地，将新增约{pupils}名学生")
        en.append(f"{res} residents (≥ {limit:.0f} requires {what_en}) but no school land; "
                  f"adds about {pupils} pupils")
    if r["needs_kindergarten"]:
        kids = round(float(r["pupils_kindergarten"]))
        zh.append(f"住宅{dw}套（≥{rules.kindergarten_dwellings:.0f}套应配建幼儿园），未配建幼儿园用地，"
                  f"将新增约{kids}名幼儿")
        en.append(f"{dw} dwellings (≥ {rules.kindergarten_dwellings:.0f} requires a kindergarten) but no "
                  f"kindergarten land; adds about {kids} children")
    if zh:
        return "；".join(zh), "; ".join(en)
    if r["requires_primary"] or r["requires_kindergarten"]:
        return "已按规定配建学校/幼儿园用地", "comes with the required school / kindergarten land"
    return "规模未达配建门槛", "below the thresholds for school land"


# --------------------------------------------------------------------------- sites


def _candidates(county: County, vacated: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """Sites layer plus vacated school buildings: ``name, site_type, area_m2, building_area_m2, source``."""
    cols = ["name", "site_type", "area_m2", "building_area_m2", "source", "geometry"]
    frames = []
    sites = county.sites
    if sites is not None and len(sites):
        s = sites.set_axis(sites.index.map(str))
        f = gpd.GeoDataFrame({
            "name": s["name"] if "name" in s else s.index.to_series(),
            "site_type": s["site_type"].fillna("vacant") if "site_type" in s else "vacant",
            "area_m2": _site_areas(s, "area_m2", "sites"),
            "building_area_m2": pd.to_numeric(s.get("building_area_m2"), errors="coerce")
            if "building_area_m2" in s else np.nan,
            "source": "sites"}, geometry=s.geometry, crs=s.crs, index=s.index)
        frames.append(f)
    if vacated is not None and len(vacated):
        if vacated.crs is None:
            raise CrsError("the vacated buildings have no CRS", layer="vacated",
                           fix="pass plan.schools rows (county CRS) or set_crs()")
        v = vacated.set_axis(vacated.index.map(str)).to_crs(county.crs)
        if frames and "school_id" in sites:
            v = v[~v.index.isin(set(sites["school_id"].dropna().map(str)))]  # already a site
        if frames:
            v = v[~v.index.isin(frames[0].index)]
        f = gpd.GeoDataFrame({
            "name": v["name"] if "name" in v else v.index.to_series(),
            "site_type": "closed_school",
            "area_m2": _site_areas(v, "land_area_m2", "vacated"),
            "building_area_m2": pd.to_numeric(v.get("building_area_m2"), errors="coerce")
            if "building_area_m2" in v else np.nan,
            "source": "vacated"}, geometry=v.geometry, crs=county.crs, index=v.index)
        frames.append(f)
    if not frames:
        return gpd.GeoDataFrame({c: [] for c in cols[:-1]}, geometry=gpd.GeoSeries([], crs=county.crs))
    out = pd.concat(frames)
    out.index.name = "site_id"
    return gpd.GeoDataFrame(out, geometry="geometry", crs=county.crs)


def _unmet(points: gpd.GeoDataFrame, point_demand: np.ndarray, point_supply: np.ndarray,
           deficit: pd.Series) -> np.ndarray:
    """Zone deficits spread over their points in proportion to the points' own shortfall."""
    gap = np.clip(point_demand - point_supply, 0.0, None)
    zone = points["zone_id"].to_numpy()
    gap_sum = pd.Series(gap).groupby(zone).transform("sum").to_numpy()
    zdef = deficit.reindex(zone).fillna(0.0).to_numpy()
    return np.divide(gap * zdef, gap_sum, out=np.zeros_like(gap), where=gap_sum > 0)


@dataclass
class _Solved:
    sites: gpd.GeoDataFrame  # recommended parcels and expansions
    covered: pd.DataFrame  # point_id, site_id, level, pupils
    uncovered: dict[str, np.ndarray]  # per level, unmet pupils per point left without a site
    used: set[str]  # parcels given a school
    status: str


_SITE_COLUMNS = ["name", "site_type", "level", "area_m2", "land_needed_m2", "building_needed_m2",
                 "building_area_m2", "seats", "classes", "covered_demand", "zones", "fits", "source",
                 "reason_zh", "reason_en"]


def _expansions(county: County, plan: LayoutPlan, seat_tab: pd.DataFrame, W: pd.DataFrame, rules: _Rules
                ) -> pd.DataFrame:
    """Schools that may add classes on their own plot: ``school_id, level, classes, max_add, area_m2``.

    A school of a single level (kindergarten, primary, junior) with a known plot area
    may grow to the largest ``classes`` such that the plot holds that school
    (``_Rules.land_m2``), it stays within the largest standard size and within
    ``[max_school_size]``. Schools without a plot area are not expanded (their land
    cannot be checked).
    """
    rows = []
    s = county.schools.set_axis(county.schools.index.map(str))
    info = None if plan is None else plan.schools.set_axis(plan.schools.index.map(str))
    for sid in seat_tab.index.intersection(W.columns):
        src = info.loc[sid] if info is not None and sid in info.index else (s.loc[sid] if sid in s.index else None)
        if src is None:
            continue
        level = {"teaching_point": None, "nine_year": None}.get(str(src.get("level")), str(src.get("level")))
        if level not in RESERVE_LEVELS:
            continue
        classes = src.get("classes_after") if info is not None and sid in info.index else src.get("classes")
        area = s.loc[sid].get("land_area_m2") if sid in s.index else np.nan
        classes, area = pd.to_numeric(classes, errors="coerce"), pd.to_numeric(area, errors="coerce")
        if pd.isna(classes) or classes <= 0 or pd.isna(area) or area <= 0:
            continue
        cs = rules.class_size[level]
        top = min(rules.sizes[level][-1], int(rules.max_pupils[level] // cs))
        best = int(classes)
        for m in range(int(classes) + 1, top + 1):
            if rules.land_m2(level, m) <= area + 1e-6:
                best = m
        if best > classes:
            rows.append({"school_id": sid, "level": level, "classes": int(classes), "max_add": best - int(classes),
                         "area_m2": float(area), "name": src.get("name", sid)})
    return pd.DataFrame(rows, columns=["school_id", "level", "classes", "max_add", "area_m2", "name"])


def _site_model(unmet: Mapping[str, np.ndarray], pts: gpd.GeoDataFrame, S: pd.DataFrame | None,
                cands: gpd.GeoDataFrame, W: pd.DataFrame, expand: pd.DataFrame, rules: _Rules,
                minimum: Mapping[str, float], caps: Mapping[str, int] | None, time_limit_s: float,
                ) -> tuple[dict[str, Any], str]:
    r"""Choose sites, sizes and expansions by an exact MILP (HiGHS via :func:`scipy.optimize.milp`).

    Sets: levels :math:`L`; points :math:`j` with unmet pupils :math:`u_{jL}`;
    options :math:`(k, L, m)` = parcel :math:`k`, level :math:`L`, standard size
    :math:`m` classes whose land fits, :math:`\mathrm{land}_{Lm} \le A_k`, with
    seats :math:`Q_{Lm} = m\,c_L`; expansions :math:`e` of existing schools of level
    :math:`L_e` by up to :math:`K_e` classes; pairs within the service radius
    :math:`d_{jk} \le r_L`. Variables :math:`y_{kLm} \in \{0,1\}`, :math:`z_e \in
    \{0..K_e\}`, :math:`x \ge 0` (pupils served), :math:`s_{jL} \ge 0` (uncovered).

    .. math::

        \sum_k x_{jkL} + \sum_{e} x_{je} + s_{jL} = u_{jL},\qquad
        \sum_j x_{jkL} \le \sum_m Q_{Lm}\, y_{kLm},\qquad
        \sum_j x_{jkL} \ge \mu_L \sum_m y_{kLm},

        \sum_j x_{je} \le c_{L_e} z_e,\qquad
        \sum_{L,m} y_{kLm} \le 1 \ \text{(each parcel used once)},\qquad
        \sum_{k,m} y_{kLm} \le p_L \ \text{(optional)}.

    Lexicographic objective: first :math:`\min \sum s` (cover all the parcels allow),
    then, with :math:`\sum s` held at that optimum, :math:`\min \sum
    f_{Lm}(1 + 10^{-3}\rho_k)\,y_{kLm} + \sum g\,z_e + 10^{-6}\sum d\,x`, with
    :math:`f_{Lm}` = cost of a new :math:`m`-class school (``[costs]``, per class),
    :math:`g` = cost of a classroom, :math:`\rho_k` = the parcel type's rank in
    ``[reserve_site_preference]`` (education land, vacant land, vacated schools: a
    tie-break at equal cost) and a tiny distance term for a unique assignment.
    """
    import scipy.sparse as sp
    from scipy.optimize import Bounds, LinearConstraint, milp

    cost: list[float] = []
    integ: list[int] = []
    ub: list[float] = []
    kinds: list[tuple[Any, ...]] = []

    def var(kind: tuple[Any, ...], c: float, integer: int, upper: float) -> int:
        kinds.append(kind)
        cost.append(c)
        integ.append(integer)
        ub.append(upper)
        return len(kinds) - 1

    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lo: list[float] = []
    hi: list[float] = []

    def con(entries: Sequence[tuple[int, float]], lower: float, upper: float) -> None:
        r = len(lo)
        for v, a in entries:
            rows.append(r)
            cols.append(v)
            vals.append(a)
        lo.append(lower)
        hi.append(upper)

    site_ids = [] if S is None else [k for k in cands.index if k in S.columns]
    Sd = None if S is None else np.nan_to_num(S[site_ids].to_numpy(float), nan=np.inf)
    Wd = W.to_numpy(float)
    wcol = {c: i for i, c in enumerate(W.columns)}
    use_once: dict[str, list[int]] = {}
    slack: list[int] = []
    for lv in RESERVE_LEVELS:
        u = np.asarray(unmet[lv], float)
        J = np.flatnonzero(u > 1e-6)
        if not len(J):
            continue
        r, cs = rules.radius[lv], rules.class_size[lv]
        serve: dict[int, list[tuple[int, float]]] = {int(j): [] for j in J}
        opened: list[int] = []
        if Sd is not None:
            for col, k in enumerate(site_ids):
                near = J[Sd[J, col] <= r]
                if not len(near):
                    continue
                area = float(cands.at[k, "area_m2"])
                fits = [m for m in rules.sizes[lv] if rules.land_m2(lv, m) <= area + 1e-6]
                if not fits:
                    continue
                rank = rules.preference.get(str(cands.at[k, "site_type"]), max(rules.preference.values(), default=0) + 1)
                ys = [var(("y", k, lv, m), rules.cost_per_class_wan[lv] * m * (1 + 1e-3 * rank), 1, 1.0)
                      for m in fits]
                opened += ys
                use_once.setdefault(k, []).extend(ys)
                xs = []
                for j in near:
                    xv = var(("x", int(j), k, lv), 1e-6 * float(Sd[j, col]), 0, np.inf)
                    serve[int(j)].append((xv, 1.0))
                    xs.append(xv)
                cap = [(xv, 1.0) for xv in xs] + [(yv, -float(m * cs)) for yv, m in zip(ys, fits, strict=True)]
                con(cap, -np.inf, 0.0)
                least = [(xv, -1.0) for xv in xs] + [(yv, float(minimum[lv])) for yv in ys]
                con(least, -np.inf, 0.0)
        for e in expand[expand["level"] == lv].itertuples(index=False):
            if e.school_id not in wcol:
                continue
            dcol = np.nan_to_num(Wd[:, wcol[e.school_id]], nan=np.inf)
            near = J[dcol[J] <= r]
            if not len(near):
                continue
            zv = var(("z", e.school_id, lv), rules.classroom_wan, 1, float(e.max_add))
            xs = []
            for j in near:
                xv = var(("x", int(j), e.school_id, lv), 1e-6 * float(dcol[j]), 0, np.inf)
                serve[int(j)].append((xv, 1.0))
                xs.append(xv)
            con([(xv, 1.0) for xv in xs] + [(zv, -float(cs))], -np.inf, 0.0)
        if caps and lv in caps and opened:
            con([(yv, 1.0) for yv in opened], -np.inf, float(caps[lv]))
        for j in J:
            sv = var(("s", int(j), lv), 0.0, 0, np.inf)
            slack.append(sv)
            con([*serve[int(j)], (sv, 1.0)], float(u[j]), float(u[j]))
    for ys in use_once.values():
        if len(ys) > 1:
            con([(yv, 1.0) for yv in ys], -np.inf, 1.0)
    n = len(kinds)
    if not n:
        return {}, "not_needed"
    A = sp.csr_array((vals, (rows, cols)), shape=(len(lo), n))
    bounds = Bounds(np.zeros(n), np.array(ub))
    integrality = np.array(integ)
    opts = {"time_limit": float(time_limit_s), "mip_rel_gap": 1e-7, "disp": False}
    first = np.zeros(n)
    first[slack] = 1.0
    res1 = milp(first, integrality=integrality, bounds=bounds,
                constraints=LinearConstraint(A, np.array(lo), np.array(hi)), options=opts)
    if res1.x is None:
        raise OptimizationError(f"the reserved-land site model found no solution ({res1.message})",
                              fix="report this with the inputs; raise the time limit (time_limit_s)")
    best = float(first @ res1.x)
    keep_row = sp.csr_array((np.ones(len(slack)), (np.zeros(len(slack), int), slack)), shape=(1, n))
    res2 = milp(np.array(cost), integrality=integrality, bounds=bounds,
                constraints=[LinearConstraint(A, np.array(lo), np.array(hi)),
                             LinearConstraint(keep_row, -np.inf, best + 1e-6 * max(1.0, best))],
                options=opts)
    x = res2.x if res2.x is not None else res1.x
    status = "optimal" if res1.status == 0 and res2.status == 0 else \
        f"time limit ({res1.message.strip()} / {res2.message.strip() if res2.x is not None else 'no solution'})"
    return {kind: float(v) for kind, v in zip(kinds, x, strict=True) if abs(v) > 1e-7}, status


def _sites(cands: gpd.GeoDataFrame, S: pd.DataFrame | None, W: pd.DataFrame, pts: gpd.GeoDataFrame,
           unmet: Mapping[str, np.ndarray], expand: pd.DataFrame, county: County, rules: _Rules,
           minimum: Mapping[str, float], caps: Mapping[str, int] | None, time_limit_s: float,
           summary: dict[str, Any]) -> _Solved:
    """Run the site model and turn its solution into the recommended-sites frame."""
    sol, status = _site_model(unmet, pts, S, cands, W, expand, rules, minimum, caps, time_limit_s)
    pid = pts.index.to_numpy()
    covered = pd.DataFrame([{"point_id": pid[k[1]], "site_id": k[2], "level": k[3], "pupils": v}
                            for k, v in sol.items() if k[0] == "x" and v > 1e-6],
                           columns=["point_id", "site_id", "level", "pupils"])
    uncovered = {lv: np.zeros(len(pts)) for lv in RESERVE_LEVELS}
    for k, v in sol.items():
        if k[0] == "s":
            uncovered[k[2]][k[1]] = v
    zone_of = pts["zone_id"]
    recs = []
    schools = county.schools.set_axis(county.schools.index.map(str))
    for k, v in sol.items():
        if k[0] not in ("y", "z") or v < 0.5:
            continue
        sid, lv = k[1], k[2]
        rows = covered[(covered["site_id"] == sid) & (covered["level"] == lv)]
        got = float(rows["pupils"].sum())
        zones = sorted(set(zone_of.reindex(rows["point_id"])), key=str)
        if k[0] == "y":
            recs.append(_site_record(sid, lv, got, zones, cands.loc[sid], rules))
        else:
            e = expand[(expand["school_id"] == sid) & (expand["level"] == lv)].iloc[0]
            recs.append(_expansion_record(sid, lv, got, zones, e, schools, rules))
    used = {r["site_id"] for r in recs if r["source"] != "expansion"}
    summary["site_model_status"] = status
    if not recs:
        frame = gpd.GeoDataFrame({c: [] for c in _SITE_COLUMNS}, geometry=gpd.GeoSeries([], crs=cands.crs),
                                 index=pd.Index([], name="site_id"))
        return _Solved(frame, covered, uncovered, used, status)
    rec = pd.DataFrame(recs).set_index("site_id")
    geoms = [cands.geometry[s] if src != "expansion" else schools.geometry[s]
             for s, src in zip(rec.index, rec["source"], strict=True)]
    out = gpd.GeoDataFrame(rec, geometry=geoms, crs=cands.crs if len(cands) else county.crs)
    out = out.sort_values(["level", "source", "covered_demand"], ascending=[True, True, False], kind="stable")
    out.index.name = "site_id"
    return _Solved(out[[*_SITE_COLUMNS, "geometry"]], covered, uncovered, used, status)


def _smallest_size(level: str, pupils: float, rules: _Rules, area: float = np.inf) -> int | None:
    """Smallest standard size (classes) holding ``pupils`` whose land fits ``area``."""
    cs = rules.class_size[level]
    return next((m for m in rules.sizes[level] if m * cs >= pupils - 1e-6 and rules.land_m2(level, m) <= area + 1e-6),
                None)


def _site_record(sid: str, level: str, got: float, zones: list[str], cand: Mapping[str, Any], rules: _Rules
                 ) -> dict[str, Any]:
    """A recommended parcel: the smallest standard school holding ``got`` pupils that fits it."""
    area = float(cand["area_m2"])
    size = _smallest_size(level, got, rules, area)
    if size is None:  # cannot happen: the model only offers sizes that fit
        raise OptimizationError(f"site {sid}: no standard {level} size fits {area:.0f} m² for {got:.0f} pupils",
                              fix="report this as a bug")
    cs = rules.class_size[level]
    seats, land, floor = size * cs, rules.land_m2(level, size), rules.floor_m2(level, size)
    radius, zl = rules.radius[level], ", ".join(zones)
    n = round(got)
    reason_zh = (f"覆盖步行{radius:.0f}米内{zl}未满足的{_ZH[level]}学位需求{n}人，建{size}班{_ZH[level]}"
                 f"（{seats}个学位），需用地{_ha(land)}公顷（每生{rules.land_per_seat(level, size):g}㎡）、"
                 f"建筑面积约{floor:,.0f}㎡；地块{_ha(area)}公顷，可容纳")
    reason_en = (f"covers {n} unmet {level} pupils within {radius:.0f} m walk ({zl}): a {size}-class "
                 f"{level} school ({seats} seats) needs {_ha(land)} ha ({rules.land_per_seat(level, size):g} m² "
                 f"per seat) and about {floor:,.0f} m² of floor; the parcel ({_ha(area)} ha) holds it")
    return {"site_id": sid, "name": cand.get("name", sid), "site_type": cand.get("site_type"), "level": level,
            "area_m2": area, "land_needed_m2": land, "building_needed_m2": floor,
            "building_area_m2": cand.get("building_area_m2", np.nan), "seats": seats, "classes": size,
            "covered_demand": round(got, 1), "zones": ",".join(zones), "fits": bool(land <= area + 1e-6),
            "source": cand.get("source", "sites"), "reason_zh": reason_zh, "reason_en": reason_en}


def _expansion_record(sid: str, level: str, got: float, zones: list[str], e: Mapping[str, Any],
                      schools: pd.DataFrame, rules: _Rules) -> dict[str, Any]:
    cs = rules.class_size[level]
    add = math.ceil(round(got / cs, 9))
    total = int(e["classes"]) + add
    land, area = rules.land_m2(level, total), float(e["area_m2"])
    name = schools["name"].get(sid, sid) if "name" in schools else sid
    zl = ", ".join(zones)
    reason_zh = (f"扩建现有{_ZH[level]}，增加{add}个班（{add * cs}个学位，由{e['classes']}班到{total}班），"
                 f"覆盖步行{rules.radius[level]:.0f}米内{zl}未满足需求{round(got)}人；扩建比新建学校省钱，"
                 f"现有用地{_ha(area)}公顷可容纳{total}班（需{_ha(land)}公顷）")
    reason_en = (f"expand the existing {level} school by {add} classes ({add * cs} seats, {e['classes']} → "
                 f"{total} classes) for {round(got)} unmet pupils within {rules.radius[level]:.0f} m ({zl}); "
                 f"cheaper than a new school; its {_ha(area)} ha plot holds {total} classes "
                 f"(needs {_ha(land)} ha)")
    return {"site_id": sid, "name": name, "site_type": "school_expansion", "level": level, "area_m2": area,
            "land_needed_m2": land, "building_needed_m2": add * cs * rules.building_per_seat(level, total),
            "building_area_m2": pd.to_numeric(schools["building_area_m2"].get(sid), errors="coerce")
            if "building_area_m2" in schools else np.nan,
            "seats": add * cs, "classes": add, "covered_demand": round(got, 1), "zones": ",".join(zones),
            "fits": bool(land <= area + 1e-6), "source": "expansion", "reason_zh": reason_zh,
            "reason_en": reason_en}


# --------------------------------------------------------------------------- the layout plan

_OPEN = ("keep", "expand", "new")


def _in_zones(geoms: gpd.GeoSeries, zones: gpd.GeoDataFrame) -> pd.Series:
    """Zone id holding each geometry's representative point (None outside every zone)."""
    out = pd.Series(None, index=geoms.index, dtype=object)
    ok = geoms.notna() & ~geoms.is_empty
    if not ok.any() or not len(zones):
        return out
    g = geoms[ok].to_crs(zones.crs) if geoms.crs is not None and geoms.crs != zones.crs else geoms[ok]
    pts = gpd.GeoDataFrame(geometry=g.representative_point(), crs=zones.crs)
    hit = gpd.sjoin(pts, zones[["geometry"]].rename_axis("_zone").reset_index(), predicate="within", how="left")
    hit = hit[~hit.index.duplicated()]
    out.loc[hit.index] = hit["_zone"].map(lambda z: None if pd.isna(z) else str(z))
    return out


def _plan_seats(county: County, plan: LayoutPlan, std: Mapping[str, Any]) -> pd.DataFrame:
    """Seats per school and level after the plan.

    Compulsory schools: ``capacity_after`` of the plan's ``keep`` / ``expand`` /
    ``new`` schools (merged, converted and vacant ones have none); a nine-year school's
    seats are split by the primary / junior pupils the plan assigns to it (else by its
    enrolment, else 6 : 3). Kindergartens, which the plan does not decide on, keep
    their seats from :func:`school_seats`.
    """
    ps = plan.schools.set_axis(plan.schools.index.map(str))
    missing = [c for c in ("decision", "level", "capacity_after") if c not in ps]
    if missing:
        raise SchemaError(f"plan.schools lacks column(s) {', '.join(missing)}", layer="plan.schools",
                          fix="pass the LayoutPlan of schoolplan.consolidate")
    open_ = ps[ps["decision"].isin(_OPEN)]
    seats = pd.to_numeric(open_["capacity_after"], errors="coerce").fillna(0.0).astype(float)
    out = pd.DataFrame(0.0, index=open_.index.rename("school_id"), columns=list(RESERVE_LEVELS))
    lv = open_["level"].astype(str)
    out.loc[lv == "kindergarten", "kindergarten"] = seats
    out.loc[lv.isin(["primary", "teaching_point"]), "primary"] = seats
    out.loc[lv == "junior", "junior"] = seats
    nine = open_.index[lv == "nine_year"]
    if len(nine):
        a = plan.assignment
        a = a[a["school_id"].notna()]
        stage = a["band"].map(lambda b: BANDS.get(b, {}).get("stage"))
        by = a.assign(stage=stage, school_id=a["school_id"].map(str)).groupby(["school_id", "stage"])["pupils"].sum()
        share = pd.Series(np.nan, index=nine)
        for sid in nine:
            p = float(by.get((sid, "primary"), 0.0))
            j = float(by.get((sid, "junior"), 0.0))
            if p + j > 0:
                share[sid] = p / (p + j)
        known = [s for s in nine if s in set(county.schools.index.map(str))]
        if share.isna().any() and known:
            share = share.fillna(_enrolment_split(county, pd.Index(known)).reindex(nine))
        share = share.fillna(6 / 9)
        out.loc[nine, "primary"] = seats[nine] * share
        out.loc[nine, "junior"] = seats[nine] * (1 - share)
    kg = school_seats(county, std)
    kg = kg[kg["kindergarten"] > 0].drop(index=out.index, errors="ignore")
    return pd.concat([out, kg])


def _plan_moves(county: County, plan: LayoutPlan, zones: gpd.GeoDataFrame, pts: gpd.GeoDataFrame,
                demand: pd.DataFrame, years: Sequence[int], plan_year: int, quantile: str
                ) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    r"""Pupils the plan moves into (or out of) zone schools from villages outside every zone.

    For a village :math:`v` outside the zones, band stage :math:`L` and zone :math:`z`,

    .. math::

        \Delta_{zL} = \sum_{v \notin Z} \big(P^{\text{after}}_{v \to z, L} -
        P^{\text{before}}_{v \to z, L}\big),

    the plan's pupils (``plan.assignment``: ``school_id`` after, ``school_before``
    before) attending a school located in :math:`z`. The plan is for ``plan_year``;
    another year :math:`y` scales each row by its township's forecast
    :math:`D_{t(v),L,y} / D_{t(v),L,\text{plan\_year}}` (1 when the forecast is not
    keyed by that township). The pupils sit on the zone's demand point nearest to
    the school they attend.

    Returns
    -------
    (moves, placement)
        ``moves``: ``school_id, zone_id, level, year, pupils`` (net, may be negative);
        ``placement``: point weights per school (1 on its nearest point).
    """
    a = plan.assignment
    need = [c for c in ("village_id", "band", "school_id", "pupils", "school_before") if c not in a]
    if need:
        raise SchemaError(f"plan.assignment lacks column(s) {', '.join(need)}", layer="plan.assignment",
                          fix="pass the LayoutPlan of schoolplan.consolidate")
    v = county.villages.set_axis(county.villages.index.map(str))
    v_zone = _village_zones(v)
    v_zone = v_zone.where(v_zone.isin(set(zones.index)))
    v_zone = v_zone.fillna(_in_zones(v.geometry, zones)) if isinstance(v, gpd.GeoDataFrame) else v_zone
    ps = plan.schools.set_axis(plan.schools.index.map(str))
    s_zone = _in_zones(ps.geometry, zones)
    a = a.assign(village_id=a["village_id"].map(lambda x: None if pd.isna(x) else str(x)),
                 stage=a["band"].map(lambda b: BANDS.get(b, {}).get("stage")))
    outside = a[a["village_id"].map(v_zone).isna() & a["stage"].isin(RESERVE_LEVELS)]
    parts = []
    for col, sign in (("school_id", 1.0), ("school_before", -1.0)):
        sid = outside[col].map(lambda x: None if pd.isna(x) else str(x))
        z = sid.map(s_zone)
        rows = outside.assign(school_id=sid, zone_id=z, pupils=sign * pd.to_numeric(outside["pupils"]))
        parts.append(rows[z.notna()])
    moved = pd.concat(parts, ignore_index=True)
    empty = pd.DataFrame({"school_id": pd.Series(dtype=object), "zone_id": pd.Series(dtype=object),
                          "level": pd.Series(dtype=object), "year": pd.Series(dtype=int),
                          "pupils": pd.Series(dtype=float)})
    if not len(moved):
        return empty, {}
    d = _demand_table(demand, quantile).set_index(["zone", "level", "year"])["pupils"]
    tw = v["township_id"].map(str) if "township_id" in v else pd.Series("", index=v.index)
    moved["township"] = moved["village_id"].map(tw)
    base = d.xs(plan_year, level="year") if plan_year in d.index.get_level_values("year") else d.iloc[0:0]
    rows = []
    for y in years:
        now = d.xs(y, level="year") if y in d.index.get_level_values("year") else d.iloc[0:0]
        ratio = (now / base.where(base > 0)).rename("f")
        key = pd.MultiIndex.from_arrays([moved["township"], moved["stage"]])
        f = np.nan_to_num(ratio.reindex(key).to_numpy(float), nan=1.0)  # 1 without that township's forecast
        rows.append(moved.assign(year=y, pupils=moved["pupils"].to_numpy(float) * f))
    out = pd.concat(rows).groupby(["school_id", "zone_id", "stage", "year"], as_index=False)["pupils"].sum()
    out = out.rename(columns={"stage": "level"})
    placement = {}
    for sid, z in out[["school_id", "zone_id"]].drop_duplicates().itertuples(index=False):
        zp = pts[pts["zone_id"] == z]
        w = pd.Series(0.0, index=zp.index)
        if len(zp):
            w.iloc[int(np.argmin(zp.geometry.distance(ps.geometry[sid]).to_numpy()))] = 1.0
        placement[sid] = w
    return out[["school_id", "zone_id", "level", "year", "pupils"]], placement


def _plan_expansion_land(county: County, plan: LayoutPlan, zones: gpd.GeoDataFrame, seat_tab: pd.DataFrame,
                         rules: _Rules, std: Mapping[str, Any]) -> pd.DataFrame:
    r"""Land the plan's own expansions need beyond their plots (扩建用地), schools in the zones.

    For a school the plan expands from :math:`m_0` to :math:`m_1` classes with plot
    :math:`A`: :math:`\text{extra} = \max\big(0,\ \mathrm{land}(m_1) - \max(A,
    \mathrm{land}(m_0))\big)` with :math:`\mathrm{land}(m)` = seats × the per-seat
    land of an :math:`m`-class school (nine-year schools: ``land_per_pupil_m2.nine_year``),
    so land already short before the plan is not charged to it. The extra land is
    split between primary and junior by the school's seats after the plan.
    """
    cols = ["school_id", "name", "level", "zone_id", "classes_before", "classes_after", "area_m2",
            "land_needed_m2", "extra_land_m2", "extra_land_m2_primary", "extra_land_m2_junior",
            "reason_zh", "reason_en"]
    if plan is None or "classes_added" not in plan.schools:
        return pd.DataFrame(columns=cols)
    ps = plan.schools.set_axis(plan.schools.index.map(str))
    grown = ps[ps["decision"].isin(["expand", "new"]) & (pd.to_numeric(ps["classes_added"], errors="coerce") > 0)
               & ps["level"].isin(["primary", "junior", "nine_year"])]
    grown = grown[~grown.index.isin(set(county.sites.index.map(str)))]  # new schools on parcels: below
    zone = _in_zones(grown.geometry, zones)
    grown = grown[zone.notna()]
    sch = county.schools.set_axis(county.schools.index.map(str))
    rows = []
    for sid, g in grown.iterrows():
        lv = str(g["level"])
        m0, m1 = int(g["classes_before"]), int(g["classes_after"])
        seats_after = float(g["capacity_after"])
        per = seats_after / m1 if m1 else 0.0

        def need(m: int, lv: str = lv, per: float = per) -> float:
            if lv == "nine_year":
                return m * per * float(std["land_per_pupil_m2"]["nine_year"])
            return m * per * rules.land_per_seat(lv, m)

        area = pd.to_numeric(sch["land_area_m2"].get(sid), errors="coerce") if "land_area_m2" in sch else np.nan
        if pd.isna(area):
            area = 0.0
        extra = max(0.0, need(m1) - max(float(area), need(m0)))
        if extra <= 0:
            continue
        split = seat_tab.loc[sid, ["primary", "junior"]] if sid in seat_tab.index else pd.Series(
            {"primary": 1.0 if lv == "primary" else 0.0, "junior": 1.0 if lv == "junior" else 0.0})
        tot = float(split.sum()) or 1.0
        name = g.get("name", sid)
        rows.append({"school_id": sid, "name": name, "level": lv, "zone_id": zone[sid],
                     "classes_before": m0, "classes_after": m1, "area_m2": float(area),
                     "land_needed_m2": need(m1), "extra_land_m2": extra,
                     "extra_land_m2_primary": extra * float(split["primary"]) / tot,
                     "extra_land_m2_junior": extra * float(split["junior"]) / tot,
                     "reason_zh": f"规划将{name}由{m0}班扩至{m1}班，需用地约{_ha(need(m1))}公顷，现有{_ha(area)}公顷，"
                                  f"应在周边预留约{_ha(extra)}公顷扩建用地",
                     "reason_en": f"the plan grows {name} from {m0} to {m1} classes: it needs about "
                                  f"{_ha(need(m1))} ha on a {_ha(area)} ha plot; reserve about {_ha(extra)} ha "
                                  "next to it"})
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------- kindergarten reuse


def _village_kg_demand(county: County, demand: pd.DataFrame | None, children: pd.Series | None,
                       year: int | None, quantile: str) -> pd.Series:
    """Kindergarten seat demand per village in ``year``: given, or the township forecast shared by children 3–5."""
    v = county.villages.set_axis(county.villages.index.map(str))
    if children is not None:
        c = pd.to_numeric(pd.Series(children), errors="coerce")
        c.index = c.index.map(str)
        unknown = c.index.difference(v.index)
        if len(unknown):
            raise SchemaError("children name unknown villages", layer="villages", rows=list(unknown),
                              fix="index children by county.villages ids")
        return c.reindex(v.index).fillna(0.0).clip(lower=0.0)
    if demand is None:
        raise ConfigError("kindergarten_reuse needs the planning year's kindergarten demand",
                          fix="pass demand= (the seat forecast) and year=, or children= per village")
    d = _demand_table(demand, quantile)
    d = d[d["level"] == "kindergarten"]
    years = sorted(set(d["year"]))
    if year is None or int(year) not in years:
        raise ConfigError(f"year {year} is not a kindergarten forecast year"
                          + (f" ({years[0]}–{years[-1]})" if years else " (no kindergarten rows)"),
                          fix="pass the planning year of the scenario")
    d = d[d["year"] == int(year)].set_index("zone")["pupils"]
    kids = _children(v)["kindergarten"]
    if set(d.index) == {"county"}:
        key = pd.Series("county", index=v.index)
    else:
        key = v["township_id"].map(str) if "township_id" in v else pd.Series("", index=v.index)
    total = kids.groupby(key).transform("sum")
    share = kids / total.where(total > 0)
    n = key.groupby(key).transform("size")
    share = share.fillna(1.0 / n)  # a township without children aged 3–5: equal shares
    out = share * key.map(d)
    absent = sorted(set(key[out.isna()]))
    if absent:  # no kindergarten there today, so no enrolment to forecast: the county's rate per child
        known = key.isin(set(d.index))
        rate = float(d.reindex(sorted(set(key[known]))).sum()) / float(kids[known].sum()) \
            if kids[known].sum() > 0 else 0.0
        warnings.warn(f"no {year} kindergarten forecast for township(s) {', '.join(absent)}: their children "
                      f"aged 3–5 are counted at the county's {rate:.2f} enrolled per child", DataWarning,
                      stacklevel=3)
        out = out.fillna(kids * rate)
    return out.fillna(0.0)


def kindergarten_reuse(
    county: County,
    buildings: gpd.GeoDataFrame,
    *,
    demand: pd.DataFrame | None = None,
    year: int | None = None,
    children: pd.Series | None = None,
    distance_m: pd.DataFrame | None = None,
    radius_m: float | None = None,
    quantile: str = "p50",
    min_children: float | None = None,
    standards: Mapping[str, Any] | str | Path | None = None,
) -> pd.DataFrame:
    r"""Should a vacated school building become a kindergarten? Only where children still lack seats.

    Method: kindergarten demand per village :math:`D_v` in the planning ``year``
    (the township's forecast shared by the villages' children aged 3–5, or
    ``children``); seats of open kindergartens shared over the villages within their
    radius by demand (2SFCA, as :func:`reserve_land`), giving each village's supply
    :math:`S_v \le D_v`; each village's shortfall :math:`D_v - S_v` goes to the
    nearest building within the radius (ties: lowest id), so no child is counted for
    two buildings. A building is suggested as a kindergarten when its shortfall is at
    least ``min_children`` (one class, 30, by default).

    Parameters
    ----------
    county
        Villages (Point, ``township_id``, ``age_3`` … ``age_5``), schools (open
        kindergartens with seats), townships (``is_county_seat``).
    buildings
        Vacated buildings (Point or Polygon, indexed by school id), e.g.
        ``plan.schools[plan.schools.decision.isin(["merge", "convert", "vacant"])]``;
        ``building_area_m2`` (optional) gives the children they can hold
        (÷ ``building_per_pupil_m2.kindergarten``).
    demand, year
        Seat forecast (``zone`` = township id) and the planning year; or
    children
        Kindergarten demand per village id in the planning year (overrides ``demand``).
    distance_m
        Distances (m) villages × (building ids and kindergarten ids); default the
        straight line between the points (shorter than any walk: a lenient reach).
    radius_m
        Kindergarten radius; default per building township: ``[service_radius_presets]``
        ``urban`` (300 m) in the county seat, ``rural`` (1,000 m) elsewhere.
    quantile, min_children, standards
        Forecast column; least shortfall for a kindergarten (default one class,
        ``class_size.kindergarten_mixed``); norms.

    Returns
    -------
    DataFrame
        Indexed by building id: ``radius_m``, ``children_within`` (demand of the villages
        within the radius, planning year), ``seats_within`` (their shared supply),
        ``shortfall`` (children without a seat assigned to this building, each child
        once), ``capacity_children``, ``reuse`` (``"kindergarten"`` or None),
        ``reason_zh``, ``reason_en``.
    """
    std = _standards(standards)
    rules = _rules(std, None, None, None)
    presets = std.get("service_radius_presets", {})
    cs = float(rules.class_size["kindergarten"])
    least = cs if min_children is None else float(min_children)
    b = buildings.set_axis(buildings.index.map(str)).sort_index()  # ties go to the lowest id
    cols = ["radius_m", "children_within", "seats_within", "shortfall", "capacity_children", "reuse",
            "reason_zh", "reason_en"]
    if not len(b):
        return pd.DataFrame(columns=cols, index=pd.Index([], name="school_id"))
    if b.crs is not None and b.crs != county.crs:
        b = b.to_crs(county.crs)
    v = county.villages.set_axis(county.villages.index.map(str))
    dv = _village_kg_demand(county, demand, children, year, quantile)
    seats = school_seats(county, std, exclude=list(b.index))["kindergarten"]
    seats = seats[seats > 0]
    kg = county.schools.set_axis(county.schools.index.map(str)).loc[seats.index]
    seat_tw = county.county_seat

    def radius_of(frame: pd.DataFrame) -> np.ndarray:
        if radius_m is not None:
            return np.full(len(frame), float(radius_m))
        tw = frame["township_id"].map(str) if "township_id" in frame else pd.Series("", index=frame.index)
        urban = float(presets.get("urban", {}).get("kindergarten", rules.radius["kindergarten"]))
        rural = float(presets.get("rural", {}).get("kindergarten", rules.radius["kindergarten"]))
        return np.where(tw.eq(str(seat_tw)), urban, rural)

    def dist(targets: gpd.GeoDataFrame) -> np.ndarray:
        if distance_m is not None:
            m = distance_m.copy()
            m.index, m.columns = m.index.map(str), m.columns.map(str)
            missing = targets.index.difference(m.columns)
            if len(missing):
                raise SchemaError("distance_m has no column for some buildings or kindergartens",
                                  rows=list(missing), fix="columns = building and kindergarten ids")
            return np.nan_to_num(m.reindex(v.index)[targets.index].to_numpy(float), nan=np.inf)
        g = targets.geometry.representative_point()
        a = np.column_stack([v.geometry.x, v.geometry.y])
        c = np.column_stack([g.x, g.y])
        return np.sqrt(((a[:, None, :] - c[None, :, :]) ** 2).sum(axis=2))

    D = dv.to_numpy(float)
    if len(kg):
        point_supply, _ = _two_step_radii(dist(kg), radius_of(kg), D, seats.to_numpy(float))
    else:
        point_supply = np.zeros(len(v))
    supply = np.minimum(point_supply, D)
    gap = D - supply
    rb = radius_of(b)
    db = dist(b)
    reach = db <= rb[None, :]
    masked = np.where(reach, db, np.inf)
    has = reach.any(axis=1)
    nearest = np.where(has, np.argmin(masked, axis=1), -1)  # argmin takes the first (lowest id) on ties
    short = np.array([gap[(nearest == i)].sum() for i in range(len(b))])
    within_d = (D[:, None] * reach).sum(axis=0)
    within_s = (supply[:, None] * reach).sum(axis=0)
    floor = pd.to_numeric(b["building_area_m2"], errors="coerce") if "building_area_m2" in b else \
        pd.Series(np.nan, index=b.index)
    if "building_area_m2" in county.schools:  # plan.schools rows carry no floor area: the register's
        reg = pd.to_numeric(county.schools["building_area_m2"], errors="coerce")
        floor = floor.fillna(reg.set_axis(reg.index.map(str)).reindex(b.index))
    cap = np.floor(floor / rules.building_per_seat("kindergarten", 1))
    out = pd.DataFrame({"radius_m": rb, "children_within": within_d.round(1), "seats_within": within_s.round(1),
                        "shortfall": short.round(1), "capacity_children": cap.to_numpy()}, index=b.index)
    out.index.name = "school_id"
    yes = out["shortfall"] >= least - 1e-9
    out["reuse"] = pd.Series(["kindergarten" if y else None for y in yes], index=out.index, dtype=object)
    when = "" if year is None else f"{year}年"
    when_en = "" if year is None else f" in {year}"
    zh, en = [], []
    for _, r in out.iterrows():
        n = round(float(r["shortfall"]))
        head_zh = (f"{when}{r['radius_m']:.0f}米内幼儿园学位需求{r['children_within']:.0f}人、可用学位"
                   f"{r['seats_within']:.0f}个")
        head_en = (f"within {r['radius_m']:.0f} m{when_en}: {r['children_within']:.0f} children need kindergarten "
                   f"places, {r['seats_within']:.0f} places reachable")
        if r["reuse"] == "kindergarten":
            fit = "" if pd.isna(r["capacity_children"]) else f"，校舍约可容纳{r['capacity_children']:.0f}名幼儿"
            fit_en = "" if pd.isna(r["capacity_children"]) else \
                f"; the building holds about {r['capacity_children']:.0f} children"
            zh.append(f"{head_zh}，仍有{n}名幼儿无学位，建议改建为幼儿园{fit}")
            en.append(f"{head_en}; {n} children still without a place: suggested as a kindergarten{fit_en}")
        else:
            zh.append(f"{head_zh}，无学位的幼儿{n}人（不足{least:.0f}人），不建议改建为幼儿园")
            en.append(f"{head_en}; {n} children without a place (fewer than {least:.0f}): not suggested "
                      "as a kindergarten")
    out["reason_zh"], out["reason_en"] = zh, en
    return out[cols]


def _two_step_radii(dist: np.ndarray, radius: np.ndarray, demand: np.ndarray, seats: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """2SFCA with a radius per facility (columns)."""
    reach = np.nan_to_num(dist, nan=np.inf) <= radius[None, :]
    catch = demand @ reach
    ratio = np.divide(seats, catch, out=np.zeros_like(seats, dtype=float), where=catch > 0)
    return demand * (reach @ ratio), np.where(catch > 0, seats, 0.0)


# --------------------------------------------------------------------------- main entry


def _years(d: pd.DataFrame, year: int | None) -> tuple[int, list[int]]:
    years = sorted(int(y) for y in d["year"].unique())
    if year is None:
        return years[-1], years
    if int(year) not in years:
        raise ConfigError(f"planning year {year} is not in the demand ({years[0]}–{years[-1]})",
                          fix="choose a forecast year or extend the forecast horizon")
    return int(year), [y for y in years if y <= int(year)]


def reserve_land(
    county: County,
    demand: pd.DataFrame,
    walk_m: pd.DataFrame,
    *,
    site_walk_m: pd.DataFrame | None = None,
    year: int | None = None,
    peak: bool | str = True,
    standards: Mapping[str, Any] | str | Path | None = None,
    radius_preset: str | None = "urban",
    radius_m: float | Mapping[str, float] | None = None,
    vacated: gpd.GeoDataFrame | None = None,
    sizes: Mapping[str, Sequence[int]] | None = None,
    points: gpd.GeoDataFrame | None = None,
    spacing_m: float = 150.0,
    quantile: str = "p50",
    include_outside: bool = False,
    add_housing: bool | None = None,
    housing_ramp: Mapping[str, Any] | None = None,
    seats: pd.DataFrame | None = None,
    sites_per_level: Mapping[str, int] | None = None,
    min_site_pupils: Mapping[str, float] | None = None,
    require_fit: bool = True,
    plan: LayoutPlan | None = None,
    target_year: int | None = None,
    allow_expansion: bool = True,
    time_limit_s: float = 60.0,
) -> ReservedLand:
    """Where the county seat needs school and kindergarten land (预留用地), and how much.

    See the module docstring for the method (demand points, demand sharing, 2SFCA
    supply, deficit, site choice, kindergarten targets, development rules).

    Parameters
    ----------
    county
        County with ``zones`` (polygons, metric CRS), ``schools``, ``villages``,
        ``sites`` and ``developments``.
    demand
        Seat forecast ``zone, level, [grade,] year, p10, p50, p90`` keyed by township
        id (shared among the zones) or by zone id (used directly); see
        :func:`zone_demand`.
    walk_m
        Walking distance (m) from the demand points (rows: ``points.index``) to
        schools (columns: school ids); NaN = unreachable. Schools missing from the
        columns are treated as out of reach (a DataWarning names those near the zones).
    site_walk_m
        Walking distance (m) from the demand points to candidate sites (columns:
        site ids and ``vacated`` school ids). Only those columns are candidates.
        None: no sites are recommended.
    year
        Planning year (default: the last forecast year).
    peak
        Which year sizes the deficit, within the plan horizon (forecast years up to
        ``year``): True or ``"zone"`` (default) each zone's own peak year per level
        (old districts peak early as births fall, new-housing districts late);
        ``"level"`` one year per level, when the zones' total demand of the level
        peaks; False the planning year.
    standards
        Norms mapping, a TOML path or preset name; default the national norms.
    radius_preset
        Name in ``[service_radius_presets]`` (``urban`` 300/500/1,000 m,
        ``rural``, ``henan_plain``), or None for ``[service_radius_m]``.
    radius_m
        Override radii (m): one number for every level or ``{level: metres}``.
    vacated
        Buildings the consolidation plan vacates (GeoDataFrame indexed by school id,
        with ``land_area_m2``), e.g. ``plan.schools[plan.schools.decision.isin(
        ["merge", "convert", "vacant"])]``. They are candidate sites and their seats
        are removed from the supply.
    sizes
        Standard school sizes in classes per level (default ``standard_*`` of
        ``[school_classes]``: primary and junior 24/36, kindergarten 6/9/12).
    points
        Demand points; must be the rows of the distance matrices. Default
        :func:`zone_points` of the zones with ``spacing_m``, weighted by the villages
        with ``zone_id`` (equal weights in zones without villages). Housing yield of a
        development is placed on its zone's points inside its polygon (else the
        nearest point), not spread over the zone.
    spacing_m
        Grid spacing of the default points (m).
    quantile
        Forecast column (``p50`` or ``p90`` for a cautious plan).
    include_outside, add_housing, housing_ramp
        See :func:`zone_demand`.
    seats
        Seats replacing those of :func:`school_seats` (DataFrame indexed by school
        id with level columns), e.g. after a plan expands schools.
    sites_per_level
        Most new-school parcels per level (default: no cap; the model opens what the
        deficit within reach needs).
    min_site_pupils
        Least unmet demand (pupils) a parcel must cover to be recommended, per level
        (default one class: 30 / 45 / 50).
    require_fit
        Kept for compatibility: every recommended site fits (only standard sizes whose
        land fits a parcel are offered to the model); ``False`` changes nothing.
    plan
        The scenario's layout plan: demand and supply after the plan (module docstring,
        step 3), its vacated buildings as candidates (when ``vacated`` is None), its new
        schools' parcels taken, its expanded schools' extra land, and
        ``summary["vacated_kindergarten"]`` (:func:`kindergarten_reuse` of its vacated
        buildings in the planning year). ``walk_m`` must then have columns for the
        plan's schools (new ones by their parcel id). None: the county as it is.
    target_year
        The year the plan's pupils are for (default the planning year): moved pupils of
        another year are scaled by their township's forecast.
    allow_expansion
        Let existing schools add classes on their own plots instead of new schools.
    time_limit_s
        Time limit of each of the two MILP solves (s); ``summary["site_model_status"]``
        says whether the optimum was proven.

    Returns
    -------
    ReservedLand
        ``zones``: per level ``demand_L`` (the year used), ``demand_plan_L``,
        ``demand_peak_L``, ``housing_L`` (of it, from new housing), ``year_L``,
        ``supply_L``, ``surplus_L``, ``deficit_L``, ``classes_L``, ``schools_L``,
        ``school_size_L``, ``land_m2_L``, ``building_m2_L`` (the zone alone),
        ``moved_L``, ``site_covered_L`` (served by a recommendation), ``sites_L``,
        ``uncovered_L``, ``land_to_find_m2_L``, ``more_land_m2_L``,
        ``closest_site_L``, ``plan_extra_land_m2_L``, ``reason_zh_L`` /
        ``reason_en_L``; ``flag``, ``reason_zh``, ``reason_en``. ``sites``:
        recommendations (parcels, and ``source == "expansion"`` for classes added
        to an existing school) with ``level``, ``area_m2``, ``land_needed_m2``,
        ``building_needed_m2``, ``seats``, ``classes``, ``covered_demand``, ``zones``,
        ``fits`` (always True) and reasons. ``developments``:
        :func:`check_developments`. ``kindergarten``: :func:`kindergarten_shares`.
        ``summary``: ``planning_year``, ``peak_year_L``, ``seats_short_L``,
        ``classes_short_L``, ``schools_needed_L``, ``seats_unused_L``,
        ``moved_in_L``, ``sites_L`` (ids), ``covered_by_sites_L``, ``uncovered_L``,
        ``seats_recommended_L``, ``land_m2_L`` (to reserve) = ``land_m2_sites_L`` +
        ``land_m2_to_find_L`` + ``land_m2_plan_expansion_L``, ``land_m2_zones_L``,
        ``reason_zh_L`` / ``reason_en_L``, ``pools_L``, ``site_model_status``,
        ``site_ranking``, ``plan_expansions`` (DataFrame), ``vacated_kindergarten``
        (DataFrame or None), ``kindergarten_public_share_after``, ...

    Raises
    ------
    SchemaError
        Overlapping zones (the pair named), zones without population and villages,
        sites without area, malformed matrices or demand.
    ConfigError
        Unknown radius preset (presets listed), radii ≤ 0, bad sizes or year.
    CrsError
        Zones not in a metric CRS.
    OptimizationError
        The site model found no solution within ``time_limit_s``.
    """
    std = _standards(standards)
    rules = _rules(std, radius_preset, radius_m, sizes)
    zones = county.zones.set_axis(county.zones.index.map(str))
    _check_zones(zones)
    taken = set()
    if plan is not None:  # parcels the plan builds new schools on are no longer free
        ps = plan.schools
        taken = set(ps.index[ps["decision"].eq("new")].map(str))
        if vacated is None:
            vacated = _plan_vacated(county, plan)
    cands = _candidates(county, vacated)
    cands = cands[~cands.index.isin(taken)]
    pts = _points(zones, points, county.villages, spacing_m)
    known = pd.Index(county.schools.index.map(str))
    if plan is not None:
        known = known.union(pd.Index(plan.schools.index.map(str)))
    W = _matrix(walk_m, pts.index, known, "walk_m")
    # parcels taken by the plan's new schools, and vacated buildings already listed as parcels, drop out
    dup = set() if vacated is None else set(vacated.index.map(str)) - set(cands.index)
    S = None if site_walk_m is None else _matrix(
        site_walk_m.drop(columns=[c for c in site_walk_m.columns if str(c) in taken | dup]),
        pts.index, cands.index, "site_walk_m")

    if S is not None:
        S = _new_street_distances(S, pts, cands, county, float(std["reserve_distance"]["new_street_detour"]))

    parts = _demand_parts(county, zones, demand, quantile=quantile, include_outside=include_outside,
                          add_housing=add_housing, housing_ramp=housing_ramp, rules=rules)
    plan_year, horizon = _years(parts.table, year)
    zd = parts.table[parts.table["year"].isin(horizon)].copy()
    moves, move_at = (_plan_moves(county, plan, zones, pts, demand, horizon, plan_year if target_year is None
                                  else int(target_year), quantile)
                      if plan is not None else (_no_housing().rename(columns={"development_id": "school_id"}), {}))
    keys = ["zone_id", "level", "year"]
    zd["moved"] = moves.groupby(keys)["pupils"].sum().reindex(pd.MultiIndex.from_frame(zd[keys])).fillna(
        0.0).to_numpy()
    zd["pupils"] = (zd["base"] + zd["housing"] + zd["moved"]).clip(lower=0.0)
    by_year = zd.groupby(["level", "year"])["pupils"].sum()
    peak_year = {lv: int(by_year.loc[lv].idxmax()) for lv in RESERVE_LEVELS}
    use_year = {lv: _use_years(zd, lv, zones.index, peak, plan_year, peak_year[lv]) for lv in RESERVE_LEVELS}
    placement = _placement(county, zones, pts, parts.housing)

    exclude = [] if vacated is None else list(vacated.index.map(str))
    seat_tab = _plan_seats(county, plan, std) if plan is not None else school_seats(county, std, exclude=exclude)
    seat_tab = seat_tab.drop(index=[s for s in exclude if s in seat_tab.index])
    if seats is not None:
        over = seats.set_axis(seats.index.map(str)).reindex(columns=list(RESERVE_LEVELS)).fillna(0.0)
        seat_tab = pd.concat([seat_tab.drop(index=over.index, errors="ignore"), over])
    _warn_unmeasured(county, seat_tab, W, zones, rules)

    out = zones.drop(columns=[c for c in zones.columns if c not in ("name", "township_id", "geometry")])
    summary: dict[str, Any] = {"planning_year": plan_year, "horizon": [horizon[0], horizon[-1]],
                               "quantile": quantile, "keyed_by": parts.keyed_by, "points": len(pts),
                               "radius_m": dict(rules.radius), "class_size": dict(rules.class_size),
                               "sizes": {k: list(v) for k, v in rules.sizes.items()},
                               "demand_after_plan": plan is not None}
    unmet: dict[str, np.ndarray] = {}
    outside = parts.outside.set_index(["level", "year"])["pupils"]
    for lv in RESERVE_LEVELS:
        point_demand = _point_demand(zd, parts.housing, placement, moves, move_at, pts, lv, use_year[lv])
        unmet[lv] = _level_columns(out, lv, zd, plan_year, peak_year[lv], use_year[lv], point_demand, pts, W,
                                   seat_tab, rules, summary)
        summary[f"peak_year_{lv}"] = peak_year[lv]
        summary[f"demand_outside_zones_{lv}"] = round(float(outside.get((lv, peak_year[lv]), 0.0)), 1)
        summary[f"moved_in_{lv}"] = round(float(out[f"moved_{lv}"].sum()), 1)
    summary["peak"] = {True: "zone", False: "planning_year"}.get(peak, peak) if isinstance(peak, bool) else peak

    minimum = {lv: float(rules.class_size[lv]) for lv in RESERVE_LEVELS} | dict(min_site_pupils or {})
    expand = _expansions(county, plan, seat_tab, W, rules) if allow_expansion else _expansions(
        county, plan, seat_tab.iloc[0:0], W, rules)
    summary["sites_without_distance"] = [] if S is None else list(cands.index.difference(S.columns))
    solved = _sites(cands, S, W, pts, unmet, expand, county, rules, minimum, sites_per_level, time_limit_s,
                    summary)
    sites, covered = solved.sites, solved.covered
    plan_land = _plan_expansion_land(county, plan, zones, seat_tab, rules, std)
    notes: dict[str, dict[str, dict[str, Any]]] = {}
    for lv in RESERVE_LEVELS:
        c = covered[covered["level"] == lv]
        zone_of = c["point_id"].map(pts["zone_id"])
        out[f"site_covered_{lv}"] = c.groupby(zone_of)["pupils"].sum().reindex(out.index).fillna(0.0).round(1)
        ids = c.groupby(zone_of)["site_id"].agg(lambda s: ",".join(sorted(set(s), key=str)))
        out[f"sites_{lv}"] = ids.reindex(out.index).fillna("")
        left = pd.Series(solved.uncovered[lv]).groupby(pts["zone_id"].to_numpy()).sum().reindex(out.index).fillna(0.0)
        out[f"uncovered_{lv}"] = left.round(1)
        pools = _pool_uncovered(pts, solved.uncovered[lv], lv, rules, minimum[lv])
        summary[f"pools_{lv}"] = pools
        share = _pool_shares(pools, out.index)
        more, closest = [], []
        for z in out.index:
            if left[z] < 0.5:
                more.append(0.0)
                closest.append("")
                continue
            zp = np.flatnonzero((pts["zone_id"].to_numpy() == z) & (solved.uncovered[lv] > 1e-6))
            note = _explain_uncovered(lv, z, float(left[z]), zp, S, cands, solved.used, rules, minimum[lv],
                                      solved.uncovered[lv])
            pool = next((q for q in pools if z in q["zones"] and not q["residual"]), None)
            if pool is not None and len(pool["zones"]) > 1:
                others = ", ".join(x for x in pool["zones"] if x != z)
                note["zh"] += f"；与{others}合并计算：共{round(pool['pupils'])}人，需{pool['what_zh']}约{_ha(pool['land_m2'])}公顷"
                note["en"] += (f"; pooled with {others}: {round(pool['pupils'])} pupils need {pool['what_en']}, "
                               f"about {_ha(pool['land_m2'])} ha")
            notes.setdefault(z, {})[lv] = note
            more.append(note["more_land_m2"])
            closest.append(note["closest_site"])
        out[f"land_to_find_m2_{lv}"] = share.round(0)
        out[f"more_land_m2_{lv}"] = more
        out[f"closest_site_{lv}"] = closest
        extra = plan_land.groupby("zone_id")[f"extra_land_m2_{lv}"].sum() if lv != "kindergarten" else pd.Series(
            dtype=float)
        out[f"plan_extra_land_m2_{lv}"] = pd.to_numeric(extra.reindex(out.index), errors="coerce").fillna(
            0.0).round(0)
        lvl_sites = sites[(sites["level"] == lv)] if len(sites) else sites
        new = lvl_sites[lvl_sites["source"] != "expansion"] if len(lvl_sites) else lvl_sites
        summary[f"sites_{lv}"] = list(lvl_sites.index)
        summary[f"covered_by_sites_{lv}"] = round(float(c["pupils"].sum()), 1)
        summary[f"uncovered_{lv}"] = round(float(solved.uncovered[lv].sum()), 1)
        summary[f"seats_recommended_{lv}"] = int(lvl_sites["seats"].sum()) if len(lvl_sites) else 0
        summary[f"land_m2_sites_{lv}"] = float(new["land_needed_m2"].sum()) if len(new) else 0.0
        summary[f"land_m2_to_find_{lv}"] = float(sum(q["land_m2"] for q in pools))
        summary[f"land_m2_plan_expansion_{lv}"] = float(out[f"plan_extra_land_m2_{lv}"].sum())
        summary[f"land_m2_zones_{lv}"] = float(out[f"land_m2_{lv}"].sum())
        summary[f"land_m2_{lv}"] = (summary[f"land_m2_sites_{lv}"] + summary[f"land_m2_to_find_{lv}"]
                                    + summary[f"land_m2_plan_expansion_{lv}"])
        summary[f"reason_zh_{lv}"], summary[f"reason_en_{lv}"] = _level_reason(lv, summary, out)
    summary["sites_chosen"] = len(sites)
    summary["sites_not_fitting"] = [s for s, f in zip(sites.index, sites["fits"], strict=True) if not f] \
        if len(sites) else []
    summary["site_ranking"] = _ranking(cands, S, unmet, rules)
    summary["plan_expansions"] = plan_land
    flags = pd.concat([out[f"deficit_{lv}"] > 0 for lv in RESERVE_LEVELS], axis=1).any(axis=1)
    out["flag"] = flags
    for lv in RESERVE_LEVELS:
        per = [_zone_level_reason(r, lv, notes.get(z, {}).get(lv)) for z, r in out.iterrows()]
        out[f"reason_zh_{lv}"] = [a for a, _ in per]
        out[f"reason_en_{lv}"] = [b for _, b in per]
    words = [_zone_reason(r) for _, r in out.iterrows()]
    out["reason_zh"] = [z for z, _ in words]
    out["reason_en"] = [e for _, e in words]
    out.index.name = "zone_id"
    summary["zones_flagged"] = int(flags.sum())
    summary["zones_flagged_ids"] = list(out.index[flags])

    devs = check_developments(county, std)
    kg = kindergarten_shares(county, std)
    summary["developments_flagged"] = int(devs["flag"].sum()) if len(devs) else 0
    summary["developments_flagged_ids"] = list(devs.index[devs["flag"].astype(bool)]) if len(devs) else []
    ind = kg.set_index("indicator")
    for key in ("public_share", "inclusive_share", "gross_enrolment"):
        gap = ind.loc[key, "gap_seats"]
        summary[f"kindergarten_{key}"] = float(ind.loc[key, "value"])
        summary[f"kindergarten_{key}_gap_seats"] = int(gap) if pd.notna(gap) else None
    _kindergarten_after(summary, ind)
    kg_rows = demand["level"].eq("kindergarten") & demand["year"].astype(int).eq(plan_year)
    summary["vacated_kindergarten"] = None  # no plan, no vacated building, or no kindergarten forecast
    if plan is not None and vacated is not None and len(vacated) and kg_rows.any():
        reuse = kindergarten_reuse(county, vacated, demand=demand, year=plan_year, quantile=quantile,
                                   standards=std)
        summary["vacated_kindergarten"] = _reuse_vs_sites(reuse, sites, county)
    cols = [c for c in out.columns if c != "geometry"] + ["geometry"]
    return ReservedLand(zones=gpd.GeoDataFrame(out[cols], geometry="geometry", crs=zones.crs), sites=sites,
                        summary=summary, developments=devs, kindergarten=kg)


def _pool_uncovered(pts: gpd.GeoDataFrame, u: np.ndarray, lv: str, rules: _Rules, minimum: float
                    ) -> list[dict[str, Any]]:
    r"""Pool uncovered pupils within the service radius before sizing the land still to find.

    Greedy: the demand point whose straight-line radius :math:`r_L` holds the most
    uncovered pupils is a pool's centre; its pupils within :math:`r_L` form the pool;
    repeat on the rest. A pool of at least ``minimum`` pupils (one class) needs
    :math:`k = \lceil P / c_L \rceil` classes, i.e. the standard schools of
    :func:`_standard_schools`, and land :math:`k\,c_L\,a_L(m)` with :math:`a_L(m)` the
    per-seat land of those schools' size :math:`m` (a pool smaller than the smallest
    standard school gets its seats' land, to add to a nearby plot or to pool with
    others, not a whole school's); smaller pools need no land. Straight lines are
    shorter than walks, so pools are as large as the radius allows. Once no radius
    holds one class, the rest is one ``residual`` entry without land.
    """
    idx = np.flatnonzero(u > 1e-6)
    out: list[dict[str, Any]] = []
    if not len(idx):
        return out
    from scipy.spatial import cKDTree

    xy = np.column_stack([pts.geometry.x.to_numpy()[idx], pts.geometry.y.to_numpy()[idx]])
    tree = cKDTree(xy)
    near = tree.sparse_distance_matrix(tree, rules.radius[lv], output_type="coo_matrix").tocsr()
    near = (near + sp_identity(len(idx), format="csr")).astype(bool).astype(float)  # a point reaches itself
    w = u[idx].copy()
    zone = pts["zone_id"].to_numpy()[idx]
    cs, sizes = rules.class_size[lv], rules.sizes[lv]
    while w.sum() > 1e-6:
        held = near @ w
        c = int(np.argmax(held))
        if held[c] < minimum:  # no pool can reach one class any more: the rest needs no land
            members = w > 0
            by_zone = pd.Series(w[members]).groupby(zone[members]).sum()
            out.append({"zones": sorted(by_zone.index, key=str), "pupils": round(float(w.sum()), 1),
                        "by_zone": {str(z): float(v) for z, v in by_zone.items()}, "schools": 0, "classes": 0,
                        "size": 0, "land_m2": 0.0, "residual": True, "what_zh": "", "what_en": ""})
            break
        members = (near[[c]].toarray().ravel() > 0) & (w > 0)
        pupils = float(w[members].sum())
        by_zone = pd.Series(w[members]).groupby(zone[members]).sum()
        w[members] = 0.0
        k = math.ceil(round(pupils / cs, 9)) if pupils >= minimum else 0
        n, size = _standard_schools(k, sizes)
        out.append({"zones": sorted(by_zone.index, key=str), "pupils": round(pupils, 1),
                    "by_zone": {str(z): float(v) for z, v in by_zone.items()}, "schools": n, "classes": k,
                    "size": size, "land_m2": k * cs * rules.land_per_seat(lv, size) if k else 0.0,
                    "residual": False, "what_zh": f"{k}个班的{_ZH[lv]}学位", "what_en": f"{k} {lv} classes"})
    return out


def _pool_shares(pools: Sequence[Mapping[str, Any]], zones: pd.Index) -> pd.Series:
    """Each zone's share of its pools' land (by its uncovered pupils), summing to the pools' land."""
    share = pd.Series(0.0, index=zones)
    for q in pools:
        if q["pupils"] > 0 and q["land_m2"] > 0:
            tot = sum(q["by_zone"].values())
            for z, v in q["by_zone"].items():
                share[z] += q["land_m2"] * v / tot
    return share


def _new_street_distances(S: pd.DataFrame, pts: gpd.GeoDataFrame, cands: gpd.GeoDataFrame, county: County,
                          detour: float) -> pd.DataFrame:
    r"""Distances inside planned developments, whose streets are not in the road data yet.

    For a demand point inside a development polygon and a candidate parcel touching the
    same polygon, :math:`d = \min(d_{\text{network}},\ \delta \cdot d_{\text{straight}})`
    with :math:`\delta` = ``[reserve_distance] new_street_detour``; every other pair
    keeps its network distance (barriers in built-up areas stay).
    """
    devs = county.developments
    if devs is None or not len(devs) or not len(cands) or not (detour > 0):
        return S
    devs = devs[devs.geometry.notna() & devs.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    if not len(devs):
        return S
    out = S.copy()
    cols = [k for k in cands.index if k in out.columns]
    for geom in devs.geometry:
        inside = pts.index[pts.within(geom)]
        near = [k for k in cols if cands.geometry[k] is not None and cands.geometry[k].intersects(geom)]
        if not len(inside) or not near:
            continue
        a = pts.geometry[inside]
        for k in near:
            straight = a.distance(cands.geometry[k].representative_point()).to_numpy() * detour
            cur = out.loc[inside, k].to_numpy(float)
            out.loc[inside, k] = np.fmin(np.where(np.isnan(cur), np.inf, cur), straight)
    return out


def _plan_vacated(county: County, plan: LayoutPlan) -> gpd.GeoDataFrame:
    """Buildings the plan empties (merge / convert / vacant), with their plot and floor area."""
    ps = plan.schools
    v = ps[ps["decision"].isin(["merge", "convert", "vacant"])]
    areas = [c for c in ("land_area_m2", "building_area_m2") if c in county.schools and c not in v]
    if areas:
        v = v.join(county.schools[areas], how="left")
    return v


def _reuse_vs_sites(reuse: pd.DataFrame, sites: gpd.GeoDataFrame, county: County) -> pd.DataFrame:
    """Make the kindergarten suggestion agree with the site model.

    A vacated building the site model recommends for a primary or junior school is
    not also suggested as a kindergarten (``site_recommendation`` names the site and
    level); one it recommends as a kindergarten is.
    """
    out = reuse.copy()
    by_school = {}
    if "school_id" in county.sites:
        by_school = {str(s): str(k) for k, s in county.sites["school_id"].dropna().items()}
    rec = []
    for bid in out.index:
        sid = bid if bid in sites.index else by_school.get(bid)
        if sid is None or sid not in sites.index:
            rec.append("")
            continue
        lv = str(sites.loc[sid, "level"])
        rec.append(f"{sid}: {lv}")
        if lv == "kindergarten":
            out.loc[bid, "reuse"] = "kindergarten"
        elif out.loc[bid, "reuse"] == "kindergarten":
            out.loc[bid, "reuse"] = None
            out.loc[bid, "reason_zh"] += f"；但该校舍已推荐新建{_ZH[lv]}（{sid}）"
            out.loc[bid, "reason_en"] += f"; but the site model recommends it for a {lv} school ({sid})"
    out["site_recommendation"] = rec
    return out


def _kindergarten_after(summary: dict[str, Any], ind: pd.DataFrame) -> None:
    """Public (公办) share if the recommended kindergarten seats are public and filled by the covered deficit."""
    num, den = float(ind.loc["public_share", "numerator"]), float(ind.loc["public_share", "denominator"])
    inc = float(ind.loc["inclusive_share", "numerator"])
    add = float(summary.get("covered_by_sites_kindergarten", 0.0))
    ok = den + add > 0
    summary["kindergarten_public_share_after"] = (num + add) / (den + add) if ok else None
    summary["kindergarten_inclusive_share_after"] = (inc + add) / (den + add) if ok else None


def _level_reason(lv: str, summary: Mapping[str, Any], out: pd.DataFrame) -> tuple[str, str]:
    """One sentence per level: recommendation, or why there is none and how much land is missing."""
    short = int(summary[f"seats_short_{lv}"])
    plan_extra = float(summary[f"land_m2_plan_expansion_{lv}"])
    tail_zh = f"；规划扩建学校还需周边预留约{_ha(plan_extra)}公顷" if plan_extra > 0 else ""
    tail_en = f"; the plan's expanded schools need about {_ha(plan_extra)} ha more next to them" if plan_extra > 0 \
        else ""
    if short <= 0:
        return f"{_ZH[lv]}学位充足{tail_zh}", f"enough {lv} seats{tail_en}"
    ids = summary[f"sites_{lv}"]
    got, left = summary[f"covered_by_sites_{lv}"], summary[f"uncovered_{lv}"]
    zh = f"缺{_ZH[lv]}学位{short}个"
    en = f"{short} {lv} seats short"
    if ids:
        zh += f"，推荐{len(ids)}处（{', '.join(ids)}）解决{round(got)}人"
        en += f"; {len(ids)} recommendation(s) ({', '.join(ids)}) serve {round(got)}"
    if left >= 0.5:
        zs = [z for z in out.index if out.at[z, f"uncovered_{lv}"] >= 0.5]
        find = float(summary[f"land_m2_to_find_{lv}"])
        zh += f"；{round(left)}人无合适地块（{', '.join(zs)}），需另找用地约{_ha(find)}公顷，详见各单元说明"
        en += (f"; {round(left)} have no parcel that fits ({', '.join(zs)}): find about {_ha(find)} ha more, "
               "see the zones")
    return zh + tail_zh, en + tail_en


def _ranking(cands: gpd.GeoDataFrame, S: pd.DataFrame | None, unmet: Mapping[str, np.ndarray], rules: _Rules
             ) -> pd.DataFrame:
    """Every candidate's unmet demand within reach and the largest standard size it holds, per level."""
    rows = []
    if S is not None:
        for lv in RESERVE_LEVELS:
            for k in cands.index.intersection(S.columns):
                reach = np.nan_to_num(S[k].to_numpy(float), nan=np.inf) <= rules.radius[lv]
                area = float(cands.at[k, "area_m2"])
                fits = [m for m in rules.sizes[lv] if rules.land_m2(lv, m) <= area + 1e-6]
                rows.append({"site_id": k, "level": lv, "coverable_demand": round(float(unmet[lv] @ reach), 1),
                             "area_m2": area, "largest_size_classes": max(fits) if fits else 0})
    cols = ["site_id", "level", "coverable_demand", "area_m2", "largest_size_classes"]
    return pd.DataFrame(rows, columns=cols).sort_values(["level", "coverable_demand"], ascending=[True, False],
                                                        kind="stable").reset_index(drop=True)


def _points(zones: gpd.GeoDataFrame, points: gpd.GeoDataFrame | None, villages: pd.DataFrame,
            spacing_m: float) -> gpd.GeoDataFrame:
    if points is None:
        return zone_points(zones, spacing_m=spacing_m, villages=villages)
    missing = [c for c in ("zone_id", "weight") if c not in points]
    if missing:
        raise SchemaError(f"demand points lack column(s) {', '.join(missing)}", layer="points",
                          fix="use zone_points(county.zones)")
    pts = points.set_axis(points.index.map(str))
    pts = pts.assign(zone_id=pts["zone_id"].map(str))
    unknown = ~pts["zone_id"].isin(set(zones.index))
    if unknown.any():
        raise SchemaError("demand points name unknown zones", layer="points", rows=list(pts.index[unknown]),
                          fix="use zone_points(county.zones)")
    empty = zones.index.difference(pts["zone_id"])
    if len(empty):
        raise SchemaError("zones without demand points", layer="points", rows=list(empty),
                          fix="use zone_points(county.zones)")
    w = pd.to_numeric(pts["weight"], errors="coerce").clip(lower=0).fillna(0.0)
    total = w.groupby(pts["zone_id"]).transform("sum")
    w = w.where(total > 0, 1.0)
    return pts.assign(weight=w / w.groupby(pts["zone_id"]).transform("sum"))


def _placement(county: County, zones: gpd.GeoDataFrame, pts: gpd.GeoDataFrame, housing: pd.DataFrame
               ) -> dict[str, pd.Series]:
    """Point weights of each development: its zone's points inside it, else the nearest one."""
    out: dict[str, pd.Series] = {}
    if not len(housing):
        return out
    devs = county.developments.set_axis(county.developments.index.map(str))
    for dev, zone in housing[["development_id", "zone_id"]].drop_duplicates().itertuples(index=False):
        zp = pts[pts["zone_id"] == zone]
        geom = devs.geometry.get(dev)
        if geom is None or geom.is_empty or not len(zp):
            out[dev] = zp["weight"]
            continue
        inside = zp.geometry.within(geom) if geom.geom_type in ("Polygon", "MultiPolygon") else \
            pd.Series(False, index=zp.index)
        if not inside.any():
            inside = pd.Series(False, index=zp.index)
            inside.iloc[int(np.argmin(zp.geometry.distance(geom.representative_point()).to_numpy()))] = True
        out[dev] = inside.astype(float) / float(inside.sum())
    return out


def _use_years(zd: pd.DataFrame, lv: str, zones: pd.Index, peak: bool | str, plan_year: int,
               level_peak: int) -> pd.Series:
    """Year whose demand sizes each zone's deficit (see ``peak`` of :func:`reserve_land`)."""
    if peak is True or peak == "zone":
        rows = zd[zd["level"] == lv]
        rows = rows.sort_values(["zone_id", "pupils", "year"], ascending=[True, False, True], kind="stable")
        year = rows.drop_duplicates("zone_id").set_index("zone_id")["year"]
        return year.reindex(zones).fillna(plan_year).astype(int)
    if peak == "level":
        return pd.Series(level_peak, index=zones)
    if peak is False:
        return pd.Series(plan_year, index=zones)
    raise ConfigError(f"peak must be True, False, 'zone' or 'level', got {peak!r}",
                      fix="True = each zone's peak year, 'level' = one year per level, False = planning year")


def _at(zd: pd.DataFrame, lv: str, years: pd.Series, col: str = "pupils") -> pd.Series:
    """``col`` of level ``lv`` per zone, each zone at its own year."""
    rows = zd[zd["level"] == lv].set_index(["zone_id", "year"])[col]
    keys = pd.MultiIndex.from_arrays([years.index, years.to_numpy()], names=["zone_id", "year"])
    return pd.Series(rows.reindex(keys).fillna(0.0).to_numpy(), index=years.index)


def _point_demand(zd: pd.DataFrame, housing: pd.DataFrame, placement: Mapping[str, pd.Series],
                  moves: pd.DataFrame, move_at: Mapping[str, pd.Series], pts: gpd.GeoDataFrame, lv: str,
                  years: pd.Series) -> np.ndarray:
    """Pupils of one level at each demand point, each zone at its year.

    Base demand by point weight, housing yield where built, pupils the plan moves in
    at the point nearest their school (net, so pupils moved out are taken off there);
    never below 0 at a point.
    """
    base = _at(zd, lv, years, "base").reindex(pts["zone_id"]).fillna(0.0).to_numpy() * pts["weight"].to_numpy()
    h = housing[(housing["level"] == lv) & (housing["year"] == housing["zone_id"].map(years))]
    for dev, pupils in zip(h["development_id"], h["pupils"], strict=True):
        if dev in placement and pupils > 0:
            base = base + placement[dev].reindex(pts.index).fillna(0.0).to_numpy() * pupils
    m = moves[(moves["level"] == lv) & (moves["year"] == moves["zone_id"].map(years))]
    for sid, pupils in zip(m["school_id"], m["pupils"], strict=True):
        if sid in move_at:
            base = base + move_at[sid].reindex(pts.index).fillna(0.0).to_numpy() * pupils
    return np.clip(base, 0.0, None)


def _warn_unmeasured(county: County, seat_tab: pd.DataFrame, W: pd.DataFrame, zones: gpd.GeoDataFrame,
                     rules: _Rules) -> None:
    """Warn about schools near the zones that have seats but no column in walk_m."""
    absent = seat_tab.index.difference(W.columns)
    if not len(absent):
        return
    geoms = county.schools.set_axis(county.schools.index.map(str)).geometry.reindex(absent)
    near = geoms.intersects(zones.geometry.union_all().buffer(max(rules.radius.values())))
    if near.any():
        warnings.warn(f"school(s) {format_rows(absent[near.to_numpy()])} near the zones have no column in "
                      "walk_m; their seats are not counted", DataWarning, stacklevel=3)


def _level_columns(out: pd.DataFrame, lv: str, zd: pd.DataFrame, plan_year: int, peak_year: int,
                   use_year: pd.Series, point_demand: np.ndarray, pts: gpd.GeoDataFrame, W: pd.DataFrame,
                   seat_tab: pd.DataFrame, rules: _Rules, summary: dict[str, Any]) -> np.ndarray:
    """Fill one level's columns of ``out`` (a local frame) and ``summary``; return unmet point demand."""
    def at(years: int | pd.Series, col: str = "pupils") -> pd.Series:
        ys = years if isinstance(years, pd.Series) else pd.Series(years, index=out.index)
        return _at(zd, lv, ys.reindex(out.index), col)

    demand = at(use_year)
    out[f"demand_{lv}"] = demand.round(1)
    out[f"demand_plan_{lv}"] = at(plan_year).round(1)
    out[f"demand_peak_{lv}"] = zd[zd["level"] == lv].groupby("zone_id")["pupils"].max().reindex(
        out.index).fillna(0.0).round(1)
    out[f"housing_{lv}"] = at(use_year, "housing").round(1)
    out[f"moved_{lv}"] = at(use_year, "moved").round(1)
    out[f"year_{lv}"] = use_year.reindex(out.index).astype(int)
    sch = seat_tab.index[seat_tab[lv] > 0].intersection(W.columns)
    point_supply, used = _two_step(W[sch].to_numpy(), rules.radius[lv], point_demand,
                                   seat_tab.loc[sch, lv].to_numpy(float))
    raw = pd.Series(point_supply).groupby(pts["zone_id"].to_numpy()).sum().reindex(out.index).fillna(0.0)
    supply = np.minimum(raw, demand)
    deficit = np.floor(np.clip(demand - supply, 0.0, None) + 0.5).astype(int)
    cs, sizes = rules.class_size[lv], rules.sizes[lv]
    classes = np.ceil(np.round(deficit / cs, 9)).astype(int)
    std_schools = [_standard_schools(int(c), sizes) for c in classes]
    out[f"supply_{lv}"] = supply.round(1)
    out[f"surplus_{lv}"] = (raw - supply).round(1)
    out[f"deficit_{lv}"] = deficit
    out[f"classes_{lv}"] = classes
    out[f"schools_{lv}"] = [n for n, _ in std_schools]
    out[f"school_size_{lv}"] = [s for _, s in std_schools]
    out[f"land_m2_{lv}"] = [n * rules.land_m2(lv, s) if n else 0.0 for n, s in std_schools]
    out[f"building_m2_{lv}"] = [n * rules.floor_m2(lv, s) if n else 0.0 for n, s in std_schools]
    total_cls = int(classes.sum())
    summary[f"demand_{lv}"] = round(float(demand.sum()), 1)
    summary[f"supply_{lv}"] = round(float(supply.sum()), 1)
    summary[f"seats_short_{lv}"] = int(deficit.sum())
    summary[f"classes_short_{lv}"] = total_cls
    summary[f"schools_needed_{lv}"] = _standard_schools(total_cls, sizes)[0]
    summary[f"building_m2_{lv}"] = float(out[f"building_m2_{lv}"].sum())
    summary[f"seats_reachable_{lv}"] = round(float(used.sum()), 1)
    summary[f"seats_unused_{lv}"] = round(float(used.sum() - supply.sum()), 1)
    return _unmet(pts, point_demand, point_supply, pd.Series(deficit, index=out.index).astype(float))
