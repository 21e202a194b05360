"""Making the signed bundles of a release, on the release maker's machine (never on the box: no key there).

Two bundles, both in RAUC's ``verity`` format (the only one the box's system.conf accepts), signed with
the release key whose certificate is the box's keyring:

- the **system bundle**: the root filesystem of the built image (its root slot A, ext4) under the
  ``rootfs`` slot class, written whole by RAUC into the other root slot. Its version is the
  appliance's version installed in that root filesystem, which is what the box runs once it boots it
  (a bundle claiming another version would never be judged as running, and would be rolled back);
- the **application bundle**: the appliance's wheel alone under the ``appfs`` slot class (pure Python,
  ≈ 0.8 MB, budget 2 MB on the wire), refused when it needs a dependency the clinics' system lacks
  (``requirements.py``): such a release comes as a system bundle.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from appliance.update.bundle import RAUC, BundleRefused, parse_version
from appliance.update.requirements import BOX_ENVIRONMENT, check_wheel, venv_from_listing, wheel_metadata

VENV = "/opt/appliance/venv"  # ansible's appliance_venv
# What the clinic's first boot wrote on the running root (appliance/provision/first_boot.py: settings,
# secrets, the hotspot's passphrase, the technician's key) and the machine's own identity (SSH host keys,
# machine-id, the last known time without an RTC). The new root slot is a pristine image: the system
# bundle's hook copies these into it after RAUC wrote it and before RAUC makes it the slot to boot.
CARRIED_OVER = ("/etc/appliance", "/etc/hostapd/hostapd.conf", "/home/technicien/.ssh", "/etc/ssh/ssh_host_*",
                "/etc/machine-id", "/etc/fake-hwclock.data")
HOOK = """#!/bin/sh
# RAUC hook of the clinic-in-a-box system bundle (appliance/update/release.py): the new root slot gets
# the site's settings and the machine's identity from the running one (slot-post-install: the slot is
# written and mounted read-write, not yet the one to boot). A failure fails the install.
set -eu
[ "$1" = slot-post-install ] && [ "$RAUC_SLOT_CLASS" = rootfs ] || exit 0
from="${APPLIANCE_HOOK_FROM:-}"
for path in @CARRIED_OVER@; do
  for found in "$from"$path; do
    [ -e "$found" ] || continue
    inside="${found#"$from"}"
    mkdir -p "$RAUC_SLOT_MOUNT_POINT$(dirname "$inside")"
    rm -rf "$RAUC_SLOT_MOUNT_POINT$inside"
    cp -a "$found" "$RAUC_SLOT_MOUNT_POINT$inside"
  done
