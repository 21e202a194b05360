"""The booted card reports out, through QEMU's network to servers on the host (10.0.2.2 from the guest):
the agent's status to the fleet's Mosquitto (TLS, the clinic's password, the fleet's ACL) and a sealed
monthly report to the national DHIS2 (the fake that follows its contract), both in one upload window the
agent opens on its own schedule, over its (simulated) modem.

Same card as the first-boot tests: the technician only tells it the fleet broker's port and CA, as for
any broker with its own certificate authority, and moves the upload window to the next minutes.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from tests.boot import bill
from tests.boot.conftest import BootedCard
from tests.boot.machine import SITE, Machine
from tests.boot.staff import Staff
from tests.image.building import ON_THE_CARD
from tests.telemetry.mosquitto import OPS_PASSWORD, OPS_USER, Recorder

pytestmark = [ON_THE_CARD, pytest.mark.slow, pytest.mark.timeout(3600)]  # the first test builds and boots the image

FLEET_CA = "/etc/appliance/fleet-ca.crt"
# Run as root on the card: the broker's port and CA, and the next upload window two minutes from now
# (in the card's own time zone), written into its configuration with the venv's TOML libraries.
CONFIGURE = """
import datetime, pathlib, sys, tomllib, tomli_w
path = pathlib.Path("/etc/appliance/appliance.toml")
document = tomllib.loads(path.read_text())
document["telemetry"].update(broker_port=int(sys.argv[1]), ca_file=sys.argv[2])
window = (datetime.datetime.now().astimezone() + datetime.timedelta(minutes=2)).strftime("%H:%M")
document.setdefault("uploads", {})["windows"] = [window]
path.write_text(tomli_w.dumps(document))
print(window)
"""


AGENT_LOG = "sudo journalctl -b -u appliance-agent -o cat --no-pager"


def window_logged(machine: Machine, window: str, timeout: float = 180) -> bool:
    """The agent logs a window once its link is down again (so every byte of it has been counted)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = machine.ssh(AGENT_LOG, check=False).stdout.splitlines()
        if any("Fenêtre d'envoi" in line and f"T{window}" in line
               for line in lines):
            return True
        time.sleep(5)
    return False


def previous_month(today: dt.date) -> str:
    return (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")


def seal_last_month(machine: Machine, admin: Staff) -> tuple[str, Staff]:
    """The médecin chef signs last month's report off (only his role seals); it queues for DHIS2."""
    provisional = admin.create_user("medecin1", "medecin")
    doctor = Staff(machine.http_port)
    doctor.first_login("medecin1", provisional)
    today = dt.date.fromisoformat(machine.ssh("date +%F").stdout.strip())
    period = previous_month(today)
    # The seal button is a form on the month's page, posted to its own address.
    token = doctor.token(f"/rapports/{period}")
    status, location, _ = doctor.request("POST", f"/rapports/{period}/sceller", {"csrf_token": token, "motif": ""})
    assert status == 302 and location.endswith(f"/rapports/{period}/envois"), (status, location)
    return period, doctor


def test_status_and_a_sealed_report_leave_through_an_upload_window(booted: BootedCard) -> None:
    machine, services = booted.machine, booted.services
    recorder = Recorder(services.broker.port, username=OPS_USER, password=OPS_PASSWORD,
                        ca_cert=services.pki.ca_cert, client_id="fleet-ops-test")
    try:
        period, doctor = seal_last_month(machine, booted.admin_session())
        machine.ssh(f"sudo tee {FLEET_CA} >/dev/null && sudo chmod 0644 {FLEET_CA}",
                    stdin=services.pki.ca_cert.read_text())
        window = machine.ssh(f"sudo /opt/appliance/venv/bin/python - {services.broker.port} {FLEET_CA}",
                             stdin=CONFIGURE).stdout.strip()
        bill.start_counting(machine, {"telemetry": services.broker.port, "dhis2": services.dhis2_port})
        machine.ssh("sudo systemctl restart appliance-agent")
        status_topic = f"clinic/{SITE['--site-id']}/status"
        # The window opens at the minute written above; the agent restarts well before it under emulation.
        recorder.wait_for(lambda: bool(recorder.payloads(status_topic)), timeout=420,
                          what=f"the card's status on {status_topic} (window {window})")
        status = json.loads(recorder.payloads(status_topic)[-1])
        assert status["t"] > 0

        # The same window may also carry last week's SIMR report (period 2026Wnn): wait for the month's.
        def month_posts() -> list[dict]:
            return [post for post in services.dhis2.posts if post["orgUnit"] == SITE["--dhis2-org-unit"]
                    and post["period"] == period.replace("-", "")]

        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not month_posts():
            time.sleep(2)
        posts = month_posts()
        assert posts, services.dhis2.posts
        assert posts[-1]["summary"]["status"] in ("SUCCESS", "OK", "WARNING"), posts[-1]
        _, _, journey = doctor.request("GET", f"/rapports/{period}/envois")
        assert "Reçu par DHIS2" in journey or "Reçu, avec des valeurs refusées" in journey
        assert window_logged(machine, window), machine.ssh(AGENT_LOG, check=False).stdout[-3000:]
        measured = bill.counted(machine)
        assert measured["telemetry"] > 1000 and measured["dhis2"] > 500, measured  # TLS, HTTP: never tiny
        bill.record(window_telemetry_bytes=measured["telemetry"], report_bytes=measured["dhis2"])
    finally:
        recorder.close()
