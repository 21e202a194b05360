"""Postnatal contacts (CPoN) on the follow-up lists after a recorded delivery: the mother and
each live baby's record, closed by the matching CPoN, gone when the delivery is voided."""

from __future__ import annotations

from appliance.patients.models import Delivery
from appliance.patients.registry import Baby, Identity, record_delivery
from appliance.patients.visits import void_visit
from tests.conftest import text_of
from tests.followup.conftest import SITE, TODAY, days_ago, item_ids
from tests.followup.test_pages import listed_items


def _twins(actor, mother, born_days_ago: int = 0):
    born = days_ago(born_days_ago)
    delivery = Delivery(visit_date=born, place="ici", mode="voie_basse", outcome="vivant", babies=3,
                        birth_weight_g=2500, baby_sex="F")
    babies = [Baby(2, "vivant", "M", 2300, Identity("Traoré", "Adama", "M", born, mother.village)),
              Baby(3, "mort_macere", "M", 1800)]
    record_delivery(actor, mother, delivery, site_id=SITE, babies=babies,
                    newborn=Identity("Traoré", "Awa", "F", born, mother.village))
    return delivery


def test_mother_and_each_live_baby_are_due_for_the_postnatal_contacts(actor, person):
    mother = person("Mariam", household="Famille Traoré")
    delivery = _twins(actor, mother)
    first, second = delivery.newborn_id, Delivery.get().other_babies()[0].newborn_id
    day = TODAY.isoformat()
    assert f"{mother.id}~cpon.mere1~{day}" in item_ids(mother)
    for baby_id in (first, second):
        ids = [item for item in item_ids(type(mother).get_by_id(baby_id)) if "~cpon.nouveau_ne" in item]
        assert ids[0] == f"{baby_id}~cpon.nouveau_ne1~{day}" and len(ids) == 4
    assert Delivery.select().count() == 1


def test_the_worklist_lists_them_and_a_cpon_visit_closes_its_contact(login_as, actor, person):
    mother = person("Mariam", household="Famille Traoré")
    delivery = _twins(actor, mother, born_days_ago=1)
    baby = delivery.newborn_id
    midwife = login_as("sage_femme")
    listed = listed_items(midwife.get("/a-revoir"))  # the midwife's own programmes include CPoN
    contact1 = f"{baby}~cpon.nouveau_ne1~{days_ago(1).isoformat()}"
    assert contact1 in listed and f"{mother.id}~cpon.mere1~{days_ago(1).isoformat()}" in listed
    assert "CPoN 1 nouveau-né (dans les 24 h)" in text_of(midwife.get("/a-revoir?programme=cpon"))

    response = midwife.post(f"/patients/{baby}/cpon/nouveau", {
        "visit_date": TODAY.isoformat(), "contact_number": "1", "temperature_c": "36,9", "breastfeeding": "oui"})
    assert response.status_code == 302, text_of(response)[-1500:]
    after = listed_items(midwife.get("/a-revoir?programme=cpon"))
    assert contact1 not in after and f"{mother.id}~cpon.mere1~{days_ago(1).isoformat()}" in after
    assert len(after) == len(set(after))


def test_voiding_the_delivery_takes_the_mothers_contacts_off(actor, person):
    mother = person("Mariam")
    delivery = _twins(actor, mother)
    void_visit(actor, delivery, "saisie sur le mauvais dossier")
    assert not [item for item in item_ids(mother) if "~cpon." in item]
    # The baby is still a baby registered in its first days: it keeps its own contacts.
    baby = type(mother).get_by_id(delivery.newborn_id)
    assert [item for item in item_ids(baby) if "~cpon.nouveau_ne" in item]


def test_a_baby_registered_before_day_42_without_a_delivery_gets_postnatal_contacts(person):
    home_birth = person("Issa", sex="M", age_days=3)
    ids = [item for item in item_ids(home_birth) if "~cpon.nouveau_ne" in item]
    # Three days old: the first contact (within 24 h) has passed, the other three are due.
    assert len(ids) == 3 and ids[0].startswith(f"{home_birth.id}~cpon.nouveau_ne2~")
    older = person("Moussa", sex="M", age_days=60)
    assert not [item for item in item_ids(older) if "~cpon." in item]
