"""``make bench``: run every tests/bench/bench_*.py and merge their figures into one JSON file.

Each script exposes ``run() -> dict`` of flat, named figures. Budgets are read by people from
build/bench/results.json, never asserted in the test suite.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
import traceback
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "build" / "bench" / "results.json"


def main(selected: list[str]) -> int:
    import tests.bench as package

    results: dict[str, object] = {}
    if RESULTS.exists():
        results.update(json.loads(RESULTS.read_text()))
    failures = 0
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda item: item.name):
        if not info.name.startswith("bench_") or (selected and info.name not in selected):
            continue
        started = time.monotonic()
        print(f"== {info.name}", flush=True)
        try:
            figures = importlib.import_module(f"tests.bench.{info.name}").run()
        except Exception:
            traceback.print_exc()
            failures += 1
            continue
        for key, value in figures.items():
            print(f"   {key} = {value}")
        results.update(figures)
        print(f"   ({time.monotonic() - started:.1f} s)", flush=True)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    if "threeg_window_telemetry_bytes" in results:  # the boot tests measured the card's 3G bytes
        from tests.boot.bill import month_bill

        results.update(month_bill(results))
        print(f"   threeg_bytes_per_month = {results['threeg_bytes_per_month']}")
        RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"Résultats : {RESULTS}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
