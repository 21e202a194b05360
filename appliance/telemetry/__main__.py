"""``python -m appliance.telemetry send``: the same commands as ``appliance telemetry``."""

from appliance.telemetry.cli import telemetry

telemetry(prog_name="python -m appliance.telemetry")
