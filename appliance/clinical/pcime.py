"""PCIME (IMCI): classify a sick child from the signs found, and propose treatments with doses.

The charts are data (``data/pcime_0_2_mois.toml``, ``data/pcime_2_59_mois.toml``), as are the
essential medicines (``data/medicaments_essentiels.toml``) and the dose tables
(``data/pcime_doses.toml``); each file names its source. This module reads them, checks every
reference at load (a row naming an unknown sign, a treatment naming an unknown medicine...), and
applies them: pure functions, no Flask, no database.

Each classification keeps the signs that made it, so staff see *why* (the booklet's reasoning,
not a score), and the first matching row of each table wins, as the booklet reads.
"""

from __future__ import annotations

import itertools
import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from appliance.clinical.growth import DAYS_PER_MONTH

DATA_DIR = Path(__file__).with_name("data")
CHART_FILES = ("pcime_0_2_mois.toml", "pcime_2_59_mois.toml")
MEDICINES_FILE = "medicaments_essentiels.toml"
DOSES_FILE = "pcime_doses.toml"

Colour = Literal["rose", "jaune", "vert"]
COLOURS: tuple[Colour, ...] = ("rose", "jaune", "vert")
COLOUR_LABELS = {"rose": "Rose : référer d'urgence", "jaune": "Jaune : traitement au centre",
                 "vert": "Vert : soins à domicile"}
BUILTIN_MEASURES = ("age_days", "age_months")
PINK_FOUND = "classification_rose"  # built-in sign: a pink row was found in an earlier table


class PcimeDataError(ValueError):
    """A PCIME data file is wrong; the message names the file and the key."""


# --- Data ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sign:
    code: str
    label: str
    group: str


@dataclass(frozen=True, slots=True)
class Measure:
    code: str
    label: str
    unit: str
    minimum: float
    maximum: float
    short: str = ""  # "FR", shown in the reasons ("FR 62/min ≥ 60")


@dataclass(frozen=True, slots=True)
class Derived:
    """A sign computed from a measure against an age-banded threshold, or from other signs."""

    code: str
    label: str
    measure: str | None = None
    at_least: bool = True
    thresholds: tuple[tuple[float | None, float], ...] = ()  # (below_months or None, value)
    any_of: tuple[str, ...] = ()
    all_of: tuple[str, ...] = ()

    def threshold(self, age_months: float) -> float | None:
        for below_months, value in self.thresholds:
            if below_months is None or age_months < below_months:
                return value
        return None


@dataclass(frozen=True, slots=True)
class Row:
    code: str
    label: str
    colour: Colour
    any: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    none: tuple[str, ...] = ()
    count_of: tuple[str, ...] = ()
    count_at_least: int = 0
    refer: bool = False
    diagnosis: str | None = None
    treatments: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Table:
    code: str
    label: str
    asked_if: str | None
    rows: tuple[Row, ...]


@dataclass(frozen=True, slots=True)
class Chart:
    code: str
    label: str
    from_days: int
    below_days: int
    signs: dict[str, Sign]
    measures: dict[str, Measure]
    derived: dict[str, Derived]
    tables: tuple[Table, ...]
    source_file: str

    def sign_label(self, code: str) -> str:
        if code in self.signs:
            return self.signs[code].label
        if code in self.derived:
            return self.derived[code].label
        return "Classification rose ailleurs" if code == PINK_FOUND else code

    def groups(self) -> dict[str, list[Sign]]:
        """Signs by form section, in file order."""
        result: dict[str, list[Sign]] = {}
        for sign in self.signs.values():
            result.setdefault(sign.group, []).append(sign)
        return result


@dataclass(frozen=True, slots=True)
class Medicine:
    code: str
    dci: str
    form: str
    strength: str
    unit: str
    dose_unit: str
    per_unit: float
    fraction: float
    category: str

    @property
    def label(self) -> str:
        return f"{self.dci} {self.strength}, {self.form}"


@dataclass(frozen=True, slots=True)
class Band:
    months: tuple[float, float] | None = None
    kg: tuple[float, float] | None = None
    days: tuple[float, float] | None = None
    dose: float | None = None
    per_kg: float | None = None
    text: str | None = None
    medicine: str | None = None


