"""Store-and-forward outbox: SQLite-backed, at-least-once, safe against a power cut at any instant.

Public API (other packages depend on these names): ``enqueue``, ``status``, ``list_dead_letters``,
``requeue``, ``abandon``, ``urgent_due``, ``Outcome``/``OutcomeKind``/``Conflict``, and ``Outbox`` (its senders and
``flush``), which the flushing process composes (``appliance.wiring.compose_outbox``).
"""

from appliance.outbox.outcome import Conflict, Outcome, OutcomeKind
from appliance.outbox.queue import (
    DeadLetter,
    FlushReport,
    Outbox,
    OutboxStatus,
    abandon,
    enqueue,
    list_dead_letters,
    requeue,
    status,
    urgent_due,
)

__all__ = [
    "Conflict",
    "DeadLetter",
    "FlushReport",
    "Outbox",
    "OutboxStatus",
    "Outcome",
    "OutcomeKind",
    "abandon",
    "enqueue",
    "list_dead_letters",
    "requeue",
    "status",
    "urgent_due",
]
