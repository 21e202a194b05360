"""What the agent tells others: a status snapshot and a stream of events.

Telemetry (appliance.telemetry) reads ``Agent.status()`` for its retained status message and
subscribes to ``Agent.events`` for its events topic. Events are plain data; a subscriber that
raises is logged and never breaks the agent. Kinds emitted:

- ``battery_state`` (every change between ok/low/critical), ``battery_low``, ``battery_critical``,
  ``sensor_fault`` / ``sensor_ok``;
- ``shutdown`` (the clean shutdown has begun: the last event before the power goes);
- ``modem_added`` / ``modem_removed``; ``data_budget_warning`` / ``data_budget_exceeded``;
- ``upload_window`` (a window finished, with its outcome), ``upload_failed``;
- ``clock_jump`` (the wall clock moved against the monotonic clock: fake-hwclock, then NTP).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from appliance.modem.base import ModemStatus
from appliance.modem.usage import MonthUsage
from appliance.power.monitor import BatterySnapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AgentEvent:
    kind: str
    message: str  # French, for a person
    at: datetime  # aware, UTC
    severity: str = "info"  # info, warning, critical
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "at": self.at.isoformat(),
                "severity": self.severity, "data": self.data}


Subscriber = Callable[[AgentEvent], None]


class EventBus:
    def __init__(self, now: Callable[[], datetime], *, keep: int = 50) -> None:
        self._now = now
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()
        self.recent: deque[AgentEvent] = deque(maxlen=keep)

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber(event)`` for every event from now on; returns the unsubscribe function."""
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

        return unsubscribe

    def emit(self, kind: str, message: str, *, severity: str = "info", **data: Any) -> AgentEvent:
        event = AgentEvent(kind, message, self._now(), severity, data)
        with self._lock:
            self.recent.append(event)
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception("Abonné aux événements en erreur (%s)", kind)
        return event


@dataclass(frozen=True)
class ClockStatus:
    synced: bool | None  # the kernel says NTP-synchronised (None: cannot tell)
    last_jump_s: float | None = None
    last_jump_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"synced": self.synced, "last_jump_s": self.last_jump_s,
                "last_jump_at": self.last_jump_at.isoformat() if self.last_jump_at else None}


@dataclass(frozen=True)
class WindowSummary:
    scheduled_at: datetime
    outcome: str  # done, partial, failed, skipped
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"scheduled_at": self.scheduled_at.isoformat(), "outcome": self.outcome, "detail": self.detail}


@dataclass(frozen=True)
class AgentStatus:
    at: datetime
    started_at: datetime
    battery: BatterySnapshot
    modem: ModemStatus
    data: MonthUsage
    clock: ClockStatus
    last_window: WindowSummary | None
    next_window_at: datetime | None
    read_only: bool
    shutting_down: bool
    simulation: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (datetimes ISO 8601, enums as their values)."""
        return {
            "at": self.at.isoformat(),
            "started_at": self.started_at.isoformat(),
            "uptime_s": round((self.at - self.started_at).total_seconds()),
            "battery": self.battery.as_dict(),
            "modem": self.modem.as_dict(),
            "data": self.data.as_dict(),
            "clock": self.clock.as_dict(),
            "last_window": self.last_window.as_dict() if self.last_window else None,
            "next_window_at": self.next_window_at.isoformat() if self.next_window_at else None,
            "read_only": self.read_only,
            "shutting_down": self.shutting_down,
            "simulation": self.simulation,
        }
