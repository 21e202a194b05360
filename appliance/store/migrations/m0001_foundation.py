VERSION = 1
DESCRIPTION = "users, audit trail, schema version"

STATEMENTS = [
    'CREATE TABLE IF NOT EXISTS "schema_version" ("version" INTEGER NOT NULL PRIMARY KEY, '
    '"description" TEXT NOT NULL, "applied_at" DATETIME NOT NULL)',
    'CREATE TABLE "user" ("id" INTEGER NOT NULL PRIMARY KEY, "username" TEXT NOT NULL, '
    '"first_name" TEXT NOT NULL, "last_name" TEXT NOT NULL, "role" TEXT NOT NULL, "phone" TEXT NOT NULL, '
    '"password_hash" TEXT NOT NULL, "language" TEXT NOT NULL, "active" INTEGER NOT NULL, '
    '"must_change_password" INTEGER NOT NULL, "failed_logins" INTEGER NOT NULL, "locked_until" DATETIME, '
    '"last_login_at" DATETIME, "created_at" DATETIME NOT NULL)',
    'CREATE UNIQUE INDEX "user_username" ON "user" ("username")',
    'CREATE TABLE "audit_entry" ("id" INTEGER NOT NULL PRIMARY KEY, "at" DATETIME NOT NULL, "user_id" INTEGER, '
    '"username" TEXT NOT NULL, "role" TEXT NOT NULL, "action" TEXT NOT NULL, "table_name" TEXT NOT NULL, '
    '"row_id" TEXT NOT NULL, "before" TEXT, "after" TEXT, "reason" TEXT)',
    'CREATE INDEX "audit_entry_at" ON "audit_entry" ("at")',
    'CREATE INDEX "audit_entry_table_name_row_id" ON "audit_entry" ("table_name", "row_id")',
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
