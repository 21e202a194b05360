"""Health telemetry over MQTT: what a clinic tells remote ops, within a few KB a day.

Public API for the agent: ``TelemetryPublisher`` (publisher.py) with ``open_window``,
``collect_status``/``publish_status``, ``send_event`` (the outbox sender for ``mqtt_event``)
and ``close_window``; ``emit_event`` (events.py) to queue an event durably.
"""
