"""The home page: what each role can open, in one tap.

Each area declares its ``TILES``; ``create_app`` adds them to the app's hook registry
(``home_tile``), so the home page grows with the app without knowing every area.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, current_app, render_template

from appliance.emr.security import requires
from appliance.hooks import HOME_TILE

bp = Blueprint("home", __name__)


@dataclass(frozen=True)
class Tile:
    label: object  # a lazy_gettext string
    endpoint: str
    permission: str
    order: int = 50
    badge: Callable[[], str | None] | None = None  # a short alert beside the label, or None




@bp.route("/")
@requires("home")
def index():
    tiles = sorted(current_app.extensions["hooks"].each(HOME_TILE), key=lambda tile: tile.order)
    return render_template("home.html", home_tiles=tiles)
