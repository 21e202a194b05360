VERSION = 2
DESCRIPTION = "server-side web sessions, login failures counted per key (replace the per-user lock)"

STATEMENTS = [
    'CREATE TABLE "web_session" ("token_hash" TEXT NOT NULL PRIMARY KEY, "user_id" INTEGER NOT NULL, '
    '"created_at" REAL NOT NULL, "last_seen_at" REAL NOT NULL)',
    'CREATE INDEX "web_session_user_id" ON "web_session" ("user_id")',
    'CREATE TABLE "login_failure" ("id" INTEGER NOT NULL PRIMARY KEY, "key" TEXT NOT NULL, "at" REAL NOT NULL)',
    'CREATE INDEX "login_failure_at" ON "login_failure" ("at")',
    'CREATE INDEX "login_failure_key_at" ON "login_failure" ("key", "at")',
    'ALTER TABLE "user" DROP COLUMN "failed_logins"',
    'ALTER TABLE "user" DROP COLUMN "locked_until"',
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
