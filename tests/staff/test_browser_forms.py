"""Forms on a phone in real Chromium at 360 px: the back button then "Enregistrer" saves once; a
session that ends while a visit is being typed keeps it on the phone until the next login."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.patients.models import Consultation, Immunisation
from appliance.patients.registry import Identity, register_patient
from appliance.sessions import revoke_user
from appliance.store.audit import system_actor
from tests.conftest import click_and_wait, screenshot, sign_in

pytestmark = pytest.mark.slow


@pytest.fixture
def awa(store):
    identity = Identity(family_name="Traoré", first_names="Awa", sex="F", birth_date=dt.date(1994, 5, 2),
                        village="Pelengana")
    return register_patient(system_actor("tests"), identity, site_id="demo-cscom")


def _type_visit(page, reason: str) -> None:
    page.fill('[name="visit_date"]', dt.date.today().isoformat())
    page.fill('[name="reason"]', reason)
    page.fill('[name="temperature_c"]', "38,2")
    page.select_option('[name="diagnosis_code"]', "B50.9")


def test_back_then_save_again_saves_once(live_server, phone_page, make_user, awa):
    make_user("infirmier", username="inf.diarra")
    page = phone_page
    sign_in(page, live_server, "inf.diarra")
    form_url = f"{live_server}/patients/{awa.id}/consultation/nouveau"
    page.goto(form_url)
    _type_visit(page, "Toux depuis 3 jours")
    click_and_wait(page, "button.primary")  # not wait_for_load_state(): the form left was loaded already
    assert page.url == f"{live_server}/patients/{awa.id}", page.locator(".error, .warning").all_inner_texts()
    page.go_back()
    assert page.url == form_url
    assert "Ce formulaire est déjà enregistré" in page.inner_text("main")
    _type_visit(page, "Toux depuis 3 jours")  # whatever the browser kept, typed again
    page.click("button.primary")
    page.wait_for_url(f"{live_server}/patients/{awa.id}")
    assert "déjà enregistré" in page.inner_text("main")
    assert Consultation.select().count() == 1


def test_back_after_a_vaccination_session_shows_it_was_saved(live_server, phone_page, make_user):
    identity = Identity(family_name="Diarra", first_names="Fanta", sex="F",
                        birth_date=dt.date.today() - dt.timedelta(days=275), village="Pelengana")
    child = register_patient(system_actor("tests"), identity, site_id="demo-cscom")
    make_user("infirmier", username="inf.kone")
    page = phone_page
    sign_in(page, live_server, "inf.kone")
    session_url, card_url = (f"{live_server}/patients/{child.id}/vaccins/{end}" for end in ("seance", "carte"))
    page.goto(session_url)
    page.click("button.primary")  # every dose "given here today", the form's default
    page.wait_for_url(card_url)
    given = Immunisation.select().count()
    assert given >= 5
    page.go_back()
    assert page.url == session_url
    shown = page.inner_text("main")
    assert "Ce formulaire est déjà enregistré" in shown and "Aucune dose due" not in shown
    screenshot(page, "vaccination-session-back")
    page.click("form.saved-only button.primary")
    page.wait_for_url(card_url)
    assert "déjà enregistré" in page.inner_text("main") and Immunisation.select().count() == given


def test_an_expired_session_keeps_the_typed_visit(live_server, phone_page, make_user, awa):
    nurse = make_user("infirmier", username="inf.kone")
    page = phone_page
    sign_in(page, live_server, "inf.kone")
    form_url = f"{live_server}/patients/{awa.id}/consultation/nouveau"
    page.goto(form_url)
    _type_visit(page, "Fièvre et céphalées depuis 2 jours")
    revoke_user(nurse.id)  # the session ends while the nurse examines the patient
    page.click("button.primary")
    page.wait_for_url("**/connexion**")
    assert Consultation.select().count() == 0
    sign_in(page, live_server, "inf.kone", on_login_page=True)
    page.wait_for_url(form_url)
    assert page.input_value('[name="reason"]') == "Fièvre et céphalées depuis 2 jours"
    assert page.input_value('[name="temperature_c"]') == "38,2"
    assert "Saisie non enregistrée retrouvée" in page.inner_text("main")
    screenshot(page, "staff-draft-restored-360")
    page.click("button.primary")
    page.wait_for_url(f"{live_server}/patients/{awa.id}")
    assert Consultation.select().count() == 1
    kept = page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('draft:'))"
                         ".map(k => JSON.parse(localStorage.getItem(k)))")
    assert all(draft.get("saved") and "values" not in draft for draft in kept)  # nothing typed left behind
    page.goto(form_url)  # the next visit: a blank form, a new token
    assert page.input_value('[name="reason"]') == "" and "déjà enregistré" not in page.inner_text("main")
