"""System bundles on USB sticks: ``<mount>/<stick>/appliance-update/*.raucb`` under the mount roots."""

from __future__ import annotations

from pathlib import Path


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
