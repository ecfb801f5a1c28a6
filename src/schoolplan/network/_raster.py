"""Grid cells → polygons, fast: trace the cell boundary instead of unioning boxes.

Boundary edges of the filled cells are oriented with the filled side on the left
(exteriors counter-clockwise, holes clockwise) and linked into rings, turning left
at corners where two cells touch diagonally (4-connected regions). Rings are found
with vectorised pointer jumping (cycle labels and list ranks); rings that touch
themselves at a corner are split there. The result is a valid (Multi)Polygon equal
to the union of the cells (``shapely.coverage_union_all``), 5–10× faster.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

__all__ = ["raster_polygon"]


_STEP = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]])
_SIDES = ((0, (-1, 0), (0, 0)), (1, (0, 1), (1, 0)), (2, (1, 0), (1, 1)), (3, (0, -1), (0, 1)))


def _cycles(succ: NDArray[np.int64], idx: NDArray[np.int64], rounds: int) -> NDArray[np.int64]:
    """Label each element of a permutation with the smallest index of its cycle."""
    lab, p = idx.copy(), succ.copy()
    for _ in range(rounds):
        lab = np.minimum(lab, lab[p])
        p = p[p]
    return lab


def _split_loops(seq: list[int]) -> list[list[int]]:
    """Split a closed vertex sequence that revisits vertices into simple loops."""
    out = []
    stack = []
    pos = {}
    for v in seq:
        i = pos.get(v)
        if i is None:
            pos[v] = len(stack)
            stack.append(v)
            continue
        loop = stack[i:]
        out.append(loop)
        for u in loop[1:]:
            del pos[u]
        del stack[i + 1:]
    out.append(stack)
    return [lp for lp in out if len(lp) >= 4]


def raster_polygon(cx: NDArray[np.int64], cy: NDArray[np.int64], cell: float, x0: float, y0: float,
                   fill_holes: bool = True) -> Any:
    """Union of grid cells as a (Multi)Polygon.

    Parameters
    ----------
    cx, cy
        Column and row of each filled cell (duplicates allowed).
    cell
        Cell size, metres.
    x0, y0
        Grid origin: cell (i, j) spans ``x0 + i·cell … x0 + (i+1)·cell``.
    fill_holes
        Drop holes (and the parts lying inside them).

    Returns
    -------
    shapely Polygon / MultiPolygon, or None when there are no cells.
    """
    if cx.size == 0:
        return None
    ox, oy = int(cx.min()) - 1, int(cy.min()) - 1
    gx, gy = cx - ox, cy - oy
    W, H = int(gx.max()) + 2, int(gy.max()) + 2
    grid = np.zeros((H, W), dtype=bool)
    grid[gy, gx] = True
    fy, fx = np.nonzero(grid)
    parts = []
    for d, (ny, nx_), (ax, ay) in _SIDES:
        m = ~grid[fy + ny, fx + nx_]
        parts.append((fx[m] + ax, fy[m] + ay, np.full(int(m.sum()), d)))
    sx = np.concatenate([p[0] for p in parts])
    sy = np.concatenate([p[1] for p in parts])
    d = np.concatenate([p[2] for p in parts])
    n = d.size
    V = W + 2
    key = (sy * V + sx) * 4 + d
    order = np.argsort(key)
    skey = key[order]
    endv = (sy + _STEP[d, 1]) * V + (sx + _STEP[d, 0])
    succ = np.full(n, -1)
    for turn in (1, 0, 3):  # left turn first: diagonal cells stay apart
        want = endv * 4 + (d + turn) % 4
        pos = np.minimum(np.searchsorted(skey, want), n - 1)
        hit = (skey[pos] == want) & (succ < 0)
        succ[hit] = order[pos[hit]]
    idx = np.arange(n)
    rounds = int(np.ceil(np.log2(max(n, 2)))) + 1
    lab = _cycles(succ, idx, rounds)
    term = succ == lab
    r = np.where(term, 0, 1)
    q = np.where(term, idx, succ)
    for _ in range(rounds):
        r = r + r[q]
        q = q[q]
    o = np.lexsort((-r, lab))
    lab_o = lab[o]
    vid = (sy * V + sx)[o]
    gid = np.cumsum(np.r_[True, lab_o[1:] != lab_o[:-1]]) - 1
    # rings touching themselves at a corner: split them there into separate loops
    pair = np.unique(gid * np.int64(V * (H + 2)) + vid, return_counts=True)
    bad_g = np.unique(pair[0][pair[1] > 1] // np.int64(V * (H + 2)))
    if bad_g.size:
        inbad = np.isin(gid, bad_g)
        new_v, new_g = [vid[~inbad]], [gid[~inbad]]
        next_g = int(gid.max()) + 1
        for g0 in bad_g.tolist():
            for loop in _split_loops(vid[gid == g0].tolist()):
                new_v.append(np.asarray(loop, dtype=np.int64))
                new_g.append(np.full(len(loop), next_g))
                next_g += 1
        vid, gid = np.concatenate(new_v), np.concatenate(new_g)
        srt = np.argsort(gid, kind="stable")
        vid, gid = vid[srt], gid[srt]
    vx, vy = vid % V, vid // V
    # drop collinear vertices
    first = np.nonzero(np.r_[True, gid[1:] != gid[:-1]])[0]
    last = np.r_[first[1:] - 1, gid.size - 1]
    prv = np.arange(gid.size) - 1
    prv[first] = last
    nxt = np.arange(gid.size) + 1
    nxt[last] = first
    turn = (vx - vx[prv]) * (vy[nxt] - vy) - (vy - vy[prv]) * (vx[nxt] - vx)
    keep = turn != 0
    xs = x0 + (vx[keep] + ox) * cell
    ys = y0 + (vy[keep] + oy) * cell
    g = np.unique(gid[keep], return_inverse=True)[1].ravel()
    kf = np.nonzero(np.r_[True, g[1:] != g[:-1]])[0]
    kl = np.r_[kf[1:] - 1, g.size - 1]
    nxt = np.arange(g.size) + 1
    nxt[kl] = kf
    area = np.add.reduceat(xs * ys[nxt] - xs[nxt] * ys, kf)
    rings = shapely.linearrings(np.column_stack([xs, ys]), indices=g)
    shells = shapely.polygons(rings[area > 0])
    holes = rings[area < 0]
    if holes.size == 0:
        return shells[0] if shells.size == 1 else shapely.multipolygons(shells)
    hole_polys = shapely.polygons(holes)
    tree = shapely.STRtree(shells)
    if fill_holes:  # shells inside holes are islands: dropped with the holes
        _, islands = tree.query(hole_polys, predicate="contains")
        keep_s = np.setdiff1d(np.arange(shells.size), islands)
        return shells[keep_s[0]] if keep_s.size == 1 else shapely.multipolygons(shells[keep_s])
    # each hole belongs to the smallest shell containing it
    hi, si = tree.query(hole_polys, predicate="within")
    sa = shapely.area(shells)
    ordr = np.lexsort((sa[si], hi))
    hi, si = hi[ordr], si[ordr]
    firsth = np.r_[True, hi[1:] != hi[:-1]] if hi.size else np.zeros(0, bool)
    owner = np.full(holes.size, -1)
    owner[hi[firsth]] = si[firsth]
    polys = []
    for s_ in range(shells.size):
        hs = holes[owner == s_]
        polys.append(shapely.polygons(shapely.get_exterior_ring(shells[s_]), holes=hs) if hs.size else shells[s_])
    return polys[0] if len(polys) == 1 else shapely.multipolygons(polys)
