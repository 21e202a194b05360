"""The chart's banner (issue 17): age in words, sex, an open pregnancy, programmes and open alerts,
at the top of the chart, as staff read it on a phone."""

from __future__ import annotations

import datetime as dt
import re

from appliance.patients.models import AntenatalVisit, GrowthMeasurement
from tests.conftest import text_of
from tests.followup.conftest import TODAY, days_ago


def banner_of(response) -> list[str]:
    """The banner's chips, in order, as plain text."""
    html = response.get_data(as_text=True)
    banner = re.search(r'<p class="chart-banner" data-banner>(.*?)</p>', html, re.S)
    assert banner, "no banner on the chart"
    assert html.index("data-banner") < html.index('class="identity"')  # at the top of the chart
    return [" ".join(re.sub(r"<[^>]+>", "", chip).split())
            for chip in re.findall(r'class="banner-item[^"]*"[^>]*>(.*?)</(?:span|a)>', banner.group(1), re.S)]


def test_banner_of_a_pregnant_woman_with_an_urgent_alert(login_as, person, visit):
    woman = person("Fanta", age_days=365 * 40 + 10)
    lmp = days_ago(41 * 7 + 1)
    visit(woman, AntenatalVisit(visit_date=TODAY, lmp_date=lmp, danger_signs="", parity=6))
    chart = login_as("sage_femme").get(f"/patients/{woman.id}")
    chips = banner_of(chart)
    due = (lmp + dt.timedelta(days=280)).strftime("%d/%m/%Y")
    assert chips == ["40 ans", "Femme", f"Enceinte · 41 SA + 1 j · DPA {due}", "CPN", "1 alerte dont 1 urgente"]
    assert 'class="banner-item banner-alerts urgent" href="#alertes"' in chart.get_data(as_text=True)
    assert 'id="alertes"' in chart.get_data(as_text=True)


def test_banner_of_an_infant_gives_the_age_in_months(login_as, person, visit):
    baby = person("Awa", age_days=200)
    visit(baby, GrowthMeasurement(visit_date=TODAY, weight_kg=7.0, position="couche"))
    nurse = login_as("infirmier")
    chips = banner_of(nurse.get(f"/patients/{baby.id}"))
    assert chips == ["6 mois", "Fille", "Vaccination", "Croissance"]
    boy = person("Moussa", sex="M", age_days=365 * 2 + 40)
    assert banner_of(nurse.get(f"/patients/{boy.id}"))[:2] == ["2 ans", "Garçon"]
    assert "Enceinte" not in text_of(nurse.get(f"/patients/{boy.id}"))
