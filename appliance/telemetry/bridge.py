"""The agent's side of telemetry: its events into the outbox, its status onto the broker.

The agent (its partners composed by appliance.wiring) calls ``attach_agent(agent)`` once at start and
``publish_telemetry(deadline_s)`` in each upload window after flushing the outbox. Events reach
the outbox at once (durable before the power can go); the ``mqtt_event`` sender then opens the
clinic's one MQTT connection during the flush and leaves it open for ``publish_telemetry``, which
adds the status and closes the window. The agent's ``upload_window`` event (end of every window)
closes a connection that a lost link left open, so nothing reconnects between windows. With
``always_connected`` the connection opens at start and stays up; either way, a stopping agent
publishes ``sleeping`` and disconnects cleanly (atexit).
"""

from __future__ import annotations

import atexit
import logging
from typing import Any

from appliance.telemetry import sender
from appliance.telemetry.events import emit_event
from appliance.telemetry.publisher import TelemetryPublisher, TelemetryUnavailable

log = logging.getLogger(__name__)

SAFETY_NET_ACK_S = 2.0
_MAX_DETAIL_TEXT = 60

_agent: Any = None


def _short(text: Any) -> str:
    return str(text)[:_MAX_DETAIL_TEXT]


def _rounded(value: Any, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


# Agent event kind → (telemetry kind, details kept from the event's data). Others stay local:
# state changes show in the next status; modem plugging is noise at fleet scale.
_FORWARDED = {
    "battery_low": ("battery_low", lambda data: {"bv": _rounded(data.get("voltage"))}),
    "battery_critical": ("battery_critical",
                         lambda data: {"bv": _rounded(data.get("voltage")), "cause": _short(data.get("cause"))}),
    "shutdown": ("shutdown", lambda data: {"reason": _short(data.get("reason"))}),
    "upload_failed": ("upload_failed",
                      lambda data: {"outcome": _short(data.get("outcome")), "err": _short(data.get("detail"))}),
    "clock_jump": ("clock_jump", lambda data: {"jump_s": round(float(data.get("seconds") or 0))}),
    "data_budget_warning": ("data_budget", lambda data: {"pct": data.get("used_pct"), "lvl": "warning"}),
    "data_budget_exceeded": ("data_budget", lambda data: {"pct": data.get("used_pct"), "lvl": "exceeded"}),
    "sensor_fault": ("sensor_fault",
                     lambda data: {"rejected": sum((data.get("rejected") or {}).values())}),
}


def telemetry_event(agent_event: Any) -> tuple[str, dict[str, Any]] | None:
    """The telemetry event for one of the agent's events, or None when it is not forwarded."""
    forwarded = _FORWARDED.get(agent_event.kind)
    if forwarded is None:
        return None
    kind, details = forwarded
    return kind, details(agent_event.data)


def status_pieces(agent_status: Any) -> dict[str, Any]:
    """build_status keyword arguments from the agent's AgentStatus."""
    battery, modem, data, clock = agent_status.battery, agent_status.modem, agent_status.data, agent_status.clock
    state = battery.state.value
    return {
        "battery_v": battery.voltage,
        "battery_soc_pct": battery.soc_pct,
        "battery_state": None if state == "unknown" else state,
        "charging": battery.charging if battery.voltage is not None else None,
        "modem_signal_pct": modem.signal_pct if modem.present else None,
        "modem_registration": modem.registration if modem.present else None,
        "modem_bytes_month": data.total,
        "clock_synced": clock.synced,
    }


def attach_agent(agent: Any) -> None:
    global _agent
    _agent = agent
    agent.events.subscribe(_on_agent_event)
    if not agent.cfg.telemetry.enabled:
        return
    publisher = _publisher()  # created now, so the first window's flush already keeps its connection
    if publisher is None:
        return
    # A stopping agent says ``sleeping`` rather than leaving the broker to announce ``lost``.
    atexit.register(publisher.stop, ack_timeout_s=SAFETY_NET_ACK_S)
    if publisher.settings.always_connected:
        publisher.open_window(timeout_s=0)  # connects in the background, with the usual backoff


def _publisher() -> TelemetryPublisher | None:
    try:
        publisher = sender.shared_publisher(_agent.cfg)
    except TelemetryUnavailable as exc:
        log.info("télémétrie non publiée : %s", exc)
        return None
    publisher.linger_after_flush = True  # one connection per window: the flush's events, then the status
    return publisher


def _on_agent_event(agent_event: Any) -> None:
    if agent_event.kind == "upload_window":
        publisher = _publisher() if _agent.cfg.telemetry.enabled else None
        if publisher is not None and publisher.window_open:
            publisher.close_window(ack_timeout_s=SAFETY_NET_ACK_S)
        return
    translated = telemetry_event(agent_event)
    if translated is not None and _agent.cfg.telemetry.enabled:
        kind, details = translated
        emit_event(kind, details, now=agent_event.at.timestamp())


def publish_telemetry(deadline_s: float) -> bool:
    """In an upload window, link up: the status (retained), then ``sleeping`` and a clean disconnect.

    Returns True once the broker acknowledged the status. Never raises for a broker problem:
    the agent logs the window's outcome, and the next window tries again.
    """
    if _agent is None or not _agent.cfg.telemetry.enabled:
        return False
    publisher = _publisher()
    if publisher is None:
        return False
    try:
        if not publisher.window_open or not publisher.connected:
            publisher.open_window(timeout_s=max(0.1, min(publisher.settings.connect_timeout_s, deadline_s)))
        if not publisher.connected:
            log.warning("télémétrie : courtier injoignable (%s)", publisher.last_error or "délai dépassé")
            return False
        return publisher.publish_status(publisher.collect_status(**status_pieces(_agent.status())))
    finally:
        publisher.close_window()
