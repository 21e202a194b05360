"""What ops see of the fleet: one row per clinic, worst trouble first.

Built only from what the broker carries (retained ``$state`` and ``status``, live events), so
it works against any MQTT broker and needs no database. "Last seen" is the newest time the
clinic itself spoke: the ``t`` of its status or events (device clock), or the moment a live
message from it arrived; the broker's ``lost`` will does not count as the clinic speaking.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from appliance import spreadsheets
from appliance.telemetry import topics
from appliance.telemetry.status import StatusSnapshot
from appliance.telemetry.topics import State

LABELS: dict[str, dict[str, str]] = tomllib.loads(
    (Path(__file__).parent / "labels_fr.toml").read_text(encoding="utf-8")
)

DEFAULT_SILENT_AFTER_S = 24 * 3600  # two windows a day: a full day without news is trouble
BACKLOG_AGE_S = 2 * 24 * 3600
TELEMETRY_BUDGET_BYTES = 33 * 1024
_REMEMBERED_EVENT_IDS = 64
UPDATE_FAILURES = ("rolled_back", "failed", "refused")

# Weight of each trouble: a row's trouble is their sum, rows are sorted on it.
FLAG_WEIGHTS = {
    "silent": 100,
    "battery_critical": 70,
    "lost": 60,
    "bad_status": 50,
    "dead_letters": 40,
    "disk_low": 40,
    "backup_stale": 40,  # records in one place only: a dying SD card would take them all
    "battery_low": 30,
    "backlog": 30,
    "backup_failed": 30,  # an older verified copy may still be there; the cause needs a look
    "alert": 20,
    "update_failed": 20,  # the previous version still runs: nothing lost, but the fix did not land
    "clock": 10,
    "data": 10,
}


@dataclass
class ClinicView:
    site_id: str
    state: str | None = None
    status: StatusSnapshot | None = None
    status_error: str | None = None
    last_seen: float | None = None
    events: int = 0
    last_event: dict[str, Any] | None = None
    recent_event_ids: deque[str] = field(default_factory=lambda: deque(maxlen=_REMEMBERED_EVENT_IDS))

    def seen(self, moment: float | None) -> None:
        if moment is not None and (self.last_seen is None or moment > self.last_seen):
            self.last_seen = moment


@dataclass(frozen=True)
class FleetRow:
    site_id: str
    state: str
    last_seen: float | None
    silent_s: float | None
    flags: tuple[str, ...]
    trouble: int
    status: StatusSnapshot | None
    last_event: dict[str, Any] | None


class Fleet:
    """Folds broker messages into one view per clinic (not thread-safe: the collector locks)."""

    def __init__(self, prefix: str = "clinic") -> None:
        self.prefix = prefix
        self.clinics: dict[str, ClinicView] = {}
        self.messages = 0

    def ingest(self, name: str, payload: bytes, *, retained: bool, received_at: float) -> None:
        parsed = topics.parse(self.prefix, name)
        if parsed is None:
            return
        site_id, leaf = parsed
        self.messages += 1
        clinic = self.clinics.setdefault(site_id, ClinicView(site_id))
        if leaf == topics.STATE:
            clinic.state = payload.decode("utf-8", errors="replace")[:16]
            if not retained and clinic.state != State.LOST:
                clinic.seen(received_at)
        elif leaf == topics.STATUS:
            self._ingest_status(clinic, payload, retained=retained, received_at=received_at)
        else:
            self._ingest_event(clinic, payload, received_at=received_at)

    @staticmethod
    def _ingest_status(clinic: ClinicView, payload: bytes, *, retained: bool, received_at: float) -> None:
        try:
            clinic.status = StatusSnapshot.from_payload(payload)
        except ValueError as exc:
            clinic.status_error = str(exc)
            return
        clinic.status_error = None
        clinic.seen(min(clinic.status.taken_at, received_at))  # a clock ahead must not look fresher
        if not retained:
            clinic.seen(received_at)

    @staticmethod
    def _ingest_event(clinic: ClinicView, payload: bytes, *, received_at: float) -> None:
        try:
            event = json.loads(payload)
            event_id, moment = event["id"], event["t"]
        except (ValueError, TypeError, KeyError):
            return
        if event_id in clinic.recent_event_ids:  # at-least-once delivery: a resent copy
            return
        clinic.recent_event_ids.append(event_id)
        clinic.events += 1
        clinic.last_event = event
        clinic.seen(received_at)
        if isinstance(moment, int):
            clinic.seen(min(moment, received_at))

    def rows(self, *, now: float, silent_after_s: float = DEFAULT_SILENT_AFTER_S) -> list[FleetRow]:
        rows = [_row(clinic, now, silent_after_s) for clinic in self.clinics.values()]
        rows.sort(key=lambda row: (-row.trouble, -(row.silent_s or float("inf")), row.site_id))
        return rows


def _row(clinic: ClinicView, now: float, silent_after_s: float) -> FleetRow:
    silent_s = None if clinic.last_seen is None else max(0.0, now - clinic.last_seen)
    flags = _flags(clinic, silent_s, silent_after_s)
    return FleetRow(
        site_id=clinic.site_id,
        state=clinic.state or "?",
        last_seen=clinic.last_seen,
        silent_s=silent_s,
        flags=tuple(sorted(flags, key=lambda flag: -FLAG_WEIGHTS[flag])),  # worst first
        trouble=sum(FLAG_WEIGHTS[flag] for flag in flags),
        status=clinic.status,
        last_event=clinic.last_event,
    )


def _flags(clinic: ClinicView, silent_s: float | None, silent_after_s: float) -> list[str]:
    flags = []
    if silent_s is None or silent_s > silent_after_s:
        flags.append("silent")
    if clinic.state == State.LOST:
        flags.append("lost")
    if clinic.state == State.ALERT:
        flags.append("alert")
    if clinic.status_error:
        flags.append("bad_status")
    status = clinic.status
    if status is None:
        return flags
    if status.battery_state == "critical":
        flags.append("battery_critical")
    elif status.battery_state == "low":
        flags.append("battery_low")
    if status.outbox_dead_letters:
        flags.append("dead_letters")
    if status.outbox_oldest_age_s is not None and status.outbox_oldest_age_s > BACKLOG_AGE_S:
        flags.append("backlog")
    if "disk_low" in status.attention_reasons():
        flags.append("disk_low")
    flags += status.backup_reasons()  # the Backups page's red alarm, "no backup yet" included
    if status.update_outcome in UPDATE_FAILURES:
        flags.append("update_failed")
    if status.clock_synced is False:
        flags.append("clock")
    if status.telemetry_bytes_today is not None and status.telemetry_bytes_today > TELEMETRY_BUDGET_BYTES:
        flags.append("data")
    return flags


# -- output -----------------------------------------------------------------------------------

CSV_COLUMNS = (
    "site_id", "state", "last_seen_utc", "silent_h", "trouble", "flags", "battery_v", "battery_soc_pct",
    "battery_state", "charging", "modem_signal_pct", "modem_registration", "modem_mb_month",
    "telemetry_kb_today", "outbox_depth", "outbox_oldest_h", "outbox_dead_letters", "last_dhis2_utc",
    "backup_age_h", "backup_failed", "last_backup_utc", "last_stick_utc", "last_offsite_utc",
    "version", "slot", "update_version", "update_outcome", "uptime_h", "last_event",
)
NEVER = "never"  # CSV: the clinic says it has none yet (an empty cell: it does not say)


def _utc(moment: float | int | None) -> str:
    if moment is None:
        return ""
    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hours(seconds: float | int | None) -> str:
    return "" if seconds is None else f"{seconds / 3600:.1f}"


def backup_age_s(status: StatusSnapshot) -> int | None:
    """Age of the newest verified backup when the status was taken (both times on the device's clock,
    so a clock that is off does not matter); None when the status does not say or there is none."""
    if not status.last_backup:
        return None
    return max(0, status.taken_at - status.last_backup)


def _utc_or_never(moment: int | None) -> str:
    return NEVER if moment == 0 else _utc(moment)


def _blank(value: Any) -> Any:
    if value is None:
        return ""
    return int(value) if isinstance(value, bool) else value


def csv_record(row: FleetRow) -> dict[str, Any]:
    status = row.status
    record: dict[str, Any] = {
        "site_id": row.site_id, "state": row.state, "last_seen_utc": _utc(row.last_seen),
        "silent_h": _hours(row.silent_s), "trouble": row.trouble, "flags": ";".join(row.flags),
        "last_event": "" if row.last_event is None else f"{row.last_event.get('k')}@{_utc(row.last_event.get('t'))}",
    }
    if status is not None:
        record.update({
            "battery_v": _blank(status.battery_v), "battery_soc_pct": _blank(status.battery_soc_pct),
            "battery_state": _blank(status.battery_state), "charging": _blank(status.charging),
            "modem_signal_pct": _blank(status.modem_signal_pct),
            "modem_registration": _blank(status.modem_registration),
            "modem_mb_month": "" if status.modem_bytes_month is None else f"{status.modem_bytes_month / 1e6:.1f}",
            "telemetry_kb_today": "" if status.telemetry_bytes_today is None
            else f"{status.telemetry_bytes_today / 1024:.1f}",
            "outbox_depth": _blank(status.outbox_depth), "outbox_oldest_h": _hours(status.outbox_oldest_age_s),
            "outbox_dead_letters": _blank(status.outbox_dead_letters),
            "last_dhis2_utc": _utc(status.last_dhis2_success),
            "backup_age_h": NEVER if status.last_backup == 0 else _hours(backup_age_s(status)),
            "backup_failed": _blank(status.backup_failed), "last_backup_utc": _utc_or_never(status.last_backup),
            "last_stick_utc": _utc_or_never(status.last_stick_backup),
            "last_offsite_utc": _utc_or_never(status.last_offsite_backup), "version": status.version,
            "slot": _blank(status.slot), "update_version": _blank(status.update_version),
            "update_outcome": _blank(status.update_outcome),
            "uptime_h": _hours(status.uptime_s),
        })
    return {column: record.get(column, "") for column in CSV_COLUMNS}


def write_csv(rows: list[FleetRow], stream: IO[str]) -> None:
    writer = spreadsheets.dict_writer(stream, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(csv_record(row))


_STATE_STYLES = {"ready": "green", "sleeping": "cyan", "init": "yellow", "alert": "bold red", "lost": "bold red"}


def render_table(rows: list[FleetRow], *, now: float, broker: str) -> Any:
    """A rich Table (French labels) of the fleet, worst first."""
    from rich.table import Table

    columns = LABELS["columns"]
    flagged = sum(1 for row in rows if row.flags)
    table = Table(title=f"{columns['title']} — {broker} — {_utc(now)} — "
                        f"{len(rows)} {columns['clinics']}, {flagged} {columns['flagged']}",
                  expand=False)
    spread = versions(rows)
    if spread:
        table.caption = f"{columns['versions']} : " + " · ".join(
            f"{version} × {len(sites)}" + (f" ({', '.join(sites)})" if len(sites) <= 3 and len(spread) > 1 else "")
            for version, sites in spread.items())
    for key in ("site_id", "state", "last_seen", "version", "battery", "data", "outbox", "backup", "flags"):
        table.add_column(columns[key], no_wrap=key != "flags")
    for row in rows:
        status = row.status
        battery = data = outbox = backup = version = ""
        if status is not None:
            backup = _backup_cell(status)
            version = status.version + (f" ({status.slot})" if status.slot else "")
            battery = " ".join(part for part in (
                f"{status.battery_v:.2f} V" if status.battery_v is not None else "",
                f"{status.battery_soc_pct} %" if status.battery_soc_pct is not None else "",
                "☀" if status.charging else "",
            ) if part)
            data = " / ".join(part for part in (
                f"{status.modem_bytes_month / 1e6:.1f} Mo/mois" if status.modem_bytes_month is not None else "",
                f"{status.telemetry_bytes_today / 1024:.1f} Ko/j" if status.telemetry_bytes_today is not None
                else "",
            ) if part)
            if status.outbox_depth is not None:
                outbox = str(status.outbox_depth)
                if status.outbox_oldest_age_s:
                    outbox += f" ({_ago(status.outbox_oldest_age_s)})"
        seen = "—" if row.silent_s is None else _ago(row.silent_s)
        style = _STATE_STYLES.get(row.state, "")
        table.add_row(
            row.site_id, f"[{style}]{row.state}[/]" if style else row.state, seen, version, battery, data, outbox,
            backup,
            ", ".join(LABELS["flags"][flag] for flag in row.flags),
            style="on grey15" if "silent" in row.flags else None,
        )
    return table


def versions(rows: list[FleetRow]) -> dict[str, list[str]]:
    """Software version → the clinics running it (those whose status is known), newest version first."""
    found: dict[str, list[str]] = {}
    for row in rows:
        if row.status is not None:
            found.setdefault(row.status.version, []).append(row.site_id)
    return dict(sorted(found.items(), key=lambda item: _version_key(item[0]), reverse=True))


def _version_key(text: str) -> tuple[int, ...]:
    parts = text.split(".")
    return tuple(int(part) if part.isdigit() else -1 for part in parts)


def _backup_cell(status: StatusSnapshot) -> str:
    """``12 h``, ``jamais``, with ``✗`` when the last run failed; empty when the status does not say."""
    if status.last_backup is None:
        return ""
    age = backup_age_s(status)
    text = LABELS["columns"]["never"] if age is None else _ago(age)
    return f"{text} ✗" if status.backup_failed else text


def _ago(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} j"
