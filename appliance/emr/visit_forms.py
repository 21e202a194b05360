"""One form per programme's visit, with the checks clinic staff expect.

Refused (impossible or dangerous): weight 0 or 300 kg, BP 400/20 or a diastolic above the
systolic, gestational age beyond 45 weeks, SP before 13 weeks, a vaccine dose dated before
birth or recorded twice, a visit in the future... Accepted after confirmation (unusual):
temperature ≥ 40.5 °C, weight-for-age beyond ±3 z, BP ≥ 180/110, Hb < 6 g/dL...
"""

from __future__ import annotations

import datetime as dt
import re

from flask import has_request_context, request
from flask_babel import get_locale
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, Field, Form, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields import FieldList, FormField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from appliance.clinical import growth, pregnancy
from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.measure_fields import CheckboxListField, ClinicalForm, FrenchDateField, MeasureField, number_text
from appliance.patients import codes
from appliance.patients.models import (
    AntenatalVisit,
    ChronicVisit,
    Consultation,
    Delivery,
    FamilyPlanningVisit,
    GrowthMeasurement,
    Immunisation,
    Patient,
    PostnatalVisit,
    Visit,
)
from appliance.patients.registry import BIRTH_WEIGHT_LIMITS_G, MAX_BABIES, Baby, Identity
from appliance.patients.visits import PrescriptionLine

PRESCRIPTION_LINES = 4
MAX_PRESCRIPTION_LINES = 12
NEWBORN_MAX_DAYS = 60
WFA_WARNING_Z = 3.0
VERY_HIGH_BP = (180, 110)  # outside pregnancy; in pregnancy the severe hypertension rule's values


def _fr(value: float) -> str:
    """A number as staff write it in a message: 41,5 (never 41.5 or 41.50; 41.5 in English)."""
    return number_text(value)


def _locale() -> str:
    return str(get_locale() or "fr")


def _code_choices(name: str, *, blank: bool = False) -> list[tuple[str, str]]:
    options = codes.choices(name, _locale())
    return [("", "—"), *options] if blank else options


def _visit_date_field(label=None):
    return FrenchDateField(label or _l("Date de la visite"), required=True, default=dt.date.today)


def _notes_field():
    return TextAreaField(_l("Notes"), validators=[Optional(), Length(max=2000, message=_l("2000 caractères au plus."))])


def _systolic():
    return MeasureField(_l("Tension systolique"), minimum=50, maximum=300, unit="mmHg", integer=True)


def _diastolic():
    return MeasureField(_l("Tension diastolique"), minimum=20, maximum=200, unit="mmHg", integer=True)


def _temperature():
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
        self.today = today or dt.date.today()
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
        very_high, very_high_diastolic = pregnancy.severe_hypertension() if pregnant else VERY_HIGH_BP
        if high >= very_high or low >= very_high_diastolic:
            self.warn(systolic, _l("Tension très élevée (%(high)s/%(low)s) : vérifiez et confirmez.",
                                   high=high, low=low))
        elif high < 80:
            self.warn(systolic, _l("Tension très basse (%(high)s/%(low)s) : vérifiez et confirmez.",
                                   high=high, low=low))

    def check_temperature(self, name: str = "temperature_c") -> None:
        value = getattr(self, name).data
        if value is None or getattr(self, name).errors:
            return
        if value >= 40.5:
            self.warn(name, _l("Température très élevée (%(value)s °C) : confirmez.", value=_fr(value)))
        elif value < 35.0:
            self.warn(name, _l("Température très basse (%(value)s °C) : hypothermie ? Confirmez.", value=_fr(value)))

    def check_weight(self, name: str = "weight_kg", when: dt.date | None = None) -> None:
        """Hard limits depend on age; beyond ±3 z of WHO weight-for-age (under 5) asks to confirm."""
        field = getattr(self, name)
        weight = field.data
        age_days = self.age_days_on(when or self.visit_date.data or self.today)
        if weight is None or field.errors or age_days is None or age_days < 0:
            return
        if age_days < 5 * 365 and weight > 60:
            self.add_error(name, _l("Poids impossible pour un enfant de moins de 5 ans."))
            return
        if age_days <= growth.MAX_AGE_DAYS:
            try:
                z = growth.zscore("wfa", self.patient.sex, age_days, weight)
            except ValueError:
                return
            if abs(z) > WFA_WARNING_Z:
                self.warn(name, _l("Poids très inhabituel pour l'âge (z = %(z)s) : vérifiez la pesée.",
                                   z=number_text(z, "+.1f")))
        elif age_days >= 15 * 365 and not 30 <= weight <= 150:
            self.warn(name, _l("Poids inhabituel pour un adulte (%(value)s kg) : confirmez.", value=_fr(weight)))

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


