"""Subscribes an ops client to every clinic's topics on any MQTT broker and feeds a Fleet."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from appliance.fleet.view import Fleet, FleetRow
from appliance.telemetry import topics

log = logging.getLogger(__name__)


class CollectorError(RuntimeError):
    """The broker cannot be used; the message says why, for the operator."""


@dataclass(frozen=True)
class BrokerAccess:
    host: str
    port: int
    tls: bool = True
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    username: str | None = None
    password: str | None = None
    prefix: str = "clinic"

    def describe(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


class FleetCollector:
    """``with FleetCollector(access) as collector: collector.settle(); collector.rows(now=...)``."""

    def __init__(self, access: BrokerAccess, fleet: Fleet | None = None, *,
                 on_connection: Callable[[bool], None] | None = None) -> None:
        self.access = access
        self.fleet = fleet or Fleet(access.prefix)
        self._on_connection = on_connection or (lambda connected: None)
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._refused: str | None = None
        self._last_message = time.monotonic()
        client_id = f"fleet-{socket.gethostname()[:20]}-{os.getpid()}-{secrets.token_hex(2)}"
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        if access.username:
            self._client.username_pw_set(access.username, access.password)
        if access.tls:
            context = ssl.create_default_context(cafile=str(access.ca_file) if access.ca_file else None)
            if access.cert_file:
                context.load_cert_chain(str(access.cert_file), str(access.key_file) if access.key_file else None)
            self._client.tls_set_context(context)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.on_disconnect = self._on_disconnect

    def __enter__(self) -> FleetCollector:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self, timeout_s: float = 15) -> None:
        try:
            self._client.connect(self.access.host, self.access.port, keepalive=60)
        except (OSError, ssl.SSLError) as exc:
            raise CollectorError(f"courtier {self.access.describe()} injoignable : {exc}") from exc
        self._client.loop_start()
        deadline = time.monotonic() + timeout_s
        while not self._subscribed.wait(0.05):
            if self._refused or time.monotonic() > deadline:
                self.stop()
                raise CollectorError(self._refused or f"pas d'abonnement sur {self.access.describe()}")

    def start_background(self) -> None:
        """For a long-running service: connect in the background and reconnect for ever (paho's
        backoff, 1 to 60 s), so a broker that is down at start or restarts later is no failure."""
        self._client.reconnect_delay_set(min_delay=1, max_delay=60)
        self._client.connect_async(self.access.host, self.access.port, keepalive=60)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._on_connection(False)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused = f"connexion refusée par {self.access.describe()} : {reason_code}"
            log.warning("%s", self._refused)
            return
        client.subscribe([(name, 1) for name in topics.subscriptions(self.access.prefix)])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if all(code.is_failure for code in reason_codes):
            self._refused = "abonnement refusé : ce compte n'a pas le droit de lire les cliniques"
            return
        with self._lock:
            self._last_message = time.monotonic()
        self._subscribed.set()
        self._on_connection(True)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._on_connection(False)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.fleet.ingest(message.topic, message.payload, retained=bool(message.retain),
                              received_at=time.time())
            self._last_message = time.monotonic()

    def settle(self, *, quiet_s: float = 2.0, timeout_s: float = 60.0) -> bool:
        """Wait for the broker's retained messages: until ``quiet_s`` pass without one (True),
        or ``timeout_s`` (False). MQTT has no end-of-retained marker, hence the quiet period."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                quiet_for = time.monotonic() - self._last_message
            if quiet_for >= quiet_s:
                return True
            time.sleep(min(quiet_s - quiet_for, 0.2))
        return False

    def rows(self, *, now: float, silent_after_s: float) -> list[FleetRow]:
        with self._lock:
            return self.fleet.rows(now=now, silent_after_s=silent_after_s)
