"""Settings of the ``[update]`` section: which bundles this box accepts, and from where.

Both channels (a full system bundle from a USB stick, an application bundle over 3G) are RAUC
bundles checked against the same keyring: only its certificate is in the image, the release key
stays with whoever signs releases (docs/technician.md, "Mises à jour")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class UpdateSettings:
    # RAUC's ``compatible``: a bundle naming another board is refused (system.conf says the same).
    compatible: str = "clinic-in-a-box/rpi-arm64"
    # The release certificate(s) a bundle's signature must chain to (PEM). Public: in the image.
    keyring: Path = Path("/etc/rauc/keyring.pem")
    # Where bundles are unpacked, downloaded and where application releases live (root slot side,
    # never the data partition: an update does not touch the records).
    work_dir: Path = Path("/var/lib/appliance-update")
    # An application bundle over 3G: the address it is fetched from (empty: no 3G channel) and its
    # budget on the wire; a larger one waits for a USB stick.
    app_url: str = ""
    app_max_bytes: int = 2_000_000
    # A system bundle found on a stick is installed when it is in this folder at the stick's top.
    usb_folder: str = "appliance-update"
    # After an update the new system or application is on trial: confirmed healthy within this
    # delay, or the previous one is booted again.
    trial_s: int = 300

    def validate(self) -> list[str]:
        errors = []
        if not self.compatible or any(ch.isspace() for ch in self.compatible):
            errors.append("update.compatible : un nom sans espace (celui de system.conf)")
        if not 100_000 <= self.app_max_bytes <= 50_000_000:
            errors.append("update.app_max_bytes : entre 100000 et 50000000 octets")
        if self.app_url and not self.app_url.startswith(("https://", "http://")):
            errors.append("update.app_url : une adresse https:// (ou vide)")
        if not 60 <= self.trial_s <= 3600:
            errors.append("update.trial_s : entre 60 et 3600 secondes")
        return errors
