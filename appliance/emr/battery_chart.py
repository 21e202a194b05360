"""The Battery page's chart: the last days of voltage as a small server-rendered SVG.

No JavaScript, no external asset, about 7 KB: the mean voltage as a line, the interval's
min-max as a light band, the LOW and CRITICAL thresholds as dashed lines, one column per local
day. Drawn on a 360-unit-wide view box with 12-unit text (about 10 px once the page's margins
shrink it on a 360 px phone; day names on two lines so they never collide); ``width="100%"``
lets it grow on a desk screen. Gaps (the box was off) break the line instead of drawing a false
straight segment across them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache
from html import escape
from importlib import resources
from itertools import pairwise
from typing import Any

from appliance.emr.i18n import gettext
from appliance.emr.measure_fields import number_text
from appliance.store.utc import aware_utc

WIDTH, HEIGHT = 360, 230
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 12, 40
MAX_POINTS = 170  # about hourly over 7 days: ~2 px per point at 360 px, ~7 KB
GAP = timedelta(minutes=45)
COLOURS = {"line": "#1d4ed8", "band": "#bfdbfe", "grid": "#e5e7eb", "axis": "#374151",
           "low": "#b45309", "critical": "#b91c1c"}


@cache
def labels() -> dict[str, Any]:
    data = resources.files("appliance.emr").joinpath("battery_chart_fr.json").read_text(encoding="utf-8")
    return json.loads(data)


def _translated(texts: Any) -> Any:
    """The French texts of battery_chart_fr.json in the reader's language (extracted through babel.cfg)."""
    if isinstance(texts, dict):
        return {key: _translated(value) for key, value in texts.items()}
    if isinstance(texts, list):
        return [_translated(value) for value in texts]
    return gettext(texts)


def battery_history_svg(
    readings: Iterable[Any],
    *,
    now: datetime | None = None,
    days: int = 7,
    low_v: float | None = None,
    critical_v: float | None = None,
    tz: tzinfo = UTC,
    id_prefix: str = "battery",
) -> str:
    """SVG markup for ``readings`` (objects with ``at``, ``voltage`` and optionally
    ``voltage_min``, ``voltage_max``, ``state``; ``at`` naive UTC as stored, or aware)."""
    text = _translated(labels())
    end = aware_utc(now or datetime.now(UTC))
    start = end - timedelta(days=days)
    points = _downsample([p for p in (_point(r) for r in readings) if start <= p[0] <= end])
    title = text["title"].format(days=days)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(moment: datetime) -> float:
        return LEFT + plot_w * (moment - start).total_seconds() / (end - start).total_seconds()

    volts = [v for p in points for v in (p[2], p[3])] + [v for v in (low_v, critical_v) if v is not None]
    low_axis = math.floor((min(volts, default=11.0) - 0.2) * 2) / 2
    high_axis = math.ceil((max(volts, default=14.0) + 0.2) * 2) / 2
    if high_axis - low_axis < 1:
        high_axis = low_axis + 1

    def y_of(volts_: float) -> float:
        return TOP + plot_h * (high_axis - volts_) / (high_axis - low_axis)

    desc = text["empty"].format(days=days)
    if points:
        last = points[-1]
        desc = text["summary"].format(
            last=_fmt(last[1], 2), state=text["states"].get(last[4], last[4]),
            low=_fmt(min(p[2] for p in points), 2), high=_fmt(max(p[3] for p in points), 2),
        )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'role="img" aria-labelledby="{id_prefix}-title {id_prefix}-desc" '
        f'font-family="sans-serif" font-size="12">',
        f'<title id="{id_prefix}-title">{escape(title)}</title>',
        f'<desc id="{id_prefix}-desc">{escape(desc)}</desc>',
    ]
    step = 0.5 if high_axis - low_axis <= 4 else 1.0
    volts_mark = low_axis
    while volts_mark <= high_axis + 1e-9:
        y = y_of(volts_mark)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
                     f'stroke="{COLOURS["grid"]}"/>')
        parts.append(f'<text x="{LEFT - 3}" y="{y + 3:.1f}" text-anchor="end" fill="{COLOURS["axis"]}">'
                     f'{_fmt(volts_mark)}</text>')
        volts_mark += step
    parts += _day_marks(start, end, tz, x_of, text["days"])
    for key, value in (("low", low_v), ("critical", critical_v)):
        if value is not None and low_axis <= value <= high_axis:
            y = y_of(value)
            parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
                         f'stroke="{COLOURS[key]}" stroke-dasharray="4 3"/>')
            label = escape(text[f"threshold_{key}"].format(volts=_fmt(value)))
            parts.append(f'<text x="{WIDTH - RIGHT - 2}" y="{y - 3:.1f}" text-anchor="end" font-size="11" '
                         f'fill="{COLOURS[key]}">{label}</text>')
    for segment in _segments(points):
        upper = " ".join(f"{x_of(p[0]):.1f},{y_of(p[3]):.1f}" for p in segment)
        lower = " ".join(f"{x_of(p[0]):.1f},{y_of(p[2]):.1f}" for p in reversed(segment))
        parts.append(f'<polygon points="{upper} {lower}" fill="{COLOURS["band"]}" stroke="none"/>')
        line = " ".join(f"{x_of(p[0]):.1f},{y_of(p[1]):.1f}" for p in segment)
        parts.append(f'<polyline points="{line}" fill="none" stroke="{COLOURS["line"]}" '
                     f'stroke-width="1.5" stroke-linejoin="round"/>')
    if not points:
        parts.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" '
                     f'font-size="11" fill="{COLOURS["axis"]}">{escape(desc)}</text>')
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" '
                 f'stroke="{COLOURS["axis"]}" stroke-width="0.5"/>')
    parts.append("</svg>")
    return "\n".join(parts)


