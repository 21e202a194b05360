"""Coverage and drop-out against a small record counted by hand (comments give each count)."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.facility.coverage import coverage_year, dropout_rate, load_coverage, records_behind
from appliance.facility.population import PopulationError, area_year, record_target, record_village, targets
from appliance.patients.models import AntenatalVisit, FamilyPlanningVisit, Immunisation
from appliance.settings.reports import ReportSettings
from appliance.store.audit import system_actor
from appliance.store.models import AuditEntry
from tests.reports.factories import make_patient, make_visit

TODAY = dt.date(2024, 6, 15)
SETTINGS = ReportSettings()
HEAD = system_actor("medecin-test")


def dose(child, when, antigen, number, here=True):
    return make_visit(Immunisation, child, when, antigen=antigen, dose_number=number, given_here=here)


@pytest.fixture
def record(store):
    record_village(HEAD, 2024, "Sama", "10 000")
    record_village(HEAD, 2024, "Kalaké", 2000, "recensement 2022")  # total 12,000
    a = make_patient("F", "2024-01-10")
    dose(a, "2024-02-21", "PENTA", 1)  # penta1 Feb
    dose(a, "2024-02-22", "PENTA", 1)  # the same child twice: one person
    b = make_patient("M", "2023-12-01")
    dose(b, "2024-01-15", "PENTA", 1)  # penta1 Jan
    dose(b, "2024-03-20", "PENTA", 3)  # penta3 Mar
    c = make_patient("M", "2024-01-02")
    dose(c, "2024-03-01", "PENTA", 1, here=False)  # from the card: not given here
    d = make_patient("F", "2024-01-03", voided=True)
    dose(d, "2024-03-02", "PENTA", 1)  # voided record
    e = make_patient("F", "2023-10-01")
    dose(e, "2023-12-20", "PENTA", 1)  # last year
    f = make_patient("M", "2023-08-01")  # fully immunised before 1 year
    dose(f, "2023-08-02", "BCG", 1, here=False)
    dose(f, "2023-11-01", "PENTA", 3)
    dose(f, "2023-11-01", "VPO", 3)
    dose(f, "2024-05-02", "RR", 1)  # rr1 May, ecv May (275 days old)
    g = make_patient("F", "2023-08-01")  # no VPO3: RR1 but not fully immunised
    dose(g, "2023-08-02", "BCG", 1)
    dose(g, "2023-11-01", "PENTA", 3)
    dose(g, "2024-05-03", "RR", 1)  # rr1 May
    w1 = make_patient("F", "1998-01-01")
    make_visit(AntenatalVisit, w1, "2024-04-02", contact_number=1)  # cpn1 Apr
    w2 = make_patient("F", "1999-01-01")
    make_visit(AntenatalVisit, w2, "2024-06-20", contact_number=1)  # after today: not yet
    w3 = make_patient("F", "1995-01-01")
    make_visit(FamilyPlanningVisit, w3, "2024-01-05", method="pilule_coc", user_status="nouvelle")
    make_visit(FamilyPlanningVisit, w3, "2024-03-03", method="dmpa_sc", user_status="nouvelle")
    return {"a": a, "b": b, "f": f, "w1": w1, "w3": w3}


def row(year, code):
    return next(item for item in year.rows if item.item.code == code)


def test_numerators_denominators_and_rates_by_hand(record):
    year = coverage_year(2024, SETTINGS, TODAY)
    assert year.area.total == 12_000 and [m.period for m in year.months][-1] == "2024-06"
    penta1 = row(year, "penta1")
    assert [rate.numerator for rate in penta1.months] == [1, 1, 0, 0, 0, 0]
    assert penta1.year_to_date.numerator == 2
    assert penta1.annual_population == pytest.approx(480)  # 4 % of 12,000
    assert penta1.months[0].denominator == pytest.approx(40)
    assert penta1.year_to_date.denominator == pytest.approx(240)  # six months
    assert penta1.year_to_date.percent == pytest.approx(100 * 2 / 240)
    assert row(year, "penta3").year_to_date.numerator == 1
    assert row(year, "rr1").year_to_date.numerator == 2
    assert [rate.numerator for rate in row(year, "ecv").months] == [0, 0, 0, 0, 1, 0]
    cpn1 = row(year, "cpn1")
    assert cpn1.year_to_date.numerator == 1 and cpn1.year_to_date.denominator == pytest.approx(300)  # 5 %
    fp = row(year, "pf_nouvelles")
    assert [rate.numerator for rate in fp.months] == [1, 0, 1, 0, 0, 0]
    assert fp.year_to_date.numerator == 1  # one woman, two new methods
    dropouts = {item.dropout.code: item for item in year.dropouts}
    assert dropouts["penta1_penta3"].year_to_date == pytest.approx(50.0)
    assert dropouts["penta1_penta3"].too_high
    assert dropouts["penta1_rr1"].year_to_date == pytest.approx(0.0)  # 2 − 2
    assert dropouts["penta1_penta3"].months[:3] == [pytest.approx(100.0), pytest.approx(100.0), None]  # Mar: no Penta1


@pytest.mark.parametrize("code", ["penta1", "penta3", "rr1", "ecv", "cpn1", "pf_nouvelles", "accouchements"])
def test_the_records_behind_add_up_to_the_numerator(record, code):
    item = load_coverage().items[code]
    year = coverage_year(2024, SETTINGS, TODAY)
    listed = records_behind(item, dt.date(2024, 1, 1), dt.date(2024, 6, 30), SETTINGS, TODAY)
    assert len(listed) == row(year, code).year_to_date.numerator
    for number, month in enumerate(year.months):
        assert len(records_behind(item, month.start, month.end, SETTINGS, TODAY)) == \
            row(year, code).months[number].numerator


def test_drill_down_names_the_people(record):
    listed = records_behind(load_coverage().items["penta1"], dt.date(2024, 1, 1), dt.date(2024, 6, 30),
                            SETTINGS, TODAY)
    assert [(item.patient_id, item.event_date) for item in listed] == [
        (record["b"].id, dt.date(2024, 1, 15)), (record["a"].id, dt.date(2024, 2, 21))]
    assert "dose 1" in listed[0].detail


def test_population_and_targets_are_audited_and_checked(record):
    assert AuditEntry.select().where(AuditEntry.table_name == "area_population").count() == 2
    record_village(HEAD, 2024, "SAMA", 11_000)  # the same village (place key): changed, not added
    assert area_year(2024).total == 13_000
    assert area_year(2026).entered_for == 2024  # a later year without figures uses the latest
    with pytest.raises(PopulationError) as refused:
        record_village(HEAD, 2024, "Sama", "beaucoup")
    assert refused.value.field == "habitants"
    record_target(HEAD, 2024, "penta3", "92,5", set(load_coverage().items))
    assert targets(2024, {"penta3": 90.0, "rr1": 90.0}) == {"penta3": 92.5, "rr1": 90.0}
    with pytest.raises(PopulationError):
        record_target(HEAD, 2024, "penta3", "120", set(load_coverage().items))


def test_no_population_means_no_rate_rather_than_a_division_by_zero(store):
    year = coverage_year(2024, SETTINGS, TODAY)
    assert row(year, "penta1").year_to_date.percent is None


def test_dropout_formula():
    assert dropout_rate(200, 170) == pytest.approx(15.0)
    assert dropout_rate(0, 0) is None


def test_the_figures_follow_every_write_even_between_two_readings(record):
    from appliance.facility.coverage import coverage_year as read
    from appliance.store.audit import audited_void

    assert row(read(2024, SETTINGS, TODAY), "penta3").year_to_date.numerator == 1
    child = make_patient("M", "2023-12-01")
    dose(child, "2024-04-01", "PENTA", 3)  # a new row
    assert row(read(2024, SETTINGS, TODAY), "penta3").year_to_date.numerator == 2
    penta3 = Immunisation.get(Immunisation.patient == record["b"].id, Immunisation.dose_number == 3)
    audited_void(HEAD, penta3, "saisie en double")  # no new row: the audit entry says it changed
    assert row(read(2024, SETTINGS, TODAY), "penta3").year_to_date.numerator == 1
    record_village(HEAD, 2024, "Sama", 20_000)
    assert read(2024, SETTINGS, TODAY).area.total == 22_000


def test_the_demo_gives_its_area_a_population_so_make_run_shows_rates(store):
    from appliance.demo import seed_demo

    seed_demo(store, patients=300, seed=5, today=TODAY)
    area = area_year(2024)
    assert area.entered_for == 2024 and area.total > 300
    assert {row.source for row in area.villages} == {"démonstration"}
    year = coverage_year(2024, SETTINGS, TODAY)
    assert all(item.year_to_date.denominator > 0 for item in year.rows)
    assert sum(item.year_to_date.numerator for item in year.rows) > 0
