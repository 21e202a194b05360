"""Notifiable diseases (SIMR / IDSR): which diagnosis makes a suspected case to notify at once, and
the age bands of the weekly report. The list and its source are data (data/simr_mali.toml)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_FILE = Path(__file__).with_name("data") / "simr_mali.toml"


class SimrDataError(ValueError):
    """The data file is malformed; the message names the section."""


@dataclass(frozen=True)
class Disease:
    code: str
    label: str
    diagnoses: tuple[str, ...]
    deaths_within_days: int


@dataclass(frozen=True)
class SimrList:
    source: str
    age_bands: tuple[int, ...]  # lower bounds in completed years, the first 0
    diseases: dict[str, Disease]

    def for_diagnosis(self, code: str | None) -> Disease | None:
        """The notifiable disease a consultation's diagnosis code is a suspected case of, if any."""
        return next((disease for disease in self.diseases.values() if code in disease.diagnoses), None)


def load_simr(path: Path = DATA_FILE) -> SimrList:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    bands = tuple(raw.get("age_bands") or ())
    if not raw.get("source") or not bands or bands[0] != 0 or list(bands) != sorted(set(bands)):
        raise SimrDataError(f"{path.name} : « source » et « age_bands » croissants depuis 0 sont obligatoires")
    diseases = {}
    for code, table in (raw.get("diseases") or {}).items():
        if not table.get("label") or not table.get("diagnoses") or int(table.get("deaths_within_days", 0)) < 1:
            raise SimrDataError(f"{path.name}, [diseases.{code}] : label, diagnoses et deaths_within_days ≥ 1")
        diseases[code] = Disease(code, table["label"], tuple(table["diagnoses"]), int(table["deaths_within_days"]))
    if not diseases:
        raise SimrDataError(f"{path.name} : aucune maladie")
    return SimrList(raw["source"], bands, diseases)


@cache
def simr_list() -> SimrList:
    return load_simr()
