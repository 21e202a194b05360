"""A vaccination session: every dose due for a child, given or not, written in one transaction.

A dose given is an ``Immunisation`` like any other (the follow-up recomputes in the same
transaction); a dose due but not given keeps its reason (out of stock, contraindication, refusal,
child absent), so the card and the lists can tell a missed opportunity from a forgotten dose.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import peewee

from appliance.patients.models import Immunisation, Patient
from appliance.patients.visits import record_visit
from appliance.store.audit import Actor, audited_save
from appliance.store.db import database
from appliance.store.models import VoidableModel, utcnow

NOT_GIVEN_REASONS = ("rupture", "contre_indication", "refus", "absent")


class DoseNotGiven(VoidableModel):
    """A dose due at a session and not given, with why (``NOT_GIVEN_REASONS``)."""

    patient = peewee.ForeignKeyField(Patient, lazy_load=False)
    visit_date = peewee.DateField()
    antigen = peewee.TextField()
    dose_number = peewee.IntegerField()
    reason = peewee.TextField()
    author_id = peewee.IntegerField(null=True)
    recorded_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "dose_not_given"
        indexes = ((("patient", "visit_date"), False),)


def record_session(actor: Actor, patient: Patient, visit_date: dt.date, *, given: Sequence[Immunisation],
                   not_given: Sequence[tuple[str, int, str]]) -> list[Immunisation]:
    """Write the doses given and the reasons of those not given together, or nothing at all."""
    if not given and not not_given:
        raise ValueError("an empty session")
    with database.atomic():
        saved = [record_visit(actor, patient, dose) for dose in given]
        for antigen, dose_number, reason in not_given:
            if reason not in NOT_GIVEN_REASONS:
                raise ValueError(f"unknown reason {reason!r}")
            audited_save(actor, DoseNotGiven(patient=patient.id, visit_date=visit_date, antigen=antigen,
                                             dose_number=dose_number, reason=reason, author_id=actor.user_id))
    return saved


def not_given_of(patient_id: int) -> list[DoseNotGiven]:
    return list(DoseNotGiven.select().where((DoseNotGiven.patient == patient_id) & (DoseNotGiven.voided == False))  # noqa: E712
                .order_by(DoseNotGiven.visit_date.desc()))
