"""Monthly report on 100,000 patients: ``report_build_s`` (budget ≤ 2 s), the drill-down of its
biggest cell, and the gzipped DHIS2 payload of the sealed figures (``report_payload_bytes_gzip``,
budget ≤ 8 KB).

The 100k demo record is generated once (appliance.demo.seed_demo, about three minutes) and cached
at build/bench/patients-100k.db, shared with the patient record's bench.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import shutil
import statistics
import time
from pathlib import Path

from tests.bench.support import BUILD

DEMO_DB = BUILD / "patients-100k.db"
PATIENTS = 100_000
SEED = 1


def cached_demo_db() -> Path:
    """The 100k-patient demo database, generated on first use (under a lock, then renamed into place)."""
    BUILD.mkdir(parents=True, exist_ok=True)
    with open(BUILD / "patients-100k.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not DEMO_DB.exists():
            from appliance.demo import seed_demo
            from appliance.store import open_and_migrate

            partial = DEMO_DB.with_suffix(".partial")
            for leftover in BUILD.glob(f"{partial.name}*"):
                leftover.unlink()
            db = open_and_migrate(partial)
            seed_demo(db, PATIENTS, SEED)
            db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            db.close()
            os.replace(partial, DEMO_DB)
    return DEMO_DB


def run() -> dict:
    from appliance.dhis2.mapping import DEMO_MAPPING, load_mapping
    from appliance.dhis2.payload import payload_for
    from appliance.reports.builder import Month, build_report, records_behind
    from appliance.reports.settings import ReportSettings
    from appliance.store import open_and_migrate

    source = cached_demo_db()
    work = BUILD / "reports-bench.db"
    shutil.copyfile(source, work)
    for suffix in ("-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    db = open_and_migrate(work)
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
                     for table in ("consultation", "antenatal_visit", "delivery", "postnatal_visit", "immunisation",
                                   "growth_measurement", "family_planning_visit", "chronic_visit"))
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
