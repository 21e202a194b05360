"""Plausibility and smoothing of battery readings: a bad reading is counted, reported, never acted on.

A loose divider wire, an ADC stuck on one code or a spike from the modem's transmit burst must
not shut a clinic down. Each reading is checked in this order:

- unreadable (the sensor raised) or not a number;
- out of the plausible range (``plausible_min_v``..``plausible_max_v``);
- stuck: the very same ADC value for ``stuck_after_hours`` (a live battery always wanders a code);
- a jump of more than ``max_jump_v`` from the smoothed value, unless ``jump_confirm_samples``
  readings in a row agree on the new level (a real step: a load switched, a battery swapped).

Accepted readings feed a running median over ``smoothing_samples``: the state machine only
ever sees that median.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from appliance.settings.power import PowerSettings


class Rejection(StrEnum):
    UNREADABLE = "unreadable"
    NOT_A_NUMBER = "nan"
    OUT_OF_RANGE = "range"
    STUCK = "stuck"
    JUMP = "jump"


@dataclass(frozen=True)
class Verdict:
    raw: float | None
    accepted: bool
    smoothed: float | None  # the median of accepted readings (None before the first one)
    reason: Rejection | None = None


class ReadingFilter:
    def __init__(self, settings: PowerSettings) -> None:
        self._settings = settings
        self._window: deque[float] = deque(maxlen=settings.smoothing_samples)
        self._pending_jump: list[float] = []
        self._last_raw: float | None = None
        self._same_since: datetime | None = None
        self.rejected: Counter[str] = Counter()
        self.accepted_count = 0
        self.last_accepted_at: datetime | None = None

    @property
    def smoothed(self) -> float | None:
        return statistics.median(self._window) if self._window else None

    def offer(self, raw: float | None, at: datetime) -> Verdict:
        reason = self._check(raw, at)
        if reason is not None:
            self.rejected[reason.value] += 1
            return Verdict(raw, False, self.smoothed, reason)
        self._window.append(raw)
        self.accepted_count += 1
        self.last_accepted_at = at
        return Verdict(raw, True, self.smoothed)

    def _check(self, raw: float | None, at: datetime) -> Rejection | None:
        settings = self._settings
        if raw is None:
            return Rejection.UNREADABLE
        if not isinstance(raw, float | int) or math.isnan(raw) or math.isinf(raw):
            return Rejection.NOT_A_NUMBER
        if not settings.plausible_min_v <= raw <= settings.plausible_max_v:
            return Rejection.OUT_OF_RANGE
        if raw != self._last_raw:
            self._last_raw, self._same_since = raw, at
        elif at - self._same_since >= timedelta(hours=settings.stuck_after_hours):
            return Rejection.STUCK
        return self._check_jump(raw)

    def _check_jump(self, raw: float) -> Rejection | None:
        reference = self.smoothed
        limit = self._settings.max_jump_v
        if reference is None or abs(raw - reference) <= limit:
            self._pending_jump.clear()
            return None
        if self._pending_jump and abs(raw - statistics.median(self._pending_jump)) > limit:
            self._pending_jump.clear()
        self._pending_jump.append(raw)
        if len(self._pending_jump) >= self._settings.jump_confirm_samples:
            # The new level held: it is real. Restart the median from it.
            self._window.clear()
            self._window.extend(self._pending_jump[:-1])
            self._pending_jump.clear()
            return None
        return Rejection.JUMP
