"""A broken web leaks no key (issue 16): web and agent are two users, the web gets only its session
key (a systemd credential) and cannot even see the secrets folder; both units scored by
``systemd-analyze security`` (scores in docs/security.md)."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
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


# What the web unit's MemoryDenyWriteExecute=yes forbids, applied by the kernel to one process:
# prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN) (Linux 6.3+) refuses memory both writable and
# executable and any later gain of execute, as systemd's seccomp filter for that setting does.
_UNDER_MDWE = """
import ctypes, mmap, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    sys.exit(77)
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
except PermissionError:
    print("W+X refused")
from appliance import config as config_module
from appliance.accounts import hash_password, verify_password
from appliance.emr import create_app
stored = hash_password("mot-de-passe-du-test")
assert verify_password(stored, "mot-de-passe-du-test") and not verify_password(stored, "autre")
print("argon2 ok", stored.split("$")[1])
app = create_app(config_module.load(sys.argv[1]), testing=True)
print("login page", app.test_client().get("/connexion").status_code)
"""


def test_the_web_runs_with_memory_never_writable_and_executable(tmp_path):
    """argon2 (cffi) and the whole web under the policy of MemoryDenyWriteExecute=yes."""
    assert _service("appliance-web.service")["MemoryDenyWriteExecute"] == "yes"
    config_path = tmp_path / "appliance.toml"
    config_path.write_text(config_module.dev_config_text(tmp_path), encoding="utf-8")
    result = subprocess.run([sys.executable, "-c", _UNDER_MDWE, str(config_path)], capture_output=True, text=True,
                            timeout=120, cwd=Path(__file__).resolve().parents[2])
    if result.returncode == 77:
        pytest.skip("this kernel has no PR_SET_MDWE (Linux < 6.3)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["W+X refused", "argon2 ok argon2id", "login page 200"]


def test_config_module_keeps_the_old_path_outside_systemd(cfg, monkeypatch):
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    value = cfg.secret("flask_secret_key")
    assert (cfg.paths.secrets_dir / "flask_secret_key").read_text().strip() == value
    assert config_module.read_or_create_secret(cfg.paths.secrets_dir / "flask_secret_key") == value
