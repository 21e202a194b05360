VERSION = 80
DESCRIPTION = ("mother and newborn: the pregnancy record, contacts and deliveries linked to it, what a contact "
               "adds (ultrasound, history, proteinuria, MILD, iron tablets), the delivery's attendant; existing "
               "contacts grouped into pregnancies by date")

# Frozen SQL and a frozen grouping (this step must not change when the models or the live
# pregnancy code do).
#
# Grouping of the contacts already recorded, per woman, oldest first (visit_date, id), voided ones
# left out: a contact starts a new pregnancy when there is none yet, when a delivery of hers falls
# after the current pregnancy's first contact and before this contact, or when this contact is more
# than 44 weeks after the current pregnancy's LMP (or its first contact, when undated). The
# pregnancy keeps the latest LMP / gestational age known, gravidity, parity, and a caesarean if any
# of its contacts says so; the first delivery on or after its first contact (and before the next
# pregnancy) closes it and is linked to it. Contact numbers are recomputed 1, 2, 3… in each.
MAX_WEEKS = 44

STATEMENTS = (
    'CREATE TABLE "pregnancy" ("id" INTEGER NOT NULL PRIMARY KEY, "voided" INTEGER NOT NULL, '
    '"voided_at" DATETIME, "voided_by" TEXT, "void_reason" TEXT, "patient_id" INTEGER NOT NULL, '
    '"lmp_date" DATE, "ultrasound_on" DATE, "ultrasound_weeks" INTEGER, "gravidity" INTEGER, "parity" INTEGER, '
    '"previous_caesarean" INTEGER NOT NULL, "previous_pph" INTEGER NOT NULL, '
    '"previous_stillbirth" INTEGER NOT NULL, "previous_pre_eclampsia" INTEGER NOT NULL, '
    '"multiple" INTEGER NOT NULL, "height_cm" REAL, "opened_on" DATE NOT NULL, "ended_on" DATE, '
    '"end_reason" TEXT, FOREIGN KEY ("patient_id") REFERENCES "patient" ("id"))',
    'CREATE INDEX "pregnancy_patient_id_opened_on" ON "pregnancy" ("patient_id", "opened_on")',
    'ALTER TABLE "antenatal_visit" ADD COLUMN "pregnancy_id" INTEGER REFERENCES "pregnancy" ("id")',
    'ALTER TABLE "antenatal_visit" ADD COLUMN "ultrasound_on" DATE',
    'ALTER TABLE "antenatal_visit" ADD COLUMN "ultrasound_weeks" INTEGER',
    'ALTER TABLE "antenatal_visit" ADD COLUMN "previous_pph" INTEGER NOT NULL DEFAULT 0',
    'ALTER TABLE "antenatal_visit" ADD COLUMN "previous_stillbirth" INTEGER NOT NULL DEFAULT 0',
    'ALTER TABLE "antenatal_visit" ADD COLUMN "previous_pre_eclampsia" INTEGER NOT NULL DEFAULT 0',
    'ALTER TABLE "antenatal_visit" ADD COLUMN "multiple_pregnancy" INTEGER NOT NULL DEFAULT 0',
    'ALTER TABLE "antenatal_visit" ADD COLUMN "height_cm" REAL',
    'ALTER TABLE "antenatal_visit" ADD COLUMN "proteinuria" INTEGER',
    'ALTER TABLE "antenatal_visit" ADD COLUMN "iron_folic_tablets" INTEGER',
    'ALTER TABLE "antenatal_visit" ADD COLUMN "net_given" INTEGER NOT NULL DEFAULT 0',
    'CREATE INDEX "antenatal_visit_pregnancy_id" ON "antenatal_visit" ("pregnancy_id")',
    'ALTER TABLE "delivery" ADD COLUMN "attendant" TEXT',
    'ALTER TABLE "delivery" ADD COLUMN "pregnancy_id" INTEGER REFERENCES "pregnancy" ("id")',
    'CREATE INDEX "delivery_pregnancy_id" ON "delivery" ("pregnancy_id") WHERE "pregnancy_id" IS NOT NULL',
)


