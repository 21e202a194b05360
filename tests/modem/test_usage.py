"""Monthly data counting from interface counters laid out as sysfs lays them out, through reboots
and reconnections, kept in SQLite, with the 80 % and 100 % alerts sent once."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from appliance.agent.state import StateStore
from appliance.modem.usage import DataUsageMeter, SysfsCounters, UsageLevel
from appliance.settings.modem import ModemSettings
from appliance.store.device import DataUsage


class FakeSysfs:
    """/sys/class/net/<iface>/{ifindex,statistics/rx_bytes,statistics/tx_bytes} and the boot id."""

    def __init__(self, root: Path) -> None:
        self.root = root / "net"
        self.boot = root / "boot_id"
        self.boot.write_text("boot-1\n")

    def set(self, iface: str, ifindex: int, rx: int, tx: int) -> None:
        stats = self.root / iface / "statistics"
        stats.mkdir(parents=True, exist_ok=True)
        (self.root / iface / "ifindex").write_text(f"{ifindex}\n")
        (stats / "rx_bytes").write_text(f"{rx}\n")
        (stats / "tx_bytes").write_text(f"{tx}\n")

    def reboot(self, boot_id: str) -> None:
        self.boot.write_text(boot_id + "\n")


@pytest.fixture
def rig(store, tmp_path):
    sysfs = FakeSysfs(tmp_path)
    clock = {"now": datetime(2025, 3, 10, 6, tzinfo=UTC)}
    events: list[str] = []
    settings = dataclasses.replace(ModemSettings(), monthly_budget_mb=1, warning_pct=80)

    def meter() -> DataUsageMeter:  # a fresh one = the agent after a restart
        return DataUsageMeter(settings, SysfsCounters(sysfs.root, sysfs.boot), StateStore(),
                              now=lambda: clock["now"], tz=UTC, on_event=lambda kind, *a, **k: events.append(kind))

    return sysfs, clock, events, meter


def test_deltas_are_added_and_survive_a_restart_of_the_agent(rig):
    sysfs, _clock, _events, meter = rig
    sysfs.set("wwan0", 5, rx=1000, tx=400)
    assert meter().sample("wwan0").total == 1400  # a new interface: everything it holds is ours
    sysfs.set("wwan0", 5, rx=3000, tx=900)
    usage = meter().sample("wwan0")  # a new meter: the last counters come from SQLite
    assert (usage.bytes_received, usage.bytes_sent) == (3000, 900)


def test_a_reboot_or_a_reconnection_restarts_the_counters_without_losing_or_doubling(rig):
    sysfs, _clock, _events, meter = rig
    sysfs.set("wwan0", 5, rx=5000, tx=1000)
    meter().sample("wwan0")
    sysfs.set("wwan0", 7, rx=200, tx=100)  # reconnected: a new ifindex, counters from zero
    assert meter().sample("wwan0").total == 6300
    sysfs.reboot("boot-2")
    sysfs.set("wwan0", 7, rx=300, tx=0)  # same ifindex by chance after the reboot
    assert meter().sample("wwan0").total == 6600
    sysfs.set("wwan0", 7, rx=50, tx=0)  # counters went backwards (driver reset): count what they hold
    assert meter().sample("wwan0").total == 6650


def test_months_are_counted_apart_in_the_site_zone(rig):
    sysfs, clock, _events, meter = rig
    sysfs.set("ppp0", 3, rx=100, tx=100)
    meter().sample("ppp0")
    clock["now"] = datetime(2025, 4, 1, 0, 30, tzinfo=UTC)
    sysfs.set("ppp0", 3, rx=150, tx=100)
    assert meter().sample("ppp0").total == 50
    assert {row.month: row.bytes_received + row.bytes_sent for row in DataUsage.select()} == {
        "2025-03": 200, "2025-04": 50}


def test_a_vanished_interface_changes_nothing(rig):
    _sysfs, _clock, _events, meter = rig
    assert meter().sample("wwan0").total == 0


def test_budget_alerts_once_per_level_and_month(rig):
    sysfs, clock, events, meter = rig
    sysfs.set("wwan0", 5, rx=700_000, tx=50_000)
    assert meter().sample("wwan0").level is UsageLevel.OK
    sysfs.set("wwan0", 5, rx=800_000, tx=50_000)
    assert meter().sample("wwan0").level is UsageLevel.WARNING
    meter().sample("wwan0")
    sysfs.set("wwan0", 5, rx=1_000_000, tx=50_000)
    usage = meter().sample("wwan0")
    assert usage.level is UsageLevel.EXCEEDED and usage.remaining == 0
    meter().sample("wwan0")
    assert events == ["data_budget_warning", "data_budget_exceeded"]
    clock["now"] = datetime(2025, 4, 2, tzinfo=UTC)
    assert meter().current().level is UsageLevel.OK
