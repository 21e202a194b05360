"""ModemManager's JSON parsed from recorded answers; garbage gives a clear French error."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.modem.mmcli import MmcliError, parse_bearer, parse_modem, parse_modem_list

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def test_modem_list():
    assert parse_modem_list(fixture("modem_list.json")) == ["/org/freedesktop/ModemManager1/Modem/0"]
    assert parse_modem_list(fixture("modem_list_empty.json")) == []


def test_a_full_capture_with_unknown_values_as_double_dashes():
    info = parse_modem(fixture("modem_disabled_em06.json"))
    assert (info.index, info.state, info.model, info.manufacturer) == (0, "disabled", "EM06-E", "Quectel")
    assert info.registration is None and info.operator_name is None and info.failed_reason is None
    assert info.signal_pct == 0 and not info.signal_recent
    assert "wwan0 (net)" in info.ports and info.bearers == []
    assert not info.registered


def test_a_registered_3g_stick():
    info = parse_modem(fixture("modem_registered_e3372.json"))
    assert info.state == "registered" and info.registered
    assert (info.signal_pct, info.signal_recent) == (64, True)
    assert (info.registration, info.operator_name, info.operator_code) == ("home", "Orange ML", "61002")
    assert info.access_technologies == ["hsdpa", "hsupa"]


def test_failure_reason_and_sim_lock():
    assert parse_modem(fixture("modem_failed_sim_missing.json")).failed_reason == "sim-missing"
    assert parse_modem(fixture("modem_locked_sim_pin.json")).unlock_required == "sim-pin"


def test_bearers():
    static = parse_bearer(fixture("bearer_static_wwan0.json"))
    assert static.connected and static.interface == "wwan0" and static.ip_method == "static"
    assert (static.address, static.prefix, static.gateway, static.mtu) == ("10.34.12.7", 30, "10.34.12.8", 1500)
    assert static.dns == ["41.73.96.10", "41.73.96.11"]
    ppp = parse_bearer(fixture("bearer_ppp_ttyUSB0.json"))
    assert ppp.ip_method == "ppp" and ppp.address is None and ppp.prefix is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("error: couldn't find modem", "pas du JSON"),
        ("", "pas du JSON"),
        ('{"modem": "yes"}', "inattendue"),
        ('{"bearer": {}}', "« modem » absente"),
        ('{"modem": {"generic": {}}}', "incomplète"),
        ('{"modem": {"dbus-path": "/org/x/Modem/zero", "generic": {"state": "enabled"}}}', "chemin de modem"),
        ('{"modem-list": [1, 2]}', "liste de modems"),
        ("\x00\xff<html>proxy</html>", "pas du JSON"),
    ],
)
def test_garbage_is_a_clear_error_quoting_the_answer(text, words):
    parser = parse_modem_list if "modem-list" in text else parse_modem
    with pytest.raises(MmcliError) as caught:
        parser(text)
    assert words in str(caught.value)


def test_a_truncated_bearer_is_refused():
    with pytest.raises(MmcliError, match="porteuse"):
        parse_bearer('{"bearer": {"status": {"connected": "yes"}}}')
