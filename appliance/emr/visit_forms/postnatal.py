"""The postnatal (CPoN) form: the mother's or the newborn's visit."""

from __future__ import annotations

from wtforms import RadioField
from wtforms.validators import Optional

from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.measure_fields import CheckboxListField, MeasureField
from appliance.emr.visit_forms.base import (
    CHECKS,
    VisitForm,
    diastolic_field,
    fr,
    locale,
    notes_field,
    systolic_field,
    temperature_field,
    visit_date_field,
)
from appliance.patients import codes
from appliance.patients.models import (
    PostnatalVisit,
    Visit,
)


class PostnatalForm(VisitForm):
    MODEL = PostnatalVisit
    COPIED = ("contact_number", "temperature_c", "systolic", "diastolic", "weight_kg")
    CODE_LISTS = ("danger_signs",)

    visit_date = visit_date_field()
    contact_number = MeasureField(_l("N° de CPoN"), minimum=1, maximum=4, integer=True)
    temperature_c = temperature_field()
    systolic = systolic_field()
    diastolic = diastolic_field()
    weight_kg = MeasureField(_l("Poids"), minimum=0.5, maximum=200, unit="kg")
    breastfeeding = RadioField(_l("Allaitement"), choices=[("oui", _l("Oui")), ("non", _l("Non"))],
                               validators=[Optional()])
    danger_signs = CheckboxListField(_l("Signes de danger"), choices=[])
    notes = notes_field()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        newborn_max_days = CHECKS.value("postnatal", "newborn_max_days")
        self.subject = "nouveau_ne" if self.age_days_on(self.today) <= newborn_max_days else "mere"
        self.danger_signs.choices = [
            (entry.code, entry.label(locale())) for entry in codes.code_list("postnatal_signs").values()
            if entry.extra.get("subject") in ("both", self.subject)]
        if self.existing is not None and not self.is_submitted():
            self.breastfeeding.data = {True: "oui", False: "non"}.get(self.existing.breastfeeding)

    def check(self) -> None:
        super().check()
        if self.subject == "mere":
            self.require_female(min_age_years=10)
            self.check_blood_pressure()
            weight = self.weight_kg.data
            if weight is not None and not self.weight_kg.errors \
                    and weight < CHECKS.value("postnatal", "mother_impossible_below_kg"):
                self.add_error("weight_kg", _l("Poids impossible pour une mère."))
        else:
            if self.systolic.data is not None or self.diastolic.data is not None:
                self.add_error("systolic", _l("Pas de tension pour un nouveau-né."))
            weight = self.weight_kg.data
            if weight is not None and not self.weight_kg.errors:
                if weight > CHECKS.value("postnatal", "newborn_impossible_kg"):
                    self.add_error("weight_kg", _l("Poids impossible pour un nouveau-né (%(value)s kg).",
                                                   value=fr(weight)))
                elif CHECKS.range("postnatal", "newborn_weight_kg").outside(weight):
                    self.warn("weight_kg", _l("Poids inhabituel pour un nouveau-né (%(value)s kg) : confirmez.",
                                              value=fr(weight)))
        self.check_temperature()

    def fill(self, visit: Visit) -> Visit:
        super().fill(visit)
        visit.subject = self.subject
        visit.breastfeeding = {"oui": True, "non": False}.get(self.breastfeeding.data)
        return visit
