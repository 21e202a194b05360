"""Registering people: card numbers, duplicate detection, identity corrections and merges.

Every write goes through ``audited_save``/``audited_void`` inside one transaction, so a
registration, a household and the card number are committed together or not at all.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from appliance.patients import normalize
from appliance.patients.models import (
    PROGRAMMES,
    SEXES,
    Delivery,
    DeliveryBaby,
    Household,
    LocalNumberSequence,
    Patient,
    Pregnancy,
)
from appliance.patients.visits import correct_visit, record_visit, run_newborn_hooks, run_patient_hooks
from appliance.refusal import FieldRefusal
from appliance.store.audit import Actor, audited_save, audited_void, record_event
from appliance.store.db import database

BIRTH_YEAR_TOLERANCE = 2
MIN_MOTHER_AGE_YEARS = 10
MAX_DUPLICATES_SHOWN = 10


class RecordError(FieldRefusal):
    """A write refused for a reason staff must see, tied to the form field concerned."""


@dataclass
class Identity:
    """What the registration form gives; names stay exactly as typed."""

    family_name: str
    first_names: str
    sex: str
    birth_date: dt.date
    village: str
    birth_date_estimated: bool = False
    phone: str = ""
    national_id: str = ""
    mother: Patient | None = None
    household: Household | None = None
    household_name: str = ""  # a new household's name when ``household`` is None


def card_prefix(site_id: str) -> str:
    return site_id.upper()


def next_local_number(prefix: str) -> str:
    """The next card number ("DEMO-CSCOM-000124"); call inside the registration's transaction."""
    LocalNumberSequence.insert(prefix=prefix, last_value=0).on_conflict_ignore().execute()
    LocalNumberSequence.update(last_value=LocalNumberSequence.last_value + 1).where(
        LocalNumberSequence.prefix == prefix).execute()
    value = LocalNumberSequence.get_by_id(prefix).last_value
    return f"{prefix}-{value:06d}"


def search_ids_text(local_number: str, phone: str, national_id: str | None) -> str:
    """Numbers a receptionist may type, as indexed tokens: card number (with and without its
    zeros), phone and NINA."""
    tokens = []
    serial = local_number.rsplit("-", 1)[-1]
    tokens += [serial, serial.lstrip("0") or "0"]
    if phone:
        tokens.append(phone)
    if national_id:
        tokens.append(national_id.lower())
    return " ".join(dict.fromkeys(tokens))


def _apply_keys(patient: Patient) -> None:
    patient.family_key = " ".join(normalize.name_keys(patient.family_name))
    patient.given_key = " ".join(normalize.name_keys(patient.first_names))
    patient.village_key = normalize.place_key(patient.village)
    patient.search_names = " ".join(normalize.index_tokens(f"{patient.family_name} {patient.first_names}"))
    patient.search_ids = search_ids_text(patient.local_number, patient.phone, patient.national_id)


def find_duplicates(family_name: str, first_names: str, birth_date: dt.date, village: str,
                    *, exclude_id: int | None = None) -> list[Patient]:
    """Likely records of the same person: same family name and a shared first name once
    normalised (spelling variants and nasal prefixes included: "Ndiaye" is "N'Diaye"), same
    village, birth years within ±2."""
    family = [" ".join(words) for words in itertools.product(*_name_spellings(family_name))]
    given = _name_spellings(first_names)
    first = dt.date(birth_date.year - BIRTH_YEAR_TOLERANCE, 1, 1)
    last = dt.date(birth_date.year + BIRTH_YEAR_TOLERANCE, 12, 31)
    # A common name in a big village is hundreds of rows: compare keys first, load the few matches after.
    rows = database.execute_sql(
        f"SELECT id, given_key FROM patient WHERE family_key IN ({', '.join('?' * len(family))}) "
        "AND village_key = ? AND voided = 0 AND birth_date BETWEEN ? AND ? ORDER BY id",
        (*family, normalize.place_key(village), first.isoformat(), last.isoformat()))
    ids = [row_id for row_id, given_key in rows if row_id != exclude_id and _shares_a_name(given, given_key)]
    ids = ids[:MAX_DUPLICATES_SHOWN]
    found = patients_by_ids(ids)
    return [found[row_id] for row_id in ids]


