"""The consultation form: diagnosis, vital signs and prescription lines."""

from __future__ import annotations

import re

from flask import has_request_context, request
from werkzeug.datastructures import MultiDict
from wtforms import Form, SelectField, StringField, TextAreaField
from wtforms.fields import FieldList, FormField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

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

_TEXT_120 = [Optional(), Length(max=120, message=_l("120 caractères au plus."))]


class PrescriptionLineForm(Form):
    # No Optional(): it would stop the chain before validate_drug sees a line without its drug.
    drug = StringField(_l("Médicament"), validators=[Length(max=120, message=_l("120 caractères au plus."))])
    dosage = StringField(_l("Posologie"), validators=_TEXT_120)
    quantity = MeasureField(_l("Quantité"), minimum=1, maximum=1000, integer=True)
    duration_days = MeasureField(_l("Durée (jours)"), minimum=1, maximum=365, integer=True)

    def validate_drug(self, field) -> None:
        filled = any(item.data not in (None, "") for item in (self.dosage, self.quantity, self.duration_days))
        if filled and not (field.data or "").strip():
            raise ValidationError(_l("Indiquez le médicament."))


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
            for index, line in enumerate(prescriptions or []):
                if index >= len(self.prescriptions.entries):
                    self.prescriptions.append_entry()
                entry = self.prescriptions.entries[index].form
                entry.drug.data, entry.dosage.data = line.drug, line.dosage
                entry.quantity.data, entry.duration_days.data = line.quantity, line.duration_days

    def check(self) -> None:
        super().check()
        if not self.diagnosis_code.data:
            self.add_error("diagnosis_code", _l("Choisissez un diagnostic."))
        if self.secondary_diagnosis_code.data and self.secondary_diagnosis_code.data == self.diagnosis_code.data:
            self.add_error("secondary_diagnosis_code", _l("Le diagnostic associé répète le diagnostic principal."))
        self.check_temperature()
        self.check_blood_pressure()
        self.check_weight()
        pulse = self.pulse_bpm.data
        if pulse is not None and not self.pulse_bpm.errors and CHECKS.range("vital_signs", "pulse_bpm").outside(pulse):
            self.warn("pulse_bpm", _l("Pouls inhabituel (%(value)s/min) : confirmez.", value=fr(pulse)))

    def prescription_lines(self) -> list[PrescriptionLine]:
        lines = []
        for entry in self.prescriptions.entries:
            line = entry.form
            if (line.drug.data or "").strip():
                lines.append(PrescriptionLine(line.drug.data.strip(), (line.dosage.data or "").strip(),
                                              line.quantity.data, line.duration_days.data))
        return lines

    def fill(self, visit: Visit) -> Visit:
        super().fill(visit)
        visit.secondary_diagnosis_code = self.secondary_diagnosis_code.data or None
        return visit
