
import pytest

from appliance.store.models import AuditEntry, User
from tests.conftest import PASSWORD, WebClient, text_of


def test_login_then_home_in_french_then_logout(client, make_user):
    make_user("sage_femme", username="kadi")
    response = client.login("kadi")
    assert response.status_code == 302
    home = client.get("/")
    assert "Accueil" in home.text and 'lang="fr"' in home.text
    assert client.post("/deconnexion").status_code == 302
    assert client.get("/").status_code == 302  # back to the login page


def test_wrong_password_says_so_in_french(client, make_user):
    make_user("infirmier", username="moussa")
    response = client.login("moussa", "pas-le-bon")
    assert response.status_code == 401
    assert "Identifiant ou mot de passe incorrect." in response.text
    assert AuditEntry.select().where(AuditEntry.action == "login_failed").count() == 1


def test_unknown_user_gets_the_same_message(client, store):
    response = client.login("personne", "x")
    assert "Identifiant ou mot de passe incorrect." in response.text


def test_repeated_failures_slow_the_name_down_and_say_until_when(client, make_user):
    make_user("matrone", username="oumou")
    for _ in range(5):
        assert client.login("oumou", "faux").status_code == 401
    response = client.login("oumou", "faux")
    assert response.status_code == 429 and "Trop d'essais" in text_of(response)
    # even the right password waits, from a phone where this account never logged in
    response = client.login("oumou", PASSWORD)
    assert response.status_code == 429
    assert AuditEntry.select().where(AuditEntry.action == "login_throttled").exists()


def test_the_wait_ends_with_the_window(client, make_user, monkeypatch):
    import time

    make_user("matrone", username="oumou")
    for _ in range(6):
        client.login("oumou", "faux")
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 16 * 60)
    assert client.login("oumou").status_code == 302


def test_failures_stamped_before_a_clock_jump_back_do_not_lock_for_days(app, client, make_user, monkeypatch):
    import time

    make_user("matrone", username="oumou")
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 400 * 86400)
    for _ in range(6):
        client.login("oumou", "faux")
    monkeypatch.setattr(time, "time", real)  # the clock jumps back 400 days
    assert WebClient(app.test_client()).login("oumou").status_code == 302


def test_idle_session_expires(client, make_user, monkeypatch):
    import time

    make_user("medecin", username="dr")
    client.login("dr")
    assert client.get("/").status_code == 200
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 31 * 60)
    response = client.get("/")
    assert response.status_code == 302 and "expired=1" in response.location
    assert "Session expirée après une période d'inactivité" in text_of(client.get(response.location))


def test_activity_keeps_a_session_alive_without_a_new_cookie_on_every_page(client, make_user, monkeypatch):
    import time

    make_user("medecin", username="dr")
    client.login("dr")
    real = time.time
    for minutes in (0, 20, 40, 60, 80):  # a page every 20 minutes for 80 minutes, idle limit 30
        monkeypatch.setattr(time, "time", lambda minutes=minutes: real() + minutes * 60)
        response = client.get("/")
        assert response.status_code == 200 and "Set-Cookie" not in response.headers


def test_first_login_forces_a_password_change(client, make_user):
    make_user("infirmier", username="nouveau", must_change_password=True)
    client.login("nouveau")
    response = client.get("/")
    assert response.status_code == 302 and response.location.endswith("/compte/mot-de-passe")
    weak = client.post("/compte/mot-de-passe", {"current": PASSWORD, "new": "court", "confirm": "court"})
    assert "au moins 8 caractères" in weak.text
    done = client.post("/compte/mot-de-passe", {"current": PASSWORD, "new": "tisane7verte", "confirm": "tisane7verte"})
    assert done.status_code == 302
    assert client.get("/").status_code == 200
    assert not User.get(User.username == "nouveau").must_change_password


def test_a_password_change_ends_other_sessions(app, client, make_user):
    make_user("infirmier", username="awa")
    other = WebClient(app.test_client())
    other.login("awa")
    client.login("awa")
    client.post("/compte/mot-de-passe", {"current": PASSWORD, "new": "tisane7verte", "confirm": "tisane7verte"})
    assert other.get("/").status_code == 302


def test_roles_are_enforced(login_as):
    nurse = login_as("infirmier")
    assert nurse.get("/admin/utilisateurs").status_code == 403
    assert "Accès refusé" in nurse.get("/admin/utilisateurs").text
    admin = login_as("admin")
    assert admin.get("/admin/utilisateurs").status_code == 200


def test_admin_creates_a_user_whose_password_is_shown_once_and_hashed(login_as):
    admin = login_as("admin")
    response = admin.post("/admin/utilisateurs/nouveau", {
        "username": "Bintou", "first_name": "Bintou", "last_name": "Koné", "role": "sage_femme",
        "phone": "76 00 11 22", "language": "fr",
    })
    assert response.status_code == 200 and "Mot de passe provisoire" in response.text
    user = User.get(User.username == "bintou")
    assert user.password_hash.startswith("$argon2id$") and user.must_change_password
    entry = AuditEntry.get((AuditEntry.table_name == "user") & (AuditEntry.action == "create")
                           & (AuditEntry.row_id == str(user.id)))
    assert entry.username == admin.user.username and entry.role == "admin"
    assert "argon2" not in (entry.after or "")


def test_admin_sees_the_audit_trail(login_as):
    admin = login_as("admin")
    page = admin.get("/admin/journal")
    assert page.status_code == 200 and "Journal des modifications" in page.text


def test_the_audit_trail_shows_what_each_entry_wrote(login_as):
    """The trail's table of changes is the one a record's history shows (templates/_audit.html)."""
    admin = login_as("admin")
    page = admin.get("/admin/journal?table=user")
    created = f'<th>username</th><td class="before"></td><td>{admin.user.username}</td>'
    assert '<table class="diff">' in page.text and created in page.text


def test_english_is_available_per_user(login_as):
    web = login_as("medecin")
    web.post("/compte/langue", {"language": "en"})
    home = web.get("/")
    assert "Home" in home.text and 'lang="en"' in home.text and "Log out" in home.text


@pytest.mark.parametrize("target", ["//evil.example/x", "http://evil.example/"])
def test_login_never_redirects_off_site(client, make_user, target):
    make_user("admin", username="chef")
    response = client.post(f"/connexion?next={target}", {"username": "chef", "password": PASSWORD})
    assert response.location == "/"


def test_a_lockout_is_queued_for_remote_ops_when_telemetry_is_on(app, client, make_user):
    import dataclasses
    import json

    from appliance.outbox.models import OutboxItem

    cfg = app.config["APPLIANCE"]
    app.config["APPLIANCE"] = dataclasses.replace(
        cfg, telemetry=dataclasses.replace(cfg.telemetry, enabled=True, broker_host="127.0.0.1"))
    make_user("matrone", username="oumou")
    for _ in range(6):
        client.login("oumou", "faux")
    events = [json.loads(item.payload) for item in OutboxItem.select().where(OutboxItem.kind == "mqtt_event")]
    assert [event["k"] for event in events] == ["login_lockout"]  # once, not at every refused attempt
    assert events[0]["d"] == {"user": "oumou"}
