VERSION = 71
DESCRIPTION = "PCIME assessments, classification overrides, coded prescription lines"

# Frozen copy of appliance/pcime/models.py at this version.
STATEMENTS = [
    'CREATE TABLE "pcime_assessment" ("id" INTEGER NOT NULL PRIMARY KEY, "consultation_id" INTEGER NOT NULL, '
    '"patient_id" INTEGER NOT NULL, "visit_date" DATE NOT NULL, "chart" TEXT NOT NULL, "signs" TEXT NOT NULL, '
    '"measures" TEXT NOT NULL, "classifications" TEXT NOT NULL, "urgent" INTEGER NOT NULL, '
    '"fever" INTEGER NOT NULL, "malaria_test" TEXT NOT NULL, "malaria" TEXT NOT NULL, '
    '"pneumonia" INTEGER NOT NULL, "diarrhoea" INTEGER NOT NULL, "ors_given" INTEGER NOT NULL, '
    '"zinc_given" INTEGER NOT NULL, "vitamin_a_given" INTEGER NOT NULL, "albendazole_given" INTEGER NOT NULL, '
    'FOREIGN KEY ("consultation_id") REFERENCES "consultation" ("id"))',
    'CREATE UNIQUE INDEX "pcime_assessment_consultation_id" ON "pcime_assessment" ("consultation_id")',
    'CREATE INDEX "pcime_assessment_patient_id_visit_date" ON "pcime_assessment" ("patient_id", "visit_date")',
    'CREATE INDEX "pcime_assessment_visit_date" ON "pcime_assessment" ("visit_date")',
    'CREATE TABLE "pcime_override" ("id" INTEGER NOT NULL PRIMARY KEY, "assessment_id" INTEGER NOT NULL, '
    '"table_code" TEXT NOT NULL, "computed" TEXT NOT NULL, "chosen" TEXT NOT NULL, "reason" TEXT NOT NULL, '
    '"author_id" INTEGER, "author_role" TEXT NOT NULL, "recorded_at" DATETIME NOT NULL, '
    'FOREIGN KEY ("assessment_id") REFERENCES "pcime_assessment" ("id"), '
    'FOREIGN KEY ("author_id") REFERENCES "user" ("id"))',
    'CREATE INDEX "pcime_override_assessment_id" ON "pcime_override" ("assessment_id")',
    'CREATE TABLE "prescription_item" ("id" INTEGER NOT NULL PRIMARY KEY, "prescription_id" INTEGER NOT NULL, '
    '"medicine" TEXT NOT NULL, "treatment" TEXT, "dose" REAL, "times_per_day" INTEGER, "days" INTEGER, '
    '"reason" TEXT NOT NULL, FOREIGN KEY ("prescription_id") REFERENCES "prescription" ("id"))',
    'CREATE UNIQUE INDEX "prescription_item_prescription_id" ON "prescription_item" ("prescription_id")',
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
