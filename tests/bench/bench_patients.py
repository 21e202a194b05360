"""Patient record figures on 100,000 demo patients, through a real ``appliance web`` process.

The database is generated once with ``appliance demo-data`` and cached under build/bench/ (the
cache name follows the generator's code and data, so a change regenerates it); each run works on
a copy, so registrations never accumulate in the cache.

- search_p95_ms: HTTP round trip of a logged-in search (names with and without accents, spelling
  variants, prefixes, first + family name, phone prefixes, card numbers);
- sqlite_fts_p95_ms: the same queries' SQL statements run straight on SQLite (the floor);
- web_stack_floor_p95_ms: the round trip of a bare Flask view under waitress (tests/bench/bare_flask.py),
  what any page costs before it does anything; search_web_share_ms = search − stack floor − SQL floor;
- search_server_cpu_ms, chart_server_cpu_ms: the server's CPU time per request (mean), a figure that
  other work on a shared machine barely moves, unlike the latencies;
- chart_p95_ms: a patient's chart; register_p95_ms: a registration POST (duplicate check, card
  number, FTS index, audit and patient hooks); web_rss_mb_100k: the server's RSS afterwards.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlencode

from tests.bench.support import BUILD, Session, free_port, p95, rss_mb, web_process, write_config

ROOT = Path(__file__).resolve().parents[2]
PATIENTS = 100_000
SEED = 2024
GENERATOR_FILES = [*(f"appliance/demo/{name}.py" for name in ("generator", "reference", "bulk", "populate")),
                   *(f"appliance/clinical/data/{name}.toml" for name in ("epi_mali", "anc", "family_planning")),
                   "appliance/patients/normalize.py", "appliance/patients/registry.py",
                   "appliance/store/migrations/m0010_patients.py", "appliance/store/migrations/m0011_visits.py",
                   "appliance/store/migrations/m0150_search_villages.py"]
SEARCH_REQUESTS = 400
CHART_REQUESTS = 300
REGISTRATIONS = 120


def _generator_hash() -> str:
    digest = hashlib.sha256()
    files = [ROOT / name for name in GENERATOR_FILES]
    files += sorted((ROOT / "appliance/patients/data").rglob("*.csv"))
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def patients_100k_database() -> tuple[Path, dict]:
    """The cached 100k-patient database (generated if missing) and its metadata (credentials, time)."""
    directory = BUILD / f"patients-100k-{_generator_hash()}"
    meta_path = directory / "meta.json"
    if meta_path.exists() and (directory / "data" / "appliance.db").exists():
        return directory / "data" / "appliance.db", json.loads(meta_path.read_text())
    shutil.rmtree(directory, ignore_errors=True)
    config = write_config(directory)
    started = time.perf_counter()
    output = subprocess.run([sys.executable, "-m", "appliance", "demo-data", "--patients", str(PATIENTS),
                             "--seed", str(SEED), "--config", str(config)],
                            check=True, capture_output=True, text=True).stdout
    seconds = time.perf_counter() - started
    credentials = dict(re.findall(r"Compte créé : (\S+) / (\S+)", output))
    meta = {"seconds": round(seconds, 1), "credentials": credentials, "output": output}
    meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=1))
    meta_path.chmod(0o600)
    return directory / "data" / "appliance.db", meta


def _queries(db: sqlite3.Connection, rng: random.Random) -> list[str]:
    """What receptionists type: names as written or not, variants, prefixes, phones, card numbers."""
    names = ["Traoré", "traore", "Tarawele", "Coulibaly", "kulibali", "Diarra Fatoumata", "jara awa",
             "Keïta Modibo", "keita", "Sidibé Aminata", "Diallo", "Touré Moussa", "Konaté", "Dembele Seydou",
             "Maïga", "Ouattara", "Sanogo Mariam", "Guindo", "Tra", "Kon", "Fatou", "Dem", "Awa Traore",
             "Kadiatou Coulibaly", "Bagayoko", "Samake Oumar", "Doumbia", "Cissé", "Sangaré Hawa", "Diakité"]
    rows = db.execute("SELECT phone, local_number FROM patient WHERE phone != '' ORDER BY random() LIMIT 20")
    phones, numbers = [], []
    for phone, number in rows.fetchall():
        phones += [f"{phone[:2]} {phone[2:4]} {phone[4:6]}", phone]
        numbers += [number, number.rsplit("-", 1)[-1]]
    queries = names + phones[:16] + numbers[:14]
    rng.shuffle(queries)
    return queries


def _floor(db_path: Path, queries: list[str], repeat: int) -> float:
    """The SQL the app sends for each query, straight on SQLite: the cost no web layer can avoid."""
    from appliance.patients import normalize
    from appliance.patients.search import EXACT_SQL, PAGE_SIZE, SEARCH_SQL, match_expression

    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    prepared = [(match_expression(query), query.strip().upper(), normalize.id_key(query)) for query in queries]
    samples = []
    for index in range(repeat):
        expression, number, national_id = prepared[index % len(prepared)]
        started = time.perf_counter()
        db.execute(EXACT_SQL, (number, national_id)).fetchall()
        db.execute(SEARCH_SQL, (expression, PAGE_SIZE + 1, 0)).fetchall()
        samples.append((time.perf_counter() - started) * 1000)
    db.close()
    return p95(samples)


def _web_stack_floor(requests: int) -> float:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("bare_flask.py")), str(port), "4"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                session = Session(port)
                session.request("GET", "/")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(process.stderr.read().decode() if process.stderr else "") from None
                time.sleep(0.1)
        _timed_gets(session, ["/"] * 50)  # warm-up
        return p95(_timed_gets(session, ["/"] * requests))
    finally:
        process.terminate()
        process.wait(timeout=10)


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the server process has used: unlike latency, barely moved by
    other work on a shared machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _timed_gets(session: Session, paths: list[str]) -> list[float]:
    samples = []
    for path in paths:
        status, _, elapsed = session.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")
        samples.append(elapsed)
    return samples


def _register(session: Session, rng: random.Random, count: int) -> list[float]:
    families = ["Traoré", "Coulibaly", "Diarra", "Keïta", "Sidibé", "Diallo", "Konaté", "Dembélé"]
    samples = []
    for index in range(count):
        _, page, _ = session.request("GET", "/patients/nouveau")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        letters = "".join(chr(97 + (index // 26**power) % 26) for power in range(3))  # names take no digits
        body = urlencode({
            "csrf_token": token, "family_name": rng.choice(families), "first_names": f"Banc{letters}",
            "sex": rng.choice("FM"),
            "birth_date": dt.date(rng.randint(1950, 2024), rng.randint(1, 12), rng.randint(1, 28)).isoformat(),
            "village": rng.choice(["Pelengana", "Sébougou", "Kamba"]), "phone": f"7{rng.randrange(10**7):07d}",
        })
        status, _, elapsed = session.request("POST", "/patients/nouveau", body)
        if status != 302:
            raise RuntimeError(f"registration refused: {status}")
        samples.append(elapsed)
    return samples


def run() -> dict:
    cached, meta = patients_100k_database()
    work = BUILD / "patients-100k-run"
    shutil.rmtree(work, ignore_errors=True)
    (work / "data").mkdir(parents=True)
    shutil.copy2(cached, work / "data" / "appliance.db")
    for suffix in ("-wal", "-shm"):
        if cached.with_name(cached.name + suffix).exists():
            shutil.copy2(cached.with_name(cached.name + suffix), work / "data" / f"appliance.db{suffix}")
    port = free_port()
    config = write_config(work, data_dir=work / "data", port=port)

    rng = random.Random(SEED)
    db = sqlite3.connect(f"file:{work / 'data' / 'appliance.db'}?mode=ro", uri=True)
    queries = _queries(db, rng)
    ids = [row[0] for row in db.execute("SELECT id FROM patient ORDER BY random() LIMIT ?", (CHART_REQUESTS,))]
    # Mothers with many visits are the heaviest charts: a fifth of the sample.
    ids[: CHART_REQUESTS // 5] = [row[0] for row in db.execute(
        "SELECT patient_id FROM antenatal_visit GROUP BY patient_id ORDER BY count(*) DESC, patient_id "
        "LIMIT ?", (CHART_REQUESTS // 5,))]
    patients = db.execute("SELECT count(*) FROM patient").fetchone()[0]
    db.close()

    username, password = "medecin", meta["credentials"]["medecin"]
    with web_process(config, port) as process:
        session = Session(port)
        session.login(username, password)
        search_paths = [f"/patients/?q={quote(query)}" for query in queries]
        _timed_gets(session, search_paths[:20] + [f"/patients/{ids[0]}"] * 10)  # warm-up
        cpu = _cpu_seconds(process.pid)
        search = _timed_gets(session, [search_paths[i % len(search_paths)] for i in range(SEARCH_REQUESTS)])
        cpu, search_cpu = _cpu_seconds(process.pid), _cpu_seconds(process.pid) - cpu
        chart = _timed_gets(session, [f"/patients/{patient_id}" for patient_id in ids])
        chart_cpu = _cpu_seconds(process.pid) - cpu
        register = _register(session, rng, REGISTRATIONS)
        rss = rss_mb(process.pid)

    floor = _floor(work / "data" / "appliance.db", queries, SEARCH_REQUESTS)
    stack_floor = _web_stack_floor(SEARCH_REQUESTS)
    search_p95 = p95(search)
    return {
        "patients_count": patients,
        "demo_100k_seconds": meta["seconds"],
        "patients_db_mb": round(cached.stat().st_size / 2**20, 1),
        "search_p95_ms": search_p95,
        "sqlite_fts_p95_ms": floor,
        "search_over_floor": round(search_p95 / floor, 1) if floor else None,
        # The standing budget (≤ 4): a search against its two floors measured here, the bare Flask view
        # and the raw FTS5 query, which both move with the machine's load.
        "search_over_floors": round(search_p95 / (stack_floor + floor), 1) if floor and stack_floor else None,
        "web_stack_floor_p95_ms": stack_floor,
        "search_web_share_ms": round(search_p95 - stack_floor - floor, 2),
        "search_server_cpu_ms": round(search_cpu * 1000 / SEARCH_REQUESTS, 2),
        "chart_p95_ms": p95(chart),
        "chart_server_cpu_ms": round(chart_cpu * 1000 / CHART_REQUESTS, 2),
        "register_p95_ms": p95(register),
        "web_rss_mb_100k": rss,
    }
