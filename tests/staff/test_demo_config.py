"""``appliance`` run from the repository finds the demo configuration of ``make run`` by itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from appliance import config as config_module


def _appliance(cwd, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run([sys.executable, "-m", "appliance", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


def test_the_demo_configuration_is_found_from_the_repository(tmp_path):
    if config_module.DEFAULT_PATH.exists():
        pytest.skip("a provisioned box: its own configuration wins")
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "appliance.toml").write_text(config_module.dev_config_text(tmp_path / "instance"),
                                                        encoding="utf-8")
    found = _appliance(tmp_path, "check-config")
    assert found.returncode == 0, found.stderr
    assert "Configuration de démonstration : instance/appliance.toml" in found.stderr


def test_elsewhere_the_error_says_how(tmp_path):
    if config_module.DEFAULT_PATH.exists():
        pytest.skip("a provisioned box: its own configuration wins")
    missing = _appliance(tmp_path, "check-config")
    assert missing.returncode == 2 and "--config instance/appliance.toml" in missing.stderr
