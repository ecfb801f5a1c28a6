"""Benchmark of the travel-time engine (not a timed test).

Two networks, in one run:

* the real Yuba County (California) OSM network — ``data/demo_county/roads.osm.pbf``
  when it exists, else the shared ``yuba_county_ca_2024-05.osm.pbf``;
* a synthetic ~130k-node county graph (seeded perturbed grid of junctions, 2–6 shape
  points per road, Chinese road classes, 15 % of links removed).

Villages and schools are seeded random points near the roads. Compared:

* **schoolplan** — the public API (snapping with access legs, simplified graph,
  reversed search from the schools, cutoff as ``limit``);
* **SciPy csgraph** — plain ``scipy.sparse.csgraph.dijkstra`` from the schools'
  nearest nodes on the unsimplified graph (points snapped to nearest nodes);
* **NetworkX** — the osmnx recipe: nearest nodes, then
  ``nx.single_source_dijkstra_path_length`` per school on the unsimplified graph;
  run for a sample of schools and extrapolated (marked ``*``).

Run: ``.venv/bin/python benchmarks/bench_network.py`` (writes
``benchmarks/RESULTS_network.md``). ``--quick`` uses smaller samples.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree
from shapely.geometry import LineString

from schoolplan.errors import DataWarning, UnreachableWarning
from schoolplan.network import build_graph, isochrones, nearest, travel_time_matrix
from schoolplan.network.graph import RoadGraph

ROOT = Path(__file__).resolve().parents[1]
SHARED_PBF = Path("/work/shared/data/osm/yuba_county_ca/yuba_county_ca_2024-05.osm.pbf")
DEMO_PBF = ROOT / "data" / "demo_county" / "roads.osm.pbf"
OUT = ROOT / "benchmarks" / "RESULTS_network.md"


# --------------------------------------------------------------------------- inputs
def synthetic_county(n_side: int = 128, spacing_m: float = 400.0, seed: int = 0) -> gpd.GeoDataFrame:
    """A rural county road layer: perturbed grid of junctions, curvy links with shape points.

    Every 32nd row/column is a 国道, every 16th a 省道, every 4th a 县道; the rest are
    乡道 / 村道. 15 % of links are removed (dead ends, irregular blocks). Placed near
    111.5°E 33°N in CGCS2000 / 3° GK zone 37 (EPSG:4546).
    """
    rng = np.random.default_rng(seed)
    ii, jj = np.meshgrid(np.arange(n_side), np.arange(n_side), indexing="ij")
    jx = 500_000.0 + jj * spacing_m + rng.normal(0, spacing_m * 0.12, ii.shape)
    jy = 3_650_000.0 + ii * spacing_m + rng.normal(0, spacing_m * 0.12, ii.shape)
    links = []
    for di, dj in ((0, 1), (1, 0)):
        a_i, a_j = ii[: n_side - di, : n_side - dj].ravel(), jj[: n_side - di, : n_side - dj].ravel()
        links.append((a_i, a_j, a_i + di, a_j + dj, np.full(a_i.size, di)))
    ai = np.concatenate([x[0] for x in links])
    aj = np.concatenate([x[1] for x in links])
    bi = np.concatenate([x[2] for x in links])
    bj = np.concatenate([x[3] for x in links])
    vertical = np.concatenate([x[4] for x in links]).astype(bool)
    line_no = np.where(vertical, aj, ai)  # the row / column the link runs along
    cls = np.where(line_no % 32 == 0, "国道", np.where(line_no % 16 == 0, "省道", np.where(
        line_no % 4 == 0, "县道", np.where(rng.random(ai.size) < 0.5, "乡道", "村道"))))
    keep = (rng.random(ai.size) > 0.15) | (cls != "村道") & (cls != "乡道")
    ai, aj, bi, bj, cls = ai[keep], aj[keep], bi[keep], bj[keep], cls[keep]
    x0, y0 = jx[ai, aj], jy[ai, aj]
    x1, y1 = jx[bi, bj], jy[bi, bj]
    k = rng.integers(2, 7, ai.size)  # shape points per link
    geoms = []
    for t in range(ai.size):
        f = np.sort(rng.random(k[t]))
        dx, dy = x1[t] - x0[t], y1[t] - y0[t]
        norm = np.hypot(dx, dy)
        wig = rng.normal(0, 25, k[t])
        px = x0[t] + f * dx - dy / norm * wig
        py = y0[t] + f * dy + dx / norm * wig
        geoms.append(LineString(np.column_stack([np.r_[x0[t], px, x1[t]], np.r_[y0[t], py, y1[t]]])))
    return gpd.GeoDataFrame({"道路等级": cls}, geometry=geoms, crs="EPSG:4546")


def points_near_roads(g: RoadGraph, n: int, seed: int, jitter_m: float) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    e = g.edges.iloc[rng.integers(0, len(g.edges), n)]
    p = shapely.line_interpolate_point(e.geometry.to_numpy(), rng.random(n), normalized=True)
    x = shapely.get_x(p) + rng.normal(0, jitter_m, n)
    y = shapely.get_y(p) + rng.normal(0, jitter_m, n)
    return gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=g.crs).to_crs(4326)


# --------------------------------------------------------------------------- timing helpers
def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Best wall-clock and best CPU time (this process) over ``repeat`` runs."""
    wall, cpu, out = np.inf, np.inf, None
    for _ in range(repeat):
        gc.collect()
        c, t = time.process_time(), time.perf_counter()
        out = fn()
        wall = min(wall, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    return wall, cpu, out


def peak_mb(fn: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def fmt_s(t: float, extrapolated: bool = False) -> str:
    if not np.isfinite(t):
        return "—"
    s = f"{t:.3f}" if t < 10 else f"{t:.1f}"
    return s + ("*" if extrapolated else "")


# --------------------------------------------------------------------------- baselines
def node_snap(raw: RoadGraph, pts: gpd.GeoDataFrame) -> np.ndarray:
    p = pts.to_crs(raw.crs)
    tree = cKDTree(np.column_stack([raw.node_x, raw.node_y]))
    return tree.query(np.column_stack([p.geometry.x, p.geometry.y]))[1]


def scipy_plain(raw: RoadGraph, villages: gpd.GeoDataFrame, schools: gpd.GeoDataFrame,
                limit: float = np.inf) -> np.ndarray:
    """Plain csgraph Dijkstra from the schools' nearest nodes on the reversed unsimplified graph."""
    vn = node_snap(raw, villages)
    sn = node_snap(raw, schools)
    G = raw.csr(reverse=True)
    out = np.empty((len(villages), len(schools)), dtype=np.float32)
    block = max(1, int(2**28 // (8 * raw.n_nodes)))
    for s in range(0, sn.size, block):
        D = dijkstra(G, directed=True, indices=sn[s:s + block], limit=limit)
        out[:, s:s + block] = D[:, vn].T
    return out


def scipy_nearest3(raw: RoadGraph, schools: gpd.GeoDataFrame) -> np.ndarray:
    sn = node_snap(raw, schools)
    G = raw.csr(reverse=True)
    D = dijkstra(G, directed=True, indices=sn)
    return np.argpartition(D, 3, axis=0)[:3]


def nx_graph(raw: RoadGraph) -> nx.DiGraph:
    G = nx.DiGraph()
    G.add_nodes_from(range(raw.n_nodes))
    u = np.repeat(np.arange(raw.n_nodes), np.diff(raw.indptr))
    G.add_weighted_edges_from(zip(u.tolist(), raw.indices.tolist(), raw.minutes.tolist(), strict=True),
                              weight="travel_time")
    return G


def networkx_od(G: nx.DiGraph, raw: RoadGraph, villages: gpd.GeoDataFrame, schools: gpd.GeoDataFrame,
                sample: int, cutoff: float | None) -> float:
    """osmnx recipe: nearest nodes, single-source Dijkstra per school on the reversed
    graph; CPU seconds for ``sample`` schools extrapolated to all of them."""
    vn = node_snap(raw, villages)
    sn = node_snap(raw, schools)
    R = G.reverse(copy=False)
    c = time.process_time()
    for s in sn[:sample].tolist():
        d = nx.single_source_dijkstra_path_length(R, s, cutoff=cutoff, weight="travel_time")
        _ = [d.get(v, np.nan) for v in vn.tolist()]
    return (time.process_time() - c) / min(sample, sn.size) * sn.size


# --------------------------------------------------------------------------- run
def run_network(name: str, graph: RoadGraph, raw: RoadGraph, build: tuple[float, float],
                raw_build: tuple[float, float], args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    schools = points_near_roads(graph, 300, 1, 150)
    v2k = points_near_roads(graph, 2000, 2, 300)
    v20k = points_near_roads(graph, 20000, 3, 300)
    rep = args.repeat
    print(f"\n== {name}: {graph}\n   raw (unsimplified): {raw.n_nodes:,} nodes, {raw.n_edges:,} edges; "
          f"{graph.dropped.summary()}", flush=True)

    def row(task: str, cpu: float, wall: float, par: float = np.nan, sc: float = np.nan,
            nxt: float = np.nan, mem: float = np.nan, sc_note: str = "") -> None:
        rows.append({"network": name, "task": task, "cpu": fmt_s(cpu), "wall": fmt_s(wall),
                     "par": fmt_s(par), "scipy": fmt_s(sc) + sc_note, "nx": fmt_s(nxt, True),
                     "x_nx": f"{nxt / cpu:,.0f}×" if np.isfinite(nxt) else "",
                     "x_sc": f"{sc / cpu:,.1f}×" if np.isfinite(sc) and not sc_note.startswith(" (unsimpl") else "",
                     "mem": f"{mem:,.0f}" if np.isfinite(mem) else ""})

    row(f"build graph ({graph.stats['raw_nodes']:,} raw → {graph.n_nodes:,} routing nodes)",
        build[1], build[0], sc=raw_build[1], sc_note=" (unsimplified build)")
    G_nx = nx_graph(raw)
    for label, villages, cutoff in (("OD 2,000 villages × 300 schools", v2k, None),
                                    ("OD 2,000 × 300, cutoff 60 min", v2k, 60.0),
                                    ("OD 2,000 × 300, cutoff 20 min", v2k, 20.0),
                                    ("OD 20,000 × 300", v20k, None)):
        def sp(v: gpd.GeoDataFrame = villages, c: float | None = cutoff, j: int = 1) -> pd.DataFrame:
            return travel_time_matrix(graph, v, schools, cutoff_minutes=c, n_jobs=j)

        wall, cpu, M = best_of(sp, rep)
        par, _, M2 = best_of(lambda: sp(j=2), rep)
        assert np.array_equal(M.to_numpy(), M2.to_numpy(), equal_nan=True)
        mem = peak_mb(sp)
        lim = np.inf if cutoff is None else cutoff
        _, sc, _ = best_of(lambda v=villages, lim=lim: scipy_plain(raw, v, schools, lim), 1)
        nxt = networkx_od(G_nx, raw, villages, schools, args.nx_sample, cutoff) if villages is v2k else np.nan
        row(label, cpu, wall, par, sc, nxt, mem)
        print(f"   {label}: schoolplan cpu {cpu:.3f} s wall {wall:.3f} s (n_jobs=2 wall {par:.3f} s, peak {mem:.0f} MB, "
              f"NaN {np.isnan(M.to_numpy()).mean():.1%}); scipy plain cpu {sc:.3f} s"
              + (f"; networkx cpu {nxt:.1f} s*" if np.isfinite(nxt) else ""), flush=True)
    for method in ("layers", "heap"):
        wall, cpu, nn = best_of(lambda m=method: nearest(graph, "nodes", schools, k=3, method=m), rep)
        mem = peak_mb(lambda m=method: nearest(graph, "nodes", schools, k=3, method=m))
        sc = np.nan
        if method == "layers":
            _, sc, _ = best_of(lambda: scipy_nearest3(raw, schools), 1)
        row(f"nearest-3 schools for every node ({graph.n_nodes:,} nodes), method={method}", cpu, wall,
            sc=sc, mem=mem, sc_note=" (full 300 × all-nodes matrix)" if np.isfinite(sc) else "")
        print(f"   nearest-3 every node [{method}]: cpu {cpu:.3f} s wall {wall:.3f} s ({len(nn):,} rows)", flush=True)
    wall, cpu, iso = best_of(lambda: isochrones(graph, schools, minutes=20), max(1, rep - 2))
    mem = peak_mb(lambda: isochrones(graph, schools, minutes=20))
    row("20-min isochrone polygons, 300 schools (grid 250 m)", cpu, wall, mem=mem)
    print(f"   isochrones: cpu {cpu:.3f} s wall {wall:.3f} s, median area {iso['area_km2'].median():.1f} km²",
          flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats and NetworkX samples")
    ap.add_argument("--no-write", action="store_true", help="do not write RESULTS_network.md")
    args = ap.parse_args()
    args.repeat = 2 if args.quick else 5
    args.nx_sample = 3 if args.quick else 10
    warnings.simplefilter("ignore", UnreachableWarning)
    warnings.simplefilter("ignore", DataWarning)
    rows: list[dict[str, Any]] = []
    load0 = os.getloadavg()
    pbf = DEMO_PBF if DEMO_PBF.exists() else SHARED_PBF
    t, c, g = best_of(lambda: build_graph(pbf), 1)
    t2, c2, raw = best_of(lambda: build_graph(pbf, simplify=False), 1)
    rows += run_network(f"Yuba County OSM ({pbf.relative_to(ROOT) if pbf == DEMO_PBF else pbf.name})",
                        g, raw, (t, c), (t2, c2), args)
    lines = synthetic_county()
    t, c, g = best_of(lambda: build_graph(lines, node_tolerance_m=0.01), 1)
    t2, c2, raw = best_of(lambda: build_graph(lines, node_tolerance_m=0.01, simplify=False), 1)
    rows += run_network("synthetic county (perturbed grid)", g, raw, (t, c), (t2, c2), args)
    load1 = os.getloadavg()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    df = pd.DataFrame(rows)
    table = ["| network | task | schoolplan CPU s | wall s | wall s, n_jobs=2 | SciPy csgraph unsimplified, CPU s | "
             "NetworkX (osmnx recipe), CPU s | vs NetworkX | vs SciPy | peak MB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in df.itertuples():
        table.append(f"| {r.network} | {r.task} | {r.cpu} | {r.wall} | {r.par} | {r.scipy} | {r.nx} | "
                     f"{r.x_nx} | {r.x_sc} | {r.mem} |")
    info = (f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores shared with "
            f"other jobs (load average {load0[0]:.1f} at start, {load1[0]:.1f} at end), process peak RSS "
            f"{rss:,.0f} MB. Best of {args.repeat} runs (isochrones {max(1, args.repeat - 2)}); "
            "baselines 1 run.")
    text = "\n".join([
        "# Travel-time engine benchmark (`benchmarks/bench_network.py`)", "",
        info, "",
        *table, "",
        "Notes:",
        "* CPU s = `time.process_time()` of the calling process (robust to the shared machine's load);",
        "  wall s = `time.perf_counter()`. Speed-ups are CPU / CPU. With `n_jobs=2` the searches run in two",
        "  forked processes (wall time only; it helps only when a second core is free).",
        "* schoolplan times are the public calls on GeoDataFrames in EPSG:4326: reprojection, snapping to",
        "  edges with access legs, the searches and the DataFrame result, on the graph built beforehand.",
        "* `*` NetworkX: `single_source_dijkstra_path_length` (with `cutoff` where given) on the reversed",
        f"  unsimplified graph for {args.nx_sample} schools, extrapolated to 300.",
        "* SciPy csgraph: `dijkstra` from the schools' nearest nodes on the reversed unsimplified graph",
        "  (`limit` = cutoff where given); points snapped to nearest nodes, no access legs.",
        "* peak MB: tracemalloc peak of Python/NumPy allocations during one schoolplan call.",
    ]) + "\n"
    print("\n" + text)
    if not args.no_write:
        OUT.write_text(text + _scale_section(), encoding="utf-8")
        print(f"written {OUT}", file=sys.stderr)


def _scale_section() -> str:
    """The section of RESULTS_network.md written by bench_scale.py, kept as it is."""
    old = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
    start, end = old.find("<!-- bench_scale:start -->"), old.find("<!-- bench_scale:end -->")
    return "\n" + old[start:end] + "<!-- bench_scale:end -->\n" if 0 <= start < end else ""


if __name__ == "__main__":
    main()
