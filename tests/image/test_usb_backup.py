"""What the backups need from the image: USB sticks mounted by the udev rule, restic, the exFAT tools.

Fast tests render the backup role's udev rule as Ansible does and run it through a small evaluator of
the few udev keys it uses (udev(7): ``==``/``!=`` with shell glob patterns and ``|`` alternatives,
``SUBSYSTEMS`` matching the device or any parent, ``$devnode``/``$kernel`` substituted in ``RUN``), so
each kind of device a clinic plugs in is checked: stick, SD card, card reader, the modem's driver CD.
The mount points the rule makes are then read by the agent's own ``MountedUsbMedia``. Slow tests read
the rule installed in the built tree and hand it to the image's own udevadm and systemd-mount.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pytest

from appliance.backup.usb import MountedUsbMedia
from appliance.settings.backup import BackupSettings
from tests.image.building import ON_THE_CARD
from tests.image.conftest import BuiltImage
from tests.image.netcheck import ANSIBLE, role_variables

pytestmark = ON_THE_CARD  # five of these read the built image

RULE_NAME = "80-appliance-usb-backup.rules"
RULE_TOKEN = re.compile(r'\s*([A-Z_]+(?:\{[^}]*\})?)\s*(==|!=|\+=|:=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def rendered_rule() -> str:
    """The template with the role's defaults and group_vars, with Ansible's own trim_blocks."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ANSIBLE / "roles/backup/templates"),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, keep_trailing_newline=True)
    return env.get_template(RULE_NAME + ".j2").render(**role_variables("backup"))


@dataclass
class Device:
    """A block device as udev sees it at ``add``: its own keys, its properties, its parents' subsystems."""

    kernel: str
    env: dict[str, str]
    parents: list[str] = field(default_factory=list)
    action: str = "add"
    subsystem: str = "block"

    def value(self, key: str) -> str:
        if key.startswith("ENV{"):
            return self.env.get(key[4:-1], "")
        return {"ACTION": self.action, "SUBSYSTEM": self.subsystem, "KERNEL": self.kernel}[key]


def _matches(value: str, patterns: str) -> bool:
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns.split("|"))


def programs_run(rules: str, device: Device) -> list[str]:
    """The RUN{program} commands the rules give ``device`` (only the keys this rule file uses)."""
    commands = []
    for line in rules.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        tokens, position = [], 0
        while position < len(line):
            token = RULE_TOKEN.match(line, position)
            assert token, f"unparsed text in: {line[position:]}"
            tokens.append(token.groups())
            position = token.end()
        matched, runs = True, []
        for key, operator, value in tokens:
            if operator in ("==", "!="):
                if key == "SUBSYSTEMS":
                    hit = any(_matches(subsystem, value) for subsystem in [device.subsystem, *device.parents])
                else:
                    hit = _matches(device.value(key), value)
                matched = matched and (hit if operator == "==" else not hit)
            elif key == "RUN{program}":
                runs.append(value.replace("$devnode", f"/dev/{device.kernel}").replace("$kernel", device.kernel))
            else:
                raise AssertionError(f"key not modelled by this test: {key}{operator}")
        if matched:
            commands.extend(runs)
    return commands


def stick(kernel: str = "sda1", fs_type: str = "vfat", label: str = "CLE USB", parents: list[str] | None = None,
          **extra: str) -> Device:
    env = {"ID_FS_USAGE": "filesystem", "ID_FS_TYPE": fs_type, "ID_FS_LABEL": label, **extra}
    return Device(kernel, env, parents if parents is not None else ["block", "scsi", "usb", "usb", "platform"])


def mount_command(rules: str, device: Device) -> list[str]:
    commands = programs_run(rules, device)
    assert len(commands) == 1, commands
    return shlex.split(commands[0])


def options_of(command: list[str]) -> set[str]:
    return set(command[command.index("-o") + 1].split(","))


# ---------------------------------------------------------------------------------------------- fast


@pytest.mark.parametrize("fs_type", ["vfat", "exfat", "ext4"])
def test_a_usb_stick_is_automounted_under_media_for_the_service(fs_type: str) -> None:
    command = mount_command(rendered_rule(), stick(fs_type=fs_type))
    assert command[0] == "/usr/bin/systemd-mount"
    # As systemd-mount(1) documents for udev, plus: bound to the device, unmounted when idle.
    for flag in ("--no-block", "--automount=yes", "--collect", "--bind-device"):
        assert flag in command
    assert any(item.startswith("--timeout-idle-sec=") for item in command)
    assert command[command.index("-t") + 1] == fs_type
    assert {"nosuid", "nodev", "noexec"} <= options_of(command)
    assert command[-2:] == ["/dev/sda1", "/media/usb-sda1"]
    if fs_type == "ext4":
        assert not any(item.startswith("--owner") for item in command)  # owners live on the disk
    else:
        assert "--owner=appliance" in command and "umask=0077" in options_of(command)
    assert ("flush" in options_of(command)) == (fs_type == "vfat")


