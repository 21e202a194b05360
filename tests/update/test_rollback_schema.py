"""A rollback never loses a record: migrations written from the first field update on only add, and
an older version runs on a database that a newer one migrated."""

from __future__ import annotations

import re
from pathlib import Path

from appliance.store import migrations, open_and_migrate

# Every step from this version on shipped after updates existed: a rolled-back version must still
# read and write the database it leaves behind.
ADDITIVE_FROM = 92
DESTRUCTIVE = re.compile(r"\b(DROP\s+TABLE|DROP\s+COLUMN|RENAME\s+(TO|COLUMN))\b", re.IGNORECASE)


def test_migrations_since_updates_only_add():
    folder = Path(migrations.__file__).parent
    offending = []
    for step in migrations.discover():
        if step.version < ADDITIVE_FROM:
            continue
        source = next(folder.glob(f"m{step.version:04d}_*.py")).read_text(encoding="utf-8")
        offending += [f"m{step.version:04d}: {match[0]}" for match in DESTRUCTIVE.finditer(source)]
    assert not offending, "a rollback would break on: " + ", ".join(offending)


def test_the_additive_rule_catches_a_drop():
    assert DESTRUCTIVE.search('ALTER TABLE "visit" DROP COLUMN "weight"')
    assert DESTRUCTIVE.search('ALTER TABLE visit RENAME TO old_visit')
    assert not DESTRUCTIVE.search('ALTER TABLE visit ADD COLUMN "note" TEXT NOT NULL DEFAULT \'\'')


def test_an_older_version_opens_a_database_a_newer_one_migrated(cfg):
    db = open_and_migrate(cfg.paths.database)
    later = migrations.discover()[-1].version + 1  # a step the next version adds
    db.execute_sql("CREATE TABLE later_feature (id INTEGER PRIMARY KEY, note TEXT)")
    db.execute_sql("INSERT INTO schema_version (version, description, applied_at) "
                   "VALUES (?, 'later feature', datetime('now'))", (later,))
    db.execute_sql("INSERT INTO later_feature (note) VALUES ('écrit pendant l''essai')")
    db.close()
    again = open_and_migrate(cfg.paths.database)  # this (older) code starts on it after a rollback
    assert migrations.current_version(again) == later
    assert again.execute_sql("SELECT note FROM later_feature").fetchone()[0] == "écrit pendant l'essai"
    again.close()