# --- Consultation ------------------------------------------------------------------------------------


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

    visit_date = _visit_date_field()
    reason = StringField(_l("Motif de consultation"), validators=[
        DataRequired(_l("Champ obligatoire.")), Length(max=200, message=_l("200 caractères au plus."))])
    temperature_c = _temperature()
    pulse_bpm = MeasureField(_l("Pouls"), minimum=20, maximum=250, unit="/min", integer=True)
    resp_rate = MeasureField(_l("Fréquence respiratoire"), minimum=5, maximum=120, unit="/min", integer=True)
    systolic = _systolic()
    diastolic = _diastolic()
    weight_kg = MeasureField(_l("Poids"), minimum=0.5, maximum=250, unit="kg")
    diagnosis_code = SelectField(_l("Diagnostic"), choices=[], default="")
    secondary_diagnosis_code = SelectField(_l("Diagnostic associé"), choices=[], default="")
    treatment = TextAreaField(_l("Traitement / conduite à tenir"),
                              validators=[Optional(), Length(max=2000, message=_l("2000 caractères au plus."))])
    prescriptions = FieldList(FormField(PrescriptionLineForm), min_entries=PRESCRIPTION_LINES,
                              max_entries=MAX_PRESCRIPTION_LINES)
    notes = _notes_field()

    def __init__(self, *args, prescriptions: list | None = None, **kwargs) -> None:
        if "formdata" not in kwargs and has_request_context() and request.method == "POST":
            kwargs["formdata"] = _contiguous_lines(request.form)
        super().__init__(*args, **kwargs)
        self.diagnosis_code.choices = _code_choices("diagnoses", blank=True)
        self.secondary_diagnosis_code.choices = _code_choices("diagnoses", blank=True)
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
        if pulse is not None and not self.pulse_bpm.errors and (pulse < 40 or pulse > 180):
            self.warn("pulse_bpm", _l("Pouls inhabituel (%(value)s/min) : confirmez.", value=_fr(pulse)))

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


# --- Antenatal care ----------------------------------------------------------------------------------

MAX_GESTATION_WEEKS = 45
SP_FROM_WEEKS = 13


