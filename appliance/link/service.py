"""« Demander un avis »: the question, the chart's essentials and up to two shrunk photos, stored
and queued in the outbox in one transaction; the district's answer applied to it exactly once.

What leaves the box names no patient: sex, age, the recent consultations and alerts, the question.
The district clinician answers the clinic, which knows whose chart it is.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from appliance.followup.queries import patient_alerts
from appliance.link.models import AvisRequest
from appliance.link.photos import shrink
from appliance.outbox import queue
from appliance.patients import codes
from appliance.patients.models import Consultation, Patient
from appliance.store.audit import Actor, record_event
from appliance.store.db import database
from appliance.store.models import utcnow

KIND = "district.avis"
QUESTION_MAX = 2000
MAX_PHOTOS = 2
SUMMARY_CONSULTATIONS = 5


class AvisError(ValueError):
    """A refused request: ``problems`` maps each form field to its French message."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(problems.values()))
        self.problems = problems


@dataclass(frozen=True)
class AskedBy:
    actor: Actor
    name: str


def chart_summary(patient: Patient, today: dt.date) -> tuple[list[str], float | None]:
    """The lines sent with the question (alerts, then the last consultations) and the last weight."""
    lines = [f"Alerte : {alert.label}" for alert in patient_alerts(patient.id, today)]
    weight = None
    for consultation in (Consultation.select().where((Consultation.patient == patient.id)
                                                     & (Consultation.voided == False))  # noqa: E712
                         .order_by(Consultation.visit_date.desc(), Consultation.id.desc())
                         .limit(SUMMARY_CONSULTATIONS)):
        weight = weight or consultation.weight_kg
        parts = [f"{consultation.visit_date:%d/%m/%Y} consultation : "
                 f"{codes.label('diagnoses', consultation.diagnosis_code) or consultation.diagnosis_code}"]
        if consultation.temperature_c:
            parts.append(f"T° {consultation.temperature_c} °C")
        if consultation.treatment:
            parts.append(f"traitement : {consultation.treatment}")
        lines.append(" · ".join(parts))
    return lines, weight


def ask(asked: AskedBy, patient: Patient, question: str, photos: Sequence[bytes], *, site_id: str, age: str,
        today: dt.date) -> AvisRequest:
    """Shrink the photos, store the request and queue its message together (or nothing). ``age``:
    the patient's age as staff say it (« 14 mois »), the only identity detail sent with sex."""
    problems = {}
    question = question.strip()
    if not question:
        problems["question"] = "Écrivez la question pour le médecin du district."
    elif len(question) > QUESTION_MAX:
        problems["question"] = f"{QUESTION_MAX} caractères au plus."
    if len(photos) > MAX_PHOTOS:
        problems["photos"] = f"{MAX_PHOTOS} photos au plus."
    if patient.voided:
        problems["question"] = "Ce dossier a été annulé ou fusionné : ouvrez le dossier conservé."
    if problems:
        raise AvisError(problems)
    shrunk = []
    for position, raw in enumerate(photos, start=1):
        try:
            shrunk.append(shrink(raw))
        except ValueError as error:
            raise AvisError({"photos": f"Photo {position} : {error}"}) from error
    summary, weight = chart_summary(patient, today)
    message_id = str(uuid.uuid4())
    actor = asked.actor
    envelope = {"id": message_id, "kind": "avis", "site": site_id, "body": {
        "patient": {"sex": patient.sex, "age": age, "weight_kg": weight},
        "question": question, "summary": summary, "asked_by": {"name": asked.name, "role": actor.role},
        "asked_on": today.isoformat(), "photos": [base64.b64encode(jpeg).decode("ascii") for jpeg in shrunk]}}
    with database.atomic():
        request = AvisRequest.create(message_id=message_id, patient=patient.id, question=question,
                                     summary=json.dumps(summary, ensure_ascii=False), photo_count=len(shrunk),
                                     photo_bytes=sum(len(jpeg) for jpeg in shrunk), asked_by=actor.user_id,
                                     asked_role=actor.role)
        record_event(actor, "create", "avis_request", request.id)
        queue.enqueue(KIND, json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
                      ref=f"avis:{request.id}")
    return request


def apply_answer(body: dict) -> bool:
    """Store the district's answer on its request, once: True when it was new. An answer to a
    request this box never sent (or already answered) changes nothing."""
    with database.atomic():
        request = AvisRequest.get_or_none(AvisRequest.message_id == str(body.get("avis_id", "")))
        if request is None or request.answered_at is not None:
            return False
        answered_at = dt.datetime.fromisoformat(str(body.get("answered_at", "")).rstrip("Z"))
        AvisRequest.update(answer=str(body.get("answer", ""))[:QUESTION_MAX],
                           answered_by=str(body.get("answered_by", ""))[:200], answered_at=answered_at,
                           received_at=utcnow()).where(AvisRequest.id == request.id).execute()
    return True


def of_patient(patient_id: int) -> list[AvisRequest]:
    return list(AvisRequest.select().where(AvisRequest.patient == patient_id).order_by(AvisRequest.asked_at.desc()))


def unseen_answers(user_id: int) -> list[AvisRequest]:
    """Answers the asker has not opened yet (his home page)."""
    return list(AvisRequest.select().where((AvisRequest.asked_by == user_id) & AvisRequest.answered_at.is_null(False)
                                           & AvisRequest.seen_at.is_null()).order_by(AvisRequest.answered_at))


def mark_seen(request_id: int, user_id: int) -> None:
    (AvisRequest.update(seen_at=utcnow())
     .where((AvisRequest.id == request_id) & (AvisRequest.asked_by == user_id) & AvisRequest.seen_at.is_null()
            & AvisRequest.answered_at.is_null(False)).execute())
