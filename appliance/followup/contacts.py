"""Attempts to reach a patient on a follow-up list: a phone call, or a relay's (ASC) home visit.

Recording an attempt (``service.record_contact``) is an audited write followed by the patient's
recompute, in one transaction, because outcomes change the lists (as in Simple.org, where a call outcome moves the
appointment's reminder):

- ``joint`` (reached, agreed to come): the items it was about leave the call lists until the
  promised date, or for ``AGREED_WITHOUT_DATE_DAYS`` without one; back on the list after that if
  the visit has not closed them;
- ``refus`` and ``deja_venu_ailleurs``: those items leave the call lists for good (the chart still
  shows them; a dose given elsewhere is then recorded from the card, which closes the item);
- ``demenage``: the patient leaves every follow-up list until a later visit or a later
  ``joint``; ``decede``: for good. The patient model has no death field: the death is recorded
  here (date, who reported it) and shown on the chart;
- ``numero_errone``: the number called is shown as wrong on the lists until a call to that
  number reaches someone (a corrected number is not flagged);
- ``pas_de_reponse``: counted on the row ("appelé 2 fois"), nothing else.

The effects are re-derived from the live contacts at every recompute (``derive``), so a contact
voided as a mistake undoes them, and a visit's recompute keeps them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from appliance.followup.models import FollowupContact
from appliance.patients.models import Patient
from appliance.refusal import FieldRefusal
from appliance.store.audit import Actor, audited_save
from appliance.store.db import database

METHODS = ("telephone", "visite_domicile")
OUTCOMES = ("joint", "pas_de_reponse", "numero_errone", "demenage", "refus", "decede", "deja_venu_ailleurs")
TAKES_ITEMS_OFF = frozenset({"refus", "deja_venu_ailleurs"})
LEAVES_LISTS = frozenset({"demenage", "decede"})
_WITH_EFFECT = ("joint", *sorted(TAKES_ITEMS_OFF), *sorted(LEAVES_LISTS))

OFF_LIST = dt.date(9999, 12, 31)  # remind_on of an item taken off the call lists for good
AGREED_WITHOUT_DATE_DAYS = 7  # "agreed to come" without a day: call again after a week
MAX_PROMISE_DAYS = 183
MAX_LATE_ENTRY_DAYS = 90  # a relay's visit reported up to three months later
NOTE_MAX = 500


class ContactError(FieldRefusal):
    """A refused attempt, with the form field to show the French message on."""


@dataclass(frozen=True)
class NewContact:
    contacted_on: dt.date
    method: str
    outcome: str
    promised_on: dt.date | None = None
    death_on: dt.date | None = None
    note: str = ""
    item_ids: tuple[str, ...] = ()


def contact_phone(patient: Patient) -> str:
    """The number staff call: the patient's own, else the mother's (a child's lists show it)."""
    if patient.phone:
        return patient.phone
    if patient.mother_id:
        row = database.execute_sql("SELECT phone FROM patient WHERE id = ?", (patient.mother_id,)).fetchone()
        return row[0] if row and row[0] else ""
    return ""


def departure(patient_id: int) -> FollowupContact | None:
    """The live contact that took the patient off the lists for good (a death), if any."""
    return (FollowupContact.select()
            .where((FollowupContact.patient == patient_id) & (FollowupContact.outcome == "decede")
                   & (FollowupContact.voided == False))  # noqa: E712
            .order_by(FollowupContact.contacted_on.desc(), FollowupContact.id.desc()).first())


def deaths_among(patient_ids: Sequence[int]) -> dict[int, dt.date]:
    """Patients of a list (a page of search results) reported dead by a contact or with their death
    recorded, with the date: one indexed read per source."""
    if not patient_ids:
        return {}
    marks = ", ".join("?" * len(patient_ids))
    rows = database.execute_sql(
        f"SELECT patient_id, max(death_on) FROM (SELECT patient_id, death_on FROM followup_contact "
        f"WHERE patient_id IN ({marks}) AND outcome = 'decede' AND voided = 0 UNION ALL "
        f"SELECT patient_id, visit_date FROM death WHERE patient_id IN ({marks}) AND voided = 0) "
        "GROUP BY patient_id", (*patient_ids, *patient_ids)).fetchall()
    return {patient_id: _date(death_on) for patient_id, death_on in rows}


def check(patient: Patient, contact: NewContact, today: dt.date, phone: str) -> list[ContactError]:
    """Every reason to refuse the attempt, each on its field (all of them, not just the first)."""
    errors: list[ContactError] = []
    if patient.voided:
        errors.append(ContactError("outcome", "Ce dossier a été annulé ou fusionné : ouvrez le dossier conservé."))
    if contact.method not in METHODS:
        errors.append(ContactError("method", "Choisissez : appel téléphonique ou visite à domicile."))
    if contact.outcome not in OUTCOMES:
        errors.append(ContactError("outcome", "Choisissez le résultat du contact."))
    when = contact.contacted_on
    if when is None:
        errors.append(ContactError("contacted_on", "La date du contact est obligatoire."))
    elif when > today:
        errors.append(ContactError("contacted_on", "La date du contact est dans le futur."))
    elif when < today - dt.timedelta(days=MAX_LATE_ENTRY_DAYS):
        errors.append(ContactError("contacted_on", f"Contact de plus de {MAX_LATE_ENTRY_DAYS} jours : "
                                                   "notez-le dans le dossier (visite) plutôt qu'ici."))
    elif when < patient.birth_date:
        errors.append(ContactError("contacted_on", "La date du contact est avant la naissance du patient."))
    if contact.promised_on is not None:
        if contact.outcome != "joint":
            errors.append(ContactError("promised_on", "Une date promise ne va qu'avec « Joint, accepte de venir »."))
        elif contact.promised_on < today:
            errors.append(ContactError("promised_on", "La date promise est passée : indiquez un jour à venir."))
        elif contact.promised_on > today + dt.timedelta(days=MAX_PROMISE_DAYS):
            errors.append(ContactError("promised_on", "La date promise est à plus de six mois."))
    if contact.outcome == "decede":
        if contact.death_on is None:
            errors.append(ContactError("death_on", "La date du décès est obligatoire (approximative si besoin)."))
        elif contact.death_on > today or (when is not None and contact.death_on > when):
            errors.append(ContactError("death_on", "La date du décès est dans le futur ou après le contact."))
        elif contact.death_on < patient.birth_date:
            errors.append(ContactError("death_on", "La date du décès est avant la naissance du patient."))
    elif contact.death_on is not None:
        errors.append(ContactError("death_on", "Une date de décès ne va qu'avec « Décédé(e) »."))
    if contact.outcome == "numero_errone":
        if contact.method != "telephone":
            errors.append(ContactError("outcome", "« Numéro erroné » se constate par un appel téléphonique."))
        elif not phone:
            errors.append(ContactError("outcome", "Aucun numéro n'est enregistré pour ce patient ni pour sa mère."))
    if len(contact.note) > NOTE_MAX:
        errors.append(ContactError("note", f"{NOTE_MAX} caractères au plus."))
    if contact.outcome in OUTCOMES and not patient.voided:
        dead = departure(patient.id)
        if dead is not None:
            errors.append(ContactError("outcome", f"Patient signalé décédé le {dead.death_on:%d/%m/%Y} : annulez "
                                                  "d'abord ce signalement s'il est erroné."))
    return errors


def move_contacts(actor: Actor, from_patient: int, to_patient: int) -> None:
    """A merge: the folded record's attempts belong to the kept one (each move audited)."""
    for contact in FollowupContact.select().where(FollowupContact.patient == from_patient):
        contact.patient = to_patient
        audited_save(actor, contact, reason="fusion de dossiers")


# --- Effects on the lists, for the recompute --------------------------------------------------------


@dataclass(frozen=True)
class ContactFact:
    contacted_on: dt.date
    outcome: str
    promised_on: dt.date | None
    item_ids: tuple[str, ...]


@dataclass
class ListEffects:
    reminders: dict[str, dt.date] = field(default_factory=dict)  # item id → remind_on
    left: ContactFact | None = None  # moved or died: no follow-up rows at all


def derive(contacts: Iterable[ContactFact], last_visit_on: dt.date | None) -> ListEffects:
    """What a patient's live contacts (oldest first) do to the lists; the latest word wins."""
    effects = ListEffects()
    for contact in contacts:
        if contact.outcome == "joint":
            until = contact.promised_on or contact.contacted_on + dt.timedelta(days=AGREED_WITHOUT_DATE_DAYS)
            effects.reminders.update(dict.fromkeys(contact.item_ids, until))
            if effects.left is not None and effects.left.outcome == "demenage":
                effects.left = None  # reached again: back in the area
        elif contact.outcome in TAKES_ITEMS_OFF:
            effects.reminders.update(dict.fromkeys(contact.item_ids, OFF_LIST))
        elif contact.outcome in LEAVES_LISTS and (effects.left is None or effects.left.outcome != "decede"):
            effects.left = contact
    if (effects.left is not None and effects.left.outcome == "demenage" and last_visit_on is not None
            and last_visit_on > effects.left.contacted_on):
        effects.left = None  # seen here since: came back
    return effects


_EFFECT_SQL = ("SELECT patient_id, contacted_on, outcome, promised_on, item_ids FROM followup_contact "
               f"WHERE {{where}} AND voided = 0 AND outcome IN ({', '.join(repr(code) for code in _WITH_EFFECT)}) "
               "ORDER BY patient_id, contacted_on, id")


def load_facts(where: str, params: Sequence[int]) -> dict[int, list[ContactFact]]:
    """The live contacts that change the lists, per patient, oldest first (``where`` as in records)."""
    facts: dict[int, list[ContactFact]] = {}
    for patient_id, contacted_on, outcome, promised_on, item_ids in database.execute_sql(
            _EFFECT_SQL.format(where=where), params):
        facts.setdefault(patient_id, []).append(ContactFact(
            _date(contacted_on), outcome, _date(promised_on) if promised_on else None, tuple(item_ids.split())))
    return facts


def _date(value: str | dt.date) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


# --- What the pages show ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactView:
    id: int
    contacted_on: dt.date
    method: str
    outcome: str
    promised_on: dt.date | None
    death_on: dt.date | None
    phone: str
    item_labels: str
    note: str
    author_name: str
    author_role: str


@dataclass
class ContactSummary:
    """A list row's recent attempts (newest first) and the numbers known to be wrong."""

    attempts: list[ContactView] = field(default_factory=list)
    wrong_numbers: frozenset[str] = frozenset()

    @property
    def last(self) -> ContactView | None:
        return self.attempts[0] if self.attempts else None


_VIEW_COLUMNS = ("id, contacted_on, method, outcome, promised_on, death_on, phone, item_labels, note, author_name, "
                 "author_role")


def _view(row: tuple) -> ContactView:
    contact_id, contacted_on, method, outcome, promised_on, death_on, *rest = row
    return ContactView(contact_id, _date(contacted_on), method, outcome, _date(promised_on) if promised_on else None,
                       _date(death_on) if death_on else None, *rest)


def history(patient_id: int, limit: int = 20) -> list[ContactView]:
    """The patient's live attempts, newest first (the chart)."""
    return [_view(row) for row in database.execute_sql(
        f"SELECT {_VIEW_COLUMNS} FROM followup_contact WHERE patient_id = ? AND voided = 0 "
        "ORDER BY contacted_on DESC, id DESC LIMIT ?", (patient_id, limit))]


def summaries(since: dict[int, dt.date]) -> dict[int, ContactSummary]:
    """Per patient: the attempts made since the given date (the current round of follow-up) and
    the wrong numbers of all time. One index range per patient of the page."""
    if not since:
        return {}
    rows = database.execute_sql(
        f"SELECT patient_id, {_VIEW_COLUMNS} FROM followup_contact WHERE patient_id IN "
        f"({', '.join('?' for _ in since)}) AND voided = 0 ORDER BY patient_id, contacted_on DESC, id DESC",
        list(since)).fetchall()
    result: dict[int, ContactSummary] = {}
    latest_by_number: dict[tuple[int, str], str] = {}
    for patient_id, *columns in rows:
        view = _view(tuple(columns))
        summary = result.setdefault(patient_id, ContactSummary())
        if view.contacted_on >= since[patient_id]:
            summary.attempts.append(view)
        if view.method == "telephone" and view.phone and view.outcome != "pas_de_reponse":  # no answer proves nothing
            latest_by_number.setdefault((patient_id, view.phone), view.outcome)
    for (patient_id, number), outcome in latest_by_number.items():
        if outcome == "numero_errone":
            result[patient_id].wrong_numbers |= {number}
    return result
