"""A simulated fleet: N clinics, each with its own credentials, living one day of two upload windows.

Every clinic runs the real TelemetryPublisher (one MQTT connection per window, its own user name
and password, its own last will), as the Pi would. A handful of worker processes each take a
slice of the fleet and run a few clinics at a time in threads: bounded in processes, threads
and connections, yet every clinic's traffic is real MQTT through the broker under test.

Profiles (by index, so a test knows what each clinic must look like in the fleet view):
normal, low battery, critical battery, dead letters in the outbox, lost (power cut during the
second window: TCP closed without DISCONNECT) and silent (its last windows were two days ago).
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

from appliance.settings.telemetry import TelemetrySettings
from appliance.telemetry.counters import MemoryCounters
from appliance.telemetry.events import event_payload
from appliance.telemetry.publisher import Delivery, TelemetryPublisher
from appliance.telemetry.status import build_status

HOUR = 3600
PROFILES = ("normal", "low", "critical", "dead_letters", "lost", "silent")


@dataclass(frozen=True)
class SimClinic:
    index: int

    @property
    def site_id(self) -> str:
        return f"ml-sim-{self.index:04d}"

    @property
    def password(self) -> str:
        return f"pw-{self.index * 7919 % 100003:05d}-{self.index}"

    @property
    def profile(self) -> str:
        special = {0: "critical", 1: "lost", 2: "silent", 3: "dead_letters", 4: "low", 5: "low"}
        return special.get(self.index % 50, "normal")

    @property
    def battery_v(self) -> float:
        return {"low": 11.9, "critical": 11.3}.get(self.profile, round(12.4 + (self.index % 7) * 0.05, 2))

    @property
    def battery_state(self) -> str:
        return {"low": "low", "critical": "critical"}.get(self.profile, "ok")

    @property
    def modem_bytes_month(self) -> int:
        return 200_000 + self.index * 1_000

    @property
    def outbox_depth(self) -> int:
        return self.index % 4


def fleet(size: int) -> list[SimClinic]:
    return [SimClinic(index) for index in range(size)]


def credentials(size: int) -> dict[str, str]:
    return {clinic.site_id: clinic.password for clinic in fleet(size)}


def _settings(port: int) -> TelemetrySettings:
    return TelemetrySettings(enabled=True, broker_host="127.0.0.1", broker_port=port, tls=False, keepalive_s=30,
                             connect_timeout_s=20, publish_timeout_s=20, reconnect_min_s=1, reconnect_max_s=2)


def live_one_day(clinic: SimClinic, port: int, now: float) -> str:
    """Both windows of the clinic's day; returns "" or what went wrong."""
    window_times = (now - 7 * HOUR, now - 60)
    if clinic.profile == "silent":
        window_times = (now - 50 * HOUR, now - 43 * HOUR)
    clock = [window_times[0]]
    publisher = TelemetryPublisher(_settings(port), clinic.site_id, password=clinic.password, version="0.1.0",
                                   counters=MemoryCounters(), clock=lambda: clock[0])
    for number, moment in enumerate(window_times, start=1):
        clock[0] = moment
        if not publisher.open_window():
            return f"{clinic.site_id}: window {number} did not connect ({publisher.last_error})"
        status = build_status(
            version="0.1.0", now=moment, uptime_s=moment - window_times[0] + HOUR, battery_v=clinic.battery_v,
            battery_soc_pct=90 if clinic.battery_state == "ok" else 20, battery_state=clinic.battery_state,
            charging=number == 2, modem_signal_pct=40 + clinic.index % 50, modem_registration="home",
            modem_bytes_month=clinic.modem_bytes_month, outbox_depth=clinic.outbox_depth,
            outbox_oldest_age_s=clinic.outbox_depth * 600,
            outbox_dead_letters=1 if clinic.profile == "dead_letters" else 0, disk_free_mb=4000,
            clock_synced=True, telemetry_bytes_today=publisher.meter.today(),
        )
        if not publisher.publish_status(status):
            return f"{clinic.site_id}: status of window {number} not acknowledged"
        if clinic.profile == "critical" and number == 2:
            event = event_payload("battery_critical", {"bv": clinic.battery_v}, now=moment)
            if publisher.send_event(event) is not Delivery.DELIVERED:
                return f"{clinic.site_id}: event not acknowledged"
        if clinic.profile == "lost" and number == 2:
            _power_cut(publisher)
        else:
            publisher.close_window()
    return ""


def _power_cut(publisher: TelemetryPublisher) -> None:
    """The modem loses power mid-window: the TCP connection ends without an MQTT DISCONNECT."""
    client = publisher._client  # the simulator reaches in: a power cut is not a publisher feature
    sock = client.socket()
    client.loop_stop()
    if isinstance(sock, socket.socket):
        sock.close()


def _run_slice(indices: list[int], port: int, now: float, threads: int) -> list[str]:
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return [problem for problem in pool.map(lambda i: live_one_day(SimClinic(i), port, now), indices) if problem]


def simulate_day(size: int, port: int, *, now: float | None = None, processes: int = 4, threads: int = 8) -> float:
    """Run the fleet's day against the broker on ``port``; return the wall time in seconds."""
    now = time.time() if now is None else now
    slices = [list(range(start, size, processes)) for start in range(processes)]
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=processes, mp_context=get_context("spawn")) as pool:
        problems = [problem for result in pool.map(_run_slice, slices, [port] * processes, [now] * processes,
                                                   [threads] * processes) for problem in result]
    if problems:
        raise AssertionError(f"{len(problems)} clinics failed their day, e.g. {problems[:3]}")
    return time.monotonic() - started
