"""Monthly reports in the EMR: the figures by sex and age band, the records behind each one, the CSV,
sealing by the facility head, and the journey of every sealed version to DHIS2 through the outbox
(the outbox's own pages, every kind of message, are ``emr.outbox``).

The page shows a sealed version as it was sealed (its own figures and bands); the draft is the
month computed now. The drill-down runs the same query as the figure, so the list adds up to it.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_login import current_user

from appliance.config import Config
from appliance.dhis2.mapping import MappingError
from appliance.dhis2.sender import site_mapping
from appliance.emr.home import Tile
from appliance.emr.i18n import gettext as _
from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.i18n import ngettext
from appliance.emr.security import requires
from appliance.outbox import queue
from appliance.outbox.models import ItemState, OutboxItem
from appliance.outbox.outcome import OutcomeKind
from appliance.reports.ages import AgeBands
from appliance.reports.builder import (
    Month,
    MonthlyReport,
    PeriodError,
    build_report,
    count_behind,
    note_of,
    records_behind,
)
from appliance.reports.definitions import load_definitions
from appliance.reports.delivery import KIND, ReportDelivery, report_deliveries
from appliance.reports.export import report_csv
from appliance.reports.figures import SEXES
from appliance.reports.models import ReportRecord, ReportVersion
from appliance.reports.sealing import SealError, report_record, seal, sealed_report, versions_of
from appliance.settings.reports import ReportSettings
from appliance.store.utc import aware_utc

bp = Blueprint("reports", __name__)

TILES = (
    Tile(_l("Rapports mensuels"), "reports.index", "reports.read", order=60),
)  # on the home page (composed in create_app)

MONTHS_LISTED = 12
DRILL_PAGE = 200
DRAFT = "brouillon"
# The words of appliance.dhis2 and appliance.reports (French, for the files sent and kept), as staff read them.
SEX_LABELS = {"M": _l("Masculin"), "F": _l("Féminin")}


def _cfg() -> Config:
    return current_app.config["APPLIANCE"]


def _today() -> dt.date:
    return dt.datetime.now(_cfg().uploads.zone()).date()


def local_time(when: dt.datetime | None) -> str:
    """A naive UTC timestamp from the database, shown in the site's time zone."""
    if when is None:
        return ""
    return aware_utc(when).astimezone(_cfg().uploads.zone()).strftime("%d/%m/%Y %H:%M")


@bp.app_template_filter("month_label")
def month_label(month: Month) -> str:
    """« mars 2024 », "March 2024"."""
    return format_date(month.start, "LLLL yyyy")


def band_label(band: str) -> str:
    """« moins de 1 an », « 1–4 ans », « 50 ans et plus » (codes of appliance.reports.figures.band_code)."""
    if band.startswith("lt"):
        return ngettext("moins de %(num)s an", "moins de %(num)s ans", int(band[2:]))
    if band.endswith("p"):
        return _("%(low)s ans et plus", low=int(band[:-1]))
    low, high = band.split("_")
    return _("%(low)s–%(high)s ans", low=int(low), high=int(high))


def disaggregation_label(code: str) -> str:
    """« Féminin, 15–24 ans »."""
    if code == "total":
        return _("Total")
    sex, band = code.split("_", 1)
    return f"{SEX_LABELS[sex]}, {band_label(band)}"


@bp.app_template_global("delivery_label")
def delivery_label(delivery: ReportDelivery) -> str:
    """Where a sealed version is on its way to DHIS2 (the label of appliance.reports.delivery, translated)."""
    return _(delivery.state_label)


def _month(period: str) -> Month:
    try:
        return Month.parse(period)
    except PeriodError:
        abort(404)


def _version_settings(version: ReportVersion) -> ReportSettings:
    """The bands and delay a sealed version was built with, for its drill-down."""
    return ReportSettings(age_bands=version.bounds, lost_after_days=version.lost_after_days)


def _chosen(period: str) -> tuple[MonthlyReport, ReportVersion | None, list[ReportVersion]]:
    """The report the page shows: ``?v=N`` a sealed version, ``?v=brouillon`` the draft; by default the
    latest sealed version, or the draft when the month was never sealed."""
    versions = versions_of(period)
    wanted = request.args.get("v", "")
    if wanted != DRAFT and versions:
        if not wanted:
            return sealed_report(versions[-1]), versions[-1], versions
        version = next((item for item in versions if str(item.number) == wanted), None) or abort(404)
        return sealed_report(version), version, versions
    return build_report(period, _cfg().reports, today=_today()), None, versions


