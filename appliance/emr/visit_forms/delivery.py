"""The delivery form: the birth and up to four babies, each opening its own record."""

from __future__ import annotations

import re

from wtforms import BooleanField, Form, RadioField, SelectField, StringField
from wtforms.fields import FormField
from wtforms.validators import Length, Optional

from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.measure_fields import CheckboxListField, MeasureField
from appliance.emr.visit_forms.antenatal import MAX_GESTATION_WEEKS
from appliance.emr.visit_forms.base import (
    CHECKS,
    VisitForm,
    code_choices,
    fr,
    notes_field,
    visit_date_field,
)
from appliance.patients.models import (
    Delivery,
    Patient,
    Visit,
)
from appliance.patients.registry import BIRTH_WEIGHT_LIMITS_G, MAX_BABIES, Baby, Identity

PLACES = [("ici", _l("Dans ce centre")), ("autre_formation", _l("Autre formation sanitaire")),
          ("domicile", _l("À domicile")), ("en_route", _l("En route"))]
MODES = [("voie_basse", _l("Voie basse")), ("instrumentale", _l("Voie basse instrumentale")),
         ("cesarienne", _l("Césarienne"))]
OUTCOMES = [("vivant", _l("Né vivant")), ("mort_frais", _l("Mort-né frais")), ("mort_macere", _l("Mort-né macéré"))]
SEX_CHOICES = [("F", _l("Fille")), ("M", _l("Garçon"))]
# Who attended the birth (SNIS: accouchements assistés par du personnel qualifié).
ATTENDANTS = [("", "—"), ("sage_femme", _l("Sage-femme")), ("medecin", _l("Médecin")),
              ("infirmier", _l("Infirmier(e) obstétricien(ne)")), ("matrone", _l("Matrone")),
              ("accoucheuse", _l("Accoucheuse traditionnelle")), ("autre", _l("Autre / seule"))]


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

    visit_date = visit_date_field(_l("Date de l'accouchement"))
    place = SelectField(_l("Lieu"), choices=PLACES)
    attendant = SelectField(_l("Accouchement assisté par"), choices=ATTENDANTS, default="", validators=[Optional()])
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
    notes = notes_field()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.complications.choices = code_choices("delivery_complications")
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
        if weeks is not None and not self.gestational_age_weeks.errors \
                and CHECKS.range("delivery", "term_weeks").outside(weeks):
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
        if field.data is not None and not field.errors \
                and CHECKS.range("delivery", "birth_weight_g").outside(field.data):
            self.warn(field.name, say(_l("Poids de naissance inhabituel (%(value)s g) : confirmez.",
                                         value=fr(field.data))))
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
        visit.attendant = self.attendant.data or None
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
