"""Vitamin A and albendazole on the child's follow-up list, by age and interval from
pcime_doses.toml's [[preventive]] (WHO 2011: vitamin A every 6 months from 6 to 59 months; WHO 2017:
albendazole from 12 months), closed by a PCIME consultation that gives them."""

from __future__ import annotations

import datetime as dt

from appliance.clinical import pcime
from appliance.clinical.schedule_data import Duration
from appliance.clinical.schedules import PatientFacts, follow_up
from appliance.pcime.service import Line, record_pcime
from tests.followup.conftest import TODAY, days_ago, item_ids


def _due(facts: PatientFacts) -> dict[str, dt.date]:
    return {item.rule_id: item.due_on for item in follow_up(facts, TODAY).items
            if item.rule_id.split(".")[-1] in ("vitamine_a", "albendazole")}


def test_due_by_age_from_the_data_file():
    birth = TODAY - dt.timedelta(days=400)  # about 13 months
    due = _due(PatientFacts(1, birth, "F"))
    assert {key.split(".")[-1]: value for key, value in due.items()} == {
        "vitamine_a": Duration(months=6).after(birth), "albendazole": Duration(months=12).after(birth)}
    young = TODAY - dt.timedelta(days=100)
    assert sorted(_due(PatientFacts(1, young, "F")).values()) == [Duration(months=6).after(young),
                                                                   Duration(months=12).after(young)]
    assert _due(PatientFacts(1, TODAY - dt.timedelta(days=5 * 366), "F")) == {}  # 5 years: no more


def test_a_dose_moves_the_next_one_six_months_on():
    birth = TODAY - dt.timedelta(days=700)
    given = days_ago(30)
    due = _due(PatientFacts(1, birth, "M", preventive_given=(("vitamine_a", given),)))
    by_rule = {key.split(".")[-1]: value for key, value in due.items()}
    assert by_rule["vitamine_a"] == Duration(months=6).after(given)
    assert by_rule["albendazole"] == Duration(months=12).after(birth)


def test_the_shipped_rules_are_whos():
    rows = {entry.treatment: entry for entry in pcime.formulary().preventive}
    assert (rows["vitamine_a"].from_months, rows["vitamine_a"].below_months, rows["vitamine_a"].every_months) == \
        (6, 60, 6)
    assert rows["albendazole"].from_months == 12


def test_a_pcime_consultation_giving_them_closes_the_items(person, actor):
    child = person("Awa", age_days=500)
    assert [item for item in item_ids(child) if "vitamine_a" in item or "albendazole" in item]
    facts = pcime.Facts(500, frozenset(), {"resp_rate": 30, "temperature_c": 36.8, "muac_mm": 140})
    record_pcime(actor, child, visit_date=TODAY, facts=facts, overrides={}, weight_kg=10.0, today=TODAY,
                 lines=[Line("vita_200000", 1, 1, 1, 1, "vitamine_a"), Line("albendazole_400_cp", 0.5, 1, 1, 1,
                                                                          "albendazole")])
    due = {item.split("~")[1]: item.split("~")[2] for item in item_ids(child)
           if "vitamine_a" in item or "albendazole" in item}
    assert set(due.values()) == {Duration(months=6).after(TODAY).isoformat()}, due
