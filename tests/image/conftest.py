"""Fixtures of the image tests; the built image itself comes from tests/image/building.py."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.image.building import BUILD, REPO, BuiltImage

__all__ = ["BUILD", "REPO", "BuiltImage"]


@pytest.fixture
def scratch(tmp_path: Path):
    """A folder for mounts and copies, emptied even when a test fails."""
    yield tmp_path
    subprocess.run(["umount", "-R", "-l", str(tmp_path / "merged")], capture_output=True)
    shutil.rmtree(tmp_path, ignore_errors=True)
