"""Follow-up pages: "À revoir" worklists, gravity alerts, families seen this month, and the
alerts banner and growth chart of the patient chart.

Every page is a query on the rows ``appliance.followup.service`` stores when a visit is
written; nothing here runs the clinical rules over the whole record.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from appliance.clinical import growth, preload
from appliance.clinical.growth_chart import render_growth_chart
from appliance.emr.home import add_tile
from appliance.emr.patients import CHART_EXTRAS, label_colon
from appliance.emr.security import requires
from appliance.followup import queries
from appliance.followup import service as _service  # noqa: F401 - registers the recompute hook
from appliance.patients.models import Household, Patient

bp = Blueprint("followup", __name__)
# Visits written through the app run the rules: load the WHO tables and rule files when the app
# is built, so a broken data file stops start-up rather than a nurse's visit.
bp.record_once(lambda state: preload())

PROGRAMMES = {
    "pev": _l("Vaccination"),
    "cpn": _l("CPN"),
    "croissance": _l("Croissance"),
    "pf": _l("Planification familiale"),
    "chronique": _l("Maladies chroniques"),
}
ALL_PROGRAMMES = tuple(PROGRAMMES)
# What each role sees first; everyone can switch to another programme or to all of them.
ROLE_PROGRAMMES: dict[str, tuple[str, ...]] = {
    "sage_femme": ("cpn", "pf"),
    "matrone": ("cpn", "pf"),
    "infirmier": ("pev", "croissance"),
    "medecin": ALL_PROGRAMMES,
    "agent_saisie": ALL_PROGRAMMES,
}
ALERT_KINDS = {"grossesse": _l("Grossesses à risque"), "nutrition": _l("Malnutrition")}
STATUS_LABELS = {"en_retard": _l("En retard"), "du": _l("À faire"), "a_venir": _l("Cette semaine")}
DUE_LATE = _l("prévu le %(date)s, depuis %(days)s j")
DUE_TODAY = _l("prévu aujourd'hui")
DUE_ON = _l("prévu le %(date)s")
MOTHER = _l("Mère")
ESTIMATED = _l("estimé")
SINCE = _l("Depuis la visite du %(date)s")
PRINT_LIMIT = 400
MAX_PAGE = 200

add_tile(_l("À revoir"), "followup.worklist", "followup.read", order=20)
add_tile(_l("Alertes"), "followup.alerts", "followup.read", order=21)
add_tile(_l("Familles visitées ce mois"), "followup.villages", "followup.read", order=22)


def _page() -> int:
    page = request.args.get("page", "0")
    return min(int(page), MAX_PAGE) if page.isdigit() else 0


def _village() -> str:
    """The village filter: a key from the list (an unknown key simply matches nothing)."""
    return request.args.get("village", "").strip()[:80]


def _programme_choice() -> tuple[str, tuple[str, ...]]:
    """The programme filter ("" = the role's own programmes, "tous", or one code) and its codes."""
    choice = request.args.get("programme", "")
    if choice == "tous":
        return choice, ALL_PROGRAMMES
    if choice in PROGRAMMES:
        return choice, (choice,)
    return "", ROLE_PROGRAMMES.get(current_user.role, ALL_PROGRAMMES)


def _texts() -> dict:
    """The labels a list repeats, translated once per page: a lazy string is translated again at
    every use, and a page shows dozens of items."""
    return {"programmes": {code: str(label) for code, label in PROGRAMMES.items()},
            "status": {code: str(label) for code, label in STATUS_LABELS.items()},
            "late": str(DUE_LATE), "due_today": str(DUE_TODAY), "due_on": str(DUE_ON), "mother": label_colon(MOTHER),
            "estimated": str(ESTIMATED), "since": str(SINCE)}


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
    after = request.args.get("apres", "")[:200] or None
    result = queries.worklist(programmes, today, village_key=village or None, after=after)
    return render_template("followup/worklist.html", **_common(
        result=result, choice=choice, selected=programmes, village=village, horizon=queries.horizon(today),
        continued=after is not None))


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
    """For the patient chart (``appliance.emr.patients.CHART_EXTRAS``): the alerts banner in the
    chart's format, the overdue and soon-due items, and which growth charts to show."""
    today = dt.date.today()
    # The label says the severity ("Urgence : référer", "Malnutrition aiguë sévère (MAS)").
    alerts = [{"severity": "danger" if alert.severity in ("urgent", "high") else "warning",
               "title": alert.label,
               "reason": "; ".join(alert.reasons) + " — "
               + _("données du %(date)s", date=alert.since.strftime("%d/%m/%Y"))}
              for alert in queries.patient_alerts(patient.id, today)]
    return {"alerts": alerts, "followup_items": queries.patient_items(patient.id, today),
            "growth_charts": _growth_indicators(patient, today), "followup_texts": _texts()}


CHART_EXTRAS.append(chart_extras)

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
    svg = render_growth_chart(indicator, patient.sex, points)
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "private, no-cache"})
