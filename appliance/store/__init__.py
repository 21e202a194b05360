"""Storage: peewee models on SQLite (WAL), migrations and the audited write path."""

from __future__ import annotations

from pathlib import Path

import peewee

from appliance.store.db import StoreError, open_database
from appliance.store.migrations import migrate

__all__ = ["StoreError", "open_and_migrate"]


def open_and_migrate(path: Path) -> peewee.SqliteDatabase:
    """Open the database and bring its schema up to date, with a clear error if it cannot be."""
    db = open_database(path)
    try:
        migrate(db)
    except peewee.OperationalError as exc:
        raise StoreError(f"Mise à jour du schéma impossible ({exc}) : aucune donnée n'a été modifiée.") from exc
    return db
