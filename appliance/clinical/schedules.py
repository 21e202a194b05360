"""Follow-up schedule engine: from plain facts about one patient to the items that are due.

Every item has a stable id ``patient~rule~due_date`` (the CHT task id idea): recomputing the
schedule after a visit yields the same ids for what is still open, so the EMR can replace a
patient's stored items without ever listing one twice, and an item disappears as soon as the
visit that closes it is recorded. Items carry only dates (due, overdue, expiry), never a status,
so the EMR can store them in an indexed table at visit-write time and a worklist becomes a query:
``due_on <= end_of_week AND (expires_on IS NULL OR expires_on > today)``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from appliance.clinical import postnatal_alerts
from appliance.clinical.pcime import formulary
from appliance.clinical.schedule_data import (
    FILES,
    AncSchedule,
    ChronicSchedule,
    DoseRule,
    Duration,
    EpiCalendar,
    FpSchedule,
    GrowthSchedule,
    PncSchedule,
    Programme,
    Schedules,
    VaccineSeries,
    load_schedules,
)

REPEAT_SPACING = Duration(weeks=4)  # an invalid dose is repeated at least 4 weeks after it (WHO)

Status = Literal["a_venir", "du", "en_retard", "expire"]


@dataclass(frozen=True, slots=True)
class GivenDose:
    """A vaccine dose, given here or read from the child's card (``elsewhere``).

    ``given_on`` None means the card shows the dose without a readable date: it counts, and the
    next dose is timed as if it had been given at its recommended age.
    """

    code: str
    given_on: date | None
    elsewhere: bool = False


@dataclass(frozen=True, slots=True)
class Pregnancy:
    lmp: date  # date des dernières règles (DDR)
    contacts: tuple[date, ...] = ()  # CPN already done, here or elsewhere
    ended_on: date | None = None  # delivery or loss: no more CPN
    sp_doses: tuple[date, ...] = ()  # SP (IPTp) given in this pregnancy
    td_doses: tuple[date, ...] = ()  # every Td dose of her life (CPN form or vaccination register)
    net_given: bool = False  # MILD given in this pregnancy
    iron_supplies: tuple[tuple[date, int | None], ...] = ()  # iron/folic acid given: (date, tablets)


@dataclass(frozen=True, slots=True)
class FamilyPlanning:
    method: str  # a code of data/family_planning.toml
    last_supply_on: date  # last resupply, injection or insertion
    quantity: int | None = None  # units given (pill cycles) for per-unit methods


@dataclass(frozen=True, slots=True)
class ChronicCare:
    condition: str  # a code of data/chronic.toml
    last_visit_on: date
    next_appointment_on: date | None = None  # chosen by the clinician; wins over the default
    controlled: bool | None = None


@dataclass(frozen=True, slots=True)
class PostnatalContact:
    """A CPoN recorded for this person; ``number`` is the contact number staff typed, if any."""

    on: date
    number: int | None = None


@dataclass(frozen=True, slots=True)
class Postnatal:
    """The weeks after a birth: the mother after her latest delivery, or a newborn whose record
    was opened from a recorded delivery. ``contacts`` are the CPoN recorded on this person's record."""

    subject: Literal["mere", "nouveau_ne"]
    born_on: date
    contacts: tuple[PostnatalContact, ...] = ()
    weights: tuple[tuple[date, int], ...] = ()  # a newborn's weighings in grams, birth weight first


@dataclass(frozen=True, slots=True)
class PatientFacts:
    patient_id: str | int
    birth_date: date | None
    sex: Literal["M", "F"] | None = None
    doses: tuple[GivenDose, ...] = ()
    last_weighed_on: date | None = None
    pregnancy: Pregnancy | None = None
    family_planning: FamilyPlanning | None = None
    chronic: tuple[ChronicCare, ...] = ()
    postnatal: Postnatal | None = None
    preventive_given: tuple[tuple[str, date], ...] = ()  # (treatment of pcime_doses.toml [[preventive]], given on)


