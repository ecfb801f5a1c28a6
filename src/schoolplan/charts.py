"""Small self-contained SVG charts for reports (no plotting library, no CDN).

Charts are plain SVG strings that print well and render in any browser offline.
All text is HTML-escaped. A chart is drawn in a 560 × 420 view box and shown at
least 400 px tall (``min-height``), whatever the width of its column, so that a
planner can read the values off it; numbers use :func:`schoolplan.fmt.number`.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np

from schoolplan.fmt import number

__all__ = ["band_chart_svg", "bar_chart_svg"]

_W, _H = 560, 420
_MIN_HEIGHT_PX = 400
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 62, 18, 58, 40
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _nice_max(v: float) -> float:
    if not np.isfinite(v) or v <= 0:
        return 1.0
    exp = 10 ** np.floor(np.log10(v))
    for m in (1, 2, 4, 6, 8, 10):  # maxima whose quarters are round numbers
        if v <= m * exp:
            return float(m * exp)
    return float(10 * exp)


def _frame(title: str, ymax: float, ylabel: str) -> list[str]:
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" '
             f'role="img" class="chart" style="width:100%;height:auto;min-height:{_MIN_HEIGHT_PX}px;'
             'font-family:sans-serif;font-size:12px">',
             f"<title>{escape(title)}</title>",
             f'<text x="{_PAD_L}" y="18" font-size="15" font-weight="bold">{escape(title)}</text>']
    plot_h = _H - _PAD_T - _PAD_B
    for k in range(5):
        v = ymax * k / 4
        y = _H - _PAD_B - plot_h * k / 4
        parts.append(f'<line x1="{_PAD_L}" x2="{_W - _PAD_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{_PAD_L - 4}" y="{y + 4:.1f}" text-anchor="end">{number(v)}</text>')
    parts.append(f'<text x="12" y="{_PAD_T + plot_h / 2:.1f}" transform="rotate(-90 12 {_PAD_T + plot_h / 2:.1f})" '
                 f'text-anchor="middle">{escape(ylabel)}</text>')
    return parts


def band_chart_svg(
    years: Sequence[int],
    p50: Sequence[float],
    p10: Sequence[float] | None = None,
    p90: Sequence[float] | None = None,
    *,
    title: str = "",
    ylabel: str = "",
    capacity: float | None = None,
    capacity_label: str = "capacity",
    observed: tuple[Sequence[int], Sequence[float]] | None = None,
    labels: tuple[str, str, str] = ("median", "p10–p90", "observed"),
) -> str:
    """A line chart of the median with a shaded p10–p90 band, and a legend.

    Parameters
    ----------
    years
        x values (years).
    p50, p10, p90
        Median and interval bounds (pupils).
    title, ylabel
        Texts (escaped).
    capacity
        Optional horizontal line (seats).
    capacity_label
        Its legend text.
    observed
        Optional observed history ``(years, values)`` drawn as dots.
    labels
        Legend texts of the median line, the band and the observed dots.

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    years, p50 = [int(y) for y in years], [float(v) for v in p50]
    p10 = None if p10 is None else [float(v) for v in p10]
    p90 = None if p90 is None else [float(v) for v in p90]
    xs = list(years)
    if observed is not None:
        observed = ([int(y) for y in observed[0]], [float(v) for v in observed[1]])
        xs = sorted(set(xs) | set(observed[0]))
    values = [*p50, *(p90 if p90 is not None else []), *(observed[1] if observed else []), capacity or 0]
    ymax = _nice_max(float(np.nanmax(values)) * 1.05 if len(values) else 1.0)
    x0, x1 = min(xs), max(xs)
    span = max(x1 - x0, 1)
    plot_w = _W - _PAD_L - _PAD_R
    plot_h = _H - _PAD_T - _PAD_B

    def px(x: float) -> float:
        return _PAD_L + plot_w * (x - x0) / span

    def py(y: float) -> float:
        return _H - _PAD_B - plot_h * y / ymax

    parts = _frame(title, ymax, ylabel)
    step = max(1, round(span / 8))
    for x in range(x0, x1 + 1, step):
        parts.append(f'<text x="{px(x):.1f}" y="{_H - _PAD_B + 14}" text-anchor="middle">{x}</text>')
    if p10 is not None and p90 is not None:
        upper = " ".join(f"{px(x):.1f},{py(v):.1f}" for x, v in zip(years, p90, strict=True))
        lower = " ".join(f"{px(x):.1f},{py(v):.1f}" for x, v in reversed(list(zip(years, p10, strict=True))))
        parts.append(f'<polygon points="{upper} {lower}" fill="#1f77b4" fill-opacity="0.18" stroke="none"/>')
    line = " ".join(f"{px(x):.1f},{py(v):.1f}" for x, v in zip(years, p50, strict=True))
    parts.append(f'<polyline points="{line}" fill="none" stroke="#1f77b4" stroke-width="2"/>')
    if observed is not None:
        for x, v in zip(*observed, strict=True):
            parts.append(f'<circle cx="{px(x):.1f}" cy="{py(v):.1f}" r="2.5" fill="#333"/>')
    if capacity is not None:
        y = py(capacity)
        parts.append(f'<line class="capacity" x1="{_PAD_L}" x2="{_W - _PAD_R}" y1="{y:.1f}" y2="{y:.1f}" '
                     'stroke="#d62728" stroke-width="1.6" stroke-dasharray="6,3"/>')
        parts.append(f'<text x="{_W - _PAD_R}" y="{y - 5:.1f}" text-anchor="end" fill="#d62728">'
                     f"{escape(capacity_label)} {number(capacity)}</text>")
    parts.append(_legend([("line", "#1f77b4", labels[0])]
                         + ([("band", "#1f77b4", labels[1])] if p10 is not None and p90 is not None else [])
                         + ([("dot", "#333", labels[2])] if observed is not None else [])
                         + ([("dash", "#d62728", capacity_label)] if capacity is not None else [])))
    parts.append("</svg>")
    return "".join(parts)


