"""The stock lines of the monthly report: for each tracer medicine the month's consumption, stock on
hand at its end and days out of stock, recounted from the moves, in the built and sealed report, its
page and CSV, and in the DHIS2 dataValueSet through the demo mapping (default category combo)."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.dhis2.mapping import DEMO_MAPPING, load_mapping
from appliance.dhis2.payload import payload_for
from appliance.reports.builder import Month, build_report
from appliance.reports.export import report_csv
from appliance.reports.stock_lines import load_stock_lines, stock_cells
from appliance.settings.reports import ReportSettings
from appliance.stock import queries
from appliance.stock.service import DispenseLine, dispense, receive
from appliance.store.audit import system_actor
from tests.conftest import text_of

TODAY = dt.date.today()
MONTH = Month.of(TODAY).previous()


def _moves() -> None:
    """100 AL received on the 1st, 30 dispensed on the 3rd, the other 70 on the 10th: out from then on."""
    actor = system_actor("tests")
    receive(actor, "al_20_120_cp", 100, lot="A1", expires_on=TODAY + dt.timedelta(days=400), moved_on=MONTH.start,
            today=TODAY)
    receive(actor, "sro_sachet", 50, lot="S1", expires_on=TODAY + dt.timedelta(days=400), moved_on=MONTH.start,
            today=TODAY)
    for day, quantity in ((2, 30), (9, 70)):
        dispense(actor, [DispenseLine("al_20_120_cp", quantity)], moved_on=MONTH.start + dt.timedelta(days=day),
                 reason="test", today=TODAY)


def test_the_figures_are_the_stock_pages_own(store):
    _moves()
    cells = stock_cells(MONTH.start.year, MONTH.start.month, TODAY)
    days_in_month = (MONTH.end - MONTH.start).days + 1
    assert cells[("stock_al_20_120_cp_conso", "total")] == 100
    assert cells[("stock_al_20_120_cp_sdu", "total")] == 0
    assert cells[("stock_al_20_120_cp_rupture", "total")] == days_in_month - 9
    assert (cells[("stock_sro_sachet_conso", "total")], cells[("stock_sro_sachet_sdu", "total")]) == (0, 50)
    line = next(line for line in queries.month(MONTH.start.year, MONTH.start.month, TODAY)
                if line.medicine.code == "al_20_120_cp")
    assert (line.used, line.end, line.days_out) == (100, 0, days_in_month - 9)
    assert len(cells) == 3 * len(load_stock_lines().tracers)


def test_they_are_in_the_report_its_csv_and_the_dhis2_payload(store):
    _moves()
    report = build_report(MONTH.period, ReportSettings(), today=TODAY)
    assert report.value("stock_al_20_120_cp_conso", "total") == 100
    rows = {code: value for code, _, value in report.stock_rows()}
    assert rows["stock_sro_sachet_sdu"] == 50 and next(iter(rows)) == "stock_al_20_120_cp_conso"
    assert all(section.key != "anciens" for section in report.rows())  # not shown as removed indicators
    assert "stock_al_20_120_cp_rupture" in report_csv(report)
    mapping = load_mapping(DEMO_MAPPING)
    payload = payload_for(report.figures, mapping)
    sent = {(row.cell.indicator.code, row.value) for row in payload.rows}
    assert ("stock_al_20_120_cp_conso", 100) in sent and ("stock_sro_sachet_sdu", 50) in sent
    value = next(item for item in payload.body["dataValues"]
                 if item["dataElement"] == mapping.indicators["stock_al_20_120_cp_conso"].data_element)
    assert value == {"dataElement": mapping.indicators["stock_al_20_120_cp_conso"].data_element,
                     "categoryOptionCombo": "HllvX50cXC0", "value": "100"}


def test_the_month_page_shows_the_stock_section(login_as):
    _moves()
    page = text_of(login_as("medecin").get(f"/rapports/{MONTH.period}"))
    assert "Stock des médicaments traceurs" in page and "jours de rupture" in page


def test_a_tracer_outside_the_list_is_refused(tmp_path):
    broken = tmp_path / "stock_lines.toml"
    broken.write_text('section = "S"\ntracers = ["doliprane"]\n[measures]\nconso = "a"\nsdu = "b"\nrupture = "c"\n',
                      encoding="utf-8")
    with pytest.raises(ValueError, match="doliprane"):
        load_stock_lines(broken)
