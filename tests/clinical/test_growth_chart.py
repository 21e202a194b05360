"""The SVG growth chart is valid XML, phone-sized, and puts curves and points where the axes say."""

import xml.etree.ElementTree as ET

import pytest

from appliance.clinical.growth import DAYS_PER_MONTH, value_at_z
from appliance.clinical.growth_chart import render_growth_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg):
    return ET.fromstring(svg)


def grid(root, axis):
    lines = root.findall(f"{SVG}line[@class='grid-{axis}']")
    key = "x1" if axis == "x" else "y1"
    return {float(line.get("data-value")): float(line.get(key)) for line in lines}


def pixel(ticks, value):
    """Where a value falls, by linear interpolation between the two nearest axis lines."""
    below = max(tick for tick in ticks if tick <= value)
    above = min(tick for tick in ticks if tick >= value)
    if below == above:
        return ticks[below]
    return ticks[below] + (value - below) / (above - below) * (ticks[above] - ticks[below])


def polyline(root, z):
    line = root.find(f"{SVG}polyline[@data-z='{z}']")
    return [tuple(map(float, pair.split(","))) for pair in line.get("points").split()]


def test_valid_svg_sized_for_a_phone_with_french_labels():
    root = parse(render_growth_chart("wfa", "F", [(0, 3.2), (365, 9.0)]))
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox") == "0 0 360 300"
    assert root.get("width") == "100%"
    texts = [element.text for element in root.iter(f"{SVG}text")]
    assert "Poids pour l'âge, filles" in texts
    assert "Âge (mois)" in texts and "Poids (kg)" in texts
    assert {"−3", "−2", "0", "+2", "+3"} <= set(texts)
    assert not root.findall(f".//{SVG}script")
    assert all(float(element.get("font-size", root.get("font-size"))) >= 11 for element in root.iter(f"{SVG}text"))


def test_points_land_where_the_axes_say():
    points = [(0, 3.2), (round(6 * DAYS_PER_MONTH), 7.0), (round(12 * DAYS_PER_MONTH), 9.0)]
    root = parse(render_growth_chart("wfa", "M", points))
    x_ticks, y_ticks = grid(root, "x"), grid(root, "y")
    circles = root.findall(f"{SVG}circle[@class='point']")
    assert len(circles) == 3
    for (days, kg), circle in zip(points, circles, strict=True):
        assert float(circle.get("cx")) == pytest.approx(pixel(x_ticks, days / DAYS_PER_MONTH), abs=0.15)
        assert float(circle.get("cy")) == pytest.approx(pixel(y_ticks, kg), abs=0.15)
    assert circles[2].find(f"{SVG}title").text == "12 mois : 9 kg"
    assert root.find(f"{SVG}polyline[@class='child']") is not None


def test_who_curves_follow_the_standard():
    root = parse(render_growth_chart("wfa", "M", []))
    x_ticks, y_ticks = grid(root, "x"), grid(root, "y")
    assert max(x_ticks) == 24  # no point: infant chart 0-24 months
    for z in (-3, -2, 0, 2, 3):
        first_x, first_y = polyline(root, z)[0]
        assert first_x == pytest.approx(pixel(x_ticks, 0), abs=0.15)
        assert first_y == pytest.approx(pixel(y_ticks, value_at_z("wfa", "M", 0, z)), abs=0.15)
    # The median at birth is WHO's 3.3464 kg for boys; the curves are ordered -3 below +3.
    assert polyline(root, 0)[0][1] == pytest.approx(pixel(y_ticks, 3.3464), abs=0.15)
    assert polyline(root, -3)[0][1] > polyline(root, 0)[0][1] > polyline(root, 3)[0][1]


def test_older_child_gets_the_five_year_chart_and_points_outside_are_left_out():
    root = parse(render_growth_chart("lhfa", "F", [(900, 85.0), (2000, 110.0)]))
    assert max(grid(root, "x")) == 60
    assert len(root.findall(f"{SVG}circle")) == 1  # 2000 days is past the standard


def test_weight_for_length_chart_uses_length_on_the_x_axis():
    root = parse(render_growth_chart("wfl", "M", [(70.0, 8.0)]))
    x_ticks, y_ticks = grid(root, "x"), grid(root, "y")
    assert (min(x_ticks), max(x_ticks)) == (45, 110)
    circle = root.find(f"{SVG}circle")
    assert float(circle.get("cx")) == pytest.approx(x_ticks[70], abs=0.15)
    assert float(circle.get("cy")) == pytest.approx(pixel(y_ticks, 8.0), abs=0.15)
    assert "Taille couchée (cm)" in [element.text for element in root.iter(f"{SVG}text")]
    assert circle.find(f"{SVG}title").text == "70 cm : 8 kg"
