"""Moving hosts with a realistic record: the demo health area (patients, households, every programme's
visits, FTS index), exported and imported with identical manifests; one flipped byte is caught.

The same round trip on 100,000 patients runs in the bench (tests/bench/bench_backup.py,
``export_import_100k_s``), where the 100k record is generated once and cached: generating it here
would cost CI minutes for no extra proof.
"""

from __future__ import annotations

import sqlite3

import pytest

from appliance.backup.canonical import database_digests
from appliance.backup.transfer import export, import_export

PATIENTS = 10_000


@pytest.mark.slow
def test_export_import_of_a_generated_health_area_is_identical_and_a_flipped_byte_is_caught(
        cfg, store, new_host, tmp_path):
    from appliance.demo import seed_demo

    seed_demo(store, PATIENTS, 11)
    exported = export(cfg, tmp_path / "export")
    assert exported.tables["patient"].rows >= PATIENTS
    assert exported.tables["consultation"].rows > PATIENTS
    result = import_export(new_host, tmp_path / "export")
    assert result.intact, result.problems
    conn = sqlite3.connect(new_host.paths.database)
    assert database_digests(conn) == exported.tables
    conn.close()

    data_file = tmp_path / "export" / "appliance.db.gz"
    raw = bytearray(data_file.read_bytes())
    raw[len(raw) * 2 // 3] ^= 0x10
    data_file.write_bytes(bytes(raw))
    damaged = import_export(new_host, tmp_path / "export", check_only=True)
    assert not damaged.intact and damaged.problems
