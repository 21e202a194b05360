"""Bundles on USB sticks: ``<mount>/<stick>/appliance-update/*.raucb`` under the mount roots.

Anyone may plug a stick in: the root timer (``appliance update check``) looks every few minutes and
tries the newest bundle once per stick copy (a marker remembers which), so a stick left in does not
install, refuse or journal the same bundle again and again."""

from __future__ import annotations

from pathlib import Path

from appliance.files import write_atomically


def stick_bundles(mount_roots: list[str], folder: str) -> list[Path]:
    """Every bundle in a stick's update folder, oldest name first (names carry their version)."""
    found: list[Path] = []
    for root in mount_roots:
        base = Path(root)
        if not base.is_dir():
            continue
        for depth in ("*", "*/*"):  # /media/<stick> and /media/<user>/<stick>
            found.extend(base.glob(f"{depth}/{folder}/*.raucb"))
    return sorted(set(found), key=lambda path: path.name)


def untried(bundles: list[Path], marker: Path) -> Path | None:
    """The newest of ``bundles`` unless it was already tried (same name, size and time); marked tried
    before it is installed, so a cut mid-install does not loop (the journal judges it at next check)."""
    if not bundles:
        return None
    newest = bundles[-1]
    try:
        status = newest.stat()
    except OSError:  # the stick went away between the listing and now
        return None
    identity = f"{newest.name} {status.st_size} {int(status.st_mtime)}"
    try:
        if marker.read_text(encoding="utf-8") == identity:
            return None
    except OSError:
        pass
    marker.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(marker, identity)
    return newest
