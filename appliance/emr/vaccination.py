"""The vaccination session: every dose due today for a child on one form, one tap per dose, all
written in one transaction (``patients.vaccination``); and the vaccination card, printable."""

from __future__ import annotations

import datetime as dt
import functools

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from appliance.clinical import vaccine_checks
from appliance.clinical.schedule_data import load_schedules
from appliance.emr.i18n import gettext as _
from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.patients import live_patient
from appliance.emr.security import TRANSCRIBERS, requires
from appliance.emr.submissions import once
from appliance.emr.visit_forms.immunisation import previous_dose_on
from appliance.followup.models import FollowupItem
from appliance.patients import codes
from appliance.patients.errors import VisitError
from appliance.patients.models import Immunisation, Patient
from appliance.patients.vaccination import NOT_GIVEN_REASONS, not_given_of, record_session

bp = Blueprint("vaccination", __name__, url_prefix="/patients/<int:patient_id>/vaccins")

GIVEN = "donnee"
REASON_LABELS = {"rupture": _l("Non donnée : vaccin en rupture de stock"),
                 "contre_indication": _l("Non donnée : contre-indication"),
                 "refus": _l("Non donnée : refus des parents"),
                 "absent": _l("Non donnée : reportée (enfant malade ou absent)")}


@functools.lru_cache(maxsize=1)
def _antigen_doses() -> dict[str, tuple[str, int]]:
    """Calendar dose code → (antigen of the forms, dose number): ``penta2`` → (``PENTA``, 2)."""
    known = load_schedules().epi.doses_by_code
    found = {}
    for antigen in codes.code_list("antigens").values():
        for number in range(int(antigen.extra["first_dose"]), int(antigen.extra["last_dose"]) + 1):
            code = vaccine_checks.dose_code(antigen.code, number, known)
            if code is not None:
                found.setdefault(code, (antigen.code, number))
    return found


def due_doses(patient: Patient, today: dt.date) -> list[dict]:
    """The doses the follow-up holds as due today, in calendar order: code, antigen, number, label."""
    items = (FollowupItem.select(FollowupItem.rule_id, FollowupItem.label, FollowupItem.due_on)
             .where((FollowupItem.patient == patient.id) & (FollowupItem.programme == "pev")
                    & (FollowupItem.due_on <= today)
                    & (FollowupItem.expires_on.is_null() | (FollowupItem.expires_on > today)))
             .order_by(FollowupItem.due_on, FollowupItem.priority))
    doses = []
    for item in items:
        code = item.rule_id.split(".", 1)[-1]
        if code in _antigen_doses():
            antigen, number = _antigen_doses()[code]
            doses.append({"code": code, "antigen": antigen, "number": number, "label": item.label,
                          "due_on": item.due_on})
    return doses


@bp.route("/seance", methods=["GET", "POST"])
@requires("visits.write")
@once
def session(patient_id: int):
    patient = live_patient(patient_id)
    if current_user.role in TRANSCRIBERS:
        abort(403)  # a session is given, not transcribed: the card's doses go through the one-dose form
    today = dt.date.today()
    doses = due_doses(patient, today)
    errors: dict[str, str] = {}
    if request.method == "POST":
        proposed = request.form.get("codes", "").split()
        if proposed != [dose["code"] for dose in doses]:
            flash(_("Les doses dues ont changé depuis l'ouverture du formulaire (une dose vient d'être "
                    "enregistrée ?) : vérifiez la liste et enregistrez de nouveau."), "warning")
        elif doses:  # with none due, the page says so and nothing is written
            saved = _save(patient, doses, today, errors)
            if saved:
                return saved
    return render_template("vaccination/session.html", patient=patient, doses=doses, errors=errors,
                           reasons={code: str(label) for code, label in REASON_LABELS.items()}, today=today,
                           given=GIVEN, form=request.form)


def _save(patient: Patient, doses: list[dict], today: dt.date, errors: dict[str, str]):
    given, not_given = [], []
    for dose in doses:
        choice = request.form.get(f"dose-{dose['code']}", "")
        if choice == GIVEN:
            refused = vaccine_checks.refusal(dose["antigen"], dose["number"], today, birth=patient.birth_date,
                                             sex=patient.sex, previous_on=previous_dose_on(
                                                 patient, dose["antigen"], dose["number"], today))
            if refused:
                errors[dose["code"]] = refused
            lot = request.form.get(f"lot-{dose['code']}", "").strip()[:40]
            given.append(Immunisation(visit_date=today, antigen=dose["antigen"], dose_number=dose["number"],
                                      lot=lot, given_here=True))
        elif choice in NOT_GIVEN_REASONS:
            not_given.append((dose["antigen"], dose["number"], choice))
        else:
            errors[dose["code"]] = _("Dites si la dose est donnée, ou pourquoi elle ne l'est pas.")
    if errors:
        return None
    try:
        record_session(current_user.actor, patient, today, given=given, not_given=not_given)
    except VisitError as error:
        errors["session"] = error.message
        return None
    flash(_("Séance de vaccination enregistrée. Doses données : %(given)d ; non données : %(missed)d.",
            given=len(given), missed=len(not_given)))
    return redirect(url_for("vaccination.card", patient_id=patient.id))


@bp.route("/carte")
@requires("patients.read")
def card(patient_id: int):
    patient = live_patient(patient_id)
    doses = list(Immunisation.select().where((Immunisation.patient == patient.id)
                                             & (Immunisation.voided == False))  # noqa: E712
                 .order_by(Immunisation.visit_date))
    antigens = codes.code_list("antigens")
    by_antigen: dict[str, list[Immunisation]] = {}
    for dose in doses:
        by_antigen.setdefault(dose.antigen, []).append(dose)
    today = dt.date.today()
    return render_template("vaccination/card.html", patient=patient, antigens=antigens, by_antigen=by_antigen,
                           not_given=not_given_of(patient.id), due=due_doses(patient, today + dt.timedelta(days=7)),
                           reasons={code: str(label) for code, label in REASON_LABELS.items()}, today=today)
