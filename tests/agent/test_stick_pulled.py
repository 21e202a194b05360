"""A stick pulled out in the middle of restic's copy, as the agent sees it: a real filesystem (an
ext4 image on a loop device) mounted where the stick goes, lazily unmounted while restic writes to
it (what the kernel and udisks do when a stick goes: the path no longer leads to it, restic's open
files go on into nothing; left alone, restic retries for minutes, re-creates the repository's
folders under the empty mount point and reports a snapshot saved there). The run says "clé USB
retirée" (cause ``stick_removed``), in French on the page and in the agent's message; plugged in
again, the stick holds no half copy, and the next copy is whole."""

from __future__ import annotations

import dataclasses
import os
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.backup import status
from appliance.backup.stick_repository import REPOSITORY
from appliance.backup.usb import FolderUsbMedia
from tests.backup.test_emr_backup_page import URL, visible_text
from tests.backup.test_stick_encrypted import MARKER, snapshots

from .test_usb_sticks import Copies

SLOW_STICK_KIB_S = 512  # restic's own upload limit: a 3 MB copy takes seconds, time enough to pull it out


@dataclasses.dataclass
class LoopStick:
    image: Path
    mount_point: Path

    def plug(self) -> None:
        subprocess.run(["mount", "-o", "loop", str(self.image), str(self.mount_point)], check=True)

    def pull(self) -> None:
        subprocess.run(["umount", "--lazy", str(self.mount_point)], check=True)

    def mounted(self) -> bool:
        return any(line.split()[1] == str(self.mount_point) for line in Path("/proc/self/mounts").open())


@pytest.fixture
def loop_stick(tmp_path) -> Iterator[LoopStick]:
    stick = LoopStick(tmp_path / "cle.img", tmp_path / "media" / "KINGSTON")
    stick.mount_point.mkdir(parents=True)
    os.truncate(stick.image, 0) if stick.image.exists() else stick.image.write_bytes(b"")
    os.truncate(stick.image, 64 * 2**20)
    made = subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "KINGSTON", str(stick.image)], capture_output=True)
    if os.geteuid() != 0 or made.returncode != 0 or subprocess.run(
            ["mount", "-o", "loop", str(stick.image), str(stick.mount_point)], capture_output=True).returncode != 0:
        pytest.skip("needs root and loop devices (mount -o loop)")
    subprocess.run(["umount", str(stick.mount_point)], check=True)
    try:
        yield stick
    finally:
        if stick.mounted():
            subprocess.run(["umount", "--lazy", str(stick.mount_point)], check=False)


def test_a_stick_pulled_out_mid_copy_is_reported_and_holds_no_half_copy(
        cfg, make_user, tmp_path, loop_stick, login_as, make_agent, monkeypatch):
    agent, _clock, _outbox = make_agent(start_agent=False)
    make_user("infirmier")
    with sqlite3.connect(cfg.paths.database) as conn:  # records enough for restic to be caught writing them
        conn.execute("CREATE TABLE ballast (data BLOB)")
        conn.execute("INSERT INTO ballast VALUES (?)", (os.urandom(3 * 2**20),))
    conn.close()
    slow = tmp_path / "bin" / "restic"  # the agent's "restic", at a stick's pace
    slow.parent.mkdir()
    slow.write_text(f'#!/bin/sh\nexec {shutil.which("restic")} --limit-upload {SLOW_STICK_KIB_S} "$@"\n')
    slow.chmod(0o755)
    monkeypatch.setenv("PATH", f"{slow.parent}:{os.environ['PATH']}")
    copies = Copies()
    agent.events.subscribe(copies)
    loop_stick.plug()
    stick_folder = loop_stick.mount_point / MARKER
    stick_folder.mkdir()
    repository = stick_folder / cfg.site.id / REPOSITORY
    pulled = threading.Event()

    def pull_while_restic_writes() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if (repository / "config").is_file() and any(path.is_file() for path in (repository / "data").rglob("*")):
                loop_stick.pull()
                pulled.set()
                return
            time.sleep(0.005)

    puller = threading.Thread(target=pull_while_restic_writes)
    puller.start()
    agent.copy_to_plugged_stick(stick_folder)
    puller.join()
    assert pulled.is_set(), "restic ended before the stick could be pulled out"

    [event] = copies.events
    assert event.severity == "warning" and event.data["ok"] is False
    assert "clé USB retirée pendant la copie" in event.message, event.message  # also the agent's status line
    state = status.collect(cfg, FolderUsbMedia([], MARKER))
    assert state.last_verified is not None  # the copy on the SD card was made and checked
    assert state.last_usb.status == "failed" and state.last_usb.cause == "stick_removed"
    assert state.last_usb_ok is None  # nothing of it counts as a copy
    assert "clé USB retirée ou illisible pendant la copie" in visible_text(login_as("medecin").get(URL))
    assert list(loop_stick.mount_point.iterdir()) == []  # restic stopped: nothing re-created on the SD card

    loop_stick.plug()  # plugged in again
    assert snapshots(cfg, repository) == []  # half a copy is no copy
    agent.copy_to_plugged_stick(stick_folder)
    assert copies.events[1].data["ok"] is True, copies.events[1].message
    assert len(snapshots(cfg, repository)) == 1
    assert status.collect(cfg, FolderUsbMedia([], MARKER)).last_usb_ok is not None
