"""record_visit and friends: one transaction, author and role kept, corrections keep the past."""

from __future__ import annotations

import json

import pytest

from appliance.hooks import PATIENT_WRITTEN, Hooks, installed_for
from appliance.patients.models import AntenatalVisit, Consultation, Delivery, Patient, Prescription
from appliance.patients.registry import Identity, record_delivery
from appliance.patients.visits import (
    PrescriptionLine,
    VisitError,
    correct_visit,
    record_visit,
    timeline,
    void_visit,
)
from appliance.store.models import AuditEntry
from tests.patients.conftest import SITE, days_ago, stored_counts

LINES = [PrescriptionLine("Amoxicilline 250 mg", "2 cp 2 fois par jour", 20, 5), PrescriptionLine("Paracétamol")]


def _consultation(**fields) -> Consultation:
    return Consultation(visit_date=fields.pop("visit_date", days_ago(1)), reason="Toux",
                        diagnosis_code="J18.9", **fields)


@pytest.fixture
def hook():
    calls = []

    def remember(actor, patient, visit):
        if visit is not None:  # None: the record itself changed (registration, identity, merge)
            calls.append((actor.username, patient.id, type(visit).__name__, Consultation.select().count()))

    registry = Hooks()
    registry.add(PATIENT_WRITTEN, remember)
    with installed_for(registry):
        yield calls


def test_a_visit_and_its_prescriptions_are_written_with_author_role_and_audit(new_patient, actor, hook):
    patient = new_patient()
    visit = record_visit(actor, patient, _consultation(), prescriptions=LINES)
    stored = Consultation.get_by_id(visit.id)
    assert (stored.author_id, stored.author_role, stored.revision) == (actor.user_id, "sage_femme", 1)
    assert [line.drug for line in Prescription.select().order_by(Prescription.id)] == [line.drug for line in LINES]
    assert AuditEntry.select().where(AuditEntry.table_name.in_(["consultation", "prescription"])).count() == 3
    # The hook ran inside the transaction: it already saw the consultation.
    assert hook == [("sf.actor", patient.id, "Consultation", 1)]


def test_a_failing_hook_cancels_the_whole_visit(new_patient, actor):
    patient = new_patient()
    before = stored_counts()

    def broken(actor, patient, visit):
        raise RuntimeError("rules crashed")

    registry = Hooks()
    registry.add(PATIENT_WRITTEN, broken)
    with installed_for(registry), pytest.raises(RuntimeError):
        record_visit(actor, patient, _consultation(), prescriptions=LINES)
    assert stored_counts() == before


def test_a_failing_prescription_line_cancels_the_consultation(new_patient, actor):
    patient = new_patient()
    before = stored_counts()
    with pytest.raises(Exception):  # noqa: B017 - NOT NULL constraint of the drug column
        record_visit(actor, patient, _consultation(), prescriptions=[LINES[0], PrescriptionLine(None)])
    assert stored_counts() == before


def test_visit_dates_in_the_future_or_before_birth_are_refused(new_patient, actor):
    baby = new_patient("Diarra", "Issa", "M", birth_date=days_ago(30))
    with pytest.raises(VisitError) as before_birth:
        record_visit(actor, baby, _consultation(visit_date=days_ago(31)))
    assert before_birth.value.field == "visit_date"
    with pytest.raises(VisitError):
        record_visit(actor, baby, _consultation(visit_date=days_ago(-1)))
    assert Consultation.select().count() == 0


def test_correction_keeps_the_previous_values_and_replaces_the_prescription(new_patient, actor, hook):
    patient = new_patient()
    visit = record_visit(actor, patient, _consultation(weight_kg=60.0), prescriptions=LINES)
    visit.weight_kg = 61.5
    correct_visit(actor, visit, reason="erreur de pesée", prescriptions=LINES[:1])
    stored = Consultation.get_by_id(visit.id)
    assert (stored.weight_kg, stored.revision) == (61.5, 2)
    update = AuditEntry.get((AuditEntry.table_name == "consultation") & (AuditEntry.action == "update"))
    assert json.loads(update.before)["weight_kg"] == 60.0 and update.reason == "erreur de pesée"
    lines = list(Prescription.select().order_by(Prescription.id))
    assert [(line.drug, line.voided) for line in lines] == [
        ("Amoxicilline 250 mg", True), ("Paracétamol", True), ("Amoxicilline 250 mg", False)]
    assert [entry.prescriptions[0].drug for entry in timeline(patient)] == ["Amoxicilline 250 mg"]
    assert len(hook) == 2


def test_voided_visits_leave_the_timeline_but_stay_stored(new_patient, actor):
    patient = new_patient()
    kept = record_visit(actor, patient, AntenatalVisit(visit_date=days_ago(10), gestational_age_weeks=20))
    mistake = record_visit(actor, patient, _consultation(visit_date=days_ago(2)), prescriptions=LINES)
    assert [entry.visit.id for entry in timeline(patient)] == [mistake.id, kept.id]
    void_visit(actor, mistake, "mauvais patient")
    assert [entry.visit.id for entry in timeline(patient)] == [kept.id]
    assert Consultation.get_by_id(mistake.id).void_reason == "mauvais patient"
    assert all(line.voided for line in Prescription.select())
    with pytest.raises(ValueError):
        void_visit(actor, kept, "  ")


def test_a_delivery_opens_the_newborns_record_or_nothing(new_patient, actor):
    mother = new_patient(household_name="Famille Coulibaly")
    delivery = record_delivery(actor, mother, Delivery(visit_date=days_ago(1), place="ici", mode="voie_basse",
                                                       outcome="vivant", birth_weight_g=3100, baby_sex="F"),
                               site_id=SITE, newborn=Identity("Coulibaly", "Bébé de Awa", "F", days_ago(1),
                                                              "Pelengana"))
    baby = Patient.get_by_id(delivery.newborn_id)
    assert (baby.mother_id, baby.household_id) == (mother.id, mother.household_id)
    before = stored_counts()
    with pytest.raises(VisitError):  # the delivery is dated in the future: the baby is not registered either
        record_delivery(actor, mother, Delivery(visit_date=days_ago(-2), place="ici", mode="voie_basse",
                                                outcome="vivant"),
                        site_id=SITE, newborn=Identity("Coulibaly", "Bébé", "M", days_ago(3), "Pelengana"))
    assert stored_counts() == before
