"""The patient record in real Chromium at 360 px: register, duplicate offered, search with and
without accents, visits (a refused value, an unusual one confirmed), a child from the mother's
chart, the chart and the referral letter. Screenshots go to build/screenshots/ for review."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.patients.models import Consultation, GrowthMeasurement, Immunisation, Patient
from tests.conftest import click_and_wait, screenshot, sign_in

pytestmark = pytest.mark.slow


def _fill(page, values: dict[str, str]) -> None:
    for name, value in values.items():
        page.fill(f'[name="{name}"]', value)


def _no_horizontal_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), page.url


def test_patient_record_in_chromium_at_360px(live_server, phone_page, make_user):
    make_user("sage_femme", username="sf.kone")
    page = phone_page
    sign_in(page, live_server, "sf.kone")
    click_and_wait(page, "text=Nouveau patient")

    mother = {"family_name": "Traoré", "first_names": "Aminata", "birth_date": "1996-02-11",
              "village": "Pelengana", "phone": "76 12 34 56"}
    _fill(page, mother)
    page.check('input[name="sex"][value="F"]')
    click_and_wait(page, "button.primary")
    assert page.locator("h1").inner_text() == "Traoré Aminata"

    # The same woman, written the Bambara way: the EMR offers her record first.
    page.goto(f"{live_server}/patients/nouveau")
    _fill(page, {**mother, "family_name": "Tarawele", "birth_date": "1997-01-01", "phone": ""})
    page.check('input[name="sex"][value="F"]')
    click_and_wait(page, "button.primary")
    assert page.locator(".duplicates").is_visible()
    screenshot(page, "patients-duplicate-offered-360")
    _no_horizontal_scroll(page)
    click_and_wait(page, ".duplicates a")
    assert page.locator("h1").inner_text() == "Traoré Aminata"
    assert Patient.select().count() == 1

    for query in ("traore aminata", "Traoré", "76 12"):
        page.goto(f"{live_server}/patients/")
        page.fill('[name="q"]', query)
        with page.expect_navigation():  # the results, not the empty search page being left
            page.press('[name="q"]', "Enter")
        assert page.locator(".patients li").count() == 1, query
    screenshot(page, "patients-search-360")
    click_and_wait(page, ".patients a")
    chart_url = page.url

    # A consultation: an impossible weight is refused on its field, then a 41.5 °C fever is confirmed.
    click_and_wait(page, ".programmes a:has-text('Consultation')")
    _fill(page, {"reason": "Fièvre et frissons", "temperature_c": "41,5", "weight_kg": "300",
                 "prescriptions-0-dose": "4", "prescriptions-0-times_per_day": "2",
                 "prescriptions-0-duration_days": "3"})
    page.select_option('[name="prescriptions-0-medicine"]', "al_20_120_cp")
    page.select_option('[name="diagnosis_code"]', "B50.9")
    click_and_wait(page, "button.primary")
    assert "Valeur impossible : entre 0,5 et 250 kg." in page.locator(".has-error").first.inner_text()
    assert page.input_value('[name="temperature_c"]') == "41,5"
    screenshot(page, "visit-consultation-refused-360")
    _no_horizontal_scroll(page)
    page.fill('[name="weight_kg"]', "58")
    click_and_wait(page, "button.primary")
    assert page.locator(".confirm").is_visible()
    page.check('[name="confirm"]')
    click_and_wait(page, "button.primary")
    assert page.url == chart_url and Consultation.select().count() == 1

    click_and_wait(page, ".programmes a:has-text('CPN (prénatale)')")
    _fill(page, {"gestational_age_weeks": "26", "gravidity": "3", "parity": "2", "systolic": "118",
                 "diastolic": "74", "hb_g_dl": "10,5", "iptp_dose": "2"})
    page.check('input[name="danger_signs"][value="oedemes"]')
    click_and_wait(page, "button.primary")
    assert page.url == chart_url

    # Her baby, registered from her chart (mother, household and village carried over).
    click_and_wait(page, "text=Enregistrer un enfant")
    birth = (dt.date.today() - dt.timedelta(days=75)).isoformat()
    _fill(page, {"family_name": "Coulibaly", "first_names": "Issa", "birth_date": birth})
    page.check('input[name="sex"][value="M"]')
    click_and_wait(page, "button.primary")
    child_url = page.url
    click_and_wait(page, ".programmes a:has-text('Vaccination')")
    page.select_option('[name="antigen"]', "PENTA")
    _fill(page, {"dose_number": "1", "lot": "PE2411"})
    click_and_wait(page, "button.primary")
    click_and_wait(page, ".programmes a:has-text('Croissance / nutrition')")
    _fill(page, {"weight_kg": "5,6", "height_cm": "59"})
    page.select_option('[name="position"]', "couche")
    click_and_wait(page, "button.primary")
    assert page.url == child_url
    assert Immunisation.select().count() == 1 and GrowthMeasurement.select().count() == 1
    assert "Traoré Aminata" in page.locator(".family").inner_text()
    assert page.locator(".chart-banner .banner-item").all_inner_texts()[:2] == ["2 mois", "Garçon"]

    page.goto(chart_url)
    timeline = page.locator(".timeline").inner_text()
    assert "CPN (prénatale)" in timeline and "Paludisme simple confirmé" in timeline and "Sage-femme" in timeline
    assert "Coulibaly" in page.locator(".family").inner_text()
    screenshot(page, "patient-chart-360")
    _no_horizontal_scroll(page)
    # Her banner, on top and within the phone's width: age, pregnancy, the danger sign's alert.
    banner = page.locator(".chart-banner")
    assert banner.is_visible()
    chips = banner.locator(".banner-item").all_inner_texts()
    assert chips[1] == "Femme" and chips[2].startswith("Enceinte · 26 SA") and "alerte" in chips[-1], chips
    box = banner.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360 and box["y"] < 200, box

    click_and_wait(page, "text=Résumé / lettre de référence")
    page.fill('[name="motif"]', "Œdèmes et tension à surveiller")
    click_and_wait(page, "text=Mettre à jour la lettre")
    assert "Œdèmes et tension à surveiller" in page.locator(".letter").inner_text()
    page.emulate_media(media="print")
    assert not page.locator("form").first.is_visible()
    screenshot(page, "patient-referral-letter-print-360")


def test_twins_delivery_in_chromium_at_360px(live_server, phone_page, make_user, new_patient):
    """The number of babies shows their fieldsets (babies.js); twins open two records."""
    make_user("sage_femme", username="sf.kone")
    mother = new_patient("Coulibaly", "Mariam", "F", birth_date=dt.date(1996, 7, 1))
    page = phone_page
    sign_in(page, live_server, "sf.kone")
    page.goto(f"{live_server}/patients/{mother.id}/accouchement/nouveau")
    assert not page.locator('[data-baby="2"]').is_visible()
    page.select_option('[name="babies"]', "2")
    assert page.locator('[data-baby="2"]').is_visible() and not page.locator('[data-baby="3"]').is_visible()
    page.fill('[name="visit_date"]', dt.date.today().isoformat())
    for name, value in (("place", "ici"), ("mode", "voie_basse"), ("outcome", "vivant"),
                        ("baby2-outcome", "vivant")):
        page.select_option(f'[name="{name}"]', value)
    _fill(page, {"gestational_age_weeks": "37", "birth_weight_g": "2600", "baby2-birth_weight_g": "2450",
                 "newborn_family_name": "Coulibaly", "newborn_first_names": "Awa", "baby2-first_names": "Adama"})
    page.check('input[name="baby_sex"][value="F"]')
    page.check('input[name="baby2-sex"][value="M"]')
    page.check('[name="create_newborn"]')
    page.check('[name="baby2-open_record"]')
    screenshot(page, "visit-delivery-twins-360")
    _no_horizontal_scroll(page)
    click_and_wait(page, "button.primary")
    assert page.url.endswith(f"/patients/{mother.id}"), page.url
    twins = Patient.select().where(Patient.mother == mother.id).order_by(Patient.id)
    assert [(twin.first_names, twin.sex) for twin in twins] == [("Awa", "F"), ("Adama", "M")]
    assert "Bébé 2 : né vivant · 2450 g · garçon" in page.locator(".timeline").inner_text()
