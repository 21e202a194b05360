"""Cutting a release: the system bundle from a built card image, the application bundle checked against the
venv of the system the clinics run; both signed RAUC ``verity`` bundles, read back by the box's code."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from appliance.cli import main
from appliance.update.bundle import BundleRefused, extract_bundle, read_bundle
from appliance.update.policy import check_bundle
from appliance.update.release import build_app_bundle, build_system_bundle, venv_of
from appliance.update.requirements import BOX_ENVIRONMENT, unmet
from tests.update.apps import fake_wheel
from tests.update.bundles import COMPATIBLE

SITE = "opt/appliance/venv/lib/python3.11/site-packages"
BOX_VENV = {"appliance": "1.4.0", "flask": "3.1.3", "Flask_Login": "0.6.3", "peewee": "4.5.3"}


def needs_tools() -> None:
    for tool in ("mkfs.ext4", "debugfs", "e2fsck", "sfdisk"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} absent (e2fsprogs, fdisk)")


def system_tree(folder: Path, venv: dict[str, str]) -> Path:
    """A root filesystem as the image build leaves it, reduced to its venv's dist-info folders."""
    for name, version in venv.items():
        info = folder / SITE / f"{name}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (folder / "etc").mkdir()
    (folder / "etc/os-release").write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')
    (folder / "etc/machine-noise").write_bytes(os.urandom(16 * 1024))  # squashfs wants more than 4 KiB
    return folder


def card_image(folder: Path, tree: Path) -> Path:
    """An MBR card image (boot · root A · root B · data) whose root A is ``tree`` in ext4, as build.py makes."""
    root = folder / "root.ext4"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "RASPIROOT", "-d", str(tree), str(root), "8M"], check=True,
                   capture_output=True)
    image = folder / "card.img"
    with image.open("wb") as handle:
        handle.truncate(32 * 1024 * 1024)
    subprocess.run(["sfdisk", "-q", "--no-reread", "--no-tell-kernel", str(image)], check=True, text=True, input=(
        "label: dos\nstart=2048, size=4096, type=c, bootable\nstart=6144, size=16384, type=83\n"
        "start=22528, size=16384, type=83\nstart=38912, size=16384, type=83\n"))
    subprocess.run(["dd", f"if={root}", f"of={image}", "bs=512", "seek=6144", "conv=notrunc,sparse", "status=none"],
                   check=True)
    return image


@pytest.fixture
def image(tmp_path) -> Path:
    needs_tools()
    return card_image(tmp_path, system_tree(tmp_path / "tree", BOX_VENV))


def sha256(path: Path, offset: int = 0, size: int | None = None) -> str:
    with path.open("rb") as handle:
        handle.seek(offset)
        return hashlib.sha256(handle.read(size) if size is not None else handle.read()).hexdigest()


def test_the_system_bundle_is_root_slot_a_signed_in_verity_with_the_version_inside(image, tmp_path, release_keys):
    bundle, version = build_system_bundle(image, compatible=COMPATIBLE, cert=release_keys.cert,
                                          key=release_keys.key, output=tmp_path / "out/system.raucb")
    assert version == "1.4.0"
    info = read_bundle(bundle, release_keys.cert)
    assert (info.version, info.slot_classes, info.compatible) == ("1.4.0", {"rootfs"}, COMPATIBLE)
    shown = subprocess.run(["rauc", "info", f"--keyring={release_keys.cert}", str(bundle)], capture_output=True,
                           text=True, check=True).stdout
    assert re.search(r"Bundle Format:\s+verity", shown)  # the only format the box accepts
    assert check_bundle(info, compatible=COMPATIBLE, installed="1.3.0", free_bytes=8 * 1024 * 1024).kind == "system"
    payload = extract_bundle(bundle, release_keys.cert, tmp_path / "payload")
    assert sha256(payload / "rootfs.ext4") == sha256(image, 6144 * 512, 8 * 1024 * 1024)  # the partition, whole
    assert not list((tmp_path / "out").glob(".system-bundle-*"))  # the scratch copy is gone


