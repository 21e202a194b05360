"""Backups on 100,000 patients: ``backup_100k_s``, ``export_import_100k_s`` (with the proof that the
tables arrived intact and that one flipped byte is caught) and ``offsite_backup_bytes_day``: what the
restic copy adds to the repository after a normal day (+30 patients, +150 visits, their audit rows,
10 corrections of older visits); ``offsite_backup_bytes_week``: what it adds after seven such days,
sent once (the weekly rhythm over 3G). Alternatives measured on the same day for docs/backup.md: a
page-level diff of the SQLite file, gzipped, always; restic fed with the SQLite file itself only with
BENCH_BACKUP_ALTERNATIVES=1 (a minute more, and its answer does not change: ~25 MB a day).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import json
import os
import random
import shutil
import sqlite3
import time
from pathlib import Path

from tests.bench.bench_patients import patients_100k_database
from tests.bench.bench_reports import copy_database
from tests.bench.support import BUILD, write_config

WORK = BUILD / "backup-bench"
DAY_VISITS = {"consultation": 90, "immunisation": 30, "antenatal_visit": 15, "growth_measurement": 15}
DAY_PATIENTS = 30
DAY_CORRECTIONS = 10


def run() -> dict:
    from appliance import config as config_module
    from appliance.backup.local import run_backup
    from appliance.backup.transfer import export, import_export
    from appliance.backup.usb import FolderUsbMedia
    from appliance.store import open_and_migrate

    shutil.rmtree(WORK, ignore_errors=True)
    cfg = config_module.load(write_config(WORK / "clinique"))
    cfg.paths.data_dir.mkdir(parents=True)
    copy_database(patients_100k_database()[0], cfg.paths.database)
    open_and_migrate(cfg.paths.database).close()
    figures: dict[str, object] = {}

    started = time.perf_counter()
    report = run_backup(cfg, usb=FolderUsbMedia([], "appliance-backups"))
    figures["backup_100k_s"] = round(time.perf_counter() - started, 2)
    assert report.ok, report.problems
    figures["backup_100k_file_mb"] = round(report.file.stat().st_size / 2**20, 1)

    new_host = config_module.load(write_config(WORK / "nouvel-hote"))
    started = time.perf_counter()
    export(cfg, WORK / "export")
    result = import_export(new_host, WORK / "export")
    figures["export_import_100k_s"] = round(time.perf_counter() - started, 2)
    assert result.intact, result.problems
    _assert_flipped_byte_is_caught(new_host, WORK / "export")

    figures.update(_offsite_day(cfg))
    return figures


def _assert_flipped_byte_is_caught(new_host, folder: Path) -> None:
    from appliance.backup.transfer import import_export

    data_file = folder / "appliance.db.gz"
    raw = bytearray(data_file.read_bytes())
    raw[len(raw) // 2] ^= 0x04
    data_file.write_bytes(bytes(raw))
    result = import_export(new_host, folder, check_only=True)
    assert not result.intact and result.problems, "a flipped byte must be reported"


def _offsite_day(cfg) -> dict:
    """Night 1 (full), a normal day of work, night 2: what each approach adds for the day. Then the
    weekly rhythm (``backup.offsite_every_days`` = 7, the default): seven normal days whose nights
    make only the local copy, and the night the off-site copy leaves: ``offsite_backup_bytes_week``."""
    from appliance.backup import offsite
    from appliance.backup.local import run_nightly_backup
    from appliance.backup.summary import DAY_S
    from appliance.backup.usb import FolderUsbMedia
    from appliance.outbox.models import ItemState, OutboxItem

    repository = WORK / "depot-restic"
    weekly = dataclasses.replace(cfg, backup=dataclasses.replace(cfg.backup, offsite_repository=str(repository),
                                                                 offsite_every_days=7))
    cfg = dataclasses.replace(weekly, backup=dataclasses.replace(weekly.backup, offsite_every_days=1))
    cfg.paths.secrets_dir.mkdir(parents=True, exist_ok=True)
    offsite.key_file(cfg).write_text("clé de banc d'essai\n")
    no_stick = FolderUsbMedia([], "appliance-backups")
    sender = offsite.OffsiteSender(cfg)
    raw_repository = WORK / "depot-restic-fichier-brut"
    before_day = WORK / "avant.db"

    def pending() -> OutboxItem | None:
        return OutboxItem.get_or_none((OutboxItem.kind == offsite.KIND) & (OutboxItem.state == ItemState.PENDING))

    def night(night_cfg=cfg, now: float | None = None) -> int:
        report = run_nightly_backup(night_cfg, usb=no_stick, now=now)
        assert report.ok, report.problems
        size = _folder_bytes(repository)
        item = pending()
        if item is None:
            return 0
        outcome = sender(item)
        assert outcome.delivered, outcome.message
        OutboxItem.update(state=ItemState.DELIVERED).where(OutboxItem.id == item.id).execute()
        return _folder_bytes(repository) - size

    alternatives = os.environ.get("BENCH_BACKUP_ALTERNATIVES") == "1"
    first = night()
    _checkpointed_copy(cfg.paths.database, before_day)
    raw_first = _restic_raw_file(cfg, raw_repository, before_day) if alternatives else 0
    _normal_day(cfg.paths.database)
    after_day = WORK / "apres.db"
    _checkpointed_copy(cfg.paths.database, after_day)
    # The outbox dates the queued copy by the real clock; the nights after pass their own time.
    week_start = time.time()
    day = night(now=week_start + DAY_S)
    assert day > 0, "the daily copy must have left"
    week = []
    for number in range(1, 8):
        _normal_day(cfg.paths.database, day=number)
        week.append(night(weekly, now=week_start + number * DAY_S))
    assert week[:6] == [0] * 6 and week[6] > 0, f"the copy leaves on the seventh night only: {week}"
    figures = {
        "offsite_backup_bytes_day": day,
        "offsite_backup_bytes_week": week[6],
        "offsite_backup_bytes_first": first,
        "offsite_alt_page_diff_gz_bytes_day": _page_diff_gz_bytes(before_day, after_day),
    }
    if alternatives:
        figures["offsite_alt_restic_raw_db_bytes_day"] = _restic_raw_file(cfg, raw_repository, after_day) - raw_first
    return figures


def _normal_day(database: Path, day: int = 0) -> None:
    """A day of a busy health centre, written as the EMR would: rows and their audit entries
    (``day`` days after the first, with its own draw)."""
    rng = random.Random(7 + day)
    now = (dt.datetime(2030, 1, 15, 10, 0) + dt.timedelta(days=day)).isoformat(sep=" ")
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("BEGIN")
    audit_columns = _columns(conn, "audit_entry")

    def audit(action: str, table: str, row_id: int, after: dict) -> None:
        values = {"at": now, "user_id": None, "username": "awa.traore", "role": "sage_femme", "action": action,
                  "table_name": table, "row_id": str(row_id), "before": None,
                  "after": json.dumps(after, ensure_ascii=False, default=str), "reason": None}
        conn.execute(f"INSERT INTO audit_entry ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                     tuple(values.values()))
        assert set(values) <= set(audit_columns)

    max_patient = conn.execute("SELECT max(id) FROM patient").fetchone()[0]
    new_patients = []
    for number in range(DAY_PATIENTS):
        template = _row(conn, "patient", rng.randint(1, max_patient))
        template.update(id=None, local_number=f"{template['local_number']}-J{number}", national_id=None,
                        registered_at=now, mother_id=None)
        new_patients.append(_insert(conn, "patient", template))
        audit("create", "patient", new_patients[-1], template)
    for table, count in DAY_VISITS.items():
        highest = conn.execute(f'SELECT max(id) FROM "{table}"').fetchone()[0]
        for _ in range(count):
            template = _row(conn, table, rng.randint(1, highest))
            patient = rng.choice(new_patients) if rng.random() < 0.3 else rng.randint(1, max_patient)
            template.update(id=None, patient_id=patient, recorded_at=now)
            audit("create", table, _insert(conn, table, template), template)
    highest = conn.execute("SELECT max(id) FROM consultation").fetchone()[0]
    for _ in range(DAY_CORRECTIONS):
        visit = rng.randint(1, highest - 200)
        conn.execute("UPDATE consultation SET notes = notes || ' (corrigé)', revision = revision + 1 WHERE id = ?",
                     (visit,))
        audit("update", "consultation", visit, {"notes": "corrigé"})
    conn.execute("COMMIT")
    conn.close()


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]


def _row(conn: sqlite3.Connection, table: str, row_id: int) -> dict:
    columns = _columns(conn, table)
    row = conn.execute(f'SELECT * FROM "{table}" WHERE id >= ? ORDER BY id LIMIT 1', (row_id,)).fetchone()
    return dict(zip(columns, row, strict=True))


def _insert(conn: sqlite3.Connection, table: str, values: dict) -> int:
    names = [name for name in values if name != "id"]
    cursor = conn.execute(f'INSERT INTO "{table}" ({", ".join(names)}) VALUES ({", ".join("?" * len(names))})',
                          tuple(values[name] for name in names))
    return cursor.lastrowid


def _checkpointed_copy(source: Path, target: Path) -> None:
    conn = sqlite3.connect(source)
    target.unlink(missing_ok=True)
    copy = sqlite3.connect(target)
    conn.backup(copy)
    copy.close()
    conn.close()


def _restic_raw_file(cfg, repository: Path, database: Path) -> int:
    """The alternative: restic fed with the SQLite file itself (same key, its own repository)."""
    from appliance.backup import offsite

    raw_cfg = dataclasses.replace(cfg, backup=dataclasses.replace(cfg.backup, offsite_repository=str(repository)))
    if not repository.exists():
        assert offsite.restic(raw_cfg, "init").returncode == 0
    staged = WORK / "brut"
    staged.mkdir(exist_ok=True)
    shutil.copyfile(database, staged / "appliance.db")
    done = offsite.restic(raw_cfg, "backup", "--host", "banc", ".", cwd=staged)
    assert done.returncode == 0, done.stderr
    return _folder_bytes(repository)


def _page_diff_gz_bytes(before: Path, after: Path, page_size: int = 4096) -> int:
    """The other alternative: the pages that differ (numbered), gzipped; encryption adds ~nothing."""
    changed = bytearray()
    with open(before, "rb") as old, open(after, "rb") as new:
        number = 0
        while True:
            old_page, new_page = old.read(page_size), new.read(page_size)
            if not new_page:
                break
            if old_page != new_page:
                changed += number.to_bytes(4, "big") + new_page
            number += 1
    return len(gzip.compress(bytes(changed), compresslevel=6))


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
