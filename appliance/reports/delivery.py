"""A sealed report's way out: queued in the outbox in the sealing transaction, then followed
("scellé → en attente → envoyé") by the EMR pages. The sender that delivers it is DHIS2's
(``appliance.dhis2.sender``, composed by ``appliance.wiring``): reports does not know DHIS2.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from appliance.outbox.models import ItemState, OutboxAttempt, OutboxItem
from appliance.outbox.outcome import Conflict, OutcomeKind
from appliance.outbox.queue import enqueue
from appliance.reports.figures import ReportFigures, nonzero_union

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


# --- For the EMR pages: "scellé → en attente → envoyé", and the conflicts shown to staff -----------


def N_(label: str) -> str:
    """Marks a French label for the catalogue (pybabel's default keyword); the web translates it when shown."""
    return label


STATE_LABELS = {
    ItemState.PENDING: N_("En attente d'envoi"),
    ItemState.SENDING: N_("Envoi en cours"),
    ItemState.DELIVERED: N_("Reçu par DHIS2"),
    ItemState.DEAD: N_("À traiter par l'administrateur"),
    ItemState.SUPERSEDED: N_("Remplacé par une version plus récente"),
    ItemState.ABANDONED: N_("Abandonné"),
}
DELIVERED_WITH_CONFLICTS = N_("Reçu par DHIS2, avec des valeurs refusées")


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
            label = DELIVERED_WITH_CONFLICTS
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
