"""Who delivers each kind of item: the senders the composing process put in its hook registry
(``appliance.wiring.add_outbox_senders``). Each implementation of the ``outbox_senders`` point is
``factory(cfg) -> dict[kind, sender]``; the outbox itself names no sender."""

from __future__ import annotations

from typing import TYPE_CHECKING

from appliance.hooks import OUTBOX_SENDERS, Hooks
from appliance.outbox.queue import Outbox

if TYPE_CHECKING:
    from appliance.config import Config


def build_outbox(cfg: Config, hooks: Hooks) -> Outbox:
    """An outbox with the [outbox] settings and every sender of ``hooks``."""
    outbox = Outbox(cfg.outbox)
    for factory in hooks.each(OUTBOX_SENDERS):
        for kind, sender in factory(cfg).items():
            outbox.register_sender(kind, sender)
    return outbox
