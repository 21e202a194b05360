"""Backups on the box: to the data partition, then to a USB stick when one is plugged in.

``run_backup`` is what ``appliance backup`` and the upgrade call; ``run_nightly_backup`` is what
the agent's nightly job calls (it also prepares the off-site copy and queues it for the outbox).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from appliance.backup.log import RunRecord, record_run
from appliance.backup.manifest import Manifest, ManifestError, fsync_directory
from appliance.backup.snapshot import BackupError, file_sha256, make_snapshot, manifest_path_for, utc_stamp
from appliance.backup.usb import MountedUsbMedia, UsbMedia, drop_from_page_cache
from appliance.config import Config
from appliance.store.models import utcnow

REASONS = ("nightly", "manual", "pre-upgrade")


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
    for stick_folder in stick_folders:
        started_at = utcnow().isoformat(sep=" ")
        target = stick_folder / cfg.site.id
        try:
            copied = copy_to_stick(report.file, target)
            report.usb_copies.append(copied)
            report.removed += apply_retention(target, cfg.backup.keep_usb)
            record_run(cfg.paths.database, RunRecord(started_at, reason, "usb", str(copied), "ok", bytes=size))
        except (BackupError, OSError) as exc:
            message = f"copie sur la clé USB {stick_folder.parent} impossible : {exc}"
            report.problems.append(message)
            record_run(cfg.paths.database, RunRecord(started_at, reason, "usb", str(target), "failed", message))
    return report


def run_nightly_backup(cfg: Config, *, usb: UsbMedia | None = None) -> BackupReport:
    """The nightly job: local copy, stick, retention, then the off-site copy queued for the outbox."""
    from appliance.backup import offsite

    report = run_backup(cfg, reason="nightly", usb=usb, keep_uncompressed=offsite.enabled(cfg))
    if report.file is not None and offsite.enabled(cfg):
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
        fsync_directory(folder)
    return removed


def copy_to_stick(data_file: Path, target: Path) -> Path:
    """Copy a backup and its manifest to ``target``, then read the copy back from the stick."""
    target.mkdir(parents=True, exist_ok=True)
    manifest_file = manifest_path_for(data_file)
    manifest = Manifest.read(manifest_file)
    needed = data_file.stat().st_size + manifest_file.stat().st_size
    if shutil.disk_usage(target).free < needed:
        apply_retention(target, 1)  # make room: keep only the newest copy already there
        if shutil.disk_usage(target).free < needed:
            raise BackupError(f"clé pleine ({shutil.disk_usage(target).free // 2**20} Mo libres)")
    copied = target / data_file.name
    partial = target / (data_file.name + ".partial")
    with open(data_file, "rb") as source, open(partial, "wb") as out:
        shutil.copyfileobj(source, out, 1024 * 1024)
        out.flush()
        os.fsync(out.fileno())
    drop_from_page_cache(partial)
    if file_sha256(partial) != manifest.database.file_sha256:
        partial.unlink(missing_ok=True)
        raise BackupError("la copie relue sur la clé diffère de l'original (clé défectueuse ?)")
    os.replace(partial, copied)
    manifest.write(manifest_path_for(copied))
    return copied


def _remove_interrupted(folder: Path) -> None:
    """Files of a copy cut short by a power loss: never a usable backup, only wasted space."""
    for leftover in folder.glob("*.partial"):
        leftover.unlink(missing_ok=True)
    for data_file in folder.glob("*.db.gz"):
        if not manifest_path_for(data_file).exists():
            data_file.unlink(missing_ok=True)
    for plain in folder.glob("*.db"):
        plain.unlink(missing_ok=True)
