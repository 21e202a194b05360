"""Settings of the ``[power]`` section: how the battery is measured and when the box protects itself.

Thresholds are in volts, per chemistry: brownout is a matter of voltage, and a LiFePO4 curve is
too flat for a state-of-charge threshold to be safe. The state-of-charge table is for people
(the Battery page, telemetry), not for decisions.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BatteryCurve:
    """A chemistry resolved: its resting-voltage → state-of-charge table and its thresholds."""

    voltages: list[float]
    soc_pct: list[float]
    low_v: float
    critical_v: float
    hysteresis_v: float

    def validate_as(self, name: str) -> list[str]:
        where = f"power.{name}"
        errors = []
        if len(self.voltages) != len(self.soc_pct) or len(self.voltages) < 2:
            errors.append(f"{where} : « voltages » et « soc_pct » de même longueur (au moins 2)")
        elif any(b <= a for a, b in zip(self.voltages, self.voltages[1:], strict=False)):
            errors.append(f"{where}.voltages : les tensions doivent être strictement croissantes")
        elif any(b < a for a, b in zip(self.soc_pct, self.soc_pct[1:], strict=False)) or not all(
            0 <= pct <= 100 for pct in self.soc_pct
        ):
            errors.append(f"{where}.soc_pct : pourcentages croissants entre 0 et 100")
        if not self.critical_v < self.low_v:
            errors.append(f"{where} : critical_v ({self.critical_v}) doit être sous low_v ({self.low_v})")
        if not 0 < self.hysteresis_v <= 1.0:
            errors.append(f"{where}.hysteresis_v : entre 0 et 1 V")
        return errors


BUILT_IN_CURVES = {
    # 12 V flooded/AGM bank at rest; the box must stop before the controller's load
    # disconnect (typically 11.1-11.4 V) and well below its reconnect voltage (~12.6 V).
    "lead_acid": BatteryCurve(
        voltages=[10.50, 11.31, 11.58, 11.75, 11.90, 12.06, 12.20, 12.32, 12.42, 12.50, 12.70],
        soc_pct=[0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100],
        low_v=11.9,
        critical_v=11.6,
        hysteresis_v=0.2,
    ),
    # 4S LiFePO4 at rest: flat between 13.0 and 13.3 V, steep at both ends.
    "lifepo4": BatteryCurve(
        voltages=[10.0, 12.0, 12.5, 12.8, 12.9, 13.0, 13.1, 13.2, 13.3, 13.4, 13.6],
        soc_pct=[0, 9, 14, 17, 20, 30, 40, 70, 90, 99, 100],
        low_v=12.9,
        critical_v=12.5,
        hysteresis_v=0.15,
    ),
}
CHEMISTRIES = tuple(BUILT_IN_CURVES)


@dataclass(frozen=True)
class ChemistrySettings:
    """``[power.lead_acid]`` / ``[power.lifepo4]``: any key given replaces the built-in value."""

    voltages: list[float] | None = None
    soc_pct: list[float] | None = None
    low_v: float | None = None
    critical_v: float | None = None
    hysteresis_v: float | None = None

    def resolve(self, chemistry: str) -> BatteryCurve:
        overrides = {name: value for name, value in vars(self).items() if value is not None}
        return dataclasses.replace(BUILT_IN_CURVES[chemistry], **overrides)


@dataclass(frozen=True)
class SimulatedBatterySettings:
    """The simulated bank and its solar day (``simulation = true``)."""

    capacity_ah: float = 60.0
    panel_w: float = 100.0
    load_w: float = 7.0
    modem_w: float = 2.5
    initial_soc_pct: float = 75.0
    cloudy_day_probability: float = 0.3
    sunrise_hour: float = 6.5
    sunset_hour: float = 18.75
    seed: int = 7
    speed: float = 1.0  # simulated seconds per real second: fast-forward for demos

    def validate(self) -> list[str]:
        errors = []
        if self.capacity_ah <= 0 or self.panel_w < 0 or self.load_w < 0 or self.modem_w < 0:
            errors.append("power.simulation : capacité, panneau et charges doivent être positifs")
        if not 0 <= self.initial_soc_pct <= 100:
            errors.append("power.simulation.initial_soc_pct : entre 0 et 100")
        if not 0 <= self.cloudy_day_probability <= 1:
            errors.append("power.simulation.cloudy_day_probability : entre 0 et 1")
        if not 0 <= self.sunrise_hour < self.sunset_hour <= 24:
            errors.append("power.simulation : sunrise_hour doit précéder sunset_hour (heures 0-24)")
        if self.speed <= 0:
            errors.append("power.simulation.speed : doit être positif")
        return errors


@dataclass(frozen=True)
class PowerSettings:
    chemistry: str = "lead_acid"
    # Measurement: battery → divider (R1 top, R2 bottom) → MCP3008 channel, over SPI.
    adc_channel: int = 0
    spi_device: int = 0  # chip select: 0 = CE0, 1 = CE1
    adc_vref: float = 3.3
    divider_ratio: float = 5.545  # (R1 + R2) / R2, e.g. 100 kΩ / 22 kΩ → 18.3 V full scale
    # The charge controller's low-voltage output (BCM number); absent = not wired.
    low_voltage_pin: int | None = None
    low_voltage_active_low: bool = True  # open collector pulled up: low means "battery low"
    low_voltage_confirm_s: float = 2.0
    sample_interval_s: int = 60
    smoothing_samples: int = 5
    plausible_min_v: float = 9.0
    plausible_max_v: float = 16.0
    max_jump_v: float = 1.0
    jump_confirm_samples: int = 3
    stuck_after_hours: float = 6.0
    sensor_fault_after_minutes: int = 15
    history_interval_minutes: int = 10
    history_retention_days: int = 60
    poweroff_command: list[str] = field(default_factory=lambda: ["systemctl", "poweroff"])
    lead_acid: ChemistrySettings = field(default_factory=ChemistrySettings)
    lifepo4: ChemistrySettings = field(default_factory=ChemistrySettings)
    simulation: SimulatedBatterySettings = field(default_factory=SimulatedBatterySettings)

    @property
    def curve(self) -> BatteryCurve:
        """The selected chemistry's table and thresholds, built-in values overridden by the config."""
        return getattr(self, self.chemistry).resolve(self.chemistry)

    @property
    def max_voltage(self) -> float:
        """Battery voltage at the ADC's full scale: what gpiozero's ``max_voltage`` must be."""
        return self.adc_vref * self.divider_ratio

    def validate(self) -> list[str]:
        errors = []
        if self.chemistry not in CHEMISTRIES:
            return [f"power.chemistry : « {self.chemistry} » inconnue (possibles : {', '.join(CHEMISTRIES)})"]
        for name in CHEMISTRIES:
            errors += getattr(self, name).resolve(name).validate_as(name)
        if not 0 <= self.adc_channel <= 7:
            errors.append("power.adc_channel : un canal du MCP3008, de 0 à 7")
        if self.spi_device not in (0, 1):
            errors.append("power.spi_device : 0 (CE0) ou 1 (CE1)")
        if self.low_voltage_pin is not None and not 2 <= self.low_voltage_pin <= 27:
            errors.append(f"power.low_voltage_pin : broche GPIO (BCM) de 2 à 27, pas {self.low_voltage_pin}")
        if self.low_voltage_pin in (8, 7, 9, 10, 11):
            errors.append(f"power.low_voltage_pin : la broche {self.low_voltage_pin} sert au bus SPI")
        if self.adc_vref <= 0 or self.divider_ratio < 1:
            errors.append("power : adc_vref doit être positif et divider_ratio au moins 1")
        elif self.max_voltage <= self.plausible_max_v:
            errors.append(
                f"power.divider_ratio : pleine échelle {self.max_voltage:.1f} V, trop basse pour mesurer "
                f"jusqu'à plausible_max_v = {self.plausible_max_v} V (augmentez le rapport du pont diviseur)"
            )
        if not 0 < self.plausible_min_v < self.curve.critical_v < self.curve.low_v < self.plausible_max_v:
            errors.append("power : il faut plausible_min_v < critical_v < low_v < plausible_max_v")
        if not 5 <= self.sample_interval_s <= 3600:
            errors.append("power.sample_interval_s : entre 5 et 3600 secondes")
        if not 1 <= self.smoothing_samples <= 30 or not 1 <= self.jump_confirm_samples <= 30:
            errors.append("power : smoothing_samples et jump_confirm_samples entre 1 et 30")
        if self.max_jump_v <= 0 or self.stuck_after_hours <= 0 or self.low_voltage_confirm_s < 0:
            errors.append("power : max_jump_v et stuck_after_hours positifs, low_voltage_confirm_s ≥ 0")
        if self.history_interval_minutes < 1 or self.history_retention_days < 7:
            errors.append("power : history_interval_minutes ≥ 1 et history_retention_days ≥ 7")
        if not self.poweroff_command:
            errors.append("power.poweroff_command : la commande d'extinction ne peut pas être vide")
        return errors
