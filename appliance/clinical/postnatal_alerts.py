"""Danger signs after birth, for the mother (post-partum) and the newborn: rules as data.

``data/postpartum_danger.toml`` and ``data/newborn_danger.toml`` hold one named rule per danger
sign with its source; ``assess_mother`` / ``assess_newborn`` return the alerts, most severe first
(engine: ``alert_rules``). A newborn's low birth weight is a rule too, and ``low_birth_weight``
gives the threshold and the weighing rhythm of its follow-up.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from appliance.clinical import alert_rules
from appliance.clinical.alert_rules import RiskRules, RuleAlert

DATA_DIR = Path(__file__).with_name("data")
MOTHER_FILE = DATA_DIR / "postpartum_danger.toml"
NEWBORN_FILE = DATA_DIR / "newborn_danger.toml"


@dataclass(frozen=True, slots=True)
class MotherFacts:
    """The mother at a postnatal contact; None or False: not measured / not present."""

    days_since_birth: int | None = None
    temperature_c: float | None = None
    systolic_bp: int | None = None
    diastolic_bp: int | None = None
    heavy_bleeding: bool = False
    fever: bool = False
    foul_discharge: bool = False
    convulsions: bool = False
    severe_headache_or_high_bp: bool = False
    difficulty_breathing: bool = False
    breast_pain: bool = False
    low_mood: bool = False


@dataclass(frozen=True, slots=True)
class NewbornFacts:
    """The baby at birth or at a postnatal contact; None or False: not measured / not present."""

    age_days: int | None = None
    birth_weight_g: int | None = None
    weight_g: int | None = None
    temperature_c: float | None = None
    not_feeding_well: bool = False
    not_breastfed: bool = False  # "allaitement : non" at the contact
    convulsions: bool = False
    fast_breathing: bool = False
    fever: bool = False
    cold_body: bool = False
    jaundice: bool = False
    red_cord: bool = False


@dataclass(frozen=True, slots=True)
class LowBirthWeightFollowUp:
    below_g: int
    weigh_every_days: int
    until_days: int
    label: str


def mother_rules(path: Path = MOTHER_FILE) -> RiskRules:
    return alert_rules.load_rules(path, MotherFacts)


def newborn_rules(path: Path = NEWBORN_FILE) -> RiskRules:
    return alert_rules.load_rules(path, NewbornFacts)


def assess_mother(facts: MotherFacts, rules: RiskRules | None = None) -> list[RuleAlert]:
    return alert_rules.assess(facts, rules or mother_rules())


def assess_newborn(facts: NewbornFacts, rules: RiskRules | None = None) -> list[RuleAlert]:
    return alert_rules.assess(facts, rules or newborn_rules())


@cache
def low_birth_weight(path: Path = NEWBORN_FILE) -> LowBirthWeightFollowUp:
    """The ``[low_birth_weight]`` table: below which weight a baby is followed, how often it is
    weighed, and until which age."""
    with path.open("rb") as handle:
        entry = tomllib.load(handle).get("low_birth_weight")
    try:
        return LowBirthWeightFollowUp(below_g=int(entry["below_g"]), weigh_every_days=int(entry["weigh_every_days"]),
                                      until_days=int(entry["until_days"]), label=str(entry["label"]))
    except (TypeError, KeyError, ValueError) as problem:
        raise ValueError(f"{path.name} : [low_birth_weight] : below_g, weigh_every_days, until_days et label "
                         f"attendus ({problem})") from None
