"""Whether a vaccine dose may be given (or was validly given) to this person on this day: the
child calendar's ages and intervals (``data/epi_mali.toml``), and the sex and age of the vaccines
outside it (``data/vaccine_limits.toml``: HPV for girls, Td from 7 years)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Container
from dataclasses import dataclass
from pathlib import Path

from appliance.clinical.schedule_data import DATA_DIR, Duration, _Reader, load_schedules

LIMITS_FILE = "vaccine_limits.toml"


@dataclass(frozen=True, slots=True)
class Limits:
    sex: str | None
    min_age: Duration | None
    max_age: Duration | None
    min_interval: Duration | None


@functools.lru_cache(maxsize=1)
def limits(path: Path = DATA_DIR / LIMITS_FILE) -> dict[str, Limits]:
    reader = _Reader.open(path)
    found = {}
    for antigen, row in reader.tables("antigen"):
        sex = row.get("sex", str, None)
        if sex not in (None, "F", "M"):
            raise row.error("sex", "« F » ou « M » attendu")
        found[antigen] = Limits(sex, row.duration("min_age", None), row.duration("max_age", None),
                                row.duration("min_interval", None))
    return found


def dose_code(antigen: str, dose_number: int, known: Container[str]) -> str | None:
    """``PENTA`` dose 2 → ``penta2``; single-dose vaccines have no number (``BCG`` → ``bcg``).
    None for vaccines outside the child calendar (Td, HPV): they schedule nothing."""
    base = antigen.lower()
    for code in (f"{base}{dose_number}", base if dose_number <= 1 else None):
        if code is not None and code in known:
            return code
    return None


def _age_text(birth: dt.date, duration: Duration) -> str:
    days = (duration.after(birth) - birth).days
    if duration.years:
        return f"{duration.years} ans" if duration.years > 1 else "1 an"
    if duration.months:
        return f"{duration.months} mois"
    return f"{days} jours" if days != 1 else "1 jour"


def refusal(antigen: str, dose_number: int, given_on: dt.date, *, birth: dt.date, sex: str,
            previous_on: dt.date | None) -> str | None:
    """Why this dose cannot be recorded as valid (a French sentence), or None.

    ``previous_on`` is the date of the same vaccine's previous dose, if any.
    """
    epi = load_schedules().epi
    code = dose_code(antigen, dose_number, epi.doses_by_code)
    if code is not None:
        rule = epi.dose(code)
        bounds = Limits(None, rule.min_age, rule.max_age, rule.min_interval)
        label = rule.label
    elif antigen in limits():
        bounds, label = limits()[antigen], f"{antigen} {dose_number}"
    else:
        return None
    if bounds.sex is not None and sex != bounds.sex:
        return f"{label} : réservé aux {'filles' if bounds.sex == 'F' else 'garçons'}."
    if bounds.min_age is not None and given_on < bounds.min_age.after(birth):
        return f"{label} trop tôt : âge minimum {_age_text(birth, bounds.min_age)}."
    if bounds.max_age is not None and given_on >= bounds.max_age.after(birth):
        return f"{label} ne se donne plus à partir de {_age_text(birth, bounds.max_age)}."
    if previous_on is not None and bounds.min_interval is not None \
            and given_on < bounds.min_interval.after(previous_on):
        gap = (bounds.min_interval.after(previous_on) - previous_on).days
        return (f"{label} trop proche de la dose précédente ({previous_on.strftime('%d/%m/%Y')}) : "
                f"au moins {gap} jours entre les deux.")
    return None
