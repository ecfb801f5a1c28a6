"""Build the bundled demo county (示范县) in ``data/demo_county/``.

The demo county uses a real rural county -- Yuba County, California -- as a
stand-in *geography* (OpenStreetMap roads, places, residential land use, the real
school register with open and closed schools) and puts Chinese planning rules and
modelled Chinese-style statistics on top (births from the Chinese national series,
class sizes, teacher ratios, kindergarten ownership, 优质均衡 inputs ...).

Everything modelled is drawn from one seeded ``numpy.random.default_rng`` so the
output is reproducible: running the script twice gives identical files.

Usage::

    python scripts/build_demo_county.py [--shared ../shared/data] [--out data/demo_county]

See ``data/demo_county/README.md`` (written by this script) for what is real and
what is modelled.
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree
from shapely.geometry import MultiPoint, Point, box

from schoolplan.schema import AGE_COLUMNS
from schoolplan.schema import LEVEL_GRADES as GRADES

# --------------------------------------------------------------------------- constants

SEED = 20240601
BASE_YEAR = 2024
FIRST_BIRTH_YEAR = 2000          # births.csv starts here
FIRST_ENROLMENT_YEAR = 2014      # enrolment.csv starts here
SIM_START_YEAR = 2009            # enrolment simulation warm-up (grade 6 in 2014 entered in 2009)
TARGET_POPULATION = 150_000      # residents of the demo county (a small Chinese rural county)
METRIC_CRS = "EPSG:32610"        # UTM 10N: metric work CRS for Yuba County
OUTPUT_CRS = "EPSG:4326"
COUNTY_RELATION_ID = 396475      # OSM relation "Yuba County" (boundary=administrative, admin_level 6)

SOURCE_PBF = Path("osm/yuba_county_ca/yuba_county_ca_2024-05.osm.pbf")
SOURCE_SCHOOLS = Path("schools_us/yuba_county_ca_schools_directory_2018.csv")
SOURCE_WPP = Path("china_stats/china_births_unwpp2022_1950_2100.csv")

ATTRIBUTION = (
    "Roads, places and land use © OpenStreetMap contributors (ODbL 1.0); school register: "
    "California Department of Education public school directory (2018); births: NBS national "
    "births 2010-2024 and UN WPP 2022 via Our World in Data (CC BY 4.0); all Chinese-style "
    "statistics are modelled (seeded) by scripts/build_demo_county.py"
)

# What is kept in the reduced roads.osm.pbf.
PLACE_KINDS = ("town", "village", "hamlet", "isolated_dwelling", "locality")
KEEP_LANDUSE = ("residential", "greenfield", "brownfield", "construction", "meadow")
KEEP_AMENITY = ("school", "kindergarten", "childcare", "townhall")

# Drivable highway classes and speeds (km/h): township partition and school-choice travel times.
DRIVE_SPEED_KMH = {
    "motorway": 100, "motorway_link": 50, "trunk": 80, "trunk_link": 50,
    "primary": 70, "primary_link": 40, "secondary": 60, "secondary_link": 40,
    "tertiary": 50, "tertiary_link": 30, "unclassified": 40, "residential": 30,
    "living_street": 15, "service": 20, "track": 15, "road": 30,
}

# Townships: seeds are all place=town/village nodes plus these hamlets (they host real
# schools and fill the large rural east/south-east); town nodes within SEAT_RADIUS_M of
# the most populous town form the county seat (县城).
TOWNSHIP_HAMLETS = ("Browns Valley", "Dobbins", "Smartsville")
SEAT_RADIUS_M = 6_000.0
SEAT_NAME = "Marysville"         # the real county seat of Yuba County names the seat township

# Demand-point weights (relative; scaled so the county totals TARGET_POPULATION): every
# residential street segment (highway=residential/living_street) counts for its nearest demand
# point; near a town/village with an OSM population tag the tag is spread over the points by
# their street length, elsewhere a street kilometre counts RURAL_PERSONS_PER_KM; each point also
# gets a small rank weight (PLACE_WEIGHT) and RES_AREA_WEIGHT per hectare of residential land.
PLACE_WEIGHT = {"town": 500.0, "village": 300.0, "hamlet": 120.0, "locality": 30.0,
                "isolated_dwelling": 10.0, "residential_cluster": 0.0}
RESIDENTIAL_STREETS = ("residential", "living_street")
RURAL_PERSONS_PER_KM = 40.0
RES_AREA_WEIGHT = 3.0
TOWN_RADIUS_M = 2_500.0
CLUSTER_MERGE_M = 300.0          # residential polygons closer than this form one cluster

PERSONS_PER_DWELLING = 2.8       # standards: housing_yield.persons_per_dwelling (L)

# Chinese national births (万人), NBS annual communiqués, standards.md §8.1 (status V).
NBS_BIRTHS_WAN = {
    2010: 1588, 2011: 1600, 2012: 1635, 2013: 1640, 2014: 1687, 2015: 1655, 2016: 1786,
    2017: 1723, 2018: 1523, 2019: 1465, 2020: 1202, 2021: 1062, 2022: 956, 2023: 902,
    2024: 954,
}
NBS_BIRTH_RATE_2024 = 6.77 / 1000.0  # births per resident, NBS 2024 (V)

# Levels: standard class size (standards.md §3), pupils per teacher (§4), land and
# building floor area per seat (§2; cn_national.toml land_per_pupil_m2 / building_per_pupil_m2).
CLASS_SIZE = {"kindergarten": 30, "teaching_point": 30, "primary": 45, "junior": 50,
              "senior": 50}
TEACHER_RATIO = {"kindergarten": 15.0, "primary": 19.0, "junior": 13.5, "senior": 12.5}
LAND_PER_SEAT = {"kindergarten": 15.0, "teaching_point": 18.0, "primary": 18.0,
                 "nine_year": 18.0, "junior": 20.0, "senior": 20.0}
BUILDING_PER_SEAT = {"kindergarten": 10.44, "teaching_point": 5.4, "primary": 5.4,
                     "nine_year": 5.6, "junior": 6.7, "senior": 6.9}

# Register school types that are out of scope for a layout plan.
EXCLUDED_TYPE_WORDS = ("special education", "adult", "juvenile", "continuation",
                       "community day", "county community", "opportunity", "alternative")


@dataclass
class Osm:
    """OSM features read from the reduced extract (all in METRIC_CRS)."""

    county: shapely.Polygon
    places: gpd.GeoDataFrame
    residential: gpd.GeoDataFrame
    openland: gpd.GeoDataFrame
    schools: gpd.GeoDataFrame
    civic: gpd.GeoDataFrame
    nodes: pd.DataFrame
    edges: pd.DataFrame


# --------------------------------------------------------------------------- OSM extract


def _keep_way(tags: osmium.osm.TagList) -> bool:
    return ("highway" in tags or tags.get("landuse") in KEEP_LANDUSE
            or tags.get("amenity") in KEEP_AMENITY or tags.get("office") == "government")


def _keep_node(tags: osmium.osm.TagList) -> bool:
    return (tags.get("place") in PLACE_KINDS or tags.get("amenity") in KEEP_AMENITY
            or tags.get("office") == "government")


def reduce_pbf(src: Path, dst: Path) -> dict[str, int]:
    """Write the subset of the OSM extract the toolkit needs, as a valid PBF.

    Kept: every highway way whose nodes are all in the file (complete ways), place
    nodes, land-use ways (residential and the open-land classes used for candidate
    sites), school / kindergarten / childcare / town-hall / government features and
    the Yuba County boundary relation with its member ways. Objects are copied
    unchanged (no invented geometry or tags).

    Parameters
    ----------
    src, dst
        Source extract and output path.

    Returns
    -------
    dict
        Counts of kept nodes, ways and relations, and of dropped incomplete ways.
    """
    present: set[int] = set()
    ways: set[int] = set()
    needed: set[int] = set()
    boundary_ways: set[int] = set()
    incomplete = 0
    for obj in osmium.FileProcessor(str(src)):
        if obj.is_relation() and obj.id == COUNTY_RELATION_ID:
            boundary_ways = {m.ref for m in obj.members if m.type == "w"}
    for obj in osmium.FileProcessor(str(src), osmium.osm.NODE | osmium.osm.WAY):
        if obj.is_node():
            present.add(obj.id)
            if _keep_node(obj.tags):
                needed.add(obj.id)
        elif _keep_way(obj.tags) or obj.id in boundary_ways:
            refs = [n.ref for n in obj.nodes]
            if all(r in present for r in refs):
                ways.add(obj.id)
                needed.update(refs)
            else:
                incomplete += 1
    reader = osmium.io.Reader(str(src), osmium.osm.osm_entity_bits.NOTHING)
    stamp = reader.header().get("osmosis_replication_timestamp")
    reader.close()
    header = osmium.io.Header()
    header.set("generator", "schoolplan scripts/build_demo_county.py (pyosmium)")
    if stamp:
        header.set("osmosis_replication_timestamp", stamp)
    counts = {"nodes": 0, "ways": 0, "relations": 0}
    dst.unlink(missing_ok=True)
    with osmium.SimpleWriter(str(dst), header=header) as writer:
        for obj in osmium.FileProcessor(str(src)):
            if obj.is_node() and obj.id in needed:
                writer.add_node(obj)
                counts["nodes"] += 1
            elif obj.is_way() and obj.id in ways:
                writer.add_way(obj)
                counts["ways"] += 1
            elif obj.is_relation() and obj.id == COUNTY_RELATION_ID:
                members = [(m.type, m.ref, m.role) for m in obj.members
                           if (m.type == "w" and m.ref in ways) or (m.type == "n" and m.ref in needed)]
                writer.add_relation(obj.replace(members=members))
                counts["relations"] += 1
    counts["incomplete_ways_dropped"] = incomplete
    return counts


def _to_metric(rows: list[dict], crs: str = OUTPUT_CRS) -> gpd.GeoDataFrame:
    cols = list(rows[0]) if rows else ["geometry"]
    return gpd.GeoDataFrame(rows, columns=cols, geometry="geometry", crs=crs).to_crs(METRIC_CRS)


def read_osm(pbf: Path) -> Osm:
    """Read the features used by the demo builder from the reduced extract.

    Parameters
    ----------
    pbf
        The reduced ``roads.osm.pbf``.

    Returns
    -------
    Osm
        County boundary, places, land use, school/civic features and the drivable
        network (nodes with coordinates, edges with highway class), all metric.
    """
    wkb = osmium.geom.WKBFactory()
    places, res, openland, schools, civic, edges = [], [], [], [], [], []
    coords: dict[int, tuple[float, float]] = {}
    county = None
    proc = osmium.FileProcessor(str(pbf)).with_locations().with_areas()
    for obj in proc:
        tags = obj.tags
        if obj.is_node():
            loc = Point(obj.location.lon, obj.location.lat)
            if tags.get("place") in PLACE_KINDS:
                places.append({"osm_id": obj.id, "place": tags["place"],
                               "name": tags.get("name", ""),
                               "population_tag": _number(tags.get("population")),
                               "geometry": loc})
            if tags.get("amenity") in ("school", "kindergarten", "childcare"):
                schools.append({"osm_id": f"n{obj.id}", "amenity": tags["amenity"],
                                "name": tags.get("name", ""), "geometry": loc})
            if tags.get("amenity") == "townhall" or tags.get("office") == "government":
                civic.append({"osm_id": f"n{obj.id}", "name": tags.get("name", ""),
                              "geometry": loc})
        elif obj.is_way() and tags.get("highway") in DRIVE_SPEED_KMH:
            refs = [(n.ref, n.lon, n.lat) for n in obj.nodes]
            for (a, ax, ay), (b, bx, by) in itertools.pairwise(refs):
                coords[a], coords[b] = (ax, ay), (bx, by)
                edges.append((a, b, tags["highway"]))
        elif obj.is_area():
            geom = shapely.from_wkb(wkb.create_multipolygon(obj))
            if not obj.from_way() and obj.orig_id() == COUNTY_RELATION_ID:
                county = geom
                continue
            landuse, amenity = tags.get("landuse"), tags.get("amenity")
            row = {"osm_id": f"w{obj.orig_id()}", "name": tags.get("name", ""),
                   "geometry": geom}
            if landuse == "residential":
                res.append(row)
            elif landuse in KEEP_LANDUSE:
                openland.append({**row, "landuse": landuse})
            elif amenity in ("school", "kindergarten", "childcare"):
                schools.append({**row, "amenity": amenity})
            elif amenity == "townhall" or tags.get("office") == "government":
                civic.append(row)
    if county is None:
        raise RuntimeError("county boundary relation missing from the extract")
    county_m = gpd.GeoSeries([county], crs=OUTPUT_CRS).to_crs(METRIC_CRS).iloc[0]
    nodes = pd.DataFrame([(k, *v) for k, v in sorted(coords.items())],
                         columns=["osm_id", "lon", "lat"])
    xy = gpd.GeoSeries.from_xy(nodes.lon, nodes.lat, crs=OUTPUT_CRS).to_crs(METRIC_CRS)
    nodes["x"], nodes["y"] = xy.x.to_numpy(), xy.y.to_numpy()
    return Osm(
        county=shapely.Polygon(county_m.geoms[0]) if county_m.geom_type == "MultiPolygon"
        else county_m,
        places=_to_metric(places), residential=_to_metric(res), openland=_to_metric(openland),
        schools=_to_metric(schools), civic=_to_metric(civic), nodes=nodes,
        edges=pd.DataFrame(edges, columns=["u", "v", "highway"]),
    )


def _number(text: str | None) -> float:
    """An OSM numeric tag such as ``"21654"`` or ``"5,853"`` (NaN when absent or not a number)."""
    try:
        return float(str(text).replace(",", ""))
    except ValueError:
        return math.nan


def read_pois(src: Path, county: shapely.Polygon) -> gpd.GeoDataFrame:
    """Named ``amenity=place_of_worship`` nodes inside the county (source extract).

    They are real locations used to place the modelled private kindergartens.
    """
    rows = []
    for obj in osmium.FileProcessor(str(src), osmium.osm.NODE):
        tags = obj.tags
        if tags.get("amenity") == "place_of_worship" and "name" in tags:
            rows.append({"osm_id": f"n{obj.id}", "amenity": tags["amenity"], "name": tags["name"],
                         "geometry": Point(obj.location.lon, obj.location.lat)})
    pois = _to_metric(rows)
    return pois[pois.within(county)].reset_index(drop=True)


# --------------------------------------------------------------------------- townships


def township_seeds(places: gpd.GeoDataFrame, county: shapely.Polygon) -> gpd.GeoDataFrame:
    """Seed places of the townships, with a ``group`` label (seat towns share one).

    Seeds are the OSM ``place=town`` / ``place=village`` nodes inside the county plus the
    hamlets in :data:`TOWNSHIP_HAMLETS`. The towns within :data:`SEAT_RADIUS_M` of the
    most populous town (OSM ``population`` tag) form the county seat.
    """
    inside = places[places.within(county)]
    seeds = inside[inside.place.isin(["town", "village"])
                   | (inside.place.eq("hamlet") & inside.name.isin(TOWNSHIP_HAMLETS))].copy()
    towns = seeds[seeds.place.eq("town")]
    biggest = towns.loc[towns.population_tag.idxmax()]
    near = towns.distance(biggest.geometry) <= SEAT_RADIUS_M
    seat_names = sorted(towns[near].name)
    seeds["group"] = seeds.name.where(~seeds.name.isin(seat_names), "__seat__")
    seeds["is_county_seat"] = seeds.group.eq("__seat__")
    return seeds.sort_values(["group", "name"]).reset_index(drop=True)


def drive_graph(osm: Osm) -> tuple[coo_matrix, np.ndarray]:
    """Undirected travel-time graph (seconds) on the drivable OSM network.

    Returns
    -------
    (scipy.sparse.coo_matrix, numpy.ndarray)
        Adjacency with travel times and the node coordinates (n × 2, metres).
    """
    idx = pd.Series(np.arange(len(osm.nodes)), index=osm.nodes.osm_id.to_numpy())
    u = idx.loc[osm.edges.u.to_numpy()].to_numpy()
    v = idx.loc[osm.edges.v.to_numpy()].to_numpy()
    xy = osm.nodes[["x", "y"]].to_numpy()
    length = np.hypot(*(xy[u] - xy[v]).T)
    speed = osm.edges.highway.map(DRIVE_SPEED_KMH).to_numpy(dtype=float) / 3.6
    seconds = np.maximum(length / speed, 0.01)
    n = len(xy)
    graph = coo_matrix((seconds, (u, v)), shape=(n, n))
    return graph, xy


def _partition_cells(xy: np.ndarray, labels: np.ndarray, extent: shapely.Polygon,
                     n_groups: int) -> list[shapely.Geometry]:
    """Voronoi cells of the labelled nodes, dissolved per label and clipped to ``extent``."""
    pts, first = np.unique(np.round(xy, 1), axis=0, return_index=True)
    lab = labels[first]
    frame = box(*extent.buffer(5_000).bounds)
    cells = shapely.voronoi_polygons(MultiPoint(pts), extend_to=frame, ordered=True)
    cells = np.asarray(shapely.get_parts(cells))
    out = []
    for k in range(n_groups):
        merged = shapely.coverage_union_all(cells[lab == k])
        out.append(shapely.intersection(merged, extent))
    return out


def _single_parts(parts: list[shapely.Geometry]) -> list[shapely.Polygon]:
    """Give every detached piece of a township to the neighbour it shares most border with.

    Repeats until every township is one polygon; the union is unchanged except for
    pieces that touch no other township (dropped).
    """
    geoms = list(parts)
    for _ in range(500):
        pieces = [(k, p) for k, g in enumerate(geoms) for p in shapely.get_parts(g)]
        largest = {k: max((p for j, p in pieces if j == k), key=lambda q: q.area)
                   for k in range(len(geoms))}
        stray = [(k, p) for k, p in pieces if p is not largest[k]]
        if not stray:
            break
        k, p = min(stray, key=lambda kp: kp[1].area)
        border = [shapely.length(shapely.intersection(p.boundary, g.boundary)) if j != k else -1.0
                  for j, g in enumerate(geoms)]
        j = int(np.argmax(border))
        geoms[k] = shapely.difference(geoms[k], p)
        if border[j] > 0:  # an isolated piece (no neighbour) is dropped
            geoms[j] = shapely.coverage_union_all([geoms[j], p])
    out = []
    for g in geoms:
        g = shapely.make_valid(g)
        polys = [p for p in shapely.get_parts(g) if p.geom_type == "Polygon"]
        out.append(max(polys, key=lambda q: q.area))
    return out


def make_townships(osm: Osm) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Partition the county into townships by road travel time to the seed places.

    Every drivable node is assigned to its nearest seed by travel time (multi-source
    Dijkstra); Voronoi cells of the nodes are dissolved per township, clipped to the
    real county boundary, and detached pieces are handed to a neighbour so every
    township is a single polygon. The result has no overlaps and no gaps.

    Returns
    -------
    (GeoDataFrame, GeoDataFrame)
        Townships (metric CRS; columns ``group``, ``name_en``, ``seat_place``, ``place``,
        ``is_county_seat``) and the seed places.
    """
    seeds = township_seeds(osm.places, osm.county)
    groups = sorted(seeds.group.unique(), key=lambda g: (g != "__seat__", g))
    graph, xy = drive_graph(osm)
    tree = cKDTree(xy)
    seed_nodes = tree.query(np.c_[seeds.geometry.x, seeds.geometry.y])[1]
    _, _, source = dijkstra(graph, directed=False, indices=seed_nodes, min_only=True,
                            return_predecessors=True)
    seed_group = {int(n): groups.index(g) for n, g in zip(seed_nodes, seeds.group, strict=True)}
    labels = np.array([seed_group.get(int(s), -1) for s in source])
    reached = labels >= 0
    # unreachable nodes take the label of the nearest reached node
    near = cKDTree(xy[reached]).query(xy[~reached])[1]
    labels[~reached] = labels[reached][near]
    keep = shapely.contains_xy(osm.county.buffer(3_000), xy[:, 0], xy[:, 1])
    parts = _partition_cells(xy[keep], labels[keep], osm.county, len(groups))
    polys = _single_parts(parts)
    polys = list(shapely.coverage_simplify(np.asarray(polys, dtype=object), 40.0,
                                           simplify_boundary=False))
    lost = osm.county.area - sum(p.area for p in polys)
    if abs(lost) > 1e-6 * osm.county.area:
        raise RuntimeError(f"township partition does not cover the county ({lost:.0f} m²)")
    seat_names = sorted(seeds.loc[seeds.is_county_seat, "name"])
    seat_place = SEAT_NAME if SEAT_NAME in seat_names else seat_names[0]
    seat_en = "–".join([seat_place, *(n for n in seat_names if n != seat_place)])
    rows = []
    for k, g in enumerate(groups):
        seat = g == "__seat__"
        seed = seeds[seeds.group == g].iloc[0]
        rows.append({"group": g, "name_en": seat_en if seat else g,
                     "seat_place": seat_place if seat else seed["name"],
                     "place": "town" if seat else seed.place,
                     "is_county_seat": seat, "geometry": polys[k]})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS), seeds


