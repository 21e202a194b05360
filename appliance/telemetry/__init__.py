"""Health telemetry over MQTT: what a clinic tells remote ops, within a few KB a day.

The agent's telemetry partners (composed by appliance.agent.hooks.agent_partners) are the two
functions below; they import the MQTT machinery (about 3.5 MB of RSS) only when telemetry is
enabled: the agent imports this package at start, and an agent without telemetry should not pay
for it.
Other entry points: ``TelemetryPublisher`` (publisher.py), ``emit_event`` (events.py), the
outbox sender (sender.py). Topics and payloads: docs/telemetry.md.
"""

from __future__ import annotations

from typing import Any

_attached = False


def attach_agent(agent: Any) -> None:
    """Forward the agent's events to the outbox and read its status in each window."""
    global _attached
    _attached = bool(agent.cfg.telemetry.enabled)
    if _attached:
        from appliance.telemetry import bridge

        bridge.attach_agent(agent)


def publish_telemetry(deadline_s: float) -> bool:
    """Publish this window's status, then ``sleeping`` and disconnect; True if acknowledged."""
    if not _attached:
        return False
    from appliance.telemetry import bridge

    return bridge.publish_telemetry(deadline_s)
