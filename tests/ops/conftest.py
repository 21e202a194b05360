"""The telemetry tests' real Mosquitto fixtures, for the ops side too."""

from tests.telemetry.conftest import broker, make_publisher  # noqa: F401 (pytest fixtures)