def _name_spellings(text: str) -> list[list[str]]:
    """For each word of a typed name, the keys it may be stored under (see ``normalize.nasal_spellings``)."""
    return [normalize.nasal_spellings(word, normalize.name_key)
            for word in normalize.joined_words(normalize.fold(text))]


def _shares_a_name(spellings: list[list[str]], stored_key: str) -> bool:
    """Whether one typed word, under any of its spellings, is a word (or two, "n jaie") of a stored key."""
    padded = f" {stored_key} "
    return any(f" {spelling} " in padded for word in spellings for spelling in word)


def check_mother(child_birth_date: dt.date, mother: Patient | None, *, child_id: int | None = None) -> None:
    if mother is None:
        return
    if mother.voided:
        raise RecordError("mother", "Ce dossier de mère a été annulé ou fusionné.")
    if mother.sex != "F":
        raise RecordError("mother", "La mère doit être de sexe féminin.")
    if child_id is not None and mother.id == child_id:
        raise RecordError("mother", "Une personne ne peut pas être sa propre mère.")
    if age_in_years(mother.birth_date, child_birth_date) < MIN_MOTHER_AGE_YEARS:
        raise RecordError("mother", f"La mère doit avoir au moins {MIN_MOTHER_AGE_YEARS} ans de plus que l'enfant.")


def age_in_years(birth_date: dt.date, on: dt.date) -> int:
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def _check_identity(identity: Identity, *, patient_id: int | None = None, today: dt.date | None = None) -> None:
    today = today or dt.date.today()
    if not identity.family_name.strip():
        raise RecordError("family_name", "Le nom de famille est obligatoire.")
    if not identity.first_names.strip():
        raise RecordError("first_names", "Le prénom est obligatoire.")
    if identity.sex not in ("F", "M"):
        raise RecordError("sex", "Sexe : F ou M.")
    if identity.birth_date > today:
        raise RecordError("birth_date", "La date de naissance est dans le futur.")
    if not identity.village.strip():
        raise RecordError("village", "Le village ou quartier est obligatoire.")
    check_mother(identity.birth_date, identity.mother, child_id=patient_id)
    if identity.national_id:
        key = normalize.id_key(identity.national_id)
        clash = Patient.select(Patient.local_number).where(
            (Patient.national_id == key) & (Patient.id != (patient_id or 0))).first()
        if clash:
            raise RecordError("national_id", f"Ce NINA est déjà celui du dossier {clash.local_number}.")


def register_patient(actor: Actor, identity: Identity, *, site_id: str,
                     ignored_duplicates: Sequence[int] = ()) -> Patient:
    """Create the record (and its new household if asked); ``ignored_duplicates`` are the
    records staff saw and declared to be someone else: the audit entry names them."""
    _check_identity(identity)
    with database.atomic():
        household = identity.household
        if household is None and not identity.household_name.strip() and identity.mother is not None:
            household = identity.mother.household_id  # a child joins its mother's household
        if household is None and identity.household_name.strip():
            household = audited_save(actor, Household(
                name=identity.household_name.strip(), village=identity.village.strip(),
                village_key=normalize.place_key(identity.village)))
        patient = Patient(
            local_number=next_local_number(card_prefix(site_id)),
            family_name=identity.family_name.strip(), first_names=identity.first_names.strip(),
            sex=identity.sex, birth_date=identity.birth_date,
            birth_date_estimated=identity.birth_date_estimated, village=identity.village.strip(),
            phone=normalize.phone_key(identity.phone),
            national_id=normalize.id_key(identity.national_id) or None,
            mother=identity.mother, household=household,
            registered_by=actor.user_id, registered_role=actor.role,
        )
        _apply_keys(patient)
        reason = None
        if ignored_duplicates:
            numbers = [p.local_number for p in Patient.select(Patient.local_number)
                       .where(Patient.id.in_(list(ignored_duplicates)))]
            reason = "créé malgré des doublons possibles : " + ", ".join(numbers)
        audited_save(actor, patient, reason=reason)
        run_patient_hooks(actor, patient, None)
    return patient


