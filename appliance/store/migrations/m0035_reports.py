VERSION = 35
DESCRIPTION = "reports: monthly reports and their sealed versions (figures JSON per version)"

# Frozen copy of appliance/reports/models.py at this version.
STATEMENTS = [
    'CREATE TABLE "monthly_report" ("id" INTEGER NOT NULL PRIMARY KEY, "period" TEXT NOT NULL, "created_at" DATETIME NOT NULL)',
    'CREATE UNIQUE INDEX "monthly_report_period" ON "monthly_report" ("period")',
    'CREATE TABLE "report_version" ("id" INTEGER NOT NULL PRIMARY KEY, "report_id" INTEGER NOT NULL, "number" INTEGER NOT NULL, '
    '"figures_json" TEXT NOT NULL, "definitions_sha256" TEXT NOT NULL, "age_bands" TEXT NOT NULL, '
    '"lost_after_days" INTEGER NOT NULL, "sealed_at" DATETIME NOT NULL, "sealed_by_id" INTEGER, '
    '"sealed_by_name" TEXT NOT NULL, "sealed_role" TEXT NOT NULL, "reason" TEXT NOT NULL, "outbox_item_id" INTEGER, '
    'FOREIGN KEY ("report_id") REFERENCES "monthly_report" ("id"), '
    'FOREIGN KEY ("sealed_by_id") REFERENCES "user" ("id"), '
    'FOREIGN KEY ("outbox_item_id") REFERENCES "outbox_item" ("id"))',
    'CREATE UNIQUE INDEX "report_version_report_id_number" ON "report_version" ("report_id", "number")',
    'CREATE INDEX "report_version_outbox_item_id" ON "report_version" ("outbox_item_id")',
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
