"""The technician's side: the settings written onto the card's boot partition, a mounted folder
or the ``.img`` itself (mtools writes into its FAT partition without mounting anything)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

from appliance.provision import ownership
from appliance.provision.model import (
    PROVISION_FILE,
    ProvisionError,
    Provisioning,
)


def write_to_target(provisioning: Provisioning, target: Path) -> str:
    """Write the file to a mounted boot partition or into a raw .img; returns where, for the message."""
    text = provisioning.check().document_text()
    if target.is_dir():
        if not (target / "config.txt").exists() and not (target / "cmdline.txt").exists():
            raise ProvisionError(
                f"{target} : ce dossier n'est pas la partition de démarrage d'une carte flashée "
                "(config.txt introuvable)"
            )
        destination = target / PROVISION_FILE
        ownership.write_private(destination, text)
        return str(destination)
    if target.is_file():
        if target.suffix in (".xz", ".gz", ".zst"):
            raise ProvisionError(f"{target} : image compressée ; décompressez-la d'abord (ex. « unxz »)")
        offset = boot_partition_offset(target)
        with tempfile.TemporaryDirectory() as scratch:
            local = Path(scratch) / PROVISION_FILE
            ownership.write_private(local, text)
            _mtools(["mcopy", "-o", "-i", f"{target}@@{offset}", str(local), f"::/{PROVISION_FILE}"])
        return f"{target} (partition de démarrage)"
    raise ProvisionError(f"{target} : introuvable (un dossier de carte montée ou un fichier .img)")


def boot_partition_offset(image: Path) -> int:
    """Byte offset of the first FAT partition in an MBR disk image (the Pi's boot partition)."""
    with image.open("rb") as handle:
        sector = handle.read(512)
    if len(sector) < 512 or sector[510:512] != b"\x55\xaa":
        raise ProvisionError(f"{image} : pas une image de carte SD (table de partitions absente)")
    for index in range(4):
        entry = sector[446 + 16 * index: 446 + 16 * (index + 1)]
        kind = entry[4]
        start, count = struct.unpack("<II", entry[8:16])
        if kind in (0x0B, 0x0C, 0x0E) and count:
            return start * 512
    raise ProvisionError(f"{image} : aucune partition de démarrage FAT dans l'image")


def _mtools(command: list[str]) -> str:
    if shutil.which(command[0]) is None:
        raise ProvisionError("mtools est nécessaire pour écrire dans un fichier .img (apt install mtools)")
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "MTOOLS_SKIP_CHECK": "1"})
    if result.returncode != 0:
        raise ProvisionError(f"écriture dans l'image impossible : {result.stderr.strip()}")
    return result.stdout


def read_from_image(image: Path) -> str | None:
    """The provisioning file inside an .img, or None: for checking a card before handing it over."""
    offset = boot_partition_offset(image)
    listing = _mtools(["mdir", "-b", "-i", f"{image}@@{offset}", "::/"])
    if PROVISION_FILE not in {Path(line.strip()).name for line in listing.splitlines()}:
        return None
    return _mtools(["mtype", "-i", f"{image}@@{offset}", f"::/{PROVISION_FILE}"])
