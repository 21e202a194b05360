"""The hotspot and firewall templates of the roles, rendered and run for real (fast: no image needed).

The slow tests check the same things on the built tree; these catch a broken template in seconds.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.image.netcheck import (
    BOX_HOTSPOT,
    BOX_MODEM,
    answered_address,
    dnsmasq_answers,
    dnsmasq_test,
    firewall_reachability,
    hostapd_parse,
    nft_check,
    render,
)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root (CI runs as root)")


def require(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} missing: install the packages of .ci/apt-packages.txt")


@pytest.fixture
def ruleset(tmp_path: Path) -> Path:
    require("nft")
    return render("firewall", "nftables.conf.j2", tmp_path / "nftables.conf")


def test_ruleset_loads(ruleset: Path) -> None:
    result = nft_check(ruleset)
    assert result.returncode == 0, result.stderr


@needs_root
def test_firewall_answers_the_hotspot_and_drops_the_modem(ruleset: Path) -> None:
    require("ip")
    results, modem_drops = firewall_reachability(ruleset)
    assert results[(BOX_HOTSPOT, 8080)] == "open"
    assert results[(BOX_HOTSPOT, 80)] == "open", "port 80 is redirected to the EMR"
    assert results[(BOX_HOTSPOT, 22)] == "open"
    assert {results[(BOX_MODEM, port)] for port in (8080, 80, 22)} == {"closed"}
    assert modem_drops >= 3


@needs_root
def test_dnsmasq_answers_the_local_name_on_the_hotspot_only(ruleset: Path, tmp_path: Path) -> None:
    require("dnsmasq")
    conf = render("hotspot", "dnsmasq.conf.j2", tmp_path / "appliance.conf")
    check = dnsmasq_test(conf)
    assert check.returncode == 0 and "syntax check OK" in check.stderr, check.stderr
    replies = dnsmasq_answers(conf, ruleset, tmp_path, "dossier.clinique")
    assert answered_address(replies[BOX_HOTSPOT]) == BOX_HOTSPOT
    assert replies[BOX_MODEM] == b"", "DNS must not answer on the modem"
    outside = dnsmasq_answers(conf, ruleset, tmp_path, "example.org")[BOX_HOTSPOT]
    assert outside and answered_address(outside) is None, "no upstream: other names get no address"


def test_hostapd_config_parses(tmp_path: Path) -> None:
    require("hostapd")
    conf = render("hotspot", "hostapd.conf.j2", tmp_path / "hostapd.conf")
    output = hostapd_parse(conf)
    assert "errors found in configuration file" not in output and "Line " not in output, output
    assert "wlan0" in output, output
