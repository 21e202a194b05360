"""One upload window at a time: link up → outbox flush → telemetry → link down, and what changes
with the battery, the modem, the data budget and a link that drops."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from appliance.agent import windows
from appliance.agent.windows import latest_window_between, next_window, window_triggers
from appliance.power.monitor import BatteryState
from appliance.settings.uploads import UploadSettings
from appliance.store.device import recent_windows
from tests.agent.conftest import MONDAY, FakeOutbox

SIX = MONDAY.replace(hour=6)


def test_missed_windows_are_found_once_however_long_the_cut():
    triggers = window_triggers(UploadSettings(windows=["06:00", "13:00"]), UTC)
    assert latest_window_between(triggers, SIX, SIX + timedelta(hours=5)) is None
    assert latest_window_between(triggers, SIX, SIX + timedelta(hours=7)) == SIX.replace(hour=13)
    three_days = latest_window_between(triggers, SIX - timedelta(days=3), SIX + timedelta(minutes=30))
    assert three_days == SIX
    assert next_window(triggers, SIX + timedelta(seconds=1)) == SIX.replace(hour=13)


def test_a_window_runs_in_order_counts_its_bytes_and_is_remembered(make_agent):
    steps: list[str] = []
    outbox = FakeOutbox(on_flush=lambda: steps.append(f"flush, link up: {agent.modem.link_up()}"))
    agent, clock, outbox = make_agent(outbox=outbox, publish=lambda deadline_s: steps.append(
        f"telemetry {deadline_s:.0f} s left"))
    outbox.add(3)
    clock.advance_to(SIX)
    agent.run_window()
    assert steps == ["flush, link up: True", f"telemetry {600 - 3 * 3300 / 8000:.0f} s left"], outbox.delivered
    assert not agent.modem.link_up()
    assert sorted(outbox.delivered) == [0, 1, 2]
    call = outbox.calls[0]
    assert call["only_urgent"] is False and call["byte_budget"] == 500_000_000
    assert call["deadline_s"] == pytest.approx(600)
    row = recent_windows()[0]
    assert (row.outcome, row.catch_up, row.battery_state) == ("done", False, "ok")
    assert row.scheduled_at == SIX.replace(tzinfo=None)
    assert row.bytes_sent == 3 * 3000 and row.bytes_received == 3 * 300
    assert agent.usage.current().total == row.bytes_sent + row.bytes_received
    assert agent.state.last_window_at() == SIX
    assert [e.kind for e in agent.events.recent if e.kind.startswith("upload")] == ["upload_window"]


def test_a_link_lost_mid_window_loses_nothing_and_the_next_window_sends_the_rest(make_agent):
    agent, clock, outbox = make_agent(modem={"drop_after_s": 2.5, "bytes_per_s": 3000})
    outbox.add(5)
    clock.advance_to(SIX)
    agent.run_window()
    first = recent_windows()[0]
    assert first.outcome == "partial" and "link_down" in first.detail
    assert outbox.delivered == [0, 1]  # the third transfer met the dropped link: not marked sent
    assert "upload_failed" in [e.kind for e in agent.events.recent]
    agent.modem.drop_after_s = 0  # the next window has a steady link
    clock.advance_to(SIX.replace(hour=13))
    agent.run_window()
    assert recent_windows()[0].outcome == "done"
    assert outbox.delivered == [0, 1, 2, 3, 4]  # each exactly once


def test_low_battery_sends_only_urgent_items_and_switches_the_modem_off(make_agent):
    agent, clock, outbox = make_agent(power={"initial_soc_pct": 42, "cloudy_day_probability": 1.0})
    outbox.add(2)
    outbox.add(1, urgent=True)
    clock.advance_to(SIX)
    for _ in range(5):
        agent.sample()
    assert agent.power.state is BatteryState.LOW
    agent.run_window()
    assert outbox.calls[-1]["only_urgent"] is True
    assert outbox.delivered == [2]
    assert agent.modem.status().state == "disabled"
    assert recent_windows()[0].only_urgent


def test_no_window_when_critical_or_without_a_modem(make_agent):
    agent, clock, outbox = make_agent(modem={"plugged": False})
    clock.advance_to(SIX)
    agent.run_window()
    assert recent_windows()[0].detail == "aucun modem branché"
    agent.modem.plug()
    agent.power._state = BatteryState.CRITICAL  # the state machine's own tests cover how it gets there
    agent.run_window(SIX.replace(hour=13))
    assert recent_windows()[0].detail == "batterie critique"
    assert outbox.calls == []


def test_past_the_data_budget_only_urgent_items_go(make_agent):
    agent, clock, outbox = make_agent()
    outbox.add(1)
    outbox.add(1, urgent=True)
    agent.modem.connect(timeout_s=10)
    agent.modem.counters.add("sim0", rx=500_000_000)  # a month of heavy use
    agent.usage.sample("sim0")
    agent.modem.disconnect()
    clock.advance_to(SIX)
    agent.run_window()
    assert outbox.calls[-1] == {"deadline_s": pytest.approx(600), "only_urgent": True, "byte_budget": None}
    assert outbox.delivered == [1]
    assert "data_budget_exceeded" in [e.kind for e in agent.events.recent]


def test_a_flush_that_overruns_is_cut_at_the_deadline(make_agent, monkeypatch):
    monkeypatch.setattr(windows, "CUT_GRACE_S", -599.8)  # the 10-minute window ends 0.2 s from now
    released = threading.Event()

    def stuck_flush(**kwargs):
        while agent.modem.link_up():  # a partner blocked on the network until the link is cut
            released.wait(0.01)
        raise ConnectionError("connexion réinitialisée")

    agent, clock, _outbox = make_agent()
    agent.windows._flush_loader = lambda: stuck_flush
    clock.advance_to(SIX)
    agent.run_window()
    row = recent_windows()[0]
    assert row.outcome == "failed" and "liaison perdue" in row.detail


def test_telemetry_that_fails_does_not_fail_the_window(make_agent):
    def broken(deadline_s):
        raise TimeoutError("broker injoignable")

    agent, clock, outbox = make_agent(publish=broken)
    outbox.add(1)
    clock.advance_to(SIX)
    agent.run_window()
    row = recent_windows()[0]
    assert row.outcome == "done" and "télémétrie en échec" in row.detail


def test_the_real_outbox_is_flushed_through_its_own_code_path(cfg, store):
    from appliance.agent.clock import ManualClock
    from appliance.agent.hooks import agent_partners
    from appliance.agent.sdnotify import Notifier
    from appliance.agent.service import Agent

    agent = Agent(cfg, simulate=True, clock=ManualClock(SIX), notifier=Notifier({}),
                    partners=agent_partners(cfg))
    try:
        agent.run_window()
        row = recent_windows()[0]
        assert row.outcome == "done", row.detail
        assert "tentative" in row.detail  # appliance.outbox's own French summary
    finally:
        agent.close()


def test_two_windows_never_overlap(make_agent):
    gate = threading.Event()
    agent, clock, outbox = make_agent()
    outbox.on_flush = lambda: gate.wait(5)
    outbox.add(1)
    clock.advance_to(SIX)
    first = threading.Thread(target=agent.run_window)
    first.start()
    while not agent.windows.busy:
        threading.Event().wait(0.005)
    assert agent.windows.run(datetime(2025, 3, 3, 6, tzinfo=UTC)).detail == "une fenêtre est déjà en cours"
    gate.set()
    first.join(5)
    assert [row.outcome for row in recent_windows()] == ["done"]
