"""What a RAUC bundle says about itself, read only through ``rauc`` with the box's keyring.

``rauc info --keyring`` checks the signature (CMS, chained to the release certificate) and gives
the signed manifest; ``rauc extract --keyring`` checks the payload against the signed dm-verity
hash as well, so a bundle damaged on the stick or in transit is caught before a byte is used.
Every refusal carries a French sentence for the technician or the staff (``BundleRefused``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

RAUC = os.environ.get("APPLIANCE_RAUC", "rauc")
_TIMEOUT_S = 600  # a full system bundle is read whole by ``extract`` on a slow card


class BundleRefused(Exception):
    """A bundle that will not be installed; ``str()`` is the French reason shown to people."""


@dataclass(frozen=True)
class BundleImage:
    slot_class: str
    filename: str
    size: int
    sha256: str


@dataclass(frozen=True)
class BundleInfo:
    path: Path
    compatible: str
    version: str
    description: str
    images: tuple[BundleImage, ...]
    size: int  # of the bundle file itself

    @property
    def slot_classes(self) -> set[str]:
        return {image.slot_class for image in self.images}

    @property
    def payload_bytes(self) -> int:
        return sum(image.size for image in self.images)


def _rauc(args: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([RAUC, *args], capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
    except FileNotFoundError as exc:
        raise BundleRefused("Le programme de mise à jour (rauc) est absent de cette machine.") from exc
    except subprocess.TimeoutExpired as exc:
        raise BundleRefused("Lecture du paquet de mise à jour trop longue : clé USB ou carte défectueuse ?") from exc


def _refusal(stderr: str) -> BundleRefused:
    """rauc's English error → the French reason (the original kept after it for the technician)."""
    last = next((line for line in reversed(stderr.strip().splitlines()) if "rauc-Message" not in line), "")
    if "Signature size is 0" in stderr or "signature verification failed" in stderr.lower() \
            or "Verify error" in stderr:
        reason = "Paquet refusé : il n'est pas signé par l'équipe de publication (signature absente ou inconnue)."
    elif "payload is corrupted" in stderr or "Verification of data area failed" in stderr \
            or "exceeds bundle size" in stderr or "Invalid bundle format" in stderr:
        reason = "Paquet refusé : le fichier est abîmé ou incomplet (copie à refaire)."
    elif "No such file" in stderr:
        reason = "Paquet introuvable."
    else:
        reason = "Paquet refusé : illisible par le programme de mise à jour."
    return BundleRefused(f"{reason} [{last.strip()}]" if last.strip() else reason)


def read_bundle(path: Path, keyring: Path) -> BundleInfo:
    """The signed manifest of ``path``; BundleRefused when unsigned, wrongly signed or not a bundle."""
    if not path.is_file():
        raise BundleRefused(f"Paquet introuvable : {path.name}")
    if not keyring.is_file():
        raise BundleRefused("Certificat de publication absent de la machine : aucune mise à jour possible.")
    done = _rauc(["info", f"--keyring={keyring}", "--output-format=json", str(path)])
    if done.returncode != 0:
        raise _refusal(done.stderr)
    try:
        manifest = json.loads(done.stdout)
        images = tuple(
            BundleImage(slot_class=name, filename=str(image["filename"]), size=int(image.get("size") or 0),
                        sha256=str(image.get("checksum") or ""))
            for entry in manifest.get("images") or [] for name, image in entry.items()
        )
        return BundleInfo(path=path, compatible=str(manifest["compatible"]), version=str(manifest["version"] or ""),
                          description=str(manifest.get("description") or ""), images=images,
                          size=path.stat().st_size)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BundleRefused("Paquet refusé : description (manifeste) illisible.") from exc


def extract_bundle(path: Path, keyring: Path, destination: Path) -> Path:
    """Unpack the whole payload into ``destination`` (which must not exist) after checking the
    signature and every block of the payload against it."""
    done = _rauc(["extract", f"--keyring={keyring}", str(path), str(destination)])
    if done.returncode != 0:
        raise _refusal(done.stderr)
    return destination


_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def parse_version(text: str) -> tuple[int, int, int]:
    """``MAJOR.MINOR.PATCH`` (what pyproject.toml and the manifests carry) as a comparable tuple."""
    match = _VERSION.match(text.strip())
    if not match:
        raise BundleRefused(f"Paquet refusé : numéro de version « {text} » illisible (attendu : 1.2.3).")
    return int(match[1]), int(match[2]), int(match[3])
