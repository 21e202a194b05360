"""The worklist, alert and household-visit queries: each one an index range scan, never a scan
of every patient. Status (due, overdue) is derived here from the stored dates and today's date.

The pages a nurse opens many times a day (worklist, alerts) use plain SQL: building the same
statements through the ORM cost more than running them, which matters on a Pi.
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import peewee

from appliance.followup.contacts import ContactSummary, summaries
from appliance.followup.models import FollowupPatient
from appliance.patients import normalize
from appliance.patients.models import GrowthMeasurement, Household
from appliance.patients.registry import known_villages
from appliance.patients.search import HIT_COLUMNS, PatientHit
from appliance.store.db import database

HORIZON_DAYS = 7  # "due this week": what falls due within the next seven days
PAGE_EXTENSION = 12  # a page may run this many items over to keep a patient's items together


@dataclass(frozen=True)
class DueView:
    id: str
    programme: str
    label: str
    due_on: dt.date
    overdue_on: dt.date
    note: str | None
    today: dt.date
    remind_on: dt.date | None = None  # off the call lists until then (a contact's promise)

    @property
    def on_hold(self) -> bool:
        return self.remind_on is not None and self.remind_on > self.today

    @property
    def status(self) -> str:
        if self.today >= self.overdue_on:
            return "en_retard"
        return "du" if self.today >= self.due_on else "a_venir"

    @property
    def days_late(self) -> int:
        """Days since the due date (negative: not due yet)."""
        return (self.today - self.due_on).days


# The identity a list shows (the chart has the rest): the same plain line as a search result.
_PERSON_SQL = f"SELECT {', '.join(HIT_COLUMNS)} FROM patient WHERE id IN ({{}})"


@dataclass
class PatientLine:
    """One patient on a list, with what the community health worker needs to find them."""

    patient: PatientHit
    mother: PatientHit | None = None
    household: str = ""
    items: list[DueView] = field(default_factory=list)
    alerts: list[AlertView] = field(default_factory=list)
    contacts: ContactSummary | None = None  # worklists: the attempts to reach them this round

    @property
    def contact_phone(self) -> str:
        return self.patient.phone or (self.mother.phone if self.mother else "")

    @property
    def phone_wrong(self) -> bool:
        return bool(self.contacts and self.contact_phone in self.contacts.wrong_numbers)


@dataclass
class Page:
    lines: list[PatientLine]
    page: int = 0
    has_next: bool = False
    next_cursor: str | None = None  # worklists: where the next page starts


def horizon(today: dt.date) -> dt.date:
    return today + dt.timedelta(days=HORIZON_DAYS)


_URGENCY = "overdue_on, priority, patient_id, id"
_OPEN = "due_on <= ? AND (expires_on IS NULL OR expires_on > ?)"
# On the lists staff call from: open, and no promise or refusal holds the item off until later.
_LISTED = f"{_OPEN} AND (remind_on IS NULL OR remind_on <= ?)"


def worklist(programmes: Sequence[str], today: dt.date, *, village_key: str | None = None,
             after: str | None = None, per_page: int = 30) -> Page:
    """Overdue and soon-due items, most urgent first (longest overdue, then programme priority).

    One ordered range per programme, read from the index alone, merged; then only the items
    shown are read from the table: a page costs a few dozen index entries whatever the size of
    the record. Pages follow each other by the last item's sort key rather than an offset, so an
    item recorded meanwhile cannot push another onto two pages. A page ends on a patient boundary
    where it can, so a child's doses of one day stay together.
    """
    sql = f"SELECT {_URGENCY} FROM followup_item WHERE programme = ? AND {_LISTED}"
    params: list = [horizon(today).isoformat(), today.isoformat(), today.isoformat()]
    if village_key:
        sql += " AND village_key = ?"
        params.append(village_key)
    cursor = _parse_cursor(after)
    if cursor is not None:
        sql += f" AND ({_URGENCY}) > (?, ?, ?, ?)"
        params += cursor
    wanted = per_page + PAGE_EXTENSION + 1
    sql += f" ORDER BY {_URGENCY} LIMIT {wanted}"
    streams = [database.execute_sql(sql, [programme, *params]).fetchall() for programme in dict.fromkeys(programmes)]
    keys = list(itertools.islice(heapq.merge(*streams), wanted))  # ISO dates sort as text
    end = min(per_page, len(keys))
    while 0 < end < len(keys) - 1 and keys[end][2] == keys[end - 1][2]:
        end += 1
    shown = keys[:end]
    has_next = len(keys) > end
    ids = [key[3] for key in shown]
    rows = {row[0]: row for row in database.execute_sql(
        f"SELECT id, patient_id, programme, label, due_on, overdue_on, note FROM followup_item "
        f"WHERE id IN ({', '.join('?' for _ in ids)})", ids)} if ids else {}
    return Page(_with_contacts(_group([rows[item_id] for item_id in ids], today)), has_next=has_next,
                next_cursor="|".join(map(str, shown[-1])) if has_next and shown else None)


def _parse_cursor(text: str | None) -> list | None:
    """The sort key of the last item shown; None (first page) if missing or malformed."""
    parts = (text or "").split("|")
    if len(parts) != 4 or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    try:
        overdue_on = dt.date.fromisoformat(parts[0])
    except ValueError:
        return None
    return [overdue_on.isoformat(), int(parts[1]), int(parts[2]), parts[3]]


def village_worklist(programmes: Sequence[str], today: dt.date, *, village_key: str,
                     limit: int = 400) -> tuple[list[PatientLine], bool]:
    """The printable list of one village: its open items grouped by household and patient, so
    a health worker visits each family once."""
    marks = ", ".join("?" for _ in programmes)
    rows = database.execute_sql(
        f"SELECT id, patient_id, programme, label, due_on, overdue_on, note FROM followup_item "
        f"WHERE village_key = ? AND programme IN ({marks}) AND {_LISTED} "
        f"ORDER BY household_id, patient_id, {_URGENCY} LIMIT ?",
        [village_key, *programmes, horizon(today).isoformat(), today.isoformat(), today.isoformat(), limit + 1]
    ).fetchall()
    return _with_contacts(_group(rows[:limit], today)), len(rows) > limit


def _group(rows: Sequence[tuple], today: dt.date) -> list[PatientLine]:
    """One line per patient, in the order of the patient's first item."""
    lines = _patients(row[1] for row in rows)
    for item_id, patient_id, programme, label, due_on, overdue_on, note in rows:
        lines[patient_id].items.append(DueView(item_id, programme, label, _date(due_on), _date(overdue_on), note,
                                               today))
    return list(lines.values())


