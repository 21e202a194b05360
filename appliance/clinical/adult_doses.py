"""Adult prescription bounds (``data/adult_doses.toml``): a dose per intake, intakes a day and days
of treatment for each medicine of the list an adult is usually prescribed. A line outside them (or a
medicine without a row) is not refused: it needs the prescriber's reason, like a PCIME line off its table."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from appliance.clinical.pcime import formulary

DATA_FILE = Path(__file__).with_name("data") / "adult_doses.toml"


@dataclass(frozen=True, slots=True)
class AdultDose:
    medicine: str
    dose: tuple[float, float]
    times_per_day: tuple[int, int]
    days: tuple[int, int]
    source: str


@dataclass(frozen=True, slots=True)
class AdultDoses:
    from_years: int
    medicines: dict[str, AdultDose]


@cache
def load_adult_doses(path: Path = DATA_FILE) -> AdultDoses:
    """Read and check the table: every code is a medicine of the list, every bound a [min, max] pair."""
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    known = formulary().medicines
    medicines = {}
    for code, entry in (raw.get("medicines") or {}).items():
        where = f"{path.name} : [medicines.{code}]"
        if code not in known:
            raise ValueError(f"{where} : médicament absent de la liste des médicaments essentiels")
        try:
            medicines[code] = AdultDose(code, _pair(entry["dose"]), _pair(entry["times_per_day"]),
                                        _pair(entry["days"]), str(entry["source"]))
        except (KeyError, TypeError, ValueError) as problem:
            raise ValueError(f"{where} : dose, times_per_day, days ([min, max]) et source attendus ({problem})") \
                from None
    from_years = raw.get("from_years")
    if not isinstance(from_years, int) or isinstance(from_years, bool):
        raise ValueError(f"{path.name} : from_years (âge en années) attendu")
    return AdultDoses(from_years, medicines)


def _pair(value: object) -> tuple:
    if not isinstance(value, list) or len(value) != 2 or not all(
            isinstance(item, int | float) and not isinstance(item, bool) for item in value) or value[0] > value[1]:
        raise ValueError(f"{value!r} : [min, max] attendu")
    return value[0], value[1]


def adult_line_problems(medicine: str, dose: float | None, times_per_day: int | None, days: int | None,
                        doses: AdultDoses | None = None) -> list[str]:
    """Why an adult's line departs from the table (then a reason is required); empty when it does not."""
    row = (doses or load_adult_doses()).medicines.get(medicine)
    if row is None:
        return ["Pas de dose adulte dans le tableau pour ce médicament."]
    if dose is None or times_per_day is None or days is None:
        return ["Indiquez la dose, le nombre de prises par jour et la durée."]
    problems = []
    unit = formulary().medicines[medicine].dose_unit
    for value, (low, high), text in ((dose, row.dose, f"{unit}(s) par prise"),
                                     (times_per_day, row.times_per_day, "prise(s) par jour"),
                                     (days, row.days, "jour(s)")):
        if not low <= value <= high:
            bounds = f"{_number(low)}" if low == high else f"{_number(low)} à {_number(high)}"
            problems.append(f"{_number(value)} {text} : le tableau adulte dit {bounds}.")
    return problems


def _number(value: float) -> str:
    return f"{value:g}".replace(".", ",")
