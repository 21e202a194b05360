"""Events survive in the SQLite outbox until the broker's PUBACK; the outbox flush delivers them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance import config as config_module
from appliance import outbox
from appliance.outbox import Outbox
from appliance.outbox.models import ItemState, OutboxItem
from appliance.telemetry.counters import SqliteCounters
from appliance.telemetry.events import OUTBOX_KIND, emit_event
from appliance.telemetry.publisher import TelemetryPublisher
from appliance.telemetry.sender import MqttEventSender, outbox_senders
from tests.telemetry.conftest import CLINICS, assert_valid
from tests.telemetry.mosquitto import free_port

EVENTS = "clinic/ml-kati/events"


def clinic_config(tmp_path: Path, port: int, *, enabled: bool = True, extra: str = "") -> config_module.Config:
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir(exist_ok=True)
    (secrets_dir / "mqtt_password").write_text(CLINICS["ml-kati"] + "\n")
    text = config_module.dev_config_text(tmp_path).replace('id = "demo-cscom"', 'id = "ml-kati"')
    text += f"""
[telemetry]
enabled = {"true" if enabled else "false"}
broker_host = "127.0.0.1"
broker_port = {port}
tls = false
keepalive_s = 5
connect_timeout_s = 2
publish_timeout_s = 5
{extra}"""
    return config_module.loads(text)


@pytest.fixture
def box() -> Outbox:
    return Outbox()


def sender_for(cfg: config_module.Config, box: Outbox) -> MqttEventSender:
    publisher = TelemetryPublisher.from_config(cfg, counters=SqliteCounters())
    sender = MqttEventSender(lambda: publisher)
    box.register_sender(OUTBOX_KIND, sender)
    return sender


def test_an_event_waits_in_the_outbox_until_the_broker_acknowledges_it(
    tmp_path, broker, recorder, store, box
):
    emit_event("battery_critical", {"bv": 11.31}, now=1_780_000_000)
    emit_event("login_lockout", {"user": "awa"}, now=1_780_000_050)

    sender_for(clinic_config(tmp_path, free_port()), box)  # the modem has no coverage: nobody listens
    report = box.flush()
    assert report.delivered == 0 and report.retried >= 1
    assert OutboxItem.select().where(OutboxItem.state == ItemState.PENDING).count() == 2
    assert recorder.payloads(EVENTS) == []

    sender_for(clinic_config(tmp_path, broker.port), box)  # next window: the broker answers
    for item in OutboxItem.select():  # skip the backoff, as the next window would
        item.next_attempt_at = item.created_at
        item.save()
    report = box.flush()
    assert report.delivered == 2
    assert OutboxItem.select().where(OutboxItem.state == ItemState.DELIVERED).count() == 2
    recorder.wait_for(lambda: len(recorder.payloads(EVENTS)) == 2, timeout=10, what="two events")
    documents = [json.loads(payload) for payload in recorder.payloads(EVENTS)]
    assert [document["k"] for document in documents] == ["battery_critical", "login_lockout"]
    for payload in recorder.payloads(EVENTS):
        assert_valid("event", payload)
    # The sender opened the connection for this flush, and closed it cleanly afterwards.
    recorder.wait_for_payload("clinic/ml-kati/$state", b"sleeping")


def test_inside_an_agent_window_the_sender_leaves_the_connection_alone(
    tmp_path, broker, recorder, store, box
):
    cfg = clinic_config(tmp_path, broker.port)
    publisher = TelemetryPublisher.from_config(cfg, counters=SqliteCounters())
    box.register_sender(OUTBOX_KIND, MqttEventSender(lambda: publisher))
    emit_event("shutdown", {"reason": "battery"}, now=1_780_000_000)
    with publisher.window() as connected:
        assert connected
        assert box.flush().delivered == 1
        assert publisher.connected  # the flush's close() did not end the agent's window
    recorder.wait_for(lambda: bool(recorder.payloads(EVENTS)), timeout=10, what="the event")
    # the $state messages travel on their own: wait for the window's last one, don't race it
    recorder.wait_for(lambda: recorder.payloads("clinic/ml-kati/$state")[-1:] == [b"sleeping"],
                      timeout=10, what="the sleeping state")


def test_a_malformed_event_becomes_a_dead_letter_for_a_person(tmp_path, broker, store, box):
    outbox.enqueue(OUTBOX_KIND, {"k": "not_a_kind", "t": 1})
    sender_for(clinic_config(tmp_path, broker.port), box)
    report = box.flush()
    assert report.dead == 1
    assert "invalide" in OutboxItem.get().last_message


def test_unknown_event_kinds_are_refused_at_the_source(store):
    with pytest.raises(ValueError, match="unknown telemetry event kind"):
        emit_event("battery_fine")
    assert OutboxItem.select().count() == 0


def test_senders_are_offered_only_when_telemetry_is_enabled(tmp_path):
    assert list(outbox_senders(clinic_config(tmp_path, 1883))) == [OUTBOX_KIND]
    assert outbox_senders(clinic_config(tmp_path, 1883, enabled=False)) == {}
