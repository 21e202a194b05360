"""A counter-referral received over the link: the referral typed at clinic test-a is announced to
the district, the district clinician of test-a records what the hospital found, and the box's
pending referral closes with it at the next window (source « district »), once."""

from __future__ import annotations

import datetime as dt

from appliance.district.store import Received
from appliance.link import inbox
from appliance.referrals.models import Referral
from appliance.wiring import compose_outbox
from tests.conftest import text_of
from tests.link.test_avis import _district_client, child, linked_app, nurse  # noqa: F401 (fixtures)

TODAY = dt.date.today()
CSREF = "CSRéf (centre de santé de référence du district)"


def test_the_counter_referral_comes_back_over_the_link(nurse, child, linked_cfg, district):  # noqa: F811
    form = {"referred_on": TODAY.isoformat(), "destination": CSREF, "urgency": "urgente", "evacuation": "y",
            "transport": "ambulance", "reason": "Convulsions", "given_before": "Diazépam"}
    assert nurse.post(f"/patients/{child.id}/referer", form).status_code == 302
    nurse.post(f"/patients/{child.id}/referer", form)  # sent twice: one referral, one announcement
    assert compose_outbox(linked_cfg).flush().delivered == 1
    announced = Received.get(Received.kind == "referral")
    assert announced.site_id == "test-a"

    other, other_token = _district_client(district, "dr_sidibe")
    assert "Convulsions" not in other.get("/references").get_data(as_text=True)
    assert other.post("/references", data={"received_id": announced.id, "returned_on": TODAY.isoformat(),
                                           "findings": "x", "csrf_token": other_token}).status_code == 404
    kone, token = _district_client(district, "dr_kone")
    assert "Convulsions" in kone.get("/references").get_data(as_text=True)
    assert kone.post("/references", data={"received_id": announced.id, "returned_on": TODAY.isoformat(),
                                          "findings": "Méningite, ponction lombaire", "care_given": "Ceftriaxone",
                                          "csrf_token": token}).status_code == 302

    assert inbox.pull(linked_cfg).applied == 1
    referral = Referral.get()
    assert (referral.returned_on, referral.counter_source, referral.counter_author) == (TODAY, "district", "Dr Koné")
    assert "Méningite, ponction lombaire" in text_of(nurse.get(f"/references/{referral.id}"))
    assert "Aucune référence en attente." in text_of(nurse.get("/references"))
    assert inbox.pull(linked_cfg).applied == 0
