"""Where the backups stand now, for the EMR's Backups page and its home badge.

Reads only what the backup code records (the ``backup_run`` log, the manifests of the copies
kept on the data partition, the outbox item of the off-site copy) and the sticks plugged in now.
It decides one thing itself: which of those facts need a person's attention. Texts for people
live in the EMR (translated); here each recorded message gets a cause code.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from appliance.backup import offsite
from appliance.backup.local import backups_folder, list_backups
from appliance.backup.log import BackupRun
from appliance.backup.snapshot import space_needed
from appliance.backup.summary import alarms, offsite_stale_after_s, read_facts
from appliance.backup.usb import UsbMedia
from appliance.config import Config
from appliance.outbox.models import ItemState, OutboxItem
from appliance.store.db import database
from appliance.store.utc import aware_utc

RECENT_RUNS = 10

# Recorded message fragment → cause, first match wins. The fragments are the backup code's own
# French messages and the OS/SQLite errors that end up inside them (English strerror).
_CAUSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("stick_removed", ("clé usb retirée",)),
    ("stick_full", ("clé pleine",)),
    ("disk_full", ("espace disque insuffisant", "errno 28", "no space left", "database or disk is full")),
    ("stick_bad", ("diffère de l'original",)),
    ("read_only", ("errno 30", "read-only file system")),
    ("permission", ("errno 13", "permission denied")),
    ("damaged", ("intégrité", "endommagée", "malformed", "not a database")),
    ("db_missing", ("base de données introuvable",)),
    ("no_key", ("clé de la sauvegarde hors site absente",)),
    ("wrong_key", ("refuse la clé",)),
    ("not_configured", ("non configurée",)),
    ("not_prepared", ("aucune copie préparée",)),
    ("busy", ("en cours de préparation", "en cours d'envoi")),
    ("link_down", ("injoignable",)),
    ("interrupted", ("envoi interrompu",)),
    ("restic_failed", ("restic n'a pas pu",)),
    ("io_error", ("errno 5", "input/output error", "errno 2", "no such file", "errno 19", "no such device")),
)


def cause_of(run: BackupRun) -> str:
    """A code naming why a run failed or was skipped (``other`` when the message is new to us)."""
    if run.status == "skipped" and run.target == "usb":
        return "no_stick"
    text = (run.message or "").lower()
    for cause, fragments in _CAUSES:
        if any(fragment in text for fragment in fragments):
            return "stick_removed" if cause == "io_error" and run.target == "usb" else cause
    return "other"


@dataclass(frozen=True)
class Run:
    """One row of the backup log, as the page shows it."""

    at: datetime  # UTC, aware: when it ended (or started, for a row without an end)
    reason: str
    target: str  # local, usb, offsite
    location: str
    bytes: int
    status: str  # ok, failed, skipped
    message: str
    cause: str  # see cause_of; "" when ok

    @classmethod
    def of(cls, row: BackupRun) -> Run:
        return cls(at=aware_utc(row.finished_at or row.started_at), reason=row.reason, target=row.target,
                   location=row.location, bytes=row.bytes, status=row.status, message=row.message,
                   cause="" if row.status == "ok" else cause_of(row))

    def stick_label(self, marker: str) -> str:
        """The stick's name as mounted (``/media/pi/KINGSTON/appliance-backups/…`` → ``KINGSTON``)."""
        parts = Path(self.location).parts
        return parts[parts.index(marker) - 1] if marker in parts[1:] else ""


@dataclass(frozen=True)
class KeptCopy:
    name: str
    created_at: datetime  # UTC, aware
    file_bytes: int
    reason: str


@dataclass(frozen=True)
class Stick:
    mount_point: Path
    ready: bool  # carries the marker folder: the next backup copies onto it


@dataclass(frozen=True)
class Problem:
    code: str  # never, stale, local_failed, no_copy_kept, low_space, usb_never, usb_absent, usb_failed,
    #            offsite_failed, offsite_blocked, offsite_stale
    severity: str  # "error" (no recent verified copy) or "warning"
    run: Run | None = None
    hours: int = 0


@dataclass(frozen=True)
class OffsiteState:
    enabled: bool
    last_ok: Run | None = None
    last_failure: Run | None = None  # only when more recent than the last success
    waiting_since: datetime | None = None  # the night's copy queued in the outbox (UTC, aware)
    blocked: str | None = None  # the outbox gave up on it (dead letter): its last message
    every_days: int = 1  # backup.offsite_every_days: how old a delivered copy may be before it is a problem


@dataclass(frozen=True)
class BackupStatus:
    now: datetime
    last_local: Run | None
    last_verified: Run | None
    kept: list[KeptCopy]
    free_bytes: int
    needed_bytes: int
    last_usb: Run | None
    last_usb_ok: Run | None
    sticks: list[Stick]
    offsite: OffsiteState
    recent: list[Run]
    problems: list[Problem] = field(default_factory=list)

    @property
    def alarm(self) -> bool:
        return any(problem.severity == "error" for problem in self.problems)


