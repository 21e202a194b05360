"""A full PCIME consultation in real Chromium at 360 px: from the chart, tick the signs, classify,
read why, keep the proposed doses, save, print, dispense, and for a pink child the referral form.
Counts the taps and keystrokes a nurse needs; screenshots in build/screenshots/."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from appliance.patients.registry import Identity, register_patient
from appliance.pcime.models import PcimeAssessment
from appliance.stock.models import StockMove
from appliance.stock.service import receive
from appliance.store.audit import system_actor
from tests.conftest import click_and_wait, screenshot, sign_in

pytestmark = pytest.mark.slow


def _no_horizontal_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), page.url


def test_pcime_consultation_in_chromium_at_360px(live_server, phone_page, make_user):
    make_user("infirmier", username="inf.diarra")
    today = dt.date.today()
    child = register_patient(system_actor("tests"), Identity("Sangaré", "Issa", "M", today - dt.timedelta(days=430),
                                                             "Pelengana"), site_id="TEST")
    for code in ("amox_250_cpd", "al_20_120_cp", "paracetamol_100_cp", "vita_200000", "albendazole_400_cp"):
        receive(system_actor("tests"), code, 100, lot="L1", expires_on=today + dt.timedelta(days=300), moved_on=today)
    page = phone_page
    sign_in(page, live_server, "inf.diarra")
    started = time.monotonic()
    taps = 0

    page.goto(f"{live_server}/patients/{child.id}")
    click_and_wait(page, "text=Consultation PCIME")
    taps += 1
    for name, value in {"weight_kg": "9,6", "resp_rate": "45", "temperature_c": "38,6"}.items():
        page.fill(f'[name="{name}"]', value)
        taps += 1
    for sign in ("toux", "fievre_atcd", "tdr_positif"):
        page.check(f'input[name="signs"][value="{sign}"]')
        taps += 1
    click_and_wait(page, 'button[value="classer"]')
    taps += 1
    assert page.locator(".classif.jaune h3").first.inner_text().startswith("Pneumonie")
    assert "FR 45/min ≥ 40" in page.locator(".classif.jaune").first.inner_text()
    _no_horizontal_scroll(page)
    screenshot(page, "pcime-classified-360")
    assert page.locator('select[name="lines-0-medicine"]').input_value() == "amox_250_cpd"
    click_and_wait(page, 'button[value="enregistrer"]')
    taps += 1
    assert "Consultation PCIME enregistrée" in page.content()
    assert "1 comprimé 2 fois par jour pendant 5 jours" in page.content()
    _no_horizontal_scroll(page)
    click_and_wait(page, "text=Délivrer au dépôt")
    taps += 1
    assert "Médicaments délivrés" in page.content(), page.locator("main").inner_text()[:600]
    screenshot(page, "pcime-prescription-360")
    elapsed = time.monotonic() - started
    assert StockMove.select().where(StockMove.kind == "dispensation").count() == 5  # with vitamin A, albendazole due
    assert taps <= 15 and elapsed < 120, (taps, elapsed)

    # A pink child: the urgent banner, the referral form, the chart's alert.
    page.goto(f"{live_server}/patients/{child.id}/pcime/nouveau")
    page.check('input[name="signs"][value="lethargique"]')
    page.check('input[name="signs"][value="fievre_atcd"]')
    page.check('input[name="signs"][value="tdr_positif"]')
    page.fill('[name="weight_kg"]', "9,6")
    click_and_wait(page, 'button[value="classer"]')
    assert page.locator(".urgent-banner").is_visible()
    click_and_wait(page, 'button[value="enregistrer"]')
    click_and_wait(page, "text=Fiche de référence")  # read the form once there, not the page being left
    assert "Maladie fébrile très grave" in page.content()
    screenshot(page, "pcime-referral-360")
    _no_horizontal_scroll(page)
    assert PcimeAssessment.select().where(PcimeAssessment.urgent == True).count() == 1  # noqa: E712
