"""Online backups: consistent while the clinic writes, verified, kept by count, copied to sticks."""

from __future__ import annotations

import sqlite3
import threading
import time

from appliance.backup.local import apply_retention, list_backups, run_backup
from appliance.backup.manifest import Manifest
from appliance.backup.snapshot import CopyPacing, check_integrity, copy_live_database, manifest_path_for
from appliance.backup.stick_repository import REPOSITORY, fetch, key_file
from appliance.backup.usb import FolderUsbMedia, MountedUsbMedia

from .conftest import NO_STICK, count


def test_a_backup_is_a_verified_gzip_with_a_manifest_of_every_table(cfg, live):
    report = run_backup(cfg, reason="pre-upgrade", usb=NO_STICK)
    assert report.ok, report.problems
    assert report.file.parent == cfg.paths.data_dir / "backups"
    assert report.file.name.startswith(f"{cfg.site.id}-") and report.file.name.endswith("-pre-upgrade.db.gz")
    manifest = Manifest.read(manifest_path_for(report.file))
    assert manifest == report.manifest
    assert manifest.site_id == cfg.site.id and manifest.reason == "pre-upgrade"
    assert manifest.schema_version >= 61
    assert manifest.tables["user"].rows == 5
    assert manifest.tables["audit_entry"].rows == 5
    assert manifest.database.file_bytes == report.file.stat().st_size
    runs = sqlite3.connect(cfg.paths.database).execute("SELECT target, status FROM backup_run").fetchall()
    assert runs == [("local", "ok")]


def test_the_copy_is_one_consistent_snapshot_while_another_connection_keeps_writing(tmp_path):
    source = tmp_path / "live.db"
    conn = sqlite3.connect(source, isolation_level=None)
    conn.execute("PRAGMA journal_mode=wal")
    conn.execute("CREATE TABLE visit (id INTEGER PRIMARY KEY, note TEXT)")
    with conn:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO visit (note) VALUES (?)", [("x" * 300,)] * 20000)
    stop = threading.Event()
    written = []

    def clinic_writes():
        writer = sqlite3.connect(source, isolation_level=None, timeout=5)
        writer.execute("PRAGMA synchronous=OFF")  # many small commits, no fsync wait: a busy clinic, fast
        while not stop.is_set():  # until the copy has ended: some writes land after its snapshot began
            writer.execute("INSERT INTO visit (note) VALUES ('pendant la copie')")
            written.append(1)
            time.sleep(0.0005)
        writer.close()

    thread = threading.Thread(target=clinic_writes)
    thread.start()
    try:
        copy_live_database(source, tmp_path / "copy.db", CopyPacing(pages_per_step=50, pause_s=0.001))
    finally:
        stop.set()
        thread.join()
    check_integrity(tmp_path / "copy.db")
    copied = sqlite3.connect(tmp_path / "copy.db")
    rows, highest = copied.execute("SELECT count(*), max(id) FROM visit").fetchone()
    assert rows == highest >= 20000  # every id up to the snapshot, none missing in between
    assert copied.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # a standalone file
    live_rows = conn.execute("SELECT count(*) FROM visit").fetchone()[0]
    assert live_rows == 20000 + len(written) > rows  # the clinic kept writing; those rows are not in the copy


def test_retention_keeps_the_newest_and_removes_interrupted_copies(cfg, live):
    files = [run_backup(cfg, usb=NO_STICK).file for _ in range(3)]
    (files[0].parent / "leftover.db.gz.partial").write_bytes(b"cut")
    removed = apply_retention(files[0].parent, 2)
    kept = [path for _manifest, path in list_backups(files[0].parent)]
    assert len(kept) == 2 and files[0] not in kept and removed
    assert not manifest_path_for(files[0]).exists()
    run_backup(cfg, usb=NO_STICK)
    assert not (files[0].parent / "leftover.db.gz.partial").exists()


def test_a_plugged_stick_with_the_marker_gets_a_verified_copy_and_its_own_retention(cfg, live, tmp_path):
    ours, foreign = tmp_path / "usb-ours", tmp_path / "usb-foreign"
    (ours / "appliance-backups").mkdir(parents=True)
    foreign.mkdir()
    sticks = FolderUsbMedia([ours, foreign], "appliance-backups")
    for _ in range(3):
        report = run_backup(cfg, usb=sticks)
        assert report.ok, report.problems
    repository = ours / "appliance-backups" / cfg.site.id / REPOSITORY
    assert report.usb_copies == [repository / report.file.name]
    assert len(list((repository / "snapshots").iterdir())) == 3
    copied = fetch(cfg, repository, key_file(cfg), tmp_path / "relu")  # the newest
    assert copied.read_bytes() == report.file.read_bytes()
    assert Manifest.read(manifest_path_for(copied)) == report.manifest
    assert list(foreign.iterdir()) == []
    usb_runs = count(cfg.paths.database, "backup_run")
    assert usb_runs == 6


def test_only_mounted_sticks_under_the_roots_are_found(tmp_path):
    media = tmp_path / "media"
    (media / "pi" / "CLE USB" / "appliance-backups").mkdir(parents=True)
    (media / "not-mounted" / "appliance-backups").mkdir(parents=True)
    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/mmcblk0p2 / ext4 rw 0 0\n/dev/sda1 {media}/pi/CLE\\040USB vfat rw 0 0\n")
    found = MountedUsbMedia([str(media)], "appliance-backups", mounts_file=mounts).backup_folders()
    assert found == [media / "pi" / "CLE USB" / "appliance-backups"]


def test_a_failed_backup_says_why_and_logs_it(cfg, live, tmp_path):
    (cfg.paths.data_dir / "backups").write_text("not a folder")
    report = run_backup(cfg, usb=NO_STICK)
    assert not report.ok and "sauvegarde impossible" in report.problems[0]
    status = sqlite3.connect(cfg.paths.database).execute("SELECT status FROM backup_run").fetchone()[0]
    assert status == "failed"
