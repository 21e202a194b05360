"""``make soak``'s figures cover the whole series of cuts on one card, a resumed run included (fast: no
machine is booted here)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.boot.soak import series_figures


def cycle(number: int, boot_s: float, **changes) -> dict:
    return {"number": number, "cut_after_s": 3.0, "acknowledged": 5, "in_flight": 1, "boot_s": boot_s,
            "lost": [], "doubled": [], "integrity": "ok", "system_state": "running", "failed_units": "",
            "fsck": [], "boot_fat_dirty": False, "boot_mount": "ro,noatime", **changes}


def test_a_resumed_series_counts_every_cycle_and_every_fault(tmp_path: Path) -> None:
    lines = [
        cycle(1, 40.0),  # logged before "ok" and "cycle_s" were: judged from its own fields
        cycle(2, 50.0, lost=["coupure 2-3"]),
        cycle(3, 45.0, ok=True, cycle_s=60.0),  # the resumed run's lines
        {"cycle": 4, "error": "l'EMR ne répond plus"},
        cycle(5, 90.0, ok=False, cycle_s=70.0, system_state="degraded"),
    ]
    series = tmp_path / "cycles.jsonl"
    series.write_text("".join(json.dumps(line) + "\n" for line in lines))
    figures = series_figures(series, {"coupure 1-1": 1, "coupure 3-1": 1, "coupure 3-2": 0})
    assert figures["powercut_cycles"] == 5
    assert figures["powercut_lost_writes"] == 1
    assert figures["powercut_failed_cycles"] == 3  # the lost write, the error, the degraded system
    assert figures["powercut_acknowledged_writes"] == 2
    assert figures["powercut_boot_s_max"] == 90.0
    assert figures["powercut_cycle_s_p50"] == 70.0
