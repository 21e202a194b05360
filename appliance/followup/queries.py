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

from appliance.clinical import followup_windows
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
    expires_on: dt.date | None = None  # no longer given from this day (age limit, next contact)

    @property
    def on_hold(self) -> bool:
        return self.remind_on is not None and self.remind_on > self.today

    @property
    def lapses_on(self) -> dt.date:
        """From this day the item is off the daily lists (the programme's call window, or its own limit)."""
        window_end = followup_windows.lapses_on(self.programme, self.overdue_on)
        return min(window_end, self.expires_on) if self.expires_on else window_end

    @property
    def late(self) -> bool:
        """Past its overdue date, lapsed from the call lists or not (a dose may still be caught up)."""
        return self.today >= self.overdue_on

    @property
    def status(self) -> str:
        """a_venir (this week), du (due), en_retard (recently overdue) or depasse (lapsed)."""
        if self.today >= self.lapses_on:
            return "depasse"
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
_HELD_OFF = "(remind_on IS NULL OR remind_on <= ?)"
_ITEM_COLUMNS = "id, patient_id, programme, label, due_on, overdue_on, note, expires_on"

# The windows of a list, in the order a list shows them: due this week (soonest first), then
# recently overdue (most recent first); lapsed items (past the programme's call window or their
# own limit) have a list of their own, most recently lapsed first.
THIS_WEEK, OVERDUE, LAPSED = "semaine", "retard", "depasse"
WINDOWS = (THIS_WEEK, OVERDUE, LAPSED)
DAILY = (THIS_WEEK, OVERDUE)  # the list a nurse opens


def _window_sql(window: str, programme: str, today: dt.date) -> tuple[str, list, bool]:
    """(condition, parameters, newest first) of one window of one programme: each is one range of
    the (programme, overdue_on, ...) covering index, read forward or backward."""
    lapsed_until = followup_windows.lapse_start(programme, today).isoformat()
    day, week = today.isoformat(), horizon(today).isoformat()
    if window == THIS_WEEK:
        return f"overdue_on > ? AND {_LISTED}", [day, week, day, day], False
    if window == OVERDUE:
        return f"overdue_on <= ? AND overdue_on > ? AND {_LISTED}", [day, lapsed_until, week, day, day], True
    shown = dt.timedelta(days=followup_windows.lapsed_shown_days())
    return (f"due_on <= ? AND {_HELD_OFF} AND ((overdue_on <= ? AND overdue_on > ?) "
            "OR (expires_on IS NOT NULL AND expires_on <= ? AND expires_on > ?))",
            [week, day, lapsed_until, (dt.date.fromisoformat(lapsed_until) - shown).isoformat(), day,
             (today - shown).isoformat()], True)


def _window_keys(window: str, programme: str, today: dt.date, village_key: str | None,
                 after: tuple | None, limit: int) -> list[tuple]:
    """Sort keys (window rank, date rank, priority, patient, id) of one window's first items."""
    condition, params, newest_first = _window_sql(window, programme, today)
    sql = f"SELECT {_URGENCY} FROM followup_item WHERE programme = ? AND {condition}"
    params = [programme, *params]
    if village_key:
        sql += " AND village_key = ?"
        params.append(village_key)
    if after is not None:
        overdue_on = dt.date.fromordinal(abs(after[1])).isoformat()
        sql += (" AND (overdue_on < ? OR (overdue_on = ? AND (priority, patient_id, id) > (?, ?, ?)))" if newest_first
                else " AND (overdue_on, priority, patient_id, id) > (?, ?, ?, ?)")
        params += [overdue_on, overdue_on, *after[2:]] if newest_first else [overdue_on, *after[2:]]
    order = "overdue_on DESC, priority, patient_id, id" if newest_first else _URGENCY
    rank = WINDOWS.index(window)
    return [(rank, -_date(day).toordinal() if newest_first else _date(day).toordinal(), priority, patient_id, item_id)
            for day, priority, patient_id, item_id in database.execute_sql(f"{sql} ORDER BY {order} LIMIT {limit}",
                                                                           params)]


def _ordered_keys(programmes: Sequence[str], windows: Sequence[str], today: dt.date, village_key: str | None,
                  after: tuple | None, limit: int) -> list[tuple]:
    """The first ``limit`` sort keys after ``after`` over the windows and programmes, in list order."""
    keys: list[tuple] = []
    for window in windows:
        rank = WINDOWS.index(window)
        if after is not None and after[0] > rank:
            continue
        start = after if after is not None and after[0] == rank else None
        streams = [_window_keys(window, programme, today, village_key, start, limit - len(keys))
                   for programme in dict.fromkeys(programmes)]
        keys += itertools.islice(heapq.merge(*streams), limit - len(keys))
        if len(keys) >= limit:
            break
    return keys


