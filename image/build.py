#!/usr/bin/env python3
"""Build the clinic's bootable SD image from Debian's packages: ``make image``.

Stages, each one resumable and shown with its progress and duration:

1. ``rootfs``   debootstrap an arm64 Debian 12 tree (qemu-user-static through binfmt_misc), with every
                package the Ansible roles ask for, so the roles find them installed (apt under qemu is slow).
2. ``apply``    the Ansible playbook applied to that tree through Ansible's chroot connection.
3. ``assemble`` a partitioned .img (FAT boot, ext4 root A, empty ext4 root B, ext4 data) built without loop devices:
                mkfs.ext4 -d and mkfs.vfat + mcopy write partition files, sfdisk and dd put them together.
4. ``compress`` the .img compressed with xz (what Raspberry Pi Imager and Etcher read) and its sha256.

Runs as root on a Debian 12 build host (see .ci/apt-packages.txt for what it needs). The image holds no
secret: everything site-specific is written later by ``appliance provision``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
ANSIBLE_DIR = REPO / "ansible"
SUITE = "bookworm"
MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
COMPONENTS = "main,non-free-firmware"  # raspi-firmware and the Pi's WiFi firmware live in non-free-firmware
PYTHON_TAG = "311"  # Debian 12's python3, which runs the appliance's venv on the Pi
# Debian 12 has glibc 2.36: every manylinux tag up to 2_36 runs there.
AARCH64_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_28_aarch64",
                     "manylinux_2_34_aarch64", "manylinux_2_36_aarch64", "linux_aarch64")

# Partition layout (MiB): boot · root A · root B · data (docs/technician.md, "La carte"). The two root
# slots are RAUC's: an update writes the one not running, never the data partition, which is last so
# that first boot can grow it to fill the card.
ALIGN_MIB = 4
BOOT_MIB = 256
DATA_MIB = 64
ROOT_SPARE_MIB = 384  # room for logs, apt and an update's unpacking on the root filesystem

BOOT_LABEL = "RASPIFIRM"  # Debian's raspi image labels, which raspi-firmware's defaults expect
ROOT_LABEL = "RASPIROOT"
EMPTY_SLOT_LABEL = "RASPIROOT-B"  # slot B ships formatted and empty: RAUC writes it at the first update
DATA_LABEL = "appliance-data"
# The MBR's disk identifier: the slots are /dev/disk/by-partuuid/<id>-02 and -03 in RAUC's system.conf
# (ansible/roles/update), whatever the card is seen as (mmcblk0 on the Pi, vda in QEMU, sdX in a reader).
DISK_ID = "0x5ca1ab1e"

# Work trees live outside the repository: setuptools walks the whole project folder (build/ included,
# following links) on every `pip install -e .`, and a Debian tree with /proc mounted inside it stalls that.
WORK_DIR = Path(os.environ.get("APPLIANCE_IMAGE_WORK", "/var/tmp/appliance-image"))
DIST_DIR = REPO / "build/image"  # only the compressed image and its checksum are copied here

QEMU_BINFMT = Path("/usr/share/binfmts/qemu-aarch64")
BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")


class BuildError(RuntimeError):
    """A build step failed; the message says which and how to fix it."""


@dataclass(frozen=True)
class Layout:
    """Where one build keeps its pieces (under build/ by default)."""

    out: Path

    @property
    def debootstrap(self) -> Path:
        return self.out / "debootstrap"

    @property
    def rootfs(self) -> Path:
        return self.out / "rootfs"

    @property
    def wheels(self) -> Path:
        return self.out / "wheels"

    @property
    def wheelhouse(self) -> Path:
        return self.out / "wheelhouse.tar"

    @property
    def collections(self) -> Path:
        return self.out / "collections"

    @property
    def image(self) -> Path:
        return self.out / "clinic-appliance.img"

    @property
    def compressed(self) -> Path:
        return self.out / "clinic-appliance.img.xz"


# ---------------------------------------------------------------------------------------------- progress


class Progress:
    """Stage headers with elapsed time, so the technician building an image sees where it is."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.number = 0
        self.started = time.monotonic()
        self.timings: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str, title: str) -> Iterator[None]:
        self.number += 1
        began = time.monotonic()
        say(f"\n==> [{self.number}/{self.total}] {title}")
        yield
        took = time.monotonic() - began
        self.timings[name] = round(took, 1)
        say(f"    {title} : terminé en {took:.0f} s (total {time.monotonic() - self.started:.0f} s)")


