"""In real Chromium at 360 px: a nurse registers a child, enters a measurement showing severe
acute malnutrition, and finds the alert on the chart and on the alerts page; the growth chart,
the worklist and the printed list for a village are screenshotted under build/screenshots/."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import pytest

from appliance.patients.models import GrowthMeasurement, Patient
from appliance.patients.normalize import place_key
from appliance.patients.visits import record_visit
from appliance.store.audit import Actor
from tests.conftest import SCREENSHOTS, click_and_wait, screenshot, sign_in

pytestmark = pytest.mark.slow


def _no_horizontal_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), page.url


def test_malnourished_child_alert_in_chromium_at_360px(live_server, phone_page, make_user):
    nurse = make_user("infirmier", username="inf.diarra")
    page = phone_page
    sign_in(page, live_server, "inf.diarra")

    click_and_wait(page, "text=Nouveau patient")
    birth = dt.date.today() - dt.timedelta(days=420)
    for name, value in {"family_name": "Diarra", "first_names": "Oumou", "birth_date": birth.isoformat(),
                        "village": "Kalaban", "household_name": "Famille Diarra"}.items():
        page.fill(f'[name="{name}"]', value)
    page.check('input[name="sex"][value="F"]')
    click_and_wait(page, "button.primary")
    chart_url = page.url
    child = Patient.get(Patient.first_names == "Oumou")
    # Two earlier weighings, as if recorded at past sessions, to draw a curve.
    actor = Actor(nurse.id, nurse.username, nurse.role)
    for days, weight, length in ((300, 6.2, 63.0), (150, 7.4, 69.5)):
        record_visit(actor, child, GrowthMeasurement(visit_date=dt.date.today() - dt.timedelta(days=days),
                                                     weight_kg=weight, height_cm=length, position="couche"))

    click_and_wait(page, ".programmes a:has-text('Croissance / nutrition')")
    page.fill('[name="weight_kg"]', "6,9")
    page.fill('[name="height_cm"]', "74")
    page.fill('[name="muac_mm"]', "108")
    page.select_option('[name="position"]', "couche")
    click_and_wait(page, "button.primary")
    if page.url != chart_url and page.locator('[name="confirm"]').count():
        page.check('[name="confirm"]')  # a very low weight-for-age asks to confirm the values
        click_and_wait(page, "button.primary")
    assert page.url == chart_url

    banner = page.locator(".alerts").inner_text()
    assert "Malnutrition aiguë sévère (MAS)" in banner and "PB 108 mm < 115 mm" in banner
    assert "en retard" in page.locator(".fu-chart-due summary").inner_text()
    assert page.locator(".fu-chart-due li:has-text('Penta 1')").is_visible()  # the to-do is open
    chart = page.locator(".fu-growth img").first
    chart.scroll_into_view_if_needed()
    assert page.evaluate("img => img.complete && img.naturalWidth > 0", chart.element_handle())
    assert page.locator(".fu-growth img").count() == 2
    screenshot(page, "followup-chart-alert-growth-360")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".fu-growth").screenshot(path=str(SCREENSHOTS / "followup-growth-chart-360.png"))
    _no_horizontal_scroll(page)

    page.goto(f"{live_server}/")
    click_and_wait(page, "text=Alertes")
    card = page.locator(f'[data-patient="{child.id}"]')
    assert "Malnutrition aiguë sévère (MAS)" in card.inner_text() and "Kalaban" in card.inner_text()
    screenshot(page, "followup-alerts-360")
    _no_horizontal_scroll(page)

    page.goto(f"{live_server}/")
    click_and_wait(page, "text=À revoir")
    assert page.locator(f'[data-patient="{child.id}"]').count() == 1
    screenshot(page, "followup-worklist-360")
    _no_horizontal_scroll(page)
    # The village list of the filters is the registry's, refreshed every few minutes: go by address.
    page.goto(f"{live_server}/a-revoir?{urlencode({'village': place_key('Kalaban')})}")
    click_and_wait(page, "text=Liste à imprimer pour les relais")
    assert "Diarra Oumou" in page.locator(".fu-print").inner_text()
    _no_horizontal_scroll(page)
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    screenshot(page, "followup-print-list")

    page.emulate_media(media="screen")
    page.goto(f"{live_server}/")
    click_and_wait(page, "text=Familles visitées ce mois")
    assert "1 / 1" in page.locator(f'[data-village="{place_key("Kalaban")}"]').inner_text()
    click_and_wait(page, f'[data-village="{place_key("Kalaban")}"] a >> nth=0')
    assert "vue" in page.locator(f'[data-household="{child.household_id}"]').inner_text()
    screenshot(page, "followup-families-seen-360")
    _no_horizontal_scroll(page)
