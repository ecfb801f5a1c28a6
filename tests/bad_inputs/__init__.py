"""Generators of bad and awkward county inputs for ``tests/test_bad_inputs.py``.

Every input is generated from the tiny county of ``tests/conftest.py`` (plus a small
road grid), so this folder holds code, not data. See ``docs/bad_inputs.md`` for the
catalogue of cases.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import shapely
from shapely.geometry import LineString

from conftest import LAT0, LON0, D, schools_table, villages_frame, write_tiny_county

__all__ = [
    "ROAD_STEPS",
    "road_grid",
    "write_county",
    "write_scenario",
]

#: Road lines per township width (a grid of 县道 through the tiny county).
ROAD_STEPS = 10


def road_grid(*, through: list[tuple[float, float]] | None = None, island: bool = False) -> gpd.GeoDataFrame:
    """A grid of county roads (县道) over the tiny county, in WGS-84.

    Parameters
    ----------
    through
        Extra lon/lat points that get a short east-west and north-south road through
        them (so that schools and villages sit on a road).
    island
        Add a separate road square 3 km east of the county, not joined to the grid.
    """
    lines = []
    for i in range(2 * ROAD_STEPS + 1):
        x = LON0 + D * i / ROAD_STEPS
        lines.append(LineString([(x, LAT0), (x, LAT0 + D)]))
    for j in range(ROAD_STEPS + 1):
        y = LAT0 + D * j / ROAD_STEPS
        lines.append(LineString([(LON0, y), (LON0 + 2 * D, y)]))
    for x, y in through or []:
        lines.append(LineString([(x - 0.004, y), (x + 0.004, y)]))
        lines.append(LineString([(x, y - 0.004), (x, y + 0.004)]))
    if island:
        x0, y0, s = LON0 + 2 * D + 0.03, LAT0 + 0.04, 0.01
        lines.append(LineString([(x0, y0), (x0 + s, y0), (x0 + s, y0 + s), (x0, y0 + s), (x0, y0)]))
    noded = list(shapely.node(shapely.MultiLineString(lines)).geoms)  # split where roads cross
    return gpd.GeoDataFrame({"道路等级": ["县道"] * len(noded)}, geometry=noded, crs=4326)


def write_county(folder: Path, *, roads: bool = True) -> Path:
    """The tiny county of ``conftest`` plus seats (学位数) and a road grid (``roads.gpkg``).

    Every school and village sits on a road of the grid. The seats column is there
    because a schools layer without ``capacity_seats`` stops a scenario run in
    :func:`schoolplan.metrics.seats_short` (see ``test_known_gap_no_capacity_column``).
    """
    write_tiny_county(folder)
    schools = schools_table().assign(学位数=[1350, 120, 450, 180])
    (folder / "学校.xlsx").unlink()
    schools.to_excel(folder / "学校.xlsx", index=False)
    if roads:
        pts = [(float(x), float(y)) for x, y in zip(schools_table()["经度"], schools_table()["纬度"], strict=True)]
        pts += [(p.x, p.y) for p in villages_frame().geometry]
        road_grid(through=pts).to_file(folder / "roads.gpkg", driver="GPKG")
    return folder


def write_scenario(path: Path, county: Path | str, **sections: dict[str, object]) -> Path:
    """Write a scenario TOML for ``county`` with the given sections (plain values only).

    Target year 2026, horizon 2028 and reserved land off unless given: a run of the
    tiny county then takes about two seconds.
    """
    head = {"county": str(county), "target_year": 2026, "horizon_year": 2028, **sections.pop("scenario", {})}
    text = ["[scenario]", *(f"{k} = {json.dumps(v)}" for k, v in head.items())]
    sections.setdefault("reserve", {"enabled": False})
    for name, values in sections.items():
        text.append(f"[{name}]")
        for k, v in values.items():
            text.append(f"{k} = {json.dumps(v) if not isinstance(v, bool) else str(v).lower()}")
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path

