"""Vaccination schedule (Mali PEV): catch-up, invalid doses, age limits, cards, seasons, stable ids."""

from datetime import date, timedelta

import pytest

from appliance.clinical.schedules import GivenDose, PatientFacts, follow_up

BIRTH = date(2026, 1, 10)


def weeks(n):
    return BIRTH + timedelta(weeks=n)


def child(*doses, birth=BIRTH, patient_id="p1"):
    return PatientFacts(patient_id=patient_id, birth_date=birth, sex="F", doses=tuple(doses))


def vaccines(result):
    return {item.rule_id.removeprefix("pev."): item for item in result.items if item.programme == "pev"}


def given(code, day, elsewhere=False):
    return GivenDose(code, day, elsewhere)


def test_newborn_gets_birth_doses_then_the_6_week_visit():
    at_birth = vaccines(follow_up(child(), BIRTH))
    assert at_birth["bcg"].due_on == BIRTH
    assert at_birth["vpo0"].due_on == BIRTH
    assert at_birth["vpo0"].expires_on == BIRTH + timedelta(days=15)  # VPO 0 up to 14 days
    assert at_birth["bcg"].expires_on == date(2027, 1, 10)  # BCG before the first birthday
    assert {at_birth[code].due_on for code in ("penta1", "vpo1", "pcv1", "rota1")} == {weeks(6)}
    assert at_birth["vpi1"].due_on == weeks(14)
    assert {at_birth[code].due_on for code in ("rr1", "vaa", "mena")} == {date(2026, 10, 10)}
    assert at_birth["palu1"].due_on == date(2026, 6, 10)  # R21 from 5 months
    assert "vpi2" not in at_birth  # inactive series in the data file
    assert at_birth["penta1"].overdue_on == weeks(6) + timedelta(days=14)


def test_only_the_next_dose_of_a_series_is_listed_and_recording_it_closes_the_item():
    today = weeks(6)
    before = vaccines(follow_up(child(given("bcg", BIRTH), given("vpo0", BIRTH)), today))
    assert "penta2" not in before
    penta1_item = before["penta1"]
    after = vaccines(follow_up(child(given("bcg", BIRTH), given("vpo0", BIRTH), given("penta1", today)), today))
    assert "penta1" not in after
    assert penta1_item.id not in {item.id for item in after.values()}
    assert after["penta2"].due_on == weeks(10)
    assert "bcg" not in after and "vpo0" not in after


def test_ids_are_stable_when_recomputed():
    facts = child(given("bcg", BIRTH), given("penta1", weeks(7)))
    first = [item.id for item in follow_up(facts, weeks(8)).items]
    again = [item.id for item in follow_up(facts, weeks(9)).items]
    assert first == again
    assert "p1~pev.penta2~" + (weeks(11)).isoformat() in first


def test_late_start_next_dose_at_previous_plus_minimum_interval():
    # First seen at 5 months: everything from 6 weeks is overdue at once (catch-up).
    five_months = date(2026, 6, 10)
    start = vaccines(follow_up(child(), five_months))
    assert start["penta1"].status(five_months) == "en_retard"
    # Penta 1 given at 5 months: Penta 2 four weeks later, not at 10 weeks of age.
    later = vaccines(follow_up(child(given("penta1", five_months)), five_months))
    assert later["penta2"].due_on == five_months + timedelta(weeks=4)
    assert later["penta2"].status(five_months) == "a_venir"


def test_dose_too_close_is_invalid_and_repeated_after_the_minimum_interval():
    penta1 = weeks(6)
    too_soon = penta1 + timedelta(days=20)
    today = too_soon + timedelta(days=1)
    result = follow_up(child(given("penta1", penta1), given("penta2", too_soon)), today)
    assert [(dose.code, dose.given_on) for dose in result.invalid_doses] == [("penta2", too_soon)]
    assert result.invalid_doses[0].reason == "Penta 2 trop proche de Penta 1 : 20 jours après, minimum 28 jours"
    repeat = vaccines(result)["penta2"]
    assert repeat.due_on == too_soon + timedelta(weeks=4)
    assert repeat.note == "dose à refaire (dose précédente non valide)"
    assert "penta3" not in vaccines(result)


def test_dose_below_minimum_age_is_invalid():
    early = weeks(5)
    result = follow_up(child(given("penta1", early)), weeks(5) + timedelta(days=1))
    assert result.invalid_doses[0].reason == "Penta 1 trop tôt : à 35 jours, âge minimum 42 jours"
    assert vaccines(result)["penta1"].due_on == early + timedelta(weeks=4)


def test_impossible_dates_are_invalid():
    result = follow_up(child(given("bcg", BIRTH - timedelta(days=1)), given("vpo0", BIRTH + timedelta(days=30))),
                       BIRTH + timedelta(days=5))
    assert [dose.reason for dose in result.invalid_doses] == ["date avant la naissance", "date dans le futur"]


@pytest.mark.parametrize(
    ("code", "last_day", "first_day_too_late"),
    [
        ("vpo0", BIRTH + timedelta(days=14), BIRTH + timedelta(days=15)),
        ("bcg", date(2027, 1, 9), date(2027, 1, 10)),
        ("rota1", date(2028, 1, 9), date(2028, 1, 10)),
    ],
)
def test_age_limit_passed_drops_the_item_and_reports_it_missed(code, last_day, first_day_too_late):
    still = follow_up(child(), last_day)
    assert code in vaccines(still)
    assert vaccines(still)[code].status(last_day) == "en_retard"
    late = follow_up(child(), first_day_too_late)
    assert code not in vaccines(late)
    assert (f"pev.{code}", first_day_too_late) in {(missed.rule_id, missed.expired_on) for missed in late.missed}


