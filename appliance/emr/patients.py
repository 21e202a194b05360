"""Patients: search, registration with duplicate check, the chart, referral letter, card, merge.

The chart has one extension point for other areas, the ``chart_extras`` hook (composed in
``create_app``): each receives the patient and returns extra template variables (the clinical rules give ``alerts``,
shown by ``patients/_alerts.html``).
"""

from __future__ import annotations

import datetime as dt
import functools
import json

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_login import current_user

from appliance.emr.forms import role_label
from appliance.emr.home import Tile
from appliance.emr.i18n import gettext as _
from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.i18n import ngettext
from appliance.emr.measure_fields import number_text
from appliance.emr.patient_forms import MergeForm, PatientForm
from appliance.emr.security import requires
from appliance.emr.submissions import once
from appliance.followup.contacts import deaths_among
from appliance.hooks import CHART_EXTRAS
from appliance.patients import codes
from appliance.patients.models import Household, Patient
from appliance.patients.registry import (
    Identity,
    RecordError,
    children_of,
    find_duplicates,
    get_patient,
    household_members,
    known_villages,
    merge_patients,
    register_patient,
    resolve_merged,
    update_identity,
)
from appliance.patients.search import search
from appliance.patients.visits import timeline
from appliance.store.models import AuditEntry, User

bp = Blueprint("patients", __name__, url_prefix="/patients")

TIMELINE_LIMIT = 30  # newest visits on the chart; the rest one tap away (a phone, a Pi)

PROGRAMME_LABELS = {
    "consultation": _l("Consultation"),
    "cpn": _l("CPN (prénatale)"),
    "accouchement": _l("Accouchement"),
    "cpon": _l("CPoN (postnatale)"),
    "vaccination": _l("Vaccination"),
    "croissance": _l("Croissance / nutrition"),
    "pf": _l("Planification familiale"),
    "chronique": _l("Maladie chronique"),
    "deces": _l("Décès"),
}

TILES = (
    Tile(_l("Patients"), "patients.search_page", "patients.read", order=10),
    Tile(_l("Nouveau patient"), "patients.register", "patients.register", order=11),
)  # on the home page (composed in create_app)


