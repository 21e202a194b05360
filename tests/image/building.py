"""The image built once per test session, the way ``make image`` builds it, shared by tests/image and tests/boot.

The fixture is imported by tests/conftest.py, so the whole session holds one instance of it.

Build steps run image/build.py as a subprocess (the real command, its real output in the log). Their
durations and Ansible recaps are kept in /var/tmp/appliance-image-test/timings.json for the report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Outside the repository on purpose (see WORK_DIR in image/build.py): setuptools walks build/.
BUILD = Path(os.environ.get("APPLIANCE_IMAGE_TEST_WORK", "/var/tmp/appliance-image-test"))
# Every test module using ``built`` carries it: make test runs these (the image build and the boots, CI's
# critical path) in one pytest and everything else in another beside it; a test on the image left in the
# other would build the image a second time, into the same folder (tests/conftest.py refuses it).
ON_THE_CARD = pytest.mark.card


class BuiltImage:
    """The built image. The card image is whole at once; the tree's second, idempotence, run of the playbook
    and the compression go on in the background while the card boots (tests/boot): what reads the tree, the
    compressed image, the second run or the timings waits for them (``settle``)."""

    def __init__(self, out: Path, timings: dict, *, first_run: dict, second_run: dict | None = None,
                 finishing: dict[str, _Stage] | None = None) -> None:
        self.out = out
        self.image = out / "clinic-appliance.img"
        self.first_run = first_run
        self._second_run = second_run
        self._timings = timings
        self._finishing = finishing or {}

    def settle(self) -> None:
        """Waits for the background stages and keeps their durations in timings.json."""
        if not self._finishing:
            return
        finishing, self._finishing = self._finishing, {}
        results = {stage: running.result() for stage, running in finishing.items()}
        self._timings["compress"] = results["compress"]
        self._timings["playbook_second"] = results["apply"]
        self._second_run = results["apply"]["playbook"]
        (self.out / "timings.json").write_text(json.dumps(self._timings, indent=2))

    @property
    def rootfs(self) -> Path:
        self.settle()
        return self.out / "rootfs"

    @property
    def compressed(self) -> Path:
        self.settle()
        return self.out / "clinic-appliance.img.xz"

    @property
    def second_run(self) -> dict:
        self.settle()
        return self._second_run

    @property
    def timings(self) -> dict:
        self.settle()
        return self._timings


class _Stage:
    """One image/build.py stage in its own process, logged to BUILD/<stage>.log."""

    def __init__(self, stage: str, *extra: str) -> None:
        self.stage = stage
        self.report = BUILD / f"report-{stage}-{time.monotonic_ns()}.json"
        self.log = BUILD / f"{stage}-{time.monotonic_ns()}.log"
        command = [sys.executable, str(REPO / "image/build.py"), stage, "--out", str(BUILD),
                   "--report", str(self.report), *extra]
        self.began = time.monotonic()
        self._handle = self.log.open("w")
        self._handle.write(f"$ {' '.join(command)}\n")
        self._handle.flush()
        self.process = subprocess.Popen(command, stdout=self._handle, stderr=subprocess.STDOUT)

    def result(self) -> dict:
        code = self.process.wait()
        self._handle.close()
        with (BUILD / "build.log").open("a") as whole:
            whole.write(self.log.read_text(errors="replace"))
        if code != 0:
            tail = self.log.read_text(errors="replace").splitlines()[-40:]
            pytest.fail(f"image/build.py {self.stage} a échoué :\n" + "\n".join(tail))
        data = json.loads(self.report.read_text())
        self.report.unlink()
        self.log.unlink()
        data["wall_s"] = round(time.monotonic() - self.began, 1)
        return data


def _stage(stage: str, *extra: str) -> dict:
    return _Stage(stage, *extra).result()


@pytest.fixture(scope="session")
def built() -> Iterator[BuiltImage]:
    if os.geteuid() != 0:
        pytest.skip("building the image needs root (debootstrap, chroot, mount): CI runs as root")
    if os.environ.get("APPLIANCE_IMAGE_REUSE") and (BUILD / "timings.json").exists():
        yield _previous_build()  # iterating on tests/boot: the image the last session built, as it is
        return
    BUILD.mkdir(parents=True, exist_ok=True)
    (BUILD / "build.log").write_text("")
    release_certificate()
    timings: dict = {}
    timings["rootfs"] = _stage("rootfs")
    first = _stage("apply")
    timings["playbook_first"] = first
    timings["assemble"] = _stage("assemble")
    # The card image is whole: compression (xz, reading only the .img) and the playbook's second run (on the
    # tree; one that changes anything fails its test) go on while the card boots.
    image = BuiltImage(BUILD, timings, first_run=first["playbook"], finishing={
        "compress": _Stage("compress", "--xz-level", "0"), "apply": _Stage("apply")})
    yield image
    image.settle()


def release_certificate() -> Path:
    """A release certificate made for this build, given to the build as a release maker would
    (APPLIANCE_RELEASE_CERT), unless one is given already. Its key stays in the build folder, outside
    the image, for the update tests that sign bundles for the booted card (release_key)."""
    cert = BUILD / "release.cert.pem"
    if not os.environ.get("APPLIANCE_RELEASE_CERT"):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", str(BUILD / "release.key.pem"), "-out", str(cert), "-days", "3650",
                        "-subj", "/O=Clinic-in-a-box image test/CN=release"], check=True, capture_output=True)
        os.environ["APPLIANCE_RELEASE_CERT"] = str(cert)
        os.environ["APPLIANCE_RELEASE_KEY"] = str(BUILD / "release.key.pem")
    return Path(os.environ["APPLIANCE_RELEASE_CERT"])


def release_key(built: BuiltImage) -> tuple[Path, Path] | None:
    """(certificate, key) the built image's bundles are signed with; None when the key is not here
    (an image given a certificate from outside, without APPLIANCE_RELEASE_KEY)."""
    cert = Path(os.environ.get("APPLIANCE_RELEASE_CERT") or built.out / "release.cert.pem")
    key = Path(os.environ.get("APPLIANCE_RELEASE_KEY") or built.out / "release.key.pem")
    return (cert, key) if cert.is_file() and key.is_file() else None


def _previous_build() -> BuiltImage:
    timings = json.loads((BUILD / "timings.json").read_text())
    return BuiltImage(BUILD, timings, first_run=timings["playbook_first"]["playbook"],
                      second_run=timings["playbook_second"]["playbook"])
