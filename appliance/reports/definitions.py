"""The indicator definitions of ``data/indicators.toml``: labels and the SQL rule of every figure.

The rules are SQL fragments on purpose: a district supervisor who doubts a figure can read the
exact condition, and the builder runs it as written (no second interpretation in Python). The file
ships with the code, is read once, and every problem is reported with its indicator and key.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from appliance.patients.models import VISIT_MODELS, Patient, Pregnancy
from appliance.reports.figures import INDICATOR

DATA_FILE = Path(__file__).with_name("data") / "indicators.toml"

VISIT_TABLES = (
    "consultation",
    "antenatal_visit",
    "delivery",
    "postnatal_visit",
    "immunisation",
    "growth_measurement",
    "family_planning_visit",
    "chronic_visit",
    "death",
    "birth",
    "pregnancy",  # one row per pregnancy (losses are dated by v.ended_on)
    "referral",  # appliance/referrals/models.py: visit_date = the day referred, returned_on = the day back
)
# The record tables an indicator may read, with their model (``birth`` is a view, apart).
SOURCE_MODELS = (*VISIT_MODELS, Pregnancy)
# The columns of the ``birth`` view (migration m0037): one row per baby, patient_id = the mother.
BIRTH_COLUMNS = ("id", "delivery_id", "position", "patient_id", "visit_date", "voided", "place", "babies",
                 "outcome", "sex", "birth_weight_g", "newborn_id")
COUNT_UNITS = {"visites": "visits", "patients": "patients"}
DEFAULT_DATE = "v.visit_date"
DEFAULT_SEX = "p.sex"
DEFAULT_BORN = "p.birth_date"
PLACEHOLDER = re.compile(r"\{([a-z_]+)(?::([a-z_,]+))?\}")
KNOWN_PLACEHOLDERS = {"diagnoses", "age_years", "age_days", "lost_after_days", "start", "end"}
COLUMN = re.compile(r"([vp])\.([a-z_][a-z0-9_]*)")
_KEYS = {"section", "label", "table", "date", "where", "count", "note", "sex", "born"}
_REQUIRED = ("section", "label", "table", "where", "count")


class DefinitionsError(ValueError):
    """The indicators file is unusable; the message lists every problem, in French."""


@dataclass(frozen=True)
class Indicator:
    code: str
    section: str
    label: str
    table: str
    where: str  # SQL with placeholders, as written in the file
    count: str  # "visits" or "patients"
    date: str = DEFAULT_DATE
    note: str = ""
    sex: str = DEFAULT_SEX  # SQL column giving the sex of what is counted (the baby's for births)
    born: str = DEFAULT_BORN  # SQL column giving its birth date, for the age band

    @property
    def scan_key(self) -> tuple[str, str, str, str]:
        """Visit-counting indicators with the same key share one pass over the month's rows."""
        return (self.table, self.date, self.sex, self.born)

    @property
    def counts_patients(self) -> bool:
        return self.count == "patients"


@dataclass(frozen=True)
class Definitions:
    sections: dict[str, str]  # key → French label, in file order
    diagnosis_groups: dict[str, tuple[str, ...]]  # report group → SNIS groups
    indicators: dict[str, Indicator]  # code → indicator, in file order
    sha256: str  # of the file's bytes: stored with each sealed version

    def by_section(self) -> list[tuple[str, str, list[Indicator]]]:
        """``[(key, label, indicators)]`` in file order, empty sections left out."""
        grouped = [
            (key, label, [item for item in self.indicators.values() if item.section == key])
            for key, label in self.sections.items()
        ]
        return [entry for entry in grouped if entry[2]]

    def label_of(self, code: str) -> str:
        """The French label; the code itself for an indicator no longer defined (an old version)."""
        indicator = self.indicators.get(code)
        return indicator.label if indicator else code


