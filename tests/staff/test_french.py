"""French slips of issue 17 that a reader notices: no raw configuration code, "né"/"née" agreed
with the sex, an estimated birth date never shown as an exact one."""

from __future__ import annotations

import datetime as dt

from appliance.patients.registry import Identity, register_patient
from appliance.store.audit import system_actor
from tests.conftest import text_of


def test_the_battery_page_names_the_chemistry_in_french(login_as):
    page = text_of(login_as("admin").get("/admin/batterie/"))
    assert "plomb-acide" in page and "lead_acid" not in page


def test_born_agrees_with_the_sex_and_an_estimated_date_shows_a_year(login_as):
    actor = system_actor("tests")
    girl = register_patient(actor, Identity(family_name="Keïta", first_names="Fanta", sex="F",
                                            birth_date=dt.date(2020, 5, 3), village="Kalaban"), site_id="demo-cscom")
    boy = register_patient(actor, Identity(family_name="Keïta", first_names="Issa", sex="M",
                                           birth_date=dt.date(1980, 1, 1), birth_date_estimated=True,
                                           village="Kalaban"), site_id="demo-cscom")
    nurse = login_as("infirmier")
    girl_page, boy_page = text_of(nurse.get(f"/patients/{girl.id}")), text_of(nurse.get(f"/patients/{boy.id}"))
    assert "née le 03/05/2020" in girl_page and "né(e)" not in girl_page
    assert "né vers 1980" in boy_page and "01/01/1980" not in boy_page and "né(e)" not in boy_page
