"""``python -m appliance.agent``: the same as ``appliance agent``."""

from appliance.agent.cli import agent_command

agent_command(prog_name="appliance agent")
