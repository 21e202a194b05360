"""Coverage and drop-out against the health area's targets, month by month and year to date.

Each numerator is the monthly report's own rule (``reports/data/indicators.toml``, through
``reports.builder.events_sql``), never rewritten: a coverage figure and the report's count come
from one definition. ``data/coverage.toml`` says which report indicators make each numerator,
whether a person counts once per period or each record counts, and which target population of
``data/population.toml`` is its denominator. One query per indicator reads the whole year to date
and groups it by month, so the page costs a handful of index range scans.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from appliance.facility.freshness import reuse
from appliance.facility.population import AreaYear, area_year, target_groups, targets
from appliance.reports.builder import Month, events_sql, visit_details
from appliance.reports.definitions import Definitions, Indicator, load_definitions
from appliance.settings.reports import ReportSettings
from appliance.store.db import database

DATA_FILE = Path(__file__).parent / "data" / "coverage.toml"
PERSONS, RECORDS = "personnes", "dossiers"


class CoverageError(ValueError):
    """coverage.toml cannot be used; the message names the key."""


@dataclass(frozen=True)
class CoverageItem:
    code: str
    label: str
    rules: tuple[Indicator, ...]  # the report's indicators (or the file's own rule) behind the numerator
    count: str  # PERSONS or RECORDS
    denominator: str  # a target group of population.toml
    target: float  # default objective, %
    source: str


@dataclass(frozen=True)
class Dropout:
    code: str
    label: str
    first: str
    last: str
    max: float
    source: str


@dataclass(frozen=True)
class CoverageDefinitions:
    items: dict[str, CoverageItem]
    dropouts: dict[str, Dropout]


@lru_cache(maxsize=4)
def load_coverage(path: Path = DATA_FILE) -> CoverageDefinitions:
    with Path(path).open("rb") as handle:
        raw = tomllib.load(handle)
    report = load_definitions()
    groups = target_groups()
    errors: list[str] = []
    items: dict[str, CoverageItem] = {}
    for code, entry in raw.get("coverage", {}).items():
        where = f"{Path(path).name} : [coverage.{code}]"
        rules = _rules(code, entry, report, where, errors)
        if entry.get("count") not in (PERSONS, RECORDS):
            errors.append(f"{where} : count « {entry.get('count')} » : « {PERSONS} » ou « {RECORDS} »")
        if entry.get("denominator") not in groups:
            errors.append(f"{where} : denominator « {entry.get('denominator')} » absent de population.toml "
                          f"({', '.join(groups)})")
        target = entry.get("target")
        if not isinstance(target, int | float) or not 0 <= target <= 100:
            errors.append(f"{where} : target : pourcentage entre 0 et 100 attendu")
            target = 0
        items[code] = CoverageItem(code, entry.get("label", code), rules, entry.get("count", PERSONS),
                                   entry.get("denominator", ""), float(target), entry.get("source", ""))
    dropouts: dict[str, Dropout] = {}
    for code, entry in raw.get("dropout", {}).items():
        where = f"{Path(path).name} : [dropout.{code}]"
        for key in ("first", "last"):
            if entry.get(key) not in items:
                errors.append(f"{where} : {key} « {entry.get(key)} » n'est pas un chiffre de [coverage]")
        dropouts[code] = Dropout(code, entry.get("label", code), entry.get("first", ""), entry.get("last", ""),
                                 float(entry.get("max", 10)), entry.get("source", ""))
    if errors:
        raise CoverageError("\n".join(errors))
    return CoverageDefinitions(items, dropouts)


def _rules(code: str, entry: dict, report: Definitions, where: str, errors: list[str]) -> tuple[Indicator, ...]:
    """Each rule as visits (a person is reduced to one per period here, not per month by the report)."""
    if "rule" in entry:
        rule = entry["rule"]
        return (Indicator(code=f"couverture_{code}", section="", label=entry.get("label", code),
                          table=rule.get("table", ""), where=rule.get("where", ""), count="visits"),)
    codes = entry.get("indicators") or []
    unknown = [name for name in codes if name not in report.indicators]
    if unknown or not codes:
        errors.append(f"{where} : indicators : {', '.join(unknown) or 'vide'} absent(s) de indicators.toml")
    return tuple(dataclasses.replace(report.indicators[name], count="visits")
                 for name in codes if name in report.indicators)


# --- Counting ------------------------------------------------------------------------------------


def _events(item: CoverageItem, settings: ReportSettings) -> str:
    """Every record of the item's rules in [:start, :end], each once. Rules reading the same table
    the same way are OR-ed into one scan (a visit two rules select is one row); others are UNIONed."""
    definitions = load_definitions()
    scans: dict[tuple[str, str, str, str], list[Indicator]] = {}
    for rule in item.rules:
        scans.setdefault(rule.scan_key, []).append(rule)
    merged = [dataclasses.replace(rules[0], where=" OR ".join(f"({rule.where})" for rule in rules))
              for rules in scans.values()]
    parts = [f"SELECT '{rule.table}' AS tbl, visit_id, patient_id, event_date "
             f"FROM ({events_sql(rule, definitions, settings)})" for rule in merged]
    return " UNION ".join(parts)


def _params(start: dt.date, end: dt.date, today: dt.date) -> dict[str, str]:
    return {"start": start.isoformat(), "end": min(end, today).isoformat(), "today": today.isoformat()}


def count_by_month(item: CoverageItem, start: dt.date, end: dt.date, settings: ReportSettings,
                   today: dt.date) -> tuple[dict[str, int], int]:
    """``({"2024-03": n, …}, n over the whole period)``: persons once per month and once over the
    period, or records."""
    unit = "patient_id" if item.count == PERSONS else "tbl || ':' || visit_id"
    sql = f"SELECT DISTINCT {unit}, substr(event_date, 1, 7) FROM ({_events(item, settings)})"
    by_month: dict[str, set] = {}
    for key, month in database.execute_sql(sql, _params(start, end, today)).fetchall():
        by_month.setdefault(month, set()).add(key)
    everyone = set().union(*by_month.values()) if by_month else set()
    return {month: len(keys) for month, keys in by_month.items()}, len(everyone)


@dataclass(frozen=True)
class Behind:
    """One record behind a numerator."""

    table: str
    visit_id: int
    patient_id: int
    local_number: str
    name: str
    sex: str
    event_date: dt.date
    detail: str


def records_behind(item: CoverageItem, start: dt.date, end: dt.date, settings: ReportSettings,
                   today: dt.date) -> list[Behind]:
    """The numerator's records, oldest first: a person once (first record of the period), or each record."""
    events = _events(item, settings)
    if item.count == PERSONS:  # SQLite: the bare columns come from the row holding the MIN
        events = f"SELECT tbl, visit_id, patient_id, MIN(event_date) AS event_date FROM ({events}) GROUP BY patient_id"
    sql = (f"SELECT e.tbl, e.visit_id, e.patient_id, p.local_number, p.family_name, p.first_names, p.sex, "
           f"e.event_date FROM ({events}) AS e JOIN patient AS p ON p.id = e.patient_id "
           "ORDER BY e.event_date, p.family_name, p.first_names, e.visit_id")
    rows = database.execute_sql(sql, _params(start, end, today)).fetchall()
    details: dict[tuple[str, int], str] = {}
    for table in {row[0] for row in rows}:
        ids = [row[1] for row in rows if row[0] == table]
        details |= {(table, key): text for key, text in visit_details(table, ids).items()}
    return [Behind(table, visit_id, patient_id, number, f"{family} {first}".strip(), sex,
                   dt.date.fromisoformat(date), details.get((table, visit_id), ""))
            for table, visit_id, patient_id, number, family, first, sex, date in rows]


