"""Writing and reading visits: the one path every programme's visit goes through.

``record_visit`` writes a visit (and a consultation's prescription lines) with its audit
entries in ONE transaction, then runs the ``patient_written`` hooks of the process's registry
(``appliance.hooks``) inside that same transaction: the process wires the follow-up's one there
to recompute the patient's due items and alerts, so a visit and what it changes are committed
together or not at all. A hook that raises cancels the whole write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from appliance import hooks
from appliance.hooks import PATIENT_WRITTEN
from appliance.patients import deaths, pregnancies
from appliance.patients.errors import VisitError
from appliance.patients.models import (
    PROGRAMMES,
    AntenatalVisit,
    Consultation,
    Death,
    Delivery,
    DeliveryBaby,
    Patient,
    Prescription,
    Visit,
)
from appliance.store.audit import Actor, audited_save, audited_void
from appliance.store.clock import trusted_today
from appliance.store.db import database
from appliance.store.models import AuditEntry, User

__all__ = ["VisitError", "correct_visit", "record_visit", "void_visit"]


def run_patient_hooks(actor: Actor, patient: Patient, visit: Visit | None) -> None:
    """Every ``patient_written`` hook, in the caller's transaction (visit None: the record itself
    changed, by registration, identity or merge)."""
    hooks.installed().call(PATIENT_WRITTEN, actor, patient, visit)


@dataclass(frozen=True)
class PrescriptionLine:
    drug: str
    dosage: str = ""
    quantity: int | None = None
    duration_days: int | None = None


def _check_dates(patient: Patient, visit: Visit, today: dt.date) -> None:
    if visit.visit_date is None:
        raise VisitError("visit_date", "La date est obligatoire.")
    if visit.visit_date > today:
        raise VisitError("visit_date", "La date est dans le futur.")
    if visit.visit_date < patient.birth_date:
        raise VisitError("visit_date", "La date est avant la naissance du patient.")
    deaths.check_alive(patient, visit)
    if isinstance(visit, AntenatalVisit):
        pregnancies.check_contact(patient, visit, today)
    if isinstance(visit, Death):
        visit.category = deaths.categorise(patient, visit)


def record_visit(actor: Actor, patient: Patient, visit: Visit, *,
                 prescriptions: Sequence[PrescriptionLine] = (), today: dt.date | None = None,
                 before_hooks: Callable[[Visit], None] | None = None) -> Visit:
    """Write a new visit of any programme for ``patient``, all or nothing. ``before_hooks(visit)``
    writes the visit's own detail rows (a multiple birth's babies) once it has an id, before the
    patient hooks read the record."""
    if patient.voided:
        raise VisitError("visit_date", "Ce dossier a été annulé ou fusionné : enregistrez la visite dans le "
                                       "dossier conservé.")
    if prescriptions and not isinstance(visit, Consultation):
        raise TypeError("only a consultation has prescription lines")
    _check_dates(patient, visit, today or trusted_today())
    visit.patient = patient.id
    visit.author = actor.user_id
    visit.author_role = actor.role
    visit.revision = 1
    with database.atomic():
        audited_save(actor, visit)
        for line in prescriptions:
            _save_prescription(actor, visit, line)
        _after_write(actor, patient, visit, before_hooks)
    return visit


def correct_visit(actor: Actor, visit: Visit, *, reason: str = "",
                  prescriptions: Sequence[PrescriptionLine] | None = None, today: dt.date | None = None,
                  before_hooks: Callable[[Visit], None] | None = None) -> Visit:
    """Save corrected values of ``visit`` (already set on it by the caller). The revision goes up
    and the audit trail keeps the replaced values; replaced prescription lines are voided."""
    if visit.voided:
        raise VisitError("visit_date", "Cette visite a été annulée : elle ne peut plus être corrigée.")
    patient = Patient.get_by_id(visit.patient_id)
    _check_dates(patient, visit, today or trusted_today())
    with database.atomic():
        if prescriptions is not None and isinstance(visit, Consultation):
            current = list(active_prescriptions([visit.id]).get(visit.id, []))
            wanted = list(prescriptions)
            if [_line_of(line) for line in current] != wanted:
                for line in current:
                    audited_void(actor, line, "ordonnance corrigée")
                for line in wanted:
                    _save_prescription(actor, visit, line)
        visit.revision = (visit.revision or 1) + 1
        audited_save(actor, visit, reason=reason.strip() or "correction")
        _after_write(actor, patient, visit, before_hooks)
    return visit


def _save_prescription(actor: Actor, visit: Visit, line: PrescriptionLine) -> None:
    audited_save(actor, Prescription(consultation=visit.id, drug=line.drug, dosage=line.dosage,
                                     quantity=line.quantity, duration_days=line.duration_days))


def _after_write(actor: Actor, patient: Patient, visit: Visit,
                 before_hooks: Callable[[Visit], None] | None) -> None:
    """What every written or corrected visit sets off, in its transaction: the caller's own step,
    the pregnancy record, a death's consequences, then the patient_written hooks."""
    if before_hooks is not None:
        before_hooks(visit)
    pregnancies.after_write(actor, patient, visit)
    if isinstance(visit, Death):
        deaths.after_write(actor, patient, visit)
    run_patient_hooks(actor, patient, visit)


