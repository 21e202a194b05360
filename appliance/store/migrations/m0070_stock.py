VERSION = 70
DESCRIPTION = "stock of the dépôt: lots with their balance, and every move"

# Frozen copy of appliance/stock/models.py at this version. Range 70-79: PCIME, prescriptions
# and stock (docs/architecture.md).
STATEMENTS = [
    'CREATE TABLE "stock_lot" ("id" INTEGER NOT NULL PRIMARY KEY, "medicine" TEXT NOT NULL, "lot" TEXT NOT NULL, '
    '"expires_on" DATE, "on_hand" INTEGER NOT NULL)',
    'CREATE UNIQUE INDEX "stock_lot_medicine_lot_expires_on" ON "stock_lot" ("medicine", "lot", "expires_on")',
    'CREATE TABLE "stock_move" ("id" INTEGER NOT NULL PRIMARY KEY, "lot_id" INTEGER NOT NULL, '
    '"medicine" TEXT NOT NULL, "kind" TEXT NOT NULL, "quantity" INTEGER NOT NULL, "moved_on" DATE NOT NULL, '
    '"counted" INTEGER, "reference" TEXT NOT NULL, "reason" TEXT NOT NULL, "prescription_id" INTEGER, '
    '"patient_id" INTEGER, "author_id" INTEGER, "author_role" TEXT NOT NULL, "recorded_at" DATETIME NOT NULL, '
    'FOREIGN KEY ("lot_id") REFERENCES "stock_lot" ("id"), FOREIGN KEY ("author_id") REFERENCES "user" ("id"))',
    'CREATE INDEX "stock_move_medicine_moved_on" ON "stock_move" ("medicine", "moved_on")',
    'CREATE INDEX "stock_move_moved_on" ON "stock_move" ("moved_on")',
    'CREATE INDEX "stock_move_prescription_id" ON "stock_move" ("prescription_id")',
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
