"""Which packages give the outbox a sender. Each listed module defines
``outbox_senders(cfg) -> dict[kind, sender]``; a package adds its module here with one line."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from appliance.outbox import queue

if TYPE_CHECKING:
    from appliance.config import Config

SENDER_MODULES = ("appliance.dhis2.sender", "appliance.backup.offsite", "appliance.telemetry.sender")


def install_senders(cfg: Config) -> list[str]:
    """Configure the outbox from [outbox] and register every package's senders; return their kinds."""
    queue.configure(cfg.outbox)
    for module_name in SENDER_MODULES:
        module = importlib.import_module(module_name)
        for kind, sender in module.outbox_senders(cfg).items():
            queue.register_sender(kind, sender)
    return queue.registered_kinds()
