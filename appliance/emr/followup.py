"""Follow-up pages: "À revoir" worklists, gravity alerts, families seen this month, the form
recording a call or home visit to a patient due, and the alerts banner, contact history and
growth chart of the patient chart.

Every page is a query on the rows ``appliance.followup.service`` stores when a visit is
written; nothing here runs the clinical rules over the whole record.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from appliance.clinical import growth, preload
from appliance.clinical.growth_chart import render_growth_chart
from appliance.emr.home import Tile, Today, TodayLine
from appliance.emr.i18n import gettext as _
from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.i18n import ngettext
from appliance.emr.measure_fields import CheckboxListField, FrenchDateField, number_text
from appliance.emr.patients import label_colon, live_patient
from appliance.emr.security import can, requires
from appliance.emr.submissions import once
from appliance.followup import contacts, queries, service
from appliance.followup.models import FollowupContact
from appliance.followup.records import ONE
from appliance.patients.models import Household, Patient

bp = Blueprint("followup", __name__)
# Visits written through the app run the rules: load the WHO tables and rule files when the app
# is built, so a broken data file stops start-up rather than a nurse's visit.
bp.record_once(lambda state: preload())

PROGRAMMES = {
    "pev": _l("Vaccination"),
    "cpn": _l("CPN"),
    "cpon": _l("CPoN"),
    "croissance": _l("Croissance"),
    "pf": _l("Planification familiale"),
    "chronique": _l("Maladies chroniques"),
}
ALL_PROGRAMMES = tuple(PROGRAMMES)
# What each role sees first; everyone can switch to another programme or to all of them.
ROLE_PROGRAMMES: dict[str, tuple[str, ...]] = {
    "sage_femme": ("cpn", "cpon", "pf"),
    "matrone": ("cpn", "cpon", "pf"),
    "infirmier": ("pev", "croissance"),
    "medecin": ALL_PROGRAMMES,
    "agent_saisie": ALL_PROGRAMMES,
}
ALERT_KINDS = {"grossesse": _l("Grossesses à risque"), "post_partum": _l("Mères après l'accouchement"),
               "nouveau_ne": _l("Nouveau-nés"), "nutrition": _l("Malnutrition"),
               "chronique": _l("Urgences HTA et diabète"), "pcime": _l("PCIME : références urgentes")}
STATUS_LABELS = {"en_retard": _l("En retard"), "du": _l("À faire"), "a_venir": _l("Cette semaine"),
                 "depasse": _l("Dépassé")}
# The status filter of the lists: the daily list (this week, then recently overdue) or one window.
WINDOW_CHOICES = {"": (_l("Cette semaine et en retard"), queries.DAILY),
                  queries.THIS_WEEK: (_l("Cette semaine"), (queries.THIS_WEEK,)),
                  queries.OVERDUE: (_l("En retard"), (queries.OVERDUE,)),
                  queries.LAPSED: (_l("Dépassés (hors délai de rappel)"), (queries.LAPSED,))}
DUE_LATE = _l("prévu le %(date)s, depuis %(days)s j")
DUE_TODAY = _l("prévu aujourd'hui")
DUE_ON = _l("prévu le %(date)s")
MOTHER = _l("Mère")
ESTIMATED = _l("estimé")
SINCE = _l("Depuis la visite du %(date)s")
PRINT_LIMIT = 400
MAX_PAGE = 200

TILES = (
    Tile(_l("À revoir"), "followup.worklist", "followup.read", order=20),
    Tile(_l("Alertes"), "followup.alerts", "followup.read", order=21),
    Tile(_l("Familles visitées ce mois"), "followup.villages", "followup.read", order=22),
)  # on the home page (composed in create_app)


TODAY_LINES = 5


def _today_worklist(today: dt.date) -> Today | None:
    """The home page's "À revoir" for the role's programmes: this week's first, then the recent delays."""
    if not can("followup.read"):
        return None
    programmes = ROLE_PROGRAMMES.get(current_user.role, ALL_PROGRAMMES)
    counts = queries.window_counts(programmes, today)
    status = {code: str(label) for code, label in STATUS_LABELS.items()}
    lines = tuple(
        TodayLine(f"{line.patient.family_name} {line.patient.first_names}",
                  url_for("patients.chart", patient_id=line.patient.id),
                  " · ".join(f"{item.label} ({status[item.status].lower()})" for item in line.items[:3]),
                  urgent=any(item.late for item in line.items))
        for line in queries.worklist(programmes, today, per_page=TODAY_LINES).lines[:TODAY_LINES])
    return Today(_("À revoir"), sum(counts.values()),
                 _("%(week)s cette semaine · %(late)s en retard", week=counts[queries.THIS_WEEK],
                   late=counts[queries.OVERDUE]),
                 lines, url_for("followup.worklist"), order=20, empty=_("Personne à revoir cette semaine."))


