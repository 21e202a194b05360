"""The SD image, built for real: debootstrap arm64 tree, Ansible through chroot, partitioned .img.

Everything heavy is built once per session (conftest.py) and these tests read it back: the playbook's
idempotence, the tree's state against an expected-state file (as Internet-in-a-Box's CI diffs its
iiab_state.yml), units, users and modes, firewall, hotspot configs, the absence of secrets, the image's
partitions and filesystems, and the provisioning round trip through a simulated first boot.
"""

from __future__ import annotations

import configparser
import contextlib
import difflib
import gzip
import hashlib
import itertools
import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from appliance.backup.sftp import fingerprint
from tests.image.building import ON_THE_CARD
from tests.image.conftest import REPO, BuiltImage
from tests.image.netcheck import (
    BOX_HOTSPOT,
    BOX_MODEM,
    answered_address,
    dnsmasq_answers,
    dnsmasq_test,
    firewall_reachability,
    hostapd_parse,
    nft_check,
)

# The session build (debootstrap, two playbook runs, image) is charged to the first test that uses it.
pytestmark = [ON_THE_CARD, pytest.mark.slow, pytest.mark.timeout(3600)]

EXPECTED_STATE = Path(__file__).with_name("expected-state.yml")
OUR_UNITS = ["appliance-web.service", "appliance-agent.service", "appliance-firstboot.service",
             "appliance-grow-data.service", "appliance-boot-writable.service", "appliance-slot-good.service"]


# ---------------------------------------------------------------------------------------------- helpers


def tree_user(root: Path, name: str) -> list[str]:
    for line in (root / "etc/passwd").read_text().splitlines():
        if line.split(":")[0] == name:
            return line.split(":")
    raise AssertionError(f"user {name} missing from the image")


def tree_group_id(root: Path, name: str) -> int:
    for line in (root / "etc/group").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return int(fields[2])
    raise AssertionError(f"group {name} missing from the image")


def owner_mode(root: Path, path: str) -> str:
    info = (root / path.lstrip("/")).lstat()
    users = {int(line.split(":")[2]): line.split(":")[0] for line in (root / "etc/passwd").read_text().splitlines()}
    groups = {int(line.split(":")[2]): line.split(":")[0] for line in (root / "etc/group").read_text().splitlines()}
    return f"{users[info.st_uid]}:{groups[info.st_gid]} {stat.S_IMODE(info.st_mode):04o}"


def observed_state(root: Path) -> dict:
    """What the playbook leaves behind, in a stable form worth diffing."""
    roles = yaml.safe_load((root / "etc/appliance/image-state.yml").read_text())
    system = root / "etc/systemd/system"
    enabled = {
        wants.name: sorted(link.name for link in wants.iterdir())
        for wants in sorted(system.glob("*.wants"))
    }
    masked = sorted(item.name for item in system.iterdir() if item.is_symlink() and os.readlink(item) == "/dev/null")
    paths = ["/etc/appliance", "/etc/appliance/secrets", "/var/lib/appliance", "/opt/appliance/venv",
             "/home/technicien/.ssh", "/etc/sudoers.d/technicien", "/etc/ssh/sshd_config.d/appliance.conf",
             "/etc/nftables.conf", "/etc/hostapd/hostapd.conf", "/etc/dnsmasq.d/appliance.conf",
             "/etc/machine-id", "/etc/fstab", "/usr/local/sbin/appliance-grow-data", "/media",
             "/etc/udev/rules.d/80-appliance-usb-backup.rules"]
    return {
        "roles": roles,
        "enabled_units": enabled,
        "masked_units": masked,
        "service_user": account(root, "appliance"),
        "technician_user": account(root, "technicien"),
        "web_user": account(root, "appliance-web"),
        "modes": {path: owner_mode(root, path) for path in paths},
    }


def account(root: Path, name: str) -> dict:
    user = tree_user(root, name)
    member_of = sorted(line.split(":")[0] for line in (root / "etc/group").read_text().splitlines()
                       if name in line.split(":")[3].split(","))
    return {"name": user[0], "home": user[5], "shell": user[6], "groups": member_of}


