"""WHO growth z-scores checked against values WHO published with its own software.

Sources of the expected values (never computed by our code):
- WHO anthro R package (github.com/WorldHealthOrganization/anthro): README example of
  ``anthro_zscores`` and its test suite (tests/testthat/*.R), and the reference manual examples.
- WHO igrowup macro output for WHO's example survey (tests/clinical/data/who_igrowup_mysurvey_z_st.csv).
"""

import csv
from pathlib import Path

import pytest

from appliance.clinical import growth
from appliance.clinical.growth import anthropometry, value_at_z, zscore

DATA = Path(__file__).with_name("data")
DAYS_PER_MONTH = 30.4375


# anthro README: anthro_zscores(sex=c(1,2,1,1), age=c(1001,1000,1010,1000), weight=c(18,15,10,15),
# lenhei=c(120,80,100,100)) -> zlen, zwei, zwfl (here weight-for-height: age >= 731 days), zbmi.
README_EXAMPLE = [
    ("M", 1001, 18, 120, 7.31, 2.20, -2.39, -3.01),
    ("F", 1000, 15, 80, -3.50, 0.95, 4.13, 4.66),
    ("M", 1010, 10, 100, 1.62, -2.76, -5.19, -5.61),
    ("M", 1000, 15, 100, 1.70, 0.69, -0.29, -0.58),
]


@pytest.mark.parametrize(("sex", "age", "weight", "height", "zlen", "zwei", "zwfh", "zbmi"), README_EXAMPLE)
def test_anthro_readme_example_every_indicator(sex, age, weight, height, zlen, zwei, zwfh, zbmi):
    assert zscore("lhfa", sex, age, height) == zlen
    assert zscore("wfa", sex, age, weight) == zwei
    assert zscore("wfh", sex, age, weight, length_cm=height) == zwfh
    assert zscore("bfa", sex, age, weight / (height / 100) ** 2) == zbmi


def test_restricted_lms_beyond_plus_and_minus_three_sd():
    # Weight-for-height 4.13 (girl) and -5.19 (boy), BMI-for-age 4.66 and -5.61 (README above) only come
    # out with WHO's restricted LMS application; the plain LMS formula gives other numbers.
    table = growth.table("wfh", "M")
    l, m, s = table.lms_at(100)  # noqa: E741
    plain = round(((10 / m) ** l - 1) / (l * s), 2)
    assert plain != -5.19
    assert zscore("wfh", "M", 1010, 10, length_cm=100) == -5.19
    # anthro reference manual: a 10 kg girl aged 10, 20, 30 days -> 10.46, 9.14, 8.01.
    assert [zscore("wfa", "F", days, 10) for days in (10, 20, 30)] == [10.46, 9.14, 8.01]


def test_length_for_age_is_not_restricted():
    # anthro tests: boy 987 days, 72.86 cm measured lying -> 72.16 cm standing -> -6.09 (plain LMS, L = 1).
    assert anthropometry("M", 987, lenhei_cm=72.86, measure="l").haz == -6.09
    assert zscore("lhfa", "M", 987, 72.16) == -6.09


def test_anthro_test_suite_values():
    # test-zscore-weight-for-age.R: girl, 1522 days, 17 kg -> 0.24
    assert zscore("wfa", "F", 1522, 17) == 0.24
    # anthro reference manual: girl aged 10 months, 10 kg -> 1.33 (months converted with 30.4375)
    assert zscore("wfa", "F", 10 * DAYS_PER_MONTH, 10) == 1.33
    # test-zscores.R "height measurements are used for age 24 months": girl 24 months, 77.5 cm -> -2.55
    assert anthropometry("F", 24 * DAYS_PER_MONTH, lenhei_cm=77.5).haz == -2.55
    # test-zscores.R: standing before 9 months is ignored, from 9 months +0.7 cm -> -4.81, -5.02
    before = anthropometry("M", 8 * DAYS_PER_MONTH, lenhei_cm=60, measure="h")
    after = anthropometry("M", 9 * DAYS_PER_MONTH, lenhei_cm=60, measure="h")
    assert (before.lenhei_cm, before.haz) == (60, -4.81)
    assert (after.lenhei_cm, after.haz) == (pytest.approx(60.7), -5.02)


def test_no_z_score_from_60_months_as_in_anthro():
    # test-zscores.R "zcores are only computed for children younger to 60 months": boy, 59.9, 60 and
    # 60.1 months, 80 cm standing, 20 kg: only the first has z-scores (wfl/wfh included).
    first, *others = (anthropometry("M", months * DAYS_PER_MONTH, 20, 80, "h") for months in (59.9, 60, 60.1))
    assert None not in (first.waz, first.haz, first.whz, first.baz)
    for result in others:
        assert (result.waz, result.haz, result.whz, result.baz) == (None, None, None, None)
    assert isinstance(zscore("wfa", "F", 1826, 18), float)  # 59.99 months
    with pytest.raises(ValueError, match="avant 60 mois"):
        zscore("wfa", "F", 1827, 18)
    with pytest.raises(ValueError, match="avant 60 mois"):
        zscore("wfh", "F", 1827, 18, length_cm=108)
    assert zscore("wfh", "F", None, 18, length_cm=108) == zscore("wfh", "F", 1826, 18, length_cm=108)


def test_standing_before_nine_months_uses_the_unrounded_age():
    # anthro compares age in months before any rounding: 273.7 days is 8.99 months, so a standing
    # measure is not trusted (no +0.7 cm), although the age rounds to 274 days (9.00 months).
    assert anthropometry("M", 273.7, lenhei_cm=65, measure="h").lenhei_cm == 65
    assert anthropometry("M", 274, lenhei_cm=65, measure="h").lenhei_cm == pytest.approx(65.7)


