"""Keep freed memory returned to the system: the Pi has 512 MB for everything.

glibc raises its mmap threshold after large blocks are freed, so the 19 MiB argon2 buffer of a
login would afterwards come from the heap and stay in the process's RSS for good. Fixing the
threshold keeps large blocks on mmap, released as soon as they are freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3
THRESHOLD_BYTES = 256 * 1024


def return_large_blocks_to_the_system() -> bool:
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES))
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        return False
