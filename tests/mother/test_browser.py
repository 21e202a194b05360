"""A midwife follows one woman in real Chromium at 360 px, from her first antenatal contact to the
week-6 postnatal contact with twins, never typing a date twice: the LMP, gravidity and parity are
typed once; every later form comes filled; the twins' birth dates come from the delivery."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.followup.models import FollowupItem
from appliance.patients.models import AntenatalVisit, Patient, PostnatalVisit, Pregnancy
from tests.conftest import click_and_wait, screenshot, sign_in

pytestmark = pytest.mark.slow

TODAY = dt.date.today()


def _day(days_ago: int) -> str:
    return (TODAY - dt.timedelta(days=days_ago)).isoformat()


def _no_horizontal_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), page.url


def _save(page, patient_id: int) -> None:
    click_and_wait(page, "button.primary")
    assert page.url.endswith(f"/patients/{patient_id}"), page.locator("main").inner_text()[:1500]


def test_one_woman_from_first_contact_to_week_six_with_twins(live_server, phone_page, make_user, new_patient):
    make_user("sage_femme", username="sf.kone")
    woman = new_patient("Coulibaly", "Mariam", "F", birth_date=dt.date(1996, 7, 1))
    page = phone_page
    sign_in(page, live_server, "sf.kone")

    lmp = _day(42 + 38 * 7)  # delivered at 38 weeks, 42 days ago
    # First contact at 12 weeks: the only time the LMP, gravidity, parity and history are typed.
    page.goto(f"{live_server}/patients/{woman.id}/cpn/nouveau")
    assert page.locator('[name="contact_number"]').count() == 0  # computed, never typed
    page.fill('[name="visit_date"]', _day(42 + 26 * 7))
    page.fill('[name="lmp_date"]', lmp)
    for name, value in (("gravidity", "3"), ("parity", "2"), ("height_cm", "160"), ("systolic", "110"),
                        ("diastolic", "70"), ("iron_folic_tablets", "30"), ("td_dose", "1")):
        page.fill(f'[name="{name}"]', value)
    page.check('[name="multiple_pregnancy"]')
    page.check('[name="net_given"]')
    page.check('[name="iron_folic"]')
    screenshot(page, "mother-cpn1-360")
    _no_horizontal_scroll(page)
    _save(page, woman.id)
    assert "G3 P2" in page.locator("main").inner_text() and Pregnancy.get().multiple

    # Later contacts: only the day of the visit and what was seen.
    for weeks, extra in ((20, {"iptp_dose": "1", "td_dose": "2"}), (26, {"iptp_dose": "2"}),
                         (30, {"iptp_dose": "3"})):
        page.goto(f"{live_server}/patients/{woman.id}/cpn/nouveau")
        assert page.locator('[name="lmp_date"]').input_value() == lmp
        assert page.locator('[name="gravidity"]').input_value() == "3"
        page.fill('[name="visit_date"]', _day(42 + (38 - weeks) * 7))
        for name, value in extra.items():
            page.fill(f'[name="{name}"]', value)
        _save(page, woman.id)
    chart = page.locator("main").inner_text()
    assert "Grossesse en cours" in chart and "prochain : CPN 5" in chart
    screenshot(page, "mother-chart-pregnancy-360")
    _no_horizontal_scroll(page)
    assert [c.contact_number for c in AntenatalVisit.select().order_by(AntenatalVisit.visit_date)] == [1, 2, 3, 4]

    # Twins, 42 days ago: one delivery date, two records born that day.
    page.goto(f"{live_server}/patients/{woman.id}/accouchement/nouveau")
    page.select_option('[name="babies"]', "2")
    page.fill('[name="visit_date"]', _day(42))
    for name, value in (("place", "ici"), ("mode", "voie_basse"), ("outcome", "vivant"),
                        ("baby2-outcome", "vivant"), ("attendant", "sage_femme")):
        page.select_option(f'[name="{name}"]', value)
    page.fill('[name="birth_weight_g"]', "2600")
    page.fill('[name="baby2-birth_weight_g"]', "2300")
    page.fill('[name="newborn_family_name"]', "Coulibaly")
    page.fill('[name="newborn_first_names"]', "Awa")
    page.fill('[name="baby2-first_names"]', "Adama")
    page.check('input[name="baby_sex"][value="F"]')
    page.check('input[name="baby2-sex"][value="M"]')
    page.check('[name="create_newborn"]')
    page.check('[name="baby2-open_record"]')
    _save(page, woman.id)
    pregnancy = Pregnancy.get()
    assert pregnancy.end_reason == "accouchement" and pregnancy.multiple
    twins = list(Patient.select().where(Patient.mother == woman.id).order_by(Patient.id))
    assert [twin.birth_date.isoformat() for twin in twins] == [_day(42), _day(42)]
    assert "Grossesse en cours" not in page.locator("main").inner_text()

    # Week 6: the mother and each twin, the visit date already today's.
    for patient in (woman, *twins):
        page.goto(f"{live_server}/patients/{patient.id}/cpon/nouveau")
        assert page.locator('[name="visit_date"]').input_value() in (TODAY.isoformat(), TODAY.strftime("%d/%m/%Y"))
        page.fill('[name="contact_number"]', "4")
        page.fill('[name="temperature_c"]', "36,8")
        if patient is woman:
            page.fill('[name="systolic"]', "115")
            page.fill('[name="diastolic"]', "70")
        else:
            page.fill('[name="weight_kg"]', "3,9")
        _save(page, patient.id)
    screenshot(page, "mother-twin-cpon4-360")
    assert PostnatalVisit.select().count() == 3
    for patient in (woman, *twins):
        assert not FollowupItem.select().where((FollowupItem.patient == patient.id)
                                               & FollowupItem.rule_id.startswith("cpon.")
                                               & (FollowupItem.rule_id != "cpon.petit_poids")).exists()
    # The smaller twin was followed for his low birth weight until a weighing of 2,500 g or more.
    assert not FollowupItem.select().where(FollowupItem.rule_id == "cpon.petit_poids").exists()
