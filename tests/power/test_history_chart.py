"""The battery history (one row per interval, real SQLite) and its 7-day SVG chart."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from appliance.emr.battery_chart import battery_history_svg
from appliance.power.filter import Verdict
from appliance.power.history import HistoryRecorder
from appliance.power.monitor import BatterySnapshot, BatteryState
from appliance.power.simulation import SolarBatteryModel
from appliance.settings.power import PowerSettings
from appliance.store.device import BatteryReading, last_days, latest_reading

SVG = "{http://www.w3.org/2000/svg}"
NOW = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)  # a Monday


def snapshot(state=BatteryState.OK) -> BatterySnapshot:
    return BatterySnapshot(state, 12.5, 90.0, False, False, False)


def test_one_row_per_interval_with_mean_min_and_max(store):
    recorder = HistoryRecorder(PowerSettings())  # 10-minute interval
    start = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    for minute, volts in enumerate([12.4, 12.6, 12.5] + [12.2] * 7 + [12.0]):
        verdict = Verdict(volts, True, volts) if minute != 4 else Verdict(float("nan"), False, 12.5)
        recorder.add(verdict, snapshot(), start + timedelta(minutes=minute))
    rows = list(BatteryReading.select().order_by(BatteryReading.at))
    assert len(rows) == 1  # the second interval is still open
    first = rows[0]
    assert first.at == datetime(2025, 3, 1, 8, 0)
    assert (first.samples, first.rejected) == (9, 1)
    assert (first.voltage_min, first.voltage_max) == (12.2, 12.6)
    recorder.flush()
    assert latest_reading().voltage == 12.0


def test_old_rows_are_pruned_after_the_retention(store):
    settings = dataclasses.replace(PowerSettings(), history_retention_days=7)
    recorder = HistoryRecorder(settings)
    for day in (20, 9, 1):
        recorder.add(Verdict(12.5, True, 12.5), snapshot(), NOW - timedelta(days=day))
        recorder.flush()
    assert [row.at.date() for row in BatteryReading.select()] == [(NOW - timedelta(days=1)).date()]


def simulated_week(capacity_ah=30.0):
    power = PowerSettings()
    settings = dataclasses.replace(power.simulation, capacity_ah=capacity_ah, initial_soc_pct=45)
    model = SolarBatteryModel(settings, power.curve, "lead_acid", NOW - timedelta(days=7), UTC)
    rows, moment = [], NOW - timedelta(days=7)
    while moment < NOW:
        volts = []
        for _ in range(10):
            moment += timedelta(minutes=1)
            model.advance_to(moment)
            volts.append(model.voltage)
        rows.append(BatteryReading(at=(moment - timedelta(minutes=10)).replace(tzinfo=None),
                                   voltage=sum(volts) / 10, voltage_min=min(volts), voltage_max=max(volts),
                                   state="ok"))
    return rows


def test_the_chart_is_valid_small_svg_with_days_thresholds_and_a_summary():
    rows = simulated_week()
    svg = battery_history_svg(rows, now=NOW, low_v=11.9, critical_v=11.6)
    root = ET.fromstring(svg)
    assert root.get("viewBox") == "0 0 360 230" and root.get("role") == "img"
    texts = [element.text for element in root.iter(f"{SVG}text")]
    days = {f"{element.text} {element.find(f'{SVG}tspan').text}" for element in root.iter(f"{SVG}text")
            if element.find(f"{SVG}tspan") is not None}
    assert {"lun. 3", "mar. 4", "dim. 9"} <= days
    assert "faible 11,9 V" in texts and "critique 11,6 V" in texts
    assert root.find(f"{SVG}desc").text.startswith("Dernière mesure")
    assert len(root.findall(f"{SVG}polyline")) == 1
    assert len(svg.encode()) < 12_000
    assert "<script" not in svg and "http" not in svg.replace("http://www.w3.org/2000/svg", "")


def test_a_gap_breaks_the_line_and_nothing_is_drawn_out_of_the_window():
    rows = simulated_week()
    kept = [row for row in rows if not NOW - timedelta(days=4) < row.at.replace(tzinfo=UTC) < NOW - timedelta(days=3)]
    old = BatteryReading(at=(NOW - timedelta(days=30)).replace(tzinfo=None), voltage=10.0, state="low")
    root = ET.fromstring(battery_history_svg([*kept, old], now=NOW))
    assert len(root.findall(f"{SVG}polyline")) == 2
    assert "10,0" not in {element.text for element in root.iter(f"{SVG}text")}  # the axis ignored the old row


def test_no_reading_says_so_in_french():
    root = ET.fromstring(battery_history_svg([], now=NOW))
    assert "Aucune mesure sur les 7 derniers jours" in [element.text for element in root.iter(f"{SVG}text")]


def test_last_days_reads_the_rows_the_page_needs(store):
    for day in (8, 6, 0.5):
        BatteryReading.create(at=(NOW - timedelta(days=day)).replace(tzinfo=None), voltage=12.5, voltage_min=12.4,
                              voltage_max=12.6, soc_pct=90, state="ok", charging=False, samples=10, rejected=0)
    rows = last_days(7, now=NOW)
    assert [round((NOW.replace(tzinfo=None) - row.at).days) for row in rows] == [6, 0]
