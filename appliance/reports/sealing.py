"""Sealing a month: the facility head signs the figures off; they are versioned and queued for DHIS2.

Only the ``medecin`` role seals (permission ``reports.seal``): in a CSCom the médecin chef signs the
monthly report sent to the district; administrators run the machine, they do not attest figures.

The version and its outbox item are written in ONE transaction: a power cut or an error leaves
either both or neither, so a sealed report is never forgotten by the outbox and nothing is sent
that was not sealed. A late correction is a new version with a reason; the outbox then sends the
new figures with the zeros that overwrite cells which went back to zero (``previous``), and the
older versions stay readable.
"""

from __future__ import annotations

import datetime as dt
import json

import peewee

from appliance.outbox.models import OutboxItem
from appliance.reports.builder import Month, MonthlyReport, build_report
from appliance.reports.definitions import load_definitions
from appliance.reports.delivery import enqueue_report
from appliance.reports.models import ReportRecord, ReportVersion
from appliance.settings.reports import ReportSettings
from appliance.store.audit import Actor, audited_save
from appliance.store.db import database


class SealError(ValueError):
    """Sealing refused, for a reason the facility head can act on (French)."""


def versions_of(period: str) -> list[ReportVersion]:
    """The sealed versions of a month, oldest first (empty: never sealed)."""
    return list(
        ReportVersion.select()
        .join(ReportRecord, on=(ReportVersion.report == ReportRecord.id))
        .where(ReportRecord.period == period)
        .order_by(ReportVersion.number)
    )


def latest_version(period: str) -> ReportVersion | None:
    versions = versions_of(period)
    return versions[-1] if versions else None


def report_record(period: str) -> ReportRecord | None:
    return ReportRecord.get_or_none(ReportRecord.period == period)


def sealed_report(version: ReportVersion) -> MonthlyReport:
    """A sealed version as a report object (its own bands), for the page and the CSV."""
    from appliance.reports.ages import AgeBands

    record = ReportRecord.get_by_id(version.report_id)
    return MonthlyReport(Month.parse(record.period), version.figures, AgeBands.from_bounds(version.bounds),
                         load_definitions(), lost_after_days=version.lost_after_days)


def seal(actor: Actor, period: str, settings: ReportSettings, *, reason: str = "",
         today: dt.date | None = None) -> ReportVersion:
    """Build the month's figures now, store them as the next version and queue them for DHIS2."""
    today = today or dt.date.today()
    month = Month.parse(period)
    if not month.is_over(today):
        raise SealError(
            f"Le mois de {month.label} n'est pas terminé : son rapport peut être scellé à partir du "
            f"{(month.end + dt.timedelta(days=1)):%d/%m/%Y}."
        )
    reason = " ".join(reason.split())
    try:
        # IMMEDIATE: take the write lock before reading, so the figures, the version number and the
        # queued item come from one snapshot and a concurrent writer waits instead of failing us.
        with database.atomic("IMMEDIATE"):
            report = build_report(period, settings, today=today)
            record = report_record(period) or audited_save(actor, ReportRecord(period=period))
            earlier = versions_of(period)
            if earlier:
                if not reason:
                    raise SealError(
                        f"Le rapport de {month.label} est déjà scellé (version {earlier[-1].number}) : "
                        "indiquez le motif de la correction pour sceller une nouvelle version."
                    )
                if earlier[-1].figures == report.figures:
                    raise SealError(
                        f"Aucun chiffre n'a changé depuis la version {earlier[-1].number} : rien à renvoyer."
                    )
            number = len(earlier) + 1
            item = enqueue_report(
                report.figures,
                report_ref=record.ref,
                version=number,
                previous=[version.figures for version in earlier],
                complete_date=today,
            )
            return audited_save(
                actor,
                ReportVersion(
                    report=record.id,
                    number=number,
                    figures_json=json.dumps(report.figures.to_json_dict(), ensure_ascii=False, separators=(",", ":")),
                    definitions_sha256=load_definitions().sha256,
                    age_bands=json.dumps(list(settings.age_bands)),
                    lost_after_days=settings.lost_after_days,
                    sealed_by=actor.user_id,
                    sealed_by_name=actor.username,
                    sealed_role=actor.role,
                    reason=reason,
                    outbox_item=item.id,
                ),
                reason=f"rapport {period} scellé, version {number}" + (f" : {reason}" if reason else ""),
            )
    except peewee.IntegrityError as exc:  # two heads sealing the same month at the same instant
        raise SealError(f"Le rapport de {month.label} vient d'être scellé par ailleurs : rechargez la page.") from exc


def latest_outbox_item(period: str) -> OutboxItem:
    """The outbox item of the month's latest sealed version: what ``appliance dhis2 payload`` shows."""
    try:
        month = Month.parse(period)
    except ValueError as exc:
        raise SealError(str(exc)) from exc
    version = latest_version(period)
    if version is None or version.outbox_item_id is None:
        raise SealError(f"Le rapport de {month.label} n'a pas encore été scellé : rien à envoyer.")
    return OutboxItem.get_by_id(version.outbox_item_id)
