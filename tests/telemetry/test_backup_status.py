"""Backups in the clinic's status and in the fleet view: read from the real backup log, judged by the
Backups page's own rule (appliance.backup.summary), flagged for ops."""

from __future__ import annotations

import csv
import io
import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from appliance.backup import status as backup_status
from appliance.backup.local import run_backup, run_nightly_backup
from appliance.backup.log import RunRecord, record_run
from appliance.backup.summary import STALE_AFTER_S
from appliance.backup.usb import FolderUsbMedia
from appliance.fleet.cli import PASSWORD_ENV, fleet
from appliance.fleet.view import CSV_COLUMNS, Fleet, render_table, write_csv
from appliance.store.models import utcnow
from appliance.telemetry.counters import MemoryCounters
from appliance.telemetry.publisher import TelemetryPublisher
from appliance.telemetry.status import StatusSnapshot
from tests.telemetry.conftest import assert_valid, plain_settings
from tests.telemetry.mosquitto import OPS_PASSWORD, OPS_USER
from tests.telemetry.test_publisher import snapshot

MARKER = "appliance-backups"
NOW = 1_780_000_000
HOUR = 3600


@pytest.fixture
def stick(tmp_path: Path) -> FolderUsbMedia:
    folder = tmp_path / "media" / "KINGSTON"
    (folder / MARKER).mkdir(parents=True)
    return FolderUsbMedia([folder], MARKER)


def collect(clock=time.time) -> StatusSnapshot:
    """What the publisher builds in a window (no broker needed to build it)."""
    publisher = TelemetryPublisher(plain_settings(1), "ml-kati", password="x", version="0.1.0",
                                   counters=MemoryCounters(), clock=clock)
    return publisher.collect_status()


def fail_for_full_disk(cfg) -> None:
    """A real nightly run on an SD card that is full: the backup code logs a failed run."""
    full = shutil.disk_usage(cfg.paths.data_dir)._replace(free=200_000)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(shutil, "disk_usage", lambda _path: full)
        assert not run_nightly_backup(cfg, usb=FolderUsbMedia([], MARKER)).ok


def test_a_new_clinic_says_it_has_no_backup_yet_without_raising_an_alert(store):
    status = collect()
    document = json.loads(status.to_payload())
    assert (document["bk"], document["bf"], document["bu"]) == (0, 0, 0) and "bo" not in document
    assert_valid("status", status.to_payload())
    assert status.attention_reasons() == []  # $state stays ready until the first night
    assert status.backup_reasons() == ["backup_stale"]  # the fleet still sees "never"


def test_the_status_follows_the_real_backup_log_and_the_pages_48_hour_rule(cfg, store, make_user, stick):
    make_user("infirmier")
    before = time.time()
    assert run_backup(cfg, usb=stick).ok
    after = time.time()

    status = collect()
    assert_valid("status", status.to_payload())
    assert before - 1 <= status.last_backup <= after + 1 and status.backup_failed is False  # whole seconds
    assert status.last_backup <= status.last_stick_backup <= after + 1
    assert status.attention_reasons() == [] and not backup_status.needs_attention()

    fail_for_full_disk(cfg)
    failed = collect()
    assert failed.last_backup == status.last_backup  # the copy from before still stands
    assert failed.backup_failed is True and failed.attention_reasons() == ["backup_failed"]
    assert backup_status.needs_attention()  # the EMR's badge agrees

    assert run_backup(cfg, usb=stick).ok
    later = lambda hours: lambda: time.time() + hours * HOUR  # noqa: E731
    assert collect(later(47)).attention_reasons() == []
    stale = collect(later(49))
    assert stale.attention_reasons() == ["backup_stale"] and stale.backup_failed is False
    now = datetime.now(UTC)  # the EMR's badge draws the line at the same hour
    assert not backup_status.needs_attention(now + timedelta(hours=47))
    assert backup_status.needs_attention(now + timedelta(hours=49))


def test_the_offsite_time_is_sent_only_by_a_clinic_that_sends_copies_off_site(cfg, store):
    stamp = utcnow().isoformat(sep=" ")
    record_run(cfg.paths.database, RunRecord(stamp, "nightly", "offsite", "sftp:x", "failed", "injoignable"))
    assert collect().last_offsite_backup == 0
    record_run(cfg.paths.database, RunRecord(stamp, "nightly", "offsite", "sftp:x", "ok", bytes=150_000))
    status = collect()
    assert abs(status.last_offsite_backup - time.time()) < 60
    assert_valid("status", status.to_payload())


def test_an_unreadable_log_leaves_the_backup_keys_out(store):
    store.execute_sql("DROP TABLE backup_run")
    document = json.loads(collect().to_payload())
    assert not {"bk", "bf", "bu", "bo"} & set(document)
    assert_valid("status", collect().to_payload())


