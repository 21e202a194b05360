VERSION = 60
DESCRIPTION = "users: CSV import staging, account replacements"

STATEMENTS = [
    'CREATE TABLE "user_import_batch" ("id" INTEGER NOT NULL PRIMARY KEY, "created_at" DATETIME NOT NULL, '
    '"created_by" TEXT NOT NULL, "filename" TEXT NOT NULL, "status" TEXT NOT NULL, '
    '"row_count" INTEGER NOT NULL, "error_count" INTEGER NOT NULL, "file_problems" TEXT NOT NULL, '
    '"committed_at" DATETIME, "committed_by" TEXT)',
    'CREATE TABLE "user_import_row" ("id" INTEGER NOT NULL PRIMARY KEY, '
    '"batch_id" INTEGER NOT NULL REFERENCES "user_import_batch" ("id"), "line" INTEGER NOT NULL, '
    '"username" TEXT NOT NULL, "first_name" TEXT NOT NULL, "last_name" TEXT NOT NULL, "role" TEXT NOT NULL, '
    '"phone" TEXT NOT NULL, "replaces" TEXT NOT NULL, "problems" TEXT NOT NULL)',
    'CREATE INDEX "user_import_row_batch_id" ON "user_import_row" ("batch_id")',
    'CREATE TABLE "user_replacement" ("id" INTEGER NOT NULL PRIMARY KEY, '
    '"old_user_id" INTEGER NOT NULL REFERENCES "user" ("id"), '
    '"new_user_id" INTEGER NOT NULL REFERENCES "user" ("id"), "replaced_at" DATETIME NOT NULL, '
    '"replaced_by" TEXT NOT NULL, "reason" TEXT NOT NULL)',
    'CREATE UNIQUE INDEX "user_replacement_old_user_id" ON "user_replacement" ("old_user_id")',
    'CREATE INDEX "user_replacement_new_user_id" ON "user_replacement" ("new_user_id")',
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
