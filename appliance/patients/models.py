"""The shared patient record: people, households and one typed model per programme's visit.

Nothing is deleted (``VoidableModel``). Every visit keeps its author and the author's role at
the time of writing, and a ``revision`` counter that the chart shows as "corrigé"; the values
before each correction are in the audit trail. The schema itself is created by the frozen
migrations m0010+ (keep both in step).
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

import peewee

from appliance.clinical import pregnancy as pregnancy_dating
from appliance.store.models import User, VoidableModel, utcnow

SEXES = ("F", "M")


class Household(VoidableModel):
    """A family or concession: the people staff expect to see together."""

    name = peewee.TextField()
    village = peewee.TextField()
    village_key = peewee.TextField(index=True)
    created_at = peewee.DateTimeField(default=utcnow)


class Patient(VoidableModel):
    local_number = peewee.TextField(unique=True)  # printed on the patient's card
    family_name = peewee.TextField()  # as typed, accents kept
    first_names = peewee.TextField()
    sex = peewee.TextField()  # "F" or "M"
    birth_date = peewee.DateField()
    birth_date_estimated = peewee.BooleanField(default=False)
    village = peewee.TextField()  # village or quartier
    village_key = peewee.TextField()
    phone = peewee.TextField(default="")  # 8 national digits
    national_id = peewee.TextField(null=True)  # NINA, as id_key(): unique when present
    mother = peewee.ForeignKeyField("self", null=True, backref="children", lazy_load=False)  # partial index
    household = peewee.ForeignKeyField(Household, null=True, backref="members", lazy_load=False)
    merged_into = peewee.ForeignKeyField("self", null=True, backref="merged_records", lazy_load=False)
    # Keys for duplicate detection and search (see appliance.patients.normalize).
    family_key = peewee.TextField()
    given_key = peewee.TextField()
    search_names = peewee.TextField()
    search_ids = peewee.TextField()
    registered_at = peewee.DateTimeField(default=utcnow)
    registered_by = peewee.ForeignKeyField(User, null=True, index=False, backref="registered_patients",
                                           lazy_load=False)
    registered_role = peewee.TextField(default="")

    class Meta:
        indexes = ((("family_key", "village_key"), False),)

    @property
    def full_name(self) -> str:
        return f"{self.family_name} {self.first_names}".strip()

    def age_days(self, on: dt.date | None = None) -> int:
        return ((on or dt.date.today()) - self.birth_date).days


class Visit(VoidableModel):
    """What every programme's visit has: who was seen, when, by whom (and in which role)."""

    PROGRAMME: ClassVar[str] = ""

    patient = peewee.ForeignKeyField(Patient, index=False, lazy_load=False)  # (patient, visit_date) index
    visit_date = peewee.DateField()
    author = peewee.ForeignKeyField(User, null=True, index=False, lazy_load=False)
    author_role = peewee.TextField(default="")
    # the clinician whose act an agent de saisie transcribed (he records for her, never on his own)
    clinician = peewee.ForeignKeyField(User, null=True, index=False, lazy_load=False)
    recorded_at = peewee.DateTimeField(default=utcnow)
    revision = peewee.IntegerField(default=1)  # > 1: corrected (previous values in the audit trail)
    notes = peewee.TextField(default="")

    class Meta:
        indexes = ((("patient", "visit_date"), False),)


class Consultation(Visit):
    PROGRAMME = "consultation"

    reason = peewee.TextField()
    temperature_c = peewee.FloatField(null=True)
    pulse_bpm = peewee.IntegerField(null=True)
    resp_rate = peewee.IntegerField(null=True)
    systolic = peewee.IntegerField(null=True)
    diastolic = peewee.IntegerField(null=True)
    weight_kg = peewee.FloatField(null=True)
    diagnosis_code = peewee.TextField()  # codes/diagnoses.csv
    secondary_diagnosis_code = peewee.TextField(null=True)
    treatment = peewee.TextField(default="")


class Prescription(VoidableModel):
    """One line of a consultation's prescription, written in the consultation's transaction."""

    consultation = peewee.ForeignKeyField(Consultation, backref="prescriptions", lazy_load=False)
    drug = peewee.TextField()
    dosage = peewee.TextField(default="")  # posologie: "1 cp 3 fois par jour"
    quantity = peewee.IntegerField(null=True)
    duration_days = peewee.IntegerField(null=True)


