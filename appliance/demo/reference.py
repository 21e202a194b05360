"""What the demo reads: its population (``patients/data/demo/``: names, villages, diagnoses,
the method mix) and the clinical reference from the rules' own files (EPI calendar, SP from
which week, family-planning intervals), so the demo never carries a copy that could drift."""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import itertools
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from appliance.clinical.schedule_data import Duration, Schedules, load_schedules
from appliance.followup.facts import FP_METHODS
from appliance.patients import codes

DATA = Path(__file__).parent.parent / "patients" / "data"
DEMO_DATA = DATA / "demo"

# Beyond this, a method needs no resupply within the demo's years (implants, IUD): one visit.
LONG_ACTING = dt.timedelta(days=366)


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


class Weighted:
    """Fast repeated weighted choice (random.choices recomputes the cumulative weights each call)."""

    def __init__(self, items: Sequence, weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cumulative = list(itertools.accumulate(weights))

    def pick(self, rng: random.Random):
        return self.items[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]


@dataclass(frozen=True)
class FpChoice:
    """A method as the demo records it: the EMR's code, the units handed over and, for a method
    resupplied within the demo's years, the rules' time to the next visit."""

    code: str
    quantity: int
    interval: Duration | None
    per_unit: bool = False

    def next_date(self, when: dt.date) -> dt.date | None:
        if self.interval is None:
            return None
        return self.interval.after(when, times=self.quantity if self.per_unit else 1)


@dataclass
class Reference:
    groups: Weighted
    family_names: dict[str, list[str]]
    first_names: dict[tuple[str, str], list[str]]
    villages: Weighted
    variants: dict[str, list[str]]
    diagnoses: dict[str, Weighted]  # age band → diagnosis code
    reasons: dict[str, str]
    prescriptions: dict[str, list[tuple[str, str, int, int]]]
    fp_methods: Weighted  # of FpChoice
    epi: list[tuple[str, int, Duration]]
    sp_from_week: int


def load_reference() -> Reference:
    schedules = load_schedules()
    families = rows(DEMO_DATA / "family_names.csv")
    first: dict[tuple[str, str], list[str]] = {}
    for row in rows(DEMO_DATA / "first_names.csv"):
        first.setdefault((row["sex"], row["group"]), []).extend(row["names"].split())
    villages = rows(DEMO_DATA / "villages.csv")
    variants: dict[str, list[str]] = {}
    for row in rows(DATA / "name_variants.csv"):
        variants[row["canonical"]] = row["variants"].split()
    consultations = rows(DEMO_DATA / "consultations.csv")
    bands = {band: Weighted([row["code"] for row in consultations], [float(row[band]) for row in consultations])
             for band in ("under5", "child", "adult")}
    prescriptions = {}
    for row in consultations:
        lines = []
        for item in filter(None, row["prescriptions"].split(";")):
            drug, dosage, quantity, days = item.split("|")
            lines.append((drug, dosage, int(quantity), int(days)))
        prescriptions[row["code"]] = lines
    mix = rows(DEMO_DATA / "fp_mix.csv")
    return Reference(
        groups=Weighted([row["group"] for row in families], [float(row["weight"]) for row in families]),
        family_names={row["group"]: row["names"].split() for row in families},
        first_names=first,
        villages=Weighted([row["village"] for row in villages], [float(row["weight"]) for row in villages]),
        variants=variants,
        diagnoses=bands,
        reasons={row["code"]: row["reason"] for row in consultations},
        prescriptions=prescriptions,
        fp_methods=Weighted([fp_choice(row, schedules) for row in mix], [float(row["weight"]) for row in mix]),
        epi=epi_calendar(schedules),
        sp_from_week=schedules.anc.prevention.sp_from_week,
    )


def fp_choice(row: dict[str, str], schedules: Schedules) -> FpChoice:
    """A line of fp_mix.csv with the rules' interval and default quantity (through the follow-up's
    one translation of EMR codes, ``followup.facts.FP_METHODS``)."""
    code = row["code"]
    if code not in codes.code_list("fp_methods"):
        raise ValueError(f"fp_mix.csv : méthode « {code} » absente de codes/fp_methods.csv")
    rule = schedules.family_planning.methods.get(FP_METHODS.get(code, ""))
    if rule is None:  # cycle beads, LAM, sterilisation: no resupply visit
        return FpChoice(code, int(row["quantity"] or 1), None)
    quantity = int(row["quantity"] or rule.default_quantity)
    reference = dt.date(2000, 1, 1)
    long_acting = rule.interval.after(reference) - reference > LONG_ACTING
    return FpChoice(code, quantity, None if long_acting else rule.interval, rule.per_unit)


def epi_calendar(schedules: Schedules) -> list[tuple[str, int, Duration]]:
    """Mali's EPI calendar as the rules read it (``clinical/data/epi_mali.toml``): (antigen, dose
    number, recommended age) of every dose of the active series, youngest first. A dose code is
    the antigen then its number (``penta2``; ``bcg`` alone is dose 1; ``vpo0`` the birth dose)."""
    reference = dt.date(2000, 1, 1)
    doses = [dose for series in schedules.epi.series if series.active for dose in series.doses]
    calendar = []
    for dose in sorted(doses, key=lambda dose: dose.age.after(reference)):
        antigen, number = re.fullmatch(r"([a-z]+?)(\d*)", dose.code).groups()
        calendar.append((antigen.upper(), int(number or 1), dose.age))
    return calendar