def say(message: str) -> None:
    print(message, flush=True)


def run(command: list[str], *, prefix: str = "    ", env: dict[str, str] | None = None,
        keep_output: bool = False, quiet: bool = False) -> str:
    """Run a command, streaming its lines with a prefix; raise BuildError with its tail on failure."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env, errors="replace")
    assert process.stdout is not None
    lines: list[str] = []
    began = time.monotonic()
    for line in process.stdout:
        lines.append(line)
        if not quiet and line.strip():
            elapsed = int(time.monotonic() - began)
            print(f"{prefix}{elapsed // 60:02d}:{elapsed % 60:02d} {line.rstrip()}", flush=True)
    if process.wait() != 0:
        tail = "".join(lines[-30:])
        raise BuildError(f"la commande a échoué ({process.returncode}) : {' '.join(command)}\n{tail}")
    return "".join(lines) if keep_output else ""


# ---------------------------------------------------------------------------------------------- checks


def require_root() -> None:
    if os.geteuid() != 0:
        raise BuildError("la construction de l'image doit être lancée en root (debootstrap, chroot, mount)")


def require_tools() -> None:
    needed = ["debootstrap", "mkfs.ext4", "mkfs.vfat", "mcopy", "sfdisk", "xz", "chroot"]
    missing = [tool for tool in needed if shutil.which(tool) is None]
    if missing or not QEMU_BINFMT.exists():
        raise BuildError(
            "outils manquants : " + ", ".join(missing or ["qemu-user-static"])
            + " — installez les paquets listés dans .ci/apt-packages.txt"
        )


def ensure_binfmt() -> None:
    """Let this amd64 host run arm64 binaries: binfmt_misc mounted and qemu-aarch64 registered.

    The 'F' flag opens the interpreter now, so the chroot needs no copy of qemu inside it.
    """
    if not (BINFMT_DIR / "register").exists():
        run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT_DIR)])
    entry = BINFMT_DIR / "qemu-aarch64"
    if entry.exists():
        if entry.read_text().splitlines()[0] != "enabled":
            entry.write_text("1")
        return
    fields = dict(line.split(" ", 1) for line in QEMU_BINFMT.read_text().splitlines() if " " in line)
    rule = f":qemu-aarch64:M:{fields['offset']}:{fields['magic']}:{fields['mask']}:{fields['interpreter']}:FP"
    (BINFMT_DIR / "register").write_text(rule)


# ---------------------------------------------------------------------------------------------- rootfs


def role_packages() -> list[str]:
    """Every ``*_packages`` list in the roles' defaults: one source of truth for debootstrap and Ansible."""
    packages: set[str] = set()
    for defaults in sorted((ANSIBLE_DIR / "roles").glob("*/defaults/main.yml")):
        values = yaml.safe_load(defaults.read_text()) or {}
        for key, value in values.items():
            if key.endswith("_packages"):
                packages.update(value)
    return sorted(packages)


