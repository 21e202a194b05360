"""Visit forms of every programme: record, correct (the previous version stays in the audit
trail), view the history, void an entry made by mistake."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from appliance.emr.i18n import gettext as _
from appliance.emr.input import storable_id
from appliance.emr.patient_forms import VoidForm
from appliance.emr.patients import applicable_programmes, live_patient
from appliance.emr.security import CLINICAL, TRANSCRIBERS, requires
from appliance.emr.submissions import once
from appliance.emr.visit_forms import FORMS, DeliveryForm, VisitForm
from appliance.patients.models import Patient
from appliance.patients.registry import RecordError, correct_delivery, record_delivery
from appliance.patients.visits import (
    VisitError,
    active_prescriptions,
    correct_visit,
    find_visit,
    record_visit,
    visit_history,
    void_visit,
)
from appliance.pcime.service import saved_lines
from appliance.store.models import User

bp = Blueprint("visits", __name__, url_prefix="/patients/<int:patient_id>")


def _form_class(programme: str) -> type[VisitForm]:
    form_class = FORMS.get(programme)
    if form_class is None:
        abort(404)
    return form_class


def _show_error(form: VisitForm, error: VisitError | RecordError) -> None:
    form.add_error(error.field if form.has_field(error.field) else "visit_date", error.message)


def _transcribes() -> bool:
    """An agent de saisie copies clinicians' paper records: each visit is recorded for one of them."""
    return current_user.role in TRANSCRIBERS


def _clinicians() -> list[User]:
    return list(User.select().where(User.active & User.role.in_(sorted(CLINICAL)))
                .order_by(User.last_name, User.first_name))


def _named_clinician() -> tuple[User | None, str | None]:
    """The clinician chosen on the form (the visit is hers), or why there is none."""
    chosen = storable_id(request.form.get("clinicien"))
    clinician = User.get_or_none((User.id == chosen) & User.active & User.role.in_(sorted(CLINICAL))) \
        if chosen else None
    if clinician is None:
        return None, _("Choisissez le clinicien pour qui vous saisissez cette visite : un agent de saisie ne "
                       "prescrit ni n'enregistre de visite en son propre nom.")
    return clinician, None


def _transcription_context(error: str | None = None) -> dict:
    if not _transcribes():
        return {}
    return {"clinicians": _clinicians(), "clinician_error": error,
            "chosen_clinician": storable_id(request.form.get("clinicien"))}


def _wants_more_lines(form: VisitForm) -> bool:
    """"Une ligne de plus" on a prescription: redisplay with one more empty line, save nothing."""
    if "add_line" in request.form and hasattr(form, "prescriptions"):
        if len(form.prescriptions.entries) < form.prescriptions.max_entries:
            form.prescriptions.append_entry()
        return True
    return False


@bp.route("/<programme>/nouveau", methods=["GET", "POST"])
@requires("visits.write")
@once
def new(patient_id: int, programme: str):
    patient = live_patient(patient_id)
    form_class = _form_class(programme)
    if programme not in applicable_programmes(patient):
        flash(_("Ce type de visite ne correspond pas à ce patient (sexe ou âge)."), "warning")
    form = form_class(patient=patient)
    clinician, clinician_error = None, None
    if request.method == "POST" and not _wants_more_lines(form) and form.validate():
        if _transcribes():
            clinician, clinician_error = _named_clinician()
        if clinician_error is None:
            saved = _record(form, patient, programme, clinician)
            if saved:
                return saved
    return render_template("visits/form.html", form=form, patient=patient, programme=programme, visit=None,
                           **_transcription_context(clinician_error))


def _details(form: VisitForm):
    """What a form writes beside its visit in the same transaction (a consultation's coded lines)."""
    return form.details_writer(current_user.actor) if hasattr(form, "details_writer") else None


