"""Due items and alerts are recomputed inside the visit's transaction, with stable ids."""

from __future__ import annotations

import datetime as dt

import peewee
import pytest

from appliance.followup import facts, service
from appliance.followup.models import FollowupAlert, FollowupItem, FollowupPatient
from appliance.patients.models import (
    AntenatalVisit,
    Delivery,
    FamilyPlanningVisit,
    GrowthMeasurement,
    Immunisation,
    Patient,
)
from appliance.patients.registry import Identity, merge_patients, update_identity
from appliance.patients.visits import void_visit
from tests.followup.conftest import TODAY, alerts_of, days_ago, item_ids


def dose(antigen: str, number: int, when: dt.date = TODAY) -> Immunisation:
    return Immunisation(visit_date=when, antigen=antigen, dose_number=number, given_here=True)


def test_a_newborn_registered_is_due_for_birth_vaccines_and_weighing(person):
    baby = person("Bébé", age_days=3)
    birth = baby.birth_date.isoformat()
    assert f"{baby.id}~pev.bcg~{birth}" in item_ids(baby)
    assert f"{baby.id}~pev.vpo0~{birth}" in item_ids(baby)
    assert f"{baby.id}~croissance.pesee~{birth}" in item_ids(baby)


def test_the_dose_recorded_closes_its_item_in_the_same_write(person, visit):
    child = person("Awa", age_days=50)
    penta1 = f"{child.id}~pev.penta1~{(child.birth_date + dt.timedelta(weeks=6)).isoformat()}"
    assert penta1 in item_ids(child)
    visit(child, dose("PENTA", 1))
    ids = item_ids(child)
    assert penta1 not in ids
    assert f"{child.id}~pev.penta2~{(TODAY + dt.timedelta(weeks=4)).isoformat()}" in ids


def test_recomputing_never_duplicates_an_item(person, visit):
    child = person("Awa", age_days=120)
    visit(child, dose("PENTA", 1, days_ago(60)))
    visit(child, GrowthMeasurement(visit_date=days_ago(5), weight_kg=6.0, height_cm=62, position="couche"))
    before = item_ids(child)
    service.recompute_patient(child.id)
    service.recompute_patient(child.id)
    service.recompute_all()
    assert item_ids(child) == before
    assert len(before) == len(set(before))
    total = FollowupItem.select().count()
    assert total == FollowupItem.select(FollowupItem.id).distinct().count()


def test_voiding_the_visit_reopens_the_item(person, visit, actor):
    child = person("Awa", age_days=50)
    before = item_ids(child)
    given = visit(child, dose("PENTA", 1))
    assert item_ids(child) != before
    void_visit(actor, given, "saisi dans le mauvais dossier")
    assert item_ids(child) == before


def test_a_corrected_birth_date_moves_the_schedule(person, actor):
    child = person("Awa", age_days=50, village="Kalaban")
    corrected = days_ago(20)
    update_identity(actor, child, Identity(family_name=child.family_name, first_names=child.first_names, sex="F",
                                           birth_date=corrected, village="Kalaban"))
    penta1 = corrected + dt.timedelta(weeks=6)
    assert f"{child.id}~pev.penta1~{penta1.isoformat()}" in item_ids(child)
    assert all(item.due_on >= corrected for item in FollowupItem.select().where(FollowupItem.patient == child.id))


def test_a_moved_patient_is_listed_in_the_new_village(person, actor):
    child = person("Awa", age_days=50, village="Kalaban")
    update_identity(actor, child, Identity(family_name=child.family_name, first_names=child.first_names, sex="F",
                                           birth_date=child.birth_date, village="Sébougou"))
    keys = {item.village_key for item in FollowupItem.select().where(FollowupItem.patient == child.id)}
    assert keys == {Patient.get_by_id(child.id).village_key} != {"kalaban"}


def antenatal(weeks: int, when: dt.date = TODAY, **values) -> AntenatalVisit:
    return AntenatalVisit(visit_date=when, gestational_age_weeks=weeks, **values)


def test_a_delivery_ends_the_pregnancy_items_and_alerts(person, visit):
    mother = person("Mariam", age_days=365 * 24)
    visit(mother, antenatal(20, days_ago(14), systolic=150, diastolic=95, parity=2))
    assert [item for item in item_ids(mother) if "~cpn." in item]
    assert [alert.kind for alert in alerts_of(mother)] == ["grossesse"]
    visit(mother, Delivery(visit_date=TODAY, place="ici", mode="voie_basse", outcome="vivant"))
    assert not [item for item in item_ids(mother) if "~cpn." in item]
    assert alerts_of(mother) == []


def test_a_high_risk_pregnancy_alert_says_which_rules_fired(person, visit):
    mother = person("Fanta", age_days=365 * 16 + 100)
    visit(mother, antenatal(24, systolic=150, diastolic=95, parity=0, danger_signs="saignement"))
    [alert] = alerts_of(mother)
    assert alert.severity == "urgent" and alert.label == "Urgence : référer"
    assert alert.reasons.split("\n") == ["Saignement vaginal", "Hypertension (TA ≥ 140/90) : TA 150/95 mmHg",
                                 "Âge < 18 ans : 16 ans"]
    assert set(alert.rule_ids.split()) == {"grossesse.saignement", "grossesse.hta", "grossesse.age_moins_18"}
    lmp = TODAY - dt.timedelta(weeks=24)
    assert alert.id == f"{mother.id}~grossesse~{lmp.isoformat()}"
    assert alert.expires_on == lmp + dt.timedelta(weeks=42)


def test_an_uneventful_pregnancy_raises_no_alert(person, visit):
    mother = person("Kadia", age_days=365 * 25)
    visit(mother, antenatal(16, systolic=110, diastolic=70, parity=1, hb_g_dl=11.5))
    assert alerts_of(mother) == []


