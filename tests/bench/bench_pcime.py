"""PCIME and stock figures on the 100,000-patient demo record (a copy of the patients bench's cache).

- pcime_visit_write_p95_ms: ``record_pcime`` of a child under five (classification recomputed,
  consultation, 2-4 prescription lines with their coded rows, the assessment, audit entries and
  the follow-up hook's recompute of the patient), committed with synchronous=FULL;
- pcime_classify_p95_ms: ``classify`` plus the proposed doses alone (pure rules);
- pcime_reference_consultation_write_p95_ms: an ordinary consultation without prescription written
  the same way at the same moment, to read the PCIME write against on a loaded machine;
- stock_dispense_p95_ms: dispensing two lines (BEGIN IMMEDIATE, FEFO over several lots);
- stock_page_p95_ms: HTTP round trip of the stock page (/stock/: every product, months of stock,
  alerts, recounted from the moves) served by a real ``appliance web`` process, after a year of
  moves (receipts every month, ~30,000 dispensings); stock_month_p95_ms: the month's stock lines.
"""

from __future__ import annotations

import datetime as dt
import random
import time

from tests.bench.bench_followup import _copy
from tests.bench.bench_patients import patients_100k_database
from tests.bench.support import BUILD, Session, free_port, p95, web_process, write_config

WRITES = 200
PAGE_REQUESTS = 200
DISPENSINGS_PER_DAY = 80
SEED = 19
SIGN_SETS = [
    ("toux",), ("toux", "tirage"), ("fievre_atcd", "tdr_positif"), ("fievre_atcd", "tdr_negatif"),
    ("diarrhee", "agite_irritable", "yeux_enfonces"), ("diarrhee",), ("toux", "fievre_atcd", "tdr_positif"),
    ("probleme_oreille", "ecoulement_oreille"), ("paleur_legere",), ("fievre_atcd", "lethargique", "tdr_positif"),
]


def _fill_stock(today: dt.date, rng: random.Random) -> None:
    """A year of a busy dépôt: monthly receipts of every product, daily dispensings."""
    from appliance.clinical.pcime import formulary
    from appliance.stock.service import DispenseLine, dispense, receive
    from appliance.store.audit import system_actor

    actor = system_actor("bench")
    codes = list(formulary().medicines)
    start = today - dt.timedelta(days=365)
    for month in range(12):
        day = start + dt.timedelta(days=30 * month)
        for code in codes:
            receive(actor, code, 3000, lot=f"L{month}", expires_on=day + dt.timedelta(days=400), moved_on=day,
                    today=today)
    day = start
    while day < today:
        for _ in range(DISPENSINGS_PER_DAY // 8):
            lines = [DispenseLine(code, rng.randint(1, 6)) for code in rng.sample(codes, 2)]
            dispense(actor, lines, moved_on=day, reason="bench", today=today)
        day += dt.timedelta(days=1)


def _writes(path, rng: random.Random) -> dict:
    from appliance import hooks
    from appliance.clinical import pcime, preload
    from appliance.patients.models import Consultation, Patient
    from appliance.patients.visits import record_visit
    from appliance.pcime.service import proposed_lines, record_pcime
    from appliance.stock.service import DispenseLine, dispense
    from appliance.store import open_and_migrate
    from appliance.store.audit import Actor
    from appliance.store.models import User
    from appliance.wiring import record_hooks

    db = open_and_migrate(path)
    preload()
    today = dt.date.today()
    previous = hooks.install(record_hooks())
    try:
        _fill_stock(today, rng)
        nurse = User.get(User.username == "infirmier")
        actor = Actor(nurse.id, nurse.username, nurse.role)
        children = [row[0] for row in db.execute_sql(
            "SELECT id FROM patient WHERE birth_date > ? AND birth_date < ? AND voided = 0",
            ((today - dt.timedelta(days=1800)).isoformat(), (today - dt.timedelta(days=70)).isoformat()))]
        writes, classify, dispensing, reference = [], [], [], []
        for _ in range(WRITES):
            patient = Patient.get_by_id(rng.choice(children))
            age_days = (today - patient.birth_date).days
            weight = round(rng.uniform(6, 16), 1)
            facts = pcime.Facts(age_days, frozenset(rng.choice(SIGN_SETS)),
                                {"resp_rate": rng.randint(30, 60), "temperature_c": round(rng.uniform(36.5, 39.5), 1),
                                 "muac_mm": rng.randint(110, 150)})
            started = time.perf_counter()
            lines = [line for line, _dose in proposed_lines(pcime.classify(facts), age_days, weight)]
            classify.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            consultation = record_pcime(actor, patient, visit_date=today, facts=facts, overrides={}, lines=lines,
                                        weight_kg=weight, today=today)
            writes.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            dispense(actor, [DispenseLine(line.medicine, line.quantity or 1) for line in lines[:2]] or
                     [DispenseLine("paracetamol_100_cp", 6)], moved_on=today, patient_id=patient.id,
                     reason="bench", today=today)
            dispensing.append((time.perf_counter() - started) * 1000)
            del consultation
            started = time.perf_counter()
            record_visit(actor, Patient.get_by_id(rng.choice(children)),
                         Consultation(visit_date=today, reason="Fièvre", diagnosis_code="R50.9"), today=today)
            reference.append((time.perf_counter() - started) * 1000)
        moves = db.execute_sql("SELECT COUNT(*) FROM stock_move").fetchone()[0]
    finally:
        hooks.install(previous)
        db.close()
    return {"pcime_visit_write_p95_ms": p95(writes), "pcime_classify_p95_ms": p95(classify),
            "stock_dispense_p95_ms": p95(dispensing), "stock_moves_bench": moves,
            "pcime_reference_consultation_write_p95_ms": p95(reference)}


def _pages(work, path, password: str) -> dict:
    port = free_port()
    config = write_config(work, data_dir=path.parent, port=port)
    today = dt.date.today()
    with web_process(config, port) as process:
        del process
        session = Session(port)
        session.login("medecin", password)
        for url in ("/stock/", f"/stock/mois/{today.year}-{today.month}"):
            status, _, _ = session.request("GET", url)
            if status != 200:
                raise RuntimeError(f"GET {url}: {status}")
        page = [session.request("GET", "/stock/")[2] for _ in range(PAGE_REQUESTS)]
        month_url = f"/stock/mois/{today.year}-{today.month}"
        month = [session.request("GET", month_url)[2] for _ in range(PAGE_REQUESTS // 4)]
    return {"stock_page_p95_ms": p95(page), "stock_month_p95_ms": p95(month)}


def run() -> dict:
    cached, meta = patients_100k_database()
    work = BUILD / "pcime-100k-run"
    path = _copy(cached, work)
    rng = random.Random(SEED)
    figures = _writes(path, rng)
    figures.update(_pages(work, path, meta["credentials"]["medecin"]))
    return figures
