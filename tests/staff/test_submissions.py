"""One write per form: a replay, the back button, ten identical requests at once or a retry after a
lost reply save once and show the saved record; a session that ends keeps the way back to the form."""

from __future__ import annotations

import http.cookiejar
import re
import threading
import urllib.parse
import urllib.request

import peewee
import pytest

from appliance.patients.models import Consultation, Patient
from appliance.store import submissions
from tests.conftest import text_of
from tests.patients.conftest import visit_form_data

AWA = {"family_name": "Traoré", "first_names": "Awa", "sex": "F", "birth_date": "1994-05-02",
       "village": "Pelengana", "phone": "76 12 34 56", "household_name": "Famille Traoré"}
TOKEN = re.compile(r'name="submission_token" value="([^"]+)"')


def _token(response) -> str:
    return TOKEN.search(response.get_data(as_text=True)).group(1)


def _form(web, url: str) -> tuple[str, str]:
    """The form's page as a phone gets it: (its submission token, the page)."""
    page = web.get(url)
    assert page.status_code == 200
    return _token(page), text_of(page)


@pytest.fixture
def nurse(login_as):
    return login_as("infirmier")


@pytest.fixture
def awa(nurse) -> Patient:
    token, _page = _form(nurse, "/patients/nouveau")
    response = nurse.post("/patients/nouveau", {**AWA, "submission_token": token})
    assert response.status_code == 302
    return Patient.get_by_id(int(response.location.rsplit("/", 1)[-1]))


def test_every_record_form_carries_a_fresh_token(nurse, awa):
    first, _page = _form(nurse, f"/patients/{awa.id}/consultation/nouveau")
    for url in (f"/patients/{awa.id}/consultation/nouveau", "/patients/nouveau",
                f"/patients/{awa.id}/identite", f"/patients/{awa.id}/contact"):
        token, _page = _form(nurse, url)
        assert token != first and len(token) >= 22, url


def test_a_replayed_visit_is_saved_once_and_shows_the_saved_record(nurse, awa):
    url = f"/patients/{awa.id}/consultation/nouveau"
    token, _page = _form(nurse, url)
    data = {**visit_form_data("consultation"), "submission_token": token}
    first = nurse.post(url, data)
    assert first.status_code == 302 and first.location == f"/patients/{awa.id}"
    again = nurse.raw.post(url, data={**data, "csrf_token": nurse.token})  # the browser's own resend
    assert again.status_code == 303 and again.location == f"/patients/{awa.id}"
    assert Consultation.select().count() == 1
    chart = text_of(nurse.raw.get(again.location))
    assert "déjà enregistré" in chart and "rien n'a été ajouté" in chart


def test_a_form_opened_anew_after_a_save_is_another_record(nurse, awa):
    """The next visit or the next person registered gets a new token; the saved one, sent again
    (what the back button's page sends, static/drafts.js), shows the saved record."""
    url = f"/patients/{awa.id}/consultation/nouveau"
    token, _page = _form(nurse, url)
    nurse.post(url, {**visit_form_data("consultation"), "submission_token": token})
    other, _page = _form(nurse, url)
    assert other != token
    resent = nurse.raw.post(url, data={**visit_form_data("consultation"), "submission_token": token,
                                       "csrf_token": nurse.token})
    assert resent.status_code == 303 and Consultation.select().count() == 1
    assert nurse.post(url, {**visit_form_data("consultation"), "submission_token": other}).status_code == 302
    assert Consultation.select().count() == 2


def test_a_form_with_errors_keeps_its_token_and_saves_once_corrected(nurse, awa):
    url = f"/patients/{awa.id}/consultation/nouveau"
    token, _page = _form(nurse, url)
    refused = nurse.post(url, {**visit_form_data("consultation"), "visit_date": "", "submission_token": token})
    assert refused.status_code == 200 and _token(refused) == token
    assert submissions.find(token) is None and Consultation.select().count() == 0
    assert nurse.post(url, {**visit_form_data("consultation"), "submission_token": token}).status_code == 302
    assert Consultation.select().count() == 1


