"""A simulated 12 V bank under a Sahelian solar day, for ``simulation = true``, tests and demos.

The model integrates energy in steps of at most a minute: panel power follows a half sine
between sunrise and sunset, scaled down on cloudy days (drawn per date from a seeded generator,
so a given seed always gives the same week); the load (Pi, hotspot, and the modem while a
window is open) drains the bank day and night. The terminal voltage is the chemistry's resting
voltage for the state of charge, raised while charging and sagging under load, as a real bank
reads. Time comes from a callable, so a test or a demo can drive it as fast as it likes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import date, datetime, timedelta, tzinfo

from appliance.power.soc import voltage_from_soc
from appliance.settings.power import BatteryCurve, PowerSettings, SimulatedBatterySettings

NOMINAL_V = 12.8
MAX_STEP = timedelta(seconds=60)
CHARGE_EFFICIENCY = 0.9
INTERNAL_RESISTANCE_OHM = 0.02
ABSORPTION_V = {"lead_acid": 14.4, "lifepo4": 14.2}
FLOAT_V = {"lead_acid": 13.6, "lifepo4": 13.5}
LVD_BELOW_CRITICAL_V = 0.4  # the controller disconnects the load this far under our critical threshold


class SolarBatteryModel:
    def __init__(self, settings: SimulatedBatterySettings, curve: BatteryCurve, chemistry: str,
                 start: datetime, tz: tzinfo) -> None:
        self.settings = settings
        self.curve = curve
        self.absorption_v = ABSORPTION_V[chemistry]
        self.float_v = FLOAT_V[chemistry]
        self.tz = tz
        self.time = start
        self.soc_pct = settings.initial_soc_pct
        self.extra_load_w = 0.0  # the modem, while a window is open
        self.net_w = 0.0
        self.solar_w = 0.0
        self._cloud_cache: dict[date, float] = {}

    def sun_fraction(self, at: datetime) -> float:
        """Panel output 0..1 at ``at``: zero at night, a half sine by day, less under clouds."""
        local = at.astimezone(self.tz)
        hour = local.hour + local.minute / 60 + local.second / 3600
        rise, set_ = self.settings.sunrise_hour, self.settings.sunset_hour
        if not rise < hour < set_:
            return 0.0
        return math.sin(math.pi * (hour - rise) / (set_ - rise)) * self.cloud_factor(local.date())

    def cloud_factor(self, day: date) -> float:
        if day not in self._cloud_cache:
            draw = random.Random(self.settings.seed * 100_003 + day.toordinal())
            cloudy = draw.random() < self.settings.cloudy_day_probability
            self._cloud_cache[day] = draw.uniform(0.15, 0.45) if cloudy else draw.uniform(0.85, 1.0)
        return self._cloud_cache[day]

    def is_cloudy(self, day: date) -> bool:
        return self.cloud_factor(day) < 0.5

    def advance_to(self, at: datetime) -> None:
        if at <= self.time:  # time never runs backwards for a battery
            return
        capacity_wh = self.settings.capacity_ah * NOMINAL_V
        while self.time < at:
            step = min(MAX_STEP, at - self.time)
            middle = self.time + step / 2
            solar_w = self.settings.panel_w * self.sun_fraction(middle)
            if self.soc_pct >= 99.5:  # a full bank takes only what the load uses
                solar_w = min(solar_w, self.load_w)
            net_w = solar_w - self.load_w
            gained_wh = net_w * step.total_seconds() / 3600
            if gained_wh > 0:
                gained_wh *= CHARGE_EFFICIENCY
            self.soc_pct = min(100.0, max(0.0, self.soc_pct + 100 * gained_wh / capacity_wh))
            self.net_w, self.solar_w = net_w, solar_w
            self.time += step

    @property
    def load_w(self) -> float:
        return self.settings.load_w + self.extra_load_w

    @property
    def voltage(self) -> float:
        rest = voltage_from_soc(self.curve, self.soc_pct)
        if self.soc_pct >= 99.5 and self.solar_w >= self.load_w > 0:
            return self.float_v  # full, the controller holds float while the sun covers the load
        amps = self.net_w / NOMINAL_V
        if amps > 0:  # charging: the voltage climbs towards absorption as the bank fills
            lift = amps * INTERNAL_RESISTANCE_OHM * 10 + max(0.0, self.soc_pct - 80) / 20 * 1.2
            return min(self.absorption_v, rest + lift)
        return rest + amps * INTERNAL_RESISTANCE_OHM * 3  # sag under load

    @property
    def charging(self) -> bool:
        return self.net_w > 0


class SimulatedBatterySensor:
    """The model seen through an ideal 10-bit ADC with a little noise; the controller's pin too."""

    def __init__(
        self, model: SolarBatteryModel, settings: PowerSettings, now: Callable[[], datetime]
    ) -> None:
        self.model = model
        self._now = now
        self._lsb = settings.max_voltage / 1024
        self._noise = random.Random(model.settings.seed)
        self._lvd_v = settings.curve.critical_v - LVD_BELOW_CRITICAL_V
        self._pin_active = False
        self._callback: Callable[[bool], None] | None = None

    def read_voltage(self) -> float:
        self.model.advance_to(self._now())
        volts = self.model.voltage + self._noise.gauss(0.0, self._lsb)
        self._update_pin(volts)
        return round(round(volts / self._lsb) * self._lsb, 4)

    def low_voltage_active(self) -> bool:
        return self._pin_active

    def watch_low_voltage(self, callback: Callable[[bool], None]) -> None:
        self._callback = callback

    def close(self) -> None:
        self._callback = None

    def _update_pin(self, volts: float) -> None:
        active = volts < self._lvd_v
        if active != self._pin_active:
            self._pin_active = active
            if self._callback is not None:
                self._callback(active)