@contextlib.contextmanager
def chroot_mounts(root: Path) -> Iterator[None]:
    points = []
    try:
        for kind, target in (("proc", "proc"), ("sysfs", "sys")):
            subprocess.run(["mount", "-t", kind, kind, str(root / target)], check=True)
            points.append(root / target)
        subprocess.run(["mount", "--bind", "/dev", str(root / "dev")], check=True)
        points.append(root / "dev")
        yield
    finally:
        for point in reversed(points):
            subprocess.run(["umount", "-l", str(point)], check=False)


def in_chroot(root: Path, *command: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    result = subprocess.run(["chroot", str(root), *command], capture_output=True, text=True, env=env, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


# ---------------------------------------------------------------------------------------------- playbook


@pytest.mark.slow
def test_ansible_lint_is_clean() -> None:
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-lint"), "--offline", "--nocolor"],
                            cwd=REPO / "ansible", capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_playbook_changes_the_fresh_tree_then_nothing_on_a_second_run(built: BuiltImage) -> None:
    assert built.first_run["failed"] == 0
    assert built.first_run["changed"] > 20
    assert built.second_run["changed"] == 0, "the playbook is not idempotent"


def test_tree_matches_the_expected_state(built: BuiltImage) -> None:
    observed = yaml.safe_dump(observed_state(built.rootfs), sort_keys=True, allow_unicode=True)
    (built.out / "observed-state.yml").write_text(observed)
    expected = yaml.safe_dump(yaml.safe_load(EXPECTED_STATE.read_text()), sort_keys=True, allow_unicode=True)
    diff = "".join(difflib.unified_diff(expected.splitlines(True), observed.splitlines(True),
                                        "expected-state.yml", "observed-state.yml"))
    assert not diff, f"the built tree differs from tests/image/expected-state.yml:\n{diff}"


def test_units_pass_systemd_analyze_verify(built: BuiltImage) -> None:
    # --root makes verify resolve ExecStart binaries, users and dependencies inside the built tree.
    units = [f"/etc/systemd/system/{unit}" for unit in OUR_UNITS]
    result = subprocess.run(["systemd-analyze", "verify", f"--root={built.rootfs}", "--man=no", *units],
                            capture_output=True, text=True, timeout=300)
    ours = [line for line in result.stderr.splitlines() if "appliance" in line]
    assert result.returncode == 0 and not ours, result.stderr
    for unit in OUR_UNITS:
        installed = (built.rootfs / "etc/systemd/system" / unit).read_text()
        assert installed == (REPO / "systemd" / unit).read_text()


def unit_settings(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(path.read_text())
    return parser


@pytest.mark.parametrize("unit", ["appliance-web.service", "appliance-agent.service"])
def test_services_are_hardened_and_unprivileged(unit: str) -> None:
    service = unit_settings(REPO / "systemd" / unit)["Service"]
    assert service["User"] == ("appliance-web" if unit == "appliance-web.service" else "appliance")
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["PrivateTmp"] == "yes"
    assert service["CapabilityBoundingSet"] == ""
    writable = {"/var/lib/appliance"} if unit == "appliance-web.service" else {"/var/lib/appliance",
                                                                               "/etc/appliance/secrets"}
    if unit == "appliance-agent.service":
        writable.add("-/media")  # the nightly backup's USB stick (automounted there, see test_usb_backup.py)
    assert set(service["ReadWritePaths"].split()) == writable


def test_agent_has_a_watchdog() -> None:
    service = unit_settings(REPO / "systemd/appliance-agent.service")["Service"]
    assert service["Type"] == "notify"
    assert int(service["WatchdogSec"]) > 0


def test_service_user_and_modes(built: BuiltImage) -> None:
    root = built.rootfs
    user = tree_user(root, "appliance")
    assert int(user[2]) < 1000 and user[6] == "/usr/sbin/nologin"
    shadow = {line.split(":")[0]: line.split(":")[1] for line in (root / "etc/shadow").read_text().splitlines()}
    assert all(value in ("*", "!", "!*", "") or value.startswith("!") for value in shadow.values()), \
        "an account of the image has a password"
    assert shadow["root"] in ("*", "!", "!*") or shadow["root"].startswith("!")
    assert owner_mode(root, "/etc/appliance/secrets") == "appliance:appliance 0700"
    assert list((root / "etc/appliance/secrets").iterdir()) == []
    assert owner_mode(root, "/var/lib/appliance") == "appliance:appliance 2770"  # the web user writes too
    web = tree_user(root, "appliance-web")
    assert int(web[2]) < 1000 and web[6] == "/usr/sbin/nologin" and int(web[3]) == tree_group_id(root, "appliance")
    # The technician's account: a regular user, locked password (keys only), sudo; no key until first boot.
    technician = tree_user(root, "technicien")
    assert int(technician[2]) >= 1000 and technician[6] == "/bin/bash"
    assert shadow["technicien"].startswith("!")
    assert "sudo" in account(root, "technicien")["groups"]
    assert owner_mode(root, "/home/technicien/.ssh") == "technicien:technicien 0700"
    assert not (root / "home/technicien/.ssh/authorized_keys").exists()
    assert not (root / "root/.ssh/authorized_keys").exists()
    assert not list((root / "etc/ssh").glob("ssh_host_*"))
    assert (root / "etc/machine-id").read_text() == ""
    sshd_settings = (root / "etc/ssh/sshd_config.d/appliance.conf").read_text().splitlines()
    for setting in ("PasswordAuthentication no", "PermitRootLogin no", "AllowUsers technicien"):
        assert setting in sshd_settings
    assert tree_group_id(root, "gpio") and tree_group_id(root, "spi")


def test_first_boot_may_write_everywhere_it_must(built: BuiltImage) -> None:
    """ProtectSystem=strict: a ReadWritePaths entry missing from the tree fails the unit at boot."""
    from appliance.provision.first_boot import Targets

    writable = unit_settings(REPO / "systemd/appliance-firstboot.service")["Service"]["ReadWritePaths"].split()
    assert str(Targets.ssh_dir) in writable
    assert [path for path in writable if not (built.rootfs / path.lstrip("/")).is_dir()] == []


def test_the_firmware_starts_u_boot_which_runs_the_slot_choosing_script(built: BuiltImage) -> None:
    boot = built.rootfs / "boot/firmware"
    config = (boot / "config.txt").read_text()
    assert "arm_64bit=1" in config and "dtparam=spi=on" in config
    kernels = [line for line in config.splitlines() if line.startswith("kernel=")]
    assert kernels[-1] == "kernel=u-boot.bin", kernels  # the firmware takes the last one
    assert (boot / "u-boot.bin").read_bytes() == (built.rootfs / "usr/lib/u-boot/rpi_arm64/u-boot.bin").read_bytes()
    script = (boot / "boot.scr").read_bytes()
    assert script[:4] == b"\x27\x05\x19\x56"  # a legacy U-Boot image (mkimage -T script)
    assert (REPO / "image/rauc/boot.cmd").read_bytes() in script
    # Without U-Boot (kernel= removed by hand) the firmware still boots slot A from the FAT's own copies.
    assert "root=LABEL=RASPIROOT" in (boot / "cmdline.txt").read_text()
    for board in ("bcm2837-rpi-3-b-plus.dtb", "bcm2837-rpi-zero-2-w.dtb"):
        assert (boot / board).exists(), board


def test_each_slot_carries_its_kernel_and_initramfs(built: BuiltImage) -> None:
    """boot.scr loads /vmlinuz and /initrd.img from the slot it boots: the kernel comes with the system."""
    root = built.rootfs
    for link in ("vmlinuz", "initrd.img"):
        target = (root / link).readlink()
        assert not target.is_absolute() and (root / target).is_file(), target  # U-Boot follows it in the slot
    contents = gzip.decompress((root / "initrd.img").read_bytes())  # COMPRESS=gzip (base role)
    assert b"sdhci-iproc.ko" in contents and b"/ext4.ko" in contents and b"bcm2835.ko" in contents
    assert b"virtio_blk.ko" in contents and b"virtio_pci.ko" in contents  # QEMU's virt board (tests/boot)


def test_the_venv_has_the_pi_hardware_libraries(built: BuiltImage) -> None:
    # lgpio from its PyPI arm64 wheel, spidev from Debian (no arm64 wheel) through the venv's system site.
    result = in_chroot(built.rootfs, "/opt/appliance/venv/bin/python", "-c",
                       "import gpiozero, lgpio, spidev; print(spidev.__file__)")
    assert "/usr/lib/python3/dist-packages/" in result.stdout


# ---------------------------------------------------------------------------------------------- network


def test_nft_ruleset_loads(built: BuiltImage) -> None:
    result = nft_check(built.rootfs / "etc/nftables.conf")
    assert result.returncode == 0, result.stderr


def test_firewall_answers_the_hotspot_and_drops_the_modem(built: BuiltImage) -> None:
    results, modem_drops = firewall_reachability(built.rootfs / "etc/nftables.conf")
    assert [results[(BOX_HOTSPOT, port)] for port in (8080, 80, 22)] == ["open"] * 3
    assert [results[(BOX_MODEM, port)] for port in (8080, 80, 22)] == ["closed"] * 3
    assert modem_drops >= 3


def test_dnsmasq_config_is_valid_and_answers_the_local_name(built: BuiltImage, scratch: Path) -> None:
    conf = built.rootfs / "etc/dnsmasq.d/appliance.conf"
    check = dnsmasq_test(conf)
    assert check.returncode == 0 and "syntax check OK" in check.stderr, check.stderr
    replies = dnsmasq_answers(conf, built.rootfs / "etc/nftables.conf", scratch, "dossier.clinique")
    assert answered_address(replies[BOX_HOTSPOT]) == BOX_HOTSPOT
    assert replies[BOX_MODEM] == b""


def test_hostapd_config_parses_with_wpa3_transition_and_mali(built: BuiltImage) -> None:
    conf = built.rootfs / "etc/hostapd/hostapd.conf"
    settings = dict(line.split("=", 1) for line in conf.read_text().splitlines() if "=" in line and line[0] != "#")
    assert settings["country_code"] == "ML" and settings["ieee80211d"] == "1"
    assert settings["wpa"] == "2" and settings["wpa_key_mgmt"] == "WPA-PSK WPA-PSK-SHA256 SAE"  # WPA2/WPA3
    assert settings["rsn_pairwise"] == "CCMP" and settings["ieee80211w"] == "1"  # PMF offered
    assert settings["sae_require_mfp"] == "1"  # and required of SAE phones
    assert "wpa_passphrase" not in settings and "sae_password" not in settings  # written at first boot
    assert settings["wpa_psk_file"] == "/etc/appliance/secrets/wifi.psk"
    output = hostapd_parse(conf)
    assert "errors found in configuration file" not in output and "Line " not in output, output
    assert "nl80211" in output or "wlan0" in output, output


# ---------------------------------------------------------------------------------------------- secrets

# A key block, not just the marker (ssh, gnutls and glib binaries contain the marker as a string).
PRIVATE_KEY = re.compile(rb"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----\s+[A-Za-z0-9+/=:,\-\s]{64,}?-----END")
ASSIGNED_SECRET = re.compile(
    rb"(?im)^\s*(?:wpa_passphrase|wpa_psk|password|passwd|secret|token|api_key|apikey|psk)\s*[=:]\s*[^\s#]{6,}"
)
TOKEN = re.compile(rb"\b(?:d2pat_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16}|ghp_[A-Za-z0-9]{36})\b")


def debian_shipped(root: Path) -> dict[str, str]:
    """md5 of every file as Debian's packages shipped it (md5sums and conffiles), by path."""
    shipped = {}
    for listing in (root / "var/lib/dpkg/info").glob("*.md5sums"):
        for line in listing.read_text(errors="replace").splitlines():
            digest, _, path = line.partition("  ")
            shipped["/" + path] = digest
    for line in (root / "var/lib/dpkg/status").read_text(errors="replace").splitlines():
        parts = line.split()
        if line.startswith(" /") and len(parts) >= 2:
            shipped[parts[0]] = parts[1]
    return shipped


def secret_findings(root: Path) -> list[str]:
    """Private keys and tokens anywhere; assigned passwords in any text file we wrote or changed."""
    shipped = debian_shipped(root)
    findings = []
    for path in root.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        relative = "/" + path.relative_to(root).as_posix()
        if relative.startswith(("/proc/", "/sys/", "/dev/")):
            continue
        data = path.read_bytes()
        if shipped.get(relative) == hashlib.md5(data).hexdigest():
            continue  # exactly as a Debian package ships it to everyone (gnutls' self-test key, say): public
        if PRIVATE_KEY.search(data):
            findings.append(f"private key: {relative}")
        if b"\0" in data[:8192]:
            continue  # binaries: only a real key block counts
        if TOKEN.search(data):
            findings.append(f"token: {relative}")
        if relative.startswith(("/opt/appliance/venv/", "/var/lib/dpkg/info/")):
            # As PyPI shipped it, or a Debian maintainer script (dpkg keeps no checksum of those: sudo's
            # prerm reads `passwd=$(getent shadow root …)`): not written by us.
            continue
        for match in ASSIGNED_SECRET.finditer(data):
            findings.append(f"assigned secret: {relative}: {match.group().strip()[:60]!r}")
    return findings


def test_secret_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "var/lib/dpkg/info").mkdir(parents=True)
    (tmp_path / "var/lib/dpkg/status").write_text("")
    key = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "etc/key")],
                         capture_output=True)
    (tmp_path / "etc/hostapd.conf").write_text("wpa_passphrase=kati-wifi-2024\n")
    (tmp_path / "etc/dhis2").write_text("token: d2pat_abcdefghijklmnopqrstuvwxyz012345\n")
    found = "\n".join(secret_findings(tmp_path))
    assert "assigned secret: /etc/hostapd.conf" in found and "token: /etc/dhis2" in found
    assert key.returncode != 0 or "private key: /etc/key" in found


