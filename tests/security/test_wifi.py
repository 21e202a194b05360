"""The clinic's WiFi (issue 16): WPA2 with protected management frames, a passphrase of at least
12 characters, generated at provisioning when asked ("auto") and printed on the sheet only."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from appliance.provision.model import MIN_WIFI_PASSPHRASE, generate_wifi_passphrase
from tests.image.test_provision import GOOD

HOSTAPD = Path(__file__).resolve().parents[2] / "ansible/roles/hotspot/templates/hostapd.conf.j2"


def test_hostapd_offers_protected_management_frames_and_keeps_no_passphrase():
    settings = dict(line.split("=", 1) for line in HOSTAPD.read_text().splitlines()
                    if line and not line.startswith("#"))
    assert settings["ieee80211w"] == "1" and "WPA-PSK-SHA256" in settings["wpa_key_mgmt"].split()
    assert settings["wpa"] == "2" and settings["rsn_pairwise"] == "CCMP"
    assert "wpa_passphrase" not in settings and "sae_password" not in settings


def test_a_short_passphrase_is_refused_at_provisioning():
    assert MIN_WIFI_PASSPHRASE == 12
    problems = dataclasses.replace(GOOD, wifi_passphrase="clinique-11").problems()
    assert any("12 à 63 caractères" in problem for problem in problems)


def test_a_generated_passphrase_is_long_random_and_typeable():
    made = {generate_wifi_passphrase() for _ in range(50)}
    assert len(made) == 50
    for passphrase in made:
        assert re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", passphrase) and not set(passphrase) & set("01ilo")
        assert dataclasses.replace(GOOD, wifi_passphrase=passphrase).problems() == []
