"""Pre-flight checks before a run: memory for graphs and matrices, web-map coordinate offsets."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from schoolplan.county import County

__all__ = ["OFFSET_LAYERS", "check_matrix_memory", "check_offsets", "check_road_memory"]


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


#: Point layers checked for web-map offsets (polygons are checked at their representative points).
OFFSET_LAYERS = ("schools", "villages", "sites", "developments")


def _offset_fix(kind: str, name: str, how: dict[str, Any]) -> str:
    """How to repair a layer's offset, given how the layer was read."""
    file = Path(str(how.get("file", ""))).name or name
    table = bool(how.get("lonlat_table"))
    if kind == "gcj02_twice":
        if table and how.get("coords") == "gcj02":
            return (f'{file} was read with coords = "gcj02" but its coordinates were already WGS-84: remove coords '
                    f'from county.toml (or give [{name}] coords = "wgs84"; CLI: --coords wgs84)')
        return (f"{file} was converted from GCJ-02 although it was WGS-84 (converted twice): use the original "
                "coordinates, or apply schoolplan.coords.wgs84_to_gcj02 once to undo the extra conversion")
    system = {"gcj02": "gcj02", "bd09": "bd09"}[kind]
    if table:
        return (f'read {file} with coords = "{system}" (county.toml: coords = "{system}", or [{name}] coords = '
                f'"{system}" for this layer only; scenario: coords = "{system}"; CLI: --coords {system})')
    return (f"convert {file} in a GIS, or with schoolplan.coords.{system}_to_wgs84, before loading (vector layers "
            "carry their own coordinates; coords= applies to longitude/latitude tables only)")


def check_offsets(county: County, graph: Any) -> pd.DataFrame:
    """Warn when a layer's coordinates carry a web-map offset: GCJ-02, BD-09, or a conversion applied twice.

    Each point layer (schools, villages, sites, developments) is checked on its own
    against the road graph with :func:`schoolplan.coords.detect_offset` (several
    signals: distance to the roads as given and after each candidate conversion,
    control shifts of the same size, points brought closer, and the direction of the
    nearest roads). Only points in China are checked, so counties elsewhere cost nothing.

    Parameters
    ----------
    county
        A loaded county.
    graph
        Its road graph (:class:`~schoolplan.network.RoadGraph`).

    Returns
    -------
    pandas.DataFrame
        One data-quality row per layer that looks offset (severity ``warning``, check
        ``offset_<kind>``, the layer, its file, message and fix) with ``kind``,
        ``median_shift_m``, ``median_before_m`` and ``median_after_m``; a
        :class:`~schoolplan.errors.DataWarning` is issued for each. Empty when nothing
        looks offset.
    """
    from pyproj import Transformer

    from schoolplan import coords as _coords
    from schoolplan.errors import data_quality_frame, warn_data

    edges = getattr(graph, "edges", None)
    found: list[dict[str, Any]] = []
    if edges is None or not len(edges):
        return data_quality_frame(found)
    roads = edges.geometry if edges.crs is not None else edges.geometry.set_crs(graph.crs)
    to_ll = Transformer.from_crs(county.crs, 4326, always_xy=True)
    layers = (getattr(county, "options", {}) or {}).get("layers", {})
    points: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in OFFSET_LAYERS:
        gdf = getattr(county, name, None)
        if gdf is None or not len(gdf):
            continue
        geom = gdf.geometry[gdf.geometry.notna() & ~gdf.geometry.is_empty].representative_point()
        lon, lat = to_ll.transform(geom.x.to_numpy(), geom.y.to_numpy())
        if _coords.in_china(lon, lat).any():
            points[name] = (np.asarray(lon), np.asarray(lat))
    verdicts = {name: _coords.detect_offset(*xy, roads) for name, xy in points.items()}
    small = [n for n in ("schools", "villages") if n in points and (verdicts[n] is None or verdicts[n].n_points < 20)]
    if len(small) and not any(v is not None and v.offset for v in verdicts.values()) and \
            {"schools", "villages"} <= set(points):  # too few of one kind: judge schools and villages together
        both = tuple(np.concatenate([points["schools"][i], points["villages"][i]]) for i in (0, 1))
        joint = _coords.detect_offset(*both, roads)
        if joint is not None and joint.offset:
            verdicts = {"schools and villages": joint}
    for name, res in verdicts.items():
        if res is None or not res.offset:
            continue
        how = layers.get(name, layers.get("schools", {}) if name == "schools and villages" else {})
        fix = _offset_fix(res.kind, name, how)
        msg = (f"{name} look like {_coords.OFFSET_KINDS[res.kind]}: converting them would move them about "
               f"{res.median_shift_m:.0f} m and bring them from {res.median_before_m:.0f} m to "
               f"{res.median_after_m:.0f} m (median) from the roads, closer for {res.share_closer:.0%} of them")
        warn_data(msg, file=how.get("file"), layer=name, check=f"offset_{res.kind}", fix=fix, stacklevel=2)
        found.append({"severity": "warning", "check": f"offset_{res.kind}", "file": how.get("file"), "layer": name,
                      "message": msg, "fix": fix, "kind": res.kind, "median_shift_m": res.median_shift_m,
                      "median_before_m": res.median_before_m, "median_after_m": res.median_after_m})
    return data_quality_frame(found)