def _golden_rows():
    with (DATA / "who_igrowup_mysurvey_z_st.csv").open(encoding="utf-8") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    return list(csv.DictReader(lines))


def _number(text):
    return float(text) if text else None


def test_who_igrowup_reference_survey_all_indicators():
    """Every z-score WHO's igrowup macro produced for its example survey, both sexes, 0-1856 days.

    Except from 60 months of age: the old macro still scored 1827-1856 days, WHO's anthro (0.9.3 on,
    "z-scores are now only computed for age < 60 months", a bug fix) scores none, and neither do we."""
    rows = _golden_rows()
    compared = beyond_three_sd = over_five = 0
    sexes = set()
    for row in rows:
        age_days = _number(row["age_days"])
        result = anthropometry(
            row["sex"], age_days, _number(row["weight_kg"]), _number(row["lenhei_cm"]),
            row["measure"] or None, oedema=row["oedema"] == "y",
        )
        five = age_days is not None and age_days / DAYS_PER_MONTH >= 60
        over_five += five
        for column, ours in (("zlen", result.haz), ("zwei", result.waz), ("zwfl", result.whz),
                             ("zbmi", result.baz)):
            expected = None if five else _number(row[column])
            assert ours == expected, f"id {row['id']} {column}: WHO {expected}, nous {ours}"
            if expected is not None:
                compared += 1
                sexes.add(row["sex"])
                beyond_three_sd += column != "zlen" and abs(expected) > 3
        if row["clenhei"]:
            assert result.lenhei_cm == pytest.approx(float(row["clenhei"]))
    assert compared > 1800
    assert over_five == 4
    assert beyond_three_sd >= 15
    assert sexes == {"M", "F"}


def test_weight_for_length_interpolates_between_tenth_of_cm_rows():
    lower = growth.table("wfl", "F").lms_at(70.1)
    upper = growth.table("wfl", "F").lms_at(70.2)
    middle = growth.table("wfl", "F").lms_at(70.15)
    assert middle == pytest.approx(tuple((a + b) / 2 for a, b in zip(lower, upper, strict=True)))
    assert zscore("wfl", "F", None, lower[1], length_cm=70.1) == 0
    assert zscore("wfl", "F", None, (lower[1] + upper[1]) / 2, length_cm=70.15) == 0


def test_curves_match_who_published_sd_columns():
    # WHO expanded tables, weight-for-age boys, day 0: SD3neg 2.080, SD2neg 2.459, SD0 3.346, SD3 5.031.
    assert value_at_z("wfa", "M", 0, -3) == pytest.approx(2.080, abs=6e-4)
    assert value_at_z("wfa", "M", 0, -2) == pytest.approx(2.459, abs=6e-4)
    assert value_at_z("wfa", "M", 0, 0) == pytest.approx(3.346, abs=6e-4)
    assert value_at_z("wfa", "M", 0, 3) == pytest.approx(5.031, abs=6e-4)
    # Weight-for-height boys 120 cm: SD2neg 18.624, SD2 27.167 (WHO expanded wfh table).
    assert value_at_z("wfh", "M", 120, -2) == pytest.approx(18.624, abs=6e-4)
    assert value_at_z("wfh", "M", 120, 2) == pytest.approx(27.167, abs=6e-4)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: zscore("wfa", "M", 1857, 12), "1857 jours"),
        (lambda: zscore("lhfa", "F", -1, 50), "hors des tables"),
        (lambda: zscore("bfa", "F", 1900, 15), "avant 60 mois"),
        (lambda: zscore("wfl", "M", 100, 8, length_cm=44.9), "45 à 110 cm"),
        (lambda: zscore("wfl", "M", 100, 8, length_cm=110.1), "45 à 110 cm"),
        (lambda: zscore("wfh", "F", 800, 8, length_cm=64.9), "65 à 120 cm"),
        (lambda: zscore("wfh", "F", 800, 25, length_cm=121), "65 à 120 cm"),
        (lambda: zscore("wfh", "F", 1900, 15, length_cm=100), "1900 jours"),
        (lambda: zscore("wfl", "M", 100, 8), "obligatoire"),
        (lambda: zscore("wfa", "M", None, 8), "obligatoire"),
        (lambda: zscore("wfa", "X", 100, 8), "sexe"),
        (lambda: zscore("hcfa", "M", 100, 40), "indicateur"),
        (lambda: zscore("wfa", "M", 100, 0), "positif"),
        (lambda: zscore("wfa", "M", 100, float("nan")), "positif"),
    ],
)
def test_outside_the_tables_is_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_table_edges_are_inside():
    assert isinstance(zscore("wfa", "F", 1826, 18), float)
    assert value_at_z("wfa", "F", 1856, 0) == pytest.approx(18.389)  # the curves still reach the last row
    assert isinstance(zscore("wfl", "M", None, 2.441, length_cm=45), float)
    assert zscore("wfh", "M", None, 22.353, length_cm=120) == 0


def test_oedema_suppresses_weight_based_scores_and_flags_implausible_values():
    swollen = anthropometry("F", 400, weight_kg=8, lenhei_cm=72, oedema=True)
    assert (swollen.waz, swollen.whz, swollen.baz) == (None, None, None)
    assert swollen.haz is not None
    implausible = anthropometry("M", 1010, weight_kg=6, lenhei_cm=100)
    assert "wfh" in implausible.implausible
    assert anthropometry("M", 1000, 15, 100).implausible == ()


def test_without_age_the_measure_decides_between_length_and_height():
    assert anthropometry("M", None, 10, 80).whz_indicator == "wfl"
    assert anthropometry("M", None, 12, 90).whz_indicator == "wfh"
    assert anthropometry("M", None, 12, 90, measure="l").whz_indicator == "wfl"
