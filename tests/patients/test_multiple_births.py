"""Twins and triplets over HTTP: one delivery, one record per live baby linked to the mother and
her household, all or nothing, and a correction that never opens a second record."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.patients.models import Delivery, DeliveryBaby, Patient
from appliance.reports.builder import Month, build_report
from tests.conftest import text_of
from tests.patients.conftest import days_ago, stored_counts, visit_form_data
from tests.patients.test_web_validation import field_errors

TWINS = {**visit_form_data("accouchement"), "babies": "2", "outcome": "vivant", "birth_weight_g": "2600",
         "baby_sex": "F", "create_newborn": "y", "newborn_first_names": "Awa",
         "baby2-outcome": "vivant", "baby2-birth_weight_g": "2450", "baby2-sex": "M", "baby2-open_record": "y",
         "baby2-first_names": "Adama"}


@pytest.fixture
def midwife(login_as, new_patient):
    web = login_as("sage_femme")
    mother = new_patient("Coulibaly", "Mariam", "F", birth_date=dt.date(1996, 7, 1), household_name="Famille Coulibaly")
    return web, mother


def _babies_of(mother: Patient) -> list[Patient]:
    return list(Patient.select().where(Patient.mother == mother.id).order_by(Patient.id))


def test_twins_open_two_records_linked_to_the_mother_and_one_delivery(midwife):
    web, mother = midwife
    form = text_of(web.get(f"/patients/{mother.id}/accouchement/nouveau"))
    assert "Bébé 2" in form and "Bébé 4" in form and 'name="baby2-sex"' in form and "babies.js" in form

    response = web.post(f"/patients/{mother.id}/accouchement/nouveau", TWINS)
    assert response.status_code == 302, text_of(response)[-2000:]

    delivery = Delivery.get()
    assert Delivery.select().count() == 1 and delivery.babies == 2
    twin1, twin2 = _babies_of(mother)
    assert (twin1.first_names, twin1.sex, twin2.first_names, twin2.sex) == ("Awa", "F", "Adama", "M")
    for twin in (twin1, twin2):
        assert (twin.family_name, twin.birth_date, twin.household_id) == ("Coulibaly", days_ago(1), mother.household_id)
    assert delivery.newborn_id == twin1.id and delivery.birth_weight_g == 2600
    second = DeliveryBaby.get()
    assert (second.position, second.outcome, second.birth_weight_g, second.newborn_id) == (2, "vivant", 2450, twin2.id)

    chart = text_of(web.get(f"/patients/{mother.id}"))
    assert "Bébé 2 : né vivant · 2450 g · garçon" in chart
    assert f'href="/patients/{twin2.id}"' in chart


def test_triplets_with_a_stillbirth_open_records_for_the_live_babies_only(midwife):
    web, mother = midwife
    data = {**TWINS, "babies": "3", "baby3-outcome": "mort_frais", "baby3-birth_weight_g": "1900", "baby3-sex": "M"}
    response = web.post(f"/patients/{mother.id}/accouchement/nouveau", data)
    assert response.status_code == 302, text_of(response)[-2000:]
    assert len(_babies_of(mother)) == 2
    third = DeliveryBaby.get(DeliveryBaby.position == 3)
    assert (third.outcome, third.newborn_id) == ("mort_frais", None)  # the pre-ticked box is ignored: no record


def test_a_refused_field_of_baby_two_saves_nothing_and_names_the_baby(midwife):
    web, mother = midwife
    before = stored_counts()
    response = web.post(f"/patients/{mother.id}/accouchement/nouveau", {**TWINS, "baby2-birth_weight_g": "9000"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Rien n'a été enregistré" in page
    assert field_errors(page, "baby2-birth_weight_g") == [
        "Bébé 2 : poids de naissance — Valeur impossible : entre 300 et 6500 g."]
    assert 'value="9000"' in page and 'value="Adama"' in page  # what was typed stays
    assert stored_counts() == before and DeliveryBaby.select().count() == 0


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"baby2-sex": ""}, "baby2-sex", "Bébé 2 : Indiquez le sexe pour ouvrir le dossier du bébé."),
    ({"baby2-outcome": "mort_macere"}, "baby2-open_record", "Bébé 2 : Pas de dossier de nouveau-né pour un mort-né."),
    ({"baby2-outcome": ""}, "baby2-outcome", "Bébé 2 : indiquez l'issue (né vivant ou mort-né)."),
    ({"babies": "1"}, "babies", "Le bébé 2 est renseigné : choisissez 2 bébés ou videz ses champs."),
    ({"newborn_family_name": ""}, "newborn_family_name", "Indiquez le nom de famille des bébés."),
])
def test_each_baby_is_checked_on_its_own_field(midwife, changes, field, message):
    web, mother = midwife
    before = stored_counts()
    page = web.post(f"/patients/{mother.id}/accouchement/nouveau", {**TWINS, **changes}).get_data(as_text=True)
    assert message in field_errors(page, field), field_errors(page, field) or page[-3000:]
    assert stored_counts() == before


def test_a_refusal_inside_the_service_for_baby_two_rolls_back_baby_one(midwife, monkeypatch):
    """Baby 1's record is written before baby 2's is refused: the transaction takes both back."""
    from appliance.patients import registry

    web, mother = midwife
    real = registry.register_patient

    def refuse_the_second(actor, identity, **kwargs):
        if identity.first_names == "Adama":
            raise registry.RecordError("sex", "Sexe : F ou M.")
        return real(actor, identity, **kwargs)

    monkeypatch.setattr(registry, "register_patient", refuse_the_second)
    before = stored_counts()
    page = web.post(f"/patients/{mother.id}/accouchement/nouveau", TWINS).get_data(as_text=True)
    assert "Bébé 2 : Sexe : F ou M." in field_errors(page, "baby2-sex")
    assert stored_counts() == before


def test_unused_empty_fieldsets_are_ignored(midwife):
    web, mother = midwife
    response = web.post(f"/patients/{mother.id}/accouchement/nouveau",
                        {**visit_form_data("accouchement"), "baby3-open_record": "y"})
    assert response.status_code == 302
    assert len(_babies_of(mother)) == 1 and DeliveryBaby.select().count() == 0


def test_correcting_a_delivery_never_duplicates_a_newborn(midwife):
    web, mother = midwife
    web.post(f"/patients/{mother.id}/accouchement/nouveau", {**TWINS, "baby2-open_record": ""})
    delivery = Delivery.get()
    assert len(_babies_of(mother)) == 1  # baby 2's record was not asked for
    url = f"/patients/{mother.id}/accouchement/{delivery.id}/corriger"
    page = text_of(web.get(url))
    assert "Dossier du bébé 1" in page and 'name="create_newborn"' not in page and 'name="baby2-open_record"' in page

    # Correct a weight and, this time, open baby 2's record; sending baby 1's box again changes nothing.
    fixed = {**TWINS, "baby2-birth_weight_g": "2500", "create_newborn": "y", "correction_reason": "pesée revue"}
    assert web.post(url, fixed).status_code == 302
    assert web.post(url, fixed).status_code == 302  # the same correction twice (a double tap)
    babies = _babies_of(mother)
    assert [baby.first_names for baby in babies] == ["Awa", "Adama"]
    row = DeliveryBaby.get()
    assert (row.birth_weight_g, row.newborn_id) == (2500, babies[1].id)
    assert DeliveryBaby.select().count() == 1 and Delivery.select().count() == 1

    # Back to one baby is refused while baby 2 has a record: nothing changes.
    page = web.post(url, {**fixed, "babies": "1", **{key: "" for key in fixed if key.startswith("baby2-")}})
    assert "Le bébé 2 a déjà son dossier" in text_of(page)
    assert Delivery.get().babies == 2 and not DeliveryBaby.get().voided


def test_the_monthly_report_counts_twins_as_one_delivery(midwife, cfg):
    web, mother = midwife
    data = {**TWINS, "visit_date": dt.date.today().replace(day=1).isoformat()}
    assert web.post(f"/patients/{mother.id}/accouchement/nouveau", data).status_code == 302
    report = build_report(Month.of(dt.date.today()).period, cfg.reports)
    assert report.total("accouchements") == 1
