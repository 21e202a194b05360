"""Password guessing (issue 16): slowed per name and per phone, never a stranger's lock on staff,
the same reply for known and unknown names, every failure audited, weak passwords refused."""

import re
import threading
import time

from click.testing import CliRunner

from appliance import accounts
from appliance.accounts import Attempt, check_password
from appliance.store.models import AuditEntry
from tests.conftest import PASSWORD, WebClient, text_of


class _Phone(WebClient):
    """A browser on its own address of the hotspot."""

    def __init__(self, app, address: str) -> None:
        super().__init__(app.test_client())
        self.raw.environ_base["REMOTE_ADDR"] = address


def test_parallel_guesses_get_no_more_than_the_limit(make_user, store):
    make_user("admin", username="chef")
    attempt = Attempt(client="10.42.0.66", device=None, limit=5, window_s=900)
    checked = []

    def guess(n: int) -> None:
        result = check_password("chef", f"essai{n}", attempt)
        checked.append(result.retry_after_s == 0)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(checked) == 5  # the other 15 were refused before any password was checked
    assert AuditEntry.select().where(AuditEntry.action == "login_failed").count() == 5


def test_a_stranger_guessing_cannot_lock_staff_out_of_their_own_phone(app, make_user):
    make_user("admin", username="chef")
    own_phone = _Phone(app, "10.42.0.10")
    assert own_phone.login("chef").status_code == 302
    own_phone.post("/deconnexion")
    stranger = _Phone(app, "10.42.0.66")
    for n in range(12):
        stranger.login("chef", f"essai{n}")
    assert stranger.login("chef", PASSWORD).status_code == 429  # the stranger cannot use the right one either
    assert own_phone.login("chef").status_code == 302


def test_the_admin_gets_back_in_on_the_box_whatever_the_wifi_did(app, cfg, make_user):
    make_user("admin", username="chef")
    stranger = _Phone(app, "10.42.0.66")
    for n in range(6):
        stranger.login("chef", f"essai{n}")
    new_phone = _Phone(app, "10.42.0.11")
    assert new_phone.login("chef").status_code == 429
    result = CliRunner().invoke(__import__("appliance.cli", fromlist=["main"]).main,
                                ["users", "reset-password", "--config", str(cfg.source), "chef"])
    assert result.exit_code == 0, result.output
    temporary = result.output.split()[1]
    assert new_phone.login("chef", temporary).status_code == 302


def test_one_phone_trying_many_names_is_slowed_too(app, store):
    phone = _Phone(app, "10.42.0.66")
    statuses = [phone.login(f"nom{n}", "x").status_code for n in range(22)]
    assert statuses[:20] == [401] * 20 and statuses[20:] == [429, 429]
    assert _Phone(app, "10.42.0.67").login("nom99", "x").status_code == 401  # other phones are not


def test_known_and_unknown_names_get_the_same_replies_and_the_same_work(app, make_user, monkeypatch):
    make_user("infirmier", username="moussa")
    verified = []
    real_verify = accounts.verify_password
    monkeypatch.setattr(accounts, "verify_password", lambda h, p: verified.append(h) or real_verify(h, p))
    # Both names are tried at the same instant of the wall clock: the refusal names the minute a retry
    # is allowed (the first failure + the window, HH:mm), which differed whenever a minute began between
    # the two runs (seconds apart on a loaded machine), though neither name said anything.
    instant = time.time()
    monkeypatch.setattr(time, "time", lambda: instant)

    def replies(name: str, address: str) -> list[tuple[int, str]]:
        phone = _Phone(app, address)
        out = []
        for _ in range(7):
            response = phone.login(name, "pas-le-bon")
            page = text_of(response)
            page = re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", page[page.index("<main>"):])
            out.append((response.status_code, page.replace(name, "NOM")))
        return out

    known = replies("moussa", "10.42.0.20")
    hashes_for_known = len(verified)
    unknown = replies("personne", "10.42.0.21")
    assert known == unknown
    assert hashes_for_known == len(verified) - hashes_for_known == 5  # one real argon2 check per counted attempt


def test_every_failure_is_audited_with_the_phone_it_came_from(app, make_user):
    make_user("infirmier", username="moussa")
    _Phone(app, "10.42.0.30").login("moussa", "faux")
    _Phone(app, "10.42.0.31").login("inconnu", "faux")
    entries = list(AuditEntry.select().where(AuditEntry.action == "login_failed").order_by(AuditEntry.id))
    assert [(e.username, e.reason) for e in entries] == [("moussa", "client 10.42.0.30"),
                                                         ("inconnu", "client 10.42.0.31")]


def test_guessing_the_current_password_on_the_change_form_is_throttled_and_audited(login_as):
    nurse = login_as("infirmier")
    statuses = [nurse.post("/compte/mot-de-passe", {"current": f"essai{n}", "new": "tisane7verte",
                                                    "confirm": "tisane7verte"}).status_code for n in range(7)]
    assert statuses == [401] * 5 + [429] * 2
    assert AuditEntry.select().where(AuditEntry.action == "password_check_failed").count() == 5


def _change(web: WebClient, new: str):
    return text_of(web.post("/compte/mot-de-passe", {"current": PASSWORD, "new": new, "confirm": new}))


def test_weak_passwords_are_refused_in_french(login_as, cfg):
    nurse = login_as("infirmier", username="xssnurse")
    assert "nom" in _change(nurse, "xssnurse1") and "Mot de passe changé" not in _change(nurse, "xssnurse1")
    assert "les plus courants" in _change(nurse, "motdepasse1")
    assert "les plus courants" in _change(nurse, "P@ssw0rd2026")
    assert "nom du centre" in _change(nurse, "Cscom2026!")
    assert "démonstration" in cfg.site.name
    assert "nom du centre" in _change(nurse, "demonstration7")  # the site's own name
    assert nurse.user.last_name == "Traoré" and "nom du centre" in _change(nurse, "traore1986")
    assert nurse.post("/compte/mot-de-passe", {"current": PASSWORD, "new": "tisane7verte",
                                               "confirm": "tisane7verte"}).status_code == 302
