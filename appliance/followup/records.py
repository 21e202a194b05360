"""Reading what the rules need from the visit tables, for one patient or a range of ids at once.

The same few statements serve the recompute of one patient (inside a visit's transaction) and
the bulk recompute (a few thousand patients per statement, each a range scan of the tables'
``(patient_id, visit_date)`` index), so both paths see exactly the same facts. The statements are
written once at import from the models' table and column names: building them through the ORM
on every visit cost more than running them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence

import peewee

from appliance.clinical import pregnancy
from appliance.followup.facts import (
    AntenatalContact,
    Birth,
    ChronicContact,
    Dose,
    Measurement,
    PatientRecord,
    PostnatalCheck,
    PregnancyRecord,
    Referral,
    Supply,
)
from appliance.patients.models import (
    VISIT_MODELS,
    AntenatalVisit,
    ChronicVisit,
    FamilyPlanningVisit,
    GrowthMeasurement,
    Immunisation,
    Patient,
    PostnatalVisit,
    Pregnancy,
    Visit,
)
from appliance.store.db import database

ONE = "patient_id = ?"
RANGE = "patient_id BETWEEN ? AND ?"


def _columns(*fields: peewee.Field) -> str:
    return ", ".join(f'"{field.column_name}"' for field in fields)


def _visits_sql(model: type[Visit], *fields: peewee.Field) -> str:
    """``{where}`` is ONE or RANGE; rows come oldest first per patient, voided visits left out."""
    return (f'SELECT patient_id, visit_date, {_columns(*fields)} FROM "{model._meta.table_name}" '
            f"WHERE {{where}} AND voided = 0 ORDER BY patient_id, visit_date, id")


_PATIENTS = (f'SELECT id, sex, birth_date, village_key, household_id, date(registered_at) '
             f'FROM "{Patient._meta.table_name}" WHERE {{where_id}} AND voided = 0')
_DOSES = _visits_sql(Immunisation, Immunisation.antigen, Immunisation.dose_number, Immunisation.given_here)
_MEASUREMENTS = _visits_sql(GrowthMeasurement, GrowthMeasurement.weight_kg, GrowthMeasurement.height_cm,
                            GrowthMeasurement.position, GrowthMeasurement.muac_mm, GrowthMeasurement.oedema)
_ANTENATAL = _visits_sql(AntenatalVisit, AntenatalVisit.pregnancy, AntenatalVisit.systolic,
                         AntenatalVisit.diastolic, AntenatalVisit.hb_g_dl, AntenatalVisit.danger_signs,
                         AntenatalVisit.proteinuria, AntenatalVisit.iptp_dose, AntenatalVisit.td_dose,
                         AntenatalVisit.net_given, AntenatalVisit.iron_folic, AntenatalVisit.iron_folic_tablets,
                         AntenatalVisit.weight_kg, AntenatalVisit.fundal_height_cm)
_PREGNANCIES = ('SELECT patient_id, opened_on, id, lmp_date, ultrasound_on, ultrasound_weeks, ended_on, parity, '
                "previous_caesarean, previous_pph, previous_stillbirth, previous_pre_eclampsia, multiple, height_cm "
                f'FROM "{Pregnancy._meta.table_name}" WHERE {{where}} AND voided = 0 '
                "ORDER BY patient_id, opened_on, id")
# A multiple birth's other babies (delivery_baby) add their outcomes: a stillborn twin counts.
_BIRTHS = ('SELECT patient_id, visit_date, "mode", "outcome", (SELECT group_concat(b.outcome, \' \') '
           'FROM delivery_baby AS b WHERE b.delivery_id = "delivery".id AND b.voided = 0) '
           'FROM "delivery" WHERE {where} AND voided = 0 ORDER BY patient_id, visit_date, id')
_POSTNATAL = _visits_sql(PostnatalVisit, PostnatalVisit.contact_number, PostnatalVisit.subject,
                         PostnatalVisit.temperature_c, PostnatalVisit.systolic, PostnatalVisit.diastolic,
                         PostnatalVisit.weight_kg, PostnatalVisit.danger_signs, PostnatalVisit.breastfeeding)
# Records opened from a delivery form (baby 1 on the delivery, babies 2..n in delivery_baby).
_BORN_IN_DELIVERY = ('SELECT newborn_id, birth_weight_g FROM "delivery" WHERE {newborn} AND voided = 0 UNION '
                     'SELECT b.newborn_id, b.birth_weight_g FROM delivery_baby AS b '
                     'JOIN "delivery" AS d ON d.id = b.delivery_id '
                     "WHERE {baby} AND b.voided = 0 AND d.voided = 0")
_DEATHS = 'SELECT patient_id, MIN(visit_date) FROM "death" WHERE {where} AND voided = 0 GROUP BY patient_id'
_SUPPLIES = _visits_sql(FamilyPlanningVisit, FamilyPlanningVisit.method, FamilyPlanningVisit.quantity)
_CHRONIC = _visits_sql(ChronicVisit, ChronicVisit.programme, ChronicVisit.systolic, ChronicVisit.diastolic,
                       ChronicVisit.next_appointment, ChronicVisit.glucose_g_l, ChronicVisit.fasting)
# Urgent PCIME referrals (appliance/pcime, m0071), while their consultation stands.
_REFERRALS = ('SELECT a.patient_id, a.visit_date, a.classifications FROM pcime_assessment AS a '
              'JOIN "consultation" AS c ON c.id = a.consultation_id '
              "WHERE {where} AND a.urgent = 1 AND c.voided = 0 ORDER BY a.patient_id, a.visit_date, a.id")
# Vitamin A and albendazole given at a PCIME consultation (m0071), while their consultation stands.
_PREVENTIVE = ('SELECT a.patient_id, a.visit_date, a.vitamin_a_given, a.albendazole_given FROM pcime_assessment AS a '
               'JOIN "consultation" AS c ON c.id = a.consultation_id WHERE {where} AND c.voided = 0 '
               "AND (a.vitamin_a_given = 1 OR a.albendazole_given = 1) ORDER BY a.patient_id, a.visit_date, a.id")
_LAST_VISITS = " UNION ALL ".join(
    f'SELECT patient_id, MAX(visit_date) FROM "{model._meta.table_name}" WHERE {{where}} AND voided = 0 '
    "GROUP BY patient_id" for model in VISIT_MODELS)


def load_one(patient_id: int) -> PatientRecord | None:
    """The record of one patient, or None if it does not exist or was voided (merged)."""
    return _load(ONE, (patient_id,)).get(patient_id)


def load_range(first_id: int, last_id: int) -> dict[int, PatientRecord]:
    """Every live patient with ``first_id <= id <= last_id``."""
    return _load(RANGE, (first_id, last_id))


def _date(value: str | dt.date | None) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value)


def _load(where: str, params: Sequence[int]) -> dict[int, PatientRecord]:
    records = {
        row[0]: PatientRecord(id=row[0], sex=row[1], birth_date=_date(row[2]), village_key=row[3],
                              household_id=row[4], registered_on=_date(row[5]))
        for row in database.execute_sql(_PATIENTS.format(where_id=where.replace("patient_id", "id")), params)
    }
    if not records:
        return records

    def rows(sql: str, append: Callable[[PatientRecord, dt.date, tuple], None]) -> None:
        for patient_id, visit_date, *values in database.execute_sql(sql.format(where=where), params):
            record = records.get(patient_id)
            if record is not None:
                append(record, _date(visit_date), values)

    rows(_DOSES, lambda record, when, v: record.doses.append(Dose(v[0], v[1], when, bool(v[2]))))
    rows(_MEASUREMENTS, lambda record, when, v: record.measurements.append(
        Measurement(when, v[0], v[1], v[2], v[3], bool(v[4]))))
    rows(_ANTENATAL, lambda record, when, v: record.antenatal.append(AntenatalContact(
        when, v[0], v[1], v[2], v[3], v[4] or "", v[5], v[6], v[7], bool(v[8]), bool(v[9]), v[10], v[11], v[12])))
    rows(_PREGNANCIES, lambda record, opened, v: record.pregnancies.append(PregnancyRecord(
        id=v[0], dated_lmp=pregnancy.dated_lmp(_date(v[1]), _date(v[2]), v[3]), opened_on=opened, ended_on=_date(v[4]),
        parity=v[5], previous_caesarean=bool(v[6]), previous_pph=bool(v[7]), previous_stillbirth=bool(v[8]),
        previous_pre_eclampsia=bool(v[9]), multiple=bool(v[10]), height_cm=v[11])))
    rows(_BIRTHS, lambda record, when, v: record.births.append(Birth(when, v[0], v[1], tuple((v[2] or "").split()))))
    rows(_POSTNATAL, lambda record, when, v: record.postnatal.append(PostnatalCheck(
        when, v[0], v[1], v[2], v[3], v[4], v[5], v[6] or "", None if v[7] is None else bool(v[7]))))
    born_sql = _BORN_IN_DELIVERY.format(newborn=where.replace("patient_id", "newborn_id"),
                                        baby=where.replace("patient_id", "b.newborn_id"))
    for newborn_id, birth_weight_g in database.execute_sql(born_sql, list(params) * 2):
        record = records.get(newborn_id)
        if record is not None:
            record.born_in_recorded_delivery = True
            record.birth_weight_g = birth_weight_g
    rows(_SUPPLIES, lambda record, when, v: record.supplies.append(Supply(when, v[0], v[1])))
    rows(_CHRONIC, lambda record, when, v: record.chronic.append(
        ChronicContact(when, v[0], v[1], v[2], _date(v[3]), v[4], None if v[5] is None else bool(v[5]))))
    for patient_id, referred_on, stored in database.execute_sql(
            _REFERRALS.format(where=where.replace("patient_id", "a.patient_id")), params):
        record = records.get(patient_id)
        if record is not None:
            pink = tuple(item["label"] for item in json.loads(stored) if item.get("colour") == "rose")
            record.referrals.append(Referral(_date(referred_on), pink))
    for patient_id, given_on, vitamin_a, albendazole in database.execute_sql(
            _PREVENTIVE.format(where=where.replace("patient_id", "a.patient_id")), params):
        record = records.get(patient_id)
        if record is not None:
            record.preventive += [(code, _date(given_on)) for code, given in
                                  (("vitamine_a", vitamin_a), ("albendazole", albendazole)) if given]
    for patient_id, died_on in database.execute_sql(_DEATHS.format(where=where), params):
        if patient_id in records:
            records[patient_id].died_on = _date(died_on)
    for patient_id, last in database.execute_sql(_LAST_VISITS.format(where=where), list(params) * len(VISIT_MODELS)):
        record = records.get(patient_id)
        last = _date(last)
        if record is not None and last is not None and (record.last_visit_on is None or last > record.last_visit_on):
            record.last_visit_on = last
    return records
