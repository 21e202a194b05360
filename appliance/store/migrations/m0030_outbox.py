VERSION = 30
DESCRIPTION = "outbox: store-and-forward items and their delivery attempts"

STATEMENTS = [
    'CREATE TABLE "outbox_item" ("id" INTEGER NOT NULL PRIMARY KEY, "kind" TEXT NOT NULL, "dedupe_key" TEXT, '
    '"ref" TEXT, "urgent" INTEGER NOT NULL, "payload" BLOB NOT NULL, "payload_is_json" INTEGER NOT NULL, '
    '"state" TEXT NOT NULL, "attempts" INTEGER NOT NULL, "next_attempt_at" DATETIME NOT NULL, '
    '"created_at" DATETIME NOT NULL, "updated_at" DATETIME NOT NULL, "delivered_at" DATETIME, '
    '"last_outcome" TEXT, "last_message" TEXT, '
    '"superseded_by_id" INTEGER REFERENCES "outbox_item" ("id"))',
    'CREATE INDEX "outbox_item_state_next_attempt_at" ON "outbox_item" ("state", "next_attempt_at")',
    'CREATE INDEX "outbox_item_kind_dedupe_key" ON "outbox_item" ("kind", "dedupe_key")',
    'CREATE INDEX "outbox_item_ref" ON "outbox_item" ("ref")',
    'CREATE INDEX "outbox_item_superseded_by_id" ON "outbox_item" ("superseded_by_id")',
    'CREATE TABLE "outbox_attempt" ("id" INTEGER NOT NULL PRIMARY KEY, '
    '"item_id" INTEGER NOT NULL REFERENCES "outbox_item" ("id"), "number" INTEGER NOT NULL, '
    '"started_at" DATETIME NOT NULL, "finished_at" DATETIME, "outcome" TEXT NOT NULL, "http_status" INTEGER, '
    '"bytes_sent" INTEGER NOT NULL, "bytes_received" INTEGER NOT NULL, "message" TEXT, "detail" TEXT)',
    'CREATE INDEX "outbox_attempt_item_id" ON "outbox_attempt" ("item_id")',
    'CREATE INDEX "outbox_attempt_finished_at" ON "outbox_attempt" ("finished_at")',
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
