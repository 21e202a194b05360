"""Keeping the stored follow-up rows equal to what the rules say about the record.

``recompute_patient`` replaces one patient's due items, alerts and last-visit row. The web
wires it as a ``patient_written`` hook (``appliance.wiring.add_record_hooks``), so it runs inside
the transaction that writes, corrects or voids a visit (or merges, registers or
corrects a patient): the visit and its follow-up commit together or not at all, an item closed
by the visit disappears in that same commit, and a stable id can never be stored twice.

``recompute_all`` does the same for every patient in batches, for databases filled without the
hooks (demo data, an import, a rules change): ``appliance followup recompute``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import peewee

from appliance.clinical.schedule_data import load_schedules
from appliance.followup import contacts
from appliance.followup.facts import PatientRecord, evaluate
from appliance.followup.models import FollowupAlert, FollowupContact, FollowupItem, FollowupPatient
from appliance.followup.records import ONE, RANGE, load_one, load_range
from appliance.patients.models import Patient, Visit
from appliance.store.audit import Actor, audited_save, audited_void
from appliance.store.db import database

BATCH_PATIENTS = 2000

_ITEM_COLUMNS = ("id", "patient_id", "programme", "rule_id", "label", "due_on", "overdue_on", "expires_on",
                 "priority", "note", "village_key", "household_id", "remind_on")
_ALERT_COLUMNS = ("id", "patient_id", "kind", "severity", "severity_rank", "label", "reasons", "rule_ids", "since",
                  "expires_on", "village_key", "household_id")
_PATIENT_COLUMNS = ("patient_id", "village_key", "household_id", "last_visit_on", "computed_on")


def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return (f'INSERT INTO "{table}" ({", ".join(columns)}) '
            f"VALUES ({', '.join('?' for _ in columns)})")


_INSERT_ITEM = _insert_sql("followup_item", _ITEM_COLUMNS)
_INSERT_ALERT = _insert_sql("followup_alert", _ALERT_COLUMNS)
_INSERT_PATIENT = _insert_sql("followup_patient", _PATIENT_COLUMNS)
_TABLES = tuple(model._meta.table_name for model in (FollowupItem, FollowupAlert, FollowupPatient))


@dataclass
class RecomputeReport:
    patients: int = 0
    items: int = 0
    alerts: int = 0
    seconds: float = 0.0


def recompute_patient(patient_id: int, today: dt.date | None = None) -> None:
    """Rewrite one patient's follow-up rows (none if the record was voided or merged)."""
    today = today or dt.date.today()
    with database.atomic():  # delete first: the write lock is held before the visits are read
        for table in _TABLES:
            database.execute_sql(f'DELETE FROM "{table}" WHERE patient_id = ?', (patient_id,))
        record = load_one(patient_id)
        if record is not None:
            _write([record], today, contact_facts=contacts.load_facts(ONE, (patient_id,)))


def recompute_all(today: dt.date | None = None, *, batch: int = BATCH_PATIENTS,
                  progress: Callable[[int], None] | None = None) -> RecomputeReport:
    """Every patient, ``batch`` ids per transaction: a power cut loses at most the batch being
    written, and running it again finishes the job (each batch replaces its rows)."""
    today = today or dt.date.today()
    began = time.perf_counter()
    report = RecomputeReport()
    highest = Patient.select(peewee.fn.MAX(Patient.id)).scalar() or 0
    schedules = load_schedules()
    for first in range(1, highest + 1, batch):
        last = first + batch - 1
        with database.atomic():  # runs beside the web app: hold the write lock before reading
            for table in _TABLES:
                database.execute_sql(f'DELETE FROM "{table}" WHERE patient_id BETWEEN ? AND ?', (first, last))
            records = load_range(first, last)
            items, alerts = _write(records.values(), today, schedules, contacts.load_facts(RANGE, (first, last)))
        report.patients += len(records)
        report.items += items
        report.alerts += alerts
        if progress is not None:
            progress(report.patients)
    report.seconds = time.perf_counter() - began
    return report