def update_identity(actor: Actor, patient: Patient, identity: Identity, *, reason: str | None = None) -> Patient:
    """Correct a patient's identity; the audit trail keeps the previous values."""
    if patient.voided:
        raise RecordError("family_name", "Ce dossier a été annulé ou fusionné : il ne peut plus être modifié.")
    _check_identity(identity, patient_id=patient.id)
    with database.atomic():
        patient.family_name = identity.family_name.strip()
        patient.first_names = identity.first_names.strip()
        patient.sex = identity.sex
        patient.birth_date = identity.birth_date
        patient.birth_date_estimated = identity.birth_date_estimated
        patient.village = identity.village.strip()
        patient.phone = normalize.phone_key(identity.phone)
        patient.national_id = normalize.id_key(identity.national_id) or None
        patient.mother = identity.mother
        if identity.household is not None:
            patient.household = identity.household
        _apply_keys(patient)
        if patient.sex == "M" and Patient.select().where(
                (Patient.mother == patient.id) & (Patient.voided == False)).exists():  # noqa: E712
            raise RecordError("sex", "Cette personne est enregistrée comme mère d'un enfant : elle ne peut pas "
                                     "être de sexe masculin.")
        audited_save(actor, patient, reason=reason)
        run_patient_hooks(actor, patient, None)
    return patient


def get_patient(patient_id: int | None) -> Patient | None:
    """One patient by id (voided ones too), without the query builder: the chart's hot path."""
    if patient_id is None:
        return None
    return next(iter(Patient.raw("SELECT * FROM patient WHERE id = ?", patient_id)), None)


def household_members(household_id: int | None, *, limit: int = 40) -> list[Patient]:
    if household_id is None:
        return []
    return list(Patient.raw("SELECT * FROM patient WHERE household_id = ? AND voided = 0 ORDER BY birth_date "
                            "LIMIT ?", household_id, limit))


def children_of(patient: Patient) -> list[Patient]:
    return list(Patient.raw("SELECT * FROM patient WHERE mother_id = ? AND voided = 0 ORDER BY birth_date",
                            patient.id))


def merge_patients(actor: Actor, keep: Patient, drop: Patient, reason: str) -> Patient:
    """Fold ``drop`` into ``keep``: every visit and child moves to ``keep``, missing identity
    details are copied, and ``drop`` is voided with ``merged_into`` pointing to ``keep``.
    Each move is an audited update, so the trail keeps both records' histories."""
    if keep.id == drop.id:
        raise RecordError("other", "Choisissez deux dossiers différents.")
    if keep.voided or drop.voided:
        raise RecordError("other", "Un des deux dossiers est déjà annulé ou fusionné.")
    if not reason.strip():
        raise RecordError("reason", "Le motif de la fusion est obligatoire.")
    with database.atomic():
        for model in PROGRAMMES.values():
            for visit in model.select().where(model.patient == drop.id):
                visit.patient = keep.id
                audited_save(actor, visit, reason=f"fusion de {drop.local_number} dans {keep.local_number}")
        for child in Patient.select().where(Patient.mother == drop.id):
            child.mother = keep.id
            audited_save(actor, child, reason=f"fusion de {drop.local_number} dans {keep.local_number}")
        # Her pregnancies follow her contacts; a newborn's duplicate leaves the delivery pointing at the kept record.
        for row in (*Pregnancy.select().where(Pregnancy.patient == drop.id),
                    *Delivery.select().where(Delivery.newborn == drop.id),
                    *DeliveryBaby.select().where(DeliveryBaby.newborn == drop.id)):
            setattr(row, "patient" if isinstance(row, Pregnancy) else "newborn", keep.id)
            audited_save(actor, row, reason=f"fusion de {drop.local_number} dans {keep.local_number}")
        national_id = drop.national_id
        if national_id and not keep.national_id:
            drop.national_id = None
            drop.search_ids = search_ids_text(drop.local_number, drop.phone, None)
            audited_save(actor, drop, reason="NINA transféré au dossier conservé")
            keep.national_id = national_id
        keep.phone = keep.phone or drop.phone
        keep.household = keep.household_id or drop.household_id
        keep.mother = keep.mother_id or drop.mother_id
        _apply_keys(keep)
        audited_save(actor, keep, reason=f"fusion de {drop.local_number} : {reason.strip()}")
        drop.merged_into = keep.id
        audited_void(actor, drop, f"fusionné dans {keep.local_number} : {reason.strip()}")
        record_event(actor, "merge", "patient", keep.id, reason=f"{drop.local_number} → {keep.local_number}")
        run_patient_hooks(actor, keep, None)
    return keep


