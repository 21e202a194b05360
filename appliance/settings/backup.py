"""Settings of the ``[backup]`` section: where copies go, how many are kept, how gently they are made."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class BackupSettings:
    # The agent's nightly copy (HH:MM, site time): before the first upload window, so the
    # off-site copy leaves with it.
    nightly_at: str = "05:30"
    # Copies kept on the data partition (<data_dir>/backups) and on a USB stick; the oldest go first.
    keep_local: int = 10
    keep_usb: int = 30
    # A stick is used when, mounted under one of these roots, it holds this folder at its top
    # (created by the technician once: it stops us writing to a stick that is not ours).
    usb_mount_roots: list[str] = field(default_factory=lambda: ["/media", "/run/media", "/mnt"])
    usb_marker: str = "appliance-backups"
    # Stick copies are a restic repository encrypted with this key (default <secrets_dir>/usb_backup_key),
    # made at first boot and printed on the installation sheet: a lost stick shows nothing.
    usb_key_file: Path | None = None
    # The copy is made in steps of this many pages with a pause between them, so the SD card
    # keeps answering the web while a large database is copied.
    pages_per_step: int = 1024
    pause_ms: int = 20
    gzip_level: int = 6
    # Off-site copy (restic). Empty repository = no off-site copy. The repository password comes
    # from provisioning (offsite_key_file, default <secrets_dir>/offsite_backup_key), never the image.
    offsite_repository: str = ""
    offsite_key_file: Path | None = None
    # sftp: the server's public host key ("ssh-ed25519 AAAA…"), pinned at provisioning. Empty: the key
    # seen on first contact is kept and required from then on (trust on first use).
    offsite_host_key: str = ""
    # The off-site copy leaves every this many nights (it counts on the 3G bill: ≈ 150 Ko for one
    # night's changes, little more for a week's); the local and stick copies stay nightly.
    offsite_every_days: int = 7
    offsite_upload_limit_kib: int = 0  # 0 = no limit; else restic's --limit-upload in KiB/s
    restic_binary: str = "restic"

    def nightly_time(self) -> tuple[int, int]:
        """``nightly_at`` as (hour, minute), site time (validated at start-up)."""
        from appliance.settings.uploads import parse_window_time

        return parse_window_time(self.nightly_at)

    def validate(self) -> list[str]:
        from appliance.settings.uploads import parse_window_time

        errors = []
        try:
            parse_window_time(self.nightly_at)
        except ValueError as exc:
            errors.append(f"backup.nightly_at : {exc}")
        if self.keep_local < 1 or self.keep_usb < 1:
            errors.append("backup.keep_local et backup.keep_usb : au moins 1")
        if self.pages_per_step < 1 or self.pause_ms < 0:
            errors.append("backup.pages_per_step ≥ 1 et backup.pause_ms ≥ 0")
        if not 1 <= self.gzip_level <= 9:
            errors.append("backup.gzip_level : entre 1 et 9")
        if not self.usb_marker or "/" in self.usb_marker:
            errors.append("backup.usb_marker : un nom de dossier, sans « / »")
        if any(not root.startswith("/") for root in self.usb_mount_roots):
            errors.append("backup.usb_mount_roots : des chemins absolus")
        errors.extend(self._sftp_problems())
        if self.offsite_every_days < 1:
            errors.append("backup.offsite_every_days : au moins 1 (1 = chaque nuit, 7 = une fois par semaine)")
        if self.offsite_upload_limit_kib < 0:
            errors.append("backup.offsite_upload_limit_kib : 0 (sans limite) ou plus")
        return errors

    def _sftp_problems(self) -> list[str]:
        from appliance.backup.sftp import SftpError, parse_host_key, parse_repository

        errors = []
        for name, check in (("offsite_repository", parse_repository), ("offsite_host_key", parse_host_key)):
            value = getattr(self, name)
            try:
                if value:
                    check(value)
            except SftpError as exc:
                errors.append(f"backup.{name} : {exc}")
        return errors
