"""The home page: what each role can open, in one tap.

Areas add their entry with ``add_tile`` when their blueprint module is imported, so the
home page grows with the app without knowing every area.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, render_template

from appliance.emr.security import requires

bp = Blueprint("home", __name__)


@dataclass(frozen=True)
class Tile:
    label: object  # a lazy_gettext string
    endpoint: str
    permission: str
    order: int
    badge: Callable[[], str | None] | None = None  # a short alert beside the label, or None


TILES: list[Tile] = []


def add_tile(label: object, endpoint: str, permission: str, order: int = 50,
             badge: Callable[[], str | None] | None = None) -> None:
    if all(tile.endpoint != endpoint for tile in TILES):
        TILES.append(Tile(label, endpoint, permission, order, badge))
        TILES.sort(key=lambda tile: tile.order)


@bp.route("/")
@requires("home")
def index():
    return render_template("home.html", home_tiles=TILES)
