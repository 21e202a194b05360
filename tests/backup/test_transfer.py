"""Moving hosts: export → import on another host proves every table arrived intact, or lists what differs."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from appliance.backup.canonical import database_digests
from appliance.backup.snapshot import BackupError
from appliance.backup.transfer import export, import_export
from appliance.cli import main


def digests(path):
    conn = sqlite3.connect(path)
    try:
        return database_digests(conn)
    finally:
        conn.close()


def test_export_then_import_on_a_new_host_gives_identical_tables(cfg, live, new_host, tmp_path):
    exported = export(cfg, tmp_path / "export")
    result = import_export(new_host, tmp_path / "export")
    assert result.intact, result.problems
    assert digests(new_host.paths.database) == exported.tables
    assert "user : 5 ligne(s)" in result.table_lines


def test_export_refuses_to_overwrite_an_earlier_export(cfg, live, tmp_path):
    export(cfg, tmp_path / "export")
    with pytest.raises(BackupError, match="déjà un export"):
        export(cfg, tmp_path / "export")


def test_a_flipped_byte_in_the_exported_database_is_detected(cfg, live, new_host, tmp_path):
    export(cfg, tmp_path / "export")
    data_file = tmp_path / "export" / "appliance.db.gz"
    raw = bytearray(data_file.read_bytes())
    raw[len(raw) // 3] ^= 0x01
    data_file.write_bytes(bytes(raw))
    result = import_export(new_host, tmp_path / "export")
    assert not result.intact
    assert any("modifié ou endommagé" in problem for problem in result.problems)
    assert not new_host.paths.database.exists()


def test_every_table_that_differs_is_listed_with_expected_and_found(cfg, live, new_host, tmp_path):
    export(cfg, tmp_path / "export")
    manifest_file = tmp_path / "export" / "appliance.manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["tables"]["user"]["rows"] = 6
    manifest["tables"]["audit_entry"]["sha256"] = "0" * 64
    manifest_file.write_text(json.dumps(manifest))
    result = import_export(new_host, tmp_path / "export", check_only=True)
    assert "table user : 6 lignes attendues, 5 trouvées" in result.problems
    assert any(line.startswith("table audit_entry : contenu différent") for line in result.problems)


def test_the_commands_print_donnees_intactes_only_when_everything_matches(cfg, live, new_host, tmp_path):
    runner = CliRunner()
    out = runner.invoke(main, ["export", "--config", str(cfg.source), str(tmp_path / "export")])
    assert out.exit_code == 0, out.output
    new_config = ["--config", str(new_host.source)]
    checked = runner.invoke(main, ["import", *new_config, "--check-only", str(tmp_path / "export")])
    assert checked.exit_code == 0 and "données intactes" in checked.output
    assert not new_host.paths.database.exists()
    imported = runner.invoke(main, ["import", "--config", str(new_host.source), str(tmp_path / "export")])
    assert imported.exit_code == 0 and imported.output.strip().endswith("données intactes")
    conn = sqlite3.connect(new_host.paths.database)
    conn.execute("UPDATE user SET phone = '+22370000000' WHERE id = 1")
    conn.commit()
    conn.close()
    again = runner.invoke(main, ["import", "--config", str(new_host.source), str(tmp_path / "export")])
    assert again.exit_code == 0  # the changed database is kept aside, the export installed again
    (kept,) = new_host.paths.data_dir.glob("appliance.db.before-import-*")
    assert sqlite3.connect(kept).execute("SELECT phone FROM user WHERE id = 1").fetchone() == ("+22370000000",)
