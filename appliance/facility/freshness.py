"""Figures of the head's pages reused while the record has not changed.

Every write of a visit, a patient, the population or a target goes through the audit trail or adds
a row, so a new audit entry or a new highest id says the record changed; reading that state is a
dozen index lookups. A page read twice without a write in between (the head and the district's
review, the printed sheet after the screen) then costs nothing; the first reading after a write
computes the figures again, in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from appliance.store.db import database

T = TypeVar("T")

_STATE = "SELECT " + ", ".join(
    f'(SELECT MAX(id) FROM "{table}")' for table in (
        "audit_entry", "patient", "consultation", "antenatal_visit", "delivery", "postnatal_visit", "immunisation",
        "growth_measurement", "family_planning_visit", "chronic_visit", "area_population", "coverage_target"))
_KEPT = 32
_computed: dict[tuple, object] = {}


def record_state() -> tuple:
    """The database file and its highest ids: another file (a test's, a restored copy) is another record."""
    return (database.database, *database.execute_sql(_STATE).fetchone())


def reuse(key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, or its result for ``key`` while the record is as it was then."""
    with database.atomic():
        full_key = (key, record_state())
        if full_key in _computed:
            return _computed[full_key]  # type: ignore[return-value]
        result = compute()
        if len(_computed) >= _KEPT:
            _computed.pop(next(iter(_computed)))
        _computed[full_key] = result
        return result
