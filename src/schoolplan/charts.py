"""Small self-contained SVG charts for reports (no plotting library, no CDN).

Charts are plain SVG strings that print well and render in any browser offline.
All text is HTML-escaped. A chart is drawn in a 560 × 420 view box and shown at
least 400 px tall (``min-height``), whatever the width of its column, so that a
planner can read the values off it; numbers use :func:`schoolplan.fmt.number`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

import numpy as np

from schoolplan.fmt import number

__all__ = ["band_chart_svg", "bar_chart_svg", "gantt_svg", "text_width"]

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


def text_width(text: str, size: float = 11.0) -> float:
    """Approximate width of ``text`` in pixels (CJK characters are square, Latin ones about half)."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.56 for ch in text)


def _fit(text: str, width: float, size: float = 11.0) -> str:
    """``text`` cut with an ellipsis so that it fits ``width`` pixels."""
    if text_width(text, size) <= width:
        return text
    out = ""
    for ch in text:
        if text_width(out + ch + "…", size) > width:
            break
        out += ch
    return out + "…"


def gantt_svg(
    years: Sequence[int],
    groups: Sequence[tuple[str, Sequence[Mapping[str, object]]]],
    *,
    title: str = "",
    legend: Sequence[tuple[str, str]] = (),
    label_width: float = 210.0,
    year_width: float = 118.0,
) -> str:
    """A Gantt-style timeline: one row per item, grouped, one column per year.

    Parameters
    ----------
    years
        The year columns, in order.
    groups
        ``(group label, rows)``; each row a mapping with ``label`` (str), ``bars``
        (``(start, end, colour, text)``: from the start of year ``start`` to the start of
        year ``end``, fractional years allowed), ``marks`` (``(year, colour, text)``: a
        cross at the start of ``year`` with the text after it) and ``closed_from`` (a
        year from which the row is hatched, or None).
    title
        Title text.
    legend
        ``(colour, label)`` pairs shown under the chart.
    label_width, year_width
        Pixels for the row labels and for each year.

    Returns
    -------
    str
        An ``<svg>`` element; all text is escaped.
    """
    ys = [int(y) for y in years]
    row_h, head_h, group_h = 24.0, 44.0, 22.0
    n_rows = sum(len(rows) for _, rows in groups)
    width = label_width + year_width * max(len(ys), 1) + 12
    height = head_h + group_h * len(groups) + row_h * n_rows + (30 if legend else 8)
    x0 = label_width
    y0 = ys[0] if ys else 0

    def px(year: float) -> float:
        return x0 + (float(year) - y0) * year_width

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
             f'style="max-width:100%;height:auto;font-family:sans-serif;font-size:11px">',
             f"<title>{escape(title)}</title>",
             '<defs><pattern id="sp-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
             'patternTransform="rotate(45)"><rect width="6" height="6" fill="#f1f1f1"/>'
             '<line x1="0" y1="0" x2="0" y2="6" stroke="#c8c8c8" stroke-width="2"/></pattern></defs>',
             f'<text x="4" y="16" font-size="13" font-weight="bold">{escape(title)}</text>']
    body_top, body_bottom = head_h - 8, height - (30 if legend else 8)
    for k, y in enumerate(ys):
        x = px(y)
        if k % 2 == 0:
            parts.append(f'<rect x="{x:.1f}" y="{body_top:.1f}" width="{year_width:.1f}" '
                         f'height="{body_bottom - body_top:.1f}" fill="#f6f8fb"/>')
        parts.append(f'<text x="{x + year_width / 2:.1f}" y="{head_h - 14:.1f}" text-anchor="middle" '
                     f'font-weight="bold">{y}</text>')
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{body_top:.1f}" y2="{body_bottom:.1f}" stroke="#d9e1ea"/>')
    top = head_h
    for group, rows in groups:
        parts.append(f'<rect x="0" y="{top:.1f}" width="{width:.1f}" height="{group_h:.1f}" fill="#e4ebf3"/>')
        parts.append(f'<text x="6" y="{top + 15:.1f}" font-weight="bold">{escape(_fit(str(group), width - 12))}</text>')
        top += group_h
        for row in rows:
            mid = top + row_h / 2
            parts.append(f'<line x1="0" x2="{width:.1f}" y1="{top + row_h:.1f}" y2="{top + row_h:.1f}" '
                         'stroke="#eef1f5"/>')
            full = str(row.get("label", ""))
            parts.append(f'<text x="10" y="{mid + 4:.1f}">{escape(_fit(full, x0 - 16))}<title>{escape(full)}'
                         "</title></text>")
            closed = row.get("closed_from")
            if closed is not None:
                cx = px(float(closed))  # type: ignore[arg-type]
                parts.append(f'<rect x="{cx:.1f}" y="{top + 4:.1f}" width="{max(px(ys[-1] + 1) - cx, 0):.1f}" '
                             f'height="{row_h - 8:.1f}" fill="url(#sp-hatch)"/>')
            for start, end, colour, text in row.get("bars", ()):  # type: ignore[attr-defined]
                a, b = px(float(start)), px(float(end))
                w = max(b - a, 6.0)
                parts.append(f'<rect x="{a:.1f}" y="{top + 5:.1f}" width="{w:.1f}" height="{row_h - 10:.1f}" '
                             f'rx="3" fill="{escape(str(colour))}"><title>{escape(str(text))}</title></rect>')
                label = str(text)
                if text_width(label) + 8 <= w:
                    parts.append(f'<text x="{a + 4:.1f}" y="{mid + 4:.1f}" fill="#fff">{escape(label)}</text>')
                else:
                    parts.append(f'<text x="{a + w + 3:.1f}" y="{mid + 4:.1f}" fill="{escape(str(colour))}">'
                                 f"{escape(_fit(label, px(ys[-1] + 1) - a - w))}</text>")
            for year, colour, text in row.get("marks", ()):  # type: ignore[attr-defined]
                x = px(float(year))
                c = escape(str(colour))
                parts.append(f'<path d="M{x - 5:.1f},{mid - 5:.1f} L{x + 5:.1f},{mid + 5:.1f} M{x - 5:.1f},'
                             f'{mid + 5:.1f} L{x + 5:.1f},{mid - 5:.1f}" stroke="{c}" stroke-width="2.6"/>')
                right, left = px(ys[-1] + 1) - x - 10, x - x0 - 10
                need = text_width(str(text))
                if need > right and left > right:  # no room after the cross: write it before
                    parts.append(f'<rect x="{x - 8 - min(need, left) - 2:.1f}" y="{top + 4:.1f}" '
                                 f'width="{min(need, left) + 4:.1f}" height="{row_h - 8:.1f}" fill="#fff" '
                                 'fill-opacity="0.85"/>')
                    parts.append(f'<text x="{x - 8:.1f}" y="{mid + 4:.1f}" fill="{c}" font-weight="bold" '
                                 f'text-anchor="end">{escape(_fit(str(text), left))}<title>{escape(str(text))}'
                                 "</title></text>")
                else:
                    parts.append(f'<text x="{x + 8:.1f}" y="{mid + 4:.1f}" fill="{c}" font-weight="bold">'
                                 f"{escape(_fit(str(text), right))}<title>{escape(str(text))}</title></text>")
            top += row_h
    if legend:
        x = 6.0
        ly = height - 12
        for colour, label in legend:
            if colour == "hatch":
                parts.append(f'<rect x="{x:.1f}" y="{ly - 9:.1f}" width="14" height="10" fill="url(#sp-hatch)" '
                             'stroke="#bbb"/>')
            else:
                parts.append(f'<rect x="{x:.1f}" y="{ly - 9:.1f}" width="14" height="10" rx="2" '
                             f'fill="{escape(colour)}"/>')
            parts.append(f'<text x="{x + 18:.1f}" y="{ly:.1f}">{escape(label)}</text>')
            x += 30 + text_width(label)
    parts.append("</svg>")
    return "".join(parts)
