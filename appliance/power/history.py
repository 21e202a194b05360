"""The battery's history: one row per interval (10 min by default) for the 7-day chart.

Samples are taken every minute but written only once per interval, as mean/min/max, to keep
SD card writes low (144 small transactions a day). The table and its readers live in the store
(``appliance.store.device``), where the web's Battery page reads them. Rows older than the retention are pruned:
they are sensor readings, not clinical records.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from appliance.power.filter import Verdict
from appliance.power.monitor import BatterySnapshot
from appliance.power.soc import soc_from_voltage
from appliance.settings.power import PowerSettings
from appliance.store.device import BatteryReading
from appliance.store.utc import naive_utc

log = logging.getLogger(__name__)


@dataclass
class _Bucket:
    start: datetime
    volts: list[float]
    rejected: int = 0
    state: str = "unknown"
    charging: bool = False


class HistoryRecorder:
    def __init__(self, settings: PowerSettings) -> None:
        self.settings = settings
        self.interval = timedelta(minutes=settings.history_interval_minutes)
        self._bucket: _Bucket | None = None
        self._last_prune: datetime | None = None

    def add(self, verdict: Verdict, snapshot: BatterySnapshot, at: datetime) -> None:
        at = naive_utc(at)
        start = self._bucket_start(at)
        if self._bucket is not None and self._bucket.start != start:
            self.flush()
        if self._bucket is None:
            self._bucket = _Bucket(start, [])
        bucket = self._bucket
        if verdict.accepted and verdict.raw is not None:
            bucket.volts.append(float(verdict.raw))
        else:
            bucket.rejected += 1
        bucket.state = snapshot.state.value
        bucket.charging = snapshot.charging

    def flush(self) -> BatteryReading | None:
        """Write the current interval (also called at shutdown so the chart shows the last minutes)."""
        bucket, self._bucket = self._bucket, None
        if bucket is None or not bucket.volts:
            return None
        mean = sum(bucket.volts) / len(bucket.volts)
        row = BatteryReading.create(
            at=bucket.start,
            voltage=round(mean, 3),
            voltage_min=round(min(bucket.volts), 3),
            voltage_max=round(max(bucket.volts), 3),
            soc_pct=soc_from_voltage(self.settings.curve, mean),
            state=bucket.state,
            charging=bucket.charging,
            samples=len(bucket.volts),
            rejected=bucket.rejected,
        )
        self._prune(bucket.start)
        return row

    def _bucket_start(self, at: datetime) -> datetime:
        seconds = self.interval.total_seconds()
        epoch = datetime(2000, 1, 1)
        return epoch + timedelta(seconds=(at - epoch).total_seconds() // seconds * seconds)

    def _prune(self, now: datetime) -> None:
        if self._last_prune is not None and now - self._last_prune < timedelta(days=1):
            return
        self._last_prune = now
        limit = now - timedelta(days=self.settings.history_retention_days)
        removed = BatteryReading.delete().where(BatteryReading.at < limit).execute()
        if removed:
            log.info("Historique batterie : %d mesures de plus de %d jours supprimées", removed,
                     self.settings.history_retention_days)
