"""The agent's memory across power cuts, in SQLite (WAL, synchronous=FULL), one fact per row.

Only small facts live here (the time of the last upload window, the modem's last interface
counters, which budget alert was already sent): each is written in its own transaction, so a
power cut leaves either the old value or the new one. The scheduler's jobs are never persisted
(APScheduler's memory job store): they are rebuilt from the configuration at every start, and
the missed window is computed from ``last_window_at``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import peewee

from appliance.store.db import BaseModel, database

LAST_WINDOW_KEY = "uploads.last_window_at"


def naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def aware_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class AgentState(BaseModel):
    key = peewee.TextField(primary_key=True)
    value = peewee.TextField()  # JSON
    updated_at = peewee.DateTimeField()

    class Meta:
        table_name = "agent_state"


class UploadWindowLog(BaseModel):
    scheduled_at = peewee.DateTimeField(index=True)  # naive UTC
    started_at = peewee.DateTimeField()
    finished_at = peewee.DateTimeField(null=True)
    outcome = peewee.TextField()  # done, partial, failed, skipped
    detail = peewee.TextField()
    only_urgent = peewee.BooleanField()
    catch_up = peewee.BooleanField()
    battery_state = peewee.TextField()
    bytes_sent = peewee.IntegerField()
    bytes_received = peewee.IntegerField()

    class Meta:
        table_name = "upload_window"


class StateStore:
    def get(self, key: str, default: Any = None) -> Any:
        row = AgentState.get_or_none(AgentState.key == key)
        if row is None:
            return default
        try:
            return json.loads(row.value)
        except ValueError:
            return default

    def put(self, key: str, value: Any) -> None:
        with database.atomic():
            AgentState.replace(key=key, value=json.dumps(value, ensure_ascii=False, sort_keys=True),
                               updated_at=datetime.now(UTC).replace(tzinfo=None)).execute()

    def last_window_at(self) -> datetime | None:
        value = self.get(LAST_WINDOW_KEY)
        try:
            return aware_utc(datetime.fromisoformat(value)) if value else None
        except (TypeError, ValueError):
            return None

    def set_last_window_at(self, moment: datetime) -> None:
        self.put(LAST_WINDOW_KEY, aware_utc(moment).isoformat())


def recent_windows(limit: int = 20) -> list[UploadWindowLog]:
    """The last windows, newest first (the web's status page and the tests read this)."""
    return list(UploadWindowLog.select().order_by(UploadWindowLog.scheduled_at.desc(),
                                                  UploadWindowLog.id.desc()).limit(limit))
