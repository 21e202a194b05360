"""Referrals on the record: "Référer" from a visit (a PCIME pink classification fills the form),
the letter printed from the stored referral, the pending list until the counter-referral is typed
from the hospital's slip, and the patient's referrals on the chart (``chart_extras``)."""

from __future__ import annotations

import datetime as dt
import json

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectField, TextAreaField

from appliance.emr.home import Tile
from appliance.emr.i18n import gettext as _
from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.measure_fields import FrenchDateField
from appliance.emr.patients import age_text, live_patient
from appliance.emr.security import can, requires
from appliance.emr.submissions import once
from appliance.link.referrals import queue_referral
from appliance.patients import codes
from appliance.patients.models import Consultation, Patient
from appliance.pcime.models import PcimeAssessment
from appliance.pcime.service import saved_lines
from appliance.referrals import service
from appliance.referrals.models import Referral
from appliance.store.db import database
from appliance.store.models import utcnow

bp = Blueprint("referrals", __name__)

URGENCY_LABELS = {"urgente": _l("Urgente"), "normale": _l("Normale")}
TRANSPORT_LABELS = {"ambulance": _l("Ambulance"), "vehicule": _l("Véhicule"), "moto": _l("Moto"),
                    "charrette": _l("Charrette"), "pied": _l("À pied"), "autre": _l("Autre")}


def _overdue_badge() -> str | None:
    settings = current_app.config["APPLIANCE"].referrals
    count = service.overdue_count(dt.date.today(), settings.overdue_after_days)
    return _("%(n)d sans nouvelles", n=count) if count else None


TILES = (Tile(_l("Références en attente"), "referrals.pending", "referrals.read", order=23, badge=_overdue_badge),)


def chart_extras(patient: Patient) -> dict:
    """For the patient chart (the ``chart_extras`` hook, composed in ``create_app``): the patient's
    referrals and the button to refer."""
    if not can("referrals.read"):
        return {"referrals": [], "referral_new_url": None}
    return {"referrals": service.of_patient(patient.id),
            "referral_new_url": url_for("referrals.new", patient_id=patient.id) if can("referrals.write") else None}


class ReferralForm(FlaskForm):
    referred_on = FrenchDateField(_l("Date de la référence"), required=True, default=dt.date.today)
    destination = SelectField(_l("Destination"), choices=[], validate_choice=False)
    urgency = RadioField(_l("Urgence"), choices=list(URGENCY_LABELS.items()), default="urgente",
                         validate_choice=False)
    evacuation = BooleanField(_l("Évacuation (transport organisé par le centre)"))
    transport = RadioField(_l("Transport"), choices=list(TRANSPORT_LABELS.items()), validate_choice=False)
    reason = TextAreaField(_l("Motif de la référence (ce qui a été trouvé)"))
    given_before = TextAreaField(_l("Ce qui a été donné avant le transfert"))
    consultation = HiddenField()

    def add_error(self, field_name: str, message) -> None:
        field = getattr(self, field_name, self.reason)
        field.errors = [*field.errors, message] if message not in field.errors else list(field.errors)


class CounterForm(FlaskForm):
    returned_on = FrenchDateField(_l("Date du retour (ou de la fiche reçue)"), required=True, default=dt.date.today)
    findings = TextAreaField(_l("Ce que l'hôpital a trouvé (diagnostic)"))
    care_given = TextAreaField(_l("Ce qui a été fait et la conduite à tenir au retour"))

    def add_error(self, field_name: str, message) -> None:
        field = getattr(self, field_name, self.findings)
        field.errors = [*field.errors, message] if message not in field.errors else list(field.errors)


def _referral(referral_id: int) -> Referral:
    referral = Referral.get_or_none((Referral.id == referral_id) & (Referral.voided == False))  # noqa: E712
    if referral is None:
        abort(404)
    return referral


