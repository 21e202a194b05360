"""Schedule files: editable without code changes, and a bad edit is reported with file and key."""

import shutil
from datetime import date

import pytest

from appliance.clinical.schedule_data import DATA_DIR, Duration, load_schedules
from appliance.clinical.schedules import PatientFacts, follow_up


@pytest.fixture
def data_copy(tmp_path):
    for name in ("epi_mali.toml", "anc.toml", "family_planning.toml", "chronic.toml", "growth_monitoring.toml",
                 "postnatal.toml"):
        shutil.copy(DATA_DIR / name, tmp_path / name)
    return tmp_path


def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_shipped_schedules_load():
    schedules = load_schedules()
    assert schedules.epi.programme.code == "pev"
    assert schedules.epi.dose_labels()["penta1"] == "Penta 1"
    assert "vpi2" not in schedules.epi.dose_labels()  # inactive series
    assert len(schedules.anc.contacts) == 8


def test_switching_a_series_off_in_the_data_removes_it(data_copy):
    edit(data_copy / "epi_mali.toml", "elsewhere.\nactive = true", "elsewhere.\nactive = false")
    newborn = PatientFacts("p", date(2026, 1, 1))
    rules = [item.rule_id for item in follow_up(newborn, date(2026, 1, 1), load_schedules(data_copy)).items]
    assert "pev.palu1" not in rules
    assert "pev.palu1" in [item.rule_id for item in follow_up(newborn, date(2026, 1, 1)).items]


def test_changing_the_anc_contacts_in_the_data_changes_the_plan(data_copy):
    anc = data_copy / "anc.toml"
    text = anc.read_text(encoding="utf-8")
    start = text.index("contacts = [")
    end = text.index("]\n", start) + 2
    anc.write_text(text[:start] + 'contacts = [{ week = 16, label = "CPN 1" }, { week = 32, label = "CPN 2" }]\n'
                   + text[end:], encoding="utf-8")
    assert [contact.week for contact in load_schedules(data_copy).anc.contacts] == [16, 32]


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("epi_mali.toml", "age = { weeks = 6 }", "age = { semaines = 6 }",
         r"epi_mali.toml : series\[3\].dose\[1\].age : durée attendue"),
        ("epi_mali.toml", 'code = "penta2"', 'code = "penta1"', "« penta1 » en double"),
        ("epi_mali.toml", 'start = "05-01"', 'start = "05-41"', "date MM-JJ attendue"),
        ("epi_mali.toml", "priority = 1", 'priority = "haute"', "priority : type str inattendu"),
        ("anc.toml", "{ week = 26,", "{ week = 19,", "semaines doivent être croissantes"),
        ("anc.toml", "end_at_week = 42", "end_at_week = 40", "end_at_week : doit dépasser"),
        ("family_planning.toml", "interval = { weeks = 13 }", "interval = { weeks = -13 }", "entiers positifs"),
        ("chronic.toml", 'action = "Suivi HTA"\n', "", r"conditions.hta.action : valeur manquante"),
        ("growth_monitoring.toml", "until_age = { months = 24 }", "until_age = { months = 72 }", "croissantes"),
        ("anc.toml", 'programme = "cpn"', 'programme = "cpn', "TOML invalide"),
        ("postnatal.toml", "overdue = { days = 15 }", "overdue = { days = 7 }",
         r"postnatal.toml : contacts\[3\].overdue : doit suivre"),
        ("postnatal.toml", "end_after = { days = 56 }", "end_after = { days = 30 }", "end_after : doit suivre"),
    ],
)
def test_bad_edits_are_reported_with_file_and_key(data_copy, file, old, new, message):
    edit(data_copy / file, old, new)
    with pytest.raises(ValueError, match=message):
        load_schedules(data_copy)


def test_calendar_months_clamp_to_the_end_of_the_month():
    assert Duration(months=1).after(date(2026, 1, 31)) == date(2026, 2, 28)
    assert Duration(months=1).after(date(2028, 1, 31)) == date(2028, 2, 29)
    assert Duration(years=1).after(date(2028, 2, 29)) == date(2029, 2, 28)
    assert Duration(months=1, days=3).after(date(2026, 1, 31)) == date(2026, 3, 3)
    assert Duration(days=28).after(date(2026, 3, 2), times=3) == date(2026, 5, 25)


def test_preload_reads_every_shipped_file():
    from appliance.clinical import preload

    preload()  # raises if any shipped data file is broken
