"""Fixtures for backups: a live database with a little of everything, and damaged copies."""

from __future__ import annotations

import gzip
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from appliance import config as config_module
from appliance.backup.local import run_backup
from appliance.backup.usb import FolderUsbMedia

NO_STICK = FolderUsbMedia([], "appliance-backups")


@pytest.fixture
def live(cfg, store, make_user):
    """The migrated live database with a few accounts and audit rows, closed by the store fixture."""
    for number in range(5):
        make_user("infirmier", username=f"infirmier{number}", phone="+22376000000")
    return cfg.paths.database


@pytest.fixture
def backup_file(cfg, live) -> Path:
    report = run_backup(cfg, usb=NO_STICK)
    assert report.ok, report.problems
    return report.file


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rewrite_backup(data_file: Path, database_bytes: bytes | None = None, gz_bytes: bytes | None = None,
                   **manifest_changes) -> None:
    """Replace a backup's content and make the manifest's file hashes agree with it, so that the
    check under test is the only one that can catch the damage."""
    if database_bytes is not None:
        gz_bytes = gzip.compress(database_bytes, mtime=0)
    manifest_file = data_file.with_name(data_file.name.replace(".db.gz", ".manifest.json"))
    manifest = json.loads(manifest_file.read_text())
    if gz_bytes is not None:
        data_file.write_bytes(gz_bytes)
        manifest["database"]["file_sha256"] = hashlib.sha256(gz_bytes).hexdigest()
    if database_bytes is not None:
        manifest["database"]["db_sha256"] = hashlib.sha256(database_bytes).hexdigest()
    manifest.update(manifest_changes)
    manifest_file.write_text(json.dumps(manifest))


def plain_database(data_file: Path) -> bytes:
    return gzip.decompress(data_file.read_bytes())


def count(path: Path, table: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def new_host(tmp_path, cfg):
    """A second configuration, same site, its own empty data folder: the new machine."""
    folder = tmp_path / "nouvel-hote"
    folder.mkdir()
    path = folder / "appliance.toml"
    path.write_text(config_module.dev_config_text(folder), encoding="utf-8")
    return config_module.load(path)
