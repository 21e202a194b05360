"""What a sender reports after one delivery attempt; the outbox decides what happens next from it."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class OutcomeKind(enum.StrEnum):
    DELIVERED = "delivered"
    # Received; some values were refused. Done (resending the same values would not help), and
    # each refused value is kept for staff to correct.
    DELIVERED_WITH_CONFLICTS = "delivered_with_conflicts"
    # Not received, or not known to be: try again later (5xx, time-out, reset, garbage reply).
    RETRY_LATER = "retry_later"
    # Refused as a whole for a reason a person must fix (credentials, rights, configuration).
    NEEDS_ACTION = "needs_action"


@dataclass(frozen=True)
class Conflict:
    """One value the receiver refused, worded for staff: which row, which value, why."""

    row: str  # « CPN1 — Féminin, 15–24 ans »
    value: str
    code: str  # the receiver's code, e.g. E7619
    message: str  # French
    ref: dict[str, str] = field(default_factory=dict)  # indicator, disaggregation, UIDs…

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Conflict:
        return cls(
            row=data["row"],
            value=data["value"],
            code=data["code"],
            message=data["message"],
            ref=dict(data.get("ref") or {}),
        )


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    message: str  # French, one line, for the administrator and the dead-letter list
    http_status: int | None = None
    bytes_sent: int = 0
    bytes_received: int = 0
    retry_after_s: float | None = None  # the receiver's Retry-After, when it gave one
    link_down: bool = False  # nothing came back at all: stop using the link for this flush
    conflicts: tuple[Conflict, ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)  # JSON-able, e.g. DHIS2's importCount

    @property
    def delivered(self) -> bool:
        return self.kind in (OutcomeKind.DELIVERED, OutcomeKind.DELIVERED_WITH_CONFLICTS)

    def detail_json(self) -> dict[str, Any]:
        return {"conflicts": [asdict(conflict) for conflict in self.conflicts], **self.detail}
