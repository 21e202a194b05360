"""A second opinion over the link, end to end with real parts: a nurse asks from the chart with a
phone photo (shrunk on the box to ≤ 200 KB), the real outbox delivers it to the real district
service, a district clinician of that clinic reads and answers it (another cannot see it), the
answer comes back into the chart and the asker's home page, exactly once through retries, a
48-hour outage and a flusher killed mid-reply."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image

from appliance.district.store import CasePhoto, Received
from appliance.link import inbox
from appliance.link.models import AvisRequest
from appliance.link.photos import MAX_PHOTO_BYTES, PhotoError, shrink
from appliance.outbox.models import ItemState, OutboxAttempt, OutboxItem
from appliance.patients.registry import Identity, register_patient
from appliance.store.audit import system_actor
from appliance.wiring import compose_outbox
from tests.conftest import PASSWORD, WebClient, text_of
from tests.link.conftest import phone_photo

TODAY = dt.date.today()


def test_a_phone_photo_is_shrunk_under_200_kb_and_bad_files_are_refused():
    raw = phone_photo()
    assert len(raw) > 1_000_000
    small = shrink(raw)
    assert len(small) <= MAX_PHOTO_BYTES and small.startswith(b"\xff\xd8")
    assert max(Image.open(io.BytesIO(small)).size) >= 640
    with pytest.raises(PhotoError, match="Photo trop lourde"):
        shrink(b"\xff\xd8" + b"0" * (10 * 1024 * 1024))
    with pytest.raises(PhotoError, match="pas une photo lisible"):
        shrink(b"not an image at all")


@pytest.fixture
def linked_app(linked_cfg, store):
    from appliance import hooks
    from appliance.emr import create_app

    with hooks.installed_for(hooks.installed()):
        yield create_app(linked_cfg, testing=True)


@pytest.fixture
def nurse(linked_app, make_user):
    user = make_user("infirmier")
    web = WebClient(linked_app.test_client())
    assert web.login(user.username).status_code == 302
    web.user = user
    return web


@pytest.fixture
def child(store):
    return register_patient(system_actor("tests"), Identity("Diarra", "Moussa", "M", TODAY - dt.timedelta(days=430),
                                                            "Pelengana"), site_id="TEST")


def _ask(nurse, child, photos=(), question="Éruption depuis 3 jours, fièvre : rougeole ? Conduite ?"):
    files = [(io.BytesIO(photo), f"photo{n}.jpg") for n, photo in enumerate(photos)]
    return nurse.post(f"/patients/{child.id}/avis", {"question": question, "photos": files},
                      content_type="multipart/form-data")


def _district_client(district, username):
    client = district.app.test_client()
    page = client.get("/connexion").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post("/connexion", data={"username": username, "password": PASSWORD,
                                           "csrf_token": token}).status_code == 302
    page = client.get("/").get_data(as_text=True)  # a new session after login: its own token
    return client, page.split('name="csrf_token" value="')[1].split('"')[0]


def test_asked_answered_and_shown_on_the_chart_exactly_once(nurse, child, linked_cfg, district):
    response = _ask(nurse, child, [phone_photo()])
    assert response.status_code == 302, text_of(response)[:400]
    asked = AvisRequest.get()
    assert asked.photo_count == 1 and asked.photo_bytes <= MAX_PHOTO_BYTES
    item = OutboxItem.get()
    assert item.kind == "district.avis" and item.ref == f"avis:{asked.id}"
    envelope = json.loads(bytes(item.payload))
    assert "Diarra" not in json.dumps(envelope) and envelope["body"]["patient"]["age"] == "14 mois"

    outbox = compose_outbox(linked_cfg)
    report = outbox.flush()
    assert report.delivered == 1, report
    assert OutboxItem.get().state == ItemState.DELIVERED
    sent = OutboxAttempt.get().bytes_sent
    assert asked.photo_bytes < sent <= 250 * 1024  # one photo, gzip, headers: within the case budget
    case = Received.get()
    assert (case.site_id, case.kind, case.message_id) == ("test-a", "avis", asked.message_id)
    assert len(bytes(CasePhoto.get().jpeg)) == asked.photo_bytes

    # a district clinician of another clinic neither lists nor opens it
    other, _token = _district_client(district, "dr_sidibe")
    assert "Éruption" not in other.get("/").get_data(as_text=True)
    assert other.get(f"/cas/{case.id}").status_code == 404
    assert other.get(f"/cas/{case.id}/photo/1").status_code == 404
    assert other.post(f"/cas/{case.id}", data={"answer": "x", "csrf_token": _token}).status_code == 404
    kone, token = _district_client(district, "dr_kone")
    assert "Éruption depuis 3 jours" in kone.get("/").get_data(as_text=True)
    page = kone.get(f"/cas/{case.id}").get_data(as_text=True)
    assert "14 mois" in page and "Awa Traoré" in page
    assert kone.get(f"/cas/{case.id}/photo/1").data.startswith(b"\xff\xd8")
    assert kone.post(f"/cas/{case.id}", data={"answer": ""}).status_code == 400  # no CSRF token: refused
    assert kone.post(f"/cas/{case.id}", data={"answer": "Rougeole probable : vitamine A, isolement, "
                                              "notifier (SIMR).", "csrf_token": token}).status_code == 302
    again = kone.post(f"/cas/{case.id}", data={"answer": "autre", "csrf_token": token})
    assert again.status_code == 422 and "déjà sa réponse" in again.get_data(as_text=True)

    assert "réponse(s) à lire" not in text_of(nurse.get("/"))
    pulled = inbox.pull(linked_cfg)
    assert (pulled.applied, pulled.error) == (1, "")
    assert inbox.pull(linked_cfg).applied == 0  # the cursor moved: nothing applied twice
    asked = AvisRequest.get()
    assert asked.answer.startswith("Rougeole probable") and asked.answered_by == "Dr Koné"
    assert "1 réponse(s) à lire" in text_of(nurse.get("/"))
    chart = text_of(nurse.get(f"/patients/{child.id}"))
    assert "Rougeole probable : vitamine A" in chart and "Dr Koné" in chart
    nurse.get(f"/avis/{asked.id}")
    assert "réponse(s) à lire" not in text_of(nurse.get("/"))

    # the same message delivered again (a lost reply): the district keeps one case
    OutboxItem.update(state=ItemState.PENDING, next_attempt_at=dt.datetime(2000, 1, 1)).execute()
    assert compose_outbox(linked_cfg).flush().delivered == 1
    assert Received.select().count() == 1 and Received.get().deliveries == 2


def test_bad_requests_change_nothing(nurse, child):
    page = text_of(_ask(nurse, child, question="  "))
    assert "Écrivez la question" in page
    page = text_of(_ask(nurse, child, [b"garbage"]))
    assert "Photo 1 : Ce fichier n'est pas une photo lisible" in page
    page = text_of(_ask(nurse, child, [phone_photo(400, 300)] * 3))
    assert "2 photos au plus" in page
    too_big = _ask(nurse, child, [b"\xff\xd8" + os.urandom(10 * 1024 * 1024)])  # 10 MB: over the form's limit
    assert too_big.status_code == 413 and "Fichier trop gros" in text_of(too_big)
    assert AvisRequest.select().count() == 0 and OutboxItem.select().count() == 0


def test_a_wrong_token_is_refused_and_waits_for_a_person(nurse, child, linked_cfg, district):
    from appliance.config import write_secret

    write_secret(linked_cfg.paths.secrets_dir / "district_token", "a-token-the-district-never-gave")
    _ask(nurse, child)
    report = compose_outbox(linked_cfg).flush()
    item = OutboxItem.get()
    assert report.delivered == 0 and item.state == ItemState.DEAD and "jeton du centre inconnu" in item.last_message
    assert Received.select().count() == 0


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC).replace(tzinfo=None)

    def __call__(self) -> dt.datetime:
        return self.now


def test_a_48_hour_outage_then_the_link_back_delivers_once(nurse, child, linked_cfg, district, monkeypatch):
    from tests.link.conftest import start_district

    clock = Clock()
    monkeypatch.setattr("appliance.outbox.queue.utcnow", clock)
    _ask(nurse, child, [phone_photo(1200, 900)])
    district.stop()  # the district's server is down (or the clinic's 3G is)
    outbox = compose_outbox(linked_cfg)
    for _hour in range(48):
        report = outbox.flush()
        assert report.delivered == 0
        clock.now += dt.timedelta(hours=1)
    item = OutboxItem.get()
    assert item.state == ItemState.PENDING and item.attempts == 0  # a dead link spends no attempt
    assert OutboxAttempt.select().where(OutboxAttempt.outcome == "retry_later").count() >= 10
    port = int(district.url.rsplit(":", 1)[1])
    start_district(district.db_path, port, district)
    clock.now += dt.timedelta(hours=7)  # past the longest backoff
    assert outbox.flush().delivered == 1
    assert Received.select().count() == 1 and Received.get().deliveries == 1


def test_a_flusher_killed_mid_reply_resends_and_the_district_keeps_one(nurse, child, linked_cfg, district):
    _ask(nurse, child)
    district.pause_replies = True
    env = {**os.environ, "APPLIANCE_CONFIG": str(linked_cfg.source)}
    flusher = subprocess.Popen([sys.executable, "-m", "appliance", "outbox", "flush"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while Received.select().count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Received.select().count() == 1  # stored at the district; its reply is held
    assert OutboxItem.get().state == ItemState.SENDING
    flusher.send_signal(signal.SIGKILL)
    flusher.wait(10)
    district.pause_replies = False
    district.release.set()
    report = compose_outbox(linked_cfg).flush()
    assert report.recovered == 1 and report.delivered == 1
    assert [attempt.outcome for attempt in OutboxAttempt.select().order_by(OutboxAttempt.id)] == [
        "interrupted", "delivered"]
    assert Received.select().count() == 1 and Received.get().deliveries == 2
