"""The visit forms' limits come from clinical/data/visit_checks.toml: read, typed, and checked."""

from __future__ import annotations

import pytest

from appliance.clinical.visit_checks import DATA_FILE, Range, load_checks


def test_the_shipped_limits_read_as_the_forms_use_them():
    checks = load_checks()
    assert checks.range("antenatal", "hb_g_dl") == Range(6, 16)
    assert checks.value("antenatal", "sp_from_weeks") == 13
    assert checks.pair("vital_signs", "very_high_bp", "systolic", "diastolic") == (180, 110)
    assert checks.range("vital_signs", "temperature_c").outside(40.6)
    assert not checks.range("vital_signs", "temperature_c").outside(37.0)


def test_a_missing_or_mistyped_limit_names_the_file_and_the_key(tmp_path):
    edited = tmp_path / "visit_checks.toml"
    edited.write_text(DATA_FILE.read_text(encoding="utf-8").replace("hb_g_dl = { low = 6, high = 16 }",
                                                                    "hb_g_dl = { low = 16, high = 6 }"),
                      encoding="utf-8")
    checks = load_checks(edited)
    with pytest.raises(ValueError, match=r"visit_checks.toml : \[antenatal\] hb_g_dl"):
        checks.range("antenatal", "hb_g_dl")
    with pytest.raises(ValueError, match=r"\[antenatal\] nope manquant"):
        checks.value("antenatal", "nope")
    with pytest.raises(ValueError, match="doit être un nombre"):
        checks.value("vital_signs", "temperature_c")

