"""The fleet exporter: inventory checks, exposition lines, and the service against a real Mosquitto."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import unicodedata
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from appliance.fleet.cli import fleet
from appliance.fleet.collector import BrokerAccess
from appliance.fleet.exporter import METRIC_NAMES, FleetExporter, FleetMetrics
from appliance.fleet.inventory import InventoryError, Site, load_inventory, parse_inventory
from tests.ops.exposition import parse_exposition
from tests.telemetry.mosquitto import OPS_PASSWORD, OPS_USER, free_port
from tests.telemetry.test_publisher import snapshot

NOW = 1_780_000_000.0
INVENTORY = {
    "ml-kati": Site("ml-kati", "Kati", "Koulikoro", 'CSCom "Centre" de Kati'),
    "ml-sikasso": Site("ml-sikasso", "Sikasso", "Sikasso"),
}


def test_inventory_accepts_a_french_spreadsheet_export():
    text = ("\ufeffsite_id;district;region;name;latitude;longitude\n"
            "cscom-kati-01;Kati;Koulikoro;CSCom de Kati;12,744;-8,072\n\n"
            "cscom-kita-02;Kita;Kayes;;;\n")
    sites = parse_inventory(text.removeprefix("\ufeff"))
    assert sites["cscom-kati-01"] == Site("cscom-kati-01", "Kati", "Koulikoro", "CSCom de Kati", 12.744, -8.072)
    assert sites["cscom-kita-02"].latitude is None


def test_inventory_lists_every_bad_line_and_loads_nothing():
    text = ("site_id,district,region,latitude,longitude\n"
            "cscom-kati-01,Kati,Koulikoro,,\n"
            "CSCom Kati,Kati,Koulikoro,,\n"
            "cscom-kati-01,Kati,Koulikoro,,\n"
            "cscom-bla-01,,Ségou,95,1\n"
            "cscom-x-01,Kati\n")
    with pytest.raises(InventoryError) as caught:
        parse_inventory(text, source="flotte.csv")
    message = str(caught.value)
    assert "flotte.csv : 5 problème(s), rien n'est chargé" in message
    assert "ligne 3 : site_id « CSCom Kati » invalide" in message
    assert "ligne 4 : site_id « cscom-kati-01 » en double (déjà ligne 2)" in message
    assert "ligne 5 : district vide" in message and "ligne 5 : latitude 95 hors de [-90, 90]" in message
    assert "ligne 6 : 2 colonnes au lieu de 5" in message


def test_inventory_reads_french_excel_as_saved(tmp_path):
    # « CSV (séparateur : point-virgule) »: Windows-1252, CRLF, headings typed with accents and capitals,
    # Excel's trailing separators on every line, blank lines at the end.
    path = tmp_path / "flotte.csv"
    path.write_bytes("Site ID;District;Région;Name;Latitude;Longitude;;\r\n"
                     "cscom-segou-01;Ségou;Ségou;CSCom de Pélengana;13,44;-6,26;;\r\n;;;;;;;\r\n\r\n"
                     .encode("cp1252"))
    assert load_inventory(path) == {"cscom-segou-01": Site("cscom-segou-01", "Ségou", "Ségou", "CSCom de Pélengana",
                                                           13.44, -6.26)}


def test_inventory_lines_are_counted_as_an_editor_counts_them():
    text = ('sep=,\nsite_id,district,region,name\ncscom-a,Kati,Koulikoro,"CSCom\nCentre"\n'
            "cscom-b,Kati,Koulikoro,B\ncscom-b,Kati,Koulikoro,B\n")
    with pytest.raises(InventoryError) as caught:
        parse_inventory(text, source="flotte.csv")
    assert "ligne 3 : name : retour à la ligne ou tabulation dans la valeur" in str(caught.value)
    assert "ligne 6 : site_id « cscom-b » en double (déjà ligne 5)" in str(caught.value)


def test_inventory_labels_get_the_shared_text_rule():
    # « Ségou » saved by a Mac (decomposed accent) is the same district label as « Ségou » typed in Excel.
    text = (unicodedata.normalize("NFD", "site_id,district,region\ncscom-a,Ségou,Ségou\n")
            + "cscom-b,S\u00e9gou,S\u00e9gou\n")
    sites = parse_inventory(text)
    assert sites["cscom-a"].district == sites["cscom-b"].district == "S\u00e9gou"
    with pytest.raises(InventoryError, match="ligne 2 : region : caractère invisible ou de contrôle "
                                             r"\(U\+200B\)"):
        parse_inventory("site_id,district,region\ncscom-a,Kati,Koulikoro\u200b\n")


def test_inventory_header_is_checked():
    with pytest.raises(InventoryError, match="colonnes obligatoires absentes : region"):
        parse_inventory("site_id,district\ncscom-a,Kati\n")
    with pytest.raises(InventoryError, match="colonnes inconnues : zone"):
        parse_inventory("site_id,district,region,zone\ncscom-a,Kati,Koulikoro,x\n")


def fold(*messages: tuple[str, bytes, bool, float]) -> dict:
    metrics = FleetMetrics(INVENTORY)
    for topic, payload, retained, received_at in messages:
        metrics.ingest(topic, payload, retained=retained, received_at=received_at)
    return parse_exposition(metrics.render().decode())


def test_a_live_status_becomes_labelled_series():
    status = snapshot(now=NOW - 30, last_backup=NOW - 7200, backup_failed=False).to_payload()
    samples = fold(("clinic/ml-kati/$state", b"ready", False, NOW),
                   ("clinic/ml-kati/status", status, False, NOW))
    kati = {"site": "ml-kati", "district": "Kati", "region": "Koulikoro"}

    def value(metric: str, **extra: str) -> float:
        return samples[(metric, frozenset({**kati, **extra}.items()))]

    assert value("clinic_state", state="ready") == 1
    assert value("clinic_battery_volts") == 12.73 and value("clinic_battery_state", state="ok") == 1
    assert value("clinic_battery_charge_ratio") == 0.82
    assert value("clinic_modem_month_bytes") == 1_234_567
    assert value("clinic_disk_free_bytes") == 5120 * 1024 * 1024
    assert value("clinic_clock_offset_seconds") == -30  # the device clock is 30 s behind
    assert value("clinic_backup_age_seconds") == 7170 and value("clinic_backup_none") == 0
    assert value("clinic_last_seen_timestamp_seconds") == NOW
    assert value("clinic_info", name='CSCom "Centre" de Kati', version="0.1.0") == 1
    # Sikasso is in the inventory but never spoke: only its info line, so "silent" can be told.
    assert {name for name, labels in samples if ("site", "ml-sikasso") in labels} == {"clinic_info"}
    assert samples[("fleet_inventory_clinics", frozenset())] == 2


def test_unknown_clinics_get_no_series_and_events_are_counted_once_by_kind():
    event = json.dumps({"id": "0a1b2c3d", "t": int(NOW), "k": "battery_critical", "d": {"bv": 11.3}}).encode()
    odd = json.dumps({"id": "0a1b2c3e", "t": int(NOW), "k": "from_the_future"}).encode()
    samples = fold(("clinic/ml-kati/events", event, False, NOW), ("clinic/ml-kati/events", event, False, NOW),
                   ("clinic/ml-kati/events", odd, False, NOW),
                   ("clinic/ml-intrus/status", snapshot().to_payload(), True, NOW),
                   ("clinic/ml-intrus/$state", b"ready", True, NOW), ("clinic/a/b/c", b"x", False, NOW))
    kati = {("site", "ml-kati"), ("district", "Kati"), ("region", "Koulikoro")}
    assert samples[("clinic_events_total", frozenset({*kati, ("kind", "battery_critical")}))] == 1
    assert samples[("clinic_events_total", frozenset({*kati, ("kind", "other")}))] == 1
    assert not any(("site", "ml-intrus") in labels for _, labels in samples)
    assert samples[("fleet_unknown_clinics", frozenset())] == 1
    assert samples[("fleet_ignored_messages_total", frozenset({("reason", "unknown_site")}))] == 2
    assert samples[("fleet_ignored_messages_total", frozenset({("reason", "bad_topic")}))] == 1


def test_a_retained_status_gives_no_clock_offset_and_a_bad_one_is_flagged():
    samples = fold(("clinic/ml-kati/status", snapshot(now=NOW - 3600).to_payload(), True, NOW),
                   ("clinic/ml-sikasso/status", b"{oops", True, NOW))
    names = {name for name, labels in samples if ("site", "ml-kati") in labels}
    assert "clinic_clock_offset_seconds" not in names and "clinic_battery_volts" in names
    sikasso = frozenset({("site", "ml-sikasso"), ("district", "Sikasso"), ("region", "Sikasso")})
    assert samples[("clinic_status_invalid", sikasso)] == 1


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool (Debian's prometheus) is not installed")
def test_promtool_accepts_the_exposition():
    metrics = FleetMetrics(INVENTORY)
    metrics.ingest("clinic/ml-kati/status", snapshot(last_backup=NOW - 60, backup_failed=True).to_payload(),
                   retained=False, received_at=NOW)
    metrics.ingest("clinic/ml-kati/$state", b"alert", retained=True, received_at=NOW)
    body = metrics.render()
    result = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert {name for name, _ in parse_exposition(body.decode())} <= METRIC_NAMES


def scrape(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return parse_exposition(response.read().decode())


def wait_for(predicate, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_exporter_follows_a_real_broker(broker, make_publisher):
    access = BrokerAccess("127.0.0.1", broker.port, tls=False, username=OPS_USER, password=OPS_PASSWORD)
    publisher = make_publisher("ml-kati")
    assert publisher.open_window()
    assert publisher.publish_status(snapshot(now=time.time(), battery_state="critical", battery_v=11.2))
    with FleetExporter(access, INVENTORY, port=0) as exporter:
        port = exporter.address[1]
        kati = frozenset({("site", "ml-kati"), ("district", "Kati"), ("region", "Koulikoro")})
        samples = wait_for(lambda: (s := scrape(port)).get(("clinic_battery_volts", kati)) and s)
        assert samples[("clinic_battery_volts", kati)] == 11.2
        assert samples[("fleet_broker_connected", frozenset())] == 1
        publisher.close_window()
        wait_for(lambda: scrape(port).get(("clinic_state", kati | {("state", "sleeping")})))
        broker.stop()  # the broker goes away: the exporter says so and keeps serving what it knows
        samples = wait_for(lambda: (s := scrape(port))[("fleet_broker_connected", frozenset())] == 0 and s)
        assert samples[("clinic_battery_state", kati | {("state", "critical")})] == 1


def test_the_command_refuses_a_bad_inventory_in_french(tmp_path: Path):
    inventory = tmp_path / "flotte.csv"
    inventory.write_text("site_id,district,region\nml-kati,,Koulikoro\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "appliance", "fleet", "exporter", "--broker", "127.0.0.1",
                             "--no-tls", "--inventory", str(inventory), "--listen", f"127.0.0.1:{free_port()}"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Erreur d'inventaire" in result.stderr and "ligne 2 : district vide" in result.stderr


def test_check_inventory_counts_what_the_file_holds(tmp_path: Path):
    inventory = tmp_path / "flotte.csv"
    inventory.write_text("site_id,district,region\nml-kati,Kati,Koulikoro\nml-kati-2,Kati,Koulikoro\n"
                         "ml-kita,Kita,Kayes\n", encoding="utf-8")
    result = CliRunner().invoke(fleet, ["check-inventory", str(inventory)])
    assert result.exit_code == 0, result.output
    assert result.output.endswith("3 cliniques, 2 districts, 2 régions.\n")
    inventory.write_text("site_id,district,region\nml-kati,Kati,Koulikoro\nml-kati,Kati,Koulikoro\n")
    result = CliRunner().invoke(fleet, ["check-inventory", str(inventory)])
    assert result.exit_code == 2 and "ligne 3 : site_id « ml-kati » en double (déjà ligne 2)" in result.output
