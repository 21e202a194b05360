"""Access by sex and age (by hand), the trend chart's SVG, and the chronic-care, access and review pages."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from flask_babel import force_locale

from appliance.emr.trend_chart import Series, nice_ceiling, trend_svg
from appliance.facility.access import access_year, structure, trend
from appliance.facility.population import area_year, record_village
from appliance.patients.models import ChronicVisit, Consultation, Patient
from appliance.reports.builder import Month
from appliance.store.audit import system_actor
from tests.reports.factories import make_patient, make_visit

BOUNDS = [0, 1, 5, 15, 25, 50]
TODAY = dt.date(2024, 12, 31)


@pytest.fixture
def consultations(store):
    record_village(system_actor("t"), 2024, "Sama", 10_000)
    girl = make_patient("F", "2020-06-01")  # 3 years old in 2024: 1–4
    make_visit(Consultation, girl, "2024-02-01")
    make_visit(Consultation, girl, "2024-03-01")
    make_visit(Consultation, girl, "2024-03-05", voided=True)  # voided: not counted
    man = make_patient("M", "1990-01-01")  # 34: 25–49
    make_visit(Consultation, man, "2024-05-01")
    make_visit(Consultation, man, "2023-12-31")  # last year
    for patient, opened in ((girl, dt.datetime(2024, 2, 1, 9)), (man, dt.datetime(2023, 5, 1, 9))):
        Patient.update(registered_at=opened).where(Patient.id == patient.id).execute()
    other = make_patient("F", "1980-01-01")
    other.village, other.village_key, other.registered_at = "Kalaké", "kalake", dt.datetime(2024, 7, 1, 9)
    other.save()
    make_visit(Consultation, other, "2024-07-01")  # a village without population figures
    return girl, man


def test_consultations_per_inhabitant_by_sex_and_band_by_hand(consultations):
    result = access_year(2024, BOUNDS, area_year(2024), TODAY)
    cell = next(cell for cell in result.cells if cell.sex == "F" and cell.band == "1_4")
    assert cell.consultations == 2 and cell.first_contacts == 1
    assert cell.population == pytest.approx(10_000 * 0.143 * 0.5)
    assert cell.per_inhabitant == pytest.approx(2 / 715)
    man = next(cell for cell in result.cells if cell.sex == "M" and cell.band == "25_49")
    assert (man.consultations, man.first_contacts) == (1, 0)  # registered in 2023
    assert result.total().consultations == 4 and result.total("F").consultations == 3
    assert result.total().population == pytest.approx(10_000)
    villages = {line.village: (line.consultations, line.inhabitants) for line in result.villages}
    assert villages == {"Sama": (3, 10_000), "Kalaké": (1, None)}


def test_a_year_in_progress_prorates_the_population(consultations):
    result = access_year(2024, BOUNDS, area_year(2024), dt.date(2024, 7, 1))  # 183 of 366 days
    assert result.total().population == pytest.approx(10_000 * 183 / 366)


def test_other_bands_than_the_structure_give_no_rate(consultations):
    result = access_year(2024, [0, 5, 15], area_year(2024), TODAY)
    assert all(cell.population is None for cell in result.cells)


def test_trend_counts_each_month(consultations):
    shown = trend(Month.parse("2024-12"))
    assert len(shown.months) == 24 and shown.months[0].period == "2023-01"
    assert shown.consultations["F"][13:15] == [1, 1]  # February, March 2024
    assert shown.consultations["M"][11] == 1  # December 2023
    assert [shown.first_contacts[index] for index in (4, 13, 18)] == [1, 1, 1]  # May 2023, Feb and Jul 2024
    assert sum(shown.first_contacts) == 3


def test_the_chart_is_valid_svg_without_script():
    svg = trend_svg("Titre", ["01/24", "02/24", "03/24"], [Series("A", "#000", [1, None, 3]),
                                                          Series("B", "#111", [0, 2, 2])])
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and "script" not in svg and "style=" not in svg
    assert svg.count("<polyline") == 1  # A breaks at its gap (two lone dots, no line); B one line
    assert svg.count("<circle") == 5
    assert nice_ceiling(7) == 10 and nice_ceiling(230) == 250 and nice_ceiling(0) == 1
    assert structure().bands == tuple(BOUNDS)


def test_the_chart_values_follow_the_readers_language(app):
    series = [Series("A", "#000", [0.5, 1.5, 2.5])]
    with app.test_request_context():
        french = trend_svg("Titre", ["01/24", "02/24", "03/24"], series)
        with force_locale("en"):
            english = trend_svg("Title", ["01/24", "02/24", "03/24"], series)
    assert "A 03/24 : 2,5</title>" in french and ">1,25</text>" in french
    assert "A 03/24 : 2.5</title>" in english and ">1.25</text>" in english


def test_pages_of_the_head(login_as, store):
    record_village(system_actor("t"), dt.date.today().year, "Sama", 5000)
    patient = make_patient("F", "1960-01-01", name="Coulibaly")
    make_visit(ChronicVisit, patient, dt.date.today() - dt.timedelta(days=200), systolic=165, diastolic=100)
    make_visit(ChronicVisit, patient, dt.date.today() - dt.timedelta(days=5), systolic=150, diastolic=95,
               treatment="amlodipine 5 mg")
    make_visit(Consultation, patient, dt.date.today())
    head = login_as("medecin")
    chronic = head.get("/chronique/")
    assert chronic.status_code == 200 and "Coulibaly" in chronic.text and "Étape 2" in chronic.text
    assert head.get("/chronique/?programme=diabete").status_code == 200
    assert head.get("/chronique/?programme=asthme").status_code == 404
    access = head.get("/acces/")
    assert access.status_code == 200 and access.text.count("<svg") == 2
    review = head.get("/revue/")
    assert review.status_code == 200 and "data-print" in review.text and "Hypertension" in review.text
    assert "<script>" not in review.text and ' style="' not in review.text
    assert login_as("admin").get("/revue/").status_code == 200
