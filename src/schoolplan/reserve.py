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
4. **Deficit.** ``deficit_L = demand − supply`` (whole pupils, ≥ 0); classes
   ``⌈deficit / class size⌉`` (primary 45, junior 50, kindergarten 30);
   standard schools ``⌈classes / largest preset⌉`` of the smallest preset size that
   holds them (primary and junior 24/36 classes, kindergarten 6/9/12); land
   ``classes × class size × land per pupil`` (m², ``land_per_pupil_m2``) and floor
   area with ``building_per_pupil_m2``.
5. **Sites.** Parcels of the ``sites`` layer and vacated school buildings
   (``vacated``) that appear as columns of ``site_walk_m`` are ranked by the unmet
   demand within :math:`r_L` (the unmet demand of a zone sits on its points in
   proportion to their own shortfall). Per level
   :func:`schoolplan.optimize.solve_max_cover` chooses ``p`` = standard schools
   needed for the level's total deficit; a parcel claimed by two levels goes to the
   one it covers more pupils of and the other level is solved again without it.
   Parcels covering less than one class of unmet demand are not recommended. A
   chosen parcel is sized as the smallest standard school holding the demand it
   covers; ``fits`` tells whether its area holds the land that school needs.
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

from schoolplan.county import County
from schoolplan.errors import ConfigError, CrsError, DataWarning, SchemaError, format_rows
from schoolplan.forecast import housing_yield
from schoolplan.optimize import solve_max_cover
from schoolplan.results import ReservedLand
from schoolplan.schema import AGE_COLUMNS, LEVEL_AGES, STAGES
from schoolplan.standards import load_standards

__all__ = [
    "RESERVE_LEVELS",
    "check_developments",
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
    kg_targets: dict[str, float]


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
        kg_targets={k: float(v) for k, v in std["kindergarten_targets"].items()},
    )


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
    return f"{ha:.1f}" if ha >= 0.1 else f"{ha:.2f}"


def _zone_reason(row: Mapping[str, Any]) -> tuple[str, str]:
    zh, en = [], []
    for lv in RESERVE_LEVELS:
        short = int(row[f"deficit_{lv}"])
        if short <= 0:
            continue
        cls, land = int(row[f"classes_{lv}"]), float(row[f"land_m2_{lv}"])
        zh.append(f"缺{_ZH[lv]}学位{short}个（{cls}个班），需预留约{_ha(land)}公顷")
        en.append(f"{short} {lv} seats short ({cls} classes): reserve about {_ha(land)} ha")
    if not zh:
        return "步行服务半径内学位充足", "enough seats within walking distance"
    return "；".join(zh), "; ".join(en)


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
class _Choice:
    sites: list[dict[str, Any]]
    ranking: pd.DataFrame
    status: str
    covered: pd.DataFrame  # point_id, site_id, pupils (unmet demand covered by a recommended site)


def _choose(level: str, unmet: np.ndarray, points: gpd.GeoDataFrame, dist: pd.DataFrame,
            cands: gpd.GeoDataFrame, p: int, min_pupils: float, rules: _Rules) -> _Choice:
    """Max-cover choice of ``p`` parcels for one level, sized as standard schools."""
    radius = rules.radius[level]
    d = dist[cands.index].to_numpy()
    reach = np.nan_to_num(d, nan=np.inf) <= radius
    coverable = unmet @ reach
    ranking = pd.DataFrame({"site_id": cands.index, "level": level, "coverable_demand": coverable.round(1),
                            "area_m2": cands["area_m2"].to_numpy()})
    none = pd.DataFrame({"point_id": pd.Series(dtype=object), "site_id": pd.Series(dtype=object),
                         "pupils": pd.Series(dtype=float)})
    useful = coverable >= max(min_pupils, 1e-9)
    if unmet.sum() <= 1e-9 or p <= 0:
        return _Choice([], ranking, "not_needed", none)
    if not useful.any():
        return _Choice([], ranking, "no_site_in_reach", none)
    keep = unmet > 1e-9
    cost = pd.DataFrame(np.where(reach[keep][:, useful], d[keep][:, useful], np.nan),
                        index=points.index[keep], columns=cands.index[useful])
    res = solve_max_cover(cost, radius, min(p, int(useful.sum())), weights=unmet[keep])
    a = res.assignment[res.assignment["covered"]]
    w = pd.Series(unmet[keep], index=points.index[keep])
    covered = pd.DataFrame({"point_id": a["client"].to_numpy(), "site_id": a["facility"].to_numpy(),
                            "pupils": a["client"].map(w).to_numpy()})
    zones_of = points["zone_id"]
    chosen = []
    for sid in res.open:
        rows = covered[covered["site_id"] == sid]
        got = float(rows["pupils"].sum())
        if got < max(min_pupils, 1e-9):
            continue
        chosen.append(_site_record(sid, level, got, sorted(set(zones_of.reindex(rows["point_id"])), key=str),
                                   float(cands.loc[sid, "area_m2"]), rules))
    kept = {c["site_id"] for c in chosen}
    return _Choice(chosen, ranking, res.status, covered[covered["site_id"].isin(kept)])


