"""Pregnancy risk alerts: rules as data (``data/pregnancy_risk.toml``) over a dataclass of facts.

The midwife can add or change a rule without touching code; every alert names the rule that fired,
its French label, its severity and the values that made it fire (engine: ``alert_rules``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from appliance.clinical import alert_rules
from appliance.clinical.alert_rules import RiskRules, highest_severity
from appliance.clinical.alert_rules import RuleAlert as PregnancyAlert

DATA_FILE = Path(__file__).with_name("data") / "pregnancy_risk.toml"
DAYS_TO_TERM = 280  # Naegele: the due date is 280 days (40 weeks) after the LMP
__all__ = ["DATA_FILE", "PregnancyAlert", "PregnancyFacts", "assess", "dated_lmp", "due_date", "highest_severity",
           "load_rules", "severe_hypertension"]


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


def dated_lmp(lmp: dt.date | None, ultrasound_on: dt.date | None, ultrasound_weeks: int | None) -> dt.date | None:
    """The LMP a pregnancy is dated by: an early ultrasound wins over the remembered DDR (WHO 2016
    ANC rec. B.2.4, one ultrasound before 24 weeks)."""
    if ultrasound_on is not None and ultrasound_weeks is not None:
        return ultrasound_on - dt.timedelta(weeks=ultrasound_weeks)
    return lmp


def due_date(lmp: dt.date | None) -> dt.date | None:
    """Date prévue d'accouchement (DPA)."""
    return lmp + dt.timedelta(days=DAYS_TO_TERM) if lmp else None
