VERSION = 62
DESCRIPTION = "backup: log index by target and status, for the newest copy of each kind"

# The EMR badge, the telemetry status and the Backups page ask for the newest row of one target
# (and status): with a year of nightly rows, this index answers in a few steps instead of a scan.
STATEMENTS = [
    'CREATE INDEX "backup_run_target_status_started_at" ON "backup_run" ("target", "status", "started_at")',
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
