"""Antenatal contact writes on the 100,000-patient demo record (a copy of the patients bench's cache).

- anc_visit_write_p95_ms: ``record_visit`` of a CPN contact, committed (synchronous=FULL), with
  everything the pregnancy record adds to it: the woman's open pregnancy found (or a new one opened
  at a first contact), the dating, history and SP spacing checked, what the contact carries written
  to the pregnancy, the contacts renumbered, the audit entries and the follow-up hook's recompute
  (due items, the pregnancy's risk rules with fundal height and weight). Three contacts in four
  join an open pregnancy, one in four opens one. Budget 15 ms here.
- anc_visit_write_median_ms: the same writes' median, to read against the p95 on a loaded machine.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time

from tests.bench.bench_followup import _copy
from tests.bench.bench_patients import patients_100k_database
from tests.bench.support import BUILD, p95

WRITES = 300
SEED = 23


def _writes(path, rng: random.Random) -> dict:
    from appliance import hooks
    from appliance.clinical import preload
    from appliance.patients.errors import VisitError
    from appliance.patients.models import AntenatalVisit, Patient
    from appliance.patients.visits import record_visit
    from appliance.store import open_and_migrate
    from appliance.store.audit import Actor
    from appliance.store.models import User
    from appliance.wiring import record_hooks

    db = open_and_migrate(path)
    preload()
    today = dt.date.today()
    previous = hooks.install(record_hooks())  # as in the web: the follow-up recomputes in the write
    try:
        midwife = User.get(User.username == "infirmier")
        actor = Actor(midwife.id, midwife.username, midwife.role)
        pregnant = [row[0] for row in db.execute_sql(
            "SELECT patient_id FROM pregnancy WHERE voided = 0 AND ended_on IS NULL "
            "AND opened_on > date('now', '-180 days')")]
        women = [row[0] for row in db.execute_sql(
            "SELECT id FROM patient WHERE sex = 'F' AND voided = 0 AND birth_date BETWEEN ? AND ? "
            "AND id NOT IN (SELECT patient_id FROM pregnancy WHERE ended_on IS NULL) LIMIT 5000",
            ((today - dt.timedelta(days=40 * 365)).isoformat(), (today - dt.timedelta(days=17 * 365)).isoformat()))]
        rng.shuffle(women)
        writes, refused = [], 0
        for index in range(WRITES):
            first = index % 4 == 3
            patient = Patient.get_by_id(women.pop() if first else rng.choice(pregnant))
            weeks = rng.randint(8, 14) if first else None
            visit = AntenatalVisit(
                visit_date=today, lmp_date=today - dt.timedelta(weeks=weeks) if first else None,
                gravidity=rng.randint(1, 6) if first else None, weight_kg=round(rng.gauss(62, 8), 1),
                systolic=rng.randint(100, 150), diastolic=rng.randint(60, 95),
                fundal_height_cm=None if first else rng.randint(18, 36), danger_signs="",
                iptp_dose=1 if index % 3 == 0 and not first else None, iron_folic=True, iron_folic_tablets=30)
            if first:
                visit.parity = rng.randint(0, visit.gravidity - 1)
            started = time.perf_counter()
            try:
                record_visit(actor, patient, visit, today=today)
            except VisitError:  # SP again within 4 weeks: refused before anything is written
                refused += 1
                continue
            writes.append((time.perf_counter() - started) * 1000)
    finally:
        hooks.install(previous)
        db.close()
    return {"anc_visit_write_p95_ms": p95(writes),
            "anc_visit_write_median_ms": round(statistics.median(writes), 2),
            "anc_visit_writes_refused": refused}


def run() -> dict:
    cached, _meta = patients_100k_database()
    path = _copy(cached, BUILD / "anc-work")
    return _writes(path, random.Random(SEED))
