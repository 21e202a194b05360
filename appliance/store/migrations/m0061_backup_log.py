VERSION = 61
DESCRIPTION = "backup: log of every backup, copy to USB and off-site send"

STATEMENTS = [
    'CREATE TABLE "backup_run" ("id" INTEGER NOT NULL PRIMARY KEY, "started_at" DATETIME NOT NULL, '
    '"finished_at" DATETIME, "reason" TEXT NOT NULL, "target" TEXT NOT NULL, "location" TEXT NOT NULL, '
    '"bytes" INTEGER NOT NULL, "status" TEXT NOT NULL, "message" TEXT NOT NULL)',
    'CREATE INDEX "backup_run_started_at" ON "backup_run" ("started_at")',
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