done
sync
""".replace("@CARRIED_OVER@", " ".join(CARRIED_OVER))
SLOT_A = 2  # boot · root A · root B · data (docs/technician.md): the root slot an image boots first
EXT4_MAGIC_AT = 1080


def build_app_bundle(wheel: Path, *, version: str, compatible: str, cert: Path, key: Path, output: Path,
                     installed: Mapping[str, str] | None = None) -> Path:
    """``installed``: the venv of the system the clinics run (name → version); its dependencies are
    checked against it when given (the release command always gives it)."""
    if installed is not None:
        name, wheel_version, _ = wheel_metadata(wheel)
        if name != "appliance" or wheel_version != version:
            raise BundleRefused(f"Roue {wheel.name} : c'est {name} {wheel_version}, pas appliance {version}.")
        check_wheel(wheel, installed, BOX_ENVIRONMENT)
    with tempfile.TemporaryDirectory(prefix="app-bundle-") as scratch:
        content = Path(scratch) / "content"
        content.mkdir()
        shutil.copy2(wheel, content / wheel.name)
        _write_manifest(content, compatible=compatible, version=version, description=f"application {version}",
                        slot_class="appfs", filename=wheel.name)
        _sign(content, cert=cert, key=key, output=output)
    return output


def build_system_bundle(source: Path, *, compatible: str, cert: Path, key: Path, output: Path,
                        version: str | None = None, compression: str = "gzip") -> tuple[Path, str]:
    """The system bundle of ``source`` (a built card image, or its root partition as an ext4 file);
    (the bundle, its version). ``version``, when given, must be the one installed in the root.

    ``compression``: the squashfs compressor (gzip, mksquashfs's default, for releases: the smallest a
    Pi's kernel and RAUC read fast enough; lz4 when the bundle is made and unpacked again at once)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    # Beside the output, not in /tmp: the root filesystem is a gigabyte or more.
    with tempfile.TemporaryDirectory(prefix=".system-bundle-", dir=output.parent) as scratch:
        content = Path(scratch) / "content"
        content.mkdir()
        root = content / "rootfs.ext4"
        offset, size = (0, source.stat().st_size) if _is_ext4(source, 0) else root_partition(source)
        _copy_sparse(source, root, offset, size)
        checked = subprocess.run(["e2fsck", "-fn", str(root)], capture_output=True, text=True, check=False)
        if checked.returncode != 0:
            raise BundleRefused(f"Système refusé : la racine de {source.name} n'est pas propre (e2fsck) : "
                                f"{checked.stdout.strip()[-300:]}")
        inside = system_version(venv_of(root))
        if version is not None and parse_version(version) != parse_version(inside):
            raise BundleRefused(f"Système refusé : l'image porte la version {inside}, pas {version}.")
        hook = content / "hook.sh"
        hook.write_text(HOOK, encoding="utf-8")
        hook.chmod(0o755)
        _write_manifest(content, compatible=compatible, version=inside, description=f"système {inside}",
                        slot_class="rootfs", filename=root.name, hook=hook.name)
        _sign(content, cert=cert, key=key, output=output, compression=compression)
    return output, inside


def write_index(bundle: Path, version: str) -> Path:
    """``latest.json`` beside the bundle: what a box asks for first at each window (≈ 80 bytes)."""
    index = bundle.with_name("latest.json")
    index.write_text(json.dumps({"version": version, "bundle": bundle.name, "size": bundle.stat().st_size}),
                     encoding="utf-8")
    return index


def root_partition(image: Path) -> tuple[int, int]:
    """(byte offset, byte size) of root slot A in a card image (MBR, read by sfdisk)."""
    done = subprocess.run(["sfdisk", "--json", str(image)], capture_output=True, text=True, check=False)
    try:
        table = json.loads(done.stdout)["partitiontable"]
        sector = int(table.get("sectorsize", 512))
        part = table["partitions"][SLOT_A - 1]
        offset, size = int(part["start"]) * sector, int(part["size"]) * sector
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise BundleRefused(f"{image.name} : ni une image de carte (table de partitions) ni un système ext4.") from exc
    if not _is_ext4(image, offset):
        raise BundleRefused(f"{image.name} : la partition {SLOT_A} (racine A) n'est pas en ext4.")
    return offset, size


def venv_of(source: Path) -> dict[str, str]:
    """The venv of a system (name → version): a root folder, a root ext4 file or a card image."""
    if source.is_dir():
        libs = sorted((source / VENV.lstrip("/") / "lib").glob("python3*/site-packages"))
        names = [path.name for path in libs[-1].iterdir()] if libs else []
    else:
        device = str(source) if _is_ext4(source, 0) else f"{source}?offset={root_partition(source)[0]}"
        pythons = [name for name in _debugfs_ls(device, f"{VENV}/lib") if name.startswith("python3")]
        names = _debugfs_ls(device, f"{VENV}/lib/{max(pythons)}/site-packages") if pythons else []
    venv = venv_from_listing(names)
    if not venv:
        raise BundleRefused(f"{source.name} : pas de venv de l'application ({VENV}) dans ce système.")
    return venv


def system_version(venv: Mapping[str, str]) -> str:
    if "appliance" not in venv:
        raise BundleRefused("Système refusé : l'application n'est pas installée dans son venv.")
    return venv["appliance"]


def _debugfs_ls(device: str, folder: str) -> list[str]:
    """File names in ``folder`` of an ext4 filesystem, read without mounting it (no root needed)."""
    done = subprocess.run(["debugfs", "-R", f"ls -p {folder}", device], capture_output=True, text=True, check=False)
    # ``ls -p``: one "/inode/mode/uid/gid/name/size/" line per entry.
    return [fields[5] for line in done.stdout.splitlines() if len(fields := line.split("/")) > 6
            and fields[5] not in (".", "..")]


def _is_ext4(path: Path, offset: int) -> bool:
    with path.open("rb") as handle:
        handle.seek(offset + EXT4_MAGIC_AT)
        return handle.read(2) == b"\x53\xef"


def _copy_sparse(source: Path, target: Path, offset: int, size: int) -> None:
    """``size`` bytes of ``source`` from ``offset``, holes left where the source has zeros."""
    block = 1024 * 1024
    with source.open("rb") as src, target.open("wb") as out:
        src.seek(offset)
        left = size
        while left:
            chunk = src.read(min(block, left))
            if not chunk:
                raise BundleRefused(f"{source.name} : image tronquée.")
            if chunk.count(0) == len(chunk):
                out.seek(len(chunk), os.SEEK_CUR)
            else:
                out.write(chunk)
            left -= len(chunk)
        out.truncate(size)


def _write_manifest(content: Path, *, compatible: str, version: str, description: str, slot_class: str,
                    filename: str, hook: str | None = None) -> None:
    hooks = (f"[hooks]\nfilename={hook}\n\n", "hooks=post-install\n") if hook else ("", "")
    (content / "manifest.raucm").write_text(
        f"[update]\ncompatible={compatible}\nversion={version}\ndescription={description}\n\n"
        f"[bundle]\nformat=verity\n\n{hooks[0]}[image.{slot_class}]\nfilename={filename}\n{hooks[1]}",
        encoding="utf-8")


def _sign(content: Path, *, cert: Path, key: Path, output: Path, compression: str = "gzip") -> None:
    output.unlink(missing_ok=True)
    done = subprocess.run([RAUC, "bundle", f"--cert={cert}", f"--key={key}", f"--mksquashfs-args=-comp {compression}",
                           str(content), str(output)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BundleRefused(f"rauc bundle a échoué : {done.stderr.strip()[-400:]}")
