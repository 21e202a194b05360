"""The SD image booted as a whole machine: QEMU's ``virt`` board with a Cortex-A53 and 512 MB (the Zero 2 W).

Shared by tests/boot, ``make boot`` and ``make soak``. The card is a copy of the built image, grown to a
real card's size. QEMU starts Debian's U-Boot for its ``virt`` board (u-boot-qemu) as the Pi's firmware
starts u-boot.bin: U-Boot runs the card's own boot.scr, which picks root slot A or B with RAUC's boot
counter and loads that slot's kernel and initramfs (the QEMU board cannot run the Pi's GPU firmware,
nothing else differs). The card is the machine's first disk, as the SD slot would present it; the board
has a USB controller (xHCI), where a stick is plugged in before power-on (``usb_stick``) or while the
machine runs (``plug_stick``, through QEMU's QMP socket, as a person plugs one into a running box).
The network is QEMU's user mode: the guest sees a wired port (``lan0``, DHCP) and the host reaches the
EMR and sshd through forwarded loopback ports.

A power cut is ``kill -9`` of QEMU: the whole machine stops, its RAM (page cache, the ext4 journal not
yet committed) is gone, and only what the guest had written to the card remains. A reboot the guest
asks for stops QEMU too (``-no-reboot``): the test powers the machine on again, as ``start()``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from appliance.provision.card import boot_partition_offset

QEMU = "qemu-system-aarch64"
# QEMU's user-mode network: the guest reaches the host's loopback at this address (its gateway).
HOST_FROM_GUEST = "10.0.2.2"
MEMORY_MB = 512
CARD_BYTES = 8 * 1024**3  # an 8 GB card: the smallest for the A/B layout; the data partition grows into it
# Debian's U-Boot for QEMU's virt board (package u-boot-qemu), in the Pi's firmware's place.
UBOOT = Path("/usr/lib/u-boot/qemu_arm64/u-boot.bin")
# What a technician provisions for a test clinic (appliance provision write).
SITE = {"--site-id": "cscom-kati-01", "--facility-name": "CSCom de Kati", "--dhis2-org-unit": "DiszpKrYNg8",
        "--wifi-passphrase": "kati-wifi-2026", "--mqtt-username": "cscom-kati-01",
        "--mqtt-password": "mqtt-secret-kati", "--modem-apn": "internet"}


class MachineError(RuntimeError):
    """The emulated machine did not do what was expected; the message carries the console's tail."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def copy_card(image: Path, card: Path, size: int = CARD_BYTES) -> Path:
    """A sparse copy of the built image, grown to the card's size as flashing it onto a card would."""
    subprocess.run(["cp", "--sparse=always", str(image), str(card)], check=True)
    with card.open("r+b") as handle:
        handle.truncate(size)
    return card


