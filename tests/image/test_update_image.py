"""What the image carries for field updates: RAUC with the card's two slots, the release certificate and
no private key, U-Boot's environment file, the root timer that judges a trial, and the services pointed
at the application release in use."""

from __future__ import annotations

import pytest

from tests.image.building import ON_THE_CARD, BuiltImage

pytestmark = [ON_THE_CARD, pytest.mark.slow]


def test_rauc_and_the_release_certificate_are_in_no_private_key(built: BuiltImage) -> None:
    root = built.rootfs
    assert (root / "usr/bin/rauc").exists() and (root / "usr/bin/unsquashfs").exists()
    keyring = (root / "etc/rauc/keyring.pem").read_text()
    assert "BEGIN CERTIFICATE" in keyring and "PRIVATE KEY" not in keyring
    assert sorted(path.name for path in (root / "etc/rauc").iterdir()) == ["boot.cmd", "keyring.pem", "system.conf"]


def test_rauc_slots_are_the_two_roots_never_the_data(built: BuiltImage) -> None:
    root = built.rootfs
    system = (root / "etc/rauc/system.conf").read_text()
    devices = [line.split("=", 1)[1] for line in system.splitlines() if line.startswith("device=")]
    assert devices == ["/dev/disk/by-partuuid/5ca1ab1e-02", "/dev/disk/by-partuuid/5ca1ab1e-03"]
    assert "bootloader=uboot" in system
    assert (root / "etc/fw_env.config").read_text().splitlines()[-1].split() == [
        "/boot/firmware/rauc.env", "0x0000", "0x4000"]
    assert (root / "usr/bin/fw_setenv").exists() and (root / "usr/lib/systemd/system/rauc.service").exists()
    assert (root / "etc/systemd/system/multi-user.target.wants/appliance-slot-good.service").is_symlink()


def test_the_trial_judge_runs_as_root_with_the_system_code(built: BuiltImage) -> None:
    root = built.rootfs
    unit = (root / "etc/systemd/system/appliance-update-check.service").read_text()
    assert "appliance update check" in unit and "Environment=PYTHONPATH" not in unit and "User=" not in unit
    assert (root / "etc/systemd/system/timers.target.wants/appliance-update-check.timer").is_symlink()
    for service in ("appliance-web", "appliance-agent"):
        dropin = (root / f"etc/systemd/system/{service}.service.d/update.conf").read_text()
        assert "PYTHONPATH=/var/lib/appliance-update/current" in dropin
    assert "ReadWritePaths=/var/lib/appliance-update/download" in (
        root / "etc/systemd/system/appliance-agent.service.d/update.conf").read_text()
    download = root / "var/lib/appliance-update/download"
    assert download.is_dir() and oct(download.stat().st_mode & 0o777) == "0o750"
