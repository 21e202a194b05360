"""Copying to a stick just plugged in: the newest verified backup, encrypted, logged like the nightly
copy; one writer per stick. (A copy cut short: tests/backup/test_stick_encrypted.py.)"""

from __future__ import annotations

import dataclasses
import gzip
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from appliance.backup import status
from appliance.backup.local import copy_latest_to_stick, list_backups
from appliance.backup.manifest import Manifest
from appliance.backup.snapshot import manifest_path_for
from appliance.backup.stick_repository import REPOSITORY, fetch, key_file
from appliance.backup.usb import (
    FolderUsbMedia,
    StickNotMounted,
    ensure_mounted,
    folder_identity,
    remove_left_behind,
    stick_lock,
)

from .conftest import sha256

MARKER = "appliance-backups"


def usb_runs(cfg) -> list[tuple]:
    conn = sqlite3.connect(cfg.paths.database)
    try:
        return conn.execute("SELECT target, reason, status, location, message FROM backup_run ORDER BY id").fetchall()
    finally:
        conn.close()


def prepared_stick(tmp_path: Path, name: str = "KINGSTON") -> Path:
    folder = tmp_path / "media" / name / MARKER
    folder.mkdir(parents=True)
    return folder


def test_the_newest_verified_backup_goes_to_the_stick_and_is_logged(cfg, backup_file, tmp_path):
    folder = prepared_stick(tmp_path)
    report = copy_latest_to_stick(cfg, folder)
    assert report.ok, report.problems
    repository = folder / cfg.site.id / REPOSITORY
    copied = repository / backup_file.name
    assert report.usb_copies == [copied]
    read_back = fetch(cfg, repository, key_file(cfg), tmp_path / "relu")
    assert sha256(read_back) == sha256(backup_file)
    assert Manifest.read(manifest_path_for(read_back)) == Manifest.read(manifest_path_for(backup_file))
    size = backup_file.stat().st_size + manifest_path_for(backup_file).stat().st_size
    assert usb_runs(cfg)[1:] == [("usb", "usb", "ok", str(copied), "")]
    assert sqlite3.connect(cfg.paths.database).execute(
        "SELECT bytes FROM backup_run WHERE target = 'usb'").fetchone() == (size,)
    assert len(list_backups(cfg.paths.data_dir / "backups")) == 1  # no new local backup for that


def test_records_saved_since_the_newest_backup_reach_the_stick_in_a_fresh_one(cfg, backup_file, tmp_path, make_user):
    make_user("sage_femme", username="saisie.apres")  # typed after last night's backup
    folder = prepared_stick(tmp_path)
    report = copy_latest_to_stick(cfg, folder)
    assert report.ok, report.problems
    assert report.file != backup_file and report.file.name.endswith("-usb.db.gz")
    assert [copy.name for copy in report.usb_copies] == [report.file.name]
    read_back = fetch(cfg, report.usb_copies[0].parent, key_file(cfg), tmp_path / "relu")
    with gzip.open(read_back) as packed, tempfile.NamedTemporaryFile(suffix=".db") as plain:
        plain.write(packed.read())
        plain.flush()
        names = {row[0] for row in sqlite3.connect(plain.name).execute("SELECT username FROM user")}
    assert "saisie.apres" in names


