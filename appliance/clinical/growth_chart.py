"""Server-rendered SVG growth chart: WHO reference curves (−3, −2, 0, +2, +3 SD) and the child's points.

No JavaScript and no chart library: the EMR inlines the returned string in the child's page. The
drawing uses a 360×300 viewBox and ``width="100%"`` so it fills a 360 px phone screen and scales
up on a laptop; every text is at least 11 units high.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from appliance.clinical import growth

LABELS_FILE = Path(__file__).with_name("data") / "growth_chart.toml"

WIDTH, HEIGHT = 360, 300
LEFT, RIGHT, TOP, BOTTOM = 42, 26, 26, 40  # margins around the plot area
CURVES = ((-3, "m3", "#212121"), (-2, "m2", "#c62828"), (0, "0", "#2e7d32"), (2, "p2", "#c62828"),
          (3, "p3", "#212121"))
Y_STEPS = (0.5, 1, 2, 5, 10, 20)


@dataclass(frozen=True, slots=True)
class _Axis:
    low: float
    high: float
    start: float  # pixel of ``low``
    end: float  # pixel of ``high``

    def pixel(self, value: float) -> float:
        return self.start + (value - self.low) / (self.high - self.low) * (self.end - self.start)


@cache
def _labels() -> dict:
    with LABELS_FILE.open("rb") as handle:
        return tomllib.load(handle)


def render_growth_chart(indicator: growth.Indicator, sex: growth.Sex, points: Sequence[tuple[float, float]] = (),
                        *, max_months: int | None = None, number: Callable[[float], str] | None = None,
                        translate: Callable[[str], str] | None = None) -> str:
    """An SVG string for one indicator and sex.

    ``points`` are (age in days, value) for wfa/lhfa/bfa, or (length/height in cm, weight in kg) for
    wfl/wfh. Age charts span 0-24 months when every point is younger than 2 years (easier to read
    for infants), else 0-60 months; ``max_months`` forces the span. Points outside the chart are
    left out rather than drawn on its edge. ``number`` writes a value in the reader's language (the
    EMR passes its own; without it, the decimal comma of this file's French texts). ``translate``
    gives each French text of ``growth_chart.toml`` in the reader's language (the EMR passes its
    gettext; the catalogue gets these texts through babel.cfg).
    """
    number = number or _number
    text = translate or str
    labels = _labels()
    texts = labels["indicators"][indicator]
    by_length = indicator in ("wfl", "wfh")
    table = growth.table(indicator, sex)
    if by_length:
        x_low, x_high = table.first, table.last
        ticks_x = list(range(math.ceil(x_low / 5) * 5, int(x_high) + 1, 5))
        x_label = text(labels["axis"]["length_cm" if indicator == "wfl" else "height_cm"])
        to_x = float
        samples = [x_low + step * 0.5 for step in range(int((x_high - x_low) * 2) + 1)]
    else:
        if max_months is None:
            young = all(days < 24 * growth.DAYS_PER_MONTH for days, _ in points)
            max_months = 24 if young else 60
        x_low, x_high = 0, max_months
        ticks_x = list(range(0, max_months + 1, 3 if max_months <= 24 else 6))
        x_label = text(labels["axis"]["age_months"])
        to_x = _months
        last_day = min(table.last, max_months * growth.DAYS_PER_MONTH)
        samples = [*range(0, math.ceil(last_day), 7 if max_months <= 24 else 15), last_day]
    curves = {z: [(to_x(x), growth.value_at_z(indicator, sex, x, z)) for x in samples] for z, _, _ in CURVES}
    shown = [(to_x(x), y) for x, y in points if x_low <= to_x(x) <= x_high]
    y_values = [y for curve in curves.values() for _, y in curve] + [y for _, y in shown]
    y_step = next((step for step in Y_STEPS if (max(y_values) - min(y_values)) / step <= 10), Y_STEPS[-1])
    y_low = math.floor(min(y_values) / y_step) * y_step
    y_high = math.ceil(max(y_values) / y_step) * y_step
    x_axis = _Axis(x_low, x_high, LEFT, WIDTH - RIGHT)
    y_axis = _Axis(y_low, y_high, HEIGHT - BOTTOM, TOP)
    title = text(texts["title"]).format(sex=text(labels["sex"][sex]))
    unit = text(texts["unit"])

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-label="{escape(title)}" class="growth-chart" data-indicator="{indicator}" data-sex="{sex}" '
        'font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">{escape(title)}</text>',
        f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}" '
        'fill="#fff" stroke="#9e9e9e"/>',
    ]
    for tick in ticks_x:
        x = _r(x_axis.pixel(tick))
        parts.append(f'<line class="grid-x" data-value="{tick}" x1="{x}" y1="{TOP}" x2="{x}" '
                     f'y2="{HEIGHT - BOTTOM}" stroke="#e0e0e0"/>')
        parts.append(f'<text x="{x}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle">{tick}</text>')
    for index in range(round((y_high - y_low) / y_step) + 1):
        value = round(y_low + index * y_step, 6)
        y = _r(y_axis.pixel(value))
        parts.append(f'<line class="grid-y" data-value="{value:g}" x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" '
                     f'y2="{y}" stroke="#e0e0e0"/>')
        parts.append(f'<text x="{LEFT - 4}" y="{_r(y + 4)}" text-anchor="end">{number(value)}</text>')
    label_y = _spread([y_axis.pixel(curves[z][-1][1]) + 4 for z, _, _ in CURVES], gap=11)
    for (z, name, colour), text_y in zip(CURVES, label_y, strict=True):
        coordinates = " ".join(f"{_r(x_axis.pixel(x))},{_r(y_axis.pixel(y))}" for x, y in curves[z])
        dash = ' stroke-dasharray="4 3"' if abs(z) == 3 else ""
        parts.append(f'<polyline class="sd sd-{name}" data-z="{z}" points="{coordinates}" fill="none" '
                     f'stroke="{colour}" stroke-width="1.5"{dash}/>')
        parts.append(f'<text x="{_r(x_axis.pixel(curves[z][-1][0]) + 3)}" y="{_r(text_y)}" fill="{colour}">'
                     f"{_signed(z)}</text>")
    if len(shown) > 1:
        coordinates = " ".join(f"{_r(x_axis.pixel(x))},{_r(y_axis.pixel(y))}" for x, y in sorted(shown))
        parts.append(f'<polyline class="child" points="{coordinates}" fill="none" stroke="#1565c0" '
                     'stroke-width="2"/>')
    for x, y in sorted(shown):
        where = (text(labels["points"]["length"]).format(x=number(x)) if by_length
                 else text(labels["points"]["age"]).format(months=number(round(x, 1))))
        parts.append(f'<circle class="point" cx="{_r(x_axis.pixel(x))}" cy="{_r(y_axis.pixel(y))}" r="3.5" '
                     f'fill="#1565c0"><title>{escape(where)} : {number(y)} {escape(unit)}</title></circle>')
    parts.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 8}" text-anchor="middle">'
                 f"{escape(x_label)}</text>")
    parts.append(f'<text transform="translate(12 {(TOP + HEIGHT - BOTTOM) / 2}) rotate(-90)" text-anchor="middle">'
                 f'{escape(text(texts["y_label"]))}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _spread(positions: list[float], gap: float) -> list[float]:
    """Curve labels from the lowest curve (largest y) upwards, at least ``gap`` apart so none overlap."""
    spread = []
    for position in positions:
        spread.append(min(position, spread[-1] - gap) if spread else position)
    return spread


def _months(days: float) -> float:
    return days / growth.DAYS_PER_MONTH


def _r(value: float) -> float:
    return round(value, 1)


def _number(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def _signed(z: int) -> str:
    return "0" if z == 0 else f"{'+' if z > 0 else '−'}{abs(z)}"