def test_no_secret_anywhere_in_the_tree(built: BuiltImage) -> None:
    assert secret_findings(built.rootfs) == []
    assert not list((built.rootfs / "etc/ssh").glob("ssh_host_*_key"))
    assert not (built.rootfs / "var/lib/systemd/random-seed").exists()


# ---------------------------------------------------------------------------------------------- image

SECTOR = 512


def partitions(image: Path) -> list[dict]:
    table = json.loads(subprocess.run(["sfdisk", "--json", str(image)], capture_output=True, text=True,
                                      check=True).stdout)
    return table["partitiontable"]["partitions"]


def extract(image: Path, part: dict, target: Path) -> Path:
    subprocess.run(["dd", f"if={image}", f"of={target}", f"bs={SECTOR}", f"skip={part['start']}",
                    f"count={part['size']}", "conv=sparse", "status=none"], check=True)
    return target


def test_partition_table_reads_back(built: BuiltImage) -> None:
    dump = subprocess.run(["sfdisk", "-d", str(built.image)], capture_output=True, text=True, check=True).stdout
    assert "label: dos" in dump and "label-id: 0x5ca1ab1e" in dump  # RAUC's slots: by-partuuid/5ca1ab1e-0N
    parts = partitions(built.image)
    assert [part["type"] for part in parts] == ["c", "83", "83", "83"]  # boot · root A · root B · data
    assert parts[0]["start"] % 8192 == 0, "boot partition aligned on 4 MiB"
    for before, after in itertools.pairwise(parts):
        assert before["start"] + before["size"] <= after["start"]
    assert parts[1]["size"] == parts[2]["size"], "slot B holds what slot A holds"
    assert parts[3] == parts[-1], "the data partition is last, so first boot can grow it"
    # Two root slots still leave most of a 16 GB card to the data partition.
    assert (parts[2]["start"] + parts[2]["size"]) * SECTOR < 4 * 1024**3


