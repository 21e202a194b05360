from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from appliance.power.filter import ReadingFilter, Rejection
from appliance.power.soc import soc_from_voltage, voltage_from_soc
from appliance.settings.power import PowerSettings

START = datetime(2025, 3, 1, tzinfo=UTC)


def offer_all(readings, settings=None):
    gate = ReadingFilter(settings or PowerSettings())
    return gate, [gate.offer(value, START + timedelta(minutes=i)) for i, value in enumerate(readings)]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [(float("nan"), Rejection.NOT_A_NUMBER), (float("inf"), Rejection.NOT_A_NUMBER), (None, Rejection.UNREADABLE),
     (3.1, Rejection.OUT_OF_RANGE), (17.5, Rejection.OUT_OF_RANGE), (-12.0, Rejection.OUT_OF_RANGE)],
)
def test_impossible_readings_are_rejected_with_their_reason(bad, reason):
    gate, verdicts = offer_all([12.5, 12.51, bad, 12.49])
    assert [v.accepted for v in verdicts] == [True, True, False, True]
    assert verdicts[2].reason is reason
    assert gate.rejected == {reason.value: 1}
    assert verdicts[2].smoothed == pytest.approx(12.505)


def test_the_median_shrugs_off_a_single_outlier_inside_the_jump_limit():
    _gate, verdicts = offer_all([12.50, 12.52, 11.70, 12.48, 12.51])
    assert verdicts[2].accepted  # 0.8 V below: within max_jump_v, accepted...
    assert verdicts[2].smoothed == pytest.approx(12.50)  # ...but the median ignores it


def test_a_jump_that_does_not_hold_stays_rejected():
    gate, verdicts = offer_all([12.5] * 3 + [14.5, 12.5, 14.5, 12.5])
    assert [v.reason for v in verdicts[3:]] == [Rejection.JUMP, None, Rejection.JUMP, None]
    assert gate.smoothed == pytest.approx(12.5)


def test_stuck_is_judged_on_time_not_on_count():
    settings = dataclasses.replace(PowerSettings(), stuck_after_hours=2)
    gate = ReadingFilter(settings)
    for minute in range(0, 121, 10):
        verdict = gate.offer(12.4, START + timedelta(minutes=minute))
    assert verdict.reason is Rejection.STUCK
    assert gate.offer(12.42, START + timedelta(minutes=130)).accepted


def test_state_of_charge_interpolates_and_clamps():
    curve = PowerSettings().curve
    assert soc_from_voltage(curve, 12.70) == 100
    assert soc_from_voltage(curve, 13.9) == 100
    assert soc_from_voltage(curve, 9.0) == 0
    assert soc_from_voltage(curve, 12.13) == pytest.approx(55.0)
    for pct in (5, 37.5, 64, 99):
        assert soc_from_voltage(curve, voltage_from_soc(curve, pct)) == pytest.approx(pct, abs=0.1)
