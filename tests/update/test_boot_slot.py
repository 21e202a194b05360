"""The A/B card's boot counter seen from Linux: each boot outside a system trial gives its try back, and
every RAUC command that writes U-Boot's environment gets the read-only boot partition made writable
for itself only; RAUC's slots are the card's partitions 2 and 3 whatever the card is called."""

from __future__ import annotations

import configparser
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.update import machine
from appliance.update.bundle import RAUC, BundleRefused
from appliance.update.installer import Box, confirm_boot
from appliance.update.journal import Attempt, Journal, write_journal

REPO = Path(__file__).resolve().parents[2]


class Commands:
    """What the box ran, answering with ``code``."""

    def __init__(self, code: int = 0) -> None:
        self.ran: list[list[str]] = []
        self.code = code

    def __call__(self, args: list[str]) -> subprocess.CompletedProcess:
        self.ran.append(args)
        return subprocess.CompletedProcess(args, self.code, "", "rauc: D-Bus error" if self.code else "")


def box_with(tmp_path: Path, commands: Commands, pending: Attempt | None = None) -> Box:
    data = tmp_path / "data"
    data.mkdir()
    write_journal(data, Journal(pending=pending))
    return Box(data_dir=data, work_dir=tmp_path / "work", keyring=tmp_path / "keyring.pem", compatible="x",
               trial_s=300, slot_bytes=0, restart_services=lambda: None, run=commands)


MARK_BOOTED_ACTIVE = [[RAUC, "status", "mark-active", "booted"]]


def test_an_ordinary_boot_gives_its_try_back(tmp_path):
    commands = Commands()
    assert confirm_boot(box_with(tmp_path, commands), running="1.0.0")
    assert commands.ran == MARK_BOOTED_ACTIVE


def test_a_new_system_on_trial_is_left_to_the_judge(tmp_path):
    commands = Commands()
    trial = Attempt(version="1.1.0", kind="system", channel="usb", outcome="trial", previous_version="1.0.0")
    assert not confirm_boot(box_with(tmp_path, commands, trial), running="1.1.0")
    assert commands.ran == []


def test_the_old_system_reached_by_falling_back_becomes_first_again(tmp_path):
    commands = Commands()
    trial = Attempt(version="1.1.0", kind="system", channel="usb", outcome="trial", previous_version="1.0.0")
    assert confirm_boot(box_with(tmp_path, commands, trial), running="1.0.0")
    assert commands.ran == MARK_BOOTED_ACTIVE


def test_an_application_trial_does_not_hold_the_system_slot(tmp_path):
    commands = Commands()
    trial = Attempt(version="1.1.0", kind="app", channel="3g", outcome="trial", previous_version="1.0.0")
    assert confirm_boot(box_with(tmp_path, commands, trial), running="1.0.0")
    assert commands.ran == MARK_BOOTED_ACTIVE


def test_rauc_refusing_is_said(tmp_path):
    with pytest.raises(BundleRefused, match="n'a pas confirmé"):
        confirm_boot(box_with(tmp_path, Commands(code=1)), running="1.0.0")


@pytest.fixture
def recorded(monkeypatch, tmp_path):
    """subprocess.run as machine.py calls it, with the request folder each call saw."""
    calls: list[tuple[list[str], list[str]]] = []
    requests = tmp_path / "boot-write"
    monkeypatch.setattr(machine, "BOOT_WRITE_REQUESTS", requests)

    def run(args, **kwargs):
        calls.append((args, sorted(p.name for p in requests.iterdir()) if requests.exists() else []))
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(machine.subprocess, "run", run)
    return calls, requests


@pytest.mark.parametrize("command", [["install", "/media/cle/appliance-update/systeme-1.1.0.raucb"],
                                     ["status", "mark-good"], ["status", "mark-bad"],
                                     ["status", "mark-active", "booted"]])
def test_what_writes_u_boot_s_environment_runs_with_the_boot_partition_writable(recorded, command):
    calls, requests = recorded
    machine.boot_env_writer([RAUC, *command])
    (args, seen), = calls
    assert args[:2] == ["systemd-run", "--wait"] and args[-len(command) - 1:] == [RAUC, *command]
    assert "--property=Requires=appliance-boot-writable.service" in args
    assert "--property=After=appliance-boot-writable.service" in args
    assert len(seen) == 1 and list(requests.iterdir()) == []  # the unit's condition held during the call only

def test_the_boot_partition_unit_watches_the_request_folder():
    unit = (REPO / "systemd/appliance-boot-writable.service").read_text()
    assert "ConditionDirectoryNotEmpty=|/run/appliance-boot-write\n" in unit
    assert str(machine.BOOT_WRITE_REQUESTS) == "/run/appliance-boot-write"


@pytest.mark.parametrize("command", [[RAUC, "info", "b.raucb"], [RAUC, "status"], ["systemctl", "reboot"]])
def test_what_only_reads_runs_as_it_is(recorded, command):
    calls, _ = recorded
    machine.boot_env_writer(command)
    assert calls == [(command, [])]


def test_rauc_slots_are_partitions_2_and_3_of_the_card_the_image_builds():
    spec = importlib.util.spec_from_file_location("image_build", REPO / "image/build.py")
    build = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = build  # its dataclasses look their module up there
    spec.loader.exec_module(build)
    system = configparser.ConfigParser()
    system.read(REPO / "image/rauc/system.conf")
    disk = build.DISK_ID.removeprefix("0x")
    assert {system[slot]["bootname"]: system[slot]["device"] for slot in ("slot.rootfs.0", "slot.rootfs.1")} == {
        "A": f"/dev/disk/by-partuuid/{disk}-02", "B": f"/dev/disk/by-partuuid/{disk}-03"}
    script = (REPO / "image/rauc/boot.cmd").read_text()
    chosen = dict(re.findall(r"setenv slot_part (\d)\n\s+setenv rauc_slot ([AB])", script))
    assert chosen == {"2": "A", "3": "B"}
    assert "root=PARTUUID=${slot_uuid}" in script  # no device name: mmcblk0 on the Pi, vda in QEMU
