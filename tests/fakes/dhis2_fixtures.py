"""Pytest fixtures around the fake DHIS2: a running server and an appliance configuration aimed at it.

Imported by the conftest of each test folder that needs them (``from tests.fakes.dhis2_fixtures import *``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.fake_dhis2 import DEMO_TOKEN, FakeDhis2

FAST_RETRIES = "base_delay_s = 0.01\nmax_delay_s = 0.05"


def config_text(tmp_path: Path, base_url: str, *, extra_dhis2: str = "", outbox: str = "",
                timeout_s: float = 2.0) -> str:
    """A complete appliance.toml for tests: local paths, DHIS2 at ``base_url``, fast retries."""
    return f"""
[site]
id = "test-cscom"
name = "CSCom de test"

[paths]
data_dir = "{tmp_path / 'data'}"
secrets_dir = "{tmp_path / 'secrets'}"

[dhis2]
base_url = "{base_url}"
connect_timeout_s = {timeout_s}
read_timeout_s = {timeout_s}
{extra_dhis2}

[outbox]
{outbox or FAST_RETRIES}
"""


def write_config(tmp_path: Path, base_url: str, *, token: str = DEMO_TOKEN, **options) -> Path:
    secrets = tmp_path / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    (secrets / "dhis2_token").write_text(token + "\n", encoding="utf-8")
    path = tmp_path / "appliance.toml"
    path.write_text(config_text(tmp_path, base_url, **options), encoding="utf-8")
    return path


@pytest.fixture
def fake_dhis2() -> Iterator[FakeDhis2]:
    with FakeDhis2() as fake:
        yield fake


@pytest.fixture
def dhis2_config(tmp_path: Path, fake_dhis2: FakeDhis2) -> Path:
    """The path of a configuration pointed at ``fake_dhis2``, with its token file provisioned."""
    return write_config(tmp_path, fake_dhis2.url)
