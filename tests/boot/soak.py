"""``make soak``: a busy day, then a month of power cuts on the emulated Pi, bounded in time, not in CI.

One card (the image ``make image`` built, provisioned for a test clinic) is cut at random moments while a
nurse records visits, at least ``--cycles`` times (100 by default) unless ``--max-minutes`` runs out
first. Before the cuts, ten staff browse and write at once (tests/boot/workload.py: ``vm_used_mb_10_staff``,
``sd_bytes_written_per_day``). Merges into build/bench/results.json (as ``make bench`` does): ``powercut_cycles``,
``powercut_lost_writes`` (budget 0), ``powercut_boot_s_p95``, plus failures and the worst boot.

``--resume`` goes on with the same card where a run stopped (its time bound, a machine needed back): the
ledger of every acknowledged visit is saved after each cycle (``ledger.json``) and the cycles already made
are read back from ``cycles.jsonl``, so the figures cover the whole series of cuts on that one card.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from tests.bench.run import RESULTS
from tests.bench.support import p95
from tests.boot import workload
from tests.boot.look import IMAGE
from tests.boot.machine import Machine, MachineError, provision_card
from tests.boot.powercut import admin_on, nurse_on, power_cut_cycle, wait_ready
from tests.boot.staff import NEW_PASSWORD, Staff

WORK = Path("/var/tmp/appliance-soak")
LEDGER = WORK / "ledger.json"
CYCLES = WORK / "cycles.jsonl"
# The series' visits on the card and the patient they were written on (read as the service user).
SERIES_ON_CARD = """
import json, sqlite3
db = sqlite3.connect("file:/var/lib/appliance/appliance.db?mode=ro", uri=True)
rows = db.execute("SELECT reason, count(*), min(patient_id) FROM consultation WHERE reason LIKE 'coupure %' "
                  "GROUP BY reason").fetchall()
print(json.dumps({"visits": {row[0]: row[1] for row in rows}, "patient": rows[0][2]}))
"""


def merge_results(figures: dict) -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.update(figures)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def saved_series() -> tuple[list[dict], dict[str, int], int | None]:
    """The cycles a stopped run made on the card, its ledger and the nurse's patient (``--resume``)."""
    cycles = [json.loads(line) for line in CYCLES.read_text().splitlines() if line.strip()]
    saved = json.loads(LEDGER.read_text()) if LEDGER.exists() else {}
    return cycles, saved.get("ledger", {}), saved.get("patient_id")


