"""Content hashes per table: equal for equal data however it is stored, different for any change."""

from __future__ import annotations

import sqlite3

from appliance.backup.canonical import database_digests, table_digest


def make(rows, *, order=None, schema='CREATE TABLE t ("id" INTEGER PRIMARY KEY, "name" TEXT, "w")'):
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute(schema)
    for row in (sorted(rows, key=order) if order else rows):
        conn.execute("INSERT INTO t VALUES (?, ?, ?)", row)
    return conn


ROWS = [(1, "Aminata Diarra", 3.2), (2, "Moussa Koné", None), (3, "Fatoumata Traoré", 61.0)]


def test_same_rows_inserted_in_another_order_and_vacuumed_hash_the_same():
    first = make(ROWS)
    second = make(ROWS, order=lambda row: -row[0])
    second.execute("VACUUM")
    assert table_digest(first, "t") == table_digest(second, "t")
    assert table_digest(first, "t").rows == 3


def test_any_changed_value_changes_the_hash():
    reference = table_digest(make(ROWS), "t")
    for changed in (
        [(1, "Aminata Diarra", 3.2000000001), *ROWS[1:]],
        [(1, "Aminata Diarra", 3.2), (2, "Moussa Kone", None), ROWS[2]],  # an accent lost
        [(1, "Aminata Diarra", 3.2), (2, "Moussa Koné", ""), ROWS[2]],  # NULL is not empty
        [*ROWS[:2], (3, "Fatoumata Traoré", 61)],  # 61 is not 61.0 (a column without affinity keeps both)
        [*ROWS[:2], (4, "Fatoumata Traoré", 61.0)],  # another key
    ):
        assert table_digest(make(changed), "t").sha256 != reference.sha256


def test_a_renamed_column_changes_the_hash():
    renamed = make(ROWS, schema='CREATE TABLE t ("id" INTEGER PRIMARY KEY, "nom" TEXT, "w")')
    assert table_digest(renamed, "t").sha256 != table_digest(make(ROWS), "t").sha256


def test_text_that_is_not_utf8_is_hashed_rather_than_refused():
    conn = make(ROWS)
    conn.execute("UPDATE t SET name = CAST(X'4B6FE96E' AS TEXT) WHERE id = 2")  # "Koén" in cp1252 bytes
    digests = database_digests(conn)
    assert digests["t"].rows == 3
    assert digests["t"].sha256 != table_digest(make(ROWS), "t").sha256


def test_tables_without_rowid_and_fts_shadow_tables_are_covered_views_are_not():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE k (a TEXT, b INTEGER, v TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID")
    conn.execute("INSERT INTO k VALUES ('z', 1, 'x'), ('a', 2, 'y')")
    conn.execute("CREATE VIRTUAL TABLE f USING fts5(name)")
    conn.execute("INSERT INTO f VALUES ('Awa')")
    conn.execute("CREATE VIEW v AS SELECT * FROM k")
    tables = database_digests(conn)
    assert "k" in tables and "f_data" in tables and "f_content" in tables
    assert "f" not in tables and "v" not in tables
    assert tables["k"].rows == 2
