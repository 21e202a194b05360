"""Finding a patient from whatever the receptionist has: part of a name, a phone, a card number.

One SQLite FTS5 index (``patient_fts``, kept in step with the patient table by triggers) holds
the normalised name keys and the numbers. Results come newest-registered first so FTS5 stops
after one page instead of ranking every "Traoré" of the health area: on 100,000 patients a
query costs the same whatever the name.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, fields

from appliance.patients import normalize
from appliance.store.db import database

PAGE_SIZE = 20
MIN_TOKEN_LENGTH = 2
MAX_TOKENS = 6
_DIGIT_GROUPS = re.compile(r"(?<=\d)[\s.\-/]+(?=\d)")


@dataclass(slots=True, frozen=True)
class PatientHit:
    """What a result line shows: plain values, built far cheaper than a peewee model per row."""

    id: int
    local_number: str
    family_name: str
    first_names: str
    sex: str
    birth_date: dt.date
    birth_date_estimated: bool
    village: str
    phone: str
    mother_id: int | None
    household_id: int | None

    @classmethod
    def from_row(cls, row: tuple) -> PatientHit:
        patient_id, number, family, first, sex, born, estimated, village, phone, mother, household = row
        return cls(patient_id, number, family, first, sex, dt.date.fromisoformat(born), bool(estimated), village,
                   phone, mother, household)


HIT_COLUMNS = tuple(field.name for field in fields(PatientHit))  # a SELECT lists them in this order
SEARCH_SQL = (
    f"SELECT {', '.join('p.' + name for name in HIT_COLUMNS)} "
    "FROM patient_fts JOIN patient AS p ON p.id = patient_fts.rowid "
    "WHERE patient_fts MATCH ? AND p.voided = 0 ORDER BY patient_fts.rowid DESC LIMIT ? OFFSET ?"
)
EXACT_SQL = f"SELECT {', '.join(HIT_COLUMNS)} FROM patient WHERE (local_number = ? OR national_id = ?) AND voided = 0"


@dataclass
class SearchPage:
    query: str
    patients: list[PatientHit]
    page: int
    has_more: bool
    too_short: bool = False


def match_expression(query: str) -> str | None:
    """The FTS5 query for what was typed, or None when nothing searchable was typed.

    Words are name keys matched as prefixes in the names column ("coul" finds Coulibaly and
    Kulibali); numbers (digit groups joined, "+223" dropped) are prefixes in the numbers column.
    """
    text = normalize.fold(_DIGIT_GROUPS.sub("", query))
    terms = []
    for word in text.split()[:MAX_TOKENS]:
        if any(ch.isdigit() for ch in word):
            number = normalize.phone_key(word) if word.isdigit() else word
            terms.append(f'search_ids : "{number}" *')
        elif len(word) >= MIN_TOKEN_LENGTH:
            terms.append(f'search_names : "{normalize.name_key(word)}" *')
    return " AND ".join(terms) or None


def _rows(sql: str, params: tuple) -> list[PatientHit]:
    return [PatientHit.from_row(row) for row in database.execute_sql(sql, params).fetchall()]


def search(query: str, *, page: int = 1, page_size: int = PAGE_SIZE) -> SearchPage:
    """One page of living (not voided, not merged) patients matching ``query``.

    A query that is exactly a card number or a NINA lists that record first.
    """
    page = max(page, 1)
    expression = match_expression(query)
    if expression is None:
        return SearchPage(query, [], page, False, too_short=bool(query.strip()))
    exact: list[PatientHit] = []
    if page == 1:
        compact = query.strip().upper()
        exact = _rows(EXACT_SQL, (compact, normalize.id_key(query)))
    found = _rows(SEARCH_SQL, (expression, page_size + 1, (page - 1) * page_size))
    has_more = len(found) > page_size
    seen = {patient.id for patient in exact}
    patients = exact + [patient for patient in found[:page_size] if patient.id not in seen]
    return SearchPage(query, patients, page, has_more)
