"""State of charge from the battery's voltage, by linear interpolation in the chemistry's table.

Only meaningful at rest: under charge the voltage reads high and under load low, so the figure is
indicative (for people and telemetry); decisions use the voltage thresholds.
"""

from __future__ import annotations

from bisect import bisect_right

from appliance.settings.power import BatteryCurve


def soc_from_voltage(curve: BatteryCurve, voltage: float) -> float:
    """Percent (0-100) for ``voltage``; clamped to the table's ends."""
    volts, pcts = curve.voltages, curve.soc_pct
    if voltage <= volts[0]:
        return float(pcts[0])
    if voltage >= volts[-1]:
        return float(pcts[-1])
    upper = bisect_right(volts, voltage)
    v0, v1 = volts[upper - 1], volts[upper]
    p0, p1 = pcts[upper - 1], pcts[upper]
    return round(p0 + (p1 - p0) * (voltage - v0) / (v1 - v0), 1)


def voltage_from_soc(curve: BatteryCurve, soc_pct: float) -> float:
    """The resting voltage for a state of charge: the inverse, used by the simulated bank."""
    volts, pcts = curve.voltages, curve.soc_pct
    if soc_pct <= pcts[0]:
        return volts[0]
    if soc_pct >= pcts[-1]:
        return volts[-1]
    upper = bisect_right(pcts, soc_pct)
    p0, p1 = pcts[upper - 1], pcts[upper]
    v0, v1 = volts[upper - 1], volts[upper]
    return v0 if p1 == p0 else v0 + (v1 - v0) * (soc_pct - p0) / (p1 - p0)
