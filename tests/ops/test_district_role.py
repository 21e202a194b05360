"""The district server's Ansible side: its playbook parses, the role's unit is valid for systemd and
hardened like the clinic's web unit, the command it runs is the CLI's, and the Pi image never
carries the district service."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from appliance.district.cli import district
from tests.ops.stack import REPO, render_role_template

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
WEB_UNIT = REPO / "systemd" / "appliance-web.service"
# The web unit's lines that name the clinic's own paths, users or limits; every other hardening line is shared.
CLINIC_ONLY = ("ReadWritePaths=", "InaccessiblePaths=", "LoadCredential=", "Environment=", "ExecStart=", "User=",
               "Group=", "MemoryMax=", "UMask=")


def _unit(**overrides) -> str:
    return render_role_template("district", "appliance-district.service.j2", **overrides)


def test_the_district_playbook_parses_and_stays_off_the_pi_image():
    result = subprocess.run([str(ANSIBLE_PLAYBOOK), "--syntax-check", "-i", "district-check,", "district.yml"],
                            cwd=REPO / "ansible", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    image_roles = [entry["role"] for entry in yaml.safe_load((REPO / "ansible" / "site.yml").read_text())[0]["roles"]]
    assert "district" not in image_roles and "role: district" in (REPO / "ansible" / "district.yml").read_text()
    assert not (REPO / "systemd" / "appliance-district.service").exists()  # its unit lives in its role


def test_the_unit_is_hardened_like_the_web_unit():
    service = WEB_UNIT.read_text().split("[Service]")[1].split("[Install]")[0]
    hardening = [line for line in service.splitlines()
                 if re.match(r"[A-Z]\w+=", line) and not line.startswith((*CLINIC_ONLY, "Type=", "Restart"))]
    unit = _unit().splitlines()
    assert len(hardening) >= 25 and [line for line in hardening if line not in unit] == []
    assert "ReadWritePaths=/var/lib/appliance-district" in unit and "User=appliance-district" in unit


def test_the_command_the_unit_runs_is_the_clis():
    (line,) = [line for line in _unit().splitlines() if line.startswith("ExecStart=")]
    executable, command, sub, *arguments = shlex.split(line.split("=", 1)[1])
    assert executable == "/opt/appliance-district/venv/bin/appliance" and (command, sub) == ("district", "serve")
    context = district.commands["serve"].make_context("serve", arguments)
    assert context.params == {"db_path": Path("/var/lib/appliance-district/district.db"), "host": "127.0.0.1",
                              "port": 8090}


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_the_unit_is_valid_for_systemd(tmp_path: Path):
    prefix = tmp_path / "opt"
    prefix.mkdir()
    (prefix / "venv").symlink_to(Path(sys.prefix))  # where the role installs the project: a venv with it
    unit = tmp_path / "appliance-district.service"
    unit.write_text(_unit(district_prefix=str(prefix), district_user="daemon", district_data_dir=str(tmp_path)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    scored = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)],
                            capture_output=True, text=True, timeout=60, env={**os.environ, "SYSTEMD_COLORS": "0"})
    score = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", scored.stdout).group(1))
    assert score <= 1.5, scored.stdout[-2000:]  # the web unit's ceiling (tests/security/test_units.py)
