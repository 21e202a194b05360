"""Age bands: every boundary, the first birthday, 29 February, in Python and in the SQL the builder runs."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.config import ConfigError, loads
from appliance.patients.models import Consultation
from appliance.reports.ages import AgeBands, completed_years
from appliance.reports.builder import Month, count_indicator
from appliance.reports.definitions import load_definitions
from appliance.settings.reports import ReportSettings
from tests.reports.factories import make_patient, make_visit

BANDS = AgeBands.from_bounds([0, 1, 5, 15, 25, 50])
EVENT = dt.date(2024, 3, 15)


def birth_years_before(years: int, *, days_later: int = 0) -> dt.date:
    return EVENT.replace(year=EVENT.year - years) + dt.timedelta(days=days_later)


def test_default_bands_and_their_codes():
    assert BANDS.codes == ["lt1", "1_4", "5_14", "15_24", "25_49", "50p"]
    assert [band.label for band in BANDS.bands] == [
        "moins de 1 an", "1–4 ans", "5–14 ans", "15–24 ans", "25–49 ans", "50 ans et plus"]


BOUNDARIES = [(1, "lt1", "1_4"), (5, "1_4", "5_14"), (15, "5_14", "15_24"), (25, "15_24", "25_49"),
              (50, "25_49", "50p")]


@pytest.mark.parametrize(("years", "before", "on"), BOUNDARIES)
def test_each_boundary_is_crossed_on_the_birthday(years, before, on):
    assert BANDS.band_of(completed_years(birth_years_before(years, days_later=1), EVENT)).code == before
    assert BANDS.band_of(completed_years(birth_years_before(years), EVENT)).code == on


def test_a_child_on_its_first_birthday_is_1_to_4_and_the_day_before_under_1():
    birth = dt.date(2023, 3, 15)
    assert completed_years(birth, dt.date(2024, 3, 14)) == 0
    assert completed_years(birth, dt.date(2024, 3, 15)) == 1
    assert completed_years(birth, birth) == 0


def test_born_on_29_february_completes_a_year_on_1_march_in_common_years():
    birth = dt.date(2020, 2, 29)
    assert completed_years(birth, dt.date(2021, 2, 28)) == 0
    assert completed_years(birth, dt.date(2021, 3, 1)) == 1
    assert completed_years(birth, dt.date(2024, 2, 29)) == 4


@pytest.mark.parametrize(("years", "before", "on"), BOUNDARIES)
def test_sql_puts_each_boundary_in_the_same_band_as_python(store, years, before, on):
    for sex, days_later in (("F", 1), ("M", 0)):
        patient = make_patient(sex, birth_years_before(years, days_later=days_later))
        make_visit(Consultation, patient, EVENT, diagnosis_code="B50.9")
    counts = count_indicator(load_definitions().indicators["cons_paludisme"], Month.of(EVENT), ReportSettings(),
                             today=EVENT)
    assert counts == {f"F_{before}": 1, f"M_{on}": 1}


def test_sql_and_python_agree_around_29_february(store):
    leap = make_patient("F", "2020-02-29")
    for day in ("2021-02-28", "2021-03-01"):
        make_visit(Consultation, leap, day, diagnosis_code="B50.9")
    indicator = load_definitions().indicators["cons_paludisme"]
    assert count_indicator(indicator, Month.parse("2021-02"), ReportSettings(), today=EVENT) == {"F_lt1": 1}
    assert count_indicator(indicator, Month.parse("2021-03"), ReportSettings(), today=EVENT) == {"F_1_4": 1}


@pytest.mark.parametrize(("toml", "message"), [
    ("age_bands = [1, 5]", "commence à 0"),
    ("age_bands = [0, 5, 5]", "strictement croissantes"),
    ("age_bands = [0, 200]", "entre 0 et 120"),
    ("lost_after_days = 0", "lost_after_days"),
    ('age_bands = ["0"]', "nombre entier"),
])
def test_bad_band_settings_stop_start_up_with_a_clear_message(toml, message):
    with pytest.raises(ConfigError, match=message):
        loads(f'[site]\nid = "cscom"\nname = "CSCom"\n[reports]\n{toml}\n')
