"""A simulated week in seconds: the scheduler's own triggers, the solar bank, the modem and the
outbox, with a clock the test drives. Windows happen when, and only when, they should."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from appliance.agent.service import drive
from appliance.store import readonly
from appliance.store.device import BatteryReading, UploadWindowLog
from tests.agent.conftest import MONDAY


def windows_by_time() -> list[tuple[str, str, bool, bool]]:
    return [(row.scheduled_at.strftime("%a %H:%M"), row.battery_state, row.only_urgent, row.catch_up)
            for row in UploadWindowLog.select().order_by(UploadWindowLog.scheduled_at)]


def test_a_week_has_exactly_its_fourteen_windows_and_low_mornings_send_only_urgent(make_agent, store):
    # A simulated week commits ~1,000 history rows: no need to wait for the disk's fsync for each
    # (durability is the store's own concern, tested there).
    store.execute_sql("PRAGMA synchronous = OFF")
    agent, clock, outbox = make_agent(power={"capacity_ah": 20, "initial_soc_pct": 50,
                                             "cloudy_day_probability": 0.45, "seed": 8})
    outbox.add(14)
    outbox.add(7, urgent=True)
    drive(agent, clock, MONDAY + timedelta(days=7))
    rows = windows_by_time()
    assert [when for when, *_ in rows] == [f"{day} {hour}" for day in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
                                          for hour in ("06:00", "13:00")]
    states = Counter(state for _, state, _, _ in rows)
    assert states["low"] >= 1 and states["ok"] >= 1, states  # the seed gives both kinds of mornings
    assert all(urgent == (state != "ok") for _, state, urgent, _ in rows)
    assert not any(catch_up for *_, catch_up in rows)
    assert len(set(outbox.delivered)) == len(outbox.delivered)  # never twice
    samples = sum(row.samples + row.rejected for row in BatteryReading.select())
    assert 7 * 24 * 60 - 20 <= samples <= 7 * 24 * 60  # one a minute, history every 10 min
    assert not agent.shutdown.started


def test_after_a_power_cut_one_catch_up_window_runs_not_all_the_missed_ones(make_agent):
    agent, clock, _outbox = make_agent(start_agent=False)
    agent.state.set_last_window_at(MONDAY - timedelta(days=3, hours=11))  # off since Thursday 13:00
    clock.advance_to(MONDAY.replace(hour=8))
    missed = agent.start()
    assert missed == MONDAY.replace(hour=6)
    drive(agent, clock, MONDAY.replace(hour=14), catch_up=missed)
    assert windows_by_time() == [("Mon 06:00", "ok", False, True), ("Mon 13:00", "ok", False, False)]


def test_no_catch_up_when_nothing_was_missed(make_agent):
    agent, clock, _outbox = make_agent(start_agent=False)
    agent.state.set_last_window_at(MONDAY.replace(hour=6, minute=0, second=3))
    clock.advance_to(MONDAY.replace(hour=9))
    assert agent.start() is None


def test_a_dying_battery_shuts_the_box_down_once_and_no_window_opens_after(make_agent):
    agent, clock, outbox = make_agent(power={"capacity_ah": 8, "initial_soc_pct": 35,
                                             "cloudy_day_probability": 1.0, "panel_w": 10})
    outbox.add(3)
    drive(agent, clock, MONDAY + timedelta(days=3))
    shutdowns = [event for event in agent.events.recent if event.kind == "shutdown"]
    assert len(shutdowns) == 1 and agent.shutdown.started
    assert agent.shutdown._poweroff.calls == 1  # simulated: nothing is switched off, the agent stops
    assert readonly.read_only_state(agent.cfg.paths.data_dir).reason == "batterie critique"
    stopped_at = clock.now()
    assert stopped_at < MONDAY + timedelta(days=3)  # drive stopped with the agent
    assert all(row.scheduled_at < stopped_at.replace(tzinfo=None) for row in UploadWindowLog.select())
    last = BatteryReading.select().order_by(BatteryReading.at.desc()).first()
    assert last.state == "critical"  # the history was written before the checkpoint


def test_a_clock_jump_is_announced(make_agent):
    agent, clock, _outbox = make_agent()
    clock.advance(60)
    agent.sample()
    clock.jump(3 * 3600)  # chrony steps the clock once the modem brings the network
    clock.advance(60)
    agent.sample()
    jumps = [event for event in agent.events.recent if event.kind == "clock_jump"]
    assert len(jumps) == 1 and jumps[0].data["seconds"] == 3 * 3600
    assert agent.status().clock.last_jump_s == 3 * 3600


def test_a_verified_backup_is_made_every_night_before_the_first_window(make_agent, store):
    from appliance.backup.local import list_backups

    store.execute_sql("PRAGMA synchronous = OFF")
    agent, clock, _outbox = make_agent()
    drive(agent, clock, MONDAY + timedelta(days=3))
    backups = list_backups(agent.cfg.paths.data_dir / "backups")
    assert len(backups) == 3  # one a night, at 05:30 site time, before the 06:00 window
    assert all(manifest.reason == "nightly" for manifest, _ in backups)
    assert all(path.exists() for _, path in backups)
