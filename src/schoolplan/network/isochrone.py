"""Isochrones (等时圈): the areas within a travel time of each point.

Each point's search (:mod:`schoolplan.network._search`) gives the minutes at every
node; road samples every ``cell_m / 2`` along the chains then get exact times through
their chain's ends (or directly along the point's own chain), and the reached
samples become an area (grid cells, convex or concave hull).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray

from schoolplan.errors import ConfigError
from schoolplan.network._core import F64, I64, derived
from schoolplan.network._raster import raster_polygon
from schoolplan.network._search import check_cutoff, run_blocks, search_plan
from schoolplan.network.graph import RoadGraph
from schoolplan.network.query import travel_times_long
from schoolplan.network.snap import SnappedPoints, resolve_points

__all__ = ["isochrones"]


def _samples(graph: RoadGraph, spacing_m: float) -> dict[str, NDArray[Any]]:
    """Points along every chain at most ``spacing_m`` apart, with their time coordinates
    (computed once per graph and spacing)."""
    return derived(graph, f"samples_{spacing_m:.3f}", lambda: _make_samples(graph, spacing_m))


def _make_samples(graph: RoadGraph, spacing_m: float) -> dict[str, NDArray[Any]]:
    ch, sg = graph.index
    nseg_pts = np.maximum(1, np.ceil(sg.length_m / spacing_m).astype(np.int64))
    last = sg.pos == ch.n_seg[sg.chain] - 1
    per = nseg_pts + last  # the chain's last segment also gets its end point
    seg_rep = np.repeat(np.arange(sg.x0.size), per)
    k = np.arange(per.sum()) - np.repeat(np.cumsum(per) - per, per)
    t = k / nseg_pts[seg_rep]
    c = sg.chain[seg_rep]
    fok = np.isfinite(ch.t_fwd[c])
    bok = np.isfinite(ch.t_bwd[c])
    f = np.where(fok, sg.f0[seg_rep] + t * np.where(fok, sg.tf[seg_rep], 0.0), 0.0)
    bk = np.where(bok, sg.b0[seg_rep] + t * np.where(bok, sg.tb[seg_rep], 0.0), 0.0)
    x = sg.x0[seg_rep] + t * (sg.x1[seg_rep] - sg.x0[seg_rep])
    y = sg.y0[seg_rep] + t * (sg.y1[seg_rep] - sg.y0[seg_rep])
    param = sg.pos[seg_rep] + t
    order = np.argsort(c, kind="stable")
    return {"x": x[order], "y": y[order], "chain": c[order], "f": f[order], "bk": bk[order],
            "param": param[order], "t_fwd": ch.t_fwd[c[order]], "t_bwd": ch.t_bwd[c[order]]}




def _cells_polygon(x: F64, y: F64, cell: float, x0: float, y0: float, fill_holes: bool) -> Any:
    """Union of the grid cells containing the points (cells of a global grid at x0, y0)."""
    if x.size == 0:
        return None
    ix = np.floor((x - x0) / cell).astype(np.int64)
    iy = np.floor((y - y0) / cell).astype(np.int64)
    return raster_polygon(ix, iy, cell, x0, y0, fill_holes=fill_holes)


def isochrones(
    graph: RoadGraph,
    points: gpd.GeoDataFrame | SnappedPoints,
    *,
    minutes: float | Sequence[float] = 20.0,
    direction: Literal["to", "from"] = "to",
    method: Literal["grid", "convex", "concave"] = "grid",
    cell_m: float = 250.0,
    ratio: float = 0.3,
    fill_holes: bool = True,
    targets: gpd.GeoDataFrame | SnappedPoints | None = None,
    target_id_column: str | None = None,
    id_column: str | None = None,
    max_snap_m: float = 2000.0,
    snap_far: bool = False,
    snap_dropped: bool = False,
    access_speed_kmh: float | None = None,
) -> gpd.GeoDataFrame:
    """Areas within a travel time of each point (等时圈), e.g. a school's 20-minute catchment.

    Parameters
    ----------
    graph
        The routing graph.
    points
        Points (e.g. schools), any CRS with a CRS set, or points prepared on this
        graph (:func:`~schoolplan.network.snap.prepare_points`).
    minutes
        One time or several (one row per point and time), minutes.
    direction
        ``"to"`` (default): places from which the point is reached within the time —
        a school's catchment for pupils travelling to it; ``"from"``: places reached
        from the point.
    method
        ``"grid"`` (default): union of ``cell_m`` grid cells containing reached road
        (nodes and the reached parts of edges, sampled every ``cell_m / 2``);
        ``"convex"``: convex hull of the reached road; ``"concave"``: shapely
        ``concave_hull`` with ``ratio``.
    cell_m
        Grid cell size (and sampling step × 2), metres.
    ratio
        Concave-hull ratio (0 = tightest, 1 = convex).
    fill_holes
        Grid method: fill areas enclosed by reached cells.
    targets
        Optional points (e.g. villages): each row then lists the targets reached within
        the time (``reached``: list of ids in input order; ``n_reached``), using
        exact travel times (:func:`~schoolplan.network.travel_times_long`, same
        direction). Prepared points are accepted too.
    target_id_column, id_column
        Id columns of ``targets`` and ``points`` (default: the index).
    max_snap_m, snap_far, snap_dropped, access_speed_kmh
        Snapping options.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``id``, ``minutes``, ``status`` (snapping status), ``n_nodes`` (routing
        nodes reached), ``area_km2``, [``n_reached``, ``reached``], ``geometry``
        (Polygon / MultiPolygon in the graph CRS; None when the point is not
        routable). Reached road includes the point's own access leg time.
    """
    if direction not in {"to", "from"}:
        raise ConfigError(f"direction must be 'to' or 'from' (got {direction!r})", fix="use 'to' or 'from'")
    if method not in {"grid", "convex", "concave"}:
        raise ConfigError(f"method must be 'grid', 'convex' or 'concave' (got {method!r})",
                          fix="use method='grid'")
    bands = [minutes] if isinstance(minutes, int | float) else list(minutes)
    if not bands:
        raise ConfigError("minutes is empty", fix="give at least one time, e.g. minutes=20")
    bands = sorted({check_cutoff(b, "minutes") for b in bands})
    if not cell_m > 0:
        raise ConfigError("cell_m must be > 0", fix="give a cell size in metres, e.g. 250")
    opts = {"max_snap_m": max_snap_m, "snap_far": snap_far, "snap_dropped": snap_dropped,
            "access_speed_kmh": access_speed_kmh}
    p = resolve_points(graph, points, role="points", id_column=id_column, **opts)
    shape = _Shape(method=method, cell=cell_m, ratio=ratio, fill_holes=fill_holes,
                   x0=float(np.floor(graph.node_x.min() / cell_m) * cell_m) - cell_m,
                   y0=float(np.floor(graph.node_y.min() / cell_m) * cell_m) - cell_m)
    results = _areas(graph, p, bands, direction == "to", shape)
    recs = []
    for r in range(p.n):
        for bi, band in enumerate(bands):
            geom, nn = results[r][bi] if r in results else (None, 0)
            recs.append({"id": p.ids[r], "minutes": band, "status": p.status[r], "n_nodes": nn,
                         "geometry": geom})
    gdf = gpd.GeoDataFrame(recs, geometry="geometry", crs=graph.crs)
    gdf["area_km2"] = gdf.geometry.area / 1e6
    if targets is not None:
        reached = _reached_targets(graph, p, targets, bands, direction, target_id_column, opts)
        gdf["n_reached"] = [len(x) for x in reached]
        gdf["reached"] = reached
    cols = [c for c in ["id", "minutes", "status", "n_nodes", "area_km2", "n_reached", "reached", "geometry"]
            if c in gdf.columns]
    return gdf[cols]


@dataclass(frozen=True)
class _Shape:
    """How reached road samples become an area (see :func:`isochrones`)."""

    method: str
    cell: float
    ratio: float
    fill_holes: bool
    x0: float
    y0: float

    def of(self, x: F64, y: F64) -> Any:
        return _shape(x, y, self.method, self.cell, self.ratio, self.x0, self.y0, self.fill_holes)


def _areas(graph: RoadGraph, p: SnappedPoints, bands: list[float], reverse: bool,
           shape: _Shape) -> dict[int, list[tuple[Any, int]]]:
    """Per routable point: (area, nodes reached) for every band."""
    ch, _ = graph.index
    smp = _samples(graph, shape.cell / 2.0)
    T = bands[-1]
    pi = np.nonzero(p.routable)[0]
    acc = np.nan_to_num(p.access, nan=0.0)
    results: dict[int, list[tuple[Any, int]]] = {}
    if pi.size == 0:
        return results
    plan = search_plan(graph, p, pi, reverse=reverse, limit=T)
    for sel, D in run_blocks(graph, plan, fill="all"):
        for r, Dn in zip(pi[sel].tolist(), D, strict=True):
            hit, tt = _sample_times(ch, smp, p, r, Dn, T - acc[r], reverse)
            tt = tt + acc[r]
            results[r] = [(shape.of(smp["x"][hit[tt <= band]], smp["y"][hit[tt <= band]]),
                           int((Dn + acc[r] <= band).sum())) for band in bands]
    return results


def _sample_times(ch: Any, smp: dict[str, NDArray[Any]], p: SnappedPoints, r: int, Dn: F64, budget: float,
                  reverse: bool) -> tuple[I64, F64]:
    """Road samples on chains within ``budget`` of point ``r`` and their minutes (no access leg).

    A sample at forward coordinate ``f`` on chain ``c`` (a → b, total ``T_f``; backward
    coordinate ``bk``, total ``T_b``) is reached through the chain ends: to the point,
    ``min(T_f − f + D(b), bk + D(a))``; from it, ``min(D(a) + f, D(b) + T_b − bk)`` —
    or directly along the point's own chain.
    """
    a_c, b_c = Dn[ch.a], Dn[ch.b]
    cmask = (a_c <= budget) | (b_c <= budget)
    cmask[p.chain[r]] = True
    sel = np.nonzero(cmask[smp["chain"]])[0]
    c = smp["chain"][sel]
    s_f, s_bk, Tf, Tb = smp["f"][sel], smp["bk"][sel], smp["t_fwd"][sel], smp["t_bwd"][sel]
    fok, bok = np.isfinite(Tf), np.isfinite(Tb)
    if reverse:  # sample -> point
        t1 = np.where(fok, Tf - s_f + b_c[c], np.inf)
        t2 = np.where(bok, s_bk + a_c[c], np.inf)
    else:  # point -> sample
        t1 = np.where(fok, a_c[c] + s_f, np.inf)
        t2 = np.where(bok, b_c[c] + Tb - s_bk, np.inf)
    tt = np.minimum(t1, t2)
    own = c == p.chain[r]
    if own.any():
        tt[own] = np.minimum(tt[own], _along_own_chain(p, r, smp["param"][sel][own], s_f[own], s_bk[own],
                                                       fok[own], bok[own], reverse))
    return sel, tt


def _along_own_chain(p: SnappedPoints, r: int, sp_: F64, sf: F64, sb: F64, fo: NDArray[np.bool_],
                     bo: NDArray[np.bool_], reverse: bool) -> F64:
    """Minutes between point ``r`` and samples on its own chain, directly along it."""
    pr = p.param[r]
    direct = np.full(sp_.size, np.inf)
    if reverse:
        direct = np.where((sp_ <= pr) & fo, p.f[r] - sf, direct)
        direct = np.where((sp_ >= pr) & bo, np.minimum(direct, sb - p.bk[r]), direct)
    else:
        direct = np.where((sp_ >= pr) & fo, sf - p.f[r], direct)
        direct = np.where((sp_ <= pr) & bo, np.minimum(direct, p.bk[r] - sb), direct)
    direct = np.where(sp_ == pr, 0.0, direct)
    return np.maximum(direct, 0.0)


def _reached_targets(graph: RoadGraph, p: SnappedPoints, targets: Any, bands: list[float], direction: str,
                     target_id_column: str | None, opts: dict[str, Any]) -> list[list[Any]]:
    """Per point and band (row order of the result): the ids of the targets within the time."""
    if direction == "to":
        long = travel_times_long(graph, targets, p, cutoff_minutes=bands[-1],
                                 origin_id_column=target_id_column, dtype=np.float64, **opts)
        pt, tg = long["destination"].cat.codes.to_numpy(), long["origin"].cat.codes.to_numpy()
        tids = long["origin"].cat.categories
    else:
        long = travel_times_long(graph, p, targets, cutoff_minutes=bands[-1],
                                 destination_id_column=target_id_column, dtype=np.float64, **opts)
        pt, tg = long["origin"].cat.codes.to_numpy(), long["destination"].cat.codes.to_numpy()
        tids = long["destination"].cat.categories
    mins = long["minutes"].to_numpy()
    order = np.lexsort((tg, pt))
    pt, tg, mins = pt[order], tg[order], mins[order]
    ptr = np.searchsorted(pt, np.arange(p.n + 1))
    out = []
    for r in range(p.n):
        tr, mr = tg[ptr[r]:ptr[r + 1]], mins[ptr[r]:ptr[r + 1]]
        for band in bands:
            out.append(tids[tr[mr <= band]].tolist())
    return out


def _shape(x: F64, y: F64, method: str, cell: float, ratio: float, x0: float, y0: float,
           fill_holes: bool) -> Any:
    if x.size == 0:
        return None
    if method == "grid":
        return _cells_polygon(x, y, cell, x0, y0, fill_holes)
    mp = shapely.multipoints(np.column_stack([x, y]))
    geom = shapely.convex_hull(mp) if method == "convex" else shapely.concave_hull(mp, ratio=ratio)
    if geom.geom_type not in {"Polygon", "MultiPolygon"}:
        geom = geom.buffer(cell / 2.0)
    return geom

