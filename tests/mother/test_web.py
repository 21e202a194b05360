"""Over HTTP: the first contact opens the pregnancy, the next contact's form comes filled with what
is known (never typed twice), the chart shows the DPA, the gestational age, the next contact number
and what is due; bad input is refused in French and nothing is saved."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.patients.models import AntenatalVisit, Pregnancy
from tests.conftest import text_of
from tests.patients.conftest import days_ago

LMP = days_ago(100)


@pytest.fixture
def midwife(login_as, new_patient):
    web = login_as("sage_femme")
    woman = new_patient("Coulibaly", "Mariam", "F", birth_date=dt.date(1996, 7, 1), household_name="Famille C")
    return web, woman


def _first(web, woman, **extra):
    data = {"visit_date": days_ago(30).isoformat(), "lmp_date": LMP.isoformat(), "gravidity": "3",
            "parity": "2", "previous_pph": "y", "height_cm": "158", "systolic": "110", "diastolic": "70",
            "iron_folic": "y", "iron_folic_tablets": "30", "net_given": "y", "td_dose": "1", **extra}
    return web.post(f"/patients/{woman.id}/cpn/nouveau", data)


def test_the_second_contact_form_carries_the_pregnancy(midwife):
    web, woman = midwife
    response = _first(web, woman)
    assert response.status_code == 302, text_of(response)[-2000:]
    page = web.get(f"/patients/{woman.id}/cpn/nouveau").get_data(as_text=True)
    assert f'value="{LMP.strftime("%d/%m/%Y")}"' in page or f'value="{LMP.isoformat()}"' in page
    assert 'name="contact_number"' not in page
    response = web.post(f"/patients/{woman.id}/cpn/nouveau", {
        "visit_date": days_ago(0).isoformat(), "lmp_date": LMP.isoformat(), "gravidity": "3", "parity": "2",
        "iptp_dose": "1"})
    assert response.status_code == 302, text_of(response)[-2000:]
    assert [row.contact_number for row in AntenatalVisit.select().order_by(AntenatalVisit.visit_date)] == [1, 2]
    assert Pregnancy.select().count() == 1 and Pregnancy.get().previous_pph
    chart = text_of(web.get(f"/patients/{woman.id}"))
    due = LMP + dt.timedelta(days=280)
    assert due.strftime("%d/%m/%Y") in chart and "14 SA + 2 j" in chart and "prochain : CPN 3" in chart
    assert "Antécédent d'hémorragie du post-partum" in chart


@pytest.mark.parametrize(("extra", "message"), [
    ({"lmp_date": days_ago(-5).isoformat()}, "futur"),
    ({"lmp_date": days_ago(47 * 7).isoformat()}, "45 semaines"),
    ({"gravidity": "2", "parity": "3"}, "inférieure à la gestité"),
])
def test_bad_input_gets_a_french_error_and_saves_nothing(midwife, extra, message):
    web, woman = midwife
    response = _first(web, woman, visit_date=days_ago(0).isoformat(), **extra)
    assert response.status_code == 200 and message in text_of(response)
    assert AntenatalVisit.select().count() == 0 and Pregnancy.select().count() == 0


def test_sp_twice_in_a_week_is_refused_on_its_field(midwife):
    web, woman = midwife
    assert _first(web, woman, visit_date=days_ago(6).isoformat(), iptp_dose="1").status_code == 302
    response = web.post(f"/patients/{woman.id}/cpn/nouveau", {
        "visit_date": days_ago(0).isoformat(), "lmp_date": LMP.isoformat(), "iptp_dose": "2"})
    assert response.status_code == 200 and "4 semaines entre deux doses de SP" in text_of(response)
    assert AntenatalVisit.select().count() == 1
