"""Access to care: curative consultations per inhabitant per year by sex and age band, first
contacts, consultations by village, and the 24 months' trends.

Numerators read the ``consultation`` table (live visits of live patients, as the monthly report
does); ages are completed years at the visit (``reports.ages``, the report's own bands). The
denominators are the health area's population (``facility.population``) split by the age and
sex structure of ``data/population.toml``. A patient's first contact is the day the record was
opened (``patient.registered_at``), age at that day."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from functools import lru_cache

from appliance.facility.freshness import reuse
from appliance.facility.population import DATA, AreaYear
from appliance.reports.ages import AgeBands, sql_completed_years
from appliance.reports.builder import Month
from appliance.reports.figures import SEXES
from appliance.store.db import database


@dataclass(frozen=True)
class Structure:
    bands: tuple[int, ...]
    percent: tuple[float, ...]
    female_percent: float
    source: str

    def share(self, sex: str, band_index: int) -> float:
        """Part of the population (0–1) of one sex × band cell."""
        female = self.female_percent / 100
        return self.percent[band_index] / 100 * (female if sex == "F" else 1 - female)


@lru_cache(maxsize=1)
def structure() -> Structure:
    with (DATA / "population.toml").open("rb") as handle:
        data = tomllib.load(handle)["structure"]
    result = Structure(tuple(data["bands"]), tuple(float(value) for value in data["percent"]),
                       float(data["female_percent"]), data["source"])
    if len(result.bands) != len(result.percent) or abs(sum(result.percent) - 100) > 0.5:
        raise ValueError("population.toml : [structure] : une part par tranche, total 100 %")
    return result


_CONSULTATIONS = ("FROM consultation AS v JOIN patient AS p ON p.id = v.patient_id "
                  "WHERE v.voided = 0 AND p.voided = 0 AND v.visit_date BETWEEN :start AND :end")
_FIRST = ("FROM patient AS p WHERE p.voided = 0 AND p.merged_into_id IS NULL "
          "AND date(p.registered_at) BETWEEN :start AND :end")


def _by_cell(source: str, date_sql: str, bands: AgeBands, start: dt.date, end: dt.date) -> dict[tuple[str, str], int]:
    years = sql_completed_years(date_sql, "p.birth_date")
    sql = f"SELECT p.sex, {bands.sql_case(years)} AS band, COUNT(*) {source} GROUP BY 1, 2"
    rows = database.execute_sql(sql, {"start": start.isoformat(), "end": end.isoformat()}).fetchall()
    return {(sex, band): count for sex, band, count in rows}


@dataclass(frozen=True)
class AccessCell:
    sex: str
    band: str
    consultations: int
    first_contacts: int
    population: float | None  # None: the structure's bands are not the report's

    @property
    def per_inhabitant(self) -> float | None:
        return None if not self.population else self.consultations / self.population


@dataclass(frozen=True)
class VillageLine:
    village: str
    consultations: int
    inhabitants: int | None

    @property
    def per_inhabitant(self) -> float | None:
        return None if not self.inhabitants else self.consultations / self.inhabitants


@dataclass(frozen=True)
class Access:
    year: int
    start: dt.date
    end: dt.date
    bands: AgeBands
    cells: list[AccessCell]
    villages: list[VillageLine]
    area: AreaYear

    def total(self, sex: str | None = None) -> AccessCell:
        chosen = [cell for cell in self.cells if sex is None or cell.sex == sex]
        populations = [cell.population for cell in chosen]
        population = None if None in populations else sum(populations)  # type: ignore[arg-type]
        if sex is None and population is None and self.area.total:
            population = float(self.area.total)
        return AccessCell(sex or "", "total", sum(cell.consultations for cell in chosen),
                          sum(cell.first_contacts for cell in chosen), population)


def access_year(year: int, bounds: list[int], area: AreaYear, today: dt.date) -> Access:
    """Consultations and first contacts of ``year`` (up to today), by sex × band and by village.
    The population is prorated to the months covered so a year in progress reads as a yearly rate.
    Reused while the record has not changed (``facility.freshness``)."""
    key = ("access", year, tuple(bounds), area.entered_for, area.total, today)
    return reuse(key, lambda: _access_year(year, bounds, area, today))


def _access_year(year: int, bounds: list[int], area: AreaYear, today: dt.date) -> Access:
    bands = AgeBands.from_bounds(bounds)
    start, end = dt.date(year, 1, 1), min(dt.date(year, 12, 31), today)
    fraction = ((end - start).days + 1) / ((dt.date(year, 12, 31) - start).days + 1)
    shape = structure()
    same_bands = tuple(bounds) == shape.bands
    with database.atomic():
        consultations = _by_cell(_CONSULTATIONS, "v.visit_date", bands, start, end)
        first = _by_cell(_FIRST, "date(p.registered_at)", bands, start, end)
        village_rows = database.execute_sql(
            f"SELECT p.village_key, MIN(p.village), COUNT(*) {_CONSULTATIONS} GROUP BY 1 ORDER BY 3 DESC",
            {"start": start.isoformat(), "end": end.isoformat()}).fetchall()
    cells = []
    for sex in SEXES:
        for index, band in enumerate(bands.bands):
            population = area.total * shape.share(sex, index) * fraction if same_bands and area.total else None
            cells.append(AccessCell(sex, band.code, consultations.get((sex, band.code), 0),
                                    first.get((sex, band.code), 0), population))
    inhabitants = {row.village_key: row.inhabitants for row in area.villages}
    villages = [VillageLine(name, count, round(inhabitants[key] * fraction) if key in inhabitants else None)
                for key, name, count in village_rows]
    return Access(year, start, end, bands, cells, villages, area)


@dataclass(frozen=True)
class Trend:
    months: list[Month]
    consultations: dict[str, list[int]]  # sex → per month
    first_contacts: list[int]


def trend(last: Month, months: int = 24) -> Trend:
    """Consultations by sex and first contacts, month by month, the ``months`` up to ``last``
    (reused while the record has not changed)."""
    return reuse(("trend", last.period, months), lambda: _trend(last, months))


def _trend(last: Month, months: int) -> Trend:
    shown = [last]
    while len(shown) < months:
        shown.insert(0, shown[0].previous())
    params = {"start": shown[0].start.isoformat(), "end": last.end.isoformat()}
    with database.atomic():
        visits = database.execute_sql(
            f"SELECT substr(v.visit_date, 1, 7), p.sex, COUNT(*) {_CONSULTATIONS} GROUP BY 1, 2", params).fetchall()
        first = dict(database.execute_sql(
            f"SELECT substr(date(p.registered_at), 1, 7), COUNT(*) {_FIRST} GROUP BY 1", params).fetchall())
    counted = {(period, sex): count for period, sex, count in visits}
    return Trend(shown, {sex: [counted.get((month.period, sex), 0) for month in shown] for sex in SEXES},
                 [first.get(month.period, 0) for month in shown])
