"""The ops server's Ansible side: the playbook parses, the exporter's unit is valid for systemd, and the
options the role writes are ones the command accepts (role and CLI cannot drift apart)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.fleet.cli import fleet
from tests.ops.stack import REPO, render_role_template

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


def test_the_ops_playbook_parses():
    result = subprocess.run([str(ANSIBLE_PLAYBOOK), "--syntax-check", "-i", "ops-check,", "ops.yml"],
                            cwd=REPO / "ansible", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    roles = ("fleet_exporter", "prometheus", "alertmanager", "grafana_dashboards")
    assert all(f"role: {role}" in (REPO / "ansible" / "ops.yml").read_text() for role in roles)


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_the_exporter_unit_is_valid_for_systemd(tmp_path: Path):
    prefix = tmp_path / "opt"
    prefix.mkdir()
    (prefix / "venv").symlink_to(Path(sys.prefix))  # where the role installs the project: a venv with it
    unit = tmp_path / "appliance-fleet-exporter.service"
    unit.write_text(render_role_template("fleet_exporter", "appliance-fleet-exporter.service.j2",
                                         fleet_exporter_prefix=str(prefix), fleet_exporter_user="daemon"))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("tls", [False, True])
def test_the_options_the_role_writes_are_the_commands(tls: bool):
    environment = render_role_template("fleet_exporter", "exporter.env.j2", fleet_exporter_broker_tls=tls,
                                       fleet_exporter_broker_ca_file="/etc/appliance-fleet/ca.crt" if tls else "")
    (line,) = [line for line in environment.splitlines() if line.startswith("FLEET_EXPORTER_ARGS=")]
    arguments = shlex.split(line.split("=", 1)[1])[0].split()
    context = fleet.commands["exporter"].make_context("exporter", arguments, resilient_parsing=True)
    assert context.params["tls"] is tls and context.params["listen"] == ("127.0.0.1", 9108)
    assert context.params["inventory"] == Path("/etc/appliance-fleet/inventory.csv")
    assert context.params["username"] == "fleet-ops" and context.params["port"] == 1883
