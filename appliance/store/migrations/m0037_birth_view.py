VERSION = 37
DESCRIPTION = "reports: the birth view, one row per baby of every delivery (baby 1 on delivery, 2-4 in delivery_baby)"

# Frozen SQL. The monthly report counts births by the BABY's sex: a twin delivery is one delivery but
# two births. Baby 1 lives on the delivery row (outcome, baby_sex, birth_weight_g, newborn_id), babies
# 2-4 in delivery_baby; this view puts them side by side so an indicator's rule reads one source.
# - id: delivery id × 10 + position (delivery 12, baby 2 → 122): unique across both sources, and a
#   reader can tell the delivery and the baby from it.
# - patient_id is the MOTHER, so the report's JOIN on patient keeps its voided / merged logic;
#   visit_date and voided are the delivery's (voiding a delivery voids its births).
# - a voided delivery_baby row (a count lowered by a correction) is no baby at all: left out.
STATEMENTS = (
    'CREATE VIEW "birth" AS '
    'SELECT d."id" * 10 + 1 AS "id", d."id" AS "delivery_id", 1 AS "position", d."patient_id", '
    'd."visit_date", d."voided", d."place", d."babies", d."outcome", d."baby_sex" AS "sex", '
    'd."birth_weight_g", d."newborn_id" '
    'FROM "delivery" AS d '
    'UNION ALL '
    'SELECT d."id" * 10 + b."position", d."id", b."position", d."patient_id", '
    'd."visit_date", d."voided", d."place", d."babies", b."outcome", b."sex", '
    'b."birth_weight_g", b."newborn_id" '
    'FROM "delivery_baby" AS b JOIN "delivery" AS d ON d."id" = b."delivery_id" '
    'WHERE b."voided" = 0',
)


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
