"""The referral and its counter-referral, one row. Created by the frozen migration m0130 (keep both
in step). The referral date is ``visit_date`` so the monthly report reads it like any visit table."""

from __future__ import annotations

import peewee

from appliance.patients.models import Consultation, Patient
from appliance.store.models import User, VoidableModel, utcnow

URGENCIES = ("urgente", "normale")
TRANSPORTS = ("ambulance", "vehicule", "moto", "charrette", "pied", "autre")


class Referral(VoidableModel):
    """A patient referred to a higher level of care; open until its counter-referral is recorded."""

    patient = peewee.ForeignKeyField(Patient, lazy_load=False, index=False)
    visit_date = peewee.DateField()  # the day the patient was referred
    consultation = peewee.ForeignKeyField(Consultation, null=True, lazy_load=False)  # the visit it came from
    reason = peewee.TextField()
    urgency = peewee.TextField()  # URGENCIES
    evacuation = peewee.BooleanField(default=False)  # sent at once with transport arranged by the centre
    destination = peewee.TextField()  # one of [referrals] destinations
    transport = peewee.TextField()  # TRANSPORTS
    given_before = peewee.TextField(default="")  # treatment given before the transfer
    author = peewee.ForeignKeyField(User, null=True, lazy_load=False, index=False)
    author_role = peewee.TextField(default="")
    created_at = peewee.DateTimeField(default=utcnow)
    # The counter-referral: what the hospital found and did, and when the patient came back.
    returned_on = peewee.DateField(null=True)
    findings = peewee.TextField(default="")
    care_given = peewee.TextField(default="")
    counter_source = peewee.TextField(default="")  # "fiche" (typed from the paper) or "district" (the link)
    counter_author = peewee.TextField(default="")  # username, or the district clinician's name
    counter_recorded_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "referral"
        indexes = ((("patient", "visit_date"), False), (("returned_on", "voided", "visit_date"), False))
