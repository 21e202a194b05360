"""The link to the district: ``avis_bytes_per_case`` is what one second-opinion request with one
phone photo (shrunk on the box) costs on the wire, request and reply at HTTP level, delivered by
the real outbox to the real district service on loopback. Budget: ≤ 250 KB (3G airtime)."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path


def run() -> dict:
    from appliance import config as config_module
    from appliance.district.store import Clinic, open_district, token_digest
    from appliance.link.service import AskedBy, ask
    from appliance.outbox.models import OutboxAttempt
    from appliance.patients.models import Consultation
    from appliance.patients.registry import Identity, register_patient
    from appliance.store import open_and_migrate
    from appliance.store.audit import system_actor
    from appliance.wiring import compose_outbox
    from tests.conftest import free_port
    from tests.link.conftest import phone_photo, start_district

    today = dt.date.today()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        open_district(root / "district.db")
        Clinic.create(site_id="bench-a", name="CSCom bench", token_sha256=token_digest("bench-token-0123456789"))
        district = start_district(root / "district.db", free_port())
        path = root / "appliance.toml"
        path.write_text(config_module.dev_config_text(root).replace('id = "demo-cscom"', 'id = "bench-a"')
                        + f'\n[district]\nurl = "{district.url}"\n', encoding="utf-8")
        cfg = config_module.load(path)
        config_module.write_secret(cfg.paths.secrets_dir / "district_token", "bench-token-0123456789")
        db = open_and_migrate(cfg.paths.database)
        actor = system_actor("bench")
        patient = register_patient(actor, Identity("Coulibaly", "Awa", "F", today - dt.timedelta(days=9000), "Ségou"),
                                   site_id="BENCH")
        for days in (3, 40, 200):
            Consultation.create(patient=patient.id, visit_date=today - dt.timedelta(days=days), diagnosis_code="B54",
                                reason="Fièvre", temperature_c=38.5, treatment="ACT 3 jours")
        asked = ask(AskedBy(actor, "Awa Traoré"), patient, "Plaie du pied qui ne guérit pas depuis 3 semaines : "
                    "diabète ? Conduite à tenir ?", [phone_photo()], site_id="bench-a", age="24 ans", today=today)
        report = compose_outbox(cfg).flush()
        attempt = OutboxAttempt.get()
        district.stop()
        db.close()
    # The weekly SIMR payload for DHIS2, every cell non-zero (the worst case): ≤ a few KB.
    from appliance.dhis2.mapping import SIMR_MAPPING, load_mapping
    from appliance.dhis2.payload import payload_for
    from appliance.reports.figures import ReportFigures

    simr = load_mapping(SIMR_MAPPING)
    week = ReportFigures("2026W49", {cell.key: 1 + n % 37 for n, cell in enumerate(simr.cells())})
    simr_gzip = len(payload_for(week, simr).gzipped())
    if report.delivered != 1:
        raise RuntimeError(f"bench_district: {report.summary_fr()}")
    return {"avis_bytes_per_case": attempt.bytes_sent + attempt.bytes_received,
            "avis_photo_bytes": asked.photo_bytes, "simr_week_payload_bytes_gzip": simr_gzip}
