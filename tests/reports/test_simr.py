"""SIMR: a suspected measles case notified at once (an urgent message to the district and an urgent
MQTT event, in the consultation's transaction, once), and the weekly figures reaching the fake
DHIS2 once with a weekly period (2026W49) that a strict server accepts for a weekly data set."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from appliance import config as config_module
from appliance.clinical.simr import load_simr, simr_list
from appliance.dhis2.payload import payload_for
from appliance.dhis2.sender import simr_mapping
from appliance.outbox.models import OutboxItem
from appliance.patients.models import Consultation, Death
from appliance.patients.registry import Identity, register_patient
from appliance.patients.visits import correct_visit, record_visit
from appliance.reports.simr import KIND as WEEK_KIND
from appliance.reports.simr import WeekError, enqueue_week, week_days, week_figures, week_period
from appliance.store.audit import system_actor
from appliance.wiring import compose_outbox
from tests.fakes.dhis2_fixtures import write_config
from tests.fakes.fake_dhis2 import FakeDhis2

ACTOR = system_actor("tests")
MONDAY = dt.date(2026, 11, 30)  # ISO week 2026-W49


def test_the_list_has_its_source_and_maps_the_diagnoses():
    diseases = load_simr()
    assert "SIMR" in diseases.source and diseases.age_bands == (0, 1, 5, 15)
    assert diseases.for_diagnosis("B05.9").code == "rougeole"
    assert diseases.for_diagnosis("A00.9").code == "cholera"
    assert diseases.for_diagnosis("B50.9") is None


def test_iso_weeks_as_dhis2_writes_them():
    assert week_period(dt.date(2026, 12, 6)) == "2026W49"
    assert week_period(dt.date(2027, 1, 1)) == "2026W53"  # 2026 has 53 ISO weeks
    assert week_period(dt.date(2025, 1, 2)) == "2025W1"  # no zero padding
    assert week_days("2026W49") == (MONDAY, dt.date(2026, 12, 6))
    with pytest.raises(WeekError, match="n'a pas de semaine 53"):
        week_days("2025W53")
    with pytest.raises(WeekError, match="format AAAAWn"):
        week_days("2026-49")


@pytest.fixture
def child(store, record_hooks):
    return register_patient(ACTOR, Identity("Traoré", "Issa", "M", dt.date(2024, 6, 1), "Pelengana"), site_id="T")


def _consult(patient, code, day=MONDAY + dt.timedelta(days=1)):
    return record_visit(ACTOR, patient, Consultation(patient=patient.id, visit_date=day, diagnosis_code=code,
                                                     reason="Fièvre et éruption"), today=day)


def test_a_suspected_measles_case_is_notified_at_once_and_only_once(child):
    consultation = _consult(child, "B05.9")
    alert = OutboxItem.get(OutboxItem.kind == "district.simr_alert")
    assert alert.urgent and alert.ref == f"consultation:{consultation.id}"
    body = json.loads(bytes(alert.payload))["body"]
    assert (body["disease"], body["sex"], body["age_years"], body["village"]) == ("rougeole", "M", 2, "Pelengana")
    event = OutboxItem.get(OutboxItem.kind == "mqtt_event")
    assert event.urgent and json.loads(bytes(event.payload))["k"] == "simr_suspect"
    consultation.reason = "Fièvre, éruption, toux"
    correct_visit(ACTOR, consultation, reason="précision", today=consultation.visit_date)
    assert OutboxItem.select().where(OutboxItem.kind == "district.simr_alert").count() == 1
    _consult(child, "B50.9")  # malaria: not notifiable
    assert OutboxItem.select().where(OutboxItem.kind == "district.simr_alert").count() == 1


def test_the_week_counts_cases_and_deaths_by_sex_and_age(child):
    _consult(child, "B05.9")
    _consult(child, "B05.9", MONDAY - dt.timedelta(days=1))  # the week before: not in W49
    woman = register_patient(ACTOR, Identity("Coulibaly", "Awa", "F", dt.date(1990, 1, 1), "Ségou"), site_id="T")
    _consult(woman, "A00.9", MONDAY + dt.timedelta(days=2))
    record_visit(ACTOR, woman, Death(patient=woman.id, visit_date=MONDAY + dt.timedelta(days=3), category="autre",
                                     place="ici", cause="choléra"), today=MONDAY + dt.timedelta(days=3))
    figures = week_figures("2026W49")
    assert figures.period == "2026W49" and figures.dhis2_period == "2026W49"
    assert figures.values[("simr_rougeole_cas", "M_1_4")] == 1
    assert figures.values[("simr_cholera_cas", "F_15p")] == 1
    assert figures.values[("simr_cholera_deces", "F_15p")] == 1
    assert sum(figures.values.values()) == 3
    assert len(figures.values) == len(simr_list().diseases) * 2 * 8  # zeros kept: every cell


def test_the_week_reaches_the_fake_dhis2_once_with_a_weekly_period(tmp_path: Path, child):
    with FakeDhis2() as fake:
        cfg = config_module.load(write_config(tmp_path, fake.url))  # the same data folder as the store's
        _consult(child, "B05.9")
        figures = week_figures("2026W49")
        enqueue_week(figures)
        enqueue_week(figures)  # built twice before the window: the newer supersedes, one is sent
        box = compose_outbox(cfg)
        report = box.flush()
        assert report.delivered == 1 and report.dead == 0, report.summary_fr()
        assert box.flush().attempted == 0
        assert len(fake.posts) == 1
        payload = payload_for(figures, simr_mapping(cfg.dhis2))
        assert payload.body["period"] == "2026W49" and payload.body["dataSet"] == "HqgRL8AKB7M"
        stored = fake.values_for(payload.body["orgUnit"], "2026W49")
        measles = next(cell for cell in payload.rows if cell.cell.key == ("simr_rougeole_cas", "M_1_4"))
        assert stored[(measles.cell.indicator.data_element, measles.cell.category_option_combo)] == "1"
        assert OutboxItem.get(OutboxItem.kind == WEEK_KIND, OutboxItem.state == "delivered")


def _post_monthly(fake, query: str = "") -> dict:
    from tests.fakes.dhis2_fixtures import DEMO_TOKEN

    mapping = simr_mapping(config_module.load(write_config(fake.tmp, fake.url)).dhis2)
    monthly = dict(payload_for(week_figures("2026W49"), mapping).body, period="202612")
    request = urllib.request.Request(f"{fake.url}/api/dataValueSets{query}", data=json.dumps(monthly).encode(),
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"ApiToken {DEMO_TOKEN}"}, method="POST")
    try:
        reply = json.loads(urllib.request.urlopen(request).read())
    except urllib.error.HTTPError as error:
        reply = json.loads(error.read())
    return reply.get("response", reply)


def test_strict_periods_refuse_a_monthly_period_for_the_weekly_data_set(tmp_path: Path, store):
    """dhis2-core: E7632 (property null, objects period and dataElement) when strictPeriods is on."""
    with FakeDhis2() as fake:
        fake.tmp = tmp_path
        summary = _post_monthly(fake, "?strictPeriods=true")
        conflicts = summary["conflicts"]
        assert {conflict["errorCode"] for conflict in conflicts} == {"E7632"}
        assert all(set(conflict["objects"]) == {"period", "dataElement"} and "property" not in conflict
                   for conflict in conflicts)
        assert summary["importCount"]["imported"] == 0 and not fake.store
        # Without strict periods a real server files the values under the month (here all zeros, not
        # significant: ignored), with no conflict: what our client's strictPeriods=true guards against.
        plain = _post_monthly(fake)
        assert plain["status"] == "SUCCESS" and plain["conflicts"] == [] and plain["importCount"]["ignored"] > 0


def test_our_client_asks_for_strict_periods(tmp_path: Path, store):
    from appliance.dhis2.client import Credentials, Dhis2Client
    from tests.fakes.dhis2_fixtures import DEMO_TOKEN

    with FakeDhis2() as fake:
        cfg = config_module.load(write_config(tmp_path, fake.url))
        monthly = dict(payload_for(week_figures("2026W49"), simr_mapping(cfg.dhis2)).body, period="202612")
        with Dhis2Client(fake.url, Credentials("ApiToken", DEMO_TOKEN)) as client:
            exchange = client.post_data_value_set(json.dumps(monthly).encode())
        summary = fake.posts[-1]["summary"]
        assert exchange.status == 409 and summary["importOptions"]["strictPeriods"] is True
        assert {conflict["errorCode"] for conflict in summary["conflicts"]} == {"E7632"} and not fake.store
    from appliance.dhis2.replies import conflict_message

    assert conflict_message("E7632", summary["conflicts"][0]).startswith("La période 202612 n'est pas du type")


def test_a_window_queues_last_week_once(child):
    from appliance.link.simr import queue_last_week

    _consult(child, "B05.9")
    item = queue_last_week(dt.date(2026, 12, 8))  # Tuesday of W50: W49 is complete
    assert item is not None and item.dedupe_key == "simr:2026W49"
    assert queue_last_week(dt.date(2026, 12, 9)) is None
    assert OutboxItem.select().where(OutboxItem.kind == WEEK_KIND).count() == 1