def provision_card(image: Path, folder: Path, extra: dict[str, str] | None = None) -> tuple[Path, Path]:
    """A 4 GB card flashed with the image and provisioned as the technician does (``provision write``);
    ``extra``: more of its options (the servers the clinic reports to)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    key = folder / "technicien_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "technicien@test", "-f", str(key)],
                   check=True)
    card = copy_card(image, folder / "card.img")
    arguments = [arg for pair in {**SITE, **(extra or {})}.items() for arg in pair]
    # QEMU's virt board has no ADC, GPIO or modem: the agent's simulated ones, as on any bench.
    subprocess.run([sys.executable, "-m", "appliance", "provision", "write", str(card), *arguments,
                    "--ssh-key", f"{key}.pub", "--simulated-hardware"], check=True, capture_output=True, text=True)
    return card, key


def boot_partition_dirty(card: Path) -> bool:
    """The FAT32 "volume dirty" flag of the card's boot partition, read from the card itself.

    Linux sets bit 0 of the boot sector's state byte (offset 0x41 in a FAT32 boot sector, fs/fat/inode.c
    ``fat_set_state``) while the filesystem is mounted read-write, and clears it on a clean unmount or a
    remount read-only: set after a power cut means the cut caught it writable.
    """
    with card.open("rb") as handle:
        handle.seek(boot_partition_offset(card))
        sector = handle.read(512)
    if sector[82:90] != b"FAT32   ":
        raise MachineError("la partition de démarrage n'est pas en FAT32")
    return bool(sector[0x41] & 0x01)


@dataclass
class Machine:
    """One emulated Pi: ``start()``, wait for a service, ``ssh()``, then ``poweroff()`` or ``power_cut()``."""

    card: Path
    folder: Path
    ssh_key: Path | None = None
    smp: int = 2
    rtc_base: str = "utc"
    terminal: bool = False  # make boot: the serial console on the person's terminal (Ctrl-A X quits)
    usb_stick: Path | None = None  # a raw disk image plugged into a USB port (xHCI, usb-storage)
    http_port: int = field(default_factory=free_port)
    ssh_port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    boots: int = 0

    @property
    def console_log(self) -> Path:
        return self.folder / f"console-{self.boots}.log"

    @property
    def qmp_socket(self) -> Path:
        return self.folder / "qmp.sock"

    def command(self) -> list[str]:
        forwards = f"hostfwd=tcp:127.0.0.1:{self.http_port}-:80,hostfwd=tcp:127.0.0.1:{self.ssh_port}-:22"
        stick = ["-drive", f"file={self.usb_stick},format=raw,if=none,id=stick",
                 "-device", "usb-storage,bus=usb.0,drive=stick,removable=on"] if self.usb_stick else []
        return [
            QEMU, "-M", "virt", "-cpu", "cortex-a53", "-m", str(MEMORY_MB), "-smp", str(self.smp),
            "-nographic", *(["-serial", "mon:stdio"] if self.terminal else
                            ["-monitor", "none", "-serial", f"file:{self.console_log}"]),
            "-bios", str(UBOOT),
            "-drive", f"file={self.card},format=raw,if=none,id=card,cache=writeback,discard=unmap",
            "-device", "virtio-blk-pci,drive=card",
            "-device", "qemu-xhci,id=usb", *stick,
            "-qmp", f"unix:{self.qmp_socket},server=on,wait=off",
            "-netdev", f"user,id=lan,{forwards}", "-device", "virtio-net-pci,netdev=lan,romfile=",
            "-rtc", f"base={self.rtc_base},clock=host",
            "-no-reboot",
        ]

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            raise MachineError("la machine tourne déjà")
        self.boots += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        if not UBOOT.exists():
            raise MachineError(f"{UBOOT} manque : installez u-boot-qemu (.ci/apt-packages.txt)")
        self.started_at = time.monotonic()
        if self.terminal:
            self.process = subprocess.Popen(self.command())
            return
        self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                        stdout=(self.folder / f"qemu-{self.boots}.log").open("w"),
                                        stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def console(self) -> str:
        return self.console_log.read_text(errors="replace") if self.console_log.exists() else ""

    def fail(self, message: str) -> MachineError:
        tail = "\n".join(self.console().splitlines()[-60:])
        return MachineError(f"{message}\n--- console ({self.console_log}) ---\n{tail}")

    def http_get(self, path: str, timeout: float = 10) -> tuple[int, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        finally:
            connection.close()

    def wait_for_http(self, path: str = "/connexion", timeout: float = 600) -> float:
        """Seconds from power-on until ``path`` answers 200 (QEMU accepts the forwarded port at once, so
        only an HTTP answer counts)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise self.fail("la machine s'est arrêtée avant de servir")
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, _ = self.http_get(path, timeout=5)
                if status == 200:
                    return round(time.monotonic() - self.started_at, 1)
            time.sleep(1)
        raise self.fail(f"{path} n'a pas répondu en {timeout:.0f} s")

    def ssh_command(self, command: str, *, user: str = "technicien", key: Path | None = None) -> list[str]:
        key = key or self.ssh_key
        return ["ssh", "-p", str(self.ssh_port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=20",
                "-o", "IdentitiesOnly=yes", *(["-i", str(key)] if key else []), f"{user}@127.0.0.1", command]

    def ssh(self, command: str, *, user: str = "technicien", key: Path | None = None, check: bool = True,
            timeout: float = 180, stdin: str = "") -> subprocess.CompletedProcess:
        result = subprocess.run(self.ssh_command(command, user=user, key=key), capture_output=True, text=True,
                                timeout=timeout, input=stdin)
        if check and result.returncode != 0:
            raise MachineError(f"ssh {command!r} : code {result.returncode}\n{result.stdout}{result.stderr}")
        return result

    def wait_for_ssh(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise self.fail("la machine s'est arrêtée avant d'accepter SSH")
            with contextlib.suppress(subprocess.TimeoutExpired):
                if self.ssh("true", check=False, timeout=30).returncode == 0:
                    return
            time.sleep(2)
        raise self.fail(f"SSH n'a pas répondu en {timeout:.0f} s")

    def wait_until_settled(self, timeout: float = 300) -> str:
        """``systemctl is-system-running --wait``: 'running' once every unit has started, else 'degraded'."""
        result = self.ssh("systemctl is-system-running --wait", check=False, timeout=timeout)
        return result.stdout.strip()

    def qmp(self, *commands: dict) -> list[dict]:
        """Commands to QEMU's machine protocol (QMP), in one session; their answers (events skipped)."""
        answers = []
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(30)
            sock.connect(str(self.qmp_socket))
            stream = sock.makefile("rw")
            json.loads(stream.readline())  # the greeting
            for command in ({"execute": "qmp_capabilities"}, *commands):
                stream.write(json.dumps(command) + "\n")
                stream.flush()
                while "event" in (answer := json.loads(stream.readline())):
                    continue
                if "error" in answer:
                    raise MachineError(f"QMP {command['execute']} : {answer['error']}")
                answers.append(answer)
        return answers[1:]

    def plug_stick(self, image: Path, name: str = "hotstick") -> None:
        """A USB stick plugged into the running machine: the guest sees a new USB mass-storage device."""
        self.qmp({"execute": "blockdev-add", "arguments": {
                     "node-name": name, "driver": "raw",
                     "file": {"driver": "file", "filename": str(image)}}},
                 {"execute": "device_add", "arguments": {
                     "driver": "usb-storage", "bus": "usb.0", "drive": name, "id": f"{name}-device",
                     "removable": True}})

    def unplug_stick(self, name: str = "hotstick") -> None:
        """The stick pulled out of the running machine."""
        self.qmp({"execute": "device_del", "arguments": {"id": f"{name}-device"}})

    def power_cut(self) -> None:
        """The power goes: QEMU killed outright, nothing flushed by the guest."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def poweroff(self, timeout: float = 180) -> None:
        """A clean shutdown through systemd (the technician's ``sudo poweroff``), power cut if it hangs."""
        if not self.running:
            return
        self.ssh("sudo systemctl poweroff", check=False, timeout=30)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.power_cut()

    def wait_for_console(self, pattern: str, timeout: float = 300) -> str:
        """The first console line of this power-on matching ``pattern`` (U-Boot's and the kernel's too)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.boot_journal_mentions(pattern)
            if found:
                return found[0]
            if not self.running:
                raise self.fail(f"la machine s'est arrêtée avant « {pattern} »")
            time.sleep(0.5)
        raise self.fail(f"« {pattern} » n'est pas apparu en {timeout:.0f} s")

    def boot_journal_mentions(self, pattern: str) -> list[str]:
        return [line for line in self.console().splitlines() if re.search(pattern, line)]


@contextlib.contextmanager
def running(machine: Machine) -> Iterator[Machine]:
    """Start the machine and be sure it is gone afterwards, whatever happened."""
    machine.start()
    try:
        yield machine
    finally:
        machine.power_cut()
