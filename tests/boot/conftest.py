"""One provisioned card booted once for tests/boot in the emulated Pi, shared by the boot tests.

The card is a copy of the image the session built (tests/image/building.py), provisioned with the
technician's real command; the first boot is the field's first boot. Later tests (power cuts) keep
using the same card, as a clinic keeps its card.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.boot.machine import Machine, provision_card
from tests.boot.staff import Staff
from tests.image.building import BuiltImage

WORK = Path(os.environ.get("APPLIANCE_BOOT_TEST_WORK", "/var/tmp/appliance-boot-test"))


@dataclass
class BootedCard:
    machine: Machine
    key: Path
    first_boot_s: float
    sheet: str
    timings: dict = field(default_factory=dict)
    nurse: Staff | None = None
    patient_id: int = 0

    @property
    def admin_password(self) -> str:
        return re.search(r"Mot de passe provisoire\s+(\S+)", self.sheet).group(1)


# Package scope: the machine is powered off once tests/boot is done, not left idling through the session.
@pytest.fixture(scope="package")
def booted(built: BuiltImage) -> BootedCard:
    if shutil.which("qemu-system-aarch64") is None:
        pytest.fail("qemu-system-aarch64 manque : installez les paquets de .ci/apt-packages.txt (qemu-system-arm)")
    card, key = provision_card(built.image, WORK)
    machine = Machine(card=card, folder=WORK / "machine", ssh_key=key)
    machine.start()
    try:
        first_boot_s = machine.wait_for_http(timeout=900)
        machine.wait_for_ssh()
        sheet = machine.ssh("sudo appliance provision sheet").stdout
        yield BootedCard(machine=machine, key=key, first_boot_s=first_boot_s, sheet=sheet)
    finally:
        machine.poweroff()
