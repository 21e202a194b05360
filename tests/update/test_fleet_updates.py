"""Updates seen from afar: the slot and the last update in the status, versions and failures in the fleet view."""

from __future__ import annotations

import csv
import io

from rich.console import Console

from appliance.fleet.view import Fleet, render_table, versions, write_csv
from appliance.telemetry import probes
from appliance.telemetry.status import StatusSnapshot
from appliance.update.journal import Attempt, Journal, write_journal
from tests.telemetry.test_publisher import snapshot

NOW = 1_780_000_000.0


def test_the_status_carries_the_slot_and_the_last_update_in_few_bytes():
    status = snapshot(slot="B", update_version="1.3.0", update_outcome="rolled_back")
    payload = status.to_payload()
    assert b'"sl":"B","uv":"1.3.0","uo":"rolled_back"' in payload
    again = StatusSnapshot.from_payload(payload)
    assert (again.slot, again.update_version, again.update_outcome) == ("B", "1.3.0", "rolled_back")
    odd = snapshot(slot="-", update_outcome="whatever")
    assert odd.slot is None and odd.update_outcome is None  # off the card, unknown words: left out


def test_the_status_reads_the_update_journal(tmp_path):
    assert probes.update_figures(tmp_path) == {"slot": "-"}
    write_journal(tmp_path, Journal(last=Attempt(version="1.3.0", kind="app", channel="3g", outcome="kept")))
    assert probes.update_figures(tmp_path) == {
        "slot": "-", "update_version": "1.3.0", "update_outcome": "kept"}
    write_journal(tmp_path, Journal(pending=Attempt(version="1.4.0", kind="system", channel="usb", outcome="trial")))
    assert probes.update_figures(tmp_path)["update_outcome"] == "trial"


def fleet_of(**clinics) -> Fleet:
    view = Fleet()
    for site, pieces in clinics.items():
        view.ingest(f"clinic/{site}/status", snapshot(now=NOW - 60, **pieces).to_payload(), retained=True,
                    received_at=NOW)
    return view


def test_the_fleet_lists_versions_and_who_failed_to_update():
    view = fleet_of(**{
        "ml-a": {"version": "1.3.0", "slot": "B", "update_version": "1.3.0", "update_outcome": "kept"},
        "ml-b": {"version": "1.2.0", "slot": "A", "update_version": "1.3.0", "update_outcome": "rolled_back"},
        "ml-c": {"version": "1.10.0", "slot": "A"},
        "ml-d": {"version": "1.2.0", "update_version": "0.9.0", "update_outcome": "refused"},
    })
    rows = view.rows(now=NOW)
    assert versions(rows) == {"1.10.0": ["ml-c"], "1.3.0": ["ml-a"], "1.2.0": ["ml-b", "ml-d"]}
    assert {row.site_id for row in rows if "update_failed" in row.flags} == {"ml-b", "ml-d"}
    stream = io.StringIO()
    write_csv(rows, stream)
    records = {record["site_id"]: record for record in csv.DictReader(io.StringIO(stream.getvalue()))}
    assert (records["ml-b"]["slot"], records["ml-b"]["update_version"], records["ml-b"]["update_outcome"]) == (
        "A", "1.3.0", "rolled_back")
    console = Console(width=200, record=True)
    console.print(render_table(rows, now=NOW, broker="test"))
    text = console.export_text()
    assert "Versions : 1.10.0 × 1 (ml-c) · 1.3.0 × 1 (ml-a) · 1.2.0 × 2 (ml-b, ml-d)" in text
    assert "1.2.0 (A)" in text and "dernière mise à jour non appliquée" in text
