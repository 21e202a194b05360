"""Each role's day in real Chromium at 360 × 740: home = today in the right order, À revoir this
week first, the one-tap vaccination session that a back-and-resubmit cannot save twice, the
navigation at hand and touch targets of at least 44 px. Screenshots in build/screenshots/."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.patients.models import AntenatalVisit, GrowthMeasurement, Immunisation
from appliance.patients.registry import Identity, register_patient
from appliance.patients.visits import record_visit
from appliance.store.audit import system_actor
from tests.conftest import click_and_wait, screenshot, sign_in

pytestmark = pytest.mark.slow

TODAY = dt.date.today()
TARGETS = ("a.button, button:not(.link), .bottom-nav a, .actions a, .today-lines a, .today h2 a, "
           "input:not([type=hidden]):not([type=checkbox]):not([type=radio]), select")


def _village() -> dict:
    """A village's week: a child due this week, one late, a malnourished child, a pregnant woman."""
    actor = system_actor("tests")

    def person(first: str, sex: str, days: int):
        return register_patient(actor, Identity(family_name="Traoré", first_names=first, sex=sex,
                                                birth_date=TODAY - dt.timedelta(days=days), village="Pelengana"),
                                site_id="demo-cscom")

    people = {"soon": person("Soon", "F", 38), "late": person("Late", "M", 60), "thin": person("Oumou", "F", 400),
              "mother": person("Mariam", "F", 25 * 365), "nine": person("Issa", "M", 275)}
    record_visit(actor, people["thin"], GrowthMeasurement(visit_date=TODAY, weight_kg=7.0, height_cm=74,
                                                          position="couche", muac_mm=112))
    record_visit(actor, people["mother"], AntenatalVisit(visit_date=TODAY - dt.timedelta(days=40),
                                                         gestational_age_weeks=16))
    return people


def _fits_a_phone(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), page.url
    small = page.evaluate("""(selector) => [...document.querySelectorAll(selector)]
        .filter(el => el.offsetParent !== null && !el.closest('.no-touch-check'))
        .map(el => [el.getBoundingClientRect().height, el.textContent.trim().slice(0, 30) || el.name])
        .filter(([height]) => height < 43.5)""", TARGETS)
    assert small == [], (page.url, small)


def _sections(page) -> list[str]:
    return page.eval_on_selector_all("section.today h2 a", "links => links.map(a => a.getAttribute('href'))")


@pytest.fixture
def day(live_server, make_user):
    for role, username in (("infirmier", "inf.kone"), ("sage_femme", "sf.diarra"), ("medecin", "dr.sidibe"),
                           ("admin", "adm.coulibaly")):
        make_user(role, username=username)
    return live_server, _village()


def test_the_nurse_day(day, phone_page):
    base, people = day
    page = phone_page
    sign_in(page, base, "inf.kone", wait_for_home=True)
    assert _sections(page) == ["/alertes", "/a-revoir"]  # a malnourished child: the alert first
    assert page.locator("section.today-urgent .today-lines a").first.inner_text() == "Traoré Oumou"
    _fits_a_phone(page)
    screenshot(page, "staff-home-nurse-360")
    page.click(".bottom-nav >> text=À revoir")
    page.wait_for_url(f"{base}/a-revoir")
    order = page.eval_on_selector_all("[data-patient]", "rows => rows.map(r => Number(r.dataset.patient))")
    assert order.index(people["soon"].id) < order.index(people["late"].id)
    _fits_a_phone(page)

    page.goto(f"{base}/patients/{people['nine'].id}")
    _fits_a_phone(page)
    screenshot(page, "staff-chart-child-360")
    click_and_wait(page, "text=Séance de vaccination : toutes les doses dues")
    doses = page.locator("fieldset.dose").count()
    assert doses >= 4  # the 9-month visit: measles-rubella, MenA, yellow fever and the late ones
    _fits_a_phone(page)
    screenshot(page, "staff-vaccination-session-360")
    page.click("button.primary")  # one tap: every dose given
    page.wait_for_url(f"{base}/patients/{people['nine'].id}/vaccins/carte")
    assert Immunisation.select().count() == doses
    screenshot(page, "staff-vaccination-card-360")
    page.go_back()  # the session again: it says it is saved, and sending it again adds nothing
    assert "Ce formulaire est déjà enregistré" in page.inner_text("main")
    assert Immunisation.select().count() == doses


def test_the_midwife_day(day, phone_page):
    base, people = day
    page = phone_page
    sign_in(page, base, "sf.diarra", wait_for_home=True)
    assert "/a-revoir" in _sections(page)
    _fits_a_phone(page)
    page.click(".bottom-nav >> text=À revoir")
    page.wait_for_url(f"{base}/a-revoir")
    assert people["mother"].id in page.eval_on_selector_all(
        "[data-patient]", "rows => rows.map(r => Number(r.dataset.patient))")
    page.goto(f"{base}/patients/{people['mother'].id}")
    assert "née le" in page.inner_text(".identity")
    _fits_a_phone(page)
    screenshot(page, "staff-chart-mother-360")


def test_the_doctor_day(day, phone_page):
    base, people = day
    page = phone_page
    sign_in(page, base, "dr.sidibe", wait_for_home=True)
    assert _sections(page) == ["/alertes", "/a-revoir"]
    page.fill("#quick-q", "traore")
    page.press("#quick-q", "Enter")
    page.wait_for_url("**/patients/?q=traore")
    assert page.locator(".patients li").count() == len(people)
    _fits_a_phone(page)
    screenshot(page, "staff-search-doctor-360")


def test_the_admin_day(day, phone_page):
    base, _people = day
    page = phone_page
    sign_in(page, base, "adm.coulibaly", wait_for_home=True)
    assert _sections(page) == []
    assert page.locator(".bottom-nav >> text=Batterie").is_visible()
    _fits_a_phone(page)
    screenshot(page, "staff-home-admin-360")
