"""Who delivers each kind of item: the senders the composing process put in its hook registry
(``appliance.wiring.add_outbox_senders``). Each implementation of the ``outbox_senders`` point is
``factory(cfg) -> dict[kind, sender]``; the outbox itself names no sender."""

from __future__ import annotations

from typing import TYPE_CHECKING

from appliance.hooks import OUTBOX_SENDERS, Hooks
from appliance.outbox import queue

if TYPE_CHECKING:
    from appliance.config import Config


def install_senders(cfg: Config, hooks: Hooks) -> list[str]:
    """Configure the outbox from [outbox] and register the senders of ``hooks``; return their kinds."""
    queue.configure(cfg.outbox)
    for factory in hooks.each(OUTBOX_SENDERS):
        for kind, sender in factory(cfg).items():
            queue.register_sender(kind, sender)
    return queue.registered_kinds()
