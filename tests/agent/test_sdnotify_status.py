"""sd_notify over a real unix datagram socket, and what telemetry reads from the agent."""

from __future__ import annotations

import json
import os
import socket

import pytest

from appliance.agent.sdnotify import Notifier
from appliance.agent.status import EventBus
from tests.agent.conftest import MONDAY


@pytest.fixture
def notify_socket(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify"
    sock.bind(str(path))
    sock.settimeout(2)
    yield sock, str(path)
    sock.close()


def test_ready_status_watchdog_and_stopping_reach_the_socket(notify_socket):
    sock, path = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getpid())})
    assert notifier.watchdog_interval_s == 10
    assert notifier.ready("Batterie ok")
    assert sock.recv(4096) == b"READY=1\nSTATUS=Batterie ok"
    notifier.watchdog()
    notifier.stopping()
    assert [sock.recv(4096), sock.recv(4096)] == [b"WATCHDOG=1", b"STOPPING=1"]


def test_an_abstract_socket_name_is_understood():
    name = f"appliance-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2)
    try:
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).ready()
        assert sock.recv(64) == b"READY=1"
    finally:
        sock.close()


def test_outside_systemd_nothing_happens_and_a_foreign_watchdog_is_ignored(tmp_path):
    assert not Notifier({}).ready()
    assert Notifier({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}).watchdog_interval_s is None
    assert not Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")}).ready()  # logged, not raised


def test_the_status_snapshot_is_json_ready_for_telemetry(make_agent):
    agent, clock, _outbox = make_agent()
    clock.advance_to(MONDAY.replace(hour=6))
    agent.run_window()
    document = json.loads(json.dumps(agent.status().as_dict()))
    assert document["battery"]["state"] == "ok" and 11 < document["battery"]["voltage"] < 15
    assert document["modem"]["present"] is True and document["modem"]["state"] == "registered"
    assert document["data"]["month"] == "2025-03" and document["data"]["level"] == "ok"
    assert document["last_window"]["outcome"] == "done"
    assert document["next_window_at"] == "2025-03-03T13:00:00+00:00"
    assert document["simulation"] is True and document["read_only"] is False
    assert document["clock"]["synced"] in (True, False, None)


def test_subscribers_get_events_and_a_broken_one_breaks_nothing():
    bus = EventBus(lambda: MONDAY)
    seen: list[str] = []
    bus.subscribe(lambda event: 1 / 0)
    unsubscribe = bus.subscribe(lambda event: seen.append(event.kind))
    bus.emit("battery_critical", "Batterie critique", severity="critical", voltage=11.4)
    unsubscribe()
    bus.emit("shutdown", "Extinction")
    assert seen == ["battery_critical"]
    assert [event.as_dict()["kind"] for event in bus.recent] == ["battery_critical", "shutdown"]
