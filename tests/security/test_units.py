"""A broken web leaks no key (issue 16): web and agent are two users, the web gets only its session
key (a systemd credential) and cannot even see the secrets folder; both units scored by
``systemd-analyze security`` (scores in docs/security.md)."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from appliance import config as config_module

UNITS = Path(__file__).resolve().parents[2] / "systemd"
SECRETS = "/etc/appliance/secrets"


def _service(unit: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string((UNITS / unit).read_text())
    return parser["Service"]


def _all(unit: str, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in (UNITS / unit).read_text().splitlines() if line.startswith(f"{key}=")]


def test_the_web_runs_as_its_own_user_and_cannot_reach_the_secrets_folder():
    web, agent = _service("appliance-web.service"), _service("appliance-agent.service")
    assert web["User"] != agent["User"] and web["Group"] == agent["Group"]
    assert SECRETS not in web["ReadWritePaths"] and SECRETS in web["InaccessiblePaths"].split()
    assert _all("appliance-web.service", "LoadCredential") == [f"flask_secret_key:{SECRETS}/flask_secret_key"]


def test_the_web_takes_its_key_from_the_systemd_credential(cfg, tmp_path, monkeypatch):
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "flask_secret_key").write_text("clé-de-session\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    assert cfg.secret("flask_secret_key") == "clé-de-session"
    assert not (cfg.paths.secrets_dir / "flask_secret_key").exists()  # the folder was not even looked at


def test_the_database_is_shared_with_the_service_group(store, cfg):
    mode = cfg.paths.database.stat().st_mode
    assert mode & 0o060 == 0o060  # others: as the umask says (0027 in the units)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
@pytest.mark.parametrize(("unit", "ceiling"), [("appliance-web.service", 1.5), ("appliance-agent.service", 2.2)])
def test_systemd_analyze_security_scores(unit, ceiling):
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(UNITS / unit)],
                            capture_output=True, text=True, timeout=60, env={**os.environ, "SYSTEMD_COLORS": "0"})
    score = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout).group(1))
    assert score <= ceiling, result.stdout


def test_config_module_keeps_the_old_path_outside_systemd(cfg, monkeypatch):
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    value = cfg.secret("flask_secret_key")
    assert (cfg.paths.secrets_dir / "flask_secret_key").read_text().strip() == value
    assert config_module.read_or_create_secret(cfg.paths.secrets_dir / "flask_secret_key") == value
