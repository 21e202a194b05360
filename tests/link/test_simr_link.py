"""A suspected measles case at clinic test-a reaches the real district service through the real
outbox at the next flush, and only the district clinician covering test-a sees it."""

from __future__ import annotations

import datetime as dt

from appliance.district.store import Received
from appliance.patients.models import Consultation
from appliance.patients.registry import Identity, register_patient
from appliance.patients.visits import record_visit
from appliance.store.audit import system_actor
from appliance.wiring import compose_outbox
from tests.link.test_avis import _district_client


def test_a_measles_case_reaches_the_district_once(linked_cfg, store, record_hooks, district):
    actor = system_actor("tests")
    today = dt.date.today()
    child = register_patient(actor, Identity("Keita", "Adama", "M", today - dt.timedelta(days=900), "Pelengana"),
                             site_id="T")
    record_visit(actor, child, Consultation(patient=child.id, visit_date=today, diagnosis_code="B05.9",
                                            reason="Fièvre, éruption"), today=today)
    report = compose_outbox(linked_cfg).flush(only_urgent=True)
    assert report.delivered >= 1
    alert = Received.get(Received.kind == "simr_alert")
    assert alert.site_id == "test-a"
    compose_outbox(linked_cfg).flush()  # again: nothing new reaches the district
    assert Received.select().where(Received.kind == "simr_alert").count() == 1
    kone, _token = _district_client(district, "dr_kone")
    assert "Rougeole" in kone.get("/notifications").get_data(as_text=True)
    other, _token = _district_client(district, "dr_sidibe")
    assert "Rougeole" not in other.get("/notifications").get_data(as_text=True)
