"""Sessions that really end (issue 16): logout, new password, deactivation, idle and absolute limits."""

import time

import pytest

from appliance.store.models import User, WebSession
from tests.conftest import PASSWORD, WebClient


def _replay(app, cookie: str) -> WebClient:
    """Another browser (someone on the WiFi) presenting a copy of a session cookie."""
    thief = WebClient(app.test_client())
    thief.raw.set_cookie("session", cookie)
    return thief


def _session_cookie(web: WebClient) -> str:
    return web.raw.get_cookie("session").value


def test_logout_ends_the_session_even_for_a_copy_of_its_cookie(app, client, make_user):
    make_user("sage_femme", username="kadi")
    client.login("kadi")
    copy = _session_cookie(client)
    assert _replay(app, copy).get("/").status_code == 200
    client.post("/deconnexion")
    assert _replay(app, copy).get("/").status_code == 302
    assert WebSession.select().count() == 0


def test_the_cookie_of_the_login_reply_obeys_the_idle_limit(app, client, make_user, monkeypatch):
    make_user("sage_femme", username="kadi")
    client.get("/connexion")
    reply = client.raw.post("/connexion", data={"csrf_token": client.token, "username": "kadi",
                                                "password": PASSWORD})
    assert reply.status_code == 302, reply.text
    copy = _session_cookie(client)  # as set by the login reply, never used since
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 31 * 60)
    response = _replay(app, copy).get("/")
    assert response.status_code == 302 and "expired=1" in response.location


def test_a_busy_session_still_ends_after_the_absolute_limit(client, make_user, monkeypatch):
    make_user("medecin", username="dr")
    client.login("dr")
    real = time.time
    for minutes in range(0, 12 * 60, 20):  # a page every 20 minutes for a 12-hour shift
        monkeypatch.setattr(time, "time", lambda minutes=minutes: real() + minutes * 60)
        assert client.get("/").status_code == 200
    monkeypatch.setattr(time, "time", lambda: real() + 12 * 60 * 60 + 60)
    assert client.get("/").status_code == 302


def test_an_admin_reset_and_a_deactivation_end_sessions_for_good(app, login_as, make_user):
    admin = login_as("admin")
    nurse = make_user("infirmier", username="awa")
    web = WebClient(app.test_client())
    web.login("awa")
    copy = _session_cookie(web)
    admin.post(f"/admin/utilisateurs/{nurse.id}/mot-de-passe")
    assert _replay(app, copy).get("/").status_code == 302

    web = WebClient(app.test_client())
    User.update(must_change_password=False).where(User.id == nurse.id).execute()
    from appliance.accounts import set_password
    from appliance.store.audit import system_actor

    set_password(system_actor("tests"), User.get_by_id(nurse.id), PASSWORD, must_change=False)
    web.login("awa")
    copy = _session_cookie(web)
    User.update(active=False).where(User.id == nurse.id).execute()
    assert _replay(app, copy).get("/").status_code == 302
    User.update(active=True).where(User.id == nurse.id).execute()  # reactivated: the old session stays dead
    assert _replay(app, copy).get("/").status_code == 302


def test_the_database_holds_no_usable_session_token(client, make_user):
    make_user("medecin", username="dr")
    client.login("dr")
    row = WebSession.get()
    assert row.token_hash not in _session_cookie(client)
    assert len(row.token_hash) == 64


@pytest.mark.parametrize("target", [
    "/%09/evil.example", "%2F%09%2Fevil.example", "/%5Cevil.example", "/%0A/evil.example", "//evil.example",
    "/ /evil.example", "https:evil.example", "/%E2%80%8B/evil.example",
])
def test_login_never_redirects_off_site_even_with_characters_browsers_strip(client, make_user, target):
    make_user("admin", username="chef")
    response = client.post(f"/connexion?next={target}", {"username": "chef", "password": PASSWORD})
    # home, or (an invisible character in the address) the French 400 page: never the other site
    assert (response.status_code, response.location) in ((302, "/"), (400, None))


def test_a_local_next_is_followed(client, make_user):
    make_user("admin", username="chef")
    response = client.post("/connexion?next=%2Fadmin%2Futilisateurs%3Fx%3D1", {"username": "chef",
                                                                                "password": PASSWORD})
    assert response.location == "/admin/utilisateurs?x=1"
