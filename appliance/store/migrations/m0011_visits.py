VERSION = 11
DESCRIPTION = "visits of every programme (consultation and prescriptions, CPN, delivery, CPoN, vaccination, growth, FP, chronic)"

# Frozen copy of the visit models of appliance/patients/models.py at this version.
_COMMON = ('"id" INTEGER NOT NULL PRIMARY KEY, "voided" INTEGER NOT NULL, "voided_at" DATETIME, "voided_by" TEXT, '
           '"void_reason" TEXT, "patient_id" INTEGER NOT NULL, "visit_date" DATE NOT NULL, "author_id" INTEGER, '
           '"author_role" TEXT NOT NULL, "recorded_at" DATETIME NOT NULL, "revision" INTEGER NOT NULL, '
           '"notes" TEXT NOT NULL, ')
_REFS = ('FOREIGN KEY ("patient_id") REFERENCES "patient" ("id"), '
         'FOREIGN KEY ("author_id") REFERENCES "user" ("id")')

VISIT_TABLES = {
    "consultation": '"reason" TEXT NOT NULL, "temperature_c" REAL, "pulse_bpm" INTEGER, "resp_rate" INTEGER, '
                    '"systolic" INTEGER, "diastolic" INTEGER, "weight_kg" REAL, "diagnosis_code" TEXT NOT NULL, '
                    '"secondary_diagnosis_code" TEXT, "treatment" TEXT NOT NULL, ',
    "antenatal_visit": '"contact_number" INTEGER, "lmp_date" DATE, "gestational_age_weeks" INTEGER, '
                       '"gravidity" INTEGER, "parity" INTEGER, "previous_caesarean" INTEGER NOT NULL, '
                       '"weight_kg" REAL, "systolic" INTEGER, "diastolic" INTEGER, "fundal_height_cm" INTEGER, '
                       '"hb_g_dl" REAL, "danger_signs" TEXT NOT NULL, "iptp_dose" INTEGER, '
                       '"iron_folic" INTEGER NOT NULL, "td_dose" INTEGER, "next_visit_date" DATE, ',
    "delivery": '"place" TEXT NOT NULL, "mode" TEXT NOT NULL, "outcome" TEXT NOT NULL, "babies" INTEGER NOT NULL, '
                '"gestational_age_weeks" INTEGER, "birth_weight_g" INTEGER, "baby_sex" TEXT, '
                '"complications" TEXT NOT NULL, "newborn_id" INTEGER REFERENCES "patient" ("id"), ',
    "postnatal_visit": '"subject" TEXT NOT NULL, "contact_number" INTEGER, "temperature_c" REAL, '
                       '"systolic" INTEGER, "diastolic" INTEGER, "weight_kg" REAL, "breastfeeding" INTEGER, '
                       '"danger_signs" TEXT NOT NULL, ',
    "immunisation": '"antigen" TEXT NOT NULL, "dose_number" INTEGER NOT NULL, "lot" TEXT NOT NULL, '
                    '"given_here" INTEGER NOT NULL, ',
    "growth_measurement": '"weight_kg" REAL, "height_cm" REAL, "position" TEXT, "muac_mm" INTEGER, '
                          '"oedema" INTEGER NOT NULL, ',
    "family_planning_visit": '"method" TEXT NOT NULL, "user_status" TEXT NOT NULL, "quantity" INTEGER, '
                             '"next_date" DATE, ',
    "chronic_visit": '"programme" TEXT NOT NULL, "systolic" INTEGER, "diastolic" INTEGER, "glucose_g_l" REAL, '
                     '"fasting" INTEGER, "weight_kg" REAL, "treatment" TEXT NOT NULL, "next_appointment" DATE, ',
}


def _statements() -> list[str]:
    statements = []
    for table, columns in VISIT_TABLES.items():
        statements.append(f'CREATE TABLE "{table}" ({_COMMON}{columns}{_REFS})')
        # The chart reads a patient's visits newest first: one index serves it and the FK.
        statements.append(f'CREATE INDEX "{table}_patient_id_visit_date" ON "{table}" ("patient_id", "visit_date")')
    statements += [
        'CREATE INDEX "delivery_newborn_id" ON "delivery" ("newborn_id") WHERE "newborn_id" IS NOT NULL',
        'CREATE TABLE "prescription" ("id" INTEGER NOT NULL PRIMARY KEY, "voided" INTEGER NOT NULL, '
        '"voided_at" DATETIME, "voided_by" TEXT, "void_reason" TEXT, "consultation_id" INTEGER NOT NULL, '
        '"drug" TEXT NOT NULL, "dosage" TEXT NOT NULL, "quantity" INTEGER, "duration_days" INTEGER, '
        'FOREIGN KEY ("consultation_id") REFERENCES "consultation" ("id"))',
        'CREATE INDEX "prescription_consultation_id" ON "prescription" ("consultation_id")',
    ]
    return statements


def apply(db) -> None:
    for statement in _statements():
        db.execute_sql(statement)
