"""Continuing education over the link: a protocol pushed by the district reaches clinic test-a at its
next window (not test-b), is read on the box without any link, and the district sees who read it,
once per person however often it is opened."""

from __future__ import annotations

from appliance.district.app import push_document
from appliance.district.store import Received
from appliance.link import inbox
from appliance.link.models import DistrictDocument, DocumentRead
from appliance.outbox.models import OutboxItem
from appliance.wiring import compose_outbox
from tests.conftest import text_of
from tests.link.test_avis import _district_client, linked_app, nurse  # noqa: F401 (fixtures)

PROTOCOL = "Prise en charge de la rougeole : vitamine A J1 et J2, isolement, notification immédiate.".encode()


def test_a_pushed_protocol_is_read_offline_and_the_district_sees_who_read_it(nurse, linked_cfg, district):  # noqa: F811
    push_document(["test-a"], "Protocole rougeole 2026", "rougeole.txt", "text/plain", PROTOCOL)
    push_document(["test-b"], "Note pour un autre centre", "autre.txt", "text/plain", b"autre")
    assert inbox.pull(linked_cfg).applied == 1
    assert inbox.pull(linked_cfg).applied == 0  # fetched once
    document = DistrictDocument.get()
    assert document.title == "Protocole rougeole 2026"
    assert "1 non lu(s)" in text_of(nurse.get("/"))
    district.stop()  # no link at all while the nurse reads
    page = text_of(nurse.get(f"/documents/{document.id}"))
    assert "vitamine A J1 et J2" in page
    nurse.get(f"/documents/{document.id}")
    assert DocumentRead.select().count() == 1
    assert OutboxItem.select().where(OutboxItem.kind == "district.read_receipt").count() == 1
    assert "non lu" not in text_of(nurse.get("/documents/"))

    from tests.link.conftest import start_district

    start_district(district.db_path, int(district.url.rsplit(":", 1)[1]), district)
    assert compose_outbox(linked_cfg).flush().delivered == 1
    receipt = Received.get(Received.kind == "read_receipt")
    assert receipt.site_id == "test-a"
    kone, _token = _district_client(district, "dr_kone")
    page = kone.get("/documents").get_data(as_text=True)
    assert "Protocole rougeole 2026" in page and "Awa Traoré (infirmier)" in page
    other, _token = _district_client(district, "dr_sidibe")
    assert "Awa Traoré" not in other.get("/documents").get_data(as_text=True)
