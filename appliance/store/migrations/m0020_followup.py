VERSION = 20
DESCRIPTION = "follow-up: stored due items, gravity alerts and each patient's last visit, for indexed worklists"

# Frozen copy of appliance/followup/models.py at this version. The rows are derived from the
# visits (recomputed in the visit's transaction), so the village and household are copied in
# to let a worklist filter and sort on one index instead of joining 100,000 patients.
STATEMENTS = [
    'CREATE TABLE "followup_item" ("id" TEXT NOT NULL PRIMARY KEY, '
    '"patient_id" INTEGER NOT NULL REFERENCES "patient" ("id"), "programme" TEXT NOT NULL, '
    '"rule_id" TEXT NOT NULL, "label" TEXT NOT NULL, "due_on" DATE NOT NULL, "overdue_on" DATE NOT NULL, '
    '"expires_on" DATE, "priority" INTEGER NOT NULL, "note" TEXT, "village_key" TEXT NOT NULL, '
    '"household_id" INTEGER)',
    'CREATE INDEX "followup_item_patient_id" ON "followup_item" ("patient_id")',
    # A worklist merges one ordered range per programme (urgency = overdue date, priority), with
    # or without a village; each page then reads a few dozen index entries, however many items.
    'CREATE INDEX "followup_item_programme_urgency" ON "followup_item" '
    '("programme", "overdue_on", "priority", "patient_id", "id")',
    'CREATE INDEX "followup_item_village_programme_urgency" ON "followup_item" '
    '("village_key", "programme", "overdue_on", "priority", "patient_id", "id")',
    'CREATE TABLE "followup_alert" ("id" TEXT NOT NULL PRIMARY KEY, '
    '"patient_id" INTEGER NOT NULL REFERENCES "patient" ("id"), "kind" TEXT NOT NULL, '
    '"severity" TEXT NOT NULL, "severity_rank" INTEGER NOT NULL, "label" TEXT NOT NULL, '
    '"reasons" TEXT NOT NULL, "rule_ids" TEXT NOT NULL, "since" DATE NOT NULL, "expires_on" DATE NOT NULL, '
    '"village_key" TEXT NOT NULL, "household_id" INTEGER)',
    'CREATE INDEX "followup_alert_patient_id" ON "followup_alert" ("patient_id")',
    'CREATE INDEX "followup_alert_severity" ON "followup_alert" ("severity_rank", "since" DESC, "id")',
    'CREATE INDEX "followup_alert_village_severity" ON "followup_alert" '
    '("village_key", "severity_rank", "since" DESC, "id")',
    'CREATE TABLE "followup_patient" ("patient_id" INTEGER NOT NULL PRIMARY KEY REFERENCES "patient" ("id"), '
    '"village_key" TEXT NOT NULL, "household_id" INTEGER, "last_visit_on" DATE, "computed_on" DATE NOT NULL)',
    'CREATE INDEX "followup_patient_household_id_last_visit_on" ON "followup_patient" '
    '("household_id", "last_visit_on")',
    'CREATE INDEX "followup_patient_last_visit_on_household_id" ON "followup_patient" '
    '("last_visit_on", "household_id")',
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
