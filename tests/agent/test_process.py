"""The real ``appliance agent`` process: it tells systemd it is ready over a real unix datagram
socket, pings the watchdog, stops cleanly on SIGTERM, and refuses a bad configuration clearly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from appliance import config as config_module

ROOT = Path(__file__).resolve().parents[2]


def agent_process(config_path: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "appliance.agent", "--config", str(config_path)],
                            cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def receive_until(sock: socket.socket, wanted: bytes, deadline: float) -> list[bytes]:
    received: list[bytes] = []
    while time.monotonic() < deadline:
        try:
            message = sock.recv(4096)
        except TimeoutError:
            continue
        received.append(message)
        if message.startswith(wanted):
            return received
    raise AssertionError(f"{wanted!r} never came; got {received}")


def test_ready_watchdog_then_a_clean_stop_on_sigterm(tmp_path):
    config_path = tmp_path / "appliance.toml"
    config_path.write_text(config_module.dev_config_text(tmp_path), encoding="utf-8")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(0.5)
    process = agent_process(config_path, {"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "400000"})
    try:
        ready = receive_until(sock, b"READY=1", time.monotonic() + 30)
        assert b"STATUS=Batterie" in ready[-1]
        receive_until(sock, b"WATCHDOG=1", time.monotonic() + 5)
        process.send_signal(signal.SIGTERM)
        receive_until(sock, b"STOPPING=1", time.monotonic() + 10)
        _out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
        sock.close()
    assert process.returncode == 0, err
    assert "Agent arrêté proprement" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ('[uploads]\nwindows = ["06:00", "25:00"]\n', "heure de fenêtre invalide « 25:00 »"),
        ("[power]\nlow_voltage_pin = 10\n", "la broche 10 sert au bus SPI"),
        ('[power]\nlow_voltage_pin = "GPIO17"\n', "« power.low_voltage_pin » doit être un nombre entier"),
        ("[modem]\napn = \"internet orange\"\n", "modem.apn : point d'accès invalide"),
    ],
)
def test_a_bad_configuration_stops_with_one_clear_message(tmp_path, section, expected):
    config_path = tmp_path / "appliance.toml"
    config_path.write_text(config_module.dev_config_text(tmp_path) + section, encoding="utf-8")
    with pytest.raises(config_module.ConfigError) as caught:
        config_module.load(config_path)
    assert expected in str(caught.value)


def test_the_command_exits_with_the_message(tmp_path):
    config_path = tmp_path / "appliance.toml"
    config_path.write_text(config_module.dev_config_text(tmp_path) + '[uploads]\nwindows = ["6h"]\n', encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "appliance", "agent", "--config", str(config_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "uploads.windows : heure de fenêtre invalide « 6h »" in result.stderr
