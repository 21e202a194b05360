"""Bundles are read and refused by the real ``rauc`` with the box's keyring; French reasons."""

from __future__ import annotations

import os
import subprocess

import pytest

from appliance.update.bundle import BundleRefused, extract_bundle, parse_version, read_bundle
from appliance.update.policy import check_bundle
from tests.update.bundles import COMPATIBLE, make_bundle

PAYLOAD = os.urandom(64 * 1024)


@pytest.fixture
def app_bundle(tmp_path, release_keys):
    return make_bundle(tmp_path, release_keys, version="1.3.0", images={"appfs": ("app.tar", PAYLOAD)})


def test_a_signed_bundle_is_read_with_its_manifest(app_bundle, release_keys):
    info = read_bundle(app_bundle, release_keys.cert)
    assert (info.compatible, info.version, info.slot_classes) == (COMPATIBLE, "1.3.0", {"appfs"})
    assert info.payload_bytes == len(PAYLOAD)
    assert info.size == app_bundle.stat().st_size


def test_a_bundle_signed_by_another_key_is_refused(tmp_path, release_keys, stranger_keys):
    bundle = make_bundle(tmp_path, stranger_keys, version="1.3.0", images={"appfs": ("app.tar", PAYLOAD)})
    with pytest.raises(BundleRefused, match="pas signé par l'équipe de publication"):
        read_bundle(bundle, release_keys.cert)


def test_an_unsigned_bundle_is_refused(tmp_path, release_keys):
    content = tmp_path / "content"
    content.mkdir()
    (content / "manifest.raucm").write_text(f"[update]\ncompatible={COMPATIBLE}\nversion=9.9.9\n")
    (content / "app.tar").write_bytes(PAYLOAD)
    unsigned = tmp_path / "unsigned.raucb"
    subprocess.run(["mksquashfs", str(content), str(unsigned), "-quiet", "-noappend"], check=True,
                   capture_output=True)
    with pytest.raises(BundleRefused, match="pas signé"):
        read_bundle(unsigned, release_keys.cert)


def test_a_damaged_payload_passes_the_manifest_but_not_the_extraction(tmp_path, app_bundle, release_keys):
    data = bytearray(app_bundle.read_bytes())
    data[5000:5004] = b"XXXX"  # inside the squashfs payload, far from the signature at the end
    app_bundle.write_bytes(bytes(data))
    read_bundle(app_bundle, release_keys.cert)  # the signed manifest is intact
    with pytest.raises(BundleRefused, match="abîmé ou incomplet"):
        extract_bundle(app_bundle, release_keys.cert, tmp_path / "out")
    assert not (tmp_path / "out" / "app.tar").exists()


def test_a_truncated_bundle_is_refused(tmp_path, app_bundle, release_keys):
    app_bundle.write_bytes(app_bundle.read_bytes()[:10_000])
    with pytest.raises(BundleRefused, match="abîmé ou incomplet"):
        read_bundle(app_bundle, release_keys.cert)


def test_an_intact_bundle_extracts_its_payload(tmp_path, app_bundle, release_keys):
    out = extract_bundle(app_bundle, release_keys.cert, tmp_path / "out")
    assert (out / "app.tar").read_bytes() == PAYLOAD


def test_no_keyring_on_the_box_means_no_update(app_bundle, tmp_path):
    with pytest.raises(BundleRefused, match="Certificat de publication absent"):
        read_bundle(app_bundle, tmp_path / "missing.pem")


def _info(app_bundle, keys):
    return read_bundle(app_bundle, keys.cert)


def test_another_hardware_is_refused(tmp_path, release_keys):
    bundle = make_bundle(tmp_path, release_keys, version="1.3.0", compatible="clinic-in-a-box/x86",
                         images={"appfs": ("app.tar", PAYLOAD)})
    with pytest.raises(BundleRefused, match=r"autre matériel.*clinic-in-a-box/x86"):
        check_bundle(read_bundle(bundle, release_keys.cert), compatible=COMPATIBLE, installed="1.2.0",
                     free_bytes=10**9)


def test_a_downgrade_is_refused_unless_forced(app_bundle, release_keys):
    info = _info(app_bundle, release_keys)
    with pytest.raises(BundleRefused, match=r"plus ancienne que celle installée \(1.10.0\).*--force"):
        check_bundle(info, compatible=COMPATIBLE, installed="1.10.0", free_bytes=10**9)
    decision = check_bundle(info, compatible=COMPATIBLE, installed="1.10.0", free_bytes=10**9, force=True)
    assert decision.downgrade and decision.kind == "app"


def test_the_same_version_is_not_installed_again_unless_forced(app_bundle, release_keys):
    info = _info(app_bundle, release_keys)
    with pytest.raises(BundleRefused, match="déjà installée"):
        check_bundle(info, compatible=COMPATIBLE, installed="1.3.0", free_bytes=10**9)
    assert check_bundle(info, compatible=COMPATIBLE, installed="1.3.0", free_bytes=10**9, force=True).reinstall


def test_a_bundle_larger_than_the_free_room_is_refused(app_bundle, release_keys):
    info = _info(app_bundle, release_keys)
    with pytest.raises(BundleRefused, match="Mo libres"):
        check_bundle(info, compatible=COMPATIBLE, installed="1.2.0", free_bytes=info.size)
    assert check_bundle(info, compatible=COMPATIBLE, installed="1.2.0", free_bytes=10**9).kind == "app"


def test_an_app_bundle_over_the_3g_budget_waits_for_a_stick(app_bundle, release_keys):
    info = _info(app_bundle, release_keys)
    with pytest.raises(BundleRefused, match=r"budget.*clé USB"):
        check_bundle(info, compatible=COMPATIBLE, installed="1.2.0", free_bytes=10**9, app_max_bytes=info.size - 1)


def test_a_system_bundle_must_fit_the_other_slot(tmp_path, release_keys):
    bundle = make_bundle(tmp_path, release_keys, version="2.0.0", images={"rootfs": ("root.ext4", PAYLOAD)})
    info = read_bundle(bundle, release_keys.cert)
    with pytest.raises(BundleRefused, match="Mo libres"):
        check_bundle(info, compatible=COMPATIBLE, installed="1.2.0", free_bytes=len(PAYLOAD) - 1)
    assert check_bundle(info, compatible=COMPATIBLE, installed="1.2.0", free_bytes=len(PAYLOAD)).kind == "system"


def test_a_bundle_for_unknown_slots_is_refused(tmp_path, release_keys):
    bundle = make_bundle(tmp_path, release_keys, version="2.0.0", images={"bootloader": ("u-boot.bin", PAYLOAD)})
    with pytest.raises(BundleRefused, match="aucun emplacement"):
        check_bundle(read_bundle(bundle, release_keys.cert), compatible=COMPATIBLE, installed="1.2.0",
                     free_bytes=10**9)


@pytest.mark.parametrize("text", ["1.2", "v1.2.3", "1.2.3-rc1", ""])
def test_an_unreadable_version_is_refused(text):
    with pytest.raises(BundleRefused, match="version"):
        parse_version(text)


def test_versions_compare_as_numbers():
    assert parse_version("1.10.0") > parse_version("1.9.9")
