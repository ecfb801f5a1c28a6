"""Elevation (DEM) from SRTM ``.hgt`` tiles and the slope penalty on travel speed.

An SRTM ``.hgt`` tile is a square grid of big-endian signed 16-bit heights in
metres, 1201 × 1201 (3″) or 3601 × 3601 (1″) samples covering one degree; the
file name gives its south-west corner (``N39W122.hgt`` covers 39–40°N,
122–121°W); the first row is the northern edge; −32768 marks voids. Samples lie
on the grid lines (the corner samples are shared with neighbouring tiles).

The slope penalty multiplies a way's speed by a factor of the grade
(rise / run, positive uphill in the direction of travel):

* ``linear`` (vehicles): ``max(min_factor, 1 − k·|grade|)`` with
  ``k = uphill_per_grade`` uphill and ``downhill_per_grade`` downhill; grades at or
  above ``steep_grade`` count as 陡坡 and get the profile's bad-road cap
  (≤ 20 km/h for school buses, 校车安全管理条例 §36);
* ``tobler`` (walking): ``exp(−3.5·(|grade + 0.05| − 0.05))`` (Tobler's hiking
  function relative to flat ground).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from schoolplan.errors import InputFileError

__all__ = ["Dem", "HgtTile", "read_hgt", "slope_speed_factor"]

_NAME = re.compile(r"([NS])(\d{1,2})([EW])(\d{1,3})", re.IGNORECASE)
VOID = -32768


@dataclass(frozen=True, eq=False)
class HgtTile:
    """One SRTM tile.

    Attributes
    ----------
    south, west
        South-west corner, degrees.
    heights_m
        ``(n, n)`` float32 heights in metres, first row north; NaN for voids.
    """

    south: float
    west: float
    heights_m: NDArray[np.float32]

    @property
    def size(self) -> int:
        """Samples per side (1201 or 3601)."""
        return int(self.heights_m.shape[0])


@dataclass(frozen=True, eq=False)
class Dem:
    """A digital elevation model made of SRTM tiles.

    Attributes
    ----------
    tiles
        The tiles (any number; gaps give NaN).
    cell_m
        Approximate sample spacing in metres (for the minimum slope run).
    """

    tiles: tuple[HgtTile, ...]

    @property
    def cell_m(self) -> float:
        """Approximate sample spacing, m."""
        n = max(t.size for t in self.tiles)
        return 111_320.0 / (n - 1)

    def elevation(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.float64]:
        """Bilinear height at WGS-84 points, metres (NaN outside the tiles or on voids).

        Parameters
        ----------
        lon, lat
            Degrees.

        Returns
        -------
        numpy.ndarray of float64
        """
        x = np.asarray(lon, dtype=np.float64)
        y = np.asarray(lat, dtype=np.float64)
        out = np.full(x.shape, np.nan)
        for t in self.tiles:
            n = t.size
            inside = (x >= t.west) & (x <= t.west + 1) & (y >= t.south) & (y <= t.south + 1) & np.isnan(out)
            if not inside.any():
                continue
            col = (x[inside] - t.west) * (n - 1)
            row = (t.south + 1 - y[inside]) * (n - 1)
            c0 = np.clip(np.floor(col).astype(np.int64), 0, n - 2)
            r0 = np.clip(np.floor(row).astype(np.int64), 0, n - 2)
            fc = col - c0
            fr = row - r0
            h = t.heights_m
            z = (h[r0, c0] * (1 - fc) * (1 - fr) + h[r0, c0 + 1] * fc * (1 - fr)
                 + h[r0 + 1, c0] * (1 - fc) * fr + h[r0 + 1, c0 + 1] * fc * fr)
            out[inside] = z
        return out


def _read_tile(path: Path) -> HgtTile:
    m = _NAME.search(path.name)
    if not m:
        raise InputFileError("cannot tell the tile corner from the file name", file=str(path),
                             fix="SRTM tiles are named like N39W122.hgt")
    lat = int(m.group(2)) * (1 if m.group(1).upper() == "N" else -1)
    lon = int(m.group(4)) * (1 if m.group(3).upper() == "E" else -1)
    try:
        raw = np.fromfile(path, dtype=">i2")
    except OSError as exc:
        raise InputFileError(f"cannot read the DEM tile: {exc}", file=str(path), fix="check the path") from None
    n = round(float(np.sqrt(raw.size)))
    if n * n != raw.size or n < 2:
        raise InputFileError(f"not an SRTM .hgt tile ({raw.size} samples is not a square grid)",
                             file=str(path), fix="use 1201×1201 (3″) or 3601×3601 (1″) .hgt files")
    h = raw.reshape(n, n).astype(np.float32)
    h[raw.reshape(n, n) == VOID] = np.nan
    return HgtTile(south=float(lat), west=float(lon), heights_m=h)


def read_hgt(source: str | Path | Iterable[str | Path]) -> Dem:
    """Read SRTM ``.hgt`` tiles.

    Parameters
    ----------
    source
        A ``.hgt`` file, a folder of them, or a list of files.

    Returns
    -------
    Dem

    Raises
    ------
    InputFileError
        Missing files, bad names or sizes.
    """
    if isinstance(source, str | Path):
        p = Path(source)
        if p.is_dir():
            files = sorted(p.glob("*.hgt"))
        elif p.exists():
            files = [p]
        else:
            raise InputFileError("DEM file not found", file=str(p), fix="check the path")
    else:
        files = [Path(s) for s in source]
    if not files:
        raise InputFileError("no .hgt tiles found", file=str(source), fix="put SRTM .hgt files in the folder")
    return Dem(tiles=tuple(_read_tile(f) for f in files))


def slope_speed_factor(grade: ArrayLike, slope: Mapping[str, Any]) -> NDArray[np.float64]:
    """Speed multiplier for travel at a grade.

    Parameters
    ----------
    grade
        Rise / run in the direction of travel (0.05 = 5 % uphill); NaN → factor 1.
    slope
        The profile's ``[slope]`` table (``model`` and its parameters).

    Returns
    -------
    numpy.ndarray of float64
        Factors (> 0).
    """
    g = np.asarray(grade, dtype=np.float64)
    model = str(slope.get("model", "linear"))
    if model == "tobler":
        f = np.exp(-3.5 * (np.abs(g + 0.05) - 0.05))
    elif model == "linear":
        up = float(slope.get("uphill_per_grade", 3.0))
        down = float(slope.get("downhill_per_grade", 1.5))
        k = np.where(g > 0, up, down)
        f = np.maximum(float(slope.get("min_factor", 0.3)), 1.0 - k * np.abs(g))
    elif model == "none":
        f = np.ones_like(g)
    else:
        from schoolplan.errors import ConfigError

        raise ConfigError(f"unknown slope model '{model}'", fix="use 'linear', 'tobler' or 'none'")
    return np.where(np.isnan(g), 1.0, f)
