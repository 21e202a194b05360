"""In real Chromium at 360 px: the head reads the coverage page and opens the records behind a
figure, reads a 24-month chart, and prints the district review sheet."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.facility.population import record_village
from appliance.patients.models import ChronicVisit, Consultation, Immunisation
from appliance.store.audit import system_actor
from tests.conftest import SCREENSHOTS, click_and_wait, screenshot, sign_in
from tests.reports.factories import make_patient, make_visit

pytestmark = pytest.mark.slow

TODAY = dt.date.today()


def fits_the_phone(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= 360


def test_the_head_reads_coverage_a_chart_and_prints_the_review_sheet(live_server, phone_page, make_user):
    record_village(system_actor("t"), TODAY.year, "Sama", 1200)
    child = make_patient("F", TODAY.replace(day=1) - dt.timedelta(days=70), name="Traoré")
    make_visit(Immunisation, child, TODAY.replace(day=1), antigen="PENTA", dose_number=1)
    make_visit(Consultation, child, TODAY.replace(day=1))
    elder = make_patient("M", "1955-03-01", name="Konaté")
    make_visit(ChronicVisit, elder, TODAY - dt.timedelta(days=120), systolic=170, diastolic=100)
    make_visit(ChronicVisit, elder, TODAY - dt.timedelta(days=3), systolic=150, diastolic=92,
               treatment="amlodipine 5 mg")
    make_user("medecin", username="drdiallo")

    page = phone_page
    sign_in(page, live_server, "drdiallo")
    click_and_wait(page, "text=Couverture et cibles")  # read once loaded, not half parsed (an empty <main>)
    assert "1 200 habitants" in page.inner_text("main")
    assert "Penta1" in page.inner_text("table.coverage >> nth=0")
    assert fits_the_phone(page)  # the month table scrolls inside its box, the page does not
    screenshot(page, "facility-coverage-360")
    click_and_wait(page, f"a[href='/couverture/{TODAY.year}/penta1']")
    assert "Traoré" in page.inner_text("table.records")
    assert fits_the_phone(page)

    page.goto(f"{live_server}/")
    click_and_wait(page, "text=Accès aux soins")
    chart = page.locator("svg.chart >> nth=0")
    box = chart.bounding_box()
    assert chart.is_visible() and box["width"] <= 360 and box["height"] > 100
    assert fits_the_phone(page)
    screenshot(page, "facility-access-chart-360")

    page.goto(f"{live_server}/")
    click_and_wait(page, "text=Hypertension et diabète")
    assert "Étape 2" in page.inner_text("main") and fits_the_phone(page)
    screenshot(page, "facility-chronic-360")

    page.goto(f"{live_server}/acces/")
    click_and_wait(page, "text=Fiche de revue du district")
    assert "Hypertension et diabète" in page.inner_text("main") and fits_the_phone(page)
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible() and not page.locator("[data-print]").is_visible()
    screenshot(page, "facility-review-print")
    pdf = SCREENSHOTS / "facility-review-sheet.pdf"
    page.pdf(path=str(pdf), format="A4")
    assert pdf.stat().st_size > 10_000
