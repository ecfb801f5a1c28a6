"""schoolplan — county-level school-layout planning (学校布局规划) on real road networks."""

from __future__ import annotations

__version__ = "0.1.0"

from schoolplan.county import County, load_county

__all__ = ["County", "__version__", "load_county"]
