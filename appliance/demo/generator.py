"""The demo's households and their visits: who lives in a concession, and what each person's
record holds after a few years (CPN and deliveries, vaccination cards and growth, family planning,
hypertension and diabetes, curative consultations). Deterministic for a seed and a ``today``."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import peewee

from appliance.clinical import growth
from appliance.demo.bulk import Table
from appliance.demo.reference import load_reference
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

FLUSH_ROWS = 20_000
VARIANT_SPELLING_SHARE = 0.06
_FIVE_YEARS_DAYS = 1826  # under five, measurements follow the WHO tables the rules use (clinical/data/who)
_MALARIA_VACCINE_FROM = dt.date(2025, 4, 25)  # introduction in Mali's routine programme (epi_mali.toml)


@dataclass
class Person:
    id: int
    sex: str
    birth: dt.date
    family: str
    group: str
    mother: Person | None = None
    children: list[Person] = field(default_factory=list)


class Generator:
    """Households of the health area and their visits, drawn from one seeded stream."""

    def __init__(self, seed: int, today: dt.date, years: int, site_id: str, users: dict[str, list[int]]) -> None:
        self.rng = random.Random(seed)
        self.death_rng = random.Random(seed + 1)  # its own stream: the rest of the record is unchanged
        self.today = today
        self.start = today - dt.timedelta(days=round(365.25 * years))
        self.prefix = card_prefix(site_id)
        self.users = users
        self.ref = load_reference()
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
            "household": Table(Household, void),
            "patient": Table(Patient, {**void, "birth_date_estimated": False, "phone": "", "national_id": None,
                                        "mother": None, "merged_into": None, "registered_by": None,
                                        "registered_role": ""}),
            "consultation": Table(Consultation, {**visit, "treatment": "", "secondary_diagnosis_code": None}),
            "prescription": Table(Prescription, void),
            "grossesse": Table(Pregnancy, {**void, "ultrasound_on": None, "ultrasound_weeks": None,
                                            "previous_pph": False, "previous_stillbirth": False,
                                            "previous_pre_eclampsia": False, "multiple": False, "height_cm": None}),
            "cpn": Table(AntenatalVisit, {**visit, "danger_signs": "", "previous_caesarean": False,
                                           "iron_folic": True, "previous_pph": False, "previous_stillbirth": False,
                                           "previous_pre_eclampsia": False, "multiple_pregnancy": False,
                                           "net_given": False}),
            "accouchement": Table(Delivery, {**visit, "babies": 1, "complications": "", "newborn": None}),
            "cpon": Table(PostnatalVisit, {**visit, "danger_signs": ""}),
            "vaccination": Table(Immunisation, {**visit, "lot": "", "given_here": True}),
            "croissance": Table(GrowthMeasurement, {**visit, "oedema": False}),
            "pf": Table(FamilyPlanningVisit, {**visit}),
            "chronique": Table(ChronicVisit, {**visit, "treatment": ""}),
            "deces": Table(Death, {**visit, "cause": "", "incidental": False}),
        }

    # helpers -------------------------------------------------------------------------------------

    def _date_between(self, first: dt.date, last: dt.date) -> dt.date:
        span = (last - first).days
        return first + dt.timedelta(days=self.rng.randint(0, max(span, 0)))

    def _author(self, *roles: str) -> tuple[int | None, str]:
        role = roles[self.rng.randrange(len(roles))]
        ids = self.users.get(role) or [None]
        return ids[self.rng.randrange(len(ids))], role

    def _visit(self, table: str, person: Person, when: dt.date, roles: Sequence[str], **values) -> dict:
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

    def _add_patient(self, person: Person, first_names: str, village: str, household_id: int,
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

    def household(self) -> list[Person]:
        """One concession: the people, registered, with their visits."""
        rng = self.rng
        group = self.ref.groups.pick(rng)
        family = self.ref.family_names[group][rng.randrange(len(self.ref.family_names[group]))]
        village = self.ref.villages.pick(rng)
        household_id = next(self.household_ids)
        self.tables["household"].add({"id": household_id, "name": f"Famille {family}", "village": village,
                                      "village_key": normalize.place_key(village),
                                      "created_at": f"{self.start.isoformat()} 08:00:00"})
        people: list[Person] = []

        def add(person: Person, estimated: bool) -> Person:
            self._add_patient(person, self._first_name(person.sex, person.group), village, household_id, estimated)
            people.append(person)
            return person

        head_age = rng.triangular(22, 75, 35)
        grandmother = None
        if head_age < 50 and rng.random() < 0.3:
            grandmother = add(Person(next(self.patient_ids), "F", self._birth(head_age + rng.uniform(18, 32)),
                                      family, group), estimated=True)
        head = add(Person(next(self.patient_ids), "M", self._birth(head_age), family, group, mother=grandmother),
                   estimated=True)
        if rng.random() < 0.35:  # a younger brother, a cousin or a widowed aunt living in the concession
            relative_sex = "M" if rng.random() < 0.6 else "F"
            add(Person(next(self.patient_ids), relative_sex, self._birth(rng.uniform(18, 60)), family, group),
                estimated=True)
        wives = 1 + (rng.random() < 0.28) + (rng.random() < 0.07)
        for _ in range(wives):
            wife_group = group if rng.random() < 0.8 else self.ref.groups.pick(rng)
            wife_family = self.ref.family_names[wife_group][rng.randrange(len(self.ref.family_names[wife_group]))]
            wife_age = max(16.0, min(head_age - rng.uniform(2, 18), 49.0))
            wife = add(Person(next(self.patient_ids), "F", self._birth(wife_age), wife_family, wife_group),
                       estimated=rng.random() < 0.6)
            self._children(wife, head, add)
        for person in people:
            self._visits(person)
        if grandmother is not None and self.death_rng.random() < 0.1:  # an old woman died at home today
            self.tables["deces"].add({"patient": grandmother.id, "visit_date": self.today.isoformat(), "author": None,
                                      "author_role": "", "recorded_at": f"{self.today.isoformat()} 09:00:00",
                                      "category": "autre", "place": "domicile"})
        return people

    def _children(self, mother: Person, father: Person, add) -> None:
        rng = self.rng
        when = mother.birth + dt.timedelta(days=int(365.25 * rng.uniform(16.5, 21)))
        limit = min(self.today, mother.birth + dt.timedelta(days=int(365.25 * 44)))
        while when <= limit:
            age = (self.today - when).days / 365.25
            # Some children died or were never registered; older ones have often left (married,
            # working in town).
            if rng.random() < (0.8 if age < 15 else 0.55 if age < 25 else 0.1):
                sex = "F" if rng.random() < 0.49 else "M"
                child = add(Person(next(self.patient_ids), sex, when, father.family, father.group, mother=mother),
                            estimated=age > 5 and rng.random() < 0.5)
                mother.children.append(child)
            when += dt.timedelta(days=int(365.25 * rng.uniform(1.9, 3.4)))
        last = mother.children[-1].birth if mother.children else None
        age_now = (self.today - mother.birth).days / 365.25
        if age_now < 44 and (last is None or (self.today - last).days > 450) and rng.random() < 0.35:
            self._pregnancy(mother, lmp=self.today - dt.timedelta(days=rng.randint(42, 250)), delivered=None)

    # visits ----------------------------------------------------------------------------------------

    def _visits(self, person: Person) -> None:
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

    def _weight(self, person: Person, when: dt.date, z: float) -> tuple[float, float]:
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

    def _child_care(self, child: Person) -> None:
        rng = self.rng
        dropout = rng.random() * 0.25
        delay = 0
        from_card = child.birth < self.start
        contacts = set()
        for antigen, dose, age in self.ref.epi:
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

    def _pregnancy(self, mother: Person, lmp: dt.date, delivered: Person | None) -> None:
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
            if week >= self.ref.sp_from_week and sp_doses < 5:
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

    def _family_planning(self, woman: Person) -> None:
        rng = self.rng
        method = self.ref.fp_methods.pick(rng)
        when = self._date_between(self.start, self.today - dt.timedelta(days=20))
        status = "nouvelle"
        while when <= self.today:
            next_date = method.next_date(when)
            self._visit("pf", woman, when, ("sage_femme", "matrone", "infirmier"), method=method.code,
                        user_status=status, quantity=method.quantity,
                        next_date=next_date.isoformat() if next_date else None)
            if next_date is None or rng.random() < 0.12:  # long-acting method, or stopped
                break
            status = "continue"
            when = next_date + dt.timedelta(days=rng.randint(-5, 25))

    def _chronic(self, person: Person, programme: str) -> None:
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

    def _consultations(self, person: Person) -> None:
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
