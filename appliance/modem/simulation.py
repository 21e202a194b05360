"""A simulated 3G stick for ``simulation = true``, tests and demos.

It walks ModemManager's documented state model (MMModemState: disabled → enabling → enabled →
searching → registered → connecting → connected) and reports like it; what the field does to a
real one is a switch away: unplugged (the same presence events udev would give), no coverage
(stuck searching, connect fails), a slow link, a link that drops some seconds after connecting.
Bytes are counted on a fake interface ``sim0`` whose counters restart at each connection, as a
real wwan/ppp interface does.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from appliance.modem.base import Link, LinkDropped, ModemError, ModemStatus
from appliance.modem.hotplug import ModemPresence
from appliance.modem.usage import CounterReading
from appliance.settings.modem import SimulatedModemSettings

log = logging.getLogger(__name__)

SIM_PORT = "/sys/devices/simulated/usb1/1-1/ttyUSB0"
SIM_INTERFACE = "sim0"


@dataclass
class _Counters:
    ifindex: int
    rx: int = 0
    tx: int = 0


class SimulatedCounters:
    """Interface counters held in memory (the sysfs files of the fake interface)."""

    def __init__(self, boot_id: str = "simulated-boot") -> None:
        self._interfaces: dict[str, _Counters] = {}
        self._next_index = itertools.count(10)
        self._boot_id = boot_id

    def create(self, interface: str) -> None:
        self._interfaces[interface] = _Counters(next(self._next_index))

    def remove(self, interface: str) -> None:
        self._interfaces.pop(interface, None)

    def add(self, interface: str, *, rx: int = 0, tx: int = 0) -> None:
        counters = self._interfaces[interface]
        counters.rx += rx
        counters.tx += tx

    def read(self, interface: str) -> CounterReading | None:
        counters = self._interfaces.get(interface)
        return None if counters is None else CounterReading(counters.ifindex, counters.rx, counters.tx)

    def boot_id(self) -> str:
        return self._boot_id


class SimulatedModem:
    def __init__(
        self,
        settings: SimulatedModemSettings,
        presence: ModemPresence,
        counters: SimulatedCounters,
        *,
        now: Callable[[], datetime],
        on_power: Callable[[bool], None] = lambda on: None,
    ) -> None:
        self.presence = presence
        self.counters = counters
        self._now = now
        self._on_power = on_power  # tells the simulated battery when the modem draws current
        self._lock = threading.Lock()
        self.coverage = settings.coverage
        self.signal_pct = settings.signal_pct
        self.bytes_per_s = settings.bytes_per_s
        self.drop_after_s = settings.drop_after_s
        self.state = "disabled"
        self._link: Link | None = None
        self.connects = 0
        if settings.plugged:
            self.plug()

    def plug(self) -> None:
        self.presence.port_added(SIM_PORT, "ttyUSB0")

    def unplug(self) -> None:
        with self._lock:
            self._drop_link()
            self.state = "disabled"
        self.presence.port_removed(SIM_PORT)

    def status(self) -> ModemStatus:
        if not self.presence.present:
            return ModemStatus(present=False)
        registered = self.state in ("registered", "connected")
        return ModemStatus(
            present=True,
            state=self.state,
            signal_pct=self.signal_pct if self.coverage and self.state != "disabled" else 0,
            registration=("home" if registered else "searching") if self.state != "disabled" else "idle",
            operator="SIM-Mali" if registered else None,
            access_technology="umts" if registered else None,
            connected=self.state == "connected" and self.link_up(),
        )

    def connect(self, *, timeout_s: float) -> Link:
        with self._lock:
            if not self.presence.present:
                raise ModemError("aucun modem branché")
            self._on_power(True)
            self.state = "searching"
            if not self.coverage:
                raise ModemError(f"pas de réseau : modem toujours en recherche après {timeout_s:.0f} s")
            self.state = "connected"
            self.connects += 1
            self.counters.create(SIM_INTERFACE)
            self._link = Link(SIM_INTERFACE, self._now())
            log.info("SIMULATION : modem connecté (%s)", SIM_INTERFACE)
            return self._link

    def link_up(self) -> bool:
        link = self._link
        if link is None or not self.presence.present:
            return False
        age_s = (self._now() - link.connected_at).total_seconds()
        return not (self.drop_after_s and age_s >= self.drop_after_s)

    def account(self, sent: int, received: int) -> None:
        """Put the bytes the outbox reports on the fake interface's counters (in a demo they went over
        loopback to the fake DHIS2), so the data budget moves as it would over 3G."""
        if self._link is None:
            raise LinkDropped("liaison perdue pendant l'envoi")
        self.counters.add(SIM_INTERFACE, rx=received, tx=sent)

    def seconds_for(self, nbytes: int) -> float:
        """How long ``nbytes`` take on this (slow) link."""
        return nbytes / self.bytes_per_s

    def disconnect(self) -> None:
        with self._lock:
            self._drop_link()
            if self.presence.present and self.state != "disabled":
                self.state = "registered" if self.coverage else "searching"
            self._on_power(False)

    def power_down(self) -> None:
        with self._lock:
            self._drop_link()
            self.state = "disabled"
            self._on_power(False)

    def close(self) -> None:
        self.disconnect()

    def _drop_link(self) -> None:
        if self._link is not None:
            self._link = None
            self.counters.remove(SIM_INTERFACE)
