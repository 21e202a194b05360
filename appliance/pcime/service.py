"""Recording a PCIME consultation: the consultation, its prescription, the signs and the
classifications (with the clinician's overrides and their reasons), all in one transaction.

The classification is recomputed here from the signs, never taken from the form: what is stored
is what the rules say, plus each override as its own audited row.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from appliance.clinical import pcime
from appliance.patients.models import Consultation, Patient, Prescription, Visit
from appliance.patients.visits import PrescriptionLine, VisitError, record_visit
from appliance.pcime.models import PcimeAssessment, PcimeOverride, PrescriptionItem
from appliance.store.audit import Actor, audited_save

OTHER = "autre"  # a medicine outside the list: its name and a reason are required
PNEUMONIA_ROWS = frozenset({"pneumonie", "pneumonie_grave", "pneumonie_nourrisson"})
MALARIA_ROWS = {"paludisme": "simple", "paludisme_sans_tdr": "presume"}


@dataclass(frozen=True)
class Line:
    """A prescription line as staff leave it: a medicine of the list (or "autre"), the dose."""

    medicine: str
    dose: float | None = None
    times_per_day: int | None = None
    days: int | None = None
    quantity: int | None = None
    treatment: str | None = None  # the dose table it came from, when proposed by a classification
    reason: str = ""
    other_name: str = ""


def proposed_lines(assessment: pcime.Assessment, age_days: int, weight_kg: float | None,
                   preventive: Sequence[str] = ()) -> list[tuple[Line, pcime.Dose]]:
    """The lines the classifications (and the preventive doses due) propose, with their table dose."""
    lines = []
    for code in [*assessment.treatments(), *preventive]:
        dose = pcime.propose(code, age_days, weight_kg)
        if dose is not None:
            lines.append((Line(dose.medicine, dose.dose, dose.times_per_day, dose.days, dose.quantity or None, code),
                          dose))
    return lines


def line_problems(line: Line, age_days: int, weight_kg: float | None) -> list[str]:
    """What makes a line need a reason: a dose off the table, or a medicine outside the list."""
    if line.medicine == OTHER:
        return ["Médicament hors de la liste des médicaments essentiels."]
    if line.medicine not in pcime.formulary().medicines:
        return [f"Médicament inconnu : {line.medicine}."]
    if line.treatment:
        return pcime.check_dose(line.treatment, age_days, weight_kg, line.dose, line.times_per_day or 0,
                                line.days or 0)
    return []


def medicine_choices() -> list[tuple[str, str]]:
    """The list's medicines a prescriber can choose (tests and therapeutic foods are stocked, not prescribed)."""
    return [(code, medicine.label) for code, medicine in pcime.formulary().medicines.items()
            if medicine.category == "medicament"]


def printed_line(line: Line) -> PrescriptionLine:
    """The line as the prescription prints it; the quantity computed from the dose when left blank."""
    quantity = line.quantity
    if quantity is None and line.medicine in pcime.formulary().medicines and line.dose is not None:
        quantity = pcime.quantity_for(pcime.formulary().medicines[line.medicine], line.dose,
                                      line.times_per_day or 1, line.days or 1)
    return PrescriptionLine(*line_label(line), quantity, line.days)


def write_items(actor: Actor, consultation_id: int, lines: Sequence[Line]) -> None:
    """The coded side of the consultation's lines just written (the live rows without one, in order);
    nothing when the rows were kept as they were (a correction that left the prescription alone)."""
    rows = list(Prescription.select().where((Prescription.consultation == consultation_id)
                                            & (Prescription.voided == False))  # noqa: E712
                .order_by(Prescription.id))
    coded = {item.prescription_id for item in PrescriptionItem.select(PrescriptionItem.prescription).where(
        PrescriptionItem.prescription.in_([row.id for row in rows]))} if rows else set()
    fresh = [row for row in rows if row.id not in coded]
    if not fresh:
        return
    for row, line in zip(fresh, lines, strict=True):
        audited_save(actor, PrescriptionItem(prescription=row.id, medicine=line.medicine, treatment=line.treatment,
                                             dose=line.dose, times_per_day=line.times_per_day, days=line.days,
                                             reason=line.reason.strip()))


def line_label(line: Line) -> tuple[str, str]:
    """The drug and the posology as printed on the prescription."""
    if line.medicine == OTHER:
        return line.other_name.strip(), ""
    medicine = pcime.formulary().medicines[line.medicine]
    return medicine.label, pcime.dose_text(line.dose, medicine.dose_unit, line.times_per_day or 1, line.days or 1)


