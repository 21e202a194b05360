"""Acute malnutrition classification: WHO thresholds, oedema, MUAC age range, reasons in French."""

import pytest

from appliance.clinical.nutrition import assess_child, classify

SIX_MONTHS = 183  # 6 x 30.4375 days, rounded up
TWO_YEARS = 731


@pytest.mark.parametrize(
    ("muac", "category", "reason"),
    [
        (112, "SAM", "PB 112 mm < 115 mm"),
        (114.9, "SAM", "PB 114,9 mm < 115 mm"),
        (115, "MAM", "PB 115 mm < 125 mm"),
        (124, "MAM", "PB 124 mm < 125 mm"),
        (125, "normal", None),
    ],
)
def test_muac_thresholds(muac, category, reason):
    status = classify(TWO_YEARS, muac_mm=muac)
    assert status.category == category
    assert status.reasons == ((reason,) if reason else ())


@pytest.mark.parametrize(
    ("whz", "category", "reason"),
    [
        (-3.2, "SAM", "Z poids/taille −3,2 < −3"),
        (-3.0, "MAM", "Z poids/taille −3 < −2"),
        (-2.01, "MAM", "Z poids/taille −2,01 < −2"),
        (-2.0, "normal", None),
        (1.5, "normal", None),
    ],
)
def test_weight_for_height_thresholds(whz, category, reason):
    status = classify(TWO_YEARS, whz=whz)
    assert status.category == category
    assert status.reasons == ((reason,) if reason else ())


def test_bilateral_oedema_is_always_severe():
    status = classify(TWO_YEARS, muac_mm=140, whz=0.5, oedema=True)
    assert status.category == "SAM"
    assert status.label == "Malnutrition aiguë sévère (MAS)"
    assert status.reasons == ("Œdèmes bilatéraux (prenant le godet)",)


def test_worst_class_wins_and_every_reason_is_listed_worst_first():
    status = classify(TWO_YEARS, muac_mm=120, whz=-3.5)
    assert status.category == "SAM"
    assert status.reasons == ("Z poids/taille −3,5 < −3", "PB 120 mm < 125 mm")
    assert status.is_malnourished


def test_muac_is_not_interpreted_before_6_or_from_60_months():
    young = classify(120, muac_mm=100)
    assert young.category == "normal"
    assert young.notes == ("PB non interprété : enfant de 3 mois (PB utilisé de 6 à 59 mois)",)
    assert classify(SIX_MONTHS, muac_mm=100).category == "SAM"
    assert classify(1826, muac_mm=100).category == "SAM"  # 59.99 months
    assert classify(1827, muac_mm=100).category == "normal"  # 60.03 months
    # Below 6 months weight-for-length still classifies.
    assert classify(120, muac_mm=100, whz=-3.4).category == "SAM"


def test_nothing_measured_is_normal_without_reasons():
    status = classify(TWO_YEARS)
    assert (status.category, status.reasons, status.label) == ("normal", (), "Pas de malnutrition aiguë")


def test_assess_child_computes_whz_from_raw_measures():
    # WHO anthro README: boy 1010 days, 10 kg, 100 cm standing -> weight-for-height -5.19.
    status = assess_child("M", 1010, weight_kg=10, lenhei_cm=100, measure="h", muac_mm=130)
    assert status.category == "SAM"
    assert status.whz == -5.19
    assert status.reasons == ("Z poids/taille −5,19 < −3",)
    healthy = assess_child("M", 1000, weight_kg=15, lenhei_cm=100, muac_mm=150)
    assert healthy.category == "normal"
    swollen = assess_child("F", 400, weight_kg=9, lenhei_cm=72, oedema=True)
    assert (swollen.category, swollen.whz) == ("SAM", None)
