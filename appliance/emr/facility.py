"""The facility head's pages: population and targets (the médecin edits them), coverage and
drop-out month by month and year to date with the records behind each numerator, the chronic-care
register and its quarterly cohort, access by sex and age with 24-month charts, and the printable
district review sheet. Figures come from ``appliance.facility``; nothing here counts."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from markupsafe import Markup

from appliance.clinical import chronic_care
from appliance.config import Config
from appliance.emr.home import Tile
from appliance.emr.i18n import gettext as _
from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.measure_fields import number_text
from appliance.emr.reports import band_label
from appliance.emr.security import can, current_actor, requires
from appliance.emr.submissions import once
from appliance.emr.trend_chart import Series, trend_svg
from appliance.facility.access import access_year, structure, trend
from appliance.facility.chronic import (
    COHORT_STATUSES,
    CONTROLLED,
    DEAD,
    LOST,
    MISSED,
    NO_MEASURE,
    PROGRAMMES,
    RECENT,
    UNCONTROLLED,
    Quarter,
    cohort,
    register,
)
from appliance.facility.coverage import coverage_year, load_coverage, records_behind
from appliance.facility.population import PopulationError, area_year, record_target, record_village, target_groups
from appliance.reports.builder import Month
from appliance.store.db import database

bp = Blueprint("facility", __name__)

TILES = (
    Tile(_l("Couverture et cibles"), "facility.coverage", "facility.read", order=62),
    Tile(_l("Hypertension et diabète"), "facility.chronic", "facility.read", order=63),
    Tile(_l("Accès aux soins"), "facility.access", "facility.read", order=64),
)

FIRST_YEAR, LAST_YEAR = 2000, 2100


def _cfg() -> Config:
    return current_app.config["APPLIANCE"]


def _today() -> dt.date:
    return dt.datetime.now(_cfg().uploads.zone()).date()


def _year(value: int | None) -> int:
    year = value or _today().year
    if not FIRST_YEAR <= year <= LAST_YEAR:
        abort(404)
    return year


@bp.app_template_global("pct")
@bp.app_template_filter("pct")
def pct(value: float | None) -> str:
    """« 87,5 % », or « — » when there is no denominator."""
    return "—" if value is None else f"{number_text(value, '.1f')}\u00a0%"


@bp.route("/couverture/")
@requires("facility.read")
def coverage():
    year = _year(request.args.get("annee", type=int))
    table = coverage_year(year, _cfg().reports, _today())
    return render_template("facility/coverage.html", table=table, groups=target_groups(),
                           years=range(_today().year, _today().year - 3, -1))


@bp.route("/couverture/<int:year>/<code>")
@requires("facility.read")
def coverage_records(year: int, code: str):
    item = load_coverage().items.get(code) or abort(404)
    year = _year(year)
    month_number = request.args.get("mois", type=int)
    if month_number is not None and not 1 <= month_number <= 12:
        abort(404)
    if month_number:
        month = Month.parse(f"{year:04d}-{month_number:02d}")
        start, end = month.start, month.end
    else:
        month, start, end = None, dt.date(year, 1, 1), dt.date(year, 12, 31)
    rows = records_behind(item, start, end, _cfg().reports, _today())
    return render_template("facility/records.html", item=item, year=year, month=month, rows=rows,
                           chart_url=_chart_url)


def _chart_url(patient_id: int) -> str | None:
    if "patients.chart" not in current_app.view_functions:
        return None
    return url_for("patients.chart", patient_id=patient_id)


@bp.route("/population/", methods=["GET", "POST"])
@requires("facility.read")
@once
def population():
    year = _year(request.values.get("annee", type=int))
    errors: dict[str, str] = {}
    if request.method == "POST":
        if not can("facility.manage"):
            abort(403)
        errors = _save_population(year)
        if not errors:
            flash(_("Population et cibles enregistrées."))
            return redirect(url_for("facility.population", annee=year))
    definitions = load_coverage()
    table = coverage_year(year, _cfg().reports, _today())
    return render_template("facility/population.html", year=year, area=area_year(year), groups=target_groups(),
                           items=definitions.items, targets={row.item.code: row.target for row in table.rows},
                           errors=errors, form=request.form)


def _save_population(year: int) -> dict[str, str]:
    """Every line of the form; nothing is kept unless every line is valid."""
    errors: dict[str, str] = {}
    actor = current_actor()
    villages = request.form.getlist("village")
    counts = request.form.getlist("habitants")
    sources = request.form.getlist("source")
    known = set(load_coverage().items)
    with database.atomic() as transaction:
        for number, (village, count) in enumerate(zip(villages, counts, strict=False)):
            if not village.strip() and not count.strip():
                continue  # an empty line of the form
            try:
                record_village(actor, year, village, count, sources[number] if number < len(sources) else "")
            except PopulationError as error:
                errors[f"{error.field}-{number}"] = str(error)
        for code in known:
            value = request.form.get(f"cible_{code}", "").strip()
            if value:
                try:
                    record_target(actor, year, code, value, known)
                except PopulationError as error:
                    errors[error.field] = str(error)
        if errors:
            transaction.rollback()
    return errors


# --- Chronic care ------------------------------------------------------------------------------------


@bp.route("/chronique/")
@requires("facility.read")
def chronic():
    programme = request.args.get("programme", chronic_care.HYPERTENSION)
    if programme not in PROGRAMMES:
        abort(404)
    today = _today()
    result = register(programme, today)
    quarter = Quarter.of(today)
    cohorts = [cohort(programme, quarter.previous(), today), cohort(programme, quarter, today)]
    listed = [line for line in result.lines if line.status in (UNCONTROLLED, MISSED) or line.proposal]
    listed.sort(key=lambda line: (line.status != UNCONTROLLED, line.last_visit or today))
    names = _names([line.patient_id for line in listed[:LISTED]])
    return render_template("facility/chronic.html", programme=programme, programmes=PROGRAMMES, register=result,
                           labels=STATUS_LABELS, statuses=REGISTER_STATUSES, cohorts=cohorts,
                           cohort_statuses=COHORT_STATUSES,
                           listed=listed[:LISTED], more=max(0, len(listed) - LISTED), names=names,
                           chart_url=_chart_url)


LISTED = 200
STATUS_LABELS = {
    CONTROLLED: _l("Contrôlés"), UNCONTROLLED: _l("Non contrôlés"), NO_MEASURE: _l("Vus sans mesure"),
    MISSED: _l("Visites manquées (aucune visite depuis trois mois)"),
    LOST: _l("Perdus de vue (aucune visite depuis un an)"),
    RECENT: _l("Enregistrés depuis moins de trois mois"),
    DEAD: _l("Décédés"),
}
TREND_COVERAGE = "penta3"  # the coverage drawn beside the first contacts
REGISTER_STATUSES = (CONTROLLED, UNCONTROLLED, NO_MEASURE, MISSED)


def _names(patient_ids: list[int]) -> dict[int, tuple[str, str]]:
    """Name and card number of each patient listed."""
    from appliance.patients.models import Patient

    rows = Patient.select(Patient.id, Patient.family_name, Patient.first_names, Patient.local_number).where(
        Patient.id.in_(patient_ids)) if patient_ids else []
    return {row.id: (row.full_name, row.local_number) for row in rows}


# --- Access and trends, the district review sheet -------------------------------------------------------


def _trend_charts(last: Month) -> tuple[Markup, Markup]:
    shown = trend(last)
    labels = [month.start.strftime("%m/%y") for month in shown.months]
    visits = trend_svg(_("Consultations curatives par mois, 24 mois"), labels, [
        Series(_("Femmes"), "#b4236b", shown.consultations["F"]),
        Series(_("Hommes"), "#1d4ed8", shown.consultations["M"])])
    penta3: dict[str, float | None] = {}
    for year in sorted({month.start.year for month in shown.months}):
        table = coverage_year(year, _cfg().reports, _today())
        for row in table.rows:
            if row.item.code == TREND_COVERAGE:
                penta3 |= {month.period: rate.percent for month, rate in zip(table.months, row.months, strict=True)}
    first = trend_svg(_("Premiers contacts et couverture Penta3 (%) par mois"), labels, [
        Series(_("Premiers contacts"), "#047857", shown.first_contacts),
        Series(_("Penta3 %"), "#b45309", [penta3.get(month.period) for month in shown.months])])
    return Markup(visits), Markup(first)


@bp.route("/acces/")
@requires("facility.read")
def access():
    year = _year(request.args.get("annee", type=int))
    today = _today()
    result = access_year(year, _cfg().reports.age_bands, area_year(year), today)
    visits_chart, first_chart = _trend_charts(Month.of(min(today, dt.date(year, 12, 31))))
    return render_template("facility/access.html", access=result, shape=structure(), visits_chart=visits_chart,
                           first_chart=first_chart, band_label=band_label,
                           years=range(today.year, today.year - 3, -1))


@bp.route("/revue/")
@requires("facility.read")
def review():
    year = _year(request.args.get("annee", type=int))
    today = _today()
    last = Month.of(min(today, dt.date(year, 12, 31)))
    asof = min(today, last.end)
    quarter = Quarter.of(asof)
    visits_chart, first_chart = _trend_charts(last)
    return render_template(
        "facility/review.html", year=year, table=coverage_year(year, _cfg().reports, today),
        access=access_year(year, _cfg().reports.age_bands, area_year(year), today),
        registers=[register(code, asof) for code in PROGRAMMES], programmes=PROGRAMMES, labels=STATUS_LABELS,
        statuses=REGISTER_STATUSES, cohorts=[cohort(code, quarter.previous(), today) for code in PROGRAMMES],
        cohort_statuses=COHORT_STATUSES, visits_chart=visits_chart, first_chart=first_chart, band_label=band_label,
        printed_on=today)
