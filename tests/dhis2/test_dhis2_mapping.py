"""The mapping file and the figures type: valid files load, every mistake is named with its line."""

from __future__ import annotations

import pytest

from appliance.dhis2.mapping import MappingError, load_mapping, parse_mapping
from appliance.reports.figures import (
    FiguresError,
    ReportFigures,
    band_code,
    disaggregation_code,
    disaggregation_label,
)
from appliance.settings.dhis2 import DEMO_MAPPING, is_uid

GOOD = """format = 1
data_set = "BfMAe6Itzgt"
attribute_option_combo = "HllvX50cXC0"

[category_combos.femmes]
id = "Wm2jjCk7v0a"
label = "Âge de la femme"

[category_combos.femmes.option_combos]
F_15_24 = "aAa0000000a"
F_25_49 = "aAa0000000b"

[indicators.cpn1]
label = "CPN1"
data_element = "Dd0000000a1"
category_combo = "femmes"
"""


def test_the_demo_mapping_is_valid_and_covers_the_report() -> None:
    mapping = load_mapping(DEMO_MAPPING)
    codes = set(mapping.indicators)
    assert {"cpn1", "cpn4", "accouchements", "cpon", "enfants_peses", "mam", "mas", "vacc_penta_3"} <= codes
    assert any(code.startswith("cons_") for code in codes)
    assert any(code.startswith("pf_nouvelles_") for code in codes) and any(c.startswith("pf_anciennes_") for c in codes)
    assert {"chron_vus_hta", "chron_perdus_hta"} <= codes
    cells = list(mapping.cells())
    assert len(cells) == len({(cell.indicator.data_element, cell.category_option_combo) for cell in cells})
    assert all(is_uid(uid) for uid in [mapping.data_set, mapping.org_unit, mapping.attribute_option_combo]
               + [cell.indicator.data_element for cell in cells] + [cell.category_option_combo for cell in cells])
    assert mapping.indicators["cpn1"].line is not None


@pytest.mark.parametrize(
    ("value", "ok"),
    [("HllvX50cXC0", True), ("a0000000000", True), ("0abcdefghij", False), ("abcdefghij", False),
     ("abcdefghijkl", False), ("abcdefghij-", False), (None, False), ("abcdéfghijk", False)],
)
def test_uid_rule(value: object, ok: bool) -> None:
    assert is_uid(value) is ok


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('data_set = "BfMAe6Itzgt"', 'data_set = "BfMAe6Itzg"'), "ligne 2 : « data_set » doit être un UID"),
        (('F_25_49 = "aAa0000000b"', 'F_25_49 = "9Aa0000000b"'), "ligne 11 : F_25_49 : UID de categoryOptionCombo"),
        (('F_25_49 = "aAa0000000b"', 'F_25_49 = "aAa0000000a"'), "ligne 11 : F_25_49 : même UID que F_15_24"),
        (('F_25_49 = "aAa0000000b"', 'X_25_49 = "aAa0000000b"'), "ligne 11 : désagrégation « X_25_49 » invalide"),
        (('category_combo = "femmes"', 'category_combo = "hommes"'), "ligne 16 : [indicators.cpn1] category_combo"),
        (('label = "CPN1"', 'libelle = "CPN1"'), "ligne 14 : clé inconnue « libelle »"),
        (("format = 1", "format = 2"), "ligne 1 : « format = 1 » attendu"),
        (('data_element = "Dd0000000a1"', "data_element = 12"), "ligne 15 : [indicators.cpn1] data_element"),
    ],
)
def test_each_mistake_is_named_with_its_line(change: tuple[str, str], expected: str) -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping(GOOD.replace(*change))
    assert expected in str(caught.value)


def test_two_indicators_on_one_data_element_are_refused() -> None:
    text = GOOD + '\n[indicators.cpn4]\nlabel = "CPN4"\ndata_element = "Dd0000000a1"\ncategory_combo = "femmes"\n'
    with pytest.raises(MappingError, match="même élément de données que « cpn1 »"):
        parse_mapping(text)


def test_all_problems_are_reported_at_once() -> None:
    text = GOOD.replace('data_set = "BfMAe6Itzgt"', 'data_set = "x"').replace('label = "CPN1"', 'label = ""')
    with pytest.raises(MappingError) as caught:
        parse_mapping(text)
    assert len(str(caught.value).splitlines()) == 2


def test_toml_syntax_errors_are_reported() -> None:
    with pytest.raises(MappingError, match="syntaxe TOML invalide"):
        parse_mapping(GOOD + "\n[indicators.broken\n")


def test_site_overrides_replace_the_files_target() -> None:
    mapping = parse_mapping(GOOD).with_target(org_unit="OUsite00001", data_set="")
    assert (mapping.org_unit, mapping.data_set) == ("OUsite00001", "BfMAe6Itzgt")


@pytest.mark.parametrize(
    ("lower", "upper", "code", "label"),
    [(0, 1, "lt1", "moins de 1 an"), (1, 5, "1_4", "1–4 ans"), (5, 15, "5_14", "5–14 ans"),
     (15, 25, "15_24", "15–24 ans"), (25, 50, "25_49", "25–49 ans"), (50, None, "50p", "50 ans et plus"),
     (0, 5, "lt5", "moins de 5 ans")],
)
def test_band_codes_and_labels(lower: int, upper: int | None, code: str, label: str) -> None:
    assert band_code(lower, upper) == code
    assert disaggregation_label(disaggregation_code("F", code)) == f"Féminin, {label}"


def test_bad_bands_and_sexes_are_refused() -> None:
    with pytest.raises(ValueError):
        band_code(5, 5)
    with pytest.raises(ValueError):
        disaggregation_code("X", "1_4")


@pytest.mark.parametrize(
    ("period", "values", "message"),
    [
        ("2024-13", {}, "période « 2024-13 » invalide"),
        ("202403", {}, "format AAAA-MM"),
        ("2024-03", {("CPN1", "F_15_24"): 1}, "code d'indicateur 'CPN1'"),
        ("2024-03", {("cpn1", "F15_24"): 1}, "désagrégation 'F15_24' invalide"),
        ("2024-03", {("cpn1", "F_15_24"): -1}, "cpn1 / F_15_24 : -1"),
        ("2024-03", {("cpn1", "F_15_24"): True}, "n'est pas un nombre entier"),
        ("2024-03", {("cpn1", "F_15_24"): 1.5}, "n'est pas un nombre entier"),
    ],
)
def test_figures_refuse_what_cannot_be_a_report(period: str, values: dict, message: str) -> None:
    with pytest.raises(FiguresError, match=message):
        ReportFigures(period, values)


def test_figures_round_trip_through_json() -> None:
    figures = ReportFigures("2024-03", {("cpn1", "F_15_24"): 4, ("cpn1", "F_25_49"): 0, ("mas", "M_lt1"): 2},
                            org_unit="OUsite00001")
    text = '{"period": "2024-03", "org_unit": "OUsite00001", "values": ' \
           '{"cpn1": {"F_15_24": 4, "F_25_49": 0}, "mas": {"M_lt1": 2}}}'
    assert ReportFigures.from_json(text) == figures
    assert ReportFigures.from_json_dict(figures.to_json_dict()) == figures
    assert figures.dhis2_period == "202403"
    with pytest.raises(FiguresError, match="ligne 1"):
        ReportFigures.from_json('{"period": "2024-03", "values": {')
    with pytest.raises(FiguresError, match="clé\\(s\\) inconnue\\(s\\) perido"):
        ReportFigures.from_json('{"perido": "2024-03", "values": {}}')
