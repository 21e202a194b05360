"""Crafted input (issue 16): no 500 on crafted ids, "²", "1e308", a missing field or an odd
language cookie; Unicode cleaned once for every form (NFC, invisible characters refused, digits
folded to ASCII)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from appliance.patients.models import Patient
from tests.conftest import WebClient, text_of
from tests.patients.conftest import actor, new_patient, visit_form_data  # noqa: F401 - fixtures

PROGRAMMES = ["consultation", "cpn", "accouchement", "cpon", "vaccination", "croissance", "pf", "chronique"]
CRAFTED = ["²", "1e308", "-1e308", "١٢", "9" * 30]
AWA = {"family_name": "Traoré", "first_names": "Awa", "sex": "F", "birth_date": "1994-05-02",
       "village": "Pelengana", "phone": "76 12 34 56"}


@pytest.fixture
def doctor(app, login_as):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a crash shows as the 500 page staff would get
    return login_as("medecin")


def test_no_page_answers_500_to_crafted_ids_or_numbers_in_its_address(app, doctor):
    crashes = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        for value in ("99999999999999999999999", "²", "-1"):
            url = re.sub(r"<[^>]+>", value, rule.rule)
            for query in ("", "?page=²", "?page=99999999999999999999999", "?page=1e308", "?mere=²",
                          "?menage=99999999999999999999999"):
                if doctor.raw.get(url + query).status_code >= 500:
                    crashes.append(url + query)
    assert crashes == []


def test_no_form_answers_500_to_crafted_numbers_or_a_missing_field(doctor, new_patient):  # noqa: F811
    woman = new_patient()
    child = new_patient(first_names="Issa", sex="M", birth_date=dt.date.today() - dt.timedelta(days=200))
    crashes = []

    def probe(url: str, base: dict[str, str]) -> None:
        names = set(re.findall(r'name="([^"]+)"', doctor.get(url).text)) - {"csrf_token"} | set(base)
        for name in sorted(names):
            for value in [*CRAFTED, None]:
                data = {key: val for key, val in base.items() if key != name}
                if value is not None:
                    data[name] = value
                if doctor.post(url, data).status_code >= 500:
                    crashes.append((url, name, value))

    for programme in PROGRAMMES:
        patient = child if programme in ("vaccination", "croissance") else woman
        probe(f"/patients/{patient.id}/{programme}/nouveau", visit_form_data(programme))
    probe("/patients/nouveau", AWA)
    probe(f"/patients/{woman.id}/identite", AWA)
    assert crashes == []


@pytest.mark.parametrize("cookie", ["xx_YY@@", "../../etc/passwd", "fr_FR.UTF-8", "\u202een"])
def test_an_odd_language_cookie_falls_back_to_french(app, store, cookie):
    web = WebClient(app.test_client())
    web.raw.set_cookie("lang", cookie)
    response = web.get("/connexion")
    assert response.status_code == 200 and 'lang="fr"' in response.text


@pytest.mark.parametrize("name", ["Tra\x00oré", "Traoré\u202e", "Tra\u200boré", "\ufeffTraoré", "Traor\u2066é"])
def test_invisible_and_control_characters_are_refused_in_french_naming_the_field(login_as, name):
    web = login_as("agent_saisie")
    response = web.post("/patients/nouveau", {**AWA, "family_name": name})
    assert response.status_code == 400
    assert "family_name" in text_of(response) and "caractère invisible ou de contrôle" in text_of(response)
    assert Patient.select().count() == 0


def test_names_are_stored_in_nfc_and_digits_of_any_script_in_ascii(login_as):
    web = login_as("agent_saisie")
    decomposed = "Traore\u0301"  # "é" as typed on some keyboards: e + combining accent
    response = web.post("/patients/nouveau", {**AWA, "family_name": decomposed, "phone": "٧٦ ١٢ ٣٤ ٥٦"})
    assert response.status_code == 302, text_of(response)[-1500:]
    patient = Patient.get()
    assert patient.family_name.upper() == "TRAORÉ" and len(patient.family_name) == 6
    assert patient.phone.endswith("76123456") and patient.phone.isascii()


def test_text_areas_keep_their_line_breaks(doctor, new_patient):  # noqa: F811
    woman = new_patient()
    data = {**visit_form_data("consultation"), "treatment": "CTA 3 jours\r\nParacétamol\tsi fièvre"}
    assert doctor.post(f"/patients/{woman.id}/consultation/nouveau", data).status_code == 302
