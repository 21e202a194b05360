"""The chart's pregnancy box (a ``chart_extras`` hook): DPA, gestational age today, the number
the next contact will have, what is due at this contact, and the pregnancy's risk factors."""

from __future__ import annotations

import datetime as dt

from appliance.followup import queries
from appliance.patients import pregnancies
from appliance.patients.models import AntenatalVisit, Patient


def chart_extras(patient: Patient) -> dict:
    if patient.sex != "F":
        return {}
    pregnancy = pregnancies.current(patient.id)
    if pregnancy is None:
        return {}
    today = dt.date.today()
    contacts = AntenatalVisit.select().where((AntenatalVisit.pregnancy == pregnancy.id)
                                             & (AntenatalVisit.voided == False)).count()  # noqa: E712
    due = [item for item in queries.patient_items(patient.id, today) if item.programme == "cpn"]
    risks = [reason for alert in queries.patient_alerts(patient.id, today) if alert.kind == "grossesse"
             for reason in alert.reasons]
    return {"pregnancy": {"record": pregnancy, "due_date": pregnancy.due_date(), "weeks": pregnancy.weeks_on(today),
                          "dated_by_ultrasound": pregnancy.ultrasound_on is not None, "contacts": contacts,
                          "next_contact": contacts + 1, "due": due, "risks": risks}}
