"""The agent's tables, where the web reads them: the seam between the two processes is SQLite.

The agent's parts write these rows (``power.history`` the battery readings, ``modem.usage`` the
data used per month, ``agent.state`` its small facts and the upload windows); the web's Battery
page reads them through the functions below without importing power, modem or agent.
Moments are naive UTC (``appliance.store.utc``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import peewee

from appliance.store.db import BaseModel
from appliance.store.utc import naive_utc


class BatteryReading(BaseModel):
    """One interval of battery samples (10 min by default) for the 7-day chart."""

    at = peewee.DateTimeField(index=True)  # naive UTC, start of the interval
    voltage = peewee.FloatField()
    voltage_min = peewee.FloatField()
    voltage_max = peewee.FloatField()
    soc_pct = peewee.FloatField()
    state = peewee.TextField()
    charging = peewee.BooleanField()
    samples = peewee.IntegerField()
    rejected = peewee.IntegerField()

    class Meta:
        table_name = "battery_reading"


class DataUsage(BaseModel):
    """Bytes through the 3G link per month of the site's calendar."""

    month = peewee.TextField(primary_key=True)  # YYYY-MM in the site's zone
    bytes_sent = peewee.IntegerField(default=0)
    bytes_received = peewee.IntegerField(default=0)
    updated_at = peewee.DateTimeField()

    class Meta:
        table_name = "data_usage"


class AgentState(BaseModel):
    """One small fact of the agent per row (JSON value), kept across power cuts."""

    key = peewee.TextField(primary_key=True)
    value = peewee.TextField()  # JSON
    updated_at = peewee.DateTimeField()

    class Meta:
        table_name = "agent_state"


class UploadWindowLog(BaseModel):
    """What each upload window did."""

    scheduled_at = peewee.DateTimeField(index=True)  # naive UTC
    started_at = peewee.DateTimeField()
    finished_at = peewee.DateTimeField(null=True)
    outcome = peewee.TextField()  # done, partial, failed, skipped
    detail = peewee.TextField()
    only_urgent = peewee.BooleanField()
    catch_up = peewee.BooleanField()
    battery_state = peewee.TextField()
    bytes_sent = peewee.IntegerField()
    bytes_received = peewee.IntegerField()

    class Meta:
        table_name = "upload_window"


def readings_since(since: datetime) -> list[BatteryReading]:
    query = BatteryReading.select().where(BatteryReading.at >= naive_utc(since))
    return list(query.order_by(BatteryReading.at))


def last_days(days: int = 7, *, now: datetime | None = None) -> list[BatteryReading]:
    """The readings the Battery page charts: the last ``days`` days, oldest first."""
    return readings_since((now or datetime.now(UTC)) - timedelta(days=days))


def latest_reading() -> BatteryReading | None:
    return BatteryReading.select().order_by(BatteryReading.at.desc()).first()


def month_usage_bytes(month: str) -> int:
    """Bytes sent and received in ``month`` (YYYY-MM, site's zone); 0 before the first."""
    usage = DataUsage.get_or_none(DataUsage.month == month)
    return (usage.bytes_sent + usage.bytes_received) if usage else 0


def recent_windows(limit: int = 20) -> list[UploadWindowLog]:
    """The last windows, newest first (the web's Battery page and the tests read this)."""
    return list(UploadWindowLog.select().order_by(UploadWindowLog.scheduled_at.desc(),
                                                  UploadWindowLog.id.desc()).limit(limit))
