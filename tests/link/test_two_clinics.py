"""Two clinics and one district service, end to end over a real Mosquitto and HTTP: each box
notifies its suspected case at once (urgent outbox item to the district, urgent MQTT event on its
own topic through the broker's ACL), asks a second opinion, and gets back only its own answers;
each district clinician sees only his clinic."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from appliance import config as config_module
from appliance.district.store import Clinic, Clinician, Coverage, Received, token_digest
from appliance.link import inbox
from appliance.link.models import AvisRequest
from appliance.link.service import AskedBy, ask
from appliance.patients.models import Consultation
from appliance.patients.registry import Identity, register_patient
from appliance.patients.visits import record_visit
from appliance.store import open_and_migrate
from appliance.store.audit import system_actor
from appliance.wiring import compose_outbox
from tests.link.test_avis import _district_client
from tests.telemetry.conftest import CLINICS, broker, recorder  # noqa: F401 (fixtures)

TODAY = dt.date.today()
ACTOR = system_actor("tests")
DIAGNOSES = {"ml-kati": ("B05.9", "Rougeole"), "ml-sikasso": ("A00.9", "Choléra")}


def _box(root: Path, site: str, district_url: str, broker_port: int) -> config_module.Config:
    folder = root / site
    text = config_module.dev_config_text(folder).replace('id = "demo-cscom"', f'id = "{site}"') + f"""
[telemetry]
enabled = true
broker_host = "127.0.0.1"
broker_port = {broker_port}
tls = false
connect_timeout_s = 5
publish_timeout_s = 5

[district]
url = "{district_url}"
connect_timeout_s = 2
read_timeout_s = 5
"""
    cfg = config_module.loads(text)
    config_module.write_secret(cfg.paths.secrets_dir / "mqtt_password", CLINICS[site])
    config_module.write_secret(cfg.paths.secrets_dir / "district_token", f"token-{site}-0123456789")
    return cfg


def test_two_clinics_and_the_district(tmp_path, district, broker, recorder, record_hooks):  # noqa: F811
    for site, clinician in (("ml-kati", "dr_kone"), ("ml-sikasso", "dr_sidibe")):
        Clinic.create(site_id=site, name=f"CSCom {site}", token_sha256=token_digest(f"token-{site}-0123456789"))
        Coverage.create(clinician=Clinician.get(Clinician.username == clinician), site_id=site)
    boxes = {site: _box(tmp_path, site, district.url, broker.port) for site in CLINICS}
    asked_ids = {}
    for site, cfg in boxes.items():
        db = open_and_migrate(cfg.paths.database)
        child = register_patient(ACTOR, Identity("Keita", "Adama", "M", TODAY - dt.timedelta(days=900), "Kati"),
                                 site_id="T")
        code, _label = DIAGNOSES[site]
        record_visit(ACTOR, child, Consultation(patient=child.id, visit_date=TODAY, diagnosis_code=code,
                                                reason="Fièvre"), today=TODAY)
        asked_ids[site] = ask(AskedBy(ACTOR, f"Infirmier {site}"), child, f"Conduite à tenir à {site} ?", [],
                              site_id=site, age="2 ans", today=TODAY).message_id
        report = compose_outbox(cfg).flush()
        assert report.delivered == 3 and report.remaining == 0, report.summary_fr()  # alert, event, avis
        db.close()

    for site, (code, _label) in DIAGNOSES.items():
        topic = f"clinic/{site}/events"
        recorder.wait_for(lambda t=topic: len(recorder.payloads(t)) == 1, timeout=10, what=f"{site} event")
        event = json.loads(recorder.payloads(topic)[0])
        assert event["k"] == "simr_suspect" and event["d"]["maladie"] == {"B05.9": "rougeole",
                                                                           "A00.9": "cholera"}[code]
    alerts = {row.site_id: json.loads(row.body)["label"]
              for row in Received.select().where(Received.kind == "simr_alert")}
    assert alerts == {"ml-kati": "Rougeole", "ml-sikasso": "Choléra"}

    kone, token = _district_client(district, "dr_kone")
    notes = kone.get("/notifications").get_data(as_text=True)
    assert "Rougeole" in notes and "Choléra" not in notes
    kati_case = Received.get((Received.kind == "avis") & (Received.site_id == "ml-kati"))
    sikasso_case = Received.get((Received.kind == "avis") & (Received.site_id == "ml-sikasso"))
    assert kone.get(f"/cas/{sikasso_case.id}").status_code == 404
    assert kone.post(f"/cas/{kati_case.id}", data={"answer": "Vitamine A, isolement.", "csrf_token": token}
                     ).status_code == 302

    for site, cfg in boxes.items():
        db = open_and_migrate(cfg.paths.database)
        pulled = inbox.pull(cfg)
        answered = AvisRequest.get(AvisRequest.message_id == asked_ids[site])
        if site == "ml-kati":
            assert pulled.applied == 1 and answered.answer == "Vitamine A, isolement."
        else:  # the other clinic's inbox holds nothing of ml-kati's
            assert pulled.applied == 0 and answered.answered_at is None
        db.close()
