"""Putting a copy back: restore a backup, or install a database exported from another host.

The live database is never touched before the new one is proven good: the copy is unpacked
into a temporary file next to it (same filesystem), its file hash, SQLite integrity and every
table's count and content hash are checked against its manifest, then the old database is kept
as ``appliance.db.before-restore-<time>`` and the new one takes its place with one atomic rename.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from appliance.backup import stick_repository
from appliance.backup.canonical import database_digests, open_readonly
from appliance.backup.manifest import Manifest, ManifestError, table_differences
from appliance.backup.snapshot import (
    BackupError,
    check_integrity,
    decompress,
    file_sha256,
    manifest_path_for,
    schema_version_of,
    utc_stamp,
)
from appliance.config import Config
from appliance.files import fsync_folder


class RestoreRefused(RuntimeError):
    """The copy is damaged, foreign, too new, or the services still run; nothing was changed."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message if not problems else message + "\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems or []


@dataclass(frozen=True)
class VerifiedCopy:
    path: Path  # the unpacked database, next to the live one, not yet in place
    manifest: Manifest


def locate(path: Path) -> tuple[Path, Path]:
    """(data file, manifest) from either of them, or from an export folder."""
    if path.is_dir():
        return path / "appliance.db.gz", path / "appliance.manifest.json"
    name = path.name
    if name.endswith(".manifest.json"):
        stem = name[: -len(".manifest.json")]
        return path.with_name(stem + ".db.gz"), path
    if name.endswith(".db.gz"):
        return path, path.with_name(name[: -len(".db.gz")] + ".manifest.json")
    raise RestoreRefused(f"{path} : ni une sauvegarde (.db.gz), ni un manifeste (.manifest.json), ni un dossier")


def verify_copy(cfg: Config, data_file: Path, manifest_file: Path, *, force_site: bool = False) -> VerifiedCopy:
    """Check everything that can be checked and leave the proven database next to the live one."""
    try:
        manifest = Manifest.read(manifest_file)
    except ManifestError as exc:
        raise RestoreRefused(f"Copie refusée : {exc}.") from exc
    if not data_file.exists():
        raise RestoreRefused(f"Copie refusée : fichier de données introuvable ({data_file}).")
    if manifest.site_id != cfg.site.id and not force_site:
        raise RestoreRefused(
            f"Copie refusée : elle vient du site « {manifest.site_id} » ({manifest.site_name}), "
            f"cet appareil est « {cfg.site.id} ». Si c'est voulu (changement de matériel), "
            "relancez avec --force-site."
        )
    from appliance.store.migrations import latest_version

    if manifest.schema_version > latest_version():
        raise RestoreRefused(
            f"Copie refusée : faite par une version plus récente du logiciel (schéma {manifest.schema_version}, "
            f"ce logiciel connaît {latest_version()}). Mettez d'abord le logiciel à jour."
        )
    if manifest.database.compression != "gzip":
        raise RestoreRefused(f"Copie refusée : compression « {manifest.database.compression} » inconnue.")
    live = cfg.paths.database
    live.parent.mkdir(parents=True, exist_ok=True)
    _, stamp = utc_stamp()
    unpacked = live.with_name(f"{live.name}.restore-{stamp}")
    try:
        problems = _differences(data_file, unpacked, manifest)
    except BaseException:
        unpacked.unlink(missing_ok=True)
        raise
    if problems:
        unpacked.unlink(missing_ok=True)
        raise RestoreRefused("Copie refusée, la base actuelle n'a pas été modifiée :", problems)
    return VerifiedCopy(unpacked, manifest)


def _differences(data_file: Path, unpacked: Path, manifest: Manifest) -> list[str]:
    """Every way the copy differs from its manifest, as French lines (empty: the copy is intact)."""
    problems = []
    found_sha = file_sha256(data_file)
    if found_sha != manifest.database.file_sha256:
        problems.append(f"fichier {data_file.name} modifié ou endommagé : empreinte sha256 {found_sha[:16]}…, "
                        f"attendue {manifest.database.file_sha256[:16]}…")
    try:
        db_sha = decompress(data_file, unpacked)
    except BackupError as exc:
        return [*problems, str(exc)]
    if db_sha != manifest.database.db_sha256:
        problems.append(f"base décompressée différente : empreinte {db_sha[:16]}…, "
                        f"attendue {manifest.database.db_sha256[:16]}…")
    try:
        check_integrity(unpacked)
    except BackupError as exc:
        return [*problems, str(exc)]
    try:
        problems += compare_with_manifest(unpacked, manifest)
        found_version = schema_version_of(unpacked)
    except sqlite3.DatabaseError as exc:
        return [*problems, f"base illisible ({exc})"]
    if found_version != manifest.schema_version:
        problems.append(f"version de schéma {found_version}, attendue {manifest.schema_version}")
    return problems


