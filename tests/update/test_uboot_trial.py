"""The boot selection under the real U-Boot (Debian's u-boot-qemu, QEMU virt): image/rauc/boot.cmd
counts each slot's tries in rauc.env, which fw_setenv (RAUC's ``uboot`` backend) reads and writes;
a new slot never confirmed is dropped for the old one by itself, a confirmed one stays.

The slots hold no kernel here, so every boot is a failed try: exactly the case of a new system that
never comes up. Each QEMU run is one power-on (``-no-reboot``: the script's ``reset`` ends it)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
UBOOT = Path("/usr/lib/u-boot/qemu_arm64/u-boot.bin")
FAT_OFFSET = 2048 * 512
ENV_BYTES = 0x4000


class Card:
    def __init__(self, folder: Path) -> None:
        for tool in ("qemu-system-aarch64", "mkimage", "fw_setenv", "mcopy", "sfdisk", "mkfs.vfat"):
            if shutil.which(tool) is None:
                pytest.skip(f"{tool} absent (u-boot-tools, qemu-system-arm, mtools, dosfstools)")
        if not UBOOT.exists():
            pytest.skip("u-boot-qemu absent")
        self.folder = folder
        self.disk = folder / "card.img"
        self.env = folder / "rauc.env"
        (folder / "fw_env.config").write_text(f"{self.env} 0x0000 {ENV_BYTES:#x}\n")
        script = folder / "boot.scr"
        subprocess.run(["mkimage", "-A", "arm64", "-T", "script", "-C", "none", "-d",
                        str(ROOT / "image/rauc/boot.cmd"), str(script)], check=True, capture_output=True)
        with open(self.disk, "wb") as handle:
            handle.truncate(48 * 1024 * 1024)
        subprocess.run(["sfdisk", "-q", str(self.disk)], check=True, text=True, input=(
            "label: dos\nstart=2048, size=20480, type=c, bootable\n"
            "start=22528, size=20480, type=83\nstart=43008, size=20480, type=83\n"))
        fat = folder / "boot.vfat"
        subprocess.run(["mkfs.vfat", "-C", str(fat), "10240"], check=True, capture_output=True)
        subprocess.run(["dd", f"if={fat}", f"of={self.disk}", "bs=512", "seek=2048", "conv=notrunc", "status=none"],
                       check=True)
        self.copy_in(script)
        self.flash = [folder / "flash0.img", folder / "flash1.img"]
        for flash in self.flash:
            with open(flash, "wb") as handle:
                handle.truncate(64 * 1024 * 1024)
        with open(self.flash[0], "r+b") as handle:
            handle.write(UBOOT.read_bytes())

    def copy_in(self, path: Path) -> None:
        subprocess.run(["mcopy", "-o", "-i", f"{self.disk}@@{FAT_OFFSET}", str(path), "::"], check=True)

    def power_on(self) -> tuple[str, dict[str, int]]:
        """One boot: the slot the script chose and the tries it left."""
        done = subprocess.run(
            ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a53", "-m", "256", "-nographic", "-no-reboot",
             "-nic", "none",  # no network card: its boot ROM (ipxe-qemu) is not installed, nor needed
             "-drive", f"if=pflash,format=raw,file={self.flash[0]},readonly=on",
             "-drive", f"if=pflash,format=raw,file={self.flash[1]}",
             "-drive", f"if=none,file={self.disk},format=raw,id=card", "-device", "virtio-blk-device,drive=card"],
            capture_output=True, timeout=300, stdin=subprocess.DEVNULL, check=False)
        text = done.stdout.decode(errors="replace")
        found = re.search(r"Booting slot ([AB]) \(tries left: A=(\d+) B=(\d+)\)", text)
        assert found, text[-2000:]
        return found[1], {"A": int(found[2]), "B": int(found[3])}

    def fw_setenv(self, **values: str) -> None:
        """What RAUC's uboot backend does, on the card's rauc.env."""
        subprocess.run(["mcopy", "-o", "-i", f"{self.disk}@@{FAT_OFFSET}", "::rauc.env", str(self.env)], check=True)
        for name, value in values.items():
            subprocess.run(["fw_setenv", "-c", str(self.folder / "fw_env.config"), name, value], check=True,
                           capture_output=True)
        self.copy_in(self.env)

    def fw_printenv(self) -> dict[str, str]:
        subprocess.run(["mcopy", "-o", "-i", f"{self.disk}@@{FAT_OFFSET}", "::rauc.env", str(self.env)], check=True)
        done = subprocess.run(["fw_printenv", "-c", str(self.folder / "fw_env.config")], capture_output=True,
                              text=True, check=True)
        return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


@pytest.fixture
def card(tmp_path) -> Card:
    card = Card(tmp_path)
    assert card.power_on() == ("A", {"A": 2, "B": 3})  # first power-on: no rauc.env yet, A first
    card.fw_setenv(BOOT_A_LEFT="3")  # the running system confirmed (rauc status mark-good)
    return card


def test_a_new_slot_never_confirmed_is_dropped_for_the_old_one(card):
    card.fw_setenv(BOOT_ORDER="B A", BOOT_B_LEFT="3")  # rauc install wrote B and made it primary
    assert [card.power_on() for _ in range(4)] == [
        ("B", {"A": 3, "B": 2}), ("B", {"A": 3, "B": 1}), ("B", {"A": 3, "B": 0}),
        ("A", {"A": 2, "B": 0}),  # back on the old system by itself
    ]
    assert card.fw_printenv()["BOOT_B_LEFT"] == "0"  # what RAUC reads back: B is bad


def test_a_confirmed_slot_keeps_booting(card):
    card.fw_setenv(BOOT_ORDER="B A", BOOT_B_LEFT="3")
    for _ in range(3):
        assert card.power_on()[0] == "B"
        card.fw_setenv(BOOT_B_LEFT="3")  # appliance update check found it healthy: mark-good
    assert card.fw_printenv()["BOOT_ORDER"] == "B A"