def _today_alerts(today: dt.date) -> Today | None:
    """Current gravity alerts, the most severe first: urgent ones put the section on top."""
    if not can("followup.read"):
        return None
    total, urgent = queries.alert_count(today)
    lines = tuple(TodayLine(f"{line.patient.family_name} {line.patient.first_names}",
                            url_for("patients.chart", patient_id=line.patient.id),
                            " · ".join(alert.label for alert in line.alerts),
                            urgent=any(alert.severity == "urgent" for alert in line.alerts))
                  for line in queries.alerts(today, per_page=3).lines)
    return Today(_("Alertes"), total, ngettext("%(num)d urgente", "%(num)d urgentes", urgent) if urgent else "", lines,
                 url_for("followup.alerts"), order=30, urgent=urgent > 0, empty=_("Aucune alerte en cours."))


TODAY = (_today_alerts, _today_worklist)  # on the home page (composed in create_app)


def _page() -> int:
    return min(max(request.args.get("page", 0, type=int), 0), MAX_PAGE)


def _village() -> str:
    """The village filter: a key from the list (an unknown key simply matches nothing)."""
    return request.args.get("village", "").strip()[:80]


def _window_choice() -> tuple[str, tuple[str, ...]]:
    choice = request.args.get("statut", "")
    choice = choice if choice in WINDOW_CHOICES else ""
    return choice, WINDOW_CHOICES[choice][1]


def _programme_choice() -> tuple[str, tuple[str, ...]]:
    """The programme filter ("" = the role's own programmes, "tous", or one code) and its codes."""
    choice = request.args.get("programme", "")
    if choice == "tous":
        return choice, ALL_PROGRAMMES
    if choice in PROGRAMMES:
        return choice, (choice,)
    return "", ROLE_PROGRAMMES.get(current_user.role, ALL_PROGRAMMES)


METHOD_LABELS = {"telephone": _l("Appel téléphonique"), "visite_domicile": _l("Visite à domicile (relais, ASC)")}
OUTCOME_LABELS = {
    "joint": _l("Joint : accepte de venir"),
    "pas_de_reponse": _l("Pas de réponse, injoignable"),
    "numero_errone": _l("Numéro erroné"),
    "demenage": _l("A déménagé"),
    "refus": _l("Refuse de venir"),
    "decede": _l("Décédé(e)"),
    "deja_venu_ailleurs": _l("Déjà venu(e) ailleurs"),
}
CALLED = _l("appelé %(count)s fois")
VISITED = _l("visité %(count)s fois")
LAST_CONTACT = _l("dernier : %(date)s %(outcome)s (%(author)s)")
PROMISED = _l("promis pour le %(date)s")
REMINDED = _l("hors liste d'appels jusqu'au %(date)s")
OFF_LIST = _l("retiré de la liste d'appels")
WRONG_NUMBER = _l("numéro erroné")


def _texts() -> dict:
    """The labels a list repeats, translated once per page: a lazy string is translated again at
    every use, and a page shows dozens of items."""
    return {"programmes": {code: str(label) for code, label in PROGRAMMES.items()},
            "status": {code: str(label) for code, label in STATUS_LABELS.items()},
            "late": str(DUE_LATE), "due_today": str(DUE_TODAY), "due_on": str(DUE_ON), "mother": label_colon(MOTHER),
            "estimated": str(ESTIMATED), "since": str(SINCE),
            "outcomes": {code: str(label) for code, label in OUTCOME_LABELS.items()},
            "called": str(CALLED), "visited": str(VISITED), "last_contact": str(LAST_CONTACT),
            "promised": str(PROMISED), "reminded": str(REMINDED), "off_list": str(OFF_LIST),
            "wrong_number": str(WRONG_NUMBER), "off_list_date": contacts.OFF_LIST}


