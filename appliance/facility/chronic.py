"""The hypertension and diabetes register, its control figures and the quarterly cohort, as
Simple.org and WHO HEARTS define them (thresholds and delays in ``clinical/data/chronic_control.toml``).

A patient is registered in a programme on the date of the first chronic-care visit of that
programme. As of a date D:

- *new*: registered in D's month;
- *under care* (the denominator): registered at least 3 months before D, and seen within 12 months;
- among them, by their last visit up to D: *controlled* / *uncontrolled* (last visit within the past
  3 months, judged by ``clinical.chronic_care.controlled``: BP for hypertension, glucose for
  diabetes), *no measure* (seen, value not taken), *missed visits* (no visit in the past 3 months);
- *lost*: registered, no visit for 12 months (outside the denominator);
- *dead*: a death recorded (``death`` table) by D: outside the denominator and the cohort's outcomes,
  as Simple.org does.

The cohort of a quarter Q: patients registered in the quarter before Q, judged by their last visit
inside Q (none: missed). Both run one SQL query; the control of each last visit is the clinical
rule itself, registered as an SQL function, so the register and the worklists cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from appliance.clinical import chronic_care
from appliance.facility.freshness import reuse
from appliance.store.db import database

PROGRAMMES = {chronic_care.HYPERTENSION: "Hypertension artérielle", chronic_care.DIABETES: "Diabète"}
CONTROLLED, UNCONTROLLED, NO_MEASURE, MISSED, LOST, RECENT, DEAD = (
    "controle", "non_controle", "sans_mesure", "visite_manquee", "perdu", "recent", "decede")


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months earlier (clamped to the month's last day)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _register_rule() -> None:
    database.connection().create_function("chronic_controlled", 5, _controlled_sql, deterministic=True)


def _controlled_sql(programme: str, systolic: int | None, diastolic: int | None, glucose: float | None,
                    fasting: int | None) -> int | None:
    result = chronic_care.controlled(programme, systolic, diastolic, glucose,
                                     None if fasting is None else bool(fasting))
    return None if result is None else int(result)


# One row per registered patient (live record): registration date and the last visit up to :asof (the
# visit with the highest (date, id): two visits on a day, the later entry wins). The visits are read
# from the (programme, voided, patient, date) index of m0091; a voided patient is dropped after grouping.
_PATIENTS = """
WITH v AS (
  SELECT id, patient_id, visit_date FROM chronic_visit
  WHERE voided = 0 AND programme = :programme AND visit_date <= :asof
), reg AS (
  SELECT patient_id, MIN(visit_date) AS registered_on FROM v GROUP BY patient_id
), last AS (
  SELECT patient_id, CAST(substr(MAX(visit_date || printf('%012d', id)), 11) AS INTEGER) AS visit_id
  FROM v {window} GROUP BY patient_id
)
SELECT reg.patient_id, reg.registered_on, lv.visit_date, lv.systolic, lv.diastolic, lv.glucose_g_l, lv.treatment,
       chronic_controlled(:programme, lv.systolic, lv.diastolic, lv.glucose_g_l, lv.fasting) AS ok,
       (SELECT MIN(d.visit_date) FROM death AS d WHERE d.patient_id = reg.patient_id AND d.voided = 0
        AND d.visit_date <= :asof) AS died_on
