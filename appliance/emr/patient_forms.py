"""Registration, identity correction and merge forms."""

from __future__ import annotations

import datetime as dt

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.input import storable_id
from appliance.emr.measure_fields import ClinicalForm, FrenchDateField, MeasureField
from appliance.patients import normalize
from appliance.patients.models import Household, Patient
from appliance.patients.registry import MIN_MOTHER_AGE_YEARS, age_in_years

MAX_AGE_YEARS = 120
_NAME = [DataRequired(_l("Champ obligatoire.")), Length(max=80, message=_l("80 caractères au plus.")),
         Regexp(r"^[^\d<>{}\[\]=;@#$%&*|\\/]+$", message=_l("Lettres, espaces, tirets et apostrophes seulement."))]


def _find_by_number(text: str) -> Patient | None:
    number = (text or "").strip().upper()
    if not number:
        return None
    patient = Patient.get_or_none(Patient.local_number == number)
    if patient is None and number.isdigit():  # the serial alone, as read from a card in a hurry
        patient = Patient.get_or_none(Patient.local_number.endswith(f"-{int(number):06d}"))
    return patient


class PatientForm(ClinicalForm):
    family_name = StringField(_l("Nom de famille"), validators=_NAME, render_kw={"autocapitalize": "words"})
    first_names = StringField(_l("Prénom(s)"), validators=[
        DataRequired(_l("Champ obligatoire.")), Length(max=120, message=_l("120 caractères au plus.")), *_NAME[2:]],
        render_kw={"autocapitalize": "words"})
    sex = RadioField(_l("Sexe"), choices=[("F", _l("Féminin")), ("M", _l("Masculin"))],
                     validators=[DataRequired(_l("Choisissez le sexe."))])
    birth_date = FrenchDateField(_l("Date de naissance"))
    age_years = MeasureField(_l("ou âge estimé (ans)"), minimum=0, maximum=MAX_AGE_YEARS, integer=True)
    age_months = MeasureField(_l("et mois"), minimum=0, maximum=11, integer=True)
    village = StringField(_l("Village / quartier"), validators=[
        DataRequired(_l("Champ obligatoire.")), Length(max=80, message=_l("80 caractères au plus."))],
        render_kw={"list": "villages", "autocomplete": "off"})
    phone = StringField(_l("Téléphone"), validators=[Optional()], render_kw={"inputmode": "tel"})
    national_id = StringField(_l("NINA (facultatif)"), validators=[Optional(), Length(max=30)])
    mother_number = StringField(_l("N° de dossier de la mère"), validators=[Optional(), Length(max=40)])
    household_number = StringField(_l("Même famille que le dossier n°"), validators=[Optional(), Length(max=40)])
    household_name = StringField(_l("ou nouvelle famille / concession (nom du chef de famille)"),
                                 validators=[Optional(), Length(max=80)])
    household_id = HiddenField()
    reason = StringField(_l("Motif de la correction"), validators=[Optional(), Length(max=200)])
    duplicates_seen = HiddenField()
    create_anyway = BooleanField(_l("Ce n'est aucune de ces personnes : créer un nouveau dossier"))

    def __init__(self, *args, today: dt.date | None = None, patient: Patient | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.today = today or dt.date.today()
        self.editing = patient
        self.mother: Patient | None = None
        self.household: Household | None = None

    def resolved_birth_date(self) -> tuple[dt.date | None, bool]:
        """The birth date and whether it is estimated (from an age in years and months)."""
        if self.birth_date.data is not None:
            return self.birth_date.data, False
        years, months = self.age_years.data, self.age_months.data
        if years is None and months is None:
            return None, False
        total_months = (years or 0) * 12 + (months or 0)
        year, month = divmod(self.today.year * 12 + self.today.month - 1 - total_months, 12)
        return dt.date(year, month + 1, 1), True

    def check(self) -> None:
        birth, _ = self.resolved_birth_date()
        if birth is None and not (self.birth_date.errors or self.age_years.errors or self.age_months.errors):
            self.add_error("birth_date", _l("Indiquez la date de naissance ou l'âge estimé."))
        if self.birth_date.data is not None:
            if self.birth_date.data > self.today:
                self.add_error("birth_date", _l("La date de naissance est dans le futur."))
            elif age_in_years(self.birth_date.data, self.today) > MAX_AGE_YEARS:
                self.add_error("birth_date", _l("Date de naissance impossible (plus de %(years)s ans).",
                                                years=MAX_AGE_YEARS))
            elif age_in_years(self.birth_date.data, self.today) >= 100:
                self.warn("birth_date", _l("Plus de 100 ans : vérifiez l'année de naissance."))
        phone = normalize.phone_key(self.phone.data or "")
        if self.phone.data and len(phone) != 8:
            self.add_error("phone", _l("Numéro invalide : 8 chiffres au Mali (ex. 76 12 34 56)."))
        national_id = normalize.id_key(self.national_id.data or "")
        if self.national_id.data and not 6 <= len(national_id) <= 20:
            self.add_error("national_id", _l("NINA invalide : de 6 à 20 lettres ou chiffres."))
        self._check_mother(birth)
        self._check_household()

    def _check_mother(self, birth: dt.date | None) -> None:
        if not (self.mother_number.data or "").strip():
            return
        mother = _find_by_number(self.mother_number.data)
        if mother is None or mother.voided:
            self.add_error("mother_number", _l("Aucun dossier avec ce numéro."))
        elif mother.sex != "F":
            self.add_error("mother_number", _l("Le dossier %(number)s est celui d'un homme : il ne peut pas être "
                                               "la mère.", number=mother.local_number))
        elif self.editing is not None and mother.id == self.editing.id:
            self.add_error("mother_number", _l("Une personne ne peut pas être sa propre mère."))
        elif birth is not None and age_in_years(mother.birth_date, birth) < MIN_MOTHER_AGE_YEARS:
            self.add_error("mother_number", _l("La mère doit avoir au moins %(years)s ans de plus que l'enfant.",
                                               years=MIN_MOTHER_AGE_YEARS))
        else:
            self.mother = mother

    def _check_household(self) -> None:
        if self.household_id.data:
            household_id = storable_id(self.household_id.data)
            household = Household.get_or_none(Household.id == household_id) if household_id else None
            if household is None or household.voided:
                self.add_error("household_number", _l("Famille introuvable."))
            else:
                self.household = household
            return
        if (self.household_number.data or "").strip():
            member = _find_by_number(self.household_number.data)
            if member is None or member.voided:
                self.add_error("household_number", _l("Aucun dossier avec ce numéro."))
            elif member.household_id is None:
                self.add_error("household_number", _l("Ce dossier n'a pas de famille enregistrée."))
            else:
                self.household = Household.get_by_id(member.household_id)

    def seen_duplicate_ids(self) -> list[int]:
        return [number for part in (self.duplicates_seen.data or "").split(",")
                if (number := storable_id(part)) is not None]


class MergeForm(FlaskForm):
    other_number = StringField(_l("N° du dossier en double (il sera fusionné dans celui-ci)"),
                               validators=[DataRequired(_l("Champ obligatoire.")), Length(max=40)])
    reason = TextAreaField(_l("Motif"), validators=[DataRequired(_l("Champ obligatoire.")), Length(max=300)])
    confirmed = HiddenField()

    def other(self) -> Patient | None:
        return _find_by_number(self.other_number.data)


class VoidForm(FlaskForm):
    reason = StringField(_l("Motif de l'annulation"), validators=[
        DataRequired(_l("Le motif est obligatoire.")), Length(max=200)])
