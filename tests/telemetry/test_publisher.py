"""The clinic's publisher against a real Mosquitto: lifecycle, status, events, bytes counted."""

from __future__ import annotations

import json

from appliance.telemetry.events import event_payload
from appliance.telemetry.publisher import Delivery
from appliance.telemetry.status import StatusSnapshot, build_status
from tests.telemetry.conftest import assert_valid
from tests.telemetry.mosquitto import OPS_PASSWORD, OPS_USER, Recorder

STATE = "clinic/ml-kati/$state"
STATUS = "clinic/ml-kati/status"
EVENTS = "clinic/ml-kati/events"


def snapshot(**pieces) -> StatusSnapshot:
    defaults = dict(version="0.1.0", now=1_780_000_000, uptime_s=3600.4, battery_v=12.734, battery_soc_pct=81.6,
                    battery_state="OK", charging=True, modem_signal_pct=58, modem_registration="home",
                    modem_bytes_month=1_234_567, outbox_depth=2, outbox_oldest_age_s=5400.2,
                    outbox_dead_letters=0, last_dhis2_success=1_779_990_000, disk_free_mb=5120,
                    sd_written_today_kb=2048, clock_synced=True, telemetry_bytes_today=4096)
    return build_status(**{**defaults, **pieces})


def test_window_publishes_birth_status_and_sleeping(make_publisher, recorder):
    publisher = make_publisher()
    assert publisher.open_window()
    recorder.wait_for_payload(STATE, b"init")

    assert publisher.publish_status(snapshot())
    recorder.wait_for_payload(STATE, b"ready")
    status = recorder.payloads(STATUS)[-1]
    assert_valid("status", status)
    assert json.loads(status)["bv"] == 12.73 and json.loads(status)["bst"] == "ok"

    publisher.close_window()
    recorder.wait_for_payload(STATE, b"sleeping")
    assert not publisher.connected
    for payload in recorder.payloads(STATE):
        assert_valid("state", payload)
    assert [payload for payload in recorder.payloads(STATE)] == [b"init", b"ready", b"sleeping"]


def test_state_and_status_are_retained_for_late_subscribers(broker, make_publisher):
    publisher = make_publisher()
    with publisher.window() as connected:
        assert connected
        assert publisher.publish_status(snapshot(battery_v=12.1))
    late = Recorder(broker.port, username=OPS_USER, password=OPS_PASSWORD, client_id="late")
    try:
        late.wait_for(lambda: len(late.messages) >= 2, timeout=10, what="retained messages")
        retained = {message.topic: (message.payload, message.retain) for message in late.messages}
        assert retained[STATE] == (b"sleeping", True)
        assert json.loads(retained[STATUS][0])["bv"] == 12.1 and retained[STATUS][1]
    finally:
        late.close()


def test_a_second_window_goes_straight_to_ready_and_reuses_the_client(make_publisher, recorder):
    publisher = make_publisher()
    for hour in (6, 13):
        with publisher.window() as connected:
            assert connected
            assert publisher.publish_status(snapshot(now=1_780_000_000 + hour * 3600))
    recorder.wait_for(lambda: recorder.payloads(STATE).count(b"sleeping") == 2, timeout=10, what="two windows")
    assert recorder.payloads(STATE) == [b"init", b"ready", b"sleeping", b"ready", b"sleeping"]


def test_a_clinic_needing_a_person_is_in_alert(make_publisher, recorder):
    publisher = make_publisher()
    assert publisher.open_window()
    assert publisher.publish_status(snapshot(battery_state="critical", battery_v=11.2))
    recorder.wait_for_payload(STATE, b"alert")
    assert publisher.publish_status(snapshot(battery_state="ok"))
    recorder.wait_for_payload(STATE, b"ready")
    assert recorder.payloads(STATE) == [b"init", b"alert", b"ready"]


def test_events_are_delivered_with_puback_and_refused_when_malformed(make_publisher, recorder):
    publisher = make_publisher()
    event = event_payload("battery_critical", {"bv": 11.38}, now=1_780_000_100)
    assert publisher.send_event(event) is Delivery.RETRY_LATER  # no window open: stays in the outbox

    assert publisher.open_window()
    assert publisher.send_event(event) is Delivery.DELIVERED
    recorder.wait_for(lambda: bool(recorder.payloads(EVENTS)), timeout=10, what="the event")
    received = recorder.payloads(EVENTS)[0]
    assert_valid("event", received)
    assert json.loads(received) == event
    assert not [message for message in recorder.messages if message.topic == EVENTS and message.retain]

    assert publisher.send_event({"k": "made_up"}) is Delivery.NEEDS_ACTION
    assert publisher.send_event({"k": "shutdown", "d": {"x": "y" * 600}}) is Delivery.NEEDS_ACTION


def test_an_unreachable_broker_is_reported_not_raised(broker, make_publisher):
    from tests.telemetry.conftest import plain_settings
    from tests.telemetry.mosquitto import free_port

    publisher = make_publisher(settings=plain_settings(free_port(), connect_timeout_s=1.5))
    assert not publisher.open_window()
    assert publisher.last_error
    assert not publisher.publish_status(snapshot())
    publisher.close_window()


def test_wrong_password_is_refused_with_a_clear_error(make_publisher):
    publisher = make_publisher(password="not-the-password")
    assert not publisher.open_window()
    assert "refusée" in publisher.last_error
    publisher.close_window()
