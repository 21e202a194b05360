"""Files first boot writes for the service user (owner, group, modes) and the erasing of what
must not stay readable (the provisioning file on FAT, the sheet once shown)."""

from __future__ import annotations

import os
from pathlib import Path

from appliance.files import fsync_folder, write_atomically
from appliance.provision.model import SERVICE_USER


def write_file(path: Path, text: str, mode: int, *, group_service: bool = False,
               owner: tuple[int, int] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if group_service and (ids := user_ids(SERVICE_USER)):
        owner = (-1, ids[1])
    write_atomically(path, text, mode, owner=owner)


def write_private(path: Path, text: str, *, service_owned: bool = True) -> None:
    write_file(path, text, 0o600)
    if service_owned:
        chown_service(path)


def make_dir(path: Path, mode: int, *, service_owned: bool = True) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)
    if service_owned:
        chown_service(path)


def user_ids(name: str) -> tuple[int, int] | None:
    """A user's ids when running as root on the Pi; None elsewhere (laptop, tests)."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def chown_service(path: Path, *, group_only: bool = False) -> None:
    ids = user_ids(SERVICE_USER)
    if ids:
        os.chown(path, -1 if group_only else ids[0], ids[1])


def chown_service_tree(path: Path) -> None:
    """The database and sheet were made by root at first boot: hand them to the service user."""
    if user_ids(SERVICE_USER) is None:
        return
    chown_service(path)
    for item in path.rglob("*"):
        if not item.is_symlink():
            chown_service(item)


def erase(path: Path) -> None:
    """Overwrite with zeros, sync, then unlink: on FAT a plain delete leaves the bytes in free clusters."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    with path.open("r+b") as handle:
        handle.write(b"\0" * size)
        handle.flush()
        os.fsync(handle.fileno())
    path.unlink()
    fsync_folder(path.parent)
