"""A phone camera photo for a second opinion, through the real server: with JavaScript the phone
shrinks it before sending (static/photos.js) and the box takes it (≤ 200 KB once shrunk again);
without JavaScript a file over the form's limit gets the French « Fichier trop gros » page from
waitress itself, before a byte is read, and nothing is stored."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import socket
import threading

import pytest
from PIL import Image

from appliance.emr.server import make_server
from appliance.link.models import AvisRequest
from appliance.link.photos import MAX_PHOTO_BYTES
from appliance.outbox.models import OutboxItem
from appliance.patients.registry import Identity, register_patient
from appliance.store.audit import system_actor
from tests.bench.support import Session
from tests.conftest import PASSWORD, free_port, screenshot, sign_in
from tests.link.conftest import phone_photo


@pytest.fixture
def served(linked_cfg, store, make_user):
    from appliance import hooks
    from appliance.emr import create_app

    make_user("infirmier", username="inf.diarra")
    child = register_patient(system_actor("tests"), Identity("Diarra", "Moussa", "M",
                                                             dt.date.today() - dt.timedelta(days=430), "Pelengana"),
                             site_id="TEST")
    with hooks.installed_for(hooks.installed()):
        app = create_app(linked_cfg)
        web = dataclasses.replace(linked_cfg.web, host="127.0.0.1", port=free_port())
        server = make_server(app, dataclasses.replace(linked_cfg, web=web))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{web.port}", web.port, child
        server.close()
        thread.join(timeout=5)


def test_a_10_mb_file_without_javascript_gets_the_french_page_and_changes_nothing(served):
    _url, port, child = served
    session = Session(port)
    session.login("inf.diarra", PASSWORD)
    boundary = "photo-boundary"
    head = (f"POST /patients/{child.id}/avis HTTP/1.1\r\nHost: clinique\r\nCookie: {session.cookie}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {10 * 1024 * 1024 + 300}\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())  # refused from the announced length: the body is never read
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    status, _, rest = reply.partition(b"\r\n")
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 413")
    page = body.decode("utf-8")
    assert "Fichier trop gros" in page and "dépasse la taille permise" in page and 'lang="fr"' in page
    assert b"content-type: text/html" in headers.lower() and b"content-security-policy" in headers.lower()
    assert AvisRequest.select().count() == 0 and OutboxItem.select().count() == 0


@pytest.mark.slow
def test_a_phone_photo_is_shrunk_in_the_browser_and_taken(served, phone_page, tmp_path):
    url, _port, child = served
    photo = phone_photo(4000, 3000)  # a 12-megapixel camera photo, over the form's 4 MB without JavaScript
    assert 4 * 1024 * 1024 < len(photo) < 8 * 1024 * 1024, len(photo)
    (tmp_path / "IMG_2041.jpg").write_bytes(photo)
    page = phone_page
    sign_in(page, url, "inf.diarra")
    page.goto(f"{url}/patients/{child.id}/avis")
    page.fill('[name="question"]', "Éruption depuis 3 jours : rougeole ?")
    sent: list[int] = []
    page.on("request", lambda request: sent.append(len(request.post_data_buffer or b""))
            if request.method == "POST" and "/avis" in request.url else None)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.set_input_files("#photos", str(tmp_path / "IMG_2041.jpg"))
    for _ in range(100):  # the page's CSP forbids eval, so no wait_for_function: poll
        if not page.evaluate("document.querySelector('#photos').hasAttribute('aria-busy')"):
            break
        page.wait_for_timeout(100)
    chosen = page.evaluate("[...document.querySelector('#photos').files].map(f => [f.name, f.size, f.type])")
    assert chosen[0][0] == "IMG_2041.jpg" and chosen[0][2] == "image/jpeg" and chosen[0][1] < 1024 * 1024
    assert errors == []
    screenshot(page, "avis-photo-shrunk-360")
    page.click("button.primary")
    page.wait_for_url("**/avis/*")
    assert sent and sent[0] < 4 * 1024 * 1024  # under the form's limit: not refused
    asked = AvisRequest.get()
    assert asked.photo_count == 1 and asked.photo_bytes <= MAX_PHOTO_BYTES
    queued = OutboxItem.get(OutboxItem.kind == "district.avis")
    assert queued.ref == f"avis:{asked.id}"
    assert max(Image.open(io.BytesIO(photo)).size) == 4000
