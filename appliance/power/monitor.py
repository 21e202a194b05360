"""The battery's state (OK → LOW → CRITICAL) from filtered readings and the low-voltage pin.

Thresholds come from the chemistry (``low_v``, ``critical_v``) with a hysteresis: going down
happens at the threshold, coming back needs the threshold plus ``hysteresis_v``, so a battery
hovering at 11.9 V does not flap between states (and the modem on and off) every minute.

The charge controller's low-voltage output is trusted on its own: once it has stayed active for
``low_voltage_confirm_s`` the state is CRITICAL whatever the ADC says, since the controller
is about to cut the load.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from appliance.power.filter import ReadingFilter, Verdict
from appliance.power.soc import soc_from_voltage
from appliance.settings.power import PowerSettings

log = logging.getLogger(__name__)


class BatteryState(StrEnum):
    UNKNOWN = "unknown"
    OK = "ok"
    LOW = "low"
    CRITICAL = "critical"


class SensorError(RuntimeError):
    """The battery cannot be read (no SPI bus, ADC unplugged...); the message is for a person."""


class BatterySensor(Protocol):
    """What the monitor needs from the hardware (real: gpiozero; simulated: the solar model)."""

    def read_voltage(self) -> float: ...  # raises SensorError

    def low_voltage_active(self) -> bool: ...

    def watch_low_voltage(self, callback: Callable[[bool], None]) -> None: ...  # called on each edge

    def close(self) -> None: ...


@dataclass(frozen=True)
class BatterySnapshot:
    state: BatteryState
    voltage: float | None  # smoothed
    soc_pct: float | None
    charging: bool
    low_voltage_signal: bool
    sensor_fault: bool
    rejected: dict[str, int] = field(default_factory=dict)
    last_reading_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "voltage": None if self.voltage is None else round(self.voltage, 2),
            "soc_pct": self.soc_pct,
            "charging": self.charging,
            "low_voltage_signal": self.low_voltage_signal,
            "sensor_fault": self.sensor_fault,
            "rejected": dict(self.rejected),
            "last_reading_at": self.last_reading_at.isoformat() if self.last_reading_at else None,
        }


EventSink = Callable[..., None]  # (kind, message, *, severity="info", **data)

STATE_LABELS = {
    BatteryState.UNKNOWN: "inconnu",
    BatteryState.OK: "bon",
    BatteryState.LOW: "faible",
    BatteryState.CRITICAL: "critique",
}

CHARGING_MARGIN_V = 0.1  # above the full resting voltage: the panel is pushing current in
CHARGING_RISE_V = 0.05  # or the smoothed voltage rose this much over the trend window
TREND_WINDOW = timedelta(minutes=30)


class PowerMonitor:
    """Samples the sensor, keeps the state, and calls ``on_critical`` each time CRITICAL is entered."""

    def __init__(
        self,
        settings: PowerSettings,
        sensor: BatterySensor,
        *,
        now: Callable[[], datetime],
        on_event: EventSink,
        on_critical: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self.curve = settings.curve
        self._sensor = sensor
        self._now = now
        self._emit = on_event
        self._on_critical = on_critical
        self._filter = ReadingFilter(settings)
        self._lock = threading.RLock()
        self._state = BatteryState.UNKNOWN
        self._pin_active = False
        self._pin_timer: threading.Timer | None = None
        self._trend: deque[tuple[datetime, float]] = deque()
        self._sensor_fault = False
        self._started_at = now()
        self._deferred: list[Callable[[], None]] = []
        self._last_rejection: str | None = None
        self.listeners: list[Callable[[Verdict, BatterySnapshot], None]] = []
        sensor.watch_low_voltage(self.low_voltage_edge)

    @property
    def state(self) -> BatteryState:
        return self._state

    def sample(self) -> BatterySnapshot:
        """Read once, filter, update the state. Called by the scheduler, never in a loop."""
        at = self._now()
        try:
            raw: float | None = self._sensor.read_voltage()
        except SensorError as exc:
            log.warning("Lecture de la batterie impossible : %s", exc)
            raw = None
        with self._lock:
            verdict = self._filter.offer(raw, at)
            if not verdict.accepted:
                # One line per streak, not one a minute for hours: the counters keep the totals.
                level = logging.DEBUG if verdict.reason == self._last_rejection else logging.WARNING
                log.log(level, "Mesure de batterie rejetée (%s) : %r", verdict.reason, raw)
                self._last_rejection = verdict.reason
            else:
                self._last_rejection = None
                self._trend.append((at, verdict.smoothed))
                while self._trend and at - self._trend[0][0] > TREND_WINDOW:
                    self._trend.popleft()
                self._update_state(verdict.smoothed)
            self._check_sensor_fault(at)
            snapshot = self.snapshot()
        for listener in self.listeners:
            listener(verdict, snapshot)
        self._run_deferred()
        return snapshot

    def snapshot(self) -> BatterySnapshot:
        with self._lock:
            voltage = self._filter.smoothed
            return BatterySnapshot(
                state=self._state,
                voltage=voltage,
                soc_pct=None if voltage is None else soc_from_voltage(self.curve, voltage),
                charging=self._charging(voltage),
                low_voltage_signal=self._pin_active,
                sensor_fault=self._sensor_fault,
                rejected=dict(self._filter.rejected),
                last_reading_at=self._filter.last_accepted_at,
            )

    def low_voltage_edge(self, active: bool) -> None:
        """The controller's low-voltage output changed; act only if it holds for the confirm delay."""
        with self._lock:
            if self._pin_timer is not None:
                self._pin_timer.cancel()
                self._pin_timer = None
            if not active:
                if self._pin_active:
                    log.info("Signal « tension basse » du régulateur retombé")
                self._pin_active = False
                return
            delay = self.settings.low_voltage_confirm_s
            if delay <= 0:
                self._confirm_pin()
                return
            self._pin_timer = threading.Timer(delay, self._confirm_pin)
            self._pin_timer.daemon = True
            self._pin_timer.start()

    def close(self) -> None:
        with self._lock:
            if self._pin_timer is not None:
                self._pin_timer.cancel()

    def _confirm_pin(self) -> None:
        with self._lock:
            self._pin_timer = None
            if not self._sensor.low_voltage_active():
                log.info("Signal « tension basse » trop bref : ignoré")
                return
            self._pin_active = True
            log.warning("Le régulateur signale une tension basse")
            self._enter(BatteryState.CRITICAL, "low_voltage_pin", self._filter.smoothed)
        self._run_deferred()

    def _run_deferred(self) -> None:
        """Events and the shutdown run outside the lock: a slow subscriber never blocks a reading."""
        with self._lock:
            calls, self._deferred = self._deferred, []
        for call in calls:
            call()

    def _update_state(self, voltage: float) -> None:
        target = self._target(voltage)
        if target is not self._state:
            self._enter(target, "voltage", voltage)

    def _target(self, voltage: float) -> BatteryState:
        """Down at the threshold, back up only above threshold + hysteresis."""
        curve, current = self.curve, self._state
        recovering_from_critical = current is BatteryState.CRITICAL
        recovering = current in (BatteryState.LOW, BatteryState.CRITICAL)
        if self._pin_active or voltage < curve.critical_v:
            return BatteryState.CRITICAL
        if recovering_from_critical and voltage < curve.critical_v + curve.hysteresis_v:
            return BatteryState.CRITICAL
        if voltage < curve.low_v or (recovering and voltage < curve.low_v + curve.hysteresis_v):
            return BatteryState.LOW
        return BatteryState.OK

    def _enter(self, state: BatteryState, cause: str, voltage: float | None) -> None:
        previous, self._state = self._state, state
        if previous is state:
            return
        shown = "?" if voltage is None else f"{voltage:.2f} V"
        message = f"Batterie : état {STATE_LABELS[state]} ({shown}), auparavant {STATE_LABELS[previous]}"
        severity = {"critical": "critical", "low": "warning"}.get(state.value, "info")
        log.log(logging.WARNING if severity != "info" else logging.INFO, message)
        self._deferred.append(lambda: self._emit("battery_state", message, severity=severity, state=state.value,
                                                 previous=previous.value, voltage=voltage, cause=cause))
        if state is BatteryState.LOW and previous is not BatteryState.CRITICAL:
            self._deferred.append(lambda: self._emit("battery_low", message, severity="warning", voltage=voltage))
        if state is BatteryState.CRITICAL:
            self._deferred.append(lambda: self._emit("battery_critical", message, severity="critical",
                                                     voltage=voltage, cause=cause))
            self._deferred.append(lambda: self._on_critical(cause))

    def _charging(self, voltage: float | None) -> bool:
        if voltage is None:
            return False
        if voltage > self.curve.voltages[-1] + CHARGING_MARGIN_V:
            return True
        return bool(self._trend) and voltage - self._trend[0][1] > CHARGING_RISE_V

    def _check_sensor_fault(self, at: datetime) -> None:
        since = self._filter.last_accepted_at or self._started_at
        fault = at - since >= timedelta(minutes=self.settings.sensor_fault_after_minutes)
        if fault and not self._sensor_fault:
            message = (f"Capteur de batterie en défaut : aucune mesure valable depuis "
                       f"{self.settings.sensor_fault_after_minutes} min ({dict(self._filter.rejected)})")
            log.error(message)
            rejected = dict(self._filter.rejected)
            self._deferred.append(lambda: self._emit("sensor_fault", message, severity="warning", rejected=rejected))
        elif not fault and self._sensor_fault:
            self._deferred.append(lambda: self._emit("sensor_ok", "Capteur de batterie de nouveau valable"))
        self._sensor_fault = fault
