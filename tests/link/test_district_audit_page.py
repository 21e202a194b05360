"""The district's administrator reads the service's audit trail on a page (the same rows, from the
same query, as ``appliance district audit``); the clinicians who answer cases cannot."""

from __future__ import annotations

import html
import json
import re

from click.testing import CliRunner

from appliance.district.cli import district as district_cli
from appliance.district.store import ADMINISTRATOR, AuditEntry, Received, add_clinician, audit
from tests.conftest import PASSWORD
from tests.link.test_district_safety import _login


def _entries(page: str) -> list[int]:
    return [int(number) for number in re.findall(r'data-entry="(\d+)"', page)]


def _administrator(client) -> None:
    password = add_clinician("admin_district", "Mme Diallo", [], (ADMINISTRATOR,))
    assert _login(client, "admin_district", password).status_code == 302


def test_a_clinician_without_the_role_is_refused_and_a_stranger_sent_to_login(district):
    stranger = district.app.test_client()
    assert stranger.get("/journal").headers["Location"].endswith("/connexion")
    clinician = district.app.test_client()
    assert _login(clinician, "dr_kone", PASSWORD).status_code == 302
    refused = clinician.get("/journal")
    assert refused.status_code == 403
    page = html.unescape(refused.get_data(as_text=True))
    assert "réservée à l'administrateur du district" in page and "data-entry" not in page
    assert 'href="/journal"' not in html.unescape(clinician.get("/").get_data(as_text=True))


def test_the_administrator_reads_who_did_what_newest_first_in_french(district):
    case = Received.create(site_id="test-a", message_id="avis-0001-abcd", kind="avis", body=json.dumps(
        {"question": "Conduite à tenir ?", "patient": {"sex": "F", "age": "3 ans"},
         "asked_by": {"name": "Awa", "role": "infirmier"}, "asked_on": "2026-12-01"}))
    kone = district.app.test_client()
    assert _login(kone, "dr_kone", "mauvais").status_code == 401
    assert _login(kone, "dr_kone", PASSWORD).status_code == 302
    kone.get(f"/cas/{case.id}")
    admin = district.app.test_client()
    _administrator(admin)
    response = admin.get("/journal")
    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    assert _entries(page) == [entry.id for entry in AuditEntry.select().order_by(AuditEntry.id.desc())]
    lines = [re.sub(r"<[^>]+>|\s+", " ", line) for line in page.split('data-entry="')[1:]]
    assert "connexion" in lines[0] and "admin_district" in lines[0]
    assert "cas lu" in lines[1] and "dr_kone" in lines[1] and "CSCom test-a" in lines[1]
    assert f"message n° {case.id}" in lines[1] and "depuis 127.0.0.1" in lines[1]
    assert "connexion" in lines[2] and "échec de connexion" in lines[3]
    assert 'lang="fr"' in page and 'name="viewport" content="width=device-width' in page
    assert "<table" not in page  # one card per row: readable on a 360 px phone
    assert 'href="/journal"' in page  # the header links it for the administrator


def test_pages_hold_fifty_rows_and_new_rows_do_not_shift_an_older_page(district):
    for number in range(120):
        audit(f"dr_{number:03d}", "login", client="10.0.0.1")
    admin = district.app.test_client()
    _administrator(admin)
    newest_first = [entry.id for entry in AuditEntry.select().order_by(AuditEntry.id.desc())]
    first = admin.get("/journal").get_data(as_text=True)
    assert _entries(first) == newest_first[:50]
    older = re.search(r'href="(/journal\?avant=\d+)"', first).group(1)
    audit("dr_new", "logout")  # a row written meanwhile: the next page still starts where the first ended
    second = admin.get(older).get_data(as_text=True)
    assert _entries(second) == newest_first[50:100]
    third = admin.get(re.search(r'href="(/journal\?avant=\d+)"', second).group(1)).get_data(as_text=True)
    assert _entries(third) == newest_first[100:] and "avant=" not in third
    assert "Revenir aux plus récents" in third


def test_the_cli_prints_the_same_rows_newest_first(district):
    for name in ("dr_a", "dr_b", "dr_c"):
        audit(name, "login")
    printed = CliRunner().invoke(district_cli, ["audit", "--db", str(district.db_path), "--limit", "2"])
    assert printed.exit_code == 0, printed.output
    assert [line.split("\t")[1] for line in printed.output.splitlines()] == ["dr_c", "dr_b"]
    granted = CliRunner().invoke(district_cli, ["grant-admin", "--db", str(district.db_path), "dr_kone"])
    assert granted.exit_code == 0, granted.output
    kone = district.app.test_client()
    assert _login(kone, "dr_kone", PASSWORD).status_code == 302
    assert kone.get("/journal").status_code == 200
    unknown = CliRunner().invoke(district_cli, ["grant-admin", "--db", str(district.db_path), "personne"])
    assert unknown.exit_code != 0 and "aucun clinicien « personne »" in unknown.output
