"""The retained status snapshot: one compact JSON document per clinic.

Every byte over 3G is paid, so keys are two or three letters (the table is in
docs/telemetry.md and in schemas/status.schema.json), booleans are 0/1, unknown values are
left out rather than sent as null, and numbers carry only the precision ops need.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from appliance.backup.summary import alarms as backup_alarms

BATTERY_STATES = ("ok", "low", "critical")
REGISTRATIONS = ("home", "roaming", "searching", "denied", "idle", "unknown")
LOW_DISK_MB = 200
SLOTS = ("A", "B")
UPDATE_OUTCOMES = ("installing", "trial", "kept", "rolled_back", "refused", "failed")
_BOOLEANS = ("charging", "clock_synced", "backup_failed")


def _key(short: str) -> Any:
    return field(default=None, metadata={"key": short})


@dataclass(frozen=True)
class StatusSnapshot:
    """What a clinic says about itself at one instant; ``None`` means "not known"."""

    version: str = field(metadata={"key": "v"})
    taken_at: int = field(metadata={"key": "t"})  # device clock, Unix seconds
    uptime_s: int = field(metadata={"key": "up"})  # system uptime: a small value betrays a power cut
    battery_v: float | None = _key("bv")
    battery_soc_pct: int | None = _key("soc")
    battery_state: str | None = _key("bst")
    charging: bool | None = _key("chg")
    modem_signal_pct: int | None = _key("sig")
    modem_registration: str | None = _key("reg")
    modem_bytes_month: int | None = _key("mb")
    outbox_depth: int | None = _key("od")
    outbox_oldest_age_s: int | None = _key("oa")
    outbox_dead_letters: int | None = _key("odl")
    last_dhis2_success: int | None = _key("dh")  # Unix seconds
    disk_free_mb: int | None = _key("df")
    sd_written_today_kb: int | None = _key("sdw")
    clock_synced: bool | None = _key("clk")
    telemetry_bytes_today: int | None = _key("tb")  # on the wire, both directions, MQTT+TLS+TCP/IP
    # From the backup log (appliance.backup.summary); 0 = none yet, left out = log unreadable.
    last_backup: int | None = _key("bk")  # newest verified local copy, Unix seconds
    backup_failed: bool | None = _key("bf")  # the newest local run did not end ok
    last_stick_backup: int | None = _key("bu")  # newest copy read back from a stick, Unix seconds
    last_offsite_backup: int | None = _key("bo")  # newest off-site send; left out when none was ever tried
    # Updates (appliance.update.journal): the root slot booted, the last update's version and outcome.
    slot: str | None = _key("sl")
    update_version: str | None = _key("uv")
    update_outcome: str | None = _key("uo")

    def to_payload(self) -> bytes:
        document: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if value is None:
                continue
            document[item.metadata["key"]] = int(value) if isinstance(value, bool) else value
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_payload(cls, payload: bytes) -> StatusSnapshot:
        """Decode a status message; ValueError if it is not one (the fleet view flags it)."""
        try:
            document = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"status is not JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise ValueError("status is not a JSON object")
        values = {}
        for item in dataclasses.fields(cls):
            value = document.get(item.metadata["key"])
            if item.name in _BOOLEANS and value is not None:
                value = bool(value)
            values[item.name] = value
        if not isinstance(values["version"], str) or not isinstance(values["taken_at"], int):
            raise ValueError("status lacks its version (v) or time (t)")
        if not isinstance(values["uptime_s"], int):
            raise ValueError("status lacks its uptime (up)")
        for item in dataclasses.fields(cls):  # the fleet view computes with them: refuse, don't crash
            value = values[item.name]
            if item.type == "int | None" and value is not None and (type(value) is not int or value < 0):
                raise ValueError(f"status field {item.metadata['key']} is not a whole number")
        return cls(**values)

    def attention_reasons(self) -> list[str]:
        """Why the clinic needs a person (Homie's ``alert`` state); empty when all is well.

        A clinic that has no backup *yet* is not in alert: a new installation has none until its
        first night (the fleet view still flags it, see backup_reasons).
        """
        reasons = []
        if self.battery_state == "critical":
            reasons.append("battery_critical")
        if self.outbox_dead_letters:
            reasons.append("dead_letters")
        if self.disk_free_mb is not None and self.disk_free_mb < LOW_DISK_MB:
            reasons.append("disk_low")
        return reasons + self.backup_reasons(include_never=False)

    def backup_reasons(self, *, include_never: bool = True) -> list[str]:
        """The Backups page's red alarm, judged at ``t`` on the device's own clock:
        ``backup_stale`` (no verified copy within 48 h; with ``include_never``, none at all) and
        ``backup_failed`` (the last run failed). Nothing when the status does not say."""
        if self.last_backup is None and self.backup_failed is None:
            return []
        found = backup_alarms(last_verified_at=self.last_backup or None, last_failed=bool(self.backup_failed),
                              now=self.taken_at)
        reasons = []
        if "stale" in found or (include_never and "never" in found and self.last_backup is not None):
            reasons.append("backup_stale")
        if "local_failed" in found:
            reasons.append("backup_failed")
        return reasons


def build_status(
    *,
    version: str,
    now: float,
    uptime_s: float,
    battery_v: float | None = None,
    battery_soc_pct: float | None = None,
    battery_state: str | None = None,
    charging: bool | None = None,
    modem_signal_pct: float | None = None,
    modem_registration: str | None = None,
    modem_bytes_month: int | None = None,
    outbox_depth: int | None = None,
    outbox_oldest_age_s: float | None = None,
    outbox_dead_letters: int | None = None,
    last_dhis2_success: float | None = None,
    disk_free_mb: int | None = None,
    sd_written_today_kb: int | None = None,
    clock_synced: bool | None = None,
    telemetry_bytes_today: int | None = None,
    last_backup: float | None = None,
    backup_failed: bool | None = None,
    last_stick_backup: float | None = None,
    last_offsite_backup: float | None = None,
    slot: str | None = None,
    update_version: str | None = None,
    update_outcome: str | None = None,
) -> StatusSnapshot:
    """Assemble a snapshot from the agent's pieces, rounding to what ops need.

    Free-text states from the hardware layers are normalised to the documented vocabulary
    (lower case; an unknown registration becomes ``unknown``) so the schema always holds.
    """
    state = battery_state.lower() if battery_state else None
    if state is not None and state not in BATTERY_STATES:
        raise ValueError(f"battery_state must be one of {BATTERY_STATES}, not {battery_state!r}")
    registration = modem_registration.lower() if modem_registration else None
    if registration is not None and registration not in REGISTRATIONS:
        registration = "unknown"
    return StatusSnapshot(
        version=version,
        taken_at=int(now),
        uptime_s=_whole(uptime_s),
        battery_v=None if battery_v is None else round(float(battery_v), 2),
        battery_soc_pct=_whole(battery_soc_pct, upper=100),
        battery_state=state,
        charging=charging,
        modem_signal_pct=_whole(modem_signal_pct, upper=100),
        modem_registration=registration,
        modem_bytes_month=_whole(modem_bytes_month),
        outbox_depth=_whole(outbox_depth),
        outbox_oldest_age_s=_whole(outbox_oldest_age_s),
        outbox_dead_letters=_whole(outbox_dead_letters),
        last_dhis2_success=_whole(last_dhis2_success),
        disk_free_mb=_whole(disk_free_mb),
        sd_written_today_kb=_whole(sd_written_today_kb),
        clock_synced=clock_synced,
        telemetry_bytes_today=_whole(telemetry_bytes_today),
        last_backup=_whole(last_backup),
        backup_failed=backup_failed,
        last_stick_backup=_whole(last_stick_backup),
        last_offsite_backup=_whole(last_offsite_backup),
        slot=slot if slot in SLOTS else None,
        update_version=update_version[:32] if update_version else None,
        update_outcome=update_outcome if update_outcome in UPDATE_OUTCOMES else None,
    )


def _whole(value: float | None, *, upper: int | None = None) -> int | None:
    if value is None:
        return None
    number = max(0, round(value))
    return min(number, upper) if upper is not None else number
