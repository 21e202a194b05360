"""System updates proven in the emulated Pi's A/B card, with the guest's own RAUC, U-Boot, timers and services.

A system bundle (root slot A of the built image released as a later version by the release command) on a
FAT stick in the machine's USB port: the root timer finds it, RAUC writes the other slot while a nurse keeps
recording visits, the box reboots into it on trial and the health check keeps it.
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.boot.conftest import BootedCard
from tests.boot.machine import Machine
from tests.boot.powercut import Writer, check_card, wait_ready
from tests.boot.test_updates import card_version, next_version, signing_keys, update_status
from tests.image.building import BuiltImage
from tests.update.systems import later_system

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]


def stick_with(bundle: Path, image: Path) -> Path:
    """A FAT32 USB stick (no partition table, as many are) with the bundle in its appliance-update folder."""
    size_mib = bundle.stat().st_size // 2**20 + 64
    image.unlink(missing_ok=True)
    subprocess.run(["mkfs.vfat", "-F", "32", "-n", "MAJ", "-C", str(image), str(size_mib * 1024)], check=True,
                   capture_output=True)
    subprocess.run(["mmd", "-i", str(image), "::/appliance-update"], check=True)
    subprocess.run(["mcopy", "-i", str(image), str(bundle), "::/appliance-update/"], check=True)
    return image


def booted_slot(machine: Machine) -> str:
    found = re.search(r"rauc\.slot=(\w)", machine.ssh("cat /proc/cmdline").stdout)
    return found[1] if found else "-"


def slot_states(machine: Machine) -> dict[str, str]:
    """RAUC's view: bootname → "booted/good" and the like."""
    status = json.loads(machine.ssh("sudo rauc status --output-format=json").stdout)
    states = {}
    for entry in status["slots"]:
        for slot in entry.values():
            if slot.get("bootname"):
                states[slot["bootname"]] = f"{slot.get('state')}/{slot.get('boot_status')}"
    return states


def serves(machine: Machine) -> bool:
    try:
        return machine.running and machine.http_get("/connexion", timeout=5)[0] == 200
    except (OSError, http.client.HTTPException):
        return False


def wait_for_poweroff(machine: Machine, timeout: float) -> float:
    """Seconds until the guest stops QEMU by itself (a reboot it asks for: QEMU runs with -no-reboot)."""
    began = time.monotonic()
    machine.process.wait(timeout=timeout)
    return time.monotonic() - began


def wait_for_outcome(machine: Machine, word: str, timeout: float) -> str:
    """``appliance update status`` once the root timer (nobody else) has judged the update."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = update_status(machine)
        if f"→ {word}" in status:
            return status
        time.sleep(10)
    raise machine.fail(f"pas de « {word} » en {timeout:.0f} s : {update_status(machine)}")


def test_a_system_update_from_a_stick_is_installed_tried_and_kept(booted: BootedCard, built: BuiltImage,
                                                                   tmp_path) -> None:
    machine = booted.machine
    cert, key = signing_keys(built)
    nurse, patient = booted.nurse_session()
    assert booted_slot(machine) == "A"
    version = next_version(card_version(machine), minor=True)
    bundle = later_system(built.image, tmp_path / "release", version, cert=cert, key=key)
    nurse.record_visit(patient, "coupure avant-1")  # the ledger's names, read back by check_card
    ledger = {"coupure avant-1": 1}

    machine.poweroff()  # the stick goes into the USB port; the box is switched on again
    machine.usb_stick = stick_with(bundle, tmp_path / "stick.img")
    machine.start()
    machine.wait_for_http(timeout=600)
    wait_ready(machine, nurse)
    during = Writer(nurse, patient, "pendant")
    thread = threading.Thread(target=during.run, daemon=True)
    thread.start()
    took = wait_for_poweroff(machine, timeout=2400)  # the timer finds the stick, RAUC writes B, the box reboots
    during.stop.set()
    thread.join(timeout=120)
    ledger.update(dict.fromkeys(during.acknowledged, 1))
    ledger.update(dict.fromkeys(during.in_flight, 0))
    assert len(during.acknowledged) > 10, "the EMR did not keep serving while the update was written"
    print(f"system {version}: bundle {bundle.stat().st_size} B, {took:.0f} s from power-on to the reboot, "
          f"{len(during.acknowledged)} visits written meanwhile")

    machine.start()
    machine.wait_for_console(r"Booting slot B", timeout=300)
    machine.wait_for_http(timeout=600)
    machine.wait_for_ssh()
    assert booted_slot(machine) == "B" and card_version(machine) == version
    status = wait_for_outcome(machine, "gardée", timeout=900)  # the root timer's health check, by itself
    assert f"Dernière mise à jour : {version} → gardée" in status, status
    assert slot_states(machine)["B"] == "booted/good", slot_states(machine)
    found = check_card(machine)
    lost = [reason for reason, expected in ledger.items() if expected and found["visits"].get(reason) != 1]
    assert not lost and found["integrity"] == "ok", (lost, found["integrity"])

    machine.poweroff()  # kept means kept: the next power-on boots B again, the stick still in
    machine.start()
    machine.wait_for_http(timeout=600)
    machine.wait_for_ssh()
    assert booted_slot(machine) == "B" and f"{version} → gardée" in update_status(machine)
