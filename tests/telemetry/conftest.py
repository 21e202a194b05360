"""Fixtures around a real Mosquitto started per test on a free loopback port."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from appliance.settings.telemetry import TelemetrySettings
from appliance.telemetry.counters import MemoryCounters
from appliance.telemetry.publisher import TelemetryPublisher
from tests.telemetry.mosquitto import CLINIC_ACL, OPS_PASSWORD, OPS_USER, Mosquitto, Pki, Recorder, make_pki

SCHEMAS = Path(__file__).resolve().parents[2] / "appliance" / "telemetry" / "schemas"
CLINICS = {"ml-kati": "kati-pass", "ml-sikasso": "sikasso-pass"}


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


def assert_valid(name: str, payload: bytes) -> None:
    document = payload.decode() if name == "state" else json.loads(payload)
    jsonschema.validate(document, schema(name), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """Password auth and the clinic ACL, as in production (without TLS)."""
    with Mosquitto(tmp_path / "broker", users={**CLINICS, OPS_USER: OPS_PASSWORD}, acl=CLINIC_ACL) as running:
        yield running


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def recorder(broker: Mosquitto) -> Iterator[Recorder]:
    ops = Recorder(broker.port, username=OPS_USER, password=OPS_PASSWORD)
    yield ops
    ops.close()


def plain_settings(port: int, **overrides) -> TelemetrySettings:
    base = TelemetrySettings(enabled=True, broker_host="127.0.0.1", broker_port=port, tls=False, keepalive_s=5,
                             connect_timeout_s=10, publish_timeout_s=10, reconnect_min_s=1, reconnect_max_s=2)
    return replace(base, **overrides)


@pytest.fixture
def make_publisher(broker: Mosquitto) -> Iterator[Callable[..., TelemetryPublisher]]:
    made: list[TelemetryPublisher] = []

    def make(site_id: str = "ml-kati", *, password: str | None = None, settings: TelemetrySettings | None = None,
             **kwargs) -> TelemetryPublisher:
        publisher = TelemetryPublisher(
            settings or plain_settings(broker.port), site_id, password=password or CLINICS[site_id],
            version="0.1.0", counters=kwargs.pop("counters", MemoryCounters()), **kwargs,
        )
        made.append(publisher)
        return publisher

    yield make
    for publisher in made:
        publisher.stop()
