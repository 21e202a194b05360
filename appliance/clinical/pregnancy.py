"""Pregnancy risk alerts: rules as data (``data/pregnancy_risk.toml``) over a dataclass of facts.

The midwife can add or change a rule without touching code; every alert names the rule that fired,
its French label, its severity and the values that made it fire (engine: ``alert_rules``).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from appliance.clinical import alert_rules
from appliance.clinical.alert_rules import RiskRules, highest_severity
from appliance.clinical.alert_rules import RuleAlert as PregnancyAlert

DATA_FILE = Path(__file__).with_name("data") / "pregnancy_risk.toml"
LOSS_FILE = Path(__file__).with_name("data") / "pregnancy_loss.toml"
DAYS_TO_TERM = 280  # Naegele: the due date is 280 days (40 weeks) after the LMP
__all__ = [
    "DATA_FILE",
    "LOSS_FILE",
    "LossKind",
    "PregnancyAlert",
    "PregnancyFacts",
    "assess",
    "dated_lmp",
    "due_date",
    "fundal_height_gap",
    "highest_severity",
    "load_loss_kinds",
    "load_rules",
    "loss_problem",
    "severe_hypertension",
]


@dataclass(frozen=True, slots=True)
class PregnancyFacts:
    """What is known at a visit; None (or False for signs) means not measured / not present."""

    age_years: float | None = None
    parity: int | None = None  # previous births (viable), not counting this pregnancy
    previous_caesareans: int | None = None
    height_cm: float | None = None
    systolic_bp: int | None = None
    diastolic_bp: int | None = None
    hb_g_dl: float | None = None
    proteinuria_crosses: int | None = None  # urine dipstick: 0 (négatif) … 4 (++++)
    temperature_c: float | None = None
    gestational_age_weeks: float | None = None
    weight_kg: float | None = None  # the woman's weight at this contact
    fundal_height_gap_cm: float | None = None  # fundal height (cm) minus gestational age (weeks): see fundal_height_gap
    multiple_pregnancy: bool = False
    previous_stillbirth_or_neonatal_death: bool = False
    previous_pph: bool = False
    previous_pre_eclampsia: bool = False
    vaginal_bleeding: bool = False
    convulsions: bool = False
    severe_headache: bool = False
    blurred_vision: bool = False
    fever: bool = False
    fluid_loss: bool = False
    reduced_fetal_movements: bool = False
    severe_abdominal_pain: bool = False
    difficulty_breathing: bool = False
    severe_pallor: bool = False
    face_hand_oedema: bool = False


def load_rules(path: Path = DATA_FILE) -> RiskRules:
    return alert_rules.load_rules(path, PregnancyFacts)


def assess(facts: PregnancyFacts, rules: RiskRules | None = None) -> list[PregnancyAlert]:
    """Every rule that fires, most severe first (file order within a severity)."""
    return alert_rules.assess(facts, rules or load_rules())


def severe_hypertension(rules: RiskRules | None = None) -> tuple[float, float]:
    """(systolic, diastolic) from which a pregnant woman's blood pressure is severe hypertension:
    the ``hta_severe`` rule's own thresholds, so a visit form asks to confirm at the values the
    alert fires on."""
    rule = (rules or load_rules()).rule("hta_severe")
    limits = {condition.fact: condition.value for condition in rule.conditions}
    return limits["systolic_bp"], limits["diastolic_bp"]


def fundal_height_gap(fundal_height_cm: float | None, on: dt.date, lmp: dt.date | None) -> float | None:
    """Fundal height in cm minus the gestational age in weeks on that day (McDonald: from about 20
    weeks the height in cm follows the weeks); which gap and which weeks raise an alert is the
    rules' business (``pregnancy_risk.toml``). None when either is unknown."""
    if fundal_height_cm is None or lmp is None:
        return None
    return round(fundal_height_cm - (on - lmp).days / 7, 1)


def dated_lmp(lmp: dt.date | None, ultrasound_on: dt.date | None, ultrasound_weeks: int | None) -> dt.date | None:
    """The LMP a pregnancy is dated by: an early ultrasound wins over the remembered DDR (WHO 2016
    ANC rec. B.2.4, one ultrasound before 24 weeks)."""
    if ultrasound_on is not None and ultrasound_weeks is not None:
        return ultrasound_on - dt.timedelta(weeks=ultrasound_weeks)
    return lmp


def due_date(lmp: dt.date | None) -> dt.date | None:
    """Date prévue d'accouchement (DPA)."""
    return lmp + dt.timedelta(days=DAYS_TO_TERM) if lmp else None


@dataclass(frozen=True, slots=True)
class LossKind:
    """One way a pregnancy ends without a delivery here (``data/pregnancy_loss.toml``)."""

    code: str
    label: str
    hint: str = ""
    below_weeks: int | None = None  # the gestational age at the end must be under this
    from_weeks: int | None = None  # … or at least this


@cache
def load_loss_kinds(path: Path = LOSS_FILE) -> dict[str, LossKind]:
    """The loss kinds in file order; a broken file is refused with its name and the kind at fault."""
    with path.open("rb") as handle:
        raw = tomllib.load(handle).get("kinds")
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{path.name} : aucune issue [kinds.<code>]")
    kinds: dict[str, LossKind] = {}
    for code, entry in raw.items():
        try:
            kinds[code] = LossKind(code=code, label=str(entry["label"]), hint=str(entry.get("hint", "")),
                                   below_weeks=_weeks(entry.get("below_weeks")),
                                   from_weeks=_weeks(entry.get("from_weeks")))
        except (TypeError, KeyError, ValueError) as problem:
            raise ValueError(f"{path.name} : [kinds.{code}] : label attendu, below_weeks / from_weeks entiers "
                             f"({problem})") from None
    return kinds


def _weeks(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 45:
        raise ValueError(f"{value!r} : un nombre de semaines entre 1 et 45")
    return value


def loss_problem(kind: LossKind, weeks: int | None) -> str | None:
    """Why a loss of this kind cannot be at ``weeks`` completed weeks (None: it can, or undated)."""
    if weeks is None:
        return None
    if kind.below_weeks is not None and weeks >= kind.below_weeks:
        return (f"{weeks} SA à cette date : « {kind.label} » est avant {kind.below_weeks} SA. "
                "Vérifiez la date ou choisissez une autre issue.")
    if kind.from_weeks is not None and weeks < kind.from_weeks:
        return (f"{weeks} SA à cette date : « {kind.label} » est à partir de {kind.from_weeks} SA. "
                "Vérifiez la date ou choisissez une autre issue.")
    return None
