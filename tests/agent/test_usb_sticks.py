"""A prepared USB stick plugged in gets the newest verified backup at once, through the agent's
own threads: the simulated sticks (folders, inotify) end to end, and the real watcher blocked in
poll() on the real /proc/self/mounts while this test mounts a tmpfs (root only)."""

from __future__ import annotations

import itertools
import os
import platform
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from appliance.agent.sticks import MountTableWatcher
from appliance.backup.local import backups_folder
from appliance.backup.manifest import Manifest
from appliance.backup.snapshot import file_sha256, manifest_path_for
from appliance.backup.stick_repository import REPOSITORY, fetch, key_file
from appliance.backup.usb import simulated_sticks_root

MARKER = "appliance-backups"
POLL_SYSCALLS = {"x86_64": {7, 271}, "aarch64": {73}, "armv7l": {168, 336}}


class Copies:
    """Collects the agent's ``usb_backup`` events; ``wait(n)`` returns once ``n`` have come."""

    def __init__(self) -> None:
        self.events: list = []
        self._changed = threading.Condition()

    def __call__(self, event) -> None:
        if event.kind == "usb_backup":
            with self._changed:
                self.events.append(event)
                self._changed.notify_all()

    def wait(self, count: int, timeout: float = 180) -> list:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.events) >= count, timeout), self.events
        return self.events


def runs(cfg) -> list[tuple]:
    conn = sqlite3.connect(cfg.paths.database)
    try:
        return conn.execute("SELECT target, reason, status, location, started_at, finished_at FROM backup_run "
                            "ORDER BY id").fetchall()
    finally:
        conn.close()


def plug(root: Path, name: str, *, prepared: bool = True) -> Path:
    stick = root / name
    (stick / MARKER if prepared else stick).mkdir(parents=True)
    return stick


def test_sticks_plugged_in_get_the_newest_verified_backup_one_at_a_time(cfg, make_user, make_agent):
    make_user("infirmier")
    root = simulated_sticks_root(cfg.paths.data_dir)
    first = plug(root, "CLE-A")  # plugged while the agent was stopped: copied as soon as it starts

    agent, _clock, _outbox = make_agent()
    copies = Copies()
    agent.events.subscribe(copies)
    # No verified backup existed: one is made for the stick (reason "usb"), logged like the nightly one.
    [event] = copies.wait(1)
    assert event.data["ok"] is True and event.severity == "info"
    made = runs(cfg)
    assert [(target, reason, status) for target, reason, status, *_ in made] == [
        ("local", "usb", "ok"), ("usb", "usb", "ok")]
    [local_copy] = [path for path in backups_folder(cfg).glob("*.db.gz")]
    repository = first / MARKER / cfg.site.id / REPOSITORY
    assert made[1][3] == str(repository / local_copy.name) and event.data["file"] == local_copy.name
    read_back = fetch(cfg, repository, key_file(cfg), cfg.paths.data_dir / "relu")
    assert file_sha256(read_back) == file_sha256(local_copy)
    assert Manifest.read(manifest_path_for(read_back)) == Manifest.read(manifest_path_for(local_copy))

    foreign = plug(root, "PHOTOS", prepared=False)
    second, third = plug(root, "CLE-B"), plug(root, "CLE-C")  # two at once
    copies.wait(3)
    assert {event.data["stick"] for event in copies.events[1:]} == {str(second), str(third)}
    later = runs(cfg)
    assert [row[:3] for row in later].count(("local", "usb", "ok")) == 1  # the same verified copy, not a new one
    usb_rows = sorted((row[4], row[5]) for row in later if row[0] == "usb")
    assert len(usb_rows) == 3
    for (_start, end), (next_start, _next_end) in itertools.pairwise(usb_rows):
        assert end <= next_start  # never two copies at the same time
    for stick in (second, third):
        assert (stick / MARKER / cfg.site.id / REPOSITORY / "config").is_file()
        assert not list(stick.rglob("*.db.gz"))  # nothing in clear
    assert list(foreign.iterdir()) == []  # not ours: never written to


