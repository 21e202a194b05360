"""Writing a small file so that a power cut leaves either the old or the new one, never half of it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: str | bytes, mode: int = 0o644, *, owner: tuple[int, int] | None = None,
                     encoding: str = "utf-8") -> None:
    """Temp file in the same folder (mode set before any byte), fsync, owner, rename, fsync the folder.

    ``owner`` is (uid, gid) as ``os.chown`` takes it (-1 keeps one); it is set before the rename so
    the file never appears with the wrong owner."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode(encoding) if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        if owner:
            os.chown(temporary, *owner)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
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
