"""The off-site copy: restic on a local repository (works offline), fed through the outbox."""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from appliance import config as config_module
from appliance.backup import offsite
from appliance.backup.canonical import database_digests
from appliance.backup.local import run_nightly_backup
from appliance.backup.restore import restore
from appliance.backup.summary import DAY_S
from appliance.outbox import Outbox
from appliance.outbox.models import ItemState, OutboxItem
from appliance.outbox.outcome import OutcomeKind

from .conftest import NO_STICK

pytestmark = pytest.mark.skipif(shutil.which("restic") is None, reason="restic (Debian package) is required")


@pytest.fixture
def offsite_cfg(cfg, live, tmp_path):
    repository = tmp_path / "depot-distant"
    key = cfg.paths.secrets_dir / offsite.KEY_FILE_NAME
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_text("clé-de-provisionnement-de-test\n")
    return dataclasses.replace(cfg, backup=dataclasses.replace(cfg.backup, offsite_repository=str(repository),
                                                               offsite_every_days=1))  # these tests: nightly


def repository_bytes(cfg) -> int:
    return sum(path.stat().st_size for path in Path(cfg.backup.offsite_repository).rglob("*") if path.is_file())


def pending_item() -> OutboxItem:
    return OutboxItem.get((OutboxItem.kind == offsite.KIND) & (OutboxItem.state == ItemState.PENDING))


def test_nightly_queues_one_item_and_the_sender_ships_an_encrypted_incremental_copy(offsite_cfg, make_user):
    first = run_nightly_backup(offsite_cfg, usb=NO_STICK)
    assert first.ok, first.problems
    assert "en attente d'envoi" in first.offsite
    assert not list((offsite_cfg.paths.data_dir / "backups").glob("*.db"))  # the plain copy is gone
    outcome = offsite.OffsiteSender(offsite_cfg)(pending_item())
    assert outcome.kind == OutcomeKind.DELIVERED, outcome.message
    initial = repository_bytes(offsite_cfg)
    stored = b"".join(p.read_bytes() for p in Path(offsite_cfg.backup.offsite_repository).rglob("*") if p.is_file())
    assert b"\x1f\x8b\x08\x00\x00\x00\x00\x00" not in stored  # our gzipped segments are not there in clear

    make_user("medecin", username="nouvelle.medecin")
    second = run_nightly_backup(offsite_cfg, usb=NO_STICK, now=time.time() + DAY_S)  # the next night
    assert "segment(s) modifié(s)" in second.offsite
    outcome = offsite.OffsiteSender(offsite_cfg)(pending_item())
    assert outcome.kind == OutcomeKind.DELIVERED, outcome.message
    assert repository_bytes(offsite_cfg) - initial < initial  # only what changed

    runs = sqlite3.connect(offsite_cfg.paths.database).execute(
        "SELECT status FROM backup_run WHERE target = 'offsite'").fetchall()
    assert runs == [("ok",), ("ok",)]


def test_a_newer_night_supersedes_the_unsent_one(offsite_cfg):
    run_nightly_backup(offsite_cfg, usb=NO_STICK)
    run_nightly_backup(offsite_cfg, usb=NO_STICK, now=time.time() + DAY_S)  # the next night
    states = [item.state for item in OutboxItem.select().where(OutboxItem.kind == offsite.KIND)]
    assert sorted(states) == [ItemState.PENDING, ItemState.SUPERSEDED]


def test_the_outbox_flush_delivers_it_with_the_registered_sender(offsite_cfg):
    run_nightly_backup(offsite_cfg, usb=NO_STICK)
    Outbox(offsite_cfg.outbox, senders=offsite.outbox_senders(offsite_cfg)).flush(deadline_s=300)
    assert OutboxItem.get(OutboxItem.kind == offsite.KIND).state == ItemState.DELIVERED


def test_the_offsite_copy_comes_back_identical_on_a_new_host(offsite_cfg, store, make_user, tmp_path):
    from appliance.demo import seed_demo

    seed_demo(store, 40, 5)
    make_user("matrone", username="kadia", phone="+22365000000")
    report = run_nightly_backup(offsite_cfg, usb=NO_STICK)
    assert offsite.OffsiteSender(offsite_cfg)(pending_item()).delivered
    host = tmp_path / "hote-neuf"
    host.mkdir()
    (host / "appliance.toml").write_text(config_module.dev_config_text(host))
    new_cfg = dataclasses.replace(config_module.load(host / "appliance.toml"), backup=offsite_cfg.backup)
    new_cfg.paths.secrets_dir.mkdir(parents=True)
    shutil.copy(offsite.key_file(offsite_cfg), offsite.key_file(new_cfg))
    fetched = offsite.fetch(new_cfg, tmp_path / "repris")
    restore(new_cfg, fetched)
    conn = sqlite3.connect(new_cfg.paths.database)
    found = database_digests(conn)
    derived = {f"{index}_{part}" for index in ("patient_fts", "patient_search")
               for part in ("data", "idx", "docsize")}  # rebuilt, not copied
    assert {k: v for k, v in found.items() if k not in derived} == \
        {k: v for k, v in report.manifest.tables.items() if k not in derived}
    assert found["patient"].rows >= 40
    assert conn.execute("SELECT phone FROM user WHERE username = 'kadia'").fetchone() == ("+22365000000",)
    names, patient_id = conn.execute("SELECT search_names, id FROM patient ORDER BY id LIMIT 1").fetchone()
    matches = [row[0] for row in conn.execute("SELECT rowid FROM patient_search WHERE patient_search MATCH ?",
                                              (f'"{names.split()[0]}"',))]
    assert patient_id in matches  # the full-text index was rebuilt from the patients


def test_missing_or_wrong_key_needs_a_person(offsite_cfg):
    run_nightly_backup(offsite_cfg, usb=NO_STICK)
    item = pending_item()
    assert offsite.OffsiteSender(offsite_cfg)(item).delivered
    offsite.key_file(offsite_cfg).write_text("une autre clé\n")
    wrong = offsite.OffsiteSender(offsite_cfg)(item)
    assert wrong.kind == OutcomeKind.NEEDS_ACTION and "refuse la clé" in wrong.message
    offsite.key_file(offsite_cfg).unlink()
    missing = offsite.OffsiteSender(offsite_cfg)(item)
    assert missing.kind == OutcomeKind.NEEDS_ACTION and "provisionnement" in missing.message


def test_an_unreachable_repository_is_retried_later(offsite_cfg):
    run_nightly_backup(offsite_cfg, usb=NO_STICK)
    unreachable = dataclasses.replace(offsite_cfg, backup=dataclasses.replace(
        offsite_cfg.backup, offsite_repository="rest:http://127.0.0.1:9/depot"))
    outcome = offsite.OffsiteSender(unreachable)(pending_item())
    assert outcome.kind == OutcomeKind.RETRY_LATER and outcome.link_down
