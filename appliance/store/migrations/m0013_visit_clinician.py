VERSION = 13
DESCRIPTION = "the clinician a transcribed visit is recorded for"

VISIT_TABLES = ("consultation", "antenatal_visit", "delivery", "postnatal_visit", "immunisation",
                "growth_measurement", "family_planning_visit", "chronic_visit")


def apply(db) -> None:
    for table in VISIT_TABLES:
        db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "clinician_id" INTEGER REFERENCES "user" ("id")')
