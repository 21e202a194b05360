"""The health area's population and the denominators drawn from it.

The médecin chef types the inhabitants of each village for the year; ``data/population.toml``
holds the national ratios (with their source) that turn that total into target populations:
expected pregnancies, births, under-ones, under-fives, women 15–49. A year without figures of its
own uses the latest earlier year's, said so on the page."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from appliance.facility.models import AreaPopulation, CoverageTarget
from appliance.patients.normalize import place_key
from appliance.refusal import FieldRefusal
from appliance.store.audit import Actor, audited_save
from appliance.store.db import database
from appliance.store.models import utcnow

DATA = Path(__file__).parent / "data"
MAX_INHABITANTS = 10_000_000


class PopulationError(FieldRefusal):
    """A value the head typed that cannot be kept; worded in French, naming the field."""


@dataclass(frozen=True)
class TargetGroup:
    key: str
    label: str
    percent: float
    source: str


@lru_cache(maxsize=1)
def target_groups(path: Path = DATA / "population.toml") -> dict[str, TargetGroup]:
    """The ratios of population.toml, checked: a wrong value names its key."""
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    groups = {}
    for key, entry in data.get("targets", {}).items():
        percent = entry.get("percent")
        if not isinstance(percent, int | float) or not 0 < percent <= 100:
            raise ValueError(f"{path.name} : targets.{key}.percent : pourcentage entre 0 et 100 attendu")
        if not entry.get("label") or not entry.get("source"):
            raise ValueError(f"{path.name} : targets.{key} : label et source sont obligatoires")
        groups[key] = TargetGroup(key, entry["label"], float(percent), entry["source"])
    return groups


@dataclass(frozen=True)
class AreaYear:
    """The population used for one year: its villages and the year they were entered for."""

    year: int
    entered_for: int | None  # the year whose figures are used (None: nothing entered yet)
    villages: list[AreaPopulation]

    @property
    def total(self) -> int:
        return sum(row.inhabitants for row in self.villages)

    def group_size(self, key: str) -> float:
        """Annual size of a target group: total × its national ratio."""
        return self.total * target_groups()[key].percent / 100


def area_year(year: int) -> AreaYear:
    """The villages of ``year``, or of the latest earlier year entered."""
    entered = (AreaPopulation.select(AreaPopulation.year).where(AreaPopulation.year <= year)
               .order_by(AreaPopulation.year.desc()).limit(1).scalar())
    if entered is None:
        return AreaYear(year, None, [])
    rows = list(AreaPopulation.select().where(AreaPopulation.year == entered).order_by(AreaPopulation.village_key))
    return AreaYear(year, entered, rows)


def record_village(actor: Actor, year: int, village: str, inhabitants: str | int, source: str = "") -> AreaPopulation:
    """Create or change one village's inhabitants for ``year`` (audited)."""
    if not 2000 <= year <= 2100:
        raise PopulationError("annee", f"Année « {year} » invalide : entre 2000 et 2100.")
    name = " ".join((village or "").split())
    if not name:
        raise PopulationError("village", "Le nom du village est obligatoire.")
    try:
        count = int(str(inhabitants).replace(" ", "").replace("\u202f", ""))
    except ValueError:
        raise PopulationError("habitants", f"« {inhabitants} » n'est pas un nombre d'habitants.") from None
    if not 0 <= count <= MAX_INHABITANTS:
        raise PopulationError("habitants", f"Nombre d'habitants entre 0 et {MAX_INHABITANTS:,}".replace(",", " ") + ".")
    key = place_key(name)
    with database.atomic():
        row = AreaPopulation.get_or_none(AreaPopulation.year == year, AreaPopulation.village_key == key)
        row = row or AreaPopulation(year=year, village_key=key)
        row.village, row.inhabitants, row.source, row.updated_at = name, count, source.strip(), utcnow()
        return audited_save(actor, row)


def targets(year: int, defaults: dict[str, float]) -> dict[str, float]:
    """The head's objective per indicator for ``year`` (the file's default where none was set)."""
    chosen = {row.indicator: row.target_pct for row in CoverageTarget.select().where(CoverageTarget.year == year)}
    return {code: chosen.get(code, default) for code, default in defaults.items()}


def record_target(actor: Actor, year: int, indicator: str, value: str | float, known: set[str]) -> CoverageTarget:
    """Set the objective of one indicator for ``year`` (audited)."""
    if indicator not in known:
        raise PopulationError("indicateur", f"Indicateur « {indicator} » inconnu.")
    try:
        pct = float(str(value).replace(",", ".").replace("%", "").strip())
    except ValueError:
        raise PopulationError(f"cible_{indicator}", f"« {value} » n'est pas un pourcentage.") from None
    if not 0 <= pct <= 100:
        raise PopulationError(f"cible_{indicator}", "Objectif entre 0 et 100 %.")
    with database.atomic():
        row = CoverageTarget.get_or_none(CoverageTarget.year == year, CoverageTarget.indicator == indicator)
        row = row or CoverageTarget(year=year, indicator=indicator)
        row.target_pct, row.updated_at = pct, utcnow()
        return audited_save(actor, row)
