"""The antenatal (CPN) form: gestation from the LMP or the measure, IPTp, Hb, blood pressure."""

from __future__ import annotations

from wtforms import BooleanField

from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.measure_fields import CheckboxListField, FrenchDateField, MeasureField
from appliance.emr.visit_forms.base import (
    CHECKS,
    VisitForm,
    code_choices,
    diastolic_field,
    fr,
    notes_field,
    systolic_field,
    visit_date_field,
)
from appliance.patients.models import (
    AntenatalVisit,
    Visit,
)

MAX_GESTATION_WEEKS = int(CHECKS.value("antenatal", "max_gestation_weeks"))
SP_FROM_WEEKS = int(CHECKS.value("antenatal", "sp_from_weeks"))


class AntenatalForm(VisitForm):
    MODEL = AntenatalVisit
    COPIED = ("contact_number", "lmp_date", "gestational_age_weeks", "gravidity", "parity", "previous_caesarean",
              "weight_kg", "systolic", "diastolic", "fundal_height_cm", "hb_g_dl", "iptp_dose", "iron_folic",
              "td_dose", "next_visit_date")
    CODE_LISTS = ("danger_signs",)

    visit_date = visit_date_field()
    contact_number = MeasureField(_l("N° de CPN"), minimum=1, maximum=12, integer=True)
    lmp_date = FrenchDateField(_l("Date des dernières règles (DDR)"))
    gestational_age_weeks = MeasureField(_l("Âge gestationnel"), minimum=1, maximum=MAX_GESTATION_WEEKS,
                                         unit=_l("semaines"), integer=True)
    gravidity = MeasureField(_l("Gestité (grossesses, celle-ci comprise)"), minimum=1, maximum=25, integer=True)
    parity = MeasureField(_l("Parité (accouchements)"), minimum=0, maximum=20, integer=True)
    previous_caesarean = BooleanField(_l("Césarienne antérieure"))
    weight_kg = MeasureField(_l("Poids"), minimum=25, maximum=200, unit="kg")
    systolic = systolic_field()
    diastolic = diastolic_field()
    fundal_height_cm = MeasureField(_l("Hauteur utérine"), minimum=5, maximum=50, unit="cm", integer=True)
    hb_g_dl = MeasureField(_l("Hémoglobine"), minimum=2, maximum=20, unit="g/dL")
    danger_signs = CheckboxListField(_l("Signes de danger"), choices=[])
    iptp_dose = MeasureField(_l("TPI/SP : n° de la dose donnée ce jour"), minimum=1, maximum=6, integer=True)
    iron_folic = BooleanField(_l("Fer-acide folique donné"))
    td_dose = MeasureField(_l("Td (tétanos) : n° de la dose donnée ce jour"), minimum=1, maximum=5, integer=True)
    next_visit_date = FrenchDateField(_l("Prochaine CPN"))
    notes = notes_field()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.danger_signs.choices = code_choices("anc_danger_signs")

    def gestational_weeks(self) -> int | None:
        """Weeks at this visit: typed, or computed from the LMP."""
        if self.gestational_age_weeks.data is not None:
            return self.gestational_age_weeks.data
        if self.lmp_date.data and self.visit_date.data:
            return (self.visit_date.data - self.lmp_date.data).days // 7
        return None

    def check(self) -> None:
        super().check()
        self.require_female()
        when, lmp, weeks = self.visit_date.data, self.lmp_date.data, self.gestational_age_weeks.data
        if lmp is None and weeks is None and not self.gestational_age_weeks.errors:
            self.add_error("gestational_age_weeks", _l("Indiquez la DDR ou l'âge gestationnel."))
        if lmp and when:
            from_lmp = (when - lmp).days / 7
            if lmp > when:
                self.add_error("lmp_date", _l("La DDR est après la date de la visite."))
            elif from_lmp > MAX_GESTATION_WEEKS:
                self.add_error("lmp_date", _l("DDR impossible : plus de %(weeks)s semaines avant la visite.",
                                              weeks=MAX_GESTATION_WEEKS))
            elif weeks is not None and abs(from_lmp - weeks) > 3:
                self.warn("gestational_age_weeks",
                          _l("L'âge gestationnel ne correspond pas à la DDR (%(weeks)s semaines d'après la DDR).",
                             weeks=int(from_lmp)))
        gestation = self.gestational_weeks()
        if self.gravidity.data is not None and self.parity.data is not None \
                and self.parity.data >= self.gravidity.data:
            self.add_error("parity", _l("La parité doit être inférieure à la gestité (la grossesse actuelle compte)."))
        if self.iptp_dose.data is not None and gestation is not None and gestation < SP_FROM_WEEKS:
            self.add_error("iptp_dose", _l("TPI/SP contre-indiquée avant %(weeks)s semaines de grossesse.",
                                           weeks=SP_FROM_WEEKS))
        self.check_blood_pressure(pregnant=True)
        hb = self.hb_g_dl.data
        if hb is not None and not self.hb_g_dl.errors and CHECKS.range("antenatal", "hb_g_dl").outside(hb):
            self.warn("hb_g_dl", _l("Hémoglobine inhabituelle (%(value)s g/dL) : confirmez.", value=fr(hb)))
        height = self.fundal_height_cm.data
        if height is not None and gestation is not None and not self.fundal_height_cm.errors \
                and gestation >= CHECKS.value("antenatal", "fundal_height_from_weeks") \
                and abs(height - gestation) > CHECKS.value("antenatal", "fundal_height_gap_cm"):
            self.warn("fundal_height_cm", _l("Hauteur utérine éloignée de l'âge gestationnel : confirmez."))
        weight = self.weight_kg.data
        if weight is not None and not self.weight_kg.errors and CHECKS.range("antenatal", "weight_kg").outside(weight):
            self.warn("weight_kg", _l("Poids inhabituel pour une femme enceinte (%(value)s kg) : confirmez.",
                                      value=fr(weight)))
        self.check_next_date("next_visit_date", max_days=20 * 7)

    def fill(self, visit: Visit) -> Visit:
        super().fill(visit)
        visit.gestational_age_weeks = self.gestational_weeks()
        return visit
