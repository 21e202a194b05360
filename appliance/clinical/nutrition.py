"""Acute malnutrition (SAM / MAM / normal) from MUAC, weight-for-height z-score and oedema.

Thresholds and the French texts are in ``data/nutrition.toml``. Every criterion that fires is
listed as a reason, so staff see *why* a child is on the alert list, not just the class.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from appliance.clinical import growth

DATA_FILE = Path(__file__).with_name("data") / "nutrition.toml"

Category = Literal["SAM", "MAM", "normal"]
_RANK = {"normal": 0, "MAM": 1, "SAM": 2}


@dataclass(frozen=True, slots=True)
class NutritionStatus:
    """The class, its French label, the reasons that fired and notes on ignored measures."""

    category: Category
    label: str
    reasons: tuple[str, ...]
    notes: tuple[str, ...] = ()
    whz: float | None = None

    @property
    def is_malnourished(self) -> bool:
        return self.category != "normal"


@dataclass(frozen=True, slots=True)
class NutritionRules:
    muac_min_age_months: float
    muac_max_age_months: float
    muac_sam_below_mm: float
    muac_mam_below_mm: float
    whz_sam_below: float
    whz_mam_below: float
    labels: dict[str, str]
    reasons: dict[str, str]


@cache
def load_rules(path: Path = DATA_FILE) -> NutritionRules:
    """Read the thresholds; a missing key is reported with the file and key name."""
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    try:
        rules = NutritionRules(
            muac_min_age_months=data["muac"]["min_age_months"],
            muac_max_age_months=data["muac"]["max_age_months"],
            muac_sam_below_mm=data["muac"]["sam_below_mm"],
            muac_mam_below_mm=data["muac"]["mam_below_mm"],
            whz_sam_below=data["whz"]["sam_below"],
            whz_mam_below=data["whz"]["mam_below"],
            labels=dict(data["labels"]),
            reasons=dict(data["reasons"]),
        )
    except KeyError as missing:
        raise ValueError(f"{path.name} : clé manquante {missing}") from None
    for needed in ("SAM", "MAM", "normal"):
        if needed not in rules.labels:
            raise ValueError(f"{path.name} : [labels] {needed} manquant")
    if rules.muac_sam_below_mm > rules.muac_mam_below_mm or rules.whz_sam_below > rules.whz_mam_below:
        raise ValueError(f"{path.name} : le seuil MAS doit être sous le seuil MAM")
    return rules


def classify(age_days: float | None, muac_mm: float | None = None, whz: float | None = None,
             oedema: bool = False, rules: NutritionRules | None = None) -> NutritionStatus:
    """Classify one child from the measures available (any may be missing).

    The worst class wins; reasons list every criterion that fired, worst first.
    """
    rules = rules or load_rules()
    found: list[tuple[Category, str]] = []
    notes: list[str] = []
    if oedema:
        found.append(("SAM", rules.reasons["oedema"]))
    if muac_mm is not None:
        months = None if age_days is None else age_days / growth.DAYS_PER_MONTH
        if months is not None and not rules.muac_min_age_months <= months < rules.muac_max_age_months:
            notes.append(rules.reasons["muac_not_applicable"].format(age=int(months)))
        elif muac_mm < rules.muac_sam_below_mm:
            found.append(("SAM", _reason(rules, "muac_sam", muac_mm, rules.muac_sam_below_mm)))
        elif muac_mm < rules.muac_mam_below_mm:
            found.append(("MAM", _reason(rules, "muac_mam", muac_mm, rules.muac_mam_below_mm)))
    if whz is not None:
        if whz < rules.whz_sam_below:
            found.append(("SAM", _reason(rules, "whz_sam", whz, rules.whz_sam_below)))
        elif whz < rules.whz_mam_below:
            found.append(("MAM", _reason(rules, "whz_mam", whz, rules.whz_mam_below)))
    found.sort(key=lambda item: -_RANK[item[0]])
    category: Category = found[0][0] if found else "normal"
    return NutritionStatus(
        category=category,
        label=rules.labels[category],
        reasons=tuple(reason for _, reason in found),
        notes=tuple(notes),
        whz=whz,
    )


def assess_child(sex: growth.Sex, age_days: float | None, weight_kg: float | None = None,
                 lenhei_cm: float | None = None, measure: Literal["l", "h"] | None = None,
                 muac_mm: float | None = None, oedema: bool = False) -> NutritionStatus:
    """Classify from raw visit measures: computes the weight-for-length/height z-score first."""
    whz = None
    if not oedema and weight_kg and lenhei_cm:
        whz = growth.anthropometry(sex, age_days, weight_kg, lenhei_cm, measure).whz
    return classify(age_days, muac_mm=muac_mm, whz=whz, oedema=oedema)


def _reason(rules: NutritionRules, key: str, value: float, limit: float) -> str:
    return rules.reasons[key].format(value=_number(value), limit=_number(limit))


def _number(value: float) -> str:
    """French display: decimal comma, true minus sign, no useless '.0'."""
    text = f"{value:g}" if float(value).is_integer() else f"{value:.2f}".rstrip("0")
    return text.replace(".", ",").replace("-", "−")
