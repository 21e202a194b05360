"""``make run PORT=…``: an instance made on one port moves to the one asked for; ``make run`` installs
what running needs, ``make test`` everything."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from appliance import config as config_module
from appliance.simulation import _fake_dhis2_section, _use_port


def test_an_existing_instance_moves_to_the_port_asked_for(tmp_path):
    path = tmp_path / "appliance.toml"
    path.write_text(config_module.dev_config_text(tmp_path, port=8080) + _fake_dhis2_section(8081), encoding="utf-8")
    _use_port(path, 8090)
    cfg = config_module.load(path)
    assert cfg.web.port == 8090 and cfg.dhis2.base_url == "http://127.0.0.1:8091"
    before = path.read_text(encoding="utf-8")
    _use_port(path, 8090)
    assert path.read_text(encoding="utf-8") == before  # nothing to move: the file is left alone


def test_the_makefile_passes_the_port():
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text(encoding="utf-8")
    assert "PORT ?= 8080" in makefile and "--port $(PORT)" in makefile


def test_make_run_installs_the_run_dependencies_only_and_make_test_everything(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    root = Path(__file__).resolve().parents[2]

    def planned(target: str) -> str:
        """What ``make`` would run for ``target`` in a fresh checkout (a venv not made yet; nothing runs)."""
        return subprocess.run(["make", "-n", "-C", str(root), target, f"VENV={tmp_path / 'venv'}",
                               f"RUN_DEPS={tmp_path / 'run'}", f"TEST_DEPS={tmp_path / 'test'}"],
                              capture_output=True, text=True, check=True).stdout

    run = planned("run")
    assert "pip install --quiet -e .\n" in run and "[dev]" not in run
    assert "pip install --quiet -e '.[dev]'" in planned("test")