def apply_overrides(chart: pcime.Chart, assessment: pcime.Assessment,
                    overrides: Mapping[str, tuple[str, str]]) -> pcime.Assessment:
    """Replace a table's classification by the row the clinician chose (reason kept)."""
    found = []
    for item in assessment.classifications:
        if item.table not in overrides or overrides[item.table][0] == item.code:
            found.append(item)
            continue
        chosen, reason = overrides[item.table]
        table = next(table for table in chart.tables if table.code == item.table)
        row = next((row for row in table.rows if row.code == chosen), None)
        if row is None:
            raise VisitError(f"override-{item.table}", "Classification inconnue pour ce tableau.")
        if not reason.strip():
            raise VisitError(f"override-{item.table}-reason", "Donnez le motif du changement de classification.")
        found.append(replace(item, code=row.code, label=row.label, colour=row.colour,
                             reasons=(f"Choix du clinicien (au lieu de « {item.label} ») : {reason.strip()}",),
                             actions=row.actions, refer=row.refer, diagnosis=row.diagnosis, treatments=row.treatments))
    return pcime.Assessment(assessment.chart, assessment.chart_label, tuple(found))


def record_pcime(actor: Actor, patient: Patient, *, visit_date: dt.date, facts: pcime.Facts,
                 overrides: Mapping[str, tuple[str, str]], lines: Sequence[Line], weight_kg: float | None = None,
                 today: dt.date | None = None) -> Consultation:
    """Write the consultation, its prescription lines and the PCIME rows together, or nothing."""
    chart = pcime.chart_for(facts.age_days)
    if chart is None:
        raise VisitError("visit_date", "La PCIME s'applique de la naissance à 5 ans.")
    computed = pcime.classify(facts, chart)
    final = apply_overrides(chart, computed, overrides)
    for index, line in enumerate(lines):
        if line.medicine == OTHER and not line.other_name.strip():
            raise VisitError(f"lines-{index}-other_name", "Écrivez le nom du médicament hors liste.")
        if line_problems(line, facts.age_days, weight_kg) and not line.reason.strip():
            raise VisitError(f"lines-{index}-reason", "Cette ligne s'écarte du tableau : donnez le motif.")
    diagnoses = final.diagnoses() or ["R69"]
    consultation = Consultation(
        visit_date=visit_date, reason=f"PCIME : {chart.label}",
        temperature_c=facts.measures.get("temperature_c"), resp_rate=_int(facts.measures.get("resp_rate")),
        weight_kg=weight_kg, diagnosis_code=diagnoses[0],
        secondary_diagnosis_code=diagnoses[1] if len(diagnoses) > 1 else None,
        treatment="\n".join(f"{item.label} : {' ; '.join(item.actions)}" for item in final.ranked()
                            if item.colour != "vert"))
    printed = [printed_line(line) for line in lines]

    def write_details(visit: Visit) -> None:
        codes = {line.medicine for line in lines}
        by_code = final.by_code()
        malaria = "grave" if "maladie_febrile_tres_grave" in by_code and "tdr_positif" in facts.signs else next(
            (kind for row, kind in MALARIA_ROWS.items() if row in by_code), "")
        assessment = audited_save(actor, PcimeAssessment(
            consultation=visit.id, patient_id=patient.id, visit_date=visit_date, chart=chart.code,
            signs=" ".join(sorted(facts.signs)), measures=json.dumps(dict(facts.measures), sort_keys=True),
            classifications=json.dumps([_stored(item) for item in final.ranked()], ensure_ascii=False),
            urgent=final.urgent, fever=any(item.table == "fievre" for item in final.classifications),
            malaria_test="positif" if "tdr_positif" in facts.signs else
            "negatif" if "tdr_negatif" in facts.signs else "",
            malaria=malaria, pneumonia=bool(PNEUMONIA_ROWS & set(by_code)),
            diarrhoea=any(item.table == "deshydratation" for item in final.classifications),
            ors_given="sro_sachet" in codes, zinc_given="zinc_20_cpd" in codes,
            vitamin_a_given=bool({"vita_100000", "vita_200000"} & codes),
            albendazole_given="albendazole_400_cp" in codes))
        for item in computed.classifications:
            chosen = overrides.get(item.table)
            if chosen and chosen[0] != item.code:
                audited_save(actor, PcimeOverride(assessment=assessment.id, table_code=item.table,
                                                  computed=item.code, chosen=chosen[0], reason=chosen[1].strip(),
                                                  author=actor.user_id, author_role=actor.role),
                             reason=chosen[1].strip())
        write_items(actor, visit.id, lines)

    record_visit(actor, patient, consultation, prescriptions=printed, today=today, before_hooks=write_details)
    return consultation


def _stored(item: pcime.Classification) -> dict:
    return {"table": item.table, "table_label": item.table_label, "code": item.code, "label": item.label,
            "colour": item.colour, "reasons": list(item.reasons), "actions": list(item.actions), "refer": item.refer}


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class SavedLine:
    prescription: Prescription
    item: PrescriptionItem | None


def saved_lines(consultation_id: int) -> list[SavedLine]:
    """The consultation's live prescription lines with their coded side (None: a free-text line)."""
    rows = list(Prescription.select().where((Prescription.consultation == consultation_id)
                                            & (Prescription.voided == False))  # noqa: E712
                .order_by(Prescription.id))
    items = {item.prescription_id: item for item in PrescriptionItem.select().where(
        PrescriptionItem.prescription.in_([row.id for row in rows]))} if rows else {}
    return [SavedLine(row, items.get(row.id)) for row in rows]
