VERSION = 90
DESCRIPTION = "facility: the health area's population per year and village, and coverage targets"

# Frozen copy of appliance/facility/models.py at this version.
STATEMENTS = [
    'CREATE TABLE "area_population" ("id" INTEGER NOT NULL PRIMARY KEY, "year" INTEGER NOT NULL, '
    '"village" TEXT NOT NULL, "village_key" TEXT NOT NULL, "inhabitants" INTEGER NOT NULL, '
    '"source" TEXT NOT NULL, "updated_at" DATETIME NOT NULL)',
    'CREATE UNIQUE INDEX "area_population_year_village_key" ON "area_population" ("year", "village_key")',
    'CREATE TABLE "coverage_target" ("id" INTEGER NOT NULL PRIMARY KEY, "year" INTEGER NOT NULL, '
    '"indicator" TEXT NOT NULL, "target_pct" REAL NOT NULL, "updated_at" DATETIME NOT NULL)',
    'CREATE UNIQUE INDEX "coverage_target_year_indicator" ON "coverage_target" ("year", "indicator")',
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
