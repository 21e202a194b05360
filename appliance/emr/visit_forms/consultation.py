"""The consultation form: diagnosis, vital signs and prescription lines."""

from __future__ import annotations

import re

from flask import has_request_context, request
from werkzeug.datastructures import MultiDict
from wtforms import Form, SelectField, StringField, TextAreaField
from wtforms.fields import FieldList, FormField
from wtforms.validators import DataRequired, Length, Optional

from appliance.clinical.adult_doses import adult_line_problems, load_adult_doses
from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.measure_fields import MeasureField
from appliance.emr.visit_forms.base import (
    CHECKS,
    MAX_PRESCRIPTION_LINES,
    PRESCRIPTION_LINES,
    VisitForm,
    code_choices,
    diastolic_field,
    fr,
    notes_field,
    systolic_field,
    temperature_field,
    visit_date_field,
)
from appliance.patients.models import (
    Consultation,
    Visit,
)
from appliance.patients.visits import PrescriptionLine
from appliance.pcime.service import OTHER, Line, line_problems, medicine_choices, printed_line, write_items

_TEXT_120 = [Optional(), Length(max=120, message=_l("120 caractères au plus."))]


class PrescriptionLineForm(Form):
    """One line: a medicine of the essential list (or "autre" with its name and a reason), a dose per
    intake, intakes a day, days, and the quantity to hand over (computed when left blank)."""

    medicine = SelectField(_l("Médicament"), choices=[], default="", validate_choice=False)
    other_name = StringField(_l("Nom du médicament (autre)"), validators=_TEXT_120)
    dose = MeasureField(_l("Dose par prise"), minimum=0.01, maximum=100)
    times_per_day = MeasureField(_l("Prises par jour"), minimum=1, maximum=12, integer=True)
    duration_days = MeasureField(_l("Durée (jours)"), minimum=1, maximum=365, integer=True)
    quantity = MeasureField(_l("Quantité"), minimum=1, maximum=1000, integer=True)
    reason = StringField(_l("Motif (hors liste ou hors tableau)"),
                         validators=[Optional(), Length(max=200, message=_l("200 caractères au plus."))])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.medicine.choices = [("", "—"), *medicine_choices(), (OTHER, _l("Autre (hors liste) : nom et motif"))]

    def filled(self) -> bool:
        return bool(self.medicine.data) or any(
            item.data not in (None, "") for item in (self.other_name, self.dose, self.times_per_day,
                                                     self.duration_days, self.quantity))

    def line(self) -> Line:
        return Line(self.medicine.data, self.dose.data, self.times_per_day.data, self.duration_days.data,
                    self.quantity.data, reason=(self.reason.data or "").strip(),
                    other_name=(self.other_name.data or "").strip())


_LINE_KEY = re.compile(r"^prescriptions-(\d{1,6})-(\w+)$")


def _contiguous_lines(formdata: MultiDict) -> MultiDict:
    """Prescription lines renumbered 0, 1, 2... WTForms' FieldList repeats a line's data when the
    submitted numbers have gaps (a line left out of the post), which would save a drug twice."""
    indices = sorted({int(match.group(1)) for key in formdata if (match := _LINE_KEY.match(key))})
    renumber = {index: position for position, index in enumerate(indices)}
    result = MultiDict()
    for key, value in formdata.items(multi=True):
        match = _LINE_KEY.match(key)
        result.add(f"prescriptions-{renumber[int(match.group(1))]}-{match.group(2)}" if match else key, value)
    return result


