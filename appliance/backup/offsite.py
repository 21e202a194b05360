"""The encrypted off-site copy: restic, fed with the segmented dump, carried by the outbox.

Why restic (see docs/backup.md for the measurements): it encrypts (AES-256 + Poly1305) with a
key from provisioning, deduplicates content so each night sends only what changed, keeps every
night as a snapshot that can be restored alone, and checks its own repository; Debian ships it.
Fed with the SQLite file itself it would resend every page an index insert touched; fed with the
dump (``dump``), a normal day is a few small segments.

Every ``backup.offsite_every_days`` nights (weekly by default: the 3G bill), the nightly job
updates the dump folder and queues one outbox item (kind ``offsite_backup``, one pending at a
time: a newer one supersedes it); the other nights only the local and stick copies are made.
The sender runs when an upload window has the link up and sends the folder as it is then.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import peewee

from appliance.backup import sftp
from appliance.backup.canonical import database_digests, open_readonly
from appliance.backup.dump import derived_tables, rebuild, write_dump
from appliance.backup.log import RunRecord, record_run
from appliance.backup.manifest import Manifest, table_differences
from appliance.backup.restic import last_line, no_repository, wrong_key
from appliance.backup.restic import run as restic_run
from appliance.backup.snapshot import BackupError, check_integrity, compress, manifest_path_for, utc_stamp
from appliance.backup.summary import offsite_due, offsite_next_due
from appliance.config import Config
from appliance.outbox.models import OutboxItem
from appliance.outbox.outcome import Outcome, OutcomeKind
from appliance.outbox.queue import enqueue
from appliance.store.models import utcnow
from appliance.store.utc import aware_utc

KIND = "offsite_backup"
KEY_FILE_NAME = "offsite_backup_key"
RESTIC_TIMEOUT_S = 3 * 3600
_LINK_DOWN = ("connection refused", "no such host", "network is unreachable", "i/o timeout", "timeout",
              "connection reset", "temporary failure in name resolution")


def enabled(cfg: Config) -> bool:
    return bool(cfg.backup.offsite_repository)


def key_file(cfg: Config) -> Path:
    return cfg.backup.offsite_key_file or cfg.paths.secrets_dir / KEY_FILE_NAME


def offsite_folder(cfg: Config) -> Path:
    return cfg.paths.data_dir / "offsite"


def stage_folder(cfg: Config) -> Path:
    return offsite_folder(cfg) / "stage"


@contextmanager
def stage_lock(cfg: Config, *, wait_s: float) -> Iterator[bool]:
    """Yield True while holding the dump folder alone (the nightly update or a send), else False."""
    offsite_folder(cfg).mkdir(parents=True, exist_ok=True)
    with open(offsite_folder(cfg) / "stage.lock", "w") as handle:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.5)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def last_queued_at(cfg: Config) -> float | None:
    """When the newest off-site copy was queued (Unix seconds), whatever became of it since."""
    _ensure_store(cfg)
    newest = (OutboxItem.select(OutboxItem.created_at).where(OutboxItem.kind == KIND)
              .order_by(OutboxItem.created_at.desc()).first())
    return None if newest is None else aware_utc(newest.created_at).timestamp()


def next_nightly_run(cfg: Config, moment: float) -> datetime:
    """The first nightly job (``backup.nightly_at``, site time) at or after ``moment``: the night the
    copy really leaves, not the moment the rule starts saying yes."""
    hour, minute = cfg.backup.nightly_time()
    at = datetime.fromtimestamp(moment, cfg.uploads.zone())
    run = at.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return run if run >= at else run + timedelta(days=1)


def not_due_note(cfg: Config, now: float) -> str | None:
    """None when tonight's job must queue the off-site copy (the rule: ``summary.offsite_due``),
    else the report's line saying when the next one leaves."""
    every = cfg.backup.offsite_every_days
    try:
        last = last_queued_at(cfg)
    except (peewee.DatabaseError, OSError):
        return None  # cannot tell: a copy too many beats a week without one
    if last is None or offsite_due(last_queued_at=last, now=now, every_days=every):
        return None
    zone = cfg.uploads.zone()
    queued = datetime.fromtimestamp(last, zone).strftime("%d/%m/%Y")
    due = next_nightly_run(cfg, offsite_next_due(last_queued_at=last, every_days=every)).strftime("%d/%m/%Y")
    return (f"Copie hors site : une toutes les {every} nuits (dernière mise en file le {queued}) ; "
            f"la prochaine part la nuit du {due}.")