def compare_with_manifest(database: Path, manifest: Manifest) -> list[str]:
    conn = open_readonly(database)
    try:
        return table_differences(manifest.tables, database_digests(conn))
    finally:
        conn.close()


def processes_using(database: Path) -> list[str]:
    """Other processes that have the database (or its -wal/-shm) open, as « 1234 (appliance web) »."""
    wanted = {str(database.resolve()) + suffix for suffix in ("", "-wal", "-shm")}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            targets = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
            if targets & wanted:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                found.append(f"{entry.name} ({command[:60]})")
        except OSError:  # gone meanwhile, or not ours to inspect
            continue
    return found


def install(cfg: Config, copy: VerifiedCopy, *, label: str = "before-restore") -> Path | None:
    """Put the verified copy in place; return where the previous database was kept (None if none).

    Refuses while another process has the database open: the web or the agent would go on
    writing into the old file and their writes would be lost.
    """
    live = cfg.paths.database
    users = processes_using(live)
    if users:
        copy.path.unlink(missing_ok=True)
        raise RestoreRefused(
            "Arrêtez d'abord les services qui utilisent la base (systemctl stop appliance-web "
            f"appliance-agent) : {', '.join(users)}. La base actuelle n'a pas été modifiée."
        )
    kept = None
    if live.exists():
        _fold_wal_into(live)
        _, stamp = utc_stamp()
        kept = live.with_name(f"{live.name}.{label}-{stamp}")
        os.link(live, kept)  # the old file stays reachable under its new name at every instant
        for suffix in ("-wal", "-shm"):
            side = live.with_name(live.name + suffix)
            if side.exists():
                if suffix == "-wal" and side.stat().st_size:
                    os.link(side, kept.with_name(kept.name + suffix))
                side.unlink()
    os.replace(copy.path, live)
    fsync_folder(live.parent)
    return kept


def _fold_wal_into(database: Path) -> None:
    """Checkpoint the live database so its file alone holds every committed write (best effort:
    a damaged database is being replaced, and its -wal is kept beside it anyway)."""
    try:
        conn = sqlite3.connect(database, timeout=5, isolation_level=None)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
    except sqlite3.Error:
        pass


def restore(cfg: Config, path: Path, *, force_site: bool = False, label: str = "before-restore",
            key_file: Path | None = None, snapshot: str = "latest") -> tuple[Manifest, Path | None]:
    """Verify ``path`` (backup file, its manifest, an export folder, or a USB stick's encrypted
    repository with ``key_file``, the box's own stick key by default) and put it in place."""
    users = processes_using(cfg.paths.database)
    if users:  # say it before the long verification, then again right before the swap
        raise RestoreRefused(
            "Arrêtez d'abord les services qui utilisent la base (systemctl stop appliance-web "
            f"appliance-agent) : {', '.join(users)}. La base actuelle n'a pas été modifiée."
        )
    repository = stick_repository.repository_in(path) if path.is_dir() else None
    if repository is None:
        data_file, manifest_file = locate(path)
        copy = verify_copy(cfg, data_file, manifest_file, force_site=force_site)
        return copy.manifest, install(cfg, copy, label=label)
    key = key_file or stick_repository.key_file(cfg)
    cfg.paths.database.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="stick-restore-", dir=cfg.paths.database.parent))
    try:
        try:
            data_file = stick_repository.fetch(cfg, repository, key, work, snapshot=snapshot)
        except BackupError as exc:
            raise RestoreRefused(f"Copie refusée, la base actuelle n'a pas été modifiée. {exc}") from exc
        copy = verify_copy(cfg, data_file, manifest_path_for(data_file), force_site=force_site)
        kept = install(cfg, copy, label=label)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if key_file is not None:
        stick_repository.add_own_key(cfg, repository, key_file)
    return copy.manifest, kept
