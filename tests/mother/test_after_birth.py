"""After birth: each danger sign of the mother or the newborn at a CPoN raises its named alert in
the visit's transaction; a low birth weight raises an alert and opens a weighing follow-up."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.patients.models import Delivery, Patient, PostnatalVisit
from appliance.patients.registry import Identity, record_delivery
from tests.followup.conftest import SITE, alerts_of, days_ago, item_ids


def _delivery(actor, mother, weight_g=3100):
    delivery = Delivery(visit_date=days_ago(5), place="ici", mode="voie_basse", outcome="vivant",
                        birth_weight_g=weight_g, baby_sex="F", attendant="sage_femme")
    record_delivery(actor, mother, delivery, site_id=SITE,
                    newborn=Identity("Traoré", "Awa", "F", days_ago(5), mother.village))
    return Patient.get_by_id(delivery.newborn_id)


@pytest.mark.parametrize(("sign", "rule"), [
    ("saignement", "post_partum.hemorragie"), ("fievre", "post_partum.fievre"),
    ("pertes", "post_partum.pertes_malodorantes"), ("convulsions", "post_partum.convulsions"),
    ("tension", "post_partum.cephalees_tension"),
])
def test_each_mother_danger_sign_is_an_urgent_named_alert(person, visit, actor, sign, rule):
    mother = person("Mariam")
    _delivery(actor, mother)
    visit(mother, PostnatalVisit(visit_date=days_ago(1), subject="mere", danger_signs=sign))
    [alert] = alerts_of(mother)
    assert alert.kind == "post_partum" and alert.severity == "urgent" and alert.rule_ids.split()[0] == rule


@pytest.mark.parametrize(("sign", "rule"), [
    ("tetee", "nouveau_ne.tetee"), ("convulsions", "nouveau_ne.convulsions"),
    ("respiration", "nouveau_ne.respiration"), ("fievre", "nouveau_ne.fievre"),
    ("hypothermie", "nouveau_ne.hypothermie"), ("ictere", "nouveau_ne.ictere"), ("cordon", "nouveau_ne.cordon"),
])
def test_each_newborn_danger_sign_is_an_urgent_named_alert(person, visit, actor, sign, rule):
    baby = _delivery(actor, person("Mariam"))
    visit(baby, PostnatalVisit(visit_date=days_ago(1), subject="nouveau_ne", danger_signs=sign))
    [alert] = alerts_of(baby)
    assert alert.kind == "nouveau_ne" and alert.severity == "urgent" and alert.rule_ids.split()[0] == rule


def test_a_newborn_not_breastfed_is_a_feeding_problem_alert_unless_not_feeding_says_it_already(person, visit, actor):
    baby = _delivery(actor, person("Mariam"))
    visit(baby, PostnatalVisit(visit_date=days_ago(2), subject="nouveau_ne", breastfeeding=True, danger_signs=""))
    assert alerts_of(baby) == []
    visit(baby, PostnatalVisit(visit_date=days_ago(1), subject="nouveau_ne", breastfeeding=False, danger_signs=""))
    [alert] = alerts_of(baby)
    # WHO IMCI: not breastfed is a feeding problem to counsel, not a referral (unless unable to feed).
    assert alert.severity == "high" and alert.rule_ids == "nouveau_ne.non_allaite"
    visit(baby, PostnatalVisit(visit_date=days_ago(0), subject="nouveau_ne", breastfeeding=False,
                               danger_signs="tetee"))
    [alert] = alerts_of(baby)
    assert alert.severity == "urgent" and alert.rule_ids == "nouveau_ne.tetee"


def test_a_newborn_temperature_alone_raises_the_alert(person, visit, actor):
    baby = _delivery(actor, person("Mariam"))
    visit(baby, PostnatalVisit(visit_date=days_ago(0), subject="nouveau_ne", temperature_c=35.0, danger_signs=""))
    assert "nouveau_ne.hypothermie" in alerts_of(baby)[0].rule_ids


def test_low_birth_weight_raises_an_alert_and_opens_a_weighing_follow_up(person, visit, actor):
    baby = _delivery(actor, person("Mariam"), weight_g=2300)
    [alert] = alerts_of(baby)
    assert alert.rule_ids == "nouveau_ne.petit_poids" and alert.severity == "high"
    weighing = [item for item in item_ids(baby) if "~cpon.petit_poids~" in item]
    assert weighing == [f"{baby.id}~cpon.petit_poids~{(days_ago(5) + dt.timedelta(days=7)).isoformat()}"]
    visit(baby, PostnatalVisit(visit_date=days_ago(0), subject="nouveau_ne", weight_kg=2.6, danger_signs=""))
    assert not [item for item in item_ids(baby) if "~cpon.petit_poids~" in item]


def test_a_normal_weight_baby_without_signs_has_no_alert(person, actor):
    assert alerts_of(_delivery(actor, person("Mariam"))) == []


def test_merging_a_newborns_duplicate_moves_the_deliverys_link(person, actor):
    from appliance.patients.registry import merge_patients

    mother = person("Mariam")
    baby = _delivery(actor, mother)
    duplicate_kept = person("Awa", age_days=5)
    merge_patients(actor, duplicate_kept, baby, "même bébé enregistré deux fois")
    assert Delivery.get().newborn_id == duplicate_kept.id


def test_merging_a_mothers_duplicate_moves_her_pregnancy(person, visit, actor):
    from appliance.patients.models import AntenatalVisit, Pregnancy
    from appliance.patients.registry import merge_patients

    first, second = person("Mariam"), person("Mariam", village="Kalaban")
    visit(second, AntenatalVisit(visit_date=days_ago(10), lmp_date=days_ago(100), danger_signs=""))
    merge_patients(actor, first, second, "doublon")
    assert Pregnancy.get().patient_id == first.id


def test_a_babys_sex_corrected_on_the_delivery_changes_its_record(person, actor):
    from appliance.patients.registry import correct_delivery

    mother = person("Mariam")
    baby = _delivery(actor, mother)
    delivery = Delivery.get()
    delivery.baby_sex = "M"
    correct_delivery(actor, delivery, site_id=SITE, reason="sexe mal saisi")
    assert Patient.get_by_id(baby.id).sex == "M"
