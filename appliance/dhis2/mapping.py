"""The mapping file: where each figure of the monthly report goes in DHIS2.

TOML, because a district technician edits it by hand: comments say where a UID came from, the
French labels sit beside the UIDs, the standard library reads it, and category combos are written
once and shared. In DHIS2 a data element's disaggregation comes from its category combo, so the
file maps each indicator to one data element and one category-combo table (disaggregation code →
categoryOptionCombo UID) instead of repeating ~300 rows of UIDs as a CSV would. Format: docs/dhis2.md.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.reports.figures import DISAGGREGATION, INDICATOR, disaggregation_label
from appliance.settings.dhis2 import DEMO_MAPPING as DEMO_MAPPING  # where the mapping readers look for it
from appliance.settings.dhis2 import is_uid
from appliance.toml_lines import TomlLines

FORMAT_VERSION = 1
SIMR_MAPPING = DEMO_MAPPING.with_name("simr_mapping.toml")  # the weekly SIMR data set (appliance.reports.simr)


class MappingError(ValueError):
    """The mapping file is unusable; the message lists every problem with its line, in French."""


@dataclass(frozen=True)
class CategoryComboMap:
    code: str
    id: str
    label: str
    option_combos: dict[str, str]  # disaggregation code → categoryOptionCombo UID, in file order
    line: int | None = None
    option_lines: dict[str, int] = field(default_factory=dict)  # disaggregation code → line


@dataclass(frozen=True)
class IndicatorMap:
    code: str
    label: str
    data_element: str
    category_combo: CategoryComboMap
    line: int | None = None


@dataclass(frozen=True)
class MappedCell:
    """One cell of the report as DHIS2 knows it."""

    indicator: IndicatorMap
    disaggregation: str
    category_option_combo: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.indicator.code, self.disaggregation)

    @property
    def label(self) -> str:
        """« CPN1 — Féminin, 15–24 ans »: how staff recognise the row."""
        return f"{self.indicator.label} — {disaggregation_label(self.disaggregation)}"


@dataclass(frozen=True)
class Dhis2Mapping:
    data_set: str
    attribute_option_combo: str
    indicators: dict[str, IndicatorMap]  # file order
    category_combos: dict[str, CategoryComboMap]
    org_unit: str | None = None
    source: Path | None = None
    lines: dict[str, int] = field(default_factory=dict)  # top-level key → line, for messages

    def cells(self) -> Iterator[MappedCell]:
        """Every mapped cell, in file order (indicator, then its category combo's order)."""
        for indicator in self.indicators.values():
            for disaggregation, coc in indicator.category_combo.option_combos.items():
                yield MappedCell(indicator, disaggregation, coc)

    def cell_index(self) -> dict[tuple[str, str], MappedCell]:
        return {cell.key: cell for cell in self.cells()}

    def with_target(
        self, *, data_set: str = "", org_unit: str = "", attribute_option_combo: str = ""
    ) -> Dhis2Mapping:
        """The mapping with the site's own data set / org unit / attribute option combo, when set."""
        return dataclasses.replace(
            self,
            data_set=data_set or self.data_set,
            org_unit=org_unit or self.org_unit,
            attribute_option_combo=attribute_option_combo or self.attribute_option_combo,
        )

    def where(self, key: str) -> str:
        """« demo_mapping.toml, ligne 12 » for a top-level key, for messages."""
        name = self.source.name if self.source else "table de correspondance"
        line = self.lines.get(key)
        return f"{name}, ligne {line}" if line else name


_TOP_KEYS = {"format", "data_set", "org_unit", "attribute_option_combo", "category_combos", "indicators"}
_COMBO_KEYS = {"id", "label", "option_combos"}
_INDICATOR_KEYS = {"label", "data_element", "category_combo"}


def load_mapping(path: Path) -> Dhis2Mapping:
    """Read and validate a mapping file; MappingError lists every problem with its line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path} : table de correspondance illisible ({exc})") from exc
    return parse_mapping(text, source=Path(path))


def parse_mapping(text: str, *, source: Path | None = None) -> Dhis2Mapping:
    name = source.name if source else "table de correspondance"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{name} : syntaxe TOML invalide : {exc}") from exc
    lines = TomlLines(text)
    errors: list[str] = []

    def error(table: tuple[str, ...], key: str | None, message: str) -> None:
        line = lines.of(table, key)
        errors.append(f"{name}{f', ligne {line}' if line else ''} : {message}")

    for key in sorted(set(raw) - _TOP_KEYS):
        error((), key, f"clé inconnue « {key} » (clés possibles : {', '.join(sorted(_TOP_KEYS))})")
    if raw.get("format") != FORMAT_VERSION:
        error((), "format", f"« format = {FORMAT_VERSION} » attendu en tête du fichier")
    for key in ("data_set", "attribute_option_combo"):
        if not is_uid(raw.get(key)):
            error(
                (),
                key,
                f"« {key} » doit être un UID DHIS2 (11 caractères : une lettre puis lettres/chiffres), "
                f"pas {raw.get(key)!r}",
            )
    if "org_unit" in raw and not is_uid(raw["org_unit"]):
        error((), "org_unit", f"« org_unit » doit être un UID DHIS2, pas {raw['org_unit']!r}")

    combos = _read_combos(raw.get("category_combos"), error, lines)
    indicators = _read_indicators(raw.get("indicators"), combos, error, lines)
    _check_no_shared_cells(indicators, error)
    if errors:
        raise MappingError("\n".join(errors))
    return Dhis2Mapping(
        data_set=raw["data_set"],
        attribute_option_combo=raw["attribute_option_combo"],
        org_unit=raw.get("org_unit"),
        indicators=indicators,
        category_combos=combos,
        source=source,
        lines={key: line for key in _TOP_KEYS if (line := lines.of((), key))},
    )


def _read_combos(raw: Any, error, lines: TomlLines) -> dict[str, CategoryComboMap]:
    combos: dict[str, CategoryComboMap] = {}
    if not isinstance(raw, dict) or not raw:
        error((), "category_combos", "au moins une section [category_combos.<code>] est attendue")
        return combos
    for code, table in raw.items():
        where = ("category_combos", code)
        if not isinstance(table, dict):
            error(where, None, f"[category_combos.{code}] doit être une section")
            continue
        for key in sorted(set(table) - _COMBO_KEYS):
            error(where, key, f"clé inconnue « {key} » dans [category_combos.{code}]")
        if not is_uid(table.get("id")):
            error(
                where,
                "id",
                f"[category_combos.{code}] id : UID DHIS2 de la combinaison de catégories attendu",
            )
        if not isinstance(table.get("label"), str) or not table.get("label", "").strip():
            error(where, "label", f"[category_combos.{code}] label : libellé en français attendu")
        option_combos = table.get("option_combos")
        if not isinstance(option_combos, dict) or not option_combos:
            error(
                where,
                "option_combos",
                f"[category_combos.{code}.option_combos] : au moins une désagrégation = UID attendue",
            )
            continue
        seen: dict[str, str] = {}
        for disaggregation, coc in option_combos.items():
            inner = (*where, "option_combos")
            if not DISAGGREGATION.fullmatch(disaggregation):
                error(
                    inner,
                    disaggregation,
                    f"désagrégation « {disaggregation} » invalide (ex. F_15_24, M_lt1, F_50p ou total)",
                )
            if not is_uid(coc):
                error(
                    inner, disaggregation, f"{disaggregation} : UID de categoryOptionCombo invalide {coc!r}"
                )
            elif coc in seen:
                error(inner, disaggregation, f"{disaggregation} : même UID que {seen[coc]} ({coc})")
            else:
                seen[coc] = disaggregation
        combos[code] = CategoryComboMap(
            code=code,
            id=table.get("id", ""),
            label=table.get("label", ""),
            option_combos=dict(option_combos),
            option_lines={dis: line for dis in option_combos if (line := lines.of((*where, "option_combos"), dis))},
            line=lines.of(where, None),
        )
    return combos


def _read_indicators(
    raw: Any, combos: dict[str, CategoryComboMap], error, lines: TomlLines
) -> dict[str, IndicatorMap]:
    indicators: dict[str, IndicatorMap] = {}
    if not isinstance(raw, dict) or not raw:
        error((), "indicators", "au moins une section [indicators.<code>] est attendue")
        return indicators
    for code, table in raw.items():
        where = ("indicators", code)
        if not INDICATOR.fullmatch(code):
            error(where, None, f"code d'indicateur « {code} » invalide (minuscules, chiffres et _)")
        if not isinstance(table, dict):
            error(where, None, f"[indicators.{code}] doit être une section")
            continue
        for key in sorted(set(table) - _INDICATOR_KEYS):
            error(where, key, f"clé inconnue « {key} » dans [indicators.{code}]")
        label = table.get("label")
        if not isinstance(label, str) or not label.strip():
            error(where, "label", f"[indicators.{code}] label : libellé en français attendu")
        if not is_uid(table.get("data_element")):
            error(
                where,
                "data_element",
                f"[indicators.{code}] data_element : UID DHIS2 attendu, pas {table.get('data_element')!r}",
            )
        combo = combos.get(table.get("category_combo"))
        if combo is None:
            error(
                where,
                "category_combo",
                f"[indicators.{code}] category_combo « {table.get('category_combo')} » "
                f"inconnue (définies : {', '.join(combos) or 'aucune'})",
            )
            continue
        indicators[code] = IndicatorMap(
            code=code,
            label=label or code,
            data_element=table.get("data_element", ""),
            category_combo=combo,
            line=lines.of(where, None),
        )
    return indicators


def _check_no_shared_cells(indicators: dict[str, IndicatorMap], error) -> None:
    """Two indicators on the same data element would overwrite each other's values in DHIS2."""
    owner: dict[str, str] = {}
    for indicator in indicators.values():
        previous = owner.setdefault(indicator.data_element, indicator.code)
        if previous != indicator.code:
            error(
                ("indicators", indicator.code),
                "data_element",
                f"[indicators.{indicator.code}] utilise le même élément de données que « {previous} » "
                f"({indicator.data_element}) : leurs valeurs s'écraseraient dans DHIS2",
            )
