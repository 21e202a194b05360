"""Time for the agent: the system clock, clocks tests and demos can drive, and clock-jump watch.

The Pi has no real-time clock: it boots with fake-hwclock's last saved time, then chrony jumps
the clock when the modem first brings the network. Such a jump is detected by comparing the
wall clock's progress with the monotonic clock's, announced, and the scheduler is woken so the
windows are recomputed against the corrected time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

JUMP_THRESHOLD_S = 120.0
STA_UNSYNC = 0x0040
MAX_SYNC_ERROR_US = 16_000_000  # systemd's NTPSynchronized uses the same bound


class Clock(Protocol):
    def now(self) -> datetime: ...  # aware, UTC

    def monotonic(self) -> float: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told: a simulated week runs in seconds."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._monotonic = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def advance_to(self, moment: datetime) -> None:
        with self._lock:
            if moment > self._now:
                self._monotonic += (moment - self._now).total_seconds()
                self._now = moment

    def advance(self, seconds: float) -> None:
        self.advance_to(self._now + timedelta(seconds=seconds))

    def jump(self, seconds: float) -> None:
        """Move the wall clock only, as NTP stepping the clock does."""
        self._now += timedelta(seconds=seconds)


class ScaledClock:
    """Time running ``speed`` times faster from its start: fast-forwards the simulated battery."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._start = datetime.now(UTC)
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._origin) * self.speed)

    def monotonic(self) -> float:
        return time.monotonic()


class _Timex(ctypes.Structure):
    # The head of struct timex (linux/timex.h) on LP64 and ILP32 alike: modes, then longs, then
    # status; the padding leaves room for the rest of the structure the kernel writes.
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("_rest", ctypes.c_byte * 256)]


def kernel_clock_synced() -> bool | None:
    """True when the kernel's clock is NTP-disciplined (what ``timedatectl`` shows), None if unknown."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        timex = _Timex()
        if libc.adjtimex(ctypes.byref(timex)) < 0:
            return None
    except (OSError, AttributeError):
        return None
    return not timex.status & STA_UNSYNC and timex.maxerror < MAX_SYNC_ERROR_US


class ClockWatch:
    """Compares wall and monotonic progress between two checks."""

    def __init__(self, clock: Clock, threshold_s: float = JUMP_THRESHOLD_S) -> None:
        self.clock = clock
        self.threshold_s = threshold_s
        self._wall = clock.now()
        self._mono = clock.monotonic()
        self.last_jump_s: float | None = None
        self.last_jump_at: datetime | None = None

    def check(self) -> float | None:
        """The size of a jump since the last check (seconds, signed), or None."""
        wall, mono = self.clock.now(), self.clock.monotonic()
        drift = (wall - self._wall).total_seconds() - (mono - self._mono)
        self._wall, self._mono = wall, mono
        if abs(drift) < self.threshold_s:
            return None
        self.last_jump_s, self.last_jump_at = round(drift, 1), wall
        return self.last_jump_s
