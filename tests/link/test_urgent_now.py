"""A suspected SIMR case leaves at once, not at the next upload window: the real agent loop
(APScheduler, system clock, simulated 3G stick, the real partners and outbox) notices the urgent
item the web wrote in SQLite and sends it over a short connection to the real district service
and, as an urgent event, through a real Mosquitto. Modem unplugged: it leaves when the stick is
plugged in, not after ``urgent_retry_s``. The windows are hours away the whole time."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance import config as config_module
from appliance.agent.hooks import agent_partners
from appliance.agent.sdnotify import Notifier
from appliance.agent.service import Agent
from appliance.district.store import Clinic, Received, token_digest
from appliance.link.models import AvisRequest
from appliance.link.service import AskedBy, ask
from appliance.outbox.models import ItemState, OutboxItem
from appliance.patients.models import Consultation
from appliance.patients.registry import Identity, register_patient
from appliance.patients.visits import record_visit
from appliance.store import open_and_migrate
from appliance.store.audit import system_actor
from appliance.store.device import UploadWindowLog
from tests.telemetry.conftest import CLINICS, broker, recorder  # noqa: F401 (fixtures)

SITE = "ml-kati"
TOKEN = "token-ml-kati-0123456789"
ACTOR = system_actor("tests")


def _far_windows() -> str:
    """Two windows 6 and 12 hours from now (UTC): none can open during the test."""
    now = dt.datetime.now(dt.UTC)
    return ", ".join(f'"{(now + dt.timedelta(hours=h)):%H:%M}"' for h in (6, 12))


@pytest.fixture
def box(tmp_path: Path, district, broker) -> config_module.Config:  # noqa: F811
    Clinic.create(site_id=SITE, name="CSCom de Kati", token_sha256=token_digest(TOKEN))
    folder = tmp_path / SITE
    text = config_module.dev_config_text(folder).replace('id = "demo-cscom"', f'id = "{SITE}"') + f"""
[uploads]
windows = [{_far_windows()}]
timezone = "UTC"
urgent_check_s = 1
urgent_retry_s = 3600

[telemetry]
enabled = true
broker_host = "127.0.0.1"
broker_port = {broker.port}
tls = false
connect_timeout_s = 5
publish_timeout_s = 5

[district]
url = "{district.url}"
connect_timeout_s = 2
read_timeout_s = 5
"""
    path = folder / "appliance.toml"
    folder.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    cfg = config_module.load(path)
    config_module.write_secret(cfg.paths.secrets_dir / "mqtt_password", CLINICS[SITE])
    config_module.write_secret(cfg.paths.secrets_dir / "district_token", TOKEN)
    return cfg


@pytest.fixture
def running_agent(box: config_module.Config, record_hooks) -> Iterator[Agent]:
    db = open_and_migrate(box.paths.database)
    agent = Agent(box, simulate=True, notifier=Notifier({}), watch_sticks=False, partners=agent_partners(box))
    loop = threading.Thread(target=agent.run, name="agent", daemon=True)
    loop.start()
    _wait(lambda: agent._scheduler is not None and agent._scheduler.running, 10, "agent loop started")
    yield agent
    agent.stop()
    loop.join(30)
    assert not loop.is_alive()
    db.close()


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s")


def _suspected_measles() -> None:
    """What the web does: a consultation for measles, written in its own transaction."""
    today = dt.date.today()
    child = register_patient(ACTOR, Identity("Keita", "Adama", "M", today - dt.timedelta(days=900), "Kati"),
                             site_id="T")
    record_visit(ACTOR, child, Consultation(patient=child.id, visit_date=today, diagnosis_code="B05.9",
                                            reason="Fièvre, éruption"), today=today)
    ask(AskedBy(ACTOR, "Infirmier"), child, "Conduite à tenir ?", [], site_id=SITE, age="2 ans", today=today)


def _alerts() -> int:
    return Received.select().where((Received.kind == "simr_alert") & (Received.site_id == SITE)).count()


def test_a_suspected_case_leaves_at_once_when_the_modem_is_up(running_agent, recorder):  # noqa: F811
    began = time.monotonic()
    _suspected_measles()
    _wait(lambda: _alerts() == 1, 20, "the district notified")
    recorder.wait_for(lambda: len(recorder.payloads(f"clinic/{SITE}/events")) == 1, timeout=10, what="urgent event")
    assert time.monotonic() - began < 20
    event = json.loads(recorder.payloads(f"clinic/{SITE}/events")[0])
    assert event["k"] == "simr_suspect" and event["d"]["maladie"] == "rougeole"
    # Only the urgent kinds left: the second opinion waits for its window, on the box and at the district.
    avis = OutboxItem.get(OutboxItem.kind == "district.avis")
    assert avis.state == ItemState.PENDING and avis.attempts == 0
    assert not Received.select().where(Received.kind == "avis").exists()
    assert AvisRequest.select().count() == 1
    _wait(lambda: UploadWindowLog.select().count() == 1, 10, "the urgent send recorded")
    sent = UploadWindowLog.get()
    assert sent.only_urgent and sent.outcome == "done" and "envoi urgent immédiat" in sent.detail
    assert sent.bytes_sent > 0
    assert not running_agent.modem.link_up()  # the short connection is closed again
    assert running_agent.state.last_window_at() < sent.started_at.replace(tzinfo=dt.UTC)  # no window counted
    time.sleep(3)  # later checks find nothing more to send: one notification, one connection
    assert _alerts() == 1 and UploadWindowLog.select().count() == 1 and running_agent.modem.connects == 1


def test_modem_unplugged_the_case_leaves_when_it_is_plugged_in(running_agent, recorder):  # noqa: F811
    running_agent.modem.unplug()
    _suspected_measles()
    time.sleep(4)  # four urgent checks: no modem, nothing sent, no connection tried
    assert _alerts() == 0 and running_agent.modem.connects == 0
    assert OutboxItem.get(OutboxItem.kind == "district.simr_alert").state == ItemState.PENDING
    running_agent.modem.plug()  # urgent_retry_s is an hour: only the stick coming back sends it
    _wait(lambda: _alerts() == 1, 20, "the district notified after the stick came back")
    recorder.wait_for(lambda: len(recorder.payloads(f"clinic/{SITE}/events")) == 1, timeout=10, what="urgent event")
    assert running_agent.modem.connects == 1


def test_no_coverage_waits_for_the_retry_not_every_check(running_agent):
    running_agent.modem.coverage = False
    _suspected_measles()
    _wait(lambda: UploadWindowLog.select().count() == 1, 20, "the failed connection recorded")
    assert UploadWindowLog.get().outcome == "failed"
    time.sleep(3)  # urgent_retry_s = 1 h: no second attempt at every check
    assert UploadWindowLog.select().count() == 1 and _alerts() == 0
    running_agent.modem.coverage = True
    running_agent.windows.modem_plugged()  # the stick re-plugged (or the hour passed): it goes
    _wait(lambda: _alerts() == 1, 20, "the district notified once coverage is back")
