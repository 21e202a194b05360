"""Realistic, deterministic synthetic data for demos and benchmarks (``appliance demo-data``).

A rural health area near Ségou: households (a head, one to three wives, their children, often
the head's mother), Malian names of the area's communities with the usual spelling
variation, Mali's very young age pyramid, and several years of visits: pregnancies with CPN,
deliveries and CPoN, children's vaccination cards and growth monitoring, family planning users,
hypertension and diabetes follow-up, curative consultations with prescriptions.

The same seed (and the same ``today``) always gives the same data. Rows are machine-made, so
they are bulk-inserted in one transaction (nothing half-generated survives a power cut) and the
audit trail gets one summary entry instead of a million.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import itertools
import random
import re
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click
import peewee

from appliance.accounts import create_user, generate_password
from appliance.clinical import growth
from appliance.clinical.schedule_data import Duration, load_schedules
from appliance.config import Config
from appliance.followup.service import recompute_all
from appliance.patients import normalize
from appliance.patients.models import (
    AntenatalVisit,
    ChronicVisit,
    Consultation,
    Death,
    Delivery,
    FamilyPlanningVisit,
    GrowthMeasurement,
    Household,
    Immunisation,
    LocalNumberSequence,
    Patient,
    PostnatalVisit,
    Pregnancy,
    Prescription,
)
from appliance.patients.registry import card_prefix, search_ids_text
from appliance.store.audit import record_event, system_actor
from appliance.store.db import database
from appliance.store.models import User

DATA = Path(__file__).with_name("patients") / "data"
DEMO_DATA = DATA / "demo"
DEFAULT_SITE = "demo-cscom"
FLUSH_ROWS = 20_000
VARIANT_SPELLING_SHARE = 0.06

# One account per role; the username is the role code, so the README can list them.
DEMO_ACCOUNTS: dict[str, tuple[str, str]] = {
    "medecin": ("Modibo", "Keïta"),
    "sage_femme": ("Aminata", "Diallo"),
    "infirmier": ("Seydou", "Coulibaly"),
    "matrone": ("Kadiatou", "Traoré"),
    "agent_saisie": ("Oumar", "Sidibé"),
    "admin": ("Fatoumata", "Konaté"),
}


def demo_usernames() -> list[str]:
    return list(DEMO_ACCOUNTS)


def ensure_demo_users() -> dict[str, str]:
    """Create the demo accounts that are missing; return {username: password} for those created."""
    created = {}
    actor = system_actor("demo-data")
    for role, (first_name, last_name) in DEMO_ACCOUNTS.items():
        if User.select().where(User.username == role).exists():
            continue
        password = generate_password()
        create_user(actor, username=role, first_name=first_name, last_name=last_name, role=role,
                    password=password, must_change_password=False)
        created[role] = password
    return created


def seed_demo(target: Config | peewee.Database, patients: int, seed: int, *,
              today: dt.date | None = None) -> dict[str, str]:
    """Demo accounts (if missing) and ``patients`` synthetic patients (if the record is empty).

    ``target`` is the configuration (its database is opened and migrated if not already) or an
    open database. Returns the credentials of the accounts created now.
    """
    site_id = target.site.id if isinstance(target, Config) else DEFAULT_SITE
    own = _bind(target)
    try:
        credentials = ensure_demo_users()
        populate(patients, seed, site_id=site_id, today=today)
    finally:
        if own is not None:
            own.close()
    return credentials


def _bind(target: Config | peewee.Database) -> peewee.Database | None:
    """Use ``target``'s database; return it if this call opened it (so it closes it)."""
    if not isinstance(target, Config):
        database.initialize(target)
        return None
    path = str(target.paths.database)
    if database.obj is not None and getattr(database.obj, "database", None) == path and not database.is_closed():
        return None
    from appliance.store import open_and_migrate

    return open_and_migrate(target.paths.database)


# --- Reference data ---------------------------------------------------------------------------------


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