def _site_record(sid: str, level: str, got: float, zones: list[str], area: float, rules: _Rules
                 ) -> dict[str, Any]:
    """A recommended parcel: the smallest standard school holding ``got`` pupils, and whether it fits."""
    radius, cs, sizes = rules.radius[level], rules.class_size[level], rules.sizes[level]
    need_cls = math.ceil(round(got / cs, 9))
    size = next((sz for sz in sizes if sz >= need_cls), sizes[-1])
    seats = size * cs
    land = seats * rules.land[level]
    fits = area + 1e-6 >= land
    zl = ", ".join(zones)
    reason_zh = (f"覆盖步行{radius:.0f}米内未满足的{_ZH[level]}需求约{round(got)}人（{zl}），"
                 f"建议建{size}班{_ZH[level]}（{seats}个学位），需用地约{_ha(land)}公顷")
    reason_en = (f"covers about {round(got)} unmet {level} pupils within {radius:.0f} m walk ({zl}); "
                 f"a {size}-class {level} school ({seats} seats) needs about {_ha(land)} ha")
    if fits:
        reason_zh += f"；地块{_ha(area)}公顷，面积满足"
        reason_en += f"; the parcel ({_ha(area)} ha) is large enough"
    else:
        reason_zh += f"；地块仅{_ha(area)}公顷，面积不足，需扩大用地或另选地块"
        reason_en += f"; the parcel is only {_ha(area)} ha: too small, enlarge it or choose another"
    return {"site_id": sid, "level": level, "covered_demand": round(got, 1), "classes": size,
            "seats": seats, "land_needed_m2": land, "building_needed_m2": seats * rules.building[level],
            "fits": bool(fits), "zones": ",".join(zones), "reason_zh": reason_zh, "reason_en": reason_en}


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
    require_fit: bool = False,
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
        Number of sites to choose per level (default: the standard schools needed for
        the level's total deficit, ⌈classes / largest size⌉).
    min_site_pupils
        Least unmet demand (pupils) a parcel must cover to be recommended, per level
        (default one class: 30 / 45 / 50).
    require_fit
        Only parcels holding at least the smallest standard school of a level (its
        land) are candidates for that level. Default False: every parcel competes and
        a chosen one that is too small says so (``fits`` False, with the reason).

    Returns
    -------
    ReservedLand
        ``zones``: per level ``demand_L`` (the year used), ``demand_plan_L``,
        ``demand_peak_L``, ``housing_L`` (of it, from new housing), ``year_L``,
        ``supply_L``, ``surplus_L``, ``deficit_L``, ``classes_L``, ``schools_L``,
        ``school_size_L``, ``land_m2_L``, ``building_m2_L``, ``site_covered_L``
        (deficit within reach of a recommended parcel), ``sites_L``; ``flag``,
        ``reason_zh``, ``reason_en``. ``sites``: recommended parcels with ``level``,
        ``area_m2``, ``land_needed_m2``, ``seats``, ``classes``, ``covered_demand``,
        ``fits`` and reasons. ``developments``: :func:`check_developments`.
        ``kindergarten``: :func:`kindergarten_shares`. ``summary``:
        ``planning_year``, ``peak_year_L``, ``year_L``, ``land_m2_L``,
        ``building_m2_L``, ``seats_short_L``, ``classes_short_L``,
        ``schools_needed_L``, ``seats_unused_L``, ``sites_L`` (ids),
        ``sites_chosen``, ``covered_by_sites_L``, ``uncovered_L``,
        ``zones_flagged``, ``site_ranking`` (every candidate's coverable unmet demand
        per level), ...

    Raises
    ------
    SchemaError
        Overlapping zones (the pair named), zones without population and villages,
        sites without area, malformed matrices or demand.
    ConfigError
        Unknown radius preset (presets listed), radii ≤ 0, bad sizes or year.
    CrsError
        Zones not in a metric CRS.
    """
    std = _standards(standards)
    rules = _rules(std, radius_preset, radius_m, sizes)
    zones = county.zones.set_axis(county.zones.index.map(str))
    _check_zones(zones)
    cands = _candidates(county, vacated)
    pts = _points(zones, points, county.villages, spacing_m)
    W = _matrix(walk_m, pts.index, pd.Index(county.schools.index.map(str)), "walk_m")
    S = None if site_walk_m is None else _matrix(site_walk_m, pts.index, cands.index, "site_walk_m")

    parts = _demand_parts(county, zones, demand, quantile=quantile, include_outside=include_outside,
                          add_housing=add_housing, housing_ramp=housing_ramp, rules=rules)
    plan_year, horizon = _years(parts.table, year)
    zd = parts.table[parts.table["year"].isin(horizon)]
    by_year = zd.groupby(["level", "year"])["pupils"].sum()
    peak_year = {lv: int(by_year.loc[lv].idxmax()) for lv in RESERVE_LEVELS}
    use_year = {lv: _use_years(zd, lv, zones.index, peak, plan_year, peak_year[lv]) for lv in RESERVE_LEVELS}
    placement = _placement(county, zones, pts, parts.housing)

    exclude = [] if vacated is None else list(vacated.index.map(str))
    seat_tab = school_seats(county, std, exclude=exclude)
    if seats is not None:
        over = seats.set_axis(seats.index.map(str)).reindex(columns=list(RESERVE_LEVELS)).fillna(0.0)
        seat_tab = pd.concat([seat_tab.drop(index=over.index, errors="ignore"), over])
    _warn_unmeasured(county, seat_tab, W, zones, rules)

    out = zones.drop(columns=[c for c in zones.columns if c not in ("name", "township_id", "geometry")])
    summary: dict[str, Any] = {"planning_year": plan_year, "horizon": [horizon[0], horizon[-1]],
                               "quantile": quantile, "keyed_by": parts.keyed_by, "points": len(pts),
                               "radius_m": dict(rules.radius), "class_size": dict(rules.class_size),
                               "sizes": {k: list(v) for k, v in rules.sizes.items()}}
    unmet: dict[str, np.ndarray] = {}
    outside = parts.outside.set_index(["level", "year"])["pupils"]
    for lv in RESERVE_LEVELS:
        point_demand = _point_demand(zd, parts.housing, placement, pts, lv, use_year[lv])
        unmet[lv] = _level_columns(out, lv, zd, plan_year, peak_year[lv], use_year[lv], point_demand, pts, W,
                                   seat_tab, rules, summary)
        summary[f"peak_year_{lv}"] = peak_year[lv]
        summary[f"demand_outside_zones_{lv}"] = round(float(outside.get((lv, peak_year[lv]), 0.0)), 1)
    summary["peak"] = {True: "zone", False: "planning_year"}.get(peak, peak) if isinstance(peak, bool) else peak

    minimum = {lv: float(rules.class_size[lv]) for lv in RESERVE_LEVELS} | dict(min_site_pupils or {})
    sites, covered = _sites(cands, S, pts, unmet, out, rules, sites_per_level, minimum, require_fit, summary)
    for lv in RESERVE_LEVELS:
        c = covered[covered["level"] == lv]
        zone_of = c["point_id"].map(pts["zone_id"])
        out[f"site_covered_{lv}"] = c.groupby(zone_of)["pupils"].sum().reindex(out.index).fillna(0.0).round(1)
        ids = c.groupby(zone_of)["site_id"].agg(lambda s: ",".join(sorted(set(s), key=str)))
        out[f"sites_{lv}"] = ids.reindex(out.index).fillna("")
    flags = pd.concat([out[f"deficit_{lv}"] > 0 for lv in RESERVE_LEVELS], axis=1).any(axis=1)
    out["flag"] = flags
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
    cols = [c for c in out.columns if c != "geometry"] + ["geometry"]
    return ReservedLand(zones=gpd.GeoDataFrame(out[cols], geometry="geometry", crs=zones.crs), sites=sites,
                        summary=summary, developments=devs, kindergarten=kg)


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
                  pts: gpd.GeoDataFrame, lv: str, years: pd.Series) -> np.ndarray:
    """Pupils of one level at each demand point, each zone at its year (base by weight, housing where built)."""
    base = _at(zd, lv, years, "base").reindex(pts["zone_id"]).fillna(0.0).to_numpy() * pts["weight"].to_numpy()
    h = housing[(housing["level"] == lv) & (housing["year"] == housing["zone_id"].map(years))]
    for dev, pupils in zip(h["development_id"], h["pupils"], strict=True):
        if dev in placement and pupils > 0:
            base = base + placement[dev].reindex(pts.index).fillna(0.0).to_numpy() * pupils
    return base


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
    out[f"land_m2_{lv}"] = classes * cs * rules.land[lv]
    out[f"building_m2_{lv}"] = classes * cs * rules.building[lv]
    total_cls = int(classes.sum())
    summary[f"demand_{lv}"] = round(float(demand.sum()), 1)
    summary[f"supply_{lv}"] = round(float(supply.sum()), 1)
    summary[f"seats_short_{lv}"] = int(deficit.sum())
    summary[f"classes_short_{lv}"] = total_cls
    summary[f"schools_needed_{lv}"] = _standard_schools(total_cls, sizes)[0]
    summary[f"land_m2_{lv}"] = float(out[f"land_m2_{lv}"].sum())
    summary[f"building_m2_{lv}"] = float(out[f"building_m2_{lv}"].sum())
    summary[f"seats_reachable_{lv}"] = round(float(used.sum()), 1)
    summary[f"seats_unused_{lv}"] = round(float(used.sum() - supply.sum()), 1)
    return _unmet(pts, point_demand, point_supply, pd.Series(deficit, index=out.index).astype(float))


def _sites(cands: gpd.GeoDataFrame, S: pd.DataFrame | None, pts: gpd.GeoDataFrame,
           unmet: Mapping[str, np.ndarray], zones: pd.DataFrame, rules: _Rules,
           sites_per_level: Mapping[str, int] | None, minimum: Mapping[str, float], require_fit: bool,
           summary: dict[str, Any]) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Choose parcels per level (one level per parcel); returns the sites frame and the covered points."""
    cols = ["name", "site_type", "level", "area_m2", "land_needed_m2", "building_needed_m2",
            "building_area_m2", "seats", "classes", "covered_demand", "zones", "fits", "source",
            "reason_zh", "reason_en"]
    usable = cands.loc[cands.index.intersection(S.columns)] if S is not None else cands.iloc[0:0]
    summary["sites_without_distance"] = list(cands.index.difference(usable.index))
    allowed = {}
    for lv in _SITE_ORDER:
        free = usable
        if require_fit:
            smallest = rules.sizes[lv][0] * rules.class_size[lv] * rules.land[lv]
            free = free[free["area_m2"] + 1e-6 >= smallest]
        allowed[lv] = free
    results = _resolve(allowed, S, pts, unmet, rules, sites_per_level, minimum, summary)
    chosen: list[dict[str, Any]] = []
    rankings, covered = [], []
    for lv in _SITE_ORDER:
        got = results[lv]
        if len(got.ranking):
            rankings.append(got.ranking)
            covered.append(got.covered.assign(level=lv))
        chosen += got.sites
        done = float(sum(c["covered_demand"] for c in got.sites))
        summary[f"sites_{lv}"] = [c["site_id"] for c in got.sites]
        summary[f"covered_by_sites_{lv}"] = round(done, 1)
        summary[f"uncovered_{lv}"] = round(float(unmet[lv].sum()) - done, 1)
        summary[f"site_status_{lv}"] = got.status
    summary["sites_chosen"] = len(chosen)
    summary["sites_not_fitting"] = [c["site_id"] for c in chosen if not c["fits"]]
    rank_cols = ["site_id", "level", "coverable_demand", "area_m2"]
    summary["site_ranking"] = (pd.concat(rankings, ignore_index=True)
                               .sort_values(["level", "coverable_demand"], ascending=[True, False],
                                            kind="stable").reset_index(drop=True)
                               if rankings else pd.DataFrame(columns=rank_cols))
    cov = pd.concat(covered, ignore_index=True) if covered else pd.DataFrame(
        columns=["point_id", "site_id", "pupils", "level"])
    if not chosen:
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=gpd.GeoSeries([], crs=zones.crs),
                                index=pd.Index([], name="site_id")), cov
    rec = pd.DataFrame(chosen).set_index("site_id")
    base = cands.loc[rec.index]
    out = gpd.GeoDataFrame(base[["name", "site_type", "area_m2", "building_area_m2", "source"]].join(rec),
                           geometry=base.geometry, crs=cands.crs)
    out.index.name = "site_id"
    return out[[*cols, "geometry"]], cov


