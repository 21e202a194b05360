"""The outbox in the EMR: what waits, what was sent, the dead letters, and the administrator's
requeue or abandon. Every kind of message is listed (reports, telemetry events, off-site backups);
a report's row links to its month, whose journey page (``emr.reports``) follows one report."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from appliance.emr.home import Tile
from appliance.emr.i18n import gettext as _
from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.i18n import ngettext
from appliance.emr.reports import STEP_LABELS, journey_step, local_time
from appliance.emr.security import requires
from appliance.outbox import queue
from appliance.outbox.models import ItemState, OutboxItem
from appliance.outbox.outcome import OutcomeKind
from appliance.reports.models import ReportRecord

bp = Blueprint("outbox", __name__)

TILES = (
    Tile(_l("Envois vers DHIS2"), "outbox.index", "outbox.read", order=61),
)  # on the home page (composed in create_app)

RECENT_SENT = 20


def waiting_text(seconds: float) -> str:
    """How long an item has waited, as staff say it: "moins d'une heure", "3 h", "2 j" (not "0.0 h")."""
    hours = int(seconds // 3600)
    if hours < 1:
        return _("moins d'une heure")
    if hours < 48:
        return ngettext("%(num)s h", "%(num)s h", hours)
    return ngettext("%(num)s j", "%(num)s j", hours // 24)


def _report_period(ref: str | None) -> str | None:
    if not ref or not ref.startswith("report:") or not ref[7:].isdigit():
        return None
    record = ReportRecord.get_or_none(ReportRecord.id == int(ref[7:]))
    return record.period if record else None


def _item_row(item: OutboxItem) -> dict:
    conflicts = 0
    if item.last_outcome == OutcomeKind.DELIVERED_WITH_CONFLICTS.value:
        attempt = queue.attempts_of(item.id)[-1]
        conflicts = len(attempt.detail_json().get("conflicts", []))
    step = journey_step(item.state, item.last_outcome, conflicts > 0)
    return {
        "item": item,
        "kind": queue.kind_label(item.kind),
        "period": _report_period(item.ref),
        "state": STEP_LABELS[step],
        "step": step,
        "conflicts": conflicts,
        "created_at": local_time(item.created_at),
        "updated_at": local_time(item.updated_at),
        "next_attempt_at": local_time(item.next_attempt_at),
    }


@bp.route("/envois/")
@requires("outbox.read")
def index():
    waiting = OutboxItem.select().where(OutboxItem.state.in_(ItemState.WAITING)).order_by(OutboxItem.id)
    dead = OutboxItem.select().where(OutboxItem.state == ItemState.DEAD).order_by(OutboxItem.updated_at.desc())
    sent = (OutboxItem.select().where(OutboxItem.state == ItemState.DELIVERED)
            .order_by(OutboxItem.delivered_at.desc()).limit(RECENT_SENT))
    state = queue.status()
    return render_template(
        "outbox/index.html", status=state,
        oldest=None if state.oldest_age_s is None else waiting_text(state.oldest_age_s),
        waiting=[_item_row(item) for item in waiting], dead=[_item_row(item) for item in dead],
        sent=[_item_row(item) for item in sent], configured=current_app.config["APPLIANCE"].dhis2.configured,
        last_success={queue.kind_label(kind): local_time(when) for kind, when in state.last_success_at.items()},
    )


@bp.route("/envois/<int:item_id>/renvoyer", methods=["POST"])
@requires("outbox.manage")
def requeue(item_id: int):
    try:
        queue.requeue(item_id, current_user.actor)
    except queue.OutboxActionError as exc:
        flash(str(exc), "error")
    else:
        flash(_("Envoi n° %(id)s remis dans la file : il partira à la prochaine fenêtre d'envoi.", id=item_id))
    return redirect(url_for("outbox.index"))


@bp.route("/envois/<int:item_id>/abandonner", methods=["POST"])
@requires("outbox.manage")
def abandon(item_id: int):
    try:
        queue.abandon(item_id, current_user.actor, request.form.get("motif", ""))
    except queue.OutboxActionError as exc:
        flash(str(exc), "error")
    else:
        flash(_("Envoi n° %(id)s abandonné.", id=item_id))
    return redirect(url_for("outbox.index"))
