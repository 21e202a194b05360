"""The stock lines of the monthly report (``data/stock_lines.toml``): for each tracer medicine, the
month's consumption, stock on hand at its end and days out of stock, recounted from the stock moves
by the stock's own monthly figures, as ``total`` cells of the report (sealed and mapped to DHIS2
like every other figure)."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from appliance.clinical.pcime import formulary
from appliance.reports.figures import Cell
from appliance.stock import queries

DATA_FILE = Path(__file__).with_name("data") / "stock_lines.toml"
PREFIX = "stock_"
TOTAL = "total"


@dataclass(frozen=True)
class StockLines:
    section: str
    measures: dict[str, str]  # measure code → French label, in file order
    tracers: tuple[str, ...]  # medicine codes of medicaments_essentiels.toml

    def code(self, medicine: str, measure: str) -> str:
        return f"{PREFIX}{medicine}_{measure}"

    def labels(self) -> dict[str, str]:
        """Every stock figure's code and French label, tracer by tracer, measure by measure."""
        medicines = formulary().medicines
        return {self.code(medicine, measure): f"{medicines[medicine].label} : {label}"
                for medicine in self.tracers for measure, label in self.measures.items()}


@cache
def load_stock_lines(path: Path = DATA_FILE) -> StockLines:
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    measures, tracers = raw.get("measures"), raw.get("tracers")
    if not isinstance(measures, dict) or set(measures) != {"conso", "sdu", "rupture"}:
        raise ValueError(f"{path.name} : [measures] conso, sdu et rupture attendus")
    unknown = [code for code in tracers or [] if code not in formulary().medicines]
    if not tracers or unknown:
        raise ValueError(f"{path.name} : tracers : médicaments absents de la liste {unknown}")
    return StockLines(str(raw.get("section", "Stock")), dict(measures), tuple(tracers))


def stock_cells(year: int, month: int, today: dt.date, lines: StockLines | None = None) -> dict[Cell, int]:
    """The month's stock figures of every tracer (zeros included), from the moves."""
    lines = lines or load_stock_lines()
    by_code = {line.medicine.code: line for line in queries.month(year, month, today)}
    cells: dict[Cell, int] = {}
    for medicine in lines.tracers:
        line = by_code[medicine]
        for measure, value in (("conso", line.used), ("sdu", line.end), ("rupture", line.days_out)):
            cells[(lines.code(medicine, measure), TOTAL)] = max(0, value)
    return cells
