"""USB sticks that may receive backups: a small interface, a real and a simulated implementation.

A stick is ours only if it carries the marker folder (``appliance-backups`` by default) at its
top: the box never writes to a stick someone plugged in for another purpose.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol


class UsbMedia(Protocol):
    def backup_folders(self) -> list[Path]:
        """The marker folders of the sticks plugged in now (empty when none)."""

    def plugged(self) -> list[Path]:
        """Every stick plugged in now, ours or not (the status page tells staff which one is unprepared)."""


class MountedUsbMedia:
    """Real sticks: mount points under the configured roots (the image's udev rule, udisks or fstab), read
    from /proc/self/mounts, that carry the marker folder. A folder that merely exists under /media
    without a mounted stick is ignored, so a backup never lands on the SD card by mistake."""

    def __init__(self, roots: list[str], marker: str, mounts_file: Path = Path("/proc/self/mounts")) -> None:
        self.roots = [Path(root) for root in roots]
        self.marker = marker
        self.mounts_file = mounts_file

    def mount_points(self) -> list[Path]:
        try:
            lines = self.mounts_file.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []
        points = []
        for line in lines:
            fields = line.split()
            if len(fields) < 2:
                continue
            # /proc/mounts escapes spaces and tabs as octal: "Cl\040USB" is "Cl USB".
            point = Path(fields[1].encode().decode("unicode_escape"))
            # An automounted stick is listed twice once touched (autofs, then the stick): one stick.
            if any(root in point.parents for root in self.roots) and point not in points:
                points.append(point)
        return points

    def plugged(self) -> list[Path]:
        return self.mount_points()

    def backup_folders(self) -> list[Path]:
        return [point / self.marker for point in self.mount_points() if (point / self.marker).is_dir()]


def simulated_sticks_root(data_dir: Path) -> Path:
    """In simulation (``make run``) each folder created here is a plugged-in stick."""
    return data_dir / "simulated-usb"


class FolderUsbMedia:
    """Simulated sticks: plain folders standing for mounted sticks (simulation mode and tests); with a
    ``root``, every folder inside it is one more stick (``mkdir`` there plugs one in)."""

    def __init__(self, sticks: list[Path], marker: str, *, root: Path | None = None) -> None:
        self.sticks = sticks
        self.marker = marker
        self.root = root

    def plugged(self) -> list[Path]:
        sticks = [stick for stick in self.sticks if stick.is_dir()]
        if self.root is not None and self.root.is_dir():
            sticks += sorted(path for path in self.root.iterdir() if path.is_dir())
        return sticks

    def backup_folders(self) -> list[Path]:
        return [stick / self.marker for stick in self.plugged() if (stick / self.marker).is_dir()]


def drop_from_page_cache(path: Path) -> None:
    """Forget the cached pages of ``path`` so the next read really comes from the stick."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


@contextmanager
def stick_lock(folder: Path) -> Iterator[None]:
    """One writer per stick at a time, across processes (the agent's copies, ``appliance backup``): an
    flock on the stick's marker folder itself, so nothing is left on the stick if it is pulled out."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class StickNotMounted(OSError):
    """A stick's folder is no longer on a mounted filesystem: the stick went, nothing may be written."""


def ensure_mounted(folder: Path) -> None:
    """Raise ``StickNotMounted`` unless the stick folder ``folder`` (``<mount point>/<marker>``) is on
    the filesystem really mounted at its mount point. Called right before each write on a stick: a
    stick gone leaves its mount point an empty folder of the SD card, and a copy written there
    would fill the SD card with a backup nobody takes away."""
    mount_point = folder.parent
    try:
        mounted = os.path.ismount(mount_point) and os.stat(folder).st_dev == os.stat(mount_point).st_dev
    except OSError:
        mounted = False
    if not mounted:
        raise StickNotMounted(f"clé USB retirée ou démontée : {mount_point} n'est plus une clé montée, "
                              "rien n'y a été écrit (rebranchez la clé)")


def folder_identity(folder: Path) -> tuple[int, int] | None:
    """(device, inode) of a stick's folder, None if it cannot be reached. A stick pulled out leaves at
    its path the empty mount point, nothing, a folder restic re-creates there, or I/O errors: never
    the same identity."""
    try:
        found = os.stat(folder)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def pulled_out(folder: Path, identity: tuple[int, int] | None) -> bool:
    """The stick whose folder had ``identity`` before a copy is no longer the one at ``folder``."""
    return identity is not None and folder_identity(folder) != identity


def remove_left_behind(folder: Path, identity: tuple[int, int] | None) -> None:
    """After a stick whose folder had ``identity`` was pulled out mid-copy: remove what restic, before
    it was stopped, re-created at ``folder`` under the empty mount point, i.e. on the SD card (restic
    is stopped within ``restic.WATCH_S`` of the pull, but a loaded CPU may run it first).

    Only ever in the mount point's own folder of the SD card: it is held open and must be on its
    parent's filesystem (no stick mounted there again), and the stick must have been a filesystem of
    its own (not a folder standing for it: the simulation's sticks are left alone)."""
    if identity is None:
        return
    mount_point = folder.parent
    try:
        fd = os.open(mount_point, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return
    try:
        sd_card = os.stat(mount_point.parent).st_dev
        if identity[0] != sd_card and os.fstat(fd).st_dev == sd_card:
            shutil.rmtree(folder.name, dir_fd=fd, ignore_errors=True)
    except OSError:
        pass
    finally:
        os.close(fd)