def resolve_merged(patient: Patient) -> Patient:
    """The record a merged one now lives in (follows chains of merges)."""
    seen = set()
    while patient.merged_into_id and patient.id not in seen:
        seen.add(patient.id)
        patient = Patient.get_by_id(patient.merged_into_id)
    return patient


def patients_by_ids(ids: Iterable[int]) -> dict[int, Patient]:
    ids = list(ids)
    if not ids:
        return {}
    return {p.id: p for p in Patient.select().where(Patient.id.in_(ids))}



MAX_BABIES = 4
BIRTH_OUTCOMES = ("vivant", "mort_frais", "mort_macere")
BIRTH_WEIGHT_LIMITS_G = (300, 6500)


@dataclass
class Baby:
    """Baby 2, 3 or 4 of a multiple birth, as the delivery form gives it; ``newborn`` asks for
    its own record (live births only)."""

    position: int
    outcome: str
    sex: str | None = None
    birth_weight_g: int | None = None
    newborn: Identity | None = None


def _baby_error(position: int, field: str, message: str) -> RecordError:
    return RecordError(f"baby{position}-{field}", f"Bébé {position} : {message}")


def _check_babies(delivery: Delivery, babies: Sequence[Baby], baby_one_opens: bool) -> None:
    """The invariants the database must never break, whatever the caller's form checked."""
    count = delivery.babies or 1
    if not 1 <= count <= MAX_BABIES:
        raise RecordError("babies", f"Nombre de bébés : de 1 à {MAX_BABIES}.")
    if [baby.position for baby in babies] != list(range(2, count + 1)):
        raise RecordError("babies", f"{count} bébé(s) annoncé(s), {1 + len(babies)} décrit(s).")
    if baby_one_opens and delivery.outcome != "vivant":
        raise RecordError("create_newborn", "Pas de dossier de nouveau-né pour un mort-né.")
    for baby in babies:
        if baby.outcome not in BIRTH_OUTCOMES:
            raise _baby_error(baby.position, "outcome", "indiquez l'issue (né vivant ou mort-né).")
        if baby.sex not in (None, "F", "M"):
            raise _baby_error(baby.position, "sex", "sexe F ou M.")
        low, high = BIRTH_WEIGHT_LIMITS_G
        if baby.birth_weight_g is not None and not low <= baby.birth_weight_g <= high:
            raise _baby_error(baby.position, "birth_weight_g", f"poids de naissance impossible (de {low} à {high} g).")
        if baby.newborn is not None and baby.outcome != "vivant":
            raise _baby_error(baby.position, "open_record", "pas de dossier de nouveau-né pour un mort-né.")


def _open_record(actor: Actor, mother: Patient, identity: Identity, site_id: str, position: int,
                 multiple: bool) -> Patient:
    """The baby's own record, in the mother's household, born on the delivery date; a refusal
    names the baby's field (``baby2-sex``; the family name is shared by the babies)."""
    identity.mother = mother
    try:
        return register_patient(actor, identity, site_id=site_id)
    except RecordError as error:
        message = f"Bébé {position} : {error.message}" if multiple else error.message
        if error.field == "family_name":
            raise RecordError("newborn_family_name", message) from None
        field = error.field if error.field in ("first_names", "sex") else "open_record"
        raise RecordError(f"baby{position}-{field}", message) from None


