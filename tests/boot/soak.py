"""``make soak``: a busy day, then a month of power cuts on the emulated Pi, bounded in time, not in CI.

One card (the image ``make image`` built, provisioned for a test clinic) is cut at random moments while a
nurse records visits, at least ``--cycles`` times (100 by default) unless ``--max-minutes`` runs out
first. Before the cuts, ten staff browse and write at once (tests/boot/workload.py: ``vm_used_mb_10_staff``,
``sd_bytes_written_per_day``). Merges into build/bench/results.json (as ``make bench`` does): ``powercut_cycles``,
``powercut_lost_writes`` (budget 0), ``powercut_boot_s_p95``, plus failures and the worst boot.
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

WORK = Path("/var/tmp/appliance-soak")


def merge_results(figures: dict) -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.update(figures)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


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
    args = parser.parse_args(argv)
    if not args.image.exists():
        print(f"Pas d'image {args.image} : lancez d'abord « make image ».", file=sys.stderr)
        return 1
    began = time.monotonic()
    card, key = provision_card(args.image, WORK)
    machine = Machine(card=card, folder=WORK / "machine", ssh_key=key)
    rng = random.Random(args.seed)
    ledger: dict[str, int] = {}
    boots: list[float] = []
    lost: set[str] = set()
    bad_cycles = 0
    dirty_boot_partitions = 0
    cycle_seconds: list[float] = []
    figures: dict = {}
    log = (WORK / "cycles.jsonl").open("w")
    machine.start()
    try:
        first_boot = machine.wait_for_http(timeout=900)
        machine.wait_for_ssh()
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
        number = 0
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
                bad_cycles += 1
                machine.power_cut()
                machine.start()
                machine.wait_for_http(timeout=900)
                continue
            boots.append(cycle.boot_s)
            cycle_seconds.append(round(time.monotonic() - cycle_began, 1))
            dirty_boot_partitions += cycle.boot_fat_dirty
            lost.update(cycle.lost)
            bad_cycles += 0 if cycle.ok else 1
            log.write(json.dumps(cycle.__dict__, ensure_ascii=False) + "\n")
            log.flush()
            print(f"cycle {number} : coupure à {cycle.cut_after_s} s, {cycle.acknowledged} visites confirmées, "
                  f"redémarrage {cycle.boot_s} s, perdues {len(cycle.lost)}, doublées {len(cycle.doubled)}, "
                  f"intégrité {cycle.integrity}, système {cycle.system_state}, "
                  f"FAT {'sale' if cycle.boot_fat_dirty else 'propre'}, cycle {cycle_seconds[-1]} s", flush=True)
    finally:
        machine.poweroff()
        log.close()
    figures |= {
        "powercut_cycles": len(boots) + bad_cycles,
        "powercut_lost_writes": len(lost),
        "powercut_failed_cycles": bad_cycles,
        "powercut_acknowledged_writes": sum(ledger.values()),
        "powercut_boot_s_p95": p95(boots) if boots else None,
        "powercut_boot_s_max": max(boots) if boots else None,
        "powercut_cycle_s_p50": sorted(cycle_seconds)[len(cycle_seconds) // 2] if cycle_seconds else None,
        "powercut_boot_partition_dirty": dirty_boot_partitions,
    }
    merge_results(figures)
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    print(f"Résultats : {RESULTS} ; détail : {WORK / 'cycles.jsonl'}")
    return 0 if not lost and not bad_cycles else 1


if __name__ == "__main__":
    sys.exit(main())
