"""Finding a patient from whatever the receptionist has: part of a name, a phone, a card number.

One SQLite FTS5 index (``patient_fts``, kept in step with the patient table by triggers) holds
the normalised name keys and the numbers. Results come newest-registered first so FTS5 stops
after one page instead of ranking every "Traoré" of the health area: on 100,000 patients a
query costs the same whatever the name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from appliance.patients import normalize
from appliance.patients.models import Patient
from appliance.store.db import database

PAGE_SIZE = 20
MIN_TOKEN_LENGTH = 2
MAX_TOKENS = 6
_DIGIT_GROUPS = re.compile(r"(?<=\d)[\s.\-/]+(?=\d)")
_NAMES = ("id", "local_number", "family_name", "first_names", "sex", "birth_date", "birth_date_estimated",
          "village", "phone", "mother_id", "household_id")
SEARCH_SQL = (
    f"SELECT {', '.join('p.' + name for name in _NAMES)} "
    "FROM patient_fts JOIN patient AS p ON p.id = patient_fts.rowid "
    "WHERE patient_fts MATCH ? AND p.voided = 0 ORDER BY patient_fts.rowid DESC LIMIT ? OFFSET ?"
)
EXACT_SQL = f"SELECT {', '.join(_NAMES)} FROM patient WHERE (local_number = ? OR national_id = ?) AND voided = 0"


@dataclass
class SearchPage:
    query: str
    patients: list[Patient]
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


def _rows(sql: str, params: tuple) -> list[Patient]:
    fields = [Patient._meta.columns[name] for name in _NAMES]
    rows = database.execute_sql(sql, params).fetchall()
    return [Patient(**{field.name: field.python_value(value) for field, value in zip(fields, row, strict=True)})
            for row in rows]


def search(query: str, *, page: int = 1, page_size: int = PAGE_SIZE) -> SearchPage:
    """One page of living (not voided, not merged) patients matching ``query``.

    A query that is exactly a card number or a NINA lists that record first.
    """
    page = max(page, 1)
    expression = match_expression(query)
    if expression is None:
        return SearchPage(query, [], page, False, too_short=bool(query.strip()))
    exact: list[Patient] = []
    if page == 1:
        compact = query.strip().upper()
        exact = _rows(EXACT_SQL, (compact, normalize.id_key(query)))
    found = _rows(SEARCH_SQL, (expression, page_size + 1, (page - 1) * page_size))
    has_more = len(found) > page_size
    seen = {patient.id for patient in exact}
    patients = exact + [patient for patient in found[:page_size] if patient.id not in seen]
    return SearchPage(query, patients, page, has_more)
