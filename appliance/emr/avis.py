"""« Demander un avis » to a district clinician: the question and up to two photos from the chart,
queued in the outbox (``appliance.link``); the answer shown on the chart and on the asker's home
page until he opens it."""

from __future__ import annotations

import datetime as dt
import json

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from appliance.emr.home import Tile
from appliance.emr.i18n import gettext as _
from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.patients import age_text, live_patient
from appliance.emr.security import can, requires
from appliance.emr.submissions import once
from appliance.link import service
from appliance.link.models import AvisRequest
from appliance.patients.models import Patient

bp = Blueprint("avis", __name__)


def _unseen_badge() -> str | None:
    count = len(service.unseen_answers(current_user.id))
    return _("%(n)d réponse(s) à lire", n=count) if count else None


TILES = (Tile(_l("Avis du district"), "avis.mine", "avis.ask", order=24, badge=_unseen_badge),)


def chart_extras(patient: Patient) -> dict:
    """For the patient chart (the ``chart_extras`` hook): the requests and their answers, the button."""
    if not can("avis.ask"):
        return {"avis_requests": [], "avis_new_url": None}
    return {"avis_requests": service.of_patient(patient.id),
            "avis_new_url": url_for("avis.new", patient_id=patient.id)}


@bp.route("/patients/<int:patient_id>/avis", methods=["GET", "POST"])
@requires("avis.ask")
@once
def new(patient_id: int):
    patient = live_patient(patient_id)
    problems: dict[str, str] = {}
    question = ""
    if request.method == "POST":
        question = request.form.get("question", "")
        photos = [upload.read() for upload in request.files.getlist("photos") if upload and upload.filename]
        cfg = current_app.config["APPLIANCE"]
        try:
            asked = service.ask(service.AskedBy(current_user.actor, current_user.full_name), patient, question,
                                photos, site_id=cfg.site.id, age=age_text(patient.birth_date),
                                today=dt.date.today())
        except service.AvisError as error:
            problems = error.problems
        else:
            flash(_("Demande d'avis enregistrée : elle partira au district à la prochaine connexion."))
            return redirect(url_for("avis.show", request_id=asked.id))
    summary, _weight = service.chart_summary(patient, dt.date.today())
    return render_template("avis/new.html", patient=patient, problems=problems, question=question, summary=summary,
                           max_photos=service.MAX_PHOTOS), 422 if problems else 200


@bp.route("/avis/<int:request_id>")
@requires("avis.ask")
def show(request_id: int):
    asked = AvisRequest.get_or_none(AvisRequest.id == request_id)
    if asked is None:
        abort(404)
    if asked.asked_by_id == current_user.id:
        service.mark_seen(asked.id, current_user.id)
    return render_template("avis/show.html", asked=asked, patient=Patient.get_by_id(asked.patient_id),
                           summary=json.loads(asked.summary))


@bp.route("/avis")
@requires("avis.ask")
def mine():
    """The asker's requests, unread answers first."""
    rows = list(AvisRequest.select().where(AvisRequest.asked_by == current_user.id)
                .order_by(AvisRequest.asked_at.desc()).limit(100))
    rows.sort(key=lambda row: not (row.answered_at and not row.seen_at))
    patients = {patient.id: patient for patient in Patient.select().where(Patient.id.in_([r.patient_id for r in rows]))}
    return render_template("avis/mine.html", rows=rows, patients=patients)
