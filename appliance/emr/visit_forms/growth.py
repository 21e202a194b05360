"""The growth and nutrition form: weight, length or height, MUAC."""

from __future__ import annotations

from wtforms import BooleanField, SelectField

from appliance.clinical import growth, nutrition
from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.measure_fields import MeasureField
from appliance.emr.visit_forms.base import (
    CHECKS,
    VisitForm,
    fr,
    notes_field,
    visit_date_field,
)
from appliance.patients.models import (
    GrowthMeasurement,
    Visit,
)

POSITIONS = [("", "—"), ("couche", _l("Couché (longueur)")), ("debout", _l("Debout (taille)"))]


class GrowthForm(VisitForm):
    MODEL = GrowthMeasurement
    COPIED = ("weight_kg", "height_cm", "muac_mm", "oedema")

    visit_date = visit_date_field()
    weight_kg = MeasureField(_l("Poids"), minimum=0.5, maximum=250, unit="kg")
    height_cm = MeasureField(_l("Taille / longueur"), minimum=35, maximum=230, unit="cm")
    position = SelectField(_l("Mesuré"), choices=POSITIONS, default="")
    muac_mm = MeasureField(_l("Périmètre brachial (PB)"), minimum=50, maximum=400, unit="mm", integer=True)
    oedema = BooleanField(_l("Œdèmes bilatéraux (godet)"))
    notes = notes_field()

    def check(self) -> None:
        super().check()
        if all(getattr(self, name).data is None for name in ("weight_kg", "height_cm", "muac_mm")) \
                and not self.oedema.data and not any(
                    getattr(self, name).errors for name in ("weight_kg", "height_cm", "muac_mm")):
            self.add_error("weight_kg", _l("Saisissez au moins une mesure."))
        self.check_weight()
        age_days = self.age_days_on(self.visit_date.data or self.today) or 0
        if self.height_cm.data is not None and not self.position.data:
            self.add_error("position", _l("Indiquez si l'enfant a été mesuré couché ou debout."))
        elif self.position.data and self.height_cm.data is not None and age_days < 5 * 365:
            lying_expected = age_days < 2 * 365
            if (self.position.data == "couche") != lying_expected:
                self.warn("position", _l("Avant 2 ans on mesure couché, après 2 ans debout : confirmez."))
        muac = self.muac_mm.data
        if muac is not None and not self.muac_mm.errors and age_days < 5 * 365:
            if age_days / growth.DAYS_PER_MONTH < nutrition.load_rules().muac_min_age_months:  # as the rules read it
                self.warn("muac_mm", _l("Le PB se mesure à partir de 6 mois : confirmez."))
            elif CHECKS.range("growth", "muac_mm").outside(muac):
                self.warn("muac_mm", _l("PB inhabituel pour un enfant (%(value)s mm) : vérifiez l'unité (mm).",
                                        value=fr(muac)))

    def fill(self, visit: Visit) -> Visit:
        super().fill(visit)
        visit.position = self.position.data or None
        return visit