def _delivery_by_version(record: ReportRecord | None) -> dict[int, object]:
    if record is None:
        return {}
    return {delivery.version: delivery for delivery in report_deliveries(record.ref)}


def _unmapped(report: MonthlyReport) -> tuple[list[str], str]:
    """Non-zero cells the DHIS2 mapping has no place for (DHIS2 would refuse the whole report)."""
    try:
        index = site_mapping(_cfg().dhis2).cell_index()
    except MappingError as exc:
        return [], str(exc)
    cells = sorted(cell for cell, value in report.figures.values.items() if value and cell not in index)
    return [f"{report.definitions.label_of(code)} — {disaggregation_label(dis)}" for code, dis in cells], ""


def _changes(draft: MonthlyReport, sealed: ReportVersion) -> list[tuple[str, int, int]]:
    before = sealed.figures.values
    cells = sorted(set(before) | set(draft.figures.values))
    return [
        (f"{draft.definitions.label_of(code)} — {disaggregation_label(dis)}", before.get((code, dis), 0),
         draft.figures.values.get((code, dis), 0))
        for code, dis in cells
        if before.get((code, dis), 0) != draft.figures.values.get((code, dis), 0)
    ]


@bp.route("/rapports/")
@requires("reports.read")
def index():
    today = _today()
    month = Month.of(today)
    periods = []
    for _month_index in range(MONTHS_LISTED):
        periods.append(month.period)
        month = month.previous()
    records = {record.period: record for record in ReportRecord.select()}
    periods += sorted((period for period in records if period not in periods), reverse=True)
    rows = []
    for period in periods:
        record = records.get(period)
        versions = versions_of(period) if record else []
        deliveries = _delivery_by_version(record)
        latest = versions[-1] if versions else None
        rows.append({
            "month": Month.parse(period),
            "latest": latest,
            "sealed_at": local_time(latest.sealed_at) if latest else "",
            "delivery": deliveries.get(latest.number) if latest else None,
            "over": Month.parse(period).is_over(today),
        })
    return render_template("reports/index.html", rows=rows)


@bp.route("/rapports/<period>")
@requires("reports.read")
def month_page(period: str):
    month = _month(period)
    report, version, versions = _chosen(period)
    record = report_record(period)
    deliveries = _delivery_by_version(record)
    unmapped, mapping_error = _unmapped(report)
    changes = _changes(report, versions[-1]) if version is None and versions else []
    view = request.args.get("v", "")
    unsexed = [(report.definitions.label_of(code), count, _drill_url(period, view, code))
               for code, count in report.unsexed.items()]
    return render_template(
        "reports/month.html",
        month=month, report=report, version=version, versions=versions, deliveries=deliveries,
        sealed_at={item.number: local_time(item.sealed_at) for item in versions},
        unmapped=unmapped, mapping_error=mapping_error, changes=changes, draft=DRAFT, unsexed=unsexed,
        can_seal_now=month.is_over(_today()), sexes=SEX_LABELS, band_label=band_label, drill=_drill_url,
        view=view,
    )


def _drill_url(period: str, view: str, indicator: str, sex: str | None = None, band: str | None = None) -> str:
    args = {"indicateur": indicator}
    if sex:
        args["sexe"] = sex
    if band:
        args["tranche"] = band
    if view:
        args["v"] = view
    return f"{url_for('reports.drill_down', period=period)}?{urlencode(args)}"


