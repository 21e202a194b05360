"""The real RAUC service installing into two root slots that are files, on a private D-Bus.

What differs from the card: the slots are files (``type=raw``), the bootloader is RAUC's
``custom`` backend (a shell script keeping ``primary`` and each slot's state in files, written as
U-Boot's environment is: a new copy then a rename), and bundles are in RAUC's ``plain`` format,
because this kernel has no device-mapper for ``verity`` (the box's system.conf accepts ``verity``
only). The install path itself (signature check, marking the target bad, writing it, switching the
primary) is RAUC's own.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.update.bundles import COMPATIBLE, Keys

BACKEND = """#!/usr/bin/env python3
# RAUC's custom bootloader backend, keeping U-Boot's meaning: one environment written whole (a new
# copy synced, then renamed); set-primary puts a slot first with its tries back (BOOT_ORDER and
# BOOT_x_LEFT in one write), set-state bad takes its tries away.
import os, sys
env_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bootenv")
env = dict(line.split("=", 1) for line in open(env_path).read().split())
def save():
    with open(env_path + ".new", "w") as out:
        out.write("\\n".join(f"{k}={v}" for k, v in env.items()) + "\\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(env_path + ".new", env_path)
    fd = os.open(os.path.dirname(env_path), os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
command = sys.argv[1]
if command in ("get-primary", "get-current"):
    print(env["primary"])
elif command == "get-state":
    print(env.get(sys.argv[2], "good"))
elif command == "set-primary":
    env["primary"], env[sys.argv[2]] = sys.argv[2], "good"
    save()
elif command == "set-state":
    env[sys.argv[2]] = sys.argv[3]
    save()
else:
    sys.exit(1)
"""


def needs_rig() -> None:
    if os.geteuid() != 0:
        pytest.skip("RAUC's service mounts bundles: root only")
    for tool in ("rauc", "dbus-daemon", "losetup", "mksquashfs"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} absent")
    if not Path("/dev/loop-control").exists():
        pytest.skip("no loop devices here")


def digest(path: Path, size: int | None = None) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read(size) if size is not None else handle.read()).hexdigest()


@dataclass
class Rig:
    folder: Path
    keys: Keys
    slot_bytes: int
    process: subprocess.Popen | None = None
    bus: subprocess.Popen | None = None
    env: dict[str, str] | None = None
    bundle_path: Path | None = None  # its loop device is undone after a cut

    @property
    def slots(self) -> dict[str, Path]:
        return {"A": self.folder / "slotA.img", "B": self.folder / "slotB.img"}

    def prepare(self, old_image: bytes) -> None:
        """A card as flashed: slot A holds the running system, B is zeros, A is the primary."""
        (self.folder / "mnt").mkdir(parents=True, exist_ok=True)
        (self.folder / "rauc-data").mkdir(exist_ok=True)
        backend = self.folder / "boot.sh"
        backend.write_text(BACKEND)
        backend.chmod(0o755)
        for name, path in self.slots.items():
            with open(path, "wb") as handle:
                handle.truncate(self.slot_bytes)
                if name == "A":
                    handle.write(old_image)
        (self.folder / "bootenv").write_text("primary=A\nA=good\nB=good\n")
        (self.folder / "rauc-data" / "central.raucs").unlink(missing_ok=True)
        (self.folder / "system.conf").write_text(f"""[system]
compatible={COMPATIBLE}
bootloader=custom
data-directory={self.folder / 'rauc-data'}
mountprefix={self.folder / 'mnt'}
bundle-formats=plain verity

[handlers]
bootloader-custom-backend={backend}

[keyring]
path={self.keys.cert}

[slot.rootfs.0]
device={self.slots['A']}
type=raw
bootname=A

[slot.rootfs.1]
device={self.slots['B']}
type=raw
bootname=B
""")

    def start(self) -> None:
        self.bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                                    stdout=subprocess.PIPE, text=True)
        address = self.bus.stdout.readline().strip()
        self.env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": address, "DBUS_STARTER_BUS_TYPE": "session"}
        with open(self.folder / "service.log", "ab") as log:
            self.process = subprocess.Popen(
                ["rauc", f"--conf={self.folder / 'system.conf'}", f"--override-boot-slot={self.booted()}",
                 "service"], env=self.env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        for _ in range(100):
            if self.client(["status"]).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("rauc service did not start: " + (self.folder / "service.log").read_text()[-500:])

    def client(self, args: list[str], **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(["rauc", *args], env=self.env, capture_output=True, text=True, check=False,
                              timeout=300, **kwargs)

    def install_async(self, bundle: Path) -> subprocess.Popen:
        return subprocess.Popen(["rauc", "install", str(bundle)], env=self.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    def cut(self) -> None:
        """Power gone: the service and everything it started (the bootloader backend mid-write too)
        killed where they stand, its bundle mount and loop device undone as a reboot would, the bus gone."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        if self.bus is not None and self.bus.poll() is None:
            self.bus.send_signal(signal.SIGKILL)
            self.bus.wait()
        mount = self.folder / "mnt"
        for line in Path("/proc/self/mounts").read_text().splitlines():
            point = line.split()[1]
            if point.startswith(str(mount)):
                subprocess.run(["umount", "-l", point], check=False)
        if self.bundle_path is not None:
            attached = subprocess.run(["losetup", "-j", str(self.bundle_path)], capture_output=True, text=True,
                                      check=False)
            for line in attached.stdout.splitlines():
                subprocess.run(["losetup", "-d", line.split(":")[0]], check=False)
        self.process = self.bus = None

    def booted(self) -> str:
        """What the boot script would boot now: the primary unless its tries are gone, else the other."""
        env = dict(line.split("=", 1) for line in (self.folder / "bootenv").read_text().split())
        primary = env["primary"]
        return primary if env.get(primary) != "bad" else ("B" if primary == "A" else "A")


def cut_installs(rig: Rig, bundle: Path, old: bytes, new: bytes, *, cycles: int, seed: str = "21",
                 ) -> list[tuple[str, bool]]:
    """Time one whole install, then ``cycles`` installs cut at a random moment within that time
    (and a little after); for each, the slot the card boots and whether that slot holds a whole
    system (the old one untouched, or the new one complete)."""
    rig.bundle_path = bundle
    rig.prepare(old)
    rig.start()
    started = time.monotonic()
    done = rig.client(["install", str(bundle)])
    if done.returncode != 0:
        raise RuntimeError(f"install failed: {done.stderr}")
    full_s = time.monotonic() - started
    rig.cut()
    old_digest, new_digest = hashlib.sha256(old).hexdigest(), hashlib.sha256(new).hexdigest()
    chance, outcomes = random.Random(seed), []
    for _ in range(cycles):
        rig.prepare(old)
        rig.start()
        install = rig.install_async(bundle)
        time.sleep(chance.uniform(0.0, full_s * 1.1))
        rig.cut()
        install.kill()
        install.wait()
        slot = rig.booted()
        whole = (digest(rig.slots["A"], len(old)) == old_digest if slot == "A"
                 else digest(rig.slots["B"], len(new)) == new_digest)
        outcomes.append((slot, whole))
    return outcomes
