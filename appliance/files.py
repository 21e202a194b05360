"""Writing a small file so that a power cut leaves either the old or the new one, never half of it.

The one atomic write and the one folder fsync of the code base: configuration secrets, the
provisioning's files, the read-only flag, backup manifests and dump segments all go through here.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_atomically(path: Path, data: str | bytes, mode: int | None = None, *,
                     owner: tuple[int, int] | None = None, encoding: str = "utf-8") -> None:
    """Temp file in the same folder, fsync, owner, rename, fsync the folder.

    ``mode`` is set before any byte is written; None leaves what ``open`` would give (0666 less the
    umask, and no chmod: a FAT stick refuses it). ``owner`` is (uid, gid) as ``os.chown`` takes it
    (-1 keeps one); it is set before the rename so the file never appears with the wrong owner.
    The temporary file ends in ``.partial``: the backup's clean-up removes one a power cut left."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if mode is not None else 0o666)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode(encoding) if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        if owner:
            os.chown(temporary, *owner)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    """Make a rename or an unlink in ``folder`` durable. Some filesystems (vfat on a USB stick)
    refuse fsync on a folder: that refusal is ignored, there is nothing more to do there."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