@dataclass(frozen=True, slots=True)
class DueItem:
    """One thing to do for one patient. Dates only, so it can be stored and queried as is.

    ``expires_on`` is the first day on which the item no longer applies (age limit passed, next
    CPN contact taken over, end of a vaccination season); None when it never expires by itself.
    """

    id: str
    patient_id: str
    programme: str
    rule_id: str
    label: str
    due_on: date
    overdue_on: date
    expires_on: date | None
    priority: int
    note: str | None = None

    def status(self, today: date) -> Status:
        if self.expires_on is not None and today >= self.expires_on:
            return "expire"
        if today >= self.overdue_on:
            return "en_retard"
        if today >= self.due_on:
            return "du"
        return "a_venir"

    @property
    def sort_key(self) -> tuple[date, int, date, str]:
        """Most urgent first: the longest overdue, then the programme priority, then the label."""
        return (self.overdue_on, self.priority, self.due_on, self.rule_id)


@dataclass(frozen=True, slots=True)
class InvalidDose:
    """A recorded dose that does not count (too early, too close, unknown vaccine, bad date)."""

    code: str
    given_on: date | None
    reason: str


@dataclass(frozen=True, slots=True)
class Missed:
    """A scheduled item that can no longer be done (age limit passed), for the patient chart."""

    rule_id: str
    label: str
    expired_on: date


@dataclass(frozen=True, slots=True)
class FollowUp:
    items: tuple[DueItem, ...]
    invalid_doses: tuple[InvalidDose, ...] = ()
    missed: tuple[Missed, ...] = ()
    warnings: tuple[str, ...] = ()  # facts the schedules do not know (method removed from a data file)

    def next_due(self) -> dict[str, date]:
        """Earliest open due date per programme: what the EMR stores indexed with the visit."""
        earliest: dict[str, date] = {}
        for item in self.items:
            if item.programme not in earliest or item.due_on < earliest[item.programme]:
                earliest[item.programme] = item.due_on
        return earliest


def follow_up(facts: PatientFacts, today: date, schedules: Schedules | None = None) -> FollowUp:
    """Everything due for one patient, sorted by urgency. Items already expired today are left out."""
    schedules = schedules or load_schedules()
    builder = _Builder(str(facts.patient_id), today)
    if facts.birth_date is not None:
        _vaccines(builder, schedules.epi, facts)
        _growth(builder, schedules.growth, facts.birth_date, facts.last_weighed_on)
        _preventive(builder, schedules.growth, facts.birth_date, facts.preventive_given)
    if facts.pregnancy is not None and facts.sex != "M":
        _antenatal(builder, schedules.anc, facts.pregnancy)
        _antenatal_prevention(builder, schedules.anc, facts.pregnancy)
    if facts.family_planning is not None:
        _family_planning(builder, schedules.family_planning, facts.family_planning)
    for care in facts.chronic:
        _chronic(builder, schedules.chronic, care)
    if facts.postnatal is not None:
        _postnatal(builder, schedules.postnatal, facts.postnatal)
        if facts.postnatal.subject == "nouveau_ne":
            _low_birth_weight(builder, schedules.postnatal, facts.postnatal)
    builder.items.sort(key=lambda item: item.sort_key)
    return FollowUp(items=tuple(builder.items), invalid_doses=tuple(builder.invalid),
                    missed=tuple(builder.missed), warnings=tuple(builder.warnings))


def next_due_by_programme(facts: PatientFacts, today: date,
                          schedules: Schedules | None = None) -> dict[str, date]:
    """Shortcut for ``follow_up(...).next_due()``."""
    return follow_up(facts, today, schedules).next_due()


class _Builder:
    def __init__(self, patient_id: str, today: date) -> None:
        self.patient_id = patient_id
        self.today = today
        self.items: list[DueItem] = []
        self.invalid: list[InvalidDose] = []
        self.missed: list[Missed] = []
        self.warnings: list[str] = []

    def add(self, programme: Programme, rule: str, label: str, due_on: date, *, grace: Duration | None = None,
            expires_on: date | None = None, note: str | None = None) -> None:
        overdue_on = (grace or programme.grace).after(due_on)
        if overdue_on == due_on:
            overdue_on = due_on + timedelta(days=1)
        if programme.drop_after is not None:
            dropped_on = programme.drop_after.after(due_on)
            expires_on = dropped_on if expires_on is None else min(expires_on, dropped_on)
        if expires_on is not None and expires_on <= self.today:
            return
        rule_id = f"{programme.code}.{rule}"
        self.items.append(DueItem(
            id=f"{self.patient_id}~{rule_id}~{due_on.isoformat()}", patient_id=self.patient_id,
            programme=programme.code, rule_id=rule_id, label=label, due_on=due_on, overdue_on=overdue_on,
            expires_on=expires_on, priority=programme.priority, note=note,
        ))


