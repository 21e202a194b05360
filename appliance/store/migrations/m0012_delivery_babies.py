VERSION = 12
DESCRIPTION = "patients: the second and later babies of a multiple birth (delivery_baby)"

# Frozen copy of appliance.patients.models.DeliveryBaby at this version.
STATEMENTS = (
    'CREATE TABLE "delivery_baby" ("id" INTEGER NOT NULL PRIMARY KEY, "voided" INTEGER NOT NULL, '
    '"voided_at" DATETIME, "voided_by" TEXT, "void_reason" TEXT, "delivery_id" INTEGER NOT NULL, '
    '"position" INTEGER NOT NULL, "outcome" TEXT NOT NULL, "sex" TEXT, "birth_weight_g" INTEGER, '
    '"newborn_id" INTEGER, FOREIGN KEY ("delivery_id") REFERENCES "delivery" ("id"), '
    'FOREIGN KEY ("newborn_id") REFERENCES "patient" ("id"))',
    'CREATE INDEX "delivery_baby_delivery_id" ON "delivery_baby" ("delivery_id")',
    # The follow-up rules ask "was this child born in a recorded delivery?" by newborn id.
    'CREATE INDEX "delivery_baby_newborn_id" ON "delivery_baby" ("newborn_id") WHERE "newborn_id" IS NOT NULL',
)


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
