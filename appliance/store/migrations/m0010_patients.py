VERSION = 10
DESCRIPTION = "patients, households, card number sequence, full-text search over names and numbers"

# Frozen copy of appliance/patients/models.py at this version, plus what peewee cannot declare:
# partial indexes (most patients have no mother on record, no NINA, were never merged) and the
# FTS5 index kept in step with the patient table by triggers, inside the writer's transaction.
STATEMENTS = [
    'CREATE TABLE "household" ("id" INTEGER NOT NULL PRIMARY KEY, "voided" INTEGER NOT NULL, "voided_at" DATETIME, '
    '"voided_by" TEXT, "void_reason" TEXT, "name" TEXT NOT NULL, "village" TEXT NOT NULL, '
    '"village_key" TEXT NOT NULL, "created_at" DATETIME NOT NULL)',
    'CREATE INDEX "household_village_key" ON "household" ("village_key")',
    'CREATE TABLE "patient" ("id" INTEGER NOT NULL PRIMARY KEY, "voided" INTEGER NOT NULL, "voided_at" DATETIME, '
    '"voided_by" TEXT, "void_reason" TEXT, "local_number" TEXT NOT NULL, "family_name" TEXT NOT NULL, '
    '"first_names" TEXT NOT NULL, "sex" TEXT NOT NULL CHECK ("sex" IN (\'F\', \'M\')), "birth_date" DATE NOT NULL, '
    '"birth_date_estimated" INTEGER NOT NULL, "village" TEXT NOT NULL, "village_key" TEXT NOT NULL, '
    '"phone" TEXT NOT NULL, "national_id" TEXT, "mother_id" INTEGER, "household_id" INTEGER, '
    '"merged_into_id" INTEGER, "family_key" TEXT NOT NULL, "given_key" TEXT NOT NULL, '
    '"search_names" TEXT NOT NULL, "search_ids" TEXT NOT NULL, "registered_at" DATETIME NOT NULL, '
    '"registered_by_id" INTEGER, "registered_role" TEXT NOT NULL, '
    'FOREIGN KEY ("mother_id") REFERENCES "patient" ("id"), '
    'FOREIGN KEY ("household_id") REFERENCES "household" ("id"), '
    'FOREIGN KEY ("merged_into_id") REFERENCES "patient" ("id"), '
    'FOREIGN KEY ("registered_by_id") REFERENCES "user" ("id"))',
    'CREATE UNIQUE INDEX "patient_local_number" ON "patient" ("local_number")',
    'CREATE UNIQUE INDEX "patient_national_id" ON "patient" ("national_id") WHERE "national_id" IS NOT NULL',
    'CREATE INDEX "patient_mother_id" ON "patient" ("mother_id") WHERE "mother_id" IS NOT NULL',
    'CREATE INDEX "patient_household_id" ON "patient" ("household_id")',
    'CREATE INDEX "patient_merged_into_id" ON "patient" ("merged_into_id") WHERE "merged_into_id" IS NOT NULL',
    'CREATE INDEX "patient_family_key_village_key" ON "patient" ("family_key", "village_key")',
    'CREATE TABLE "local_number_sequence" ("prefix" TEXT NOT NULL PRIMARY KEY, "last_value" INTEGER NOT NULL)',
    "CREATE VIRTUAL TABLE \"patient_fts\" USING fts5(search_names, search_ids, content='patient', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2', prefix='2 3')",
    'CREATE TRIGGER "patient_fts_insert" AFTER INSERT ON "patient" BEGIN '
    'INSERT INTO patient_fts (rowid, search_names, search_ids) VALUES (new.id, new.search_names, new.search_ids); '
    'END',
    'CREATE TRIGGER "patient_fts_delete" AFTER DELETE ON "patient" BEGIN '
    "INSERT INTO patient_fts (patient_fts, rowid, search_names, search_ids) "
    "VALUES ('delete', old.id, old.search_names, old.search_ids); "
    'END',
    'CREATE TRIGGER "patient_fts_update" AFTER UPDATE OF search_names, search_ids ON "patient" BEGIN '
    "INSERT INTO patient_fts (patient_fts, rowid, search_names, search_ids) "
    "VALUES ('delete', old.id, old.search_names, old.search_ids); "
    'INSERT INTO patient_fts (rowid, search_names, search_ids) VALUES (new.id, new.search_names, new.search_ids); '
    'END',
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