class AntenatalForm(VisitForm):
    MODEL = AntenatalVisit
    COPIED = ("contact_number", "lmp_date", "gestational_age_weeks", "gravidity", "parity", "previous_caesarean",
              "weight_kg", "systolic", "diastolic", "fundal_height_cm", "hb_g_dl", "iptp_dose", "iron_folic",
              "td_dose", "next_visit_date")
    CODE_LISTS = ("danger_signs",)

    visit_date = _visit_date_field()
    contact_number = MeasureField(_l("N° de CPN"), minimum=1, maximum=12, integer=True)
    lmp_date = FrenchDateField(_l("Date des dernières règles (DDR)"))
    gestational_age_weeks = MeasureField(_l("Âge gestationnel"), minimum=1, maximum=MAX_GESTATION_WEEKS,
                                         unit=_l("semaines"), integer=True)
    gravidity = MeasureField(_l("Gestité (grossesses, celle-ci comprise)"), minimum=1, maximum=25, integer=True)
    parity = MeasureField(_l("Parité (accouchements)"), minimum=0, maximum=20, integer=True)
    previous_caesarean = BooleanField(_l("Césarienne antérieure"))
    weight_kg = MeasureField(_l("Poids"), minimum=25, maximum=200, unit="kg")
    systolic = _systolic()
    diastolic = _diastolic()
    fundal_height_cm = MeasureField(_l("Hauteur utérine"), minimum=5, maximum=50, unit="cm", integer=True)
    hb_g_dl = MeasureField(_l("Hémoglobine"), minimum=2, maximum=20, unit="g/dL")
    danger_signs = CheckboxListField(_l("Signes de danger"), choices=[])
    iptp_dose = MeasureField(_l("TPI/SP : n° de la dose donnée ce jour"), minimum=1, maximum=6, integer=True)
    iron_folic = BooleanField(_l("Fer-acide folique donné"))
    td_dose = MeasureField(_l("Td (tétanos) : n° de la dose donnée ce jour"), minimum=1, maximum=5, integer=True)
    next_visit_date = FrenchDateField(_l("Prochaine CPN"))
    notes = _notes_field()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.danger_signs.choices = _code_choices("anc_danger_signs")

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
        if hb is not None and not self.hb_g_dl.errors and (hb < 6 or hb > 16):
            self.warn("hb_g_dl", _l("Hémoglobine inhabituelle (%(value)s g/dL) : confirmez.", value=_fr(hb)))
        height = self.fundal_height_cm.data
        if height is not None and gestation is not None and not self.fundal_height_cm.errors \
                and gestation >= 20 and abs(height - gestation) > 4:
            self.warn("fundal_height_cm", _l("Hauteur utérine éloignée de l'âge gestationnel : confirmez."))
        weight = self.weight_kg.data
        if weight is not None and not self.weight_kg.errors and not 35 <= weight <= 130:
            self.warn("weight_kg", _l("Poids inhabituel pour une femme enceinte (%(value)s kg) : confirmez.",
                                      value=_fr(weight)))
        self.check_next_date("next_visit_date", max_days=20 * 7)

    def fill(self, visit: Visit) -> Visit:
        super().fill(visit)
        visit.gestational_age_weeks = self.gestational_weeks()
        return visit


# --- Delivery ----------------------------------------------------------------------------------------

PLACES = [("ici", _l("Dans ce centre")), ("autre_formation", _l("Autre formation sanitaire")),
          ("domicile", _l("À domicile")), ("en_route", _l("En route"))]
MODES = [("voie_basse", _l("Voie basse")), ("instrumentale", _l("Voie basse instrumentale")),
         ("cesarienne", _l("Césarienne"))]
OUTCOMES = [("vivant", _l("Né vivant")), ("mort_frais", _l("Mort-né frais")), ("mort_macere", _l("Mort-né macéré"))]
SEX_CHOICES = [("F", _l("Fille")), ("M", _l("Garçon"))]


BABY_COUNT_CHOICES = [(str(count), str(count)) for count in range(1, MAX_BABIES + 1)]
# Baby 1's fields keep their single-birth names; babies 2..4 are sub-forms named baby2, baby3, baby4.
BABY_ONE_FIELDS = {"outcome": "outcome", "birth_weight_g": "birth_weight_g", "sex": "baby_sex",
                   "open_record": "create_newborn", "first_names": "newborn_first_names"}
_BABY_FIELD = re.compile(r"^baby([1-9])-(\w+)$")


class BabyForm(Form):
    """Baby 2, 3 or 4 of a multiple birth. Left empty, it is ignored."""

    outcome = SelectField(_l("Issue"), choices=[("", "—"), *OUTCOMES], default="", validate_choice=False)
    birth_weight_g = MeasureField(_l("Poids de naissance"), minimum=BIRTH_WEIGHT_LIMITS_G[0],
                                  maximum=BIRTH_WEIGHT_LIMITS_G[1], unit="g", integer=True)
    sex = RadioField(_l("Sexe du bébé"), choices=SEX_CHOICES, validators=[Optional()], validate_choice=False)
    open_record = BooleanField(_l("Ouvrir le dossier du nouveau-né"))
    first_names = StringField(_l("Prénom du bébé (si déjà donné)"), validators=[Optional(), Length(max=120)])

    def is_empty(self) -> bool:
        """Nothing typed (the pre-ticked "open the record" box does not count)."""
        return not (self.outcome.data or self.sex.data or self.first_names.data or self.birth_weight_g.raw.strip())


