VERSION = 150
DESCRIPTION = "patients: a search index over names, numbers and the village, so a nurse finds a patient by place"

# FTS5 cannot add a column, and steps since m0092 only add (a rolled-back version must still run):
# a new index beside m0010's ``patient_fts``, which stays in step through its own triggers for that
# older version. Both read their text from the patient table (external content), where the village
# key is already stored, so building the new one is one 'rebuild' pass inside SQLite, no row going
# through Python.
_COLUMNS = "search_names, search_ids, village_key"
_NEW = "new.search_names, new.search_ids, new.village_key"
_OLD = "old.search_names, old.search_ids, old.village_key"
STATEMENTS = [
    f"CREATE VIRTUAL TABLE \"patient_search\" USING fts5({_COLUMNS}, content='patient', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2', prefix='2 3')",
    'CREATE TRIGGER "patient_search_insert" AFTER INSERT ON "patient" BEGIN '
    f"INSERT INTO patient_search (rowid, {_COLUMNS}) VALUES (new.id, {_NEW}); END",
    'CREATE TRIGGER "patient_search_delete" AFTER DELETE ON "patient" BEGIN '
    f"INSERT INTO patient_search (patient_search, rowid, {_COLUMNS}) VALUES ('delete', old.id, {_OLD}); END",
    f'CREATE TRIGGER "patient_search_update" AFTER UPDATE OF {_COLUMNS} ON "patient" BEGIN '
    f"INSERT INTO patient_search (patient_search, rowid, {_COLUMNS}) VALUES ('delete', old.id, {_OLD}); "
    f"INSERT INTO patient_search (rowid, {_COLUMNS}) VALUES (new.id, {_NEW}); END",
    "INSERT INTO patient_search (patient_search) VALUES ('rebuild')",
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
