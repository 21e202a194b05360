"""Updates proven in the emulated Pi, with the guest's own RAUC, timers and services (system updates on
the A/B card: test_system_updates.py).

An application update over the simulated 3G link: the project's real wheel, released as a later
version with the release command's dependency check against the card's image, published on a
release server on the host (10.0.2.2 from the guest); the agent fetches it in its upload window,
the root timer installs it and keeps it once healthy. Its bytes are counted on the card itself
(nftables, IP packets both ways: HTTP and TCP included) → ``update_app_bytes_wire`` (budget 2 MB).
"""

from __future__ import annotations

import json
import time

import pytest

from appliance.update.release import build_app_bundle, venv_of, write_index
from tests.boot import bill
from tests.boot.conftest import BootedCard
from tests.boot.machine import HOST_FROM_GUEST, Machine
from tests.boot.soak import merge_results
from tests.boot.test_it_reports import AGENT_LOG, window_logged
from tests.image.building import ON_THE_CARD, BuiltImage, release_key
from tests.update.apps import bumped_wheel, real_wheel
from tests.update.bundles import COMPATIBLE
from tests.update.release_server import ReleaseServer

pytestmark = [ON_THE_CARD, pytest.mark.slow, pytest.mark.timeout(3600)]

APP_BUDGET_BYTES = 2_000_000
# Run as root on the card: the release server's address and the next upload window two minutes from now
# (the card's own time zone), written into its configuration with the venv's TOML libraries.
CONFIGURE_3G = """
import datetime, pathlib, sys, tomllib, tomli_w
path = pathlib.Path("/etc/appliance/appliance.toml")
document = tomllib.loads(path.read_text())
document.setdefault("update", {})["app_url"] = sys.argv[1]
window = (datetime.datetime.now().astimezone() + datetime.timedelta(minutes=2)).strftime("%H:%M")
document.setdefault("uploads", {})["windows"] = [window]
path.write_text(tomli_w.dumps(document))
print(window)
"""
# What the web runs: its environment's PYTHONPATH (the release in use) and the version it imports.
WEB_VERSION = """
import subprocess, sys
pid = subprocess.run(["systemctl", "show", "-p", "MainPID", "--value", "appliance-web"], capture_output=True,
                     text=True).stdout.strip()
env = dict(item.split("=", 1) for item in open(f"/proc/{pid}/environ").read().split("\\0") if "=" in item)
probe = "import importlib.metadata as m, appliance; print(m.version('appliance'), appliance.__file__)"
print(subprocess.run(["runuser", "-u", "appliance", "--", "env", f"PYTHONPATH={env.get('PYTHONPATH', '')}",
                      "/opt/appliance/venv/bin/python", "-c", probe], capture_output=True, text=True).stdout.strip())
"""
VISITS = """
import json, sqlite3
db = sqlite3.connect("file:/var/lib/appliance/appliance.db?mode=ro", uri=True)
print(json.dumps([row[0] for row in db.execute("SELECT reason FROM consultation WHERE reason LIKE 'mise à jour %'")]))
"""


# Run as root on the card: one [update] setting of /etc/appliance/appliance.toml set (JSON value) or removed.
UPDATE_SETTING = """
import json, pathlib, sys, tomllib, tomli_w
path = pathlib.Path("/etc/appliance/appliance.toml")
document = tomllib.loads(path.read_text())
section = document.setdefault("update", {})
section.pop(sys.argv[1], None) if len(sys.argv) < 3 else section.update({sys.argv[1]: json.loads(sys.argv[2])})
path.write_text(tomli_w.dumps(document))
"""


def set_update_setting(machine: Machine, name: str, value: object = None) -> None:
    """``[update] name = value`` on the card (None: back to the product's default)."""
    argument = "" if value is None else f" '{json.dumps(value)}'"
    machine.ssh(f"sudo /opt/appliance/venv/bin/python - {name}{argument}", stdin=UPDATE_SETTING)


