"""Open a referral, close it with its counter-referral, list those still waiting for news.

Every write goes through ``audited_save`` (row and audit entry in one transaction). A refused
write raises ``ReferralError`` with every problem, each on its form field, and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from appliance.patients.models import Consultation, Patient
from appliance.referrals.models import TRANSPORTS, URGENCIES, Referral
from appliance.store.audit import Actor, audited_save
from appliance.store.db import database
from appliance.store.models import utcnow

TEXT_MAX = 1000
MAX_LATE_ENTRY_DAYS = 90  # a referral typed from the paper register up to three months later
COUNTER_SOURCES = ("fiche", "district")


class ReferralError(ValueError):
    """A refused write: ``problems`` maps each form field to its French message."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field} : {message}" for field, message in problems.items()))
        self.problems = problems


@dataclass(frozen=True)
class NewReferral:
    referred_on: dt.date | None
    reason: str
    urgency: str
    evacuation: bool
    destination: str
    transport: str
    given_before: str = ""
    consultation_id: int | None = None


@dataclass(frozen=True)
class CounterReferral:
    returned_on: dt.date | None
    findings: str
    care_given: str = ""


def _text_problems(values: dict[str, str], required: Sequence[str]) -> dict[str, str]:
    problems = {}
    for field, value in values.items():
        if field in required and not value.strip():
            problems[field] = "Ce champ est obligatoire."
        elif len(value) > TEXT_MAX:
            problems[field] = f"{TEXT_MAX} caractères au plus."
    return problems


def check_referral(patient: Patient, new: NewReferral, destinations: Sequence[str], today: dt.date) -> dict[str, str]:
    """Every reason to refuse the referral, on its field."""
    problems = _text_problems({"reason": new.reason, "given_before": new.given_before}, required=("reason",))
    if patient.voided:
        problems["reason"] = "Ce dossier a été annulé ou fusionné : ouvrez le dossier conservé."
    if new.referred_on is None:
        problems["referred_on"] = "La date de la référence est obligatoire (JJ/MM/AAAA)."
    elif new.referred_on > today:
        problems["referred_on"] = "La date de la référence est dans le futur."
    elif new.referred_on < today - dt.timedelta(days=MAX_LATE_ENTRY_DAYS):
        problems["referred_on"] = (f"Référence de plus de {MAX_LATE_ENTRY_DAYS} jours : "
                                   "trop ancienne pour être saisie ici.")
    elif new.referred_on < patient.birth_date:
        problems["referred_on"] = "La date de la référence est avant la naissance du patient."
    if new.destination not in destinations:
        problems["destination"] = "Destination inconnue : choisissez-en une de la liste du district."
    if new.urgency not in URGENCIES:
        problems["urgency"] = "Choisissez l'urgence : urgente ou normale."
    elif new.evacuation and new.urgency != "urgente":
        problems["urgency"] = "Une évacuation est toujours urgente."
    if new.transport not in TRANSPORTS:
        problems["transport"] = "Choisissez le moyen de transport."
    if new.consultation_id is not None:
        consultation = Consultation.get_or_none(Consultation.id == new.consultation_id)
        if consultation is None or consultation.patient_id != patient.id or consultation.voided:
            problems["consultation"] = "Cette consultation n'est pas celle de ce patient."
    return problems


def refer(actor: Actor, patient: Patient, new: NewReferral, destinations: Sequence[str],
          today: dt.date) -> Referral:
    """Store the referral (audited), or raise ``ReferralError`` with every problem."""
    problems = check_referral(patient, new, destinations, today)
    if problems:
        raise ReferralError(problems)
    with database.atomic():
        # the same referral submitted twice (a double tap, a resent form) is stored once
        same = Referral.get_or_none(
            (Referral.patient == patient.id) & (Referral.visit_date == new.referred_on)
            & (Referral.destination == new.destination) & (Referral.reason == new.reason.strip())
            & (Referral.voided == False))  # noqa: E712
        if same is not None:
            return same
        return audited_save(actor, Referral(
            patient=patient.id, visit_date=new.referred_on, consultation=new.consultation_id,
            reason=new.reason.strip(), urgency=new.urgency, evacuation=new.evacuation, destination=new.destination,
            transport=new.transport, given_before=new.given_before.strip(), author=actor.user_id,
            author_role=actor.role))


