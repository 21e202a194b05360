"""SIMR immediate notification: a consultation whose diagnosis is a suspected case of a notifiable
disease (``appliance/clinical/data/simr_mali.toml``) queues, in the visit's own transaction, an
urgent message to the district (``district.simr_alert``) and an urgent telemetry event
(``simr_suspect``, MQTT). The agent sends urgent items at once when it can (docs/agent.md), even on
a low battery or a spent data budget. One notification per consultation: a correction does not
notify again. At each window the last complete week's figures are queued for DHIS2
(``queue_last_week``)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from appliance.clinical.simr import simr_list
from appliance.outbox import enqueue
from appliance.outbox.models import OutboxItem
from appliance.patients.models import Patient
from appliance.reports.ages import completed_years
from appliance.reports.simr import KIND as WEEK_KIND
from appliance.reports.simr import enqueue_week, week_figures, week_period
from appliance.store.audit import Actor
from appliance.telemetry.events import emit_event

KIND = "district.simr_alert"


def notify_after_write(actor: Actor, patient: Patient, visit: object | None) -> None:
    """The ``patient_written`` hook (composed by ``appliance.wiring.add_record_hooks``)."""
    if visit is None or getattr(visit, "PROGRAMME", "") != "consultation" or visit.voided:
        return
    disease = simr_list().for_diagnosis(visit.diagnosis_code)
    if disease is None:
        return
    key = f"simr:{visit.id}"
    if OutboxItem.select().where((OutboxItem.kind == KIND) & (OutboxItem.dedupe_key == key)).exists():
        return
    years = completed_years(patient.birth_date, visit.visit_date)
    envelope = {"id": f"simr-{uuid.uuid4()}", "kind": "simr_alert", "body": {
        "disease": disease.code, "label": disease.label, "diagnosis": visit.diagnosis_code,
        "seen_on": visit.visit_date.isoformat(), "sex": patient.sex, "age_years": years,
        "age_days": (visit.visit_date - patient.birth_date).days, "village": patient.village,
        "reported_by": {"role": actor.role}}}
    enqueue(KIND, json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
            dedupe_key=key, urgent=True, ref=f"consultation:{visit.id}")
    emit_event("simr_suspect", {"maladie": disease.code, "sexe": patient.sex, "age": years}, dedupe_key=key)


def queue_last_week(today: dt.date) -> OutboxItem | None:
    """At a window: the last complete ISO week's SIMR figures queued for DHIS2, once (None when
    already queued). A correction later is sent by ``appliance simr semaine``."""
    period = week_period(today - dt.timedelta(days=7))
    if OutboxItem.select().where((OutboxItem.kind == WEEK_KIND) & (OutboxItem.dedupe_key == f"simr:{period}")).exists():
        return None
    return enqueue_week(week_figures(period))
