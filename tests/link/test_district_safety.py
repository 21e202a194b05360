"""The district service is safe to put on a network: its clinicians' logins are throttled by the
EMR's own check and policy (failures counted in the service's database), and its audit trail says
who logged in, read and answered which case of which clinic."""

from __future__ import annotations

import html
import json

from appliance.accounts import Attempt, guarded_check
from appliance.config import SecuritySettings
from appliance.district.app import LOGIN_POLICY
from appliance.district.store import AuditEntry, LoginFailure, Received
from tests.conftest import PASSWORD


def _csrf(client) -> str:
    page = client.get("/connexion").get_data(as_text=True)
    return page.split('name="csrf_token" value="')[1].split('"')[0]


def _login(client, username: str, password: str):
    return client.post("/connexion", data={"username": username, "password": password, "csrf_token": _csrf(client)})


def _trail(username: str | None = None) -> list[tuple[str, str | None, int | None]]:
    query = AuditEntry.select().order_by(AuditEntry.id)
    if username:
        query = query.where(AuditEntry.username == username)
    return [(entry.action, entry.site_id, entry.message) for entry in query]


def test_the_emr_policy_throttles_district_logins(district):
    assert SecuritySettings() == LOGIN_POLICY  # one policy: the EMR's [security] defaults
    client = district.app.test_client()
    for _ in range(LOGIN_POLICY.max_failed_logins):
        assert _login(client, "dr_kone", "pas-le-bon").status_code == 401
    refused = _login(client, "dr_kone", PASSWORD)  # even the right password waits now
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert "Trop d'essais pour cet identifiant" in html.unescape(refused.get_data(as_text=True))
    assert client.get("/").status_code == 302  # not logged in
    actions = [action for action, _site, _message in _trail("dr_kone")]
    assert actions.count("login_failed") == LOGIN_POLICY.max_failed_logins
    assert actions.count("login_throttled") == 1 and actions[-1] == "login_refused" and "login" not in actions
    assert LoginFailure.select().where(LoginFailure.key == "name:dr_kone").count() == LOGIN_POLICY.max_failed_logins
    # Another clinician from the same computer is not locked out by his colleague's name.
    assert _login(client, "dr_sidibe", PASSWORD).status_code == 302


def test_unknown_names_are_counted_like_known_ones(district):
    client = district.app.test_client()
    for _ in range(LOGIN_POLICY.max_failed_logins):
        assert _login(client, "personne", "x" * 10).status_code == 401
    assert _login(client, "personne", "x" * 10).status_code == 429
    assert [a for a, _s, _m in _trail("personne")].count("login_failed") == LOGIN_POLICY.max_failed_logins


def test_the_one_check_serves_both_databases(district):
    """The district's check is the EMR's function, counting in the database it is given."""
    from appliance.district.store import district_db

    attempt = Attempt.under(SecuritySettings(max_failed_logins=2, lockout_minutes=1), "10.0.0.9")
    for _ in range(2):
        assert not guarded_check("dr_x", lambda: None, "nope", attempt, db=district_db).right
    assert guarded_check("dr_x", lambda: None, "nope", attempt, db=district_db).reservation.refused


def test_the_trail_says_who_read_and_answered_which_case(district):
    Received.create(site_id="test-a", message_id="avis-0001-abcd", kind="avis",
                    body=json.dumps({"question": "Conduite à tenir ?", "patient": {"sex": "F", "age": "3 ans"},
                                     "asked_by": {"name": "Awa", "role": "infirmier"}, "asked_on": "2026-12-01"}))
    Received.create(site_id="test-a", message_id="simr-0001-abcd", kind="simr_alert",
                    body=json.dumps({"disease": "rougeole", "label": "Rougeole", "seen_on": "2026-12-01",
                                     "sex": "M", "age_years": 2}))
    case = Received.get(Received.kind == "avis")
    alert = Received.get(Received.kind == "simr_alert")
    client = district.app.test_client()
    assert _login(client, "dr_kone", PASSWORD).status_code == 302
    page = client.get(f"/cas/{case.id}").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post(f"/cas/{case.id}", data={"answer": "Paracétamol, revoir demain.", "csrf_token": token}
                       ).status_code == 302
    client.get("/notifications")
    client.get("/notifications")  # read again: nothing new to record
    other = district.app.test_client()
    assert _login(other, "dr_sidibe", PASSWORD).status_code == 302
    assert other.get(f"/cas/{case.id}").status_code == 404  # not his clinic: no read recorded
    assert _trail("dr_kone") == [("login", None, None), ("case_read", "test-a", case.id),
                                 ("case_answered", "test-a", case.id), ("notifications_read", "test-a", alert.id)]
    assert _trail("dr_sidibe") == [("login", None, None)]
    assert all(entry.client == "127.0.0.1" for entry in AuditEntry.select())
    token = client.get("/").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/deconnexion", data={"csrf_token": token})
    assert _trail("dr_kone")[-1] == ("logout", None, None)