def prepare_and_queue(cfg: Config, plain_database: Path, manifest: Manifest) -> str:
    """Bring the dump folder up to date with tonight's verified copy and queue its sending."""
    with stage_lock(cfg, wait_s=600) as held:
        if not held:
            raise BackupError("copie hors site en cours d'envoi depuis plus de 10 minutes : dossier laissé tel quel")
        written = write_dump(plain_database, stage_folder(cfg), manifest)
    _ensure_store(cfg)
    enqueue(KIND, {"created_at": manifest.created_at, "segments_written": written},
            dedupe_key=f"{KIND}:{cfg.site.id}", ref=f"backup:{manifest.created_at}")
    return f"Copie hors site préparée ({written} segment(s) modifié(s)), en attente d'envoi."


def _ensure_store(cfg: Config) -> None:
    from appliance.store.db import database

    if database.obj is None:
        from appliance.store import open_and_migrate

        open_and_migrate(cfg.paths.database)


def restic(cfg: Config, *args: str, cwd: Path | None = None, timeout: float = RESTIC_TIMEOUT_S
           ) -> subprocess.CompletedProcess[str]:
    """Run restic on the configured repository with the provisioned key (never on the command line)."""
    limit = ["--limit-upload", str(cfg.backup.offsite_upload_limit_kib)] if cfg.backup.offsite_upload_limit_kib else []
    # sftp: ssh with the appliance's own key and the server's known host key (appliance/backup/sftp.py).
    try:
        ssh = sftp.restic_options(cfg.backup.offsite_repository, cfg.paths.secrets_dir, cfg.backup.offsite_host_key)
    except sftp.SftpError as exc:
        raise BackupError(str(exc)) from exc
    return restic_run(cfg.backup.restic_binary, cfg.backup.offsite_repository, key_file(cfg), *args,
                      options=(*limit, *ssh), cache_dir=offsite_folder(cfg) / "restic-cache", cwd=cwd,
                      timeout=timeout)


class OffsiteSender:
    """The outbox sender of kind ``offsite_backup`` (outbox contract: ``sender(item) -> Outcome``,
    never raising for a delivery failure)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    def __call__(self, item: OutboxItem) -> Outcome:
        started_at = utcnow().isoformat(sep=" ")
        outcome = self._send()
        record_run(self.cfg.paths.database, RunRecord(
            started_at, "nightly", "offsite", self.cfg.backup.offsite_repository,
            "ok" if outcome.delivered else "failed", outcome.message, outcome.bytes_sent))
        return outcome

    def _send(self) -> Outcome:
        cfg = self.cfg
        if not enabled(cfg):
            return Outcome(OutcomeKind.NEEDS_ACTION, "sauvegarde hors site non configurée (backup.offsite_repository)")
        if not key_file(cfg).is_file():
            return Outcome(OutcomeKind.NEEDS_ACTION, (
                f"clé de la sauvegarde hors site absente ({key_file(cfg)}) : elle vient du provisionnement"))
        if not (stage_folder(cfg) / "manifest.json").exists():
            return Outcome(OutcomeKind.NEEDS_ACTION, "aucune copie préparée : la sauvegarde de nuit n'a pas tourné")
        try:
            sftp.restic_options(cfg.backup.offsite_repository, cfg.paths.secrets_dir, cfg.backup.offsite_host_key)
        except sftp.SftpError as exc:
            return Outcome(OutcomeKind.NEEDS_ACTION, str(exc))
        try:
            with stage_lock(cfg, wait_s=60) as held:
                if not held:
                    return Outcome(OutcomeKind.RETRY_LATER, "copie hors site en cours de préparation")
                problem = self._ensure_repository()
                if problem is not None:
                    return Outcome(problem[0], problem[1], link_down=problem[2])
                done = restic(cfg, "backup", "--json", "--host", cfg.site.id, "--tag", "appliance", ".",
                              cwd=stage_folder(cfg))
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Outcome(OutcomeKind.RETRY_LATER, f"restic n'a pas pu tourner : {exc}")
        if done.returncode != 0:
            return self._failure(done)
        summary = _summary(done.stdout)
        added = int(summary.get("data_added", 0))
        return Outcome(OutcomeKind.DELIVERED,
                       f"sauvegarde hors site envoyée : {added // 1024} Ko nouveaux (instantané "
                       f"{str(summary.get('snapshot_id', '?'))[:8]})",
                       bytes_sent=added, detail={"restic": summary})

    def _ensure_repository(self) -> tuple[OutcomeKind, str, bool] | None:
        probe = restic(self.cfg, "cat", "config", timeout=600)
        if probe.returncode == 0:
            return None
        said = _with_ssh_words(self.cfg, probe.stderr)
        refusal = _ssh_refusal(said)
        if refusal:
            return (OutcomeKind.NEEDS_ACTION, refusal, False)
        if no_repository(probe.stderr):
            created = restic(self.cfg, "init", timeout=600)
            if created.returncode == 0:
                return None
            said = created.stderr
        if wrong_key(said):
            return (OutcomeKind.NEEDS_ACTION, "le dépôt de sauvegarde refuse la clé provisionnée", False)
        link_down = any(marker in said.lower() for marker in _LINK_DOWN)
        return (OutcomeKind.RETRY_LATER, f"dépôt de sauvegarde injoignable : {last_line(said)}", link_down)

    def _failure(self, done: subprocess.CompletedProcess[str]) -> Outcome:
        said = _with_ssh_words(self.cfg, done.stderr)
        refusal = _ssh_refusal(said)
        if refusal:
            return Outcome(OutcomeKind.NEEDS_ACTION, refusal)
        text = said.lower()
        if wrong_key(text):
            return Outcome(OutcomeKind.NEEDS_ACTION, "le dépôt de sauvegarde refuse la clé provisionnée")
        return Outcome(OutcomeKind.RETRY_LATER, f"envoi interrompu : {last_line(said)}",
                       link_down=any(marker in text for marker in _LINK_DOWN))


def _with_ssh_words(cfg: Config, stderr: str) -> str:
    if "unable to start the sftp session" not in stderr or _ssh_refusal(stderr):
        return stderr
    return stderr + "\n" + sftp.ssh_words(cfg.backup.offsite_repository, cfg.paths.secrets_dir,
                                           cfg.backup.offsite_host_key)


def _ssh_refusal(stderr: str) -> str | None:
    """What only a person can fix on an sftp repository, from ssh's own words (restic passes them on)."""
    text = stderr.lower()
    if "host key verification failed" in text:
        return ("le serveur de sauvegarde ne présente pas la clé d'hôte attendue (offsite_known_hosts) : "
                "vérifiez avec l'équipe centrale avant de la remplacer")
    if "permission denied (publickey" in text:
        return ("le serveur de sauvegarde refuse la clé SSH de l'appareil : ajoutez-la au serveur "
                "(« appliance backup offsite-ssh-key » affiche la ligne)")
    return None


