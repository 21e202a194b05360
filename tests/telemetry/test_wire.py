"""Bytes on the wire: the kernel's TCP counters match MQTT's own packet arithmetic, and persist."""

from __future__ import annotations

import json

from appliance.telemetry.counters import WIRE_BYTES, MemoryCounters, SqliteCounters, utc_day
from appliance.telemetry.publisher import TelemetryPublisher
from appliance.telemetry.wire import TEARDOWN_SEGMENTS
from tests.telemetry.conftest import CLINICS, plain_settings
from tests.telemetry.mosquitto import Mosquitto
from tests.telemetry.test_publisher import snapshot

NOW = 1_780_000_000.0


def packet(remaining: int) -> int:
    """MQTT fixed header (type byte + variable-length 'remaining length') plus the rest."""
    length_bytes = 1
    while remaining >= 128 ** length_bytes:
        length_bytes += 1
    return 1 + length_bytes + remaining


def utf8_field(text: str) -> int:
    return 2 + len(text.encode())


def connect_packet(client_id: str, will_topic: str, will: str, user: str, password: str) -> int:
    variable_header = utf8_field("MQTT") + 1 + 1 + 2  # name, level, flags, keepalive
    fields = (client_id, will_topic, will, user, password)
    return packet(variable_header + sum(utf8_field(field) for field in fields))


def publish_qos1(topic: str, payload: bytes) -> int:
    return packet(utf8_field(topic) + 2 + len(payload))


def test_kernel_counters_equal_the_mqtt_packets_of_a_plain_window(make_publisher):
    publisher = make_publisher(clock=lambda: NOW)
    status = snapshot()
    with publisher.window() as connected:
        assert connected
        assert publisher.publish_status(status)
    tcp = publisher.meter.last_closed
    assert tcp is not None

    state_topic = "clinic/ml-kati/$state"
    expected_sent = (
        connect_packet("ml-kati", state_topic, "lost", "ml-kati", CLINICS["ml-kati"])
        + publish_qos1(state_topic, b"init")
        + publish_qos1("clinic/ml-kati/status", status.to_payload())
        + publish_qos1(state_topic, b"ready")
        + publish_qos1(state_topic, b"sleeping")
        + 2  # DISCONNECT
    )
    assert tcp.payload_sent == expected_sent
    assert tcp.payload_received == 4 + 4 * 4  # CONNACK and four PUBACKs
    assert tcp.header_bytes in (40, 52)
    assert tcp.segments >= 2 * 5  # every packet and its ACK, plus the handshake
    assert publisher.meter.today() == tcp.wire_bytes + TEARDOWN_SEGMENTS * tcp.header_bytes


def test_tls_handshake_is_counted(pki, tmp_path):
    with Mosquitto(tmp_path / "tls-broker", users=CLINICS, pki=pki) as tls_broker:
        settings = plain_settings(tls_broker.port, tls=True, ca_file=pki.ca_cert)
        publisher = TelemetryPublisher(settings, "ml-kati", password=CLINICS["ml-kati"], version="0.1.0",
                                       counters=MemoryCounters())
        with publisher.window() as connected:
            assert connected
            assert publisher.publish_status(snapshot())
    tcp = publisher.meter.last_closed
    plain_mqtt = 200 + len(snapshot().to_payload())  # generous bound on the same packets in clear
    assert tcp.payload_received > 500  # the broker's certificate chain came in
    assert tcp.payload_sent > plain_mqtt


def test_status_reports_todays_bytes_including_the_live_connection(make_publisher, recorder, store):
    counters = SqliteCounters()
    first = make_publisher(counters=counters, clock=lambda: NOW)
    with first.window():
        assert first.publish_status(first.collect_status())
    yesterday_morning = first.meter.today()
    assert yesterday_morning == counters.get(utc_day(NOW), WIRE_BYTES) > 0

    # The agent restarts: a new publisher, the same database.
    second = make_publisher(counters=counters, clock=lambda: NOW + 60)
    assert second.open_window()
    status = second.collect_status(battery_v=12.6)
    assert status.telemetry_bytes_today > yesterday_morning  # includes this connection's handshake
    assert second.publish_status(status)
    recorder.wait_for(lambda: len(recorder.payloads("clinic/ml-kati/status")) == 2, timeout=10, what="status")
    assert json.loads(recorder.payloads("clinic/ml-kati/status")[-1])["tb"] == status.telemetry_bytes_today
    second.close_window()
    assert counters.get(utc_day(NOW), WIRE_BYTES) == second.meter.today() > status.telemetry_bytes_today
