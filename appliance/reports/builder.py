"""Build the monthly figures with aggregate SQL, and list the records behind any figure.

One query per indicator: the visits of the month that match its rule (``events``), reduced to one
row per patient when the indicator counts patients, then ``GROUP BY sex, age band`` with the band
computed in SQL from the birth date and the event date. Sex and birth date are the patient's unless
the indicator names other columns (``sex``, ``born``: the baby's, for births). A record whose sex is
not known (a baby's is optional) is counted in no cell and reported apart (``MonthlyReport.unsexed``).
Nothing loops over visits in Python: a month of a 100,000-patient record builds in well under a
second here. The drill-down runs the
very same ``events`` query, so a list always adds up to its figure (CHT #5661: staff must be able to
check a figure).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache

from appliance.clinical import nutrition
from appliance.clinical.pregnancy import load_loss_kinds
from appliance.patients import codes
from appliance.patients.models import Patient
from appliance.reports.ages import AgeBands, completed_years, sql_age_days, sql_completed_years
from appliance.reports.definitions import PLACEHOLDER, SOURCE_MODELS, Definitions, Indicator, load_definitions
from appliance.reports.figures import PERIOD, SEXES, ReportFigures, disaggregation_code
from appliance.reports.stock_lines import PREFIX as STOCK_PREFIX
from appliance.reports.stock_lines import load_stock_lines, stock_cells
from appliance.settings.reports import ReportSettings
from appliance.store.db import database

MONTHS_FR = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)


class PeriodError(ValueError):
    """A month that cannot be reported on; worded in French."""


@dataclass(frozen=True)
class Month:
    period: str  # "2024-03"
    start: dt.date
    end: dt.date  # last day, inclusive

    @classmethod
    def parse(cls, period: str) -> Month:
        match = PERIOD.fullmatch(period or "")
        if not match:
            raise PeriodError(f"mois « {period} » invalide : format AAAA-MM attendu (ex. 2024-03)")
        year, month = int(match.group(1)), int(match.group(2))
        return cls(period, dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1]))

    @classmethod
    def of(cls, day: dt.date) -> Month:
        return cls.parse(f"{day.year:04d}-{day.month:02d}")

    @property
    def label(self) -> str:
        """« mars 2024 »."""
        return f"{MONTHS_FR[self.start.month - 1]} {self.start.year}"

    def previous(self) -> Month:
        return Month.of(self.start - dt.timedelta(days=1))

    def is_over(self, today: dt.date) -> bool:
        return today > self.end


@dataclass(frozen=True)
class MonthlyReport:
    """The figures of one month as built now (a draft) or as sealed in a version."""

    month: Month
    figures: ReportFigures
    bands: AgeBands
    definitions: Definitions
    provisional: bool = False  # built before the month was over
    lost_after_days: int = 90  # the delay its lost-to-follow-up figures used
    # Records an indicator's rule selects whose sex is not F or M (a baby's sex is optional): in no
    # cell, shown apart before sealing so staff complete them. Empty for a sealed version.
    unsexed: dict[str, int] = field(default_factory=dict)

    def value(self, indicator: str, disaggregation: str) -> int:
        return self.figures.values.get((indicator, disaggregation), 0)

    def total(self, indicator: str, sex: str | None = None) -> int:
        return sum(
            value for (code, dis), value in self.figures.values.items()
            if code == indicator and (sex is None or dis.startswith(f"{sex}_"))
        )

    def rows(self) -> list[SectionRows]:
        """What the page and the CSV show: sections, indicators, a row per sex with its band cells.

        Indicators come from the current definitions; figures of an old version for an indicator
        since removed are kept at the end, under their code, so nothing sealed is ever hidden."""
        sections = []
        shown: set[str] = set()
        for key, label, indicators in self.definitions.by_section():
            rows = [self._row(item.code, item.label, note_of(item, self.lost_after_days)) for item in indicators]
            sections.append(SectionRows(key, label, rows))
            shown.update(item.code for item in indicators)
        orphans = sorted({code for code, _ in self.figures.values if not code.startswith(STOCK_PREFIX)} - shown)
        if orphans:
            sections.append(SectionRows("anciens", "Indicateurs retirés des définitions",
                                        [self._row(code, code, "") for code in orphans]))
        return sections

    @property
    def stock_section(self) -> str:
        return load_stock_lines().section

    def stock_rows(self) -> list[tuple[str, str, int]]:
        """The stock lines (code, label, value) in the order of stock_lines.toml; a sealed version's
        stock figures for a tracer since removed follow under their code."""
        labels = load_stock_lines().labels()
        present = {code: value for (code, _), value in self.figures.values.items() if code.startswith(STOCK_PREFIX)}
        rows = [(code, label, present[code]) for code, label in labels.items() if code in present]
        return rows + [(code, code, value) for code, value in sorted(present.items()) if code not in labels]

    def _row(self, code: str, label: str, note: str) -> IndicatorRow:
        by_sex = {
            sex: [(band.code, self.value(code, disaggregation_code(sex, band.code))) for band in self.bands.bands]
            for sex in SEXES
        }
        return IndicatorRow(code, label, note, by_sex, self.total(code))


@dataclass(frozen=True)
class IndicatorRow:
    code: str
    label: str
    note: str
    by_sex: dict[str, list[tuple[str, int]]]  # "M" → [(band code, value), …]
    total: int

    def sex_total(self, sex: str) -> int:
        return sum(value for _, value in self.by_sex[sex])


@dataclass(frozen=True)
class SectionRows:
    key: str
    label: str
    indicators: list[IndicatorRow] = field(default_factory=list)


# --- SQL ---------------------------------------------------------------------------------------------


def expand(text: str, definitions: Definitions, settings: ReportSettings, date_sql: str,
           born_sql: str = "p.birth_date") -> str:
    """Replace the file's placeholders by SQL (see the head of indicators.toml); ages run from
    ``born_sql`` (the indicator's ``born``) to ``date_sql``."""

    def replace(match: re.Match[str]) -> str:
        name, argument = match.groups()
        if name == "diagnoses":
            return _sql_list(diagnosis_codes(definitions, (argument or "").split(",")))
        if name == "age_years":
            return sql_completed_years(date_sql, born_sql)
        if name == "age_days":
            return sql_age_days(date_sql, born_sql)
        if name == "lost_after_days":
            return str(int(settings.lost_after_days))
        return f":{name}"  # start, end: bound parameters

    return PLACEHOLDER.sub(replace, text)


def diagnosis_codes(definitions: Definitions, report_groups: list[str]) -> list[str]:
    """Codes of diagnoses.csv whose SNIS group belongs to one of the report groups."""
    snis = {group for name in report_groups for group in definitions.diagnosis_groups[name]}
    return [code for code, entry in codes.code_list("diagnoses").items() if entry.extra.get("snis_group") in snis]


def _sql_list(values: list[str]) -> str:
    return "(" + ", ".join("'" + value.replace("'", "''") + "'" for value in values) + ")"


def _month_visits(table: str, date_sql: str, columns: str) -> str:
    """``columns`` of the table's live visits (and live patients) whose event date is in the month."""
    return (
        f'SELECT {columns} FROM "{table}" AS v JOIN patient AS p ON p.id = v.patient_id '
        f"WHERE v.voided = 0 AND p.voided = 0 AND {date_sql} BETWEEN :start AND :end AND {date_sql} <= :today"
    )


def events_sql(indicator: Indicator, definitions: Definitions, settings: ReportSettings) -> str:
    """The records behind an indicator: one row per visit, or per patient (their first event)."""
    date_sql = expand(indicator.date, definitions, settings, "v.visit_date", indicator.born)
    where = expand(indicator.where, definitions, settings, date_sql, indicator.born)
    columns = (f"v.id AS visit_id, v.patient_id AS patient_id, {indicator.sex} AS sex, "
               f"{indicator.born} AS birth_date, {date_sql} AS event_date")
    visits = f"{_month_visits(indicator.table, date_sql, columns)} AND ({where})"
    if not indicator.counts_patients:
        return visits
    # SQLite: with a single MIN(), the bare columns come from the row holding that minimum.
    return (
        "SELECT visit_id, patient_id, sex, birth_date, MIN(event_date) AS event_date "
        f"FROM ({visits}) GROUP BY patient_id"
    )


def _banded_sql(events: str, bands: AgeBands) -> str:
    years = sql_completed_years("event_date", "birth_date")
    return f"SELECT visit_id, patient_id, sex, birth_date, event_date, {bands.sql_case(years)} AS band FROM ({events})"


def _params(month: Month, today: dt.date) -> dict[str, str]:
    return {"start": month.start.isoformat(), "end": month.end.isoformat(), "today": today.isoformat()}


# --- SQL functions the rules may call -----------------------------------------------------------------

_POSITIONS = {"couche": "l", "debout": "h"}


def nutrition_status(sex: str, age_days: int | None, weight_kg: float | None, height_cm: float | None,
                     position: str | None, muac_mm: int | None, oedema: int | None) -> nutrition.NutritionStatus:
    """The clinical rules' classification of one growth measurement (position: couche / debout)."""
    try:
        return nutrition.assess_child(sex, age_days, weight_kg=weight_kg, lenhei_cm=height_cm,
                                      measure=_POSITIONS.get(position or ""), muac_mm=muac_mm, oedema=bool(oedema))
    except ValueError:  # measures outside the WHO tables: MUAC and oedema still classify
        return nutrition.classify(age_days, muac_mm=muac_mm, oedema=bool(oedema))


@lru_cache(maxsize=65536)
def nutrition_class(sex: str, age_days: int | None, weight_kg: float | None, height_cm: float | None,
                    position: str | None, muac_mm: int | None, oedema: int | None) -> str:
    """SAM / MAM / normal, for SQL: ``nutrition_class(...)`` in the rules of indicators.toml."""
    return nutrition_status(sex, age_days, weight_kg, height_cm, position, muac_mm, oedema).category


def _register_functions() -> None:
    """On the current thread's connection (peewee keeps one per thread): cheap, idempotent."""
    database.connection().create_function("nutrition_class", 7, nutrition_class, deterministic=True)


# --- Building ----------------------------------------------------------------------------------------


def count_indicator(indicator: Indicator, month: Month, settings: ReportSettings, *, today: dt.date,
                    definitions: Definitions | None = None, bands: AgeBands | None = None) -> dict[str, int]:
    """``{disaggregation code: count}`` of one indicator, non-zero cells only."""
    return _count_one(indicator, month, settings, today=today, definitions=definitions or load_definitions(),
                      bands=bands or AgeBands.from_bounds(settings.age_bands))[0]


def _count_one(indicator: Indicator, month: Month, settings: ReportSettings, *, today: dt.date,
               definitions: Definitions, bands: AgeBands) -> tuple[dict[str, int], int]:
    """The cells of one indicator, and how many records it selects whose sex is unknown."""
    _register_functions()
    sql = (f"SELECT sex, band, COUNT(*) FROM ({_banded_sql(events_sql(indicator, definitions, settings), bands)}) "
           "GROUP BY sex, band")
    cells: dict[str, int] = {}
    unsexed = 0
    for sex, band, count in database.execute_sql(sql, _params(month, today)).fetchall():
        if sex in SEXES:
            cells[disaggregation_code(sex, band)] = count
        else:
            unsexed += count
    return cells, unsexed


def count_visit_indicators(indicators: list[Indicator], month: Month, settings: ReportSettings, *,
                           today: dt.date, definitions: Definitions, bands: AgeBands) -> dict[str, dict[str, int]]:
    """Several visit-counting indicators of one ``scan_key`` (table, date, sex and birth-date columns)
    in ONE pass over the month's visits: each rule becomes a 0/1 column (``CASE WHEN rule``: exactly
    WHERE's truth) summed per sex and band."""
    return _count_scan(indicators, month, settings, today=today, definitions=definitions, bands=bands)[0]


def _count_scan(indicators: list[Indicator], month: Month, settings: ReportSettings, *, today: dt.date,
                definitions: Definitions, bands: AgeBands) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """``count_visit_indicators``, and per indicator the records selected whose sex is unknown."""
    first = indicators[0]
    if any(item.scan_key != first.scan_key for item in indicators):
        raise ValueError("one scan counts indicators of the same table, date, sex and birth date only")
    date_sql = expand(first.date, definitions, settings, "v.visit_date", first.born)
    flags = ", ".join(f"CASE WHEN ({expand(item.where, definitions, settings, date_sql, first.born)}) "
                      f"THEN 1 ELSE 0 END AS rule_{number}" for number, item in enumerate(indicators))
    visits = _month_visits(first.table, date_sql,
                           f"{first.sex} AS sex, {first.born} AS birth_date, {date_sql} AS event_date, {flags}")
    sums = ", ".join(f"SUM(rule_{number})" for number in range(len(indicators)))
    years = sql_completed_years("event_date", "birth_date")
    sql = f"SELECT sex, {bands.sql_case(years)} AS band, {sums} FROM ({visits}) GROUP BY sex, band"
    _register_functions()
    counts: dict[str, dict[str, int]] = {item.code: {} for item in indicators}
    unsexed: dict[str, int] = {}
    for sex, band, *totals in database.execute_sql(sql, _params(month, today)).fetchall():
        for item, total in zip(indicators, totals, strict=True):
            if not total:
                continue
            if sex in SEXES:
                counts[item.code][disaggregation_code(sex, band)] = total
            else:
                unsexed[item.code] = unsexed.get(item.code, 0) + total
    return counts, unsexed


def build_report(period: str, settings: ReportSettings, *, today: dt.date | None = None,
                 definitions: Definitions | None = None) -> MonthlyReport:
    """Every indicator of the month, every sex × band cell present (zeros included).

    Indicators that count visits are computed together per table (one scan of the month's rows
    instead of one per antigen and dose); those that count patients run one query each."""
    month = Month.parse(period)
    today = today or dt.date.today()
    definitions = definitions or load_definitions()
    bands = AgeBands.from_bounds(settings.age_bands)
    by_scan: dict[tuple[str, str, str, str], list[Indicator]] = {}
    for indicator in definitions.indicators.values():
        if not indicator.counts_patients:
            by_scan.setdefault(indicator.scan_key, []).append(indicator)
    counts: dict[str, dict[str, int]] = {}
    unsexed: dict[str, int] = {}
    with database.atomic():  # one consistent snapshot for every query of the report
        for group in by_scan.values():
            scanned, missing_sex = _count_scan(group, month, settings, today=today, definitions=definitions,
                                               bands=bands)
            counts |= scanned
            unsexed |= missing_sex
        for indicator in definitions.indicators.values():
            if indicator.counts_patients:
                counts[indicator.code], missing = _count_one(indicator, month, settings, today=today,
                                                             definitions=definitions, bands=bands)
                if missing:
                    unsexed[indicator.code] = missing
        stock = stock_cells(month.start.year, month.start.month, today)
    cells = bands.disaggregations()
    values = {(code, cell): counts[code].get(cell, 0) for code in definitions.indicators for cell in cells}
    values |= stock
    return MonthlyReport(month, ReportFigures(period=period, values=values), bands, definitions,
                         provisional=not month.is_over(today), lost_after_days=settings.lost_after_days,
                         unsexed={code: unsexed[code] for code in definitions.indicators if code in unsexed})


def note_of(indicator: Indicator, lost_after_days: int) -> str:
    """The indicator's plain-words definition, with the delay in force filled in."""
    return indicator.note.replace("{lost_after_days}", str(lost_after_days))


# --- Drill-down --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordRow:
    """One record behind a figure: who, when, which visit, and in which cell it counts."""

    visit_id: int
    table: str
    patient_id: int  # for a birth: the mother
    local_number: str
    name: str
    sex: str | None  # the cell's sex; None when not recorded (a baby's is optional)
    birth_date: dt.date
    event_date: dt.date
    band: str
    detail: str  # the visit's deciding values, in French

    @property
    def age_years(self) -> int:
        return completed_years(self.birth_date, self.event_date)


def _cell_query(period: str, indicator: Indicator, settings: ReportSettings, definitions: Definitions,
                sex: str | None, band: str | None, today: dt.date | None) -> tuple[str, dict]:
    """The banded events of one cell (or of a sex, a band, the whole indicator) and their parameters."""
    _register_functions()
    bands = AgeBands.from_bounds(settings.age_bands)
    sql = (f"SELECT * FROM ({_banded_sql(events_sql(indicator, definitions, settings), bands)}) "
           "WHERE (:sex IS NULL OR sex = :sex) AND (:band IS NULL OR band = :band)")
    return sql, {**_params(Month.parse(period), today or dt.date.today()), "sex": sex, "band": band}


def count_behind(period: str, indicator_code: str, settings: ReportSettings, *, sex: str | None = None,
                 band: str | None = None, today: dt.date | None = None) -> int:
    """How many records ``records_behind`` lists in all (a figure, recomputed now)."""
    definitions = load_definitions()
    sql, params = _cell_query(period, definitions.indicators[indicator_code], settings, definitions, sex, band, today)
    return database.execute_sql(f"SELECT COUNT(*) FROM ({sql})", params).fetchone()[0]


def records_behind(period: str, indicator_code: str, settings: ReportSettings, *, sex: str | None = None,
                   band: str | None = None, today: dt.date | None = None,
                   definitions: Definitions | None = None, limit: int | None = None,
                   offset: int = 0) -> list[RecordRow]:
    """The records counted in one cell (or a sex / band / indicator total), oldest first."""
    definitions = definitions or load_definitions()
    indicator = definitions.indicators[indicator_code]
    cell_sql, params = _cell_query(period, indicator, settings, definitions, sex, band, today)
    sql = (
        "SELECT e.visit_id, e.patient_id, e.sex, e.birth_date, e.event_date, e.band, "
        f"p.local_number, p.family_name, p.first_names FROM ({cell_sql}) AS e "
        "JOIN patient AS p ON p.id = e.patient_id "
        "ORDER BY e.event_date, p.family_name, p.first_names, e.visit_id LIMIT :limit OFFSET :offset"
    )
    params |= {"limit": -1 if limit is None else limit, "offset": offset}
    rows = database.execute_sql(sql, params).fetchall()
    details = visit_details(indicator.table, [row[0] for row in rows])
    return [
        RecordRow(
            visit_id=visit_id, table=indicator.table, patient_id=patient_id, local_number=local_number,
            name=f"{family} {first}".strip(), sex=row_sex, birth_date=dt.date.fromisoformat(birth),
            event_date=dt.date.fromisoformat(event), band=row_band, detail=details.get(visit_id, ""),
        )
        for visit_id, patient_id, row_sex, birth, event, row_band, local_number, family, first in rows
    ]


def visit_details(table: str, visit_ids: list[int]) -> dict[int, str]:
    """A short French description of each visit: what made it count."""
    if table == "birth":
        return _birth_details(visit_ids)
    if table == "referral":
        return _referral_details(visit_ids)
    model = next(model for model in SOURCE_MODELS if model._meta.table_name == table)
    describe = _DESCRIBERS[table]
    result: dict[int, str] = {}
    for start in range(0, len(visit_ids), 500):
        query = (model.select(model, Patient.id, Patient.sex, Patient.birth_date)
                 .join(Patient, on=(model.patient == Patient.id))
                 .where(model.id.in_(visit_ids[start:start + 500])))
        for visit in query:
            result[visit.id] = describe(visit)
    return result


def _loss_label(code: str | None) -> str:
    kind = load_loss_kinds().get(code or "")
    return kind.label if kind else (code or "")


_PLACES = {"ici": "au centre", "domicile": "à domicile", "autre_formation": "autre formation", "en_route": "en route"}
_OUTCOMES = {"vivant": "né vivant", "mort_frais": "mort-né frais", "mort_macere": "mort-né macéré"}
_BABY_SEXES = {"F": "fille", "M": "garçon"}


def _rows_by_id(select: str, ids: list[int]) -> list[tuple]:
    """``select`` (« SELECT id, … FROM table ») for the given ids, 500 at a time (SQLite's variables)."""
    rows: list[tuple] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows += database.execute_sql(f"{select} WHERE id IN ({', '.join('?' * len(chunk))})", chunk).fetchall()
    return rows


def _birth_details(birth_ids: list[int]) -> dict[int, str]:
    """« Bébé 2 sur 2 · né vivant · 2450 g · garçon · au centre », from the birth view."""
    rows = _rows_by_id("SELECT id, position, babies, outcome, birth_weight_g, sex, place FROM birth", birth_ids)
    return {birth_id: _join(f"bébé {position} sur {babies}" if (babies or 1) > 1 else "",
                            _OUTCOMES.get(outcome, outcome), _number(weight, "g"),
                            _BABY_SEXES.get(sex, "sexe non noté"), _PLACES.get(place, place))
            for birth_id, position, babies, outcome, weight, sex, place in rows}


def _referral_details(referral_ids: list[int]) -> dict[int, str]:
    """« référé le 03/12/2026 vers CSRéf · évacuation · retour le 06/12/2026 », from the referral table
    (read as rows: the report never imports the referrals' code)."""
    result: dict[int, str] = {}
    rows = _rows_by_id("SELECT id, visit_date, destination, evacuation, returned_on FROM referral", referral_ids)
    for referral_id, referred_on, destination, evacuation, returned_on in rows:
        back = dt.date.fromisoformat(str(returned_on)) if returned_on else None
        result[referral_id] = _join(f"référé le {dt.date.fromisoformat(str(referred_on)):%d/%m/%Y} vers {destination}",
                                    "évacuation" if evacuation else "", f"retour le {back:%d/%m/%Y}" if back else "")
    return result


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    text = f"{value:g}".replace(".", ",")
    return f"{text} {unit}"


def _join(*parts: str) -> str:
    return " · ".join(part for part in parts if part)


def _growth(visit) -> str:
    patient = visit.patient
    status = nutrition_status(patient.sex, (visit.visit_date - patient.birth_date).days, visit.weight_kg,
                              visit.height_cm, visit.position, visit.muac_mm, visit.oedema)
    return _join(_number(visit.weight_kg, "kg"), _number(visit.height_cm, "cm"),
                 f"PB {visit.muac_mm} mm" if visit.muac_mm is not None else "",
                 "œdèmes bilatéraux" if visit.oedema else "",
                 f"{status.label} ({', '.join(status.reasons)})" if status.reasons else "")


_DESCRIBERS = {
    "consultation": lambda v: _join(codes.label("diagnoses", v.diagnosis_code), v.diagnosis_code),
    "antenatal_visit": lambda v: _join(f"CPN{v.contact_number}" if v.contact_number else "contact sans numéro",
                                       f"{v.gestational_age_weeks} SA" if v.gestational_age_weeks else ""),
    "delivery": lambda v: _join(_PLACES.get(v.place, v.place), _OUTCOMES.get(v.outcome, v.outcome)),
    "postnatal_visit": lambda v: _join("mère" if v.subject == "mere" else "nouveau-né",
                                       f"contact {v.contact_number}" if v.contact_number else ""),
    "immunisation": lambda v: _join(codes.label("antigens", v.antigen), f"dose {v.dose_number}",
                                    "au centre" if v.given_here else "ailleurs (carnet)"),
    "growth_measurement": _growth,
    "family_planning_visit": lambda v: _join(codes.label("fp_methods", v.method),
                                             "nouvelle utilisatrice" if v.user_status == "nouvelle" else "continue"),
    "death": lambda v: _join({"maternel": "décès maternel", "neonatal": "décès néonatal", "enfant": "décès d'enfant",
                              "autre": "décès"}.get(v.category, v.category), _PLACES.get(v.place, v.place), v.cause),
    "pregnancy": lambda v: _join(_loss_label(v.end_reason),
                                 f"grossesse ouverte le {v.opened_on:%d/%m/%Y}",
                                 f"{(v.ended_on - v.dated_lmp()).days // 7} SA" if v.dated_lmp() else "non datée"),
    "chronic_visit": lambda v: _join({"hta": "hypertension", "diabete": "diabète"}.get(v.programme, v.programme),
                                     f"visite du {v.visit_date:%d/%m/%Y}",
                                     f"rendez-vous du {v.next_appointment:%d/%m/%Y}" if v.next_appointment else ""),
}
