"""48 hours without a link, on the agent's own upload windows: the agent's jobs run on its clock
(``drive``: two windows a day and the urgent checks, time-compressed, no sleeping), with the real
outbox, senders and inbox against the real district service. For a day the 3G stick finds no
network, for the next the district's server is down; meanwhile the clinic asks a second opinion
and notifies a suspected case, the district answers an earlier case and pushes a protocol. When the
link is back, each message arrives exactly once on each side, and later windows change nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from appliance import config as config_module
from appliance.agent.clock import ManualClock
from appliance.agent.hooks import agent_partners
from appliance.agent.sdnotify import Notifier
from appliance.agent.service import Agent, drive
from appliance.district.app import push_document
from appliance.district.store import Received
from appliance.link.models import AvisRequest, DistrictDocument
from appliance.link.service import AskedBy, ask
from appliance.outbox.models import ItemState, OutboxItem
from appliance.patients.models import Consultation
from appliance.patients.registry import Identity, register_patient
from appliance.patients.visits import record_visit
from appliance.store.audit import system_actor
from appliance.store.device import UploadWindowLog
from tests.link.conftest import start_district
from tests.link.test_avis import _district_client

START = dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC)  # a Monday; windows at 06:00 and 13:00 UTC
ACTOR = system_actor("tests")
NURSE = AskedBy(ACTOR, "Infirmier de garde")


def _agent(linked_cfg: config_module.Config) -> tuple[Agent, ManualClock]:
    cfg = dataclasses.replace(
        linked_cfg,
        uploads=dataclasses.replace(linked_cfg.uploads, windows=["06:00", "13:00"], timezone="UTC", max_minutes=5,
                                    urgent_check_s=60, urgent_retry_s=1800),
        # The outbox's own clock is the real one: its backoff shrunk to fractions of a second.
        outbox=dataclasses.replace(linked_cfg.outbox, base_delay_s=0.05, max_delay_s=0.2),
        power=dataclasses.replace(linked_cfg.power, simulation=dataclasses.replace(
            linked_cfg.power.simulation, initial_soc_pct=100.0, load_w=1.0, cloudy_day_probability=0.0)),
    )
    clock = ManualClock(START)
    agent = Agent(cfg, simulate=True, clock=clock, notifier=Notifier({}), watch_sticks=False,
                  partners=agent_partners(cfg))
    agent.start()
    return agent, clock


def _windows_since(moment: dt.datetime) -> list[str]:
    return [row.outcome for row in UploadWindowLog.select().where(
        (UploadWindowLog.only_urgent == False) & (UploadWindowLog.scheduled_at >= moment.replace(tzinfo=None)))  # noqa: E712
        .order_by(UploadWindowLog.id)]


def test_48_hours_down_both_ways_on_the_agents_windows(linked_cfg, store, record_hooks, district):
    today = dt.date.today()
    child = register_patient(ACTOR, Identity("Traoré", "Awa", "F", today - dt.timedelta(days=800), "Pelengana"),
                             site_id="T")
    agent, clock = _agent(linked_cfg)
    try:
        first = ask(NURSE, child, "Toux depuis 3 semaines : faut-il une radio ?", [], site_id="test-a", age="2 ans",
                    today=today)
        drive(agent, clock, START + dt.timedelta(hours=7))  # the 06:00 window: the link works
        assert _windows_since(START) == ["done"]
        assert Received.select().where(Received.kind == "avis").count() == 1

        # The link goes down both ways: first the 3G (no network), then the district's server.
        cut = clock.now()
        agent.modem.coverage = False
        second = ask(NURSE, child, "Et la fièvre ce soir ?", [], site_id="test-a", age="2 ans", today=today)
        record_visit(ACTOR, child, Consultation(patient=child.id, visit_date=today, diagnosis_code="B05.9",
                                                reason="Éruption"), today=today)
        kone, token = _district_client(district, "dr_kone")
        case = Received.get(Received.kind == "avis")
        assert kone.post(f"/cas/{case.id}", data={"answer": "Radio au CSRéf, crachats BK.", "csrf_token": token}
                         ).status_code == 302
        doc_id = push_document(["test-a"], "Protocole rougeole", "rougeole.txt", "text/plain", b"Vitamine A...")
        drive(agent, clock, cut + dt.timedelta(hours=24))
        agent.modem.coverage = True
        district.stop()
        drive(agent, clock, cut + dt.timedelta(hours=48))

        outage = _windows_since(cut)
        assert len(outage) == 4 and set(outage) == {"failed"}, outage  # 13:00, 06:00, 13:00, 06:00
        assert Received.select().count() == 1  # nothing more reached the district
        assert AvisRequest.get_by_id(first.id).answered_at is None and not DistrictDocument.select().exists()
        waiting = OutboxItem.select().where((OutboxItem.state == ItemState.PENDING)
                                            & OutboxItem.kind.startswith("district."))
        assert {item.kind for item in waiting} == {"district.avis", "district.simr_alert"}
        assert all(item.attempts == 0 for item in waiting)  # a dead link spends no attempt
        urgent = [row.detail for row in UploadWindowLog.select().where(UploadWindowLog.only_urgent == True)]  # noqa: E712
        no_network = [detail for detail in urgent if "connexion impossible" in detail]
        refused = [detail for detail in urgent if "connexion impossible" not in detail]
        # No network: tried every urgent_retry_s (30 min here), not every minute; the district down (each
        # try costs data): 30 min, 1 h, 2 h, 4 h, 6 h… apart.
        assert 20 <= len(no_network) <= 24 * 2 + 1 and 1 <= len(refused) <= 8, (len(no_network), len(refused))

        start_district(district.db_path, int(district.url.rsplit(":", 1)[1]), district)  # the link is back
        back = clock.now()
        drive(agent, clock, back + dt.timedelta(hours=36))  # the next windows, and then some
        assert _windows_since(back)[0] == "done"
        received = list(Received.select().order_by(Received.id))
        assert sorted(row.kind for row in received) == ["avis", "avis", "simr_alert"]
        assert all(row.deliveries == 1 for row in received)  # each message once at the district
        assert {json.loads(row.body).get("question") for row in received if row.kind == "avis"} == {
            first.question, second.question}
        assert AvisRequest.get_by_id(first.id).answer == "Radio au CSRéf, crachats BK."  # once on the box
        assert AvisRequest.get_by_id(second.id).answered_at is None
        assert [document.doc_id for document in DistrictDocument.select()] == [doc_id]
        assert not OutboxItem.select().where(OutboxItem.state.in_(ItemState.WAITING)
                                             & OutboxItem.kind.startswith("district.")).exists()
    finally:
        agent.close()
