"""Synthetic provinces (合成省份): seeded, modelled test data at any scale.

:func:`synthetic_province` lays out a province of counties, each with a county seat
(县城), townships (乡镇), villages and schools, on one road network of realistic rural
density; :func:`write_county` writes one county as an ordinary county folder (the
layers of :mod:`schoolplan.schema`, births, enrolment by grade and a road layer) that
:func:`schoolplan.load_county` and the scenario runner read like real data. Nothing
describes a real place; the same seed gives the same province, bit for bit.

Geography
---------
* Counties are the Voronoi cells of county seats on a jittered grid; townships the
  Voronoi cells of township seats inside each county (a village belongs to the
  nearest seat of its county — exactly its cell).
* Roads: a perturbed grid of junctions ``junction_spacing_m`` apart (default 1.2 km,
  ≈ 1.4 km of road per km², the density of county, township and village roads in
  the plains of central China), 15 % of village links missing (dead ends, irregular
  blocks), every link drawn with shape points every ``vertex_spacing_m`` (≈ 80 m, as
  in OpenStreetMap) and a lateral wiggle. Every 32nd grid line is a 国道, every 16th
  a 省道, every 4th a 县道; the rest are 乡道 and 村道. County and township seats sit
  on junctions.
* Villages lie near roads (a random road vertex plus a few hundred metres); schools
  at township seats (the central school) and in villages.

Demography (:func:`write_county`, per county, from the county's own seed)
--------------------------------------------------------------------------
Births per township follow a national-like curve (about 12 ‰ of residents in the
2000s, a peak in the 2016–17 two-child years, 6.5 ‰ by 2024) with Poisson noise.
A cohort of age *a* in year *y* is ``births[y − a] × 0.995`` (the county seat gains
1 % a year of age, rural townships lose 1 %). Pupils of each grade attend the
schools of their township that teach it (juniors without a township junior school,
and all seniors, go to the county seat), shared by fixed per-school weights;
kindergarten attendance is 85 %, senior 60 %. Classes use the standard class sizes
and teacher numbers the pupil–teacher ratios of the standards data.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from pyproj import CRS
from scipy.spatial import cKDTree

from schoolplan.errors import ConfigError
from schoolplan.schema import AGE_COLUMNS, LEVEL_AGES, LEVEL_GRADES

__all__ = ["Province", "synthetic_province", "write_county"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

#: CGCS2000 / 3-degree Gauss–Krüger CM 111°E; the province's south-west corner lies near 111°E 33°N
PROVINCE_CRS = "EPSG:4546"
_ORIGIN = (500_000.0, 3_650_000.0)

#: modelled share of each school level when a school count is given (the rest of the mix)
_LEVEL_MIX = {"primary": 0.40, "teaching_point": 0.17, "junior": 0.15, "nine_year": 0.06,
              "kindergarten": 0.20, "senior": 0.02}

_NUMERALS = "一二三四五六七八九十"


@dataclass(frozen=True, eq=False)
class Province:
    """A synthetic province (see the module docstring).

    Attributes
    ----------
    crs
        Metric CRS of every coordinate (CGCS2000 3° Gauss–Krüger, metres).
    node_x, node_y
        Road vertices (junctions and shape points), metres.
    edge_u, edge_v
        Road segments between vertices (positions in ``node_x``).
    edge_class
        Road class of each segment (国道/省道/县道/乡道/村道).
    edge_link
        The grid link each segment belongs to (one road line per link).
    counties
        ``county_id``, ``name``, ``name_en``, ``seat_township``, polygon.
    townships
        ``township_id``, ``county_id``, ``name``, ``is_county_seat``, ``population``, polygon.
    villages
        ``village_id``, ``county_id``, ``township_id``, ``name``, ``population``, point.
    schools
        ``school_id``, ``county_id``, ``township_id``, ``name``, ``level``, ``is_central``, point.
    seed
        The seed everything was drawn from.
    """

    crs: CRS
    node_x: F64
    node_y: F64
    edge_u: I64
    edge_v: I64
    edge_class: NDArray[np.object_]
    edge_link: I64
    counties: gpd.GeoDataFrame = field(repr=False)
    townships: gpd.GeoDataFrame = field(repr=False)
    villages: gpd.GeoDataFrame = field(repr=False)
    schools: gpd.GeoDataFrame = field(repr=False)
    seed: int = 0

    @property
    def n_nodes(self) -> int:
        """Road vertices."""
        return int(self.node_x.size)

    def road_km(self) -> float:
        """Length of all road segments, km."""
        return float(np.hypot(self.node_x[self.edge_v] - self.node_x[self.edge_u],
                              self.node_y[self.edge_v] - self.node_y[self.edge_u]).sum() / 1000.0)

    def graph(self, profile: Any = "school_bus", **options: Any) -> Any:
        """The routing graph of the whole province (:func:`schoolplan.network.from_arrays`)."""
        from schoolplan.network import from_arrays

        return from_arrays(self.node_x, self.node_y, self.edge_u, self.edge_v, road_class=self.edge_class,
                           source_crs=self.crs, profile=profile, label="synthetic province", **options)

    def road_lines(self, area: Any = None) -> gpd.GeoDataFrame:
        """Roads as lines (one per grid link, with ``道路等级``), optionally those whose
        midpoint lies in ``area`` (a polygon in the province CRS)."""
        order = np.argsort(self.edge_link, kind="stable")
        link = self.edge_link[order]
        starts = np.r_[0, np.nonzero(np.diff(link))[0] + 1]
        n_links = starts.size
        # vertices of each link: the start of every segment plus the end of its last one
        u, v = self.edge_u[order], self.edge_v[order]
        last = np.r_[starts[1:], link.size] - 1
        pts = np.concatenate([u, v[last]])
        owner = np.concatenate([np.repeat(np.arange(n_links), np.diff(np.r_[starts, link.size])),
                                np.arange(n_links)])
        pos = np.concatenate([np.arange(link.size) - np.repeat(starts, np.diff(np.r_[starts, link.size])),
                              np.diff(np.r_[starts, link.size])])
        po = np.lexsort((pos, owner))
        lines = shapely.linestrings(np.column_stack([self.node_x[pts[po]], self.node_y[pts[po]]]),
                                    indices=owner[po])
        gdf = gpd.GeoDataFrame({"道路等级": self.edge_class[order][starts]}, geometry=lines, crs=self.crs)
        if area is not None:
            gdf = gdf[shapely.contains_xy(area, *shapely.get_coordinates(
                shapely.line_interpolate_point(gdf.geometry.to_numpy(), 0.5, normalized=True)).T)]
        return gdf.reset_index(drop=True)


# --------------------------------------------------------------------------- roads
def _grid_roads(rng: np.random.Generator, width_m: float, height_m: float, spacing_m: float,
                vertex_spacing_m: float) -> tuple[F64, F64, I64, I64, NDArray[np.object_], I64, F64, F64]:
    """Perturbed grid of junctions linked by curvy roads with shape points (see module docstring)."""
    ncol = int(width_m // spacing_m) + 1
    nrow = int(height_m // spacing_m) + 1
    ii, jj = np.meshgrid(np.arange(nrow), np.arange(ncol), indexing="ij")
    jx = _ORIGIN[0] + jj * spacing_m + rng.normal(0, spacing_m * 0.12, ii.shape)
    jy = _ORIGIN[1] + ii * spacing_m + rng.normal(0, spacing_m * 0.12, ii.shape)
    a_list, b_list, line_list = [], [], []
    for di, dj in ((0, 1), (1, 0)):
        ai, aj = ii[: nrow - di, : ncol - dj].ravel(), jj[: nrow - di, : ncol - dj].ravel()
        a_list.append(ai * ncol + aj)
        b_list.append((ai + di) * ncol + aj + dj)
        line_list.append(aj if di else ai)  # the grid line the link runs along
    a, b, line = np.concatenate(a_list), np.concatenate(b_list), np.concatenate(line_list)
    cls = np.where(line % 32 == 0, "国道", np.where(line % 16 == 0, "省道", np.where(
        line % 4 == 0, "县道", np.where(rng.random(a.size) < 0.5, "乡道", "村道")))).astype(object)
    keep = (rng.random(a.size) > 0.15) | ((cls != "村道") & (cls != "乡道"))
    a, b, cls = a[keep], b[keep], cls[keep]
    x0, y0, x1, y1 = jx.ravel()[a], jy.ravel()[a], jx.ravel()[b], jy.ravel()[b]
    length = np.hypot(x1 - x0, y1 - y0)
    k = np.maximum(0, np.round(length / vertex_spacing_m).astype(np.int64) - 1)  # shape points per link
    link = np.repeat(np.arange(a.size), k)
    step = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k) + 1
    f = (step + rng.uniform(-0.3, 0.3, step.size)) / np.repeat(k + 1, k)
    dx, dy = (x1 - x0)[link], (y1 - y0)[link]
    wig = rng.normal(0, 20.0, step.size)
    norm = length[link]
    sx = x0[link] + f * dx - dy / norm * wig
    sy = y0[link] + f * dy + dx / norm * wig
    n_j = nrow * ncol
    node_x = np.concatenate([jx.ravel(), sx])
    node_y = np.concatenate([jy.ravel(), sy])
    # segments: junction a -> first shape point -> ... -> junction b
    first = n_j + np.concatenate([[0], np.cumsum(k)[:-1]])
    seg_link = np.repeat(np.arange(a.size), k + 1)
    pos = np.arange(seg_link.size) - np.repeat(np.cumsum(k + 1) - (k + 1), k + 1)
    kk = k[seg_link]
    u = np.where(pos == 0, a[seg_link], first[seg_link] + pos - 1)
    v = np.where(pos == kk, b[seg_link], first[seg_link] + pos)
    # drop junctions no road reaches
    used = np.zeros(node_x.size, dtype=bool)
    used[u] = used[v] = True
    remap = np.cumsum(used) - 1
    return (node_x[used], node_y[used], remap[u], remap[v], cls[seg_link], seg_link,
            jx.ravel()[used[:n_j]], jy.ravel()[used[:n_j]])


# --------------------------------------------------------------------------- places
def _voronoi_cells(seeds: F64, extent: Any) -> list[Any]:
    """Voronoi cells of the seeds clipped to ``extent``, in seed order."""
    if len(seeds) == 1:
        return [extent]
    regions = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=extent)
    cells = list(shapely.get_parts(regions))
    tree = shapely.STRtree(cells)
    out = []
    for p in shapely.points(seeds):
        hit = [cells[i] for i in tree.query(p, predicate="intersects")]
        out.append(shapely.intersection(hit[0], extent) if hit else None)
    return out


def _seat_positions(rng: np.random.Generator, n: int, box: tuple[float, float, float, float]) -> F64:
    """``n`` points spread over a box: a jittered grid (as even as the count allows)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cols = max(1, round(float(np.sqrt(n * w / h))))
    rows = -(-n // cols)
    cells = rng.permutation(rows * cols)[:n]
    cx = x0 + (cells % cols + 0.5 + rng.uniform(-0.3, 0.3, n)) * w / cols
    cy = y0 + (cells // cols + 0.5 + rng.uniform(-0.3, 0.3, n)) * h / rows
    return np.column_stack([cx, cy])


def _counts(total: int, weights: F64, rng: np.random.Generator, minimum: int = 0) -> I64:
    """Split ``total`` over groups by ``weights`` (multinomial), at least ``minimum`` each."""
    base = np.full(weights.size, minimum, dtype=np.int64)
    rest = max(0, total - int(base.sum()))
    return base + rng.multinomial(rest, weights / weights.sum())


def synthetic_province(
    *,
    counties: int = 24,
    county_km2: float = 2000.0,
    townships_per_county: int = 12,
    villages: int | None = None,
    schools: int | None = None,
    junction_spacing_m: float = 1200.0,
    vertex_spacing_m: float = 80.0,
    seed: int = 0,
) -> Province:
    """A seeded synthetic province (see the module docstring).

    Parameters
    ----------
    counties
        Number of counties.
    county_km2
        Average county area, km² (Chinese counties: about 1,000–3,000 km²).
    townships_per_county
        Townships per county (the first is the county seat).
    villages
        Villages in the whole province (default 20 per township); shared among
        townships by area.
    schools
        Schools in the whole province (default: per township a central primary, a
        junior school, a kindergarten and two village schools; in each county seat
        six primary, three junior, one senior school and six kindergartens). A given
        number is drawn with a fixed level mix (40 % primary, 17 % teaching points,
        15 % junior, 6 % nine-year, 20 % kindergartens, 2 % senior), one central
        primary per township first.
    junction_spacing_m, vertex_spacing_m
        Road grid spacing and shape-point spacing, m.
    seed
        Random seed; the same seed gives the same province.

    Returns
    -------
    Province

    Raises
    ------
    ConfigError
        Counts or sizes that are not positive.
    """
    for name, value in (("counties", counties), ("county_km2", county_km2),
                        ("townships_per_county", townships_per_county), ("junction_spacing_m", junction_spacing_m),
                        ("vertex_spacing_m", vertex_spacing_m)):
        if not value > 0:
            raise ConfigError(f"{name} must be > 0 (got {value!r})", fix=f"give a positive {name}")
    rng = np.random.default_rng([seed, 0])
    cols = max(1, round(float(np.sqrt(counties))))
    rows = -(-counties // cols)
    side_m = np.sqrt(county_km2) * 1000.0
    width, height = cols * side_m, rows * side_m
    box = (_ORIGIN[0], _ORIGIN[1], _ORIGIN[0] + width, _ORIGIN[1] + height)
    nx_, ny_, u, v, cls, link, jx, jy = _grid_roads(rng, width, height, junction_spacing_m, vertex_spacing_m)
    junctions = cKDTree(np.column_stack([jx, jy]))
    extent = shapely.box(*box)
    c_seeds = _seat_positions(rng, counties, box)
    c_cells = _voronoi_cells(c_seeds, extent)
    town_rows, county_rows = [], []
    for c, cell in enumerate(c_cells):
        cid = f"C{c + 1:02d}"
        t_seeds = _seat_positions(rng, townships_per_county, cell.bounds)
        t_seeds = np.array([p if shapely.contains_xy(cell, *p) else _inside(cell, rng) for p in t_seeds])
        t_seeds[0] = c_seeds[c] if shapely.contains_xy(cell, *c_seeds[c]) else t_seeds[0]
        t_seeds = _on_junctions(t_seeds, cell, junctions, jx, jy)
        for t, tcell in enumerate(_voronoi_cells(t_seeds, cell)):
            seat = t == 0
            town_rows.append({"township_id": f"{cid}T{t + 1:02d}", "county_id": cid,
                              "name": "城关镇" if seat else f"{_zh_number(t)}里{'镇' if t % 3 == 0 else '乡'}",
                              "is_county_seat": seat, "seat_x": t_seeds[t, 0], "seat_y": t_seeds[t, 1],
                              "geometry": tcell})
        county_rows.append({"county_id": cid, "name": f"合成{_zh_number(c + 1)}县",
                            "name_en": f"Synthetic county {c + 1}", "seat_township": f"{cid}T01", "geometry": cell})
    towns = gpd.GeoDataFrame(town_rows, geometry="geometry", crs=PROVINCE_CRS)
    vills = _villages(rng, towns, nx_, ny_, villages)
    towns["population"] = vills.groupby("township_id")["population"].sum().reindex(towns["township_id"]).fillna(0) \
        .astype(np.int64).to_numpy()
    sch = _schools(rng, towns, vills, schools)
    return Province(crs=CRS.from_user_input(PROVINCE_CRS), node_x=nx_, node_y=ny_, edge_u=u, edge_v=v,
                    edge_class=cls, edge_link=link,
                    counties=gpd.GeoDataFrame(county_rows, geometry="geometry", crs=PROVINCE_CRS),
                    townships=towns.drop(columns=["seat_x", "seat_y"]), villages=vills, schools=sch, seed=seed)


def _on_junctions(seeds: F64, cell: Any, junctions: cKDTree, jx: F64, jy: F64) -> F64:
    """Move each seat to a nearby road junction inside its cell (seats sit on the road network)."""
    out = seeds.copy()
    taken: set[int] = set()
    _, near = junctions.query(seeds, k=8)
    for i, cand in enumerate(np.atleast_2d(near)):
        for j in cand.tolist():
            if j < jx.size and j not in taken and shapely.contains_xy(cell, jx[j], jy[j]):
                out[i] = (jx[j], jy[j])
                taken.add(j)
                break
    return out


def _inside(cell: Any, rng: np.random.Generator) -> F64:
    x0, y0, x1, y1 = cell.bounds
    while True:
        p = rng.uniform([x0, y0], [x1, y1])
        if shapely.contains_xy(cell, *p):
            return p


def _zh_number(n: int) -> str:
    if n <= 10:
        return _NUMERALS[n - 1]
    tens, ones = divmod(n, 10)
    return f"{_NUMERALS[tens - 1] if tens > 1 else ''}十{_NUMERALS[ones - 1] if ones else ''}"


def _villages(rng: np.random.Generator, towns: gpd.GeoDataFrame, nx_: F64, ny_: F64,
              total: int | None) -> gpd.GeoDataFrame:
    """Villages near roads, each in the township of its nearest seat (within its county)."""
    n = int(total) if total is not None else 20 * len(towns)
    area = towns.geometry.area.to_numpy()
    per = _counts(n, area, rng, minimum=1 if n >= len(towns) else 0)
    pick = rng.integers(0, nx_.size, 4 * n + 1000)  # candidate road vertices
    tree = shapely.STRtree(towns.geometry.to_numpy())
    px = nx_[pick] + rng.normal(0, 250.0, pick.size)
    py = ny_[pick] + rng.normal(0, 250.0, pick.size)
    hit_p, hit_t = tree.query(shapely.points(px, py), predicate="within")
    order = np.argsort(hit_t, kind="stable")
    hit_p, hit_t = hit_p[order], hit_t[order]
    ptr = np.searchsorted(hit_t, np.arange(len(towns) + 1))
    xs, ys, tw = [], [], []
    for t in range(len(towns)):
        cand = hit_p[ptr[t]:ptr[t + 1]]
        k = int(per[t])
        take = cand[:k]
        xs.append(px[take])
        ys.append(py[take])
        if take.size < k:  # too few candidates: points inside the township
            extra = np.array([_inside(towns.geometry.iloc[t], rng) for _ in range(k - take.size)])
            xs[-1], ys[-1] = np.r_[xs[-1], extra[:, 0]], np.r_[ys[-1], extra[:, 1]]
        tw.append(np.full(k, t))
    x, y, t_idx = np.concatenate(xs), np.concatenate(ys), np.concatenate(tw).astype(np.int64)
    seat = towns["is_county_seat"].to_numpy()[t_idx]
    pop = np.where(seat, rng.lognormal(7.6, 0.5, x.size), rng.lognormal(6.6, 0.5, x.size)).astype(np.int64) + 50
    tid = towns["township_id"].to_numpy()[t_idx]
    return gpd.GeoDataFrame({
        "village_id": [f"{t}V{i:04d}" for t, i in zip(tid, _rank_within(t_idx), strict=True)],
        "county_id": towns["county_id"].to_numpy()[t_idx], "township_id": tid,
        "name": [f"{_zh_number(1 + i % 10)}家{'庄' if i % 2 else '村'}{i // 10 + 1}" for i in _rank_within(t_idx)],
        "population": pop}, geometry=gpd.points_from_xy(x, y), crs=PROVINCE_CRS)


def _rank_within(group: I64) -> I64:
    """0, 1, 2 ... within each run of equal, sorted group labels."""
    starts = np.r_[0, np.nonzero(np.diff(group))[0] + 1]
    return np.arange(group.size) - np.repeat(starts, np.diff(np.r_[starts, group.size]))


def _default_school_levels(towns: gpd.GeoDataFrame) -> list[tuple[int, str, bool]]:
    out: list[tuple[int, str, bool]] = []
    for t, seat in enumerate(towns["is_county_seat"].to_numpy()):
        out.append((t, "primary", True))
        if seat:
            out += [(t, "primary", False)] * 5 + [(t, "junior", False)] * 3 + [(t, "senior", False)] \
                + [(t, "kindergarten", False)] * 6
        else:
            out += [(t, "junior", False), (t, "kindergarten", False), (t, "primary", False),
                    (t, "teaching_point", False)]
    return out


def _drawn_school_levels(rng: np.random.Generator, towns: gpd.GeoDataFrame, total: int) -> list[tuple[int, str, bool]]:
    out = [(t, "primary", True) for t in range(min(total, len(towns)))]
    rest = total - len(out)
    if rest > 0:
        levels = np.array(list(_LEVEL_MIX))
        p = np.array(list(_LEVEL_MIX.values()))
        lv = rng.choice(levels, size=rest, p=p / p.sum())
        where = rng.choice(len(towns), size=rest, p=towns.geometry.area.to_numpy() / towns.geometry.area.sum())
        out += [(int(t), str(level), False) for t, level in zip(where, lv, strict=True)]
    return out


def _schools(rng: np.random.Generator, towns: gpd.GeoDataFrame, vills: gpd.GeoDataFrame,
             total: int | None) -> gpd.GeoDataFrame:
    """Schools: central primaries at township seats, the others in villages of their township."""
    spec = _default_school_levels(towns) if total is None else _drawn_school_levels(rng, towns, int(total))
    t_idx = np.array([s[0] for s in spec], dtype=np.int64)
    level = np.array([s[1] for s in spec], dtype=object)
    central = np.array([s[2] for s in spec], dtype=bool)
    seat_xy = towns[["seat_x", "seat_y"]].to_numpy()
    v_town = pd.Index(towns["township_id"]).get_indexer(vills["township_id"])
    vx, vy = vills.geometry.x.to_numpy(), vills.geometry.y.to_numpy()
    order = np.argsort(v_town, kind="stable")
    ptr = np.searchsorted(v_town[order], np.arange(len(towns) + 1))
    seat = towns["is_county_seat"].to_numpy()[t_idx]
    x = np.empty(t_idx.size)
    y = np.empty(t_idx.size)
    for i, t in enumerate(t_idx.tolist()):
        cand = order[ptr[t]:ptr[t + 1]]
        if central[i] or cand.size == 0 or (seat[i] and rng.random() < 0.7):
            x[i], y[i] = seat_xy[t] + rng.normal(0, 400.0 if seat[i] else 150.0, 2)
        else:
            j = cand[rng.integers(0, cand.size)]
            x[i], y[i] = vx[j] + rng.normal(0, 60.0), vy[j] + rng.normal(0, 60.0)
    tid = towns["township_id"].to_numpy()[t_idx]
    srt = np.argsort(t_idx, kind="stable")
    rank = np.empty(t_idx.size, dtype=np.int64)
    rank[srt] = _rank_within(t_idx[srt])
    names = {"primary": "小学", "teaching_point": "教学点", "junior": "初级中学", "nine_year": "九年一贯制学校",
             "kindergarten": "幼儿园", "senior": "高级中学"}
    return gpd.GeoDataFrame({
        "school_id": [f"{t}S{r:03d}" for t, r in zip(tid, rank, strict=True)],
        "county_id": towns["county_id"].to_numpy()[t_idx], "township_id": tid,
        "name": [f"{towns['name'].iloc[t]}{'中心' if c else _zh_number(1 + r % 10)}{names[lv]}"
                 for t, c, r, lv in zip(t_idx, central, rank, level, strict=True)],
        "level": level, "is_central": central}, geometry=gpd.points_from_xy(x, y), crs=PROVINCE_CRS)


# --------------------------------------------------------------------------- one county on disk
_BIRTH_RATE = {2000: 14.0, 2005: 12.4, 2010: 11.9, 2012: 12.1, 2014: 12.4, 2015: 12.0, 2016: 13.6, 2017: 12.6,
               2018: 10.9, 2019: 10.4, 2020: 8.5, 2021: 7.5, 2022: 6.8, 2023: 6.4, 2024: 6.8}  # per mille


def _birth_rate(years: I64) -> F64:
    ks = np.array(sorted(_BIRTH_RATE))
    return np.interp(years, ks, [_BIRTH_RATE[k] for k in ks]) / 1000.0


def _grade_age(level: str, grade: int) -> int:
    """Age (completed years at the start of the school year) of pupils in a grade."""
    if level == "kindergarten":
        return LEVEL_AGES["kindergarten"][0] + grade - 1
    return 5 + grade  # grade 1 at 6 (义务教育法 §11), grade 10 at 15


def _stage_of(level: str, grade: int) -> str:
    if level == "kindergarten":
        return "kindergarten"
    return "primary" if grade <= 6 else ("junior" if grade <= 9 else "senior")


def _cohorts(rng: np.random.Generator, towns: pd.DataFrame, years: I64) -> pd.DataFrame:
    """Births per township and year (Poisson around population × birth rate)."""
    pop = towns["population"].to_numpy(dtype=np.float64)
    lam = np.outer(pop, _birth_rate(years)) * rng.uniform(0.85, 1.15, (len(towns), 1))
    births = rng.poisson(lam)
    return pd.DataFrame({"year": np.tile(years, len(towns)),
                         "township_id": np.repeat(towns["township_id"].to_numpy(), years.size),
                         "births": births.ravel()})


def _children(births: pd.DataFrame, seat: dict[str, bool], year: int, age: int) -> pd.Series:
    """Children of an age in a year per township: survivors of the cohort, moved by migration."""
    b = births[births["year"] == year - age].set_index("township_id")["births"]
    drift = np.array([1.01 if seat[t] else 0.99 for t in b.index]) ** age
    return (b * 0.995 * drift).round().astype(np.int64)


_ATTEND = {"kindergarten": 0.85, "primary": 1.0, "junior": 1.0, "senior": 0.6}


def _teaching(schools: pd.DataFrame, level: str, grade: int) -> NDArray[np.bool_]:
    lv = schools["level"].to_numpy()
    if level == "kindergarten":
        return lv == "kindergarten"
    return np.array([grade in LEVEL_GRADES[x] and x != "kindergarten" for x in lv], dtype=bool)


def _enrolment(rng: np.random.Generator, schools: pd.DataFrame, towns: pd.DataFrame, births: pd.DataFrame,
               years: range, std: dict[str, Any]) -> pd.DataFrame:
    """Pupils and classes by year, school and grade (see the module docstring)."""
    seat = dict(zip(towns["township_id"], towns["is_county_seat"], strict=True))
    seat_town = towns.loc[towns["is_county_seat"], "township_id"].iloc[0]
    weight = rng.uniform(0.5, 1.5, len(schools)) * np.where(schools["is_central"], 2.0, 1.0)
    rows = []
    plan = [("kindergarten", g) for g in LEVEL_GRADES["kindergarten"]] + [("school", g) for g in range(1, 13)]
    for year in years:
        for kind, grade in plan:
            stage = "kindergarten" if kind == "kindergarten" else _stage_of("x", grade)
            teach = _teaching(schools, "kindergarten" if kind == "kindergarten" else "school", grade)
            kids = _children(births, seat, year, _grade_age(kind, grade)) * _ATTEND[stage]
            for town, n in kids.items():
                here = teach & (schools["township_id"].to_numpy() == town)
                if not here.any():
                    here = teach & (schools["township_id"].to_numpy() == seat_town)
                if not here.any():
                    continue
                w = weight[here] / weight[here].sum()
                pupils = rng.multinomial(round(float(n)), w)
                for sid, p in zip(schools["school_id"].to_numpy()[here], pupils, strict=True):
                    rows.append((year, sid, grade, int(p), stage))
    e = pd.DataFrame(rows, columns=["year", "school_id", "grade", "students", "stage"])
    e = e.groupby(["year", "school_id", "grade", "stage"], as_index=False)["students"].sum()
    size = std["class_size"]
    kg_size = {1: size["kindergarten_small"], 2: size["kindergarten_middle"], 3: size["kindergarten_large"]}
    cap = np.where(e["stage"] == "kindergarten", e["grade"].map(kg_size),
                   e["stage"].map({"primary": size["primary"], "junior": size["junior"], "senior": size["senior"]}))
    e["classes"] = np.where(e["students"] > 0, np.ceil(e["students"] / cap), 0).astype(np.int64)
    e = e[e["students"] > 0].rename(columns={"stage": "level"})
    return e[["year", "school_id", "level", "grade", "students", "classes"]].reset_index(drop=True)


def _register(rng: np.random.Generator, schools: gpd.GeoDataFrame, enrol: pd.DataFrame, base_year: int,
              std: dict[str, Any]) -> gpd.GeoDataFrame:
    """Register attributes of the base year: classes, pupils, seats, teachers, areas, scores."""
    cur = enrol[enrol["year"] == base_year]
    by = cur.groupby("school_id")
    out = schools.copy()
    out["status"] = "open"
    out["classes"] = out["school_id"].map(by["classes"].sum()).fillna(0).astype(np.int64)
    out["students"] = out["school_id"].map(by["students"].sum()).fillna(0).astype(np.int64)
    size = std["class_size"]
    per_class = out["level"].map({"kindergarten": size["kindergarten_mixed"], "teaching_point": size["teaching_point"],
                                  "primary": size["primary"], "nine_year": size["primary"],
                                  "junior": size["junior"], "senior": size["senior"]})
    out["capacity_seats"] = (np.maximum(out["classes"], 1) * per_class * rng.uniform(1.0, 1.25, len(out))) \
        .round().astype(np.int64)
    ratio = std["teacher_ratio"]
    per_teacher = out["level"].map({"kindergarten": ratio["kindergarten"], "teaching_point": ratio["primary"],
                                    "primary": ratio["primary"], "nine_year": ratio["primary"],
                                    "junior": ratio["junior"], "senior": ratio["senior"]})
    out["teachers"] = np.maximum(1, np.round(out["students"] / per_teacher * rng.uniform(0.9, 1.2, len(out)))) \
        .astype(np.int64)
    out["land_area_m2"] = (out["capacity_seats"] * rng.uniform(15, 30, len(out))).round(0)
    out["building_area_m2"] = (out["capacity_seats"] * rng.uniform(6, 10, len(out))).round(0)
    out["quality_score"] = rng.uniform(45, 95, len(out)).round(1)
    out["condition_score"] = rng.uniform(45, 95, len(out)).round(1)
    out["opened_year"] = rng.integers(1950, 2010, len(out))
    return out


def _village_ages(rng: np.random.Generator, vills: gpd.GeoDataFrame, births: pd.DataFrame,
                  towns: pd.DataFrame, base_year: int) -> gpd.GeoDataFrame:
    """Children by single year of age per village at the base year (township cohorts shared by population)."""
    seat = dict(zip(towns["township_id"], towns["is_county_seat"], strict=True))
    out = vills.copy()
    for col in AGE_COLUMNS:
        out[col] = 0
    for age, col in enumerate(AGE_COLUMNS):
        kids = _children(births, seat, base_year, age)
        for town, n in kids.items():
            here = np.nonzero(out["township_id"].to_numpy() == town)[0]
            if here.size:
                pop = out["population"].to_numpy()[here].astype(np.float64)
                out.iloc[here, out.columns.get_loc(col)] = rng.multinomial(int(n), pop / pop.sum())
    return out


def write_county(
    province: Province,
    county_id: str,
    folder: str | Path,
    *,
    base_year: int = 2024,
    first_year: int = 2014,
    road_margin_m: float = 3000.0,
) -> Path:
    """Write one county of a synthetic province as a county folder.

    Parameters
    ----------
    province
        From :func:`synthetic_province`.
    county_id
        ``"C01"`` ...
    folder
        Output folder (created; existing files of the same names are replaced).
    base_year, first_year
        Register year and first enrolment year (births start 17 years earlier).
    road_margin_m
        Roads within this distance outside the county are included (villages near the
        border still reach their road network), m.

    Returns
    -------
    pathlib.Path
        The folder, holding ``county.gpkg`` (schools, villages, townships),
        ``births.csv``, ``enrolment.csv``, ``roads.gpkg`` (lines with 道路等级) and
        ``county.toml``.

    Raises
    ------
    ConfigError
        Unknown county id, or years out of order.
    """
    from schoolplan.standards import load_standards

    if county_id not in set(province.counties["county_id"]):
        raise ConfigError(f"unknown county '{county_id}'",
                          fix=f"use one of {', '.join(province.counties['county_id'][:8])} ...")
    if not first_year < base_year:
        raise ConfigError("first_year must be before base_year", fix="e.g. first_year=2014, base_year=2024")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    number = int(county_id.lstrip("C"))
    rng = np.random.default_rng([province.seed, 1, number])
    std = load_standards()
    county = province.counties.set_index("county_id").loc[county_id]
    towns = province.townships[province.townships["county_id"] == county_id].reset_index(drop=True)
    vills = province.villages[province.villages["county_id"] == county_id].reset_index(drop=True)
    schools = province.schools[province.schools["county_id"] == county_id].reset_index(drop=True)
    births = _cohorts(rng, towns, np.arange(first_year - 17, base_year + 1))
    enrol = _enrolment(rng, schools, towns, births, range(first_year, base_year + 1), std)
    register = _register(rng, schools, enrol, base_year, std)
    vills = _village_ages(rng, vills, births, towns, base_year)
    gpkg = out / "county.gpkg"
    if gpkg.exists():
        gpkg.unlink()
    register.drop(columns=["county_id"]).to_file(gpkg, layer="schools", driver="GPKG")
    vills.drop(columns=["county_id"]).to_file(gpkg, layer="villages", driver="GPKG")
    towns.drop(columns=["county_id"]).to_file(gpkg, layer="townships", driver="GPKG")
    births.to_csv(out / "births.csv", index=False)
    enrol.to_csv(out / "enrolment.csv", index=False)
    roads = province.road_lines(county.geometry.buffer(road_margin_m))
    roads_path = out / "roads.gpkg"
    if roads_path.exists():
        roads_path.unlink()
    roads.to_file(roads_path, layer="roads", driver="GPKG")
    meta = {"name_zh": str(county["name"]), "name_en": str(county["name_en"]), "base_year": base_year,
            "roads": "roads.gpkg", "gpkg": "county.gpkg", "births": "births.csv", "enrolment": "enrolment.csv",
            "attribution": f"synthetic (modelled) data: schoolplan.synthetic, seed {province.seed}, {county_id}"}
    (out / "county.toml").write_text(_toml(meta), encoding="utf-8")
    return out


def _toml(meta: dict[str, Any]) -> str:
    lines = ["# Synthetic county written by schoolplan.synthetic.write_county (modelled data)."]
    for k, v in meta.items():
        lines.append(f"{k} = {v}" if isinstance(v, int) else f'{k} = "{v}"')
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # written values must read back
    return text
