"""Opening the SQLite database with the settings that keep clinical data safe.

WAL lets the web and the agent read while one writes; ``synchronous=FULL`` makes every
committed transaction survive a power cut (with WAL, NORMAL may lose the last commits).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import peewee

database = peewee.DatabaseProxy()

BUSY_TIMEOUT_MS = 5000

PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": 2,  # FULL
    "foreign_keys": 1,
    "busy_timeout": BUSY_TIMEOUT_MS,
    "cache_size": -2000,  # 2 MB page cache per connection (one per web thread): the Pi has 512 MB
    "temp_store": 2,  # MEMORY: keeps /tmp writes off the SD card
    "wal_autocheckpoint": 1000,
}


class StoreError(RuntimeError):
    """The database cannot be used; the message is meant for a person."""


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


def open_database(path: Path, *, readonly: bool = False) -> peewee.SqliteDatabase:
    """Open (creating if needed) the database at ``path`` and bind every model to it.

    Raises StoreError with a clear French message when the file is damaged, not a database,
    or cannot be written, so that start-up stops instead of serving a broken record.
    """
    path = Path(path)
    if not readonly:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"Impossible de créer le dossier de données {path.parent} : {exc.strerror}") from exc
        if path.exists() and not _writable(path):
            raise StoreError(
                f"La base de données {path} est en lecture seule : vérifiez les droits du fichier "
                "(l'utilisateur du service doit pouvoir écrire)."
            )
    pragmas = dict(PRAGMAS)
    if readonly:
        pragmas.pop("journal_mode")
    db = peewee.SqliteDatabase(
        f"file:{path}?mode=ro" if readonly else str(path),
        pragmas=pragmas,
        uri=readonly,
        check_same_thread=False,
        timeout=BUSY_TIMEOUT_MS / 1000,
    )
    try:
        db.connect(reuse_if_open=True)
        result = db.execute_sql("PRAGMA quick_check").fetchone()[0]
    except (peewee.DatabaseError, sqlite3.DatabaseError) as exc:
        db.close()
        raise StoreError(
            f"La base de données {path} est illisible ou endommagée ({exc}). "
            "Ne la supprimez pas : restaurez la dernière sauvegarde avec « appliance restore »."
        ) from exc
    if result != "ok":
        db.close()
        raise StoreError(
            f"La base de données {path} est endommagée (contrôle d'intégrité : {result}). "
            "Restaurez la dernière sauvegarde avec « appliance restore »."
        )
    if not readonly:
        share_with_group(path)
    database.initialize(db)
    return db


def share_with_group(path: Path) -> None:
    """Let the service group write the database: the web and the agent run as two users of one group.

    SQLite creates the file 0644 less the umask, and gives its -wal and -shm files the database
    file's mode: group write on the database is all both processes need (the data folder is
    setgid to the group, ansible/roles/base). Only the file's owner may change its mode.
    """
    import os

    info = path.stat()
    if info.st_uid == os.geteuid() and info.st_mode & 0o060 != 0o060:
        path.chmod((info.st_mode & 0o7777) | 0o060)


def _writable(path: Path) -> bool:
    import os

    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def checkpoint() -> None:
    """Fold the WAL into the main file: before a shutdown or a backup."""
    database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