def _legend(items: Sequence[tuple[str, str, str]]) -> str:
    """One row of legend entries (kind, colour, text) under the title."""
    out, x, y = [], float(_PAD_L), 38.0
    for kind, colour, text in items:
        if kind == "line":
            out.append(f'<line x1="{x:.0f}" x2="{x + 18:.0f}" y1="{y:.0f}" y2="{y:.0f}" stroke="{colour}" '
                       'stroke-width="2"/>')
        elif kind == "band":
            out.append(f'<rect x="{x:.0f}" y="{y - 6:.0f}" width="18" height="12" fill="{colour}" '
                       'fill-opacity="0.18"/>')
        elif kind == "band_solid":
            out.append(f'<rect x="{x:.0f}" y="{y - 6:.0f}" width="14" height="12" fill="{colour}"/>')
        elif kind == "dot":
            out.append(f'<circle cx="{x + 9:.0f}" cy="{y:.0f}" r="3" fill="{colour}"/>')
        else:
            out.append(f'<line x1="{x:.0f}" x2="{x + 18:.0f}" y1="{y:.0f}" y2="{y:.0f}" stroke="{colour}" '
                       'stroke-width="1.6" stroke-dasharray="6,3"/>')
        out.append(f'<text x="{x + 23:.0f}" y="{y + 4:.0f}">{escape(text)}</text>')
        x += 23 + 7.5 * max(len(text), 4) * (1.6 if any(ord(c) > 0x2E80 for c in text) else 1.0) + 14
    return "".join(out)


def bar_chart_svg(
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    *,
    title: str = "",
    ylabel: str = "",
) -> str:
    """A grouped bar chart.

    Parameters
    ----------
    labels
        Category labels (x axis).
    series
        Legend label → one value per category.
    title, ylabel
        Texts (escaped).

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    vals = [v for s in series.values() for v in s]
    ymax = _nice_max(max([*vals, 0]) * 1.05)
    plot_w = _W - _PAD_L - _PAD_R
    plot_h = _H - _PAD_T - _PAD_B
    n_cat, n_ser = max(len(labels), 1), max(len(series), 1)
    group = plot_w / n_cat
    bar = group * 0.8 / n_ser
    parts = _frame(title, ymax, ylabel)
    for i, lab in enumerate(labels):
        parts.append(f'<text x="{_PAD_L + group * (i + 0.5):.1f}" y="{_H - _PAD_B + 14}" '
                     f'text-anchor="middle">{escape(str(lab))}</text>')
    for k, (name, values) in enumerate(series.items()):
        colour = _COLOURS[k % len(_COLOURS)]
        for i, v in enumerate(values):
            h = plot_h * max(float(v), 0) / ymax
            x = _PAD_L + group * i + group * 0.1 + bar * k
            parts.append(f'<rect x="{x:.1f}" y="{_H - _PAD_B - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{colour}"><title>{escape(name)}: {number(v)}</title></rect>')
    parts.append(_legend([("band_solid", _COLOURS[k % len(_COLOURS)], name) for k, name in enumerate(series)]))
    parts.append("</svg>")
    return "".join(parts)
