"""The family planning form: the method, its quantity and next date."""

from __future__ import annotations

from wtforms import RadioField, SelectField

from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.measure_fields import FrenchDateField, MeasureField
from appliance.emr.visit_forms.base import (
    VisitForm,
    code_choices,
    notes_field,
    visit_date_field,
)
from appliance.patients.models import (
    FamilyPlanningVisit,
)

MALE_METHODS = frozenset({"preservatif_m", "vasectomie"})


class FamilyPlanningForm(VisitForm):
    MODEL = FamilyPlanningVisit
    COPIED = ("method", "user_status", "quantity", "next_date")

    visit_date = visit_date_field()
    method = SelectField(_l("Méthode"), choices=[], default="")
    user_status = RadioField(_l("Utilisatrice"), default="continue",
                             choices=[("nouvelle", _l("Nouvelle")), ("continue", _l("Ancienne (continue)"))])
    quantity = MeasureField(_l("Quantité remise"), minimum=0, maximum=500, integer=True)
    next_date = FrenchDateField(_l("Prochain rendez-vous"))
    notes = notes_field()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.method.choices = code_choices("fp_methods", blank=True)

    def check(self) -> None:
        super().check()
        if not self.method.data:
            self.add_error("method", _l("Choisissez la méthode."))
        elif self.patient.sex == "M" and self.method.data not in MALE_METHODS:
            self.add_error("method", _l("Méthode féminine : le dossier est celui d'un homme."))
        if (self.age_days_on(self.visit_date.data or self.today) or 0) < 10 * 365:
            self.add_error("method", _l("Âge incompatible avec la planification familiale."))
        self.check_next_date("next_date", max_days=6 * 366)
