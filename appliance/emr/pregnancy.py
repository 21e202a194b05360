"""The pregnancy on the chart and its end without a delivery here.

The chart's pregnancy box (a ``chart_extras`` hook): DPA, gestational age today, the number the
next contact will have, what is due at this contact, the risk factors; and the page that closes a
pregnancy by a loss (miscarriage, abortion, ectopic, fetal death with a birth elsewhere): the
kinds and their gestational-age bounds are ``clinical/data/pregnancy_loss.toml``'s.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField
from wtforms.validators import DataRequired, Length

from appliance.emr.i18n import gettext as _
from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.measure_fields import FrenchDateField
from appliance.emr.patients import live_patient
from appliance.emr.security import can, requires
from appliance.emr.submissions import once
from appliance.followup import queries
from appliance.patients import pregnancies
from appliance.patients.errors import VisitError
from appliance.patients.models import AntenatalVisit, Patient, Pregnancy

bp = Blueprint("pregnancy", __name__, url_prefix="/patients")

RECENT_LOSS_DAYS = 42  # a loss stays on the chart (and can be undone there) during the post-abortion period


def chart_extras(patient: Patient) -> dict:
    if patient.sex != "F":
        return {}
    pregnancy = pregnancies.current(patient.id)
    today = dt.date.today()
    if pregnancy is None:
        return _recent_loss(patient, today)
    contacts = AntenatalVisit.select().where((AntenatalVisit.pregnancy == pregnancy.id)
                                             & (AntenatalVisit.voided == False)).count()  # noqa: E712
    due = [item for item in queries.patient_items(patient.id, today) if item.programme == "cpn"]
    risks = [reason for alert in queries.patient_alerts(patient.id, today) if alert.kind == "grossesse"
             for reason in alert.reasons]
    return {"pregnancy": {"record": pregnancy, "due_date": pregnancy.due_date(), "weeks": pregnancy.weeks_on(today),
                          "dated_by_ultrasound": pregnancy.ultrasound_on is not None, "contacts": contacts,
                          "next_contact": contacts + 1, "due": due, "risks": risks}}


def _recent_loss(patient: Patient, today: dt.date) -> dict:
    latest = pregnancies.latest(patient.id)
    if (latest is None or latest.end_reason not in pregnancies.LOSS_KINDS
            or (today - latest.ended_on).days > RECENT_LOSS_DAYS):
        return {}
    return {"pregnancy_loss": {"record": latest, "label": pregnancies.LOSS_KINDS[latest.end_reason].label}}


class LossForm(FlaskForm):
    ended_on = FrenchDateField(_l("Date de la fin de grossesse"), required=True)
    end_reason = RadioField(_l("Issue"), choices=[], validate_choice=False,
                            validators=[DataRequired(_l("Choisissez l'issue de la grossesse."))])


class UndoLossForm(FlaskForm):
    reason = StringField(_l("Motif de l'annulation"), validators=[DataRequired(_l("Indiquez un motif.")),
                                                                 Length(max=200)])


def _woman(patient_id: int) -> Patient:
    patient = live_patient(patient_id)
    if patient.sex != "F":
        abort(404)
    return patient


@bp.route("/<int:patient_id>/grossesse/fin", methods=["GET", "POST"])
@requires("visits.write")
@once
def loss(patient_id: int):
    """Close her open pregnancy by a loss; with none open, the loss recorded last (to undo it)."""
    patient = _woman(patient_id)
    pregnancy = pregnancies.current(patient.id)
    form = LossForm()
    form.end_reason.choices = [(code, kind.label) for code, kind in pregnancies.LOSS_KINDS.items()]
    if pregnancy is not None and request.method == "POST" and form.validate():
        try:
            pregnancies.end_by_loss(current_user.actor, pregnancy, form.ended_on.data, form.end_reason.data,
                                    dt.date.today())
        except VisitError as error:
            getattr(form, error.field).errors.append(error.message)
        else:
            flash(_("Grossesse close : %(outcome)s.", outcome=pregnancies.LOSS_KINDS[form.end_reason.data].label))
            return redirect(url_for("patients.chart", patient_id=patient.id))
    ended = None if pregnancy is not None else _recent_loss(patient, dt.date.today()).get("pregnancy_loss")
    return render_template("pregnancy/loss.html", patient=patient, pregnancy=pregnancy, form=form,
                           kinds=pregnancies.LOSS_KINDS, ended=ended, undo_form=UndoLossForm(),
                           can_undo=can("visits.void"),
                           weeks=pregnancy.weeks_on(dt.date.today()) if pregnancy is not None else None)


@bp.route("/<int:patient_id>/grossesse/<int:pregnancy_id>/reouvrir", methods=["POST"])
@requires("visits.void")
@once
def undo_loss(patient_id: int, pregnancy_id: int):
    """A loss recorded by mistake (wrong woman, wrong pregnancy): the pregnancy opens again."""
    patient = _woman(patient_id)
    pregnancy = Pregnancy.get_or_none((Pregnancy.id == pregnancy_id) & (Pregnancy.patient == patient.id))
    if pregnancy is None:
        abort(404)
    form = UndoLossForm()
    if not form.validate():
        flash(_("Rien n'a été changé : indiquez un motif."), "error")
        return redirect(url_for("pregnancy.loss", patient_id=patient.id))
    try:
        pregnancies.undo_loss(current_user.actor, pregnancy, form.reason.data)
    except VisitError as error:
        flash(error.message, "error")
        return redirect(url_for("pregnancy.loss", patient_id=patient.id))
    flash(_("La fin de grossesse est annulée : la grossesse est de nouveau en cours."))
    return redirect(url_for("patients.chart", patient_id=patient.id))
