VERSION = 21
DESCRIPTION = "follow-up: worklist indexes that also hold the due and expiry dates (index-only scans)"

# The worklist filters each programme's ordered range on the due and expiry dates: with both in
# the index, a page is read from the index alone and only the items shown touch the table.
STATEMENTS = [
    'DROP INDEX "followup_item_programme_urgency"',
    'DROP INDEX "followup_item_village_programme_urgency"',
    'CREATE INDEX "followup_item_programme_urgency" ON "followup_item" '
    '("programme", "overdue_on", "priority", "patient_id", "id", "due_on", "expires_on")',
    'CREATE INDEX "followup_item_village_programme_urgency" ON "followup_item" '
    '("village_key", "programme", "overdue_on", "priority", "patient_id", "id", "due_on", "expires_on")',
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