def test_a_stick_plugged_in_again_is_checked_not_rewritten_and_the_page_shows_it(cfg, make_user, make_agent):
    make_user("infirmier")
    root = simulated_sticks_root(cfg.paths.data_dir)
    agent, _clock, _outbox = make_agent()
    copies = Copies()
    agent.events.subscribe(copies)
    stick = plug(root, "CLE")
    copies.wait(1)
    repository = stick / MARKER / cfg.site.id / REPOSITORY
    [copied] = [repository / path.name for path in backups_folder(cfg).glob("*.db.gz")]
    written = {path: path.stat().st_ino for path in repository.rglob("*") if path.is_file()}
    os.rename(stick, root.parent / "cle-retiree")  # pulled out
    plug(root, "TEMOIN")  # copied once the watcher has seen the first stick gone
    copies.wait(2)
    os.rename(root.parent / "cle-retiree", stick)  # plugged in again
    again = copies.wait(3)[2]
    assert again.data["ok"] is True and again.data["stick"] == str(stick)
    # Read back and found intact: not written twice (restic's data, index and snapshot files unchanged).
    assert {path: path.stat().st_ino for path in repository.rglob("*") if path.is_file()} == written

    from appliance.backup import status

    state = status.collect(cfg, agent.usb_media(), now=None)
    assert state.last_usb_ok is not None and state.last_usb_ok.location == str(copied)
    assert [plugged.mount_point for plugged in state.sticks] == [stick, root / "TEMOIN"]
    assert all(plugged.ready for plugged in state.sticks)
    assert not [problem for problem in state.problems if problem.code.startswith("usb")]


# -- the real watcher, on the real mount table ----------------------------------------------------------


def can_mount(tmp_path: Path) -> bool:
    probe = tmp_path / "probe"
    probe.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)],
                                           capture_output=True).returncode != 0:
        return False
    subprocess.run(["umount", str(probe)], check=True)
    return True


def blocked_in_poll(tid: int) -> bool:
    """The thread is asleep in the poll system call (proc(5): /proc/[pid]/task/[tid]/syscall)."""
    fields = Path(f"/proc/self/task/{tid}/syscall").read_text().split()
    return fields[0] != "running" and int(fields[0]) in POLL_SYSCALLS.get(platform.machine(), set())


def eventually(condition, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_the_real_watcher_sleeps_in_poll_and_wakes_when_a_stick_is_mounted(tmp_path):
    if not can_mount(tmp_path):
        pytest.skip("mount not permitted here (needs root)")
    if platform.machine() not in POLL_SYSCALLS:
        pytest.skip(f"poll's system call numbers unknown on {platform.machine()}")
    media, elsewhere = tmp_path / "media", tmp_path / "ailleurs"
    stick = media / "usb-sdz1"
    stick.mkdir(parents=True)
    elsewhere.mkdir()
    reported: list[list[Path]] = []
    changed = threading.Condition()

    def appeared(points: list[Path]) -> None:
        with changed:
            reported.append(points)
            changed.notify_all()

    def wait_for(count: int) -> None:
        with changed:
            assert changed.wait_for(lambda: len(reported) >= count, 60), reported

    def asleep_again() -> None:
        """The watcher has read the mount table since the last change and waits in poll() for the next:
        the kernel wakes it at each change, and it goes back to sleep only once poll() has no change left
        to report (proc(5)), i.e. after ``_changed`` read the table as it is now."""
        assert eventually(lambda: blocked_in_poll(watcher.native_id), 60), "the watcher never went back to poll()"

    watcher = MountTableWatcher([str(media)], appeared)
    watcher.start()
    mounted: list[Path] = []
    try:
        asleep_again()  # asleep in the kernel until the mount table changes
        assert reported == []
        for point in (elsewhere, stick):
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(point)], check=True)
            mounted.append(point)
        wait_for(1)
        assert reported == [[stick]]  # the mount outside the roots woke it too, but is no stick
        subprocess.run(["umount", str(stick)], check=True)
        mounted.remove(stick)
        asleep_again()  # it saw the stick gone (a person takes seconds to plug it in again, a loaded CPU
        # may not run the watcher between two mount commands a few milliseconds apart)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(stick)], check=True)
        mounted.append(stick)
        wait_for(2)
        assert reported == [[stick], [stick]]  # unmounted then mounted again: a new stick
    finally:
        watcher.stop()
        for point in reversed(mounted):
            subprocess.run(["umount", str(point)], check=False)
    assert watcher.native_id is None
