"""Release keys and RAUC bundles made at test time with the real ``openssl`` and ``rauc``.

No private key is ever in the repository: each test session makes its own release key and a
stranger's key, and signs its bundles with them."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

COMPATIBLE = "clinic-in-a-box/rpi-arm64"


@dataclass(frozen=True)
class Keys:
    cert: Path
    key: Path


def needs_rauc() -> None:
    for tool in ("rauc", "openssl", "mksquashfs", "unsquashfs"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} absent (Debian packages rauc and squashfs-tools)")


def make_keys(folder: Path, name: str) -> Keys:
    folder.mkdir(parents=True, exist_ok=True)
    keys = Keys(cert=folder / f"{name}.cert.pem", key=folder / f"{name}.key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(keys.key), "-out", str(keys.cert), "-days", "30",
                    "-subj", f"/O=Clinic-in-a-box test/CN={name}"], check=True, capture_output=True)
    return keys


def make_bundle(folder: Path, keys: Keys, *, version: str, images: dict[str, tuple[str, bytes]],
                compatible: str = COMPATIBLE, name: str | None = None, bundle_format: str = "verity") -> Path:
    """A bundle (``verity`` as the box wants it): ``images`` maps a slot class to (file name, content)."""
    content = folder / f"content-{name or version}"
    shutil.rmtree(content, ignore_errors=True)
    content.mkdir(parents=True)
    lines = ["[update]", f"compatible={compatible}", f"version={version}", "description=test", "",
             "[bundle]", f"format={bundle_format}", ""]
    for slot_class, (filename, data) in images.items():
        (content / filename).write_bytes(data)
        lines += [f"[image.{slot_class}]", f"filename={filename}", ""]
    (content / "manifest.raucm").write_text("\n".join(lines), encoding="utf-8")
    bundle = folder / f"{name or version}.raucb"
    bundle.unlink(missing_ok=True)
    subprocess.run(["rauc", "bundle", f"--cert={keys.cert}", f"--key={keys.key}", str(content), str(bundle)],
                   check=True, capture_output=True)
    return bundle