def _resolve(allowed: Mapping[str, gpd.GeoDataFrame], S: pd.DataFrame | None, pts: gpd.GeoDataFrame,
             unmet: Mapping[str, np.ndarray], rules: _Rules, sites_per_level: Mapping[str, int] | None,
             minimum: Mapping[str, float], summary: Mapping[str, Any]) -> dict[str, _Choice]:
    """Choose sites per level, one level per parcel.

    Each level is solved on its own; a parcel chosen by several levels goes to the
    level whose unmet demand it covers most (ties: junior, primary, kindergarten) and
    the other levels are solved again without it, until no parcel is claimed twice.
    """
    banned: dict[str, set[str]] = {lv: set() for lv in _SITE_ORDER}
    results: dict[str, _Choice] = {}
    first_ranking: dict[str, pd.DataFrame] = {}
    todo = list(_SITE_ORDER)
    for _ in range(sum(len(a) for a in allowed.values()) + 1):
        for lv in todo:
            free = allowed[lv].loc[~allowed[lv].index.isin(banned[lv])]
            if S is None or not len(free):
                status = "no_distances" if S is None else "no_candidates"
                results[lv] = _Choice([], pd.DataFrame(), status, pd.DataFrame())
                continue
            p = int((sites_per_level or {}).get(lv, summary[f"schools_needed_{lv}"]))
            results[lv] = _choose(lv, unmet[lv], pts, S, free, p, float(minimum[lv]), rules)
            first_ranking.setdefault(lv, results[lv].ranking)  # every allowed parcel, before any ban
        claims: dict[str, list[tuple[float, int, str]]] = {}
        for rank, lv in enumerate(_SITE_ORDER):
            for c in results[lv].sites:
                claims.setdefault(c["site_id"], []).append((-c["covered_demand"], rank, lv))
        todo = []
        for sid, who in claims.items():
            if len(who) < 2:
                continue
            for _cov, _rank, lv in sorted(who)[1:]:
                banned[lv].add(sid)
                todo.append(lv)
        todo = [lv for lv in _SITE_ORDER if lv in set(todo)]
        if not todo:
            break
    for lv, ranking in first_ranking.items():
        results[lv].ranking = ranking
    return results
