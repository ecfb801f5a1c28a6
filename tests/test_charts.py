"""SVG charts: well-formed, escaped, values placed."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from schoolplan.charts import band_chart_svg, bar_chart_svg


def test_band_chart_is_valid_svg_and_escapes() -> None:
    svg = band_chart_svg([2025, 2026, 2027], [100, 90, 80], [90, 80, 70], [110, 100, 95],
                         title="<script>小学</script>", capacity=95, observed=([2023, 2024], [120, 110]))
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count("<circle") == 2 + 1 and "<polygon" in svg  # two observations, one legend dot
    assert 'class="capacity"' in svg and "min-height:400px" in svg


def test_bar_chart() -> None:
    svg = bar_chart_svg(["A", "B"], {"现状": [3, 5], "两集中": [1, 2]}, title="学校数")
    ET.fromstring(svg)
    assert svg.count("<rect") == 4 + 2
