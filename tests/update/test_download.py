"""An application bundle over the simulated 3G link: resumed across windows, within its budget."""

from __future__ import annotations

import pytest

from appliance.update.bundle import BundleRefused, read_bundle
from appliance.update.download import fetch_bundle, read_offer
from appliance.update.release import write_index
from tests.update.apps import app_bundle, real_wheel
from tests.update.release_server import ReleaseServer


@pytest.fixture(scope="module")
def published(tmp_path_factory, release_keys):
    folder = tmp_path_factory.mktemp("releases")
    bundle = app_bundle(folder, release_keys, "9.0.0", wheel=real_wheel(tmp_path_factory.mktemp("wheel")))
    write_index(bundle, "9.0.0")
    return folder, bundle


def test_the_real_application_bundle_fits_the_3g_budget(published):
    _, bundle = published
    assert 100_000 < bundle.stat().st_size <= 2_000_000


def test_a_download_cut_by_the_budget_resumes_where_it_stopped(published, tmp_path, release_keys):
    folder, bundle = published
    size = bundle.stat().st_size
    with ReleaseServer(folder) as server:
        offer, index_bytes = read_offer(server.url + "latest.json", timeout_s=10)
        assert (offer.version, offer.size) == ("9.0.0", size) and index_bytes < 200
        windows, received = [], 0
        while True:
            result = fetch_bundle(offer, tmp_path / "dl", max_bytes=2_000_000, deadline_s=60,
                                  byte_budget=300_000)
            windows.append(result.bytes_received)
            received += result.bytes_received
            if result.bundle is not None:
                break
            assert "suite à la prochaine fenêtre" in result.detail
        assert received == size == server.bytes_sent - index_bytes  # no byte fetched twice
        assert len(windows) == -(-size // 300_000) and max(windows) <= 300_000
    assert result.bundle.read_bytes() == bundle.read_bytes()
    assert read_bundle(result.bundle, release_keys.cert).version == "9.0.0"
    again = fetch_bundle(offer, tmp_path / "dl", max_bytes=2_000_000, deadline_s=60, byte_budget=None)
    assert again.bundle == result.bundle and again.bytes_received == 0


def test_a_partial_file_left_by_a_cut_is_continued(published, tmp_path):
    folder, bundle = published
    with ReleaseServer(folder) as server:
        offer, _ = read_offer(server.url + "latest.json", timeout_s=10)
        (tmp_path / "dl").mkdir()
        (tmp_path / "dl" / "app-9.0.0.raucb.partial").write_bytes(bundle.read_bytes()[:123_457])
        result = fetch_bundle(offer, tmp_path / "dl", max_bytes=2_000_000, deadline_s=60, byte_budget=None)
        assert result.bytes_received == bundle.stat().st_size - 123_457
        assert server.requests[-1] == f"bytes=123457-{bundle.stat().st_size - 1}"
    assert result.bundle.read_bytes() == bundle.read_bytes()


def test_a_newer_version_drops_the_pieces_of_the_older_one(published, tmp_path):
    folder, _ = published
    with ReleaseServer(folder) as server:
        offer, _ = read_offer(server.url + "latest.json", timeout_s=10)
        dl = tmp_path / "dl"
        dl.mkdir()
        (dl / "download.json").write_text('{"version": "8.9.0", "url": "x", "size": 5}')
        (dl / "app-8.9.0.raucb.partial").write_bytes(b"old")
        fetch_bundle(offer, dl, max_bytes=2_000_000, deadline_s=60, byte_budget=1000)
    assert not (dl / "app-8.9.0.raucb.partial").exists()
    assert (dl / "app-9.0.0.raucb.partial").stat().st_size == 1000


def test_a_bundle_over_the_budget_is_not_fetched(published, tmp_path):
    folder, _ = published
    with ReleaseServer(folder) as server:
        offer, _ = read_offer(server.url + "latest.json", timeout_s=10)
        with pytest.raises(BundleRefused, match="clé USB"):
            fetch_bundle(offer, tmp_path / "dl", max_bytes=offer.size - 1, deadline_s=60, byte_budget=None)
        assert server.bytes_sent < 200  # the index only


def test_an_unreadable_index_is_refused(tmp_path):
    (tmp_path / "latest.json").write_text("{not json")
    with ReleaseServer(tmp_path) as server, pytest.raises(BundleRefused, match="illisible"):
        read_offer(server.url + "latest.json", timeout_s=10)
