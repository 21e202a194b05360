"""Pregnancy risk alerts: rules as data (``data/pregnancy_risk.toml``) over a dataclass of facts.

The midwife can add or change a rule without touching code; every alert names the rule that fired,
its French label, its severity and the values that made it fire.
"""

from __future__ import annotations

import operator
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).with_name("data") / "pregnancy_risk.toml"


@dataclass(frozen=True, slots=True)
class PregnancyFacts:
    """What is known at a visit; None (or False for signs) means not measured / not present."""

    age_years: float | None = None
    parity: int | None = None  # previous births (viable), not counting this pregnancy
    previous_caesareans: int | None = None
    systolic_bp: int | None = None
    diastolic_bp: int | None = None
    hb_g_dl: float | None = None
    temperature_c: float | None = None
    gestational_age_weeks: float | None = None
    multiple_pregnancy: bool = False
    previous_stillbirth_or_neonatal_death: bool = False
    vaginal_bleeding: bool = False
    convulsions: bool = False
    severe_headache: bool = False
    blurred_vision: bool = False
    fever: bool = False
    fluid_loss: bool = False
    reduced_fetal_movements: bool = False
    severe_abdominal_pain: bool = False
    difficulty_breathing: bool = False


FACT_NAMES = frozenset(field.name for field in fields(PregnancyFacts))

_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True, slots=True)
class Condition:
    fact: str
    op: str | None = None  # None: a yes/no fact that fires when true
    value: float | None = None

    def holds(self, facts: PregnancyFacts) -> bool:
        actual = getattr(facts, self.fact)
        if actual is None:
            return False
        if self.op is None:
            return actual is True
        return _OPERATORS[self.op](actual, self.value)


@dataclass(frozen=True, slots=True)
class RiskRule:
    id: str
    label: str
    severity: str
    conditions: tuple[Condition, ...]
    match_any: bool = False
    detail: str | None = None
    replaces: tuple[str, ...] = ()  # milder rules this one makes redundant (160/110 replaces 140/90)

    def fires(self, facts: PregnancyFacts) -> bool:
        results = (condition.holds(facts) for condition in self.conditions)
        return any(results) if self.match_any else all(results)


@dataclass(frozen=True, slots=True)
class Severity:
    code: str
    rank: int
    label: str


@dataclass(frozen=True, slots=True)
class RiskRules:
    rules: tuple[RiskRule, ...]
    severities: dict[str, Severity]


@dataclass(frozen=True, slots=True)
class PregnancyAlert:
    rule_id: str
    label: str
    severity: str
    severity_label: str
    severity_rank: int
    detail: str | None

    @property
    def text(self) -> str:
        """One line for a banner: label and the values behind it."""
        return f"{self.label} : {self.detail}" if self.detail else self.label


@cache
def load_rules(path: Path = DATA_FILE) -> RiskRules:
    """Parse and validate the rule file; every problem names the file and the rule."""
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    severities = {}
    for code, entry in data.get("severities", {}).items():
        if not isinstance(entry, dict) or "rank" not in entry or "label" not in entry:
            raise ValueError(f"{path.name} : [severities] {code} doit avoir rank et label")
        severities[code] = Severity(code=code, rank=int(entry["rank"]), label=str(entry["label"]))
    rules = []
    seen: set[str] = set()
    for index, entry in enumerate(data.get("rule", []), start=1):
        where = f"{path.name} : règle n°{index} ({entry.get('id', 'sans id')})"
        for key in ("id", "label", "severity", "when"):
            if key not in entry:
                raise ValueError(f"{where} : champ « {key} » manquant")
        unknown = set(entry) - {"id", "label", "severity", "when", "match", "detail", "replaces"}
        if unknown:
            raise ValueError(f"{where} : champ(s) inconnu(s) {sorted(unknown)}")
        if entry["id"] in seen:
            raise ValueError(f"{where} : id en double")
        seen.add(entry["id"])
        if entry["severity"] not in severities:
            raise ValueError(f"{where} : sévérité « {entry['severity']} » absente de [severities]")
        if entry.get("match", "all") not in ("all", "any"):
            raise ValueError(f"{where} : match doit valoir « all » ou « any »")
        conditions = tuple(_condition(where, raw) for raw in entry["when"])
        if not conditions:
            raise ValueError(f"{where} : « when » est vide")
        detail = entry.get("detail")
        if detail:
            _check_detail(where, detail)
        rules.append(RiskRule(
            id=entry["id"], label=entry["label"], severity=entry["severity"], conditions=conditions,
            match_any=entry.get("match") == "any", detail=detail,
            replaces=tuple(entry.get("replaces", ())),
        ))
    for rule in rules:
        missing = set(rule.replaces) - seen
        if missing:
            raise ValueError(f"{path.name} : règle {rule.id} : « replaces » inconnu {sorted(missing)}")
    return RiskRules(rules=tuple(rules), severities=severities)


