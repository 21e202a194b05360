"""Follow-up rows derived from the patient record: due items, gravity alerts, last visit.

They are rewritten for one patient inside the transaction that writes the patient's visit
(see ``service``), so they are never older than the record. They carry dates only; whether an
item is due, overdue or expired is decided at query time against today's date, so nothing
needs a nightly refresh. The schema is created by the frozen migration m0020 (keep both in step).
"""

from __future__ import annotations

import peewee

from appliance.patients.models import Patient
from appliance.store.db import BaseModel
from appliance.store.models import User, VoidableModel, utcnow


class FollowupItem(BaseModel):
    """One thing to do for one patient; ``id`` is the stable ``patient~rule~due_date``."""

    id = peewee.TextField(primary_key=True)
    patient = peewee.ForeignKeyField(Patient, lazy_load=False, index=True)
    programme = peewee.TextField()  # pev, cpn, pf, chronique, croissance
    rule_id = peewee.TextField()
    label = peewee.TextField()
    due_on = peewee.DateField()
    overdue_on = peewee.DateField()
    expires_on = peewee.DateField(null=True)
    priority = peewee.IntegerField()
    note = peewee.TextField(null=True)
    village_key = peewee.TextField()
    household_id = peewee.IntegerField(null=True)
    # Off the call lists until this date (a contact's promised date), or for good (``contacts.OFF_LIST``)
    # after a refusal or a dose given elsewhere; the chart still shows the item. Added by m0022.
    remind_on = peewee.DateField(null=True)

    class Meta:
        table_name = "followup_item"


class FollowupAlert(BaseModel):
    """A current gravity alert (high-risk pregnancy, acute malnutrition) with its reasons."""

    id = peewee.TextField(primary_key=True)  # patient~kind~date of the data it comes from
    patient = peewee.ForeignKeyField(Patient, lazy_load=False, index=True)
    kind = peewee.TextField()  # grossesse, nutrition
    severity = peewee.TextField()  # urgent, high, moderate
    severity_rank = peewee.IntegerField()  # 1 = most severe
    label = peewee.TextField()
    reasons = peewee.TextField()  # one reason per line, worst first
    rule_ids = peewee.TextField()  # space-separated rules that fired
    since = peewee.DateField()  # date of the visit or measurement behind the alert
    expires_on = peewee.DateField()
    village_key = peewee.TextField()
    household_id = peewee.IntegerField(null=True)

    class Meta:
        table_name = "followup_alert"


class FollowupPatient(BaseModel):
    """Per patient: the last visit of any programme, so "families seen this month" is a lookup."""

    patient = peewee.ForeignKeyField(Patient, primary_key=True, lazy_load=False)
    village_key = peewee.TextField()
    household_id = peewee.IntegerField(null=True)
    last_visit_on = peewee.DateField(null=True)
    computed_on = peewee.DateField()

    class Meta:
        table_name = "followup_patient"


class FollowupContact(VoidableModel):
    """One attempt to reach a patient on a follow-up list: a phone call or a relay's home visit.

    Written only through ``service.record_contact`` (audited, with the patient's recompute in the
    same transaction); voided, never deleted, when entered by mistake. Its effects on the lists
    (a moved reminder, an item taken off, a patient who moved or died) are re-derived from the live
    contacts at every recompute, so voiding one undoes them. Schema: migration m0022.
    """

    patient = peewee.ForeignKeyField(Patient, index=False, lazy_load=False)  # (patient, contacted_on) index
    contacted_on = peewee.DateField()
    method = peewee.TextField()  # contacts.METHODS
    outcome = peewee.TextField()  # contacts.OUTCOMES
    promised_on = peewee.DateField(null=True)  # joint: the day the patient said they would come
    death_on = peewee.DateField(null=True)  # decede
    phone = peewee.TextField(default="")  # the number called (a wrong number flags this one)
    item_ids = peewee.TextField(default="")  # the follow-up items it was about, space-separated
    item_labels = peewee.TextField(default="")  # their labels then, for the history ("Penta 2, VPO 2")
    note = peewee.TextField(default="")
    author = peewee.ForeignKeyField(User, null=True, index=False, lazy_load=False)
    author_name = peewee.TextField(default="")  # shown on the lists without joining the users
    author_role = peewee.TextField(default="")
    recorded_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "followup_contact"
        indexes = ((("patient", "contacted_on"), False),)
