"""The simulated bank behaves like a solar bank: it charges by day, drains at night, cloudy days
charge less, and it is deterministic for a seed."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from appliance.power.simulation import SimulatedBatterySensor, SolarBatteryModel
from appliance.settings.power import PowerSettings

START = datetime(2025, 3, 1, tzinfo=UTC)


def model(**overrides) -> SolarBatteryModel:
    power = PowerSettings()
    settings = dataclasses.replace(power.simulation, **overrides)
    return SolarBatteryModel(settings, power.curve, power.chemistry, START, UTC)


def soc_at(bank: SolarBatteryModel, hours: float) -> float:
    bank.advance_to(START + timedelta(hours=hours))
    return bank.soc_pct


def test_charges_in_daylight_and_drains_at_night():
    bank = model(initial_soc_pct=50, cloudy_day_probability=0.0)
    dawn = soc_at(bank, 6)
    assert dawn < 50  # the night's load
    assert bank.voltage < 12.2 and not bank.charging
    noon = soc_at(bank, 13)
    assert noon > dawn and bank.charging and bank.voltage > 13.0
    evening = soc_at(bank, 19)
    assert soc_at(bank, 29) < evening


def test_cloudy_days_charge_less():
    sunny, cloudy = model(initial_soc_pct=30, cloudy_day_probability=0.0), model(initial_soc_pct=30,
                                                                                  cloudy_day_probability=1.0)
    assert soc_at(cloudy, 18) < soc_at(sunny, 18) - 10
    assert cloudy.is_cloudy(START.date()) and not sunny.is_cloudy(START.date())


def test_a_seed_gives_the_same_week():
    first, second = model(seed=3), model(seed=3)
    assert [first.cloud_factor(START.date() + timedelta(days=d)) for d in range(7)] == [
        second.cloud_factor(START.date() + timedelta(days=d)) for d in range(7)]
    assert soc_at(first, 100) == soc_at(second, 100)


def test_the_modem_load_drains_faster():
    idle, busy = model(), model()
    busy.extra_load_w = 20
    assert soc_at(busy, 5) < soc_at(idle, 5)


def test_the_simulated_controller_pin_asserts_below_its_disconnect_voltage():
    power = PowerSettings()
    bank = model(initial_soc_pct=3, cloudy_day_probability=1.0)
    now = [START]
    sensor = SimulatedBatterySensor(bank, power, lambda: now[0])
    edges: list[bool] = []
    sensor.watch_low_voltage(edges.append)
    for hour in range(1, 7):
        now[0] = START + timedelta(hours=hour)
        sensor.read_voltage()
    assert edges == [True] and sensor.low_voltage_active()
