"""``python -m appliance.telemetry send``: the same commands as ``appliance telemetry``."""

import appliance.cli  # noqa: F401  (first: it registers this package's commands without an import cycle)
from appliance.telemetry.cli import telemetry

telemetry(prog_name="python -m appliance.telemetry")