def test_a_root_partition_file_makes_the_same_bundle(image, tmp_path, release_keys):
    root = tmp_path / "root.ext4"  # left by card_image
    _, version = build_system_bundle(root, compatible=COMPATIBLE, cert=release_keys.cert, key=release_keys.key,
                                     output=tmp_path / "system.raucb", version="1.4.0")
    assert version == "1.4.0"


def test_a_system_whose_version_is_not_the_one_announced_is_refused(image, tmp_path, release_keys):
    with pytest.raises(BundleRefused, match=r"l'image porte la version 1\.4\.0, pas 1\.5\.0"):
        build_system_bundle(image, compatible=COMPATIBLE, cert=release_keys.cert, key=release_keys.key,
                            output=tmp_path / "system.raucb", version="1.5.0")
    assert not (tmp_path / "system.raucb").exists()


def test_an_image_without_the_application_is_refused(tmp_path, release_keys):
    needs_tools()
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc/machine-noise").write_bytes(os.urandom(16 * 1024))
    image = card_image(tmp_path, tree)
    with pytest.raises(BundleRefused, match="pas de venv"):
        build_system_bundle(image, compatible=COMPATIBLE, cert=release_keys.cert, key=release_keys.key,
                            output=tmp_path / "system.raucb")


def test_a_damaged_root_is_not_published(image, tmp_path, release_keys):
    with image.open("r+b") as handle:  # the ext4 superblock's free-blocks count and block group table
        handle.seek(6144 * 512 + 2048)
        handle.write(b"\xff" * 2048)
    with pytest.raises(BundleRefused, match="pas propre"):
        build_system_bundle(image, compatible=COMPATIBLE, cert=release_keys.cert, key=release_keys.key,
                            output=tmp_path / "system.raucb")


def test_the_venv_is_read_from_an_image_or_a_root_folder(image, tmp_path):
    assert venv_of(image) == BOX_VENV
    assert venv_of(tmp_path / "tree") == BOX_VENV


def test_requirements_are_judged_for_the_box(tmp_path):
    assert unmet(["flask>=3.0,<4", "flask-login>=0.6.3", "peewee>=3.17,<5"], BOX_VENV, BOX_ENVIRONMENT) == []
    assert unmet(["flask>=4", "requests>=2", "lgpio; sys_platform == 'win32'", "pytest; extra == 'dev'"],
                 BOX_VENV, BOX_ENVIRONMENT) == ["flask>=4 (l'appareil a 3.1.3)", "requests>=2 (absent)"]
    assert unmet(["spidev; platform_machine == 'aarch64'"], BOX_VENV, BOX_ENVIRONMENT) == ["spidev (absent)"]


def test_an_app_bundle_needing_a_library_the_clinics_lack_is_refused(tmp_path, release_keys):
    installed = {**BOX_VENV, "appliance": "1.4.0"}
    fits = fake_wheel(tmp_path / "fits", "1.4.1", requires=("flask>=3.0,<4", "peewee>=3.17"))
    bundle = build_app_bundle(fits, version="1.4.1", compatible=COMPATIBLE, cert=release_keys.cert,
                              key=release_keys.key, output=tmp_path / "app-1.4.1.raucb", installed=installed)
    assert read_bundle(bundle, release_keys.cert).slot_classes == {"appfs"}
    needs = fake_wheel(tmp_path / "needs", "1.4.2", requires=("flask>=3.0,<4", "requests>=2.31"))
    with pytest.raises(BundleRefused, match=r"bibliothèques que l'appareil n'a pas \(requests>=2.31 \(absent\)\)"
                                            r".*paquet système"):
        build_app_bundle(needs, version="1.4.2", compatible=COMPATIBLE, cert=release_keys.cert,
                         key=release_keys.key, output=tmp_path / "app-1.4.2.raucb", installed=installed)
    assert not (tmp_path / "app-1.4.2.raucb").exists()
    with pytest.raises(BundleRefused, match=r"pas appliance 1\.4\.3"):
        build_app_bundle(fits, version="1.4.3", compatible=COMPATIBLE, cert=release_keys.cert,
                         key=release_keys.key, output=tmp_path / "app-1.4.3.raucb", installed=installed)


