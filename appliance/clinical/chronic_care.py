"""Hypertension and diabetes control, crises, and the HEARTS treatment step, from
``data/chronic_control.toml`` (thresholds and protocol with their sources): pure rules over
plain values, used by the follow-up (appointment rhythm, urgent alerts) and by the head's
register and cohort (``appliance.facility.chronic``)."""

from __future__ import annotations

import tomllib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_FILE = Path(__file__).parent / "data" / "chronic_control.toml"
HYPERTENSION, DIABETES = "hta", "diabete"


@dataclass(frozen=True)
class Step:
    number: int
    label: str
    match: tuple[str, ...]


@dataclass(frozen=True)
class ControlRules:
    bp_controlled_below: tuple[int, int]  # systolic, diastolic
    bp_urgent_from: tuple[int, int]
    bp_urgent_label: str
    glucose_controlled_fasting: float  # g/L
    glucose_controlled_random: float
    glucose_high_from: float
    glucose_low_below: float
    glucose_high_label: str
    glucose_low_label: str
    recent_months: int
    lost_after_months: int
    steps: tuple[Step, ...]


@lru_cache(maxsize=1)
def load_rules(path: Path = DATA_FILE) -> ControlRules:
    try:
        with Path(path).open("rb") as handle:
            data = tomllib.load(handle)
        htn, diabetes, cohort = data["hypertension"], data["diabetes"], data["cohort"]
        rules = ControlRules(
            bp_controlled_below=(int(htn["controlled_below"]["systolic"]), int(htn["controlled_below"]["diastolic"])),
            bp_urgent_from=(int(htn["urgent_from"]["systolic"]), int(htn["urgent_from"]["diastolic"])),
            bp_urgent_label=str(htn["urgent_label"]),
            glucose_controlled_fasting=float(diabetes["controlled_below_fasting"]),
            glucose_controlled_random=float(diabetes["controlled_below_random"]),
            glucose_high_from=float(diabetes["crisis_high_from"]),
            glucose_low_below=float(diabetes["crisis_low_below"]),
            glucose_high_label=str(diabetes["crisis_high_label"]),
            glucose_low_label=str(diabetes["crisis_low_label"]),
            recent_months=int(cohort["recent_months"]),
            lost_after_months=int(cohort["lost_after_months"]),
            steps=tuple(Step(number, str(step["label"]), tuple(_fold(word) for word in step["match"]))
                        for number, step in enumerate(htn.get("step", []), start=1)),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{Path(path).name} : clé manquante ou invalide ({error})") from error
    if not rules.bp_controlled_below < rules.bp_urgent_from or not rules.steps:
        raise ValueError(f"{Path(path).name} : seuils de TA incohérents ou protocole vide")
    return rules


def bp_controlled(systolic: int | None, diastolic: int | None, rules: ControlRules | None = None) -> bool | None:
    """< 140/90 (both); None when the blood pressure was not taken."""
    if systolic is None or diastolic is None:
        return None
    limit = (rules or load_rules()).bp_controlled_below
    return systolic < limit[0] and diastolic < limit[1]


def glucose_controlled(glucose_g_l: float | None, fasting: bool | None,
                       rules: ControlRules | None = None) -> bool | None:
    """Below the fasting threshold (fasting) or the random one (not fasting, or not said)."""
    if glucose_g_l is None:
        return None
    rules = rules or load_rules()
    return glucose_g_l < (rules.glucose_controlled_fasting if fasting else rules.glucose_controlled_random)


def controlled(programme: str, systolic: int | None, diastolic: int | None, glucose_g_l: float | None,
               fasting: bool | None, rules: ControlRules | None = None) -> bool | None:
    """Control of one visit for its programme (hypertension: BP; diabetes: glucose)."""
    if programme == HYPERTENSION:
        return bp_controlled(systolic, diastolic, rules)
    if programme == DIABETES:
        return glucose_controlled(glucose_g_l, fasting, rules)
    return None


def urgent_reasons(systolic: int | None, diastolic: int | None, glucose_g_l: float | None,
                   rules: ControlRules | None = None) -> tuple[str, ...]:
    """BP ≥ 180/110 (either), or a glucose crisis value: what makes a visit urgent, in French."""
    rules = rules or load_rules()
    reasons = []
    high = rules.bp_urgent_from
    if (systolic is not None and systolic >= high[0]) or (diastolic is not None and diastolic >= high[1]):
        reasons.append(f"{rules.bp_urgent_label} (TA {systolic or '?'}/{diastolic or '?'} mmHg)")
    if glucose_g_l is not None and glucose_g_l >= rules.glucose_high_from:
        reasons.append(f"{rules.glucose_high_label} ({_grams(glucose_g_l)})")
    if glucose_g_l is not None and glucose_g_l < rules.glucose_low_below:
        reasons.append(f"{rules.glucose_low_label} ({_grams(glucose_g_l)})")
    return tuple(reasons)


def current_step(treatment: str, rules: ControlRules | None = None) -> Step | None:
    """The highest protocol step whose words all appear in the treatment written at the visit."""
    words = _fold(treatment)
    found = None
    for step in (rules or load_rules()).steps:
        if all(word in words for word in step.match):
            found = step
    return found


def proposed_step(treatment: str, is_controlled: bool | None, rules: ControlRules | None = None) -> Step | None:
    """HEARTS: uncontrolled → the next step (the first one when none is recognised); else nothing."""
    if is_controlled is not False:
        return None
    rules = rules or load_rules()
    step = current_step(treatment, rules)
    if step is None:
        return rules.steps[0]
    return rules.steps[min(step.number, len(rules.steps) - 1)]


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(char for char in decomposed if not unicodedata.combining(char)).lower()


def _grams(value: float) -> str:
    return f"glycémie {value:.2f} g/L".replace(".", ",")