def assess(facts: PregnancyFacts, rules: RiskRules | None = None) -> list[PregnancyAlert]:
    """Every rule that fires, most severe first (file order within a severity)."""
    rules = rules or load_rules()
    fired = [rule for rule in rules.rules if rule.fires(facts)]
    replaced = {replaced_id for rule in fired for replaced_id in rule.replaces}
    alerts = []
    for rule in fired:
        if rule.id in replaced:
            continue
        severity = rules.severities[rule.severity]
        alerts.append(PregnancyAlert(
            rule_id=rule.id, label=rule.label, severity=severity.code, severity_label=severity.label,
            severity_rank=severity.rank, detail=_format_detail(rule.detail, facts),
        ))
    alerts.sort(key=lambda alert: alert.severity_rank)
    return alerts


def severe_hypertension(rules: RiskRules | None = None) -> tuple[float, float]:
    """(systolic, diastolic) from which a pregnant woman's blood pressure is severe hypertension:
    the ``hta_severe`` rule's own thresholds, so a visit form asks to confirm at the values the
    alert fires on."""
    rule = next(rule for rule in (rules or load_rules()).rules if rule.id == "hta_severe")
    limits = {condition.fact: condition.value for condition in rule.conditions}
    return limits["systolic_bp"], limits["diastolic_bp"]


def highest_severity(alerts: Sequence[PregnancyAlert]) -> str | None:
    """The severity code to show on the chart banner and the alerts page, or None if no alert."""
    return alerts[0].severity if alerts else None


def _condition(where: str, raw: Any) -> Condition:
    if not isinstance(raw, dict) or "fact" not in raw:
        raise ValueError(f"{where} : chaque condition doit avoir un « fact »")
    if raw["fact"] not in FACT_NAMES:
        raise ValueError(f"{where} : fait « {raw['fact']} » inconnu ({', '.join(sorted(FACT_NAMES))})")
    op = raw.get("op")
    if op is None:
        if "value" in raw:
            raise ValueError(f"{where} : « value » sans « op » pour {raw['fact']}")
        return Condition(fact=raw["fact"])
    if op not in _OPERATORS:
        raise ValueError(f"{where} : opérateur « {op} » inconnu ({' '.join(_OPERATORS)})")
    if not isinstance(raw.get("value"), int | float):
        raise ValueError(f"{where} : « value » numérique attendue pour {raw['fact']}")
    return Condition(fact=raw["fact"], op=op, value=raw["value"])


def _check_detail(where: str, detail: str) -> None:
    try:
        detail.format(**dict.fromkeys(FACT_NAMES, ""))
    except (KeyError, IndexError) as problem:
        raise ValueError(f"{where} : « detail » cite un fait inconnu {problem}") from None


def _format_detail(detail: str | None, facts: PregnancyFacts) -> str | None:
    if not detail:
        return None
    shown = {}
    for name in FACT_NAMES:
        value = getattr(facts, name)
        if value is None:
            shown[name] = "?"
        elif isinstance(value, float):
            shown[name] = f"{value:g}".replace(".", ",")
        else:
            shown[name] = value
    return detail.format(**shown)
