"""Loading and validating the follow-up schedule files (``data/*.toml``).

Kept apart from the engine (``schedules.py``) so that a bad edit of a data file is reported with
the file and the key at start-up, and the engine only ever sees well-formed rules.
"""

from __future__ import annotations

import calendar
import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).with_name("data")
FILES = {
    "epi": "epi_mali.toml",
    "anc": "anc.toml",
    "family_planning": "family_planning.toml",
    "chronic": "chronic.toml",
    "growth": "growth_monitoring.toml",
    "postnatal": "postnatal.toml",
}


@dataclass(frozen=True, slots=True)
class Duration:
    """A clinical duration: calendar years and months first, then weeks and days."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0

    def after(self, start: date, times: int = 1) -> date:
        total_months = (self.years * 12 + self.months) * times
        month_index = start.month - 1 + total_months
        year = start.year + month_index // 12
        month = month_index % 12 + 1
        day = min(start.day, calendar.monthrange(year, month)[1])
        return date(year, month, day) + timedelta(days=(self.weeks * 7 + self.days) * times)


@dataclass(frozen=True, slots=True)
class Season:
    """A yearly window, e.g. May 1 to June 30 for seasonal malaria vaccine doses."""

    start: tuple[int, int]
    end: tuple[int, int]

    def window(self, year: int) -> tuple[date, date]:
        return date(year, *self.start), date(year, *self.end)


@dataclass(frozen=True, slots=True)
class DoseRule:
    code: str
    label: str
    age: Duration
    min_age: Duration
    min_interval: Duration | None
    max_age: Duration | None
    season: Season | None


@dataclass(frozen=True, slots=True)
class VaccineSeries:
    id: str
    label: str
    active: bool
    doses: tuple[DoseRule, ...]


@dataclass(frozen=True, slots=True)
class Programme:
    """What every schedule file has: its code, French label, sort priority and grace period."""

    code: str
    label: str
    priority: int
    grace: Duration
    drop_after: Duration | None


@dataclass(frozen=True, slots=True)
class EpiCalendar:
    programme: Programme
    series: tuple[VaccineSeries, ...]
    series_of: dict[str, str]  # dose code -> series id
    doses_by_code: dict[str, DoseRule]

    def dose(self, code: str) -> DoseRule:
        return self.doses_by_code[code]

    def dose_labels(self) -> dict[str, str]:
        """Code -> label of every dose of the active series, for the EMR's vaccination form."""
        return {dose.code: dose.label for series in self.series if series.active for dose in series.doses}


@dataclass(frozen=True, slots=True)
class AncContact:
    week: int
    label: str


@dataclass(frozen=True, slots=True)
class AncPrevention:
    """SP, Td, bed net and iron/folic acid given at CPN (``[prevention]`` of anc.toml)."""

    sp_from_week: int
    sp_min_interval: Duration
    sp_label: str
    td_intervals: tuple[Duration, ...]  # before Td2, Td3, Td4, Td5
    td_label: str
    net_label: str
    iron_label: str
    iron_default_tablets: int


@dataclass(frozen=True, slots=True)
class AncSchedule:
    programme: Programme
    contacts: tuple[AncContact, ...]
    min_gap: Duration
    end_at_week: int
    prevention: AncPrevention


@dataclass(frozen=True, slots=True)
class FpMethod:
    code: str
    label: str
    action: str
    interval: Duration
    per_unit: bool
    default_quantity: int
    grace: Duration


@dataclass(frozen=True, slots=True)
class FpSchedule:
    programme: Programme
    methods: dict[str, FpMethod]


@dataclass(frozen=True, slots=True)
class ChronicCondition:
    code: str
    label: str
    action: str
    interval_not_controlled: Duration
    interval_controlled: Duration


@dataclass(frozen=True, slots=True)
class ChronicSchedule:
    programme: Programme
    conditions: dict[str, ChronicCondition]


@dataclass(frozen=True, slots=True)
class GrowthBand:
    until_age: Duration
    interval: Duration


@dataclass(frozen=True, slots=True)
class GrowthSchedule:
    programme: Programme
    action: str
    max_age: Duration
    bands: tuple[GrowthBand, ...]


@dataclass(frozen=True, slots=True)
class PncContact:
    number: int
    due: Duration  # from the birth
    overdue: Duration
    labels: dict[str, str]  # subject ("mere", "nouveau_ne") -> label


@dataclass(frozen=True, slots=True)
class PncSchedule:
    programme: Programme
    contacts: tuple[PncContact, ...]
    end_after: Duration


@dataclass(frozen=True, slots=True)
class Schedules:
    epi: EpiCalendar
    anc: AncSchedule
    family_planning: FpSchedule
    chronic: ChronicSchedule
    growth: GrowthSchedule
    postnatal: PncSchedule