class Pregnancy(VoidableModel):
    """One pregnancy of one woman: opened at her first antenatal contact (or by a delivery with none),
    carried into every later contact and the delivery, closed by the delivery or a loss.

    What the midwife knows of it (dating, gravidity, parity, history) lives here once; each contact
    keeps what was seen that day. ``appliance.patients.pregnancies`` writes it; schema: m0080."""

    patient = peewee.ForeignKeyField(Patient, index=False, lazy_load=False)  # (patient, opened_on) index
    lmp_date = peewee.DateField(null=True)  # DDR as the woman gives it
    ultrasound_on = peewee.DateField(null=True)  # an early ultrasound (before 24 weeks) dates it
    ultrasound_weeks = peewee.IntegerField(null=True)  # gestational age read on that ultrasound
    gravidity = peewee.IntegerField(null=True)
    parity = peewee.IntegerField(null=True)
    previous_caesarean = peewee.BooleanField(default=False)
    previous_pph = peewee.BooleanField(default=False)
    previous_stillbirth = peewee.BooleanField(default=False)
    previous_pre_eclampsia = peewee.BooleanField(default=False)
    multiple = peewee.BooleanField(default=False)
    height_cm = peewee.FloatField(null=True)
    opened_on = peewee.DateField()
    ended_on = peewee.DateField(null=True)
    end_reason = peewee.TextField(null=True)  # accouchement, avortement, fausse_couche, geu, inconnue

    class Meta:
        indexes = ((("patient", "opened_on"), False),)

    def dated_lmp(self) -> dt.date | None:
        return pregnancy_dating.dated_lmp(self.lmp_date, self.ultrasound_on, self.ultrasound_weeks)

    def due_date(self) -> dt.date | None:
        """Date prévue d'accouchement (DPA)."""
        return pregnancy_dating.due_date(self.dated_lmp())

    def weeks_on(self, day: dt.date) -> tuple[int, int] | None:
        """Gestational age on ``day`` as (weeks, days)."""
        lmp = self.dated_lmp()
        return divmod((day - lmp).days, 7) if lmp else None


class AntenatalVisit(Visit):
    PROGRAMME = "cpn"

    pregnancy = peewee.ForeignKeyField(Pregnancy, null=True, lazy_load=False, backref="contacts")
    contact_number = peewee.IntegerField(null=True)  # CPN1, CPN2...: computed within the pregnancy
    lmp_date = peewee.DateField(null=True)  # date des dernières règles
    gestational_age_weeks = peewee.IntegerField(null=True)  # at this visit
    gravidity = peewee.IntegerField(null=True)
    parity = peewee.IntegerField(null=True)
    previous_caesarean = peewee.BooleanField(default=False)
    weight_kg = peewee.FloatField(null=True)
    systolic = peewee.IntegerField(null=True)
    diastolic = peewee.IntegerField(null=True)
    fundal_height_cm = peewee.IntegerField(null=True)
    hb_g_dl = peewee.FloatField(null=True)
    danger_signs = peewee.TextField(default="")  # space-separated codes/anc_danger_signs.csv
    iptp_dose = peewee.IntegerField(null=True)  # SP dose number given today (TPI)
    iron_folic = peewee.BooleanField(default=False)
    td_dose = peewee.IntegerField(null=True)  # tetanus-diphtheria dose number given today
    next_visit_date = peewee.DateField(null=True)
    # m0080: what this contact adds to the pregnancy record, and what it gave.
    ultrasound_on = peewee.DateField(null=True)
    ultrasound_weeks = peewee.IntegerField(null=True)
    previous_pph = peewee.BooleanField(default=False)
    previous_stillbirth = peewee.BooleanField(default=False)
    previous_pre_eclampsia = peewee.BooleanField(default=False)
    multiple_pregnancy = peewee.BooleanField(default=False)
    height_cm = peewee.FloatField(null=True)
    proteinuria = peewee.IntegerField(null=True)  # dipstick crosses 0..4
    iron_folic_tablets = peewee.IntegerField(null=True)  # fer-acide folique: tablets given
    net_given = peewee.BooleanField(default=False)  # MILD (long-lasting insecticidal net)


class Delivery(Visit):
    """Recorded on the mother's record; ``visit_date`` is the date of delivery."""

    PROGRAMME = "accouchement"

    place = peewee.TextField()  # ici, autre_formation, domicile, en_route
    mode = peewee.TextField()  # voie_basse, instrumentale, cesarienne
    outcome = peewee.TextField()  # vivant, mort_frais, mort_macere
    babies = peewee.IntegerField(default=1)
    gestational_age_weeks = peewee.IntegerField(null=True)
    birth_weight_g = peewee.IntegerField(null=True)
    baby_sex = peewee.TextField(null=True)
    complications = peewee.TextField(default="")  # codes/delivery_complications.csv
    newborn = peewee.ForeignKeyField(Patient, null=True, backref="birth_records", lazy_load=False)
    attendant = peewee.TextField(null=True)  # m0080: sage_femme, medecin, infirmier, matrone, accoucheuse, autre
    pregnancy = peewee.ForeignKeyField(Pregnancy, null=True, lazy_load=False, backref="deliveries")

    def other_babies(self) -> list[DeliveryBaby]:
        """Babies 2, 3, 4 of a multiple birth, in order (baby 1 is described by this row)."""
        if (self.babies or 1) < 2 or self.id is None:
            return []
        return list(DeliveryBaby.select().where((DeliveryBaby.delivery == self.id)
                                                & (DeliveryBaby.voided == False))  # noqa: E712
                    .order_by(DeliveryBaby.position))