def test_a_malnourished_child_gets_an_alert_until_measured_well(person, visit):
    child = person("Oumou", age_days=400)
    visit(child, GrowthMeasurement(visit_date=days_ago(3), weight_kg=7.2, height_cm=74, position="couche",
                                   muac_mm=110))
    [alert] = alerts_of(child)
    assert alert.kind == "nutrition" and alert.severity == "urgent"
    assert alert.label == "Malnutrition aiguë sévère (MAS)"
    assert "PB 110 mm < 115 mm" in alert.reasons.split("\n")
    visit(child, GrowthMeasurement(visit_date=TODAY, weight_kg=9.4, height_cm=75, position="couche", muac_mm=140))
    assert alerts_of(child) == []


def test_family_planning_resupply_stops_when_a_pregnancy_follows(person, visit):
    woman = person("Assitan", age_days=365 * 28)
    visit(woman, FamilyPlanningVisit(visit_date=days_ago(10), method="pilule_coc", user_status="nouvelle",
                                     quantity=3))
    due = days_ago(10) + dt.timedelta(days=84)
    assert f"{woman.id}~pf.coc~{due.isoformat()}" in item_ids(woman)
    visit(woman, antenatal(10))
    assert not [item for item in item_ids(woman) if "~pf." in item]


def test_a_merge_keeps_the_follow_up_of_the_kept_record_only(person, visit, actor):
    keep = person("Awa", age_days=50)
    drop = person("Awa", age_days=50)
    visit(drop, dose("PENTA", 1))
    merge_patients(actor, keep, drop, "doublon")
    assert item_ids(drop) == []
    assert FollowupPatient.get_or_none(FollowupPatient.patient == drop.id) is None
    assert f"{keep.id}~pev.penta2~{(TODAY + dt.timedelta(weeks=4)).isoformat()}" in item_ids(keep)


def test_a_failing_rule_cancels_the_visit_and_keeps_the_old_items(person, visit, monkeypatch):
    child = person("Awa", age_days=50)
    before = item_ids(child)

    def broken(*args, **kwargs):
        raise RuntimeError("règle cassée")

    monkeypatch.setattr(service, "evaluate", broken)
    with pytest.raises(RuntimeError):
        visit(child, dose("PENTA", 1))
    assert Immunisation.select().where(Immunisation.patient == child.id).count() == 0
    assert item_ids(child) == before


def test_bulk_recompute_gives_the_rows_the_hooks_wrote(person, visit):
    mother = person("Mariam", age_days=365 * 38, household="Famille Diarra")
    child = person("Awa", age_days=400, household="Famille Diarra", mother=mother)
    visit(mother, antenatal(30, systolic=145, diastolic=92))
    visit(child, GrowthMeasurement(visit_date=TODAY, weight_kg=7.0, height_cm=75, position="couche", muac_mm=118))
    visit(child, dose("PENTA", 1, days_ago(300)))
    tables = (FollowupItem, FollowupAlert, FollowupPatient)
    written = {model: sorted(model.select().tuples()) for model in tables}
    for model in tables:
        model.delete().execute()
    report = service.recompute_all(batch=1)
    assert report.patients == 2 and report.alerts == 2
    assert {model: sorted(model.select().tuples()) for model in tables} == written


def test_every_antigen_code_of_the_forms_maps_to_the_calendar():
    from appliance.clinical.schedule_data import load_schedules

    known = load_schedules().epi.series_of
    pairs = [("BCG", 1), ("VPO", 0), ("VPO", 3), ("PENTA", 2), ("PCV", 1), ("ROTA", 3), ("VPI", 1), ("RR", 2),
             ("VAA", 1), ("MENA", 1), ("PALU", 4)]
    assert [facts.dose_code(antigen, number, known) for antigen, number in pairs] == [
        "bcg", "vpo0", "vpo3", "penta2", "pcv1", "rota3", "vpi1", "rr2", "vaa", "mena", "palu4"]
    assert facts.dose_code("TD", 2, known) is None


def test_the_last_visit_of_any_programme_is_kept_per_patient(person, visit):
    child = person("Awa", age_days=400)
    assert FollowupPatient.get_by_id(child.id).last_visit_on is None
    visit(child, GrowthMeasurement(visit_date=days_ago(2), weight_kg=9.0))
    assert FollowupPatient.get_by_id(child.id).last_visit_on == days_ago(2)


def test_the_table_refuses_an_id_twice(person):
    child = person("Awa", age_days=50)
    [stored] = FollowupItem.select().where(FollowupItem.patient == child.id).limit(1)
    with pytest.raises(peewee.IntegrityError):
        FollowupItem.insert(**{**stored.__data__, "label": "copie"}).execute()


def test_demo_data_comes_with_its_follow_up(store):
    from appliance.demo import populate

    report = populate(300, seed=3)
    assert FollowupPatient.select().count() == report.patients
    assert FollowupItem.select().where(FollowupItem.programme == "pev").exists()
    assert FollowupItem.select().where(FollowupItem.programme == "cpn").exists()


def test_the_recompute_command_rebuilds_every_patients_rows(cfg, person, visit):
    from click.testing import CliRunner

    from appliance.cli import main

    child = person("Awa", age_days=50)
    visit(child, GrowthMeasurement(visit_date=TODAY, weight_kg=4.9, height_cm=56, position="couche"))
    expected = item_ids(child)
    FollowupItem.delete().execute()
    result = CliRunner().invoke(main, ["followup", "recompute", "--config", str(cfg.source)])
    assert result.exit_code == 0, result.output
    assert f"patients : 1, rendez-vous : {len(expected)}, alertes : 0" in result.output
    assert item_ids(child) == expected