class DeliveryForm(VisitForm):
    """A delivery and its babies. Baby 1 is described on the delivery itself (the single-birth
    form, unchanged); the form shows up to four babies' fieldsets and uses the first ``babies``."""

    MODEL = Delivery
    COPIED = ("place", "mode", "outcome", "gestational_age_weeks", "birth_weight_g")
    CODE_LISTS = ("complications",)

    visit_date = _visit_date_field(_l("Date de l'accouchement"))
    place = SelectField(_l("Lieu"), choices=PLACES)
    mode = SelectField(_l("Mode d'accouchement"), choices=MODES)
    gestational_age_weeks = MeasureField(_l("Terme"), minimum=20, maximum=MAX_GESTATION_WEEKS, unit=_l("semaines"),
                                         integer=True)
    complications = CheckboxListField(_l("Complications"), choices=[])
    babies = MeasureField(_l("Nombre de bébés"), minimum=1, maximum=MAX_BABIES, integer=True, required=True,
                          default=1)
    newborn_family_name = StringField(_l("Nom de famille du bébé"), validators=[Optional(), Length(max=80)])
    outcome = SelectField(_l("Issue"), choices=OUTCOMES)
    birth_weight_g = MeasureField(_l("Poids de naissance"), minimum=BIRTH_WEIGHT_LIMITS_G[0],
                                  maximum=BIRTH_WEIGHT_LIMITS_G[1], unit="g", integer=True)
    baby_sex = RadioField(_l("Sexe du bébé"), choices=SEX_CHOICES, validators=[Optional()])
    create_newborn = BooleanField(_l("Ouvrir le dossier du nouveau-né"))
    newborn_first_names = StringField(_l("Prénom du bébé (si déjà donné)"), validators=[Optional(), Length(max=120)])
    baby2 = FormField(BabyForm)
    baby3 = FormField(BabyForm)
    baby4 = FormField(BabyForm)
    notes = _notes_field()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.complications.choices = _code_choices("delivery_complications")
        self.records: dict[int, int] = {}  # baby number -> its newborn record
        rows = self.existing.other_babies() if self.existing is not None else []
        if self.existing is not None and self.existing.newborn_id:
            self.records[1] = self.existing.newborn_id
        self.records.update({row.position: row.newborn_id for row in rows if row.newborn_id})
        if not self.is_submitted():
            for number in range(1, MAX_BABIES + 1):
                self.baby_field(number, "open_record").data = self.existing is None
            for row in rows:
                baby = self.extra_baby(row.position)
                baby.outcome.data, baby.sex.data, baby.birth_weight_g.data = row.outcome, row.sex, row.birth_weight_g

    # one baby's fields ----------------------------------------------------------------------------

    def extra_baby(self, number: int) -> BabyForm:
        return getattr(self, f"baby{number}").form

    def baby_field(self, number: int, name: str):
        return getattr(self, BABY_ONE_FIELDS[name]) if number == 1 else self.extra_baby(number)[name]

    def baby_count(self) -> int:
        count = self.babies.data
        return count if isinstance(count, int) and not self.babies.errors and 1 <= count <= MAX_BABIES else 1

    def has_field(self, name: str) -> bool:
        match = _BABY_FIELD.match(name)
        return bool(match and int(match.group(1)) <= MAX_BABIES and match.group(2) in BABY_ONE_FIELDS) \
            or super().has_field(name)

    def add_error(self, field_name: str, message) -> None:
        match = _BABY_FIELD.match(field_name)
        if match is None:
            super().add_error(field_name, message)
            return
        field = self.baby_field(int(match.group(1)), match.group(2))
        field.errors = [*field.errors, message] if message not in field.errors else list(field.errors)

    def baby_error(self, number: int, name: str, message) -> None:
        self.add_error(f"baby{number}-{name}", message)

    # checks ---------------------------------------------------------------------------------------

    def check(self) -> None:
        super().check()
        self.require_female(min_age_years=10)
        weeks = self.gestational_age_weeks.data
        if weeks is not None and not self.gestational_age_weeks.errors and (weeks < 28 or weeks > 43):
            self.warn("gestational_age_weeks", _l("Terme inhabituel (%(weeks)s semaines) : confirmez.", weeks=weeks))
        count = self.baby_count()
        for number in range(count + 1, MAX_BABIES + 1):
            if not self.extra_baby(number).is_empty():
                self.add_error("babies", _l("Le bébé %(number)s est renseigné : choisissez %(number)s bébés ou "
                                            "videz ses champs.", number=number))
        if count > 1:
            self._name_the_baby_in_errors(count)
        opening = []
        for number in range(1, count + 1):
            self._check_baby(number, count)
            if self._opens_record(number):
                opening.append(number)
        if opening and not (self.newborn_family_name.data or "").strip():
            self.add_error("newborn_family_name", _l("Indiquez le nom de famille du bébé.") if count == 1
                           else _l("Indiquez le nom de famille des bébés."))

    def _name_the_baby_in_errors(self, count: int) -> None:
        """"Bébé 2 : poids de naissance — Valeur impossible..." — with twins, say which baby."""
        for number in range(1, count + 1):
            for name in BABY_ONE_FIELDS:
                field = self.baby_field(number, name)
                label = str(field.label.text)
                field.errors = [_l("Bébé %(number)s : %(field)s — %(message)s", number=number,
                                   field=label[:1].lower() + label[1:], message=message)
                                for message in field.errors]

    def _opens_record(self, number: int) -> bool:
        return bool(self.baby_field(number, "open_record").data) and number not in self.records

    def _check_baby(self, number: int, count: int) -> None:
        def say(message):
            return _l("Bébé %(number)s : %(message)s", number=number, message=message) if count > 1 else message

        outcome = self.baby_field(number, "outcome").data
        if number > 1 and outcome not in dict(OUTCOMES):
            self.baby_error(number, "outcome", say(_l("indiquez l'issue (né vivant ou mort-né).")))
            return
        sex = self.baby_field(number, "sex").data
        if number > 1 and sex not in ("", None, "F", "M"):
            self.baby_error(number, "sex", say(_l("sexe F ou M.")))
        field = self.baby_field(number, "birth_weight_g")
        if field.data is not None and not field.errors and (field.data < 1500 or field.data > 4500):
            self.warn(field.name, say(_l("Poids de naissance inhabituel (%(value)s g) : confirmez.",
                                         value=_fr(field.data))))
        if number in self.records and outcome != "vivant":
            self.baby_error(number, "outcome", say(_l("ce bébé a déjà son dossier : annulez ce dossier avant de "
                                                      "le déclarer mort-né.")))
        if not self._opens_record(number):
            return
        if outcome != "vivant":
            self.baby_error(number, "open_record", say(_l("Pas de dossier de nouveau-né pour un mort-né.")))
        elif not sex:
            self.baby_error(number, "sex", say(_l("Indiquez le sexe pour ouvrir le dossier du bébé.")))

    # to the model and the service -----------------------------------------------------------------

    def fill(self, visit: Visit) -> Visit:
        super().fill(visit)
        visit.babies = self.baby_count()
        visit.baby_sex = self.baby_sex.data or None
        return visit

    def newborn_identity(self, mother: Patient, number: int) -> Identity | None:
        """The record to open for baby ``number``, or None (not asked, not born alive, already has one)."""
        if not self._opens_record(number) or self.baby_field(number, "outcome").data != "vivant":
            return None
        # Stored data, read by everyone in the shared record: the facility's language, not the user's.
        default = f"Bébé de {mother.first_names}" if self.baby_count() == 1 \
            else f"Bébé {number} de {mother.first_names}"
        first_names = (self.baby_field(number, "first_names").data or "").strip() or default
        return Identity(family_name=(self.newborn_family_name.data or "").strip(), first_names=first_names,
                        sex=self.baby_field(number, "sex").data, birth_date=self.visit_date.data,
                        village=mother.village)

    def other_babies(self, mother: Patient) -> list[Baby]:
        """Babies 2..n for the service (``appliance.patients.registry.Baby``)."""
        return [Baby(position=number, outcome=self.extra_baby(number).outcome.data,
                     sex=self.extra_baby(number).sex.data or None,
                     birth_weight_g=self.extra_baby(number).birth_weight_g.data,
                     newborn=self.newborn_identity(mother, number))
                for number in range(2, self.baby_count() + 1)]


