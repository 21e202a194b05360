"""The real box behind the updater: its slots (``rauc status``), its services, its version.

Only the ``appliance update`` commands build this (as root); tests build their own ``Box``.
"""

from __future__ import annotations

import json
import os
import subprocess
from importlib import metadata
from pathlib import Path

from appliance.update.bundle import RAUC
from appliance.update.installer import Box

SERVICES = ("appliance-web.service", "appliance-agent.service")
# RAUC keeps U-Boot's boot counter in rauc.env on the boot partition, which is mounted read-only: a
# command that writes it runs as a transient unit that Requires= this one, with a request file in the
# folder its condition watches (systemd/appliance-boot-writable.service).
BOOT_WRITABLE = "appliance-boot-writable.service"
BOOT_WRITE_REQUESTS = Path("/run/appliance-boot-write")


def running_version() -> str:
    """The appliance's version as this process sees it (a release on trial wins over the system's)."""
    return metadata.version("appliance")


def services_version(work_dir: Path) -> str:
    """The version the web and the agent run: the application release in use, else the system's.
    The root timer runs the system's code (never the release on trial), so it asks here."""
    from appliance.update.releases import current_release

    return current_release(work_dir) or running_version()


def since_boot(uptime: Path = Path("/proc/uptime")) -> float:
    """Seconds since the kernel started (0 when unknown: the trial then runs from the first check)."""
    try:
        return float(uptime.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


def booted_slot(cmdline: Path = Path("/proc/cmdline")) -> str:
    """``A`` or ``B`` as the bootloader told the kernel (``rauc.slot=``); ``-`` off the box."""
    try:
        words = cmdline.read_text().split()
    except OSError:
        return "-"
    return next((word.split("=", 1)[1] for word in words if word.startswith("rauc.slot=")), "-")


def rauc_status() -> dict:
    try:
        done = subprocess.run([RAUC, "status", "--output-format=json"], capture_output=True, text=True,
                              timeout=60, check=False)
        return json.loads(done.stdout) if done.returncode == 0 else {}
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return {}


def other_slot_bytes(status: dict) -> int:
    """The size of the root slot not booted (what a system image must fit in); 0 when unknown."""
    for entry in status.get("slots") or []:
        for slot in entry.values():
            if slot.get("class") == "rootfs" and slot.get("state") != "booted":
                try:
                    fd = os.open(slot["device"], os.O_RDONLY)
                except (OSError, KeyError):
                    return 0
                try:
                    return os.lseek(fd, 0, os.SEEK_END)
                finally:
                    os.close(fd)
    return 0


def boot_env_writer(args: list[str]) -> subprocess.CompletedProcess:
    """Run ``args``; a RAUC command that writes rauc.env (install, mark-good, mark-bad, mark-active)
    in a transient unit during which the boot partition is read-write, and read-only again after."""
    writes = args[0] == RAUC and len(args) > 1 and (
        args[1] == "install" or (args[1] == "status" and len(args) > 2 and args[2].startswith("mark-")))
    if not writes:
        return subprocess.run(args, capture_output=True, text=True, check=False)
    BOOT_WRITE_REQUESTS.mkdir(mode=0o700, exist_ok=True)
    request = BOOT_WRITE_REQUESTS / str(os.getpid())
    request.touch()
    try:
        return subprocess.run(["systemd-run", "--wait", "--pipe", "--quiet", "--collect",
                               f"--property=Requires={BOOT_WRITABLE}", f"--property=After={BOOT_WRITABLE}",
                               "--", *args], capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    finally:
        request.unlink(missing_ok=True)


def restart_services() -> None:
    subprocess.run(["systemctl", "restart", *SERVICES], check=False, timeout=300)


def reboot() -> None:
    """Boot the system just written to the other slot (the bootloader tries it once RAUC said so)."""
    subprocess.run(["systemctl", "reboot"], check=False, timeout=60)


def real_box(cfg) -> Box:
    return Box(data_dir=cfg.paths.data_dir, work_dir=cfg.update.work_dir, keyring=cfg.update.keyring,
               compatible=cfg.update.compatible, trial_s=cfg.update.trial_s,
               slot_bytes=other_slot_bytes(rauc_status()), restart_services=restart_services,
               run=boot_env_writer, since_boot=since_boot)