class DeliveryBaby(VoidableModel):
    """The second and later babies of a multiple birth (twins, triplets, quadruplets).

    Baby 1 stays on the ``delivery`` row itself (outcome, birth weight, sex, newborn record), so
    every single-baby reader keeps working; each further baby has one row here, written in the
    delivery's transaction, with its own outcome and, when born alive, its own record."""

    delivery = peewee.ForeignKeyField(Delivery, index=False, backref="babies_rows", lazy_load=False)
    position = peewee.IntegerField()  # 2, 3 or 4
    outcome = peewee.TextField()  # vivant, mort_frais, mort_macere
    sex = peewee.TextField(null=True)
    birth_weight_g = peewee.IntegerField(null=True)
    newborn = peewee.ForeignKeyField(Patient, null=True, index=False, backref="multiple_birth_records",
                                     lazy_load=False)

    class Meta:
        table_name = "delivery_baby"


class PostnatalVisit(Visit):
    """CPoN, on the record of whoever was seen: the mother or the newborn."""

    PROGRAMME = "cpon"

    subject = peewee.TextField()  # mere, nouveau_ne
    contact_number = peewee.IntegerField(null=True)
    temperature_c = peewee.FloatField(null=True)
    systolic = peewee.IntegerField(null=True)
    diastolic = peewee.IntegerField(null=True)
    weight_kg = peewee.FloatField(null=True)
    breastfeeding = peewee.BooleanField(null=True)
    danger_signs = peewee.TextField(default="")  # codes/postnatal_signs.csv


class Immunisation(Visit):
    """One dose; ``visit_date`` is the date the dose was given (here, or elsewhere per the card)."""

    PROGRAMME = "vaccination"

    antigen = peewee.TextField()  # codes/antigens.csv
    dose_number = peewee.IntegerField()
    lot = peewee.TextField(default="")
    given_here = peewee.BooleanField(default=True)


class GrowthMeasurement(Visit):
    PROGRAMME = "croissance"

    weight_kg = peewee.FloatField(null=True)
    height_cm = peewee.FloatField(null=True)
    position = peewee.TextField(null=True)  # couche (length), debout (height)
    muac_mm = peewee.IntegerField(null=True)
    oedema = peewee.BooleanField(default=False)  # bilateral pitting oedema


class FamilyPlanningVisit(Visit):
    PROGRAMME = "pf"

    method = peewee.TextField()  # codes/fp_methods.csv
    user_status = peewee.TextField()  # nouvelle, continue
    quantity = peewee.IntegerField(null=True)
    next_date = peewee.DateField(null=True)


class ChronicVisit(Visit):
    PROGRAMME = "chronique"

    programme = peewee.TextField()  # hta, diabete
    systolic = peewee.IntegerField(null=True)
    diastolic = peewee.IntegerField(null=True)
    glucose_g_l = peewee.FloatField(null=True)
    fasting = peewee.BooleanField(null=True)
    weight_kg = peewee.FloatField(null=True)
    treatment = peewee.TextField(default="")
    next_appointment = peewee.DateField(null=True)


class Death(Visit):
    """A death as a vital event, on the record of who died; ``visit_date`` is the date of death.

    The category follows WHO's definitions (ICD-11 / ICD-MM): neonatal under 28 days, child under
    5 years, maternal for a woman who dies pregnant or within 42 days of the end of a pregnancy
    from a cause not accidental or incidental; computed by the record (``patients.deaths``).
    Schema: m0081. Once written, the patient leaves every follow-up list."""

    PROGRAMME = "deces"

    category = peewee.TextField()  # maternel, neonatal, enfant, autre
    place = peewee.TextField()  # ici, autre_formation, domicile, en_route
    cause = peewee.TextField(default="")  # as staff know it
    incidental = peewee.BooleanField(default=False)  # accidental or incidental cause: not maternal


VISIT_MODELS: tuple[type[Visit], ...] = (
    Consultation, AntenatalVisit, Delivery, PostnatalVisit, Immunisation, GrowthMeasurement,
    FamilyPlanningVisit, ChronicVisit, Death,
)
PROGRAMMES: dict[str, type[Visit]] = {model.PROGRAMME: model for model in VISIT_MODELS}


class LocalNumberSequence(peewee.Model):
    """The last card number given per prefix, bumped in the registration's transaction."""

    prefix = peewee.TextField(primary_key=True)
    last_value = peewee.IntegerField(default=0)

    class Meta:
        database = Patient._meta.database
        table_name = "local_number_sequence"
