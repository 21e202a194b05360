"""The clinic's MQTT publisher: Homie-style lifecycle, retained status, QoS 1 events.

One paho-mqtt 2.x client per process. By default it is connected only inside upload windows
(the modem is off between them): ``open_window`` connects (paho retries with exponential
backoff until the window closes), ``close_window`` publishes ``sleeping`` and disconnects
cleanly so the broker drops the last will. A power cut or a dead link mid-window leaves the
will, ``lost``, to the broker. paho's queue lives in RAM and is bounded; anything that must
survive a power cut reaches us through the SQLite outbox instead (see events.py).
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from appliance.settings.telemetry import TelemetrySettings
from appliance.telemetry import probes, topics
from appliance.telemetry.counters import CounterStore, read_boot_id, read_sectors_written, sd_written_today
from appliance.telemetry.events import EVENT_KINDS, MAX_EVENT_BYTES, encode_event
from appliance.telemetry.status import StatusSnapshot, build_status
from appliance.telemetry.topics import State
from appliance.telemetry.wire import WireMeter

log = logging.getLogger(__name__)

PASSWORD_FILE = "mqtt_password"


class TelemetryUnavailable(RuntimeError):
    """Telemetry cannot start (disabled, not provisioned); the message is for the technician."""


class Delivery(StrEnum):
    """What the outbox should do with an ``mqtt_event`` item after one attempt."""

    DELIVERED = "delivered"
    RETRY_LATER = "retry_later"
    NEEDS_ACTION = "needs_action"


def read_password(settings: TelemetrySettings, secrets_dir: Path) -> str:
    path = settings.password_file or secrets_dir / PASSWORD_FILE
    try:
        password = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise TelemetryUnavailable(
            f"mot de passe MQTT introuvable ({path}) : la clinique n'est pas encore provisionnée "
            f"pour la télémétrie ({exc.strerror})"
        ) from exc
    if not password:
        raise TelemetryUnavailable(f"mot de passe MQTT vide dans {path}")
    return password


def tls_context(settings: TelemetrySettings) -> ssl.SSLContext:
    """Verify the broker (its name included) against the provisioned CA; TLS 1.2 at least."""
    try:
        context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if settings.client_cert_file and settings.client_key_file:
            context.load_cert_chain(str(settings.client_cert_file), str(settings.client_key_file))
    except (OSError, ssl.SSLError) as exc:
        raise TelemetryUnavailable(f"certificats TLS de la télémétrie illisibles : {exc}") from exc
    return context


def _is_permanent_tls_failure(exc: Exception) -> bool:
    """The broker's certificate is not ours, or it refused our certificate: retrying cannot help."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return True
    reason = getattr(exc, "reason", None) or ""
    return isinstance(exc, ssl.SSLError) and ("CERTIFICATE" in reason or "UNKNOWN_CA" in reason)


def _handshake_watch(on_failure: Callable[[Exception], None]) -> type[ssl.SSLSocket]:
    """An SSLSocket class that reports handshake failures: paho swallows them into a bare retry."""

    class WatchedSocket(ssl.SSLSocket):
        def do_handshake(self, *args: Any, **kwargs: Any) -> None:
            try:
                super().do_handshake(*args, **kwargs)
            except ssl.SSLError as exc:
                on_failure(exc)
                raise

    return WatchedSocket


