"""A consultation's prescription, printable, and its hand-over at the dépôt (any consultation: the
PCIME page shows its own with the classifications). Dispensing takes every coded line not yet handed
over, all or none, through the stock's FEFO dispensing; a free "autre" line is not in the stock."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from appliance.emr.i18n import gettext as _
from appliance.emr.security import requires
from appliance.emr.submissions import once
from appliance.patients.models import Consultation, Patient
from appliance.pcime.service import OTHER, saved_lines
from appliance.stock import queries as stock_queries
from appliance.stock.service import DispenseLine, StockError, dispense
from appliance.store.models import User

bp = Blueprint("prescriptions", __name__, url_prefix="/patients/<int:patient_id>/ordonnance")


def _consultation(patient_id: int, consultation_id: int) -> tuple[Patient, Consultation]:
    patient = Patient.get_or_none(Patient.id == patient_id)
    consultation = Consultation.get_or_none((Consultation.id == consultation_id)
                                            & (Consultation.patient == patient_id))
    if patient is None or patient.voided or consultation is None or consultation.voided:
        abort(404)
    return patient, consultation


def hand_over(patient: Patient, consultation: Consultation) -> None:
    """Dispense the consultation's coded lines not yet handed over (all or none), with a flash."""
    lines = saved_lines(consultation.id)
    handed = stock_queries.dispensed([line.prescription.id for line in lines])
    wanted = [DispenseLine(line.item.medicine, line.prescription.quantity, line.prescription.id) for line in lines
              if line.item and line.item.medicine != OTHER and line.prescription.quantity
              and line.prescription.id not in handed]
    if not wanted:
        flash(_("Rien à délivrer : tout a déjà été délivré."), "warning")
        return
    try:
        dispense(current_user.actor, wanted, moved_on=dt.date.today(), patient_id=patient.id,
                 reason=(request.form.get("reason") or "")[:300])
    except StockError as error:
        flash(error.message, "error")
    else:
        flash(_("Médicaments délivrés : le stock est à jour."))


@bp.route("/<int:consultation_id>")
@requires("patients.read")
def show(patient_id: int, consultation_id: int):
    patient, consultation = _consultation(patient_id, consultation_id)
    lines = saved_lines(consultation.id)
    prescriber = User.get_or_none(User.id == (consultation.clinician_id or consultation.author_id))
    return render_template("prescriptions/show.html", patient=patient, consultation=consultation, lines=lines,
                           handed=stock_queries.dispensed([line.prescription.id for line in lines]),
                           prescriber=prescriber,
                           hand_over_url=url_for("prescriptions.deliver", patient_id=patient.id,
                                                 consultation_id=consultation.id))


@bp.route("/<int:consultation_id>/delivrer", methods=["POST"])
@requires("stock.dispense")
@once
def deliver(patient_id: int, consultation_id: int):
    patient, consultation = _consultation(patient_id, consultation_id)
    hand_over(patient, consultation)
    return redirect(url_for("prescriptions.show", patient_id=patient.id, consultation_id=consultation.id))
