"""Per-clinic credentials, the broker ACL and TLS: one clinic can neither forge nor read another."""

from __future__ import annotations

import json
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from appliance.telemetry.counters import MemoryCounters
from appliance.telemetry.publisher import TelemetryPublisher
from tests.telemetry.conftest import CLINICS, plain_settings
from tests.telemetry.mosquitto import Mosquitto, make_pki
from tests.telemetry.test_publisher import snapshot

B_STATUS = "clinic/ml-sikasso/status"


class Intruder:
    """Clinic A's own credentials, used to try to read and forge clinic B's topics."""

    def __init__(self, port: int) -> None:
        self.received: list[str] = []
        self.subscribed = threading.Event()
        self.granted: list[int] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="ml-kati-intruder")
        self.client.username_pw_set("ml-kati", CLINICS["ml-kati"])
        self.client.on_message = lambda client, userdata, message: self.received.append(message.topic)
        self.client.on_subscribe = self._on_subscribe
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self.granted = [code.value for code in reason_codes]
        self.subscribed.set()


def test_a_clinic_cannot_read_or_forge_another_clinics_topics(broker, recorder, make_publisher):
    victim = make_publisher("ml-sikasso")
    assert victim.open_window()
    assert victim.publish_status(snapshot(battery_v=12.5))

    intruder = Intruder(broker.port)
    try:
        intruder.client.subscribe([("clinic/ml-sikasso/#", 1), ("clinic/#", 1)])
        assert intruder.subscribed.wait(10)
        forged = intruder.client.publish(B_STATUS, b'{"v":"x","t":1,"up":1,"bst":"critical"}', qos=1, retain=True)
        forged.wait_for_publish(10)
        intruder.client.publish("clinic/ml-sikasso/$state", b"lost", qos=1, retain=True).wait_for_publish(10)

        # B keeps publishing; the intruder must see none of it, and ops must never see the forgery.
        assert victim.publish_status(snapshot(battery_v=12.4))
        victim.close_window()
        recorder.wait_for_payload("clinic/ml-sikasso/$state", b"sleeping")
        assert intruder.received == []
        statuses = [json.loads(payload) for payload in recorder.payloads(B_STATUS)]
        assert [status["bv"] for status in statuses] == [12.5, 12.4]
        assert b"lost" not in recorder.payloads("clinic/ml-sikasso/$state")
    finally:
        intruder.client.disconnect()
        intruder.client.loop_stop()


def test_a_clinic_cannot_log_in_with_another_clinics_name(make_publisher):
    impostor = make_publisher("ml-sikasso", password=CLINICS["ml-kati"])
    assert not impostor.open_window()
    assert "refusée" in impostor.last_error
    impostor.close_window()


def test_tls_with_client_certificate_and_a_refused_foreign_ca(pki, tmp_path):
    with Mosquitto(tmp_path / "tls", users=CLINICS, pki=pki, require_client_cert=True) as tls_broker:
        settings = plain_settings(tls_broker.port, tls=True, ca_file=pki.ca_cert,
                                  client_cert_file=pki.client_cert, client_key_file=pki.client_key)
        publisher = TelemetryPublisher(settings, "ml-kati", password=CLINICS["ml-kati"], version="0.1.0",
                                       counters=MemoryCounters())
        with publisher.window() as connected:
            assert connected
            assert publisher.publish_status(snapshot())

        foreign = make_pki(tmp_path / "foreign")  # a broker impersonator's CA is not ours
        wrong_ca = TelemetryPublisher(
            plain_settings(tls_broker.port, tls=True, ca_file=foreign.ca_cert, connect_timeout_s=30,
                           client_cert_file=pki.client_cert, client_key_file=pki.client_key),
            "ml-kati", password=CLINICS["ml-kati"], version="0.1.0", counters=MemoryCounters())
        assert not wrong_ca.open_window()
        assert "certificate verify failed" in wrong_ca.last_error
        wrong_ca.close_window()

        no_cert = TelemetryPublisher(plain_settings(tls_broker.port, tls=True, ca_file=pki.ca_cert,
                                                    connect_timeout_s=2),
                                     "ml-kati", password=CLINICS["ml-kati"], version="0.1.0",
                                     counters=MemoryCounters())
        assert not no_cert.open_window()
        no_cert.close_window()
