"""Row counts and content hashes per table, computed the same way on any host.

The hash proves that two databases hold the same data even when their files differ (another
page size, a VACUUM, a rebuild from the off-site dump): rows are read in primary-key order and
each row is encoded canonically as ``repr()`` of the tuple of its SQLite values (None, int,
float, str, bytes) in UTF-8, one per line. ``repr`` is exact and stable: floats in their
shortest round-trip form, text and bytes escaped, 1 and 1.0 and '1' all distinct. The first
line hashed is the tuple of column names, so a changed schema is a changed hash.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

ENCODING_NAME = "repr-tuple-utf8/pk-order/v1"
FETCH_BATCH = 2000


@dataclass(frozen=True)
class TableDigest:
    rows: int
    sha256: str


def data_tables(conn: sqlite3.Connection) -> list[str]:
    """Tables holding data, in name order: ordinary tables and the shadow tables behind FTS indexes.

    Virtual tables and views hold nothing of their own; SQLite's internal tables are rebuilt by it.
    """
    rows = conn.execute("PRAGMA main.table_list").fetchall()
    names = [name for _schema, name, kind, *_ in rows if kind in ("table", "shadow")]
    return sorted(name for name in names if not name.startswith("sqlite_"))


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({quote_identifier(table)})")]


def _order_by(conn: sqlite3.Connection, table: str) -> str:
    info = conn.execute(f"PRAGMA table_info({quote_identifier(table)})").fetchall()
    keys = sorted((row[5], row[1]) for row in info if row[5] > 0)
    if keys:
        return ", ".join(quote_identifier(name) for _position, name in keys)
    return "rowid"  # no declared key: storage order, which a copy or a dump in that order keeps


def canonical_lines(conn: sqlite3.Connection, table: str) -> Iterator[bytes]:
    """The table's canonical lines: its column names, then each row in primary-key order."""
    names = columns(conn, table)
    yield repr(tuple(names)).encode("utf-8") + b"\n"
    select = ", ".join(quote_identifier(name) for name in names)
    cursor = conn.execute(f"SELECT {select} FROM {quote_identifier(table)} ORDER BY {_order_by(conn, table)}")
    while batch := cursor.fetchmany(FETCH_BATCH):
        for row in batch:
            yield repr(row).encode("utf-8", "surrogateescape") + b"\n"


def table_digest(conn: sqlite3.Connection, table: str) -> TableDigest:
    digest = hashlib.sha256()
    count = -1  # the first line is the column names
    for line in canonical_lines(conn, table):
        digest.update(line)
        count += 1
    return TableDigest(count, digest.hexdigest())


def database_digests(conn: sqlite3.Connection) -> dict[str, TableDigest]:
    """Every data table's count and hash."""
    return {table: _digest_any_text(conn, table) for table in data_tables(conn)}


def _digest_any_text(conn: sqlite3.Connection, table: str) -> TableDigest:
    """Text that is not valid UTF-8 (a damaged or foreign row) is hashed byte for byte, not refused."""
    try:
        return table_digest(conn, table)
    except sqlite3.OperationalError as exc:
        if "decode" not in str(exc):
            raise
    conn.text_factory = lambda raw: raw.decode("utf-8", "surrogateescape")
    try:
        return table_digest(conn, table)
    finally:
        conn.text_factory = str


def open_readonly(path) -> sqlite3.Connection:
    """A read-only connection, for copies that are only inspected (they are never in WAL mode)."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
