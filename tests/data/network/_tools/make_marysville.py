"""Re-create the Marysville OSM fixtures from the shared Yuba County extract.

Keeps highway ways with at least one node inside the box, complete (all their
nodes), plus those nodes. Run: .venv/bin/python tests/data/network/_tools/make_marysville.py
"""

from pathlib import Path

import osmium

SRC = Path("/work/shared/data/osm/yuba_county_ca/yuba_county_ca_2024-05.osm.pbf")
OUT = Path(__file__).resolve().parents[1]
BOX = (-121.610, 39.128, -121.570, 39.160)  # west, south, east, north (central Marysville)


def inside(lon: float, lat: float) -> bool:
    return BOX[0] <= lon <= BOX[2] and BOX[1] <= lat <= BOX[3]


def main() -> None:
    ways = []
    need: set[int] = set()
    fp = (osmium.FileProcessor(str(SRC)).with_locations()
          .with_filter(osmium.filter.KeyFilter("highway"))
          .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY)))
    for w in fp:
        refs = [n.ref for n in w.nodes]
        if any(n.location.valid() and inside(n.lon, n.lat) for n in w.nodes):
            ways.append((w.id, refs, dict(w.tags)))
            need.update(refs)
    nodes = {}
    for n in osmium.FileProcessor(str(SRC), osmium.osm.NODE):
        if n.id in need:
            nodes[n.id] = (n.lon, n.lat, dict(n.tags))
    for suffix in ("osm.pbf", "osm"):
        out = OUT / f"marysville.{suffix}"
        out.unlink(missing_ok=True)
        with osmium.SimpleWriter(str(out)) as wr:
            for nid in sorted(nodes):
                lon, lat, tags = nodes[nid]
                wr.add_node(osmium.osm.mutable.Node(id=nid, location=(lon, lat), tags=tags, version=1))
            for wid, refs, tags in sorted(ways):
                wr.add_way(osmium.osm.mutable.Way(id=wid, nodes=refs, tags=tags, version=1))
        print(out, out.stat().st_size, "bytes", len(nodes), "nodes", len(ways), "ways")


if __name__ == "__main__":
    main()