def _vaccines(builder: _Builder, epi: EpiCalendar, facts: PatientFacts) -> None:
    birth = facts.birth_date
    assert birth is not None
    series_doses: dict[str, list[GivenDose]] = defaultdict(list)
    for dose in facts.doses:
        series_id = epi.series_of.get(dose.code)
        if series_id is None:
            builder.invalid.append(InvalidDose(dose.code, dose.given_on, "vaccin absent du calendrier"))
        else:
            series_doses[series_id].append(dose)
    if _past_every_age_limit(epi, birth, builder.today):
        return  # an adult: nothing to schedule, nothing worth reporting as missed
    for series in epi.series:
        if series.active:
            _series(builder, epi, series, series_doses.get(series.id, []), birth)


def _past_every_age_limit(epi: EpiCalendar, birth: date, today: date) -> bool:
    limits = [dose.max_age for series in epi.series if series.active for dose in series.doses]
    return all(limit is not None and today >= limit.after(birth) for limit in limits)


def _series(builder: _Builder, epi: EpiCalendar, series: VaccineSeries, records: list[GivenDose],
            birth: date) -> None:
    """Walk the recorded doses in date order, slot by slot, then schedule the first missing dose.

    Doses are matched to the series in date order rather than by the number written on the card,
    so a card showing Penta 1 and Penta 3 counts two doses and asks for the third.
    """
    rules = series.doses
    slot = 0
    previous: tuple[DoseRule, date] | None = None
    last_invalid: date | None = None
    by_date = sorted(records, key=lambda dose: dose.given_on or epi.dose(dose.code).age.after(birth))
    for record in by_date:
        if slot == len(rules):
            break  # extra doses beyond the series change nothing
        rule = rules[slot]
        if record.given_on is None:
            previous = (rule, _earliest(rule, birth, previous))
            slot += 1
            continue
        reason = _invalid_reason(rule, record.given_on, birth, previous, builder.today)
        if reason is not None:
            builder.invalid.append(InvalidDose(record.code, record.given_on, reason))
            last_invalid = record.given_on
            continue
        previous = (rule, record.given_on)
        last_invalid = None
        slot += 1
    if slot == len(rules):
        return
    rule = rules[slot]
    earliest = _earliest(rule, birth, previous)
    note = None
    if last_invalid is not None:
        earliest = max(earliest, (rule.min_interval or REPEAT_SPACING).after(last_invalid))
        note = "dose à refaire (dose précédente non valide)"
    expires_on = rule.max_age.after(birth) if rule.max_age is not None else None
    if expires_on is not None and (earliest >= expires_on or expires_on <= builder.today):
        builder.missed.append(Missed(f"{epi.programme.code}.{rule.code}", rule.label, expires_on))
    elif rule.season is not None:
        _seasonal(builder, epi.programme, rule, earliest, expires_on, note)
    else:
        builder.add(epi.programme, rule.code, rule.label, earliest, expires_on=expires_on, note=note)


def _earliest(rule: DoseRule, birth: date, previous: tuple[DoseRule, date] | None) -> date:
    """Catch-up rule: due at the recommended age, but never before the minimum interval allows."""
    earliest = max(rule.age.after(birth), rule.min_age.after(birth))
    if previous is not None and rule.min_interval is not None:
        earliest = max(earliest, rule.min_interval.after(previous[1]))
    return earliest


