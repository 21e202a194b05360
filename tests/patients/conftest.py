"""Helpers for the patient record tests: a registered patient in one call, the form data of
every programme's visit, counts of what is stored."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from appliance.patients.models import VISIT_MODELS, Household, Patient, Prescription
from appliance.patients.registry import Identity, register_patient
from appliance.store.audit import Actor
from appliance.store.models import AuditEntry

SITE = "demo-cscom"
TODAY = dt.date.today()


def days_ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


@pytest.fixture
def actor(make_user) -> Actor:
    user = make_user("sage_femme", username="sf.actor")
    return Actor(user.id, user.username, user.role)


@pytest.fixture
def new_patient(store, actor) -> Callable[..., Patient]:
    def make(family_name: str = "Traoré", first_names: str = "Awa", sex: str = "F",
             birth_date: dt.date | None = None, village: str = "Pelengana", **fields) -> Patient:
        identity = Identity(family_name=family_name, first_names=first_names, sex=sex,
                            birth_date=birth_date or dt.date(1995, 3, 14), village=village, **fields)
        return register_patient(actor, identity, site_id=SITE)

    return make


def stored_counts() -> dict[str, int]:
    """Rows of every table a visit or a registration can touch (voided ones included)."""
    counts = {model._meta.table_name: model.select().count() for model in VISIT_MODELS}
    counts["prescription"] = Prescription.select().count()
    counts["patient"] = Patient.select().count()
    counts["household"] = Household.select().count()
    counts["audit_entry"] = AuditEntry.select().where(AuditEntry.action.in_(["create", "update", "void"])).count()
    return counts


def visit_form_data(programme: str) -> dict[str, str]:
    """Valid, ordinary form data for each programme (an adult woman, or a child for growth/vaccine)."""
    day = days_ago(1).isoformat()
    return {
        "consultation": {"visit_date": day, "reason": "Fièvre depuis 2 jours", "temperature_c": "38,6",
                         "pulse_bpm": "96", "systolic": "120", "diastolic": "75", "weight_kg": "61,5",
                         "diagnosis_code": "B50.9", "treatment": "CTA 3 jours",
                         "prescriptions-0-medicine": "al_20_120_cp", "prescriptions-0-dose": "4",
                         "prescriptions-0-times_per_day": "2", "prescriptions-0-duration_days": "3",
                         "prescriptions-1-medicine": "paracetamol_500_cp", "prescriptions-1-dose": "2",
                         "prescriptions-1-times_per_day": "3", "prescriptions-1-duration_days": "3"},
        "cpn": {"visit_date": day, "contact_number": "2", "gestational_age_weeks": "24", "gravidity": "3",
                "parity": "2", "weight_kg": "64", "systolic": "118", "diastolic": "72", "fundal_height_cm": "23",
                "hb_g_dl": "10,9", "iptp_dose": "1", "iron_folic": "y", "td_dose": "2",
                "next_visit_date": (TODAY + dt.timedelta(days=27)).isoformat()},
        "accouchement": {"visit_date": day, "place": "ici", "mode": "voie_basse", "outcome": "vivant",
                         "babies": "1", "gestational_age_weeks": "39", "birth_weight_g": "3150", "baby_sex": "M",
                         "create_newborn": "y", "newborn_family_name": "Coulibaly"},
        "cpon": {"visit_date": day, "contact_number": "1", "temperature_c": "36,8", "systolic": "115",
                 "diastolic": "70", "breastfeeding": "oui"},
        "vaccination": {"visit_date": day, "antigen": "PENTA", "dose_number": "1", "given_here": "ici",
                        "lot": "PE24117"},
        "croissance": {"visit_date": day, "weight_kg": "7,9", "height_cm": "68", "position": "couche",
                       "muac_mm": "138"},
        "pf": {"visit_date": day, "method": "dmpa_sc", "user_status": "nouvelle", "quantity": "1",
               "next_date": (TODAY + dt.timedelta(days=90)).isoformat()},
        "chronique": {"visit_date": day, "programme": "hta", "systolic": "152", "diastolic": "94",
                      "weight_kg": "70", "treatment": "Amlodipine 5 mg", "next_appointment":
                      (TODAY + dt.timedelta(days=30)).isoformat()},
        "deces": {"visit_date": day, "place": "domicile", "cause": "fièvre et convulsions"},
    }[programme]
