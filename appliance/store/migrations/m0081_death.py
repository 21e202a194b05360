VERSION = 81
DESCRIPTION = "mother and newborn: deaths as vital events (maternal, neonatal, child, other), on the record of who died"

# Frozen SQL (the death model of appliance/patients/models.py at this version).
STATEMENTS = (
    'CREATE TABLE "death" ("id" INTEGER NOT NULL PRIMARY KEY, "voided" INTEGER NOT NULL, "voided_at" DATETIME, '
    '"voided_by" TEXT, "void_reason" TEXT, "patient_id" INTEGER NOT NULL, "visit_date" DATE NOT NULL, '
    '"author_id" INTEGER, "author_role" TEXT NOT NULL, "recorded_at" DATETIME NOT NULL, "revision" INTEGER NOT NULL, '
    '"notes" TEXT NOT NULL, "clinician_id" INTEGER REFERENCES "user" ("id"), "category" TEXT NOT NULL, "place" TEXT NOT NULL, "cause" TEXT NOT NULL, '
    '"incidental" INTEGER NOT NULL, FOREIGN KEY ("patient_id") REFERENCES "patient" ("id"), '
    'FOREIGN KEY ("author_id") REFERENCES "user" ("id"))',
    'CREATE INDEX "death_patient_id_visit_date" ON "death" ("patient_id", "visit_date")',
)


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
