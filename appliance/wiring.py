"""Composition: which part plugs into which hook point, written once.

Each process composes what it runs from these functions at start-up (nothing registers itself
by being imported): the web's ``create_app`` adds the record hooks, ``appliance outbox flush``
and the agent's windows (``appliance.agent.hooks.agent_partners``) install the outbox senders.
Imports stay inside the functions so a process loads only the parts it composes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from appliance.hooks import OUTBOX_SENDERS, PATIENT_WRITTEN, Hooks

if TYPE_CHECKING:
    from appliance.config import Config
    from appliance.outbox import Outbox


def add_record_hooks(hooks: Hooks) -> Hooks:
    """patients → followup: a written visit recomputes the patient's due items and alerts;
    patients → referrals: a merge moves the folded record's referrals; patients → link: a suspected
    case of a notifiable disease is notified at once (SIMR)."""
    from appliance.followup.service import recompute_after_write
    from appliance.link.simr import notify_after_write
    from appliance.referrals.service import follow_merge

    hooks.add(PATIENT_WRITTEN, recompute_after_write)
    hooks.add(PATIENT_WRITTEN, follow_merge)
    hooks.add(PATIENT_WRITTEN, notify_after_write)
    return hooks


def record_hooks() -> Hooks:
    return add_record_hooks(Hooks())


def add_outbox_senders(hooks: Hooks) -> Hooks:
    """outbox → senders: DHIS2 reports, off-site backups, telemetry events, messages to the district."""
    from appliance.backup.offsite import outbox_senders as backup_senders
    from appliance.dhis2.sender import outbox_senders as dhis2_senders
    from appliance.link.sender import outbox_senders as district_senders
    from appliance.telemetry.sender import outbox_senders as telemetry_senders

    for factory in (dhis2_senders, backup_senders, telemetry_senders, district_senders):
        hooks.add(OUTBOX_SENDERS, factory)
    return hooks


def compose_outbox(cfg: Config) -> Outbox:
    """The flushing process's outbox: the [outbox] settings and every sender."""
    from appliance.outbox.registry import build_outbox

    return build_outbox(cfg, add_outbox_senders(Hooks()))


def compose_window_flush(cfg: Config):
    """An upload window's flush: last week's SIMR figures queued (once), the outbox's flush, then the
    district's messages for this clinic fetched while the link is still up (answers to second opinions)."""
    import datetime as dt

    from appliance.link.inbox import pull
    from appliance.link.simr import queue_last_week

    outbox = compose_outbox(cfg)

    def flush(**kwargs):
        if cfg.dhis2.configured:  # without DHIS2 a week would only wait in the queue
            queue_last_week(dt.date.today())
        report = outbox.flush(**kwargs)
        pull(cfg)
        return report

    flush.kinds = outbox.kinds  # type: ignore[attr-defined]
    return flush
