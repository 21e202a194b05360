"""``make run`` end to end: `appliance simulate` as a developer starts it, in a fresh instance folder.

Real processes (web, agent in simulation, fake DHIS2, district service) on free loopback ports: the
banner gives the demo accounts, the EMR answers with demo patients, the demo district clinician reads
the demo clinic's second opinion on the district service, a simulated USB stick gets its backup, and
Ctrl-C (SIGINT to the process group, as a terminal sends it) stops everything cleanly. A second
start reuses the data and the same accounts.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.bench.support import Session, free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _start(instance: Path, port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "appliance", "simulate", "--instance", str(instance),
                             "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _read_banner(process: subprocess.Popen, timeout: float = 240) -> str:
    """Output up to the banner's last line (the first start seeds 3,000 demo patients)."""
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if selector.select(timeout=1) and (line := process.stdout.readline()):
            lines.append(line)
            if "Ctrl-C pour arrêter" in line:
                return "".join(lines)
        elif process.poll() is not None:
            break
    raise AssertionError("no banner:\n" + "".join(lines))


def _wait_until_up(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/connexion", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"the EMR did not answer on port {port}")


def _stop_with_ctrl_c(process: subprocess.Popen) -> str:
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=30)
    return output


def _free_pair() -> int:
    """A port whose next two are free too (the fake DHIS2 listens on port + 1, the district on port + 2)."""
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket() as probe, socket.socket() as other:
                probe.bind(("127.0.0.1", port + 1))
                other.bind(("127.0.0.1", port + 2))
            return port
        except OSError:
            continue
    raise AssertionError("no free pair of ports")


def _district_reads_the_demo_case(banner: str, port: int, instance: Path) -> None:
    """The banner's district login opens the demo clinic's second opinion, taken there at start."""
    from urllib.parse import urlencode

    found = re.search(r"Service du district : http://127\.0\.0\.1:(\d+)/ \(clinicien : (\w+) / (\S+)\)", banner)
    assert found and int(found.group(1)) == port + 2, banner
    assert (instance / "secrets" / "district-credentials.txt").stat().st_mode & 0o777 == 0o600
    district = Session(port + 2)
    _, page, _ = district.request("GET", "/connexion")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    status, _, _ = district.request("POST", "/connexion", urlencode(
        {"csrf_token": token, "username": found.group(2), "password": found.group(3)}))
    assert status == 302
    status, cases, _ = district.request("GET", "/")
    assert status == 200 and "faut-il référer" in cases, cases[-1500:]


def test_make_run_serves_the_emr_with_demo_data_and_stops_on_ctrl_c(tmp_path):
    instance, port = tmp_path / "instance", _free_pair()
    process = _start(instance, port)
    try:
        banner = _read_banner(process)
        credentials = dict(re.findall(r"^\s{4}(\w+)\s+(\S+)$", banner, flags=re.MULTILINE))
        assert set(credentials) == {"medecin", "sage_femme", "infirmier", "matrone", "agent_saisie", "admin"}
        assert f"http://127.0.0.1:{port}/" in banner
        _wait_until_up(port)

        session = Session(port)
        session.login("medecin", credentials["medecin"])
        status, page, _ = session.request("GET", "/patients/?q=traore")
        assert status == 200 and page.count('class="meta"') >= 10  # demo patients found
        token = (instance / "secrets" / "dhis2_token").read_text().strip()
        request = urllib.request.Request(f"http://127.0.0.1:{port + 1}/api/system/info",
                                         headers={"Authorization": f"ApiToken {token}"})
        with urllib.request.urlopen(request, timeout=5) as info:  # the fake national DHIS2, with its token
            assert info.status == 200 and b"version" in info.read()
        assert (instance / "secrets" / "demo-credentials.txt").stat().st_mode & 0o777 == 0o600
        _district_reads_the_demo_case(banner, port, instance)

        stick = instance / "data" / "simulated-usb" / "CLE" / "appliance-backups"
        assert f"mkdir -p {stick}" in banner
        stick.mkdir(parents=True)
        deadline = time.monotonic() + 90
        # The stick holds an encrypted restic repository (issue 16): a snapshot, and nothing readable.
        while time.monotonic() < deadline and not list(stick.glob("*/sauvegardes-chiffrees/snapshots/*")):
            time.sleep(0.5)
        assert list(stick.glob("*/sauvegardes-chiffrees/snapshots/*")), "the simulated stick got no backup"
        assert not [path for path in stick.rglob("*") if path.name.endswith((".db", ".db.gz", ".json"))]
    finally:
        output = _stop_with_ctrl_c(process) if process.poll() is None else process.stdout.read()
    assert process.returncode == 0, output[-3000:]
    assert "Arrêté." in output

    again = _start(instance, port)
    try:
        assert dict(re.findall(r"^\s{4}(\w+)\s+(\S+)$", _read_banner(again, timeout=60),
                               flags=re.MULTILINE)) == credentials
        _wait_until_up(port)
    finally:
        _stop_with_ctrl_c(again)
    assert again.returncode == 0
