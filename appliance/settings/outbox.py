"""Settings of the ``[outbox]`` section: how patiently the box retries over a flaky 3G link."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutboxSettings:
    # After this many failed attempts an item becomes a dead letter shown to the administrator.
    # A 10-minute window fits ~4 attempts (1, 2, 4 min apart): 24 ride out three days of a server
    # in maintenance. Time-outs and an unreachable server are not counted (see queue._finish).
    max_attempts: int = 24
    # Exponential backoff with jitter: the n-th retry waits between half and all of
    # min(max_delay_s, base_delay_s × 2^(n-1)). With the defaults: 1 min, 2, 4 … capped at 6 h.
    base_delay_s: float = 60.0
    max_delay_s: float = 6 * 3600.0
    # Consecutive time-outs or connection failures of one kind that end a flush for that kind:
    # the link is down, the rest of the window's airtime is better left to other kinds.
    link_failures_before_stop: int = 3

    def validate(self) -> list[str]:
        errors = []
        if not 1 <= self.max_attempts <= 1000:
            errors.append("outbox.max_attempts : entre 1 et 1000")
        if self.base_delay_s <= 0 or self.max_delay_s < self.base_delay_s:
            errors.append("outbox : base_delay_s > 0 et max_delay_s ≥ base_delay_s")
        if self.link_failures_before_stop < 1:
            errors.append("outbox.link_failures_before_stop : au moins 1")
        return errors
