"""``appliance dhis2 check`` and ``appliance dhis2 payload`` against the fake server."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from appliance.cli import main
from appliance.dhis2.check import check_mapping
from appliance.dhis2.client import Credentials, Dhis2Client
from appliance.dhis2.mapping import load_mapping, parse_mapping
from appliance.dhis2.payload import payload_for
from appliance.reports.figures import ReportFigures
from appliance.settings.dhis2 import DEMO_MAPPING
from tests.fakes.dhis2_fixtures import write_config
from tests.fakes.fake_dhis2 import DEMO_TOKEN, FakeDhis2

DEMO_TEXT = DEMO_MAPPING.read_text(encoding="utf-8")
DEMO = load_mapping(DEMO_MAPPING)


def broken_mapping_text() -> str:
    """The demo mapping with four typical mistakes of a hand-edited file."""
    cpn1 = DEMO.indicators["cpn1"]
    enfant = DEMO.category_combos["sexe_age_enfant"]
    sexe_age = DEMO.category_combos["sexe_age"]
    return (DEMO_TEXT
            .replace(f'data_element = "{cpn1.data_element}"', 'data_element = "Qq123456789"')  # not in the data set
            .replace(f'F_50p = "{sexe_age.option_combos["F_50p"]}"',
                     f'F_50p = "{enfant.option_combos["F_lt1"]}"')  # a combo of another category combo
            .replace(f'id = "{enfant.id}"', 'id = "Cc987654321"')  # wrong category combo id
            .replace('attribute_option_combo = "HllvX50cXC0"', 'attribute_option_combo = "Aa111111111"'))


def test_the_demo_mapping_matches_the_fake(fake_dhis2: FakeDhis2) -> None:
    with Dhis2Client(fake_dhis2.url, Credentials("ApiToken", DEMO_TOKEN)) as client:
        report = check_mapping(client, DEMO)
    assert report.ok, report.problems
    assert report.server_version == "2.40.3" and report.username == "admin"
    assert report.data_set_name == "Rapport mensuel d'activités du CSCom"


def test_a_broken_mapping_lists_every_mismatch_in_french(fake_dhis2: FakeDhis2) -> None:
    mapping = parse_mapping(broken_mapping_text(), source=Path("ma_table.toml"))
    fake_dhis2.metadata.data_elements[DEMO.indicators["mam"].data_element].value_type = "TEXT"
    with Dhis2Client(fake_dhis2.url, Credentials("ApiToken", DEMO_TOKEN)) as client:
        report = check_mapping(client, mapping)
    messages = [f"{problem.where} : {problem.message}" for problem in report.problems]
    text = "\n".join(messages)
    assert not report.ok
    cpn1_line = mapping.indicators["cpn1"].line
    assert f"ma_table.toml, ligne {cpn1_line} : indicateur « cpn1 »" in text
    assert "l'élément de données Qq123456789 n'est pas dans l'ensemble « Rapport mensuel" in text
    f50p_line = mapping.category_combos["sexe_age"].option_lines["F_50p"]
    assert (f"ma_table.toml, ligne {f50p_line} : [category_combos.sexe_age] F_50p (Féminin, 50 ans et plus) : la "
            f"combinaison {DEMO.category_combos['sexe_age_enfant'].option_combos['F_lt1']} n'appartient pas à la "
            "catégorie des indicateurs cons_paludisme, cons_ira") in text
    adult_combo = [i for i in DEMO.indicators.values() if i.category_combo.code == "sexe_age"]
    assert f"… ({len(adult_combo)} au total)" in text
    assert "[category_combos.sexe_age_enfant] id = Cc987654321, mais DHIS2 range les indicateurs" in text
    child_indicators = [i for i in DEMO.indicators.values() if i.category_combo.code == "sexe_age_enfant"]
    assert f"… ({len(child_indicators)} au total)" in text
    assert "attribute_option_combo Aa111111111 n'appartient pas" in text
    assert "« mam » : l'élément « Malnutrition aiguë modérée (MAM) dépistée » est de type TEXT" in text
    assert len(messages) == 5  # one line per mistake, not one per cell
    assert report.notes == ["[category_combos.sexe_age] : DHIS2 a aussi F 50p pour les indicateurs cons_paludisme, "
                            f"cons_ira, cons_diarrhee, cons_peau, cons_ist… ({len(adult_combo)} au total) "
                            "(jamais envoyés)"]


def test_an_unassigned_org_unit_and_a_missing_authority(fake_dhis2: FakeDhis2) -> None:
    fake_dhis2.metadata.add_org_unit("Ou000000001", "CSCom de Kati", data_sets=[])
    fake_dhis2.authorities["admin"] = ["M_dhis-web-dashboard"]
    with Dhis2Client(fake_dhis2.url, Credentials("ApiToken", DEMO_TOKEN)) as client:
        report = check_mapping(client, DEMO.with_target(org_unit="Ou000000001"))
    text = "\n".join(problem.message for problem in report.problems)
    assert "n'est pas assigné à l'unité « CSCom de Kati »" in text
    assert "F_DATAVALUE_ADD" in text
    with Dhis2Client(fake_dhis2.url, Credentials("ApiToken", DEMO_TOKEN)) as client:
        missing = check_mapping(client, DEMO.with_target(org_unit="Ou000000404"))
    assert any("Ou000000404 n'existe pas" in problem.message for problem in missing.problems)


def test_check_command(fake_dhis2: FakeDhis2, tmp_path: Path) -> None:
    good = write_config(tmp_path / "good", fake_dhis2.url)
    result = CliRunner().invoke(main, ["dhis2", "check", "--config", str(good)])
    assert result.exit_code == 0, result.output
    assert "Table de correspondance conforme" in result.output
    broken_file = tmp_path / "ma_table.toml"
    broken_file.write_text(broken_mapping_text(), encoding="utf-8")
    broken = write_config(tmp_path / "broken", fake_dhis2.url, extra_dhis2=f'mapping_file = "{broken_file}"')
    result = CliRunner().invoke(main, ["dhis2", "check", "--config", str(broken)])
    assert result.exit_code == 1
    assert "problème(s) à corriger avant tout envoi" in result.output
    assert "ma_table.toml, ligne" in result.output
    revoked = write_config(tmp_path / "revoked", fake_dhis2.url, token="d2pat_revoked")
    result = CliRunner().invoke(main, ["dhis2", "check", "--config", str(revoked)])
    assert result.exit_code == 2 and "401" in result.output


def test_payload_command_prints_exactly_what_would_be_sent(fake_dhis2: FakeDhis2, tmp_path: Path) -> None:
    config = write_config(tmp_path, fake_dhis2.url)
    figures = ReportFigures("2024-03", {("cpn1", "F_15_24"): 12, ("vacc_penta_3", "M_lt1"): 9})
    figures_file = tmp_path / "mars.json"
    figures_file.write_text(json.dumps(figures.to_json_dict()), encoding="utf-8")
    result = CliRunner().invoke(main, ["dhis2", "payload", "--config", str(config), "--period", "2024-03",
                                       "--figures", str(figures_file), "--complete-date", "2024-04-02"])
    assert result.exit_code == 0, result.output
    expected = payload_for(figures, DEMO, complete_date=__import__("datetime").date(2024, 4, 2))
    assert result.stdout.splitlines()[0].encode() == expected.to_json_bytes()
    assert f"{len(expected.rows)} valeurs" in result.stderr
    wrong = CliRunner().invoke(main, ["dhis2", "payload", "--config", str(config), "--period", "2024-04",
                                      "--figures", str(figures_file)])
    assert wrong.exit_code == 2 and "pas de 2024-04" in wrong.stderr
