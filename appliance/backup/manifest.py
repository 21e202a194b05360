"""The manifest that travels with every copy of the database: what it should contain, provably.

A copy is trusted only when its file hash, its SQLite integrity and every table's row count and
content hash (see ``canonical``) match the manifest written when it was made.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from appliance.backup.canonical import ENCODING_NAME, TableDigest
from appliance.files import write_atomically

FORMAT = "appliance-backup/1"


class ManifestError(ValueError):
    """A manifest that cannot be read; the message is for a person."""


@dataclass(frozen=True)
class DatabaseFile:
    name: str  # file name beside the manifest
    compression: str  # "gzip" or "none"
    file_bytes: int
    file_sha256: str
    db_bytes: int
    db_sha256: str


@dataclass(frozen=True)
class Manifest:
    site_id: str
    site_name: str
    created_at: str  # ISO 8601, UTC
    reason: str  # nightly, manual, pre-upgrade, export
    appliance_version: str
    schema_version: int
    sqlite_version: str
    database: DatabaseFile
    tables: dict[str, TableDigest] = field(default_factory=dict)
    format: str = FORMAT
    hash_encoding: str = ENCODING_NAME

    def to_json(self) -> str:
        data = asdict(self)
        data["tables"] = {name: asdict(digest) for name, digest in sorted(self.tables.items())}
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        try:
            data: dict[str, Any] = json.loads(text)
            if data.get("format") != FORMAT:
                raise ManifestError(f"format de manifeste inconnu « {data.get('format')} » (attendu {FORMAT})")
            if data.get("hash_encoding") != ENCODING_NAME:
                raise ManifestError(f"empreintes calculées autrement (« {data.get('hash_encoding')} »)")
            tables = {name: TableDigest(**digest) for name, digest in data.pop("tables").items()}
            database = DatabaseFile(**data.pop("database"))
            return cls(**data, database=database, tables=tables)
        except ManifestError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ManifestError(f"manifeste illisible ou incomplet ({exc})") from exc

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise ManifestError(f"manifeste introuvable : {path}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ManifestError(f"manifeste illisible : {path} ({exc})") from exc
        return cls.from_json(text)

    def write(self, path: Path) -> None:
        write_atomically(path, self.to_json().encode("utf-8"))


def table_differences(expected: dict[str, TableDigest], found: dict[str, TableDigest]) -> list[str]:
    """One French line per table whose count or content differs, or that is missing or extra."""
    lines = []
    for name in sorted(set(expected) | set(found)):
        want, have = expected.get(name), found.get(name)
        if have is None:
            lines.append(f"table {name} : absente (attendue avec {want.rows} lignes)")
        elif want is None:
            lines.append(f"table {name} : présente ({have.rows} lignes) mais absente du manifeste")
        elif want.rows != have.rows:
            lines.append(f"table {name} : {want.rows} lignes attendues, {have.rows} trouvées")
        elif want.sha256 != have.sha256:
            lines.append(f"table {name} : contenu différent (empreinte attendue {want.sha256[:16]}…, "
                         f"trouvée {have.sha256[:16]}…) pour le même nombre de lignes ({have.rows})")
    return lines