def record_counter_referral(actor: Actor, referral_id: int, counter: CounterReferral, today: dt.date, *,
                            source: str = "fiche", author: str | None = None) -> Referral:
    """Close an open referral with what the hospital found and did. A second one for the same
    referral is refused (a double submit, or the district's answer after the paper was typed)."""
    if source not in COUNTER_SOURCES:
        raise ValueError(f"unknown counter-referral source {source!r}")
    with database.atomic():
        referral = Referral.get_or_none((Referral.id == referral_id) & (Referral.voided == False))  # noqa: E712
        if referral is None:
            raise ReferralError({"referral": "Référence introuvable ou annulée."})
        problems = _text_problems({"findings": counter.findings, "care_given": counter.care_given},
                                  required=("findings",))
        if referral.returned_on is not None:
            problems["referral"] = (f"La contre-référence a déjà été enregistrée le "
                                    f"{referral.counter_recorded_at:%d/%m/%Y} : rien n'a été changé.")
        if counter.returned_on is None:
            problems["returned_on"] = "La date de retour est obligatoire (JJ/MM/AAAA)."
        elif counter.returned_on > today:
            problems["returned_on"] = "La date de retour est dans le futur."
        elif counter.returned_on < referral.visit_date:
            problems["returned_on"] = f"La date de retour est avant la référence ({referral.visit_date:%d/%m/%Y})."
        if problems:
            raise ReferralError(problems)
        referral.returned_on = counter.returned_on
        referral.findings = counter.findings.strip()
        referral.care_given = counter.care_given.strip()
        referral.counter_source = source
        referral.counter_author = author or actor.username
        referral.counter_recorded_at = utcnow()
        return audited_save(actor, referral, reason="contre-référence")


@dataclass(frozen=True)
class PendingReferral:
    referral: Referral
    patient: Patient
    days_open: int
    overdue: bool


def pending(today: dt.date, overdue_after_days: int) -> list[PendingReferral]:
    """Open referrals (no counter-referral yet), oldest first, each flagged once past the delay."""
    query = (Referral.select(Referral, Patient).join(Patient, on=(Referral.patient == Patient.id))
             .where(Referral.returned_on.is_null() & (Referral.voided == False))  # noqa: E712
             .order_by(Referral.visit_date, Referral.id))
    result = []
    for referral in query:
        days = (today - referral.visit_date).days
        result.append(PendingReferral(referral, referral.patient, days, days > overdue_after_days))
    return result


def overdue_count(today: dt.date, overdue_after_days: int) -> int:
    return (Referral.select().where(Referral.returned_on.is_null() & (Referral.voided == False)  # noqa: E712
                                    & (Referral.visit_date < today - dt.timedelta(days=overdue_after_days)))
            .count())


def of_patient(patient_id: int) -> list[Referral]:
    """A patient's referrals, newest first (the chart's list)."""
    return list(Referral.select().where((Referral.patient == patient_id) & (Referral.voided == False))  # noqa: E712
                .order_by(Referral.visit_date.desc(), Referral.id.desc()))


def follow_merge(actor: Actor, patient: Patient, visit: object | None) -> None:
    """The ``patient_written`` hook (composed by ``appliance.wiring``): after a merge (no visit),
    the referrals of each record folded into ``patient`` move to it."""
    if visit is not None:
        return
    for (folded,) in database.execute_sql("SELECT id FROM patient WHERE merged_into_id = ?", (patient.id,)):
        move_referrals(actor, folded, patient.id)


def move_referrals(actor: Actor, from_patient: int, to_patient: int) -> None:
    """A merge: the folded record's referrals follow its visits to the kept record."""
    for referral in Referral.select().where(Referral.patient == from_patient):
        referral.patient = to_patient
        audited_save(actor, referral, reason="fusion de dossiers")
