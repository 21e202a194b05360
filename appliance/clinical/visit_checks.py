"""The visit forms' plausibility limits, as data (``data/visit_checks.toml``, with its sources).

Pure: no Flask, no database. ``load_checks()`` reads the file once; a form asks
``checks.range("antenatal", "hb_g_dl").outside(value)`` or ``checks.value("antenatal",
"sp_from_weeks")``. A missing or mistyped key is an error naming the file and the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).with_name("data") / "visit_checks.toml"


@dataclass(frozen=True, slots=True)
class Range:
    low: float
    high: float

    def outside(self, value: float) -> bool:
        return value < self.low or value > self.high


@dataclass(frozen=True)
class VisitChecks:
    sections: dict[str, dict[str, Any]]
    source: str

    def value(self, section: str, key: str) -> float:
        raw = self._raw(section, key)
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise ValueError(f"{self.source} : [{section}] {key} doit être un nombre")
        return raw

    def range(self, section: str, key: str) -> Range:
        raw = self._raw(section, key)
        if not isinstance(raw, dict) or set(raw) != {"low", "high"} or raw["low"] > raw["high"]:
            raise ValueError(f"{self.source} : [{section}] {key} doit être {{ low = a, high = b }} avec a ≤ b")
        return Range(raw["low"], raw["high"])

    def pair(self, section: str, key: str, first: str, second: str) -> tuple[float, float]:
        raw = self._raw(section, key)
        if not isinstance(raw, dict) or set(raw) != {first, second}:
            raise ValueError(f"{self.source} : [{section}] {key} doit être {{ {first} = a, {second} = b }}")
        return raw[first], raw[second]

    def _raw(self, section: str, key: str) -> Any:
        try:
            return self.sections[section][key]
        except KeyError:
            raise ValueError(f"{self.source} : [{section}] {key} manquant") from None


@cache
def load_checks(path: Path = DATA_FILE) -> VisitChecks:
    with path.open("rb") as handle:
        return VisitChecks(tomllib.load(handle), path.name)
