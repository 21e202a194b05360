"""The coverage, records and population pages: who may read and edit, what they show."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.facility.models import AreaPopulation, CoverageTarget
from appliance.patients.models import Immunisation
from appliance.store.models import AuditEntry
from tests.reports.factories import make_patient, make_visit

YEAR = dt.date.today().year


@pytest.fixture
def doses(store):
    child = make_patient("F", dt.date(YEAR, 1, 1) - dt.timedelta(days=60), name="Keita")
    make_visit(Immunisation, child, dt.date(YEAR, 1, 5), antigen="PENTA", dose_number=1)
    return child


def test_the_head_enters_population_and_targets_then_reads_coverage(login_as, doses):
    head = login_as("medecin")
    page = head.get(f"/population/?annee={YEAR}")
    assert page.status_code == 200 and "Population et cibles" in page.text
    saved = head.post("/population/", {"annee": YEAR, "village": ["Sama", "Kalaké"], "habitants": ["1 000", "500"],
                                       "source": ["recensement", ""], "cible_penta3": "92"})
    assert saved.status_code == 302
    assert AreaPopulation.select().where(AreaPopulation.year == YEAR).count() == 2
    assert CoverageTarget.get(CoverageTarget.indicator == "penta3").target_pct == 92
    assert AuditEntry.select().where(AuditEntry.table_name == "coverage_target").count() == 1
    coverage = head.get(f"/couverture/?annee={YEAR}")
    assert coverage.status_code == 200
    assert "1 500 habitants" in coverage.text and "Penta1" in coverage.text
    assert "Abandon Penta1 → Penta3" in coverage.text
    assert f"/couverture/{YEAR}/penta1" in coverage.text
    records = head.get(f"/couverture/{YEAR}/penta1")
    assert records.status_code == 200 and "Keita" in records.text and "1 dossier(s)" in records.text
    assert head.get(f"/couverture/{YEAR}/penta1?mois=1").status_code == 200
    assert head.get(f"/couverture/{YEAR}/inconnu").status_code == 404
    assert head.get(f"/couverture/{YEAR}/penta1?mois=13").status_code == 404


def test_a_wrong_line_keeps_nothing_and_says_which(login_as, store):
    head = login_as("medecin")
    page = head.post("/population/", {"annee": YEAR, "village": ["Sama", "Kalaké"], "habitants": ["1000", "beaucoup"],
                                      "source": ["", ""], "cible_penta3": "150"})
    assert page.status_code == 200
    assert "pas un nombre d" in page.text and "Objectif entre 0 et 100" in page.text
    assert 'value="beaucoup"' in page.text  # what was typed is kept
    assert AreaPopulation.select().count() == 0 and CoverageTarget.select().count() == 0


def test_only_the_head_edits_others_read(login_as, store):
    nurse = login_as("infirmier")
    assert nurse.get("/couverture/").status_code == 200
    page = nurse.get("/population/")
    assert page.status_code == 200 and "Seul le médecin chef" in page.text
    assert nurse.post("/population/", {"annee": YEAR, "village": ["Sama"], "habitants": ["10"]}).status_code == 403
    assert AreaPopulation.select().count() == 0
