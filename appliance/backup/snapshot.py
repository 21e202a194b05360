"""A consistent copy of the live database while the clinic keeps working, and its verification.

The copy uses SQLite's online backup API from a connection that holds one read transaction for
the whole copy: in WAL mode the web and the agent go on writing (their commits are simply not
in this copy), the copy never restarts, and it is made in steps with a pause between them so the
SD card keeps serving the web on a large database.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import importlib.metadata
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from appliance.backup.canonical import database_digests, open_readonly
from appliance.backup.manifest import DatabaseFile, Manifest
from appliance.config import Config
from appliance.files import fsync_folder

CHUNK = 1024 * 1024
SQLITE_HEADER = b"SQLite format 3\x00"


class BackupError(RuntimeError):
    """A copy could not be made or cannot be trusted; the message is for a person."""


@dataclass(frozen=True)
class CopyPacing:
    pages_per_step: int = 1024
    pause_s: float = 0.02

    @classmethod
    def from_config(cls, cfg: Config) -> CopyPacing:
        return cls(cfg.backup.pages_per_step, cfg.backup.pause_ms / 1000)


def copy_live_database(source: Path, target: Path, pacing: CopyPacing = CopyPacing()) -> None:
    """Copy ``source`` (live, WAL) into the new single file ``target`` (rollback journal)."""
    if not source.exists():
        raise BackupError(f"base de données introuvable : {source}")
    target.unlink(missing_ok=True)
    reader = sqlite3.connect(source, isolation_level=None, timeout=30)
    writer = sqlite3.connect(target, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts here

        def pause(_status: int, remaining: int, _total: int) -> None:
            if remaining and pacing.pause_s:
                time.sleep(pacing.pause_s)

        reader.backup(writer, pages=pacing.pages_per_step, progress=pause)
        reader.execute("COMMIT")
        # The copy stands alone: one file, no -wal beside it, whatever the live journal mode.
        writer.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"copie de la base impossible : {exc}") from exc
    finally:
        writer.close()
        reader.close()


def check_integrity(path: Path) -> None:
    """Raise BackupError unless ``path`` is an SQLite database that passes integrity_check."""
    with open(path, "rb") as handle:
        if handle.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise BackupError("ce n'est pas une base SQLite")
    try:
        conn = open_readonly(path)
        try:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"contrôle d'intégrité SQLite impossible, base endommagée ({exc})") from exc
    if problems != ["ok"]:
        raise BackupError("contrôle d'intégrité SQLite en échec : " + " ; ".join(problems[:5]))


def schema_version_of(path: Path) -> int:
    conn = open_readonly(path)
    try:
        row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
        return int(row[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def appliance_version() -> str:
    try:
        return importlib.metadata.version("appliance")
    except importlib.metadata.PackageNotFoundError:
        return "inconnue"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def compress(source: Path, target: Path, *, level: int) -> tuple[str, str]:
    """gzip ``source`` into ``target`` (fsynced); return (sha256 of source, sha256 of target)."""
    source_digest, target_digest = hashlib.sha256(), hashlib.sha256()

    class HashingWriter:
        def __init__(self, handle) -> None:
            self.handle = handle

        def write(self, data: bytes) -> int:
            target_digest.update(data)
            return self.handle.write(data)

        def flush(self) -> None:
            self.handle.flush()

    with open(target, "wb") as raw, open(source, "rb") as src:
        writer = HashingWriter(raw)
        with gzip.GzipFile(filename="appliance.db", mode="wb", compresslevel=level, fileobj=writer, mtime=0) as gz:
            while chunk := src.read(CHUNK):
                source_digest.update(chunk)
                gz.write(chunk)
        raw.flush()
        os.fsync(raw.fileno())
    return source_digest.hexdigest(), target_digest.hexdigest()


def decompress(source: Path, target: Path) -> str:
    """gunzip ``source`` into ``target`` (fsynced); return the sha256 of what was written."""
    digest = hashlib.sha256()
    try:
        with gzip.open(source, "rb") as gz, open(target, "wb") as out:
            while chunk := gz.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except EOFError as exc:
        raise BackupError("fichier compressé tronqué (copie interrompue ?)") from exc
    except (gzip.BadGzipFile, OSError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, gzip.BadGzipFile) and exc.errno is not None:
            raise BackupError(f"lecture impossible : {exc.strerror}") from exc
        raise BackupError(f"fichier compressé endommagé ({exc})") from exc
    return digest.hexdigest()


def utc_stamp(now: dt.datetime | None = None) -> tuple[str, str]:
    """(ISO time for the manifest, compact stamp for file names)."""
    now = now or dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), now.strftime("%Y%m%d-%H%M%S")


def make_snapshot(cfg: Config, folder: Path, stem: str, *, reason: str, keep_uncompressed: bool = False
                  ) -> tuple[Manifest, Path]:
    """Copy, verify, hash and compress the live database into ``folder/stem.db.gz`` + manifest.

    Returns the manifest (already written beside the file) and the path of the compressed file.
    The manifest is written last: a copy without its manifest is an interrupted one, never used.
    With ``keep_uncompressed`` the verified plain copy is left as ``stem.db`` (the off-site dump
    reads it) and the caller removes it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    plain = folder / f"{stem}.db.partial"
    compressed = folder / f"{stem}.db.gz"
    partial_gz = folder / f"{stem}.db.gz.partial"
    created_at, _ = utc_stamp()
    _check_free_space(cfg.paths.database, folder)
    try:
        copy_live_database(cfg.paths.database, plain, CopyPacing.from_config(cfg))
        check_integrity(plain)
        conn = open_readonly(plain)
        try:
            tables = database_digests(conn)
        finally:
            conn.close()
        db_sha, gz_sha = compress(plain, partial_gz, level=cfg.backup.gzip_level)
        os.replace(partial_gz, compressed)
        manifest = Manifest(
            site_id=cfg.site.id, site_name=cfg.site.name, created_at=created_at, reason=reason,
            appliance_version=appliance_version(), schema_version=schema_version_of(plain),
            sqlite_version=sqlite3.sqlite_version,
            database=DatabaseFile(name=compressed.name, compression="gzip", file_bytes=compressed.stat().st_size,
                                  file_sha256=gz_sha, db_bytes=plain.stat().st_size, db_sha256=db_sha),
            tables=tables,
        )
        manifest.write(manifest_path_for(compressed))
        if keep_uncompressed:
            os.replace(plain, folder / f"{stem}.db")
        fsync_folder(folder)
        return manifest, compressed
    finally:
        plain.unlink(missing_ok=True)
        partial_gz.unlink(missing_ok=True)


def manifest_path_for(compressed: Path) -> Path:
    """``x.db.gz`` → ``x.manifest.json``."""
    name = compressed.name
    stem = name[: -len(".db.gz")] if name.endswith(".db.gz") else compressed.stem
    return compressed.with_name(f"{stem}.manifest.json")


def space_needed(database: Path) -> int:
    """Room a copy of ``database`` needs: the plain copy plus its compressed form, with a margin."""
    return int(database.stat().st_size * 1.6) + 1024 * 1024 if database.exists() else 0


def _check_free_space(database: Path, folder: Path) -> None:
    """Say so before starting when the folder has no room for the copy."""
    needed = space_needed(database)
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise BackupError(
            f"espace disque insuffisant dans {folder} : {free // 2**20} Mo libres, "
            f"{needed // 2**20} Mo nécessaires pour la copie"
        )