def _invalid_reason(rule: DoseRule, given_on: date, birth: date, previous: tuple[DoseRule, date] | None,
                    today: date) -> str | None:
    if given_on < birth:
        return "date avant la naissance"
    if given_on > today:
        return "date dans le futur"
    minimum = rule.min_age.after(birth)
    if given_on < minimum:
        return (f"{rule.label} trop tôt : à {(given_on - birth).days} jours, "
                f"âge minimum {(minimum - birth).days} jours")
    if previous is not None and rule.min_interval is not None:
        previous_rule, previous_date = previous
        gap = (given_on - previous_date).days
        minimum_gap = (rule.min_interval.after(previous_date) - previous_date).days
        if gap < minimum_gap:
            return (f"{rule.label} trop proche de {previous_rule.label} : "
                    f"{gap} jours après, minimum {minimum_gap} jours")
    return None


def _seasonal(builder: _Builder, programme: Programme, rule: DoseRule, earliest: date,
              expires_on: date | None, note: str | None) -> None:
    """One item per vaccination season until the age limit, each expiring when its season ends."""
    assert rule.season is not None
    year = earliest.year
    while True:
        start, end = rule.season.window(year)
        year += 1
        if end < earliest:
            continue
        due_on = max(start, earliest)
        if expires_on is not None and due_on >= expires_on:
            return
        season_over = end + timedelta(days=1)
        closes = season_over if expires_on is None else min(season_over, expires_on)
        builder.add(programme, rule.code, rule.label, due_on, expires_on=closes, note=note)
        if year > earliest.year + 5:  # a series without age limit: plan the next few seasons only
            return


def _growth(builder: _Builder, growth: GrowthSchedule, birth: date, last_weighed_on: date | None) -> None:
    end = growth.max_age.after(birth)
    if last_weighed_on is None:
        due_on = birth
    else:
        interval = next(
            (band.interval for band in growth.bands if last_weighed_on < band.until_age.after(birth)),
            growth.bands[-1].interval,
        )
        due_on = interval.after(last_weighed_on)
    if due_on < end:
        builder.add(growth.programme, "pesee", growth.action, due_on, expires_on=end)


def _preventive(builder: _Builder, growth: GrowthSchedule, birth: date,
                given: tuple[tuple[str, date], ...]) -> None:
    """Vitamin A and albendazole on the child's list (growth and nutrition), by age and interval
    from ``pcime_doses.toml``'s [[preventive]] (WHO 2011, 2017): due from the first age, again
    ``every_months`` after the last dose, no more from the upper age."""
    for entry in formulary().preventive:
        start = Duration(months=int(entry.from_months)).after(birth)
        end = Duration(months=int(entry.below_months)).after(birth)
        last = max((day for code, day in given if code == entry.treatment), default=None)
        due_on = max(start, Duration(months=int(entry.every_months)).after(last)) if last else start
        if due_on < end:
            builder.add(growth.programme, entry.treatment, entry.label, due_on, expires_on=end)


def _antenatal(builder: _Builder, anc: AncSchedule, pregnancy: Pregnancy) -> None:
    if pregnancy.ended_on is not None:
        return
    last_contact = max(pregnancy.contacts, default=None)
    not_before = anc.min_gap.after(last_contact) if last_contact else pregnancy.lmp
    planned = [contact for contact in anc.contacts
               if pregnancy.lmp + timedelta(weeks=contact.week) >= not_before]
    end = pregnancy.lmp + timedelta(weeks=anc.end_at_week)
    for index, contact in enumerate(planned):
        due_on = pregnancy.lmp + timedelta(weeks=contact.week)
        following = planned[index + 1] if index + 1 < len(planned) else None
        superseded = pregnancy.lmp + timedelta(weeks=following.week) if following else end
        builder.add(anc.programme, f"sa{contact.week}", contact.label, due_on, expires_on=superseded)