FROM reg JOIN patient AS p ON p.id = reg.patient_id AND p.voided = 0
LEFT JOIN last ON last.patient_id = reg.patient_id
LEFT JOIN chronic_visit AS lv ON lv.id = last.visit_id
"""


@dataclass(frozen=True)
class RegisterLine:
    patient_id: int
    registered_on: dt.date
    last_visit: dt.date | None
    systolic: int | None
    diastolic: int | None
    glucose_g_l: float | None
    treatment: str
    status: str
    proposal: str = ""  # HEARTS next step when uncontrolled (hypertension)


@dataclass
class Register:
    programme: str
    asof: dt.date
    lines: list[RegisterLine] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for line in self.lines if line.status == status)

    @property
    def new_this_month(self) -> int:
        start = self.asof.replace(day=1)
        return sum(1 for line in self.lines if start <= line.registered_on <= self.asof)

    @property
    def under_care(self) -> int:
        return sum(1 for line in self.lines if line.status in (CONTROLLED, UNCONTROLLED, NO_MEASURE, MISSED))

    def rate(self, status: str) -> float | None:
        return None if not self.under_care else 100 * self.count(status) / self.under_care


def register(programme: str, asof: dt.date) -> Register:
    """Every registered patient of ``programme`` with their status as of ``asof`` (reused while the
    record has not changed)."""
    return reuse(("register", programme, asof), lambda: _register(programme, asof))


def _register(programme: str, asof: dt.date) -> Register:
    rules = chronic_care.load_rules()
    recent_from = months_before(asof, rules.recent_months)
    lost_before = months_before(asof, rules.lost_after_months)
    _register_rule()
    rows = database.execute_sql(_PATIENTS.format(window=""),
                                {"programme": programme, "asof": asof.isoformat()}).fetchall()
    result = Register(programme, asof)
    for patient_id, registered, last, systolic, diastolic, glucose, treatment, ok, died_on in rows:
        registered_on, last_visit = dt.date.fromisoformat(registered), dt.date.fromisoformat(last)
        if died_on:
            status = DEAD
        elif registered_on > recent_from:
            status = RECENT
        elif last_visit <= lost_before:
            status = LOST
        elif last_visit <= recent_from:
            status = MISSED
        else:
            status = {1: CONTROLLED, 0: UNCONTROLLED}.get(ok, NO_MEASURE)
        proposal = ""
        if programme == chronic_care.HYPERTENSION and ok == 0 and status in (UNCONTROLLED, RECENT):
            step = chronic_care.proposed_step(treatment or "", False, rules)
            proposal = step.label if step else ""
        result.lines.append(RegisterLine(patient_id, registered_on, last_visit, systolic, diastolic, glucose,
                                         treatment or "", status, proposal))
    return result


# --- Quarterly cohort ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int  # 1–4

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> dt.date:
        return self.next().start - dt.timedelta(days=1)

    def next(self) -> Quarter:
        return Quarter(self.year + self.number // 4, self.number % 4 + 1)

    def previous(self) -> Quarter:
        return Quarter(self.year - (self.number == 1), (self.number - 2) % 4 + 1)

    @classmethod
    def of(cls, day: dt.date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def label(self) -> str:
        return f"T{self.number} {self.year}"


@dataclass
class Cohort:
    programme: str
    quarter: Quarter  # the outcome quarter; registered in quarter.previous()
    lines: list[RegisterLine] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for line in self.lines if line.status == status)

    @property
    def registered(self) -> int:
        return len(self.lines)


COHORT_STATUSES = (CONTROLLED, UNCONTROLLED, NO_MEASURE, MISSED)


def _outcome(last_visit: str | None, controlled: int | None, died_on: str | None) -> str:
    """A cohort member's outcome: dead, no visit in the quarter, or the control at the last one."""
    if died_on:
        return DEAD
    if last_visit is None:
        return MISSED
    return {1: CONTROLLED, 0: UNCONTROLLED}.get(controlled, NO_MEASURE)


def cohort(programme: str, quarter: Quarter, today: dt.date) -> Cohort:
    """Registered in the quarter before ``quarter``; judged by their last visit inside ``quarter``."""
    registered_in = quarter.previous()
    asof = min(quarter.end, today)
    _register_rule()
    sql = _PATIENTS.format(window="WHERE visit_date >= :outcome_start") + \
        " WHERE reg.registered_on BETWEEN :reg_start AND :reg_end"
    rows = database.execute_sql(sql, {"programme": programme, "asof": asof.isoformat(),
                                      "outcome_start": quarter.start.isoformat(),
                                      "reg_start": registered_in.start.isoformat(),
                                      "reg_end": registered_in.end.isoformat()}).fetchall()
    result = Cohort(programme, quarter)
    for patient_id, registered, last, systolic, diastolic, glucose, treatment, ok, died_on in rows:
        status = _outcome(last, ok, died_on)
        result.lines.append(RegisterLine(patient_id, dt.date.fromisoformat(registered),
                                         dt.date.fromisoformat(last) if last else None, systolic, diastolic,
                                         glucose, treatment or "", status))
    return result
