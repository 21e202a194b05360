VERSION = 130
DESCRIPTION = "referrals: the referral and its counter-referral as a record"

# Frozen copy of appliance/referrals/models.py at this version.
STATEMENTS = [
    'CREATE TABLE "referral" ("id" INTEGER NOT NULL PRIMARY KEY, "voided" INTEGER NOT NULL, "voided_at" DATETIME, '
    '"voided_by" TEXT, "void_reason" TEXT, "patient_id" INTEGER NOT NULL, "visit_date" DATE NOT NULL, '
    '"consultation_id" INTEGER, "reason" TEXT NOT NULL, "urgency" TEXT NOT NULL, "evacuation" INTEGER NOT NULL, '
    '"destination" TEXT NOT NULL, "transport" TEXT NOT NULL, "given_before" TEXT NOT NULL, "author_id" INTEGER, '
    '"author_role" TEXT NOT NULL, "created_at" DATETIME NOT NULL, "returned_on" DATE, "findings" TEXT NOT NULL, '
    '"care_given" TEXT NOT NULL, "counter_source" TEXT NOT NULL, "counter_author" TEXT NOT NULL, '
    '"counter_recorded_at" DATETIME, FOREIGN KEY ("patient_id") REFERENCES "patient" ("id"), '
    'FOREIGN KEY ("consultation_id") REFERENCES "consultation" ("id"), '
    'FOREIGN KEY ("author_id") REFERENCES "user" ("id"))',
    'CREATE INDEX "referral_consultation_id" ON "referral" ("consultation_id")',
    'CREATE INDEX "referral_patient_id_visit_date" ON "referral" ("patient_id", "visit_date")',
    # the pending list: open (no date back), not voided, oldest first
    'CREATE INDEX "referral_returned_on_voided_visit_date" ON "referral" ("returned_on", "voided", "visit_date")',
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
