"""The agent's optional partners, found at run time so the agent works before they exist.

- ``appliance.outbox.flush(*, deadline_s, only_urgent, byte_budget) -> FlushReport``: the same
  code path as ``appliance outbox flush`` (senders installed first with
  ``appliance.outbox.registry.install_senders(cfg)``, as that command does); called once per
  window while the link is up. ``deadline_s`` is the number of seconds left in the window.
- ``appliance.telemetry.publish_telemetry(deadline_s)``: publish status and queued events
  while the link is up; ``deadline_s`` as above.
- ``appliance.telemetry.attach_agent(agent)``: called once at start; telemetry keeps the agent
  to read ``agent.status()`` (an AgentStatus) and calls ``agent.events.subscribe(callback)``.

A partner that is not installed is simply absent (logged once); one that fails to import is
logged with its traceback and treated as absent: the agent keeps running either way.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hooks:
    flush: Callable[..., Any] | None = None
    publish_telemetry: Callable[..., Any] | None = None
    attach_agent: Callable[[Any], None] | None = None


def optional_module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            log.info("Module %s absent : fonction désactivée", name)
            return None
        log.exception("Module %s : une dépendance manque", name)
        return None
    except Exception:
        log.exception("Module %s impossible à charger : fonction désactivée", name)
        return None


def load_telemetry_hooks() -> tuple[Callable[..., Any] | None, Callable[[Any], None] | None]:
    telemetry = optional_module("appliance.telemetry")
    return getattr(telemetry, "publish_telemetry", None), getattr(telemetry, "attach_agent", None)


def load_flush(cfg: Any) -> Callable[..., Any] | None:
    """Loaded at the first window, not at start: the outbox's imports stay out of an idle agent."""
    flush = getattr(optional_module("appliance.outbox"), "flush", None)
    registry = optional_module("appliance.outbox.registry")
    install = getattr(registry, "install_senders", None)
    if flush is None or install is None:
        return flush
    try:
        kinds = install(cfg)
    except Exception:
        log.exception("Boîte d'envoi : expéditeurs impossibles à installer (configuration ?)")
        return None
    log.info("Boîte d'envoi : expéditeurs %s", ", ".join(kinds) or "aucun (rien ne partira)")
    return flush