def ledger_from_card(machine: Machine) -> tuple[dict[str, int], int]:
    """For a run stopped before the ledger was saved: after a cycle whose check passed, the card holds every
    acknowledged visit exactly once and nothing else of the series, so its rows are the ledger."""
    found = json.loads(machine.ssh("sudo runuser -u appliance -- /opt/appliance/venv/bin/python -",
                                   stdin=SERIES_ON_CARD).stdout)
    if any(count != 1 for count in found["visits"].values()):
        raise MachineError("la carte porte une visite en double : le registre ne peut pas en être tiré")
    return dict.fromkeys(found["visits"], 1), found["patient"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Coupures de courant répétées sur la carte émulée.")
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--max-minutes", type=float, default=60)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--image", type=Path, default=IMAGE)
    parser.add_argument("--busy-minutes", type=float, default=5, help="ten staff at work (0: skipped)")
    parser.add_argument("--idle-minutes", type=float, default=5, help="then nobody, for the night's write rate")
    # A cut lands at a random instant while the nurse writes; how long she wrote before it does not change
    # what a cut tests (the write in flight), and the boot after it is the cycle's cost: a short draw gives
    # more cycles an hour.
    parser.add_argument("--cut-max-s", type=float, default=8, help="cut at most this many seconds into writing")
    parser.add_argument("--resume", action="store_true", help="go on with the card of the last run")
    args = parser.parse_args(argv)
    began = time.monotonic()
    rng = random.Random(args.seed)
    figures: dict = {}
    previous: list[dict] = []
    if args.resume:
        if not CYCLES.exists():
            print(f"Rien à reprendre dans {WORK}.", file=sys.stderr)
            return 1
        previous, ledger, patient_id = saved_series()
        card, key = WORK / "card.img", WORK / "technicien_ed25519"
    else:
        if not args.image.exists():
            print(f"Pas d'image {args.image} : lancez d'abord « make image ».", file=sys.stderr)
            return 1
        card, key = provision_card(args.image, WORK)
        ledger, patient_id = {}, None
    machine = Machine(card=card, folder=WORK / "machine", ssh_key=key)
    machine.boots = len(list(machine.folder.glob("console-*.log"))) if args.resume else 0
    log = CYCLES.open("a" if args.resume else "w")
    machine.start()
    try:
        first_boot = machine.wait_for_http(timeout=900)
        machine.wait_for_ssh()
        if args.resume:
            if not ledger:
                ledger, patient_id = ledger_from_card(machine)
            nurse = Staff(machine.http_port)
            nurse.login("infirmier1", NEW_PASSWORD)
            print(f"reprise après {len(previous)} cycles, {len(ledger)} visites au registre", flush=True)
        else:
            admin_password = machine.ssh("sudo appliance provision sheet").stdout
            admin_password = admin_password.split("Mot de passe provisoire", 1)[1].split()[0]
            admin = admin_on(machine, admin_password)
            print(f"premier démarrage : {first_boot} s ; graine {args.seed}", flush=True)
            figures["boot_first_to_login_s"] = first_boot
            if args.busy_minutes > 0:
                figures.update(workload.measure(machine, admin, busy_s=args.busy_minutes * 60,
                                                idle_s=args.idle_minutes * 60))
                merge_results(figures)
                print(json.dumps(figures, indent=2, ensure_ascii=False), flush=True)
            nurse, patient_id = nurse_on(machine, admin_password, admin)
        number = len(previous)
        while number < args.cycles and (time.monotonic() - began) / 60 < args.max_minutes:
            number += 1
            cycle_began = time.monotonic()
            try:
                cycle = power_cut_cycle(machine, nurse, patient_id, number, ledger, rng,
                                        cut_between=(1.0, args.cut_max_s))
                wait_ready(machine, nurse)
            except MachineError as exc:  # the card did not come back by itself: a failed cycle, kept going
                print(f"cycle {number} : ÉCHEC {exc}", flush=True)
                log.write(json.dumps({"cycle": number, "error": str(exc)[-4000:]}) + "\n")
                log.flush()
                machine.power_cut()
                machine.start()
                machine.wait_for_http(timeout=900)
                continue
            record = {**cycle.__dict__, "ok": cycle.ok, "cycle_s": round(time.monotonic() - cycle_began, 1)}
            log.write(json.dumps(record, ensure_ascii=False) + "\n")
            log.flush()
            LEDGER.write_text(json.dumps({"ledger": ledger, "patient_id": patient_id}))
            print(f"cycle {number} : coupure à {cycle.cut_after_s} s, {cycle.acknowledged} visites confirmées, "
                  f"redémarrage {cycle.boot_s} s, perdues {len(cycle.lost)}, doublées {len(cycle.doubled)}, "
                  f"intégrité {cycle.integrity}, système {cycle.system_state}, "
                  f"FAT {'sale' if cycle.boot_fat_dirty else 'propre'}, cycle {record['cycle_s']} s", flush=True)
    finally:
        machine.poweroff()
        log.close()
    figures |= series_figures(CYCLES, ledger)
    merge_results(figures)
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    print(f"Résultats : {RESULTS} ; détail : {CYCLES}")
    return 0 if not figures["powercut_lost_writes"] and not figures["powercut_failed_cycles"] else 1


def series_figures(cycles_file: Path, ledger: dict[str, int]) -> dict:
    """The figures of every cut made on this card, resumed runs included, from ``cycles.jsonl``."""
    cycles = [json.loads(line) for line in cycles_file.read_text().splitlines() if line.strip()]
    done = [cycle for cycle in cycles if "error" not in cycle]
    # Lines from before "ok" was logged: the checks Cycle.ok makes, read from the same fields.
    good = [cycle for cycle in done if cycle.get("ok", not cycle["lost"] and not cycle["doubled"]
            and cycle["integrity"] == "ok" and cycle["system_state"] == "running" and not cycle["failed_units"]
            and not cycle["boot_fat_dirty"] and cycle["boot_mount"].startswith("ro,"))]
    boots = [cycle["boot_s"] for cycle in done]
    spans = sorted(cycle["cycle_s"] for cycle in done if "cycle_s" in cycle)
    return {
        "powercut_cycles": len(cycles),
        "powercut_lost_writes": len({reason for cycle in done for reason in cycle["lost"]}),
        "powercut_failed_cycles": len(cycles) - len(good),
        "powercut_acknowledged_writes": sum(ledger.values()),
        "powercut_boot_s_p95": p95(boots) if boots else None,
        "powercut_boot_s_max": max(boots) if boots else None,
        "powercut_cycle_s_p50": spans[len(spans) // 2] if spans else None,
        "powercut_boot_partition_dirty": sum(cycle["boot_fat_dirty"] for cycle in done),
    }


if __name__ == "__main__":
    sys.exit(main())