def _common(**extra) -> dict:
    texts = _texts()
    mine = [texts["programmes"][code] for code in ROLE_PROGRAMMES.get(current_user.role, ALL_PROGRAMMES)]
    return {"texts": texts, "programmes": texts["programmes"], "villages": queries.villages(),
            "today": dt.date.today(), "mine": mine, **extra}


@bp.route("/a-revoir")
@requires("followup.read")
def worklist():
    choice, programmes = _programme_choice()
    village = _village()
    today = dt.date.today()
    status, windows = _window_choice()
    after = request.args.get("apres", "")[:200] or None
    result = queries.worklist(programmes, today, windows=windows, village_key=village or None, after=after)
    return render_template("followup/worklist.html", **_common(
        result=result, choice=choice, selected=programmes, village=village, horizon=queries.horizon(today),
        status=status, statuses={code: str(label) for code, (label, _windows) in WINDOW_CHOICES.items()},
        continued=after is not None, contact_link=_contact_link(choice) if can("followup.contact") else None))


def _contact_link(choice: str) -> tuple[str, str]:
    """The contact form's address around the patient id: rows join the parts instead of calling
    url_for thirty times."""
    address = url_for("followup.contact", patient_id=0, programme=choice, retour=request.full_path.rstrip("?"))
    head, tail = address.split("/0/", 1)
    return f"{head}/", f"/{tail}"


@bp.route("/a-revoir/imprimer")
@requires("followup.read")
def print_list():
    choice, programmes = _programme_choice()
    village = _village()
    today = dt.date.today()
    lines, truncated = (queries.village_worklist(programmes, today, village_key=village, limit=PRINT_LIMIT)
                        if village else ([], False))
    return render_template("followup/print.html", **_common(
        lines=lines, truncated=truncated, limit=PRINT_LIMIT, choice=choice, selected=programmes, village=village,
        village_label=queries.village_name(village) if village else None, horizon=queries.horizon(today)))


@bp.route("/alertes")
@requires("followup.read")
def alerts():
    kind = request.args.get("type", "")
    kind = kind if kind in ALERT_KINDS else ""
    village = _village()
    result = queries.alerts(dt.date.today(), kind=kind or None, village_key=village or None, page=_page())
    return render_template("followup/alerts.html", **_common(result=result, kind=kind, kinds=ALERT_KINDS,
                                                             village=village))


@bp.route("/visites-du-mois")
@requires("followup.read")
def villages():
    today = dt.date.today()
    return render_template("followup/villages.html", **_common(rows=queries.village_visits(today),
                                                               month=queries.month_start(today)))


@bp.route("/visites-du-mois/village/<village_key>")
@requires("followup.read")
def village(village_key: str):
    if not Household.select().where(Household.village_key == village_key).exists():
        abort(404)
    name = queries.village_name(village_key)
    today = dt.date.today()
    unseen_only = request.args.get("non_vues") == "1"
    page = _page()
    rows, has_next = queries.household_visits(village_key, today, unseen_only=unseen_only, page=page)
    return render_template("followup/village.html", **_common(
        village_key=village_key, village_label=name, rows=rows, has_next=has_next, page=page,
        unseen_only=unseen_only, month=queries.month_start(today)))


@bp.route("/visites-du-mois/famille/<int:household_id>")
@requires("followup.read")
def household(household_id: int):
    family = Household.get_or_none((Household.id == household_id) & (Household.voided == False)) or abort(404)  # noqa: E712
    today = dt.date.today()
    return render_template("followup/household.html", **_common(
        family=family, members=queries.household_members(household_id, today), month=queries.month_start(today)))


# --- On the patient chart ---------------------------------------------------------------------------


