"""The fleet exporter at national scale: 10,000 simulated clinics through a real Mosquitto, scraped by a real
Prometheus next to a static file of the same size (what Prometheus itself costs for that many samples).

The clinics' messages are the real ones (retained ``$state`` and ``status`` with backup keys, events), sent
by a few publisher connections on an anonymous loopback broker: the exporter's load is the message flow,
not how many TCP connections carried it (the 1,000-clinic bench in bench_telemetry.py has one connection
per clinic, with credentials and ACL).

``exporter_10k_ingest_s``   every clinic's state and status published → all of them in the exporter's /metrics
``exporter_10k_scrape_ms``  Prometheus's scrape_duration_seconds for the exporter, mean over 30 s (after
                            two warm-up scrapes) while every clinic publishes a new status (budget ≤ 1,000 ms)
``exporter_10k_scrape_max_ms`` the slowest of those scrapes
``static_10k_scrape_ms``    the same for a static copy of one /metrics answer (same size, same samples)
``exporter_10k_rss_mb``     the exporter process's resident memory at the end
``exporter_10k_samples``, ``exporter_10k_body_mb`` what one scrape carries
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.bench.support import free_port, rss_mb
from tests.ops.exposition import parse_exposition
from tests.ops.stack import Service, query, start_exporter, start_prometheus, wait_for_port
from tests.telemetry.mosquitto import Mosquitto
from tests.telemetry.test_publisher import snapshot

CLINICS = 10_000
PUBLISHERS = 4
SCRAPE_S = 5
MEASURE_S = 30


def site_id(index: int) -> str:
    return f"ml-sim-{index:05d}"


def write_inventory(path: Path) -> Path:
    lines = ["site_id,district,region,name,latitude,longitude"]
    for index in range(CLINICS):
        region = index % 10
        lines.append(f"{site_id(index)},District {region}-{index % 60},Région {region},CSCom {index},"
                     f"{11 + (index % 700) / 100:.2f},{-11 + (index % 800) / 100:.2f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def publish_fleet(port: int, indices: range, now: float, *, with_state: bool) -> None:
    """One publisher connection sends many clinics' messages (QoS 1, waiting for every PUBACK)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{secrets.token_hex(3)}")
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", port, keepalive=60)
    client.loop_start()
    pending = []
    for index in indices:
        site = site_id(index)
        if with_state:
            pending.append(client.publish(f"clinic/{site}/$state", b"sleeping", qos=1, retain=True))
        status = snapshot(now=now, battery_v=11.8 + (index % 13) / 10, last_backup=now - 3600 * (index % 70),
                          backup_failed=index % 97 == 0, last_stick_backup=0)
        pending.append(client.publish(f"clinic/{site}/status", status.to_payload(), qos=1, retain=True))
        if index % 10 == 0:
            event = {"id": secrets.token_hex(4), "t": int(now), "k": "upload_failed", "d": {"err": "E7610"}}
            pending.append(client.publish(f"clinic/{site}/events", json.dumps(event).encode(), qos=1))
    for info in pending:
        info.wait_for_publish(timeout=120)
    client.disconnect()
    client.loop_stop()


def publish_all(port: int, *, with_state: bool) -> None:
    now = time.time()
    threads = [threading.Thread(target=publish_fleet, args=(port, range(part, CLINICS, PUBLISHERS), now),
                                kwargs={"with_state": with_state}) for part in range(PUBLISHERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def exported_statuses(exporter: Service) -> int:
    samples = parse_exposition(exporter.get("/metrics").decode())
    return sum(1 for name, _ in samples if name == "clinic_status_timestamp_seconds")


def run() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with Mosquitto(workdir / "broker") as broker:
            exporter = start_exporter(workdir / "exporter", broker.port, write_inventory(workdir / "flotte.csv"))
            static_server = None
            prometheus = None
            try:
                started = time.monotonic()
                publish_all(broker.port, with_state=True)
                deadline = time.monotonic() + 300
                while exported_statuses(exporter) < CLINICS:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the exporter did not get every clinic within 5 minutes")
                    time.sleep(0.5)
                ingest_s = time.monotonic() - started

                body = exporter.get("/metrics")
                static_dir = workdir / "static"
                static_dir.mkdir()
                (static_dir / "metrics").write_bytes(body)
                static_port = free_port()
                static_log = workdir / "static.log"
                with static_log.open("wb") as log:
                    static_server = subprocess.Popen(
                        [sys.executable, "-m", "http.server", str(static_port), "--bind", "127.0.0.1",
                         "--directory", str(static_dir)], stdout=log, stderr=subprocess.STDOUT)
                wait_for_port(static_port, static_server, static_log)

                prometheus = start_prometheus(
                    workdir / "prometheus", interval=f"{SCRAPE_S}s",
                    targets={"fleet-exporter": f"127.0.0.1:{exporter.port}", "static": f"127.0.0.1:{static_port}"})
                # Two scrapes first: the first one creates 260,000 series in Prometheus's head, for both jobs.
                time.sleep(2 * SCRAPE_S + 1)
                # Then every clinic reports again while Prometheus scrapes: the exporter ingests and serves.
                updates = threading.Thread(target=publish_all, args=(broker.port,), kwargs={"with_state": False})
                updates.start()
                time.sleep(MEASURE_S)
                updates.join()

                def figure(expression: str) -> float:
                    (sample,) = query(prometheus, expression)
                    return float(sample["value"][1])

                window = f"[{MEASURE_S}s]"
                figures = {
                    "exporter_10k_ingest_s": round(ingest_s, 2),
                    "exporter_10k_scrape_ms": round(1000 * figure(
                        f'avg_over_time(scrape_duration_seconds{{job="fleet-exporter"}}{window})')),
                    "exporter_10k_scrape_max_ms": round(1000 * figure(
                        f'max_over_time(scrape_duration_seconds{{job="fleet-exporter"}}{window})')),
                    "static_10k_scrape_ms": round(1000 * figure(
                        f'avg_over_time(scrape_duration_seconds{{job="static"}}{window})')),
                    "exporter_10k_samples": int(figure('scrape_samples_scraped{job="fleet-exporter"}')),
                    "exporter_10k_body_mb": round(len(body) / 1e6, 1),
                    "exporter_10k_rss_mb": rss_mb(exporter.process.pid),
                }
                if figure('min_over_time(up{job="fleet-exporter"}' + window + ")") != 1:
                    raise RuntimeError("a scrape of the exporter failed during the run")
                return figures
            finally:
                if prometheus is not None:
                    prometheus.stop()
                if static_server is not None:
                    static_server.terminate()
                    static_server.wait(timeout=10)
                exporter.stop()
