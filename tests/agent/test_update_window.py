"""An application update fetched over the (simulated) 3G link in the upload windows: after the
outbox and telemetry, resumed from one window to the next, every byte counted in the window's log
and the month's data usage."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from functools import partial

import pytest

from appliance.power.monitor import BatteryState
from appliance.store.device import recent_windows
from appliance.update.channel import fetch_in_window
from appliance.update.download import download_progress
from appliance.update.journal import Attempt, Journal, write_journal
from appliance.update.release import write_index
from tests.agent.conftest import MONDAY
from tests.update.apps import app_bundle
from tests.update.bundles import make_keys, needs_rauc
from tests.update.release_server import ReleaseServer

SIX = MONDAY.replace(hour=6)


@pytest.fixture
def published(tmp_path):
    needs_rauc()
    folder = tmp_path / "releases"
    folder.mkdir()
    bundle = app_bundle(folder, make_keys(tmp_path / "keys", "release"), "9.0.0")
    write_index(bundle, "9.0.0")
    return folder, bundle


def fetcher(cfg, url, tmp_path, *, running="1.0.0", byte_budget_cap=None):
    cfg = dataclasses.replace(cfg, update=dataclasses.replace(cfg.update, app_url=url, work_dir=tmp_path / "upd"))

    def fetch(*, deadline_s, byte_budget):
        cap = byte_budget if byte_budget_cap is None else min(byte_budget or byte_budget_cap, byte_budget_cap)
        return fetch_in_window(cfg, deadline_s=deadline_s, byte_budget=cap, running=running)

    return cfg, fetch


def test_an_update_arrives_over_several_windows_with_its_bytes_counted(make_agent, cfg, published, tmp_path):
    folder, bundle = published
    size = bundle.stat().st_size
    with ReleaseServer(folder) as server:
        ucfg, fetch = fetcher(cfg, server.url + "latest.json", tmp_path, byte_budget_cap=size // 2 + 100)
        agent, clock, _ = make_agent(fetch_update=fetch)
        before = agent.usage.current().bytes_received
        for day in range(3):
            clock.advance_to(SIX + timedelta(days=day))
            agent.run_window()
        assert server.bytes_sent > size
    rows = sorted(recent_windows(), key=lambda row: row.scheduled_at)
    assert "suite à la prochaine fenêtre" in rows[0].detail and "reçue" in rows[1].detail
    progress = download_progress(ucfg.update.work_dir / "download")
    assert progress == {"version": "9.0.0", "received": size, "size": size}
    assert (ucfg.update.work_dir / "download" / "app-9.0.0.raucb").read_bytes() == bundle.read_bytes()
    assert sum(row.bytes_received for row in rows) == server.bytes_sent
    assert agent.usage.current().bytes_received - before == server.bytes_sent


def test_no_update_is_fetched_on_a_low_battery(make_agent, cfg, published, tmp_path):
    folder, _ = published
    with ReleaseServer(folder) as server:
        _, fetch = fetcher(cfg, server.url + "latest.json", tmp_path)
        agent, clock, _ = make_agent(fetch_update=fetch,
                                     power={"initial_soc_pct": 42, "cloudy_day_probability": 1.0})
        clock.advance_to(SIX)
        for _ in range(5):
            agent.sample()
        assert agent.power.state is BatteryState.LOW
        agent.run_window()
        assert server.bytes_sent == 0


def test_a_version_already_rolled_back_is_not_fetched_again(make_agent, cfg, published, tmp_path):
    folder, _ = published
    write_journal(cfg.paths.data_dir, Journal(last=Attempt(version="9.0.0", kind="app", channel="3g",
                                                           outcome="rolled_back")))
    with ReleaseServer(folder) as server:
        _, fetch = fetcher(cfg, server.url + "latest.json", tmp_path)
        agent, clock, _ = make_agent(fetch_update=partial(fetch))
        clock.advance_to(SIX)
        agent.run_window()
        assert server.bytes_sent < 200  # the index only
    assert "pas retéléchargée" in recent_windows()[0].detail
