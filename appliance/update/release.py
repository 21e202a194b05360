"""Making an application bundle, on the release maker's machine (never on the box: no key there).

The bundle holds the appliance's wheel alone (pure Python, no dependency: a new dependency comes
with a system bundle) under the ``appfs`` slot class, in RAUC's ``verity`` format; the wheel is
already compressed, so the bundle is about its size (≈ 0.8 MB, budget 2 MB on the wire).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from appliance.update.bundle import RAUC


def build_app_bundle(wheel: Path, *, version: str, compatible: str, cert: Path, key: Path, output: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix="app-bundle-") as scratch:
        content = Path(scratch) / "content"
        content.mkdir()
        shutil.copy2(wheel, content / wheel.name)
        (content / "manifest.raucm").write_text(
            f"[update]\ncompatible={compatible}\nversion={version}\ndescription=application {version}\n\n"
            f"[bundle]\nformat=verity\n\n[image.appfs]\nfilename={wheel.name}\n", encoding="utf-8")
        output.unlink(missing_ok=True)
        subprocess.run([RAUC, "bundle", f"--cert={cert}", f"--key={key}", str(content), str(output)],
                       check=True, capture_output=True, text=True)
    return output


def write_index(bundle: Path, version: str) -> Path:
    """``latest.json`` beside the bundle: what a box asks for first at each window (≈ 80 bytes)."""
    index = bundle.with_name("latest.json")
    index.write_text(json.dumps({"version": version, "bundle": bundle.name, "size": bundle.stat().st_size}),
                     encoding="utf-8")
    return index
