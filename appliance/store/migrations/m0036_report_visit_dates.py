VERSION = 36
DESCRIPTION = "reports: index every visit table on visit_date (a month's report reads one month, not the table)"

# IF NOT EXISTS: the patient record may index visit_date under the same conventional name itself.
VISIT_TABLES = ("consultation", "antenatal_visit", "delivery", "postnatal_visit", "immunisation",
                "growth_measurement", "family_planning_visit", "chronic_visit")


def apply(db) -> None:
    for table in VISIT_TABLES:
        db.execute_sql(f'CREATE INDEX IF NOT EXISTS "{table}_visit_date" ON "{table}" ("visit_date")')
