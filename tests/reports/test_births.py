"""Births counted per BABY, by the baby's sex, from the delivery row (baby 1) and delivery_baby (2-4)."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.dhis2.mapping import load_mapping
from appliance.dhis2.payload import payload_for
from appliance.patients.models import Delivery, DeliveryBaby
from appliance.reports.builder import Month, build_report, records_behind
from appliance.reports.definitions import DefinitionsError, load_definitions
from appliance.reports.export import report_csv
from appliance.settings.dhis2 import DEMO_MAPPING
from appliance.settings.reports import ReportSettings
from appliance.store.db import database
from tests.conftest import text_of
from tests.fakes.fake_dhis2 import FakeDhis2, Metadata
from tests.reports.factories import make_patient, make_visit

PERIOD = "2024-03"
TODAY = dt.date(2024, 4, 10)
SETTINGS = ReportSettings()
BIRTHS = ("naissances_vivantes", "mort_nes_frais", "mort_nes_maceres", "petits_poids_naissance")


def baby(delivery: Delivery, position: int, outcome: str, sex: str | None, weight: int | None,
         *, voided: bool = False) -> DeliveryBaby:
    return DeliveryBaby.create(delivery=delivery.id, position=position, outcome=outcome, sex=sex,
                               birth_weight_g=weight, voided=voided)


@pytest.fixture
def march(store):
    """March 2024: the comments give each expected cell (babies are 0 years old: band lt1)."""
    awa = make_patient("F", "1999-05-01")
    twins = make_visit(Delivery, awa, "2024-03-04", babies=2, outcome="vivant", baby_sex="M", birth_weight_g=2300)
    baby(twins, 2, "vivant", "F", 2600)  # live twins: M (low weight) + F
    fanta = make_patient("F", "1990-01-01")
    make_visit(Delivery, fanta, "2024-03-10", outcome="mort_frais", baby_sex="F", birth_weight_g=2100)  # fresh, F
    mariam = make_patient("F", "2004-07-07")
    make_visit(Delivery, mariam, "2024-03-20", outcome="mort_macere", baby_sex="M", birth_weight_g=1800)  # macer. M
    triplets = make_visit(Delivery, mariam, "2024-03-25", babies=2, outcome="vivant", baby_sex="F",
                          birth_weight_g=None, voided=True)  # a voided delivery: none of its babies count
    baby(triplets, 2, "vivant", "M", 2000)
    kadi = make_patient("F", "1996-02-02")
    corrected = make_visit(Delivery, kadi, "2024-03-28", outcome="vivant", baby_sex="M", birth_weight_g=3100)
    baby(corrected, 2, "vivant", "F", 2200, voided=True)  # a count lowered to 1 by a correction: no baby 2
    home = make_patient("F", "1985-03-03")
    make_visit(Delivery, home, "2024-03-15", place="domicile", outcome="vivant", baby_sex="F", birth_weight_g=2000)
    return {"awa": awa, "fanta": fanta, "mariam": mariam, "kadi": kadi, "twins": twins}


def cells(report, code: str) -> dict[str, int]:
    return {dis: value for (item, dis), value in report.figures.values.items() if item == code and value}


def test_twins_a_stillbirth_and_a_low_weight_baby_by_the_babys_sex(march):
    report = build_report(PERIOD, SETTINGS, today=TODAY)
    assert cells(report, "naissances_vivantes") == {"M_lt1": 2, "F_lt1": 1}  # twins M + F, Kadi's boy
    assert cells(report, "mort_nes_frais") == {"F_lt1": 1}
    assert cells(report, "mort_nes_maceres") == {"M_lt1": 1}
    assert cells(report, "petits_poids_naissance") == {"M_lt1": 1}  # twin 1, 2300 g (stillbirths are not births)
    assert cells(report, "accouchements") == {"F_15_24": 2, "F_25_49": 2}  # a twin delivery is still one
    assert report.unsexed == {}


def test_the_drill_down_lists_each_baby_on_the_mothers_record(march):
    rows = records_behind(PERIOD, "naissances_vivantes", SETTINGS, today=TODAY)
    assert [(row.patient_id, row.sex, row.age_years, row.table) for row in rows] == [
        (march["awa"].id, "M", 0, "birth"), (march["awa"].id, "F", 0, "birth"), (march["kadi"].id, "M", 0, "birth")]
    assert len({row.visit_id for row in rows}) == 3  # one id per baby, across both tables
    assert rows[0].detail == "bébé 1 sur 2 · né vivant · 2300 g · garçon · au centre"
    assert rows[1].detail == "bébé 2 sur 2 · né vivant · 2600 g · fille · au centre"
    girls = records_behind(PERIOD, "naissances_vivantes", SETTINGS, sex="F", band="lt1", today=TODAY)
    assert [row.visit_id for row in girls] == [march["twins"].id * 10 + 2]


def test_a_baby_whose_sex_is_not_noted_is_in_no_cell_and_reported_apart(march):
    make_visit(Delivery, march["fanta"], "2024-03-30", outcome="mort_macere", baby_sex=None, birth_weight_g=None)
    report = build_report(PERIOD, SETTINGS, today=TODAY)
    assert cells(report, "mort_nes_maceres") == {"M_lt1": 1}
    assert report.unsexed == {"mort_nes_maceres": 1}
    listed = records_behind(PERIOD, "mort_nes_maceres", SETTINGS, today=TODAY)
    assert [row.sex for row in listed] == ["M", None] and "sexe non noté" in listed[1].detail


def test_births_appear_in_the_csv_and_the_payload_the_fake_dhis2_accepts(march):
    report = build_report(PERIOD, SETTINGS, today=TODAY)
    lines = report_csv(report).splitlines()
    assert any(line.startswith("2024-03;Santé de la mère et du nouveau-né;naissances_vivantes;Naissances vivantes;"
                               "Masculin;2;0;") for line in lines)
    mapping = load_mapping(DEMO_MAPPING)
    payload = payload_for(report.figures, mapping)
    cell_of = {(cell.indicator.data_element, cell.category_option_combo): cell.key for cell in mapping.cells()}
    sent = {cell_of[(row["dataElement"], row["categoryOptionCombo"])]: row["value"]
            for row in payload.body["dataValues"]}
    assert {cell: value for cell, value in sent.items() if cell[0] in BIRTHS} == {
        ("naissances_vivantes", "M_lt1"): "2", ("naissances_vivantes", "F_lt1"): "1",
        ("mort_nes_frais", "M_lt1"): "0", ("mort_nes_frais", "F_lt1"): "1",
        ("mort_nes_maceres", "M_lt1"): "1", ("mort_nes_maceres", "F_lt1"): "0",
        ("petits_poids_naissance", "M_lt1"): "1", ("petits_poids_naissance", "F_lt1"): "0"}
    fake = FakeDhis2(Metadata.from_mapping_file(DEMO_MAPPING))
    reply = fake.import_data_value_set(payload.body)
    assert reply["status"] == "SUCCESS" and not reply["conflicts"]
    stored = {cell_of[key]: value for key, value in fake.values_for(mapping.org_unit, "202403").items()}
    assert reply["importCount"]["imported"] == len(stored) == len(report.figures.nonzero_cells())
    assert stored[("naissances_vivantes", "M_lt1")] == "2" and stored[("mort_nes_frais", "F_lt1")] == "1"


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("sex", "v.sexe", "sex : « v.sexe » : colonne « sexe » inconnue de birth"),
    ("born", "date('now')", "born : \"date('now')\" : une colonne « v.<colonne> » ou « p.<colonne> » attendue"),
    ("born", "p.birthdate", "born : « p.birthdate » : colonne « birthdate » inconnue de patient"),
    ("sex", 1, "sex : 1 : une colonne"),
])
def test_a_bad_sex_or_born_key_is_refused_naming_it(tmp_path, key, value, expected):
    written = f'"{value}"' if isinstance(value, str) else str(value)
    path = tmp_path / "indicators.toml"
    path.write_text(
        '[sections]\nmere = "Mère"\n'
        '[indicators.naissances]\nsection = "mere"\nlabel = "Naissances"\ntable = "birth"\n'
        f'where = "v.outcome = \'vivant\'"\ncount = "visites"\n{key} = {written}\n',
        encoding="utf-8",
    )
    with pytest.raises(DefinitionsError) as error:
        load_definitions(path)
    assert f"indicators.toml, [indicators.naissances] : {expected}" in str(error.value)


def test_the_birth_view_has_one_row_per_baby_with_the_deliverys_mother_date_and_voiding(march):
    rows = database.execute_sql("SELECT id, delivery_id, position, patient_id, visit_date, voided, outcome, sex "
                                "FROM birth ORDER BY id").fetchall()
    twins = march["twins"]
    assert len(rows) == 8  # 6 deliveries + the live delivery_baby rows (Kadi's voided baby 2 is no baby)
    assert len({row[0] for row in rows}) == 8
    assert (twins.id * 10 + 2, twins.id, 2, march["awa"].id, "2024-03-04", 0, "vivant", "F") in rows
    voided = [row for row in rows if row[5]]
    assert [row[2] for row in voided] == [1, 2]  # both babies of the voided delivery carry its voiding


def test_the_page_shows_births_with_notes_warns_of_a_missing_sex_and_drills_to_each_baby(login_as, store):
    month = Month.of(dt.date.today()).previous()  # a finished month: the page's draft is not provisional
    day = month.start + dt.timedelta(days=2)
    mother = make_patient("F", day.replace(year=day.year - 25), name="Sangaré")
    twins = make_visit(Delivery, mother, day, babies=2, outcome="vivant", baby_sex="F", birth_weight_g=2400)
    baby(twins, 2, "mort_frais", None, 1900)
    web = login_as("sage_femme")
    page = text_of(web.get(f"/rapports/{month.period}"))
    assert "Naissances vivantes de moins de 2500 g" in page and "des jumeaux comptent deux" in page
    assert "Sexe non noté" in page and "indicateur=mort_nes_frais\">Mort-nés frais</a> — 1 enregistrement" in page
    detail = text_of(web.get(f"/rapports/{month.period}/detail?indicateur=mort_nes_frais"))
    assert "bébé sexe non noté" in detail and "bébé 2 sur 2 · mort-né frais · 1900 g" in detail
    girls = text_of(web.get(f"/rapports/{month.period}/detail?indicateur=naissances_vivantes&sexe=F&tranche=lt1"))
    assert "Sangaré" in girls and "mère · bébé F" in girls and "0 j" in girls
