"""The indicators file: well-formed, every code known to the DHIS2 demo mapping, the demo record sendable."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.demo import seed_demo
from appliance.dhis2.mapping import load_mapping
from appliance.dhis2.payload import payload_for
from appliance.patients import codes
from appliance.reports.builder import Month, build_report, diagnosis_codes
from appliance.reports.definitions import DefinitionsError, load_definitions
from appliance.settings.dhis2 import DEMO_MAPPING
from appliance.settings.reports import ReportSettings


def test_every_indicator_has_a_cell_in_the_demo_mapping():
    definitions = load_definitions()
    mapping = load_mapping(DEMO_MAPPING)
    assert set(definitions.indicators) <= set(mapping.indicators)
    assert all(item.label and item.section in definitions.sections for item in definitions.indicators.values())


def test_consultation_groups_do_not_overlap():
    definitions = load_definitions()
    seen: dict[str, str] = {}
    for group in definitions.diagnosis_groups:
        for code in diagnosis_codes(definitions, [group]):
            assert code not in seen, f"{code} in {seen.get(code)} and {group}"
            seen[code] = group
    assert set(seen) < set(codes.code_list("diagnoses"))  # the rest is « autres »


def test_a_broken_file_names_each_problem(tmp_path):
    path = tmp_path / "indicators.toml"
    path.write_text(
        '[sections]\nmere = "Mère"\n[diagnosis_groups]\npalu = ["paludisme_simple"]\n'
        '[indicators.cpn1]\nsection = "mere"\nlabel = "CPN1"\ntable = "antenatal_visits"\nwhere = "1"\n'
        'count = "visites"\n'
        '[indicators.Bad]\nsection = "autre"\nlabel = "x"\ntable = "consultation"\n'
        'where = "v.diagnosis_code IN {diagnoses:ira} AND {age_months} > 1"\ncount = "tout"\ncolour = "red"\n',
        encoding="utf-8",
    )
    with pytest.raises(DefinitionsError) as error:
        load_definitions(path)
    message = str(error.value)
    for expected in ("[indicators.cpn1] : table « antenatal_visits » inconnue",
                     "[indicators.Bad] : code invalide", "clé inconnue « colour »",
                     "section « autre » absente de [sections]", "count « tout »",
                     "groupe(s) absent(s) de [diagnosis_groups] : ira", "remplacement inconnu {age_months}"):
        assert expected in message


def test_a_year_of_the_demo_record_fits_the_demo_mapping(store):
    """Every non-zero figure the demo data produces has a DHIS2 cell: sealing it would send, not dead-letter."""
    today = dt.date(2025, 11, 20)
    seed_demo(store, 1500, 7, today=today)
    mapping = load_mapping(DEMO_MAPPING)
    month = Month.of(today)
    for _ in range(12):
        month = month.previous()
        report = build_report(month.period, ReportSettings(), today=today)
        assert payload_for(report.figures, mapping).rows  # raises PayloadError on an unmapped non-zero cell
