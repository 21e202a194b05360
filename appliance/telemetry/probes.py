"""Figures the publisher measures itself, so the agent only has to hand over its hardware readings."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from appliance.store.utc import aware_utc

log = logging.getLogger(__name__)

DHIS2_KIND_PREFIX = "dhis2."


def system_uptime_s(path: Path = Path("/proc/uptime")) -> float:
    try:
        return float(path.read_text(encoding="ascii").split()[0])
    except (OSError, IndexError, ValueError):
        return time.monotonic()


def disk_free_mb(path: Path) -> int | None:
    try:
        stats = os.statvfs(path)
    except OSError:
        return None
    return stats.f_bavail * stats.f_frsize // (1024 * 1024)


def outbox_figures() -> dict[str, Any]:
    """Depth, oldest age, dead letters and last DHIS2 success from the outbox (its tables must exist)."""
    from appliance import outbox

    try:
        status = outbox.status()
    except Exception:  # the outbox's own trouble must never stop the health report
        log.exception("état de l'outbox illisible pour la télémétrie")
        return {}
    return figures_from_outbox_status(status)


def figures_from_outbox_status(status: Any) -> dict[str, Any]:
    """Map appliance.outbox's OutboxStatus onto status fields (DHIS2 kinds are ``dhis2.*``)."""
    dhis2 = [
        aware_utc(moment).timestamp()
        for kind, moment in status.last_success_at.items()
        if kind.startswith(DHIS2_KIND_PREFIX)
    ]
    return {
        "outbox_depth": status.depth,
        "outbox_oldest_age_s": status.oldest_age_s,
        "outbox_dead_letters": status.dead_letters,
        "last_dhis2_success": max(dhis2) if dhis2 else None,
    }


def update_figures(data_dir: Path) -> dict[str, Any]:
    """The root slot booted and the last update's version and outcome (the one on trial first)."""
    from appliance.update.journal import read_journal
    from appliance.update.machine import booted_slot

    journal = read_journal(data_dir)
    attempt = journal.pending or journal.last
    figures: dict[str, Any] = {"slot": booted_slot()}
    if attempt is not None:
        figures.update(update_version=attempt.version, update_outcome=attempt.outcome)
    return figures


def backup_figures() -> dict[str, Any]:
    """The backup log's facts as status fields, read when a status is built (never polled).

    0 says "none yet" (a known fact, unlike a left-out key); the off-site time is left out for a
    clinic whose log has never tried an off-site copy (none configured).
    """
    from appliance.backup.summary import read_facts
    from appliance.store.db import database

    try:
        facts = read_facts(database.execute_sql)
    except Exception as exc:  # no database or no log table yet: the rest of the status still goes
        log.warning("journal des sauvegardes illisible pour la télémétrie : %s", exc)
        return {}
    return {
        "last_backup": facts.last_verified_at or 0,
        "backup_failed": facts.last_local_failed,
        "last_stick_backup": facts.last_stick_at or 0,
        "last_offsite_backup": (facts.last_offsite_at or 0) if facts.offsite_tried else None,
    }
