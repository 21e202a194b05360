"""The real battery sensor: an MCP3008 over SPI behind a voltage divider, and the charge
controller's low-voltage output on a GPIO pin, both through gpiozero.

gpiozero does the scaling: with ``max_voltage = adc_vref × divider_ratio`` its ``voltage``
property is the battery's voltage directly. Pin edges arrive on gpiozero's own event thread
(interrupts, no polling); the callback only hands them to the monitor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from appliance.power.monitor import SensorError
from appliance.settings.power import PowerSettings

log = logging.getLogger(__name__)


class GpioBatterySensor:
    def __init__(self, settings: PowerSettings, *, pin_factory: Any = None) -> None:
        try:
            from gpiozero import MCP3008, DigitalInputDevice
            from gpiozero.exc import GPIOZeroError
        except ImportError as exc:  # pragma: no cover - gpiozero is a dependency
            raise SensorError(f"gpiozero absent : {exc}") from exc
        self._gpio_error = GPIOZeroError
        try:
            self._adc = MCP3008(
                channel=settings.adc_channel,
                device=settings.spi_device,
                max_voltage=settings.max_voltage,
                pin_factory=pin_factory,
            )
            self._pin = None
            if settings.low_voltage_pin is not None:
                self._pin = DigitalInputDevice(
                    settings.low_voltage_pin, pull_up=settings.low_voltage_active_low, pin_factory=pin_factory
                )
        except (GPIOZeroError, OSError, RuntimeError) as exc:
            raise SensorError(
                f"Impossible d'ouvrir le convertisseur MCP3008 ou la broche GPIO ({exc}). Sur un poste sans "
                "GPIO, lancez l'agent avec --simulate ou « simulation = true »."
            ) from exc

    def read_voltage(self) -> float:
        try:
            return float(self._adc.voltage)
        except (self._gpio_error, OSError) as exc:
            raise SensorError(f"lecture SPI du MCP3008 impossible : {exc}") from exc

    def low_voltage_active(self) -> bool:
        return bool(self._pin is not None and self._pin.is_active)

    def watch_low_voltage(self, callback: Callable[[bool], None]) -> None:
        if self._pin is None:
            return
        self._pin.when_activated = lambda: callback(True)
        self._pin.when_deactivated = lambda: callback(False)
        if self._pin.is_active:  # already low at start-up: no edge will come
            callback(True)

    def close(self) -> None:
        for device in (self._pin, self._adc):
            if device is not None:
                device.close()