class ConsultationForm(VisitForm):
    MODEL = Consultation
    COPIED = ("reason", "temperature_c", "pulse_bpm", "resp_rate", "systolic", "diastolic", "weight_kg",
              "diagnosis_code", "treatment")

    visit_date = visit_date_field()
    reason = StringField(_l("Motif de consultation"), validators=[
        DataRequired(_l("Champ obligatoire.")), Length(max=200, message=_l("200 caractères au plus."))])
    temperature_c = temperature_field()
    pulse_bpm = MeasureField(_l("Pouls"), minimum=20, maximum=250, unit="/min", integer=True)
    resp_rate = MeasureField(_l("Fréquence respiratoire"), minimum=5, maximum=120, unit="/min", integer=True)
    systolic = systolic_field()
    diastolic = diastolic_field()
    weight_kg = MeasureField(_l("Poids"), minimum=0.5, maximum=250, unit="kg")
    diagnosis_code = SelectField(_l("Diagnostic"), choices=[], default="")
    secondary_diagnosis_code = SelectField(_l("Diagnostic associé"), choices=[], default="")
    treatment = TextAreaField(_l("Traitement / conduite à tenir"),
                              validators=[Optional(), Length(max=2000, message=_l("2000 caractères au plus."))])
    prescriptions = FieldList(FormField(PrescriptionLineForm), min_entries=PRESCRIPTION_LINES,
                              max_entries=MAX_PRESCRIPTION_LINES)
    notes = notes_field()

    def __init__(self, *args, prescriptions: list | None = None, **kwargs) -> None:
        if "formdata" not in kwargs and has_request_context() and request.method == "POST":
            kwargs["formdata"] = _contiguous_lines(request.form)
        super().__init__(*args, **kwargs)
        self.diagnosis_code.choices = code_choices("diagnoses", blank=True)
        self.secondary_diagnosis_code.choices = code_choices("diagnoses", blank=True)
        if not self.is_submitted() and self.existing is not None:
            self.secondary_diagnosis_code.data = self.existing.secondary_diagnosis_code or ""
            for index, saved in enumerate(prescriptions or []):
                if index >= len(self.prescriptions.entries):
                    self.prescriptions.append_entry()
                entry = self.prescriptions.entries[index].form
                row, item = saved.prescription, saved.item
                entry.quantity.data, entry.duration_days.data = row.quantity, row.duration_days
                if item is None or item.medicine == OTHER:  # "autre", or a free line written before the list
                    entry.medicine.data, entry.other_name.data = OTHER, row.drug
                    entry.reason.data = item.reason if item else "ligne libre saisie avant la liste"
                else:
                    entry.medicine.data, entry.dose.data = item.medicine, item.dose
                    entry.times_per_day.data, entry.reason.data = item.times_per_day, item.reason

    def check(self) -> None:
        super().check()
        if not self.diagnosis_code.data:
            self.add_error("diagnosis_code", _l("Choisissez un diagnostic."))
        if self.secondary_diagnosis_code.data and self.secondary_diagnosis_code.data == self.diagnosis_code.data:
            self.add_error("secondary_diagnosis_code", _l("Le diagnostic associé répète le diagnostic principal."))
        self.check_temperature()
        self.check_blood_pressure()
        self.check_weight()
        self.check_prescriptions()
        pulse = self.pulse_bpm.data
        if pulse is not None and not self.pulse_bpm.errors and CHECKS.range("vital_signs", "pulse_bpm").outside(pulse):
            self.warn("pulse_bpm", _l("Pouls inhabituel (%(value)s/min) : confirmez.", value=fr(pulse)))

    def coded_lines(self) -> list[Line]:
        return [entry.form.line() for entry in self.prescriptions.entries if entry.form.filled()]

    def prescription_lines(self) -> list[PrescriptionLine]:
        """The lines as printed (drug and posology in words), written by the record's visit path."""
        return [printed_line(line) for line in self.coded_lines()]

    def details_writer(self, actor):
        """Writes each line's coded side (medicine, dose, reason) in the visit's transaction."""
        lines = self.coded_lines()
        return lambda visit: write_items(actor, visit.id, lines)

    def check_prescriptions(self) -> None:
        """A list medicine needs its dose, intakes and days; "autre" a name; off the adult table
        (or outside the list) a reason. Children under the table's age keep their PCIME form."""
        adult = self.age_days_on(self.visit_date.data or self.today) is not None and \
            self.age_days_on(self.visit_date.data or self.today) >= load_adult_doses().from_years * 365.25
        for entry in self.prescriptions.entries:
            line = entry.form
            if not line.filled():
                continue
            if not line.medicine.data:
                line.medicine.errors.append(_l("Choisissez le médicament dans la liste (ou « autre »)."))
                continue
            if line.medicine.data == OTHER:
                if not (line.other_name.data or "").strip():
                    line.other_name.errors.append(_l("Écrivez le nom du médicament hors liste."))
                problems = line_problems(line.line(), 0, None)
            elif line.medicine.data not in dict(line.medicine.choices):
                line.medicine.errors.append(_l("Médicament inconnu : choisissez dans la liste."))
                continue
            elif None in (line.dose.data, line.times_per_day.data, line.duration_days.data):
                line.dose.errors.append(_l("Indiquez la dose par prise, les prises par jour et la durée."))
                continue
            else:
                problems = adult_line_problems(line.medicine.data, line.dose.data, line.times_per_day.data,
                                               line.duration_days.data) if adult else []
            if problems and not (line.reason.data or "").strip():
                line.reason.errors.append(_l("Donnez le motif : %(problems)s", problems=" ".join(problems)))
        if any(field.errors for entry in self.prescriptions.entries for field in entry.form):
            # the lines' own errors are shown on them; this one makes the form refuse the save
            self.add_error("prescriptions", _l("Ordonnance : corrigez les lignes signalées."))

    def fill(self, visit: Visit) -> Visit:
        super().fill(visit)
        visit.secondary_diagnosis_code = self.secondary_diagnosis_code.data or None
        return visit
