"""The backup log in a few facts, and the one rule for its red alarm, for readers that must stay light.

The EMR's home badge, the clinic's telemetry status (built in each upload window) and the ops fleet
view all ask the Backups page's question — is there a recent verified copy, did the last one fail? —
and must answer it exactly as the page does (``appliance/backup/status.py`` uses the same rule).
Nothing here imports the backup machinery: the agent and the fleet view pay for two small modules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from appliance.store.utc import aware_utc

STALE_AFTER_S = 48 * 3600  # the Backups page's red alarm, the clinic's alert and the fleet's flag
DAY_S = 24 * 3600
# The nightly job does not start at the same second each night: a copy queued a little later last
# week still counts as a week old tonight.
_NIGHT_SLACK_S = 12 * 3600

# Newest rows first, as the page orders them; the index on started_at finds them in a few steps.
_NEWEST = "FROM backup_run WHERE {} ORDER BY started_at DESC, id DESC LIMIT 1"
_LOCAL_SQL = ("SELECT (SELECT status " + _NEWEST.format("target = 'local'") + "), "
              "(SELECT COALESCE(finished_at, started_at) " + _NEWEST.format("target = 'local' AND status = 'ok'")
              + ")")
_ALL_SQL = (_LOCAL_SQL + ", (SELECT COALESCE(finished_at, started_at) "
            + _NEWEST.format("target = 'usb' AND status = 'ok'") + "), "
            "(SELECT COALESCE(finished_at, started_at) " + _NEWEST.format("target = 'offsite' AND status = 'ok'")
            + "), EXISTS (SELECT 1 FROM backup_run WHERE target = 'offsite')")


@dataclass(frozen=True)
class LogFacts:
    """What the ``backup_run`` log says now; times in Unix seconds (the device clock that wrote them)."""

    last_verified_at: float | None  # newest local copy that ended ``ok`` (written only once verified)
    last_local_failed: bool  # the newest local run did not end ``ok``
    last_stick_at: float | None = None  # newest copy read back from a stick and found identical
    last_offsite_at: float | None = None  # newest off-site send restic confirmed
    offsite_tried: bool = False  # the log has any off-site row: the clinic sends copies off-site


def alarms(*, last_verified_at: float | None, last_failed: bool, now: float) -> list[str]:
    """The red alarm's causes: ``never`` (no verified copy), ``stale`` (the newest is older than
    STALE_AFTER_S), ``local_failed`` (the last run failed: its cause needs a look). Same clock for both times."""
    found = []
    if last_verified_at is None:
        found.append("never")
    elif now - last_verified_at > STALE_AFTER_S:
        found.append("stale")
    if last_failed:
        found.append("local_failed")
    return found


def offsite_due(*, last_queued_at: float | None, now: float, every_days: int) -> bool:
    """Whether tonight's job queues the off-site copy (``backup.offsite_every_days``; times in Unix seconds).

    Counted from the last copy *queued*, never from the last one delivered: a copy that the link
    or the server held back for days (or that ended in the dead letters) does not push the next one
    later, so a fresh copy is queued at most ``every_days`` after the previous one. A night whose
    copy could not be prepared queued nothing, so the next night tries again. A last copy dated
    after ``now`` means the clock went back: queue rather than wait for the clock to catch up."""
    if last_queued_at is None or last_queued_at > now:
        return True
    return now - last_queued_at >= every_days * DAY_S - _NIGHT_SLACK_S


def offsite_next_due(*, last_queued_at: float, every_days: int) -> float:
    """The first moment ``offsite_due`` says yes again after a copy queued at ``last_queued_at``."""
    return last_queued_at + every_days * DAY_S - _NIGHT_SLACK_S


def offsite_stale_after_s(every_days: int) -> int:
    """Age past which the newest delivered off-site copy is a problem: one interval, then the same
    two days' grace as the local alarm (so a weekly clinic is not flagged on day 6, nor on day 8)."""
    return every_days * DAY_S + STALE_AFTER_S


def read_facts(execute_sql: Callable[[str], Any], *, local_only: bool = False) -> LogFacts:
    """One SQL statement on the log (``execute_sql`` is a peewee database's); ``local_only`` for the
    home badge, which needs nothing about sticks or off-site copies."""
    row = execute_sql(_LOCAL_SQL if local_only else _ALL_SQL).fetchone()
    last_status, verified = row[0], row[1]
    facts = LogFacts(_unix(verified), last_status is not None and last_status != "ok")
    if local_only:
        return facts
    return LogFacts(facts.last_verified_at, facts.last_local_failed, _unix(row[2]), _unix(row[3]), bool(row[4]))


def _unix(moment: str | datetime | None) -> float | None:
    """The naive UTC text ``record_run`` writes → Unix seconds."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return aware_utc(moment).timestamp()
