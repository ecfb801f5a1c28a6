"""Pre-flight checks before a run: memory for graphs and matrices, web-map coordinate offsets."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["check_matrix_memory", "check_offsets", "check_road_memory"]


def check_road_memory(roads: Any) -> None:
    """Stop with a :class:`~schoolplan.errors.ResourceError` before building a graph too big for memory."""
    from schoolplan.io import check_memory, estimate_road_bytes

    if isinstance(roads, str | Path) and Path(roads).exists():
        check_memory(estimate_road_bytes(roads), what="building the road graph", file=str(roads),
                     fix="clip the road file to the county plus a few km (e.g. osmium extract --bbox ...); "
                     "a province-wide OSM extract is too big for this machine")


def check_matrix_memory(n_villages: int, n_destinations: int) -> None:
    """Stop before village × school matrices (and the assignment built on them) exceed memory.

    About 64 bytes per village–school pair: the bus and walking matrices, their
    copies in the consolidation, and the assignment model.
    """
    from schoolplan.io import check_memory

    check_memory(64.0 * n_villages * n_destinations * 2,
                 what=f"travel times for {n_villages:,} villages × {n_destinations:,} schools and sites",
                 fix="clip the villages and schools to the county, aggregate villages (自然村 → 行政村), or "
                 "use a machine with more memory")


def check_offsets(county: Any, graph: Any) -> list[str]:
    """Warn when schools or villages look like GCJ-02 web-map coordinates given as WGS-84.

    Compares their distance to the road graph before and after a GCJ-02 → WGS-84
    conversion (:func:`schoolplan.coords.detect_gcj02_offset`); only points in China
    are checked, so counties elsewhere cost nothing.

    Parameters
    ----------
    county
        A loaded county.
    graph
        Its road graph (:class:`~schoolplan.network.RoadGraph`).

    Returns
    -------
    list of str
        The layers that look offset (a :class:`~schoolplan.errors.DataWarning` is
        issued for them).
    """
    import shapely
    from pyproj import Transformer

    from schoolplan import coords as _coords
    from schoolplan.errors import DataWarning

    layers = {name: getattr(county, name).geometry for name in ("schools", "villages")}
    to_ll = Transformer.from_crs(county.crs, 4326, always_xy=True)
    pts = {}
    for name, geom in layers.items():
        geom = geom[geom.notna() & ~geom.is_empty]
        lon, lat = to_ll.transform(geom.centroid.x.to_numpy(), geom.centroid.y.to_numpy())
        if _coords.in_china(lon, lat).any():
            pts[name] = (np.asarray(lon), np.asarray(lat))
    edges = getattr(graph, "edges", None)
    if not pts or edges is None or not len(edges):
        return []
    xy = shapely.get_coordinates(shapely.segmentize(edges.geometry.to_numpy(), 50.0))
    rlon, rlat = Transformer.from_crs(graph.crs, 4326, always_xy=True).transform(xy[:, 0], xy[:, 1])
    groups = dict(pts)
    if len(pts) == 2:  # too few schools or villages alone: judge them together
        groups["schools and villages"] = tuple(np.concatenate([pts["schools"][i], pts["villages"][i]])
                                               for i in (0, 1))
    offset: list[str] = []
    found: list[_coords.OffsetCheck] = []
    for name, (lon, lat) in groups.items():
        if offset and name == "schools and villages":
            break
        res = _coords.detect_gcj02_offset(lon, lat, rlon, rlat)
        if res is not None and res.likely_gcj02:
            offset.append(name)
            found.append(res)
    if offset:
        checked = found[0]
        warnings.warn(
            f"{' and '.join(offset)} look like GCJ-02 (Gaode/Tencent web-map) coordinates labelled WGS-84: "
            f"converting them GCJ-02 → WGS-84 would move them about {checked.median_shift_m:.0f} m and bring "
            f"them from {checked.median_before_m:.0f} m to {checked.median_after_m:.0f} m (median) from the roads. "
            'Load them with coords="gcj02" (scenario: coords = "gcj02"; CLI: --coords gcj02) for lon/lat '
            "tables, or convert GeoPackage/shapefile layers with schoolplan.coords.gcj02_to_wgs84",
            DataWarning, stacklevel=2)
    return offset

