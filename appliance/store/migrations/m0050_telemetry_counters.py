VERSION = 50
DESCRIPTION = "telemetry: daily counters (bytes on the wire, SD bytes written) and their marks"

STATEMENTS = [
    'CREATE TABLE "telemetry_counter" ("day" TEXT NOT NULL, "name" TEXT NOT NULL, '
    '"value" INTEGER NOT NULL DEFAULT 0, PRIMARY KEY ("day", "name"))',
    'CREATE TABLE "telemetry_mark" ("name" TEXT NOT NULL PRIMARY KEY, "boot_id" TEXT NOT NULL, '
    '"value" INTEGER NOT NULL)',
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
