"""The home page: today's work for the user's role first, then what each role can open, in one tap.

Each area declares its ``TILES`` and, when it has work to show, a ``TODAY`` function; ``create_app``
adds them to the app's hook registry (``home_tile``, ``home_today``), so the home page grows with
the app without knowing every area. Urgent sections come first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, current_app, render_template

from appliance.emr.security import requires
from appliance.hooks import HOME_TILE, HOME_TODAY

bp = Blueprint("home", __name__)


@dataclass(frozen=True)
class Tile:
    label: object  # a lazy_gettext string
    endpoint: str
    permission: str
    order: int = 50
    badge: Callable[[], str | None] | None = None  # a short alert beside the label, or None



@dataclass(frozen=True)
class TodayLine:
    text: str
    url: str
    note: str = ""  # what is due, or why it is urgent
    urgent: bool = False


@dataclass(frozen=True)
class Today:
    """One section of the home page: how many, the first few, and the full list's address."""

    title: str
    count: int
    detail: str  # the count in words: "3 cette semaine · 12 en retard"
    lines: tuple[TodayLine, ...]
    more_url: str
    order: int = 50
    urgent: bool = False  # shown first, in red
    empty: str = ""  # said when the count is nought


@bp.route("/")
@requires("home")
def index():
    registry = current_app.extensions["hooks"]
    tiles = sorted(registry.each(HOME_TILE), key=lambda tile: tile.order)
    sections = [section for section in registry.call(HOME_TODAY, dt.date.today()) if section is not None]
    sections.sort(key=lambda section: (not (section.urgent and section.count), section.order))
    return render_template("home.html", home_tiles=tiles, sections=sections)
