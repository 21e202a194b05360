"""Finding a patient from whatever the receptionist has: part of a name, a phone, a card number.

One SQLite FTS5 index (``patient_search``, m0150, kept in step with the patient table by triggers)
holds the normalised name keys, the numbers and the village key. Results come newest-registered first so FTS5 stops
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
    "FROM patient_search JOIN patient AS p ON p.id = patient_search.rowid "
    "WHERE patient_search MATCH ? AND p.voided = 0 ORDER BY patient_search.rowid DESC LIMIT ? OFFSET ?"
)
EXACT_SQL = f"SELECT {', '.join(HIT_COLUMNS)} FROM patient WHERE (local_number = ? OR national_id = ?) AND voided = 0"


@dataclass
class SearchPage:
    query: str
    patients: list[PatientHit]
    page: int
    has_more: bool
    too_short: bool = False


def _word_term(word: str) -> str:
    """One typed word as a prefix of a name key or of a village word, whichever it is.

    A word with a nasal prefix ("ndiaye") also matches as that letter followed by the rest, the way
    "N'Diaye" is indexed (``normalize.nasal_spellings``).
    """
    names = normalize.nasal_spellings(word, normalize.name_key)
    places = normalize.nasal_spellings(word, normalize.spelling_key)
    phrases = []
    for name, place in zip(names, places, strict=True):
        if name == place:  # one phrase over both columns: FTS5 reads the prefix's entries once
            phrases.append(f'{{search_names village_key}} : "{name}" *')
        else:
            phrases += [f'search_names : "{name}" *', f'village_key : "{place}" *']
    return phrases[0] if len(phrases) == 1 else f"({' OR '.join(phrases)})"


def match_expression(query: str) -> str | None:
    """The FTS5 query for what was typed, or None when nothing searchable was typed.

    Words are name keys matched as prefixes in the names or the village ("coul" finds Coulibaly
    and Kulibali, "kalaban" the patients of Kalaban Coura); numbers (digit groups joined, "+223"
    dropped) are prefixes in the numbers column. Apostrophes and hyphens are word breaks here as in
    the index (both go through ``normalize.fold``).
    """
    text = normalize.fold(_DIGIT_GROUPS.sub("", query))
    terms = []
    for word in normalize.joined_words(text)[:MAX_TOKENS]:
        if any(ch.isdigit() for ch in word):
            number = normalize.phone_key(word) if word.isdigit() else word
            terms.append(f'search_ids : "{number}" *')
        elif len(word) >= MIN_TOKEN_LENGTH:
            terms.append(_word_term(word))
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
