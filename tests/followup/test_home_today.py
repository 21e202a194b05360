"""Home = today: each role's counts and first items, urgent alerts first, the search box and the
navigation on every page."""

from __future__ import annotations

import re

import pytest

from appliance.followup import queries
from appliance.patients.models import GrowthMeasurement
from tests.conftest import text_of
from tests.followup.conftest import TODAY

SECTION = re.compile(r'<section class="today card[^"]*" data-section="(\d+)">\s*<h2><a href="([^"]+)">([^<]+)</a> '
                     r'<span class="count">(\d+)</span>')


def sections(response) -> list[tuple[str, str, int]]:
    """(list address, title, count) of each home section, in page order."""
    return [(url, title, int(count)) for _order, url, title, count in SECTION.findall(response.get_data(as_text=True))]


@pytest.fixture
def village_day(person, visit):
    """A child due this week, one late, a malnourished child (an urgent alert), a woman due for CPN."""
    soon = person("Soon", age_days=38)
    late = person("Late", age_days=60)
    thin = person("Oumou", age_days=400)
    visit(thin, GrowthMeasurement(visit_date=TODAY, weight_kg=7.0, height_cm=74, position="couche", muac_mm=112))
    return soon, late, thin


def test_the_nurse_sees_urgent_alerts_first_then_her_list_with_counts(login_as, village_day):
    soon, late, thin = village_day
    nurse = login_as("infirmier")
    home = nurse.get("/")
    found = sections(home)
    assert [url for url, _title, _count in found] == ["/alertes", "/a-revoir"]
    counts = queries.window_counts(("pev", "croissance"), TODAY)
    assert found[1][2] == sum(counts.values()) > 0
    page = text_of(home)
    assert f"{counts['semaine']} cette semaine · {counts['retard']} en retard" in page
    assert "1 urgente" in page and "Traoré Oumou" in page
    first_lines = re.findall(r'<li(?: class="urgent")?><a href="/patients/(\d+)">', home.get_data(as_text=True))
    assert first_lines[0] == str(thin.id)  # the alert's line
    assert first_lines.index(str(soon.id)) < first_lines.index(str(late.id))  # this week before the delays


def test_the_midwife_sees_her_programmes(login_as, village_day):
    midwife = login_as("sage_femme")
    found = sections(midwife.get("/"))
    assert found[1][2] == sum(queries.window_counts(("cpn", "cpon", "pf"), TODAY).values())


def test_without_urgent_alerts_the_list_comes_first(login_as, person):
    person("Soon", age_days=38)
    doctor = login_as("medecin")
    assert [url for url, _title, _count in sections(doctor.get("/"))] == ["/a-revoir", "/alertes"]


def test_the_admin_has_no_clinical_lists_but_the_same_navigation(login_as, village_day):
    admin = login_as("admin")
    home = admin.get("/")
    assert sections(home) == []
    html = home.get_data(as_text=True)
    assert 'class="bottom-nav"' in html and "Batterie</a>" in html
    assert "/a-revoir" not in html


@pytest.mark.parametrize("role", ["infirmier", "sage_femme", "medecin", "agent_saisie"])
def test_every_page_has_the_search_box_and_the_bottom_navigation(login_as, role):
    web = login_as(role)
    for url in ("/", "/patients/", "/a-revoir", "/alertes"):
        html = web.get(url).get_data(as_text=True)
        assert 'role="search"' in html and 'name="q"' in html, url
        nav = r'<nav class="bottom-nav"[^>]*>.*href="/".*href="/patients/".*href="/a-revoir"'
        assert re.search(nav, html, re.S), url
