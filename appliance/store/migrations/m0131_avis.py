VERSION = 131
DESCRIPTION = "link to the district: second-opinion requests and their answers, the district inbox's cursor"

# Frozen copy of appliance/link/models.py at this version.
STATEMENTS = [
    'CREATE TABLE "avis_request" ("id" INTEGER NOT NULL PRIMARY KEY, "message_id" TEXT NOT NULL, '
    '"patient_id" INTEGER NOT NULL, "question" TEXT NOT NULL, "summary" TEXT NOT NULL, '
    '"photo_count" INTEGER NOT NULL, "photo_bytes" INTEGER NOT NULL, "asked_by_id" INTEGER, '
    '"asked_role" TEXT NOT NULL, "asked_at" DATETIME NOT NULL, "answer" TEXT NOT NULL, '
    '"answered_by" TEXT NOT NULL, "answered_at" DATETIME, "received_at" DATETIME, "seen_at" DATETIME, '
    'FOREIGN KEY ("patient_id") REFERENCES "patient" ("id"), FOREIGN KEY ("asked_by_id") REFERENCES "user" ("id"))',
    'CREATE UNIQUE INDEX "avis_request_message_id" ON "avis_request" ("message_id")',
    'CREATE INDEX "avis_request_patient_id" ON "avis_request" ("patient_id")',
    'CREATE INDEX "avis_request_asked_by_id_seen_at" ON "avis_request" ("asked_by_id", "seen_at")',
    'CREATE TABLE "link_cursor" ("name" TEXT NOT NULL PRIMARY KEY, "last_seq" INTEGER NOT NULL, '
    '"updated_at" DATETIME NOT NULL)',
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
