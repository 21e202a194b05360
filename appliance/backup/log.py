"""The backup log: one row per copy made, copied to a stick or sent off-site, for the admin page
and the telemetry. Written through its own short connection so backups work with or without the
web's database handle open in this process."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import peewee

from appliance.store.db import BaseModel
from appliance.store.models import utcnow


class BackupRun(BaseModel):
    started_at = peewee.DateTimeField(default=utcnow, index=True)
    finished_at = peewee.DateTimeField(null=True)
    reason = peewee.TextField()  # nightly, manual, pre-upgrade, export
    target = peewee.TextField()  # local, usb, offsite
    location = peewee.TextField()
    bytes = peewee.IntegerField(default=0)
    status = peewee.TextField()  # ok, failed, skipped
    message = peewee.TextField(default="")

    class Meta:
        table_name = "backup_run"
        indexes = ((("target", "status", "started_at"), False),)  # m0062: newest copy of each kind


@dataclass(frozen=True)
class RunRecord:
    started_at: str
    reason: str
    target: str
    location: str
    status: str
    message: str = ""
    bytes: int = 0


def record_run(database: Path, run: RunRecord) -> None:
    """Append one row; a database too old or too broken to take it must not fail the backup."""
    try:
        conn = sqlite3.connect(database, timeout=10, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(
                'INSERT INTO "backup_run" (started_at, finished_at, reason, target, location, bytes, status, message) '
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run.started_at, utcnow().isoformat(sep=" "), run.reason, run.target, run.location, run.bytes,
                 run.status, run.message),
            )
        finally:
            conn.close()
    except sqlite3.Error:
        pass