def _summary(stdout: str) -> dict:
    for line in reversed(stdout.splitlines()):
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("message_type") == "summary":
            return message
    return {}


def outbox_senders(cfg: Config) -> dict:
    """For ``appliance.outbox.registry``: the off-site sender, when an off-site repository is set."""
    return {KIND: OffsiteSender(cfg)} if enabled(cfg) else {}


def fetch(cfg: Config, folder: Path, *, snapshot: str = "latest") -> Path:
    """Bring back a snapshot from the off-site repository as an ordinary backup in ``folder``
    (``.db.gz`` + manifest), rebuilt and verified, ready for ``appliance restore``."""
    work = offsite_folder(cfg) / "fetch"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        done = restic(cfg, "restore", snapshot, "--host", cfg.site.id, "--target", str(work))
        if done.returncode != 0:
            raise BackupError(f"restic n'a pas pu restaurer l'instantané {snapshot} : {last_line(done.stderr)}")
        stages = [path.parent for path in work.rglob("schema.json") if (path.parent / "manifest.json").exists()]
        if len(stages) != 1:
            raise BackupError("instantané sans copie reconnaissable (schema.json et manifest.json)")
        rebuilt = work / "appliance.db"
        manifest = rebuild(stages[0], rebuilt)
        check_integrity(rebuilt)
        derived = set(derived_tables(stages[0]))
        conn = open_readonly(rebuilt)
        try:
            found = database_digests(conn)
        finally:
            conn.close()
        differences = table_differences({name: d for name, d in manifest.tables.items() if name not in derived},
                                        {name: d for name, d in found.items() if name not in derived})
        if differences:
            raise BackupError("copie hors site différente de son manifeste : " + " ; ".join(differences))
        manifest = dataclasses.replace(manifest, tables=found)  # the rebuilt FTS indexes hash differently
        folder.mkdir(parents=True, exist_ok=True)
        _, stamp = utc_stamp()
        data_file = folder / f"{manifest.site_id}-{stamp}-offsite.db.gz"
        db_sha, gz_sha = compress(rebuilt, data_file, level=cfg.backup.gzip_level)
        database = type(manifest.database)(
            name=data_file.name, compression="gzip", file_bytes=data_file.stat().st_size, file_sha256=gz_sha,
            db_bytes=rebuilt.stat().st_size, db_sha256=db_sha)
        dataclasses.replace(manifest, database=database).write(manifest_path_for(data_file))
        return data_file
    finally:
        shutil.rmtree(work, ignore_errors=True)