@cache
def load_schedules(data_dir: Path = DATA_DIR) -> Schedules:
    """Read every schedule file once; raise ValueError naming the file and key of any mistake."""
    return Schedules(
        epi=_parse_epi(_Reader.open(data_dir / FILES["epi"])),
        anc=_parse_anc(_Reader.open(data_dir / FILES["anc"])),
        family_planning=_parse_fp(_Reader.open(data_dir / FILES["family_planning"])),
        chronic=_parse_chronic(_Reader.open(data_dir / FILES["chronic"])),
        growth=_parse_growth(_Reader.open(data_dir / FILES["growth"])),
        postnatal=_parse_postnatal(_Reader.open(data_dir / FILES["postnatal"])),
    )


class _Reader:
    """Typed access to a TOML table that names the file and key path in every error."""

    def __init__(self, source: str, table: dict[str, Any], where: str = "") -> None:
        self.source = source
        self.table = table
        self.where = where

    @classmethod
    def open(cls, path: Path) -> _Reader:
        try:
            with path.open("rb") as handle:
                return cls(path.name, tomllib.load(handle))
        except tomllib.TOMLDecodeError as problem:
            raise ValueError(f"{path.name} : TOML invalide ({problem})") from None

    def error(self, key: str, message: str) -> ValueError:
        return ValueError(f"{self.source} : {self.where}{key} : {message}")

    def child(self, key: str, table: dict[str, Any]) -> _Reader:
        return _Reader(self.source, table, f"{self.where}{key}.")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.table:
            if default is ...:
                raise self.error(key, "valeur manquante")
            return default
        value = self.table[key]
        if isinstance(value, bool) and kind in (int, (int, float)):
            raise self.error(key, "nombre attendu")
        if not isinstance(value, kind):
            raise self.error(key, f"type {type(value).__name__} inattendu")
        return value

    def text(self, key: str, default: Any = ...) -> str:
        value = self.get(key, str, default)
        if isinstance(value, str) and not value.strip():
            raise self.error(key, "texte vide")
        return value

    def duration(self, key: str, default: Any = ...) -> Duration | None:
        raw = self.get(key, dict, default)
        if not isinstance(raw, dict):
            return raw
        unknown = set(raw) - {"years", "months", "weeks", "days"}
        if unknown or not raw:
            raise self.error(key, "durée attendue, p. ex. { weeks = 6 } (years, months, weeks, days)")
        if any(not isinstance(value, int) or isinstance(value, bool) or value < 0 for value in raw.values()):
            raise self.error(key, "les durées sont des entiers positifs")
        return Duration(**raw)

    def rows(self, key: str) -> list[_Reader]:
        raw = self.get(key, list)
        if not raw or not all(isinstance(row, dict) for row in raw):
            raise self.error(key, "liste de tables attendue")
        return [self.child(f"{key}[{index}]", row) for index, row in enumerate(raw, start=1)]

    def tables(self, key: str) -> list[tuple[str, _Reader]]:
        raw = self.get(key, dict)
        if not raw:
            raise self.error(key, "au moins une entrée attendue")
        return [(code, self.child(f"{key}.{code}", row)) for code, row in raw.items()]


def _programme(reader: _Reader) -> Programme:
    return Programme(
        code=reader.text("programme"),
        label=reader.text("label"),
        priority=reader.get("priority", int),
        grace=reader.duration("grace", Duration()),
        drop_after=reader.duration("drop_after", None),
    )


def _parse_epi(reader: _Reader) -> EpiCalendar:
    seen: set[str] = set()
    series = []
    for series_reader in reader.rows("series"):
        doses = []
        for dose_reader in series_reader.rows("dose"):
            code = dose_reader.text("code")
            if code in seen:
                raise dose_reader.error("code", f"« {code} » en double")
            seen.add(code)
            age = dose_reader.duration("age")
            season = dose_reader.get("season", dict, None)
            doses.append(DoseRule(
                code=code,
                label=dose_reader.text("label"),
                age=age,
                min_age=dose_reader.duration("min_age", age),
                min_interval=dose_reader.duration("min_interval", None),
                max_age=dose_reader.duration("max_age", None),
                season=_season(dose_reader, season) if season is not None else None,
            ))
        series.append(VaccineSeries(
            id=series_reader.text("id"),
            label=series_reader.text("label"),
            active=series_reader.get("active", bool, True),
            doses=tuple(doses),
        ))
    return EpiCalendar(
        programme=_programme(reader),
        series=tuple(series),
        series_of={dose.code: item.id for item in series for dose in item.doses},
        doses_by_code={dose.code: dose for item in series for dose in item.doses},
    )