@dataclass(frozen=True, slots=True)
class Treatment:
    code: str
    label: str
    source: str
    medicine: str
    times_per_day: int
    days: int
    bands: tuple[Band, ...] = ()
    per_kg: float | None = None
    applies_months: tuple[float, float] | None = None
    quantity: int | None = None
    tolerance: float = 0.1


@dataclass(frozen=True, slots=True)
class Preventive:
    treatment: str
    from_months: float
    below_months: float
    every_months: float
    label: str


@dataclass(frozen=True, slots=True)
class Formulary:
    medicines: dict[str, Medicine]
    treatments: dict[str, Treatment]
    preventive: tuple[Preventive, ...]


# --- Loading and checking ------------------------------------------------------------------------


def _tuple(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise PcimeDataError(f"{where} : liste de codes attendue")
    return tuple(value)


def _range(value: Any, where: str) -> tuple[float, float] | None:
    if value is None:
        return None
    if (not isinstance(value, list) or len(value) != 2 or not all(isinstance(x, int | float) for x in value)
            or value[0] >= value[1]):
        raise PcimeDataError(f"{where} : intervalle [début, fin[ attendu, p. ex. [2, 12]")
    return float(value[0]), float(value[1])


def _need(table: Mapping[str, Any], key: str, where: str, kind: type | tuple[type, ...] = str) -> Any:
    if key not in table:
        raise PcimeDataError(f"{where} : clé « {key} » manquante")
    value = table[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise PcimeDataError(f"{where}.{key} : valeur de type inattendu ({value!r})")
    return value


def _thresholds(value: Any, where: str) -> tuple[tuple[float | None, float], ...]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return ((None, float(value)),)
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        bands = []
        for index, item in enumerate(value):
            bands.append((float(_need(item, "below_months", f"{where}[{index}]", (int, float))),
                          float(_need(item, "value", f"{where}[{index}]", (int, float)))))
        if [band[0] for band in bands] != sorted(band[0] for band in bands):
            raise PcimeDataError(f"{where} : tranches d'âge à ranger par âge croissant")
        return tuple(bands)
    raise PcimeDataError(f"{where} : un nombre, ou une liste {{ below_months = M, value = V }}")


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise PcimeDataError(f"{path.name} : {error}") from None


def load_chart(path: Path) -> Chart:
    """Read one chart file and check that every sign a row or derived sign names exists."""
    data, name = _read(path), path.name
    head = _need(data, "chart", name, dict)
    signs: dict[str, Sign] = {}
    for index, item in enumerate(data.get("sign", [])):
        where = f"{name} : sign[{index}]"
        sign = Sign(_need(item, "code", where), _need(item, "label", where), _need(item, "group", where))
        if sign.code in signs:
            raise PcimeDataError(f"{where} : code « {sign.code} » en double")
        signs[sign.code] = sign
    measures: dict[str, Measure] = {}
    for index, item in enumerate(data.get("measure", [])):
        where = f"{name} : measure[{index}]"
        measure = Measure(_need(item, "code", where), _need(item, "label", where), _need(item, "unit", where),
                          float(_need(item, "min", where, (int, float))),
                          float(_need(item, "max", where, (int, float))), item.get("short") or item["label"])
        measures[measure.code] = measure
    derived: dict[str, Derived] = {}
    for index, item in enumerate(data.get("derived", [])):
        where = f"{name} : derived[{index}]"
        code = _need(item, "code", where)
        if code in signs or code in derived:
            raise PcimeDataError(f"{where} : code « {code} » en double")
        if "measure" in item:
            measure_code = _need(item, "measure", where)
            if measure_code not in measures and measure_code not in BUILTIN_MEASURES:
                raise PcimeDataError(f"{where}.measure : mesure « {measure_code} » inconnue")
            if ("at_least" in item) == ("below" in item):
                raise PcimeDataError(f"{where} : « at_least » ou « below », l'un des deux")
            key = "at_least" if "at_least" in item else "below"
            derived[code] = Derived(code, _need(item, "label", where), measure_code, key == "at_least",
                                    _thresholds(item[key], f"{where}.{key}"))
        else:
            any_of = _tuple(item.get("any_of"), f"{where}.any_of")
            all_of = _tuple(item.get("all_of"), f"{where}.all_of")
            if not any_of and not all_of:
                raise PcimeDataError(f"{where} : « measure », « any_of » ou « all_of » attendu")
            derived[code] = Derived(code, _need(item, "label", where), any_of=any_of, all_of=all_of)
    known = set(signs) | set(derived) | {PINK_FOUND}

    def check_refs(codes: Iterable[str], where: str) -> None:
        for code in codes:
            if code.lstrip("!") not in known:
                raise PcimeDataError(f"{where} : signe « {code.lstrip('!')} » inconnu")

    for code, item in derived.items():
        check_refs(item.any_of + item.all_of, f"{name} : derived « {code} »")
    _check_no_cycle(derived, name)
    tables = []
    for t_index, item in enumerate(_need(data, "table", name, list)):
        where = f"{name} : table[{t_index}]"
        asked_if = item.get("asked_if") or None
        if asked_if:
            check_refs([asked_if], f"{where}.asked_if")
        rows = []
        for r_index, raw in enumerate(_need(item, "row", where, list)):
            row_where = f"{where}.row[{r_index}]"
            colour = _need(raw, "colour", row_where)
            if colour not in COLOURS:
                raise PcimeDataError(f"{row_where}.colour : « {colour} » (rose, jaune ou vert)")
            count = raw.get("count") or {}
            row = Row(_need(raw, "code", row_where), _need(raw, "label", row_where), colour,
                      any=_tuple(raw.get("any"), f"{row_where}.any"), all=_tuple(raw.get("all"), f"{row_where}.all"),
                      none=_tuple(raw.get("none"), f"{row_where}.none"),
                      count_of=_tuple(count.get("of"), f"{row_where}.count.of"),
                      count_at_least=int(count.get("at_least", 0)), refer=bool(raw.get("refer", False)),
                      diagnosis=raw.get("diagnosis"),
                      treatments=_tuple(raw.get("treatments"), f"{row_where}.treatments"),
                      actions=_tuple(raw.get("actions"), f"{row_where}.actions"))
            check_refs(row.any + row.all + row.none + row.count_of, row_where)
            if row.count_of and not 0 < row.count_at_least <= len(row.count_of):
                raise PcimeDataError(f"{row_where}.count.at_least : entre 1 et {len(row.count_of)}")
            if row.colour == "rose" and not row.refer:
                raise PcimeDataError(f"{row_where} : une classification rose doit référer (refer = true)")
            rows.append(row)
        if not rows:
            raise PcimeDataError(f"{where} : aucune ligne")
        tables.append(Table(_need(item, "code", where), _need(item, "label", where), asked_if, tuple(rows)))
    return Chart(_need(head, "code", f"{name} : chart"), _need(head, "label", f"{name} : chart"),
                 int(_need(head, "from_days", f"{name} : chart", int)),
                 int(_need(head, "below_days", f"{name} : chart", int)),
                 signs, measures, derived, tuple(tables), name)


def _check_no_cycle(derived: dict[str, Derived], name: str) -> None:
    state: dict[str, int] = {}

    def visit(code: str, trail: tuple[str, ...]) -> None:
        if state.get(code) == 2 or code not in derived:
            return
        if state.get(code) == 1:
            raise PcimeDataError(f"{name} : signes dérivés en boucle ({' → '.join((*trail, code))})")
        state[code] = 1
        for ref in derived[code].any_of + derived[code].all_of:
            visit(ref.lstrip("!"), (*trail, code))
        state[code] = 2

    for code in derived:
        visit(code, ())


@cache
def charts(data_dir: Path = DATA_DIR) -> tuple[Chart, ...]:
    """Both charts, youngest first; their age ranges must follow each other without gap."""
    loaded = tuple(sorted((load_chart(data_dir / name) for name in CHART_FILES), key=lambda chart: chart.from_days))
    for before, after in itertools.pairwise(loaded):
        if before.below_days != after.from_days:
            raise PcimeDataError(f"{after.source_file} : l'âge doit commencer où finit {before.source_file} "
                                 f"({before.below_days} jours)")
    return loaded


def chart_for(age_days: int) -> Chart | None:
    """The chart of a child of ``age_days`` (None from 5 years: PCIME no longer applies)."""
    for chart in charts():
        if chart.from_days <= age_days < chart.below_days:
            return chart
    return None


def _band(raw: Mapping[str, Any], where: str) -> Band:
    unknown = set(raw) - {"months", "kg", "days", "dose", "per_kg", "text", "medicine"}
    if unknown:
        raise PcimeDataError(f"{where} : clé inconnue {sorted(unknown)}")
    if sum(key in raw for key in ("dose", "per_kg", "text")) != 1:
        raise PcimeDataError(f"{where} : « dose », « per_kg » ou « text », un seul")
    return Band(_range(raw.get("months"), f"{where}.months"), _range(raw.get("kg"), f"{where}.kg"),
                _range(raw.get("days"), f"{where}.days"),
                float(raw["dose"]) if "dose" in raw else None, float(raw["per_kg"]) if "per_kg" in raw else None,
                raw.get("text"), raw.get("medicine"))


@cache
def formulary(data_dir: Path = DATA_DIR) -> Formulary:
    """The essential medicines and the dose tables, every medicine a treatment names checked."""
    meds_data = _read(data_dir / MEDICINES_FILE)
    medicines: dict[str, Medicine] = {}
    for index, item in enumerate(_need(meds_data, "medicine", MEDICINES_FILE, list)):
        where = f"{MEDICINES_FILE} : medicine[{index}]"
        medicine = Medicine(_need(item, "code", where), _need(item, "dci", where), _need(item, "form", where),
                            _need(item, "strength", where), _need(item, "unit", where),
                            _need(item, "dose_unit", where), float(item.get("per_unit", 1)),
                            float(_need(item, "fraction", where, (int, float))), item.get("category", "medicament"))
        if medicine.code in medicines:
            raise PcimeDataError(f"{where} : code « {medicine.code} » en double")
        if medicine.category not in ("medicament", "intrant"):
            raise PcimeDataError(f"{where}.category : « medicament » ou « intrant »")
        medicines[medicine.code] = medicine
    doses = _read(data_dir / DOSES_FILE)
    tolerance = float(doses.get("defaults", {}).get("tolerance", 0.1))
    treatments: dict[str, Treatment] = {}
    for code, item in _need(doses, "treatment", DOSES_FILE, dict).items():
        where = f"{DOSES_FILE} : [treatment.{code}]"
        bands = tuple(_band(raw, f"{where}.bands[{index}]") for index, raw in enumerate(item.get("bands", [])))
        treatment = Treatment(code, _need(item, "label", where), _need(item, "source", where),
                              _need(item, "medicine", where), int(_need(item, "times_per_day", where, int)),
                              int(_need(item, "days", where, int)), bands,
                              float(item["per_kg"]) if "per_kg" in item else None,
                              _range(item.get("applies_months"), f"{where}.applies_months"),
                              item.get("quantity"), float(item.get("tolerance", tolerance)))
        if not bands and treatment.per_kg is None:
            raise PcimeDataError(f"{where} : « bands » ou « per_kg » attendu")
        for name in [treatment.medicine, *(band.medicine for band in bands if band.medicine)]:
            if name not in medicines:
                raise PcimeDataError(f"{where} : médicament « {name} » absent de {MEDICINES_FILE}")
        treatments[code] = treatment
    preventive = []
    for index, item in enumerate(doses.get("preventive", [])):
        where = f"{DOSES_FILE} : preventive[{index}]"
        entry = Preventive(_need(item, "treatment", where), float(_need(item, "from_months", where, (int, float))),
                           float(_need(item, "below_months", where, (int, float))),
                           float(_need(item, "every_months", where, (int, float))), _need(item, "label", where))
        if entry.treatment not in treatments:
            raise PcimeDataError(f"{where}.treatment : traitement « {entry.treatment} » inconnu")
        preventive.append(entry)
    return Formulary(medicines, treatments, tuple(preventive))


def load_all(data_dir: Path = DATA_DIR) -> None:
    """Read and check every PCIME file, including each row's treatments (start-up)."""
    known = formulary(data_dir).treatments
    for chart in charts(data_dir):
        for table in chart.tables:
            for row in table.rows:
                for code in row.treatments:
                    if code not in known:
                        raise PcimeDataError(f"{chart.source_file} : ligne « {row.code} » : traitement « {code} » "
                                             f"absent de {DOSES_FILE}")


# --- Classifying ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Facts:
    """What was found: ticked signs and typed measures (missing measures are simply absent)."""

    age_days: int
    signs: frozenset[str] = frozenset()
    measures: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Classification:
    table: str
    table_label: str
    code: str
    label: str
    colour: Colour
    reasons: tuple[str, ...]
    actions: tuple[str, ...]
    refer: bool
    diagnosis: str | None
    treatments: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Assessment:
    chart: str
    chart_label: str
    classifications: tuple[Classification, ...]

    @property
    def urgent(self) -> bool:
        return any(item.refer for item in self.classifications)

    def by_code(self) -> dict[str, Classification]:
        return {item.code: item for item in self.classifications}

    def ranked(self) -> list[Classification]:
        """Pink first, then yellow, then green; table order within a colour."""
        return sorted(self.classifications, key=lambda item: COLOURS.index(item.colour))

    def diagnoses(self) -> list[str]:
        """The classifications' ICD-10 codes, most severe first, each once."""
        seen: list[str] = []
        for item in self.ranked():
            if item.diagnosis and item.diagnosis not in seen:
                seen.append(item.diagnosis)
        return seen

    def treatments(self) -> list[str]:
        seen: list[str] = []
        for item in self.ranked():
            for code in item.treatments:
                if code not in seen:
                    seen.append(code)
        return seen


def _number(value: float) -> str:
    """French display: decimal comma, true minus sign, at most two decimals, no trailing zero."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",").replace("-", "−")


def _amount(amount: float, unit: str) -> str:
    """"½ comprimé", "2 comprimés", "7,5 ml"."""
    amount_text = {0.25: "¼", 0.5: "½", 1.5: "1 ½", 2.5: "2 ½"}.get(amount, _number(amount))
    plural = amount > 1 and unit != "ml" and not unit.endswith("s") and " " not in unit
    return f"{amount_text} {unit}{'s' if plural else ''}"


def _lower_first(text: str) -> str:
    return text[0].lower() + text[1:] if text[1:2].islower() else text


class _Evaluator:
    """The signs of one child, derived signs computed once each, with the words that explain them."""

    def __init__(self, chart: Chart, facts: Facts) -> None:
        self.chart = chart
        self.facts = facts
        self.age_months = facts.age_days / DAYS_PER_MONTH
        self.pink_found = False
        self._cache: dict[str, tuple[bool, str]] = {}

    def measure(self, code: str) -> float | None:
        if code == "age_days":
            return float(self.facts.age_days)
        if code == "age_months":
            return self.age_months
        value = self.facts.measures.get(code)
        return None if value is None else float(value)

    def holds(self, code: str) -> tuple[bool, str]:
        """Whether the sign holds, and how to say it ("Respiration rapide : FR 62/min ≥ 60")."""
        if code.startswith("!"):
            held, _ = self.holds(code[1:])
            return not held, f"pas de {self.chart.sign_label(code[1:]).lower()}"
        if code == PINK_FOUND:
            return self.pink_found, self.chart.sign_label(code)
        if code in self._cache:
            return self._cache[code]
        derived = self.chart.derived.get(code)
        if derived is None:
            result = (code in self.facts.signs, self.chart.sign_label(code))
        elif derived.measure:
            value = self.measure(derived.measure)
            limit = derived.threshold(self.age_months)
            if value is None or limit is None:
                result = (False, derived.label)
            else:
                held = value >= limit if derived.at_least else value < limit
                unit = self.chart.measures[derived.measure].unit if derived.measure in self.chart.measures else ""
                name = self.chart.measures[derived.measure].short if derived.measure in self.chart.measures else ""
                detail = f"{name} {_number(value)} {unit}".replace(" /", "/").strip()
                sign = "≥" if derived.at_least else "<"
                text = f"{derived.label} ({detail} {sign} {_number(limit)})" if name else derived.label
                result = (held, text)
        else:
            parts = [self.holds(ref) for ref in derived.any_of]
            held_any = [text for held, text in parts if held]
            all_parts = [self.holds(ref) for ref in derived.all_of]
            held = (not derived.any_of or bool(held_any)) and all(held for held, _ in all_parts)
            shown = held_any + [text for held_one, text in all_parts if held_one and not text.startswith("pas de")]
            label = derived.label
            if derived.any_of and shown and not derived.all_of:
                label = f"{derived.label} : {', '.join(_lower_first(text) for text in shown)}"
            result = (held, label)
        # a derived sign built on PINK_FOUND depends on the table order: never cached
        if not self._depends_on_pink(code):
            self._cache[code] = result
        return result

    def _depends_on_pink(self, code: str) -> bool:
        derived = self.chart.derived.get(code)
        if derived is None:
            return code == PINK_FOUND
        return any(self._depends_on_pink(ref.lstrip("!")) for ref in derived.any_of + derived.all_of)

    def row_reasons(self, row: Row) -> tuple[str, ...] | None:
        """The reasons the row holds, or None when it does not."""
        reasons: list[str] = []
        if row.any:
            found = [text for held, text in map(self.holds, row.any) if held]
            if not found:
                return None
            reasons += found
        for code in row.all:
            held, text = self.holds(code)
            if not held:
                return None
            reasons.append(text)
        for code in row.none:
            if self.holds(code)[0]:
                return None
        if row.count_of:
            found = [text for held, text in map(self.holds, row.count_of) if held]
            if len(found) < row.count_at_least:
                return None
            reasons.append(f"{len(found)} signes sur {len(row.count_of)} : " + ", ".join(found))
        return tuple(reasons)


def classify(facts: Facts, chart: Chart | None = None) -> Assessment:
    """Classify a child: one classification per table that applies, with the signs behind it.

    Raises ValueError (French) for an age outside PCIME (5 years and over, or negative)."""
    chart = chart or chart_for(facts.age_days)
    if chart is None:
        raise ValueError("La PCIME s'applique de la naissance à 5 ans.")
    unknown = facts.signs - set(chart.signs)
    if unknown:
        raise ValueError(f"Signes inconnus pour {chart.label} : {', '.join(sorted(unknown))}")
    for code, value in facts.measures.items():
        measure = chart.measures.get(code)
        if measure is None:
            raise ValueError(f"Mesure inconnue pour {chart.label} : {code}")
        if value is not None and not measure.minimum <= value <= measure.maximum:
            raise ValueError(f"{measure.label} : {_number(value)} {measure.unit} hors des valeurs possibles "
                             f"({_number(measure.minimum)} à {_number(measure.maximum)})")
    evaluator = _Evaluator(chart, facts)
    found: list[Classification] = []
    for table in chart.tables:
        if table.asked_if and not evaluator.holds(table.asked_if)[0]:
            continue
        for row in table.rows:
            reasons = evaluator.row_reasons(row)
            if reasons is not None:
                found.append(Classification(table.code, table.label, row.code, row.label, row.colour, reasons,
                                            row.actions, row.refer, row.diagnosis, row.treatments))
                if row.colour == "rose":
                    evaluator.pink_found = True
                break
    return Assessment(chart.code, chart.label, tuple(found))


# --- Doses ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Dose:
    """A treatment's line for one child: what to give, how much, how often, how long, how many."""

    treatment: str
    label: str
    medicine: str
    dose: float | None  # in the medicine's dose unit; None when the table gives a text (Plans A/B)
    text: str  # "1 comprimé 2 fois par jour pendant 5 jours"
    times_per_day: int
    days: int
    quantity: int  # dispensing units
    basis: str  # "poids 8 kg", "âge 14 mois"
    problem: str | None = None  # no band fits: the dose must be written by hand, with a reason


def _in(value: float | None, bounds: tuple[float, float] | None) -> bool:
    return bounds is None or (value is not None and bounds[0] <= value < bounds[1])


def _round_to(value: float, step: float) -> float:
    return round(round(value / step) * step, 4)


def dose_text(amount: float | None, unit: str, times_per_day: int, days: int) -> str:
    if amount is None:
        return ""
    if times_per_day == 1 and days == 1:
        return f"{_amount(amount, unit)} en une seule dose"
    frequency = "1 fois par jour" if times_per_day == 1 else f"{times_per_day} fois par jour"
    return f"{_amount(amount, unit)} {frequency} pendant {days} jours"


def propose(code: str, age_days: int, weight_kg: float | None = None) -> Dose | None:
    """The line of treatment ``code`` for this child, or None when it does not apply at this age."""
    book = formulary()
    treatment = book.treatments[code]
    age_months = age_days / DAYS_PER_MONTH
    if treatment.applies_months and not _in(age_months, treatment.applies_months):
        return None
    band = next((band for band in treatment.bands if _band_fits(band, age_days, age_months, weight_kg)), None)
    medicine = book.medicines[band.medicine if band and band.medicine else treatment.medicine]
    per_kg = band.per_kg if band else treatment.per_kg
    basis = f"poids {_number(weight_kg)} kg" if weight_kg else f"âge {int(age_months)} mois"
    amount: float | None = None
    problem = None
    text = ""
    if band and band.text:
        text = band.text
    elif band and band.dose is not None:
        amount = band.dose
    elif per_kg is not None and (band or not treatment.bands):
        if weight_kg:
            amount = max(medicine.fraction, _round_to(per_kg * weight_kg, medicine.fraction))
            basis = f"{_number(per_kg)} {medicine.dose_unit}/kg × {_number(weight_kg)} kg"
        else:
            problem = "Peser l'enfant : la dose se calcule au poids."
    else:
        problem = f"Aucune tranche du tableau pour cet enfant ({basis}) : dose à écrire, avec un motif."
    if amount is not None:
        text = dose_text(amount, medicine.dose_unit, treatment.times_per_day, treatment.days)
    return Dose(code, treatment.label, medicine.code, amount, text, treatment.times_per_day, treatment.days,
                quantity_for(medicine, amount, treatment.times_per_day, treatment.days, treatment.quantity),
                basis, problem)


def _band_fits(band: Band, age_days: int, age_months: float, weight_kg: float | None) -> bool:
    if band.days and not _in(age_days, band.days):
        return False
    if weight_kg and band.kg:
        return _in(weight_kg, band.kg)
    if band.months:
        return _in(age_months, band.months)
    return band.kg is None or bool(weight_kg and _in(weight_kg, band.kg))


def quantity_for(medicine: Medicine, amount: float | None, times_per_day: int, days: int,
                 fixed: int | None = None) -> int:
    """Dispensing units to hand over: whole tablets, bottles, vials (a part-used one counts)."""
    if fixed is not None:
        return fixed
    if amount is None:
        return 0
    return max(1, math.ceil(round(amount * times_per_day * days / medicine.per_unit, 6)))


def check_dose(code: str, age_days: int, weight_kg: float | None, dose: float | None, times_per_day: int,
               days: int) -> list[str]:
    """Why a written line departs from the table (a reason is then required); empty when it does not."""
    book = formulary()
    treatment = book.treatments[code]
    proposed = propose(code, age_days, weight_kg)
    problems: list[str] = []
    if proposed is None:
        return [f"{treatment.label} : hors de la tranche d'âge prévue."]
    if proposed.problem:
        problems.append(proposed.problem)
    elif proposed.dose is not None and dose is not None:
        low, high = proposed.dose * (1 - treatment.tolerance), proposed.dose * (1 + treatment.tolerance)
        if not low - 1e-9 <= dose <= high + 1e-9:
            unit = book.medicines[proposed.medicine].dose_unit
            problems.append(f"Dose de {_amount(dose, unit)} hors du tableau ({_amount(proposed.dose, unit)}, "
                            f"{proposed.basis}).")
    if times_per_day != treatment.times_per_day:
        problems.append(f"{times_per_day} prises par jour au lieu de {treatment.times_per_day}.")
    if days != treatment.days:
        problems.append(f"{days} jours au lieu de {treatment.days}.")
    return problems


def preventive_due(age_days: int, last_given: Mapping[str, Any], today: Any) -> list[Preventive]:
    """Preventive doses due today (vitamin A, albendazole): in the age range and none given within
    the interval. ``last_given`` maps a treatment code to the date of its latest dose (or None)."""
    age_months = age_days / DAYS_PER_MONTH
    due = []
    for entry in formulary().preventive:
        if not entry.from_months <= age_months < entry.below_months:
            continue
        last = last_given.get(entry.treatment)
        if last is None or (today - last).days >= entry.every_months * DAYS_PER_MONTH:
            due.append(entry)
    return due
