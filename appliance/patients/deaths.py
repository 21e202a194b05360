"""Deaths as vital events: the category by WHO's definitions, the pregnancy a maternal death ends,
and the refusal of any visit dated after a recorded death."""

from __future__ import annotations

import datetime as dt

from appliance.patients.errors import VisitError
from appliance.patients.models import Death, Patient, Pregnancy, Visit
from appliance.store.audit import Actor, audited_save

NEONATAL_DAYS = 28  # WHO: neonatal death, 0-27 days
CHILD_YEARS = 5  # under-five death
MATERNAL_DAYS_AFTER_END = 42  # WHO: during pregnancy or within 42 days of its end


def death_of(patient_id: int) -> Death | None:
    return (Death.select().where((Death.patient == patient_id) & (Death.voided == False))  # noqa: E712
            .order_by(Death.visit_date).first())


def check_alive(patient: Patient, visit: Visit) -> None:
    """No visit after a recorded death, and one death per person."""
    death = death_of(patient.id)
    if death is None or death.id == visit.id:
        return
    if isinstance(visit, Death):
        raise VisitError("visit_date", f"Décès déjà enregistré le {death.visit_date:%d/%m/%Y}.")
    if visit.visit_date > death.visit_date:
        raise VisitError("visit_date", f"Patient décédé le {death.visit_date:%d/%m/%Y} : pas de visite après "
                                       "cette date.")


def categorise(patient: Patient, death: Death) -> str:
    age_days = (death.visit_date - patient.birth_date).days
    if age_days < NEONATAL_DAYS:
        return "neonatal"
    if patient.sex == "F" and not death.incidental and _pregnant_or_recently(patient.id, death.visit_date):
        return "maternel"
    years = death.visit_date.year - patient.birth_date.year - (
        (death.visit_date.month, death.visit_date.day) < (patient.birth_date.month, patient.birth_date.day))
    return "enfant" if years < CHILD_YEARS else "autre"


def after_write(actor: Actor, patient: Patient, death: Death) -> None:
    """A maternal death ends the pregnancy it happened in."""
    if death.voided or death.category != "maternel":
        return
    pregnancy = (Pregnancy.select().where((Pregnancy.patient == patient.id) & (Pregnancy.voided == False)  # noqa: E712
                                          & Pregnancy.ended_on.is_null()).first())
    if pregnancy is not None:
        pregnancy.ended_on, pregnancy.end_reason = death.visit_date, "deces_maternel"
        audited_save(actor, pregnancy, reason="décès maternel")


def _pregnant_or_recently(patient_id: int, on: dt.date) -> bool:
    since = on - dt.timedelta(days=MATERNAL_DAYS_AFTER_END)
    return Pregnancy.select().where(
        (Pregnancy.patient == patient_id) & (Pregnancy.voided == False)  # noqa: E712
        & (Pregnancy.opened_on <= on) & (Pregnancy.ended_on.is_null() | (Pregnancy.ended_on >= since))).exists()
