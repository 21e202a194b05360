"""Bytes over the modem per month, from the kernel's interface counters, kept across reboots.

``/sys/class/net/<iface>/statistics/{rx,tx}_bytes`` count from the moment the interface was
created: they restart at zero after a reboot, and a ppp/wwan interface that reconnects is a new
interface. So each sample stores the counters it saw together with the interface's ``ifindex``
and the kernel's boot id; the next sample adds only the difference when both are the same and
the counters did not go backwards, and the whole new count otherwise. Month totals and the last
counters are written in one transaction: a power cut loses at most the bytes since the last
sample, never counts them twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from appliance.settings.modem import ModemSettings
from appliance.store.db import database
from appliance.store.device import DataUsage
from appliance.store.utc import naive_utc

log = logging.getLogger(__name__)

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
COUNTERS_KEY = "modem.counters"
ALERT_KEY = "modem.budget_alert"


@dataclass(frozen=True)
class CounterReading:
    ifindex: int
    rx_bytes: int
    tx_bytes: int


class InterfaceCounters(Protocol):
    def read(self, interface: str) -> CounterReading | None: ...

    def boot_id(self) -> str: ...


class SysfsCounters:
    """The kernel's counters, as documented in Documentation/ABI/testing/sysfs-class-net-statistics."""

    def __init__(self, root: Path = Path("/sys/class/net"), boot_id_path: Path = BOOT_ID) -> None:
        self.root = root
        self.boot_id_path = boot_id_path

    def read(self, interface: str) -> CounterReading | None:
        folder = self.root / interface
        try:
            return CounterReading(
                ifindex=int((folder / "ifindex").read_text()),
                rx_bytes=int((folder / "statistics" / "rx_bytes").read_text()),
                tx_bytes=int((folder / "statistics" / "tx_bytes").read_text()),
            )
        except (OSError, ValueError):
            return None  # the interface is gone (modem pulled out) or unreadable

    def boot_id(self) -> str:
        try:
            return self.boot_id_path.read_text().strip()
        except OSError:
            return "unknown"


class StateStore(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...

    def put(self, key: str, value: Any) -> None: ...


class UsageLevel(StrEnum):
    OK = "ok"
    WARNING = "warning"  # past warning_pct of the budget: said in telemetry and on the page
    EXCEEDED = "exceeded"  # past 100 %: only urgent traffic


@dataclass(frozen=True)
class MonthUsage:
    month: str
    bytes_sent: int
    bytes_received: int
    budget_bytes: int
    warning_pct: int

    @property
    def total(self) -> int:
        return self.bytes_sent + self.bytes_received

    @property
    def used_pct(self) -> float:
        return round(100 * self.total / self.budget_bytes, 1)

    @property
    def remaining(self) -> int:
        return max(0, self.budget_bytes - self.total)

    @property
    def level(self) -> UsageLevel:
        if self.total >= self.budget_bytes:
            return UsageLevel.EXCEEDED
        if self.used_pct >= self.warning_pct:
            return UsageLevel.WARNING
        return UsageLevel.OK

    def as_dict(self) -> dict[str, Any]:
        return {"month": self.month, "bytes_sent": self.bytes_sent, "bytes_received": self.bytes_received,
                "budget_bytes": self.budget_bytes, "used_pct": self.used_pct, "level": self.level.value}


class DataUsageMeter:
    def __init__(
        self,
        settings: ModemSettings,
        counters: InterfaceCounters,
        state: StateStore,
        *,
        now: Callable[[], datetime],
        tz: tzinfo,
        on_event: Callable[..., None],
    ) -> None:
        self.settings = settings
        self.counters = counters
        self.state = state
        self._now = now
        self._tz = tz
        self._emit = on_event

    def month_key(self, at: datetime | None = None) -> str:
        return (at or self._now()).astimezone(self._tz).strftime("%Y-%m")

    def current(self) -> MonthUsage:
        month = self.month_key()
        row = DataUsage.get_or_none(DataUsage.month == month)
        return MonthUsage(month, row.bytes_sent if row else 0, row.bytes_received if row else 0,
                          self.settings.monthly_budget_bytes, self.settings.warning_pct)

    def sample(self, interface: str) -> MonthUsage:
        """Count what went through ``interface`` since the last sample (call it often while up)."""
        reading = self.counters.read(interface)
        if reading is None:
            return self.current()
        boot_id = self.counters.boot_id()
        now = self._now()
        month = self.month_key(now)
        with database.atomic():
            last = self.state.get(COUNTERS_KEY) or {}
            same = (last.get("interface") == interface and last.get("ifindex") == reading.ifindex
                    and last.get("boot_id") == boot_id)
            rx = reading.rx_bytes - last.get("rx", 0) if same else reading.rx_bytes
            tx = reading.tx_bytes - last.get("tx", 0) if same else reading.tx_bytes
            if rx < 0 or tx < 0:  # counters went backwards: they restarted, count all they hold
                rx, tx = reading.rx_bytes, reading.tx_bytes
            stamp = naive_utc(now)
            fresh = DataUsage.insert(month=month, bytes_sent=0, bytes_received=0, updated_at=stamp)
            fresh.on_conflict_ignore().execute()
            DataUsage.update(
                bytes_received=DataUsage.bytes_received + rx,
                bytes_sent=DataUsage.bytes_sent + tx,
                updated_at=stamp,
            ).where(DataUsage.month == month).execute()
            self.state.put(COUNTERS_KEY, {"interface": interface, "ifindex": reading.ifindex,
                                          "boot_id": boot_id, "rx": reading.rx_bytes, "tx": reading.tx_bytes})
        usage = self.current()
        self._alert(usage)
        return usage

    def _alert(self, usage: MonthUsage) -> None:
        """Once per month and level: the warning at 80 %, the cut-off at 100 %."""
        if usage.level is UsageLevel.OK:
            return
        marker = f"{usage.month}:{usage.level.value}"
        if self.state.get(ALERT_KEY) == marker:
            return
        self.state.put(ALERT_KEY, marker)
        megabytes = usage.total / 1_000_000
        if usage.level is UsageLevel.WARNING:
            message = (f"Forfait de données : {usage.used_pct:.0f} % utilisés ce mois-ci "
                       f"({megabytes:.1f} Mo sur {self.settings.monthly_budget_mb} Mo)")
            self._emit("data_budget_warning", message, severity="warning", **usage.as_dict())
        else:
            message = (f"Forfait de données épuisé ({megabytes:.1f} Mo) : seuls les envois urgents "
                       "partent jusqu'au mois prochain")
            self._emit("data_budget_exceeded", message, severity="warning", **usage.as_dict())
        log.warning(message)
