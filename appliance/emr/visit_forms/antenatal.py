"""The antenatal (CPN) form: gestation from the LMP or the measure, IPTp, Hb, blood pressure."""

from __future__ import annotations

import datetime as dt

from wtforms import BooleanField

from appliance.clinical.pregnancy import dated_lmp
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
from appliance.patients import pregnancies
from appliance.patients.models import (
    AntenatalVisit,
    Pregnancy,
    Visit,
)

MAX_GESTATION_WEEKS = int(CHECKS.value("antenatal", "max_gestation_weeks"))
SP_FROM_WEEKS = int(CHECKS.value("antenatal", "sp_from_weeks"))


class AntenatalForm(VisitForm):
    MODEL = AntenatalVisit
    COPIED = ("lmp_date", "ultrasound_on", "ultrasound_weeks", "gestational_age_weeks", "gravidity", "parity",
              "previous_caesarean", "previous_pph", "previous_stillbirth", "previous_pre_eclampsia",
              "multiple_pregnancy", "height_cm", "weight_kg", "systolic", "diastolic", "fundal_height_cm", "hb_g_dl",
              "proteinuria", "iptp_dose", "iron_folic", "iron_folic_tablets", "td_dose", "net_given",
              "next_visit_date")
    # Carried from her open pregnancy into a new contact's form: typed once, at the first contact.
    CARRIED = ("lmp_date", "ultrasound_on", "ultrasound_weeks", "gravidity", "parity", "previous_caesarean",
               "previous_pph", "previous_stillbirth", "previous_pre_eclampsia", "height_cm")
    CODE_LISTS = ("danger_signs",)

    visit_date = visit_date_field()
    lmp_date = FrenchDateField(_l("Date des dernières règles (DDR)"))
    ultrasound_on = FrenchDateField(_l("Échographie précoce (avant 24 semaines) : date"))
    ultrasound_weeks = MeasureField(_l("Âge gestationnel à l'échographie"), minimum=5, maximum=24,
                                    unit=_l("semaines"), integer=True)
    gestational_age_weeks = MeasureField(_l("Âge gestationnel"), minimum=1, maximum=MAX_GESTATION_WEEKS,
                                         unit=_l("semaines"), integer=True)
    gravidity = MeasureField(_l("Gestité (grossesses, celle-ci comprise)"), minimum=1, maximum=25, integer=True)
    parity = MeasureField(_l("Parité (accouchements)"), minimum=0, maximum=20, integer=True)
    previous_caesarean = BooleanField(_l("Césarienne antérieure"))
    previous_pph = BooleanField(_l("Antécédent d'hémorragie du post-partum"))
    previous_stillbirth = BooleanField(_l("Antécédent de mort-né ou de décès néonatal"))
    previous_pre_eclampsia = BooleanField(_l("Antécédent de pré-éclampsie ou d'éclampsie"))
    multiple_pregnancy = BooleanField(_l("Grossesse multiple (jumeaux…)"))
    height_cm = MeasureField(_l("Taille"), minimum=120, maximum=200, unit="cm")
    weight_kg = MeasureField(_l("Poids"), minimum=25, maximum=200, unit="kg")
    systolic = systolic_field()
    diastolic = diastolic_field()
    fundal_height_cm = MeasureField(_l("Hauteur utérine"), minimum=5, maximum=50, unit="cm", integer=True)
    hb_g_dl = MeasureField(_l("Hémoglobine"), minimum=2, maximum=20, unit="g/dL")
    proteinuria = MeasureField(_l("Protéinurie (bandelette : nombre de croix, 0 si négative)"), minimum=0, maximum=4,
                               integer=True)
    danger_signs = CheckboxListField(_l("Signes de danger"), choices=[])
    iptp_dose = MeasureField(_l("TPI/SP : n° de la dose donnée ce jour"), minimum=1, maximum=6, integer=True)
    iron_folic = BooleanField(_l("Fer-acide folique donné"))
    iron_folic_tablets = MeasureField(_l("Fer-acide folique : comprimés donnés"), minimum=1, maximum=180,
                                      integer=True)
    td_dose = MeasureField(_l("Td (tétanos) : n° de la dose donnée ce jour"), minimum=1, maximum=5, integer=True)
    net_given = BooleanField(_l("MILD (moustiquaire imprégnée) donnée"))
    next_visit_date = FrenchDateField(_l("Prochaine CPN"))
    notes = notes_field()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.danger_signs.choices = code_choices("anc_danger_signs")
        self.pregnancy: Pregnancy | None = pregnancies.current(self.patient.id)
        if self.existing is None and self.pregnancy is not None and not self.is_submitted():
            for name in self.CARRIED:
                getattr(self, name).data = getattr(self.pregnancy, name)
            self.multiple_pregnancy.data = self.pregnancy.multiple

    def dated_lmp(self) -> dt.date | None:
        return dated_lmp(self.lmp_date.data, self.ultrasound_on.data, self.ultrasound_weeks.data)

    def gestational_weeks(self) -> int | None:
        """Weeks at this visit: typed, or computed from the dating (early ultrasound, else LMP)."""
        if self.gestational_age_weeks.data is not None:
            return self.gestational_age_weeks.data
        lmp = self.dated_lmp()
        if lmp and self.visit_date.data:
            return (self.visit_date.data - lmp).days // 7
        return None

    def check(self) -> None:
        super().check()
        self.require_female()
        when, lmp, weeks = self.visit_date.data, self.lmp_date.data, self.gestational_age_weeks.data
        if lmp is None and weeks is None and self.dated_lmp() is None and not self.gestational_age_weeks.errors:
            self.add_error("gestational_age_weeks",
                           _l("Indiquez la DDR, une échographie précoce ou l'âge gestationnel."))
        scan_on, scan_weeks = self.ultrasound_on.data, self.ultrasound_weeks.data
        if (scan_on is None) != (scan_weeks is None) and not self.ultrasound_weeks.errors:
            self.add_error("ultrasound_weeks" if scan_on else "ultrasound_on",
                           _l("Indiquez la date de l'échographie et l'âge gestationnel lu."))
        if lmp and lmp > self.today:
            self.add_error("lmp_date", _l("La date des dernières règles est dans le futur."))
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