def age_text(birth_date: dt.date, on: dt.date | None = None) -> str:
    """"3 ans", "8 mois", "12 jours": how staff say a patient's age."""
    on = on or dt.date.today()
    days = (on - birth_date).days
    if days < 0:
        return ""
    months = (on.year - birth_date.year) * 12 + on.month - birth_date.month - (on.day < birth_date.day)
    if months < 1:
        return ngettext("%(num)s jour", "%(num)s jours", days)
    if months < 24:
        return ngettext("%(num)s mois", "%(num)s mois", months)
    return ngettext("%(num)s an", "%(num)s ans", months // 12)


def applicable_programmes(patient: Patient, today: dt.date | None = None) -> list[str]:
    """Programmes whose visit makes sense for this patient (the chart offers only those)."""
    age_days = patient.age_days(today)
    offered = ["consultation"]
    if patient.sex == "F" and 10 * 365 <= age_days <= 60 * 365:
        offered += ["cpn", "accouchement", "cpon"]
    elif age_days <= 60:
        offered.append("cpon")
    offered += ["vaccination", "croissance"]
    if age_days >= 10 * 365:
        offered.append("pf")
    if age_days >= 15 * 365:
        offered.append("chronique")
    offered.append("deces")
    return offered


def _locale() -> str:
    return str(get_locale() or "fr")


@bp.app_template_filter("age")
def _age_filter(birth_date: dt.date) -> str:
    return age_text(birth_date)


@bp.app_template_filter("date_fr")
def _date_filter(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


@bp.app_template_filter("phone")
def _phone_filter(value: str) -> str:
    return " ".join(value[i:i + 2] for i in range(0, len(value), 2)) if value and value.isdigit() else value


@bp.app_template_filter("num")
def _number_filter(value: float | None, spec: str = "g") -> str:
    """``{{ 61.5|num }}`` → "61,5"; ``{{ 0.123|num(".2f") }}`` → "0,12": the user's decimal mark."""
    return "" if value is None else number_text(value, spec)


@bp.app_template_filter("colon")
def label_colon(label: str) -> str:
    """« Mère : », "Mother:": a label before its value, punctuated as the user's language does."""
    return _("%(label)s :", label=label)


@bp.app_template_filter("fromjson")
def _fromjson_filter(text: str | None) -> dict:
    return json.loads(text) if text else {}


@bp.app_template_global("code_label")
def _code_label(list_name: str, code: str | None) -> str:
    return codes.label(list_name, code, _locale())


@bp.app_template_global("summary_words")
def summary_words() -> dict:
    """Words of the visit summaries (visits/_summaries.html), translated once per language."""
    return _summary_words(_locale())


@functools.cache
def _summary_words(locale: str) -> dict:
    # The catalogues are compiled before start-up: a word's translation only depends on the language,
    # and a chart of 40 visits would otherwise pay a hundred gettext calls.
    return {
        "reason": label_colon(_("Motif")), "pulse": _("pouls"), "quantity": _("qté"), "weeks": _("SA"), "lmp": _("DDR"),
        "scarred_uterus": _("utérus cicatriciel"), "iron_folic": _("fer-acide folique"),
        "next_anc": _("prochaine CPN"), "danger_signs": label_colon(_("Signes de danger")), "babies": _("bébés"),
        "girl": _("fille"), "boy": _("garçon"), "baby_record": _("dossier du bébé"),
        "complications": label_colon(_("Complications")), "mother": _("mère"), "newborn": _("nouveau-né"),
        "breastfeeding": _("allaitement"), "yes": _("oui"), "no": _("non"), "dose": _("dose"),
        "given_here": _("donnée ici"), "given_elsewhere": _("donnée ailleurs (carnet)"), "lot": _("lot"),
        "lying": _("couché"), "standing": _("debout"), "oedema": _("œdèmes bilatéraux"),
        "new_user": _("nouvelle utilisatrice"), "continuing_user": _("utilisatrice continue"),
        "next_appointment": _("prochain rendez-vous"), "hypertension": _("Hypertension"),
        "diabetes": _("Diabète"), "glucose": _("glycémie"), "fasting": _("à jeun"),
        "places": {"ici": _("dans ce centre"), "autre_formation": _("autre formation sanitaire"),
                   "domicile": _("à domicile"), "en_route": _("en route")},
        "modes": {"voie_basse": _("voie basse"), "instrumentale": _("voie basse instrumentale"),
                  "cesarienne": _("césarienne")},
        "outcomes": {"vivant": _("né vivant"), "mort_frais": _("mort-né frais"), "mort_macere": _("mort-né macéré")},
        "death_categories": {"maternel": _("Décès maternel"), "neonatal": _("Décès néonatal"),
                             "enfant": _("Décès d'enfant"), "autre": _("Décès")},
        "details": _("Détails"), "correct": _("Corriger"), "corrected": _("corrigé"),
        "automatic": _("Saisie automatique"),
        # Abbreviations of the paper registers: each language has its own.
        "bp": _("TA"), "resp_rate": _("FR"), "days": _("j"), "anc": _("CPN"), "pnc": _("CPoN"),
        "fundal_height": _("HU"), "iptp": _("TPI/SP"), "muac": _("PB"),
    }


@bp.app_template_global("role_label")
def _role_label(role: str) -> str:
    return role_label(role)


@bp.app_template_global("programme_label")
def _programme_label(programme: str) -> str:
    return _programme_label_in(_locale(), programme)


@functools.cache
def _programme_label_in(locale: str, programme: str) -> str:
    return str(PROGRAMME_LABELS.get(programme, programme))


def _any_patient(patient_id: int) -> Patient:
    """The patient of a URL, voided records too (the chart follows a merge, the history shows a void), or 404."""
    patient = get_patient(patient_id)
    if patient is None:
        abort(404)
    return patient


def live_patient(patient_id: int) -> Patient:
    """The patient of a URL whose record a page may show for care or write to, or 404 (unknown, or voided:
    registered by mistake or merged into another). The one definition every area's pages use."""
    patient = _any_patient(patient_id)
    if patient.voided:
        abort(404)
    return patient


@bp.route("/")
@requires("patients.read")
def search_page():
    query = request.args.get("q", "").strip()[:100]
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    result = search(query, page=page) if query else None
    # Result lines append the id to the chart's address instead of calling url_for twenty times.
    chart_prefix = url_for(".chart", patient_id=0).removesuffix("0") if result else ""
    # A death is reported on the follow-up side (a call or a home visit): say it on the result line
    # so nobody opens a visit or a duplicate record for that person.
    deaths = deaths_among([patient.id for patient in result.patients]) if result else {}
    return render_template("patients/search.html", query=query, result=result, chart_prefix=chart_prefix,
                           deaths=deaths)


@bp.route("/nouveau", methods=["GET", "POST"])
@requires("patients.register")
@once
def register():
    form = PatientForm()
    if request.method == "GET":
        _prefill_family(form)
    duplicates: list[Patient] = []
    if form.validate_on_submit():
        birth_date, estimated = form.resolved_birth_date()
        duplicates = find_duplicates(form.family_name.data, form.first_names.data, birth_date, form.village.data)
        seen = set(form.seen_duplicate_ids())
        if duplicates and not (form.create_anyway.data and {p.id for p in duplicates} <= seen):
            form.duplicates_seen.data = ",".join(str(p.id) for p in duplicates)
            form.create_anyway.data = False
            return render_template("patients/register.html", form=form, duplicates=duplicates,
                                   villages=known_villages())
        try:
            patient = register_patient(current_user.actor, _identity(form, birth_date, estimated),
                                       site_id=current_app.config["APPLIANCE"].site.id,
                                       ignored_duplicates=[p.id for p in duplicates])
        except RecordError as error:
            form.add_error(error.field if hasattr(form, error.field) else "family_name", error.message)
        else:
            flash(_("Dossier %(number)s créé.", number=patient.local_number))
            return redirect(url_for("patients.chart", patient_id=patient.id))
    return render_template("patients/register.html", form=form, duplicates=duplicates, villages=known_villages())


def _prefill_family(form: PatientForm) -> None:
    """"Add a child" / "add a family member" links from a chart carry the mother and household."""
    mother = Patient.get_or_none(Patient.id == request.args.get("mere", type=int)) if request.args.get("mere") else None
    if mother is not None and mother.sex == "F" and not mother.voided:
        form.mother_number.data = mother.local_number
        form.village.data = mother.village
        if mother.household_id:
            form.household_id.data = str(mother.household_id)
    household_id = request.args.get("menage", type=int)
    household = Household.get_or_none(Household.id == household_id) if household_id else None
    if household is not None and not household.voided:
        form.household_id.data = str(household.id)
        form.village.data = form.village.data or household.village
        form.family_name.data = household.name.removeprefix("Famille ").strip()


def _identity(form: PatientForm, birth_date: dt.date, estimated: bool) -> Identity:
    household_name = (form.household_name.data or "").strip()
    if form.household is None and form.mother is None and not household_name:
        household_name = f"Famille {form.family_name.data.strip()}"
    return Identity(
        family_name=form.family_name.data, first_names=form.first_names.data, sex=form.sex.data,
        birth_date=birth_date, birth_date_estimated=estimated, village=form.village.data,
        phone=form.phone.data or "", national_id=form.national_id.data or "", mother=form.mother,
        household=form.household, household_name=household_name,
    )


@bp.route("/<int:patient_id>")
@requires("patients.read")
def chart(patient_id: int):
    patient = _any_patient(patient_id)
    if patient.merged_into_id:
        kept = resolve_merged(patient)
        flash(_("Le dossier %(old)s a été fusionné dans %(new)s.", old=patient.local_number, new=kept.local_number),
              "warning")
        return redirect(url_for("patients.chart", patient_id=kept.id))
    show_all = request.args.get("tout") == "1"
    entries = timeline(patient, limit=None if show_all else TIMELINE_LIMIT + 1)
    truncated = not show_all and len(entries) > TIMELINE_LIMIT
    children = children_of(patient) if patient.sex == "F" else []
    context = {
        "patient": patient,
        "mother": get_patient(patient.mother_id),
        "household": next(iter(Household.raw("SELECT * FROM household WHERE id = ?", patient.household_id)), None)
        if patient.household_id else None,
        "children": children,
        "members": [p for p in household_members(patient.household_id)
                    if p.id != patient.id and p.id not in {child.id for child in children}],
        "entries": entries[:TIMELINE_LIMIT] if truncated else entries,
        "truncated": truncated,
        "programmes": applicable_programmes(patient),
        "alerts": [],
    }
    for extras in current_app.extensions["hooks"].call(CHART_EXTRAS, patient):
        context.update(extras)
    return render_template("patients/chart.html", **context)


@bp.route("/<int:patient_id>/identite", methods=["GET", "POST"])
@requires("patients.register")
@once
def edit_identity(patient_id: int):
    patient = live_patient(patient_id)
    form = PatientForm(patient=patient)
    if request.method == "GET":
        form.family_name.data, form.first_names.data = patient.family_name, patient.first_names
        form.sex.data, form.village.data = patient.sex, patient.village
        form.birth_date.data = patient.birth_date
        form.phone.data, form.national_id.data = patient.phone, patient.national_id or ""
        if patient.mother_id:
            form.mother_number.data = Patient.get_by_id(patient.mother_id).local_number
    if form.validate_on_submit():
        birth_date, estimated = form.resolved_birth_date()
        identity = _identity(form, birth_date, estimated or (patient.birth_date_estimated
                                                             and birth_date == patient.birth_date))
        if form.household is None:
            identity.household_name = ""
        try:
            update_identity(current_user.actor, patient, identity, reason=form.reason.data or None)
        except RecordError as error:
            form.add_error(error.field if hasattr(form, error.field) else "family_name", error.message)
        else:
            flash(_("Identité enregistrée."))
            return redirect(url_for("patients.chart", patient_id=patient.id))
    return render_template("patients/register.html", form=form, duplicates=[], villages=known_villages(),
                           patient=patient)


@bp.route("/<int:patient_id>/historique")
@requires("patients.read")
def identity_history(patient_id: int):
    patient = _any_patient(patient_id)
    entries = list(AuditEntry.select().where((AuditEntry.table_name == "patient")
                                             & (AuditEntry.row_id == str(patient.id))).order_by(AuditEntry.id))
    return render_template("patients/history.html", patient=patient, entries=entries, title=_("Identité"),
                           back=url_for("patients.chart", patient_id=patient.id))


@bp.route("/<int:patient_id>/lettre")
@requires("patients.read")
def referral_letter(patient_id: int):
    patient = _any_patient(patient_id)
    entries = timeline(patient)
    by_programme: dict[str, list] = {}
    for entry in entries:
        by_programme.setdefault(entry.programme, []).append(entry)
    author = User.get_by_id(current_user.id)
    return render_template("patients/letter.html", patient=patient, by_programme=by_programme,
                           reason=request.args.get("motif", "")[:1000],
                           destination=request.args.get("vers", "")[:120] or _("Hôpital de district"),
                           author=author, today=dt.date.today(),
                           mother=Patient.get_or_none(Patient.id == patient.mother_id) if patient.mother_id else None)


@bp.route("/<int:patient_id>/carte")
@requires("patients.read")
def card(patient_id: int):
    return render_template("patients/card.html", patient=_any_patient(patient_id))


@bp.route("/menage/<int:household_id>")
@requires("patients.read")
def household(household_id: int):
    family = Household.get_or_none(Household.id == household_id) or abort(404)
    return render_template("patients/household.html", household=family,
                           members=household_members(family.id, limit=200))


@bp.route("/<int:patient_id>/fusion", methods=["GET", "POST"])
@requires("patients.merge")
@once
def merge(patient_id: int):
    keep = live_patient(patient_id)
    form = MergeForm()
    other = None
    if form.validate_on_submit():
        other = form.other()
        if other is None or other.voided:
            form.other_number.errors.append(_("Aucun dossier actif avec ce numéro."))
            other = None
        elif other.id == keep.id:
            form.other_number.errors.append(_("Choisissez un autre dossier que celui-ci."))
            other = None
        elif form.confirmed.data == str(other.id):
            try:
                merge_patients(current_user.actor, keep, other, form.reason.data)
            except RecordError as error:
                flash(error.message, "error")
            else:
                flash(_("Dossier %(old)s fusionné dans %(new)s.", old=other.local_number, new=keep.local_number))
                return redirect(url_for("patients.chart", patient_id=keep.id))
        else:
            form.confirmed.data = str(other.id)
    return render_template("patients/merge.html", form=form, keep=keep, other=other,
                           keep_visits=len(timeline(keep)), other_visits=len(timeline(other)) if other else 0)
