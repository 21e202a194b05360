"""How much disk a year of fleet history takes in Prometheus: measured on Prometheus's own TSDB format.

A day of a sample of clinics is simulated minute by minute through the real exporter code
(FleetMetrics: two upload windows a clinic, init → ready → sleeping, a status each time with values that
move as they do on a box), every minute's /metrics is kept as one scrape (60 s, timestamps on the
minute as Prometheus aligns them), and ``promtool tsdb create-blocks-from openmetrics`` writes the
blocks Prometheus would. Their chunk files give bytes per sample; their index, bytes per series.

``history_series_per_clinic``       series one clinic keeps alive (state changes make a few short ones)
``history_bytes_per_sample``        chunk bytes / samples, as Prometheus compresses these series
``history_index_bytes_per_series``  index bytes per series in a 2 h block
``history_2000_clinics_year_gb``    2,000 clinics, a sample a minute, 365 days: chunks + index
                                    (blocks compacted to 31 days: 12 index copies of each series and one
                                    chunk reference per 120 samples, 8 bytes each)
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from appliance.fleet.exporter import FleetMetrics
from appliance.fleet.inventory import Site
from tests.telemetry.test_publisher import snapshot

SAMPLE_CLINICS = 40
MINUTES = 24 * 60
SCRAPE_S = 60
FLEET = 2000
YEAR_S = 365 * 86400
CHUNK_SAMPLES = 120
CHUNK_REF_BYTES = 8
BLOCKS_A_YEAR = 12  # Prometheus compacts up to 31-day blocks (10 % of a 400-day retention caps it higher)


def _day_of_scrapes(start: int) -> dict[str, list[str]]:
    inventory = {f"cscom-sim-{index:03d}": Site(f"cscom-sim-{index:03d}", f"District {index % 8}",
                                                f"Région {index % 3}", f"CSCom {index}", 12.5, -8.0)
                 for index in range(SAMPLE_CLINICS)}
    metrics = FleetMetrics(inventory)
    series: dict[str, list[str]] = defaultdict(list)
    sites = list(inventory)
    for minute in range(MINUTES):
        now = start + minute * SCRAPE_S
        for index, site in enumerate(sites):
            for window, at in enumerate((6 * 60 + index % 30, 13 * 60 + index % 30)):  # 06:xx and 13:xx
                if minute == at:
                    metrics.ingest(f"clinic/{site}/$state", b"init", retained=False, received_at=now)
                    status = snapshot(now=now, uptime_s=3600 + minute * 60, battery_v=12.2 + window * 0.6
                                      + index % 5 / 100, battery_soc_pct=55 + window * 30, charging=bool(window),
                                      modem_signal_pct=40 + (minute + index) % 30,
                                      modem_bytes_month=2_000_000 + minute * 700 + index,
                                      telemetry_bytes_today=5000 * (window + 1), outbox_depth=window,
                                      outbox_oldest_age_s=600 * window, disk_free_mb=4000 - window,
                                      sd_written_today_kb=9000 * (window + 1), last_backup=now - 3600 * (6 + window),
                                      backup_failed=False)
                    metrics.ingest(f"clinic/{site}/status", status.to_payload(), retained=False, received_at=now)
                    metrics.ingest(f"clinic/{site}/$state", b"ready", retained=False, received_at=now)
                elif minute == at + 10:
                    metrics.ingest(f"clinic/{site}/$state", b"sleeping", retained=False, received_at=now)
        for line in metrics.render().decode().splitlines():
            if line.startswith("clinic_"):
                key, value = line.rsplit(" ", 1)
                series[key].append(f"{key} {value} {now}")
    return series


def run() -> dict:
    start = (int(time.time()) // 86400 - 3) * 86400  # midnight three days ago: promtool wants the past
    series = _day_of_scrapes(start)
    samples = sum(len(points) for points in series.values())
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "day.om"
        with source.open("w", encoding="utf-8") as stream:
            for name in sorted({key.split("{", 1)[0] for key in series}):
                for key in sorted(key for key in series if key.split("{", 1)[0] == name):
                    stream.write("\n".join(series[key]) + "\n")
            stream.write("# EOF\n")
        blocks = Path(tmp) / "blocks"
        result = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(source),
                                 str(blocks)], capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(result.stdout + result.stderr)
        chunk_bytes = sum(path.stat().st_size for path in blocks.glob("*/chunks/*"))
        index_bytes = sum(path.stat().st_size for path in blocks.glob("*/index"))
        block_series = sum(json.loads(path.read_text())["stats"]["numSeries"] for path in blocks.glob("*/meta.json"))
        stored = sum(json.loads(path.read_text())["stats"]["numSamples"] for path in blocks.glob("*/meta.json"))
    if stored != samples:
        raise RuntimeError(f"promtool stored {stored} samples of {samples}")
    per_sample = chunk_bytes / samples
    per_series_index = index_bytes / block_series
    # Series alive at any minute (state series come and go): the samples of a scrape.
    live_per_clinic = samples / MINUTES / SAMPLE_CLINICS
    year_samples = FLEET * live_per_clinic * YEAR_S / SCRAPE_S
    year_index = FLEET * live_per_clinic * (BLOCKS_A_YEAR * per_series_index
                                           + YEAR_S / SCRAPE_S / CHUNK_SAMPLES * CHUNK_REF_BYTES)
    return {
        "history_series_per_clinic": round(live_per_clinic, 1),
        "history_bytes_per_sample": round(per_sample, 3),
        "history_index_bytes_per_series": round(per_series_index),
        "history_2000_clinics_year_gb": round((year_samples * per_sample + year_index) / 1e9, 2),
    }
