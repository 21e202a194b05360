"""System bundles for the emulated Pi: root slot A of the built card image, released as a later version.

The release command (``build_system_bundle``) makes them; before that the root filesystem is edited
the way a new build would differ: the appliance's version in its venv (what the box judges running),
and for a deliberately broken release a drop-in that keeps the web from starting. Editing goes through
a loop mount (root, as the image tests are).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from appliance.update.release import VENV, build_system_bundle, root_partition
from tests.update.bundles import COMPATIBLE

BROKEN_WEB = "[Service]\nExecStart=\nExecStart=/bin/false\n"


@contextlib.contextmanager
def mounted(ext4: Path, point: Path) -> Iterator[Path]:
    point.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-o", "loop", str(ext4), str(point)], check=True)
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=True)


def later_system(image: Path, folder: Path, version: str, *, cert: Path, key: Path,
                 break_web: bool = False) -> Path:
    """A signed verity system bundle of ``image``'s root with the appliance at ``version``."""
    if shutil.which("mount") is None or not Path("/dev/loop-control").exists():
        raise RuntimeError("loop devices needed to edit the root filesystem")
    folder.mkdir(parents=True, exist_ok=True)
    root = folder / f"root-{version}.ext4"
    offset, size = root_partition(image)
    subprocess.run(["dd", f"if={image}", f"of={root}", "bs=1M", "iflag=skip_bytes,count_bytes",
                    f"skip={offset}", f"count={size}", "conv=sparse", "status=none"], check=True)
    with mounted(root, folder / "mnt") as tree:
        site = next((tree / VENV.lstrip("/") / "lib").glob("python3*/site-packages"))
        info = next(site.glob("appliance-*.dist-info"))
        old = info.name.removeprefix("appliance-").removesuffix(".dist-info")
        metadata = info / "METADATA"
        metadata.write_text(metadata.read_text().replace(f"\nVersion: {old}\n", f"\nVersion: {version}\n"))
        info.rename(site / f"appliance-{version}.dist-info")
        if break_web:
            dropin = tree / "etc/systemd/system/appliance-web.service.d/zz-broken.conf"
            dropin.write_text(BROKEN_WEB)
    # lz4: the test makes the bundle and the emulated Pi unpacks it minutes later; gzip (the release's)
    # took 2 min to make on 2 cores (8 s with lz4) and its unpacking is emulated instruction by instruction.
    bundle, made = build_system_bundle(root, compatible=COMPATIBLE, cert=cert, key=key,
                                       output=folder / f"system-{version}.raucb", compression="lz4")
    assert made == version
    root.unlink()
    return bundle
