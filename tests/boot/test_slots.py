"""The A/B card's two root slots on the emulated Pi, after the other boot tests (same card, same records):
slot B made the primary by hand, as RAUC does after writing it, is what U-Boot boots; a B that never
confirms itself is given up for A by U-Boot alone after its three tries, with every record still there.

B is a copy of A taken while the machine is off (what a system bundle would write there), in which the
slot's own confirmation at boot is masked: the new system that never comes up healthy."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.boot.conftest import BootedCard
from tests.boot.machine import Machine
from tests.image.building import ON_THE_CARD

pytestmark = [ON_THE_CARD, pytest.mark.slow, pytest.mark.timeout(3600)]
MIB = 2048  # sectors: the image's partitions start and end on whole MiB


def card_partitions(card: Path) -> list[dict]:
    table = json.loads(subprocess.run(["sfdisk", "--json", str(card)], capture_output=True, text=True,
                                      check=True).stdout)
    return table["partitiontable"]["partitions"]


def copy_a_into_b_never_confirming(card: Path, scratch: Path) -> None:
    """dd root A into slot B on the powered-off card, with B's appliance-slot-good.service masked."""
    _, slot_a, slot_b, _ = card_partitions(card)
    assert slot_a["size"] == slot_b["size"]
    copy = scratch / "slot-b.ext4"
    subprocess.run(["dd", f"if={card}", f"of={copy}", "bs=1M", f"skip={slot_a['start'] // MIB}",
                    f"count={slot_a['size'] // MIB}", "conv=sparse", "status=none"], check=True)
    unit = "/etc/systemd/system/appliance-slot-good.service"
    commands = scratch / "mask.debugfs"
    commands.write_text(f"rm {unit}\nsymlink {unit} /dev/null\n")  # debugfs says errors but exits 0
    subprocess.run(["debugfs", "-w", "-f", str(commands), str(copy)], check=True, capture_output=True)
    # Every block written (no conv=sparse): a zero block of A must not leave B's old one in place.
    subprocess.run(["dd", f"if={copy}", f"of={card}", "bs=1M", f"seek={slot_b['start'] // MIB}",
                    "conv=notrunc", "status=none"], check=True)
    copy.unlink()


def rauc_view(machine: Machine) -> tuple[str, dict[str, str], dict[str, str]]:
    """The slot booted, each slot's boot status as RAUC reads U-Boot's counter, and that counter."""
    status = json.loads(machine.ssh("sudo rauc status --output-format=json").stdout)
    slots = {slot["bootname"]: slot["boot_status"] for entry in status["slots"] for slot in entry.values()}
    environment = dict(line.split("=", 1) for line in machine.ssh("sudo fw_printenv").stdout.splitlines())
    return status["booted"], slots, environment


def test_u_boot_boots_b_when_made_primary_and_falls_back_to_a_when_b_never_confirms(
        booted: BootedCard, tmp_path: Path) -> None:
    machine = booted.machine
    nurse, patient_id = booted.nurse_session()
    nurse.record_visit(patient_id, "Visite avant le passage sur B")
    # By hand, as RAUC does after writing B: B first, three tries (the boot partition writable meanwhile).
    machine.ssh("sudo mount -o remount,rw /boot/firmware && sudo rauc status mark-active other; "
                "sudo mount -o remount,ro /boot/firmware")
    booted_slot, _, environment = rauc_view(machine)
    assert booted_slot == "A" and (environment["BOOT_ORDER"], environment["BOOT_B_LEFT"]) == ("B A", "3")
    machine.poweroff()
    copy_a_into_b_never_confirming(machine.card, tmp_path)

    machine.start()  # B's first try
    assert "Booting slot B (tries left: A=3 B=2)" in machine.wait_for_console(r"Booting slot")
    machine.wait_for_http()
    machine.wait_for_ssh()
    assert "rauc.slot=B" in machine.ssh("cat /proc/cmdline").stdout.split()
    assert machine.ssh("findmnt -no SOURCE /").stdout.strip() == "/dev/vda3"
    assert machine.ssh("findmnt -no SOURCE /var/lib/appliance").stdout.strip() == "/dev/vda4"  # the same data
    booted_slot, _, _ = rauc_view(machine)
    assert booted_slot == "B"
    assert machine.ssh("systemctl is-enabled appliance-slot-good", check=False).stdout.strip() == "masked"
    status, _, chart = nurse.request("GET", f"/patients/{patient_id}")
    assert status == 200 and "Visite avant le passage sur B" in chart
    machine.power_cut()  # B never confirmed itself

    for left in (1, 0):  # two more tries, each cut once B's kernel starts
        machine.start()
        assert f"Booting slot B (tries left: A=3 B={left})" in machine.wait_for_console(r"Booting slot")
        machine.wait_for_console(r"Starting kernel|Booting Linux")
        machine.power_cut()

    machine.start()  # B's tries are gone: U-Boot goes back to A by itself
    assert "Booting slot A (tries left: A=2 B=0)" in machine.wait_for_console(r"Booting slot")
    machine.wait_for_http()
    machine.wait_for_ssh()
    assert machine.wait_until_settled() == "running"
    booted_slot, slots, environment = rauc_view(machine)
    assert booted_slot == "A" and slots["B"] == "bad"
    assert (environment["BOOT_ORDER"], environment["BOOT_A_LEFT"]) == ("A B", "3")  # A first again
    status, _, chart = nurse.request("GET", f"/patients/{patient_id}")
    assert status == 200 and "Visite avant le passage sur B" in chart
