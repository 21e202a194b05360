"""Stick copies are encrypted (issue 16): a restic repository under the stick key, printed on the
installation sheet. With real restic: the stick holds no readable record; a new box restores it
with the sheet's key; without it, or with another, the restore is refused in French; an old copy
in clear still restores, and the next copy takes it off the stick."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from appliance.backup import restic, stick_repository
from appliance.backup.local import run_backup
from appliance.backup.restore import RestoreRefused, restore
from appliance.backup.snapshot import manifest_path_for
from appliance.backup.usb import FolderUsbMedia
from appliance.cli import main

from .conftest import count

MARKER = "appliance-backups"


def stick_with_marker(tmp_path: Path) -> Path:
    stick = tmp_path / "media" / "KINGSTON"
    (stick / MARKER).mkdir(parents=True)
    return stick


def sheet_key(cfg, tmp_path: Path) -> Path:
    """What the technician types from the sheet into a file on the new box."""
    typed = tmp_path / "cle-de-la-fiche.txt"
    typed.write_text(stick_repository.key_file(cfg).read_text(encoding="utf-8"), encoding="utf-8")
    return typed


def snapshots(cfg, repository: Path) -> list[dict]:
    listed = restic.run("restic", str(repository), stick_repository.key_file(cfg), "snapshots", "--json",
                        timeout=120)
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)


def test_the_stick_holds_no_readable_record_and_a_new_box_restores_it_with_the_sheet_s_key(
        cfg, live, tmp_path, new_host):
    stick = stick_with_marker(tmp_path)
    report = run_backup(cfg, usb=FolderUsbMedia([stick], MARKER))
    assert report.ok, report.problems
    repository = stick / MARKER / cfg.site.id / stick_repository.REPOSITORY
    assert report.usb_copies == [repository / report.file.name]
    key = stick_repository.key_file(cfg)
    assert oct(key.stat().st_mode & 0o777) == "0o600" and len(key.read_text().strip()) == 29
    on_stick = [path for path in stick.rglob("*") if path.is_file()]
    assert on_stick and all(path.is_relative_to(repository) for path in on_stick)
    for path in on_stick:  # every record and password hash of the database, read as bytes
        content = path.read_bytes()
        assert b"SQLite format 3" not in content and not content.startswith(b"\x1f\x8b"), path
        assert b"infirmier0" not in content and b"+22376000000" not in content, path

    users = count(cfg.paths.database, "user")
    manifest, kept = restore(new_host, stick, key_file=sheet_key(cfg, tmp_path))
    assert kept is None and manifest.site_id == cfg.site.id
    assert count(new_host.paths.database, "user") == users
    # The new box's own stick key now opens the stick too: its next copies go on the same stick.
    again = run_backup(new_host, usb=FolderUsbMedia([stick], MARKER))
    assert again.ok, again.problems
    assert len(snapshots(new_host, repository)) == 2


def test_without_the_key_or_with_another_the_restore_is_refused_in_french(cfg, live, tmp_path, new_host):
    stick = stick_with_marker(tmp_path)
    assert run_backup(cfg, usb=FolderUsbMedia([stick], MARKER)).ok
    with pytest.raises(RestoreRefused) as absent:
        restore(new_host, stick)  # a new box: no key of its own yet, none given
    assert "Sauvegarde chiffrée : clé absente" in str(absent.value)
    assert "clé des sauvegardes USB" in str(absent.value) and "--key-file" in str(absent.value)
    other = tmp_path / "autre-cle.txt"
    other.write_text(stick_repository.generate_key() + "\n")
    with pytest.raises(RestoreRefused, match="la clé donnée n'est pas la sienne"):
        restore(new_host, stick, key_file=other)
    assert not new_host.paths.database.exists()  # nothing was put in place

    result = CliRunner().invoke(
        main, ["restore", "--config", str(new_host.source), str(stick / MARKER), "--key-file", str(other)])
    assert result.exit_code == 1
    assert "Copie refusée, la base actuelle n'a pas été modifiée. Sauvegarde chiffrée" in result.stderr
    result = CliRunner().invoke(
        main, ["restore", "--config", str(new_host.source), str(stick / MARKER), "--key-file",
               str(sheet_key(cfg, tmp_path))])
    assert result.exit_code == 0, result.stderr
    assert "vérifiée et restaurée" in result.output


def test_an_old_copy_in_clear_still_restores_and_the_next_copy_takes_it_off_the_stick(
        cfg, live, backup_file, tmp_path):
    stick = stick_with_marker(tmp_path)
    site = stick / MARKER / cfg.site.id
    site.mkdir()
    old = site / backup_file.name  # what the previous version left on the stick
    old.write_bytes(backup_file.read_bytes())
    manifest_path_for(old).write_bytes(manifest_path_for(backup_file).read_bytes())
    users = count(cfg.paths.database, "user")
    from appliance.store.db import database

    database.close()  # the services are stopped for a restore
    _, kept = restore(cfg, old)
    assert kept is not None and count(cfg.paths.database, "user") == users
    report = run_backup(cfg, usb=FolderUsbMedia([stick], MARKER))
    assert report.ok, report.problems
    assert old in report.removed and not old.exists() and not manifest_path_for(old).exists()
    assert sorted(path.name for path in site.iterdir()) == [stick_repository.REPOSITORY]


def test_keep_usb_copies_and_a_backup_already_on_the_stick_is_checked_not_rewritten(cfg, live, tmp_path):
    cfg = dataclasses.replace(cfg, backup=dataclasses.replace(cfg.backup, keep_usb=2))
    stick = stick_with_marker(tmp_path)
    sticks = FolderUsbMedia([stick], MARKER)
    for _ in range(3):
        report = run_backup(cfg, usb=sticks)
        assert report.ok, report.problems
    repository = stick / MARKER / cfg.site.id / stick_repository.REPOSITORY
    kept = snapshots(cfg, repository)
    assert len(kept) == 2
    work = tmp_path / "relu"
    assert stick_repository.copy_encrypted(cfg, report.file, repository.parent, work) == \
        repository / report.file.name
    assert [snapshot["id"] for snapshot in snapshots(cfg, repository)] == [snapshot["id"] for snapshot in kept]


def test_a_copy_killed_mid_way_leaves_no_copy_and_the_next_one_succeeds(cfg, live, backup_file, tmp_path):
    """Pulled out or power cut in the middle of restic's backup: the snapshot is written last, so the
    stick holds no half copy; its lock and orphan data are cleared by the next copy."""
    stick = stick_with_marker(tmp_path)
    repository = stick / MARKER / cfg.site.id / stick_repository.REPOSITORY
    key = stick_repository.key_file(cfg)
    stick_repository.ensure_key(key)
    assert restic.run("restic", str(repository), key, "init", timeout=120).returncode == 0
    big = tmp_path / "gros" / "donnees.bin"
    big.parent.mkdir()
    big.write_bytes(os.urandom(48 * 2**20))
    env = {**os.environ, "RESTIC_REPOSITORY": str(repository), "RESTIC_PASSWORD_FILE": str(key)}
    writing = subprocess.Popen(["restic", "--no-cache", "backup", "--host", cfg.site.id, "--tag",
                                stick_repository.TAG, str(big)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not any(path.is_file() for path in (repository / "data").rglob("*")) and time.monotonic() < deadline:
        time.sleep(0.01)
    writing.send_signal(signal.SIGKILL)
    writing.wait()
    assert any(path.is_file() for path in (repository / "data").rglob("*")), "restic wrote nothing to kill"
    assert snapshots(cfg, repository) == []  # half a copy is no copy
    assert list((repository / "locks").iterdir())  # left behind by the killed restic
    report = run_backup(cfg, usb=FolderUsbMedia([stick], MARKER))
    assert report.ok, report.problems
    assert len(snapshots(cfg, repository)) == 1