def _with_contacts(lines: list[PatientLine]) -> list[PatientLine]:
    """Each line's attempts since its first item came within a week of being due (one round of
    follow-up: older calls were about other appointments)."""
    since = {line.patient.id: min(item.due_on for item in line.items) - dt.timedelta(days=HORIZON_DAYS)
             for line in lines if line.items}
    found = summaries(since)
    for line in lines:
        line.contacts = found.get(line.patient.id)
    return lines


@dataclass(frozen=True)
class AlertView:
    id: str
    patient_id: int
    kind: str
    severity: str
    label: str
    reasons: tuple[str, ...]
    since: dt.date


_ALERT_SQL = "SELECT id, patient_id, kind, severity, label, reasons, since FROM followup_alert WHERE expires_on > ?"


def _alert(row: tuple) -> AlertView:
    alert_id, patient_id, kind, severity, label, reasons, since = row
    return AlertView(alert_id, patient_id, kind, severity, label, tuple(filter(None, reasons.split("\n"))),
                     _date(since))


def alerts(today: dt.date, *, kind: str | None = None, village_key: str | None = None, page: int = 0,
           per_page: int = 25) -> Page:
    """Current alerts, most severe first, then the most recent (one index range, in order)."""
    sql, params = _ALERT_SQL, [today.isoformat()]
    if kind:
        sql += " AND kind = ?"
        params.append(kind)
    if village_key:
        sql += " AND village_key = ?"
        params.append(village_key)
    sql += " ORDER BY severity_rank, since DESC, id LIMIT ? OFFSET ?"
    rows = [_alert(row) for row in database.execute_sql(sql, [*params, per_page + 1, page * per_page])]
    lines = _patients(alert.patient_id for alert in rows[:per_page])
    for alert in rows[:per_page]:
        lines[alert.patient_id].alerts.append(alert)
    return Page(list(lines.values()), page, len(rows) > per_page)


def patient_alerts(patient_id: int, today: dt.date) -> list[AlertView]:
    return [_alert(row) for row in database.execute_sql(
        f"{_ALERT_SQL} AND patient_id = ? ORDER BY severity_rank", (today.isoformat(), patient_id))]


def patient_items(patient_id: int, today: dt.date) -> list[DueView]:
    """The patient's overdue and soon-due items, for the chart: those a contact holds off the call
    lists too (the patient is here), with their reminder date."""
    rows = database.execute_sql(
        f"SELECT id, programme, label, due_on, overdue_on, note, remind_on FROM followup_item "
        f"WHERE patient_id = ? AND {_OPEN} ORDER BY {_URGENCY}",
        (patient_id, horizon(today).isoformat(), today.isoformat())).fetchall()
    return [DueView(item_id, programme, label, _date(due_on), _date(overdue_on), note, today,
                    _date(remind_on) if remind_on else None)
            for item_id, programme, label, due_on, overdue_on, note, remind_on in rows]


def growth_points(patient_id: int) -> list[tuple[dt.date, float | None, float | None]]:
    """(date, weight kg, length/height cm) of every measurement, oldest first."""
    return list(GrowthMeasurement.select(GrowthMeasurement.visit_date, GrowthMeasurement.weight_kg,
                                         GrowthMeasurement.height_cm)
                .where((GrowthMeasurement.patient == patient_id) & (GrowthMeasurement.voided == False))  # noqa: E712
                .order_by(GrowthMeasurement.visit_date).tuples())