# --- Postnatal care ----------------------------------------------------------------------------------


class PostnatalForm(VisitForm):
    MODEL = PostnatalVisit
    COPIED = ("contact_number", "temperature_c", "systolic", "diastolic", "weight_kg")
    CODE_LISTS = ("danger_signs",)

    visit_date = _visit_date_field()
    contact_number = MeasureField(_l("N° de CPoN"), minimum=1, maximum=4, integer=True)
    temperature_c = _temperature()
    systolic = _systolic()
    diastolic = _diastolic()
    weight_kg = MeasureField(_l("Poids"), minimum=0.5, maximum=200, unit="kg")
    breastfeeding = RadioField(_l("Allaitement"), choices=[("oui", _l("Oui")), ("non", _l("Non"))],
                               validators=[Optional()])
    danger_signs = CheckboxListField(_l("Signes de danger"), choices=[])
    notes = _notes_field()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.subject = "nouveau_ne" if self.age_days_on(self.today) <= NEWBORN_MAX_DAYS else "mere"
        self.danger_signs.choices = [
            (entry.code, entry.label(_locale())) for entry in codes.code_list("postnatal_signs").values()
            if entry.extra.get("subject") in ("both", self.subject)]
        if self.existing is not None and not self.is_submitted():
            self.breastfeeding.data = {True: "oui", False: "non"}.get(self.existing.breastfeeding)

    def check(self) -> None:
        super().check()
        if self.subject == "mere":
            self.require_female(min_age_years=10)
            self.check_blood_pressure()
            weight = self.weight_kg.data
            if weight is not None and not self.weight_kg.errors and weight < 25:
                self.add_error("weight_kg", _l("Poids impossible pour une mère."))
        else:
            if self.systolic.data is not None or self.diastolic.data is not None:
                self.add_error("systolic", _l("Pas de tension pour un nouveau-né."))
            weight = self.weight_kg.data
            if weight is not None and not self.weight_kg.errors:
                if weight > 8:
                    self.add_error("weight_kg", _l("Poids impossible pour un nouveau-né (%(value)s kg).",
                                                   value=_fr(weight)))
                elif weight < 1.5 or weight > 5.5:
                    self.warn("weight_kg", _l("Poids inhabituel pour un nouveau-né (%(value)s kg) : confirmez.",
                                              value=_fr(weight)))
        self.check_temperature()

    def fill(self, visit: Visit) -> Visit:
        super().fill(visit)
        visit.subject = self.subject
        visit.breastfeeding = {"oui": True, "non": False}.get(self.breastfeeding.data)
        return visit