def _day(value):
    import datetime as dt

    return value if value is None or isinstance(value, dt.date) else dt.date.fromisoformat(value)


def group_existing(db) -> int:
    """Group every woman's unlinked contacts into pregnancies (see above); returns how many were opened."""
    import datetime as dt

    contacts: dict[int, list[tuple]] = {}
    for row in db.execute_sql(
            'SELECT id, patient_id, visit_date, lmp_date, gestational_age_weeks, gravidity, parity, '
            'previous_caesarean FROM "antenatal_visit" WHERE voided = 0 AND pregnancy_id IS NULL '
            "ORDER BY patient_id, visit_date, id"):
        contacts.setdefault(row[1], []).append(row)
    deliveries: dict[int, list[tuple]] = {}
    for row in db.execute_sql('SELECT id, patient_id, visit_date FROM "delivery" WHERE voided = 0 '
                              "AND pregnancy_id IS NULL ORDER BY patient_id, visit_date, id"):
        deliveries.setdefault(row[1], []).append((row[0], _day(row[2])))
    opened = 0
    for patient_id, rows in contacts.items():
        groups: list[dict] = []
        for contact_id, _, visit_date, lmp, weeks, gravidity, parity, caesarean in rows:
            when = _day(visit_date)
            dated = _day(lmp) or (when - dt.timedelta(weeks=weeks) if weeks is not None else None)
            current = groups[-1] if groups else None
            if current is not None:
                anchor = current["lmp"] or current["first"]
                delivered_between = any(current["first"] <= day < when for _, day in deliveries.get(patient_id, ()))
                if delivered_between or (when - anchor).days > MAX_WEEKS * 7:
                    current = None
            if current is None:
                current = {"first": when, "lmp": None, "gravidity": None, "parity": None, "caesarean": False,
                           "contacts": []}
                groups.append(current)
            current["contacts"].append(contact_id)
            current["lmp"] = dated or current["lmp"]
            current["gravidity"] = gravidity if gravidity is not None else current["gravidity"]
            current["parity"] = parity if parity is not None else current["parity"]
            current["caesarean"] = current["caesarean"] or bool(caesarean)
        used: set[int] = set()
        for index, group in enumerate(groups):
            following = groups[index + 1]["first"] if index + 1 < len(groups) else dt.date.max
            delivery = next(((delivery_id, day) for delivery_id, day in deliveries.get(patient_id, ())
                             if group["first"] <= day < following and delivery_id not in used), None)
            cursor = db.execute_sql(
                'INSERT INTO "pregnancy" (voided, patient_id, lmp_date, gravidity, parity, previous_caesarean, '
                "previous_pph, previous_stillbirth, previous_pre_eclampsia, multiple, opened_on, ended_on, "
                "end_reason) VALUES (0, ?, ?, ?, ?, ?, 0, 0, 0, 0, ?, ?, ?)",
                (patient_id, group["lmp"].isoformat() if group["lmp"] else None, group["gravidity"],
                 group["parity"], int(group["caesarean"]), group["first"].isoformat(),
                 delivery[1].isoformat() if delivery else None, "accouchement" if delivery else None))
            pregnancy_id = cursor.lastrowid
            opened += 1
            for number, contact_id in enumerate(group["contacts"], start=1):
                db.execute_sql('UPDATE "antenatal_visit" SET pregnancy_id = ?, contact_number = ? WHERE id = ?',
                               (pregnancy_id, number, contact_id))
            if delivery:
                used.add(delivery[0])
                db.execute_sql('UPDATE "delivery" SET pregnancy_id = ? WHERE id = ?', (pregnancy_id, delivery[0]))
    return opened


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
    group_existing(db)
