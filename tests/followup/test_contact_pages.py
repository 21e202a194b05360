"""Recording a call or a home visit over HTTP, from a worklist row and from the chart."""

from __future__ import annotations

import datetime as dt
import re

from appliance.followup.models import FollowupContact
from appliance.store.models import AuditEntry
from tests.conftest import text_of
from tests.followup.conftest import TODAY, days_ago


def form(outcome: str, **fields) -> dict:
    values = {"contacted_on": TODAY.isoformat(), "method": "telephone", "outcome": outcome}
    values.update(fields)
    return values


def ticked(page) -> list[str]:
    return re.findall(r'<input checked id="item_ids-\d+" name="item_ids" type="checkbox" value="([^"]+)"',
                      page.get_data(as_text=True))


def contact_link(page) -> str:
    return re.search(r'href="(/patients/\d+/contact\?[^"]+)"', page.get_data(as_text=True)).group(1).replace(
        "&amp;", "&")


def test_from_a_worklist_row_two_unanswered_calls_show_on_the_row(login_as, person):
    nurse = login_as("infirmier")
    child = person("Awa", age_days=70, phone="76123456")
    link = contact_link(nurse.get("/a-revoir"))
    page = nurse.get(link)
    assert page.status_code == 200
    items = ticked(page)  # the nurse's programmes: vaccination and growth
    assert items and all(item.startswith((f"{child.id}~pev.", f"{child.id}~croissance.")) for item in items)
    first = nurse.post(link, {**form("pas_de_reponse", contacted_on=days_ago(1).isoformat()), "item_ids": items})
    assert first.status_code == 302 and first.location.startswith("/a-revoir")
    nurse.post(link, {**form("pas_de_reponse"), "item_ids": items})
    row = text_of(nurse.get("/a-revoir"))
    assert (f"appelé 2 fois, dernier : {TODAY:%d/%m} pas de réponse, injoignable ({nurse.user.username})"
            in " ".join(row.split()))


def test_a_promise_takes_the_row_off_until_the_day_and_the_chart_says_so(login_as, person):
    midwife = login_as("sage_femme")
    child = person("Awa", age_days=70)
    link = contact_link(midwife.get("/a-revoir?programme=pev"))
    promised = TODAY + dt.timedelta(days=4)
    response = midwife.post(link, {**form("joint", promised_on=promised.strftime("%d/%m/%Y")),
                                   "item_ids": ticked(midwife.get(link))})
    assert response.status_code == 302
    assert f'data-patient="{child.id}"' not in midwife.get("/a-revoir?programme=pev").get_data(as_text=True)
    chart = " ".join(text_of(midwife.get(f"/patients/{child.id}")).split())
    assert f"hors liste d'appels jusqu'au {promised:%d/%m/%Y}" in chart
    assert f"promis pour le {promised:%d/%m/%Y}" in chart


def test_french_errors_per_field_keep_what_was_typed_and_save_nothing(login_as, person):
    nurse = login_as("infirmier")
    child = person("Awa", age_days=70)
    audit = AuditEntry.select().count()
    url = f"/patients/{child.id}/contact"
    past = nurse.post(url, form("joint", promised_on=days_ago(2).isoformat(), note="a dit demain"))
    text = text_of(past)
    assert past.status_code == 200
    assert "Rien n'a été enregistré" in text and "La date promise est passée" in text and "a dit demain" in text
    dead = text_of(nurse.post(url, form("decede", method="visite_domicile",
                                        death_on=(TODAY + dt.timedelta(days=3)).isoformat())))
    assert "La date du décès est dans le futur" in dead
    missing = text_of(nurse.post(url, {"contacted_on": "31/02/2025"}))
    assert "Date invalide (jj/mm/aaaa)." in missing and "Choisissez le résultat du contact." in missing
    assert FollowupContact.select().count() == 0 and AuditEntry.select().count() == audit


def test_a_death_reported_from_the_chart_shows_on_it_and_leaves_the_lists(login_as, person):
    nurse = login_as("infirmier")
    child = person("Awa", age_days=70)
    chart = nurse.get(f"/patients/{child.id}")
    link = contact_link(chart)
    assert "retour=" in link and "programme=" not in link
    response = nurse.post(link, form("decede", method="visite_domicile", death_on=days_ago(5).isoformat(),
                                     note="relais de Kalaban"))
    assert response.status_code == 302 and response.location == f"/patients/{child.id}"
    chart = " ".join(text_of(nurse.get(f"/patients/{child.id}")).split())
    assert f"Décédé(e) le {days_ago(5):%d/%m/%Y}" in chart and "relais de Kalaban" in chart
    assert f'data-patient="{child.id}"' not in nurse.get("/a-revoir?programme=tous").get_data(as_text=True)
    assert f"décédé(e) le {days_ago(5):%d/%m/%Y}" in text_of(nurse.get(f"/patients/?q={child.first_names}"))
    contact = FollowupContact.get()
    nurse.post(f"/patients/{child.id}/contact/{contact.id}/annuler", {"reason": "mauvais enfant"})
    assert f'data-patient="{child.id}"' in nurse.get("/a-revoir?programme=tous").get_data(as_text=True)
    assert "Décédé(e) le" not in text_of(nurse.get(f"/patients/{child.id}"))
    found = text_of(nurse.get(f"/patients/?q={child.first_names}"))
    assert f'href="/patients/{child.id}"' in found and "décédé(e)" not in found


def test_a_wrong_number_is_struck_out_on_the_list(login_as, person):
    nurse = login_as("infirmier")
    child = person("Awa", age_days=70, phone="76123456")
    nurse.post(f"/patients/{child.id}/contact", form("numero_errone"))
    page = nurse.get("/a-revoir").get_data(as_text=True)
    assert "<s>76123456</s>" in page and "numéro erroné" in page and 'href="tel:76123456"' not in page
    printed = nurse.get("/a-revoir/imprimer?village=pelengana").get_data(as_text=True)
    assert "<s>76123456</s>" in printed


def test_the_form_needs_the_permission_and_its_csrf_token(login_as, person):
    child = person("Awa", age_days=70)
    admin = login_as("admin")
    assert admin.get(f"/patients/{child.id}/contact").status_code == 403
    nurse = login_as("infirmier")
    assert nurse.raw.post(f"/patients/{child.id}/contact", data=form("pas_de_reponse")).status_code == 400
    assert FollowupContact.select().count() == 0
    assert "Noter un appel" not in text_of(admin.get(f"/patients/{child.id}"))


def test_a_return_address_elsewhere_is_ignored(login_as, person):
    nurse = login_as("infirmier")
    child = person("Awa", age_days=70)
    response = nurse.post(f"/patients/{child.id}/contact?retour=//evil.example/a-revoir", form("pas_de_reponse"))
    assert response.status_code == 302 and response.location == f"/patients/{child.id}"
