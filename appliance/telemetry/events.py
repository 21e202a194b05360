"""Events a remote operator must hear about, even if the power goes right after.

They are not published directly: ``emit_event`` writes them to the SQLite outbox (kind
``mqtt_event``) in one committed transaction, and the publisher's sender delivers them during
the next upload window with QoS 1, reporting success only once the broker's PUBACK is back.
Delivery is at least once; the short random ``id`` lets the fleet view drop duplicates.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

OUTBOX_KIND = "mqtt_event"
MAX_EVENT_BYTES = 512

EVENT_KINDS = (
    "battery_low",
    "battery_critical",
    "shutdown",
    "upload_failed",
    "clock_jump",
    "login_lockout",
    "data_budget",
    "sensor_fault",
    "simr_suspect",  # a suspected case of a notifiable disease (appliance/link/simr.py)
)
# Sent in the next window even when the battery is LOW or the data budget is spent.
URGENT_KINDS = frozenset({"battery_critical", "shutdown", "simr_suspect"})

Scalar = str | int | float | bool | None


def event_payload(kind: str, details: dict[str, Scalar] | None = None, *, now: float | None = None) -> dict:
    """The JSON document of one event; ValueError for an unknown kind or oversized details."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown telemetry event kind {kind!r} (known: {', '.join(EVENT_KINDS)})")
    document: dict[str, Any] = {
        "id": secrets.token_hex(4),
        "t": int(time.time() if now is None else now),
        "k": kind,
    }
    if details:
        for key, value in details.items():
            if not isinstance(value, Scalar):
                raise ValueError(f"event detail {key!r} must be a number, text or boolean")
        document["d"] = details
    if len(encode_event(document)) > MAX_EVENT_BYTES:
        raise ValueError(f"event {kind} exceeds {MAX_EVENT_BYTES} bytes: keep details short")
    return document


def encode_event(document: dict) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def emit_event(kind: str, details: dict[str, Scalar] | None = None, *, dedupe_key: str | None = None,
               now: float | None = None) -> dict:
    """Queue an event durably for the next window; returns the queued document.

    The caller's database must be open (the outbox lives in it). Battery-critical and
    shutdown events are urgent: the outbox sends them even under a LOW battery or a spent
    data budget.
    """
    from appliance import outbox

    document = event_payload(kind, details, now=now)
    outbox.enqueue(OUTBOX_KIND, document, dedupe_key=dedupe_key, urgent=kind in URGENT_KINDS)
    return document