def test_a_reply_lost_after_the_commit_is_found_on_the_retry(nurse, awa):
    """The visit and its token committed, the phone never heard back (WiFi gone) and sends again."""
    url = f"/patients/{awa.id}/consultation/nouveau"
    token, _page = _form(nurse, url)
    data = {**visit_form_data("consultation"), "submission_token": token, "csrf_token": nurse.token}
    nurse.raw.post(url, data=data)  # its reply is lost
    assert submissions.find(token).location == f"/patients/{awa.id}"
    retry = nurse.raw.post(url, data=data)
    assert retry.status_code == 303 and retry.location == f"/patients/{awa.id}"
    assert Consultation.select().count() == 1


def test_the_record_and_its_token_commit_together_or_not_at_all(nurse, awa, monkeypatch):
    """A failure between the visit's write and the token's (power, full card) keeps neither: the
    retry saves the visit, once."""
    import appliance.emr.submissions as web_submissions

    url = f"/patients/{awa.id}/consultation/nouveau"
    token, _page = _form(nurse, url)
    data = {**visit_form_data("consultation"), "submission_token": token, "csrf_token": nurse.token}

    def card_full(*_args, **_kwargs):
        raise peewee.OperationalError("database or disk is full")

    monkeypatch.setattr(web_submissions.submissions, "claim", card_full)
    assert nurse.raw.post(url, data=data).status_code == 507
    assert Consultation.select().count() == 0 and submissions.find(token) is None
    monkeypatch.undo()
    assert nurse.raw.post(url, data=data).status_code == 302
    assert nurse.raw.post(url, data=data).status_code == 303
    assert Consultation.select().count() == 1


def test_ten_identical_registrations_at_once_make_one_patient(live_server, make_user):
    """Ten phones' worth of the same request at once, through waitress as in production."""
    user = make_user("infirmier")
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def csrf(url: str) -> tuple[str, str]:
        page = opener.open(live_server + url).read().decode()
        token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
        submission = TOKEN.search(page)
        return token, submission.group(1) if submission else ""

    token, _none = csrf("/connexion")
    opener.open(live_server + "/connexion",
                urllib.parse.urlencode({"username": user.username, "password": "motdepasse1",
                                        "csrf_token": token}).encode())
    token, submission = csrf("/patients/nouveau")
    body = urllib.parse.urlencode({**AWA, "csrf_token": token, "submission_token": submission}).encode()
    statuses: list[int] = []
    start = threading.Barrier(10)

    def post() -> None:
        start.wait()
        request = urllib.request.Request(live_server + "/patients/nouveau", data=body)
        with opener.open(request) as reply:  # redirects followed: the chart each time
            statuses.append(reply.status)
            assert "/patients/" in reply.url

    threads = [threading.Thread(target=post) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [200] * 10
    assert Patient.select().count() == 1


def test_a_form_sent_after_the_session_ended_leads_back_to_it_after_login(nurse, awa):
    from appliance.sessions import revoke_user

    url = f"/patients/{awa.id}/consultation/nouveau"
    token, _page = _form(nurse, url)
    revoke_user(nurse.user.id)  # idle limit passed, or the session closed elsewhere
    sent = nurse.raw.post(url, data={**visit_form_data("consultation"), "csrf_token": nurse.token,
                                     "submission_token": token})
    assert sent.status_code == 302 and "/connexion" in sent.location
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(sent.location).query)["next"] == [url]
    assert Consultation.select().count() == 0
    back = nurse.post(sent.location, {"username": nurse.user.username, "password": "motdepasse1"})
    assert back.status_code == 302 and back.location == url
    fresh, page = _form(nurse, url)  # the form again, a new token; the phone fills in what it kept
    assert fresh != token and f'data-draft-user="{nurse.user.id}"' in page


def test_every_index_of_the_token_table_serves_one_of_its_queries(store):
    """The token table is written on every form save: an index no query reads only slows that write."""
    queries = [submissions.FormSubmission.select().where(submissions.FormSubmission.token == "t"),
               submissions.FormSubmission.delete().where(submissions.FormSubmission.created_at < "2026-01-01")]
    used = set()
    for query in queries:
        sql, params = query.sql()
        for row in store.execute_sql(f"EXPLAIN QUERY PLAN {sql}", params).fetchall():
            used.update(re.findall(r"USING (?:COVERING )?INDEX (\S+)", row[-1]))
            used.update(["primary key"] if "PRIMARY KEY" in row[-1] else [])
    declared = {name for (name,) in store.execute_sql(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'form_submission'")}
    unused = {name for name in declared if not name.startswith("sqlite_autoindex")} - used
    assert not unused, f"index(es) no query uses: {unused}"
