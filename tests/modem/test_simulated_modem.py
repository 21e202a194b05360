from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from appliance.modem.base import LinkDropped, ModemError
from appliance.modem.hotplug import ModemPresence
from appliance.modem.simulation import SIM_INTERFACE, SimulatedCounters, SimulatedModem
from appliance.settings.modem import SimulatedModemSettings


def make(**settings):
    clock = {"now": datetime(2025, 3, 1, 6, tzinfo=UTC)}
    presence, counters = ModemPresence(), SimulatedCounters()
    changes: list[bool] = []
    presence.listeners.append(lambda present, name: changes.append(present))
    modem = SimulatedModem(SimulatedModemSettings(**settings), presence, counters, now=lambda: clock["now"])
    return modem, clock, counters, changes


def test_plugging_goes_through_the_same_presence_events_as_udev():
    modem, _clock, _counters, changes = make(plugged=False)
    assert not modem.status().present
    with pytest.raises(ModemError, match="aucun modem"):
        modem.connect(timeout_s=30)
    modem.plug()
    modem.unplug()
    assert changes == [True, False]


def test_no_coverage_fails_to_connect_while_searching():
    modem, *_ = make(coverage=False)
    with pytest.raises(ModemError, match="pas de réseau"):
        modem.connect(timeout_s=60)
    status = modem.status()
    assert (status.state, status.registration, status.signal_pct) == ("searching", "searching", 0)


def test_a_link_that_drops_and_its_counters():
    modem, clock, counters, _ = make(drop_after_s=30, bytes_per_s=1000)
    link = modem.connect(timeout_s=30)
    assert modem.seconds_for(2000) == 2.0
    modem.account(2000, 100)
    assert modem.link_up()
    clock["now"] += timedelta(seconds=31)
    assert not modem.link_up()
    assert counters.read(link.interface).tx_bytes == 2000
    modem.disconnect()
    with pytest.raises(LinkDropped):
        modem.account(10, 10)
    assert counters.read(SIM_INTERFACE) is None  # the interface goes with the link
    modem.connect(timeout_s=30)
    assert counters.read(SIM_INTERFACE).tx_bytes == 0  # a new interface counts from zero
