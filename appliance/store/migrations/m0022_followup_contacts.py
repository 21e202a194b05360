VERSION = 22
DESCRIPTION = "follow-up: contact attempts (calls, home visits) and each item's reminder date"

# Frozen copy of FollowupContact and FollowupItem.remind_on (appliance/followup/models.py) at this
# version. The worklist indexes are rebuilt with the reminder date at their end, so a page is
# still read from the index alone (m0021): an item whose reminder a promise moved is skipped there.
STATEMENTS = [
    'ALTER TABLE "followup_item" ADD COLUMN "remind_on" DATE',
    'DROP INDEX "followup_item_programme_urgency"',
    'DROP INDEX "followup_item_village_programme_urgency"',
    'CREATE INDEX "followup_item_programme_urgency" ON "followup_item" '
    '("programme", "overdue_on", "priority", "patient_id", "id", "due_on", "expires_on", "remind_on")',
    'CREATE INDEX "followup_item_village_programme_urgency" ON "followup_item" '
    '("village_key", "programme", "overdue_on", "priority", "patient_id", "id", "due_on", "expires_on", "remind_on")',
    'CREATE TABLE "followup_contact" ("id" INTEGER NOT NULL PRIMARY KEY, "voided" INTEGER NOT NULL, '
    '"voided_at" DATETIME, "voided_by" TEXT, "void_reason" TEXT, "patient_id" INTEGER NOT NULL, '
    '"contacted_on" DATE NOT NULL, "method" TEXT NOT NULL, "outcome" TEXT NOT NULL, "promised_on" DATE, '
    '"death_on" DATE, "phone" TEXT NOT NULL, "item_ids" TEXT NOT NULL, "item_labels" TEXT NOT NULL, '
    '"note" TEXT NOT NULL, "author_id" INTEGER, "author_name" TEXT NOT NULL, "author_role" TEXT NOT NULL, '
    '"recorded_at" DATETIME NOT NULL, FOREIGN KEY ("patient_id") REFERENCES "patient" ("id"), '
    'FOREIGN KEY ("author_id") REFERENCES "user" ("id"))',
    'CREATE INDEX "followup_contact_patient_id_contacted_on" ON "followup_contact" ("patient_id", "contacted_on")',
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
