"""PCIME and prescription detail rows, written in the consultation's transaction. Created by
the frozen migration m0071 (keep both in step)."""

from __future__ import annotations

import peewee

from appliance.patients.models import Consultation, Prescription
from appliance.store.db import BaseModel
from appliance.store.models import User, utcnow


class PcimeAssessment(BaseModel):
    """What was found and classified at one PCIME consultation (one per consultation)."""

    consultation = peewee.ForeignKeyField(Consultation, unique=True, lazy_load=False)
    patient_id = peewee.IntegerField()
    visit_date = peewee.DateField()
    chart = peewee.TextField()  # nourrisson, enfant
    signs = peewee.TextField(default="")  # space-separated sign codes ticked
    measures = peewee.TextField(default="{}")  # JSON {code: value}
    classifications = peewee.TextField(default="[]")  # JSON, final (after overrides), pink first
    urgent = peewee.BooleanField(default=False)  # a pink classification: referred
    # For the monthly report (plain columns, so the report's SQL stays readable):
    fever = peewee.BooleanField(default=False)
    malaria_test = peewee.TextField(default="")  # positif, negatif, "" (not done)
    malaria = peewee.TextField(default="")  # simple, grave, presume, ""
    pneumonia = peewee.BooleanField(default=False)
    diarrhoea = peewee.BooleanField(default=False)
    ors_given = peewee.BooleanField(default=False)
    zinc_given = peewee.BooleanField(default=False)
    vitamin_a_given = peewee.BooleanField(default=False)
    albendazole_given = peewee.BooleanField(default=False)

    class Meta:
        table_name = "pcime_assessment"
        indexes = ((("patient_id", "visit_date"), False), (("visit_date",), False))


class PcimeOverride(BaseModel):
    """A classification changed by the clinician, with the reason (also in the audit trail)."""

    assessment = peewee.ForeignKeyField(PcimeAssessment, lazy_load=False, backref="overrides")
    table_code = peewee.TextField()  # the chart table (toux, fievre...)
    computed = peewee.TextField()  # the rules' row code
    chosen = peewee.TextField()  # the clinician's row code
    reason = peewee.TextField()
    author = peewee.ForeignKeyField(User, null=True, lazy_load=False, index=False)
    author_role = peewee.TextField(default="")
    recorded_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "pcime_override"


class PrescriptionItem(BaseModel):
    """The coded side of a prescription line: medicine of the list, dose, and why it departs from
    the table (or why "autre": a medicine outside the list)."""

    prescription = peewee.ForeignKeyField(Prescription, unique=True, lazy_load=False)
    medicine = peewee.TextField()  # code of medicaments_essentiels.toml, or "autre"
    treatment = peewee.TextField(null=True)  # code of pcime_doses.toml when proposed by a classification
    dose = peewee.FloatField(null=True)
    times_per_day = peewee.IntegerField(null=True)
    days = peewee.IntegerField(null=True)
    reason = peewee.TextField(default="")

    class Meta:
        table_name = "prescription_item"