def test_the_release_commands(image, tmp_path, release_keys):
    runner = CliRunner()
    keys = ["--cert", str(release_keys.cert), "--key", str(release_keys.key), "--output", str(tmp_path / "rel")]
    done = runner.invoke(main, ["update", "build-bundle", "system", "--image", str(image), *keys])
    assert done.exit_code == 0, done.output
    assert "Paquet système 1.4.0" in done.output and (tmp_path / "rel/system-1.4.0.raucb").is_file()
    wheel = fake_wheel(tmp_path / "w", "1.4.1", requires=("flask>=3",))
    done = runner.invoke(main, ["update", "build-bundle", "app", "--wheel", str(wheel), "--against", str(image),
                                *keys])
    assert done.exit_code == 0, done.output
    index = json.loads((tmp_path / "rel/latest.json").read_text())
    assert index == {"version": "1.4.1", "bundle": "app-1.4.1.raucb",
                     "size": (tmp_path / "rel/app-1.4.1.raucb").stat().st_size}
    newer = fake_wheel(tmp_path / "w2", "1.4.2", requires=("flask>=4",))
    refused = runner.invoke(main, ["update", "build-bundle", "app", "--wheel", str(newer),
                                   "--against", str(tmp_path / "tree"), *keys])
    assert refused.exit_code == 2 and "flask>=4 (l'appareil a 3.1.3)" in refused.output
    assert not (tmp_path / "rel/app-1.4.2.raucb").exists()


def test_the_system_bundle_carries_the_site_over_to_the_new_slot(image, tmp_path, release_keys):
    """The bundle's hook (run by RAUC once the slot is written, before it is the one to boot) copies what
    first boot wrote on the running root into the new one: a pristine image would boot without the site."""
    bundle, _ = build_system_bundle(image, compatible=COMPATIBLE, cert=release_keys.cert, key=release_keys.key,
                                    output=tmp_path / "system.raucb")
    payload = extract_bundle(bundle, release_keys.cert, tmp_path / "payload")
    manifest = (payload / "manifest.raucm").read_text()
    assert "[hooks]\nfilename=hook.sh" in manifest and "hooks=post-install" in manifest
    hook = payload / "hook.sh"
    running, new = tmp_path / "running", tmp_path / "new"
    (running / "etc/appliance/secrets").mkdir(parents=True)
    (running / "etc/appliance/appliance.toml").write_text('[site]\nsite_id = "cscom-kati-01"\n')
    (running / "etc/appliance/secrets/web.key").write_text("secret")
    (running / "etc/appliance/secrets/web.key").chmod(0o600)
    (running / "etc/ssh").mkdir()
    for name in ("ssh_host_ed25519_key", "ssh_host_ed25519_key.pub", "sshd_config"):
        (running / "etc/ssh" / name).write_text(name)
    (running / "home/technicien/.ssh").mkdir(parents=True)
    (running / "home/technicien/.ssh/authorized_keys").write_text("ssh-ed25519 AAAA technicien")
    (new / "etc/appliance").mkdir(parents=True)
    (new / "etc/appliance/stale.toml").write_text("from the image")
    (new / "etc/ssh").mkdir()
    (new / "etc/ssh/sshd_config").write_text("the new system's own")
    env = {"PATH": os.environ["PATH"], "RAUC_SLOT_CLASS": "rootfs", "RAUC_SLOT_MOUNT_POINT": str(new),
           "APPLIANCE_HOOK_FROM": str(running)}
    subprocess.run([str(hook), "slot-post-install"], env=env, check=True)
    assert (new / "etc/appliance/appliance.toml").read_text().endswith('"cscom-kati-01"\n')
    assert (new / "etc/appliance/secrets/web.key").stat().st_mode & 0o777 == 0o600
    assert not (new / "etc/appliance/stale.toml").exists()  # the site's folder as it is, not merged
    assert (new / "etc/ssh/ssh_host_ed25519_key").read_text() == "ssh_host_ed25519_key"
    assert (new / "etc/ssh/sshd_config").read_text() == "the new system's own"
    assert (new / "home/technicien/.ssh/authorized_keys").exists()
    subprocess.run([str(hook), "slot-pre-install"], env=env, check=True)  # other hooks: nothing to do
