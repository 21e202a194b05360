"""Monthly report on 100,000 patients: ``report_build_s`` (budget ≤ 2 s), the drill-down of its
biggest cell, and the gzipped DHIS2 payload of the month (``report_payload_bytes_gzip``, budget ≤ 8 KB).

Works on a copy of the patient record bench's cached 100k demo database (``patients_100k_database``):
the copy gets this package's migrations and a few seconds of page cache, the cache stays untouched.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import statistics
import time
from pathlib import Path

from tests.bench.bench_patients import patients_100k_database
from tests.bench.support import BUILD

VISIT_TABLES = ("consultation", "antenatal_visit", "delivery", "postnatal_visit", "immunisation",
                "growth_measurement", "family_planning_visit", "chronic_visit")


def copy_database(cached: Path, target: Path) -> Path:
    """A consistent copy through SQLite's backup API (the cache may have a WAL beside it)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{cached}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    source.backup(copy)
    copy.close()
    source.close()
    return target


def run() -> dict:
    from appliance.dhis2.mapping import load_mapping
    from appliance.dhis2.payload import payload_for
    from appliance.reports.builder import Month, build_report, records_behind
    from appliance.settings.dhis2 import DEMO_MAPPING
    from appliance.settings.reports import ReportSettings
    from appliance.store import open_and_migrate

    cached, _meta = patients_100k_database()
    db = open_and_migrate(copy_database(cached, BUILD / "reports-bench.db"))
    try:
        last_visit = dt.date.fromisoformat(db.execute_sql("SELECT MAX(visit_date) FROM consultation").fetchone()[0])
        month = Month.of(last_visit).previous()  # the last full month of the record
        today = month.end + dt.timedelta(days=5)
        settings = ReportSettings()
        build_report(month.period, settings, today=today)  # warm the page cache, as a second click would
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            report = build_report(month.period, settings, today=today)
            timings.append(time.perf_counter() - started)
        biggest = max(report.figures.values.items(), key=lambda item: item[1])
        (indicator, disaggregation) = biggest[0]
        sex, band = disaggregation.split("_", 1)
        started = time.perf_counter()
        rows = records_behind(month.period, indicator, settings, sex=sex, band=band, today=today)
        drill_s = time.perf_counter() - started
        mapping = load_mapping(DEMO_MAPPING)
        payload = payload_for(report.figures, mapping, zeros="all", complete_date=today)
        visits = sum(db.execute_sql(f'SELECT COUNT(*) FROM "{table}" WHERE visit_date BETWEEN ? AND ?',
                                    (month.start.isoformat(), month.end.isoformat())).fetchone()[0]
                     for table in VISIT_TABLES)
    finally:
        db.close()
    assert len(rows) == biggest[1], "the drill-down must list exactly the records of its figure"
    return {
        "report_build_s": round(statistics.median(timings), 3),
        "report_month_visits": visits,
        "report_drilldown_s": round(drill_s, 3),
        "report_payload_values": len(payload.rows),
        "report_payload_bytes_gzip": len(payload.gzipped()),
    }
