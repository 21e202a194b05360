"""System updates proven in the emulated Pi's A/B card, with the guest's own RAUC, U-Boot, timers and services.

A system bundle (root slot A of the built image released as a later version by the release command) on a
FAT stick in the machine's USB port: the root timer finds it, RAUC writes the other slot while a nurse keeps
recording visits, the box reboots into it on trial and the health check keeps it; a deliberately broken one
(its web never starts) is rolled back by itself with every record (``update_rollback_s``); the power cut at
random moments of an install always leaves a card that boots a working system with every acknowledged
visit (``update_install_powercut_cycles``).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.boot.conftest import BootedCard
from tests.boot.machine import Machine
from tests.boot.powercut import Writer, check_card, lost_visits, nurse_writing, wait_ready
from tests.boot.soak import merge_results
from tests.boot.staff import Staff
from tests.boot.test_updates import (
    card_version,
    next_version,
    run_check,
    set_update_setting,
    signing_keys,
    update_status,
)
from tests.image.building import ON_THE_CARD, BuiltImage
from tests.update.systems import later_system

pytestmark = [ON_THE_CARD, pytest.mark.slow, pytest.mark.timeout(3600)]


def stick_with(bundle: Path, image: Path, folder: str = "appliance-update") -> Path:
    """A FAT32 USB stick (no partition table, as many are) with the bundle in ``folder`` (the update folder
    the root timer installs from by itself, or another one a technician installs from by hand)."""
    size_mib = bundle.stat().st_size // 2**20 + 64
    image.unlink(missing_ok=True)
    subprocess.run(["mkfs.vfat", "-F", "32", "-n", "MAJ", "-C", str(image), str(size_mib * 1024)], check=True,
                   capture_output=True)
    subprocess.run(["mmd", "-i", str(image), f"::/{folder}"], check=True)
    subprocess.run(["mcopy", "-i", str(image), str(bundle), f"::/{folder}/"], check=True)
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


def installed_from_stick(machine: Machine, nurse: Staff, patient: int, bundle: Path, stick: Path, cycle: str,
                         ledger: dict[str, int]) -> tuple[float, Writer]:
    """The stick goes into the switched-off box, which is powered on: the root timer finds the bundle and
    RAUC writes the other slot while a nurse records visits, until the box reboots by itself into it. The
    seconds from the EMR ready to that reboot, and the nurse's visits (in the ledger too)."""
    machine.poweroff()
    machine.usb_stick = stick_with(bundle, stick)
    machine.start()
    machine.wait_for_http(timeout=600)
    wait_ready(machine, nurse)
    with nurse_writing(nurse, patient, cycle, ledger) as writer:
        took = wait_for_poweroff(machine, timeout=2400)
    assert len(writer.acknowledged) > 10, "the EMR did not keep serving while the update was written"
    return took, writer


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

    took, during = installed_from_stick(machine, nurse, patient, bundle, tmp_path / "stick.img", "pendant", ledger)
    print(f"system {version}: bundle {bundle.stat().st_size} B, {took:.0f} s from the EMR ready to the reboot, "
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
    lost = lost_visits(ledger, found["visits"])
    assert not lost and found["integrity"] == "ok", (lost, found["integrity"])

    machine.poweroff()  # kept means kept: the next power-on boots B again, the stick still in
    machine.start()
    machine.wait_for_http(timeout=600)
    machine.wait_for_ssh()
    assert booted_slot(machine) == "B" and f"{version} → gardée" in update_status(machine)


def test_a_broken_system_rolls_back_by_itself_with_every_record(booted: BootedCard, built: BuiltImage,
                                                                 tmp_path) -> None:
    """The web of the new system never starts: its trial fails the health check and the card boots the
    previous system again by itself (the judge's mark-bad and reboot, or U-Boot's tries running out).
    ``update_rollback_s``: from the power-on into the broken system to the EMR serving again on the old."""
    machine = booted.machine
    cert, key = signing_keys(built)
    nurse, patient = booted.nurse_session()
    old_slot, old_version = booted_slot(machine), card_version(machine)
    new_slot = "A" if old_slot == "B" else "B"
    version = next_version(old_version, minor=True)
    bundle = later_system(built.image, tmp_path / "release", version, cert=cert, key=key, break_web=True)
    nurse.record_visit(patient, "coupure cassé-avant-1")
    ledger = {"coupure cassé-avant-1": 1}
    # The shortest trial the settings allow, carried over to the new slot with the site: the root timer's first
    # check, two minutes after the broken system boots, finds its trial over (a clinic keeps 5 minutes).
    set_update_setting(machine, "trial_s", 60)

    installed_from_stick(machine, nurse, patient, bundle, tmp_path / "stick.img", "cassé-pendant", ledger)

    machine.start()  # the broken system's trial: nobody touches the box from here on
    tried_at = time.monotonic()
    machine.wait_for_console(rf"Booting slot {new_slot}", timeout=300)
    boots, deadline = 1, tried_at + 2400
    while not (serves(machine) and booted_slot(machine) == old_slot):
        if time.monotonic() > deadline:
            raise machine.fail("le système précédent n'est pas revenu en 40 minutes")
        if not machine.running:  # the guest rebooted (QEMU runs with -no-reboot): power comes back
            boots += 1
            machine.start()
        time.sleep(2)
    rollback_s = round(time.monotonic() - tried_at, 1)
    machine.wait_for_ssh()
    assert booted_slot(machine) == old_slot and card_version(machine) == old_version
    status = wait_for_outcome(machine, "annulée", timeout=600)
    assert f"Dernière mise à jour : {version} → annulée" in status, status
    found = check_card(machine)
    lost = lost_visits(ledger, found["visits"])
    assert not lost and found["integrity"] == "ok", (lost, found["integrity"])
    set_update_setting(machine, "trial_s")  # the product's default again for the card's next tests
    print(f"broken system {version}: back on {old_slot} ({old_version}) {rollback_s} s after powering the trial "
          f"on, {boots} power-on(s)")
    merge_results({"update_rollback_s": rollback_s})


def installing_now(machine: Machine, number: int) -> bool:
    return machine.ssh(f"systemctl is-active maj-coupure-{number}", check=False).stdout.strip() in (
        "active", "activating")


def test_power_cuts_during_a_system_install_always_leave_a_working_card(booted: BootedCard, built: BuiltImage,
                                                                        tmp_path) -> None:
    """The power goes at a random moment of ``appliance update install`` (RAUC writing the other slot,
    switching the boot, writing its environment on the boot partition) while a nurse writes; each time the
    card boots a working system (either slot) with every acknowledged visit. UPDATE_QEMU_CUTS cycles (2): the
    last one cuts once the install is over (the new slot made primary in rauc.env, never booted yet), and the
    card must boot the new system on trial, then keep it."""
    machine = booted.machine
    cert, key = signing_keys(built)
    nurse, patient = booted.nurse_session()
    cycles = int(os.environ.get("UPDATE_QEMU_CUTS", "2"))
    rng = random.Random(os.environ.get("UPDATE_CUT_SEED", "21"))
    version = next_version(card_version(machine), minor=True)
    bundle = later_system(built.image, tmp_path / "release", version, cert=cert, key=key)
    machine.poweroff()
    # Not in the update folder: the root timer would install it by itself (and reboot) between the cuts.
    machine.usb_stick = stick_with(bundle, tmp_path / "stick.img", folder="technicien")
    machine.start()
    machine.wait_for_http(timeout=600)
    machine.wait_for_ssh()
    on_stick = f"/media/usb-sda/technicien/{bundle.name}"
    ledger: dict[str, int] = {}
    outcomes = []
    for number in range(1, cycles + 1):
        wait_ready(machine, nurse)
        while "En essai" in update_status(machine):  # the last cut's install judged first (else refused)
            run_check(machine)
        after_switch = number == cycles
        with nurse_writing(nurse, patient, f"maj-{number}", ledger):
            machine.ssh(f"sudo systemd-run --collect --unit=maj-coupure-{number} appliance update install --force "
                        f"{on_stick}")
            if after_switch:  # the install ran to its end: RAUC switched the boot, the box was not rebooted
                began = time.monotonic()
                while installing_now(machine, number):
                    time.sleep(5)
                cut_after = round(time.monotonic() - began, 1)
                primary = json.loads(machine.ssh("sudo rauc status --output-format=json").stdout)["boot_primary"]
                new_slot = {"rootfs.0": "A", "rootfs.1": "B"}[primary]
                assert new_slot != booted_slot(machine), (primary, update_status(machine))
            else:
                cut_after = round(rng.uniform(5, 240), 1)
                time.sleep(cut_after)
            installing = machine.ssh(f"systemctl is-active maj-coupure-{number}", check=False).stdout.strip()
            machine.power_cut()
        machine.start()
        while not serves(machine):  # a reboot U-Boot asks for (a slot without its kernel) stops QEMU too
            if not machine.running:
                machine.start()
            time.sleep(2)
        machine.wait_for_ssh()
        found = check_card(machine)
        lost = lost_visits(ledger, found["visits"])
        slot = booted_slot(machine)
        ok = not lost and found["integrity"] == "ok" and found["state"] == "running" and not found["failed"]
        if after_switch:  # the new system, on trial
            ok = ok and slot == new_slot and card_version(machine) == version and "En essai" in update_status(machine)
        outcomes.append({"cut_after_s": cut_after, "after_switch": after_switch, "install": installing, "slot": slot,
                         "version": card_version(machine), "ok": ok, "lost": lost, "failed": found["failed"]})
        print(f"cut {number}: {outcomes[-1]}")
    while "En essai" in update_status(machine):  # the card's next test finds no update on trial
        run_check(machine)
    assert f"Dernière mise à jour : {version} → gardée" in update_status(machine)  # the last cut's new system
    assert all(outcome["ok"] for outcome in outcomes), outcomes
    merge_results({"update_install_powercut_cycles": sum(outcome["ok"] for outcome in outcomes)})
