"""Daily counters that survive restarts: telemetry bytes on the wire and SD bytes written.

Kept in SQLite (migration m0050) so an agent restart at noon does not report half a day.
Days are UTC dates (Mali's civil time is UTC). A memory-only store serves tools that run
without the clinic's database (the fleet simulator, one-off ``appliance telemetry send``
with ``--no-store``).
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Protocol

WIRE_BYTES = "wire_bytes"
SD_BYTES = "sd_bytes"
SD_SECTORS_MARK = "sd_sectors"
SECTOR_BYTES = 512  # /sys/block/*/stat counts 512-byte sectors whatever the device


def utc_day(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).date().isoformat()


class CounterStore(Protocol):
    def add(self, day: str, name: str, delta: int) -> None: ...
    def get(self, day: str, name: str) -> int: ...
    def mark(self, name: str) -> tuple[str, int] | None: ...
    def set_mark(self, name: str, boot_id: str, value: int) -> None: ...


class MemoryCounters:
    def __init__(self) -> None:
        self._values: dict[tuple[str, str], int] = {}
        self._marks: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()

    def add(self, day: str, name: str, delta: int) -> None:
        with self._lock:
            self._values[(day, name)] = self._values.get((day, name), 0) + delta

    def get(self, day: str, name: str) -> int:
        return self._values.get((day, name), 0)

    def mark(self, name: str) -> tuple[str, int] | None:
        return self._marks.get(name)

    def set_mark(self, name: str, boot_id: str, value: int) -> None:
        self._marks[name] = (boot_id, value)


class SqliteCounters:
    """Counters in the clinic database (tables from m0050), through the shared peewee proxy."""

    def __init__(self) -> None:
        from appliance.store.db import database

        self._db = database

    def add(self, day: str, name: str, delta: int) -> None:
        if delta:
            with self._db.atomic():
                self._db.execute_sql(
                    "INSERT INTO telemetry_counter (day, name, value) VALUES (?, ?, ?) "
                    "ON CONFLICT (day, name) DO UPDATE SET value = value + excluded.value",
                    (day, name, delta),
                )

    def get(self, day: str, name: str) -> int:
        row = self._db.execute_sql(
            "SELECT value FROM telemetry_counter WHERE day = ? AND name = ?", (day, name)
        ).fetchone()
        return row[0] if row else 0

    def mark(self, name: str) -> tuple[str, int] | None:
        row = self._db.execute_sql(
            "SELECT boot_id, value FROM telemetry_mark WHERE name = ?", (name,)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def set_mark(self, name: str, boot_id: str, value: int) -> None:
        with self._db.atomic():
            self._db.execute_sql(
                "INSERT INTO telemetry_mark (name, boot_id, value) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET boot_id = excluded.boot_id, value = excluded.value",
                (name, boot_id, value),
            )


def read_sectors_written(device: str, sys_block: Path = Path("/sys/block")) -> int | None:
    """Sectors written to ``device`` since boot (field 7 of the kernel's block ``stat``)."""
    try:
        fields = (sys_block / device / "stat").read_text(encoding="ascii").split()
        return int(fields[6])
    except (OSError, IndexError, ValueError):
        return None


def read_boot_id(path: Path = Path("/proc/sys/kernel/random/boot_id")) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except OSError:
        return "unknown"


def sd_written_today(
    counters: CounterStore, *, sectors: int | None, boot_id: str, now: float
) -> int | None:
    """Add the sectors written since the last look to today's total; return today's bytes.

    The kernel counts from boot, so the delta is taken against the last mark of the same
    boot; after a reboot, everything since boot counts (it happened after the last look).
    Writes between the last look and a power cut are attributed to the day of the next look.
    """
    if sectors is None:
        return None
    day = utc_day(now)
    mark = counters.mark(SD_SECTORS_MARK)
    if mark is None:
        delta = 0  # first look ever: no baseline, start counting from here
    elif mark[0] == boot_id:
        delta = max(0, sectors - mark[1])
    else:
        delta = sectors
    counters.add(day, SD_BYTES, delta * SECTOR_BYTES)
    counters.set_mark(SD_SECTORS_MARK, boot_id, sectors)
    return counters.get(day, SD_BYTES)