# --- Immunisation ------------------------------------------------------------------------------------


class ImmunisationForm(VisitForm):
    MODEL = Immunisation
    COPIED = ("antigen", "dose_number", "lot")

    visit_date = _visit_date_field(_l("Date de la dose"))
    antigen = SelectField(_l("Vaccin"), choices=[], default="")
    dose_number = MeasureField(_l("N° de dose"), minimum=0, maximum=5, integer=True, required=True)
    given_here = RadioField(_l("Dose donnée"), default="ici",
                            choices=[("ici", _l("Ici")), ("ailleurs", _l("Ailleurs (d'après le carnet)"))])
    lot = StringField(_l("N° de lot"), validators=[Optional(), Length(max=40, message=_l("40 caractères au plus."))])
    notes = _notes_field()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.antigen.choices = _code_choices("antigens", blank=True)
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

    def fill(self, visit: Visit) -> Visit:
        super().fill(visit)
        visit.given_here = self.given_here.data != "ailleurs"
        return visit


# --- Growth and nutrition ----------------------------------------------------------------------------

POSITIONS = [("", "—"), ("couche", _l("Couché (longueur)")), ("debout", _l("Debout (taille)"))]


class GrowthForm(VisitForm):
    MODEL = GrowthMeasurement
    COPIED = ("weight_kg", "height_cm", "muac_mm", "oedema")

    visit_date = _visit_date_field()
    weight_kg = MeasureField(_l("Poids"), minimum=0.5, maximum=250, unit="kg")
    height_cm = MeasureField(_l("Taille / longueur"), minimum=35, maximum=230, unit="cm")
    position = SelectField(_l("Mesuré"), choices=POSITIONS, default="")
    muac_mm = MeasureField(_l("Périmètre brachial (PB)"), minimum=50, maximum=400, unit="mm", integer=True)
    oedema = BooleanField(_l("Œdèmes bilatéraux (godet)"))
    notes = _notes_field()

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
            if age_days < 182:
                self.warn("muac_mm", _l("Le PB se mesure à partir de 6 mois : confirmez."))
            elif muac < 90 or muac > 200:
                self.warn("muac_mm", _l("PB inhabituel pour un enfant (%(value)s mm) : vérifiez l'unité (mm).",
                                        value=_fr(muac)))

    def fill(self, visit: Visit) -> Visit:
        super().fill(visit)
        visit.position = self.position.data or None
        return visit


