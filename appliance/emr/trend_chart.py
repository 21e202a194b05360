"""Monthly trend charts of the facility head's pages as small server-rendered SVG: no script, no
external asset, a 360-unit view box with 11-unit text that stays legible on a 360 px phone and
prints as is on the district review sheet. One polyline per series, a dot per month (with its
value as a tooltip), a horizontal grid of round values, and month labels every third month."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from appliance.emr.measure_fields import number_text

WIDTH, HEIGHT = 360, 200
LEFT, RIGHT, TOP, BOTTOM = 34, 8, 10, 46
GRID, AXIS = "#e5e7eb", "#374151"
LEGEND_CHAR = 6.2  # width of one character of 11-unit sans-serif, near enough to space the legend


@dataclass(frozen=True)
class Series:
    label: str
    colour: str
    values: Sequence[float | None]  # None: no value that month (the line breaks)


def nice_ceiling(value: float) -> float:
    """1, 2, 2.5 or 5 × 10^n at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value)


def trend_svg(title: str, month_labels: Sequence[str], series: Sequence[Series], *, unit: str = "") -> str:
    """The chart as SVG markup; ``month_labels`` one short label per month (« 01/24 »)."""
    count = len(month_labels)
    top = nice_ceiling(max((value for item in series for value in item.values if value is not None), default=1))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(index: int) -> float:
        return LEFT + (plot_w * index / (count - 1) if count > 1 else plot_w / 2)

    def y_of(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
             f'role="img" aria-label="{escape(title)}" class="chart" font-family="sans-serif" font-size="11">',
             f"<title>{escape(title)}</title>"]
    for step in range(5):
        value = top * step / 4
        y = y_of(value)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" fill="{AXIS}">'
                     f"{_number(value)}{unit}</text>")
    for index, label in enumerate(month_labels):
        if index % 3 == (count - 1) % 3:
            anchor = "end" if index == count - 1 and count > 1 else "middle"  # the last one stays inside
            parts.append(f'<text x="{x_of(index):.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="{anchor}" '
                         f'fill="{AXIS}">{escape(label)}</text>')
    legend_x = float(LEFT)
    for item in series:
        runs: list[list[str]] = [[]]
        for index, value in enumerate(item.values):
            if value is None:
                runs.append([])
                continue
            runs[-1].append(f"{x_of(index):.1f},{y_of(value):.1f}")
            parts.append(f'<circle cx="{x_of(index):.1f}" cy="{y_of(value):.1f}" r="2.2" fill="{item.colour}">'
                         f"<title>{escape(item.label)} {escape(month_labels[index])} : {_number(value)}{unit}</title>"
                         "</circle>")
        parts += [f'<polyline points="{" ".join(run)}" fill="none" stroke="{item.colour}" stroke-width="1.8"/>'
                  for run in runs if len(run) > 1]
        parts.append(f'<rect x="{legend_x:.0f}" y="{HEIGHT - 18}" width="10" height="10" fill="{item.colour}"/>'
                     f'<text x="{legend_x + 14:.0f}" y="{HEIGHT - 9}" fill="{AXIS}">{escape(item.label)}</text>')
        legend_x += 14 + LEGEND_CHAR * len(item.label) + 14
    parts.append("</svg>")
    return "".join(parts)


def _number(value: float) -> str:
    return number_text(value, ".0f") if value == int(value) else number_text(value, ".2f").rstrip("0")