def test_a_newest_backup_that_no_longer_matches_its_manifest_is_replaced_by_a_fresh_one(cfg, backup_file, tmp_path):
    damaged = bytearray(backup_file.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    backup_file.write_bytes(bytes(damaged))  # the SD card flipped a byte: the manifest no longer agrees
    folder = prepared_stick(tmp_path)
    report = copy_latest_to_stick(cfg, folder)
    assert report.file is not None and report.file.name.endswith("-usb.db.gz")
    assert [copy.name for copy in report.usb_copies] == [report.file.name]
    assert len(report.problems) == 1 and backup_file.name in report.problems[0]
    assert [run[:3] for run in usb_runs(cfg)] == [("local", "manual", "ok"), ("local", "usb", "ok"),
                                                  ("usb", "usb", "ok")]


def test_leftovers_and_older_copies_in_clear_go_once_the_encrypted_copy_is_on(cfg, backup_file, tmp_path):
    folder = prepared_stick(tmp_path)
    site = folder / cfg.site.id
    site.mkdir()
    older = site / "cscom-20250101-020000-nightly.db.gz"
    shutil.copy(backup_file, older)
    Manifest.read(manifest_path_for(backup_file)).write(manifest_path_for(older))
    (site / f"{backup_file.name}.partial").write_bytes(b"half")  # pulled out while writing
    (site / "cscom-20250102-020000-nightly.db.gz").write_bytes(b"renamed, manifest never written")
    report = copy_latest_to_stick(cfg, folder)
    assert report.ok, report.problems
    assert sorted(path.name for path in site.iterdir()) == [REPOSITORY]
    assert older in report.removed


@pytest.mark.parametrize("left", ["its folder, on the SD card", "an empty mount point"])
def test_a_stick_gone_before_the_copy_leaves_nothing_under_its_mount_point(cfg, backup_file, tmp_path, left):
    """On a box (not the simulation) the stick went between being found and the copy: its mount point
    (here a plain folder standing for it) is a folder of the SD card. Nothing is written there, and
    the run says why in French."""
    box = dataclasses.replace(cfg, simulation=False)
    folder = prepared_stick(tmp_path)
    if left == "an empty mount point":
        folder.rmdir()
    before = sorted((tmp_path / "media").rglob("*"))
    report = copy_latest_to_stick(box, folder)
    assert report.usb_copies == [] and len(report.problems) == 1
    assert "clé USB retirée ou démontée" in report.problems[0], report.problems
    assert "n'est plus une clé montée, rien n'y a été écrit" in report.problems[0]
    assert sorted((tmp_path / "media").rglob("*")) == before  # no folder, no repository, no lock file
    assert [run[:3] for run in usb_runs(box)][-1] == ("usb", "usb", "failed")
    assert status.collect(box, FolderUsbMedia([], MARKER)).last_usb.cause == "stick_removed"


def test_a_folder_on_a_mounted_filesystem_passes_the_check(tmp_path):
    ensure_mounted(Path("/proc/self"))  # /proc is a mount point, /proc/self on it: nothing written either way
    with pytest.raises(StickNotMounted, match="rien n'y a été écrit"):
        ensure_mounted(prepared_stick(tmp_path))


def test_only_what_restic_re_created_under_a_pulled_sticks_mount_point_is_removed(tmp_path):
    """A stick (a tmpfs here) pulled out mid-copy, and restic, not yet stopped, re-creating its folders
    under the empty mount point: they go, the mount point stays. A stick mounted there again, and a
    simulated stick (a folder standing for one), are never touched."""
    folder = prepared_stick(tmp_path)
    mount_point = folder.parent
    simulated = folder_identity(folder)
    folder.rename(tmp_path / "retiree")
    (folder / "autre").mkdir(parents=True)  # another folder in its place
    remove_left_behind(folder, simulated)
    assert (folder / "autre").is_dir()
    shutil.rmtree(folder)

    mount = ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)]
    if os.geteuid() != 0 or subprocess.run(mount, capture_output=True).returncode != 0:
        pytest.skip("mount not permitted here (needs root)")
    try:
        folder.mkdir()
        plugged = folder_identity(folder)
        subprocess.run(["umount", "--lazy", str(mount_point)], check=True)  # pulled out
        left = folder / "CSCOM-TEST" / REPOSITORY / "data" / "3f"
        left.mkdir(parents=True)  # what restic re-creates, on the SD card
        (left / "3f9a-tmp-123").write_bytes(b"x" * 1000)
        remove_left_behind(folder, plugged)
        assert list(mount_point.iterdir()) == [] and mount_point.is_dir()

        subprocess.run(mount, check=True)  # plugged in again
        (folder / "CSCOM-TEST").mkdir(parents=True)
        remove_left_behind(folder, plugged)
        assert (folder / "CSCOM-TEST").is_dir()
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


def test_one_writer_per_stick_across_processes(tmp_path):
    folder = prepared_stick(tmp_path)
    probe = ("import fcntl, os, sys\n"
             "fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)\n"
             "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept BlockingIOError:\n    sys.exit(3)\n")
    with stick_lock(folder):
        assert subprocess.run([sys.executable, "-c", probe, str(folder)]).returncode == 3
    assert subprocess.run([sys.executable, "-c", probe, str(folder)]).returncode == 0
    assert sorted(path.name for path in folder.iterdir()) == []  # the lock leaves nothing on the stick