def _write_babies(actor: Actor, mother: Patient, delivery: Delivery, babies: Sequence[Baby], site_id: str) -> None:
    """Create or update the rows of babies 2..n (and their records when asked): a baby that
    already has a record never gets a second one; rows beyond the count are voided."""
    current = {row.position: row for row in DeliveryBaby.select().where(
        (DeliveryBaby.delivery == delivery.id) & (DeliveryBaby.voided == False))}  # noqa: E712
    for baby in babies:
        row = current.pop(baby.position, None) or DeliveryBaby(delivery=delivery.id, position=baby.position)
        if row.newborn_id is not None and baby.outcome != "vivant":
            raise _baby_error(baby.position, "outcome", "ce bébé a déjà son dossier de nouveau-né : annulez ce "
                                                        "dossier avant de le déclarer mort-né.")
        if row.newborn_id is None and baby.newborn is not None:
            row.newborn = _open_record(actor, mother, baby.newborn, site_id, baby.position, True).id
        values = {"outcome": baby.outcome, "sex": baby.sex, "birth_weight_g": baby.birth_weight_g}
        changed = row.id is None or bool(row.dirty_fields) or any(
            getattr(row, name) != value for name, value in values.items())
        for name, value in values.items():
            setattr(row, name, value)
        if changed:
            audited_save(actor, row)
    for position, row in sorted(current.items()):
        if row.newborn_id is not None:
            raise RecordError("babies", f"Le bébé {position} a déjà son dossier de nouveau-né : le nombre de "
                                        f"bébés ne peut pas descendre sous {position}.")
        audited_void(actor, row, "nombre de bébés corrigé")


def record_delivery(actor: Actor, mother: Patient, delivery: Delivery, *, site_id: str,
                    newborn: Identity | None = None, babies: Sequence[Baby] = ()) -> Delivery:
    """A delivery on the mother's record and, for each live baby asked for, its own record
    linked to her and to the delivery: all of it or nothing. ``newborn`` is baby 1 (described by
    the delivery row); ``babies`` are babies 2..n of a multiple birth."""
    _check_babies(delivery, babies, newborn is not None)
    multiple = (delivery.babies or 1) > 1
    with database.atomic():
        if newborn is not None:
            delivery.newborn = _open_record(actor, mother, newborn, site_id, 1, multiple).id
        record_visit(actor, mother, delivery,
                     before_hooks=lambda saved: _write_babies(actor, mother, saved, babies, site_id))
        run_newborn_hooks(actor, delivery)
    return delivery


def correct_delivery(actor: Actor, delivery: Delivery, *, site_id: str, reason: str = "",
                     newborn: Identity | None = None, babies: Sequence[Baby] = ()) -> Delivery:
    """Save a corrected delivery (values already set on it by the caller) and its babies. A
    record is opened only for a live baby that has none yet: correcting never duplicates one."""
    _check_babies(delivery, babies, newborn is not None and delivery.newborn_id is None)
    if delivery.newborn_id is not None and delivery.outcome != "vivant":
        raise RecordError("outcome", "Ce bébé a déjà son dossier de nouveau-né : annulez ce dossier avant de le "
                                     "déclarer mort-né.")
    mother = Patient.get_by_id(delivery.patient_id)
    with database.atomic():
        if newborn is not None and delivery.newborn_id is None:
            delivery.newborn = _open_record(actor, mother, newborn, site_id, 1, (delivery.babies or 1) > 1).id
        correct_visit(actor, delivery, reason=reason,
                      before_hooks=lambda saved: _write_babies(actor, mother, saved, babies, site_id))
        _sync_newborn_sexes(actor, delivery)
        run_newborn_hooks(actor, delivery)
    return delivery


def _sync_newborn_sexes(actor: Actor, delivery: Delivery) -> None:
    """A baby's sex corrected on the delivery is corrected on the baby's own record too."""
    pairs = [(delivery.newborn_id, delivery.baby_sex),
             *((baby.newborn_id, baby.sex) for baby in delivery.other_babies())]
    for newborn_id, sex in pairs:
        if newborn_id is None or sex not in SEXES:
            continue
        baby = Patient.get_by_id(newborn_id)
        if baby.sex != sex:
            baby.sex = sex
            audited_save(actor, baby, reason="sexe corrigé sur la fiche d'accouchement")


_VILLAGES_TTL_SECONDS = 300.0
_villages_cache: tuple[float, list[str]] = (-_VILLAGES_TTL_SECONDS, [])


def known_villages() -> list[str]:
    """Village names already used (for the form's suggestions), refreshed every few minutes."""
    global _villages_cache
    loaded_at, names = _villages_cache
    if time.monotonic() - loaded_at > _VILLAGES_TTL_SECONDS:
        rows = database.execute_sql(
            "SELECT MIN(village) FROM household WHERE voided = 0 GROUP BY village_key ORDER BY 1 LIMIT 300")
        names = [row[0] for row in rows]
        _villages_cache = (time.monotonic(), names)
    return names
