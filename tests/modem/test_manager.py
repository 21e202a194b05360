"""The real modem driver against a recorded ModemManager: the commands it runs, the IP settings it
applies, and a clear error (never a crash) for everything the field throws at it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from appliance.modem.base import ModemError
from appliance.modem.hotplug import ModemPresence
from appliance.modem.manager import ModemManagerModem
from appliance.modem.mmcli import MmcliError, run_command
from appliance.settings.modem import ModemSettings

FIXTURES = Path(__file__).parent / "fixtures"
MMCLI = "/usr/bin/mmcli"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


class RecordedModemManager:
    """Answers mmcli's command line (``-L -J``, ``-m N -J``, ``-b PATH -J``, ``--simple-connect``,
    ``--simple-disconnect``, ``--disable``) with recorded JSON, and records every command run."""

    def __init__(self, modem="modem_registered_e3372.json", connected="modem_connected_e3372.json",
                 bearer="bearer_static_wwan0.json", modems="modem_list.json") -> None:
        self.modem, self.connected_modem, self.bearer_file, self.modems = modem, connected, bearer, modems
        self.connected = False
        self.commands: list[list[str]] = []

    def __call__(self, argv: list[str], timeout: float) -> str:
        assert timeout > 0
        self.commands.append(argv)
        if argv[0] != MMCLI:
            return ""  # ip, resolvectl, dhclient: succeed silently
        args = [arg for arg in argv[1:] if not arg.startswith("--timeout=")]
        if args == ["-L", "-J"]:
            return fixture(self.modems)
        if args[0] == "-m" and args[2:] == ["-J"]:
            return fixture(self.connected_modem if self.connected else self.modem)
        if args[0] == "-b":
            return fixture(self.bearer_file)
        if args[2].startswith("--simple-connect="):
            if "failed" in self.modem or "locked" in self.modem or "searching" in self.modem:
                raise MmcliError("mmcli -m 0 a échoué : couldn't connect the modem")
            self.connected = True
            return "successfully connected the modem\n"
        if args[2] in ("--simple-disconnect", "--disable"):
            self.connected = False
            return "successfully disconnected all bearers in the modem\n"
        raise AssertionError(f"unexpected command {argv}")

    def run(self, prefix: str) -> list[list[str]]:
        return [command for command in self.commands if command[0] == prefix]


def make(recorded: RecordedModemManager, **settings) -> ModemManagerModem:
    presence = ModemPresence()
    presence.port_added("/sys/devices/usb1/1-1/ttyUSB0", "ttyUSB0")
    return ModemManagerModem(ModemSettings(**settings), presence, now=lambda: datetime(2025, 3, 1, tzinfo=UTC),
                             runner=recorded)


def test_connect_applies_the_static_bearer_settings_and_disconnect_undoes_them():
    recorded = RecordedModemManager()
    modem = make(recorded, apn="internet.orange.ml", apn_user="orange", apn_password="orange")
    link = modem.connect(timeout_s=90)
    assert link.interface == "wwan0"
    connect = next(c for c in recorded.commands if any(a.startswith("--simple-connect=") for a in c))
    assert "--simple-connect=apn=internet.orange.ml,ip-type=ipv4,user=orange,password=orange" in connect
    assert "--timeout=90" in connect
    assert [c[1:] for c in recorded.run("ip")] == [
        ["addr", "flush", "dev", "wwan0"],
        ["addr", "add", "10.34.12.7/30", "dev", "wwan0"],
        ["link", "set", "dev", "wwan0", "mtu", "1500"],
        ["link", "set", "dev", "wwan0", "up"],
        ["route", "replace", "default", "via", "10.34.12.8", "dev", "wwan0"],
    ]
    assert recorded.run("resolvectl") == [["resolvectl", "dns", "wwan0", "41.73.96.10", "41.73.96.11"]]
    assert modem.link_up()
    status = modem.status()
    assert (status.state, status.signal_pct, status.registration, status.operator) == (
        "connected", 64, "home", "Orange ML")
    modem.disconnect()
    assert recorded.run("ip")[-2:] == [["ip", "addr", "flush", "dev", "wwan0"],
                                        ["ip", "link", "set", "dev", "wwan0", "down"]]
    assert not recorded.connected and not modem.link_up()


def test_dhcp_bearers_get_a_dhcp_client():
    recorded = RecordedModemManager(bearer="bearer_dhcp_wwan0.json")
    modem = make(recorded)
    modem.connect(timeout_s=60)
    assert recorded.run("dhclient") == [["dhclient", "-1", "wwan0"]]
    modem.disconnect()
    assert recorded.run("dhclient")[-1] == ["dhclient", "-r", "wwan0"]


@pytest.mark.parametrize(
    ("recording", "message"),
    [
        (dict(modem="modem_failed_sim_missing.json"), "pas de carte SIM"),
        (dict(modem="modem_locked_sim_pin.json"), r"SIM verrouillée \(sim-pin\)"),
        (dict(modem="modem_searching_no_coverage.json"), "couldn't connect"),
        (dict(modems="modem_list_empty.json"), "ModemManager ne voit aucun modem"),
        (dict(bearer="bearer_ppp_ttyUSB0.json"), "méthode IP « ppp » non prise en charge"),
    ],
)
def test_field_failures_are_clear_errors(recording, message):
    modem = make(RecordedModemManager(**recording))
    with pytest.raises(ModemError, match=message):
        modem.connect(timeout_s=60)


def test_a_garbled_answer_is_an_error_in_status_not_a_crash():
    def garbled(argv, timeout):
        return "\x1b[31mModemManager is not running\x1b[0m"

    modem = make(RecordedModemManager())
    modem._mmcli.runner = garbled
    status = modem.status()
    assert status.present and status.state == "unknown" and "illisible" in status.error
    with pytest.raises(ModemError):
        modem.connect(timeout_s=30)


def test_no_modem_plugged_means_absent_without_asking_modemmanager():
    recorded = RecordedModemManager()
    modem = ModemManagerModem(ModemSettings(), ModemPresence(), now=lambda: datetime.now(UTC), runner=recorded)
    assert modem.status().present is False and recorded.commands == []


def test_run_command_reports_missing_binary_failure_and_timeout(tmp_path):
    with pytest.raises(MmcliError, match="introuvable"):
        run_command([str(tmp_path / "mmcli"), "-L"], 5)
    with pytest.raises(MmcliError, match="a échoué : no modem"):
        run_command(["sh", "-c", "echo 'no modem' >&2; exit 1"], 5)
    with pytest.raises(MmcliError, match="ne répond pas"):
        run_command(["sleep", "5"], 0.2)
    assert json.loads(run_command(["echo", '{"modem-list": []}'], 5)) == {"modem-list": []}
