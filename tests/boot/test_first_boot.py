"""First boot as in the field, on the emulated Pi (QEMU virt, Cortex-A53, 512 MB): U-Boot runs the card's
boot.scr, which boots root slot A's own kernel and initramfs; a card flashed and provisioned by the
technician's command, powered on once.

Everything is read from inside the running card over its own sshd, as the technician would.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.boot.conftest import WORK, BootedCard
from tests.boot.machine import SITE, boot_partition_dirty
from tests.image.building import ON_THE_CARD

pytestmark = [ON_THE_CARD, pytest.mark.slow, pytest.mark.timeout(3600)]  # the first test builds and boots the image


def record_timing(name: str, value: float) -> None:
    path = WORK / "timings.json"
    timings = json.loads(path.read_text()) if path.exists() else {}
    timings[name] = value
    path.write_text(json.dumps(timings, indent=2))


def test_first_boot_serves_the_login_page(booted: BootedCard) -> None:
    record_timing("first_boot_to_login_s", booted.first_boot_s)
    status, page = booted.machine.http_get("/connexion")
    assert status == 200 and 'name="password"' in page
    assert "CSCom de Kati" in page or "Connexion" in page


def test_every_unit_started_and_none_failed(booted: BootedCard) -> None:
    state = booted.machine.wait_until_settled()
    failed = booted.machine.ssh("systemctl --failed --no-legend --plain", check=False).stdout
    assert (state, failed.strip()) == ("running", "")
    active = booted.machine.ssh("systemctl is-active ssh nftables appliance-web appliance-agent chrony",
                                check=False).stdout.split()
    assert active == ["active"] * 5
    restarts = booted.machine.ssh("systemctl show -p NRestarts --value appliance-web appliance-agent ssh").stdout
    assert restarts.split() == ["0", "0", "0"]  # started once, not crash-looping behind "activating"


def test_no_boot_job_waited_for_a_missing_device(booted: BootedCard) -> None:
    """The emulated board has no WiFi chip, as a Pi whose chip died: the boot must not wait for it.

    It did: hostapd, enabled in multi-user.target and bound to wlan0's device, held the boot "starting"
    for systemd's 90 s device timeout. The hotspot now starts when the chip appears, and not before."""
    machine = booted.machine
    machine.wait_until_settled()
    journal = machine.ssh("sudo journalctl -b -o cat --no-pager -p warning", check=False).stdout
    assert "Timed out waiting for device" not in journal
    assert machine.ssh("systemctl is-active hostapd", check=False).stdout.strip() == "inactive"
    assert machine.ssh("systemctl show -p Result --value hostapd").stdout.strip() == "success"  # never tried
    wants = machine.ssh("systemctl show -p WantedBy --value hostapd").stdout.split()
    assert wants == ["sys-subsystem-net-devices-wlan0.device"]


def test_the_card_booted_its_own_kernel_from_its_own_initramfs(booted: BootedCard) -> None:
    machine = booted.machine
    uname = machine.ssh("uname -r").stdout.strip()
    assert machine.ssh(f"test -e /boot/initrd.img-{uname} && test -e /lib/modules/{uname}/modules.dep",
                       check=False).returncode == 0
    cmdline = machine.ssh("cat /proc/cmdline").stdout.split()
    assert "root=PARTUUID=5ca1ab1e-02" in cmdline and "rauc.slot=A" in cmdline  # from boot.scr, by U-Boot
    assert machine.ssh("findmnt -no SOURCE,FSTYPE /").stdout.split() == ["/dev/vda2", "ext4"]
    assert "Booting slot A" in machine.console()  # U-Boot's script on the serial console


def test_rauc_sees_slot_a_booted_and_b_inactive(booted: BootedCard) -> None:
    machine = booted.machine
    status = json.loads(machine.ssh("sudo rauc status --output-format=json").stdout)
    assert (status["compatible"], status["booted"], status["boot_primary"]) == (
        "clinic-in-a-box/rpi-arm64", "A", "rootfs.0")
    slots = {name: slot for entry in status["slots"] for name, slot in entry.items()}
    assert {name: (slot["bootname"], slot["state"], slot["device"]) for name, slot in slots.items()} == {
        "rootfs.0": ("A", "booted", "/dev/disk/by-partuuid/5ca1ab1e-02"),
        "rootfs.1": ("B", "inactive", "/dev/disk/by-partuuid/5ca1ab1e-03")}
    # The boot gave back the try U-Boot took (3 → 2): a run of power cuts never exhausts slot A.
    assert machine.ssh("systemctl show -p Result --value appliance-slot-good").stdout.strip() == "success"
    environment = dict(line.split("=", 1) for line in machine.ssh("sudo fw_printenv").stdout.splitlines())
    assert (environment["BOOT_ORDER"], environment["BOOT_A_LEFT"]) == ("A B", "3")