def collect(cfg: Config, sticks: UsbMedia, *, now: datetime | None = None) -> BackupStatus:
    now = now or datetime.now(UTC)
    last_local = _latest(BackupRun.target == "local")
    last_verified = _latest((BackupRun.target == "local") & (BackupRun.status == "ok"))
    folder = backups_folder(cfg)
    kept = [KeptCopy(path.name, _parse_manifest_time(manifest.created_at), manifest.database.file_bytes,
                     manifest.reason) for manifest, path in list_backups(folder)]
    free, needed = _space(cfg, folder)
    last_usb = _latest(BackupRun.target == "usb")
    last_usb_ok = last_usb if last_usb and last_usb.status == "ok" else _latest(
        (BackupRun.target == "usb") & (BackupRun.status == "ok"))
    plugged = [Stick(point, (point / cfg.backup.usb_marker).is_dir()) for point in sticks.plugged()]
    state = _offsite_state(cfg)
    recent = [Run.of(row) for row in BackupRun.select().order_by(BackupRun.started_at.desc(), BackupRun.id.desc())
              .limit(RECENT_RUNS)]
    status = BackupStatus(now, last_local, last_verified, kept, free, needed, last_usb, last_usb_ok, plugged,
                          state, recent)
    status.problems.extend(_problems(status))
    return status


def needs_attention(now: datetime | None = None) -> bool:
    """The home badge's question: is there no recent verified copy, or did the last one fail?
    One indexed read in plain SQL (the home page is opened all day; the ORM costs 30× more)."""
    facts = read_facts(database.execute_sql, local_only=True)
    return bool(alarms(last_verified_at=facts.last_verified_at, last_failed=facts.last_local_failed,
                       now=(now or datetime.now(UTC)).timestamp()))


def _problems(status: BackupStatus) -> list[Problem]:
    found = []
    verified, last = status.last_verified, status.last_local
    for code in alarms(last_verified_at=verified.at.timestamp() if verified else None,
                       last_failed=last is not None and last.status != "ok", now=status.now.timestamp()):
        if code == "stale":
            found.append(Problem(code, "error", verified,
                                 hours=int((status.now - verified.at).total_seconds() // 3600)))
        else:
            found.append(Problem(code, "error", last if code == "local_failed" else None))
    if verified is not None and not status.kept:
        found.append(Problem("no_copy_kept", "error"))
    if status.free_bytes < status.needed_bytes:
        found.append(Problem("low_space", "warning"))
    usb = status.last_usb
    if usb is None:
        found.append(Problem("usb_never", "warning"))
    elif usb.status == "skipped":
        found.append(Problem("usb_absent", "warning", usb))
    elif usb.status != "ok":
        found.append(Problem("usb_failed", "warning", usb))
    if status.offsite.blocked is not None:
        found.append(Problem("offsite_blocked", "warning"))
    elif status.offsite.last_failure is not None:
        found.append(Problem("offsite_failed", "warning", status.offsite.last_failure))
    last_sent = status.offsite.last_ok
    if last_sent is not None and (status.now - last_sent.at).total_seconds() > offsite_stale_after_s(
            status.offsite.every_days):
        found.append(Problem("offsite_stale", "warning", last_sent,
                             hours=int((status.now - last_sent.at).total_seconds() // 3600)))
    return found


def _offsite_state(cfg: Config) -> OffsiteState:
    if not offsite.enabled(cfg):
        return OffsiteState(enabled=False)
    last_ok = _latest((BackupRun.target == "offsite") & (BackupRun.status == "ok"))
    last = _latest(BackupRun.target == "offsite")
    waiting = (OutboxItem.select().where((OutboxItem.kind == offsite.KIND)
                                         & OutboxItem.state.in_([*ItemState.WAITING, ItemState.DEAD]))
               .order_by(OutboxItem.created_at.desc()).first())
    return OffsiteState(
        True, last_ok, last if last is not None and last.status != "ok" else None,
        waiting_since=(aware_utc(waiting.created_at)
                       if waiting is not None and waiting.state != ItemState.DEAD else None),
        blocked=(waiting.last_message or "") if waiting is not None and waiting.state == ItemState.DEAD else None,
        every_days=cfg.backup.offsite_every_days)


def _space(cfg: Config, folder: Path) -> tuple[int, int]:
    """Free bytes where the copies go, and what the next copy needs (the snapshot's own rule)."""
    try:
        return shutil.disk_usage(folder if folder.is_dir() else cfg.paths.data_dir).free, space_needed(
            cfg.paths.database)
    except OSError:
        return 0, 0


def _latest(condition) -> Run | None:
    row = (BackupRun.select().where(condition).order_by(BackupRun.started_at.desc(), BackupRun.id.desc()).first())
    return Run.of(row) if row is not None else None


def _parse_manifest_time(text: str) -> datetime:
    return aware_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