def debootstrap(layout: Layout) -> None:
    """A pristine debootstrap tree, reused while the package list is unchanged (it is the slow part);
    packages added to a role since are installed into it with apt rather than starting over."""
    packages = role_packages()
    stamp_value = json.dumps({"suite": SUITE, "components": COMPONENTS, "packages": packages})
    stamp = layout.out / "debootstrap.stamp"
    if layout.debootstrap.is_dir() and stamp.exists():
        if stamp.read_text() == stamp_value:
            say("    arborescence debootstrap déjà prête (même liste de paquets) : réutilisée")
            return
        previous = json.loads(stamp.read_text())
        added = sorted(set(packages) - set(previous["packages"]))
        if (previous["suite"], previous["components"]) == (SUITE, COMPONENTS) and \
                set(previous["packages"]) <= set(packages):
            say(f"    arborescence debootstrap réutilisée, paquets ajoutés : {' '.join(added)}")
            add_packages(layout.debootstrap, added)
            stamp.write_text(stamp_value)
            return
    remove_tree(layout.debootstrap)
    stamp.unlink(missing_ok=True)
    layout.out.mkdir(parents=True, exist_ok=True)
    say(f"    {len(packages)} paquets demandés par les rôles : {' '.join(packages)}")
    # Two stages so the initramfs settings are in place before the kernel package is configured.
    run(["debootstrap", "--foreign", "--arch=arm64", "--variant=minbase", f"--components={COMPONENTS}",
         f"--include={','.join(packages)}", SUITE, str(layout.debootstrap), MIRROR])
    seed_initramfs_settings(layout.debootstrap)
    # dpkg's fsync per unpacked file costs minutes under emulation and buys nothing for a tree that is
    # rebuilt from scratch on failure; the setting is removed before anything else sees the tree.
    unsafe_io = layout.debootstrap / "etc/dpkg/dpkg.cfg.d/image-build-unsafe-io"
    unsafe_io.parent.mkdir(parents=True, exist_ok=True)
    unsafe_io.write_text("force-unsafe-io\n")
    run(["chroot", str(layout.debootstrap), "/debootstrap/debootstrap", "--second-stage"])
    unsafe_io.unlink()
    # The downloaded .debs are not part of the image.
    for deb in (layout.debootstrap / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    stamp.write_text(stamp_value)


def add_packages(tree: Path, packages: list[str]) -> None:
    """apt-get install into the cached tree, from the lists debootstrap left there (minutes, not half an hour)."""
    unsafe_io = tree / "etc/dpkg/dpkg.cfg.d/image-build-unsafe-io"
    unsafe_io.write_text("force-unsafe-io\n")
    try:
        with chroot_mounts(tree):
            run(["chroot", str(tree), "apt-get", "install", "-y", "--no-install-recommends", *packages],
                env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    finally:
        unsafe_io.unlink()
    for deb in (tree / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()


def seed_initramfs_settings(tree: Path) -> None:
    """The base role's initramfs files, placed early: Debian's MODULES=most takes 15 min under qemu."""
    source = ANSIBLE_DIR / "roles/base/files/initramfs-tools"
    for item in source.rglob("*"):
        if item.is_file():
            target = tree / "etc/initramfs-tools" / item.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(item, target)


def unmount_below(path: Path) -> None:
    """Unmount whatever an interrupted build left mounted inside ``path`` (deepest first).

    Never delete a tree before this: a /dev still bound inside it would take the host's /dev along.
    """
    prefix = str(path.resolve()) + "/"
    points = [line.split()[1].replace("\\040", " ") for line in Path("/proc/self/mounts").read_text().splitlines()]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False)


def remove_tree(path: Path) -> None:
    unmount_below(path)
    if path.exists():
        run(["rm", "-rf", "--one-file-system", str(path)], quiet=True)


def fresh_rootfs(layout: Layout) -> None:
    """Copy the pristine tree to the one Ansible works on, so every build starts from Debian's state."""
    remove_tree(layout.rootfs)
    run(["cp", "-a", "--reflink=auto", str(layout.debootstrap), str(layout.rootfs)])


# ---------------------------------------------------------------------------------------------- inputs


def build_wheels(layout: Layout) -> None:
    """The appliance's wheel built here, and its dependencies' arm64 wheels: the Pi installs offline."""
    shutil.rmtree(layout.wheels, ignore_errors=True)
    layout.wheels.mkdir(parents=True)
    env = dict(os.environ, SOURCE_DATE_EPOCH=os.environ.get("SOURCE_DATE_EPOCH", "1700000000"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    with tree_wheel_turn():
        compile_translations()
        run([*pip, "wheel", "--no-deps", "--quiet", "-w", str(layout.wheels), str(REPO)], env=env)
    download = [*pip, "download", "--quiet", "--only-binary=:all:", "-d", str(layout.wheels),
                *(arg for tag in AARCH64_PLATFORMS for arg in ("--platform", tag)),
                "--python-version", PYTHON_TAG, "--implementation", "cp",
                "--abi", f"cp{PYTHON_TAG}", "--abi", "abi3", "--abi", "none"]
    dependencies, pi_extra = project_dependencies()
    run([*download, *dependencies])
    for requirement in pi_extra:  # the Pi's hardware libraries: a wheel when PyPI has one, else Debian's
        try:
            run([*download, requirement], quiet=True)
        except BuildError:
            say(f"    {requirement} : pas de roue arm64 sur PyPI, paquet Debian du rôle agent (python3-…)")
    pack_wheels(layout)
    say(f"    {len(list(layout.wheels.glob('*.whl')))} roues prêtes : {layout.wheelhouse}")


def pack_wheels(layout: Layout) -> None:
    """One reproducible tar of the wheels: Ansible copies and compares one file instead of thirty."""
    import tarfile

    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "1700000000"))
    with tarfile.open(layout.wheelhouse, "w", format=tarfile.PAX_FORMAT) as archive:
        for wheel in sorted(layout.wheels.glob("*.whl")):
            info = archive.gettarinfo(str(wheel), arcname=wheel.name)
            info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode = epoch, 0, 0, "root", "root", 0o644
            with wheel.open("rb") as handle:
                archive.addfile(info, handle)


def project_dependencies() -> tuple[list[str], list[str]]:
    """The appliance's dependencies, and those of its ``pi`` extra (GPIO and SPI on the real board)."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return project["dependencies"], project.get("optional-dependencies", {}).get("pi", [])


@contextlib.contextmanager
def tree_wheel_turn() -> Iterator[None]:
    """setuptools builds a wheel inside the source tree (build/, appliance.egg-info): two builds of this tree
    at once (an image and a release, or the two pytest of make test) take turns."""
    lock = REPO / "build/.wheel.lock"
    lock.parent.mkdir(exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def compile_translations() -> None:
    """The wheel must carry compiled .mo catalogues (they are not in git). Those newer than their .po are
    left as they are: the running web may be reading them."""
    translations = REPO / "appliance/emr/translations"
    catalogues = list(translations.rglob("*.po")) if translations.is_dir() else []
    stale = [po for po in catalogues if not po.with_suffix(".mo").exists()
             or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime]
    if stale:
        run([sys.executable, "-m", "babel.messages.frontend", "-q", "compile", "--use-fuzzy", "-d", str(translations)])


def ensure_chroot_connection(layout: Layout) -> Path:
    """Ansible's chroot connection lives in community.general, which ansible-core lacks.

    Galaxy is not reachable from the build host, but PyPI's ``ansible`` package bundles the collection:
    take that one collection out of the wheel (matching our ansible-core) instead of installing 200 MB.
    """
    target = layout.collections / "ansible_collections/community/general"
    if (target / "plugins/connection/chroot.py").exists():
        return layout.collections
    from ansible.release import __version__ as core_version

    major, minor = (int(part) for part in core_version.split(".")[:2])
    bundle = {(2, 16): "9", (2, 17): "10", (2, 18): "11"}.get((major, minor))
    if bundle is None:
        raise BuildError(f"ansible-core {core_version} : version du paquet 'ansible' correspondant inconnue")
    download = layout.out / "ansible-wheel"
    download.mkdir(parents=True, exist_ok=True)
    run([sys.executable, "-m", "pip", "--disable-pip-version-check", "download", "--quiet", "--no-deps",
         "-d", str(download), f"ansible=={bundle}.*"])
    wheel = max(download.glob("ansible-*.whl"))
    prefix = "ansible_collections/community/general/"
    with zipfile.ZipFile(wheel) as archive:
        members = [name for name in archive.namelist() if name.startswith(prefix)]
        archive.extractall(layout.collections, members=members)
    say(f"    community.general extrait de {wheel.name}")
    return layout.collections


# ---------------------------------------------------------------------------------------------- apply


@contextlib.contextmanager
def chroot_mounts(root: Path) -> Iterator[None]:
    """/proc, /sys and /dev inside the tree while Ansible works, and no daemon started by apt."""
    mounted: list[Path] = []
    policy = root / "usr/sbin/policy-rc.d"
    unmount_below(root)
    try:
        for source, target, kind in (("proc", "proc", "proc"), ("sysfs", "sys", "sysfs"),
                                     ("/dev", "dev", None)):
            point = root / target
            point.mkdir(exist_ok=True)
            if kind:
                subprocess.run(["mount", "-t", kind, source, str(point)], check=True)
            else:
                subprocess.run(["mount", "--bind", source, str(point)], check=True)
            mounted.append(point)
        policy.write_text("#!/bin/sh\n# image build: never start services inside the chroot\nexit 101\n")
        policy.chmod(0o755)
        yield
    finally:
        policy.unlink(missing_ok=True)
        for point in reversed(mounted):
            subprocess.run(["umount", "-l", str(point)], check=False)


@dataclass(frozen=True)
class Recap:
    ok: int
    changed: int
    failed: int
    seconds: float


RECAP_LINE = re.compile(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def apply_playbook(layout: Layout, *, check: bool = False) -> Recap:
    """ansible-playbook on the tree through the chroot connection; returns the PLAY RECAP counts."""
    collections = ensure_chroot_connection(layout)
    env = dict(os.environ,
               ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(collections),
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1", PYTHONUNBUFFERED="1")
    playbook = str(Path(sys.executable).parent / "ansible-playbook")
    command = [playbook, "-i", f"{layout.rootfs},", "-c", "community.general.chroot",
               "-e", f"appliance_wheelhouse={layout.wheelhouse}",
               # The release certificate bundles must be signed against (public; docs/technician.md).
               "-e", f"update_release_cert={os.environ.get('APPLIANCE_RELEASE_CERT', '')}",
               str(ANSIBLE_DIR / "site.yml")]
    if check:
        command.append("--check")
    began = time.monotonic()
    with chroot_mounts(layout.rootfs):
        output = run(command, env=env, keep_output=True)
    match = RECAP_LINE.search(output.rsplit("PLAY RECAP", 1)[-1])
    if not match:
        raise BuildError("récapitulatif Ansible introuvable dans la sortie")
    ok, changed, unreachable, failed = (int(value) for value in match.groups())
    if unreachable or failed:
        raise BuildError(f"Ansible : {failed} tâche(s) en échec, {unreachable} hôte(s) injoignable(s)")
    return Recap(ok=ok, changed=changed, failed=failed, seconds=round(time.monotonic() - began, 1))


def clean_tree(root: Path) -> None:
    """What must never ship: apt's downloads and lists, and the build's own traces."""
    for folder in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (root / folder).glob("*"):
            if item.is_file():
                item.unlink()
    for item in (root / "tmp").glob("*"):
        shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()
    (root / "root/.ansible").exists() and shutil.rmtree(root / "root/.ansible")


# ---------------------------------------------------------------------------------------------- assemble


def mib_of_tree(path: Path) -> int:
    output = subprocess.run(["du", "-s", "--block-size=1M", "-x", str(path)], check=True,
                            capture_output=True, text=True).stdout
    return int(output.split()[0])


@contextlib.contextmanager
def hidden(*directories: Path) -> Iterator[None]:
    """Bind an empty directory over each one, so mkfs.ext4 -d leaves out what another partition holds."""
    empty = Path(tempfile.mkdtemp(prefix="appliance-empty-"))
    mounted: list[Path] = []
    try:
        for directory in directories:
            subprocess.run(["mount", "--bind", str(empty), str(directory)], check=True)
            mounted.append(directory)
        yield
    finally:
        for directory in reversed(mounted):
            subprocess.run(["umount", str(directory)], check=False)
        empty.rmdir()


def make_ext4(source: Path, target: Path, size_mib: int, label: str) -> None:
    target.unlink(missing_ok=True)
    run(["mkfs.ext4", "-q", "-F", "-L", label, "-m", "1", "-E", "root_owner=0:0",
         "-d", str(source), str(target), f"{size_mib}M"])


def make_vfat(source: Path, target: Path, size_mib: int, label: str) -> None:
    target.unlink(missing_ok=True)
    run(["mkfs.vfat", "-F", "32", "-n", label, "-C", str(target), str(size_mib * 1024)], quiet=True)
    entries = [str(item) for item in sorted(source.iterdir())]
    if entries:
        run(["mcopy", "-s", "-p", "-m", "-i", str(target), *entries, "::/"])


def assemble(layout: Layout) -> Path:
    """Partition files side by side, then one MBR disk image: boot (FAT32), root A (ext4), root B (ext4,
    empty), data (ext4). Slot B is as large as A (a system bundle's image must fit either) but holds
    nothing: a copy of A would double the download for no use, since RAUC writes B whole."""
    root = layout.rootfs
    boot_dir = root / "boot/firmware"
    data_dir = root / "var/lib/appliance"
    work = layout.out / "parts"
    work.mkdir(parents=True, exist_ok=True)

    make_vfat(boot_dir, work / "boot.vfat", BOOT_MIB, BOOT_LABEL)
    make_ext4(data_dir, work / "data.ext4", DATA_MIB, DATA_LABEL)
    with hidden(boot_dir, data_dir):
        used = mib_of_tree(root)
        root_mib = -(-int(used * 1.15 + ROOT_SPARE_MIB) // ALIGN_MIB) * ALIGN_MIB
        say(f"    racine : {used} Mio utilisés, partition de {root_mib} Mio")
        make_ext4(root, work / "root.ext4", root_mib, ROOT_LABEL)
    empty = Path(tempfile.mkdtemp(prefix="appliance-slot-b-"))
    try:
        make_ext4(empty, work / "slot-b.ext4", root_mib, EMPTY_SLOT_LABEL)
    finally:
        empty.rmdir()

    boot_start = ALIGN_MIB
    root_start = boot_start + BOOT_MIB
    slot_b_start = root_start + root_mib
    data_start = slot_b_start + root_mib
    total = data_start + DATA_MIB
    image = layout.image
    image.unlink(missing_ok=True)
    with image.open("wb") as handle:
        handle.truncate(total * 1024 * 1024)
    sectors = 2048  # 512-byte sectors per MiB
    table = (
        "label: dos\n"
        f"label-id: {DISK_ID}\n"
        f"start={boot_start * sectors}, size={BOOT_MIB * sectors}, type=c, bootable\n"
        f"start={root_start * sectors}, size={root_mib * sectors}, type=83\n"
        f"start={slot_b_start * sectors}, size={root_mib * sectors}, type=83\n"
        f"start={data_start * sectors}, size={DATA_MIB * sectors}, type=83\n"
    )
    subprocess.run(["sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", str(image)], input=table,
                   text=True, check=True)
    for part, start in (("boot.vfat", boot_start), ("root.ext4", root_start), ("slot-b.ext4", slot_b_start),
                        ("data.ext4", data_start)):
        run(["dd", f"if={work / part}", f"of={image}", "bs=1M", f"seek={start}",  # seek counted in MiB
             "conv=notrunc,sparse", "status=none"])
        (work / part).unlink()
    work.rmdir()
    say(f"    image : {image} ({total} Mio)")
    return image


def compress(layout: Layout, level: int) -> tuple[Path, Path]:
    target = layout.compressed
    target.unlink(missing_ok=True)
    run(["xz", "--keep", "--force", f"-{level}", "-T0", "--verbose", str(layout.image)])
    digest = hashlib.sha256()
    with target.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    checksum = target.with_name(target.name + ".sha256")
    checksum.write_text(f"{digest.hexdigest()}  {target.name}\n")
    say(f"    {target.name} : {target.stat().st_size // (1024 * 1024)} Mio, sha256 {digest.hexdigest()}")
    return target, checksum


def publish(files: tuple[Path, ...], dist: Path) -> None:
    dist.mkdir(parents=True, exist_ok=True)
    for item in files:
        shutil.copy2(item, dist / item.name)
    say(f"    image prête : {dist / files[0].name}")


# ---------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Construit l'image SD de l'appareil (make image).")
    parser.add_argument("stage", nargs="?", default="all",
                        choices=["all", "rootfs", "apply", "assemble", "compress"])
    parser.add_argument("--out", type=Path, default=WORK_DIR, help="dossier de travail (hors du dépôt)")
    parser.add_argument("--dist", type=Path, default=DIST_DIR, help="où copier l'image compressée")
    parser.add_argument("--xz-level", type=int, default=6, choices=range(0, 10))
    parser.add_argument("--report", type=Path, help="écrit les durées et récapitulatifs en JSON")
    args = parser.parse_args(argv)
    layout = Layout(args.out.resolve())
    stages = {"all": ["rootfs", "apply", "assemble", "compress"]}.get(args.stage, [args.stage])
    progress = Progress(len(stages))
    report: dict[str, object] = {}
    try:
        require_root()
        require_tools()
        ensure_binfmt()
        if "rootfs" in stages:
            with progress.stage("debootstrap", "Système Debian 12 arm64 (debootstrap)"):
                debootstrap(layout)
                fresh_rootfs(layout)
                # A fresh tree gets fresh wheels; re-applying to the same tree reuses them (idempotence).
                shutil.rmtree(layout.wheels, ignore_errors=True)
                layout.wheelhouse.unlink(missing_ok=True)
        if "apply" in stages:
            with progress.stage("playbook", "Rôles Ansible appliqués (connexion chroot)"):
                if not layout.wheelhouse.exists():
                    build_wheels(layout)
                recap = apply_playbook(layout)
                clean_tree(layout.rootfs)
                report["playbook"] = recap.__dict__
                say(f"    récapitulatif : ok={recap.ok} changed={recap.changed}")
        if "assemble" in stages:
            with progress.stage("assemble", "Image partitionnée (boot FAT, racines A et B ext4, données ext4)"):
                assemble(layout)
        if "compress" in stages:
            with progress.stage("compress", "Compression xz et somme sha256"):
                outputs = compress(layout, args.xz_level)
                if args.stage == "all":
                    publish(outputs, args.dist)
    except BuildError as exc:
        say(f"\nÉCHEC : {exc}")
        return 1
    report["timings_s"] = progress.timings
    if args.report:
        args.report.write_text(json.dumps(report, indent=2))
    say(f"\nTerminé en {time.monotonic() - progress.started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
