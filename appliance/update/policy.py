"""Whether this box takes a bundle that is correctly signed: the board, the version, the room.

One function for both channels, so a USB stick and 3G refuse the same bundles with the same words.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.update.bundle import BundleInfo, BundleRefused, parse_version

# Slot classes (system.conf) each kind of bundle may write.
SYSTEM_CLASSES = {"rootfs"}
APP_CLASSES = {"appfs"}


@dataclass(frozen=True)
class Decision:
    info: BundleInfo
    kind: str  # "system" or "app"
    reinstall: bool = False  # same version again (asked for by a technician)
    downgrade: bool = False  # an older version (forced by a technician)


def check_bundle(info: BundleInfo, *, compatible: str, installed: str, free_bytes: int,
                 force: bool = False, app_max_bytes: int | None = None) -> Decision:
    """Raise BundleRefused with the French reason, or say what kind of update this is.

    ``free_bytes``: the other root slot's size for a system bundle, the free room of the work folder
    for an application bundle; ``app_max_bytes``: the 3G channel's budget
    (None for a stick). ``force`` lets a technician reinstall or go back to an older version."""
    if info.compatible != compatible:
        raise BundleRefused(f"Paquet refusé : il est prévu pour un autre matériel (« {info.compatible} »), "
                            f"cette machine est « {compatible} ».")
    if info.slot_classes <= APP_CLASSES and info.slot_classes:
        kind = "app"
    elif info.slot_classes <= SYSTEM_CLASSES and info.slot_classes:
        kind = "system"
    else:
        raise BundleRefused("Paquet refusé : son contenu ne correspond à aucun emplacement de cette machine "
                            f"({', '.join(sorted(info.slot_classes)) or 'vide'}).")
    new, current = parse_version(info.version), parse_version(installed)
    if new < current and not force:
        raise BundleRefused(f"Paquet refusé : la version {info.version} est plus ancienne que celle installée "
                            f"({installed}). Un technicien peut la forcer (appliance update install --force).")
    if new == current and not force:
        raise BundleRefused(f"Version {info.version} déjà installée : rien à faire.")
    if app_max_bytes is not None and info.size > app_max_bytes:
        raise BundleRefused(f"Paquet refusé par la 3G : {info.size} octets, le budget est de {app_max_bytes} ; "
                            "il viendra par clé USB.")
    # A system image is written straight from the bundle into the other slot; an application
    # bundle is kept (it came over 3G) and unpacked beside it.
    needed = info.payload_bytes if kind == "system" else info.size + info.payload_bytes
    if needed > free_bytes:
        raise BundleRefused(f"Paquet refusé : il faut {needed // 1_000_000 + 1} Mo libres, il n'y en a que "
                            f"{free_bytes // 1_000_000}.")
    return Decision(info=info, kind=kind, reinstall=new == current, downgrade=new < current)