def _antenatal_prevention(builder: _Builder, anc: AncSchedule, pregnancy: Pregnancy) -> None:
    """SP from 13 weeks a month apart, the next Td of her life, the net at the first contact, and
    iron/folic acid when the last supply runs out: each closed by the contact that gives it."""
    if pregnancy.ended_on is not None:
        return
    rules = anc.prevention
    end = pregnancy.lmp + timedelta(weeks=anc.end_at_week)
    first_contact = min(pregnancy.contacts, default=pregnancy.lmp)
    sp_number = len(pregnancy.sp_doses) + 1
    sp_due = pregnancy.lmp + timedelta(weeks=rules.sp_from_week)
    if pregnancy.sp_doses:
        sp_due = max(sp_due, rules.sp_min_interval.after(max(pregnancy.sp_doses)))
    builder.add(anc.programme, f"tpi{sp_number}", rules.sp_label.format(number=sp_number), sp_due, expires_on=end)
    given = sorted(pregnancy.td_doses)
    if len(given) < 5:
        td_due = first_contact if not given else max(first_contact, rules.td_intervals[len(given) - 1].after(given[-1]))
        builder.add(anc.programme, f"td{len(given) + 1}", rules.td_label.format(number=len(given) + 1), td_due,
                    expires_on=end)
    if not pregnancy.net_given:
        builder.add(anc.programme, "mild", rules.net_label, first_contact, expires_on=end)
    if pregnancy.iron_supplies:
        last_on, tablets = max(pregnancy.iron_supplies)
        iron_due = last_on + timedelta(days=tablets or rules.iron_default_tablets)
    else:
        iron_due = first_contact
    builder.add(anc.programme, "fer", rules.iron_label, iron_due, expires_on=end)


def _family_planning(builder: _Builder, schedule: FpSchedule, plan: FamilyPlanning) -> None:
    method = schedule.methods.get(plan.method)
    if method is None:
        builder.warnings.append(f"méthode PF « {plan.method} » absente de {FILES['family_planning']}")
        return
    times = (plan.quantity or method.default_quantity) if method.per_unit else 1
    due_on = method.interval.after(plan.last_supply_on, times=times)
    builder.add(schedule.programme, plan.method, method.action, due_on, grace=method.grace)


def _chronic(builder: _Builder, schedule: ChronicSchedule, care: ChronicCare) -> None:
    condition = schedule.conditions.get(care.condition)
    if condition is None:
        builder.warnings.append(f"suivi chronique « {care.condition} » absent de {FILES['chronic']}")
        return
    if care.next_appointment_on is not None:
        due_on = care.next_appointment_on
    else:
        interval = condition.interval_controlled if care.controlled else condition.interval_not_controlled
        due_on = interval.after(care.last_visit_on)
    builder.add(schedule.programme, care.condition, condition.action, due_on)


def _low_birth_weight(builder: _Builder, schedule: PncSchedule, care: Postnatal) -> None:
    """A baby born under the low-birth-weight threshold is weighed at the rhythm of
    ``newborn_danger.toml`` until it weighs the threshold or more (or reaches the age limit)."""
    if not care.weights:
        return
    rules = postnatal_alerts.low_birth_weight()
    birth_weight = care.weights[0][1]
    last_on, last_weight = max(care.weights)
    if birth_weight >= rules.below_g or last_weight >= rules.below_g:
        return
    builder.add(schedule.programme, "petit_poids", rules.label, last_on + timedelta(days=rules.weigh_every_days),
                expires_on=care.born_on + timedelta(days=rules.until_days))


def _postnatal(builder: _Builder, schedule: PncSchedule, care: Postnatal) -> None:
    """WHO's postnatal contacts (data/postnatal.toml) not yet recorded. A CPoN closes the contact
    of its number, or, without a number, the contact whose window holds its date; a missed
    contact stays "en retard" until the next one is due (the last one until ``end_after``)."""
    born = care.born_on
    dues = [contact.due.after(born) for contact in schedule.contacts]
    ends = [*dues[1:], schedule.end_after.after(born)]
    numbers = {contact.number for contact in schedule.contacts}
    done: set[int] = set()
    for visit in care.contacts:
        if visit.on < born:
            continue  # a CPoN of an earlier birth
        if visit.number in numbers:
            done.add(visit.number)  # type: ignore[arg-type]
            continue
        for contact, due_on, end in zip(schedule.contacts, dues, ends, strict=True):
            if due_on <= visit.on < end:
                done.add(contact.number)
    for contact, due_on, end in zip(schedule.contacts, dues, ends, strict=True):
        if contact.number in done:
            continue
        grace = Duration(days=(contact.overdue.after(born) - due_on).days)
        builder.add(schedule.programme, f"{care.subject}{contact.number}", contact.labels[care.subject], due_on,
                    grace=grace, expires_on=end)
