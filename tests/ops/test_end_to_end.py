"""The ops chain end to end with real parts: clinics publish through a real Mosquitto, the exporter
(its own process) folds them, Debian's Prometheus scrapes it and evaluates the shipped rules, Debian's
Alertmanager (the role's configuration) sends e-mail and SMS-gateway mail to an SMTP server the test runs.

Only the rules' ``for:`` durations are shortened, in the same order as in production (a district gone
dark is known before any single clinic counts as lost), and the scrape/evaluation interval is 1 s.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from appliance.telemetry.counters import MemoryCounters
from appliance.telemetry.publisher import TelemetryPublisher
from tests.ops.stack import (
    ALERT_RULES,
    SmtpSink,
    ops_tools_available,
    query,
    start_alertmanager,
    start_exporter,
    start_prometheus,
    write_inventory,
)
from tests.telemetry.conftest import plain_settings
from tests.telemetry.fleet_sim import _power_cut
from tests.telemetry.mosquitto import CLINIC_ACL, OPS_PASSWORD, OPS_USER, Mosquitto
from tests.telemetry.test_publisher import snapshot

pytestmark = [pytest.mark.slow,  # about 40 s: real alerts need a few evaluation and group intervals
              pytest.mark.skipif(not ops_tools_available(), reason="prometheus/alertmanager/mosquitto missing")]

SITES = {"ml-k1": ("Kati", "Koulikoro"), "ml-k2": ("Kati", "Koulikoro"), "ml-k3": ("Kati", "Koulikoro"),
         "ml-k4": ("Kati", "Koulikoro"), "ml-s1": ("Sikasso", "Sikasso"), "ml-s2": ("Sikasso", "Sikasso")}
PASSWORDS = {site: f"{site}-password" for site in SITES}
# Production `for:` → test seconds, order kept: 5m, 10m < 1h < 6h < 1d < 3d.
SHORT_FOR = {"5m": "1s", "10m": "1s", "1h": "2s", "6h": "3s", "1d": "4s", "3d": "8s"}
OPS_MAIL = "astreinte@sante.example"
SMS_GATEWAY = "22376000000@sms.example"


def short_rules() -> str:
    document = yaml.safe_load(ALERT_RULES.read_text())
    for group in document["groups"]:
        group.pop("interval", None)
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = SHORT_FOR[rule["for"]]
    return yaml.safe_dump(document, allow_unicode=True)


def wait_until(what: str, predicate: Callable[[], object], timeout: float = 60) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Clinic:
    def __init__(self, site: str, port: int) -> None:
        self.publisher = TelemetryPublisher(plain_settings(port), site, password=PASSWORDS[site], version="0.1.0",
                                            counters=MemoryCounters())

    def window(self, **status) -> None:
        """A normal window: connect, status, clean goodbye (``sleeping``)."""
        assert self.publisher.open_window()
        assert self.publisher.publish_status(snapshot(now=time.time(), **status))
        self.publisher.close_window()

    def power_cut(self) -> None:
        """Connected, then the power goes: the broker publishes the last will, ``lost``."""
        assert self.publisher.open_window()
        assert self.publisher.publish_status(snapshot(now=time.time()))
        _power_cut(self.publisher)


def firing(prometheus, alertname: str) -> set[str]:
    return {sample["metric"].get("district", "") + "/" + sample["metric"].get("site", "")
            for sample in query(prometheus, f'ALERTS{{alertname="{alertname}",alertstate="firing"}}')}


def test_lost_district_and_sinking_battery_mail_once_per_district_then_resolve(tmp_path: Path):
    smtp = SmtpSink()
    services = []
    try:
        broker = Mosquitto(tmp_path / "broker", users={**PASSWORDS, OPS_USER: OPS_PASSWORD}, acl=CLINIC_ACL)
        broker.start()
        services.append(broker)
        clinics = {site: Clinic(site, broker.port) for site in SITES}
        for clinic in clinics.values():
            clinic.window()
        exporter = start_exporter(tmp_path / "exporter", broker.port, write_inventory(tmp_path / "flotte.csv", SITES))
        services.append(exporter)
        alertmanager = start_alertmanager(tmp_path / "alertmanager", smtp.port, email_to=[OPS_MAIL],
                                          sms_to=[SMS_GATEWAY], group_wait="2s", group_interval="3s")
        services.append(alertmanager)
        prometheus = start_prometheus(tmp_path / "prometheus", targets={"fleet-exporter": f"127.0.0.1:{exporter.port}"},
                                      rules=short_rules(), alertmanager_port=alertmanager.port)
        services.append(prometheus)
        wait_until("six clinics sleeping in Prometheus",
                   lambda: len(query(prometheus, 'clinic_state{state="sleeping"} == 1')) == 6)
        time.sleep(5)  # a calm fleet: nothing fires (the never-seen and clock rules had their chance)
        assert query(prometheus, 'ALERTS{alertstate="firing"}') == []

        # A storm over Kati: three of its four clinics drop mid-window. Sikasso's ml-s1 battery sinks.
        for site in ("ml-k1", "ml-k2", "ml-k3"):
            clinics[site].power_cut()
        clinics["ml-s1"].window(battery_state="critical", battery_v=11.2, battery_soc_pct=5)
        wait_until("DistrictManyLost and ClinicBatteryCritical firing",
                   lambda: firing(prometheus, "DistrictManyLost") == {"Kati/"}
                   and firing(prometheus, "ClinicBatteryCritical") == {"Sikasso/ml-s1"})
        wait_until("ClinicLost firing for the three clinics (inhibited in Alertmanager)",
                   lambda: firing(prometheus, "ClinicLost") == {"Kati/ml-k1", "Kati/ml-k2", "Kati/ml-k3"})
        wait_until("a mail and an SMS for each district", lambda: len(smtp.received()) >= 4)
        time.sleep(8)  # several group intervals: nothing more may come while nothing changes
        alerts = [mail for mail in smtp.received() if OPS_MAIL in mail.recipients]
        sms = [mail for mail in smtp.received() if SMS_GATEWAY in mail.recipients]
        kati = [mail for mail in alerts if "District Kati" in mail.subject]
        assert len(kati) == 1, [mail.subject for mail in alerts]
        assert kati[0].subject == "[ALERTE 1] District Kati (Koulikoro) — DistrictManyLost"
        assert "District Kati : 3 cliniques ou plus ont perdu la connexion" in kati[0].text
        assert "Que faire : Vérifier le réseau 3G" in kati[0].text and "EN: District Kati: 3 or more" in kati[0].text
        assert "ClinicLost" not in kati[0].text  # one message for the storm, not one per clinic
        sikasso = [mail for mail in alerts if "District Sikasso" in mail.subject]
        assert len(sikasso) == 1
        assert "ml-s1 (Sikasso) : batterie critique" in sikasso[0].text
        assert sorted(mail.subject for mail in sms) == ["District Kati (Koulikoro)", "District Sikasso (Sikasso)"]
        assert all(len(mail.text) <= 160 for mail in sms), [mail.text for mail in sms]

        # Recovery: the power is back in Kati, the sun recharges ml-s1.
        for site in ("ml-k1", "ml-k2", "ml-k3"):
            Clinic(site, broker.port).window()  # the box boots again: a new agent process
        clinics["ml-s1"].window()
        wait_until("every alert resolved in Prometheus", lambda: not query(prometheus, 'ALERTS{alertstate="firing"}'))
        wait_until("a resolved mail for each district",
                   lambda: len([mail for mail in smtp.received() if "[RÉSOLU]" in mail.subject]) >= 2)
        time.sleep(4)
        resolved = [mail for mail in smtp.received() if "[RÉSOLU]" in mail.subject]
        # Kati's resolved mail also lists the three ClinicLost, silenced while the district was dark.
        assert sorted(mail.subject for mail in resolved) == [
            "[RÉSOLU] District Kati (Koulikoro)", "[RÉSOLU] District Sikasso (Sikasso) — ClinicBatteryCritical"]
        kati_resolved = next(mail.text for mail in resolved if "Kati" in mail.subject)
        assert "DistrictManyLost" in kati_resolved and "ClinicLost ml-k1" in kati_resolved
        assert all(mail.recipients == [OPS_MAIL] for mail in resolved)  # SMS only for what fires
        sikasso_resolved = next(mail.text for mail in resolved if "Sikasso" in mail.subject)
        assert re.search(r"ClinicBatteryCritical ml-s1 : fin à / ended \d{4}-\d\d-\d\d", sikasso_resolved)
        assert len(smtp.received()) == 6  # 2 alert mails + 2 SMS + 2 resolved mails, nothing else
    finally:
        for service in reversed(services):
            service.stop()
        smtp.stop()