def test_the_backup_keys_cost_a_few_bytes_and_round_trip():
    plain = snapshot(now=NOW)
    backed_up = snapshot(now=NOW, last_backup=NOW - 6 * HOUR, backup_failed=False, last_stick_backup=NOW - 6 * HOUR,
                         last_offsite_backup=NOW - 5 * HOUR)
    assert len(backed_up.to_payload()) - len(plain.to_payload()) == 16 + 7 + 16 + 16  # ,"bk":…,"bf":0,"bu":…,"bo":…
    assert StatusSnapshot.from_payload(backed_up.to_payload()) == backed_up
    assert_valid("status", backed_up.to_payload())
    with pytest.raises(ValueError, match="bk"):
        StatusSnapshot.from_payload(b'{"v":"0.1.0","t":1,"up":1,"bk":"hier"}')


def _fleet() -> Fleet:
    view = Fleet()
    clinics = {
        "ml-fine": dict(last_backup=NOW - 5 * HOUR, backup_failed=False),
        "ml-stale": dict(last_backup=NOW - STALE_AFTER_S - HOUR, backup_failed=False, last_stick_backup=0),
        "ml-failed": dict(last_backup=NOW - 30 * HOUR, backup_failed=True),
        "ml-never": dict(last_backup=0, backup_failed=False),
        "ml-old-version": {},
        "ml-critical": dict(battery_state="critical", last_backup=NOW - 50 * HOUR, backup_failed=True),
    }
    for site_id, pieces in clinics.items():
        view.ingest(f"clinic/{site_id}/status", snapshot(now=NOW, **pieces).to_payload(), retained=True,
                    received_at=NOW)
    return view


def test_fleet_flags_stale_and_failed_backups_worst_first():
    rows = _fleet().rows(now=NOW)
    assert [(row.site_id, row.flags, row.trouble) for row in rows] == [
        ("ml-critical", ("battery_critical", "backup_stale", "backup_failed"), 140),
        ("ml-never", ("backup_stale",), 40),
        ("ml-stale", ("backup_stale",), 40),
        ("ml-failed", ("backup_failed",), 30),
        ("ml-fine", (), 0),
        ("ml-old-version", (), 0),
    ]


def test_fleet_report_and_table_show_the_backup_age():
    rows = _fleet().rows(now=NOW)
    stream = io.StringIO()
    write_csv(rows, stream)
    records = {record["site_id"]: record for record in csv.DictReader(io.StringIO(stream.getvalue()))}
    assert {"backup_age_h", "backup_failed", "last_backup_utc"} <= set(CSV_COLUMNS)
    backup = {site: (r["backup_age_h"], r["backup_failed"], r["last_stick_utc"]) for site, r in records.items()}
    assert backup == {
        "ml-critical": ("50.0", "1", ""), "ml-never": ("never", "0", ""), "ml-stale": ("49.0", "0", "never"),
        "ml-failed": ("30.0", "1", ""), "ml-fine": ("5.0", "0", ""), "ml-old-version": ("", "", ""),
    }
    assert records["ml-fine"]["last_backup_utc"] == "2026-05-28T15:26:40Z"

    console = Console(width=200, record=True)
    console.print(render_table(rows, now=NOW, broker="mqtt://test"))
    text = console.export_text()
    assert "Sauvegarde" in text and "aucune sauvegarde vérifiée depuis 48 h" in text
    assert "dernière sauvegarde en échec" in text
    lines = {line.split("│")[1].strip(): line for line in text.splitlines() if line.count("│") > 2}
    assert "jamais" in lines["ml-never"] and "30 h ✗" in lines["ml-failed"] and "5 h" in lines["ml-fine"]


def test_a_failed_backup_puts_the_clinic_in_alert_and_in_the_report(cfg, store, make_user, broker, make_publisher,
                                                                    recorder, monkeypatch):
    make_user("infirmier")
    assert run_backup(cfg, usb=FolderUsbMedia([], MARKER)).ok
    fail_for_full_disk(cfg)
    publisher = make_publisher()
    with publisher.window() as connected:
        assert connected
        assert publisher.publish_status(publisher.collect_status())
    recorder.wait_for_payload("clinic/ml-kati/$state", b"sleeping")
    assert recorder.payloads("clinic/ml-kati/$state") == [b"init", b"alert", b"sleeping"]
    (payload,) = recorder.payloads("clinic/ml-kati/status")
    assert_valid("status", payload)
    assert json.loads(payload)["bf"] == 1

    monkeypatch.setenv(PASSWORD_ENV, OPS_PASSWORD)
    result = CliRunner().invoke(fleet, ["report", "--broker", "127.0.0.1", "--port", str(broker.port),
                                        "--no-tls", "--username", OPS_USER, "--settle", "0.5"])
    assert result.exit_code == 0, result.output
    (record,) = list(csv.DictReader(io.StringIO(result.stdout)))
    assert record["flags"] == "backup_failed" and record["backup_failed"] == "1"
    assert 0 <= float(record["backup_age_h"]) < 1
