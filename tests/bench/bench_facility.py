"""The facility head's view on 100,000 patients: ``coverage_page_p95_ms`` (HTTP round trip of the
coverage page, January to the last month of the record, budget ≤ 50 ms: the figures are reused
while the record has not changed), ``coverage_compute_p95_ms`` (the same figures computed from
the record, as the first reading after any write does), ``htn_cohort_p95_ms`` (the hypertension
quarterly cohort, budget ≤ 50 ms), and for information the chronic-care page, the access page and
the review sheet.

Works on a copy of the patient bench's cached 100k demo database, given a population per village
(1.4 × the patients registered there) so every rate has its denominator.
"""

from __future__ import annotations

import datetime as dt
import time

from tests.bench.bench_patients import patients_100k_database
from tests.bench.bench_reports import copy_database
from tests.bench.support import BUILD, Session, free_port, p95, web_process, write_config

PAGE_REQUESTS = 40
COHORT_RUNS = 40
COMPUTE_RUNS = 10


def _get(session: Session, path: str) -> float:
    status, _, elapsed = session.request("GET", path)
    if status != 200:
        raise RuntimeError(f"GET {path}: {status}")
    return elapsed


def run() -> dict:
    from appliance.facility.chronic import Quarter, cohort, register
    from appliance.facility.coverage import compute_coverage_year
    from appliance.facility.population import record_village
    from appliance.settings.reports import ReportSettings
    from appliance.store import open_and_migrate
    from appliance.store.audit import system_actor

    cached, meta = patients_100k_database()
    work = BUILD / "facility-bench"
    (work / "data").mkdir(parents=True, exist_ok=True)
    path = copy_database(cached, work / "data" / "appliance.db")
    db = open_and_migrate(path)
    try:
        last = dt.date.fromisoformat(db.execute_sql("SELECT MAX(visit_date) FROM consultation").fetchone()[0])
        year = last.year
        for village, people in db.execute_sql(
                "SELECT MIN(village), COUNT(*) FROM patient WHERE voided = 0 GROUP BY village_key").fetchall():
            record_village(system_actor("bench"), year, village, round(people * 1.4), "bench")
        registered = db.execute_sql("SELECT COUNT(DISTINCT patient_id) FROM chronic_visit WHERE programme = 'hta'"
                                    ).fetchone()[0]
        quarter = Quarter.of(last)
        cohort("hta", quarter, last)  # warm the page cache
        timings = []
        for _ in range(COHORT_RUNS):
            started = time.perf_counter()
            found = cohort("hta", quarter, last)
            timings.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        under_care = register("hta", last).under_care
        register_ms = (time.perf_counter() - started) * 1000
        settings = ReportSettings()
        compute_coverage_year(year, settings, last)
        computed = []
        for _ in range(COMPUTE_RUNS):
            started = time.perf_counter()
            compute_coverage_year(year, settings, last)
            computed.append((time.perf_counter() - started) * 1000)
    finally:
        db.close()
    port = free_port()
    config = write_config(work, data_dir=path.parent, port=port)
    with web_process(config, port):
        session = Session(port)
        session.login("medecin", meta["credentials"]["medecin"])
        coverage_url = f"/couverture/?annee={year}"
        for url in (coverage_url, "/chronique/", "/acces/", "/revue/"):
            _get(session, url)  # warm-up
        coverage = [_get(session, coverage_url) for _ in range(PAGE_REQUESTS)]
        chronic = [_get(session, "/chronique/") for _ in range(10)]
        access = [_get(session, f"/acces/?annee={year}") for _ in range(10)]
        review = [_get(session, f"/revue/?annee={year}") for _ in range(5)]
    return {
        "coverage_page_p95_ms": p95(coverage),
        "coverage_compute_p95_ms": p95(computed),
        "htn_cohort_p95_ms": p95(timings),
        "htn_cohort_size": found.registered,
        "htn_registered": registered,
        "htn_under_care": under_care,
        "htn_register_ms": round(register_ms, 1),
        "chronic_page_p95_ms": p95(chronic),
        "access_page_p95_ms": p95(access),
        "review_sheet_p95_ms": p95(review),
    }
