"""Composition: which part plugs into which hook point, written once.

Each process composes what it runs from these functions at start-up (nothing registers itself
by being imported): the web's ``create_app`` adds the record hooks, ``appliance outbox flush``
and the agent's windows install the outbox senders, ``appliance agent`` gets its partners here.
Imports stay inside the functions so a process loads only the parts it composes.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from appliance.hooks import OUTBOX_SENDERS, PATIENT_WRITTEN, Hooks

if TYPE_CHECKING:
    from appliance.agent.hooks import AgentPartners
    from appliance.config import Config

log = logging.getLogger(__name__)


def add_record_hooks(hooks: Hooks) -> Hooks:
    """patients → followup: a written visit recomputes the patient's due items and alerts."""
    from appliance.followup.service import recompute_after_write

    hooks.add(PATIENT_WRITTEN, recompute_after_write)
    return hooks


def record_hooks() -> Hooks:
    return add_record_hooks(Hooks())


def add_outbox_senders(hooks: Hooks) -> Hooks:
    """outbox → senders: DHIS2 reports, off-site backups, telemetry events."""
    from appliance.backup.offsite import outbox_senders as backup_senders
    from appliance.dhis2.sender import outbox_senders as dhis2_senders
    from appliance.telemetry.sender import outbox_senders as telemetry_senders

    for factory in (dhis2_senders, backup_senders, telemetry_senders):
        hooks.add(OUTBOX_SENDERS, factory)
    return hooks


def install_outbox(cfg: Config) -> list[str]:
    """Configure the outbox from [outbox] and register every sender; return their kinds."""
    from appliance.outbox.registry import install_senders

    return install_senders(cfg, add_outbox_senders(Hooks()))


def load_flush(cfg: Config) -> Any:
    """The agent's flush, composed at its first window (the outbox's imports stay out of an idle
    agent); None, logged, when the senders cannot be installed: the agent keeps running."""
    try:
        kinds = install_outbox(cfg)
    except Exception:
        log.exception("Boîte d'envoi : expéditeurs impossibles à installer (configuration ?)")
        return None
    log.info("Boîte d'envoi : expéditeurs %s", ", ".join(kinds) or "aucun (rien ne partira)")
    from appliance.outbox import flush

    return flush


def agent_partners(cfg: Config) -> AgentPartners:
    """agent → outbox and telemetry: the flush (loaded at the first window), telemetry's publish
    and attach. Telemetry failing to load is logged and leaves the agent running without it."""
    from appliance.agent.hooks import AgentPartners

    try:
        from appliance import telemetry
    except Exception:
        log.exception("Télémétrie impossible à charger : fonction désactivée")
        return AgentPartners(flush_loader=lambda: load_flush(cfg))
    return AgentPartners(flush_loader=lambda: load_flush(cfg), publish_telemetry=telemetry.publish_telemetry,
                         attach_agent=telemetry.attach_agent)