def growth_counts(patient_id: int) -> tuple[int, int]:
    """How many weights and how many lengths/heights the patient has on record."""
    return database.execute_sql(
        "SELECT COUNT(weight_kg), COUNT(height_cm) FROM growth_measurement WHERE patient_id = ? AND voided = 0",
        (patient_id,)).fetchone()


def _date(value: str | dt.date) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _people(ids: Iterable[int]) -> dict[int, PatientHit]:
    wanted = list(ids)
    if not wanted:
        return {}
    rows = database.execute_sql(_PERSON_SQL.format(", ".join("?" for _ in wanted)), wanted).fetchall()
    return {row[0]: PatientHit.from_row(row) for row in rows}


def _patients(ids: Iterable[int]) -> dict[int, PatientLine]:
    """Fresh lines for these patients, in the order given, with their mother and household names."""
    wanted = list(dict.fromkeys(ids))
    people = _people(wanted)
    mothers = _people({person.mother_id for person in people.values() if person.mother_id})
    household_ids = list({person.household_id for person in people.values() if person.household_id})
    households = dict(database.execute_sql(
        f"SELECT id, name FROM household WHERE id IN ({', '.join('?' for _ in household_ids)})",
        household_ids).fetchall()) if household_ids else {}
    return {pid: PatientLine(people[pid], mothers.get(people[pid].mother_id),
                             households.get(people[pid].household_id, ""))
            for pid in wanted if pid in people}


# --- Families seen this month -----------------------------------------------------------------------


@dataclass(frozen=True)
class VillageVisits:
    village_key: str
    village: str
    households: int
    seen: int


@dataclass(frozen=True)
class HouseholdVisits:
    id: int
    name: str
    members: int
    last_visit_on: dt.date | None
    seen: bool


def month_start(today: dt.date) -> dt.date:
    return today.replace(day=1)


def village_visits(today: dt.date) -> list[VillageVisits]:
    """Per village: households, and how many had a member seen (any visit) since the 1st."""
    live = Household.voided == False  # noqa: E712
    seen = dict(FollowupPatient.select(Household.village_key, peewee.fn.COUNT(FollowupPatient.household_id.distinct()))
                .join(Household, on=(Household.id == FollowupPatient.household_id))
                .where((FollowupPatient.last_visit_on >= month_start(today)) & live)
                .group_by(Household.village_key).tuples())
    totals = (Household.select(Household.village_key, peewee.fn.MIN(Household.village), peewee.fn.COUNT(Household.id))
              .where(live).group_by(Household.village_key).tuples())
    return sorted((VillageVisits(key, name, count, seen.get(key, 0)) for key, name, count in totals),
                  key=lambda village: village.village.casefold())


def household_visits(village_key: str, today: dt.date, *, unseen_only: bool = False, page: int = 0,
                     per_page: int = 100) -> tuple[list[HouseholdVisits], bool]:
    """The village's households, those not seen this month first, then by name."""
    start = month_start(today)
    last_visit = peewee.fn.MAX(FollowupPatient.last_visit_on)
    seen = peewee.fn.COALESCE(last_visit >= start, 0)
    query = (Household.select(Household.id, Household.name, peewee.fn.COUNT(FollowupPatient.patient), last_visit)
             .join(FollowupPatient, peewee.JOIN.LEFT_OUTER, on=(FollowupPatient.household_id == Household.id))
             .where((Household.village_key == village_key) & (Household.voided == False))  # noqa: E712
             .group_by(Household.id)
             .order_by(seen, Household.name, Household.id)
             .limit(per_page + 1).offset(page * per_page))
    if unseen_only:
        query = query.having(seen == 0)
    rows = []
    for household_id, name, members, last in query.tuples():
        last_on = _date(last) if last else None
        rows.append(HouseholdVisits(household_id, name, members, last_on, bool(last_on and last_on >= start)))
    return rows[:per_page], len(rows) > per_page


def household_members(household_id: int, today: dt.date) -> list[tuple[PatientLine, dt.date | None]]:
    """A household's members with their last visit and open items."""
    rows = list(FollowupPatient.select(FollowupPatient.patient, FollowupPatient.last_visit_on)
                .where(FollowupPatient.household_id == household_id).tuples())
    lines = _patients(patient_id for patient_id, _ in rows)
    for patient_id, line in lines.items():
        line.items = patient_items(patient_id, today)
    members = [(lines[patient_id], last) for patient_id, last in rows if patient_id in lines]
    members.sort(key=lambda member: member[0].patient.birth_date)
    return members


def villages() -> list[tuple[str, str]]:
    """(village_key, name) of the villages in use, for the filters (the registry's cached list)."""
    return _keyed(tuple(known_villages()))


@functools.lru_cache(maxsize=8)
def _keyed(names: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(normalize.place_key(name), name) for name in names]


def village_name(village_key: str) -> str:
    """The village's name as typed; a village newer than the cached list is looked up."""
    name = dict(villages()).get(village_key)
    if name is None:
        row = database.execute_sql("SELECT village FROM household WHERE village_key = ? LIMIT 1",
                                   (village_key,)).fetchone()
        name = row[0] if row else village_key
    return name
