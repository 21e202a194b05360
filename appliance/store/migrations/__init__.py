"""Schema migrations: one module per step, applied in order, each in its own transaction.

A module ``mNNNN_name.py`` defines ``VERSION``, ``DESCRIPTION`` and ``apply(db)``. Steps use
frozen SQL (or playhouse.migrate operations), never ``create_tables`` on live models: the
models keep changing, a step must not. Version ranges per area avoid collisions (see
docs/architecture.md).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import peewee


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[peewee.SqliteDatabase], None]


def discover() -> list[Migration]:
    """Every migration module of this package, sorted by version."""
    steps: list[Migration] = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("m"):
            continue
        module: ModuleType = importlib.import_module(f"{__name__}.{info.name}")
        steps.append(Migration(module.VERSION, module.DESCRIPTION, module.apply))
    steps.sort(key=lambda step: step.version)
    versions = [step.version for step in steps]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version: {versions}")
    return steps


def current_version(db: peewee.SqliteDatabase) -> int:
    if not db.table_exists("schema_version"):
        return 0
    return db.execute_sql("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]


def applied_versions(db: peewee.SqliteDatabase) -> set[int]:
    if not db.table_exists("schema_version"):
        return set()
    return {row[0] for row in db.execute_sql("SELECT version FROM schema_version")}


def migrate(db: peewee.SqliteDatabase, *, target: int | None = None) -> list[int]:
    """Apply every step the database has not had yet (up to ``target``); return those applied.

    Steps are matched by version, not by "above the highest": areas own version ranges, so a
    database that already has step 40 may still lack a later-written step 20.
    Each step and its schema_version row commit together, so a power cut mid-upgrade leaves the
    database as it was before that step, ready to try again.
    """
    applied: list[int] = []
    done = applied_versions(db)
    for step in discover():
        if step.version in done or (target is not None and step.version > target):
            continue
        with db.atomic():
            step.apply(db)
            db.execute_sql(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, datetime('now'))",
                (step.version, step.description),
            )
        applied.append(step.version)
    return applied


def latest_version() -> int:
    return max(step.version for step in discover())
