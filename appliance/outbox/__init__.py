"""Store-and-forward outbox: SQLite-backed, at-least-once, safe against a power cut at any instant.

Public API (other packages depend on these names): ``enqueue``, ``register_sender``, ``flush``,
``status``, ``list_dead_letters``, ``requeue``, ``abandon``, ``Outcome``/``OutcomeKind``/``Conflict``.
"""

from appliance.outbox.outcome import Conflict, Outcome, OutcomeKind
from appliance.outbox.queue import (
    DeadLetter,
    FlushReport,
    OutboxStatus,
    abandon,
    enqueue,
    flush,
    list_dead_letters,
    register_sender,
    requeue,
    status,
)

__all__ = [
    "Conflict",
    "DeadLetter",
    "FlushReport",
    "OutboxStatus",
    "Outcome",
    "OutcomeKind",
    "abandon",
    "enqueue",
    "flush",
    "list_dead_letters",
    "register_sender",
    "requeue",
    "status",
]
