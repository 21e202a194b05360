"""The real agent (simulated hardware, real outbox) reporting through a real Mosquitto."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from appliance.agent.clock import ManualClock
from appliance.agent.hooks import agent_partners
from appliance.agent.sdnotify import Notifier
from appliance.agent.service import Agent
from appliance.agent.status import AgentEvent
from appliance.outbox.models import OutboxItem
from appliance.telemetry import attach_agent, publish_telemetry
from appliance.telemetry.bridge import telemetry_event
from appliance.telemetry.sender import shared_publisher
from tests.telemetry.conftest import assert_valid
from tests.telemetry.test_outbox_events import clinic_config

SIX = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)
STATE = "clinic/ml-kati/$state"


@pytest.fixture
def agent(tmp_path, broker, store):
    cfg = clinic_config(tmp_path, broker.port)
    running = Agent(cfg, simulate=True, clock=ManualClock(SIX), notifier=Notifier({}),
                    partners=agent_partners(cfg))
    running.start()  # attaches telemetry through the partners appliance agent composes, as under systemd
    yield running
    running.close()


def test_a_window_sends_queued_events_and_the_status_over_one_connection(agent, recorder):
    agent.events.emit("battery_low", "Batterie : état faible (11.92 V)", severity="warning", voltage=11.9234)
    agent.events.emit("modem_added", "Modem branché (ttyUSB2)", port="ttyUSB2")  # noise: stays local
    (item,) = OutboxItem.select()
    assert json.loads(bytes(item.payload))["k"] == "battery_low"  # durable before any link exists

    agent.run_window(SIX)

    recorder.wait_for_payload(STATE, b"sleeping")
    assert recorder.payloads(STATE) == [b"init", b"ready", b"sleeping"]  # one connection, one handshake
    (event,) = recorder.payloads("clinic/ml-kati/events")
    assert_valid("event", event)
    assert json.loads(event)["d"] == {"bv": 11.92}
    (status,) = recorder.payloads("clinic/ml-kati/status")
    assert_valid("status", status)
    document = json.loads(status)
    snapshot = agent.status()
    assert document["bv"] == round(snapshot.battery.voltage, 2)
    assert document["bst"] == snapshot.battery.state.value
    assert document["od"] == 0 and document["tb"] > 0
    assert OutboxItem.get().state == "delivered"


def test_always_connected_stays_up_after_the_window_and_says_sleeping_when_stopped(
    tmp_path, broker, store, recorder
):
    cfg = clinic_config(tmp_path, broker.port, extra="always_connected = true\n")
    running = Agent(cfg, simulate=True, clock=ManualClock(SIX), notifier=Notifier({}),
                    partners=agent_partners(cfg))
    try:
        running.start()
        recorder.wait_for_payload(STATE, b"init")  # connected at start, no window needed
        running.run_window(SIX)
        recorder.wait_for(lambda: bool(recorder.payloads("clinic/ml-kati/status")), timeout=10, what="status")
        publisher = shared_publisher(cfg)
        assert publisher.connected and b"sleeping" not in recorder.payloads(STATE)
        publisher.stop()  # what the atexit handler does when the agent's process ends
        recorder.wait_for_payload(STATE, b"sleeping")
    finally:
        running.close()


def test_without_a_window_nothing_connects(agent, recorder):
    agent.events.emit("clock_jump", "L'horloge a sauté de +3600 s", severity="warning", seconds=3600.4)
    assert recorder.payloads(STATE) == []
    (item,) = OutboxItem.select()
    assert json.loads(bytes(item.payload))["d"] == {"jump_s": 3600}


def test_publish_telemetry_needs_an_attached_enabled_agent(tmp_path, broker, store, recorder):
    cfg = clinic_config(tmp_path, broker.port, enabled=False)
    disabled = Agent(cfg, simulate=True, clock=ManualClock(SIX), notifier=Notifier({}),
                    partners=agent_partners(cfg))
    try:
        attach_agent(disabled)
        assert publish_telemetry(60) is False
        disabled.events.emit("shutdown", "Extinction propre", severity="critical", reason="batterie")
        assert OutboxItem.select().count() == 0
    finally:
        disabled.close()


@pytest.mark.parametrize(("kind", "data", "expected"), [
    ("battery_critical", {"voltage": 11.3012, "cause": "pin"}, ("battery_critical", {"bv": 11.3, "cause": "pin"})),
    ("shutdown", {"reason": "batterie critique"}, ("shutdown", {"reason": "batterie critique"})),
    ("upload_failed", {"outcome": "failed", "detail": "x" * 200}, ("upload_failed", {"outcome": "failed",
                                                                                    "err": "x" * 60})),
    ("data_budget_exceeded", {"used_pct": 101.2}, ("data_budget", {"pct": 101.2, "lvl": "exceeded"})),
    ("sensor_fault", {"rejected": {"nan": 3, "range": 4}}, ("sensor_fault", {"rejected": 7})),
    ("battery_state", {"state": "low"}, None),
])
def test_agent_events_become_short_telemetry_events(kind, data, expected):
    assert telemetry_event(AgentEvent(kind, "message", SIX, data=data)) == expected
