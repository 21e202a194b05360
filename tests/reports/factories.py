"""Small builders of patients and visits for report tests: straight inserts of the real models (the
reports read the tables, so the write path's audit and hooks are not what is under test here)."""

from __future__ import annotations

import datetime as dt
import itertools

from appliance.patients.models import (
    AntenatalVisit,
    ChronicVisit,
    Consultation,
    Delivery,
    FamilyPlanningVisit,
    GrowthMeasurement,
    Immunisation,
    Patient,
    PostnatalVisit,
    Visit,
)

_numbers = itertools.count(1)

REQUIRED: dict[type[Visit], dict[str, object]] = {
    Consultation: {"reason": "fièvre", "diagnosis_code": "R51"},
    AntenatalVisit: {},
    Delivery: {"place": "ici", "mode": "voie_basse", "outcome": "vivant"},
    PostnatalVisit: {"subject": "mere"},
    Immunisation: {"antigen": "BCG", "dose_number": 1},
    GrowthMeasurement: {},
    FamilyPlanningVisit: {"method": "pilule_coc", "user_status": "nouvelle"},
    ChronicVisit: {"programme": "hta"},
}


def make_patient(sex: str, birth: dt.date | str, *, voided: bool = False, name: str = "Diarra") -> Patient:
    number = next(_numbers)
    birth_date = dt.date.fromisoformat(birth) if isinstance(birth, str) else birth
    return Patient.create(
        local_number=f"TEST-{number:06d}", family_name=name, first_names=f"Awa {number}", sex=sex,
        birth_date=birth_date, village="Sama", village_key="sama", family_key=name.lower(),
        given_key="awa", search_names=f"{name.lower()} awa", search_ids=str(number), voided=voided,
    )


def make_visit(model: type[Visit], patient: Patient, when: dt.date | str, **fields) -> Visit:
    visit_date = dt.date.fromisoformat(when) if isinstance(when, str) else when
    return model.create(patient=patient.id, visit_date=visit_date, **{**REQUIRED[model], **fields})
