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

from tests.boot.machine import HOST_FROM_GUEST, SITE, Machine, provision_card
from tests.boot.powercut import admin_on, nurse_on
from tests.boot.staff import Staff
from tests.fakes.fake_dhis2 import DEMO_TOKEN, FakeDhis2
from tests.image.building import BuiltImage
from tests.telemetry.mosquitto import CLINIC_ACL, OPS_PASSWORD, OPS_USER, Mosquitto, Pki, make_pki

WORK = Path(os.environ.get("APPLIANCE_BOOT_TEST_WORK", "/var/tmp/appliance-boot-test"))
HOST_WORK = WORK.with_name(WORK.name + "-host")  # the host's servers (provisioning empties WORK)


@dataclass
class HostServices:
    """What the clinic reports to, run on the host and reached by the guest at 10.0.2.2: the national
    DHIS2 (the fake that follows its contract) and the fleet's Mosquitto (TLS, passwords, ACL)."""

    dhis2: FakeDhis2
    broker: Mosquitto
    pki: Pki

    @property
    def dhis2_port(self) -> int:
        return int(self.dhis2.url.rsplit(":", 1)[1])


@dataclass
class BootedCard:
    machine: Machine
    key: Path
    first_boot_s: float
    sheet: str
    timings: dict = field(default_factory=dict)
    nurse: Staff | None = None
    patient_id: int = 0
    services: HostServices | None = None
    admin: Staff | None = None

    @property
    def admin_password(self) -> str:
        return re.search(r"Mot de passe provisoire\s+(\S+)", self.sheet).group(1)

    def admin_session(self) -> Staff:
        """The administrator, logged in once with the sheet's password (which that first login replaces)."""
        if self.admin is None:
            self.admin = admin_on(self.machine, self.admin_password)
        return self.admin

    def nurse_session(self) -> tuple[Staff, int]:
        """A nurse made by the administrator, and her patient."""
        if self.nurse is None:
            self.nurse, self.patient_id = nurse_on(self.machine, self.admin_password, self.admin_session())
        return self.nurse, self.patient_id


@pytest.fixture(scope="package")
def host_services() -> HostServices:
    dhis2 = FakeDhis2()
    dhis2.metadata.add_org_unit(SITE["--dhis2-org-unit"], SITE["--facility-name"])
    shutil.rmtree(HOST_WORK, ignore_errors=True)
    pki = make_pki(HOST_WORK / "pki", server_ips=("127.0.0.1", HOST_FROM_GUEST))
    users = {SITE["--mqtt-username"]: SITE["--mqtt-password"], OPS_USER: OPS_PASSWORD}
    with dhis2, Mosquitto(HOST_WORK / "mosquitto", users=users, acl=CLINIC_ACL, pki=pki) as broker:
        yield HostServices(dhis2=dhis2, broker=broker, pki=pki)


# Package scope: the machine is powered off once tests/boot is done, not left idling through the session.
@pytest.fixture(scope="package")
def booted(built: BuiltImage, host_services: HostServices) -> BootedCard:
    if shutil.which("qemu-system-aarch64") is None:
        pytest.fail("qemu-system-aarch64 manque : installez les paquets de .ci/apt-packages.txt (qemu-system-arm)")
    # The technician names the servers; the broker's port and CA are the fleet's own (set on the card later).
    card, key = provision_card(built.image, WORK, {
        "--mqtt-broker": HOST_FROM_GUEST, "--dhis2-url": f"http://{HOST_FROM_GUEST}:{host_services.dhis2_port}",
        "--dhis2-token": DEMO_TOKEN})
    machine = Machine(card=card, folder=WORK / "machine", ssh_key=key)
    machine.start()
    try:
        first_boot_s = machine.wait_for_http(timeout=900)
        machine.wait_for_ssh()
        sheet = machine.ssh("sudo appliance provision sheet").stdout
        yield BootedCard(machine=machine, key=key, first_boot_s=first_boot_s, sheet=sheet, services=host_services)
    finally:
        machine.poweroff()
