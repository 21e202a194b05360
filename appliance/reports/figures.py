"""The figures of one monthly report: what the report builder hands to DHIS2.

``ReportFigures(period="2024-03", values={("cpn1", "F_15_24"): 12, ...})``: one count per
indicator code × disaggregation code. A disaggregation code is ``<sex>_<age band>`` (``M`` or ``F``,
then a band code made by ``band_code``) or ``total`` for a figure that is not disaggregated. The
builder does not need to know DHIS2: the mapping file says where each cell goes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

PERIOD = re.compile(r"(\d{4})-(0[1-9]|1[0-2])|(\d{4})W([1-9]|[1-4]\d|5[0-3])")  # a month, or an ISO week (SIMR)
INDICATOR = re.compile(r"[a-z][a-z0-9_]{0,63}")
DISAGGREGATION = re.compile(r"total|[MF]_(?:lt\d{1,3}|\d{1,3}_\d{1,3}|\d{1,3}p)")
SEXES = {"M": "Masculin", "F": "Féminin"}

Cell = tuple[str, str]


class FiguresError(ValueError):
    """Figures that cannot be a report; the message names the faulty cell, in French."""


def band_code(lower_years: int, upper_years: int | None) -> str:
    """The code of the age band ``[lower, upper)`` in completed years: (0, 1) → ``lt1``,
    (1, 5) → ``1_4``, (50, None) → ``50p``. The report builder names its bands with this."""
    if lower_years < 0 or (upper_years is not None and upper_years <= lower_years):
        raise ValueError(f"tranche d'âge invalide : [{lower_years}, {upper_years})")
    if upper_years is None:
        return f"{lower_years}p"
    if lower_years == 0:
        return f"lt{upper_years}"
    return f"{lower_years}_{upper_years - 1}"


def disaggregation_code(sex: str, band: str) -> str:
    """``("F", "15_24")`` → ``"F_15_24"``."""
    code = f"{sex}_{band}"
    if sex not in SEXES or not DISAGGREGATION.fullmatch(code):
        raise ValueError(f"désagrégation invalide : sexe {sex!r}, tranche {band!r}")
    return code


def band_label(band: str) -> str:
    """French label of a band code: ``lt1`` → « moins de 1 an », ``1_4`` → « 1–4 ans »."""
    if band.startswith("lt"):
        years = int(band[2:])
        return f"moins de {years} an{'s' if years > 1 else ''}"
    if band.endswith("p"):
        return f"{int(band[:-1])} ans et plus"
    low, high = band.split("_")
    return f"{int(low)}–{int(high)} ans"


def disaggregation_label(code: str) -> str:
    """French label of a disaggregation code: ``F_15_24`` → « Féminin, 15–24 ans »."""
    if code == "total":
        return "Total"
    sex, band = code.split("_", 1)
    return f"{SEXES[sex]}, {band_label(band)}"


@dataclass(frozen=True)
class ReportFigures:
    """One report's counts. ``org_unit`` is None for the facility's own org unit (the usual case)."""

    period: str
    values: Mapping[Cell, int] = field(default_factory=dict)
    org_unit: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.period, str) or not PERIOD.fullmatch(self.period):
            raise FiguresError(f"période « {self.period} » invalide : format AAAA-MM attendu (ex. 2024-03), "
                               "ou AAAAWn pour une semaine (ex. 2026W49)")
        for cell, value in self.values.items():
            if not (isinstance(cell, tuple) and len(cell) == 2):
                raise FiguresError(f"clé {cell!r} : (indicateur, désagrégation) attendu")
            indicator, disaggregation = cell
            if not isinstance(indicator, str) or not INDICATOR.fullmatch(indicator):
                raise FiguresError(f"code d'indicateur {indicator!r} invalide (minuscules, chiffres, _)")
            if not isinstance(disaggregation, str) or not DISAGGREGATION.fullmatch(disaggregation):
                raise FiguresError(
                    f"{indicator} : désagrégation {disaggregation!r} invalide (ex. « F_15_24 », « M_lt1 », "
                    "« F_50p » ou « total »)"
                )
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise FiguresError(
                    f"{indicator} / {disaggregation} : {value!r} n'est pas un nombre entier ≥ 0"
                )

    @property
    def dhis2_period(self) -> str:
        """DHIS2's period: monthly ``2024-03`` → ``202403``; weekly ``2026W49`` as it is."""
        return self.period.replace("-", "")

    def nonzero_cells(self) -> set[Cell]:
        return {cell for cell, value in self.values.items() if value}

    def to_json_dict(self) -> dict[str, Any]:
        """``{"period", "org_unit", "values": {indicator: {disaggregation: n}}}``, sorted, zeros kept."""
        nested: dict[str, dict[str, int]] = {}
        for (indicator, disaggregation), value in sorted(self.values.items()):
            nested.setdefault(indicator, {})[disaggregation] = value
        return {"period": self.period, "org_unit": self.org_unit, "values": nested}

    @classmethod
    def from_json_dict(cls, data: Any) -> ReportFigures:
        if not isinstance(data, dict) or not isinstance(data.get("values"), dict):
            raise FiguresError('fichier de chiffres : objet {"period", "values": {...}} attendu')
        unknown = set(data) - {"period", "org_unit", "values"}
        if unknown:
            raise FiguresError(f"fichier de chiffres : clé(s) inconnue(s) {', '.join(sorted(unknown))}")
        values: dict[Cell, int] = {}
        for indicator, cells in data["values"].items():
            if not isinstance(cells, dict):
                raise FiguresError(f"{indicator} : objet {{désagrégation: nombre}} attendu")
            for disaggregation, value in cells.items():
                values[(indicator, disaggregation)] = value
        return cls(period=data.get("period"), values=values, org_unit=data.get("org_unit") or None)

    @classmethod
    def from_json(cls, text: str) -> ReportFigures:
        try:
            return cls.from_json_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise FiguresError(
                f"fichier de chiffres : JSON invalide, ligne {exc.lineno} ({exc.msg})"
            ) from exc


def nonzero_union(versions: Iterable[ReportFigures]) -> set[Cell]:
    """Cells that were non-zero in any of the given versions: those a new version must overwrite."""
    cells: set[Cell] = set()
    for version in versions:
        cells |= version.nonzero_cells()
    return cells
