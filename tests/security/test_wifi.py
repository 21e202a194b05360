"""The clinic's WiFi (issue 16): WPA3-SAE in WPA2 transition mode with protected management frames,
a passphrase of at least 12 characters, generated at provisioning when asked ("auto") and printed on
the sheet; the passphrase SAE needs is written by first boot into a root-only hostapd.conf."""

from __future__ import annotations

import dataclasses
import re
import shutil
import stat
import subprocess
from pathlib import Path

import jinja2
import yaml

from appliance.provision.first_boot import configure_hotspot
from appliance.provision.model import MIN_WIFI_PASSPHRASE, generate_wifi_passphrase
from tests.image.test_provision import GOOD

ROLE = Path(__file__).resolve().parents[2] / "ansible/roles/hotspot"
HOSTAPD = ROLE / "templates/hostapd.conf.j2"
DEFAULTS = ROLE / "defaults/main.yml"
GROUP_VARS = ROLE.parents[1] / "group_vars/all.yml"


def settings_of(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


def rendered_hostapd(tmp_path: Path) -> Path:
    """The role's template as Ansible renders it with the role's defaults."""
    defaults = {**yaml.safe_load(GROUP_VARS.read_text()), **yaml.safe_load(DEFAULTS.read_text())}
    conf = tmp_path / "etc/hostapd/hostapd.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(jinja2.Template(HOSTAPD.read_text(), undefined=jinja2.StrictUndefined).render(**defaults) + "\n")
    return conf


def test_hostapd_offers_wpa3_sae_with_wpa2_transition_and_keeps_no_passphrase():
    settings = settings_of(HOSTAPD.read_text())
    assert settings["wpa"] == "2" and settings["rsn_pairwise"] == "CCMP"
    # SAE for the phones that know it; WPA-PSK (and its SHA-256 variant) so older phones still join.
    assert settings["wpa_key_mgmt"].split() == ["WPA-PSK", "WPA-PSK-SHA256", "SAE"]
    assert settings["ieee80211w"] == "1" and settings["sae_require_mfp"] == "1"  # PMF optional, required for SAE
    assert "wpa_passphrase" not in settings and "sae_password" not in settings  # the image holds no secret


def test_first_boot_gives_sae_its_passphrase_in_a_root_only_file_and_hostapd_parses_it(tmp_path):
    conf = rendered_hostapd(tmp_path)
    configure_hotspot(conf, "Dossier-cscom-kati-01", GOOD.wifi_passphrase)
    settings = settings_of(conf.read_text())
    assert settings["ssid"] == "Dossier-cscom-kati-01" and settings["sae_password"] == GOOD.wifi_passphrase
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    configure_hotspot(conf, "CSCom Kati", "nouveau-mot-2025")  # provisioned again: replaced, not added
    assert [line for line in conf.read_text().splitlines() if line.startswith("sae_password=")] == [
        "sae_password=nouveau-mot-2025"]
    if shutil.which("hostapd"):
        parsed = subprocess.run(["timeout", "20", "hostapd", "-d", str(conf)], capture_output=True, text=True)
        log = parsed.stdout + parsed.stderr
        assert "errors found in configuration file" not in log and "Line " not in log, log


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
