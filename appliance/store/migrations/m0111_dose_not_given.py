VERSION = 111
DESCRIPTION = "vaccination session: a dose due but not given, with its reason"

# Frozen copy of appliance/patients/vaccination.py's DoseNotGiven at this version.
STATEMENTS = [
    'CREATE TABLE "dose_not_given" ("id" INTEGER NOT NULL PRIMARY KEY, "voided" INTEGER NOT NULL, '
    '"voided_at" DATETIME, "voided_by" TEXT, "void_reason" TEXT, "patient_id" INTEGER NOT NULL, '
    '"visit_date" DATE NOT NULL, "antigen" TEXT NOT NULL, "dose_number" INTEGER NOT NULL, '
    '"reason" TEXT NOT NULL, "author_id" INTEGER, "recorded_at" DATETIME NOT NULL, '
    'FOREIGN KEY ("patient_id") REFERENCES "patient" ("id"))',
    'CREATE INDEX "dose_not_given_patient_id_visit_date" ON "dose_not_given" ("patient_id", "visit_date")',
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