# --- Family planning ---------------------------------------------------------------------------------

MALE_METHODS = frozenset({"preservatif_m", "vasectomie"})


class FamilyPlanningForm(VisitForm):
    MODEL = FamilyPlanningVisit
    COPIED = ("method", "user_status", "quantity", "next_date")

    visit_date = _visit_date_field()
    method = SelectField(_l("Méthode"), choices=[], default="")
    user_status = RadioField(_l("Utilisatrice"), default="continue",
                             choices=[("nouvelle", _l("Nouvelle")), ("continue", _l("Ancienne (continue)"))])
    quantity = MeasureField(_l("Quantité remise"), minimum=0, maximum=500, integer=True)
    next_date = FrenchDateField(_l("Prochain rendez-vous"))
    notes = _notes_field()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.method.choices = _code_choices("fp_methods", blank=True)

    def check(self) -> None:
        super().check()
        if not self.method.data:
            self.add_error("method", _l("Choisissez la méthode."))
        elif self.patient.sex == "M" and self.method.data not in MALE_METHODS:
            self.add_error("method", _l("Méthode féminine : le dossier est celui d'un homme."))
        if (self.age_days_on(self.visit_date.data or self.today) or 0) < 10 * 365:
            self.add_error("method", _l("Âge incompatible avec la planification familiale."))
        self.check_next_date("next_date", max_days=6 * 366)


# --- Chronic diseases --------------------------------------------------------------------------------

CHRONIC_PROGRAMMES = [("hta", _l("Hypertension artérielle")), ("diabete", _l("Diabète"))]


class ChronicForm(VisitForm):
    MODEL = ChronicVisit
    COPIED = ("programme", "systolic", "diastolic", "glucose_g_l", "weight_kg", "treatment", "next_appointment")

    visit_date = _visit_date_field()
    programme = SelectField(_l("Programme"), choices=CHRONIC_PROGRAMMES)
    systolic = _systolic()
    diastolic = _diastolic()
    glucose_g_l = MeasureField(_l("Glycémie"), minimum=0.2, maximum=6.0, unit="g/L")
    fasting = RadioField(_l("Glycémie à jeun"), choices=[("oui", _l("Oui")), ("non", _l("Non"))],
                         validators=[Optional()])
    weight_kg = MeasureField(_l("Poids"), minimum=2, maximum=250, unit="kg")
    treatment = TextAreaField(_l("Traitement"), validators=[Optional(), Length(max=1000)])
    next_appointment = FrenchDateField(_l("Prochain rendez-vous"))
    notes = _notes_field()

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
        if glucose is not None and not self.glucose_g_l.errors and (glucose < 0.5 or glucose > 3.5):
            self.warn("glucose_g_l", _l("Glycémie très inhabituelle (%(value)s g/L) : confirmez.", value=_fr(glucose)))
        self.check_next_date("next_appointment", max_days=366)

    def fill(self, visit: Visit) -> Visit:
        super().fill(visit)
        visit.fasting = {"oui": True, "non": False}.get(self.fasting.data)
        return visit


FORMS: dict[str, type[VisitForm]] = {
    "consultation": ConsultationForm,
    "cpn": AntenatalForm,
    "accouchement": DeliveryForm,
    "cpon": PostnatalForm,
    "vaccination": ImmunisationForm,
    "croissance": GrowthForm,
    "pf": FamilyPlanningForm,
    "chronique": ChronicForm,
}
