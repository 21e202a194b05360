"""Backups on the box: to the data partition, then to a USB stick when one is plugged in.

``run_backup`` is what ``appliance backup`` and the upgrade call; ``run_nightly_backup`` is what
the agent's nightly job calls (it also prepares the off-site copy and queues it for the outbox);
``copy_latest_to_stick`` is what the agent calls when a prepared stick is plugged in.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from appliance.backup.log import RunRecord, record_run
from appliance.backup.manifest import Manifest, ManifestError
from appliance.backup.snapshot import BackupError, file_sha256, make_snapshot, manifest_path_for, utc_stamp
from appliance.backup.stick_repository import copy_encrypted
from appliance.backup.usb import (
    FolderUsbMedia,
    MountedUsbMedia,
    UsbMedia,
    ensure_mounted,
    folder_identity,
    pulled_out,
    remove_left_behind,
    simulated_sticks_root,
    stick_lock,
)
from appliance.config import Config
from appliance.files import fsync_folder
from appliance.store.models import utcnow
from appliance.store.utc import naive_utc

REASONS = ("nightly", "manual", "pre-upgrade", "usb")  # usb: made because a stick was plugged in


@dataclass
class BackupReport:
    """What one run did, in French lines for the command line and the log."""

    file: Path | None = None
    manifest: Manifest | None = None
    usb_copies: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    offsite: str = ""

    @property
    def ok(self) -> bool:
        return self.file is not None and not self.problems


def backups_folder(cfg: Config) -> Path:
    return cfg.paths.data_dir / "backups"


def usb_media_for(cfg: Config) -> UsbMedia:
    if cfg.simulation:
        return FolderUsbMedia([], cfg.backup.usb_marker, root=simulated_sticks_root(cfg.paths.data_dir))
    return MountedUsbMedia(cfg.backup.usb_mount_roots, cfg.backup.usb_marker)


def run_backup(cfg: Config, *, reason: str = "manual", usb: UsbMedia | None = None,
               keep_uncompressed: bool = False) -> BackupReport:
    """Make a verified copy on the data partition, apply retention, copy it to any stick."""
    if reason not in REASONS:
        raise ValueError(f"reason must be one of {REASONS}")
    report = BackupReport()
    folder = backups_folder(cfg)
    started_at = utcnow().isoformat(sep=" ")
    _, stamp = utc_stamp()
    stem = f"{cfg.site.id}-{stamp}-{reason}"
    for number in range(2, 100):  # two backups within one second keep distinct names
        if not (folder / f"{stem}.manifest.json").exists():
            break
        stem = f"{cfg.site.id}-{stamp}-{reason}-{number}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _remove_interrupted(folder)
        report.manifest, report.file = make_snapshot(cfg, folder, stem, reason=reason,
                                                     keep_uncompressed=keep_uncompressed)
    except (BackupError, OSError) as exc:
        message = f"sauvegarde impossible : {exc}"
        report.problems.append(message)
        record_run(cfg.paths.database, RunRecord(started_at, reason, "local", str(folder), "failed", message))
        return report
    size = report.file.stat().st_size + manifest_path_for(report.file).stat().st_size
    record_run(cfg.paths.database, RunRecord(started_at, reason, "local", str(report.file), "ok", bytes=size))
    report.removed += apply_retention(folder, cfg.backup.keep_local)

    stick_folders = (usb or usb_media_for(cfg)).backup_folders()
    if not stick_folders and reason == "nightly":
        # Logged so the status page can say "no stick last night" instead of showing an old copy as news.
        record_run(cfg.paths.database, RunRecord(
            utcnow().isoformat(sep=" "), reason, "usb", "", "skipped",
            f"aucune clé USB de sauvegarde branchée (avec le dossier {cfg.backup.usb_marker})"))
    copy_to_sticks(cfg, report, stick_folders, reason)
    return report


def copy_to_sticks(cfg: Config, report: BackupReport, stick_folders: list[Path], reason: str) -> None:
    """Copy ``report.file`` onto each stick (verified, ``keep_usb`` applied), one ``backup_run`` row
    per stick; the nightly run and a stick just plugged in go through here alike. On a real box a
    stick folder is written only while its stick is mounted (simulated sticks are plain folders)."""
    size = report.file.stat().st_size + manifest_path_for(report.file).stat().st_size
    for stick_folder in stick_folders:
        started_at = utcnow().isoformat(sep=" ")
        target = stick_folder / cfg.site.id
        plugged = folder_identity(stick_folder)

        def still_mounted(stick_folder: Path = stick_folder) -> None:
            if not cfg.simulation:
                ensure_mounted(stick_folder)

        try:
            still_mounted()  # the stick gone before the copy: said plainly, not as a lock's "no such file"
            with stick_lock(stick_folder):
                copied = copy_to_stick(cfg, report.file, target, still_mounted)
                report.usb_copies.append(copied)
                report.removed += remove_plain_copies(target)
            record_run(cfg.paths.database, RunRecord(started_at, reason, "usb", str(copied), "ok", bytes=size))
        except (BackupError, ManifestError, OSError) as exc:
            # Whatever restic or the OS said, the cause a person must hear is that the stick went.
            gone = pulled_out(stick_folder, plugged)
            if gone:
                remove_left_behind(stick_folder, plugged)  # nothing of the copy stays on the SD card
            why = f"clé USB retirée pendant la copie ({exc})" if gone else exc
            message = f"copie sur la clé USB {stick_folder.parent} impossible : {why}"
            report.problems.append(message)
            record_run(cfg.paths.database, RunRecord(started_at, reason, "usb", str(target), "failed", message))


def copy_latest_to_stick(cfg: Config, stick_folder: Path) -> BackupReport:
    """A prepared stick was just plugged in: put a verified backup of today's records on it now.

    The newest backup is copied as it is when nothing was saved since it began; otherwise (staff
    recorded visits since last night), or when there is none, or it no longer matches its manifest,
    a new one is made first (reason ``usb``): whoever takes the stick away expects it to hold what
    was typed today.
    """
    report = BackupReport()
    newest = list_backups(backups_folder(cfg))[:1]
    if newest:
        manifest, data_file = newest[0]
        try:
            intact = file_sha256(data_file) == manifest.database.file_sha256
        except OSError:
            intact = False
        if intact and not records_saved_since(cfg.paths.database, manifest.created_at):
            report.file, report.manifest = data_file, manifest
            copy_to_sticks(cfg, report, [stick_folder], "usb")
            return report
        if not intact:
            report.problems.append(f"la dernière sauvegarde {data_file.name} ne correspond plus à son manifeste "
                                   "(carte SD abîmée ?) : nouvelle sauvegarde")
    made = run_backup(cfg, reason="usb", usb=FolderUsbMedia([stick_folder.parent], stick_folder.name))
    made.problems[:0] = report.problems
    return made


def records_saved_since(database: Path, created_at: str) -> bool:
    """Whether staff saved anything after a backup began: every user write has its audit row, dated."""
    since = naive_utc(dt.datetime.fromisoformat(created_at.replace("Z", "+00:00")))
    try:
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
        try:
            (last_write,) = conn.execute('SELECT max("at") FROM "audit_entry"').fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return True  # cannot tell: a fresh backup is the safe answer
    return last_write is not None and dt.datetime.fromisoformat(last_write) > since


def run_nightly_backup(cfg: Config, *, usb: UsbMedia | None = None, now: float | None = None) -> BackupReport:
    """The nightly job: local copy, stick, retention, then, on the nights it is due
    (``backup.offsite_every_days``), the off-site copy queued for the outbox."""
    from appliance.backup import offsite

    later = offsite.not_due_note(cfg, time.time() if now is None else now) if offsite.enabled(cfg) else None
    send = offsite.enabled(cfg) and later is None
    report = run_backup(cfg, reason="nightly", usb=usb, keep_uncompressed=send)
    if later is not None:
        report.offsite = later
    elif report.file is not None and send:
        plain = report.file.with_name(report.file.name[: -len(".gz")])
        try:
            report.offsite = offsite.prepare_and_queue(cfg, plain, report.manifest)
        except (BackupError, OSError) as exc:
            report.problems.append(f"copie hors site non préparée : {exc}")
        finally:
            plain.unlink(missing_ok=True)
    return report


def list_backups(folder: Path) -> list[tuple[Manifest, Path]]:
    """Complete backups in ``folder`` (their manifest exists and reads), newest first."""
    found = []
    for manifest_file in folder.glob("*.manifest.json") if folder.is_dir() else []:
        try:
            manifest = Manifest.read(manifest_file)
        except ManifestError:
            continue
        found.append((manifest, manifest_file.with_name(manifest.database.name)))
    found.sort(key=lambda item: (item[0].created_at, item[1].name), reverse=True)
    return found


def apply_retention(folder: Path, keep: int) -> list[Path]:
    """Keep the ``keep`` newest complete backups of ``folder``; remove the others (data file first)."""
    removed = []
    for _manifest, data_file in list_backups(folder)[keep:]:
        manifest_file = manifest_path_for(data_file)
        data_file.unlink(missing_ok=True)
        manifest_file.unlink(missing_ok=True)
        removed.append(data_file)
    if removed:
        fsync_folder(folder)
    return removed


def copy_to_stick(cfg: Config, data_file: Path, target: Path, still_mounted: Callable[[], None]) -> Path:
    """Copy a backup into the encrypted repository of ``target`` (the site's folder on the stick),
    read back from the stick and checked against its manifest (``stick_repository``).
    ``still_mounted`` raises before each write if the stick went; the stick's own folder is never
    re-created (no ``parents``): without it, nothing is written."""
    still_mounted()
    target.mkdir(exist_ok=True)
    _remove_interrupted(target)
    work = Path(tempfile.mkdtemp(prefix="stick-check-", dir=cfg.paths.data_dir))
    try:
        return copy_encrypted(cfg, data_file, target, work, still_mounted=still_mounted)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def remove_plain_copies(target: Path) -> list[Path]:
    """Copies in clear left by an older version, once the encrypted one is safely on the stick:
    they would let whoever finds the stick read every record."""
    removed = []
    for data_file in sorted(target.glob("*.db.gz")):
        data_file.unlink(missing_ok=True)
        manifest_path_for(data_file).unlink(missing_ok=True)
        removed.append(data_file)
    if removed:
        fsync_folder(target)
    return removed


def _remove_interrupted(folder: Path) -> None:
    """Files of a copy cut short by a power loss: never a usable backup, only wasted space."""
    for leftover in folder.glob("*.partial"):
        leftover.unlink(missing_ok=True)
    for data_file in folder.glob("*.db.gz"):
        if not manifest_path_for(data_file).exists():
            data_file.unlink(missing_ok=True)
    for plain in folder.glob("*.db"):
        plain.unlink(missing_ok=True)