class _Weighted:
    """Fast repeated weighted choice (random.choices recomputes the cumulative weights each call)."""

    def __init__(self, items: Sequence, weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cumulative = list(itertools.accumulate(weights))

    def pick(self, rng: random.Random):
        return self.items[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]


@dataclass
class _Reference:
    groups: _Weighted
    family_names: dict[str, list[str]]
    first_names: dict[tuple[str, str], list[str]]
    villages: _Weighted
    variants: dict[str, list[str]]
    diagnoses: dict[str, _Weighted]  # age band → diagnosis code
    reasons: dict[str, str]
    prescriptions: dict[str, list[tuple[str, str, int, int]]]


def _reference() -> _Reference:
    families = _rows(DEMO_DATA / "family_names.csv")
    first: dict[tuple[str, str], list[str]] = {}
    for row in _rows(DEMO_DATA / "first_names.csv"):
        first.setdefault((row["sex"], row["group"]), []).extend(row["names"].split())
    villages = _rows(DEMO_DATA / "villages.csv")
    variants: dict[str, list[str]] = {}
    for row in _rows(DATA / "name_variants.csv"):
        variants[row["canonical"]] = row["variants"].split()
    consultations = _rows(DEMO_DATA / "consultations.csv")
    bands = {band: _Weighted([row["code"] for row in consultations], [float(row[band]) for row in consultations])
             for band in ("under5", "child", "adult")}
    prescriptions = {}
    for row in consultations:
        lines = []
        for item in filter(None, row["prescriptions"].split(";")):
            drug, dosage, quantity, days = item.split("|")
            lines.append((drug, dosage, int(quantity), int(days)))
        prescriptions[row["code"]] = lines
    return _Reference(
        groups=_Weighted([row["group"] for row in families], [float(row["weight"]) for row in families]),
        family_names={row["group"]: row["names"].split() for row in families},
        first_names=first,
        villages=_Weighted([row["village"] for row in villages], [float(row["weight"]) for row in villages]),
        variants=variants,
        diagnoses=bands,
        reasons={row["code"]: row["reason"] for row in consultations},
        prescriptions=prescriptions,
    )


_FIVE_YEARS_DAYS = 1826  # under five, measurements follow the WHO tables the rules use (clinical/data/who)


def _epi_calendar() -> list[tuple[str, int, Duration]]:
    """Mali's EPI calendar as the rules read it (``clinical/data/epi_mali.toml``): (antigen, dose
    number, recommended age) of every dose of the active series, youngest first. A dose code is
    the antigen then its number (``penta2``; ``bcg`` alone is dose 1; ``vpo0`` the birth dose)."""
    reference = dt.date(2000, 1, 1)
    doses = [dose for series in load_schedules().epi.series if series.active for dose in series.doses]
    calendar = []
    for dose in sorted(doses, key=lambda dose: dose.age.after(reference)):
        antigen, number = re.fullmatch(r"([a-z]+?)(\d*)", dose.code).groups()
        calendar.append((antigen.upper(), int(number or 1), dose.age))
    return calendar


_MALARIA_VACCINE_FROM = dt.date(2025, 4, 25)  # introduction in Mali's routine programme

_FP_METHODS = _Weighted(
    [("dmpa_im", 91, 1), ("dmpa_sc", 91, 1), ("implant_jadelle", 0, 1), ("implant_implanon", 0, 1),
     ("pilule_coc", 84, 3), ("pilule_pop", 84, 3), ("diu", 0, 1), ("preservatif_m", 30, 30), ("collier", 0, 1)],
    [28, 12, 18, 10, 12, 5, 3, 8, 4])


# --- Bulk writer ------------------------------------------------------------------------------------


class _Table:
    """Rows of one model collected as tuples and written with executemany in large chunks."""

    def __init__(self, model: type[peewee.Model], defaults: dict[str, object]) -> None:
        self.model = model
        fields = model._meta.sorted_fields
        self.names = [item.name for item in fields]
        columns = ", ".join(f'"{item.column_name}"' for item in fields)
        self.sql = (f'INSERT INTO "{model._meta.table_name}" ({columns}) '
                    f"VALUES ({', '.join('?' for _ in fields)})")
        self.defaults = defaults
        self.rows: list[tuple] = []
        self.count = 0

    def add(self, values: dict[str, object]) -> None:
        merged = {**self.defaults, **values}
        self.rows.append(tuple(merged.get(name) for name in self.names))
        self.count += 1

    def flush(self) -> None:
        if self.rows:
            database.connection().executemany(self.sql, self.rows)
            self.rows.clear()


@dataclass
class DemoReport:
    patients: int = 0
    households: int = 0
    rows: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    skipped: bool = False


@dataclass
class _Person:
    id: int
    sex: str
    birth: dt.date
    family: str
    group: str
    mother: _Person | None = None
    children: list[_Person] = field(default_factory=list)


class _Generator:
    def __init__(self, seed: int, today: dt.date, years: int, site_id: str, users: dict[str, list[int]]) -> None:
        self.rng = random.Random(seed)
        self.death_rng = random.Random(seed + 1)  # its own stream: the rest of the record is unchanged
        self.today = today
        self.start = today - dt.timedelta(days=round(365.25 * years))
        self.prefix = card_prefix(site_id)
        self.users = users
        self.ref = _reference()
        self.epi = _epi_calendar()
        base_id = (Patient.select(peewee.fn.MAX(Patient.id)).scalar() or 0) + 1
        self.patient_ids = itertools.count(base_id)
        self.household_ids = itertools.count((Household.select(peewee.fn.MAX(Household.id)).scalar() or 0) + 1)
        self.consultation_ids = itertools.count((Consultation.select(peewee.fn.MAX(Consultation.id)).scalar() or 0) + 1)
        self.pregnancy_ids = itertools.count((Pregnancy.select(peewee.fn.MAX(Pregnancy.id)).scalar() or 0) + 1)
        self.serial = LocalNumberSequence.get_or_none(LocalNumberSequence.prefix == self.prefix)
        self.next_serial = (self.serial.last_value if self.serial else 0) + 1
        void = {"voided": False, "voided_at": None, "voided_by": None, "void_reason": None}
        visit = {**void, "revision": 1, "notes": ""}
        self.tables = {
            "household": _Table(Household, void),
            "patient": _Table(Patient, {**void, "birth_date_estimated": False, "phone": "", "national_id": None,
                                        "mother": None, "merged_into": None, "registered_by": None,
                                        "registered_role": ""}),
            "consultation": _Table(Consultation, {**visit, "treatment": "", "secondary_diagnosis_code": None}),
            "prescription": _Table(Prescription, void),
            "grossesse": _Table(Pregnancy, {**void, "ultrasound_on": None, "ultrasound_weeks": None,
                                            "previous_pph": False, "previous_stillbirth": False,
                                            "previous_pre_eclampsia": False, "multiple": False, "height_cm": None}),
            "cpn": _Table(AntenatalVisit, {**visit, "danger_signs": "", "previous_caesarean": False,
                                           "iron_folic": True, "previous_pph": False, "previous_stillbirth": False,
                                           "previous_pre_eclampsia": False, "multiple_pregnancy": False,
                                           "net_given": False}),
            "accouchement": _Table(Delivery, {**visit, "babies": 1, "complications": "", "newborn": None}),
            "cpon": _Table(PostnatalVisit, {**visit, "danger_signs": ""}),
            "vaccination": _Table(Immunisation, {**visit, "lot": "", "given_here": True}),
            "croissance": _Table(GrowthMeasurement, {**visit, "oedema": False}),
            "pf": _Table(FamilyPlanningVisit, {**visit}),
            "chronique": _Table(ChronicVisit, {**visit, "treatment": ""}),
            "deces": _Table(Death, {**visit, "cause": "", "incidental": False}),
        }

    # helpers -------------------------------------------------------------------------------------

    def _date_between(self, first: dt.date, last: dt.date) -> dt.date:
        span = (last - first).days
        return first + dt.timedelta(days=self.rng.randint(0, max(span, 0)))

    def _author(self, *roles: str) -> tuple[int | None, str]:
        role = roles[self.rng.randrange(len(roles))]
        ids = self.users.get(role) or [None]
        return ids[self.rng.randrange(len(ids))], role

    def _visit(self, table: str, person: _Person, when: dt.date, roles: Sequence[str], **values) -> dict:
        author, role = self._author(*roles)
        minute = self.rng.randrange(7 * 60, 17 * 60)
        row = {"patient": person.id, "visit_date": when.isoformat(), "author": author, "author_role": role,
               "recorded_at": f"{when.isoformat()} {minute // 60:02d}:{minute % 60:02d}:00", **values}
        self.tables[table].add(row)
        return row

    def _in_window(self, when: dt.date) -> bool:
        return self.start <= when <= self.today

    def _spell(self, name: str) -> str:
        options = self.ref.variants.get(name)
        if options and self.rng.random() < VARIANT_SPELLING_SHARE:
            return options[self.rng.randrange(len(options))]
        return name

    def _first_name(self, sex: str, group: str) -> str:
        pool = self.ref.first_names[(sex, "all")]
        own = self.ref.first_names.get((sex, group))
        if own and self.rng.random() < 0.35:
            pool = own
        name = self._spell(pool[self.rng.randrange(len(pool))])
        if self.rng.random() < 0.12:  # a second first name, common for girls named after a grandmother
            name += " " + self._spell(pool[self.rng.randrange(len(pool))])
        return name

    def _birth(self, age_years: float) -> dt.date:
        return self.today - dt.timedelta(days=int(age_years * 365.25) + self.rng.randrange(365))

    # people ----------------------------------------------------------------------------------------

    def _add_patient(self, person: _Person, first_names: str, village: str, household_id: int,
                     estimated: bool) -> None:
        serial = self.next_serial
        self.next_serial += 1
        local_number = f"{self.prefix}-{serial:06d}"
        phone = ""
        if person.birth < self.today - dt.timedelta(days=18 * 365) and self.rng.random() < 0.55:
            phone = f"{self.rng.choice('567896'):s}{self.rng.randrange(10_000_000):07d}"
        registered = max(person.birth, self._date_between(self.start, self.today - dt.timedelta(days=30)))
        registered = min(registered, self.today)
        family_name = self._spell(person.family)
        self.tables["patient"].add({
            "id": person.id, "local_number": local_number, "family_name": family_name,
            "first_names": first_names, "sex": person.sex, "birth_date": person.birth.isoformat(),
            "birth_date_estimated": estimated, "village": village, "village_key": normalize.place_key(village),
            "phone": phone, "mother": person.mother.id if person.mother else None, "household": household_id,
            "family_key": " ".join(normalize.name_keys(family_name)),
            "given_key": " ".join(normalize.name_keys(first_names)),
            "search_names": " ".join(normalize.index_tokens(f"{family_name} {first_names}")),
            "search_ids": search_ids_text(local_number, phone, None),
            "registered_at": f"{registered.isoformat()} 08:00:00",
            "registered_by": self._author("agent_saisie", "infirmier")[0], "registered_role": "agent_saisie",
        })

    def household(self) -> list[_Person]:
        """One concession: the people, registered, with their visits."""
        rng = self.rng
        group = self.ref.groups.pick(rng)
        family = self.ref.family_names[group][rng.randrange(len(self.ref.family_names[group]))]
        village = self.ref.villages.pick(rng)
        household_id = next(self.household_ids)
        self.tables["household"].add({"id": household_id, "name": f"Famille {family}", "village": village,
                                      "village_key": normalize.place_key(village),
                                      "created_at": f"{self.start.isoformat()} 08:00:00"})
        people: list[_Person] = []

        def add(person: _Person, estimated: bool) -> _Person:
            self._add_patient(person, self._first_name(person.sex, person.group), village, household_id, estimated)
            people.append(person)
            return person

        head_age = rng.triangular(22, 75, 35)
        grandmother = None
        if head_age < 50 and rng.random() < 0.3:
            grandmother = add(_Person(next(self.patient_ids), "F", self._birth(head_age + rng.uniform(18, 32)),
                                      family, group), estimated=True)
        head = add(_Person(next(self.patient_ids), "M", self._birth(head_age), family, group, mother=grandmother),
                   estimated=True)
        if rng.random() < 0.35:  # a younger brother, a cousin or a widowed aunt living in the concession
            relative_sex = "M" if rng.random() < 0.6 else "F"
            add(_Person(next(self.patient_ids), relative_sex, self._birth(rng.uniform(18, 60)), family, group),
                estimated=True)
        wives = 1 + (rng.random() < 0.28) + (rng.random() < 0.07)
        for _ in range(wives):
            wife_group = group if rng.random() < 0.8 else self.ref.groups.pick(rng)
            wife_family = self.ref.family_names[wife_group][rng.randrange(len(self.ref.family_names[wife_group]))]
            wife_age = max(16.0, min(head_age - rng.uniform(2, 18), 49.0))
            wife = add(_Person(next(self.patient_ids), "F", self._birth(wife_age), wife_family, wife_group),
                       estimated=rng.random() < 0.6)
            self._children(wife, head, add)
        for person in people:
            self._visits(person)
        if grandmother is not None and self.death_rng.random() < 0.1:  # an old woman died at home today
            self.tables["deces"].add({"patient": grandmother.id, "visit_date": self.today.isoformat(), "author": None,
                                      "author_role": "", "recorded_at": f"{self.today.isoformat()} 09:00:00",
                                      "category": "autre", "place": "domicile"})
        return people

    def _children(self, mother: _Person, father: _Person, add) -> None:
        rng = self.rng
        when = mother.birth + dt.timedelta(days=int(365.25 * rng.uniform(16.5, 21)))
        limit = min(self.today, mother.birth + dt.timedelta(days=int(365.25 * 44)))
        while when <= limit:
            age = (self.today - when).days / 365.25
            # Some children died or were never registered; older ones have often left (married,
            # working in town).
            if rng.random() < (0.8 if age < 15 else 0.55 if age < 25 else 0.1):
                sex = "F" if rng.random() < 0.49 else "M"
                child = add(_Person(next(self.patient_ids), sex, when, father.family, father.group, mother=mother),
                            estimated=age > 5 and rng.random() < 0.5)
                mother.children.append(child)
            when += dt.timedelta(days=int(365.25 * rng.uniform(1.9, 3.4)))
        last = mother.children[-1].birth if mother.children else None
        age_now = (self.today - mother.birth).days / 365.25
        if age_now < 44 and (last is None or (self.today - last).days > 450) and rng.random() < 0.35:
            self._pregnancy(mother, lmp=self.today - dt.timedelta(days=rng.randint(42, 250)), delivered=None)

    # visits ----------------------------------------------------------------------------------------

    def _visits(self, person: _Person) -> None:
        rng = self.rng
        age_days = (self.today - person.birth).days
        if age_days < 5 * 366:
            self._child_care(person)
        if person.sex == "F":
            for child in person.children:
                if self._in_window(child.birth - dt.timedelta(days=60)):
                    self._pregnancy(person, lmp=child.birth - dt.timedelta(days=rng.randint(259, 287)), delivered=child)
            if 15 * 365 < age_days < 49 * 365 and rng.random() < 0.16:
                self._family_planning(person)
        if age_days > 35 * 365:
            if rng.random() < 0.025 + age_days / 365.25 * 0.0015:
                self._chronic(person, "hta")
            if rng.random() < 0.02:
                self._chronic(person, "diabete")
        self._consultations(person)

    def _weight(self, person: _Person, when: dt.date, z: float) -> tuple[float, float]:
        days = (when - person.birth).days
        if days <= _FIVE_YEARS_DAYS:
            weight = growth.value_at_z("wfa", person.sex, days, z)
            length = growth.value_at_z("lhfa", person.sex, days, z * 0.6)
            return round(max(weight, 1.2), 1), round(length, 1)
        years = days / 365.25
        if years < 15:  # on from the WHO medians at five years
            weight_at_five = growth.value_at_z("wfa", person.sex, _FIVE_YEARS_DAYS, 0)
            length_at_five = growth.value_at_z("lhfa", person.sex, _FIVE_YEARS_DAYS, 0)
            return (round((weight_at_five + 2.7 * (years - 5)) * (1 + 0.1 * z), 1),
                    round(length_at_five + 6 * (years - 5), 1))
        return round((63 if person.sex == "M" else 57) + 9 * z, 1), (170 if person.sex == "M" else 160)

    def _child_care(self, child: _Person) -> None:
        rng = self.rng
        dropout = rng.random() * 0.25
        delay = 0
        from_card = child.birth < self.start
        contacts = set()
        for antigen, dose, age in self.epi:
            if rng.random() < dropout * (1 if dose <= 1 else 1.5):
                break
            delay += rng.randint(0, 20)
            when = age.after(child.birth) + dt.timedelta(days=delay)
            if when > self.today or (antigen == "PALU" and when < _MALARIA_VACCINE_FROM):
                continue
            here = self._in_window(when)
            if not here and not (from_card and rng.random() < 0.7):
                continue
            self._visit("vaccination", child, when, ("infirmier", "matrone"), antigen=antigen, dose_number=dose,
                        lot=f"{antigen[:2]}{when.year % 100:02d}{rng.randint(100, 999)}" if here else "",
                        given_here=here)
            if here:
                contacts.add(when)
        # Growth monitoring at vaccination contacts and about every three months until five.
        z = rng.gauss(-0.6, 1.1)
        visit = max(child.birth, self.start)
        while visit <= self.today and (visit - child.birth).days < 5 * 365:
            contacts.add(visit)
            visit += dt.timedelta(days=rng.randint(60, 150))
        for when in sorted(contacts):
            months = (when - child.birth).days / 30.4375
            z += rng.gauss(0, 0.25)
            weight, length = self._weight(child, when, z)
            muac = None
            if months >= 6:
                muac = int(max(95, min(175, rng.gauss(143 + 7 * z, 7))))
            self._visit("croissance", child, when, ("infirmier", "matrone", "agent_saisie"), weight_kg=weight,
                        height_cm=length if rng.random() < 0.7 else None,
                        position="couche" if months < 24 else "debout", muac_mm=muac,
                        oedema=z < -2.5 and rng.random() < 0.15)

    def _pregnancy(self, mother: _Person, lmp: dt.date, delivered: _Person | None) -> None:
        rng = self.rng
        gravidity = len([c for c in mother.children if c.birth < lmp]) + 1 + (rng.random() < 0.2)
        parity = len([c for c in mother.children if c.birth < lmp])
        caesarean = parity > 0 and rng.random() < 0.04
        end = delivered.birth if delivered else self.today
        contacts = max(1, min(8, int(rng.triangular(1, 8, 4))))
        first_week = rng.randint(10, 26)
        weeks = sorted({first_week + round(i * (38 - first_week) / max(contacts, 1)) for i in range(contacts)})
        hb = rng.gauss(10.8, 1.3)
        systolic_base = rng.gauss(112, 12)
        sp_doses = 0
        td = 0
        number = 0
        pregnancy_id = None
        for week in weeks:
            when = lmp + dt.timedelta(weeks=week, days=rng.randint(0, 6))
            if when >= end or not self._in_window(when):
                continue
            number += 1
            if pregnancy_id is None:  # the record opened by her first contact, closed by the delivery
                pregnancy_id = next(self.pregnancy_ids)
                delivered_here = delivered is not None and self._in_window(delivered.birth)
                self.tables["grossesse"].add({
                    "id": pregnancy_id, "patient": mother.id, "lmp_date": lmp.isoformat(), "gravidity": gravidity,
                    "parity": parity, "previous_caesarean": caesarean, "opened_on": when.isoformat(),
                    "ended_on": delivered.birth.isoformat() if delivered_here else None,
                    "end_reason": "accouchement" if delivered_here else None})
            systolic = int(systolic_base + rng.gauss(0, 8) + (12 if week > 32 and rng.random() < 0.08 else 0))
            sp = None
            if week >= 13 and sp_doses < 5:
                sp_doses += 1
                sp = sp_doses
            td_dose = None
            if td < 2 and rng.random() < 0.6:
                td += 1
                td_dose = td
            signs = ""
            if rng.random() < 0.05:
                signs = rng.choice(["saignement", "cephalees_vision", "fievre", "oedemes", "douleurs_abdo"])
            next_visit = when + dt.timedelta(weeks=4)
            self._visit("cpn", mother, when, ("sage_femme", "matrone"), contact_number=number, pregnancy=pregnancy_id,
                        net_given=number == 1 and rng.random() < 0.8,
                        lmp_date=lmp.isoformat() if rng.random() < 0.6 else None, gestational_age_weeks=week,
                        gravidity=gravidity, parity=parity, previous_caesarean=caesarean,
                        weight_kg=round(rng.gauss(60, 8) + week * 0.3, 1), systolic=systolic,
                        diastolic=int(systolic * 0.63 + rng.gauss(0, 5)),
                        fundal_height_cm=max(12, min(40, week + rng.randint(-2, 2))) if week >= 20 else None,
                        hb_g_dl=round(hb + rng.gauss(0, 0.4), 1) if number in (1, 3) else None,
                        danger_signs=signs, iptp_dose=sp, td_dose=td_dose,
                        next_visit_date=next_visit.isoformat() if next_visit > when else None)
        if delivered is None or not self._in_window(delivered.birth):
            return
        if pregnancy_id is None:  # no contact recorded here: the delivery opens and closes it
            pregnancy_id = next(self.pregnancy_ids)
            self.tables["grossesse"].add({
                "id": pregnancy_id, "patient": mother.id, "lmp_date": None, "gravidity": gravidity,
                "parity": parity, "previous_caesarean": caesarean, "opened_on": delivered.birth.isoformat(),
                "ended_on": delivered.birth.isoformat(), "end_reason": "accouchement"})
        place = rng.choices(["ici", "domicile", "autre_formation", "en_route"], [72, 18, 8, 2])[0]
        mode = "cesarienne" if caesarean or rng.random() < 0.03 else (
            "instrumentale" if rng.random() < 0.02 else "voie_basse")
        complications = rng.choice(["hemorragie", "dystocie", "dechirure", "retention_placenta"]) \
            if rng.random() < 0.08 else ""
        self._visit("accouchement", mother, delivered.birth, ("sage_femme", "matrone"), place=place, mode=mode,
                    outcome="vivant", gestational_age_weeks=(delivered.birth - lmp).days // 7,
                    birth_weight_g=int(rng.gauss(3000, 420)), baby_sex=delivered.sex,
                    complications=complications, newborn=delivered.id, pregnancy=pregnancy_id,
                    attendant=rng.choices(["sage_femme", "matrone", "infirmier", "accoucheuse"], [50, 35, 5, 10])[0]
                    if place in ("ici", "autre_formation") else rng.choice(["accoucheuse", "autre"]))
        for number, day in enumerate((1, rng.randint(3, 7), 42)[: rng.randint(1, 3)], start=1):
            when = delivered.birth + dt.timedelta(days=day)
            if when > self.today:
                break
            self._visit("cpon", mother, when, ("sage_femme", "matrone"), subject="mere", contact_number=number,
                        temperature_c=round(rng.gauss(36.9, 0.3), 1), systolic=int(rng.gauss(115, 10)),
                        diastolic=int(rng.gauss(72, 7)), breastfeeding=True)
            self._visit("cpon", delivered, when, ("sage_femme", "matrone"), subject="nouveau_ne",
                        contact_number=number, temperature_c=round(rng.gauss(36.8, 0.3), 1),
                        weight_kg=round(max(1.5, rng.gauss(3.0, 0.4) + day * 0.02), 2), breastfeeding=True)

    def _family_planning(self, woman: _Person) -> None:
        rng = self.rng
        method, interval, quantity = _FP_METHODS.pick(rng)
        when = self._date_between(self.start, self.today - dt.timedelta(days=20))
        status = "nouvelle"
        while when <= self.today:
            next_date = when + dt.timedelta(days=interval) if interval else None
            self._visit("pf", woman, when, ("sage_femme", "matrone", "infirmier"), method=method,
                        user_status=status, quantity=quantity,
                        next_date=next_date.isoformat() if next_date else None)
            if not interval or rng.random() < 0.12:  # long-acting method, or stopped
                break
            status = "continue"
            when = next_date + dt.timedelta(days=rng.randint(-5, 25))

    def _chronic(self, person: _Person, programme: str) -> None:
        rng = self.rng
        when = self._date_between(self.start, self.today - dt.timedelta(days=30))
        base = rng.gauss(158, 15) if programme == "hta" else rng.gauss(132, 14)
        treatment = "Amlodipine 5 mg 1 cp/j" if programme == "hta" else "Metformine 500 mg 2 cp/j"
        while when <= self.today:
            systolic = int(base + rng.gauss(0, 10))
            next_date = when + dt.timedelta(days=rng.choice((28, 30, 60)))
            self._visit("chronique", person, when, ("medecin", "infirmier"), programme=programme, systolic=systolic,
                        diastolic=int(systolic * 0.6 + rng.gauss(0, 6)),
                        glucose_g_l=round(max(0.6, rng.gauss(1.65, 0.4)), 2) if programme == "diabete" else None,
                        fasting=True if programme == "diabete" else None,
                        weight_kg=self._weight(person, when, rng.gauss(0.3, 0.8))[0], treatment=treatment,
                        next_appointment=next_date.isoformat())
            base -= rng.uniform(0, 1.5)
            if rng.random() < 0.08:
                break
            when = next_date + dt.timedelta(days=rng.randint(-3, 40))

    def _consultations(self, person: _Person) -> None:
        rng = self.rng
        first = max(person.birth, self.start)
        years = (self.today - first).days / 365.25
        age = (self.today - person.birth).days / 365.25
        rate = 1.5 if age < 5 else 0.45 if age < 15 else 0.55
        count = int(rate * years + rng.random())
        if rng.random() < 0.15:
            count = 0  # some registered people never come back for an illness
        band = "under5" if age < 5 else "child" if age < 15 else "adult"
        for _ in range(count):
            when = self._date_between(first, self.today)
            rainy_malaria = 6 <= when.month <= 10 and rng.random() < 0.4  # the rainy season's peak
            code = "B50.9" if rainy_malaria else self.ref.diagnoses[band].pick(rng)
            feverish = code.startswith("B5") or code in ("J18.9", "A01.0")
            weight, _ = self._weight(person, when, rng.gauss(-0.3, 0.9))
            systolic = int(rng.gauss(118 + max(0.0, age - 30) * 0.5, 14)) if age >= 15 else None
            consultation_id = next(self.consultation_ids)
            self._visit("consultation", person, when, ("medecin", "infirmier", "infirmier"), id=consultation_id,
                        reason=self.ref.reasons[code],
                        temperature_c=round(rng.gauss(38.9, 0.6) if feverish else rng.gauss(36.9, 0.4), 1),
                        pulse_bpm=int(rng.gauss(110 if age < 5 else 84, 12)),
                        resp_rate=int(rng.gauss(36 if age < 5 else 18, 4)),
                        systolic=systolic, diastolic=int(systolic * 0.63 + rng.gauss(0, 5)) if systolic else None,
                        weight_kg=weight, diagnosis_code=code)
            for drug, dosage, quantity, days in self.ref.prescriptions[code]:
                self.tables["prescription"].add({"consultation": consultation_id, "drug": drug, "dosage": dosage,
                                                 "quantity": quantity, "duration_days": days})

    # driving ---------------------------------------------------------------------------------------

    def people(self, wanted: int) -> Iterator[int]:
        """Generate households until ``wanted`` patients exist; yields the count after each flush."""
        made = 0
        while made < wanted:
            made += len(self.household())
            if sum(len(table.rows) for table in self.tables.values()) >= FLUSH_ROWS:
                self.flush()
                yield made

    def flush(self) -> None:
        # Parents first: foreign keys are checked row by row.
        for name in ("household", "patient", "consultation", "prescription", "grossesse", "cpn", "accouchement",
                     "cpon", "vaccination", "croissance", "pf", "chronique", "deces"):
            self.tables[name].flush()


def populate(patients: int, seed: int, *, site_id: str = DEFAULT_SITE, today: dt.date | None = None,
             years: int = 3) -> DemoReport:
    """Generate about ``patients`` patients (whole households, so a few more) with ``years`` of
    visits, unless the record already holds patients. All in one transaction."""
    report = DemoReport()
    if patients <= 0 or Patient.select().exists():
        report.skipped = True
        return report
    began = time.perf_counter()
    users: dict[str, list[int]] = {}
    for user in User.select(User.id, User.role).where(User.active == True):  # noqa: E712
        users.setdefault(user.role, []).append(user.id)
    generator = _Generator(seed, today or dt.date.today(), years, site_id, users)
    with database.atomic():
        for _ in generator.people(patients):
            pass
        generator.flush()
        report.patients = generator.tables["patient"].count
        report.households = generator.tables["household"].count
        LocalNumberSequence.insert(prefix=generator.prefix, last_value=generator.next_serial - 1).on_conflict(
            conflict_target=[LocalNumberSequence.prefix],
            update={LocalNumberSequence.last_value: generator.next_serial - 1}).execute()
        report.rows = Counter({name: table.count for name, table in generator.tables.items()})
        record_event(system_actor("demo-data"), "demo_data", "patient",
                     reason=f"{report.patients} patients de démonstration (graine {seed}), "
                            f"{sum(report.rows.values())} lignes")
        recompute_all(generator.today)  # rows inserted past the visit hooks: derive the follow-up lists once
        _area_population(generator.today, years)
    report.seconds = time.perf_counter() - began
    return report


DEMO_COVERAGE_OF_AREA = 0.7  # the demo's records hold about 70 % of the area's inhabitants


def _area_population(today: dt.date, years: int) -> None:
    """The health area's inhabitants per village for each demo year (the head's figures, audited),
    so the coverage page of ``make run`` has its denominators."""
    from appliance.facility.population import record_village

    actor = system_actor("demo-data")
    villages = database.execute_sql(
        "SELECT MIN(village), COUNT(*) FROM patient WHERE voided = 0 GROUP BY village_key ORDER BY 1").fetchall()
    for year in range(today.year - years + 1, today.year + 1):
        for village, people in villages:
            record_village(actor, year, village, round(people / DEMO_COVERAGE_OF_AREA), "démonstration")


@click.command("demo-data")
@click.option("--patients", type=click.IntRange(min=0), default=3000, show_default=True,
              help="Nombre de patients à générer (familles entières : un peu plus).")
@click.option("--seed", type=int, default=2024, show_default=True, help="Graine : mêmes données à chaque fois.")
@click.option("--config", "config_path", envvar="APPLIANCE_CONFIG", type=click.Path(dir_okay=False),
              help="Fichier de configuration TOML.")
def demo_data_command(patients: int, seed: int, config_path: str | None) -> None:
    """Remplit un dossier vide avec des patients fictifs réalistes et crée les comptes de démonstration."""
    from appliance.commands import load_config_or_exit, open_store_or_exit

    cfg = load_config_or_exit(config_path)
    db = open_store_or_exit(cfg)
    try:
        credentials = ensure_demo_users()
        report = populate(patients, seed, site_id=cfg.site.id)
    finally:
        db.close()
    if report.skipped:
        click.echo("Le dossier contient déjà des patients : rien n'a été généré.")
    else:
        click.echo(f"{report.patients} patients dans {report.households} familles, "
                   f"{sum(report.rows.values()) - report.patients - report.households} visites et lignes "
                   f"en {report.seconds:.1f} s (graine {seed}).")
        for table, count in sorted(report.rows.items()):
            click.echo(f"  {table:<14} {count}")
    for username, password in credentials.items():
        click.echo(f"Compte créé : {username} / {password}")
