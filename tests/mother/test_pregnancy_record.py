"""The pregnancy record: opened at the first contact, carried into the next ones and the delivery,
closed by it; contact numbers computed; what the record refuses; SP/Td/MILD/iron due and closed."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.patients.errors import VisitError
from appliance.patients.models import AntenatalVisit, Delivery, Pregnancy
from appliance.patients.registry import record_delivery
from appliance.patients.visits import void_visit
from tests.followup.conftest import SITE, alerts_of, days_ago, item_ids

LMP_DAYS = 150  # about 21 weeks today


def contact(when_days: int, **values) -> AntenatalVisit:
    return AntenatalVisit(visit_date=days_ago(when_days), danger_signs=values.pop("danger_signs", ""), **values)


def test_first_contact_opens_the_pregnancy_later_ones_join_it_numbered_by_date(person, visit, actor):
    woman = person("Awa")
    first = visit(woman, contact(60, lmp_date=days_ago(LMP_DAYS), gravidity=3, parity=2))
    third = visit(woman, contact(10))
    second = visit(woman, contact(30))  # recorded late, dated between the two others
    pregnancy = Pregnancy.get()
    assert (pregnancy.lmp_date, pregnancy.gravidity, pregnancy.parity) == (days_ago(LMP_DAYS), 3, 2)
    assert pregnancy.due_date() == days_ago(LMP_DAYS) + dt.timedelta(days=280)
    numbers = {row.id: row.contact_number for row in AntenatalVisit.select()}
    assert [numbers[first.id], numbers[second.id], numbers[third.id]] == [1, 2, 3]
    assert {row.pregnancy_id for row in AntenatalVisit.select()} == {pregnancy.id}
    void_visit(actor, second, "erreur")
    assert AntenatalVisit.get_by_id(third.id).contact_number == 2


def test_an_early_ultrasound_dates_the_pregnancy(person, visit):
    woman = person("Awa")
    visit(woman, contact(20, lmp_date=days_ago(LMP_DAYS), ultrasound_on=days_ago(20), ultrasound_weeks=16))
    assert Pregnancy.get().dated_lmp() == days_ago(20) - dt.timedelta(weeks=16)


def test_the_delivery_closes_the_pregnancy_and_a_new_contact_opens_another(person, visit, actor):
    woman = person("Awa")
    visit(woman, contact(300, lmp_date=days_ago(400), gravidity=2, parity=1))
    delivery = Delivery(visit_date=days_ago(130), place="ici", mode="voie_basse", outcome="vivant",
                        birth_weight_g=3100, baby_sex="F", attendant="sage_femme")
    record_delivery(actor, woman, delivery, site_id=SITE)
    first = Pregnancy.get()
    assert (first.ended_on, first.end_reason) == (days_ago(130), "accouchement")
    assert Delivery.get().pregnancy_id == first.id
    visit(woman, contact(5, lmp_date=days_ago(70), gravidity=3, parity=2))
    assert Pregnancy.select().count() == 2
    assert AntenatalVisit.select().order_by(AntenatalVisit.visit_date.desc()).first().contact_number == 1
    void_visit(actor, Delivery.get(), "erreur")
    assert Pregnancy.get_by_id(first.id).ended_on is None


@pytest.mark.parametrize(("values", "field", "message"), [
    ({"lmp_date": days_ago(-3)}, "lmp_date", "futur"),
    ({"lmp_date": days_ago(46 * 7)}, "lmp_date", "plus de 45 semaines"),
    ({"lmp_date": days_ago(LMP_DAYS), "gravidity": 2, "parity": 3}, "parity", "inférieure à la gestité"),
])
def test_bad_input_is_refused_in_french_and_nothing_is_saved(person, visit, values, field, message):
    woman = person("Awa")
    with pytest.raises(VisitError, match=message) as refused:
        visit(woman, contact(0, **values))
    assert refused.value.field == field
    assert AntenatalVisit.select().count() == 0 and Pregnancy.select().count() == 0


def test_sp_twice_within_four_weeks_is_refused(person, visit):
    woman = person("Awa")
    visit(woman, contact(20, lmp_date=days_ago(LMP_DAYS), iptp_dose=1))
    with pytest.raises(VisitError, match="4 semaines") as refused:
        visit(woman, contact(14, iptp_dose=2))
    assert refused.value.field == "iptp_dose"
    assert AntenatalVisit.select().count() == 1
    with pytest.raises(VisitError, match="4 semaines"):
        visit(woman, contact(0, iptp_dose=2))  # 20 days after the first: still too soon
    visit(woman, contact(0))


def test_prevention_is_due_at_the_first_contact_and_closed_when_given(person, visit):
    woman = person("Awa")
    visit(woman, contact(1, lmp_date=days_ago(LMP_DAYS)))
    rules = {item.split("~")[1] for item in item_ids(woman)}
    assert {"cpn.tpi1", "cpn.td1", "cpn.mild", "cpn.fer"} <= rules
    visit(woman, contact(0, iptp_dose=1, td_dose=1, net_given=True, iron_folic=True, iron_folic_tablets=60))
    items = {item.split("~")[1]: item.split("~")[2] for item in item_ids(woman)}
    assert "cpn.mild" not in items and "cpn.tpi1" not in items and "cpn.td1" not in items
    assert items["cpn.tpi2"] == (days_ago(0) + dt.timedelta(weeks=4)).isoformat()
    assert items["cpn.td2"] == (days_ago(0) + dt.timedelta(weeks=4)).isoformat()
    assert items["cpn.fer"] == (days_ago(0) + dt.timedelta(days=60)).isoformat()


@pytest.mark.parametrize(("values", "rule"), [
    ({"danger_signs": "paleur"}, "grossesse.paleur_severe"),
    ({"danger_signs": "oedemes"}, "grossesse.oedemes_visage_mains"),
    ({"proteinuria": 2}, "grossesse.proteinurie"),
    ({"proteinuria": 2, "systolic": 145, "diastolic": 95}, "grossesse.pre_eclampsie"),
    ({"multiple_pregnancy": True}, "grossesse.grossesse_multiple"),
    ({"height_cm": 145.0}, "grossesse.petite_taille"),
    ({"previous_pph": True}, "grossesse.antecedent_hpp"),
    ({"previous_pre_eclampsia": True}, "grossesse.antecedent_pre_eclampsie"),
])
def test_each_contact_fact_raises_its_named_alert(person, visit, values, rule):
    woman = person("Awa")
    visit(woman, contact(0, lmp_date=days_ago(LMP_DAYS), **values))
    [alert] = alerts_of(woman)
    assert alert.rule_ids.split()[0] == rule


@pytest.mark.parametrize(("weeks", "fundal_height", "weight", "rule"), [
    (28, 24, None, "grossesse.hauteur_uterine_petite"),
    (28, 32, None, "grossesse.hauteur_uterine_grande"),
    (28, 25, None, None),  # 3 cm: within McDonald's ± 3
    (28, 31, None, None),
    (16, 10, None, None),  # before 20 weeks the rule does not apply
    (38, 33, None, None),  # nor after 36
    (20, None, 44.5, "grossesse.poids_moins_45"),
    (20, None, 45.0, None),
])
def test_fundal_height_against_the_weeks_and_the_weight_feed_the_rules(person, visit, weeks, fundal_height,
                                                                         weight, rule):
    woman = person("Awa")
    visit(woman, contact(0, lmp_date=days_ago(weeks * 7), fundal_height_cm=fundal_height, weight_kg=weight))
    fired = [alert.rule_ids.split() for alert in alerts_of(woman)]
    assert fired == ([[rule]] if rule else [])


def test_41_weeks_is_urgent(person, visit):
    woman = person("Awa")
    visit(woman, contact(0, lmp_date=days_ago(41 * 7 + 1)))
    [alert] = alerts_of(woman)
    assert alert.severity == "urgent" and "grossesse.terme_depasse_41" in alert.rule_ids
