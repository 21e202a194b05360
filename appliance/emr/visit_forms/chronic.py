"""The chronic disease (hypertension, diabetes) follow-up form."""

from __future__ import annotations

from wtforms import RadioField, SelectField, TextAreaField
from wtforms.validators import Length, Optional

from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.measure_fields import FrenchDateField, MeasureField
from appliance.emr.visit_forms.base import (
    CHECKS,
    VisitForm,
    diastolic_field,
    fr,
    notes_field,
    systolic_field,
    visit_date_field,
)
from appliance.patients.models import (
    ChronicVisit,
    Visit,
)

CHRONIC_PROGRAMMES = [("hta", _l("Hypertension artérielle")), ("diabete", _l("Diabète"))]


class ChronicForm(VisitForm):
    MODEL = ChronicVisit
    COPIED = ("programme", "systolic", "diastolic", "glucose_g_l", "weight_kg", "treatment", "next_appointment")

    visit_date = visit_date_field()
    programme = SelectField(_l("Programme"), choices=CHRONIC_PROGRAMMES)
    systolic = systolic_field()
    diastolic = diastolic_field()
    glucose_g_l = MeasureField(_l("Glycémie"), minimum=0.2, maximum=6.0, unit="g/L")
    fasting = RadioField(_l("Glycémie à jeun"), choices=[("oui", _l("Oui")), ("non", _l("Non"))],
                         validators=[Optional()])
    weight_kg = MeasureField(_l("Poids"), minimum=2, maximum=250, unit="kg")
    treatment = TextAreaField(_l("Traitement"), validators=[Optional(), Length(max=1000)])
    next_appointment = FrenchDateField(_l("Prochain rendez-vous"))
    notes = notes_field()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.existing is not None and not self.is_submitted():
            self.fasting.data = {True: "oui", False: "non"}.get(self.existing.fasting)

    def check(self) -> None:
        super().check()
        self.check_blood_pressure()
        self.check_weight()
        if self.programme.data == "hta" and self.systolic.data is None and not self.systolic.errors:
            self.add_error("systolic", _l("La tension est obligatoire pour le suivi de l'hypertension."))
        if self.programme.data == "diabete" and self.glucose_g_l.data is None and not self.glucose_g_l.errors:
            self.add_error("glucose_g_l", _l("La glycémie est obligatoire pour le suivi du diabète."))
        glucose = self.glucose_g_l.data
        if glucose is not None and not self.glucose_g_l.errors \
                and CHECKS.range("chronic", "glucose_g_l").outside(glucose):
            self.warn("glucose_g_l", _l("Glycémie très inhabituelle (%(value)s g/L) : confirmez.", value=fr(glucose)))
        self.check_next_date("next_appointment", max_days=366)

    def fill(self, visit: Visit) -> Visit:
        super().fill(visit)
        visit.fasting = {"oui": True, "non": False}.get(self.fasting.data)
        return visit