class TelemetryPublisher:
    def __init__(
        self,
        settings: TelemetrySettings,
        site_id: str,
        *,
        password: str,
        version: str,
        counters: CounterStore,
        data_dir: Path | None = None,
        client_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.site_id = site_id
        self.meter = WireMeter(counters, clock)
        self.last_error: str | None = None
        self._counters = counters
        self._version = version
        self._data_dir = data_dir
        self._clock = clock
        self._connected = threading.Event()
        self._settled = threading.Event()  # connected, or refused by the broker: no point waiting on
        self._tls_error: Exception | None = None
        self._status_published = False  # by this process: until then the state is ``init``
        self._attention: list[str] = []
        self._state_sent: State | None = None
        self._running = False
        # Set under the agent: an outbox flush leaves the connection open for the window's status.
        self.linger_after_flush = False
        self._client = self._make_client(password, client_id or site_id)

    @classmethod
    def from_config(cls, cfg: Any, *, counters: CounterStore, client_id: str | None = None) -> TelemetryPublisher:
        """The publisher for this clinic; TelemetryUnavailable when disabled or not provisioned."""
        from importlib.metadata import version

        settings: TelemetrySettings = cfg.telemetry
        if not settings.enabled:
            raise TelemetryUnavailable("télémétrie désactivée (telemetry.enabled = false)")
        return cls(
            settings, cfg.site.id, password=read_password(settings, cfg.paths.secrets_dir),
            version=version("appliance"), counters=counters, data_dir=cfg.paths.data_dir, client_id=client_id,
        )

    # -- topics and state -------------------------------------------------------------------

    def topic(self, leaf: str) -> str:
        return topics.topic(self.settings.topic_prefix, self.site_id, leaf)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def window_open(self) -> bool:
        """Between open_window and close_window (connected or still trying)."""
        return self._running

    def _make_client(self, password: str, client_id: str) -> mqtt.Client:
        settings = self.settings
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True, protocol=mqtt.MQTTv311,
        )
        client.username_pw_set(settings.username or self.site_id, password)
        if settings.tls:
            context = tls_context(settings)
            context.sslsocket_class = _handshake_watch(self._on_tls_failure)
            client.tls_set_context(context)
        client.will_set(self.topic(topics.STATE), State.LOST.value, qos=1, retain=True)
        client.max_queued_messages_set(settings.max_queued_messages)
        client.reconnect_delay_set(settings.reconnect_min_s, settings.reconnect_max_s)
        client.connect_timeout = settings.connect_timeout_s
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_socket_open = lambda _client, _userdata, sock: self.meter.socket_opened(sock)
        client.on_socket_close = lambda _client, _userdata, sock: self.meter.socket_closed(sock)
        return client

    def _current_state(self) -> State:
        if not self._status_published:
            return State.INIT
        return State.ALERT if self._attention else State.READY

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            # Bad credentials or a banned client will not fix themselves within the window:
            # stop retrying (each attempt costs bytes) until the next window.
            self.last_error = f"connexion refusée par le courtier : {reason_code}"
            log.warning("télémétrie : %s", self.last_error)
            client.disconnect()
            self._settled.set()
            return
        self.last_error = None
        self._connected.set()
        self._settled.set()
        self._state_sent = None
        self._send_state(self._current_state())

    def _on_tls_failure(self, exc: Exception) -> None:
        self._tls_error = exc

    def _on_connect_fail(self, client, userdata) -> None:
        tls_error, self._tls_error = self._tls_error, None
        if tls_error is None:
            self.last_error = "courtier MQTT injoignable"
            log.info("télémétrie : courtier %s:%s injoignable, nouvel essai plus tard",
                     self.settings.broker_host, self.settings.broker_port)
            return
        self.last_error = f"TLS refusé ({tls_error})"
        log.warning("télémétrie : %s", self.last_error)
        if _is_permanent_tls_failure(tls_error):
            # Each attempt would cost a handshake over 3G for nothing: wait for the next window.
            client.disconnect()
            self._settled.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        if reason_code.is_failure:
            log.info("télémétrie : connexion perdue (%s)", reason_code)

    def _send_state(self, state: State) -> mqtt.MQTTMessageInfo:
        self._state_sent = state
        return self._client.publish(self.topic(topics.STATE), state.value, qos=1, retain=True)

    def _acknowledged(self, info: mqtt.MQTTMessageInfo, *, timeout_s: float | None = None) -> bool:
        """Wait (bounded) for the broker's PUBACK of a QoS 1 message."""
        try:
            info.wait_for_publish(self.settings.publish_timeout_s if timeout_s is None else timeout_s)
            return info.is_published()
        except (ValueError, RuntimeError):
            return False

    # -- windows ----------------------------------------------------------------------------

    def open_window(self, *, timeout_s: float | None = None) -> bool:
        """Connect (if not already) and wait up to ``timeout_s`` (connect_timeout_s); True once connected.

        When it returns False paho keeps retrying with backoff in the background until
        ``close_window``; events then wait in the outbox for a later attempt.
        """
        if self._running and self._settled.is_set() and not self.connected:
            self.stop()  # refused, or dropped and waiting for backoff: start afresh now
        if not self._running:
            self._running = True
            self._settled.clear()
            self._client.connect_async(self.settings.broker_host, self.settings.broker_port,
                                       keepalive=self.settings.keepalive_s)
            self._client.loop_start()
        self._settled.wait(self.settings.connect_timeout_s if timeout_s is None else timeout_s)
        return self.connected

    def close_window(self, *, ack_timeout_s: float | None = None) -> None:
        """End of an upload window: ``sleeping``, clean disconnect, counters saved.

        With ``always_connected`` the link stays up and only the counters are saved.
        """
        if self.settings.always_connected:
            self.meter.flush()
        else:
            self.stop(ack_timeout_s=ack_timeout_s)

    @contextlib.contextmanager
    def window(self) -> Iterator[bool]:
        try:
            yield self.open_window()
        finally:
            self.close_window()

    def stop(self, *, ack_timeout_s: float | None = None) -> None:
        """Announce ``sleeping`` and disconnect cleanly (end of window, agent stopping)."""
        if not self._running:
            return
        if self.connected:
            self._acknowledged(self._send_state(State.SLEEPING), timeout_s=ack_timeout_s)
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()
        self._running = False
        self.meter.flush()

    # -- publishing -------------------------------------------------------------------------

    def collect_status(self, **pieces: Any) -> StatusSnapshot:
        """A snapshot from the agent's readings plus what the publisher measures itself.

        ``pieces`` are build_status's keyword arguments (battery_v, battery_soc_pct,
        battery_state, charging, modem_signal_pct, modem_registration, modem_bytes_month,
        clock_synced, and any outbox figure the caller prefers to give).
        """
        now = self._clock()
        figures: dict[str, Any] = probes.outbox_figures() | probes.backup_figures()
        if self._data_dir is not None:
            figures["disk_free_mb"] = probes.disk_free_mb(self._data_dir)
            figures.update(probes.update_figures(self._data_dir))
        written = sd_written_today(
            self._counters, sectors=read_sectors_written(self.settings.sd_device), boot_id=read_boot_id(),
            now=now,
        )
        figures["sd_written_today_kb"] = None if written is None else written // 1024
        figures.update(pieces)
        return build_status(
            version=self._version, now=now, uptime_s=probes.system_uptime_s(),
            telemetry_bytes_today=self.meter.today(), **figures,
        )

    def publish_status(self, snapshot: StatusSnapshot) -> bool:
        """Publish the retained status (QoS 1); True once the broker acknowledged it.

        The state follows: ``alert`` when the snapshot needs a person, ``ready`` otherwise.
        """
        self._attention = snapshot.attention_reasons()
        if not self.connected:
            return False
        if not self._acknowledged(self._client.publish(self.topic(topics.STATUS), snapshot.to_payload(),
                                                       qos=1, retain=True)):
            return False
        self._status_published = True
        state = self._current_state()
        if state != self._state_sent:
            self._acknowledged(self._send_state(state))
        return True

    def send_event(self, document: dict) -> Delivery:
        """The outbox sender for ``mqtt_event``: publish with QoS 1, DELIVERED only after PUBACK."""
        if not isinstance(document, dict) or document.get("k") not in EVENT_KINDS:
            return Delivery.NEEDS_ACTION
        payload = encode_event(document)
        if len(payload) > MAX_EVENT_BYTES:
            return Delivery.NEEDS_ACTION
        if not self.connected:
            return Delivery.RETRY_LATER
        info = self._client.publish(self.topic(topics.EVENTS), payload, qos=1, retain=False)
        return Delivery.DELIVERED if self._acknowledged(info) else Delivery.RETRY_LATER
