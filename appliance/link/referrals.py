"""Referrals over the link: a stored referral is announced to the district (``district.referral``)
so the receiving hospital's counter-referral can come back by the same link instead of on paper;
``apply_counter_referral`` closes the referral with it, once (a slip already typed wins)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from appliance.outbox import enqueue
from appliance.patients.models import Patient
from appliance.referrals.models import Referral
from appliance.referrals.service import CounterReferral, ReferralError, record_counter_referral
from appliance.store.audit import system_actor

KIND = "district.referral"


def queue_referral(referral: Referral, patient: Patient, age: str) -> None:
    """Queue the referral's announcement; call inside the transaction that stored it."""
    envelope = {"id": f"ref-{uuid.uuid4()}", "kind": "referral", "body": {
        "ref_id": referral.id, "referred_on": referral.visit_date.isoformat(), "destination": referral.destination,
        "urgency": referral.urgency, "evacuation": referral.evacuation, "reason": referral.reason,
        "given_before": referral.given_before, "sex": patient.sex, "age": age, "role": referral.author_role}}
    enqueue(KIND, json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
            urgent=referral.evacuation, ref=f"referral:{referral.id}")


def apply_counter_referral(body: dict, today: dt.date) -> bool:
    """Close the referral with the district's counter-referral; False when it cannot (already closed,
    unknown referral, bad date): the district's copy stays, nothing on the box changes."""
    try:
        returned_on = dt.date.fromisoformat(str(body.get("returned_on", "")))
        record_counter_referral(system_actor("district"), int(body.get("ref_id", 0)),
                                CounterReferral(returned_on, str(body.get("findings", "")),
                                                str(body.get("care_given", ""))),
                                today, source="district", author=str(body.get("by", ""))[:200])
    except (ValueError, ReferralError):
        return False
    return True
