"""The dépôt's stock pages: levels with alerts, receipts, a product's lots (count, losses, moves),
and the month's stock lines (start, received, used, losses, end, days out of stock)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from appliance.clinical.pcime import formulary
from appliance.emr.home import Tile
from appliance.emr.i18n import gettext as _
from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.measure_fields import parse_date
from appliance.emr.security import requires
from appliance.emr.submissions import once
from appliance.stock import queries
from appliance.stock.models import MOVE_KINDS, StockLot, StockMove
from appliance.stock.service import StockError, count, receive, remove

bp = Blueprint("stock", __name__, url_prefix="/stock")
MOVES_SHOWN = 50


def _alert_badge() -> str | None:
    alerts = sum(1 for level in queries.levels(dt.date.today()) if level.severity == 0)
    return _("%(n)s en rupture ou périmé(s)", n=alerts) if alerts else None


TILES = (Tile(_l("Stock du dépôt"), "stock.index", "stock.read", order=30, badge=_alert_badge),)


def _int(name: str, errors: dict[str, str]) -> int | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        errors[name] = _("Champ obligatoire.")
        return None
    if not raw.isdigit():
        errors[name] = _("Nombre entier attendu.")
        return None
    return int(raw)


def _date(name: str, errors: dict[str, str], *, required: bool = True) -> dt.date | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        if required:
            errors[name] = _("Champ obligatoire.")
        return None
    parsed = parse_date(raw)
    if parsed is None:
        errors[name] = _("Date attendue (JJ/MM/AAAA).")
    return parsed


@bp.route("/")
@requires("stock.read")
def index():
    today = dt.date.today()
    return render_template("stock/index.html", levels=queries.levels(today), today=today)


@bp.route("/reception", methods=["GET", "POST"])
@requires("stock.manage")
@once
def reception():
    errors: dict[str, str] = {}
    if request.method == "POST":
        quantity = _int("quantity", errors)
        expires_on = _date("expires_on", errors)
        moved_on = _date("moved_on", errors) or dt.date.today()
        if not errors:
            try:
                receive(current_user.actor, request.form.get("medicine", ""), quantity,
                        lot=request.form.get("lot", "")[:60], expires_on=expires_on, moved_on=moved_on,
                        reference=request.form.get("reference", "")[:120])
            except StockError as error:
                errors[error.field] = error.message
            else:
                flash(_("Réception enregistrée."))
                return redirect(url_for("stock.index"))
    return render_template("stock/reception.html", errors=errors, form=request.form,
                           medicines=formulary().medicines, today=dt.date.today())


@bp.route("/produit/<code>")
@requires("stock.read")
def product(code: str):
    return _product_page(code, {})


@bp.route("/produit/<code>", methods=["POST"])
@requires("stock.manage")
@once
def product_move(code: str):
    """An inventory count of one lot, or a loss / an expired lot taken out."""
    errors: dict[str, str] = {}
    lot_id = _int("lot_id", errors)
    try:
        if request.form.get("action") == "compter":
            counted = _int("counted", errors)
            if not errors:
                count(current_user.actor, lot_id, counted, moved_on=dt.date.today(),
                      reason=request.form.get("reason", "")[:300])
                flash(_("Inventaire enregistré."))
        else:
            quantity = _int("quantity", errors)
            if not errors:
                remove(current_user.actor, lot_id, quantity, kind=request.form.get("kind", ""),
                       reason=request.form.get("reason", "")[:300], moved_on=dt.date.today())
                flash(_("Sortie enregistrée."))
    except StockError as error:
        errors[error.field] = error.message
    if errors:
        return _product_page(code, errors), 400
    return redirect(url_for("stock.product", code=code))


def _product_page(code: str, errors: dict[str, str]):
    medicine = formulary().medicines.get(code) or abort(404)
    lots = list(StockLot.select().where(StockLot.medicine == code).order_by(StockLot.expires_on))
    moves = list(StockMove.select().where(StockMove.medicine == code)
                 .order_by(StockMove.moved_on.desc(), StockMove.id.desc()).limit(MOVES_SHOWN))
    return render_template("stock/product.html", medicine=medicine, lots=lots, moves=moves, kinds=MOVE_KINDS,
                           errors=errors, form=request.form, today=dt.date.today())


@bp.route("/mois/<int:year>-<int:month>")
@requires("stock.read")
def month(year: int, month: int):
    if not 1 <= month <= 12 or not 2000 <= year <= 2100:
        abort(404)
    today = dt.date.today()
    lines = queries.month(year, month, today)
    previous = dt.date(year, month, 1) - dt.timedelta(days=1)
    following = dt.date(year, month, 28) + dt.timedelta(days=4)
    return render_template("stock/month.html", lines=lines, year=year, month=month, previous=previous,
                           following=following if following.replace(day=1) <= today else None)