Point = tuple[datetime, float, float, float, str]  # at, mean, min, max, state


def _point(reading: Any) -> Point:
    mean = float(reading.voltage)
    low = float(getattr(reading, "voltage_min", None) or mean)
    high = float(getattr(reading, "voltage_max", None) or mean)
    return aware_utc(reading.at), mean, low, high, str(getattr(reading, "state", "unknown"))


def _downsample(points: list[Point]) -> list[Point]:
    """Merge neighbours so at most MAX_POINTS remain: the min/max band keeps the extremes."""
    points.sort(key=lambda p: p[0])
    if len(points) <= MAX_POINTS:
        return points
    size = math.ceil(len(points) / MAX_POINTS)
    merged = []
    for index in range(0, len(points), size):
        group = points[index:index + size]
        merged.append((group[0][0], sum(p[1] for p in group) / len(group), min(p[2] for p in group),
                       max(p[3] for p in group), group[-1][4]))
    return merged


def _segments(points: Sequence[Point]) -> list[list[Point]]:
    """Consecutive points, split where the box recorded nothing for much longer than its step."""
    steps = sorted(b[0] - a[0] for a, b in pairwise(points))
    gap = max(GAP, 2.5 * steps[len(steps) // 2]) if steps else GAP
    segments: list[list[Point]] = []
    for point in points:
        if segments and point[0] - segments[-1][-1][0] <= gap:
            segments[-1].append(point)
        else:
            segments.append([point])
    return segments


def _day_marks(start: datetime, end: datetime, tz: tzinfo, x_of, day_names: list[str]) -> list[str]:
    """A line at each local midnight, and each day's name centred on its visible part."""
    parts = []
    bottom = HEIGHT - BOTTOM
    day_start = start.astimezone(tz)
    while day_start < end:
        midnight = day_start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        day_end = min(midnight, end)
        if day_end - day_start >= timedelta(hours=8):
            x = x_of(day_start + (day_end - day_start) / 2)
            parts.append(f'<text x="{x:.1f}" y="{bottom + 15}" text-anchor="middle" fill="{COLOURS["axis"]}">'
                         f'{escape(day_names[day_start.weekday()])}'
                         f'<tspan x="{x:.1f}" dy="14">{day_start.day}</tspan></text>')
        if midnight < end:
            x = x_of(midnight)
            parts.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{bottom}" '
                         f'stroke="{COLOURS["grid"]}"/>')
        day_start = midnight
    return parts


def _fmt(volts: float, digits: int = 1) -> str:
    return number_text(volts, f".{digits}f")