def test_missed_polio_zero_does_not_block_the_6_week_polio():
    result = follow_up(child(), weeks(6))
    assert "vpo0" not in vaccines(result)
    assert vaccines(result)["vpo1"].due_on == weeks(6)


def test_series_that_cannot_finish_before_its_age_limit_is_dropped():
    # Rota 2 would be due after the 24-month limit: nothing is listed, the chart shows it missed.
    rota1 = date(2027, 12, 20)
    result = follow_up(child(given("rota1", rota1)), rota1)
    assert "rota2" not in vaccines(result)
    assert any(missed.rule_id == "pev.rota2" for missed in result.missed)


def test_child_born_elsewhere_with_a_card():
    birth = date(2025, 9, 1)
    card = (
        given("bcg", date(2025, 9, 2), elsewhere=True),
        given("vpo0", date(2025, 9, 2), elsewhere=True),
        given("penta1", date(2025, 10, 14), elsewhere=True),
        given("vpo1", date(2025, 10, 14), elsewhere=True),
        given("penta2", None, elsewhere=True),  # ticked on the card, date unreadable
    )
    today = date(2026, 1, 5)
    result = follow_up(child(*card, birth=birth), today)
    due = vaccines(result)
    assert result.invalid_doses == ()
    assert "bcg" not in due and "penta1" not in due and "penta2" not in due
    # The undated Penta 2 is assumed given as early as allowed (4 weeks after Penta 1, 11 Nov).
    assert due["penta3"].due_on == date(2025, 12, 9)
    assert due["vpo2"].due_on == date(2025, 11, 11)  # 4 weeks after the card's VPO 1
    assert due["pcv1"].due_on == birth + timedelta(weeks=6)


def test_doses_count_in_date_order_whatever_number_the_card_shows():
    result = follow_up(child(given("penta1", weeks(6)), given("penta3", weeks(11))), weeks(12))
    assert vaccines(result)["penta3"].due_on == weeks(15)  # two doses counted: the third is due
    assert "penta2" not in vaccines(result)


def test_unknown_vaccine_code_is_reported_not_fatal():
    result = follow_up(child(given("hepb0", BIRTH)), BIRTH)
    assert [(dose.code, dose.reason) for dose in result.invalid_doses] == [("hepb0", "vaccin absent du calendrier")]
    assert "bcg" in vaccines(result)


def test_measles_rubella_second_dose():
    rr1 = date(2026, 10, 12)
    due = vaccines(follow_up(child(given("rr1", rr1)), rr1))
    assert due["rr2"].due_on == date(2027, 4, 10)  # 15 months of age
    late = date(2027, 9, 1)
    due = vaccines(follow_up(child(given("rr1", late)), late))
    assert due["rr2"].due_on == late + timedelta(weeks=4)


def test_malaria_vaccine_monthly_doses_then_seasonal_booster():
    doses = (given("palu1", date(2026, 6, 10)), given("palu2", date(2026, 7, 10)),
             given("palu3", date(2026, 8, 10)))
    result = follow_up(child(*doses), date(2026, 8, 10))
    boosters = [item for item in result.items if item.rule_id == "pev.palu4"]
    # At least 6 months after dose 3 and 12 months of age: the May-June 2027 season, then the
    # following seasons until 5 years, each expiring when its season ends.
    assert [(item.due_on, item.expires_on) for item in boosters] == [
        (date(2027, 5, 1), date(2027, 7, 1)),
        (date(2028, 5, 1), date(2028, 7, 1)),
        (date(2029, 5, 1), date(2029, 7, 1)),
        (date(2030, 5, 1), date(2030, 7, 1)),
    ]
    assert len({item.id for item in boosters}) == 4
    # Season missed: the 2027 item is gone by July, the next season remains.
    july = follow_up(child(*doses), date(2027, 7, 2))
    assert next(item.due_on for item in july.items if item.rule_id == "pev.palu4") == date(2028, 5, 1)
    # Dose 4 given in May 2027: dose 5 is due in the next season.
    with_booster = follow_up(child(*doses, given("palu4", date(2027, 5, 15))), date(2027, 5, 15))
    assert next(item.due_on for item in with_booster.items if item.rule_id == "pev.palu5") == date(2028, 5, 1)


def test_malaria_vaccine_first_dose_limited_to_36_months():
    result = follow_up(child(birth=date(2023, 1, 1)), date(2026, 2, 1))  # 37 months
    assert "palu1" not in vaccines(result)
    assert any(missed.rule_id == "pev.palu1" for missed in result.missed)


def test_status_moves_from_upcoming_to_due_to_overdue_to_expired():
    item = vaccines(follow_up(child(), BIRTH))["vpo0"]
    assert item.status(BIRTH - timedelta(days=1)) == "a_venir"
    assert item.status(BIRTH) == "du"
    assert item.status(BIRTH + timedelta(days=14)) == "en_retard"
    assert item.status(BIRTH + timedelta(days=15)) == "expire"
