"""A real publishing process dies or freezes mid-window: the broker announces ``lost``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.telemetry.conftest import CLINICS

KEEPALIVE_S = 2
STATE = "clinic/ml-kati/$state"


@pytest.fixture
def publishing_process(tmp_path: Path, broker):
    """``python -m appliance.telemetry send --hold 60`` with a provisioned config and password file."""
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "mqtt_password").write_text(CLINICS["ml-kati"] + "\n")
    config = tmp_path / "appliance.toml"
    config.write_text(f"""
[site]
id = "ml-kati"
name = "CSCom de Kati"

[paths]
data_dir = "{tmp_path / 'data'}"
secrets_dir = "{secrets_dir}"

[telemetry]
enabled = true
broker_host = "127.0.0.1"
broker_port = {broker.port}
tls = false
keepalive_s = {KEEPALIVE_S}
""")
    process = subprocess.Popen(
        [sys.executable, "-m", "appliance.telemetry", "send", "--config", str(config), "--hold", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=Path(__file__).resolve().parents[2],
    )
    yield process
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=10)


def wait_until_ready(recorder, process) -> None:
    for _ in range(600):  # at most a minute: a loaded CI machine starts Python slowly
        if process.poll() is not None:
            raise AssertionError(process.communicate(timeout=10))
        try:
            recorder.wait_for_payload(STATE, b"ready", timeout=0.1)
            return
        except AssertionError:
            continue
    raise AssertionError("the publishing process never reported ready")


def test_kill_9_leaves_lost_within_the_keepalive(recorder, publishing_process):
    wait_until_ready(recorder, publishing_process)
    os.kill(publishing_process.pid, signal.SIGKILL)
    recorder.wait_for_payload(STATE, b"lost", timeout=KEEPALIVE_S * 1.5 + 1)
    assert recorder.payloads(STATE) == [b"init", b"ready", b"lost"]


def test_a_frozen_clinic_is_declared_lost_by_the_broker_keepalive(recorder, publishing_process):
    """No FIN ever arrives (modem lost power, process hung): only the keepalive can tell."""
    wait_until_ready(recorder, publishing_process)
    os.kill(publishing_process.pid, signal.SIGSTOP)
    try:
        # MQTT asks for 1.5 × keepalive; Mosquitto 2.0.11 (Debian 12) checks on a coarse tick and
        # was measured at 2.5-3 × keepalive, hence the bound.
        recorder.wait_for_payload(STATE, b"lost", timeout=KEEPALIVE_S * 3 + 2)
    finally:
        os.kill(publishing_process.pid, signal.SIGKILL)
