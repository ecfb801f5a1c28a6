"""Travel-time engine (出行时间): road graphs, snapping, OD matrices, nearest-k, isochrones.

Who is within a 20-minute school-bus ride, who walks, who must board.

>>> from schoolplan.network import build_graph, travel_time_matrix
>>> g = build_graph("county.osm.pbf", profile="school_bus")       # doctest: +SKIP
>>> tt = travel_time_matrix(g, villages, schools, cutoff_minutes=60)  # doctest: +SKIP

* :func:`build_graph` — from OSM PBF / XML, GraphML, road layers (国道/省道/县道/乡道/村道),
  GeoDataFrames, networkx graphs, or a place name (online); speed profiles
  (``school_bus``, ``walk``, ``car``) with the school-bus caps of 校车安全管理条例 §35–36;
  largest strongly connected component (the rest reported); degree-2 chains simplified;
  CSR arrays for SciPy.
* :func:`from_arrays` — the array entry point: node coordinates and edge arrays
  (a province of a million road vertices in seconds).
* :func:`snap_points` — points to the nearest road edge, with the access leg;
  :func:`prepare_points` snaps once for any number of queries.
* :func:`travel_time_matrix`, :func:`travel_times_long` (only the pairs within the
  cutoff), :func:`nearest`, :func:`isochrones` — the queries.
* :func:`to_networkx` / :func:`from_networkx` — interchange.
"""

from __future__ import annotations

from schoolplan.network.dem import Dem, read_hgt, slope_speed_factor
from schoolplan.network.graph import (
    DroppedReport,
    RoadGraph,
    build_graph,
    from_arrays,
    from_networkx,
    to_networkx,
)
from schoolplan.network.isochrone import isochrones
from schoolplan.network.nearest import nearest
from schoolplan.network.profiles import (
    Profile,
    available_profiles,
    load_profile,
    normalize_road_class,
    parse_maxspeed,
)
from schoolplan.network.query import travel_time_matrix, travel_times_long
from schoolplan.network.snap import SnappedPoints, prepare_points, snap_points

__all__ = [
    "Dem",
    "DroppedReport",
    "Profile",
    "RoadGraph",
    "SnappedPoints",
    "available_profiles",
    "build_graph",
    "from_arrays",
    "from_networkx",
    "isochrones",
    "load_profile",
    "nearest",
    "normalize_road_class",
    "parse_maxspeed",
    "prepare_points",
    "read_hgt",
    "slope_speed_factor",
    "snap_points",
    "to_networkx",
    "travel_time_matrix",
    "travel_times_long",
]
