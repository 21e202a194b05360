"""The dataValueSet built from a report: exact shape, zeros where DHIS2 needs them, compact."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random

import pytest

from appliance.dhis2.mapping import load_mapping
from appliance.dhis2.payload import PayloadError, payload_for
from appliance.reports.figures import ReportFigures
from appliance.settings.dhis2 import DEMO_MAPPING

MAPPING = load_mapping(DEMO_MAPPING)


def full_month(seed: int = 7) -> ReportFigures:
    """Every mapped cell with a plausible count, a third of them zero."""
    rng = random.Random(seed)
    counts = [0, 0, 1, 3, 7, 12, 25, 60, 140]
    return ReportFigures("2024-03", {cell.key: rng.choice(counts) for cell in MAPPING.cells()})


def test_the_payload_follows_the_documented_shape() -> None:
    figures = ReportFigures("2024-03", {("cpn1", "F_15_24"): 12, ("mas", "M_lt1"): 3})
    payload = payload_for(figures, MAPPING, complete_date=dt.date(2024, 4, 2))
    body = json.loads(payload.to_json_bytes())
    assert list(body) == ["dataSet", "completeDate", "period", "orgUnit", "attributeOptionCombo", "dataValues"]
    assert body["period"] == "202403"
    assert body["completeDate"] == "2024-04-02"
    assert (body["dataSet"], body["orgUnit"], body["attributeOptionCombo"]) == (
        MAPPING.data_set, MAPPING.org_unit, "HllvX50cXC0")
    cpn1 = MAPPING.indicators["cpn1"]
    row = {"dataElement": cpn1.data_element, "categoryOptionCombo": cpn1.category_combo.option_combos["F_15_24"],
           "value": "12"}
    assert row in body["dataValues"]
    assert all(isinstance(value["value"], str) for value in body["dataValues"])
    assert all(set(value) == {"dataElement", "categoryOptionCombo", "value"} for value in body["dataValues"])
    assert [(r.cell.key, r.value) for r in payload.rows][:1] == [(next(MAPPING.cells()).key, 0)]


def test_without_complete_date_no_completeness_is_sent() -> None:
    body = payload_for(ReportFigures("2024-03", {}), MAPPING).body
    assert "completeDate" not in body


def test_first_version_sends_every_mapped_cell_zeros_included() -> None:
    figures = ReportFigures("2024-03", {("cpn1", "F_15_24"): 12})
    payload = payload_for(figures, MAPPING)
    assert len(payload.rows) == len(list(MAPPING.cells()))
    assert sum(1 for row in payload.rows if row.value) == 1


def test_changes_policy_sends_nonzero_cells_and_zeros_for_earlier_nonzero_cells() -> None:
    v1 = ReportFigures("2024-03", {("cpn1", "F_15_24"): 12, ("mas", "M_lt1"): 3})
    v2 = ReportFigures("2024-03", {("cpn1", "F_15_24"): 11, ("mam", "F_1_4"): 1})
    v3 = ReportFigures("2024-03", {("cpn1", "F_15_24"): 11})
    first = payload_for(v1, MAPPING, zeros="changes")
    assert {(row.cell.key, row.value) for row in first.rows} == {(("cpn1", "F_15_24"), 12), (("mas", "M_lt1"), 3)}
    second = payload_for(v2, MAPPING, v1, zeros="changes")
    assert {(row.cell.key, row.value) for row in second.rows} == {
        (("cpn1", "F_15_24"), 11), (("mam", "F_1_4"), 1), (("mas", "M_lt1"), 0)}
    # v2 was superseded before it was sent: v3 still zeroes what v1 *and* v2 had.
    third = payload_for(v3, MAPPING, [v1, v2], zeros="changes")
    assert {(row.cell.key, row.value) for row in third.rows} == {
        (("cpn1", "F_15_24"), 11), (("mam", "F_1_4"), 0), (("mas", "M_lt1"), 0)}


def test_a_nonzero_figure_without_a_mapping_is_refused_not_dropped() -> None:
    figures = ReportFigures("2024-03", {("cpn1", "M_15_24"): 2, ("cpn1", "F_15_24"): 3, ("rage", "total"): 0})
    with pytest.raises(PayloadError, match=r"1 chiffre\(s\) non nul\(s\).*cpn1 / Masculin, 15–24 ans"):
        payload_for(figures, MAPPING)


def test_an_org_unit_is_required() -> None:
    import dataclasses

    with pytest.raises(PayloadError, match="org_unit"):
        payload_for(ReportFigures("2024-03", {}), dataclasses.replace(MAPPING, org_unit=None))
    override = payload_for(ReportFigures("2024-03", {}, org_unit="OUother0001"), MAPPING)
    assert override.body["orgUnit"] == "OUother0001"


def test_a_full_month_fits_the_budget_and_gzip_is_deterministic() -> None:
    payload = payload_for(full_month(), MAPPING, complete_date=dt.date(2024, 4, 2))
    compressed = payload.gzipped()
    assert len(compressed) <= 8 * 1024
    assert gzip.decompress(compressed) == payload.to_json_bytes()
    assert payload.gzipped() == compressed
    assert b", " not in payload.to_json_bytes() and b": " not in payload.to_json_bytes()  # compact separators