def _write(records: Iterable[PatientRecord], today: dt.date, schedules=None,
           contact_facts: dict[int, list[contacts.ContactFact]] | None = None) -> tuple[int, int]:
    """Insert the rows the rules give, as the patients' contacts adjust them: a patient who moved
    or died gets none, an item a contact was about carries its reminder date."""
    item_rows, alert_rows, patient_rows = [], [], []
    for record in records:
        effects = contacts.derive((contact_facts or {}).get(record.id, ()), record.last_visit_on)
        if effects.left is not None:
            continue
        outcome = evaluate(record, today, schedules)
        where = (record.village_key, record.household_id)
        reminders = effects.reminders
        item_rows += [(item.id, record.id, item.programme, item.rule_id, item.label, item.due_on.isoformat(),
                       item.overdue_on.isoformat(), item.expires_on.isoformat() if item.expires_on else None,
                       item.priority, item.note, *where,
                       reminders[item.id].isoformat() if item.id in reminders else None) for item in outcome.items]
        alert_rows += [(alert.id, record.id, alert.kind, alert.severity, alert.severity_rank, alert.label,
                        "\n".join(alert.reasons), " ".join(alert.rule_ids), alert.since.isoformat(),
                        alert.expires_on.isoformat(), *where) for alert in outcome.alerts]
        patient_rows.append((record.id, *where,
                             record.last_visit_on.isoformat() if record.last_visit_on else None, today.isoformat()))
    connection = database.connection()
    connection.executemany(_INSERT_ITEM, item_rows)
    connection.executemany(_INSERT_ALERT, alert_rows)
    connection.executemany(_INSERT_PATIENT, patient_rows)
    return len(item_rows), len(alert_rows)


def recompute_after_write(actor: Actor, patient: Patient, visit: Visit | None) -> None:
    """The ``patient_written`` hook (composed by ``appliance.wiring.add_record_hooks``): the
    visit's patient, and after a merge the records folded into it (whose contact attempts follow
    their visits to the kept record)."""
    merged = [] if visit is not None else [row[0] for row in database.execute_sql(
        "SELECT id FROM patient WHERE merged_into_id = ?", (patient.id,))]
    for folded in merged:
        contacts.move_contacts(actor, folded, patient.id)
    recompute_patient(patient.id)
    for folded in merged:
        recompute_patient(folded)


# --- Contact attempts: written with the patient's recompute -------------------------------------------


def _contact_item_labels(patient_id: int, item_ids: Sequence[str]) -> str:
    """The labels of the patient's items, in the order given; an id that is not the patient's
    current item (closed meanwhile by a visit, or forged) is refused."""
    if not item_ids:
        return ""
    rows = dict(database.execute_sql(
        f"SELECT id, label FROM followup_item WHERE patient_id = ? AND id IN ({', '.join('?' for _ in item_ids)})",
        (patient_id, *item_ids)).fetchall())
    if len(rows) != len(set(item_ids)):
        raise contacts.ContactError("item_ids", "Un des rendez-vous cochés n'est plus à faire (une visite l'a "
                                                "fermé entre-temps) : rechargez la page.")
    return ", ".join(rows[item_id] for item_id in dict.fromkeys(item_ids))


def record_contact(actor: Actor, patient: Patient, contact: contacts.NewContact, *,
                   today: dt.date | None = None) -> FollowupContact:
    """Write a contact attempt (``appliance.followup.contacts``) and apply its effects to the lists,
    all or nothing: its outcome changes what the recompute derives."""
    today = today or dt.date.today()
    phone = contacts.contact_phone(patient)
    errors = contacts.check(patient, contact, today, phone)
    if errors:
        raise errors[0]
    with database.atomic():  # the write lock first: the items read below cannot change meanwhile
        labels = _contact_item_labels(patient.id, contact.item_ids)
        row = FollowupContact(
            patient=patient.id, contacted_on=contact.contacted_on, method=contact.method, outcome=contact.outcome,
            promised_on=contact.promised_on, death_on=contact.death_on,
            phone=phone if contact.method == "telephone" else "", item_ids=" ".join(dict.fromkeys(contact.item_ids)),
            item_labels=labels, note=contact.note.strip(), author=actor.user_id, author_name=actor.username,
            author_role=actor.role)
        audited_save(actor, row)
        recompute_patient(patient.id, today)
    return row


def void_contact(actor: Actor, contact: FollowupContact, reason: str, *, today: dt.date | None = None) -> None:
    """An attempt entered by mistake: voided with a reason, and its effects on the lists undone."""
    if not reason or not reason.strip():
        raise contacts.ContactError("reason", "Indiquez pourquoi ce contact est annulé.")
    with database.atomic():
        audited_void(actor, contact, reason)
        recompute_patient(contact.patient_id, today)
