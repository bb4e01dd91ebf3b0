"""Charts as small inline SVG, drawn on the server: no chart library, no script, a few
hundred bytes each, readable on any browser and on a slow link.

Pure functions: numbers in, markup out (escaped, so labels taken from data are safe).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

WIDTH = 480
PALETTE = ("#0b5cad", "#1e7b34", "#a15c00", "#b3261e", "#6a4c93", "#2a9d8f")
SERIES_COLOURS = {
    "queued": "#8a94a0",
    "submitted": "#0b5cad",
    "delivered": "#1e7b34",
    "failed": "#b3261e",
}


def _nice_max(value: float) -> float:
    """A round axis top at or above ``value`` (1, 2, 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    magnitude = 1.0
    while magnitude * 10 <= value:
        magnitude *= 10
    while magnitude > value:
        magnitude /= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def _axes(
    title: str, height: int, left: int, top: int, plot_height: int, scale_max: float
) -> list[str]:
    """The opening of a chart over time: the titled SVG, the value axis's top and zero
    labels, and the zero line."""
    return [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{_number(scale_max)}</text>',
        f'<text x="{left - 4}" y="{top + plot_height}" text-anchor="end">0</text>',
        f'<line x1="{left}" y1="{top + plot_height}" x2="{WIDTH - 10}" '
        f'y2="{top + plot_height}" stroke="#d6dbe0"/>',
    ]


def bar_chart(
    items: Sequence[tuple[str, float]], title: str, unit: str = "", colour: str = PALETTE[0]
) -> Markup:
    """Horizontal bars, one per (label, value): good for long labels on narrow screens."""
    if not items:
        return Markup('<p class="muted">No data yet.</p>')
    row, label_width, top = 22, 150, 8
    height = top + row * len(items) + 6
    scale_max = _nice_max(max(value for _, value in items))
    bar_space = WIDTH - label_width - 70
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for index, (label, value) in enumerate(items):
        y = top + index * row
        width = 0 if scale_max == 0 else max(0.0, value / scale_max * bar_space)
        short = label if len(label) <= 22 else label[:21] + "…"
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 14}" text-anchor="end">{escape(short)}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{width:.1f}" height="{row - 7}" '
            f'fill="{colour}"><title>{escape(label)}: {_number(value)}{escape(unit)}</title></rect>'
            f'<text x="{label_width + width + 4:.1f}" y="{y + 14}">{_number(value)}'
            f"{escape(unit)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 -- every piece from data is escaped above


def column_chart(items: Sequence[tuple[str, float]], title: str) -> Markup:
    """Vertical columns over time (one per day), labels thinned to stay legible."""
    if not items:
        return Markup('<p class="muted">No data yet.</p>')
    height, left, bottom, top = 180, 40, 22, 10
    plot_height = height - bottom - top
    slot = (WIDTH - left - 10) / len(items)
    scale_max = _nice_max(max(value for _, value in items))
    every = max(1, len(items) // 8)
    parts = _axes(title, height, left, top, plot_height, scale_max)
    for index, (label, value) in enumerate(items):
        bar = value / scale_max * plot_height
        x = left + index * slot
        parts.append(
            f'<rect x="{x + slot * 0.15:.1f}" y="{top + plot_height - bar:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{bar:.1f}" fill="{PALETTE[0]}">'
            f"<title>{escape(label)}: {_number(value)}</title></rect>"
        )
        if index % every == 0:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{height - 6}" text-anchor="middle">'
                f"{escape(label[-5:])}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 -- every piece from data is escaped above


def line_chart(times: Sequence[float], series: Mapping[str, Sequence[float]], title: str) -> Markup:
    """Several series sampled at the same times (POSIX seconds), placed by time."""
    if not times or not series:
        return Markup('<p class="muted">No data yet.</p>')
    labels = [time.strftime("%H:%M:%S", time.gmtime(at)) for at in times]
    span = max(times[-1] - times[0], 1e-9)
    height, left, bottom, top, legend = 200, 46, 22, 24, 14
    plot_height = height - bottom - top
    plot_width = WIDTH - left - 10
    scale_max = _nice_max(max((max(values, default=0) for values in series.values()), default=0))
    parts = _axes(title, height, left, top, plot_height, scale_max)
    for index, (name, values) in enumerate(series.items()):
        colour = SERIES_COLOURS.get(name, PALETTE[index % len(PALETTE)])
        points = " ".join(
            f"{left + (times[i] - times[0]) / span * plot_width:.1f},"
            f"{top + plot_height - value / scale_max * plot_height:.1f}"
            for i, value in enumerate(values)
        )
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}">'
            f"<title>{escape(name)}</title></polyline>"
            f'<rect x="{left + index * 100}" y="4" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + index * 100 + legend}" y="13">{escape(name)}</text>'
        )
    for i, x, anchor in ((0, left, "start"), (len(times) - 1, left + plot_width, "end")):
        parts.append(
            f'<text x="{x:.1f}" y="{height - 6}" text-anchor="{anchor}">{escape(labels[i])}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 -- every piece from data is escaped above
