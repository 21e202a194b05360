"""USB backup sticks plugged in while the agent runs: the copy is made at once, not at night.

Nothing polls. Real sticks: a thread blocked in ``poll()`` on ``/proc/self/mounts``, which the
kernel marks ``POLLPRI|POLLERR`` at every mount and unmount in this process's mount namespace
(proc(5)), i.e. exactly the mounts the service can see and write to, whoever made them (the
image's udev rule and ``systemd-mount``, udisks, fstab, a technician's ``mount``). Simulation: a
thread blocked on an inotify descriptor watching the folder whose sub-folders stand for sticks.

Watchers only notice new mount points; the worker thread then looks into each one (that first
look through an automount point is what mounts the stick) and copies, one stick at a time. A
mount point that stays listed is never looked into again, so an automounted stick left in is
not woken every time its idle timeout unmounts it.
"""

from __future__ import annotations

import ctypes
import logging
import os
import select
import threading
from collections.abc import Callable
from pathlib import Path

from appliance.backup.usb import MountedUsbMedia

log = logging.getLogger(__name__)

Appeared = Callable[[list[Path]], None]


class _BlockedThread:
    """A daemon thread blocked in poll() on one descriptor (``poll_events``) plus a pipe that
    ``stop`` writes to; ``_changed`` runs once at start and after each wake-up."""

    name = "usb-sticks"
    poll_events = select.POLLIN

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._wake_read, self._wake_write = -1, -1

    def _open(self) -> int:
        raise NotImplementedError

    def _changed(self, fd: int) -> None:
        raise NotImplementedError

    def start(self) -> None:
        """Open the event source (OSError if it cannot be), look once, then wait for changes."""
        fd = self._open()
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._run, args=(fd,), name=self.name, daemon=True)
        self._thread.start()

    def _run(self, fd: int) -> None:
        poller = select.poll()
        poller.register(fd, self.poll_events)
        poller.register(self._wake_read, select.POLLIN)
        try:
            while True:  # the first look comes after opening: a change in between is not missed
                try:
                    self._changed(fd)
                except Exception:
                    log.exception("Clés USB : événement illisible")
                ready = dict(poller.poll())  # no timeout: asleep until the kernel says something changed
                if self._wake_read in ready:
                    return
        finally:
            os.close(fd)
            os.close(self._wake_read)

    def stop(self) -> None:
        if self._thread is None:
            return
        os.write(self._wake_write, b"x")
        self._thread.join(timeout=5)
        os.close(self._wake_write)
        self._thread = None

    @property
    def native_id(self) -> int | None:
        return self._thread.native_id if self._thread is not None else None


class MountTableWatcher(_BlockedThread):
    """Real sticks: mount points that appear under ``roots`` in /proc/self/mounts.

    ``/proc/self/mounts`` always polls readable (POLLIN); a mount change adds POLLPRI|POLLERR once
    per change for this open file (the kernel compares its mount namespace's event counter), so
    only those wake the thread: a POLLIN-only answer is not a change."""

    name = "usb-mounts"
    poll_events = select.POLLPRI | select.POLLERR

    def __init__(self, roots: list[str], on_appeared: Appeared,
                 mounts_file: Path = Path("/proc/self/mounts")) -> None:
        super().__init__()
        self.mounts = MountedUsbMedia(roots, marker="", mounts_file=mounts_file)
        self.on_appeared = on_appeared
        self._known: set[Path] = set()

    def _open(self) -> int:
        return os.open(self.mounts.mounts_file, os.O_RDONLY | os.O_CLOEXEC)

    def _changed(self, fd: int) -> None:
        points = set(self.mounts.mount_points())
        appeared = sorted(points - self._known)
        self._known = points  # a stick unmounted and mounted again is new again
        if appeared:
            self.on_appeared(appeared)


IN_CREATE, IN_MOVED_TO, IN_DELETE, IN_MOVED_FROM, IN_ONLYDIR = 0x100, 0x80, 0x200, 0x40, 0x01000000
IN_NONBLOCK, IN_CLOEXEC = os.O_NONBLOCK, os.O_CLOEXEC


class FolderStickWatcher(_BlockedThread):
    """Simulation: each folder inside ``root`` is a plugged-in stick, ready once it holds the marker
    folder. inotify (through libc, the kernel's documented inotify(7) calls) watches the root and
    each stick, so ``mkdir -p root/CLE/appliance-backups`` wakes it whatever the order; a stick is
    reported when it becomes ready."""

    name = "usb-simulated"

    def __init__(self, root: Path, marker: str, on_appeared: Appeared) -> None:
        super().__init__()
        self.root = root
        self.marker = marker
        self.on_appeared = on_appeared
        self._ready: set[Path] = set()
        self._libc = ctypes.CDLL(None, use_errno=True)

    def _open(self) -> int:
        self.root.mkdir(parents=True, exist_ok=True)
        fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        return fd

    def _watch(self, fd: int, folder: Path) -> None:
        mask = IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR
        if self._libc.inotify_add_watch(fd, os.fsencode(folder), mask) < 0:
            log.warning("Clés simulées : %s non surveillé (errno %d)", folder, ctypes.get_errno())

    def _changed(self, fd: int) -> None:
        try:
            while os.read(fd, 65536):  # the events only say "look again": the folders are the truth
                pass
        except BlockingIOError:
            pass
        self._watch(fd, self.root)  # the same watch again if it exists; a new one if root was re-created
        sticks = sorted(path for path in self.root.iterdir() if path.is_dir()) if self.root.is_dir() else []
        for stick in sticks:
            self._watch(fd, stick)
        ready = {stick for stick in sticks if (stick / self.marker).is_dir()}
        appeared = sorted(ready - self._ready)
        self._ready = ready
        if appeared:
            self.on_appeared(appeared)


class StickCopier:
    """The worker: one thread asleep on a condition until sticks are reported, then one copy at a
    time, in order; a stick reported again while waiting is queued once."""

    def __init__(self, marker: str, copy: Callable[[Path], object]) -> None:
        self.marker = marker
        self.copy = copy
        self._pending: list[Path] = []
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="usb-copy", daemon=True)
        self._thread.start()

    def appeared(self, points: list[Path]) -> None:
        with self._wake:
            self._pending += [point for point in points if point not in self._pending]
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                point = self._pending.pop(0)
            try:
                self._handle(point)
            except Exception:
                log.exception("Copie sur la clé USB %s en erreur", point)

    def _handle(self, point: Path) -> None:
        folder = point / self.marker
        try:
            ours = folder.is_dir()  # through an automount point, this first look mounts the stick
        except OSError as exc:
            log.warning("Clé USB %s illisible (%s) : rien copié", point, exc)
            return
        if not ours:
            log.info("Clé USB branchée (%s) sans dossier %s : l'appareil n'y écrit pas", point, self.marker)
            return
        self.copy(folder)

    def stop(self, timeout_s: float = 30) -> None:
        """Stop taking sticks; a copy under way gets ``timeout_s`` to end (a cut one leaves only a
        ``.partial`` file, removed at the next copy)."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
            self._thread = None
