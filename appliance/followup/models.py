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