def chart_extras(patient: Patient) -> dict:
    """For the patient chart (the ``chart_extras`` hook, composed in ``create_app``): the alerts banner in the
    chart's format, the overdue and soon-due items, and which growth charts to show."""
    today = dt.date.today()
    # The label says the severity ("Urgence : référer", "Malnutrition aiguë sévère (MAS)").
    alerts = [{"severity": "danger" if alert.severity in ("urgent", "high") else "warning",
               "title": alert.label,
               "reason": "; ".join(alert.reasons) + " — "
               + _("données du %(date)s", date=alert.since.strftime("%d/%m/%Y"))}
              for alert in queries.patient_alerts(patient.id, today)]
    history = contacts.history(patient.id)
    gone = _departure(patient, history)
    if gone is not None:
        alerts.insert(0, gone)
    return {"alerts": alerts, "followup_items": queries.patient_items(patient.id, today),
            "growth_charts": _growth_indicators(patient, today), "followup_texts": _texts(),
            "followup_contacts": history,
            "followup_methods": {code: str(label) for code, label in METHOD_LABELS.items()},
            "may_contact": can("followup.contact") and not patient.voided}


def _departure(patient: Patient, history: list[contacts.ContactView]) -> dict | None:
    """The banner of a patient taken off the lists by a contact: a death (the patient record has
    no field for it: the contact is the record), or a move not yet followed by a visit."""
    if not any(view.outcome in contacts.LEAVES_LISTS for view in history):
        return None
    from appliance.followup.records import load_one

    record = load_one(patient.id)
    left = contacts.derive(contacts.load_facts(ONE, (patient.id,)).get(patient.id, ()),
                           record.last_visit_on if record else None).left
    if left is None:
        return None
    view = next((view for view in history if view.outcome == left.outcome and view.contacted_on == left.contacted_on),
                None)
    if view is None:  # older than the history shown
        view = next(view for view in contacts.history(patient.id, limit=1000)
                    if view.outcome == left.outcome and view.contacted_on == left.contacted_on)
    reported = _("signalé le %(date)s par %(author)s (%(method)s), retiré des listes de suivi",
                 date=view.contacted_on.strftime("%d/%m/%Y"), author=view.author_name,
                 method=str(METHOD_LABELS.get(view.method, view.method)).lower())
    if left.outcome == "decede":
        return {"severity": "danger", "title": _("Décédé(e) le %(date)s", date=view.death_on.strftime("%d/%m/%Y")),
                "reason": reported}
    return {"severity": "warning", "title": _("A déménagé"), "reason": reported}

GROWTH_CHARTS = {"wfa": _l("Courbe de poids pour l'âge"), "lhfa": _l("Courbe de taille pour l'âge")}


def _growth_indicators(patient: Patient, today: dt.date) -> list[tuple[str, object]]:
    """(indicator, alt text) of the charts worth drawing: children under 5 with a measurement.
    The SVG itself is a separate image request, so drawing the WHO curves never slows the chart."""
    if (today - patient.birth_date).days > growth.MAX_AGE_DAYS:
        return []
    weights, heights = queries.growth_counts(patient.id)
    shown = [("wfa", weights), ("lhfa", heights)]
    return [(indicator, GROWTH_CHARTS[indicator]) for indicator, count in shown if count]


@bp.route("/patients/<int:patient_id>/croissance/<indicator>.svg")
@requires("patients.read")
def growth_chart(patient_id: int, indicator: str):
    """The child's points on the WHO curves: weight-for-age or length/height-for-age."""
    patient = Patient.get_or_none(Patient.id == patient_id)
    if patient is None or indicator not in GROWTH_CHARTS:
        abort(404)
    points = []
    for measured_on, weight_kg, height_cm in queries.growth_points(patient.id):
        age_days = (measured_on - patient.birth_date).days
        value = weight_kg if indicator == "wfa" else height_cm
        if value and 0 <= age_days <= growth.MAX_AGE_DAYS:
            points.append((age_days, value))
    svg = render_growth_chart(indicator, patient.sex, points, number=number_text, translate=_)
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "private, no-cache"})


# --- Recording a call or a home visit ---------------------------------------------------------------


class ContactForm(FlaskForm):
    """One attempt to reach a patient; the cross-field rules (a promise in the past, a death in
    the future...) are ``contacts.check``'s, shown on their fields."""

    item_ids = CheckboxListField(_l("À propos de"), choices=[], validate_choice=False)
    contacted_on = FrenchDateField(_l("Date du contact"), required=True, default=dt.date.today)
    method = RadioField(_l("Moyen"), choices=list(METHOD_LABELS.items()),
                        validators=[DataRequired(_l("Choisissez : appel téléphonique ou visite à domicile."))])
    outcome = RadioField(_l("Résultat"), choices=list(OUTCOME_LABELS.items()),
                         validators=[DataRequired(_l("Choisissez le résultat du contact."))])
    promised_on = FrenchDateField(_l("Date promise (si joint)"))
    death_on = FrenchDateField(_l("Date du décès (si décédé·e)"))
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=contacts.NOTE_MAX,
                                                                    message=_l("500 caractères au plus."))])

    def add_error(self, field_name: str, message) -> None:
        field = getattr(self, field_name)
        field.errors = [*field.errors, message] if message not in field.errors else list(field.errors)


