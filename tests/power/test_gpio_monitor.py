"""The real sensor code (gpiozero MCP3008 + DigitalInputDevice) on gpiozero's MockFactory, driving
the battery's state machine: transitions, hysteresis, bad readings, the low-voltage pin, and the
shutdown requested exactly once."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta

import pytest

from appliance.power.monitor import BatteryState, PowerMonitor, SensorError
from appliance.power.sensors import GpioBatterySensor
from tests.power.conftest import LOW_VOLTAGE_PIN, set_battery


class Harness:
    """A monitor on the GPIO sensor with a clock the test moves and recorders for its outputs."""

    def __init__(self, settings, adc, mock_factory) -> None:
        self.settings, self.adc, self.factory = settings, adc, mock_factory
        self.now = datetime(2025, 3, 1, 6, tzinfo=UTC)
        self.events: list[tuple[str, dict]] = []
        self.critical: list[str] = []
        self.sensor = GpioBatterySensor(settings)
        self.monitor = PowerMonitor(settings, self.sensor, now=lambda: self.now,
                                    on_event=lambda kind, message, **data: self.events.append((kind, data)),
                                    on_critical=self.critical.append)

    def read(self, volts: float, times: int = 1) -> BatteryState:
        set_battery(self.adc, self.settings, volts)
        for _ in range(times):
            self.now += timedelta(minutes=1)
            self.monitor.sample()
        return self.monitor.state

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]


@pytest.fixture
def harness(power_settings, adc, mock_factory) -> Harness:
    rig = Harness(power_settings, adc, mock_factory)
    yield rig
    rig.sensor.close()


def test_the_adc_reads_the_battery_through_the_divider(harness):
    set_battery(harness.adc, harness.settings, 12.6)
    assert harness.sensor.read_voltage() == pytest.approx(12.6, abs=harness.settings.max_voltage / 1024)
    assert harness.settings.max_voltage == pytest.approx(3.3 * 5.545)


def test_states_go_down_at_thresholds_and_back_up_only_past_the_hysteresis(harness):
    curve = harness.settings.curve  # lead-acid: low 11.9, critical 11.6, hysteresis 0.2
    assert harness.read(12.5, 3) is BatteryState.OK
    assert harness.read(11.85, 3) is BatteryState.LOW
    assert harness.read(curve.low_v + 0.1, 3) is BatteryState.LOW  # inside the hysteresis band
    assert harness.read(curve.low_v + 0.25, 3) is BatteryState.OK
    assert harness.read(11.8, 3) is BatteryState.LOW
    states = [data["state"] for kind, data in harness.events if kind == "battery_state"]
    assert states == ["ok", "low", "ok", "low"]
    assert harness.critical == []


def test_a_battery_hovering_at_the_threshold_does_not_flap(harness):
    harness.read(12.4, 3)
    for volts in [11.88, 11.93, 11.87, 11.95, 11.89, 12.0, 11.9, 12.05] * 3:
        harness.read(volts)
    changes = [data["state"] for kind, data in harness.events if kind == "battery_state"]
    assert changes == ["ok", "low"]


def test_critical_requests_the_shutdown_once_even_if_it_stays_critical(harness):
    harness.read(12.2, 3)
    assert harness.read(11.4, 5) is BatteryState.CRITICAL
    harness.read(11.3, 10)
    assert harness.critical == ["voltage"]
    assert harness.kinds().count("battery_critical") == 1


def test_impossible_readings_are_counted_and_never_acted_on(harness):
    harness.read(12.5, 3)
    harness.read(0.0)  # divider wire off: the ADC reads zero
    harness.read(harness.settings.max_voltage)  # ADC input floating high: full scale
    harness.read(10.4)  # a spike of 2 V below the smoothed value: rejected as a jump
    assert harness.monitor.state is BatteryState.OK
    rejected = harness.monitor.snapshot().rejected
    assert rejected == {"range": 2, "jump": 1}
    assert harness.critical == []


def test_a_stuck_adc_is_reported_and_its_value_ignored(harness):
    settings = harness.settings
    harness.read(12.5, 2)
    set_battery(harness.adc, settings, 12.3)
    for _ in range(int(settings.stuck_after_hours * 60) + 30):
        harness.now += timedelta(minutes=1)
        harness.monitor.sample()
    snapshot = harness.monitor.snapshot()
    assert snapshot.rejected.get("stuck", 0) >= 29
    assert "sensor_fault" in harness.kinds()  # nothing valid for sensor_fault_after_minutes
    harness.read(12.35)  # it moves again (by more than one ADC step): accepted
    assert not harness.monitor.snapshot().sensor_fault


def test_a_real_step_is_accepted_after_it_holds(harness):
    harness.read(12.6, 3)
    harness.read(13.9, 2)  # the panel starts charging hard: looks like a jump at first
    assert harness.monitor.snapshot().voltage == pytest.approx(12.6, abs=0.05)
    harness.read(13.9)
    assert harness.monitor.snapshot().voltage == pytest.approx(13.9, abs=0.05)
    assert harness.monitor.snapshot().charging


def test_the_low_voltage_pin_means_critical_whatever_the_adc_says(harness):
    harness.read(12.4, 3)
    harness.factory.pin(LOW_VOLTAGE_PIN).drive_low()  # the controller pulls its output low
    assert harness.monitor.state is BatteryState.CRITICAL
    assert harness.critical == ["low_voltage_pin"]
    harness.factory.pin(LOW_VOLTAGE_PIN).drive_high()
    harness.factory.pin(LOW_VOLTAGE_PIN).drive_low()
    harness.read(11.2, 5)
    assert harness.critical == ["low_voltage_pin"]  # still one request


def test_a_glitch_on_the_low_voltage_pin_is_ignored(power_settings, adc, mock_factory):
    settings = dataclasses.replace(power_settings, low_voltage_confirm_s=0.05)
    rig = Harness(settings, adc, mock_factory)
    try:
        rig.read(12.4, 3)
        pin = mock_factory.pin(LOW_VOLTAGE_PIN)
        pin.drive_low()
        pin.drive_high()  # back up before the confirmation delay
        rig.monitor._pin_timer and rig.monitor._pin_timer.join(1)
        assert rig.monitor.state is BatteryState.OK
        pin.drive_low()
        timer = rig.monitor._pin_timer
        timer.join(1)
        assert rig.monitor.state is BatteryState.CRITICAL
        assert rig.critical == ["low_voltage_pin"]
    finally:
        rig.sensor.close()


def test_a_pin_already_low_at_start_up_counts(power_settings, adc, mock_factory):
    sensor = GpioBatterySensor(power_settings)
    mock_factory.pin(LOW_VOLTAGE_PIN).drive_low()  # low before anyone listens: no edge will come
    critical: list[str] = []
    try:
        PowerMonitor(power_settings, sensor, now=lambda: datetime.now(UTC), on_event=lambda *a, **k: None,
                     on_critical=critical.append)
        assert critical == ["low_voltage_pin"]
    finally:
        sensor.close()


def test_lifepo4_uses_its_own_flat_curve(power_settings, adc, mock_factory):
    settings = dataclasses.replace(power_settings, chemistry="lifepo4")
    rig = Harness(settings, adc, mock_factory)
    try:
        assert rig.read(13.25, 3) is BatteryState.OK
        assert 70 <= rig.monitor.snapshot().soc_pct <= 90
        assert rig.read(12.85, 3) is BatteryState.LOW  # would be OK for lead-acid
    finally:
        rig.sensor.close()


def test_an_unreadable_sensor_is_counted_not_fatal(power_settings):
    class Broken:
        def read_voltage(self):
            raise SensorError("bus SPI absent")

        def low_voltage_active(self):
            return False

        def watch_low_voltage(self, callback):
            pass

        def close(self):
            pass

    monitor = PowerMonitor(power_settings, Broken(), now=lambda: datetime.now(UTC),
                           on_event=lambda *a, **k: None, on_critical=lambda cause: None)
    snapshot = monitor.sample()
    assert snapshot.state is BatteryState.UNKNOWN and snapshot.rejected == {"unreadable": 1}
    assert snapshot.voltage is None and not math.isnan(snapshot.soc_pct or 0)
