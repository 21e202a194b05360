import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import peewee
import pytest

from appliance.store import StoreError, open_and_migrate
from appliance.store.audit import audited_save, audited_void, system_actor
from appliance.store.db import BaseModel, open_database
from appliance.store.migrations import current_version, discover, latest_version, migrate
from appliance.store.models import AuditEntry, User, VoidableModel


def test_clinical_data_settings(store):
    pragma = lambda name: store.execute_sql(f"PRAGMA {name}").fetchone()[0]  # noqa: E731
    assert pragma("journal_mode") == "wal"
    assert pragma("synchronous") == 2  # FULL: committed data survives a power cut
    assert pragma("foreign_keys") == 1
    assert pragma("busy_timeout") >= 1000


def _all_models() -> list[type[BaseModel]]:
    import importlib
    import pkgutil

    import appliance

    for info in pkgutil.walk_packages(appliance.__path__, "appliance."):
        if info.name.endswith(".models") or info.name == "appliance.store.device":  # the agent's tables
            importlib.import_module(info.name)
    found, stack = [], [BaseModel]
    while stack:  # leaves only: a model with subclasses (VoidableModel, Visit) is an abstract base
        for sub in stack.pop().__subclasses__():
            stack.append(sub)
            if not sub.__subclasses__() and not sub.__name__.startswith("_"):
                found.append(sub)
    return found


def _columns(db, table: str) -> set[str]:
    return {row[1] for row in db.execute_sql(f'PRAGMA table_info("{table}")').fetchall()}


def test_migrations_build_exactly_what_the_models_declare(store):
    for model in _all_models():
        table = model._meta.table_name
        assert store.table_exists(table), f"no migration creates {table}"
        assert _columns(store, table) == set(model._meta.columns), f"{table} differs from its model"


@pytest.mark.parametrize("start", [step.version for step in discover()][:-1] or [None])
def test_a_database_from_every_earlier_version_upgrades(tmp_path, start):
    if start is None:
        pytest.skip("only one schema version so far")
    old = tmp_path / "old.db"
    db = open_database(old)
    migrate(db, target=start)
    assert current_version(db) == start
    applied = migrate(db)
    assert applied and current_version(db) == latest_version()
    fresh = open_database(tmp_path / "fresh.db")
    migrate(fresh)
    schema = "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
    assert db.execute_sql(schema).fetchall() == fresh.execute_sql(schema).fetchall()


def test_migrating_twice_changes_nothing(store):
    assert migrate(store) == []


def test_a_step_written_later_in_a_lower_range_is_still_applied(tmp_path):
    """Areas own version ranges: a database already at step 61 may lack a newer step 20."""
    late = [step for step in discover() if 20 <= step.version < 30]
    if not late or late[-1].version == latest_version():
        pytest.skip("needs a step in the 20-29 range below the highest one")
    db = open_database(tmp_path / "older.db")
    for step in discover():  # a database made before the follow-up steps were written
        if step not in late:
            with db.atomic():
                step.apply(db)
                db.execute_sql("INSERT INTO schema_version (version, description, applied_at) "
                               "VALUES (?, ?, '2026-01-01')", (step.version, step.description))
    assert migrate(db) == [step.version for step in late]
    assert migrate(db) == []


def test_audited_save_records_who_and_what_changed(store):
    actor = system_actor("tests")
    user = User(username="fatou", first_name="Fatou", last_name="Diarra", role="sage_femme", password_hash="h")
    audited_save(actor, user)
    user.phone = "76 12 34 56"
    audited_save(actor, user)
    entries = list(AuditEntry.select().where(AuditEntry.table_name == "user").order_by(AuditEntry.id))
    assert [entry.action for entry in entries] == ["create", "update"]
    assert json.loads(entries[1].before) == {"phone": ""}
    assert json.loads(entries[1].after) == {"phone": "76 12 34 56"}
    assert json.loads(entries[0].after)["password_hash"] == "***"
    assert entries[1].username == "tests" and entries[1].role == "system"


def test_a_failed_write_leaves_neither_row_nor_audit(store):
    actor = system_actor("tests")
    audited_save(actor, User(username="a", first_name="A", last_name="B", role="admin", password_hash="h"))
    before = AuditEntry.select().count()
    with pytest.raises(peewee.IntegrityError):
        audited_save(actor, User(username="a", first_name="A", last_name="B", role="admin", password_hash="h"))
    assert AuditEntry.select().count() == before and User.select().count() == 1


class _Note(VoidableModel):
    text = peewee.TextField()


def test_void_keeps_the_record_with_its_reason(store):
    store.create_tables([_Note])
    note = audited_save(system_actor("t"), _Note(text="x"))
    with pytest.raises(ValueError, match="motif"):
        audited_void(system_actor("t"), note, "  ")
    audited_void(system_actor("t"), note, "saisie en double")
    kept = _Note.get_by_id(note.id)
    assert kept.voided and kept.void_reason == "saisie en double" and kept.voided_by == "t"
    assert AuditEntry.select().where(AuditEntry.action == "update", AuditEntry.reason == "saisie en double").exists()


def test_a_damaged_file_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "appliance.db"
    path.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    with pytest.raises(StoreError, match=r"endommagée|illisible"):
        open_and_migrate(path)
    not_a_db = tmp_path / "notes.db"
    not_a_db.write_text("bonjour")
    with pytest.raises(StoreError, match="restaurez la dernière sauvegarde"):
        open_and_migrate(not_a_db)
    assert not_a_db.read_text() == "bonjour"  # nothing overwritten


def test_a_read_only_file_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "appliance.db"
    open_and_migrate(path).close()
    monkeypatch.setattr("appliance.store.db._writable", lambda _path: False)
    with pytest.raises(StoreError, match="lecture seule"):
        open_and_migrate(path)


WRITER = textwrap.dedent("""
    import sys
    from appliance.store import open_and_migrate
    from appliance.store.audit import audited_save, system_actor
    from appliance.store.models import User
    open_and_migrate(sys.argv[1])
    actor = system_actor("writer")
    n = 0
    while True:
        n += 1
        audited_save(actor, User(username=f"u{n}", first_name="A", last_name="B", role="infirmier",
                                 password_hash="h"))
        print(n, flush=True)  # acknowledged only after the commit returned
""")


@pytest.mark.slow
def test_kill_9_mid_write_loses_no_acknowledged_write(tmp_path):
    """A child writes and acknowledges; we SIGKILL it at random moments and check every ack."""
    import random
    import time

    path = tmp_path / "appliance.db"
    rng = random.Random(7)
    acknowledged = 0
    for _round in range(8):
        open_and_migrate(path).close()  # the schema exists before the child may be killed
        child = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        time.sleep(0.3 + rng.random() * 0.5)
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate()
        numbers = [int(line) for line in out.split()]
        if numbers:
            acknowledged = max(acknowledged, numbers[-1])
        check = sqlite3.connect(path)
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        names = {row[0] for row in check.execute("SELECT username FROM user")}
        check.close()
        # each round restarts numbering at the rows already present + 1 is not needed: u1..uN
        assert all(f"u{n}" in names for n in range(1, (numbers[-1] if numbers else 0) + 1))
        path.unlink()
        for suffix in ("-wal", "-shm"):
            (tmp_path / f"appliance.db{suffix}").unlink(missing_ok=True)
    assert acknowledged > 0