def test_filesystems_are_clean_and_labelled(built: BuiltImage, scratch: Path) -> None:
    boot_part, root_part, slot_b_part, data_part = partitions(built.image)
    boot = extract(built.image, boot_part, scratch / "boot.vfat")
    check = subprocess.run(["fsck.vfat", "-n", str(boot)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    listing = subprocess.run(["mdir", "-b", "-i", str(boot), "::/"], capture_output=True, text=True,
                             env={**os.environ, "MTOOLS_SKIP_CHECK": "1"}).stdout
    assert "config.txt" in listing and "u-boot.bin" in listing and "boot.scr" in listing
    assert "rauc.env" not in listing  # U-Boot writes it at the first power-on
    boot.unlink()
    for part, label in ((root_part, "RASPIROOT"), (slot_b_part, "RASPIROOT-B"), (data_part, "appliance-data")):
        filesystem = extract(built.image, part, scratch / f"{label}.ext4")
        check = subprocess.run(["e2fsck", "-fn", str(filesystem)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert subprocess.run(["e2label", str(filesystem)], capture_output=True, text=True).stdout.strip() == label
        if part is slot_b_part:  # empty until RAUC writes it
            listing = subprocess.run(["debugfs", "-R", "ls -p /", str(filesystem)], capture_output=True,
                                     text=True).stdout
            names = {line.split("/")[5] for line in listing.splitlines() if line.count("/") >= 6}
            assert names == {".", "..", "lost+found"}, names
        filesystem.unlink()


def test_compressed_image_has_its_checksum(built: BuiltImage) -> None:
    checksum = built.compressed.with_name(built.compressed.name + ".sha256")
    result = subprocess.run(["sha256sum", "-c", checksum.name], cwd=built.out, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    with built.compressed.open("rb") as handle:
        assert handle.read(6) == b"\xfd7zXZ\x00"


# ---------------------------------------------------------------------------------------------- provisioning

WIFI = "kati-wifi-2024!"
MQTT = "mqtt-secret-kati-123"
OFFSITE_KEY = "kati-offsite-key-0123456789abcdef"
# A local restic repository inside the card, so the test can run restic there with the provisioned key.
OFFSITE_REPOSITORY = "/var/lib/appliance/depot-essai"


def loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def image_sshd(root: Path, log: Path) -> Iterator[int]:
    """The image's own sshd in the provisioned tree, on a loopback port: what the technician's laptop meets."""
    port = loopback_port()
    with log.open("w") as output:
        server = subprocess.Popen(["chroot", str(root), "/usr/sbin/sshd", "-D", "-e", "-p", str(port),
                                   "-o", "ListenAddress=127.0.0.1"], stdout=output, stderr=subprocess.STDOUT,
                                  env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"})
        try:
            for _ in range(300):  # bounded: sshd starts in about a second under qemu
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        break
                assert server.poll() is None, log.read_text()
                time.sleep(0.2)
            yield port
        finally:
            server.terminate()
            server.wait(timeout=30)


def ssh_as(user: str, port: int, key: Path, command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh", "-F", "none", "-i", str(key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                           "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                           "-o", "ConnectTimeout=60", "-p", str(port), f"{user}@127.0.0.1", command],
                          capture_output=True, text=True, timeout=180)


def assert_only_the_technician_logs_in(root: Path, key: Path, log: Path) -> None:
    """After first boot: the provisioned key opens the technician's account, root stays closed even with a key
    (as cards provisioned before the technicien account had), and sudo gives him root."""
    public = key.with_suffix(".pub").read_text().strip()
    assert (root / "home/technicien/.ssh/authorized_keys").read_text() == public + "\n"
    assert owner_mode(root, "/home/technicien/.ssh/authorized_keys") == "technicien:technicien 0600"
    assert owner_mode(root, "/home/technicien/.ssh") == "technicien:technicien 0700"
    assert not (root / "root/.ssh/authorized_keys").exists()
    (root / "root/.ssh").mkdir(mode=0o700, exist_ok=True)
    (root / "root/.ssh/authorized_keys").write_text(public + "\n")
    in_chroot(root, "/usr/bin/ssh-keygen", "-A")  # what the ssh unit's drop-in does at the card's first start
    (root / "run/sshd").mkdir(mode=0o755, exist_ok=True)  # Debian's ssh.service: RuntimeDirectory=sshd
    effective = in_chroot(root, "/usr/sbin/sshd", "-T", "-C", "user=root,host=tablette,addr=10.42.0.20")
    for setting in ("permitrootlogin no", "allowusers technicien", "passwordauthentication no",
                    "kbdinteractiveauthentication no", "pubkeyauthentication yes"):
        assert setting in effective.stdout.splitlines(), setting
    with image_sshd(root, log) as port:
        technician = ssh_as("technicien", port, key, "id -un")
        as_root = ssh_as("root", port, key, "id -un")
    assert technician.returncode == 0 and technician.stdout.strip() == "technicien", technician.stderr + log.read_text()
    assert as_root.returncode == 255 and "Permission denied" in as_root.stderr, as_root.stdout
    assert "User root from 127.0.0.1 not allowed because not listed in AllowUsers" in log.read_text()
    # sudo itself cannot run here (qemu-user drops its setuid bit): its rule and path are read as root instead.
    in_chroot(root, "/usr/sbin/visudo", "-c")
    rights = in_chroot(root, "/usr/bin/sudo", "-l", "-U", "technicien").stdout
    assert "NOPASSWD: ALL" in rights, rights
    secure_path = re.search(r"secure_path=([^\s,]+)", rights).group(1).replace("\\:", ":")
    found = in_chroot(root, "/usr/bin/env", f"PATH={secure_path}", "/bin/sh", "-c", "command -v appliance")
    assert found.stdout.strip() == "/usr/local/bin/appliance"  # what `sudo appliance …` runs


def test_provisioning_round_trip_on_the_built_image(built: BuiltImage, scratch: Path) -> None:
    card = scratch / "card.img"
    subprocess.run(["cp", "--sparse=always", str(built.image), str(card)], check=True)
    key_file = scratch / "cle-hors-site.txt"
    key_file.write_text(OFFSITE_KEY + "\n")
    technician_key = scratch / "technicien"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "technicien@portable",
                    "-f", str(technician_key)], check=True)
    write = subprocess.run(
        [str(Path(sys.executable).parent / "appliance"), "provision", "write", str(card), "--site-id", "cscom-kati-01",
         "--facility-name", "CSCom de Kati", "--dhis2-org-unit", "DiszpKrYNg8", "--wifi-passphrase", WIFI,
         "--mqtt-username", "cscom-kati-01", "--mqtt-password", MQTT, "--modem-apn", "internet",
         "--modem-apn-user", "orange", "--modem-apn-password", "orange-web",
         "--offsite-repository", OFFSITE_REPOSITORY, "--offsite-key-file", str(key_file),
         "--ssh-key", str(technician_key.with_suffix(".pub"))],
        capture_output=True, text=True)
    assert write.returncode == 0, write.stderr
    from appliance.provision.card import read_from_image
    from appliance.provision.model import PROVISION_FILE

    provision_text = read_from_image(card)
    assert provision_text and WIFI in provision_text

    # "First boot" in the built tree, through an overlay so the shared tree stays as built.
    merged, upper = scratch / "merged", scratch / "upper"
    for folder in (merged, upper, scratch / "work"):
        folder.mkdir()
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    f"lowerdir={built.rootfs},upperdir={upper},workdir={scratch / 'work'}", str(merged)], check=True)
    (merged / "boot/firmware" / PROVISION_FILE).write_text(provision_text)
    exec_start = unit_settings(REPO / "systemd/appliance-firstboot.service")["Service"]["ExecStart"].split()
    with chroot_mounts(merged):
        first_boot = in_chroot(merged, *exec_start)
        assert "terminée" in first_boot.stdout
        assert not (merged / "boot/firmware" / PROVISION_FILE).exists()
        secrets = merged / "etc/appliance/secrets"
        assert {item.name for item in secrets.iterdir()} == {"mqtt_password", "wifi.psk", "flask_secret_key",
                                                             "offsite_backup_key", "offsite_ssh_key",
                                                             "offsite_ssh_key.pub", "usb_backup_key"}
        uid, gid = int(tree_user(merged, "appliance")[2]), tree_group_id(merged, "appliance")
        for item in secrets.iterdir():
            info = item.stat()
            assert stat.S_IMODE(info.st_mode) == 0o600
            assert (info.st_uid, info.st_gid) == ((0, 0) if item.name == "wifi.psk" else (uid, gid))
        database = merged / "var/lib/appliance/appliance.db"
        assert database.stat().st_uid == uid
        # The configuration written at first boot loads, and the EMR builds from it, inside the image.
        check = in_chroot(merged, "/usr/local/bin/appliance", "check-config",
                          "--config", "/etc/appliance/appliance.toml")
        assert "cscom-kati-01" in check.stdout
        in_chroot(merged, "runuser", "-u", "appliance", "--", "/opt/appliance/venv/bin/python", "-c",
                  "from appliance import config; from appliance.emr import create_app; "
                  "create_app(config.load('/etc/appliance/appliance.toml'))")
        # The service user runs the image's restic on the provisioned repository with the provisioned key.
        restic = in_chroot(merged, "runuser", "-u", "appliance", "--", "/opt/appliance/venv/bin/python", "-c",
                           "from appliance import config; from appliance.backup import offsite; "
                           "cfg = config.load('/etc/appliance/appliance.toml'); "
                           "assert cfg.modem.apn_user == 'orange' and cfg.modem.apn_password == 'orange-web'; "
                           "done = offsite.restic(cfg, 'init'); print(done.returncode, done.stdout, done.stderr)")
        assert restic.stdout.startswith("0 ") and "created restic repository" in restic.stdout, restic.stdout
        # The box's own SSH key for an sftp repository, made at first boot by the image's ssh-keygen: the
        # service user reads it, and the image's ssh accepts every option of the command restic is given.
        public = (secrets / "offsite_ssh_key.pub").read_text().strip()
        listed = in_chroot(merged, "runuser", "-u", "appliance", "--", "ssh-keygen", "-l", "-f",
                           "/etc/appliance/secrets/offsite_ssh_key")
        assert listed.stdout.split()[1] == fingerprint(public)
        parsed = in_chroot(merged, "runuser", "-u", "appliance", "--", "/opt/appliance/venv/bin/python", "-c",
                           "import subprocess; from pathlib import Path; from appliance.backup import sftp; "
                           "command = sftp.command_for('sftp://sauvegarde@serveur.sante.gov.ml:2222//srv/kati', "
                           "Path('/etc/appliance/secrets'), ''); "
                           "print(subprocess.run([command[0], '-G', *command[1:]], capture_output=True, text=True, "
                           "check=True).stdout)")
        for setting in ("user sauvegarde", "hostname serveur.sante.gov.ml", "port 2222", "batchmode yes",
                        "identitiesonly yes", "stricthostkeychecking accept-new", "serveraliveinterval 30",
                        "identityfile /etc/appliance/secrets/offsite_ssh_key",
                        "userknownhostsfile /etc/appliance/secrets/offsite_known_hosts"):
            assert setting in parsed.stdout.splitlines(), (setting, parsed.stdout)
        assert_only_the_technician_logs_in(merged, technician_key, scratch / "sshd.log")
        without_sudo = in_chroot(merged, "runuser", "-u", "technicien", "--", "/usr/local/bin/appliance", "provision",
                                 "sheet", check=False)
        assert without_sudo.returncode == 1 and "sudo appliance provision sheet" in without_sudo.stderr
        sheet = in_chroot(merged, "/usr/local/bin/appliance", "provision", "sheet")
        assert "Mot de passe provisoire" in sheet.stdout and WIFI in sheet.stdout
        assert f'restrict,command="internal-sftp" {public}' in sheet.stdout
        again = in_chroot(merged, "/usr/local/bin/appliance", "provision", "sheet", check=False)
        assert again.returncode == 1

    # Secrets now sit only where they belong: the secrets folder, nowhere else in the changed files.
    misplaced = []
    for path in upper.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(secret.encode() in data for secret in (WIFI, MQTT, OFFSITE_KEY)) and path.parent.name != "secrets":
                misplaced.append(str(path.relative_to(upper)))
    # One exception: WPA3-SAE needs the passphrase itself and Debian 12's hostapd (2.10) reads it only
    # from its own configuration (no SAE password file), so first boot writes it there, root-only.
    hostapd_conf = upper / "etc/hostapd/hostapd.conf"
    assert misplaced in ([], ["etc/hostapd/hostapd.conf"])
    if misplaced:
        info = hostapd_conf.stat()
        assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o600, 0, 0)
        assert f"sae_password={WIFI}" in hostapd_conf.read_text()
    assert MQTT.encode() in (upper / "etc/appliance/secrets/mqtt_password").read_bytes()
    assert (upper / "etc/appliance/secrets/offsite_backup_key").read_text() == OFFSITE_KEY + "\n"
    assert WIFI.encode() not in (upper / "etc/appliance/secrets/wifi.psk").read_bytes(), "only the derived key"
