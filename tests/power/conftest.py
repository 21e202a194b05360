"""gpiozero's MockFactory and a mock MCP3008, so the real sensor code runs against fake pins.

``mock_factory`` follows gpiozero's own fixture (gpiozero/testing/fixtures.py): a fresh
MockFactory per test, reset afterwards even if the test fails (gpiozero issue #1087).
``MockMCP3008`` answers the SPI conversation of the MCP3008 datasheet (section 5: start bit,
SGL/DIFF bit, three channel bits, then a null bit and ten data bits, MSB first) with the
voltage set on each channel; gpiozero's software SPI talks to it through the mock pins.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockSPIDevice

from appliance.settings.power import PowerSettings

SPI_CLOCK, SPI_MOSI, SPI_MISO, SPI_CE0 = 11, 10, 9, 8
LOW_VOLTAGE_PIN = 17


class MockMCP3008(MockSPIDevice):
    def __init__(self, vref: float = 3.3) -> None:
        super().__init__(SPI_CLOCK, SPI_MOSI, SPI_MISO, SPI_CE0)
        self.vref = vref
        self.channels = [0.0] * 8
        self._phase = "wait_start"

    def on_start(self) -> None:
        super().on_start()
        self._phase = "wait_start"

    def on_bit(self) -> None:
        if self._phase == "wait_start":
            if self.rx_buf[-1]:
                self._phase, self.rx_buf = "mode", []
        elif self._phase == "mode":
            self._phase, self.rx_buf = "channel", []
        elif self._phase == "channel" and len(self.rx_buf) == 3:
            volts = min(max(self.channels[self.rx_word()], 0.0), self.vref)
            self.tx_word(min(1023, int(volts / self.vref * 1024)), 12)  # null bit + 10 bits, padded
            self._phase = "result"
        elif self._phase == "result" and not self.tx_buf:
            self._phase, self.rx_buf = "wait_start", []


@pytest.fixture
def mock_factory() -> Iterator[MockFactory]:
    saved = Device.pin_factory
    Device.pin_factory = MockFactory()
    try:
        yield Device.pin_factory
    finally:
        if Device.pin_factory is not None:
            Device.pin_factory.reset()
        Device.pin_factory = saved


@pytest.fixture
def adc(mock_factory) -> MockMCP3008:
    return MockMCP3008()


@pytest.fixture
def power_settings() -> PowerSettings:
    return dataclasses.replace(PowerSettings(), low_voltage_pin=LOW_VOLTAGE_PIN, low_voltage_confirm_s=0.0,
                               smoothing_samples=3, jump_confirm_samples=3)


def set_battery(adc: MockMCP3008, settings: PowerSettings, volts: float) -> None:
    """Put ``volts`` on the battery side of the divider: the ADC sees volts / ratio."""
    adc.channels[settings.adc_channel] = volts / settings.divider_ratio
