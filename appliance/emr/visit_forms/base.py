"""What every visit form shares: the base form, its checks and field makers, the limits as data.

The plausibility limits come from ``clinical/data/visit_checks.toml`` (``CHECKS``), the
severe hypertension of pregnancy from the pregnancy risk rules: no clinical number is typed here.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import get_locale
from wtforms import Field, SelectField, TextAreaField
from wtforms.validators import Length, Optional

from appliance.clinical import growth, pregnancy
from appliance.clinical.visit_checks import load_checks
from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.measure_fields import ClinicalForm, FrenchDateField, MeasureField, number_text
from appliance.patients import codes
from appliance.patients.models import (
    Patient,
    Visit,
)
from appliance.store.clock import trusted_today

PRESCRIPTION_LINES = 4
MAX_PRESCRIPTION_LINES = 12
CHECKS = load_checks()  # the plausibility limits, as data with their sources (clinical/data/visit_checks.toml)


def fr(value: float) -> str:
    """A number as staff write it in a message: 41,5 (never 41.5 or 41.50; 41.5 in English)."""
    return number_text(value)


def locale() -> str:
    return str(get_locale() or "fr")


def code_choices(name: str, *, blank: bool = False) -> list[tuple[str, str]]:
    options = codes.choices(name, locale())
    return [("", "—"), *options] if blank else options


def visit_date_field(label=None):
    return FrenchDateField(label or _l("Date de la visite"), required=True, default=trusted_today)


def notes_field():
    return TextAreaField(_l("Notes"), validators=[Optional(), Length(max=2000, message=_l("2000 caractères au plus."))])


def systolic_field():
    return MeasureField(_l("Tension systolique"), minimum=50, maximum=300, unit="mmHg", integer=True)


def diastolic_field():
    return MeasureField(_l("Tension diastolique"), minimum=20, maximum=200, unit="mmHg", integer=True)


def temperature_field():
    return MeasureField(_l("Température"), minimum=30, maximum=45, unit="°C")


class VisitForm(ClinicalForm):
    """What every visit form shares: the date, notes, the patient's context and the copy to the model."""

    MODEL: type[Visit] = Visit
    COPIED: tuple[str, ...] = ()  # form fields copied as they are to the model's fields of the same name
    CODE_LISTS: tuple[str, ...] = ()  # multi-select fields stored as space-separated codes

    def __init__(self, *args, patient: Patient, today: dt.date | None = None, visit: Visit | None = None,
                 **kwargs) -> None:
        if visit is not None and "obj" not in kwargs:
            kwargs["obj"] = visit
        super().__init__(*args, **kwargs)
        self.patient = patient
        self.today = today or trusted_today()
        self.existing = visit
        for field in self:
            if isinstance(field, SelectField) and field.data is None:
                field.data = ""  # an empty optional code stored as NULL is the blank choice
        if visit is not None and not self.is_submitted():
            for name in self.CODE_LISTS:
                getattr(self, name).data = codes.split_codes(getattr(visit, name))

    # helpers for check() ---------------------------------------------------------------------------

    def age_days_on(self, when: dt.date | None) -> int | None:
        if when is None:
            return None
        return (when - self.patient.birth_date).days

    def check_visit_date(self) -> None:
        when = self.visit_date.data
        if when is None:
            return
        if when > self.today:
            self.add_error("visit_date", _l("La date est dans le futur."))
        elif when < self.patient.birth_date:
            self.add_error("visit_date", _l("La date est avant la naissance du patient (%(date)s).",
                                            date=self.patient.birth_date.strftime("%d/%m/%Y")))
        elif when < self.today - dt.timedelta(days=365 * 5):
            self.warn("visit_date", _l("Visite de plus de cinq ans : vérifiez l'année."))

    def check_blood_pressure(self, systolic: str = "systolic", diastolic: str = "diastolic", *,
                             pregnant: bool = False) -> None:
        high, low = getattr(self, systolic).data, getattr(self, diastolic).data
        if (high is None) != (low is None):
            missing = diastolic if low is None else systolic
            self.add_error(missing, _l("Saisissez les deux chiffres de la tension (ex. 120 / 80)."))
            return
        if high is None or getattr(self, systolic).errors or getattr(self, diastolic).errors:
            return
        if low >= high:
            self.add_error(diastolic, _l("La diastolique doit être plus basse que la systolique."))
        elif high - low < 10:
            self.warn(diastolic, _l("Écart systolique-diastolique très faible : vérifiez la tension."))
        very_high, very_high_diastolic = (pregnancy.severe_hypertension() if pregnant else
                                          CHECKS.pair("vital_signs", "very_high_bp", "systolic", "diastolic"))
        if high >= very_high or low >= very_high_diastolic:
            self.warn(systolic, _l("Tension très élevée (%(high)s/%(low)s) : vérifiez et confirmez.",
                                   high=high, low=low))
        elif high < CHECKS.value("vital_signs", "very_low_systolic"):
            self.warn(systolic, _l("Tension très basse (%(high)s/%(low)s) : vérifiez et confirmez.",
                                   high=high, low=low))

    def check_temperature(self, name: str = "temperature_c") -> None:
        value = getattr(self, name).data
        if value is None or getattr(self, name).errors:
            return
        temperature = CHECKS.range("vital_signs", "temperature_c")
        if value >= temperature.high:
            self.warn(name, _l("Température très élevée (%(value)s °C) : confirmez.", value=fr(value)))
        elif value < temperature.low:
            self.warn(name, _l("Température très basse (%(value)s °C) : hypothermie ? Confirmez.", value=fr(value)))

    def check_weight(self, name: str = "weight_kg", when: dt.date | None = None) -> None:
        """Hard limits depend on age; beyond ±3 z of WHO weight-for-age (under 5) asks to confirm."""
        field = getattr(self, name)
        weight = field.data
        age_days = self.age_days_on(when or self.visit_date.data or self.today)
        if weight is None or field.errors or age_days is None or age_days < 0:
            return
        if age_days < 5 * 365 and weight > CHECKS.value("vital_signs", "child_under_five_impossible_kg"):
            self.add_error(name, _l("Poids impossible pour un enfant de moins de 5 ans."))
            return
        if age_days <= growth.MAX_AGE_DAYS:
            try:
                z = growth.zscore("wfa", self.patient.sex, age_days, weight)
            except ValueError:
                return
            if abs(z) > CHECKS.value("vital_signs", "weight_for_age_z"):
                self.warn(name, _l("Poids très inhabituel pour l'âge (z = %(z)s) : vérifiez la pesée.",
                                   z=number_text(z, "+.1f")))
        elif age_days >= 15 * 365 and CHECKS.range("vital_signs", "adult_weight_kg").outside(weight):
            self.warn(name, _l("Poids inhabituel pour un adulte (%(value)s kg) : confirmez.", value=fr(weight)))

    def check_next_date(self, name: str, *, max_days: int) -> None:
        next_date, when = getattr(self, name).data, self.visit_date.data
        if next_date is None or when is None:
            return
        if next_date <= when:
            self.add_error(name, _l("Le prochain rendez-vous doit être après la date de la visite."))
        elif (next_date - when).days > max_days:
            self.add_error(name, _l("Rendez-vous trop lointain (plus de %(days)s jours).", days=max_days))

    def require_female(self, field: str = "visit_date", *, min_age_years: int = 9) -> None:
        if self.patient.sex != "F":
            self.add_error(field, _l("Cette visite concerne une femme : le dossier est celui d'un homme."))
        elif (self.age_days_on(self.visit_date.data or self.today) or 0) < min_age_years * 365:
            self.add_error(field, _l("Âge incompatible avec cette visite."))

    def check(self) -> None:
        self.check_visit_date()

    def has_field(self, name: str) -> bool:
        """Whether a service error naming ``name`` can be shown on that field."""
        return isinstance(getattr(self, name, None), Field)

    # to the model ----------------------------------------------------------------------------------

    def fill(self, visit: Visit) -> Visit:
        visit.visit_date = self.visit_date.data
        visit.notes = (self.notes.data or "").strip()
        for name in self.COPIED:
            value = getattr(self, name).data
            setattr(visit, name, value.strip() if isinstance(value, str) else value)
        for name in self.CODE_LISTS:
            setattr(visit, name, " ".join(getattr(self, name).data or []))
        return visit

    def build(self) -> Visit:
        return self.fill(self.existing if self.existing is not None else self.MODEL())
