"""The dataValueSet sent to ``POST /api/dataValueSets`` for one report, and its compact encoding.

Zeros (docs/dhis2.md, "Zeros"): DHIS2 keeps a value until something overwrites it, and a zero
for a data element whose zeros are not significant deletes the stored value. So with the default
policy "all", every mapped cell is sent, zeros included, from the first version on: the report is
the whole truth for its month, it clears values typed earlier by hand at the district, and
significant zeros are stored. With "changes", only non-zero cells are sent, plus a zero for every
cell that was non-zero in any earlier version (the smallest payload that still overwrites).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from appliance.dhis2.mapping import Dhis2Mapping, MappedCell
from appliance.reports.figures import Cell, ReportFigures, disaggregation_label, nonzero_union


class PayloadError(ValueError):
    """The figures cannot be sent with this mapping; the message says what to fix, in French."""


@dataclass(frozen=True)
class PayloadRow:
    """One dataValue and the report cell it comes from: DHIS2 names conflicts by row index."""

    cell: MappedCell
    value: int

    @property
    def label(self) -> str:
        return self.cell.label


@dataclass(frozen=True)
class DataValueSetPayload:
    body: dict[str, Any]
    rows: tuple[PayloadRow, ...]

    def to_json_bytes(self) -> bytes:
        """Compact JSON, exactly the bytes sent (before gzip)."""
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def gzipped(self) -> bytes:
        return gzip_bytes(self.to_json_bytes())


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip (no timestamp): the same payload always gives the same bytes."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def payload_for(
    figures: ReportFigures,
    mapping: Dhis2Mapping,
    previous: ReportFigures | Iterable[ReportFigures] | None = None,
    *,
    zeros: str = "all",
    complete_date: dt.date | None = None,
) -> DataValueSetPayload:
    """The dataValueSet for ``figures``; ``previous`` = the earlier sealed versions of the same report.

    Raises PayloadError when a non-zero figure has no place in the mapping (sending the rest would
    under-report silently) or when no org unit is known.
    """
    if isinstance(previous, ReportFigures):
        previous = [previous]
    return payload_overwriting(figures, mapping, nonzero_union(previous or []), zeros=zeros,
                               complete_date=complete_date)


def payload_overwriting(
    figures: ReportFigures,
    mapping: Dhis2Mapping,
    must_overwrite: set[Cell],
    *,
    zeros: str = "all",
    complete_date: dt.date | None = None,
) -> DataValueSetPayload:
    """``payload_for`` with the earlier versions reduced to the cells that were non-zero in them."""
    org_unit = figures.org_unit or mapping.org_unit
    if not org_unit:
        raise PayloadError("aucune unité d'organisation : renseignez [dhis2] org_unit dans la configuration")
    index = mapping.cell_index()
    unmapped = sorted(cell for cell, value in figures.values.items() if value and cell not in index)
    if unmapped:
        listed = ", ".join(f"{indicator} / {disaggregation_label(dis)}" for indicator, dis in unmapped[:10])
        more = f" (et {len(unmapped) - 10} autres)" if len(unmapped) > 10 else ""
        raise PayloadError(
            f"{len(unmapped)} chiffre(s) non nul(s) sans correspondance DHIS2 "
            f"dans {mapping.where('indicators')} : "
            f"{listed}{more}. Ajoutez-les à la table de correspondance."
        )
    rows = []
    for cell in mapping.cells():
        value = figures.values.get(cell.key, 0)
        if zeros == "all" or value or cell.key in must_overwrite:
            rows.append(PayloadRow(cell, value))
    body: dict[str, Any] = {"dataSet": mapping.data_set}
    if complete_date is not None:
        body["completeDate"] = complete_date.isoformat()
    body |= {
        "period": figures.dhis2_period,
        "orgUnit": org_unit,
        "attributeOptionCombo": mapping.attribute_option_combo,
        "dataValues": [
            {
                "dataElement": row.cell.indicator.data_element,
                "categoryOptionCombo": row.cell.category_option_combo,
                "value": str(row.value),
            }
            for row in rows
        ],
    }
    return DataValueSetPayload(body=body, rows=tuple(rows))