# --- The year's table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    numerator: int
    denominator: float  # target population for the period (annual size × months / 12)

    @property
    def percent(self) -> float | None:
        return None if self.denominator <= 0 else 100 * self.numerator / self.denominator


@dataclass(frozen=True)
class CoverageRow:
    item: CoverageItem
    target: float
    months: list[Rate]  # January … the last month shown
    year_to_date: Rate
    annual_population: float

    @property
    def on_target(self) -> bool | None:
        percent = self.year_to_date.percent
        return None if percent is None else percent >= self.target


@dataclass(frozen=True)
class DropoutRow:
    dropout: Dropout
    months: list[float | None]
    year_to_date: float | None

    @property
    def too_high(self) -> bool:
        return self.year_to_date is not None and self.year_to_date > self.dropout.max


def dropout_rate(first: int, last: int) -> float | None:
    """WHO: (first dose − last dose) / first dose × 100; None without a first dose."""
    return None if first <= 0 else 100 * (first - last) / first


@dataclass(frozen=True)
class CoverageYear:
    year: int
    last_month: Month  # the year is shown up to this month
    area: AreaYear
    rows: list[CoverageRow]
    dropouts: list[DropoutRow]

    @property
    def months(self) -> list[Month]:
        return [Month.parse(f"{self.year:04d}-{number:02d}") for number in range(1, self.last_month.start.month + 1)]


def coverage_year(year: int, settings: ReportSettings, today: dt.date) -> CoverageYear:
    """Every coverage and drop-out figure of ``year``, from January to this month (or December);
    reused while the record has not changed (``facility.freshness``)."""
    key = ("coverage", year, today, tuple(settings.age_bands), settings.lost_after_days)
    return reuse(key, lambda: compute_coverage_year(year, settings, today))


def compute_coverage_year(year: int, settings: ReportSettings, today: dt.date) -> CoverageYear:
    """``coverage_year`` computed now from the record."""
    definitions = load_coverage()
    last = Month.of(min(today, dt.date(year, 12, 31)))
    start = dt.date(year, 1, 1)
    area = area_year(year)
    objectives = targets(year, {code: item.target for code, item in definitions.items.items()})
    month_count = last.start.month
    counted: dict[str, tuple[list[int], int]] = {}
    rows = []
    with database.atomic():  # one snapshot for every figure of the page
        for code, item in definitions.items.items():
            by_month, total = count_by_month(item, start, last.end, settings, today)
            monthly = [by_month.get(f"{year:04d}-{number:02d}", 0) for number in range(1, month_count + 1)]
            counted[code] = (monthly, total)
            annual = area.group_size(item.denominator)
            rows.append(CoverageRow(item, objectives[code], [Rate(value, annual / 12) for value in monthly],
                                    Rate(total, annual * month_count / 12), annual))
    dropouts = [
        DropoutRow(dropout,
                   [dropout_rate(first, last_) for first, last_ in zip(counted[dropout.first][0],
                                                                       counted[dropout.last][0], strict=True)],
                   dropout_rate(counted[dropout.first][1], counted[dropout.last][1]))
        for dropout in definitions.dropouts.values()
    ]
    return CoverageYear(year, last, area, rows, dropouts)
