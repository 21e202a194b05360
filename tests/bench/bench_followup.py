"""Follow-up figures on the 100,000-patient demo record (the patients bench's cached database).

Each run works on a copy: the follow-up rows are recomputed there from scratch (what
``appliance followup recompute`` does after an import or a change of schedule), the pages are
served by a real ``appliance web`` process, and visits are written on that copy.

- followup_recompute_100k_s: the bulk recompute of every patient; followup_items_100k and
  followup_alerts_100k: what it stored;
- worklist_p95_ms: HTTP round trip of "À revoir" pages (each programme, the roles' defaults,
  villages, following pages); alerts_p95_ms: the alerts page (all, by type, by village, page 2);
- worklist_server_cpu_ms, alerts_server_cpu_ms: the server's CPU time per request (mean), which a
  busy shared machine barely moves, unlike the latencies;
- growth_chart_svg_p95_ms: a child's weight-for-age SVG;
- visit_write_p95_ms: ``record_visit`` of a vaccine dose, a growth measurement or a CPN, committed
  (synchronous=FULL), including the audit entry and the rules' recompute of the patient;
  followup_recompute_patient_p95_ms: that recompute alone, inside a transaction.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import sqlite3
import time
from pathlib import Path
from urllib.parse import urlencode

from tests.bench.bench_patients import _cpu_seconds, patients_100k_database
from tests.bench.support import BUILD, Session, free_port, p95, web_process, write_config

WORKLIST_REQUESTS = 400
ALERT_REQUESTS = 300
CHART_REQUESTS = 100
VISIT_WRITES = 300
SEED = 5


def _copy(cached: Path, work: Path) -> Path:
    """A consistent copy through SQLite's backup API (the cache may have a WAL beside it)."""
    shutil.rmtree(work, ignore_errors=True)
    (work / "data").mkdir(parents=True)
    target = work / "data" / "appliance.db"
    source = sqlite3.connect(f"file:{cached}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    source.backup(copy)
    copy.close()
    source.close()
    return target


def _recompute(path: Path) -> dict:
    from appliance.followup.service import recompute_all
    from appliance.store import open_and_migrate
    from appliance.store.db import checkpoint
    from appliance.store.migrations import discover

    db = open_and_migrate(path)
    try:
        # The cache may predate a follow-up migration: the store only applies steps above its
        # highest version, so apply any step of this area it lacks.
        applied = {row[0] for row in db.execute_sql("SELECT version FROM schema_version")}
        for step in discover():
            if 20 <= step.version < 30 and step.version not in applied:
                with db.atomic():
                    step.apply(db)
                    db.execute_sql("INSERT INTO schema_version VALUES (?, ?, datetime('now'))",
                                   (step.version, step.description))
        report = recompute_all()
        checkpoint()  # as ``appliance followup recompute`` does
    finally:
        db.close()
    return {"followup_recompute_100k_s": round(report.seconds, 1), "followup_items_100k": report.items,
            "followup_alerts_100k": report.alerts}


def _paths(path: Path, rng: random.Random) -> tuple[list[str], list[str], list[str]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    villages = [row[0] for row in db.execute("SELECT DISTINCT village_key FROM household")]
    children = [row[0] for row in db.execute(
        "SELECT DISTINCT patient_id FROM growth_measurement WHERE visit_date > date('now', '-400 days') LIMIT 2000")]
    db.close()
    worklists = []
    for programme in ("", "tous", "pev", "cpn", "croissance", "pf", "chronique"):
        worklists.append(f"/a-revoir?{urlencode({'programme': programme})}")
        worklists.append(f"/a-revoir?{urlencode({'programme': programme, 'village': rng.choice(villages)})}")
    alerts = ["/alertes", "/alertes?type=nutrition", "/alertes?type=grossesse", "/alertes?page=1"]
    alerts += [f"/alertes?{urlencode({'village': village})}" for village in villages]
    charts = [f"/patients/{patient_id}/croissance/wfa.svg" for patient_id in rng.sample(children, CHART_REQUESTS)]
    return worklists, alerts, charts


def _get(session: Session, path: str) -> tuple[str, float]:
    status, page, elapsed = session.request("GET", path)
    if status != 200:
        raise RuntimeError(f"GET {path}: {status}")
    return page, elapsed


def _web(work: Path, path: Path, password: str, rng: random.Random) -> dict:
    import re

    worklists, alerts, charts = _paths(path, rng)
    port = free_port()
    config = write_config(work, data_dir=path.parent, port=port)
    with web_process(config, port) as process:
        session = Session(port)
        session.login("medecin", password)
        for url in worklists + alerts[:4]:  # warm-up, and the "next page" links to follow
            page, _ = _get(session, url)
            following = re.search(r'href="(/a-revoir\?[^"]*apres=[^"]+)"', page)
            if following:
                worklists.append(following.group(1).replace("&amp;", "&"))
        cpu = _cpu_seconds(process.pid)
        worklist = [_get(session, worklists[index % len(worklists)])[1] for index in range(WORKLIST_REQUESTS)]
        cpu, worklist_cpu = _cpu_seconds(process.pid), _cpu_seconds(process.pid) - cpu
        alert = [_get(session, alerts[index % len(alerts)])[1] for index in range(ALERT_REQUESTS)]
        alert_cpu = _cpu_seconds(process.pid) - cpu
        chart = [_get(session, url)[1] for url in charts]
    return {"worklist_p95_ms": p95(worklist), "alerts_p95_ms": p95(alert), "growth_chart_svg_p95_ms": p95(chart),
            "worklist_server_cpu_ms": round(worklist_cpu * 1000 / WORKLIST_REQUESTS, 2),
            "alerts_server_cpu_ms": round(alert_cpu * 1000 / ALERT_REQUESTS, 2)}


def _writes(path: Path, rng: random.Random) -> dict:
    from appliance import hooks
    from appliance.clinical import preload
    from appliance.followup import service
    from appliance.patients.models import AntenatalVisit, GrowthMeasurement, Immunisation, Patient
    from appliance.patients.visits import record_visit
    from appliance.store import open_and_migrate
    from appliance.store.audit import Actor
    from appliance.store.models import User
    from appliance.wiring import record_hooks

    db = open_and_migrate(path)
    preload()
    today = dt.date.today()
    previous = hooks.install(record_hooks())  # a visit write runs the follow-up hook, as in the web
    try:
        nurse = User.get(User.username == "infirmier")
        actor = Actor(nurse.id, nurse.username, nurse.role)
        under_five = (today - dt.timedelta(days=1700)).isoformat()
        children = [row[0] for row in db.execute_sql(
            "SELECT id FROM patient WHERE birth_date > ? AND voided = 0", (under_five,))]
        mothers = [row[0] for row in db.execute_sql(
            "SELECT DISTINCT patient_id FROM antenatal_visit WHERE visit_date > date('now', '-120 days')")]
        writes, recomputes = [], []
        for index in range(VISIT_WRITES):
            if index % 3 == 2:
                patient = Patient.get_by_id(rng.choice(mothers))
                visit = AntenatalVisit(visit_date=today, gestational_age_weeks=rng.randint(14, 36), systolic=118,
                                       diastolic=74, parity=rng.randint(0, 6))
            else:
                patient = Patient.get_by_id(rng.choice(children))
                visit = (Immunisation(visit_date=today, antigen="PENTA", dose_number=rng.randint(1, 3),
                                      given_here=True) if index % 3 == 0
                         else GrowthMeasurement(visit_date=today, weight_kg=round(rng.uniform(6, 16), 1),
                                                height_cm=round(rng.uniform(65, 105), 1), position="debout",
                                                muac_mm=rng.randint(105, 160)))
            started = time.perf_counter()
            record_visit(actor, patient, visit)
            writes.append((time.perf_counter() - started) * 1000)
            with db.atomic() as transaction:
                started = time.perf_counter()
                service.recompute_patient(patient.id)
                recomputes.append((time.perf_counter() - started) * 1000)
                transaction.rollback()
    finally:
        hooks.install(previous)
        db.close()
    return {"visit_write_p95_ms": p95(writes), "followup_recompute_patient_p95_ms": p95(recomputes)}


def run() -> dict:
    cached, meta = patients_100k_database()
    work = BUILD / "followup-100k-run"
    path = _copy(cached, work)
    rng = random.Random(SEED)
    figures = _recompute(path)
    figures.update(_web(work, path, meta["credentials"]["medecin"], rng))
    figures.update(_writes(path, rng))
    return figures
