"""Settings of the ``[reports]`` section: the age bands of every count and when a chronic patient
counts as lost to follow-up. Changing them changes the report's cells: the DHIS2 mapping must follow."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

MAX_BAND_YEARS = 120


@dataclass(frozen=True)
class ReportSettings:
    # Lower bounds of the age bands in completed years at the date of the event, the first one 0:
    # [0, 1, 5, 15, 25, 50] gives < 1, 1–4, 5–14, 15–24, 25–49, 50+. A child on its first
    # birthday has 1 completed year, so it belongs to 1–4.
    age_bands: list[int] = field(default_factory=lambda: [0, 1, 5, 15, 25, 50])
    # A chronic patient is lost to follow-up when no visit of the same programme came within this
    # many days after a missed appointment; counted in the month that delay runs out.
    lost_after_days: int = 90

    def validate(self) -> list[str]:
        errors = []
        bands = self.age_bands
        if not bands or bands[0] != 0:
            errors.append("reports.age_bands : la première tranche commence à 0 (ex. [0, 1, 5, 15, 25, 50])")
        if any(upper <= lower for lower, upper in itertools.pairwise(bands)):
            errors.append(f"reports.age_bands : bornes strictement croissantes attendues, pas {bands}")
        if any(not 0 <= bound <= MAX_BAND_YEARS for bound in bands):
            errors.append(f"reports.age_bands : bornes entre 0 et {MAX_BAND_YEARS} ans")
        if not 1 <= self.lost_after_days <= 3650:
            errors.append("reports.lost_after_days : entre 1 et 3650 jours")
        return errors