def _season(reader: _Reader, raw: dict[str, Any]) -> Season:
    season = reader.child("season", raw)
    bounds = []
    for key in ("start", "end"):
        text = season.text(key)
        try:
            month, day = (int(part) for part in text.split("-"))
            date(2024, month, day)  # a leap year accepts every real MM-DD
        except ValueError:
            raise season.error(key, f"« {text} » : date MM-JJ attendue") from None
        bounds.append((month, day))
    if bounds[1] < bounds[0]:
        raise season.error("end", "la fin de saison doit suivre le début dans l'année")
    return Season(start=bounds[0], end=bounds[1])


def _parse_anc(reader: _Reader) -> AncSchedule:
    contacts = tuple(
        AncContact(week=row.get("week", int), label=row.text("label")) for row in reader.rows("contacts")
    )
    weeks = [contact.week for contact in contacts]
    if weeks != sorted(set(weeks)):
        raise reader.error("contacts", "les semaines doivent être croissantes et distinctes")
    end_at_week = reader.get("end_at_week", int)
    if end_at_week <= weeks[-1]:
        raise reader.error("end_at_week", "doit dépasser la semaine du dernier contact")
    return AncSchedule(programme=_programme(reader), contacts=contacts,
                       min_gap=reader.duration("min_gap", Duration()), end_at_week=end_at_week,
                       prevention=_parse_prevention(reader.child("prevention", reader.get("prevention", dict))))


def _parse_prevention(reader: _Reader) -> AncPrevention:
    raw_intervals = reader.get("td_intervals", list)
    if len(raw_intervals) != 4:
        raise reader.error("td_intervals", "4 intervalles attendus (avant Td2, Td3, Td4, Td5)")
    intervals = tuple(reader.child("td_intervals", {str(i): raw for i, raw in enumerate(raw_intervals, start=2)})
                      .duration(str(i)) for i in range(2, 6))
    return AncPrevention(
        sp_from_week=reader.get("sp_from_week", int), sp_min_interval=reader.duration("sp_min_interval"),
        sp_label=reader.text("sp_label"), td_intervals=intervals, td_label=reader.text("td_label"),
        net_label=reader.text("net_label"), iron_label=reader.text("iron_label"),
        iron_default_tablets=reader.get("iron_default_tablets", int),
    )


def _parse_fp(reader: _Reader) -> FpSchedule:
    methods = {}
    for code, row in reader.tables("methods"):
        per_unit = row.get("per_unit", bool, False)
        methods[code] = FpMethod(
            code=code,
            label=row.text("label"),
            action=row.text("action"),
            interval=row.duration("interval"),
            per_unit=per_unit,
            default_quantity=row.get("default_quantity", int, 1),
            grace=row.duration("grace", Duration()),
        )
    return FpSchedule(programme=_programme(reader), methods=methods)


def _parse_chronic(reader: _Reader) -> ChronicSchedule:
    conditions = {
        code: ChronicCondition(
            code=code,
            label=row.text("label"),
            action=row.text("action"),
            interval_not_controlled=row.duration("interval_not_controlled"),
            interval_controlled=row.duration("interval_controlled"),
        )
        for code, row in reader.tables("conditions")
    }
    return ChronicSchedule(programme=_programme(reader), conditions=conditions)


def _parse_growth(reader: _Reader) -> GrowthSchedule:
    bands = tuple(
        GrowthBand(until_age=row.duration("until_age"), interval=row.duration("interval"))
        for row in reader.rows("bands")
    )
    reference = date(2000, 1, 1)
    limits = [band.until_age.after(reference) for band in bands]
    if limits != sorted(limits):
        raise reader.error("bands", "les tranches d'âge doivent être croissantes")
    return GrowthSchedule(programme=_programme(reader), action=reader.text("action"),
                          max_age=reader.duration("max_age"), bands=bands)


def _parse_postnatal(reader: _Reader) -> PncSchedule:
    contacts = tuple(
        PncContact(number=row.get("number", int), due=row.duration("due"), overdue=row.duration("overdue"),
                   labels={"mere": row.text("mother"), "nouveau_ne": row.text("newborn")})
        for row in reader.rows("contacts")
    )
    birth = date(2000, 1, 1)
    if [contact.number for contact in contacts] != sorted({contact.number for contact in contacts}):
        raise reader.error("contacts", "les numéros doivent être croissants et distincts")
    dues = [contact.due.after(birth) for contact in contacts]
    if dues != sorted(set(dues)):
        raise reader.error("contacts", "les échéances (due) doivent être croissantes et distinctes")
    for index, contact in enumerate(contacts, start=1):
        if contact.overdue.after(birth) <= contact.due.after(birth):
            raise reader.error(f"contacts[{index}].overdue", "doit suivre l'échéance (due)")
    end_after = reader.duration("end_after")
    if end_after.after(birth) <= dues[-1]:
        raise reader.error("end_after", "doit suivre l'échéance du dernier contact")
    return PncSchedule(programme=_programme(reader), contacts=contacts, end_after=end_after)
