"""Impossible or dangerous values are refused on their own field, in French; the form keeps what
was typed; nothing is saved. Unusual but plausible values need a confirmation."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest

from appliance.patients.models import Consultation, GrowthMeasurement
from tests.patients.conftest import days_ago, stored_counts, visit_form_data


def field_errors(page: str, name: str) -> list[str]:
    """The error messages shown inside the block of the field ``name``."""
    messages = []
    blocks = re.findall(r'<div class="field has-error">(.*?)</div>', page, re.S)
    blocks += re.findall(r'<fieldset class="field has-error">(.*?)</fieldset>', page, re.S)
    for block in blocks:
        if f'name="{name}"' in block:
            messages += [html.unescape(text) for text in re.findall(r'<p class="error" role="alert">(.*?)</p>', block)]
    return messages


@pytest.fixture
def clinic(login_as, new_patient):
    web = login_as("sage_femme")
    woman = new_patient("Traoré", "Awa", "F", birth_date=dt.date(1994, 5, 2))
    man = new_patient("Diarra", "Bakary", "M", birth_date=dt.date(1980, 1, 1))
    baby = new_patient("Diarra", "Issa", "M", birth_date=days_ago(210), mother=woman)
    return web, {"woman": woman, "man": man, "baby": baby}


REFUSALS = [
    ("consultation", "woman", {"weight_kg": "0"}, "weight_kg", "Valeur impossible : entre 0,5 et 250 kg."),
    ("consultation", "woman", {"weight_kg": "300"}, "weight_kg", "Valeur impossible : entre 0,5 et 250 kg."),
    ("consultation", "woman", {"systolic": "400", "diastolic": "20"}, "systolic",
     "Valeur impossible : entre 50 et 300 mmHg."),
    ("consultation", "woman", {"systolic": "120", "diastolic": "130"}, "diastolic",
     "La diastolique doit être plus basse que la systolique."),
    ("consultation", "woman", {"diastolic": ""}, "diastolic", "Saisissez les deux chiffres de la tension"),
    ("consultation", "woman", {"temperature_c": "trente-huit"}, "temperature_c", "Nombre attendu"),
    ("consultation", "woman", {"visit_date": (dt.date.today() + dt.timedelta(days=3)).isoformat()}, "visit_date",
     "La date est dans le futur."),
    ("consultation", "woman", {"diagnosis_code": ""}, "diagnosis_code", "Choisissez un diagnostic."),
    ("consultation", "woman", {"prescriptions-2-quantity": "10"}, "prescriptions-2-medicine",
     "Choisissez le médicament dans la liste"),
    ("cpn", "woman", {"gestational_age_weeks": "60"}, "gestational_age_weeks",
     "Valeur impossible : entre 1 et 45 semaines."),
    ("cpn", "woman", {"gestational_age_weeks": "", "lmp_date": days_ago(50 * 7).isoformat()}, "lmp_date",
     "DDR impossible : plus de 45 semaines avant la visite."),
    ("cpn", "woman", {"gestational_age_weeks": "10", "iptp_dose": "1"}, "iptp_dose",
     "TPI/SP contre-indiquée avant 13 semaines de grossesse."),
    ("cpn", "woman", {"gravidity": "2", "parity": "2"}, "parity", "La parité doit être inférieure à la gestité"),
    ("cpn", "man", {}, "visit_date", "Cette visite concerne une femme"),
    ("accouchement", "woman", {"birth_weight_g": "9000"}, "birth_weight_g", "Valeur impossible : entre 300 et 6500 g."),
    ("accouchement", "woman", {"outcome": "mort_frais"}, "create_newborn", "Pas de dossier de nouveau-né"),
    ("vaccination", "baby", {"visit_date": days_ago(215).isoformat()}, "visit_date", "Dose datée avant la naissance"),
    ("vaccination", "baby", {"dose_number": "4"}, "dose_number", "Dose impossible pour ce vaccin : de 1 à 3."),
    # Found by the property test: a huge number reached SQLite (integer overflow, error 500).
    ("vaccination", "baby", {"dose_number": "1E20"}, "dose_number", "Valeur impossible : entre 0 et 5 ."),
    ("croissance", "baby", {"muac_mm": "13"}, "muac_mm", "Valeur impossible : entre 50 et 400 mm."),
    ("croissance", "baby", {"muac_mm": "13,5"}, "muac_mm", "Nombre entier attendu (en mm)."),
    ("croissance", "baby", {"weight_kg": "75"}, "weight_kg", "Poids impossible pour un enfant de moins de 5 ans."),
    ("croissance", "baby", {"position": ""}, "position", "Indiquez si l'enfant a été mesuré couché ou debout."),
    ("pf", "man", {"method": "pilule_coc"}, "method", "Méthode féminine"),
    ("chronique", "man", {"programme": "diabete", "glucose_g_l": "126"}, "glucose_g_l",
     "Valeur impossible : entre 0,2 et 6 g/L."),
    ("chronique", "man", {"next_appointment": days_ago(5).isoformat()}, "next_appointment",
     "Le prochain rendez-vous doit être après la date de la visite."),
    ("chronique", "man", {"systolic": "", "diastolic": ""}, "systolic", "La tension est obligatoire"),
]


@pytest.mark.parametrize(("programme", "who", "changes", "field", "message"), REFUSALS,
                         ids=[f"{case[0]}-{case[3]}-{i}" for i, case in enumerate(REFUSALS)])
def test_dangerous_values_are_refused_on_their_field_and_nothing_is_saved(clinic, programme, who, changes, field,
                                                                           message):
    web, people = clinic
    data = {**visit_form_data(programme), **changes}
    before = stored_counts()
    response = web.post(f"/patients/{people[who].id}/{programme}/nouveau", data)
    page = response.data.decode()
    assert response.status_code == 200
    assert any(message in text for text in field_errors(page, field)), field_errors(page, field) or page[-3000:]
    assert "Rien n'a été enregistré" in page
    for name, value in changes.items():  # what was typed is still there
        if value and name not in ("outcome", "diagnosis_code", "method", "programme", "position"):
            assert f'value="{html.escape(value)}"' in page, name
    assert stored_counts() == before


def test_unusual_temperature_needs_confirmation_then_saves(clinic):
    web, people = clinic
    url = f"/patients/{people['woman'].id}/consultation/nouveau"
    data = {**visit_form_data("consultation"), "temperature_c": "41,5"}
    first = web.post(url, data)
    page = html.unescape(first.data.decode())
    assert first.status_code == 200 and "Valeurs inhabituelles" in page and "Température très élevée (41,5 °C)" in page
    assert 'name="confirm"' in page and 'value="41,5"' in page
    assert Consultation.select().count() == 0
    assert web.post(url, {**data, "confirm": "y"}).status_code == 302
    assert Consultation.get().temperature_c == 41.5


def test_weight_far_outside_the_who_curve_for_age_needs_confirmation(clinic):
    web, people = clinic
    url = f"/patients/{people['baby'].id}/croissance/nouveau"
    data = {**visit_form_data("croissance"), "weight_kg": "16"}  # 7 months old
    page = html.unescape(web.post(url, data).data.decode())
    assert "Poids très inhabituel pour l'âge (z = +" in page
    assert GrowthMeasurement.select().count() == 0
    assert web.post(url, {**data, "confirm": "y"}).status_code == 302


REGISTRATION_REFUSALS = [
    ({"birth_date": (dt.date.today() + dt.timedelta(days=2)).isoformat()}, "birth_date",
     "La date de naissance est dans le futur."),
    ({"birth_date": ""}, "birth_date", "Indiquez la date de naissance ou l'âge estimé."),
    ({"phone": "1234"}, "phone", "Numéro invalide : 8 chiffres au Mali"),
    ({"family_name": "Tr4oré"}, "family_name", "Lettres, espaces, tirets et apostrophes seulement."),
    ({"sex": ""}, "sex", "Choisissez le sexe."),
    ({"age_years": "130", "birth_date": ""}, "age_years", "Valeur impossible : entre 0 et 120 ."),
]


@pytest.mark.parametrize(("changes", "field", "message"), REGISTRATION_REFUSALS)
def test_registration_refusals_are_shown_on_their_field(login_as, changes, field, message):
    web = login_as("agent_saisie")
    data = {"family_name": "Traoré", "first_names": "Awa", "sex": "F", "birth_date": "1994-05-02",
            "village": "Pelengana", **changes}
    before = stored_counts()
    page = web.post("/patients/nouveau", data).data.decode()
    assert any(message in text for text in field_errors(page, field)), field_errors(page, field)
    assert stored_counts() == before


def test_a_male_mother_is_refused_on_the_mother_field(login_as, new_patient):
    father = new_patient("Diarra", "Bakary", "M", birth_date=dt.date(1980, 1, 1))
    web = login_as("agent_saisie")
    page = web.post("/patients/nouveau", {"family_name": "Diarra", "first_names": "Issa", "sex": "M",
                                          "birth_date": days_ago(30).isoformat(), "village": "Pelengana",
                                          "mother_number": father.local_number}).data.decode()
    assert any("celui d'un homme" in text for text in field_errors(page, "mother_number"))