def _from_consultation(patient: Patient, consultation_id: int) -> tuple[str, str]:
    """Reason and treatment before transfer, from a consultation of this patient: its PCIME
    classifications other than green (pink first), else its diagnosis; its prescription lines."""
    consultation = Consultation.get_or_none((Consultation.id == consultation_id)
                                            & (Consultation.patient == patient.id))
    if consultation is None or consultation.voided:
        return "", ""
    assessment = PcimeAssessment.get_or_none(PcimeAssessment.consultation == consultation.id)
    if assessment is not None:
        found = [f"{item['label']} : {' ; '.join(item['reasons'])}" for item in json.loads(assessment.classifications)
                 if item["colour"] != "vert"]
    else:
        found = [text for text in (codes.label("diagnoses", consultation.diagnosis_code), consultation.notes) if text]
    given = [f"{line.prescription.drug}" + (f" : {line.prescription.dosage}" if line.prescription.dosage else "")
             for line in saved_lines(consultation.id)]
    return "\n".join(found), "\n".join(given)


@bp.route("/patients/<int:patient_id>/referer", methods=["GET", "POST"])
@requires("referrals.write")
@once
def new(patient_id: int):
    patient = live_patient(patient_id)
    settings = current_app.config["APPLIANCE"].referrals
    form = ReferralForm()
    form.destination.choices = [(name, name) for name in settings.destinations]
    if request.method == "GET":
        consultation_id = request.args.get("consultation", type=int)
        if consultation_id:
            form.consultation.data = str(consultation_id)
            form.reason.data, form.given_before.data = _from_consultation(patient, consultation_id)
    elif form.validate():
        started = utcnow()
        consultation = (form.consultation.data or "").strip()
        new_referral = service.NewReferral(
            referred_on=form.referred_on.data, reason=form.reason.data or "", urgency=form.urgency.data or "",
            evacuation=bool(form.evacuation.data), destination=form.destination.data or "",
            transport=form.transport.data or "", given_before=form.given_before.data or "",
            consultation_id=int(consultation) if consultation.isdigit() else None)
        try:
            with database.atomic():  # the referral and its announcement to the district, together
                referral = service.refer(current_user.actor, patient, new_referral, settings.destinations,
                                         dt.date.today())
                if referral.created_at >= started:  # new (not the same form sent twice)
                    queue_referral(referral, patient, age_text(patient.birth_date))
        except service.ReferralError as error:
            for field, message in error.problems.items():
                form.add_error(field, message)
        else:
            flash(_("Référence enregistrée : imprimez la fiche pour le patient."))
            return redirect(url_for("referrals.letter", referral_id=referral.id))
    return render_template("referrals/new.html", form=form, patient=patient)


@bp.route("/references/<int:referral_id>")
@requires("referrals.read")
def letter(referral_id: int):
    """The referral letter, printed from the stored record (and its counter-referral once back)."""
    referral = _referral(referral_id)
    patient = Patient.get_by_id(referral.patient_id)
    return render_template("referrals/letter.html", referral=referral, patient=patient,
                           site=current_app.config["APPLIANCE"].site, urgencies=URGENCY_LABELS,
                           transports=TRANSPORT_LABELS)


@bp.route("/references")
@requires("referrals.read")
def pending():
    settings = current_app.config["APPLIANCE"].referrals
    rows = service.pending(dt.date.today(), settings.overdue_after_days)
    return render_template("referrals/pending.html", rows=rows, overdue_after_days=settings.overdue_after_days,
                           urgencies=URGENCY_LABELS)


@bp.route("/references/<int:referral_id>/contre-reference", methods=["GET", "POST"])
@requires("referrals.counter")
@once
def counter(referral_id: int):
    """Type the counter-referral from the hospital's slip: it closes the referral."""
    referral = _referral(referral_id)
    patient = Patient.get_by_id(referral.patient_id)
    form = CounterForm()
    if referral.returned_on is not None:
        flash(_("La contre-référence de cette référence est déjà enregistrée."), "warning")
        return redirect(url_for("referrals.letter", referral_id=referral.id))
    if request.method == "POST" and form.validate():
        counter = service.CounterReferral(returned_on=form.returned_on.data, findings=form.findings.data or "",
                                          care_given=form.care_given.data or "")
        try:
            service.record_counter_referral(current_user.actor, referral.id, counter, dt.date.today())
        except service.ReferralError as error:
            for field, message in error.problems.items():
                form.add_error(field, message)
        else:
            flash(_("Contre-référence enregistrée : la référence est close."))
            return redirect(url_for("referrals.pending"))
    return render_template("referrals/counter.html", form=form, referral=referral, patient=patient)