def test_the_data_partition_grew_to_the_card(booted: BootedCard) -> None:
    machine = booted.machine
    disk = int(machine.ssh("cat /sys/block/vda/size").stdout)  # 512-byte sectors of the whole card
    # Partition 4, after boot and the two root slots: the one no update writes.
    assert machine.ssh("findmnt -no SOURCE /var/lib/appliance").stdout.strip() == "/dev/vda4"
    start, size = (int(machine.ssh(f"cat /sys/block/vda/vda4/{name}").stdout) for name in ("start", "size"))
    assert start + size > disk - 2048  # to the card's last MiB
    assert size * 512 > 4 * 1024**3  # 64 MiB in the image; the card's 8 GB minus boot and both roots now
    filesystem_kb = int(machine.ssh("df --output=size -k /var/lib/appliance | tail -1").stdout)
    assert filesystem_kb * 1024 > 0.9 * size * 512  # the ext4 filesystem grew with its partition
    assert machine.ssh("sudo test -e /var/lib/appliance/.partition-grown", check=False).returncode == 0


def test_secrets_left_the_boot_partition_for_their_0600_files(booted: BootedCard) -> None:
    machine = booted.machine
    assert machine.ssh("test -e /boot/firmware/appliance-provision.toml", check=False).returncode == 1
    modes = machine.ssh("sudo sh -c 'stat -c \"%a %n\" /etc/appliance/secrets/*'").stdout.splitlines()
    names = {line.split()[1].rsplit("/", 1)[-1]: line.split()[0] for line in modes}
    assert {"mqtt_password", "flask_secret_key", "wifi.psk"} <= set(names)
    assert set(names.values()) == {"600"}
    # The passwords themselves are nowhere on the boot partition, and are in their files.
    for secret in (SITE["--mqtt-password"], SITE["--wifi-passphrase"]):
        found = machine.ssh(f"sudo grep -rlF -- '{secret}' /boot/firmware", check=False)
        assert found.returncode == 1 and found.stdout == "", secret
    assert machine.ssh("sudo cat /etc/appliance/secrets/mqtt_password").stdout.strip() == SITE["--mqtt-password"]


def test_the_firewall_is_loaded(booted: BootedCard) -> None:
    ruleset = booted.machine.ssh("sudo nft list ruleset").stdout
    assert "policy drop" in ruleset and "wwan" in ruleset


def test_ssh_host_keys_were_made_on_the_card(booted: BootedCard) -> None:
    machine = booted.machine
    assert machine.ssh("systemctl show -p NRestarts --value ssh").stdout.strip() == "0"
    keys = machine.ssh("ls /etc/ssh").stdout.split()
    assert "ssh_host_ed25519_key" in keys


def test_sshd_admits_only_the_technician_with_his_key(booted: BootedCard, tmp_path) -> None:
    machine = booted.machine
    assert machine.ssh("id -un").stdout.strip() == "technicien"
    assert machine.ssh("true", user="root", check=False).returncode == 255
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    assert machine.ssh("true", key=stranger, check=False).returncode == 255
    password_only = subprocess.run(
        [*machine.ssh_command("true")[:-2], "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password",
         "technicien@127.0.0.1", "true"], capture_output=True, text=True, timeout=60)
    assert password_only.returncode == 255 and "Permission denied" in password_only.stderr


def test_sudo_works_for_the_technician(booted: BootedCard) -> None:
    assert booted.machine.ssh("sudo -n id -u").stdout.strip() == "0"


def test_the_boot_partition_is_read_only_once_provisioned(booted: BootedCard) -> None:
    """FAT has no journal: mounted read-write, a power cut leaves it dirty. First boot wrote it, then let go."""
    machine = booted.machine
    assert machine.ssh("findmnt -no OPTIONS /boot/firmware").stdout.startswith("ro,")
    assert machine.ssh("systemctl show -p Result --value appliance-firstboot").stdout.strip() == "success"
    # The unit that made it writable for the first boot let go once no unit needed it.
    assert machine.ssh("systemctl is-active appliance-boot-writable", check=False).stdout.strip() == "inactive"
    assert not boot_partition_dirty(machine.card)  # what a cut now would leave on the card
    assert machine.ssh("sudo touch /boot/firmware/essai", check=False).returncode != 0  # even root


def test_it_serves_a_visit_recorded_over_http(booted: BootedCard) -> None:
    nurse, patient_id = booted.nurse_session()
    nurse.record_visit(patient_id, "Fièvre au premier démarrage")
    status, _, chart = nurse.request("GET", f"/patients/{patient_id}")
    assert status == 200 and "Fièvre au premier démarrage" in chart
