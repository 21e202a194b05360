"""The topic scheme, shared by the clinic's publisher and the ops fleet view.

``<prefix>/<site_id>/$state``  retained, plain text: init, ready, alert, sleeping, lost (last will)
``<prefix>/<site_id>/status``  retained, compact JSON (see status.py and docs/telemetry.md)
``<prefix>/<site_id>/events``  not retained, compact JSON, one message per event
"""

from __future__ import annotations

import re
from enum import StrEnum

# A site id is the MQTT user name and a topic level: lower case, digits, hyphens (``cscom-kati-01``).
SITE_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,39}")

STATE = "$state"
STATUS = "status"
EVENTS = "events"
LEAVES = (STATE, STATUS, EVENTS)


class State(StrEnum):
    """Homie 5 device states we use (``disconnected`` is folded into ``sleeping``)."""

    INIT = "init"
    READY = "ready"
    ALERT = "alert"
    SLEEPING = "sleeping"
    LOST = "lost"


def topic(prefix: str, site_id: str, leaf: str) -> str:
    return f"{prefix}/{site_id}/{leaf}"


def subscriptions(prefix: str) -> list[str]:
    """What an ops client subscribes to in order to see every clinic."""
    return [f"{prefix}/+/{leaf}" for leaf in LEAVES]


def parse(prefix: str, name: str) -> tuple[str, str] | None:
    """``clinic/ml-kati/status`` → ``("ml-kati", "status")``; None for a topic outside the scheme."""
    parts = name.split("/")
    if len(parts) != 3 or parts[0] != prefix or parts[2] not in LEAVES or not parts[1]:
        return None
    return parts[1], parts[2]
