"""The agent's partners, given to it by whoever composes the process (``appliance.wiring.agent_partners``).

- ``flush_loader() -> flush | None``: called at the first window; ``flush(*, deadline_s,
  only_urgent, byte_budget) -> FlushReport`` is the same code path as ``appliance outbox flush``,
  called once per window while the link is up (``deadline_s``: seconds left in the window).
- ``publish_telemetry(deadline_s)``: publish status and queued events while the link is up.
- ``attach_agent(agent)``: called once at start; telemetry keeps the agent to read
  ``agent.status()`` (an AgentStatus) and calls ``agent.events.subscribe(callback)``.

A partner left out is simply absent: the agent runs without it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AgentPartners:
    flush_loader: Callable[[], Callable[..., Any] | None] = lambda: None
    publish_telemetry: Callable[..., Any] | None = None
    attach_agent: Callable[[Any], None] | None = None
