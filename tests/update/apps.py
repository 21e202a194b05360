"""Application wheels and bundles for the tests: a tiny fake release, or the project's real wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from appliance.update.release import build_app_bundle
from image.build import tree_wheel_turn
from tests.update.bundles import COMPATIBLE, Keys

ROOT = Path(__file__).resolve().parents[2]


def fake_wheel(folder: Path, version: str, *, body: str = "", requires: tuple[str, ...] = ()) -> Path:
    """A wheel that is the appliance package, reduced to a version marker (and ``body``), declaring
    ``requires`` as its dependencies."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"appliance-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("appliance/__init__.py", f'RELEASE = "{version}"\n{body}')
        archive.writestr(f"appliance-{version}.dist-info/METADATA",
                         f"Metadata-Version: 2.1\nName: appliance\nVersion: {version}\n"
                         + "".join(f"Requires-Dist: {line}\n" for line in requires))
        archive.writestr("appliance/padding.bin", os.urandom(8192))  # squashfs wants > 4 KiB
    return wheel


def real_wheel(folder: Path) -> Path:
    """The project's own wheel, as a release would ship it."""
    with tree_wheel_turn():
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                        str(folder), str(ROOT)], check=True, capture_output=True)
    return next(folder.glob("appliance-*.whl"))


def app_bundle(folder: Path, keys: Keys, version: str, *, wheel: Path | None = None) -> Path:
    wheel = wheel or fake_wheel(folder / f"wheel-{version}", version)
    return build_app_bundle(wheel, version=version, compatible=COMPATIBLE, cert=keys.cert, key=keys.key,
                            output=folder / f"app-{version}.raucb")


def bumped_wheel(wheel: Path, folder: Path, version: str) -> Path:
    """``wheel`` as a later release would ship it: the same code under ``version`` (dist-info folder,
    METADATA and RECORD say it)."""
    from appliance.update.requirements import wheel_metadata

    old = wheel_metadata(wheel)[1]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"appliance-{version}-py3-none-any.whl"
    before, after = f"appliance-{old}.dist-info", f"appliance-{version}.dist-info"
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.startswith(before + "/"):
                data = data.replace(before.encode(), after.encode())
                if item.filename.endswith("/METADATA"):
                    data = data.replace(f"\nVersion: {old}\n".encode(), f"\nVersion: {version}\n".encode())
            out.writestr(item.filename.replace(before, after, 1), data)
    return target