@cache
def load_definitions(path: Path = DATA_FILE) -> Definitions:
    raw_bytes = Path(path).read_bytes()
    try:
        raw = tomllib.loads(raw_bytes.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DefinitionsError(f"{Path(path).name} : fichier illisible ({exc})") from exc
    errors: list[str] = []
    name = Path(path).name
    sections = raw.get("sections")
    if not isinstance(sections, dict) or not sections:
        errors.append(f"{name} : section [sections] manquante")
        sections = {}
    groups = {key: tuple(value) for key, value in (raw.get("diagnosis_groups") or {}).items()}
    indicators: dict[str, Indicator] = {}
    for code, table in (raw.get("indicators") or {}).items():
        where = f"{name}, [indicators.{code}]"
        if not INDICATOR.fullmatch(code):
            errors.append(f"{where} : code invalide (minuscules, chiffres et _)")
        if not isinstance(table, dict):
            errors.append(f"{where} : doit être une section")
            continue
        unknown = set(table) - _KEYS
        missing = [key for key in _REQUIRED if not isinstance(table.get(key), str) or not table[key].strip()]
        errors += [f"{where} : clé inconnue « {key} »" for key in sorted(unknown)]
        errors += [f"{where} : « {key} » manquant" for key in missing]
        if missing:
            continue
        if table["section"] not in sections:
            errors.append(f"{where} : section « {table['section']} » absente de [sections]")
        if table["table"] not in VISIT_TABLES:
            errors.append(f"{where} : table « {table['table']} » inconnue ({', '.join(VISIT_TABLES)})")
        if table["count"] not in COUNT_UNITS:
            errors.append(f"{where} : count « {table['count']} » : « visites » ou « patients »")
        for key in ("where", "date"):
            errors += [f"{where} : {key} : {problem}" for problem in _placeholder_problems(table.get(key, ""), groups)]
        for key in ("sex", "born"):
            if key in table:
                problem = _column_problem(table[key], table["table"])
                errors += [f"{where} : {key} : {problem}"] if problem else []
        indicators[code] = Indicator(
            code=code,
            section=table["section"],
            label=table["label"].strip(),
            table=table["table"],
            where=table["where"],
            count=COUNT_UNITS.get(table["count"], table["count"]),
            date=table.get("date", DEFAULT_DATE),
            note=" ".join(table.get("note", "").split()),
            sex=table.get("sex", DEFAULT_SEX).strip() if isinstance(table.get("sex"), str) else DEFAULT_SEX,
            born=table.get("born", DEFAULT_BORN).strip() if isinstance(table.get("born"), str) else DEFAULT_BORN,
        )
    if not indicators:
        errors.append(f"{name} : aucun indicateur ([indicators.<code>])")
    if errors:
        raise DefinitionsError("\n".join(errors))
    return Definitions(
        sections=dict(sections),
        diagnosis_groups=groups,
        indicators=indicators,
        sha256=hashlib.sha256(raw_bytes).hexdigest(),
    )


def _placeholder_problems(text: str, groups: dict[str, tuple[str, ...]]) -> list[str]:
    problems = []
    for match in PLACEHOLDER.finditer(text):
        name, argument = match.groups()
        if name not in KNOWN_PLACEHOLDERS:
            problems.append(f"remplacement inconnu {match.group(0)}")
        elif name == "diagnoses":
            unknown = [group for group in (argument or "").split(",") if group not in groups]
            if not argument or unknown:
                problems.append(f"{match.group(0)} : groupe(s) absent(s) de [diagnosis_groups] : {', '.join(unknown)}")
    return problems


def _columns_of(table: str) -> tuple[str, ...]:
    if table == "birth":
        return BIRTH_COLUMNS
    model = next((model for model in SOURCE_MODELS if model._meta.table_name == table), None)
    return tuple(field.column_name for field in model._meta.sorted_fields) if model else ()


def _column_problem(value: object, table: str) -> str:
    """``sex`` and ``born`` name one column, of the visit source « v » or of the patient « p »: the
    builder groups and bands by them, so anything else (an expression, a typo) is refused here."""
    if not isinstance(value, str) or not COLUMN.fullmatch(value.strip()):
        return f"{value!r} : une colonne « v.<colonne> » ou « p.<colonne> » attendue (ex. « v.sex »)"
    alias, column = COLUMN.fullmatch(value.strip()).groups()
    known = tuple(field.column_name for field in Patient._meta.sorted_fields) if alias == "p" else _columns_of(table)
    if known and column not in known:
        owner = "patient" if alias == "p" else table
        return f"« {value.strip()} » : colonne « {column} » inconnue de {owner} ({', '.join(known)})"
    return ""
