"""Monthly reports through the outbox to DHIS2: queueing at sealing time, sending at flush time.

The outbox item holds the figures, not the DHIS2 payload: the payload is built from the mapping
in force when it is sent, so a report queued before a mapping fix goes out corrected, and
``appliance dhis2 payload`` shows exactly what the next attempt will send.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from appliance.dhis2.client import CredentialsError, Dhis2Client, TransportError
from appliance.dhis2.figures import FiguresError, ReportFigures, nonzero_union
from appliance.dhis2.mapping import Dhis2Mapping, MappingError, load_mapping
from appliance.dhis2.payload import DataValueSetPayload, PayloadError, payload_overwriting
from appliance.dhis2.replies import classify_import_reply, classify_transport_error
from appliance.dhis2.settings import Dhis2Settings
from appliance.outbox.models import ItemState, OutboxAttempt, OutboxItem
from appliance.outbox.outcome import Conflict, Outcome, OutcomeKind
from appliance.outbox.queue import enqueue

if TYPE_CHECKING:
    from appliance.config import Config

KIND = "dhis2.report"


def enqueue_report(
    figures: ReportFigures,
    *,
    report_ref: str,
    version: int,
    previous: Iterable[ReportFigures] = (),
    complete_date: dt.date | None = None,
    urgent: bool = False,
) -> OutboxItem:
    """Queue a sealed report for DHIS2, inside the caller's (sealing) transaction.

    ``report_ref`` links back to the report (e.g. ``"report:12"``); ``previous`` are its earlier
    sealed versions, whose non-zero cells the new version overwrites. A newer version of the same
    month and org unit supersedes one still waiting.
    """
    payload = {
        "figures": figures.to_json_dict(),
        "previous_nonzero": sorted(list(cell) for cell in nonzero_union(previous)),
        "report": {"ref": report_ref, "version": version},
        "complete_date": complete_date.isoformat() if complete_date else None,
    }
    return enqueue(
        KIND, payload, dedupe_key=f"{figures.org_unit or '-'}:{figures.period}", ref=report_ref, urgent=urgent
    )


def site_mapping(settings: Dhis2Settings) -> Dhis2Mapping:
    """The mapping file with this site's data set / org unit / attribute option combo applied."""
    return load_mapping(settings.mapping_file).with_target(
        data_set=settings.data_set,
        org_unit=settings.org_unit,
        attribute_option_combo=settings.attribute_option_combo,
    )


def payload_of_item(item: OutboxItem, settings: Dhis2Settings, mapping: Dhis2Mapping) -> DataValueSetPayload:
    """What sending this outbox item would POST now (FiguresError / PayloadError if it cannot)."""
    data = item.load_payload()
    figures = ReportFigures.from_json_dict(data["figures"])
    must_overwrite = {(indicator, disaggregation) for indicator, disaggregation in data["previous_nonzero"]}
    complete = dt.date.fromisoformat(data["complete_date"]) if data.get("complete_date") else None
    return payload_overwriting(
        figures,
        mapping,
        must_overwrite,
        zeros=settings.zeros,
        complete_date=complete if settings.complete_data_set else None,
    )


class Dhis2ReportSender:
    """The outbox sender of ``dhis2.report`` items. Credentials and mapping are read at each flush."""

    def __init__(self, settings: Dhis2Settings, secrets_dir: Path) -> None:
        self._settings = settings
        self._secrets_dir = secrets_dir
        self._client: Dhis2Client | None = None
        self._mapping: Dhis2Mapping | None = None

    def __call__(self, item: OutboxItem) -> Outcome:
        try:
            if self._mapping is None:
                self._mapping = site_mapping(self._settings)
            payload = payload_of_item(item, self._settings, self._mapping)
            if self._client is None:
                self._client = Dhis2Client.from_settings(self._settings, self._secrets_dir)
        except (MappingError, FiguresError, PayloadError, CredentialsError) as exc:
            return Outcome(OutcomeKind.NEEDS_ACTION, f"envoi impossible : {exc}")
        try:
            exchange = self._client.post_data_value_set(payload.to_json_bytes())
        except TransportError as exc:
            return classify_transport_error(exc)
        return classify_import_reply(exchange, payload)

    def close(self) -> None:
        """End of a flush: drop the connection and forget credentials and mapping until the next."""
        if self._client is not None:
            self._client.close()
        self._client = None
        self._mapping = None


def outbox_senders(cfg: Config) -> dict[str, Dhis2ReportSender]:
    """Senders this package gives the outbox; none until DHIS2 is configured (reports then wait)."""
    if not cfg.dhis2.configured:
        return {}
    return {KIND: Dhis2ReportSender(cfg.dhis2, cfg.paths.secrets_dir)}


# --- For the EMR pages: "scellé → en attente → envoyé", and the conflicts shown to staff -----------

STATE_LABELS = {
    ItemState.PENDING: "En attente d'envoi",
    ItemState.SENDING: "Envoi en cours",
    ItemState.DELIVERED: "Reçu par DHIS2",
    ItemState.DEAD: "À traiter par l'administrateur",
    ItemState.SUPERSEDED: "Remplacé par une version plus récente",
    ItemState.ABANDONED: "Abandonné",
}


@dataclass(frozen=True)
class ReportDelivery:
    item_id: int
    version: int
    period: str
    state: str  # an ItemState value
    state_label: str  # French
    with_conflicts: bool
    queued_at: dt.datetime
    delivered_at: dt.datetime | None
    attempts: int
    last_message: str
    conflicts: list[Conflict] = field(default_factory=list)


def report_deliveries(report_ref: str) -> list[ReportDelivery]:
    """Every queued version of a report, newest first, with its journey to DHIS2 and its conflicts."""
    items = (
        OutboxItem.select()
        .where((OutboxItem.kind == KIND) & (OutboxItem.ref == report_ref))
        .order_by(OutboxItem.id.desc())
    )
    deliveries = []
    for item in items:
        data = item.load_payload()
        with_conflicts = item.last_outcome == OutcomeKind.DELIVERED_WITH_CONFLICTS.value
        label = STATE_LABELS.get(item.state, item.state)
        if with_conflicts and item.state == ItemState.DELIVERED:
            label = "Reçu par DHIS2, avec des valeurs refusées"
        deliveries.append(
            ReportDelivery(
                item_id=item.id,
                version=data["report"]["version"],
                period=data["figures"]["period"],
                state=item.state,
                state_label=label,
                with_conflicts=with_conflicts,
                queued_at=item.created_at,
                delivered_at=item.delivered_at,
                attempts=item.attempts,
                last_message=item.last_message or "",
                conflicts=_last_conflicts(item),
            )
        )
    return deliveries


def report_conflicts(report_ref: str) -> list[Conflict]:
    """The values DHIS2 refused in the newest delivered version of the report (empty: none)."""
    for delivery in report_deliveries(report_ref):
        if delivery.state == ItemState.DELIVERED:
            return delivery.conflicts
    return []


def _last_conflicts(item: OutboxItem) -> list[Conflict]:
    attempt = (
        OutboxAttempt.select()
        .where((OutboxAttempt.item == item.id) & OutboxAttempt.finished_at.is_null(False))
        .order_by(OutboxAttempt.number.desc())
        .first()
    )
    if attempt is None:
        return []
    return [Conflict.from_dict(raw) for raw in attempt.detail_json().get("conflicts", [])]
