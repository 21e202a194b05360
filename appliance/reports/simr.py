"""The weekly SIMR report: suspected cases and deaths of each notifiable disease in one ISO week,
by sex and SIMR age band (``appliance/clinical/data/simr_mali.toml``), as ``ReportFigures`` with a
DHIS2 weekly period (``2026W49``), queued for DHIS2 through the outbox like the monthly report.

A case is a live consultation of the week whose main diagnosis is a notifiable disease's; a death
is a death recorded in the week of a patient with a suspected case of it in the disease's
``deaths_within_days`` before (the latest such case names the disease)."""

from __future__ import annotations

import datetime as dt
import re

from appliance.clinical.simr import SimrList, simr_list
from appliance.outbox import enqueue
from appliance.outbox.models import OutboxItem
from appliance.patients.models import Consultation, Death, Patient
from appliance.reports.ages import AgeBands, completed_years
from appliance.reports.figures import ReportFigures, disaggregation_code

KIND = "dhis2.simr_week"
WEEK = re.compile(r"(\d{4})W([1-9]|[1-4]\d|5[0-3])")


class WeekError(ValueError):
    """Not an ISO week, in French."""


def week_period(day: dt.date) -> str:
    """DHIS2's weekly period of the ISO week holding ``day``: ``2026W49`` (no zero padding)."""
    year, week, _weekday = day.isocalendar()
    return f"{year}W{week}"


def week_days(period: str) -> tuple[dt.date, dt.date]:
    """Monday and Sunday of a weekly period."""
    match = WEEK.fullmatch(period)
    if not match:
        raise WeekError(f"semaine « {period} » invalide : format AAAAWn attendu (ex. 2026W49)")
    try:
        monday = dt.date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError as exc:
        raise WeekError(f"semaine « {period} » : l'année {match[1]} n'a pas de semaine {match[2]}") from exc
    return monday, monday + dt.timedelta(days=6)


def indicator_codes(diseases: SimrList) -> list[str]:
    return [f"simr_{code}_{what}" for code in diseases.diseases for what in ("cas", "deces")]


def week_figures(period: str, *, diseases: SimrList | None = None) -> ReportFigures:
    """Cases and deaths of the week by disease, sex and SIMR age band (zeros kept)."""
    diseases = diseases or simr_list()
    monday, sunday = week_days(period)
    bands = AgeBands.from_bounds(list(diseases.age_bands))
    values = {(code, cell): 0 for code in indicator_codes(diseases) for cell in bands.disaggregations()}
    by_code = {diagnosis: disease for disease in diseases.diseases.values() for diagnosis in disease.diagnoses}

    def count(indicator: str, patient: Patient, on: dt.date) -> None:
        if patient.sex in ("F", "M"):
            band = bands.band_of(completed_years(patient.birth_date, on)).code
            values[(indicator, disaggregation_code(patient.sex, band))] += 1

    live = (Consultation.voided == False) & (Patient.voided == False)  # noqa: E712
    cases = (Consultation.select(Consultation, Patient).join(Patient, on=(Consultation.patient == Patient.id))
             .where(live & Consultation.visit_date.between(monday, sunday)
                    & Consultation.diagnosis_code.in_(list(by_code))))
    for case in cases:
        count(f"simr_{by_code[case.diagnosis_code].code}_cas", case.patient, case.visit_date)
    longest = max(disease.deaths_within_days for disease in diseases.diseases.values())
    deaths = (Death.select(Death, Patient).join(Patient, on=(Death.patient == Patient.id))
              .where((Death.voided == False) & Death.visit_date.between(monday, sunday)))  # noqa: E712
    for death in deaths:
        earlier = (Consultation.select().where(
            (Consultation.patient == death.patient_id) & (Consultation.voided == False)  # noqa: E712
            & Consultation.diagnosis_code.in_(list(by_code))
            & Consultation.visit_date.between(death.visit_date - dt.timedelta(days=longest), death.visit_date))
            .order_by(Consultation.visit_date.desc()))
        for case in earlier:
            disease = by_code[case.diagnosis_code]
            if (death.visit_date - case.visit_date).days <= disease.deaths_within_days:
                count(f"simr_{disease.code}_deces", death.patient, death.visit_date)
                break
    return ReportFigures(period, values)


def enqueue_week(figures: ReportFigures) -> OutboxItem:
    """Queue the week for DHIS2; a rebuilt week supersedes the one still waiting (same period)."""
    return enqueue(KIND, {"figures": figures.to_json_dict(), "previous_nonzero": [], "complete_date": None,
                          "report": {"ref": f"simr:{figures.period}", "version": 1}},
                   dedupe_key=f"simr:{figures.period}", ref=f"simr:{figures.period}")
