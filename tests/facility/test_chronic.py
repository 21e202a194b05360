"""Chronic care: the control rules, the urgent alert and the appointment rhythm through the
follow-up, the register's statuses and the quarterly cohort against an independent recount."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.clinical import chronic_care
from appliance.facility.chronic import (
    CONTROLLED,
    LOST,
    MISSED,
    NO_MEASURE,
    RECENT,
    UNCONTROLLED,
    Quarter,
    cohort,
    months_before,
    register,
)
from appliance.followup import facts
from appliance.followup.service import recompute_patient
from appliance.patients.models import ChronicVisit, Patient
from tests.reports.factories import make_patient, make_visit


def test_bp_and_glucose_thresholds_come_from_the_data_file():
    assert chronic_care.bp_controlled(139, 89) is True
    assert chronic_care.bp_controlled(140, 80) is False and chronic_care.bp_controlled(120, 90) is False
    assert chronic_care.bp_controlled(None, 80) is None
    assert chronic_care.glucose_controlled(1.25, True) is True and chronic_care.glucose_controlled(1.26, True) is False
    assert chronic_care.glucose_controlled(1.9, False) is True and chronic_care.glucose_controlled(1.9, None) is True
    assert chronic_care.glucose_controlled(2.0, None) is False
    assert chronic_care.urgent_reasons(150, 95, 1.0) == ()
    assert "TA 182/100" in chronic_care.urgent_reasons(182, 100, None)[0]
    assert chronic_care.urgent_reasons(170, 110, None)  # diastolic alone
    assert "Hyperglycémie" in chronic_care.urgent_reasons(None, None, 3.2)[0]
    assert "Hypoglycémie" in chronic_care.urgent_reasons(None, None, 0.6)[0]


@pytest.mark.parametrize(("treatment", "controlled", "proposed"), [
    ("", False, 1),  # nothing recognised: start the protocol
    ("Amlodipine 5 mg 1/j", False, 2),
    ("amlodipine 10mg", False, 3),
    ("Amlodipine 10 mg + Telmisartan 40 mg", False, 4),
    ("amlodipine 10 + telmisartan 80 + chlortalidone 12,5", False, 6),
    ("amlodipine 5 mg", True, None),  # controlled: stay
    ("amlodipine 5 mg", None, None),  # not measured: nothing proposed
])
def test_hearts_next_step(treatment, controlled, proposed):
    step = chronic_care.proposed_step(treatment, controlled)
    assert (step.number if step else None) == proposed


def _record(*contacts: facts.ChronicContact) -> facts.PatientRecord:
    return facts.PatientRecord(id=7, sex="F", birth_date=dt.date(1960, 1, 1), village_key="sama", household_id=None,
                               chronic=list(contacts))


def test_a_controlled_diabetic_is_booked_in_three_months_not_monthly():
    visit = dt.date(2024, 3, 1)
    controlled = facts.evaluate(_record(facts.ChronicContact(visit, "diabete", None, None, None, 1.1, True)), visit)
    uncontrolled = facts.evaluate(_record(facts.ChronicContact(visit, "diabete", None, None, None, 1.6, True)), visit)
    assert [item.due_on for item in controlled.items] == [dt.date(2024, 6, 1)]
    assert [item.due_on for item in uncontrolled.items] == [dt.date(2024, 4, 1)]


def test_bp_180_110_or_a_glucose_crisis_raises_an_urgent_alert_for_a_month():
    visit = dt.date(2024, 3, 1)
    crisis = _record(facts.ChronicContact(visit, "hta", 185, 100, None))
    alerts = facts.evaluate(crisis, visit).alerts
    assert [(alert.kind, alert.severity) for alert in alerts] == [("chronique", "urgent")]
    assert facts.evaluate(crisis, visit + dt.timedelta(days=30)).alerts == ()
    calmer = _record(facts.ChronicContact(visit, "hta", 185, 100, None),
                     facts.ChronicContact(visit + dt.timedelta(days=2), "hta", 150, 90, None))
    assert facts.evaluate(calmer, visit + dt.timedelta(days=2)).alerts == ()  # the latest visit decides
    sugar = _record(facts.ChronicContact(visit, "diabete", None, None, None, 3.4, False))
    assert "Hyperglycémie" in facts.evaluate(sugar, visit).alerts[0].reasons[0]


def test_the_urgent_alert_reaches_the_alerts_page(login_as):
    nurse = login_as("infirmier")
    patient = make_patient("M", "1960-05-05", name="Sangaré")
    make_visit(ChronicVisit, patient, dt.date.today(), systolic=190, diastolic=115)
    recompute_patient(patient.id, dt.date.today())
    page = nurse.get("/alertes?type=chronique")
    assert page.status_code == 200 and "Sangaré" in page.text and "Urgence hypertensive" in page.text


ASOF = dt.date(2024, 6, 30)


@pytest.fixture
def hypertensives(store):
    """Statuses as of 30 June 2024 (seen recently = after 30 March; lost = last seen on or before 30 June 2023)."""
    people = {}

    def person(key, *visits):
        patient = make_patient("F", "1960-01-01", name=key)
        for when, systolic, diastolic, treatment in visits:
            make_visit(ChronicVisit, patient, when, systolic=systolic, diastolic=diastolic, treatment=treatment)
        people[key] = patient

    person("controle", ("2023-10-01", 160, 95, ""), ("2024-05-10", 130, 80, "amlodipine 5 mg"))
    person("non_controle", ("2023-11-01", 150, 95, ""), ("2024-06-01", 150, 85, "amlodipine 5 mg"))
    person("sans_mesure", ("2024-01-05", 150, 95, ""), ("2024-06-20", None, None, ""))
    person("manque", ("2023-09-01", 150, 95, ""), ("2024-03-30", 130, 80, ""))  # exactly 3 months before: missed
    person("perdu", ("2023-01-01", 150, 95, ""), ("2023-06-30", 150, 95, ""))
    person("recent", ("2024-06-02", 170, 100, ""))  # new this month, uncontrolled
    person("apres", ("2024-07-02", 170, 100, ""))  # after the date: not yet registered
    person("deux_le_meme_jour", ("2023-12-01", 150, 95, ""), ("2024-06-10", 150, 95, ""), ("2024-06-10", 130, 80, ""))
    voided = make_patient("F", "1960-01-01", name="annule", voided=True)
    make_visit(ChronicVisit, voided, "2024-01-01", systolic=130, diastolic=80)
    diabetic = make_patient("M", "1955-01-01", name="diabete")
    make_visit(ChronicVisit, diabetic, "2024-01-01", programme="diabete", glucose_g_l=2.4, fasting=False)
    make_visit(ChronicVisit, diabetic, "2024-06-05", programme="diabete", glucose_g_l=1.4, fasting=True)  # ≥ 1.26
    return people


def test_register_statuses_by_hand(hypertensives):
    result = register("hta", ASOF)
    by_name = {Patient.get_by_id(line.patient_id).family_name: line for line in result.lines}
    assert {name: line.status for name, line in by_name.items()} == {
        "controle": CONTROLLED, "non_controle": UNCONTROLLED, "sans_mesure": NO_MEASURE, "manque": MISSED,
        "perdu": LOST, "recent": RECENT, "deux_le_meme_jour": CONTROLLED}
    assert result.under_care == 5 and result.count(CONTROLLED) == 2
    assert result.rate(CONTROLLED) == pytest.approx(40.0)
    assert result.new_this_month == 1
    assert by_name["non_controle"].proposal.startswith("Étape 2")
    assert by_name["recent"].proposal.startswith("Étape 1")
    assert by_name["controle"].proposal == ""
    assert [line.status for line in register("diabete", ASOF).lines] == [UNCONTROLLED]


def recount(programme: str, quarter: Quarter, today: dt.date) -> dict[str, int]:
    """The cohort counted again in plain Python from the visits (no SQL of the module)."""
    registered_in = quarter.previous()
    asof = min(quarter.end, today)
    visits: dict[int, list[ChronicVisit]] = {}
    for visit in ChronicVisit.select().join(Patient, on=(ChronicVisit.patient == Patient.id)).where(
            (ChronicVisit.voided == False) & (Patient.voided == False)  # noqa: E712
            & (ChronicVisit.programme == programme)):
        if visit.visit_date <= asof:
            visits.setdefault(visit.patient_id, []).append(visit)
    counts = {CONTROLLED: 0, UNCONTROLLED: 0, NO_MEASURE: 0, MISSED: 0}
    for patient_visits in visits.values():
        first = min(visit.visit_date for visit in patient_visits)
        if not registered_in.start <= first <= registered_in.end:
            continue
        inside = [visit for visit in patient_visits if visit.visit_date >= quarter.start]
        if not inside:
            counts[MISSED] += 1
            continue
        last = max(inside, key=lambda visit: (visit.visit_date, visit.id))
        if programme == "hta":
            if last.systolic is None or last.diastolic is None:
                counts[NO_MEASURE] += 1
            else:
                counts[CONTROLLED if last.systolic < 140 and last.diastolic < 90 else UNCONTROLLED] += 1
        else:
            counts[NO_MEASURE if last.glucose_g_l is None else
                   CONTROLLED if last.glucose_g_l < (1.26 if last.fasting else 2.0) else UNCONTROLLED] += 1
    return counts


def test_quarterly_cohort_by_hand_and_against_the_recount(hypertensives):
    q2 = Quarter(2024, 2)  # registered in Q1 2024, judged on their last visit of Q2
    result = cohort("hta", q2, ASOF)
    names = {Patient.get_by_id(line.patient_id).family_name: line.status for line in result.lines}
    assert names == {"sans_mesure": NO_MEASURE}  # the only one registered January–March
    q1 = cohort("hta", Quarter(2024, 1), ASOF)  # registered in Q4 2023
    names = {Patient.get_by_id(line.patient_id).family_name: line.status for line in q1.lines}
    assert names == {"controle": MISSED, "non_controle": MISSED, "deux_le_meme_jour": MISSED}
    for quarter in (Quarter(2023, 4), Quarter(2024, 1), q2, Quarter(2024, 3)):
        for programme in ("hta", "diabete"):
            found = cohort(programme, quarter, ASOF)
            assert {status: found.count(status) for status in recount(programme, quarter, ASOF)} == \
                recount(programme, quarter, ASOF)


def test_random_record_cohorts_match_the_recount(store):
    import random

    chance = random.Random(23)
    start = dt.date(2023, 1, 1)
    for number in range(60):
        patient = make_patient(chance.choice("FM"), "1960-01-01", name=f"p{number}")
        programme = chance.choice(["hta", "diabete"])
        for _ in range(chance.randint(1, 5)):
            when = start + dt.timedelta(days=chance.randint(0, 540))
            if programme == "hta":
                make_visit(ChronicVisit, patient, when, systolic=chance.choice([None, 120, 139, 140, 160]),
                           diastolic=chance.choice([80, 89, 90, 100]), voided=chance.random() < 0.1)
            else:
                make_visit(ChronicVisit, patient, when, programme="diabete",
                           glucose_g_l=chance.choice([None, 1.1, 1.3, 1.9, 2.5]), fasting=chance.choice([None, True]))
    today = dt.date(2024, 7, 15)
    quarter = Quarter(2023, 2)
    while quarter.start <= today:
        for programme in ("hta", "diabete"):
            found = cohort(programme, quarter, today)
            expected = recount(programme, quarter, today)
            assert {status: found.count(status) for status in expected} == expected, (programme, quarter)
        quarter = quarter.next()


def test_quarters_and_months():
    assert Quarter(2024, 1).previous() == Quarter(2023, 4) and Quarter(2023, 4).next() == Quarter(2024, 1)
    assert Quarter(2024, 1).end == dt.date(2024, 3, 31) and Quarter.of(dt.date(2024, 5, 2)) == Quarter(2024, 2)
    assert months_before(dt.date(2024, 5, 31), 3) == dt.date(2024, 2, 29)
    assert months_before(dt.date(2024, 1, 15), 12) == dt.date(2023, 1, 15)


def test_a_death_takes_the_patient_out_of_the_denominator_and_the_cohort(hypertensives):
    from appliance.facility.chronic import DEAD
    from appliance.patients.models import Death

    Death.create(patient=hypertensives["controle"].id, visit_date=dt.date(2024, 6, 25), category="autre",
                 place="domicile", cause="")
    result = register("hta", ASOF)
    assert result.under_care == 4 and result.count(DEAD) == 1 and result.count(CONTROLLED) == 1
    assert register("hta", dt.date(2024, 6, 24)).count(DEAD) == 0  # not yet dead that day
    after_the_quarter = cohort("hta", Quarter(2024, 1), ASOF)  # judged at 31 March: alive then
    assert after_the_quarter.count(DEAD) == 0 and after_the_quarter.count(MISSED) == 3
    Death.create(patient=hypertensives["sans_mesure"].id, visit_date=dt.date(2024, 6, 21), category="autre",
                 place="domicile", cause="")
    in_the_quarter = cohort("hta", Quarter(2024, 2), ASOF)
    assert in_the_quarter.count(DEAD) == 1 and in_the_quarter.count(NO_MEASURE) == 0