class VoidContactForm(FlaskForm):
    reason = StringField(_l("Motif de l'annulation"), validators=[DataRequired(_l("Indiquez un motif.")),
                                                                 Length(max=200)])


def _return_to(patient: Patient) -> str:
    """Back where the user came from (a worklist page or the chart); only this site's paths."""
    target = request.args.get("retour", "")
    if target.startswith(("/a-revoir", "/patients/")) and "//" not in target and "\\" not in target:
        return target
    return url_for("patients.chart", patient_id=patient.id)


@bp.route("/patients/<int:patient_id>/contact", methods=["GET", "POST"])
@requires("followup.contact")
@once
def contact(patient_id: int):
    """Record a phone call or a relay's home visit: from a worklist row (the items of its
    programmes ticked) or from the chart (every open item ticked)."""
    patient = live_patient(patient_id)
    today = dt.date.today()
    items = queries.patient_items(patient.id, today)
    form = ContactForm()
    texts = _texts()
    form.item_ids.choices = [(item.id, f"{item.label} · {texts['programmes'].get(item.programme, item.programme)}")
                             for item in items]
    if request.method == "GET":
        chosen = request.args.get("programme")  # absent: from the chart, every open item
        if chosen in PROGRAMMES:
            wanted = (chosen,)
        elif chosen is None or chosen == "tous":
            wanted = ALL_PROGRAMMES
        else:
            wanted = ROLE_PROGRAMMES.get(current_user.role, ALL_PROGRAMMES)
        form.item_ids.data = [item.id for item in items if item.programme in wanted and not item.on_hold]
    elif form.validate():
        attempt = contacts.NewContact(
            contacted_on=form.contacted_on.data, method=form.method.data, outcome=form.outcome.data,
            promised_on=form.promised_on.data, death_on=form.death_on.data, note=form.note.data or "",
            item_ids=tuple(form.item_ids.data or ()))
        errors = contacts.check(patient, attempt, today, contacts.contact_phone(patient))
        for error in errors:
            form.add_error(error.field, error.message)
        if not errors:
            try:
                service.record_contact(current_user.actor, patient, attempt, today=today)
            except contacts.ContactError as error:
                form.add_error(error.field, error.message)
            else:
                flash(_("Contact enregistré : %(outcome)s.", outcome=OUTCOME_LABELS[attempt.outcome]))
                return redirect(_return_to(patient))
    phone = contacts.contact_phone(patient)
    history = contacts.history(patient.id)
    wrong = contacts.summaries({patient.id: today}).get(patient.id)
    return render_template("followup/contact.html", form=form, patient=patient, phone=phone,
                           phone_wrong=bool(wrong and phone in wrong.wrong_numbers), history=history,
                           void_form=VoidContactForm(), texts=texts, methods=METHOD_LABELS,
                           back=_return_to(patient))


@bp.route("/patients/<int:patient_id>/contact/<int:contact_id>/annuler", methods=["POST"])
@requires("followup.contact")
@once
def void_contact(patient_id: int, contact_id: int):
    """An attempt entered by mistake (a wrong patient, a death reported in error): voided with a
    reason; its effects on the lists are undone."""
    patient = live_patient(patient_id)
    row = FollowupContact.get_or_none((FollowupContact.id == contact_id) & (FollowupContact.patient == patient.id)
                                      & (FollowupContact.voided == False))  # noqa: E712
    if row is None:
        abort(404)
    form = VoidContactForm()
    if form.validate():
        service.void_contact(current_user.actor, row, form.reason.data)
        flash(_("Contact annulé."))
    else:
        flash(_("Rien n'a été annulé : indiquez un motif."), "error")
    return redirect(url_for("followup.contact", patient_id=patient.id, retour=_return_to(patient)))
