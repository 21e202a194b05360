"""Health telemetry over MQTT: what a clinic tells remote ops, within a few KB a day.

The agent's hooks (appliance.agent.hooks) are the two functions below; they import the MQTT
machinery only when called, because appliance.config imports this package for its settings.
Other entry points: ``TelemetryPublisher`` (publisher.py), ``emit_event`` (events.py), the
outbox sender (sender.py). Topics and payloads: docs/telemetry.md.
"""

from __future__ import annotations

from typing import Any


def attach_agent(agent: Any) -> None:
    """Forward the agent's events to the outbox and read its status in each window."""
    from appliance.telemetry import bridge

    bridge.attach_agent(agent)


def publish_telemetry(deadline_s: float) -> bool:
    """Publish this window's status, then ``sleeping`` and disconnect; True if acknowledged."""
    from appliance.telemetry import bridge

    return bridge.publish_telemetry(deadline_s)
