"""The outbox's sender for ``mqtt_event`` items, and the one publisher a process shares.

A clinic has one MQTT client id, so the agent's windows and this sender must use the same
publisher: ``shared_publisher(cfg)``. When the outbox flushes outside a window (``appliance
outbox flush`` by hand), the sender opens the connection itself and closes it after the flush;
under the agent it leaves it open for the window's status (see bridge.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from appliance.outbox.models import OutboxItem
from appliance.outbox.outcome import Outcome, OutcomeKind
from appliance.settings.telemetry import TelemetrySettings
from appliance.telemetry import topics
from appliance.telemetry.events import OUTBOX_KIND, encode_event
from appliance.telemetry.publisher import Delivery, TelemetryPublisher, TelemetryUnavailable
from appliance.telemetry.wire import mqtt_publish_bytes

if TYPE_CHECKING:
    from appliance.config import Config

PUBACK_BYTES = 4

_shared: dict[tuple[str, TelemetrySettings], TelemetryPublisher] = {}
_shared_lock = threading.Lock()


def shared_publisher(cfg: Config) -> TelemetryPublisher:
    """This process's publisher for the clinic (created on first use; TelemetryUnavailable if it cannot be)."""
    from appliance.telemetry.counters import SqliteCounters

    key = (cfg.site.id, cfg.telemetry)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = TelemetryPublisher.from_config(cfg, counters=SqliteCounters())
        return _shared[key]


class MqttEventSender:
    def __init__(self, publisher_for: Callable[[], TelemetryPublisher]) -> None:
        self._publisher_for = publisher_for
        self._opened: TelemetryPublisher | None = None  # a connection this sender opened itself

    def __call__(self, item: OutboxItem) -> Outcome:
        document = item.load_payload()
        if not isinstance(document, dict):
            return Outcome(OutcomeKind.NEEDS_ACTION, "événement de télémétrie illisible (pas un objet JSON)")
        try:
            publisher = self._publisher_for()
        except TelemetryUnavailable as exc:
            return Outcome(OutcomeKind.RETRY_LATER, f"télémétrie indisponible : {exc}", link_down=True)
        if not publisher.window_open:
            self._opened = publisher
            publisher.open_window()
        delivery = publisher.send_event(document)
        if delivery is Delivery.NEEDS_ACTION:
            return Outcome(OutcomeKind.NEEDS_ACTION,
                           f"événement de télémétrie invalide (type {document.get('k')!r} ou trop long)")
        if delivery is Delivery.RETRY_LATER:
            reason = publisher.last_error or "pas d'accusé de réception du courtier"
            return Outcome(OutcomeKind.RETRY_LATER, f"courtier MQTT : {reason}", link_down=True)
        sent = mqtt_publish_bytes(publisher.topic(topics.EVENTS), encode_event(document))
        return Outcome(OutcomeKind.DELIVERED, "événement publié", bytes_sent=sent, bytes_received=PUBACK_BYTES)

    def close(self) -> None:
        """End of a flush: close the connection if this sender opened it, unless the agent's window
        goes on to publish the status over it (the agent then closes it: bridge.py)."""
        if self._opened is not None and not self._opened.linger_after_flush:
            self._opened.close_window()
            self._opened = None


def outbox_senders(cfg: Config) -> dict[str, MqttEventSender]:
    """Senders this package gives the outbox; none while telemetry is disabled (events then wait)."""
    if not cfg.telemetry.enabled:
        return {}
    return {OUTBOX_KIND: MqttEventSender(lambda: shared_publisher(cfg))}
