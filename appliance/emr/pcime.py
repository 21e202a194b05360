"""PCIME consultation (children under five), its prescription, the referral letter, dispensing.

One form, no script: "Classer" shows the classifications with the signs behind them and the
proposed prescription lines (doses from the tables); staff edit, override a classification with
a reason, and "Enregistrer" recomputes everything from the signs and writes it in one
transaction. Fields come from the chart files, so a sign added to the data appears here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from appliance.clinical import growth, pcime
from appliance.emr import prescriptions
from appliance.emr.i18n import gettext as _
from appliance.emr.measure_fields import parse_date
from appliance.emr.patients import live_patient
from appliance.emr.security import requires
from appliance.emr.submissions import once
from appliance.followup.queries import patient_items
from appliance.patients.models import Consultation, Immunisation, Patient
from appliance.patients.visits import VisitError
from appliance.pcime.models import PcimeAssessment
from appliance.pcime.service import OTHER, Line, line_problems, proposed_lines, record_pcime, saved_lines
from appliance.stock import queries as stock_queries

bp = Blueprint("pcime", __name__, url_prefix="/patients/<int:patient_id>/pcime")
MAX_LINES = 12
BLANK_LINES = 1
URGENT_SHOWN_DAYS = 7


def chart_extras(patient: Patient) -> dict:
    """For the patient chart (the ``chart_extras`` hook, composed in ``create_app``): the PCIME
    button under five, and a pink classification of the last week."""
    today = dt.date.today()
    if pcime.chart_for((today - patient.birth_date).days) is None:
        return {"pcime_url": None, "pcime_urgent": None}
    urgent = (PcimeAssessment.select(PcimeAssessment.consultation, PcimeAssessment.classifications)
              .where((PcimeAssessment.patient_id == patient.id) & (PcimeAssessment.urgent == True)  # noqa: E712
                     & (PcimeAssessment.visit_date >= today - dt.timedelta(days=URGENT_SHOWN_DAYS)))
              .order_by(PcimeAssessment.visit_date.desc()).first())
    shown = None
    if urgent is not None:
        pink = [item["label"] for item in json.loads(urgent.classifications) if item["colour"] == "rose"]
        shown = {"label": ", ".join(pink),
                 "url": url_for("pcime.referral", patient_id=patient.id, consultation_id=urgent.consultation_id)}
    return {"pcime_url": url_for("pcime.new", patient_id=patient.id), "pcime_urgent": shown}


def _number(name: str, errors: dict[str, str], *, integer: bool = False) -> float | None:
    raw = (request.form.get(name) or "").strip().replace(",", ".")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        errors[name] = _("Nombre attendu.")
        return None
    if integer and not value.is_integer():
        errors[name] = _("Nombre entier attendu.")
        return None
    return int(value) if integer else value


def _date(name: str, errors: dict[str, str], today: dt.date) -> dt.date:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return today
    parsed = parse_date(raw)
    if parsed is None:
        errors[name] = _("Date attendue (JJ/MM/AAAA).")
    return parsed or today


def _read_facts(chart: pcime.Chart, age_days: int, patient: Patient, errors: dict[str, str]):
    """Signs ticked and measures typed; weight and height give the z-scores the chart reads."""
    signs = frozenset(code for code in request.form.getlist("signs") if code in chart.signs)
    measures: dict[str, float] = {}
    for code, measure in chart.measures.items():
        if code in ("whz", "waz"):
            continue
        value = _number(code, errors)
        if value is None:
            continue
        if not measure.minimum <= value <= measure.maximum:
            errors[code] = _("Valeur impossible (%(low)s à %(high)s %(unit)s).", low=f"{measure.minimum:g}",
                             high=f"{measure.maximum:g}", unit=measure.unit)
        else:
            measures[code] = value
    weight = _number("weight_kg", errors)
    height = _number("height_cm", errors)
    if weight is not None and not 0.5 <= weight <= 40:
        errors["weight_kg"] = _("Poids impossible pour un enfant de moins de 5 ans.")
        weight = None
    if weight is not None and "weight_kg" in chart.measures:
        measures["weight_kg"] = weight
    with contextlib.suppress(ValueError):  # outside WHO's tables: the chart reads MUAC and oedema instead
        if weight is not None and "waz" in chart.measures:
            measures["waz"] = growth.zscore("wfa", patient.sex, age_days, weight)
        if weight is not None and height is not None and "whz" in chart.measures:
            scores = growth.anthropometry(patient.sex, age_days, weight, height, "l" if age_days < 731 else "h")
            if scores.whz is not None and -8 <= scores.whz <= 8:
                measures["whz"] = scores.whz
    return pcime.Facts(age_days, signs, measures), weight


def _read_lines(errors: dict[str, str]) -> list[Line]:
    lines = []
    for index in range(MAX_LINES + BLANK_LINES):
        medicine = (request.form.get(f"lines-{index}-medicine") or "").strip()
        if not medicine:
            continue
        dose = _number(f"lines-{index}-dose", errors)
        lines.append(Line(medicine, dose, _number(f"lines-{index}-times", errors, integer=True),
                          _number(f"lines-{index}-days", errors, integer=True),
                          _number(f"lines-{index}-quantity", errors, integer=True),
                          request.form.get(f"lines-{index}-treatment") or None,
                          (request.form.get(f"lines-{index}-reason") or "")[:300],
                          (request.form.get(f"lines-{index}-other_name") or "")[:120]))
    return lines


def _last_preventive(patient_id: int) -> dict[str, dt.date | None]:
    """Latest vitamin A and albendazole given at a PCIME consultation."""
    last: dict[str, dt.date | None] = {"vitamine_a": None, "albendazole": None}
    for column, code in ((PcimeAssessment.vitamin_a_given, "vitamine_a"),
                         (PcimeAssessment.albendazole_given, "albendazole")):
        row = (PcimeAssessment.select(PcimeAssessment.visit_date)
               .where((PcimeAssessment.patient_id == patient_id) & (column == True))  # noqa: E712
               .order_by(PcimeAssessment.visit_date.desc()).first())
        last[code] = row.visit_date if row else None
    return last


def _vaccines(patient_id: int) -> list[Immunisation]:
    return list(Immunisation.select().where((Immunisation.patient == patient_id)
                                            & (Immunisation.voided == False))  # noqa: E712
                .order_by(Immunisation.visit_date))


@bp.route("/nouveau", methods=["GET", "POST"])
@requires("pcime.write")
@once
def new(patient_id: int):
    patient = live_patient(patient_id)
    today = dt.date.today()
    errors: dict[str, str] = {}
    visit_date = _date("visit_date", errors, today) if request.method == "POST" else today
    age_days = (visit_date - patient.birth_date).days
    chart = pcime.chart_for(age_days) if age_days >= 0 else None
    if chart is None:
        flash(_("La PCIME s'applique aux enfants de moins de 5 ans : utilisez la consultation."), "warning")
        return redirect(url_for("visits.new", patient_id=patient.id, programme="consultation"))
    last_preventive = _last_preventive(patient.id)
    preventive = [entry.treatment for entry in pcime.preventive_due(age_days, last_preventive, visit_date)]
    assessment = None
    lines: list[Line] = []
    weight = None
    if request.method == "POST":
        facts, weight = _read_facts(chart, age_days, patient, errors)
        if visit_date > today:
            errors["visit_date"] = _("La date est dans le futur.")
        if not errors:
            assessment = pcime.classify(facts, chart)
            overrides = {table.code: (request.form.get(f"override-{table.code}", ""),
                                      request.form.get(f"override-{table.code}-reason", "")[:300])
                         for table in chart.tables if request.form.get(f"override-{table.code}")}
            if request.form.get("action") == "enregistrer":
                lines = _read_lines(errors)
                if not errors:
                    try:
                        consultation = record_pcime(current_user.actor, patient, visit_date=visit_date, facts=facts,
                                                    overrides=overrides, lines=lines, weight_kg=weight, today=today)
                    except VisitError as error:
                        errors[error.field] = error.message
                    else:
                        flash(_("Consultation PCIME enregistrée."))
                        return redirect(url_for("pcime.show", patient_id=patient.id, consultation_id=consultation.id))
            else:
                lines = [line for line, _dose in proposed_lines(assessment, age_days, weight, preventive)]
    problems = {index: line_problems(line, age_days, weight) for index, line in enumerate(lines)}
    proposals = {code: pcime.propose(code, age_days, weight) for code in pcime.formulary().treatments}
    return render_template("pcime/form.html", patient=patient, chart=chart, age_days=age_days, errors=errors,
                           assessment=assessment, lines=lines, problems=problems, proposals=proposals,
                           medicines=pcime.formulary().medicines, other=OTHER, visit_date=visit_date,
                           blank_lines=BLANK_LINES, vaccines=_vaccines(patient.id), last_preventive=last_preventive,
                           vaccines_due=[item for item in patient_items(patient.id, today)
                                         if item.programme == "pev" and item.status != "a_venir"],
                           preventive=preventive, colour_labels=pcime.COLOUR_LABELS, form=request.form)


def _consultation(patient: Patient, consultation_id: int) -> tuple[Consultation, PcimeAssessment]:
    consultation = Consultation.get_or_none((Consultation.id == consultation_id)
                                            & (Consultation.patient == patient.id))
    assessment = PcimeAssessment.get_or_none(PcimeAssessment.consultation == consultation_id)
    if consultation is None or assessment is None or consultation.voided:
        abort(404)
    return consultation, assessment


@bp.route("/<int:consultation_id>")
@requires("patients.read")
def show(patient_id: int, consultation_id: int):
    patient = live_patient(patient_id)
    consultation, assessment = _consultation(patient, consultation_id)
    lines = saved_lines(consultation.id)
    handed = stock_queries.dispensed([line.prescription.id for line in lines])
    return render_template("pcime/show.html", patient=patient, consultation=consultation, assessment=assessment,
                           classifications=_classifications(assessment), lines=lines, handed=handed,
                           medicines=pcime.formulary().medicines)


def _classifications(assessment: PcimeAssessment) -> list[dict]:
    return json.loads(assessment.classifications)


@bp.route("/<int:consultation_id>/transfert")
@requires("patients.read")
def referral(patient_id: int, consultation_id: int):
    patient = live_patient(patient_id)
    consultation, assessment = _consultation(patient, consultation_id)
    return render_template("pcime/referral.html", patient=patient, consultation=consultation, assessment=assessment,
                           classifications=_classifications(assessment), lines=saved_lines(consultation.id),
                           destination=request.args.get("vers", _("Centre de santé de référence (CSRéf)")))


@bp.route("/<int:consultation_id>/delivrer", methods=["POST"])
@requires("stock.dispense")
@once
def hand_over(patient_id: int, consultation_id: int):
    """Dispense every coded line not yet handed over, all or none."""
    patient = live_patient(patient_id)
    consultation, _assessment = _consultation(patient, consultation_id)
    prescriptions.hand_over(patient, consultation)
    return redirect(url_for("pcime.show", patient_id=patient.id, consultation_id=consultation.id))
