"""The vaccination session: every dose due in one form, one transaction, a reason for each dose not
given, age/sex/interval checked (HPV for girls), and the printable card."""

from __future__ import annotations

import re

from appliance.followup.models import FollowupItem
from appliance.patients.models import Immunisation
from appliance.patients.vaccination import DoseNotGiven
from appliance.store.models import AuditEntry
from tests.conftest import text_of
from tests.followup.conftest import TODAY

TOKEN = re.compile(r'name="submission_token" value="([^"]+)"')


def _session_form(web, child) -> tuple[dict, str]:
    page = web.get(f"/patients/{child.id}/vaccins/seance")
    html = page.get_data(as_text=True)
    codes = re.search(r'name="codes" value="([^"]*)"', html).group(1)
    return {"codes": codes, "submission_token": TOKEN.search(html).group(1)}, html


def test_a_nine_month_visit_is_one_form_and_one_tap(login_as, person):
    child = person("Awa", age_days=275)  # 9 months, no dose on record
    nurse = login_as("infirmier")
    data, html = _session_form(nurse, child)
    codes = data["codes"].split()
    assert {"rr1", "mena", "vaa"} <= set(codes) and "penta1" in codes
    assert html.count("<fieldset class=\"dose") == len(codes)
    answers = {f"dose-{code}": "donnee" for code in codes}
    answers["dose-vaa"] = "rupture"
    answers["lot-rr1"] = "RR2411"
    response = nurse.post(f"/patients/{child.id}/vaccins/seance", {**data, **answers})
    assert response.status_code == 302 and response.location == f"/patients/{child.id}/vaccins/carte"
    given = {(dose.antigen, dose.dose_number) for dose in Immunisation.select()}
    assert ("RR", 1) in given and ("MENA", 1) in given and ("VAA", 1) not in given
    assert Immunisation.select().count() == len(codes) - 1
    missed = DoseNotGiven.get()
    assert (missed.antigen, missed.reason) == ("VAA", "rupture")
    assert AuditEntry.select().where(AuditEntry.table_name == "dose_not_given").count() == 1
    open_items = {item.rule_id for item in FollowupItem.select().where(FollowupItem.patient == child.id)}
    assert "pev.rr1" not in open_items and "pev.vaa" in open_items  # not given: still due
    card = text_of(nurse.get(f"/patients/{child.id}/vaccins/carte"))
    assert "Rougeole-rubéole (RR)" in card and "lot RR2411" in card
    assert "Non donnée : vaccin en rupture de stock" in card and "Imprimer" in card
    again = nurse.raw.post(f"/patients/{child.id}/vaccins/seance", data={**data, **answers, "csrf_token": nurse.token})
    assert again.status_code == 303 and Immunisation.select().count() == len(codes) - 1  # the replay saves nothing


def test_each_dose_needs_a_decision_and_nothing_is_half_saved(login_as, person):
    child = person("Awa", age_days=275)
    nurse = login_as("infirmier")
    data, _html = _session_form(nurse, child)
    codes = data["codes"].split()
    answers = {f"dose-{code}": "donnee" for code in codes[1:]}  # the first one left without an answer
    response = nurse.post(f"/patients/{child.id}/vaccins/seance", {**data, **answers})
    assert response.status_code == 200
    assert "Dites si la dose est donnée" in text_of(response)
    assert Immunisation.select().count() == 0 and DoseNotGiven.select().count() == 0


def test_hpv_is_refused_for_a_three_year_old_boy(login_as, person):
    boy = person("Issa", sex="M", age_days=3 * 365)
    nurse = login_as("infirmier")
    response = nurse.post(f"/patients/{boy.id}/vaccination/nouveau", {
        "visit_date": TODAY.isoformat(), "antigen": "VPH", "dose_number": "1", "given_here": "ici"})
    assert response.status_code == 200 and "réservé aux filles" in text_of(response)
    girl = person("Fanta", sex="F", age_days=3 * 365)
    response = nurse.post(f"/patients/{girl.id}/vaccination/nouveau", {
        "visit_date": TODAY.isoformat(), "antigen": "VPH", "dose_number": "1", "given_here": "ici"})
    assert response.status_code == 200 and "trop tôt : âge minimum 9 ans" in text_of(response)
    assert Immunisation.select().count() == 0


def test_a_dose_too_close_to_the_previous_one_is_refused(login_as, person, visit):
    child = person("Awa", age_days=120)
    nurse = login_as("infirmier")
    first = nurse.post(f"/patients/{child.id}/vaccination/nouveau", {
        "visit_date": TODAY.isoformat(), "antigen": "PENTA", "dose_number": "1", "given_here": "ici"})
    assert first.status_code == 302
    second = nurse.post(f"/patients/{child.id}/vaccination/nouveau", {
        "visit_date": TODAY.isoformat(), "antigen": "PENTA", "dose_number": "2", "given_here": "ici"})
    assert second.status_code == 200 and "trop proche de la dose précédente" in text_of(second)
    assert Immunisation.select().count() == 1


def test_the_back_button_after_a_full_session_leads_to_what_was_saved(login_as, person):
    """Once nothing is due, the page the back button shows still carries a form for the saved token
    (revealed by static/drafts.js): sending it again shows the card with the "already saved" note."""
    child = person("Awa", age_days=275)
    nurse = login_as("infirmier")
    data, _html = _session_form(nurse, child)
    answers = {f"dose-{code}": "donnee" for code in data["codes"].split()}
    assert nurse.post(f"/patients/{child.id}/vaccins/seance", {**data, **answers}).status_code == 302
    saved = Immunisation.select().count()
    back = nurse.get(f"/patients/{child.id}/vaccins/seance").get_data(as_text=True)
    assert "Aucune dose due aujourd'hui" in back
    form = re.search(r'<form method="post" class="card narrow saved-only" hidden>.*?</form>', back, re.S).group(0)
    assert TOKEN.search(form) and 'data-saved-note="Ce formulaire est déjà enregistré' in form
    again = nurse.raw.post(f"/patients/{child.id}/vaccins/seance", data={
        "codes": "", "submission_token": data["submission_token"], "csrf_token": nurse.token})
    assert again.status_code == 303 and again.location == f"/patients/{child.id}/vaccins/carte"
    assert "déjà enregistré" in text_of(nurse.get(again.location)) and Immunisation.select().count() == saved
    fresh = nurse.post(f"/patients/{child.id}/vaccins/seance", {"codes": "", "submission_token": "x" * 24})
    assert fresh.status_code == 200 and Immunisation.select().count() == saved  # nothing due, nothing written
