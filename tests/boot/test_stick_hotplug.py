"""A USB stick plugged into the running box, as anyone at the clinic may do, with nobody at the keyboard.

The stick carries, in its update folder, a bundle signed by a stranger: the kernel sees a new USB disk,
udev mounts it by itself (the image's systemd-mount automount rule), the root timer's check finds the
bundle within its period and refuses it with its reason in French, journalled for the fleet; nothing is
installed and the EMR keeps serving. Pulled out, the stick leaves no mount behind.
"""

from __future__ import annotations

import time

import pytest

from tests.boot.conftest import BootedCard
from tests.boot.machine import Machine
from tests.boot.test_system_updates import stick_with
from tests.boot.test_updates import update_status
from tests.image.building import ON_THE_CARD
from tests.update.apps import app_bundle
from tests.update.bundles import make_keys, needs_rauc

pytestmark = [ON_THE_CARD, pytest.mark.slow, pytest.mark.timeout(1800)]


def stick_mounts(machine: Machine) -> list[str]:
    """The automount points udev made for USB sticks (bound to their device)."""
    listed = machine.ssh("systemctl list-units --type=automount --all --plain --no-legend", check=False).stdout
    return [line.split()[0] for line in listed.splitlines() if line.startswith("media-usb")]


def wait_until(test, timeout: float, pause: float = 3) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if test():
            return True
        time.sleep(pause)
    return False


def test_a_stick_plugged_into_the_running_box_with_a_strangers_bundle_is_refused_by_itself(
        booted: BootedCard, tmp_path) -> None:
    needs_rauc()
    machine = booted.machine
    nurse, patient = booted.nurse_session()
    stranger = make_keys(tmp_path / "cles", "inconnu")
    bundle = app_bundle(tmp_path, stranger, "9.9.9")
    stick = stick_with(bundle, tmp_path / "stick.img")
    assert stick_mounts(machine) == []

    machine.plug_stick(stick)
    assert wait_until(lambda: stick_mounts(machine), timeout=120), machine.ssh("sudo dmesg | tail -30").stdout
    nurse.record_visit(patient, "clé branchée")  # staff keep working meanwhile
    # The root timer runs every update_check_every (2 min): the refusal comes by itself. An unsigned
    # bundle's version is not to be believed: the journal names the file.
    assert wait_until(lambda: "app-9.9.9.raucb → refusée" in update_status(machine), timeout=420, pause=10), \
        update_status(machine)
    status = update_status(machine)
    assert "n'est pas signé par l'équipe de publication" in status, status
    assert "En essai" not in status
    assert machine.ssh("systemctl --failed --no-legend --plain", check=False).stdout.strip() == ""

    machine.unplug_stick()
    assert wait_until(lambda: stick_mounts(machine) == [], timeout=120), stick_mounts(machine)
    status_code, _, chart = nurse.request("GET", f"/patients/{patient}")
    assert status_code == 200 and "clé branchée" in chart
