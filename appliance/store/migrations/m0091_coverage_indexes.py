VERSION = 91
DESCRIPTION = ("facility: covering indexes for a year of coverage (a dose, a CPN contact, a delivery place) "
               "and for the chronic-care register")

# The coverage page reads a whole year of a few kinds of record. These indexes hold every column
# the coverage rules read of those rows (the rule's columns, the date, voided, the patient), so a
# year of Penta 1 or CPN 1 is one index range, not every visit of the year fetched from the table.
STATEMENTS = [
    'CREATE INDEX IF NOT EXISTS "immunisation_antigen_dose_date" ON "immunisation" '
    '("antigen", "dose_number", "visit_date", "given_here", "voided", "patient_id")',
    'CREATE INDEX IF NOT EXISTS "antenatal_visit_contact_date" ON "antenatal_visit" '
    '("contact_number", "visit_date", "voided", "patient_id")',
    'CREATE INDEX IF NOT EXISTS "delivery_place_date" ON "delivery" ("place", "visit_date", "voided", "patient_id")',
    # the chronic-care register and cohorts: each patient's first and last visit of a programme
    'CREATE INDEX IF NOT EXISTS "chronic_visit_programme_patient" ON "chronic_visit" '
    '("programme", "voided", "patient_id", "visit_date")',
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
