"""The agent's partners, given to it by whoever composes the process (``agent_partners`` below for
``appliance agent``; tests give their own).

- ``flush_loader() -> flush | None``: called at the first window; ``flush(*, deadline_s,
  only_urgent, byte_budget) -> FlushReport`` is the same code path as ``appliance outbox flush``,
  called once per window while the link is up (``deadline_s``: seconds left in the window).
- ``publish_telemetry(deadline_s)``: publish status and queued events while the link is up.
- ``fetch_update(*, deadline_s, byte_budget) -> (bytes_received, detail)``: after the outbox and
  telemetry, a piece of an application update fetched while the link is up (resumed next window).
- ``urgent_due(kinds) -> bool``: an urgent outbox item of ``kinds`` (any when None) is due now; checked
  every ``uploads.urgent_check_s`` (one indexed query) so urgent items leave at once, not at the next window.
- ``attach_agent(agent)``: called once at start; telemetry keeps the agent to read
  ``agent.status()`` (an AgentStatus) and calls ``agent.events.subscribe(callback)``.

A partner left out is simply absent: the agent runs without it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from appliance.config import Config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AgentPartners:
    flush_loader: Callable[[], Callable[..., Any] | None] = lambda: None
    publish_telemetry: Callable[..., Any] | None = None
    attach_agent: Callable[[Any], None] | None = None
    fetch_update: Callable[..., tuple[int, str]] | None = None
    urgent_due: Callable[[list[str] | None], bool] | None = None


def urgent_due(kinds: list[str] | None) -> bool:
    """The outbox's urgent check, imported at the first check (the outbox's queue only, no sender)."""
    from appliance.outbox import urgent_due as due

    return due(kinds)


def load_flush(cfg: Config) -> Any:
    """The agent's flush, composed at its first window (the outbox's imports stay out of an idle
    agent); None, logged, when the senders cannot be installed: the agent keeps running."""
    from appliance.wiring import compose_window_flush

    try:
        flush = compose_window_flush(cfg)
    except Exception:
        log.exception("Boîte d'envoi : expéditeurs impossibles à installer (configuration ?)")
        return None
    log.info("Boîte d'envoi : expéditeurs %s", ", ".join(flush.kinds()) or "aucun (rien ne partira)")
    return flush


def agent_partners(cfg: Config) -> AgentPartners:
    """agent → outbox, telemetry and updates: the flush (loaded at the first window), the urgent check, telemetry's
    publish and attach, the 3G update fetch when an address is configured. Telemetry failing to
    load is logged and leaves the agent running without it."""
    fetch_update = None
    if cfg.update.app_url:
        from functools import partial

        from appliance.update.channel import fetch_in_window

        fetch_update = partial(fetch_in_window, cfg)
    try:
        from appliance import telemetry
    except Exception:
        log.exception("Télémétrie impossible à charger : fonction désactivée")
        return AgentPartners(flush_loader=lambda: load_flush(cfg), fetch_update=fetch_update, urgent_due=urgent_due)
    return AgentPartners(flush_loader=lambda: load_flush(cfg), publish_telemetry=telemetry.publish_telemetry,
                         attach_agent=telemetry.attach_agent, fetch_update=fetch_update, urgent_due=urgent_due)
