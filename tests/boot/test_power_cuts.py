"""Power cuts on the emulated Pi: the whole machine killed while a nurse records visits, then booted
again with nobody touching it. A few cycles here; ``make soak`` runs a hundred and more.

After each cut: the EMR serves again, every unit started (fsck repaired what the cut left, or the boot
would have stopped), ``PRAGMA integrity_check`` is ok and every acknowledged visit is there exactly once.
"""

from __future__ import annotations

import os
import random

import pytest

from tests.boot.conftest import BootedCard
from tests.boot.powercut import power_cut_cycle, wait_ready
from tests.boot.test_first_boot import record_timing
from tests.image.building import ON_THE_CARD

pytestmark = [ON_THE_CARD, pytest.mark.slow, pytest.mark.timeout(3600)]  # the first test builds and boots the image
CYCLES = int(os.environ.get("APPLIANCE_POWERCUT_CYCLES", "2"))


def test_every_acknowledged_visit_survives_power_cuts(booted: BootedCard) -> None:
    nurse, patient_id = booted.nurse_session()
    rng = random.Random(int(os.environ.get("APPLIANCE_POWERCUT_SEED", "14")))
    ledger: dict[str, int] = {}
    acknowledged = 0
    for number in range(1, CYCLES + 1):
        cycle = power_cut_cycle(booted.machine, nurse, patient_id, number, ledger, rng)
        acknowledged += cycle.acknowledged
        record_timing(f"powercut_{number}_boot_s", cycle.boot_s)
        assert not cycle.boot_fat_dirty, f"la coupure a trouvé la partition de démarrage en écriture : {cycle}"
        assert cycle.ok, cycle
        wait_ready(booted.machine, nurse)
    assert acknowledged > 0, "no visit was acknowledged before the cuts: the test proved nothing"