def signing_keys(built: BuiltImage):
    keys = release_key(built)
    if keys is None:
        pytest.skip("la clé de publication de cette image n'est pas ici (APPLIANCE_RELEASE_KEY)")
    return keys


def next_version(version: str, *, minor: bool = False) -> str:
    major, minor_, patch = (int(part) for part in version.split("."))
    return f"{major}.{minor_ + 1}.0" if minor else f"{major}.{minor_}.{patch + 1}"


SERVICES_VERSION = ("from pathlib import Path; from appliance.update.machine import services_version; "
                    "print(services_version(Path('/var/lib/appliance-update')))")


def card_version(machine: Machine) -> str:
    """The version the card's web and agent run (an application release, else the system's)."""
    return machine.ssh(f'sudo /opt/appliance/venv/bin/python -c "{SERVICES_VERSION}"').stdout.strip()


def run_check(machine: Machine) -> None:
    """The root timer's ``appliance update check``, now (a oneshot: waits for a run already under way)."""
    machine.ssh("sudo systemctl start appliance-update-check.service", check=False, timeout=900)


def update_status(machine: Machine) -> str:
    return machine.ssh("sudo appliance update status", check=False).stdout


def visits(machine: Machine) -> list[str]:
    return json.loads(machine.ssh("sudo runuser -u appliance -- /opt/appliance/venv/bin/python -",
                                  stdin=VISITS).stdout)


def test_an_application_update_arrives_over_3g_within_its_budget(booted: BootedCard, built: BuiltImage,
                                                                 tmp_path) -> None:
    machine = booted.machine
    cert, key = signing_keys(built)
    nurse, patient = booted.nurse_session()
    nurse.record_visit(patient, "mise à jour 3G : avant")
    installed = venv_of(built.image)  # what the card's system has: the release command's check
    version = next_version(card_version(machine))
    wheel = bumped_wheel(real_wheel(tmp_path / "wheel"), tmp_path / "release-wheel", version)
    published = tmp_path / "published"
    published.mkdir()
    bundle = build_app_bundle(wheel, version=version, compatible=COMPATIBLE, cert=cert, key=key,
                              output=published / f"app-{version}.raucb", installed=installed)
    write_index(bundle, version)
    with ReleaseServer(published) as server:
        port = int(server.url.rsplit(":", 1)[1].strip("/"))
        window = machine.ssh(f"sudo /opt/appliance/venv/bin/python - http://{HOST_FROM_GUEST}:{port}/latest.json",
                             stdin=CONFIGURE_3G).stdout.strip()
        bill.start_counting(machine, {"release": port})
        machine.ssh("sudo systemctl restart appliance-agent")
        assert window_logged(machine, window, timeout=600), machine.ssh(AGENT_LOG, check=False).stdout[-3000:]
        wire = bill.counted(machine)["release"]
    log = machine.ssh(AGENT_LOG, check=False).stdout
    assert f"mise à jour {version} reçue" in log, log[-3000:]
    assert server.bytes_sent >= bundle.stat().st_size  # the whole bundle came through the window

    # This version's outcome, not the last one shown: on the shared card a system update was kept before.
    deadline = time.monotonic() + 900
    while f"Dernière mise à jour : {version} →" not in update_status(machine) and time.monotonic() < deadline:
        run_check(machine)  # installs what the agent fetched (backup first), then judges the trial
        machine.wait_for_http(timeout=300)
    status = update_status(machine)
    assert f"Dernière mise à jour : {version} → gardée" in status, status
    assert f"application {version}" in status
    running, source = machine.ssh("sudo /opt/appliance/venv/bin/python -", stdin=WEB_VERSION).stdout.split()
    assert running == version, running
    assert source == "/var/lib/appliance-update/current/appliance/__init__.py", source  # the release in use
    nurse.record_visit(patient, "mise à jour 3G : après")
    assert {"mise à jour 3G : avant", "mise à jour 3G : après"} <= set(visits(machine))
    print(f"application {version}: bundle {bundle.stat().st_size} B, on the wire {wire} B")
    assert wire <= APP_BUDGET_BYTES
    merge_results({"update_app_bytes_wire": wire})