@pytest.mark.parametrize(
    ("device", "why"),
    [
        (stick("mmcblk0p1", label="RASPIFIRM", parents=["block", "mmc", "mmc_host", "platform"]), "the SD card"),
        (stick("mmcblk0p3", "ext4", "appliance-data", parents=["block", "mmc", "mmc_host", "platform"]),
         "the SD card's data"),
        (stick("sdb2", "ext4", "RASPIROOT"), "a flashed card in a USB reader"),
        (stick("sdb1", "vfat", "RASPIFIRM"), "a flashed card's boot partition in a USB reader"),
        (stick("sr0", "iso9660", "Huawei"), "the 3G modem's driver CD"),
        (stick("sda1", "ntfs", "DISQUE"), "an NTFS disk"),
        (Device("sda", {"ID_PART_TABLE_TYPE": "dos"}, ["block", "scsi", "usb"]), "a whole disk without filesystem"),
        (stick("sda1", "vfat", parents=["block", "virtio", "pci"]), "a disk that is not on USB"),
        (Device("sda1", {"ID_FS_USAGE": "filesystem", "ID_FS_TYPE": "vfat"}, ["block", "usb"], action="remove"),
         "a stick pulled out"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_nothing_else_is_mounted(device: Device, why: str) -> None:
    assert programs_run(rendered_rule(), device) == [], why


def test_the_agent_finds_the_stick_where_the_rule_mounts_it(tmp_path: Path) -> None:
    """The mount point is under the agent's default [backup] usb_mount_roots; with an automount the
    mount table lists the point twice (autofs, then the stick once touched): one stick, one copy."""
    settings = BackupSettings()
    point = Path(mount_command(rendered_rule(), stick(label="Clé USB"))[-1])
    assert any(Path(root) in point.parents for root in settings.usb_mount_roots)
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/mmcblk0p2 / ext4 rw,noatime 0 0\n"
        f"systemd-1 {point} autofs rw,relatime,fd=52,pgrp=1,timeout=30,minproto=5,maxproto=5,direct 0 0\n"
        f"/dev/sda1 {point} vfat rw,nosuid,nodev,noexec,noatime,uid=999,gid=999,fmask=0077,dmask=0077,flush 0 0\n"
    )
    media = MountedUsbMedia(settings.usb_mount_roots, settings.usb_marker, mounts_file=mounts)
    assert media.mount_points() == [point]


def test_idle_timeout_is_a_systemd_time_span() -> None:
    idle = role_variables("backup")["backup_usb_idle_timeout"]
    assert re.fullmatch(r"\d+(ms|s|min)", idle), idle


# ---------------------------------------------------------------------------------------------- built tree


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_the_installed_rule_is_the_rendered_one_and_udev_parses_it(built: BuiltImage) -> None:
    from tests.image.test_image import chroot_mounts, in_chroot

    installed = built.rootfs / "etc/udev/rules.d" / RULE_NAME
    assert installed.read_text() == rendered_rule()
    assert oct(installed.stat().st_mode & 0o777) == "0o644"
    # Debian 12's udev (252) has no `udevadm verify`; `udevadm test` loads every rule file and names
    # the file and line of anything it cannot parse (checked below with a broken copy).
    block = next(Path("/sys/class/block").iterdir()).name
    with chroot_mounts(built.rootfs):
        result = in_chroot(built.rootfs, "udevadm", "test", "--action=add", f"/sys/class/block/{block}")
        assert f"Reading rules file: /etc/udev/rules.d/{RULE_NAME}" in result.stderr + result.stdout
        complaints = [line for line in (result.stderr + result.stdout).splitlines() if RULE_NAME + ":" in line]
        assert complaints == []
        broken = built.rootfs / "etc/udev/rules.d/81-appliance-test-broken.rules"
        try:
            broken.write_text(installed.read_text().replace("ENV{ID_FS_TYPE}", "ENV{ID_FS_TYPE}}", 1))
            result = in_chroot(built.rootfs, "udevadm", "test", "--action=add", f"/sys/class/block/{block}")
            assert "81-appliance-test-broken.rules:" in result.stderr + result.stdout
        finally:
            broken.unlink(missing_ok=True)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("fs_type", ["vfat", "exfat", "ext4"])
def test_the_image_systemd_mount_accepts_every_command(built: BuiltImage, fs_type: str) -> None:
    """systemd-mount checks its options and resolves --owner before it asks the service manager, which
    a chroot does not have: reaching that question means the command line is right for this systemd."""
    from tests.image.test_image import chroot_mounts, in_chroot

    rules = (built.rootfs / "etc/udev/rules.d" / RULE_NAME).read_text()
    command = mount_command(rules, stick(fs_type=fs_type))
    command[-2] = "/dev/null"  # WHAT must exist to be canonicalized; nothing is mounted without PID 1
    with chroot_mounts(built.rootfs):
        result = in_chroot(built.rootfs, *command, check=False)
    assert result.returncode != 0
    assert "Failed to connect to bus" in result.stderr, result.stderr


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_restic_and_the_stick_filesystems_are_in_the_image(built: BuiltImage) -> None:
    from tests.image.test_image import in_chroot

    version = in_chroot(built.rootfs, "restic", "version")
    assert version.stdout.startswith("restic ")
    modules = {path.name for path in (built.rootfs / "lib/modules").glob("*/kernel/fs/*/*.ko*")}
    assert {"vfat.ko", "exfat.ko"} <= {name.split(".ko")[0] + ".ko" for name in modules}
    assert (built.rootfs / "sbin/fsck.exfat").exists() or (built.rootfs / "usr/sbin/fsck.exfat").exists()
    assert (built.rootfs / "media").is_dir()
