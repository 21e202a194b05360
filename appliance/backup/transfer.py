"""Moving to a new host: export the database with its manifest, import it with proof nothing was lost.

``export`` writes ``appliance.db.gz`` and ``appliance.manifest.json`` (row count and content hash
of every table, see ``canonical``). ``import_export`` on the new host checks the copy against the
manifest, installs it, then hashes the installed database again: only when every count and hash
matches does it say « données intactes ».
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from appliance.backup.manifest import Manifest
from appliance.backup.restore import (
    RestoreRefused,
    compare_with_manifest,
    install,
    locate,
    processes_using,
    verify_copy,
)
from appliance.backup.snapshot import BackupError, make_snapshot
from appliance.config import Config

INTACT = "données intactes"


def export(cfg: Config, folder: Path) -> Manifest:
    """Write a verified copy of the live database and its manifest into ``folder``."""
    data_file, manifest_file = locate(folder) if folder.is_dir() else (None, None)
    if data_file and (data_file.exists() or manifest_file.exists()):
        raise BackupError(f"{folder} contient déjà un export : choisissez un dossier vide")
    manifest, _ = make_snapshot(cfg, folder, "appliance", reason="export")
    return manifest


@dataclass
class ImportResult:
    manifest: Manifest | None = None
    table_lines: list[str] = field(default_factory=list)  # « patient : 100000 lignes, identique »
    problems: list[str] = field(default_factory=list)
    kept: Path | None = None

    @property
    def intact(self) -> bool:
        return self.manifest is not None and not self.problems


def import_export(cfg: Config, folder: Path, *, check_only: bool = False, force_site: bool = False
                  ) -> ImportResult:
    """Verify an export and (unless ``check_only``) make it this host's database."""
    result = ImportResult()
    data_file, manifest_file = locate(folder)
    if not check_only and (users := processes_using(cfg.paths.database)):
        result.problems.append(
            "arrêtez d'abord les services qui utilisent la base (systemctl stop appliance-web appliance-agent) : "
            + ", ".join(users)
        )
        return result
    try:
        copy = verify_copy(cfg, data_file, manifest_file, force_site=force_site)
    except RestoreRefused as exc:
        result.problems = exc.problems or [str(exc)]
        return result
    result.manifest = copy.manifest
    if check_only:
        copy.path.unlink(missing_ok=True)
    else:
        try:
            result.kept = install(cfg, copy, label="before-import")
        except RestoreRefused as exc:
            result.problems.append(str(exc))
            return result
        # The proof on this host: the database now in place, hashed again.
        result.problems = compare_with_manifest(cfg.paths.database, copy.manifest)
    tables = sorted(copy.manifest.tables.items())
    result.table_lines = [f"{name} : {digest.rows} ligne(s)" for name, digest in tables]
    return result
