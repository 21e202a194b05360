"""A system install by the real RAUC service into two file slots, cut at random moments: after each
cut the card boots a whole system, the old one untouched or the new one complete."""

from __future__ import annotations

import os

import pytest

from tests.update.bundles import make_bundle
from tests.update.rauc_rig import Rig, cut_installs, digest, needs_rig

pytestmark = pytest.mark.slow

SLOT_BYTES = 96 * 1024 * 1024
IMAGE_BYTES = 64 * 1024 * 1024


@pytest.fixture(scope="module")
def images(tmp_path_factory, release_keys):
    needs_rig()
    folder = tmp_path_factory.mktemp("system")
    old, new = os.urandom(4 * 1024 * 1024), os.urandom(IMAGE_BYTES)
    bundle = make_bundle(folder, release_keys, version="2.0.0", images={"rootfs": ("root.ext4", new)},
                         bundle_format="plain")
    return old, new, bundle


@pytest.fixture
def rig(tmp_path, release_keys):
    rig = Rig(folder=tmp_path / "card", keys=release_keys, slot_bytes=SLOT_BYTES)
    yield rig
    rig.cut()


def boots_a_whole_system(rig: Rig, old: bytes, new: bytes) -> str:
    slot = rig.booted()
    if slot == "A":
        assert digest(rig.slots["A"], len(old)) == digest_bytes(old), "the old system was touched"
    else:
        assert digest(rig.slots["B"], len(new)) == digest_bytes(new), "the new system boots half-written"
    return slot


def digest_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_an_install_writes_the_other_slot_and_boots_it_next(rig, images):
    old, new, bundle = images
    rig.prepare(old)
    rig.start()
    done = rig.client(["install", str(bundle)])
    assert done.returncode == 0, done.stderr + done.stdout
    assert rig.booted() == "B" and boots_a_whole_system(rig, old, new) == "B"
    assert digest(rig.slots["A"], len(old)) == digest_bytes(old)


def test_a_bundle_for_another_board_is_refused_by_rauc_too(rig, images, tmp_path, release_keys):
    old, _, _ = images
    rig.prepare(old)
    rig.start()
    other = make_bundle(tmp_path, release_keys, version="2.0.0", compatible="clinic-in-a-box/x86",
                        images={"rootfs": ("root.ext4", os.urandom(64 * 1024))}, bundle_format="plain")
    done = rig.client(["install", str(other)])
    assert done.returncode != 0 and "compatible" in (done.stderr + done.stdout).lower()
    assert rig.booted() == "A"


def test_cuts_at_random_moments_always_leave_a_bootable_card(rig, images):
    old, new, bundle = images
    outcomes = cut_installs(rig, bundle, old, new, cycles=int(os.environ.get("UPDATE_CUT_CYCLES", "6")),
                            seed=os.environ.get("UPDATE_CUT_SEED", "21"))
    print(f"booted after each cut: {outcomes}")
    assert all(whole for _, whole in outcomes), outcomes
    assert "A" in {slot for slot, _ in outcomes}  # some cuts landed before the switch (not vacuous)
