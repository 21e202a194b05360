"""Age bands in completed years at the date of the event, the same in Python and in SQL.

Completed years: the birthday must have been reached (month-day of the event ≥ month-day of birth),
so a child is 1 year old on its first birthday and belongs to 1–4. A child born on 29 February
completes its years on 1 March in common years (the month-day comparison), in SQL as in Python.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from appliance.reports.figures import SEXES, band_code, band_label, disaggregation_code


def completed_years(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def sql_completed_years(event_date: str, birth_date: str) -> str:
    """SQL for ``completed_years`` over ISO dates (``YYYY-MM-DD`` text, as peewee stores DateField)."""
    return (
        f"(CAST(substr({event_date}, 1, 4) AS INTEGER) - CAST(substr({birth_date}, 1, 4) AS INTEGER)"
        f" - (substr({event_date}, 6, 5) < substr({birth_date}, 6, 5)))"
    )


def sql_age_days(event_date: str, birth_date: str) -> str:
    return f"CAST(julianday({event_date}) - julianday({birth_date}) AS INTEGER)"


@dataclass(frozen=True)
class Band:
    code: str  # "lt1", "1_4", "50p" (appliance.reports.figures.band_code)
    lower: int  # completed years, inclusive
    upper: int | None  # exclusive; None for the last band

    @property
    def label(self) -> str:
        return band_label(self.code)

    @property
    def short(self) -> str:
        """« <1 », « 1–4 », « 50+ »: a column header that fits a 360 px screen."""
        if self.lower == 0:
            return f"<{self.upper}" if self.upper is not None else "0+"
        return f"{self.lower}+" if self.upper is None else f"{self.lower}–{self.upper - 1}"

    def contains(self, years: int) -> bool:
        return years >= self.lower and (self.upper is None or years < self.upper)


@dataclass(frozen=True)
class AgeBands:
    bands: tuple[Band, ...]

    @classmethod
    def from_bounds(cls, lowers: list[int]) -> AgeBands:
        uppers: list[int | None] = [*lowers[1:], None]
        return cls(tuple(Band(band_code(low, high), low, high) for low, high in zip(lowers, uppers, strict=True)))

    @property
    def codes(self) -> list[str]:
        return [band.code for band in self.bands]

    def band_of(self, years: int) -> Band:
        """The band of an age in completed years; a negative age (bad data) falls in the first."""
        for band in reversed(self.bands):
            if years >= band.lower:
                return band
        return self.bands[0]

    def sql_case(self, years_sql: str) -> str:
        """``CASE WHEN years < 1 THEN 'lt1' … ELSE '50p' END`` for an SQL age in completed years."""
        whens = " ".join(f"WHEN {years_sql} < {band.upper} THEN '{band.code}'" for band in self.bands[:-1])
        last = f"'{self.bands[-1].code}'"
        return f"(CASE {whens} ELSE {last} END)" if whens else last

    def disaggregations(self) -> list[str]:
        """Every cell code, sex-major: ``M_lt1, M_1_4, …, F_50p``."""
        return [disaggregation_code(sex, band.code) for sex in SEXES for band in self.bands]
