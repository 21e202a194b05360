"""Alert rules as data: a TOML file of named rules over the fields of a facts dataclass.

One engine for every set of gravity rules (pregnancy, post-partum mother, newborn): a clinician
adds or changes a rule in the data file, with its source, without touching code. Every alert names
the rule that fired, its French label, its severity and the values that made it fire.
"""

from __future__ import annotations

import operator
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any

_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
RULE_KEYS = frozenset({"id", "label", "severity", "when", "match", "detail", "replaces", "source"})


@dataclass(frozen=True, slots=True)
class Condition:
    fact: str
    op: str | None = None  # None: a yes/no fact that fires when true
    value: float | None = None

    def holds(self, facts: object) -> bool:
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
    source: str = ""

    def fires(self, facts: object) -> bool:
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
    fact_names: frozenset[str]

    def rule(self, rule_id: str) -> RiskRule:
        return next(rule for rule in self.rules if rule.id == rule_id)


@dataclass(frozen=True, slots=True)
class RuleAlert:
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
def load_rules(path: Path, facts_type: type) -> RiskRules:
    """Parse and validate a rule file over ``facts_type``'s fields; every problem names the file
    and the rule."""
    fact_names = frozenset(field.name for field in fields(facts_type))
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
        unknown = set(entry) - RULE_KEYS
        if unknown:
            raise ValueError(f"{where} : champ(s) inconnu(s) {sorted(unknown)}")
        if entry["id"] in seen:
            raise ValueError(f"{where} : id en double")
        seen.add(entry["id"])
        if entry["severity"] not in severities:
            raise ValueError(f"{where} : sévérité « {entry['severity']} » absente de [severities]")
        if entry.get("match", "all") not in ("all", "any"):
            raise ValueError(f"{where} : match doit valoir « all » ou « any »")
        conditions = tuple(_condition(where, raw, fact_names) for raw in entry["when"])
        if not conditions:
            raise ValueError(f"{where} : « when » est vide")
        detail = entry.get("detail")
        if detail:
            _check_detail(where, detail, fact_names)
        rules.append(RiskRule(
            id=entry["id"], label=entry["label"], severity=entry["severity"], conditions=conditions,
            match_any=entry.get("match") == "any", detail=detail,
            replaces=tuple(entry.get("replaces", ())), source=str(entry.get("source", "")),
        ))
    for rule in rules:
        missing = set(rule.replaces) - seen
        if missing:
            raise ValueError(f"{path.name} : règle {rule.id} : « replaces » inconnu {sorted(missing)}")
    return RiskRules(rules=tuple(rules), severities=severities, fact_names=fact_names)


def assess(facts: object, rules: RiskRules) -> list[RuleAlert]:
    """Every rule that fires, most severe first (file order within a severity)."""
    fired = [rule for rule in rules.rules if rule.fires(facts)]
    replaced = {replaced_id for rule in fired for replaced_id in rule.replaces}
    alerts = []
    for rule in fired:
        if rule.id in replaced:
            continue
        severity = rules.severities[rule.severity]
        alerts.append(RuleAlert(
            rule_id=rule.id, label=rule.label, severity=severity.code, severity_label=severity.label,
            severity_rank=severity.rank, detail=_format_detail(rule.detail, facts, rules.fact_names),
        ))
    alerts.sort(key=lambda alert: alert.severity_rank)
    return alerts


def highest_severity(alerts: Sequence[RuleAlert]) -> str | None:
    """The severity code to show on the chart banner and the alerts page, or None if no alert."""
    return alerts[0].severity if alerts else None


def _condition(where: str, raw: Any, fact_names: frozenset[str]) -> Condition:
    if not isinstance(raw, dict) or "fact" not in raw:
        raise ValueError(f"{where} : chaque condition doit avoir un « fact »")
    if raw["fact"] not in fact_names:
        raise ValueError(f"{where} : fait « {raw['fact']} » inconnu ({', '.join(sorted(fact_names))})")
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


def _check_detail(where: str, detail: str, fact_names: frozenset[str]) -> None:
    try:
        detail.format(**dict.fromkeys(fact_names, ""))
    except (KeyError, IndexError) as problem:
        raise ValueError(f"{where} : « detail » cite un fait inconnu {problem}") from None


def _format_detail(detail: str | None, facts: object, fact_names: frozenset[str]) -> str | None:
    if not detail:
        return None
    shown = {}
    for name in fact_names:
        value = getattr(facts, name)
        if value is None:
            shown[name] = "?"
        elif isinstance(value, float):
            shown[name] = f"{value:g}".replace(".", ",")
        else:
            shown[name] = value
    return detail.format(**shown)
