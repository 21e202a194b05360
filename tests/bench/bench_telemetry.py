"""Telemetry figures: one clinic's bytes on the wire for a normal day, and a 1,000-clinic fleet's ingest.

``telemetry_bytes_per_day``: one clinic, two upload windows over TLS (EC P-256 CA made by openssl,
password auth, as provisioned), each window: connect, ``init``/``ready``, one status, keepalive
pings while the outbox flushes, ``sleeping``, clean disconnect; one event in the day. Counted by the
publisher's own kernel TCP counters (payload both ways + IP/TCP headers). The window is held for
PINGS_PER_WINDOW keepalive periods with a short keepalive so it runs in seconds: a ping costs the
same bytes whatever the interval, so this models a window of PINGS_PER_WINDOW minutes at the
default 60 s keepalive. Budget: ≤ 33 KB/day.

``fleet_1000_ingest_s``: a live ops collector is subscribed; 1,000 clinics (own credentials, own
connection per window) live their day; seconds until the collector holds every clinic's final
state (``sleeping`` or ``lost`` after the second window).
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from appliance.fleet.collector import BrokerAccess, FleetCollector
from appliance.fleet.view import Fleet
from appliance.settings.telemetry import TelemetrySettings
from appliance.telemetry import topics
from appliance.telemetry.counters import MemoryCounters
from appliance.telemetry.events import event_payload
from appliance.telemetry.publisher import TelemetryPublisher
from appliance.telemetry.status import build_status
from tests.telemetry import fleet_sim
from tests.telemetry.mosquitto import CLINIC_ACL, OPS_PASSWORD, OPS_USER, Mosquitto, make_pki

SITE = "ml-bench-cscom"
PASSWORD = "bench-clinic-password-0123456789"
PINGS_PER_WINDOW = 3
BENCH_KEEPALIVE_S = 2
FLEET_SIZE = 1000


def _clinic_day(settings: TelemetrySettings) -> tuple[int, int]:
    """Bytes on the wire for a day of two windows; also the status payload's size."""
    day_start = 1_780_000_000.0
    clock = [day_start]
    publisher = TelemetryPublisher(settings, SITE, password=PASSWORD, version="0.1.0", counters=MemoryCounters(),
                                   clock=lambda: clock[0])
    payload_size = 0
    for number, hour in enumerate((6, 13), start=1):
        clock[0] = day_start + hour * 3600
        with publisher.window() as connected:
            if not connected:
                raise RuntimeError(f"bench window {number} did not connect: {publisher.last_error}")
            if number == 1:
                publisher.send_event(event_payload("upload_failed", {"kind": "dhis2.report", "err": "E7610"},
                                                   now=clock[0]))
            time.sleep(PINGS_PER_WINDOW * BENCH_KEEPALIVE_S + 0.5)  # the outbox flush, meanwhile pings
            status = build_status(
                version="0.1.0", now=clock[0], uptime_s=hour * 3600, battery_v=12.71, battery_soc_pct=84,
                battery_state="ok", charging=True, modem_signal_pct=58, modem_registration="home",
                modem_bytes_month=3_456_789, outbox_depth=0, outbox_oldest_age_s=None, outbox_dead_letters=0,
                last_dhis2_success=clock[0] - 60, disk_free_mb=11_234, sd_written_today_kb=18_432,
                clock_synced=True, telemetry_bytes_today=publisher.meter.today(),
                last_backup=clock[0] - 3 * 3600, backup_failed=False, last_stick_backup=clock[0] - 3 * 3600,
                last_offsite_backup=clock[0] - 2 * 3600,
            )
            payload_size = len(status.to_payload())
            if not publisher.publish_status(status):
                raise RuntimeError("bench status not acknowledged")
    return publisher.meter.today(), payload_size


class _FinalStates(Fleet):
    """Counts each clinic's end-of-window states, to know when the whole day has arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.window_ends: dict[str, int] = {}

    def ingest(self, name: str, payload: bytes, *, retained: bool, received_at: float) -> None:
        super().ingest(name, payload, retained=retained, received_at=received_at)
        parsed = topics.parse(self.prefix, name)
        if parsed and parsed[1] == topics.STATE and payload in (b"sleeping", b"lost"):
            self.window_ends[parsed[0]] = self.window_ends.get(parsed[0], 0) + 1

    def complete(self) -> int:
        return sum(1 for count in self.window_ends.values() if count >= 2)


def run() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        pki = make_pki(workdir / "pki")
        base = TelemetrySettings(enabled=True, broker_host="127.0.0.1", tls=False, keepalive_s=BENCH_KEEPALIVE_S,
                                 connect_timeout_s=20, publish_timeout_s=20)
        with (Mosquitto(workdir / "tls", users={SITE: PASSWORD}, pki=pki) as tls_broker,
              Mosquitto(workdir / "plain", users={SITE: PASSWORD}) as plain_broker,
              ThreadPoolExecutor(max_workers=2) as pool):  # both days at once: the windows mostly wait
            tls_run = pool.submit(_clinic_day, replace(base, broker_port=tls_broker.port, tls=True,
                                                       ca_file=pki.ca_cert))
            plain_run = pool.submit(_clinic_day, replace(base, broker_port=plain_broker.port))
            (tls_day, status_size), (plain_day, _) = tls_run.result(), plain_run.result()

        users = {**fleet_sim.credentials(FLEET_SIZE), OPS_USER: OPS_PASSWORD}
        with Mosquitto(workdir / "fleet", users=users, acl=CLINIC_ACL) as broker:
            fleet = _FinalStates()
            access = BrokerAccess("127.0.0.1", broker.port, tls=False, username=OPS_USER, password=OPS_PASSWORD)
            with FleetCollector(access, fleet):
                started = time.monotonic()
                fleet_sim.simulate_day(FLEET_SIZE, broker.port)
                deadline = time.monotonic() + 120
                while fleet.complete() < FLEET_SIZE and time.monotonic() < deadline:
                    time.sleep(0.01)
                ingest_s = time.monotonic() - started
                complete = fleet.complete()
            if complete < FLEET_SIZE:
                raise RuntimeError(f"only {complete} of {FLEET_SIZE} clinics arrived")
            report_started = time.monotonic()
            with FleetCollector(access) as fresh:
                fresh.settle(quiet_s=0.5, timeout_s=120)
                seen = len(fresh.rows(now=time.time(), silent_after_s=86400))
            report_s = time.monotonic() - report_started - 0.5
            if seen != FLEET_SIZE:
                raise RuntimeError(f"a fresh report saw {seen} of {FLEET_SIZE} clinics")
    return {
        "telemetry_bytes_per_day": tls_day,
        "telemetry_bytes_per_day_plain": plain_day,
        "telemetry_status_payload_bytes": status_size,
        "fleet_1000_ingest_s": round(ingest_s, 2),
        "fleet_1000_report_s": round(report_s, 2),
    }
