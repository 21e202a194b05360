"""Application releases beside the system: unpacked once, switched by one rename, kept on trial.

``<work_dir>/releases/<version>/`` holds the appliance's Python package unpacked from the wheel
inside an application bundle; ``current`` and ``previous`` are symlinks. The services run with
``PYTHONPATH=<work_dir>/current`` (a systemd drop-in), so a missing ``current`` simply means the
version installed with the system. Switching is a symlink made aside and renamed over the old one:
a power cut leaves either the old or the new link, never none. The folder is on the root slot, not
the data partition: a system update brings its own application and starts clean.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Mapping
from pathlib import Path

from appliance.files import fsync_folder
from appliance.update.bundle import BundleRefused
from appliance.update.requirements import check_wheel, wheel_metadata


def releases_dir(work_dir: Path) -> Path:
    return work_dir / "releases"


def link_target(work_dir: Path, name: str) -> Path | None:
    """Where ``current``/``previous`` point (None when absent)."""
    link = work_dir / name
    return Path(os.readlink(link)) if link.is_symlink() else None


def current_release(work_dir: Path) -> str | None:
    target = link_target(work_dir, "current")
    return target.name if target is not None else None


def unpack_wheel(payload: Path, work_dir: Path, version: str, installed: Mapping[str, str]) -> Path:
    """The one wheel of the extracted bundle, unpacked into ``releases/<version>`` (made aside,
    synced, then renamed into place); refused when it needs a dependency ``installed`` (the box's
    venv, name → version) lacks."""
    wheels = sorted(payload.glob("*.whl"))
    if len(wheels) != 1:
        raise BundleRefused("Paquet d'application refusé : il doit contenir une seule roue Python (.whl).")
    target = releases_dir(work_dir) / version
    staging = releases_dir(work_dir) / f".{version}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with zipfile.ZipFile(wheels[0]) as wheel:
        for member in wheel.infolist():
            destination = (staging / member.filename).resolve()
            if not destination.is_relative_to(staging.resolve()):
                raise BundleRefused("Paquet d'application refusé : chemin hors du dossier de la version.")
        wheel.extractall(staging)
    if not (staging / "appliance" / "__init__.py").is_file():
        shutil.rmtree(staging)
        raise BundleRefused("Paquet d'application refusé : la roue ne contient pas l'application.")
    try:
        if wheel_metadata(wheels[0])[1] != version:
            raise BundleRefused(f"Paquet d'application refusé : sa roue n'est pas la version {version} annoncée.")
        check_wheel(wheels[0], installed)
    except BundleRefused:
        shutil.rmtree(staging)
        raise
    _sync_tree(staging)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    fsync_folder(target.parent)
    return target


def switch(work_dir: Path, name: str, target: Path | None) -> None:
    """Point the ``name`` link at ``target`` (or remove it) in one rename."""
    link = work_dir / name
    if target is None:
        link.unlink(missing_ok=True)
    else:
        aside = work_dir / f".{name}.new"
        aside.unlink(missing_ok=True)
        os.symlink(target, aside)
        os.replace(aside, link)
    fsync_folder(work_dir)


def prune(work_dir: Path) -> None:
    """Keep only the releases ``current`` and ``previous`` point at (the card is small)."""
    kept = {path.name for path in (link_target(work_dir, "current"), link_target(work_dir, "previous")) if path}
    for folder in releases_dir(work_dir).glob("*"):
        if folder.name not in kept:
            shutil.rmtree(folder, ignore_errors=True)


def _sync_tree(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_folder(Path(folder))
