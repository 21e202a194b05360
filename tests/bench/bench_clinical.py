"""Clinical rules figures: the cost the EMR pays per visit write, and the WHO tables' memory.

The visit-write budget (p95 <= 15 ms on the Pi, about 4x slower than this machine) includes these
rules, so they must stay far below a millisecond here. Each figure runs in a fresh process for the
cold ones (first table load, memory), in this process for the warm per-call ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import date, timedelta

from tests.bench.support import p95

COLD = """
import json, sys, time, tracemalloc
from appliance.clinical import growth
indicators = ("wfa", "lhfa", "wfl", "wfh", "bfa")
if sys.argv[1] == "time":
    started = time.perf_counter()
    for indicator in indicators:
        growth.table(indicator, "M")
    print(json.dumps((time.perf_counter() - started) * 1000))
else:
    tracemalloc.start()
    for indicator in indicators:
        growth.table(indicator, "M")
    print(json.dumps(tracemalloc.get_traced_memory()[0] / 1024))
"""


def _cold(kind: str) -> float:
    """Loading the WHO tables in a fresh interpreter: what the first z-score after a restart costs."""
    output = subprocess.run([sys.executable, "-c", COLD, kind], check=True, capture_output=True, text=True).stdout
    return json.loads(output)


def _timed(call, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def run() -> dict:
    from appliance.clinical.growth import anthropometry
    from appliance.clinical.growth_chart import render_growth_chart
    from appliance.clinical.nutrition import assess_child
    from appliance.clinical.pregnancy import PregnancyFacts, assess
    from appliance.clinical.schedules import GivenDose, PatientFacts, Pregnancy, follow_up

    birth = date(2025, 3, 1)
    child = PatientFacts(
        patient_id=1, birth_date=birth, sex="F", last_weighed_on=date(2026, 1, 5),
        doses=tuple(GivenDose(code, birth + timedelta(weeks=week)) for code, week in (
            ("bcg", 0), ("vpo0", 0), ("penta1", 6), ("vpo1", 6), ("pcv1", 6), ("rota1", 6), ("penta2", 10),
            ("vpo2", 10), ("pcv2", 10), ("rota2", 10), ("penta3", 14), ("vpo3", 14), ("pcv3", 14),
            ("rota3", 14), ("vpi1", 14), ("palu1", 22), ("palu2", 26), ("palu3", 30), ("rr1", 40))),
    )
    mother = PatientFacts(patient_id=2, birth_date=date(1995, 5, 1), sex="F",
                          pregnancy=Pregnancy(lmp=date(2025, 11, 1), contacts=(date(2026, 1, 2),)))
    today = date(2026, 1, 5)
    facts = PregnancyFacts(age_years=17, parity=5, systolic_bp=150, diastolic_bp=95, hb_g_dl=6.8)
    for _ in range(50):  # warm-up: tables and rule files loaded
        follow_up(child, today)
        anthropometry("F", 310, 7.2, 68.5)
    return {
        "clinical_who_tables_cold_load_ms": round(_cold("time"), 1),
        "clinical_who_tables_kb": round(_cold("memory")),
        "clinical_child_visit_rules_p95_ms": p95(_timed(lambda: (
            anthropometry("F", 310, 7.2, 68.5),
            assess_child("F", 310, 7.2, 68.5, muac_mm=118),
            follow_up(child, today),
        ), 2000)),
        "clinical_anc_visit_rules_p95_ms": p95(_timed(lambda: (assess(facts), follow_up(mother, today)), 2000)),
        "clinical_growth_chart_p95_ms": p95(_timed(
            lambda: render_growth_chart("wfa", "F", [(30 * month, 3 + 0.6 * month) for month in range(12)]), 200)),
    }
