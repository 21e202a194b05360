"""Restore: a verified copy replaces the live database; a damaged or foreign one never does."""

from __future__ import annotations

import gzip
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from appliance.backup.restore import RestoreRefused, restore
from appliance.cli import main

from .conftest import count, plain_database, rewrite_backup, sha256


@pytest.fixture
def changed_since_backup(cfg, backup_file, make_user):
    """After the backup, the clinic created one more account: the restore must bring back 5."""
    make_user("medecin", username="apres.sauvegarde")
    assert count(cfg.paths.database, "user") == 6
    return backup_file


def test_restore_puts_the_backup_in_place_and_keeps_the_old_database(cfg, changed_since_backup, store):
    store.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    before = sha256(cfg.paths.database)
    manifest, kept = restore(cfg, changed_since_backup)
    assert count(cfg.paths.database, "user") == 5
    assert kept.name.startswith("appliance.db.before-restore-")
    assert sha256(kept) == before and count(kept, "user") == 6
    assert manifest.tables["user"].rows == 5


def test_restore_folds_the_wal_of_the_old_database_into_the_kept_copy(cfg, changed_since_backup):
    _, kept = restore(cfg, changed_since_backup)  # the store fixture still has the WAL open
    assert count(kept, "user") == 6


def damage_flip_byte(data_file):
    raw = bytearray(data_file.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data_file.write_bytes(bytes(raw))


def damage_truncate(data_file):
    rewrite_backup(data_file, gz_bytes=data_file.read_bytes()[: data_file.stat().st_size // 2])


def damage_not_sqlite(data_file):
    rewrite_backup(data_file, database_bytes=b"PK\x03\x04 ceci est un classeur Excel" * 100)


def damage_inside_sqlite(data_file):
    database = bytearray(plain_database(data_file))
    page = 4096
    for offset in range(2 * page, len(database) - page, page):  # scramble b-tree pages past the schema
        database[offset + 8 : offset + 40] = b"\xff" * 32
    rewrite_backup(data_file, database_bytes=bytes(database))


def damage_manifest_count(data_file):
    manifest_file = data_file.with_name(data_file.name.replace(".db.gz", ".manifest.json"))
    manifest_file.write_text(manifest_file.read_text().replace('"rows": 5', '"rows": 7', 1))


@pytest.mark.parametrize(("damage", "message"), [
    (damage_flip_byte, "empreinte sha256"),
    (damage_truncate, "tronqué"),
    (damage_not_sqlite, "pas une base SQLite"),
    (damage_inside_sqlite, "intégrité"),
    (damage_manifest_count, "lignes attendues"),
])
def test_a_damaged_backup_is_refused_and_the_live_database_is_untouched(cfg, backup_file, store, damage, message):
    store.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    before = sha256(cfg.paths.database)
    damage(backup_file)
    with pytest.raises(RestoreRefused) as refused:
        restore(cfg, backup_file)
    assert message in str(refused.value)
    assert "n'a pas été modifiée" in str(refused.value)
    assert sha256(cfg.paths.database) == before
    assert sorted(path.name for path in cfg.paths.data_dir.iterdir() if "restore" in path.name) == []


def test_a_backup_of_another_site_needs_force_site(cfg, backup_file):
    rewrite_backup(backup_file, site_id="cscom-kati", site_name="CSCom de Kati")
    with pytest.raises(RestoreRefused, match=r"cscom-kati.*--force-site"):
        restore(cfg, backup_file)
    restore(cfg, backup_file, force_site=True)


def test_a_backup_from_a_newer_software_is_refused(cfg, backup_file):
    rewrite_backup(backup_file, schema_version=9999)
    with pytest.raises(RestoreRefused, match="plus récente"):
        restore(cfg, backup_file)


def test_a_backup_without_its_manifest_is_refused(cfg, backup_file):
    backup_file.with_name(backup_file.name.replace(".db.gz", ".manifest.json")).unlink()
    with pytest.raises(RestoreRefused, match="manifeste introuvable"):
        restore(cfg, backup_file)


def test_restore_refuses_while_another_process_uses_the_database(cfg, backup_file, store):
    store.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    before = sha256(cfg.paths.database)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); c.execute('select 1 from user').fetchall();"
        "print('ready', flush=True); time.sleep(30)"), str(cfg.paths.database)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(RestoreRefused, match=rf"Arrêtez d'abord les services.*{holder.pid}"):
            restore(cfg, backup_file)
    finally:
        holder.kill()
        holder.wait()
    assert sha256(cfg.paths.database) == before


def test_restore_command_says_what_it_did_or_why_not(cfg, backup_file):
    runner = CliRunner()
    result = runner.invoke(main, ["restore", "--config", str(cfg.source), str(backup_file)])
    assert result.exit_code == 0, result.output
    assert "vérifiée et restaurée" in result.output and "before-restore" in result.output
    raw = gzip.decompress(backup_file.read_bytes())
    backup_file.write_bytes(gzip.compress(raw[:-4096], mtime=int(time.time())))
    result = runner.invoke(main, ["restore", "--config", str(cfg.source), str(backup_file)])
    assert result.exit_code == 1
    assert "Copie refusée" in result.output and "endommagé" in result.output