def _items(keys: Sequence[tuple], today: dt.date) -> list[PatientLine]:
    ids = [key[4] for key in keys]
    rows = {row[0]: row for row in database.execute_sql(
        f"SELECT {_ITEM_COLUMNS} FROM followup_item WHERE id IN ({', '.join('?' for _ in ids)})", ids)} if ids else {}
    return _group([rows[item_id] for item_id in ids if item_id in rows], today)


def worklist(programmes: Sequence[str], today: dt.date, *, windows: Sequence[str] = DAILY,
             village_key: str | None = None, after: str | None = None, per_page: int = 30) -> Page:
    """This week's items then the recently overdue (or the lapsed ones: ``windows=(LAPSED,)``).

    Each window of each programme is one ordered range read from the covering index alone, the
    programmes merged; then only the items shown are read from the table: a page costs a few dozen
    index entries whatever the size of the record. Pages follow each other by the last item's sort
    key rather than an offset, so an item recorded meanwhile cannot push another onto two pages. A
    page ends on a patient boundary where it can, so a child's doses of one day stay together.
    """
    wanted = per_page + PAGE_EXTENSION + 1
    keys = _ordered_keys(programmes, windows, today, village_key, _parse_cursor(after), wanted)
    end = min(per_page, len(keys))
    while 0 < end < len(keys) - 1 and keys[end][3] == keys[end - 1][3]:
        end += 1
    shown = keys[:end]
    has_next = len(keys) > end
    return Page(_with_contacts(_items(shown, today)), has_next=has_next,
                next_cursor="|".join(map(str, shown[-1])) if has_next and shown else None)


def window_counts(programmes: Sequence[str], today: dt.date, windows: Sequence[str] = DAILY) -> dict[str, int]:
    """How many items each window holds (index ranges counted, no row read): the home page's figures."""
    counts = dict.fromkeys(windows, 0)
    for window in windows:
        for programme in dict.fromkeys(programmes):
            condition, params = _window_sql(window, programme, today)[:2]
            counts[window] += database.execute_sql(
                f"SELECT COUNT(*) FROM followup_item WHERE programme = ? AND {condition}", [programme, *params]
            ).fetchone()[0]
    return counts


def alert_count(today: dt.date) -> tuple[int, int]:
    """(current alerts, of which urgent)."""
    return database.execute_sql("SELECT COUNT(*), COALESCE(SUM(severity = 'urgent'), 0) FROM followup_alert "
                                "WHERE expires_on > ?", (today.isoformat(),)).fetchone()


def _parse_cursor(text: str | None) -> tuple | None:
    """The sort key of the last item shown; None (first page) if missing or malformed."""
    parts = (text or "").split("|")
    if len(parts) != 5 or not all(part.lstrip("-").isdigit() for part in parts[:4]):
        return None
    rank, day, priority, patient_id = (int(part) for part in parts[:4])
    if not 0 <= rank < len(WINDOWS) or not 0 < abs(day) <= dt.date.max.toordinal():
        return None
    return rank, day, priority, patient_id, parts[4]


def village_worklist(programmes: Sequence[str], today: dt.date, *, village_key: str,
                     limit: int = 400) -> tuple[list[PatientLine], bool]:
    """The printable list of one village, in the order of the screen's list (this week, then the
    recently overdue), a patient's items together."""
    keys = _ordered_keys(programmes, DAILY, today, village_key, None, limit + 1)
    return _with_contacts(_items(keys[:limit], today)), len(keys) > limit


def _group(rows: Sequence[tuple], today: dt.date) -> list[PatientLine]:
    """One line per patient, in the order of the patient's first item."""
    lines = _patients(row[1] for row in rows)
    for item_id, patient_id, programme, label, due_on, overdue_on, note, expires_on in rows:
        lines[patient_id].items.append(DueView(item_id, programme, label, _date(due_on), _date(overdue_on), note,
                                               today, expires_on=_date(expires_on) if expires_on else None))
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
        f"SELECT id, programme, label, due_on, overdue_on, note, remind_on, expires_on FROM followup_item "
        f"WHERE patient_id = ? AND {_OPEN} ORDER BY {_URGENCY}",
        (patient_id, horizon(today).isoformat(), today.isoformat())).fetchall()
    return [DueView(item_id, programme, label, _date(due_on), _date(overdue_on), note, today,
                    _date(remind_on) if remind_on else None, _date(expires_on) if expires_on else None)
            for item_id, programme, label, due_on, overdue_on, note, remind_on, expires_on in rows]


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