def void_visit(actor: Actor, visit: Visit, reason: str) -> Visit:
    """Cancel a visit entered by mistake (it stays in the database, hidden from the chart)."""
    with database.atomic():
        audited_void(actor, visit, reason)
        if isinstance(visit, Consultation):
            for line in active_prescriptions([visit.id]).get(visit.id, []):
                audited_void(actor, line, reason)
        patient = Patient.get_by_id(visit.patient_id)
        pregnancies.after_write(actor, patient, visit)
        if isinstance(visit, Death):
            deaths.after_write(actor, patient, visit)
        run_patient_hooks(actor, patient, visit)
        if isinstance(visit, Delivery):
            run_newborn_hooks(actor, visit)
    return visit


def newborn_ids(delivery: Delivery) -> list[int]:
    """The records opened for the babies of ``delivery`` (baby 1 first)."""
    ids = [delivery.newborn_id] if delivery.newborn_id else []
    ids += [row.newborn_id for row in DeliveryBaby.select(DeliveryBaby.newborn).where(
        (DeliveryBaby.delivery == delivery.id) & (DeliveryBaby.voided == False)  # noqa: E712
        & DeliveryBaby.newborn.is_null(False)).order_by(DeliveryBaby.position)]
    return ids


def run_newborn_hooks(actor: Actor, delivery: Delivery) -> None:
    """A newborn's follow-up (postnatal contacts) depends on the delivery that opened its record:
    after that delivery is written, corrected or voided, its babies' records are recomputed too."""
    for newborn_id in newborn_ids(delivery):
        run_patient_hooks(actor, Patient.get_by_id(newborn_id), None)


def _line_of(line: Prescription) -> PrescriptionLine:
    return PrescriptionLine(line.drug, line.dosage, line.quantity, line.duration_days)


def active_prescriptions(consultation_ids: Sequence[int]) -> dict[int, list[Prescription]]:
    result: dict[int, list[Prescription]] = {}
    if not consultation_ids:
        return result
    marks = ", ".join("?" for _ in consultation_ids)
    query = Prescription.raw(f"SELECT * FROM prescription WHERE consultation_id IN ({marks}) AND voided = 0 "
                             "ORDER BY id", *consultation_ids)
    for line in query:
        result.setdefault(line.consultation_id, []).append(line)
    return result


def find_visit(programme: str, visit_id: int, patient_id: int) -> Visit | None:
    model = PROGRAMMES.get(programme)
    if model is None:
        return None
    return model.get_or_none((model.id == visit_id) & (model.patient == patient_id))


@dataclass
class TimelineEntry:
    visit: Visit
    author: User | None
    prescriptions: list[Prescription]

    @property
    def programme(self) -> str:
        return self.visit.PROGRAMME


# The chart runs these on every view: plain SQL, built once (peewee's query builder costs more
# than SQLite's work here).
_TIMELINE_SQL = {
    model: f'SELECT * FROM "{model._meta.table_name}" WHERE patient_id = ? AND voided = 0 '
           "ORDER BY visit_date DESC, id DESC LIMIT ?"
    for model in PROGRAMMES.values()
}


def timeline(patient: Patient, *, limit: int | None = None) -> list[TimelineEntry]:
    """Every visit of every programme, newest first (same day: latest recorded first)."""
    visits: list[Visit] = []
    for model, sql in _TIMELINE_SQL.items():
        visits.extend(model.raw(sql, patient.id, limit or -1))
    visits.sort(key=lambda visit: (visit.visit_date, visit.recorded_at), reverse=True)
    if limit:
        visits = visits[:limit]
    author_ids = sorted({visit.author_id for visit in visits if visit.author_id})
    users = {}
    if author_ids:
        marks = ", ".join("?" for _ in author_ids)
        users = {user.id: user for user in User.raw(f'SELECT * FROM "user" WHERE id IN ({marks})', *author_ids)}
    lines = active_prescriptions([visit.id for visit in visits if isinstance(visit, Consultation)])
    return [TimelineEntry(visit, users.get(visit.author_id),
                          lines.get(visit.id, []) if isinstance(visit, Consultation) else [])
            for visit in visits]


def visit_history(visit: Visit) -> list[AuditEntry]:
    """The audit entries of a visit and of its prescription lines, oldest first."""
    entries = list(AuditEntry.select().where((AuditEntry.table_name == visit._meta.table_name)
                                             & (AuditEntry.row_id == str(visit.id))))
    if isinstance(visit, Consultation):
        line_ids = [str(line.id) for line in Prescription.select(Prescription.id)
                    .where(Prescription.consultation == visit.id)]
        if line_ids:
            entries += list(AuditEntry.select().where((AuditEntry.table_name == "prescription")
                                                      & (AuditEntry.row_id.in_(line_ids))))
    entries.sort(key=lambda entry: entry.id)
    return entries
