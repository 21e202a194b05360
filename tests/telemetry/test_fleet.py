"""The ops fleet view: folding, trouble ranking, CSV and live table, against a real broker too."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from appliance.fleet.cli import PASSWORD_ENV, fleet
from appliance.fleet.collector import BrokerAccess, FleetCollector
from appliance.fleet.view import CSV_COLUMNS, Fleet, write_csv
from appliance.telemetry.counters import MemoryCounters
from appliance.telemetry.publisher import TelemetryPublisher
from tests.telemetry import fleet_sim
from tests.telemetry.conftest import CLINICS, plain_settings
from tests.telemetry.mosquitto import CLINIC_ACL, OPS_PASSWORD, OPS_USER, Mosquitto
from tests.telemetry.test_publisher import snapshot

NOW = 1_780_000_000.0


def status_bytes(**pieces) -> bytes:
    return snapshot(**pieces).to_payload()


def test_rows_are_sorted_by_trouble_and_silence_is_flagged():
    view = Fleet()
    view.ingest("clinic/ml-ok/$state", b"sleeping", retained=True, received_at=NOW)
    view.ingest("clinic/ml-ok/status", status_bytes(now=NOW - 3600), retained=True, received_at=NOW)
    view.ingest("clinic/ml-mute/$state", b"sleeping", retained=True, received_at=NOW)
    view.ingest("clinic/ml-mute/status", status_bytes(now=NOW - 30 * 3600), retained=True, received_at=NOW)
    view.ingest("clinic/ml-low/status", status_bytes(now=NOW - 600, battery_state="low"), retained=True,
                received_at=NOW)
    view.ingest("clinic/ml-cut/status", status_bytes(now=NOW - 600), retained=True, received_at=NOW)
    view.ingest("clinic/ml-cut/$state", b"lost", retained=False, received_at=NOW)
    view.ingest("clinic/ml-bad/status", b"{not json", retained=True, received_at=NOW)
    view.ingest("elsewhere/ml-x/status", status_bytes(), retained=True, received_at=NOW)

    rows = view.rows(now=NOW, silent_after_s=24 * 3600)
    assert [(row.site_id, row.flags) for row in rows] == [
        ("ml-bad", ("silent", "bad_status")),
        ("ml-mute", ("silent",)),
        ("ml-cut", ("lost",)),  # the broker's will is not the clinic speaking: seen 10 min ago
        ("ml-low", ("battery_low",)),
        ("ml-ok", ()),
    ]
    assert rows[2].silent_s == 600


def test_events_are_deduplicated_and_a_fast_clock_does_not_look_fresher():
    view = Fleet()
    event = json.dumps({"id": "0a1b2c3d", "t": int(NOW + 7200), "k": "clock_jump", "d": {"jump_s": 7200}})
    for _ in range(2):  # QoS 1 is at least once
        view.ingest("clinic/ml-a/events", event.encode(), retained=False, received_at=NOW)
    clinic = view.clinics["ml-a"]
    assert clinic.events == 1 and clinic.last_event["k"] == "clock_jump"
    assert clinic.last_seen == NOW


def test_csv_has_one_documented_row_per_clinic():
    view = Fleet()
    view.ingest("clinic/ml-a/status", status_bytes(now=NOW - 60, modem_bytes_month=2_500_000), retained=True,
                received_at=NOW)
    view.ingest("clinic/ml-a/$state", b"sleeping", retained=True, received_at=NOW)
    stream = io.StringIO()
    write_csv(view.rows(now=NOW), stream)
    (record,) = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert tuple(record) == CSV_COLUMNS
    assert record["site_id"] == "ml-a" and record["state"] == "sleeping" and record["flags"] == ""
    assert record["battery_v"] == "12.73" and record["modem_mb_month"] == "2.5"
    assert record["last_seen_utc"] == "2026-05-28T20:25:40Z"


def _publish_day(port: int, site_id: str, **pieces) -> None:
    publisher = TelemetryPublisher(plain_settings(port), site_id, password=CLINICS[site_id], version="0.1.0",
                                   counters=MemoryCounters())
    with publisher.window() as connected:
        assert connected
        assert publisher.publish_status(snapshot(now=time.time() - 60, **pieces))


def test_report_and_watch_against_a_broker(broker, monkeypatch):
    _publish_day(broker.port, "ml-kati", battery_state="critical", battery_v=11.3)
    _publish_day(broker.port, "ml-sikasso")
    monkeypatch.setenv(PASSWORD_ENV, OPS_PASSWORD)
    common = ["--broker", "127.0.0.1", "--port", str(broker.port), "--no-tls", "--username", OPS_USER]

    result = CliRunner().invoke(fleet, ["report", *common, "--settle", "0.5"])
    assert result.exit_code == 0, result.output
    records = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(record["site_id"], record["state"], record["flags"]) for record in records] == [
        ("ml-kati", "sleeping", "battery_critical"), ("ml-sikasso", "sleeping", "")]
    assert "2 cliniques, 1 à surveiller" in result.stderr

    watched = CliRunner().invoke(fleet, ["watch", *common, "--duration", "0.5", "--refresh", "0.2"],
                                 env={"COLUMNS": "160"})
    assert watched.exit_code == 0, watched.output
    assert "ml-kati" in watched.stdout and "batterie critique" in watched.stdout

    refused = CliRunner().invoke(fleet, ["report", "--broker", "127.0.0.1", "--port", str(broker.port),
                                         "--no-tls", "--username", "ml-kati"])
    assert refused.exit_code == 1 and "refusée" in refused.stderr


def test_report_over_tls(pki, tmp_path, monkeypatch):
    users = {**CLINICS, OPS_USER: OPS_PASSWORD}
    with Mosquitto(tmp_path / "tls", users=users, acl=CLINIC_ACL, pki=pki) as tls_broker:
        publisher = TelemetryPublisher(plain_settings(tls_broker.port, tls=True, ca_file=pki.ca_cert), "ml-kati",
                                       password=CLINICS["ml-kati"], version="0.1.0", counters=MemoryCounters())
        with publisher.window():
            assert publisher.publish_status(snapshot(now=time.time()))
        monkeypatch.setenv(PASSWORD_ENV, OPS_PASSWORD)
        result = CliRunner().invoke(fleet, ["report", "--broker", "127.0.0.1", "--port", str(tls_broker.port),
                                            "--ca-file", str(pki.ca_cert), "--username", OPS_USER,
                                            "--settle", "0.5"])
    assert result.exit_code == 0, result.output
    (record,) = list(csv.DictReader(io.StringIO(result.stdout)))
    assert record["site_id"] == "ml-kati" and record["state"] == "sleeping"


FLEET_SIZE = 1000
EXPECTED_FLAGS = {
    "normal": "", "low": "battery_low", "critical": "battery_critical", "dead_letters": "dead_letters",
    "lost": "lost", "silent": "silent",
}


@pytest.mark.slow
def test_a_thousand_clinics_live_a_day_and_the_fleet_report_shows_every_one(tmp_path):
    users = {**fleet_sim.credentials(FLEET_SIZE), OPS_USER: OPS_PASSWORD}
    with Mosquitto(tmp_path / "national", users=users, acl=CLINIC_ACL) as broker:
        live = FleetCollector(BrokerAccess("127.0.0.1", broker.port, tls=False, username=OPS_USER,
                                           password=OPS_PASSWORD))
        live.start()
        fleet_sim.simulate_day(FLEET_SIZE, broker.port, processes=4, threads=8)

        report = tmp_path / "fleet.csv"
        subprocess.run(
            [sys.executable, "-m", "appliance", "fleet", "report", "--broker", "127.0.0.1", "--port",
             str(broker.port), "--no-tls", "--username", OPS_USER, "--settle", "1", "--output", str(report)],
            check=True, timeout=300, env={PASSWORD_ENV: OPS_PASSWORD, "PATH": "/usr/bin:/bin"},
            cwd=Path(__file__).resolve().parents[2], capture_output=True,
        )
        live.settle(quiet_s=1, timeout_s=60)
        live_rows = {row.site_id: row for row in live.rows(now=time.time(), silent_after_s=24 * 3600)}
        live.stop()

    records = list(csv.DictReader(report.open(encoding="utf-8")))
    assert len(records) == FLEET_SIZE
    troubles = [int(record["trouble"]) for record in records]
    assert troubles == sorted(troubles, reverse=True)
    by_site = {record["site_id"]: record for record in records}
    for clinic in fleet_sim.fleet(FLEET_SIZE):
        record = by_site[clinic.site_id]
        assert record["state"] == ("lost" if clinic.profile == "lost" else "sleeping"), record
        assert record["flags"] == EXPECTED_FLAGS[clinic.profile], record
        assert float(record["battery_v"]) == clinic.battery_v
        assert int(record["outbox_depth"]) == clinic.outbox_depth
        assert float(record["modem_mb_month"]) == round(clinic.modem_bytes_month / 1e6, 1)
        if clinic.profile == "critical":  # events are not retained: only a watcher that was there sees them
            assert live_rows[clinic.site_id].last_event["k"] == "battery_critical"