def _record(form: VisitForm, patient: Patient, programme: str, clinician: User | None):
    """Save a new visit; the redirect to the chart, or None with the error shown on the form."""
    visit = form.build()
    visit.clinician = clinician.id if clinician else None
    try:
        if isinstance(form, DeliveryForm):
            record_delivery(current_user.actor, patient, visit, site_id=current_app.config["APPLIANCE"].site.id,
                            newborn=form.newborn_identity(patient, 1), babies=form.other_babies(patient))
        else:
            lines = form.prescription_lines() if hasattr(form, "prescription_lines") else ()
            record_visit(current_user.actor, patient, visit, prescriptions=lines, before_hooks=_details(form))
    except (VisitError, RecordError) as error:
        _show_error(form, error)
        return None
    flash(_("%(programme)s enregistrée.", programme=_programme_name(programme)))
    return redirect(url_for("patients.chart", patient_id=patient.id))


def _programme_name(programme: str) -> str:
    from appliance.emr.patients import PROGRAMME_LABELS

    return str(PROGRAMME_LABELS[programme])


@bp.route("/<programme>/<int:visit_id>/corriger", methods=["GET", "POST"])
@requires("visits.write")
@once
def correct(patient_id: int, programme: str, visit_id: int):
    patient = live_patient(patient_id)
    form_class = _form_class(programme)
    visit = find_visit(programme, visit_id, patient.id)
    if visit is None or visit.voided:
        abort(404)
    if _transcribes() and visit.author_id != current_user.id:
        abort(403)  # an agent de saisie corrects his own transcriptions, never a clinician's visit
    extra = {"prescriptions": saved_lines(visit.id)} if programme == "consultation" else {}
    form = form_class(patient=patient, visit=visit, **extra)
    if request.method == "POST" and not _wants_more_lines(form) and form.validate():
        form.build()
        reason = request.form.get("correction_reason", "")
        try:
            if isinstance(form, DeliveryForm):
                correct_delivery(current_user.actor, visit, site_id=current_app.config["APPLIANCE"].site.id,
                                 reason=reason, newborn=form.newborn_identity(patient, 1),
                                 babies=form.other_babies(patient))
            else:
                correct_visit(current_user.actor, visit, reason=reason,
                              prescriptions=form.prescription_lines() if hasattr(form, "prescription_lines") else None,
                              before_hooks=_details(form))
        except (VisitError, RecordError) as error:
            _show_error(form, error)
        else:
            flash(_("Correction enregistrée : la version précédente reste dans l'historique."))
            return redirect(url_for("patients.chart", patient_id=patient.id))
    return render_template("visits/form.html", form=form, patient=patient, programme=programme, visit=visit)


@bp.route("/<programme>/<int:visit_id>")
@requires("patients.read")
def history(patient_id: int, programme: str, visit_id: int):
    patient = live_patient(patient_id)
    visit = find_visit(programme, visit_id, patient.id) or abort(404)
    lines = active_prescriptions([visit.id]).get(visit.id, []) if programme == "consultation" else []
    return render_template("patients/history.html", patient=patient, entries=visit_history(visit), visit=visit,
                           programme=programme, void_form=VoidForm(), prescriptions=lines,
                           author=User.get_or_none(User.id == visit.author_id) if visit.author_id else None,
                           clinician=User.get_or_none(User.id == visit.clinician_id) if visit.clinician_id else None,
                           back=url_for("patients.chart", patient_id=patient.id))


@bp.route("/<programme>/<int:visit_id>/annuler", methods=["POST"])
@requires("visits.void")
@once
def void(patient_id: int, programme: str, visit_id: int):
    patient = live_patient(patient_id)
    visit = find_visit(programme, visit_id, patient.id) or abort(404)
    form = VoidForm()
    if visit.voided:
        flash(_("Cette visite était déjà annulée."), "warning")
    elif form.validate_on_submit():
        void_visit(current_user.actor, visit, form.reason.data)
        flash(_("Visite annulée. Elle reste visible dans l'historique."))
        return redirect(url_for("patients.chart", patient_id=patient.id))
    else:
        flash(_("Le motif de l'annulation est obligatoire."), "error")
    return redirect(url_for("visits.history", patient_id=patient.id, programme=programme, visit_id=visit.id))