@bp.route("/rapports/<period>.csv")
@requires("reports.read")
def csv_download(period: str):
    _month(period)
    report, version, _versions = _chosen(period)
    name = f"rapport-{period}-{'v' + str(version.number) if version else DRAFT}.csv"
    return Response(report_csv(report), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.route("/rapports/<period>/detail")
@requires("reports.read")
def drill_down(period: str):
    month = _month(period)
    definitions = load_definitions()
    indicator = definitions.indicators.get(request.args.get("indicateur", "")) or abort(404)
    sex = request.args.get("sexe") or None
    band = request.args.get("tranche") or None
    if sex is not None and sex not in SEXES:
        abort(404)
    view = request.args.get("v", "")
    versions = versions_of(period)
    version = None
    settings = _cfg().reports
    if view and view != DRAFT:
        version = next((item for item in versions if str(item.number) == view), None) or abort(404)
        settings = _version_settings(version)
    if band is not None and band not in AgeBands.from_bounds(settings.age_bands).codes:
        abort(404)
    page = max(request.args.get("page", 1, type=int), 1)
    rows = records_behind(period, indicator.code, settings, sex=sex, band=band, today=_today(),
                          limit=DRILL_PAGE + 1, offset=(page - 1) * DRILL_PAGE)
    sealed_value = None
    if version is not None:  # the figure as sealed, to show when the record changed since
        sealed_value = sum(value for (code, dis), value in version.figures.values.items()
                           if code == indicator.code and (not sex or dis.startswith(f"{sex}_"))
                           and (not band or dis.split("_", 1)[1] == band))
    if page == 1 and len(rows) <= DRILL_PAGE:
        total = len(rows)
    else:
        total = count_behind(period, indicator.code, settings, sex=sex, band=band, today=_today())
    return render_template(
        "reports/detail.html", month=month, indicator=indicator, note=note_of(indicator, settings.lost_after_days),
        sex=sex, band=band, cell=_cell_label(sex, band), rows=rows[:DRILL_PAGE], page=page,
        has_more=len(rows) > DRILL_PAGE, total=total, version=version, sealed_value=sealed_value, view=view,
        chart_url=_chart_url,
        page_url=lambda number: url_for("reports.drill_down", period=period,
                                        **{**request.args.to_dict(), "page": number}),
    )


def _cell_label(sex: str | None, band: str | None) -> str:
    if sex and band:
        return disaggregation_label(f"{sex}_{band}")
    if sex:
        return str(SEX_LABELS[sex])
    if band:
        return _("les deux sexes, %(band)s", band=band_label(band))
    return _("tous")


def _chart_url(patient_id: int) -> str | None:
    """The patient's chart when the patient record's pages are installed."""
    if "patients.chart" not in current_app.view_functions:
        return None
    return url_for("patients.chart", patient_id=patient_id)


@bp.route("/rapports/<period>/sceller", methods=["POST"])
@requires("reports.seal")
def seal_month(period: str):
    _month(period)
    try:
        version = seal(current_user.actor, period, _cfg().reports, reason=request.form.get("motif", ""),
                       today=_today())
    except SealError as exc:
        flash(str(exc), "error")
        return redirect(url_for("reports.month_page", period=period, v=DRAFT))
    flash(_("Version %(number)s scellée : elle attend l'envoi vers DHIS2.", number=version.number))
    return redirect(url_for("reports.journey", period=period))


STEP_LABELS = {
    "queued": _l("En file d'attente"),
    "sending": _l("Envoi en cours"),
    "sent": _l("Reçu par DHIS2"),
    "conflicts": _l("Reçu, avec des valeurs refusées"),
    "needs_action": _l("Action nécessaire"),
    "dead": _l("Lettre morte"),
    "superseded": _l("Remplacé par une version plus récente"),
    "abandoned": _l("Abandonné"),
}


def journey_step(state: str, last_outcome: str | None, with_conflicts: bool) -> str:
    """Where a version is on its way: queued → sending → sent / conflicts / needs action / dead letter."""
    if state == ItemState.DELIVERED:
        return "conflicts" if with_conflicts else "sent"
    if state == ItemState.DEAD:
        return "needs_action" if last_outcome == OutcomeKind.NEEDS_ACTION.value else "dead"
    return {ItemState.PENDING: "queued", ItemState.SENDING: "sending", ItemState.SUPERSEDED: "superseded",
            ItemState.ABANDONED: "abandoned"}.get(state, "queued")


@bp.route("/rapports/<period>/envois")
@requires("reports.read")
def journey(period: str):
    month = _month(period)
    record = report_record(period) or abort(404)
    versions = {version.number: version for version in versions_of(period)}
    items = {item.id: item for item in OutboxItem.select().where((OutboxItem.kind == KIND)
                                                                  & (OutboxItem.ref == record.ref))}
    journeys = []
    for delivery in report_deliveries(record.ref):
        item = items[delivery.item_id]
        journeys.append({
            "delivery": delivery,
            "version": versions.get(delivery.version),
            "step": journey_step(item.state, item.last_outcome, delivery.with_conflicts),
            "queued_at": local_time(delivery.queued_at),
            "delivered_at": local_time(delivery.delivered_at),
            "next_attempt_at": local_time(item.next_attempt_at) if item.state == ItemState.PENDING else "",
            "attempts": [(attempt, local_time(attempt.started_at)) for attempt in queue.attempts_of(item.id)],
        })
    return render_template("reports/journey.html", month=month, journeys=journeys, steps=STEP_LABELS,
                           configured=_cfg().dhis2.configured)
