"""The facility head's pages: population and targets (the médecin edits them), coverage and
drop-out month by month and year to date with the records behind each numerator, the chronic-care
register and its quarterly cohort, access by sex and age with 24-month charts, and the printable
district review sheet. Figures come from ``appliance.facility``; nothing here counts."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from appliance.config import Config
from appliance.emr.home import Tile
from appliance.emr.i18n import gettext as _
from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.security import can, current_actor, requires
from appliance.facility.coverage import coverage_year, load_coverage, records_behind
from appliance.facility.population import PopulationError, area_year, record_target, record_village, target_groups
from appliance.reports.builder import Month
from appliance.store.db import database

bp = Blueprint("facility", __name__)

TILES = (Tile(_l("Couverture et cibles"), "facility.coverage", "facility.read", order=62),)

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
    return "—" if value is None else f"{value:.1f} %".replace(".", ",")


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