# --------------------------------------------------------------------------- villages


def residential_clusters(residential: gpd.GeoDataFrame, county: shapely.Polygon,
                         ) -> gpd.GeoDataFrame:
    """Merge residential land-use polygons closer than :data:`CLUSTER_MERGE_M` into clusters.

    Returns
    -------
    GeoDataFrame
        One row per cluster: ``area_ha`` of residential land, ``n_polygons`` and the
        merged geometry (metric CRS), ordered south to north.
    """
    polys = shapely.intersection(residential.geometry.to_numpy(), county)
    polys = polys[~shapely.is_empty(polys)]
    blobs = shapely.get_parts(shapely.union_all(shapely.buffer(polys, CLUSTER_MERGE_M / 2)))
    tree = shapely.STRtree(polys)
    rows = []
    for blob in blobs:
        members = polys[tree.query(blob, predicate="intersects")]
        geom = shapely.union_all(members)
        rows.append({"area_ha": geom.area / 1e4, "n_polygons": len(members), "geometry": geom})
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)
    c = out.geometry.centroid
    return out.iloc[np.lexsort((c.x.round(), c.y.round()))].reset_index(drop=True)


def demand_points(osm: Osm, clusters: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """OSM place nodes plus residential-cluster centroids, with a relative ``weight``.

    Every residential street segment inside the county is counted for its nearest
    demand point (``street_km``). Points within :data:`TOWN_RADIUS_M` of a town or
    village carrying an OSM ``population`` tag share that population in proportion to
    their street length; other points get :data:`RURAL_PERSONS_PER_KM` per street km.
    All points add a rank weight (:data:`PLACE_WEIGHT`) and :data:`RES_AREA_WEIGHT` per
    hectare of residential land use.
    """
    places = osm.places[osm.places.within(osm.county)].sort_values("osm_id")
    pl = gpd.GeoDataFrame({
        "name": places.name.to_numpy(), "kind": places.place.to_numpy(),
        "osm_id": [f"n{i}" for i in places.osm_id], "res_area_ha": 0.0,
        "population_tag": places.population_tag.to_numpy()},
        geometry=places.geometry.to_numpy(), crs=METRIC_CRS)
    pts = clusters.geometry.centroid
    outside = ~pts.within(osm.county)
    pts[outside] = clusters.geometry[outside].representative_point()
    cl = gpd.GeoDataFrame({
        "name": [f"Residential cluster {i + 1}" for i in range(len(clusters))],
        "kind": "residential_cluster", "osm_id": "",
        "res_area_ha": clusters.area_ha.to_numpy(), "population_tag": np.nan},
        geometry=pts.to_numpy(), crs=METRIC_CRS)
    dp = pd.concat([pl, cl], ignore_index=True)
    xy = np.c_[dp.geometry.x, dp.geometry.y]
    dp["street_km"] = _street_km(osm, xy)
    tagged = dp[dp.population_tag.notna()]
    dist, which = cKDTree(np.c_[tagged.geometry.x, tagged.geometry.y]).query(xy)
    near = dist <= TOWN_RADIUS_M
    dp["town"] = np.where(near, tagged.name.to_numpy()[which], "")
    base = dp.kind.map(PLACE_WEIGHT).to_numpy() + RES_AREA_WEIGHT * dp.res_area_ha.to_numpy()
    weight = base + RURAL_PERSONS_PER_KM * dp.street_km.to_numpy()
    for town, pop in zip(tagged.name, tagged.population_tag, strict=True):
        m = dp.town.eq(town).to_numpy()
        km = dp.street_km.to_numpy()[m]
        weight[m] = base[m] + pop * (km / km.sum() if km.sum() > 0 else 1.0 / m.sum())
    dp["weight"] = weight
    return dp


def _street_km(osm: Osm, xy: np.ndarray) -> np.ndarray:
    """Kilometres of residential street whose midpoint is nearest to each point in ``xy``."""
    e = osm.edges[osm.edges.highway.isin(RESIDENTIAL_STREETS)]
    n = osm.nodes.set_index("osm_id")
    a = n.loc[e.u, ["x", "y"]].to_numpy()
    b = n.loc[e.v, ["x", "y"]].to_numpy()
    mid = (a + b) / 2
    length = np.hypot(*(a - b).T)
    inside = shapely.contains_xy(osm.county, mid[:, 0], mid[:, 1])
    nearest = cKDTree(xy).query(mid[inside])[1]
    return np.bincount(nearest, weights=length[inside], minlength=len(xy)) / 1e3


# --------------------------------------------------------------------------- schools (real register)

_GENERIC_WORDS = {"school", "elementary", "elem", "intermediate", "middle", "high", "the"}


def _name_key(name: str) -> str:
    words = "".join(ch if ch.isalnum() else " " for ch in str(name).lower()).split()
    return " ".join(w for w in words if w not in _GENERIC_WORDS)


def _grade(token: str) -> int | None:
    token = token.strip().upper()
    if token in ("K", "TK", "P", "PK"):
        return 0
    return int(token) if token.isdigit() else None


def grade_span(span: object) -> tuple[int, int] | None:
    """Parse a CDE grade span such as ``"K-6"`` or ``"9-12"`` into (lowest, highest)."""
    if not isinstance(span, str) or not span.strip():
        return None
    parts = [_grade(t) for t in span.split("-")]
    if any(p is None for p in parts):
        return None
    return (parts[0], parts[-1])  # type: ignore[return-value]


def register_level(row: pd.Series) -> str:
    """Map a register row to a schoolplan level from its school type and grade span.

    Middle / intermediate / junior-high types → ``junior``; spans from K-2 up to grade
    8 or beyond (K-8, K-12) → ``nine_year``; spans ending by grade 6 → ``primary``;
    spans starting at grade 9 or later, or 7-12 → ``senior``; preschools → ``kindergarten``.
    """
    soc = str(row.get("SOCType", "")).lower()
    span = grade_span(row.get("GSserved")) or grade_span(row.get("GSoffered"))
    if "preschool" in soc:
        return "kindergarten"
    if "intermediate" in soc or "middle" in soc or "junior high" in soc:
        return "junior"
    if span is None:
        return "senior" if "high" in soc else "primary"
    lo, hi = span
    if lo <= 2 and hi >= 8:
        return "nine_year"
    if hi <= 6:
        return "primary"
    if lo >= 9 or (lo >= 7 and hi >= 10):
        return "senior"
    return "junior"


def _excluded(row: pd.Series) -> str:
    text = " ".join(str(row.get(c, "")) for c in ("SOCType", "EdOpsName", "School")).lower()
    for word in EXCLUDED_TYPE_WORDS:
        if word in text:
            return word
    return ""


def read_register(path: Path, osm_schools: gpd.GeoDataFrame,
                  ) -> tuple[gpd.GeoDataFrame, dict[str, object]]:
    """The in-scope rows of the real Yuba County school register, located.

    Rows keep their register coordinates; closed/merged rows without coordinates are
    located at the OSM ``amenity=school`` feature with the same name (generic words such
    as "Elementary"/"School" ignored) when there is exactly one and no active register
    school has that name. District-office rows,
    out-of-scope types and rows that cannot be located are dropped and counted.

    Returns
    -------
    (GeoDataFrame, dict)
        Located schools (metric CRS) and counts of dropped rows by reason.
    """
    reg = pd.read_csv(path, dtype=str)
    dropped: dict[str, object] = {"rows_in_register": len(reg)}
    office = reg.School.isna()
    dropped["district_office_rows"] = int(office.sum())
    reg = reg[~office].copy()
    reason = reg.apply(_excluded, axis=1)
    for word, n in reason[reason != ""].value_counts().sort_index().items():
        dropped[f"out_of_scope:{word}"] = int(n)
    reg = reg[reason == ""].copy()
    reg["lon"] = pd.to_numeric(reg.Longitude)
    reg["lat"] = pd.to_numeric(reg.Latitude)
    reg["location_source"] = np.where(reg.lon.notna(), "register", "")
    keys = osm_schools.assign(key=osm_schools.name.map(_name_key))
    active_keys = set(reg.loc[reg.StatusType.eq("Active"), "School"].map(_name_key))
    keys = keys[(keys.key != "") & ~keys.key.isin(active_keys)]
    unique = keys.groupby("key").filter(lambda g: len(g) == 1).set_index("key")
    pts = unique.geometry.representative_point().to_crs(OUTPUT_CRS)
    for i in reg.index[reg.lon.isna()]:
        key = _name_key(reg.at[i, "School"])
        if reg.at[i, "StatusType"] != "Active" and key in pts.index:
            reg.loc[i, ["lon", "lat"]] = [pts[key].x, pts[key].y]
            reg.at[i, "location_source"] = f"OSM {unique.at[key, 'osm_id']} ({unique.at[key, 'name']})"
    dropped["no_coordinates"] = int(reg.lon.isna().sum())
    dropped["no_coordinates_names"] = sorted(reg.loc[reg.lon.isna(), "School"].str.strip())
    reg = reg[reg.lon.notna()].copy()
    reg["level"] = reg.apply(register_level, axis=1)
    geom = gpd.GeoSeries.from_xy(reg.lon, reg.lat, crs=OUTPUT_CRS).to_crs(METRIC_CRS)
    out = gpd.GeoDataFrame({
        "school_id": reg.CDSCode.to_numpy(), "name": reg.School.str.strip().to_numpy(),
        "level": reg.level.to_numpy(),
        "status": np.where(reg.StatusType.eq("Active"), "open", "closed"),
        "register_status": reg.StatusType.to_numpy(),
        "opened_year": pd.to_datetime(reg.OpenDate).dt.year.to_numpy(),
        "closed_year": pd.to_datetime(reg.ClosedDate).dt.year.to_numpy(),
        "grade_span": reg.GSserved.fillna(reg.GSoffered).fillna("").to_numpy(),
        "register_type": reg.SOCType.fillna("").to_numpy(),
        "charter": reg.Charter.eq("Y").to_numpy(),
        "location_source": reg.location_source.to_numpy()},
        geometry=geom.to_numpy(), crs=METRIC_CRS)
    return out.sort_values("school_id").reset_index(drop=True), dropped


# --------------------------------------------------------------------------- population, births, ages

# Children: survival to the reference date and net migration per year of age (township
# level). Families move from the townships to the county seat (进城) and out of the
# county; rural townships also have fewer births per resident (older population).
SURVIVAL = 0.994
MIGRATION_PER_YEAR = {"seat": 0.010, "rural": -0.035}
BIRTH_FACTOR = {"seat": 1.15, "rural": 0.80}


def _rng(tag: str) -> np.random.Generator:
    """Independent, reproducible random stream for one part of the model."""
    return np.random.default_rng([SEED, zlib.crc32(tag.encode())])


def _round_to_total(values: np.ndarray, total: int) -> np.ndarray:
    """Round non-negative values to integers that sum to ``total`` (largest remainder)."""
    scaled = values / values.sum() * total
    out = np.floor(scaled).astype(int)
    rest = total - out.sum()
    out[np.argsort(-(scaled - out), kind="stable")[:rest]] += 1
    return out


def assign_population(points: gpd.GeoDataFrame, townships: gpd.GeoDataFrame,
                      ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Scale demand-point weights to :data:`TARGET_POPULATION` and number everything.

    Townships get ids ``T01`` (the county seat) … ordered by population, a Chinese-style
    name (real place name + 镇/乡) and their population; villages get ``V001`` … ids.
    """
    rng = _rng("population")
    pts = gpd.sjoin(points, townships[["group", "geometry"]], predicate="within", how="inner")
    pts = pts.drop(columns="index_right")
    noisy = pts.weight.to_numpy() * rng.lognormal(0.0, 0.15, len(pts))
    pts["population"] = np.maximum(_round_to_total(noisy, TARGET_POPULATION), 5)
    pop = pts.groupby("group").population.sum()
    tw = townships.copy()
    tw["population"] = tw.group.map(pop).fillna(0).astype(int)
    tw = tw.sort_values(["is_county_seat", "population"], ascending=False).reset_index(drop=True)
    tw["township_id"] = [f"T{i + 1:02d}" for i in range(len(tw))]
    is_town = tw.is_county_seat | (tw.place.eq("village") & (tw.population >= 8_000))
    tw["name"] = tw.seat_place + np.where(is_town, "镇", "乡")
    pts["township_id"] = pts.group.map(tw.set_index("group").township_id)
    order = {"town": 0, "village": 1, "hamlet": 2, "locality": 3, "isolated_dwelling": 4,
             "residential_cluster": 5}
    pts = pts.assign(_k=pts.kind.map(order)).sort_values(
        ["township_id", "_k", "population", "name"], ascending=[True, True, False, True])
    pts["village_id"] = [f"V{i + 1:03d}" for i in range(len(pts))]
    return tw, pts.drop(columns="_k").reset_index(drop=True)


def national_births(shared: Path) -> pd.Series:
    """Chinese national births by year, 1990-2024.

    NBS communiqué counts for 2010-2024 (standards.md §8.1); earlier years are the UN WPP
    2022 estimates scaled by the mean NBS/WPP ratio of 2010-2014 so the series joins
    without a step.
    """
    wpp = pd.read_csv(shared / SOURCE_WPP).set_index("year").births.astype(float)
    nbs = pd.Series(NBS_BIRTHS_WAN, dtype=float) * 1e4
    ratio = float((nbs.loc[2010:2014] / wpp.loc[2010:2014]).mean())
    early = wpp.loc[1990:2009] * ratio
    out = pd.concat([early, nbs]).rename("births")
    out.attrs["wpp_ratio"] = ratio
    return out


def township_births(national: pd.Series, townships: gpd.GeoDataFrame) -> pd.DataFrame:
    """Births by year and township: national births × county share, split over townships.

    The county share is ``TARGET_POPULATION × 6.77 ‰ / national births 2024`` (the NBS 2024
    crude birth rate, so the county's 2024 birth rate equals the national one). Each year
    the county total is split over townships ∝ population × :data:`BIRTH_FACTOR` × mild
    log-normal noise (sd 0.06); the county total itself follows the national series.
    """
    rng = _rng("births")
    share = TARGET_POPULATION * NBS_BIRTH_RATE_2024 / national.loc[BASE_YEAR]
    kind = np.where(townships.is_county_seat, "seat", "rural")
    w = townships.population.to_numpy() * pd.Series(kind).map(BIRTH_FACTOR).to_numpy()
    rows = []
    for year, nat in national.items():
        split = _round_to_total(w * rng.lognormal(0.0, 0.06, len(w)), round(nat * share))
        rows += [{"year": int(year), "township_id": t, "births": int(n)}
                 for t, n in zip(townships.township_id, split, strict=True)]
    return pd.DataFrame(rows)


def migration_factor(is_seat: np.ndarray, age: np.ndarray | int) -> np.ndarray:
    """Net-migration factor of children of ``age`` (township level, ≥ 0.3)."""
    rate = np.where(is_seat, MIGRATION_PER_YEAR["seat"], MIGRATION_PER_YEAR["rural"])
    return np.maximum(1.0 + rate * np.asarray(age), 0.3)


def expected_children(births: pd.DataFrame, townships: gpd.GeoDataFrame, year: int,
                      ages: Iterable[int]) -> np.ndarray:
    """Expected children (townships × ages) living in each township in ``year``."""
    table = births.pivot(index="township_id", columns="year", values="births")
    table = table.loc[townships.township_id]
    seat = townships.is_county_seat.to_numpy()
    cols = []
    for a in ages:
        b = table[year - a].to_numpy(dtype=float)
        cols.append(b * SURVIVAL * migration_factor(seat, a))
    return np.column_stack(cols)


def village_ages(villages: gpd.GeoDataFrame, births: pd.DataFrame,
                 townships: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Add ``age_0`` … ``age_17`` (2024): township children allocated to villages.

    Township totals are ``births(2024 − a) × survival × migration``; they are split over the
    township's villages by a multinomial draw with probabilities ∝ village population.
    """
    rng = _rng("ages")
    kids = expected_children(births, townships, BASE_YEAR, range(len(AGE_COLUMNS)))
    out = villages.copy()
    for col in AGE_COLUMNS:
        out[col] = 0
    for i, t in enumerate(townships.township_id):
        m = (out.township_id == t).to_numpy()
        if not m.any():
            continue
        p = out.population[m].to_numpy(dtype=float)
        p = p / p.sum()
        for a, col in enumerate(AGE_COLUMNS):
            out.loc[m, col] = rng.multinomial(int(np.rint(kids[i, a])), p)
    return out


# --------------------------------------------------------------------------- travel times


class Roads:
    """Drivable network with a snapping index, for travel times in minutes."""

    def __init__(self, osm: Osm) -> None:
        self.graph, self.xy = drive_graph(osm)
        self.graph = self.graph.tocsr()
        self.tree = cKDTree(self.xy)

    def minutes(self, origins: gpd.GeoSeries, targets: gpd.GeoSeries) -> np.ndarray:
        """Travel time (minutes) from each origin to each target; snapping at 15 km/h.

        Returns
        -------
        numpy.ndarray
            ``len(origins) × len(targets)``.
        """
        o_xy = np.c_[origins.x, origins.y]
        t_xy = np.c_[targets.x, targets.y]
        o_d, o_n = self.tree.query(o_xy)
        t_d, t_n = self.tree.query(t_xy)
        uniq, inv = np.unique(o_n, return_inverse=True)
        sec = dijkstra(self.graph, directed=False, indices=uniq)[inv][:, t_n]
        walk = (o_d[:, None] + t_d[None, :]) / (15 / 3.6)
        return (sec + walk) / 60.0


# --------------------------------------------------------------------------- enrolment model


@dataclass(frozen=True)
class Stage:
    """A school stage: which levels take its pupils and how children enter it."""

    name: str
    levels: tuple[str, ...]
    grades: tuple[int, ...]
    entry_age: int
    tau_min: float          # distance decay of school choice (minutes)
    to_seat_2009: float     # share of rural entrants going to county-seat schools (进城), 2009
    to_seat_step: float     # … added per year
    progression: float      # grade-to-grade ratio before transfers


STAGES = (
    Stage("kindergarten", ("kindergarten",), (1, 2, 3), 3, 8.0, 0.05, 0.010, 1.02),
    Stage("primary", ("primary", "teaching_point", "nine_year"), (1, 2, 3, 4, 5, 6), 6, 4.0,
          0.08, 0.020, 0.985),
    Stage("junior", ("junior", "nine_year"), (7, 8, 9), 12, 8.0, 0.15, 0.030, 0.985),
    Stage("senior", ("senior",), (10, 11, 12), 15, 25.0, 0.0, 0.0, 0.97),
)


def entry_rate(stage: Stage, year: int) -> float:
    """Entrants to the first grade of ``stage`` per child of the entry age.

    Kindergarten: 毛入园率 0.72 in 2014 rising 1.8 points a year (≈ 0.90 in 2024), × 0.96 at
    小班 (some children start at 中班); primary 1.0; junior 0.99; general senior high 0.50
    rising 0.5 points a year.
    """
    t = year - FIRST_ENROLMENT_YEAR
    if stage.name == "kindergarten":
        return float(np.clip(0.72 + 0.018 * t, 0.5, 0.95)) * 0.96
    if stage.name == "primary":
        return 1.0
    if stage.name == "junior":
        return 0.99
    return 0.50 + 0.005 * (year - SIM_START_YEAR)


def transfer_rate(year: int) -> float:
    """Share of rural pupils moving to county-seat schools between two grades (进城读书)."""
    return 0.01 + 0.002 * (year - SIM_START_YEAR)


@dataclass
class Model:
    """Everything the enrolment simulation needs."""

    schools: gpd.GeoDataFrame      # open schools (index 0..n-1)
    villages: gpd.GeoDataFrame
    townships: gpd.GeoDataFrame
    births: pd.DataFrame
    minutes: np.ndarray            # villages × schools
    feeder: dict[int, int]         # teaching point → complete school taking its grade 5


def _children_by_village(model: Model, year: int, age: int) -> np.ndarray:
    tw = model.townships
    kids_t = expected_children(model.births, tw, year, [age])[:, 0]
    pos = pd.Series(np.arange(len(tw)), index=tw.township_id)
    v = model.villages
    share = v.population / v.groupby("township_id").population.transform("sum")
    return kids_t[pos.loc[v.township_id].to_numpy()] * share.to_numpy()


def _open(schools: gpd.GeoDataFrame, year: int) -> np.ndarray:
    return (schools.opened_year.fillna(0).to_numpy() <= year)


def _entrants(model: Model, stage: Stage, year: int, rng: np.random.Generator) -> np.ndarray:
    """Expected first-grade entrants of ``stage`` in ``year`` per school (gravity model)."""
    sch = model.schools
    ok = sch.level.isin(stage.levels).to_numpy() & _open(sch, year)
    if not ok.any():
        return np.zeros(len(sch), dtype=int)
    pool = _children_by_village(model, year, stage.entry_age) * entry_rate(stage, year)
    seat_v = model.villages.is_seat.to_numpy()
    share = min(stage.to_seat_2009 + stage.to_seat_step * (year - SIM_START_YEAR), 0.7)
    moving = np.where(seat_v, 0.0, pool * share)
    staying = pool - moving
    logit = np.log(sch.attract.to_numpy())[None, :] - model.minutes / stage.tau_min
    logit[:, ~ok] = -np.inf
    logit -= logit.max(axis=1, keepdims=True)
    p = np.exp(logit)
    p /= p.sum(axis=1, keepdims=True)
    expected = staying @ p
    seat_s = ok & sch.is_seat.to_numpy()
    if seat_s.any():
        a = sch.attract.to_numpy() * seat_s
        expected += moving.sum() * a / a.sum()
    return rng.poisson(expected)


def simulate(model: Model, stages: Iterable[Stage]) -> dict[int, np.ndarray]:
    """Simulate pupils by school and grade, ``SIM_START_YEAR`` … ``BASE_YEAR``.

    First grades are filled from the children of the entry age (births × survival ×
    migration) by a gravity model on road travel time; rural entrants partly go to
    county-seat schools. Later grades follow the previous grade of the same school with a
    progression ratio near 1 (Poisson noise, log-normal ratio noise sd 0.015) minus a
    yearly rural → county-seat transfer. Teaching points hand grade 4 on to a complete
    school's grade 5.

    Returns
    -------
    dict
        ``{year: array (schools × 13)}`` with pupils in columns 1-12 (column 0 unused).
    """
    sch = model.schools
    n = len(sch)
    seat = sch.is_seat.to_numpy()
    out: dict[int, np.ndarray] = {}
    prev = np.zeros((n, 13), dtype=int)
    for year in range(SIM_START_YEAR, BASE_YEAR + 1):
        cur = np.zeros((n, 13), dtype=int)
        is_open = _open(sch, year)
        for stage in stages:
            rng = _rng(f"enrol-{stage.name}-{year}")
            teaches = sch.level.isin(stage.levels).to_numpy() & is_open
            cur[:, stage.grades[0]] = _entrants(model, stage, year, rng) * teaches
            moved = transfer_rate(year) if stage.name != "senior" else 0.0
            for g in stage.grades[1:]:
                mask = teaches & np.array([g in GRADES[lv] for lv in sch.level])
                base = prev[:, g - 1] * stage.progression * rng.lognormal(0.0, 0.015, n)
                lost = np.where(seat, 0.0, base * moved)
                gain = np.zeros(n)
                if mask[seat].any():
                    w = (prev[:, g - 1] + 1.0) * (seat & mask)
                    gain = lost.sum() * w / w.sum()
                cur[:, g] = rng.poisson(np.maximum(base - lost + gain, 0.0)) * mask
                if g == 5:
                    for tp, school in model.feeder.items():
                        cur[school, 5] += rng.poisson(prev[tp, 4] * 0.97)
        out[year] = cur
        prev = cur
    return out


# --------------------------------------------------------------------------- schools (modelled attributes)

N_TEACHING_POINTS = 3            # smallest rural primaries become 教学点
CENTRAL_RADIUS_M = 6_000.0       # central school: largest within this distance of the township seat
ATTACHED_KG_SHARE = 0.5          # share of non-central complete primaries with an attached kindergarten
PRIVATE_KG_SEAT = 8              # private kindergartens at real POIs in the county seat
POI_SPACING_M = 500.0


def locate_schools(reg: gpd.GeoDataFrame, townships: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Add ``township_id`` and ``is_seat`` to the located register schools."""
    out = gpd.sjoin(reg, townships[["township_id", "is_county_seat", "geometry"]],
                    predicate="within", how="left").drop(columns="index_right")
    missing = out.township_id.isna()
    if missing.any():  # on the boundary line: nearest township
        near = townships.sindex.nearest(out.geometry[missing], return_all=False)[1]
        out.loc[missing, "township_id"] = townships.township_id.to_numpy()[near]
        out.loc[missing, "is_county_seat"] = townships.is_county_seat.to_numpy()[near]
    return out.rename(columns={"is_county_seat": "is_seat"}).astype({"is_seat": bool})


def mark_teaching_points(schools: gpd.GeoDataFrame, villages: gpd.GeoDataFrame,
                         minutes: np.ndarray, births: pd.DataFrame,
                         townships: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Turn the :data:`N_TEACHING_POINTS` rural primaries with the smallest catchment into 教学点.

    The catchment is the expected number of 6-11-year-olds (2024) choosing the school in
    the primary-stage gravity model (travel time decay 4 minutes).
    """
    kids = sum(_children_by_village(Model(schools, villages, townships, births, minutes, {}),
                                    BASE_YEAR, a) for a in range(6, 12))
    ok = schools.level.isin(["primary", "nine_year"]).to_numpy()
    logit = -minutes / 4.0
    logit[:, ~ok] = -np.inf
    p = np.exp(logit - logit.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    catchment = pd.Series(kids @ p, index=schools.index)
    rural = schools.level.eq("primary") & ~schools.is_seat
    smallest = catchment[rural].sort_values().index[:N_TEACHING_POINTS]
    out = schools.copy()
    out.loc[smallest, "level"] = "teaching_point"
    out["catchment_6_11"] = catchment.round(1)
    return out


def kindergarten_sites(schools: gpd.GeoDataFrame, pois: gpd.GeoDataFrame,
                       childcare: gpd.GeoDataFrame, townships: gpd.GeoDataFrame,
                       ) -> gpd.GeoDataFrame:
    """Modelled kindergartens: attached (附属幼儿园) ones and private ones at real POIs.

    Attached public kindergartens share the location of their (real) primary school and
    have the id ``<school_id>K``: every central school has one, plus a seeded
    :data:`ATTACHED_KG_SHARE` of the other complete primaries / nine-year schools. Private
    kindergartens sit at real OSM features: every childcare/kindergarten feature in the
    county, then named places of worship — up to :data:`PRIVATE_KG_SEAT` in the county seat
    and one in every other township with ≥ 10,000 residents — at least
    :data:`POI_SPACING_M` apart and from other kindergartens.
    """
    rng = _rng("kindergartens")
    complete = schools[schools.level.isin(["primary", "nine_year"])]
    pick = complete.is_central | (rng.random(len(complete)) < ATTACHED_KG_SHARE)
    att = complete[pick]
    rows = [{"school_id": f"{r.school_id}K", "name": f"{r['name']} Attached Kindergarten",
             "name_zh": f"{name_zh(r['name'], r.level)}附属幼儿园", "ownership": "public",
             "kg_type": "attached",
             "host_school_id": r.school_id, "osm_ref": "", "geometry": r.geometry}
            for _, r in att.iterrows()]
    taken = [r["geometry"] for r in rows]

    def free(p: Point) -> bool:
        return all(p.distance(q) >= POI_SPACING_M for q in taken)

    cands = [(r.geometry.representative_point(), r["name"], r.osm_id, True)
             for _, r in childcare.iterrows()]
    cands += [(r.geometry, r["name"], r.osm_id, False) for _, r in pois.sort_values("osm_id").iterrows()]
    tw = townships.set_index("township_id")
    count: dict[str, int] = {}
    for geom, name, osm_id, is_childcare in cands:
        hit = tw.index[tw.contains(geom)]
        if len(hit) == 0:
            continue
        t = hit[0]
        limit = PRIVATE_KG_SEAT if tw.at[t, "is_county_seat"] else (
            1 if tw.at[t, "population"] >= 10_000 else 0)
        if not is_childcare and (count.get(t, 0) >= limit or not free(geom)):
            continue
        count[t] = count.get(t, 0) + 1
        taken.append(geom)
        k = len([r for r in rows if r["kg_type"] == "private"]) + 1
        label = name if is_childcare else f"{name} Kindergarten"
        rows.append({"school_id": f"PK{k:02d}", "name": label,
                     "name_zh": f"{name} 幼儿园" if is_childcare else f"{name} 民办幼儿园",
                     "ownership": "private", "kg_type": "private", "host_school_id": "",
                     "osm_ref": osm_id, "geometry": geom})
    kg = gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)
    kg["level"] = "kindergarten"
    kg["status"] = "open"
    kg["opened_year"] = np.where(kg.kg_type.eq("attached"), rng.integers(2011, 2019, len(kg)),
                                 rng.integers(2006, 2021, len(kg)))
    return kg


def _attractiveness(schools: gpd.GeoDataFrame, rng: np.random.Generator) -> np.ndarray:
    """Relative pull of each school in the choice model (county-seat schools pull more)."""
    a = np.where(schools.is_seat, rng.lognormal(0.2, 0.35, len(schools)),
                 rng.lognormal(0.0, 0.25, len(schools)))
    a = a * np.where(schools.charter, 0.25, 1.0)
    return a * np.where(schools.level.eq("teaching_point"), 0.25, 1.0)


def _feeders(schools: gpd.GeoDataFrame, roads: Roads) -> dict[int, int]:
    """Teaching point → nearest (by road) complete primary / nine-year school."""
    comp = schools[schools.level.isin(["primary", "nine_year"])]
    tps = schools[schools.level.eq("teaching_point")]
    if tps.empty:
        return {}
    m = roads.minutes(tps.geometry, comp.geometry)
    return {int(i): int(comp.index[j]) for i, j in zip(tps.index, m.argmin(axis=1), strict=True)}


def central_schools(schools: gpd.GeoDataFrame, students: np.ndarray,
                    seeds: gpd.GeoSeries) -> np.ndarray:
    """One 中心校 per township: the largest complete primary / nine-year school near its seat.

    ``seeds`` maps township_id → seat place point. Schools within :data:`CENTRAL_RADIUS_M`
    of the seat place are preferred; otherwise the township's largest one.
    """
    out = np.zeros(len(schools), dtype=bool)
    comp = schools.level.isin(["primary", "nine_year"]).to_numpy()
    for t, seat in seeds.items():
        m = comp & schools.township_id.eq(t).to_numpy()
        if not m.any():
            continue
        near = m & (schools.distance(seat).to_numpy() <= CENTRAL_RADIUS_M)
        pool = near if near.any() else m
        out[np.flatnonzero(pool)[np.argmax(students[pool])]] = True
    return out


KG_STAGE = STAGES[0]
PRIVATE_PULLS = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)
PUBLIC_SHARE_MAX = 0.46          # the demo must show a gap to the 50 % public target
INCLUSIVE_COVERAGE_MAX = 0.79    # ... and 普惠 coverage just below 80 %


def _kg_students(model: Model) -> tuple[dict[int, np.ndarray], float]:
    res = simulate(model, [KG_STAGE])
    total = res[BASE_YEAR].sum(axis=1)
    public = model.schools.ownership.eq("public").to_numpy()
    return res, float(total[public].sum() / max(total.sum(), 1))


def simulate_kindergartens(kg: gpd.GeoDataFrame, villages: gpd.GeoDataFrame,
                           townships: gpd.GeoDataFrame, births: pd.DataFrame, roads: Roads,
                           ) -> tuple[gpd.GeoDataFrame, dict[int, np.ndarray]]:
    """Simulate kindergarten enrolment and set private kindergartens' ownership.

    The pull of private kindergartens is the smallest of :data:`PRIVATE_PULLS` that leaves
    public kindergartens with at most :data:`PUBLIC_SHARE_MAX` of the children (2024);
    then, in a seeded order, private kindergartens become 普惠性民办 (``inclusive_private``)
    while public + inclusive coverage stays ≤ :data:`INCLUSIVE_COVERAGE_MAX`.
    """
    rng = _rng("kg-pull")
    kg = kg.copy()
    kg["charter"] = False
    base = rng.lognormal(0.0, 0.25, len(kg))
    minutes = roads.minutes(villages.geometry, kg.geometry)
    private = kg.ownership.eq("private").to_numpy()
    for pull in PRIVATE_PULLS:
        kg["attract"] = base * np.where(private, pull, 1.0)
        res, share = _kg_students(Model(kg, villages, townships, births, minutes, {}))
        if share <= PUBLIC_SHARE_MAX:
            break
    kg["private_pull"] = pull
    students = res[BASE_YEAR].sum(axis=1)
    total = students.sum()
    covered = students[~private].sum()
    for i in rng.permutation(np.flatnonzero(private)):
        if (covered + students[i]) / total <= INCLUSIVE_COVERAGE_MAX:
            kg.iloc[i, kg.columns.get_loc("ownership")] = "inclusive_private"
            covered += students[i]
    return kg, res


def model_schools(reg: gpd.GeoDataFrame, villages: gpd.GeoDataFrame,
                  townships: gpd.GeoDataFrame, seat_points: gpd.GeoSeries,
                  births: pd.DataFrame, roads: Roads, pois: gpd.GeoDataFrame,
                  childcare: gpd.GeoDataFrame,
                  ) -> tuple[gpd.GeoDataFrame, dict[int, np.ndarray]]:
    """Open schools (register + modelled kindergartens) with simulated pupils by grade.

    Returns
    -------
    (GeoDataFrame, dict)
        Open schools (register schools first, then kindergartens; index 0..n-1) and the
        simulated pupils ``{year: array (schools × 13)}``.
    """
    sch = reg[reg.status.eq("open")].reset_index(drop=True)
    minutes = roads.minutes(villages.geometry, sch.geometry)
    sch = mark_teaching_points(sch, villages, minutes, births, townships)
    sch["attract"] = _attractiveness(sch, _rng("attract"))
    model = Model(sch, villages, townships, births, minutes, _feeders(sch, roads))
    res = simulate(model, STAGES[1:])
    sch["is_central"] = central_schools(sch, res[BASE_YEAR].sum(axis=1), seat_points)
    sch["ownership"] = "public"
    kg = locate_schools(kindergarten_sites(sch, pois, childcare, townships), townships)
    kg, kres = simulate_kindergartens(kg, villages, townships, births, roads)
    kg["is_central"] = False
    kg["charter"] = False
    allschools = pd.concat([sch, kg], ignore_index=True)
    out = {y: np.vstack([res[y], kres[y]]) for y in res}
    return gpd.GeoDataFrame(allschools, geometry="geometry", crs=METRIC_CRS), out


def grade_level(grade: int, school_level: str) -> str:
    """Level of one grade for the enrolment table."""
    if school_level == "kindergarten":
        return "kindergarten"
    return "primary" if grade <= 6 else "junior" if grade <= 9 else "senior"


def class_ceilings(schools: gpd.GeoDataFrame) -> np.ndarray:
    """Most pupils a school puts in one class (modelled).

    Rural schools keep to the standard class size (45 primary, 50 junior and senior, 30
    kindergarten). County-seat schools lack classrooms: ranked by pull, the first two fill
    classes up to 75 (超大班额 possible), the next seven to 68-58, the next one to 56, the rest
    to 50;
    county-seat kindergartens to 32 (public) or 35-40 (private), senior high schools to 56.
    """
    rng = _rng("ceilings")
    ceil = np.where(schools.level.eq("kindergarten"), 30, np.where(
        schools.level.isin(["junior", "senior"]), 50, 45)).astype(float)
    seat = schools.is_seat.to_numpy()
    compulsory = schools.level.isin(["primary", "nine_year", "junior"]).to_numpy()
    ranked = schools[seat & compulsory].sort_values("attract", ascending=False).index
    ladder = [75, 75, 68, 64, 62, 60, 60, 58, 56]
    for k, i in enumerate(ranked):
        ceil[i] = ladder[k] if k < len(ladder) else 50
    kg = schools.level.eq("kindergarten").to_numpy()
    private = ~schools.ownership.eq("public").to_numpy()
    ceil[seat & kg & ~private] = 32
    ceil[seat & kg & private] = rng.choice([35, 38, 40], (seat & kg & private).sum())
    ceil[seat & schools.level.eq("senior").to_numpy()] = 56
    return ceil


def n_classes(pupils: np.ndarray, ceiling: np.ndarray, crowded: np.ndarray,
              standard: np.ndarray) -> np.ndarray:
    """Classes for ``pupils`` of one grade (0 when no pupils)."""
    normal = np.ceil(pupils / standard)
    packed = np.ceil(pupils / ceiling)
    return np.where(pupils == 0, 0, np.maximum(np.where(crowded, packed, normal), 1)).astype(int)


def enrolment_table(schools: gpd.GeoDataFrame, sim: dict[int, np.ndarray]) -> pd.DataFrame:
    """Rows ``year, school_id, level, grade, students, classes`` (2014-2024, open years)."""
    ceiling = class_ceilings(schools)
    standard_size = {"kindergarten": 30, "primary": 45, "junior": 50, "senior": 50}
    crowded = ceiling > np.where(schools.level.eq("kindergarten"), 30, 50)
    frames = []
    for year in range(FIRST_ENROLMENT_YEAR, BASE_YEAR + 1):
        is_open = _open(schools, year)
        for i, row in schools.iterrows():
            if not is_open[i]:
                continue
            grades = np.array(GRADES[row.level])
            lv = [grade_level(g, row.level) for g in grades]
            pupils = sim[year][i, grades]
            std = np.array([standard_size[x] for x in lv], dtype=float)
            if row.level == "teaching_point":
                std[:] = CLASS_SIZE["teaching_point"]
            frames.append(pd.DataFrame({
                "year": year, "school_id": row.school_id, "level": lv, "grade": grades,
                "students": pupils,
                "classes": n_classes(pupils, np.full(len(grades), ceiling[i]),
                                     np.full(len(grades), crowded[i]), std)}))
    return pd.concat(frames, ignore_index=True)


# level of each grade's seats for capacity_seats (teaching points: 30 per class)
def _seat_size(level: str, grade: int) -> int:
    if level == "teaching_point":
        return CLASS_SIZE["teaching_point"]
    return CLASS_SIZE[grade_level(grade, level)]


_ZH_SUFFIX = {"kindergarten": "幼儿园", "teaching_point": "教学点", "primary": "小学",
              "nine_year": "九年一贯制学校", "junior": "初级中学", "senior": "高级中学"}
_TYPE_WORDS = {"elementary", "elem.", "elem", "school", "intermediate", "high", "middle"}


def name_zh(name: str, level: str) -> str:
    """``"<English name without type words> <Chinese level suffix>"``."""
    words = [w for w in str(name).split() if w.lower() not in _TYPE_WORDS]
    return f"{' '.join(words) or name} {_ZH_SUFFIX[level]}"


def school_attributes(schools: gpd.GeoDataFrame, enrol: pd.DataFrame) -> gpd.GeoDataFrame:
    """Modelled register attributes of open schools from their 2024 enrolment.

    See the README for the rules; every random draw comes from the ``"attributes"`` stream.
    """
    rng = _rng("attributes")
    out = schools.copy()
    cur = enrol[enrol.year == BASE_YEAR]
    by = cur.groupby("school_id")
    out["students"] = out.school_id.map(by.students.sum()).fillna(0).astype(int)
    out["classes"] = out.school_id.map(by.classes.sum()).fillna(0).astype(int)
    seats = cur.assign(seats=[c * _seat_size(lv, g) for c, lv, g in zip(
        cur.classes, cur.school_id.map(out.set_index("school_id").level), cur.grade, strict=True)])
    out["capacity_seats"] = out.school_id.map(seats.groupby("school_id").seats.sum()).fillna(0)
    out["capacity_seats"] = out.capacity_seats.astype(int)
    n = len(out)
    seat = out.is_seat.to_numpy()
    lv = out.level.to_numpy()
    kg = lv == "kindergarten"
    tp = lv == "teaching_point"
    design = np.maximum(out.capacity_seats.to_numpy(), 1)
    land_factor = np.where(seat, rng.uniform(0.55, 0.95, n), rng.uniform(1.0, 1.8, n))
    out["land_area_m2"] = np.round(np.maximum(
        design * out.level.map(LAND_PER_SEAT).to_numpy() * land_factor,
        np.where(kg, 900.0, 2500.0)), -1)
    out["building_area_m2"] = np.round(
        design * out.level.map(BUILDING_PER_SEAT).to_numpy()
        * np.where(seat, rng.uniform(0.75, 1.0, n), rng.uniform(0.8, 1.3, n)), -1)
    # teachers: 2014 unified ratios; county seat under-staffed, small rural schools over-staffed
    jun = cur[cur.grade.between(7, 9)].groupby("school_id").students.sum()
    sen = cur[cur.grade >= 10].groupby("school_id").students.sum()
    jn = out.school_id.map(jun).fillna(0).to_numpy()
    sn = out.school_id.map(sen).fillna(0).to_numpy()
    st = out.students.to_numpy()
    need = np.where(kg, st / TEACHER_RATIO["kindergarten"],
                    (st - jn - sn) / TEACHER_RATIO["primary"] + jn / TEACHER_RATIO["junior"]
                    + sn / TEACHER_RATIO["senior"])
    private = ~out.ownership.eq("public").to_numpy()
    factor = np.where(seat, rng.uniform(0.80, 1.0, n), rng.uniform(1.0, 1.5, n))
    factor = np.where(kg & private, rng.uniform(0.6, 0.9, n), factor)
    floor = np.where(kg, out.classes * 1.0, np.where(tp, np.maximum(out.classes, 2),
                                                     out.classes * 1.3))
    out["teachers"] = np.ceil(np.maximum(need * factor, floor)).astype(int)
    # boarding: rural complete schools and all junior / senior stages
    upper = cur[cur.grade.between(4, 12)].groupby("school_id").students.sum()
    up = out.school_id.map(upper).fillna(0).to_numpy()
    boards = ~kg & ~tp & (~seat | np.isin(lv, ["junior", "senior"]))
    board_share = np.where(seat, rng.uniform(0.05, 0.15, n), rng.uniform(0.25, 0.6, n))
    out["boarders"] = np.where(boards, np.rint(up * board_share), 0).astype(int)
    out["boarding_beds"] = np.where(boards, np.rint(out.boarders * rng.uniform(0.8, 1.4, n)),
                                    0).astype(int)
    out["quality_score"] = np.round(np.clip(np.where(
        seat, rng.normal(78, 6, n), np.where(tp, rng.normal(55, 8, n), rng.normal(66, 8, n))),
        30, 98), 1)
    out["condition_score"] = np.round(np.clip(np.where(
        seat, rng.normal(72, 8, n), np.where(tp, rng.normal(50, 10, n), rng.normal(63, 10, n))),
        20, 98), 1)
    _balance_inputs(out, rng)
    return out


def _balance_inputs(out: gpd.GeoDataFrame, rng: np.random.Generator) -> None:
    """The seven 优质均衡 resource inputs (compulsory-education schools only)."""
    n = len(out)
    seat = out.is_seat.to_numpy()
    comp = out.level.isin(["teaching_point", "primary", "nine_year", "junior"]).to_numpy()
    t = out.teachers.to_numpy()
    st = np.maximum(out.students.to_numpy(), 1)
    cols = {
        "teachers_qualified": np.rint(t * np.where(seat, rng.uniform(0.85, 1.0, n),
                                                   rng.uniform(0.65, 0.95, n))),
        "teachers_key": rng.binomial(t, np.where(seat, 0.10, 0.04)),
        "teachers_pe_art": rng.binomial(t, np.where(seat, 0.09, 0.06)),
        "teaching_rooms_m2": np.round(out.building_area_m2 * rng.uniform(0.5, 0.65, n), -1),
        "sports_area_m2": np.round(out.land_area_m2 * np.where(
            seat, rng.uniform(0.15, 0.3, n), rng.uniform(0.3, 0.45, n)), -1),
        "equipment_yuan": np.round(np.maximum(st * rng.uniform(1500, 3200, n),
                                              rng.uniform(150_000, 300_000, n)), -3),
        "multimedia_rooms": np.rint(out.classes * rng.uniform(0.6, 1.0, n)),
    }
    for name, values in cols.items():
        out[name] = pd.array(np.where(comp, values, np.nan))
    for name in ("teachers_qualified", "teachers_key", "teachers_pe_art", "multimedia_rooms"):
        out[name] = out[name].astype("Int64")


def closed_school_attributes(closed: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Vacated buildings of closed register schools: modelled size and condition only."""
    rng = _rng("closed")
    out = closed.copy()
    n = len(out)
    classes = np.where(out.level.isin(["primary", "teaching_point"]), rng.integers(4, 13, n),
                       rng.integers(9, 19, n))
    seats = np.array([c * (45 if lv in ("primary", "nine_year") else 50)
                      for c, lv in zip(classes, out.level, strict=True)])
    out["capacity_seats"] = seats
    out["land_area_m2"] = np.round(seats * out.level.map(LAND_PER_SEAT) * rng.uniform(0.9, 1.6, n), -1)
    out["building_area_m2"] = np.round(seats * out.level.map(BUILDING_PER_SEAT)
                                       * rng.uniform(0.7, 1.1, n), -1)
    out["condition_score"] = np.round(np.clip(rng.normal(42, 10, n), 10, 80), 1)
    for col in ("classes", "students", "teachers", "boarders", "boarding_beds"):
        out[col] = 0
    out["is_central"] = False
    out["ownership"] = "public"
    return out


# --------------------------------------------------------------------------- county seat: zones, developments, sites

URBAN_RADIUS_M = 4_000.0         # the built-up county seat: within this of a seat town node
N_ZONES = 10
N_DEVELOPMENTS = 6
DEV_MAX_HA = 30.0
DEV_MIN_HA = 3.0
SITE_SIZES_HA = (0.8, 1.2, 1.6, 2.2, 3.0, 4.0)


def _near(geoms: gpd.GeoSeries, points: gpd.GeoSeries, radius: float) -> np.ndarray:
    return np.array([points.distance(g).min() <= radius for g in geoms])


def _parcel(poly: shapely.Geometry, area_m2: float) -> shapely.Geometry:
    """A compact piece of ``poly`` of about ``area_m2`` around its representative point."""
    if poly.area <= area_m2 * 1.1:
        return poly
    c = poly.representative_point()
    side = math.sqrt(area_m2)
    for _ in range(30):
        piece = shapely.intersection(poly, box(c.x - side / 2, c.y - side / 2,
                                               c.x + side / 2, c.y + side / 2))
        if piece.area >= area_m2 * 0.95:
            break
        side *= 1.1
    parts = shapely.get_parts(piece)
    return max(parts, key=lambda q: q.area)


def developments(osm: Osm, townships: gpd.GeoDataFrame, seat_towns: gpd.GeoSeries,
                 ) -> gpd.GeoDataFrame:
    """Planned residential developments on real open land at the county seat's edge.

    Footprints: the real OSM greenfield / construction / meadow polygons (≥ 3 ha) nearest
    to the seat's towns (greenfield and construction first), clipped to ≤ 30 ha.
    Programme (modelled, seeded): occupation year 2025-2032, 70-110 dwellings per hectare,
    2.8 residents per dwelling; the largest has no school land (to be flagged), the second
    largest has school and kindergarten land, the rest only sometimes kindergarten land.
    """
    rng = _rng("developments")
    seat = townships.loc[townships.is_county_seat].geometry.iloc[0]
    ol = osm.openland[osm.openland.landuse.isin(["greenfield", "construction", "meadow"])
                      & osm.openland.within(seat.buffer(1.0))].copy()
    ol["dist"] = [seat_towns.distance(g).min() for g in ol.geometry]
    ol = ol[(ol.area >= DEV_MIN_HA * 1e4) & (ol.dist <= URBAN_RADIUS_M)]
    ol["rank"] = ol.landuse.map({"greenfield": 0, "construction": 0, "meadow": 1})
    ol = ol.sort_values(["rank", "dist", "osm_id"]).head(N_DEVELOPMENTS)
    geoms = [_parcel(g, DEV_MAX_HA * 1e4) for g in ol.geometry]
    dev = gpd.GeoDataFrame({"osm_ref": ol.osm_id.to_numpy(), "landuse_osm": ol.landuse.to_numpy()},
                           geometry=geoms, crs=METRIC_CRS)
    area_ha = dev.area.to_numpy() / 1e4
    dev["dwellings"] = np.rint(area_ha * rng.uniform(70, 110, len(dev))).astype(int)
    order = np.argsort(-dev.dwellings.to_numpy(), kind="stable")
    big = order[0]
    need = math.ceil(5_200 / PERSONS_PER_DWELLING)
    dev.loc[big, "dwellings"] = max(int(dev.at[big, "dwellings"]), need)
    dev["residents"] = np.rint(dev.dwellings * PERSONS_PER_DWELLING).astype(int)
    dev["year"] = rng.integers(2025, 2033, len(dev))
    dev["school_land"] = False
    dev["kindergarten_land"] = rng.random(len(dev)) < 0.5
    dev.loc[big, "kindergarten_land"] = True
    if len(dev) > 1:
        dev.loc[order[1], ["school_land", "kindergarten_land"]] = True
    return dev


def urban_area(osm: Osm, villages: gpd.GeoDataFrame, dev: gpd.GeoDataFrame,
               seat: shapely.Geometry, seat_towns: gpd.GeoSeries) -> shapely.Geometry:
    """Built-up county seat: residential land and streets near the seat towns, plus developments."""
    res = osm.residential[_near(osm.residential.geometry, seat_towns, URBAN_RADIUS_M)]
    e = osm.edges[osm.edges.highway.isin(RESIDENTIAL_STREETS)]
    n = osm.nodes.set_index("osm_id")
    a = n.loc[e.u, ["x", "y"]].to_numpy()
    b = n.loc[e.v, ["x", "y"]].to_numpy()
    mid = gpd.GeoSeries.from_xy(*((a + b) / 2).T, crs=METRIC_CRS)
    keep = _near(mid, seat_towns, URBAN_RADIUS_M)
    streets = shapely.buffer(shapely.linestrings(np.stack([a[keep], b[keep]], axis=1)), 200)
    vil = villages[villages.is_seat & _near(villages.geometry, seat_towns, URBAN_RADIUS_M)]
    parts = [*res.geometry, *streets, *vil.geometry.buffer(300), *dev.geometry.buffer(50)]
    blob = shapely.union_all(parts).buffer(400).buffer(-400)
    blob = shapely.union_all([shapely.Polygon(p.exterior) for p in shapely.get_parts(blob)])
    return shapely.intersection(blob, seat)


def make_zones(area: shapely.Geometry, villages: gpd.GeoDataFrame,
               places: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """控规单元: Voronoi cells of k-means centres of the urban villages, clipped to the urban area."""
    from sklearn.cluster import KMeans

    vil = villages[villages.within(area)]
    xy = np.c_[vil.geometry.x, vil.geometry.y]
    k = min(N_ZONES, len(vil))
    km = KMeans(n_clusters=k, n_init=10, random_state=SEED).fit(
        xy, sample_weight=np.sqrt(vil.population.to_numpy()))
    centres = km.cluster_centers_[np.lexsort((km.cluster_centers_[:, 0],
                                               -np.round(km.cluster_centers_[:, 1], -2)))]
    cells = shapely.voronoi_polygons(MultiPoint(centres), extend_to=box(*area.buffer(5e3).bounds),
                                     ordered=True)
    cells = [shapely.intersection(c, area) for c in shapely.get_parts(cells)]
    polys = _single_parts(cells)
    named = places[places.place.isin(["town", "village", "hamlet", "locality"])]
    rows = []
    for i, poly in enumerate(polys):
        c = poly.representative_point()
        place = named.iloc[int(np.argmin(named.distance(c).to_numpy()))]["name"]
        rows.append({"zone_id": f"Z{i + 1:02d}", "name": f"{place}片区 Z{i + 1:02d}",
                     "name_en": f"{place} zone {i + 1}", "geometry": poly})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)


def _square(p: Point, area_m2: float) -> shapely.Polygon:
    h = math.sqrt(area_m2) / 2
    return box(p.x - h, p.y - h, p.x + h, p.y + h)


def make_sites(osm: Osm, closed: gpd.GeoDataFrame, dev: gpd.GeoDataFrame,
               townships: gpd.GeoDataFrame, seat_towns: gpd.GeoSeries) -> gpd.GeoDataFrame:
    """Candidate parcels (polygons) for new schools and kindergartens.

    * ``closed_school``: every closed register school, a square of its modelled land area
      centred on its real location;
    * ``government_building``: real OSM town halls / government offices in the county,
      squares of a modelled 0.3-1.2 ha parcel with a modelled vacant floor area;
    * ``vacant``: the other real OSM open-land polygons (brownfield, greenfield, meadow,
      construction) within 4.5 km of the seat towns, clipped to a parcel of 0.8-4 ha;
    * ``planned_education``: school / kindergarten land reserved inside developments
      (a parcel of 3.0 ha / 0.8 ha of the development footprint).
    """
    rng = _rng("sites")
    rows = []
    for _, s in closed.iterrows():
        rows.append({"name": f"{s['name']} (closed {int(s.closed_year)})",
                     "site_type": "closed_school", "school_id": s.school_id,
                     "building_area_m2": s.building_area_m2, "osm_ref": "",
                     "geometry": _square(s.geometry, s.land_area_m2)})
    civic = osm.civic[osm.civic.geometry.representative_point().within(osm.county)]
    for _, c in civic.sort_values("osm_id").iterrows():
        rows.append({"name": f"{c['name']} (vacated offices)", "site_type": "government_building",
                     "school_id": "", "building_area_m2": float(np.round(rng.uniform(1500, 6000), -1)),
                     "osm_ref": c.osm_id,
                     "geometry": _square(c.geometry.representative_point(),
                                         float(np.round(rng.uniform(3000, 12000), -2)))})
    used = set(dev.osm_ref)
    ol = osm.openland[~osm.openland.osm_id.isin(used)
                      & _near(osm.openland.geometry, seat_towns, URBAN_RADIUS_M + 500)]
    ol = ol[ol.representative_point().within(osm.county)].sort_values("osm_id")
    for _, r in ol.iterrows():
        size = float(rng.choice(SITE_SIZES_HA)) * 1e4
        rows.append({"name": f"Vacant {r.landuse} land", "site_type": "vacant", "school_id": "",
                     "building_area_m2": 0.0, "osm_ref": r.osm_id,
                     "geometry": _parcel(r.geometry, size)})
    for _, d in dev.iterrows():
        for flag, size, what in (("school_land", 3.0e4, "school"),
                                 ("kindergarten_land", 0.8e4, "kindergarten")):
            if d[flag]:
                rows.append({"name": f"{d['name']}: reserved {what} land",
                             "site_type": "planned_education", "school_id": "",
                             "building_area_m2": 0.0, "osm_ref": d.osm_ref,
                             "geometry": _parcel(shapely.difference(d.geometry, shapely.union_all(
                                 [r["geometry"] for r in rows if r["osm_ref"] == d.osm_ref]
                                 or [shapely.Polygon()])), size)})
    sites = gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)
    sites["area_m2"] = np.round(sites.area, 0)
    sites["site_id"] = [f"S{i + 1:02d}" for i in range(len(sites))]
    sites["township_id"] = _township_of(sites.geometry.representative_point(), townships)
    return sites


def _township_of(points: gpd.GeoSeries, townships: gpd.GeoDataFrame) -> np.ndarray:
    """Township id of each point (nearest township for points on a boundary)."""
    out = np.empty(len(points), dtype=object)
    for i, p in enumerate(points):
        hit = townships.township_id[townships.contains(p)]
        out[i] = hit.iloc[0] if len(hit) else townships.township_id.iloc[
            int(np.argmin(townships.distance(p).to_numpy()))]
    return out


# --------------------------------------------------------------------------- assembling layers

SCHOOL_COLUMNS = (
    "school_id", "name", "name_zh", "level", "status", "township_id", "is_central", "ownership",
    "classes", "students", "capacity_seats", "boarding_beds", "boarders", "teachers",
    "land_area_m2", "building_area_m2", "quality_score", "condition_score", "opened_year",
    "closed_year", "teachers_qualified", "teachers_key", "teachers_pe_art", "teaching_rooms_m2",
    "sports_area_m2", "equipment_yuan", "multimedia_rooms",
    # provenance (extra columns)
    "source", "register_status", "register_type", "grade_span", "charter", "location_source",
    "host_school_id", "osm_ref",
)


def schools_layer(open_schools: gpd.GeoDataFrame, closed: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Open and closed schools in the canonical column order."""
    sch = pd.concat([open_schools, closed], ignore_index=True)
    sch["name_zh"] = sch.name_zh.fillna(
        pd.Series([name_zh(n, lv) for n, lv in zip(sch.name, sch.level, strict=True)]))
    kg_type = sch.get("kg_type", pd.Series("", index=sch.index)).fillna("")
    sch["source"] = np.select([kg_type.eq("attached"), kg_type.eq("private")],
                              ["modelled: attached kindergarten at the host school",
                               "modelled: private kindergarten at a real OSM feature"],
                              "CDE school register")
    for col in ("register_status", "register_type", "grade_span", "location_source",
                "host_school_id", "osm_ref"):
        sch[col] = sch[col].fillna("") if col in sch else ""
    sch["charter"] = sch.charter.fillna(False).astype(bool)
    sch["is_central"] = sch.is_central.fillna(False).astype(bool)
    for col in ("opened_year", "closed_year"):
        sch[col] = pd.array(pd.to_numeric(sch[col]).round(), dtype="Int64")
    for col in ("classes", "students", "capacity_seats", "boarding_beds", "boarders", "teachers"):
        sch[col] = sch[col].astype(int)
    order = {lv: i for i, lv in enumerate(_ZH_SUFFIX)}
    sch = sch.assign(_s=sch.status.ne("open"), _l=sch.level.map(order)).sort_values(
        ["_s", "_l", "school_id"])
    return gpd.GeoDataFrame(sch[list(SCHOOL_COLUMNS)].reset_index(drop=True),
                            geometry=sch.geometry.to_numpy(), crs=METRIC_CRS)


def zone_attributes(zones: gpd.GeoDataFrame, villages: gpd.GeoDataFrame, dev: gpd.GeoDataFrame,
                    seat_id: str) -> gpd.GeoDataFrame:
    """Current and planned population and dwellings of the zones."""
    rng = _rng("zones")
    z = zones.copy()
    z["township_id"] = seat_id
    z["population"] = z.zone_id.map(villages.groupby("zone_id").population.sum()).fillna(0)
    z["population"] = z.population.astype(int)
    z["dwellings"] = np.rint(z.population / PERSONS_PER_DWELLING
                             * rng.uniform(1.0, 1.1, len(z))).astype(int)
    growth = rng.uniform(0.0, 0.03, len(z))
    dres = dev.groupby("zone_id").residents.sum()
    ddw = dev.groupby("zone_id").dwellings.sum()
    z["population_planned"] = (np.rint(z.population * (1 + growth))
                               + z.zone_id.map(dres).fillna(0)).astype(int)
    z["dwellings_planned"] = (np.rint(z.dwellings * (1 + growth))
                              + z.zone_id.map(ddw).fillna(0)).astype(int)
    return z[["zone_id", "name", "name_en", "township_id", "population", "dwellings",
              "population_planned", "dwellings_planned", "geometry"]]


def _write_gpkg(path: Path, layers: dict[str, gpd.GeoDataFrame]) -> None:
    """Write the layers (EPSG:4326) with a fixed GeoPackage timestamp, for identical rebuilds."""
    import pyogrio

    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2024-06-05T00:00:00.000Z"})
    path.unlink(missing_ok=True)
    for name, gdf in layers.items():
        out = gdf.to_crs(OUTPUT_CRS)
        for col in out.columns.drop(out.geometry.name):
            if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
                out[col] = out[col].astype(object).where(out[col].ne(""), None)
        out.to_file(path, layer=name, driver="GPKG", engine="pyogrio")


def county_toml() -> str:
    """Text of ``county.toml``."""
    return "\n".join([
        "# Demo county bundle for schoolplan (built by scripts/build_demo_county.py).",
        'name_zh = "示范县"',
        'name_en = "示范县 (Yuba County, California stand-in)"',
        f"base_year = {BASE_YEAR}",
        'roads = "roads.osm.pbf"',
        'gpkg = "county.gpkg"',
        'births = "births.csv"',
        'enrolment = "enrolment.csv"',
        f'attribution = "{ATTRIBUTION}"',
        "",
    ])


def build(shared: Path, out: Path) -> dict:
    """Build every file of the demo county; return summary numbers for the README."""
    out.mkdir(parents=True, exist_ok=True)
    pbf = out / "roads.osm.pbf"
    pbf_counts = reduce_pbf(shared / SOURCE_PBF, pbf)
    osm = read_osm(pbf)
    tw_raw, seeds = make_townships(osm)
    points = demand_points(osm, residential_clusters(osm.residential, osm.county))
    townships, villages = assign_population(points, tw_raw)
    national = national_births(shared)
    births = township_births(national, townships)
    villages = village_ages(villages, births, townships)
    villages["is_seat"] = villages.township_id.map(
        townships.set_index("township_id").is_county_seat).astype(bool)
    seat_points = gpd.GeoSeries({r.township_id: seeds.loc[seeds.name.eq(r.seat_place)].geometry.iloc[0]
                                 for r in townships.itertuples()}, crs=METRIC_CRS)
    seat_towns = seeds.loc[seeds.is_county_seat].geometry
    reg, dropped = read_register(shared / SOURCE_SCHOOLS, osm.schools)
    reg = locate_schools(reg, townships)
    roads = Roads(osm)
    childcare = osm.schools[osm.schools.amenity.isin(["childcare", "kindergarten"])]
    open_sch, sim = model_schools(reg, villages, townships, seat_points, births, roads,
                                  read_pois(shared / SOURCE_PBF, osm.county), childcare)
    enrol = enrolment_table(open_sch, sim)
    open_sch = school_attributes(open_sch, enrol)
    closed = closed_school_attributes(reg[reg.status.eq("closed")])
    schools = schools_layer(open_sch, closed)

    seat_id = townships.loc[townships.is_county_seat, "township_id"].iloc[0]
    seat = townships.loc[townships.is_county_seat].geometry.iloc[0]
    dev = developments(osm, townships, seat_towns)
    area = urban_area(osm, villages, dev, seat, seat_towns)
    zones = make_zones(area, villages[villages.is_seat], osm.places)
    villages["zone_id"] = _zone_of(villages, zones)
    dev = _finish_developments(dev, zones, osm.places)
    zones = zone_attributes(zones, villages, dev, seat_id)
    sites = make_sites(osm, closed, dev, townships, seat_towns)

    vil_cols = ["village_id", "name", "township_id", "zone_id", "population", *AGE_COLUMNS,
                "kind", "osm_id"]
    layers = {
        "schools": schools,
        "villages": villages[[*vil_cols, "geometry"]],
        "townships": townships.assign(area_km2=np.round(townships.area / 1e6, 1))[
            ["township_id", "name", "name_en", "is_county_seat", "population", "area_km2",
             "geometry"]],
        "zones": zones,
        "sites": sites[["site_id", "name", "site_type", "area_m2", "building_area_m2",
                        "school_id", "township_id", "osm_ref", "geometry"]],
        "developments": dev[["development_id", "name", "zone_id", "year", "dwellings",
                             "residents", "school_land", "kindergarten_land", "area_m2",
                             "osm_ref", "landuse_osm", "geometry"]],
    }
    _write_gpkg(out / "county.gpkg", layers)
    births[births.year >= FIRST_BIRTH_YEAR].to_csv(out / "births.csv", index=False)
    enrol.to_csv(out / "enrolment.csv", index=False)
    (out / "county.toml").write_text(county_toml(), encoding="utf-8")
    stats = summarise(layers, births, enrol, pbf_counts, dropped)
    stats["wpp_ratio"] = national.attrs["wpp_ratio"]
    (out / "README.md").write_text(readme(stats), encoding="utf-8")
    return stats


def _zone_of(villages: gpd.GeoDataFrame, zones: gpd.GeoDataFrame) -> np.ndarray:
    out = np.full(len(villages), "", dtype=object)
    for z in zones.itertuples():
        out[villages.within(z.geometry).to_numpy()] = z.zone_id
    return out


def _finish_developments(dev: gpd.GeoDataFrame, zones: gpd.GeoDataFrame,
                         places: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Clip each development to the zone holding most of it; add ids, names and areas."""
    d = dev.copy()
    zone_ids, geoms = [], []
    for g in d.geometry:
        overlap = zones.intersection(g).area.to_numpy()
        k = int(np.argmax(overlap))
        zone_ids.append(zones.zone_id.iloc[k])
        part = shapely.intersection(g, zones.geometry.iloc[k])
        geoms.append(max(shapely.get_parts(part), key=lambda q: q.area))
    d["zone_id"] = zone_ids
    d = d.set_geometry(gpd.GeoSeries(geoms, crs=METRIC_CRS, index=d.index))
    d["area_m2"] = np.round(d.area, 0)
    d = d.sort_values(["year", "osm_ref"]).reset_index(drop=True)
    d["development_id"] = [f"D{i + 1:02d}" for i in range(len(d))]
    named = places[places.place.isin(["town", "village", "hamlet"])]
    d["name"] = [f"{named.iloc[int(np.argmin(named.distance(g.centroid).to_numpy()))]['name']} "
                 f"new housing {i + 1} (新建住宅区)" for i, g in enumerate(d.geometry)]
    return d


# --------------------------------------------------------------------------- summary and README


def summarise(layers: dict[str, gpd.GeoDataFrame], births: pd.DataFrame, enrol: pd.DataFrame,
              pbf_counts: dict[str, int], dropped: dict[str, object]) -> dict:
    """Key numbers of the bundle (printed and written into the README)."""
    sch, vil, tw = layers["schools"], layers["villages"], layers["townships"]
    open_ = sch[sch.status.eq("open")]
    seat_id = tw.loc[tw.is_county_seat, "township_id"].iloc[0]
    kg = open_[open_.level.eq("kindergarten")]
    comp = open_[~open_.level.isin(["kindergarten", "senior"])]
    size = open_.students / open_.classes.where(open_.classes > 0)
    cur = enrol[enrol.year == BASE_YEAR].merge(sch[["school_id", "township_id"]], on="school_id")
    cur = cur[cur.classes > 0]
    seat_rows = cur[cur.township_id.eq(seat_id)]
    row_size = seat_rows.students / seat_rows.classes
    county_births = births.groupby("year").births.sum()
    ages = vil[list(AGE_COLUMNS)].sum()
    return {
        "pbf": pbf_counts, "dropped": dropped,
        "schools_by_level_status": sch.groupby(["level", "status"]).size().unstack(fill_value=0),
        "n_register": int(sch.source.eq("CDE school register").sum()),
        "n_osm_located": int(sch.location_source.str.startswith("OSM").sum()),
        "n_attached_kg": int(sch.source.str.contains("attached").sum()),
        "n_private_kg": int(sch.source.str.contains("private").sum()),
        "villages": len(vil), "villages_osm_places": int(vil.kind.ne("residential_cluster").sum()),
        "townships": len(tw), "residents": int(vil.population.sum()),
        "seat_residents": int(tw.loc[tw.is_county_seat, "population"].iloc[0]),
        "children": {"0-2": int(ages.iloc[0:3].sum()), "3-5 (kindergarten)": int(ages.iloc[3:6].sum()),
                     "6-11 (primary)": int(ages.iloc[6:12].sum()),
                     "12-14 (junior)": int(ages.iloc[12:15].sum()),
                     "15-17 (senior)": int(ages.iloc[15:18].sum())},
        "births": {y: int(county_births.loc[y]) for y in (2000, 2010, 2016, 2017, 2020, 2024)},
        "pupils_2024": enrol[enrol.year == BASE_YEAR].groupby("level").students.sum().to_dict(),
        "kg_public_share": float(kg.loc[kg.ownership.eq("public"), "students"].sum() / kg.students.sum()),
        "kg_ger": float(kg.students.sum() / ages.iloc[3:6].sum()),
        "kg_inclusive_share": float(kg.loc[kg.ownership.ne("private"), "students"].sum()
                                    / kg.students.sum()),
        "seat_rows_56": int((row_size >= 56).sum()), "seat_rows_66": int((row_size >= 66).sum()),
        "seat_rows": len(row_size),
        "seat_schools_56": int(((size >= 56) & open_.township_id.eq(seat_id)).sum()),
        "small_100": int((comp.students < 100).sum()), "small_50": int((comp.students < 50).sum()),
        "zones": len(layers["zones"]),
        "sites": layers["sites"].site_type.value_counts().sort_index().to_dict(),
        "developments": len(layers["developments"]),
        "max_development": int(layers["developments"].residents.max()),
    }


def _md_table(df: pd.DataFrame) -> str:
    head = "| " + " | ".join([df.index.name or "", *map(str, df.columns)]) + " |"
    sep = "|" + "---|" * (len(df.columns) + 1)
    body = ["| " + " | ".join([str(i), *map(str, r)]) + " |" for i, r in zip(df.index, df.values, strict=True)]
    return "\n".join([head, sep, *body])


def readme(st: dict) -> str:
    """The bundle's README (provenance, real vs modelled, per layer and column)."""
    d = st["dropped"]
    out_of_scope = ", ".join(f"{k.split(':', 1)[1]} {v}" for k, v in d.items()
                             if k.startswith("out_of_scope:"))
    n_scope = sum(v for k, v in d.items() if k.startswith("out_of_scope:"))
    levels = st["schools_by_level_status"].copy()
    levels.index.name = "level"
    children = ", ".join(f"{k}: {v:,}" for k, v in st["children"].items())
    births = ", ".join(f"{y}: {v:,}" for y, v in st["births"].items())
    pupils = ", ".join(f"{k} {v:,}" for k, v in st["pupils_2024"].items())
    sites = ", ".join(f"{k} {v}" for k, v in st["sites"].items())
    return f"""# 示范县 — the bundled demo county (Yuba County, California stand-in)

No open OpenStreetMap extract of a Chinese county can be bundled offline, so the demo uses a
**real rural county as a stand-in geography** — Yuba County, California (Sacramento Valley
floor in the west, Sierra Nevada foothills and dispersed hamlets in the east) — and puts
**Chinese planning rules and modelled Chinese-style statistics** on top. Roads, places, land
use, the county boundary and the school locations are real; every number a Chinese education bureau would hold
(pupils, classes, teachers, areas, births, ages …) is **modelled**, drawn from one seeded
random generator, so the bundle is reproducible bit for bit.

Rebuild (under a minute; needs the project venv with pyosmium, geopandas, scipy, scikit-learn):

```
python scripts/build_demo_county.py            # --shared ../shared/data --out data/demo_county
```

The script reads only `../shared/data` (see `../shared/data/SOURCES.md`): the Yuba OSM extract,
the California school register, and the Chinese birth series. Seed `{SEED}`; every model part
uses its own stream `default_rng([seed, crc32(part)])`.

## Files

| file | content | real / modelled |
|---|---|---|
| `roads.osm.pbf` | OSM extract of Yuba County reduced with pyosmium: {st['pbf']['ways']:,} ways, {st['pbf']['nodes']:,} nodes, {st['pbf']['relations']} relation. Kept: every `highway=*` way whose nodes are all in the source file ({st['pbf']['incomplete_ways_dropped']} ways that reference nodes missing from the source are dropped, so osmnx/pyrosm load it cleanly) with its nodes; `place=town/village/hamlet/isolated_dwelling/locality` nodes; `landuse=residential/greenfield/brownfield/construction/meadow` ways; `amenity=school/kindergarten/childcare/townhall` and `office=government` features; the Yuba County boundary relation (OSM 396475) with its member ways. Objects are copied unchanged (ids, tags, versions). | real (© OpenStreetMap contributors, ODbL 1.0; data to 2024-05-30) |
| `county.gpkg` | layers `schools`, `villages`, `townships`, `zones`, `sites`, `developments` in EPSG:4326 | geometry real or derived from real; attributes mostly modelled (below) |
| `births.csv` | `year, township_id, births`, 2000–2024 | modelled on the real national series |
| `enrolment.csv` | `year, school_id, level, grade, students, classes`, 2014–2024, open schools | modelled (simulated) |
| `county.toml` | bundle manifest (names, base year, file names, attribution) | — |

## Key numbers

* Townships: {st['townships']}; villages (demand points): {st['villages']} ({st['villages_osm_places']} OSM places + {st['villages'] - st['villages_osm_places']} residential clusters).
* Residents: {st['residents']:,} (county seat {st['seat_residents']:,}, {st['seat_residents'] / st['residents']:.0%}).
* Children (2024, villages layer): {children}.
* Births (county): {births} — peak in the 2016–17 two-child years, then the decline.
* Pupils 2024 (enrolment.csv): {pupils}.
* Kindergartens: {st['kg_ger']:.0%} of the 3–5-year-olds are enrolled (毛入园率, 2024); public share of children {st['kg_public_share']:.1%} (target ≥ 50 %), 普惠 coverage (public + inclusive private) {st['kg_inclusive_share']:.1%} (target ≥ 80 %) — a deliberate, realistic gap.
* County seat 城挤: {st['seat_rows_56']} of {st['seat_rows']} grade rows (school × grade, 2024) have ≥ 56 pupils per class (大班额), {st['seat_rows_66']} have ≥ 66 (超大班额); county-seat schools averaging ≥ 56 per class: {st['seat_schools_56']}.
* Rural 乡空: compulsory-education schools with < 100 pupils: {st['small_100']}; with < 50: {st['small_50']}.
* Zones: {st['zones']}; sites: {sites}; developments: {st['developments']} (largest {st['max_development']:,} residents, without school land).

Schools by level and status:

{_md_table(levels)}

## `schools` (Point)

**Real** — the Yuba County rows of the California Department of Education public school
directory (June 2018 download; `schools_us/yuba_county_ca_schools_directory_2018.csv`):
Active, Closed and Merged rows with their register coordinates, names (`name`, English),
ids (`school_id` = the 14-digit CDS code), grade span, school type, charter flag, open and
close dates. Of the {d['rows_in_register']} register rows, {d['district_office_rows']} district/county-office rows (no school
name) and {n_scope} out-of-scope rows ({out_of_scope}) are dropped, where the words are
matched in the school type, the educational-option type or the name. Closed/Merged rows without register coordinates are located at the OSM
`amenity=school` feature with the same name (type words such as "Elementary", "School"
ignored; only when exactly one OSM feature matches and no active school shares the name):
{st['n_osm_located']} schools, recorded in `location_source`. {d['no_coordinates']} in-scope rows still without a location are
dropped ({'; '.join(d['no_coordinates_names'])}). Note: the register gives "Marysville Charter Academy for the Arts" the same
coordinate as the district office (39.101, −121.395, on Beale Air Force Base); it is kept as
in the register.

* `level` (real grade span → Chinese level): middle/intermediate/junior-high types → `junior`
  (初中); spans from K–2 up to grade 8 or more (K-8, K-12, 2-12) → `nine_year` (九年一贯制);
  spans ending by grade 6 → `primary` (小学); spans starting at grade 9+, or 7-12 → `senior`
  (高中). The {N_TEACHING_POINTS} rural primaries with the smallest modelled catchment (6–11-year-olds
  choosing them in the choice model below) become `teaching_point` (教学点, grades 1–4; their
  grade-4 pupils move on to the nearest complete school by road).
* `status`: Active → `open`; Closed and Merged → `closed`. `opened_year` / `closed_year` are
  the years of the register's OpenDate / ClosedDate (1980-07-01 is the earliest OpenDate in
  the register and is read as "1980 or earlier").
* Kindergartens (幼儿园) are **modelled**, because the register has almost no preschools:
  `…K` rows are 附属幼儿园 attached to a real open primary / nine-year school (same real
  location, id = host `school_id` + "K", `host_school_id`): every central school has one, plus a
  seeded half of the other complete schools. `PK..` rows are private (民办) kindergartens at
  real OSM features — every OSM childcare/kindergarten feature (one real preschool, Fusion
  Early Learning Preschool) and named places of worship in the county seat (up to
  {PRIVATE_KG_SEAT}) and in townships of ≥ 10,000 residents (one each), at least {POI_SPACING_M:.0f} m apart; the
  feature is real, the kindergarten is modelled (`osm_ref`). Their `opened_year` is modelled
  (2011–2018 attached, 2006–2020 private).
* `name_zh`: the English name without type words + a Chinese level suffix (no transliteration).
* `township_id`: the township polygon the school lies in. `is_central`: per township, the
  largest open complete primary / nine-year school (2024 pupils) within {CENTRAL_RADIUS_M / 1000:.0f} km of the
  township's seat place (乡镇中心校); townships without a complete school have none.
* `ownership`: register schools `public`; attached kindergartens `public`; private ones
  `inclusive_private` (普惠性民办) or `private`, chosen in a seeded order so that 普惠 coverage stays
  ≤ {INCLUSIVE_COVERAGE_MAX:.0%}; their pull in the choice model is the smallest of {list(PRIVATE_PULLS)} that leaves public
  kindergartens ≤ {PUBLIC_SHARE_MAX:.0%} of the children.
* `students`, `classes`: sum of the school's 2024 rows in `enrolment.csv` (simulation below).
  `capacity_seats` = Σ classes × standard class size of the grade (45 primary, 50 junior and
  senior, 30 kindergarten and teaching point; standards.md §3). Closed schools: students,
  classes, teachers = 0 and `capacity_seats` = the modelled seats of the vacated building.
* `land_area_m2` = design seats × land per seat (primary and nine-year 18, junior and senior
  20, kindergarten 15 m²; standards.md §2.5 via `cn_national.toml`) × a factor 0.55–0.95 in the
  county seat (cramped) or 1.0–1.8 in rural townships, at least 2,500 m² (kindergarten 900 m²).
  `building_area_m2` = seats × 5.4 (primary) / 5.6 (nine-year) / 6.7 (junior) / 6.9 (senior) /
  10.44 (kindergarten) m² (建标102-2002 basic figures, standards.md §2.2, §2.6) × 0.75–1.0 (seat)
  or 0.8–1.3 (rural).
* `teachers` ≈ pupils ÷ 19 (primary grades), ÷ 13.5 (junior), ÷ 12.5 (senior), ÷ 15
  (kindergarten) (standards.md §4) × 0.80–1.0 in the county seat (under-staffed), × 1.0–1.5 in
  rural schools, at least 1.3 per class (rural small schools are over-staffed for their pupils),
  private kindergartens × 0.6–0.9.
* `boarders` = pupils of grades 4–12 × 25–60 % in rural complete schools, × 5–15 % in county-seat
  junior / senior schools (none in teaching points, kindergartens and seat primaries);
  `boarding_beds` = boarders × 0.8–1.4 (some schools short of beds).
* `quality_score`, `condition_score` (0–100): normal draws, county seat higher (78 / 72) than
  rural (66 / 63) and teaching points (55 / 50); closed buildings condition ≈ 42.
* 优质均衡 inputs (compulsory-education schools only, blank otherwise): `teachers_qualified`
  = teachers × 0.85–1.0 (seat) / 0.65–0.95 (rural); `teachers_key` ~ Binomial(teachers, 10 % / 4 %);
  `teachers_pe_art` ~ Binomial(teachers, 9 % / 6 %); `teaching_rooms_m2` = building × 0.50–0.65;
  `sports_area_m2` = land × 0.15–0.30 (seat) / 0.30–0.45; `equipment_yuan` = max(pupils ×
  1,500–3,200, 150,000–300,000); `multimedia_rooms` = classes × 0.6–1.0.
* Provenance columns: `source`, `register_status`, `register_type`, `grade_span`, `charter`,
  `location_source`, `host_school_id`, `osm_ref`.

## `villages` (Point)

Demand points = **real** OSM `place=town/village/hamlet/isolated_dwelling/locality` nodes in
the county plus the centroids of **real** residential land-use clusters (OSM
`landuse=residential` polygons clipped to the county and merged when closer than
{CLUSTER_MERGE_M:.0f} m; `name` "Residential cluster N", `kind` residential_cluster). `osm_id` is the place node.

`population` (**modelled**): every real residential street segment
(`highway=residential/living_street`) counts for its nearest demand point. Points within
{TOWN_RADIUS_M / 1000:.1f} km of a town/village carrying an OSM `population` tag (Linda, Olivehurst, Marysville,
Plumas Lake, Wheatland) share that tag in proportion to their street length; elsewhere a
street kilometre counts {RURAL_PERSONS_PER_KM:.0f} persons; each point adds a rank weight (town 500, village 300,
hamlet 120, locality 30, isolated dwelling 10) and {RES_AREA_WEIGHT:.0f} per hectare of residential land. The
weights × log-normal noise (sd 0.15) are scaled to {TARGET_POPULATION:,} residents (a small Chinese
rural county; at least 5 per point).

`age_0` … `age_17` (**modelled**, 2024): township children of age a = births(2024 − a) of the
township × survival {SURVIVAL} × net migration (county seat +{MIGRATION_PER_YEAR['seat']:.1%} per year of age — families
moving in, 进城; other townships {MIGRATION_PER_YEAR['rural']:.1%} per year, floor 0.3 — young families leaving),
split over the township's villages by a multinomial draw ∝ population. `zone_id`: the zone
the point lies in (county seat only).

## `townships` (Polygon)

A partition of the **real county boundary** (OSM relation 396475) into {st['townships']} townships.
Seeds: the real OSM `place=town` and `place=village` nodes plus the hamlets
{', '.join(TOWNSHIP_HAMLETS)} (they host real schools and fill the large rural east). The
towns within {SEAT_RADIUS_M / 1000:.0f} km of the most populous town (Linda, by its OSM population tag) —
Marysville, Linda, Olivehurst — form the county seat (`is_county_seat`, named after
Marysville, the real county seat). Every drivable OSM node is assigned to its nearest seed by
road travel time (multi-source Dijkstra on the road graph, speeds by highway class);
Voronoi cells of the nodes are dissolved per township, clipped to the county, detached
pieces are given to the neighbour sharing the longest border, and the borders are simplified
with a topology-preserving coverage simplification (40 m). No overlaps, no gaps.
`name` = real place name + 镇 (county seat and villages with ≥ 8,000 residents) or 乡;
`name_en` = real name; `population` = Σ villages; `area_km2`. Ids `T01` (county seat), then by
population.

## `zones` (Polygon) — 控规单元 of the county seat

The built-up county seat = real residential land use and residential streets (200 m buffer)
within {URBAN_RADIUS_M / 1000:.0f} km of the seat towns, plus the developments, closed with a 400 m buffer and
clipped to the seat township. Zones are Voronoi cells of k-means centres ({N_ZONES}) of the
urban villages (weights √population), clipped to that area. `name` = nearest real place +
片区. `population` = Σ villages in the zone; `dwellings` = population ÷ {PERSONS_PER_DWELLING} × 1.0–1.1;
`population_planned` / `dwellings_planned` = current × (1 + 0–3 %) + the developments in the
zone (so growth is concentrated in the zones with new housing — the new town).

## `developments` (Polygon)

{st['developments']} planned residential developments on **real** OSM open land at the county seat's
edge (the greenfield / construction / meadow polygons ≥ 3 ha nearest to the seat towns,
`osm_ref`, clipped to ≤ {DEV_MAX_HA:.0f} ha and to one zone). The programme is **modelled**: `year`
2025–2032, `dwellings` = 70–110 per hectare, `residents` = dwellings × {PERSONS_PER_DWELLING}; the largest
(≥ 5,000 residents) has **no** `school_land` (to be flagged by the Henan ≥ 5,000-residents rule),
the second largest has school and kindergarten land, others kindergarten land at random.

## `sites` (Polygon) — candidate parcels

* `closed_school`: every closed school (real location, `school_id`), a square of its modelled
  land area; `building_area_m2` its modelled floor area.
* `government_building`: the real OSM town halls / government offices in the county
  (`osm_ref`), squares of a modelled 0.3–1.2 ha parcel; vacated floor area modelled.
* `vacant`: the other real OSM brownfield / greenfield / meadow / construction polygons within
  {(URBAN_RADIUS_M + 500) / 1000:.1f} km of the seat towns (`osm_ref`), clipped to a parcel of {min(SITE_SIZES_HA)}–{max(SITE_SIZES_HA)} ha (some too small
  for a 24-class primary, ≈ 1.9 ha).
* `planned_education`: school (3.0 ha) / kindergarten (0.8 ha) land reserved inside the
  developments that have it.

`area_m2` = polygon area; `township_id` by location.

## `births.csv`

National births: **NBS** communiqué counts for 2010–2024 (standards.md §8.1, preferred);
for 2000–2009 the **UN WPP 2022** estimates (via Our World in Data) scaled by the mean
NBS/WPP ratio of 2010–2014 ({st['wpp_ratio']:.3f}) so the series joins without a step. County births = national ×
{TARGET_POPULATION:,} × 6.77 ‰ / national births 2024 (the county's 2024 birth rate equals the NBS
national rate), split over townships ∝ population × fertility factor (county seat
{BIRTH_FACTOR['seat']}, other townships {BIRTH_FACTOR['rural']} — older rural population) × log-normal noise (sd 0.06), rounded
so townships add up to the county total.

## `enrolment.csv`

Simulated {SIM_START_YEAR}–{BASE_YEAR} (written {FIRST_ENROLMENT_YEAR}–{BASE_YEAR}) for the open schools, by school and grade
(kindergarten 1–3 = 小班/中班/大班, primary 1–6, junior 7–9 — nine-year schools both —
senior 10–12; `level` is the level of the grade). First grades: children of the entry age
(3, 6, 12, 15; births × survival × migration as in `villages`) × entry rate (毛入园率 0.72 in
2014 rising to ≈ 0.90 in 2024, × 0.96 at 小班; primary 1.0; junior 0.99; general senior high
0.50 rising 0.5 points a year), allocated to open schools by a choice model on real road
travel time (share ∝ pull × exp(−minutes / τ), τ = 8, 4, 8, 25 min), with a growing share of
rural entrants going to county-seat schools (进城读书: kindergarten 5 %→20 %, primary 8 %→38 %,
junior 15 %→60 %, 2009→2024); Poisson noise. Later grades: previous grade of the same school ×
progression ratio ({', '.join(f'{x.name} {x.progression}' for x in STAGES)}) × log-normal
noise, minus a yearly rural → county-seat transfer of 1 %→4 %; teaching points hand grade 4 to
a complete school. `classes`: rural schools ⌈pupils ÷ standard size⌉; county-seat schools lack
classrooms and fill classes up to a modelled ceiling (75, 75, 68, 64, 62, 60, 60, 58, 56, then 50
by pull; seat senior 56; seat kindergartens 32 public / 35–40 private). 2024 rows sum to the
schools layer's `students` and `classes`.

## Licences and attribution

* OpenStreetMap data © OpenStreetMap contributors, ODbL 1.0 (roads.osm.pbf and every geometry
  derived from it). Extract from `jiawlu/OSM2GMNS` (see SOURCES.md).
* School register: California Department of Education, Public Schools and Districts directory
  (public records).
* Chinese statistics: National Bureau of Statistics communiqués (births 2010–2024) and Ministry
  of Education norms as compiled in `shared/reference/standards.md`; UN World Population
  Prospects 2022 via Our World in Data (CC BY 4.0).
* Everything labelled modelled is synthetic and must not be read as facts about Yuba County
  or any Chinese county.
"""


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    repo = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=repo / ".." / "shared" / "data",
                        help="shared data folder (default: ../shared/data from the repo root)")
    parser.add_argument("--out", type=Path, default=repo / "data" / "demo_county",
                        help="output folder (default: data/demo_county)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    stats = build(args.shared.resolve(), args.out)
    print(readme(stats).split("## `schools`")[0].split("## Key numbers")[1].strip())
    for name in ("roads.osm.pbf", "county.gpkg", "births.csv", "enrolment.csv", "county.toml",
                 "README.md"):
        print(f"{name:16s} {(args.out / name).stat().st_size / 1e6:6.2f} MB")
    print(f"built in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
