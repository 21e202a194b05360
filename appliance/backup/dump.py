"""The database as a folder of small, stable files: what the off-site copy sends, and how it comes back.

Each table is written as its canonical lines (see ``canonical``) cut into segments of
``SEGMENT_ROWS`` rows in primary-key order, each gzipped deterministically. A normal day adds rows
at the end of a few tables and corrects a few older ones, so only a handful of segments change:
that is what keeps the incremental off-site copy small (restic sends only changed content).
Unchanged segments are not even rewritten, so their file dates stay and restic skips them
without reading them.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from appliance.backup.canonical import canonical_lines, data_tables, open_readonly, quote_identifier
from appliance.backup.manifest import Manifest
from appliance.files import write_atomically

SEGMENT_ROWS = 250
SEGMENTS_PER_FOLDER = 64  # a change re-sends one small folder listing, not the table's whole listing
# Hashes of the segments last written, kept beside the folder (not in it: it would be sent every night).
INDEX_SUFFIX = ".segments.json"
# An FTS5 index is derived data: its shadow tables churn (segment merges) far more than the rows they
# index. The dump leaves them out and the rebuild recreates the index from its content.
FTS5_DERIVED_SUFFIXES = ("_data", "_idx", "_docsize")
_FTS5 = re.compile(r"CREATE\s+VIRTUAL\s+TABLE\s+.*\bUSING\s+fts5\b", re.IGNORECASE | re.DOTALL)


def write_dump(database: Path, folder: Path, manifest: Manifest) -> int:
    """Update ``folder`` to hold ``database``; return how many segment files were (re)written."""
    folder.mkdir(parents=True, exist_ok=True)
    index_path = folder.with_name(folder.name + INDEX_SUFFIX)
    try:
        previous: dict[str, str] = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        previous = {}
    conn = open_readonly(database)
    try:
        try:
            current, written, schema = _write_segments(conn, folder, previous)
        except sqlite3.OperationalError as exc:
            if "decode" not in str(exc):
                raise
            # Text that is not valid UTF-8 somewhere: dump it byte for byte rather than not at all.
            conn.text_factory = lambda raw: raw.decode("utf-8", "surrogateescape")
            current, written, schema = _write_segments(conn, folder, previous)
    finally:
        conn.close()
    for stale in set(previous) - set(current):
        (folder / stale).unlink(missing_ok=True)
    for empty in sorted((folder / "tables").rglob("*"), reverse=True) if (folder / "tables").exists() else []:
        if empty.is_dir() and not any(empty.iterdir()):
            empty.rmdir()
    _write_if_changed(folder / "schema.json", json.dumps(schema, ensure_ascii=False, indent=1).encode())
    _write_if_changed(folder / "manifest.json", manifest.to_json().encode("utf-8"))
    _write_if_changed(index_path, json.dumps(current, indent=0, sort_keys=True).encode())
    return written


def _write_segments(conn: sqlite3.Connection, folder: Path, previous: dict[str, str]
                    ) -> tuple[dict[str, str], int, dict]:
    current: dict[str, str] = {}
    written = 0
    schema = _schema(conn)
    for table in schema["columns"]:
        lines = canonical_lines(conn, table)
        next(lines)  # the column names live in schema.json
        for number, segment in enumerate(_segments(lines)):
            name = f"tables/{table}/{number // SEGMENTS_PER_FOLDER:04d}/{number:06d}.rows.gz"
            digest = hashlib.sha256(segment).hexdigest()
            current[name] = digest
            if previous.get(name) != digest or not (folder / name).exists():
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                write_atomically(folder / name, gzip.compress(segment, compresslevel=6, mtime=0))
                written += 1
    return current, written, schema


def _segments(lines: Iterator[bytes]) -> Iterator[bytes]:
    batch: list[bytes] = []
    for line in lines:
        batch.append(line)
        if len(batch) == SEGMENT_ROWS:
            yield b"".join(batch)
            batch = []
    if batch:
        yield b"".join(batch)


def _write_if_changed(path: Path, data: bytes) -> None:
    if not path.exists() or path.read_bytes() != data:
        write_atomically(path, data)


def _schema(conn: sqlite3.Connection) -> dict:
    kinds = {name: kind for _schema, name, kind, *_ in conn.execute("PRAGMA main.table_list")}
    objects = [
        {"type": kind, "name": name, "sql": sql, "shadow": kinds.get(name) == "shadow"}
        for kind, name, sql in conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY rowid")
        if sql and not name.startswith("sqlite_")
    ]
    fts5 = [item["name"] for item in objects if item["type"] == "table" and _FTS5.match(item["sql"])]
    derived = sorted(index + suffix for index in fts5 for suffix in FTS5_DERIVED_SUFFIXES)
    columns = {table: [row[1] for row in conn.execute(f"PRAGMA table_info({quote_identifier(table)})")]
               for table in data_tables(conn) if table not in derived}
    return {"objects": objects, "columns": columns, "fts5": fts5, "derived": derived}


def derived_tables(folder: Path) -> list[str]:
    """Tables the dump leaves out because the rebuild recomputes them (FTS5 indexes)."""
    return json.loads((folder / "schema.json").read_text(encoding="utf-8")).get("derived", [])


def rebuild(folder: Path, target: Path) -> Manifest:
    """Recreate a database from a dump folder: tables, rows, full-text indexes, then indexes and
    triggers (after the rows, so that no trigger fires twice)."""
    manifest = Manifest.read(folder / "manifest.json")
    schema = json.loads((folder / "schema.json").read_text(encoding="utf-8"))
    target.unlink(missing_ok=True)
    conn = sqlite3.connect(target, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=OFF")  # a scratch file until verified: no journal needed
        conn.execute("BEGIN")
        objects = schema["objects"]
        for item in objects:
            if item["type"] == "table" and not item["shadow"]:
                conn.execute(item["sql"])  # a virtual table creates its own shadow tables here
        for table, columns in schema["columns"].items():
            if any(item["name"] == table and item["shadow"] for item in objects):
                conn.execute(f"DELETE FROM {quote_identifier(table)}")  # the rows SQLite put there at creation
            insert = (f"INSERT INTO {quote_identifier(table)} ({', '.join(map(quote_identifier, columns))}) "
                      f"VALUES ({', '.join('?' * len(columns))})")
            for segment in sorted((folder / "tables" / table).glob("*/*.rows.gz")):
                rows = gzip.decompress(segment.read_bytes()).decode("utf-8", "surrogateescape").splitlines()
                conn.executemany(insert, (ast.literal_eval(row) for row in rows))
        for index in schema.get("fts5", []):
            conn.execute(f"INSERT INTO {quote_identifier(index)}({quote_identifier(index)}) VALUES ('rebuild')")
        for item in objects:
            if item["type"] in ("index", "trigger", "view"):
                conn.execute(item["sql"])
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode=DELETE")
    finally:
        conn.close()
    return manifest
