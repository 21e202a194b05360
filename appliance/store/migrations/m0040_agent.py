VERSION = 40
DESCRIPTION = "agent: battery history, monthly data usage, upload windows, agent state"

STATEMENTS = [
    # One row per history interval (10 min by default): the 7-day chart and telemetry read it.
    'CREATE TABLE "battery_reading" ("id" INTEGER NOT NULL PRIMARY KEY, "at" DATETIME NOT NULL, '
    '"voltage" REAL NOT NULL, "voltage_min" REAL NOT NULL, "voltage_max" REAL NOT NULL, '
    '"soc_pct" REAL NOT NULL, "state" TEXT NOT NULL, "charging" INTEGER NOT NULL, '
    '"samples" INTEGER NOT NULL, "rejected" INTEGER NOT NULL)',
    'CREATE INDEX "battery_reading_at" ON "battery_reading" ("at")',
    # Bytes over the modem per calendar month (YYYY-MM, local time of the site).
    'CREATE TABLE "data_usage" ("month" TEXT NOT NULL PRIMARY KEY, "bytes_sent" INTEGER NOT NULL, '
    '"bytes_received" INTEGER NOT NULL, "updated_at" DATETIME NOT NULL)',
    # Every upload window, run or skipped, with why.
    'CREATE TABLE "upload_window" ("id" INTEGER NOT NULL PRIMARY KEY, "scheduled_at" DATETIME NOT NULL, '
    '"started_at" DATETIME NOT NULL, "finished_at" DATETIME, "outcome" TEXT NOT NULL, '
    '"detail" TEXT NOT NULL, "only_urgent" INTEGER NOT NULL, "catch_up" INTEGER NOT NULL, '
    '"battery_state" TEXT NOT NULL, "bytes_sent" INTEGER NOT NULL, "bytes_received" INTEGER NOT NULL)',
    'CREATE INDEX "upload_window_scheduled_at" ON "upload_window" ("scheduled_at")',
    # Small facts that must survive a power cut: last window time, interface counters...
    'CREATE TABLE "agent_state" ("key" TEXT NOT NULL PRIMARY KEY, "value" TEXT NOT NULL, '
    '"updated_at" DATETIME NOT NULL)',
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
