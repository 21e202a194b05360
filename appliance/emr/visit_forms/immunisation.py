"""The vaccination form: one dose of the EPI calendar, recorded once."""

from __future__ import annotations

import datetime as dt

from wtforms import RadioField, SelectField, StringField
from wtforms.validators import Length, Optional

from appliance.clinical import vaccine_checks
from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.measure_fields import MeasureField
from appliance.emr.visit_forms.base import (
    VisitForm,
    code_choices,
    notes_field,
    visit_date_field,
)
from appliance.patients import codes
from appliance.patients.models import (
    Immunisation,
    Visit,
)


def previous_dose_on(patient, antigen: str, dose_number: int, before: dt.date,
                     existing: Immunisation | None = None) -> dt.date | None:
    """The date of the same vaccine's latest earlier dose on record (for the minimum interval)."""
    if patient.id is None:
        return None
    row = (Immunisation.select(Immunisation.visit_date)
           .where((Immunisation.patient == patient.id) & (Immunisation.antigen == antigen)
                  & (Immunisation.dose_number < dose_number) & (Immunisation.visit_date <= before)
                  & (Immunisation.voided == False)  # noqa: E712
                  & (Immunisation.id != (existing.id if existing else 0)))
           .order_by(Immunisation.visit_date.desc()).first())
    return row.visit_date if row else None


class ImmunisationForm(VisitForm):
    MODEL = Immunisation
    COPIED = ("antigen", "dose_number", "lot")

    visit_date = visit_date_field(_l("Date de la dose"))
    antigen = SelectField(_l("Vaccin"), choices=[], default="")
    dose_number = MeasureField(_l("N° de dose"), minimum=0, maximum=5, integer=True, required=True)
    given_here = RadioField(_l("Dose donnée"), default="ici",
                            choices=[("ici", _l("Ici")), ("ailleurs", _l("Ailleurs (d'après le carnet)"))])
    lot = StringField(_l("N° de lot"), validators=[Optional(), Length(max=40, message=_l("40 caractères au plus."))])
    notes = notes_field()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.antigen.choices = code_choices("antigens", blank=True)
        if self.existing is not None and not self.is_submitted():
            self.given_here.data = "ici" if self.existing.given_here else "ailleurs"

    def check(self) -> None:
        when = self.visit_date.data
        if when is not None and when < self.patient.birth_date:
            self.add_error("visit_date", _l("Dose datée avant la naissance (%(date)s) : impossible.",
                                            date=self.patient.birth_date.strftime("%d/%m/%Y")))
        else:
            super().check()
        antigen = codes.code_list("antigens").get(self.antigen.data or "")
        if antigen is None:
            self.add_error("antigen", _l("Choisissez le vaccin."))
            return
        dose = self.dose_number.data
        first, last = int(antigen.extra["first_dose"]), int(antigen.extra["last_dose"])
        if dose is not None and not self.dose_number.errors and not first <= dose <= last:
            self.add_error("dose_number", _l("Dose impossible pour ce vaccin : de %(first)s à %(last)s.",
                                             first=first, last=last))
            return
        if dose is not None and not self.dose_number.errors and self.patient.id is not None:
            twin = Immunisation.select(Immunisation.visit_date).where(
                (Immunisation.patient == self.patient.id) & (Immunisation.antigen == antigen.code)
                & (Immunisation.dose_number == dose) & (Immunisation.voided == False)  # noqa: E712
                & (Immunisation.id != (self.existing.id if self.existing else 0))).first()
            if twin is not None:
                self.add_error("dose_number", _l("Cette dose est déjà enregistrée (le %(date)s).",
                                                 date=twin.visit_date.strftime("%d/%m/%Y")))
                return
        if dose is not None and when is not None and not self.dose_number.errors and not self.visit_date.errors:
            refused = vaccine_checks.refusal(antigen.code, dose, when, birth=self.patient.birth_date,
                                             sex=self.patient.sex, previous_on=previous_dose_on(
                                                 self.patient, antigen.code, dose, when, self.existing))
            if refused:
                self.add_error("antigen", refused)

    def fill(self, visit: Visit) -> Visit:
        super().fill(visit)
        visit.given_here = self.given_here.data != "ailleurs"
        return visit
