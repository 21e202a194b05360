"""The ops side of telemetry: every clinic's health from an MQTT broker, worst first."""
