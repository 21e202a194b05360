"""The outbox's sender for messages to the district (``district.*`` kinds): one POST each, the
district stores a message once by its id, so a retry after a cut changes nothing there."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from appliance.link.client import DistrictClient, LinkDown, NoToken, read_token
from appliance.outbox.models import OutboxItem
from appliance.outbox.outcome import Outcome, OutcomeKind

if TYPE_CHECKING:
    from appliance.config import Config

KINDS = ("district.avis", "district.simr_alert", "district.read_receipt", "district.referral")


def make_sender(cfg: Config):
    def send(item: OutboxItem) -> Outcome:
        try:
            client = DistrictClient(cfg.district, read_token(cfg.paths.secrets_dir))
        except NoToken as error:
            return Outcome(OutcomeKind.NEEDS_ACTION, str(error))
        envelope = json.loads(item.load_payload())
        envelope["site"] = cfg.site.id  # the box's own name, whatever was queued: the token must match it
        try:
            reply = client.post_message(json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode())
        except LinkDown as error:
            return Outcome(OutcomeKind.RETRY_LATER, str(error), bytes_sent=error.bytes_sent, link_down=True)
        message = str(reply.body.get("message", ""))
        common = {"http_status": reply.status, "bytes_sent": reply.bytes_sent, "bytes_received": reply.bytes_received}
        if reply.status in (200, 201):
            repeat = " (déjà reçu : renvoi sans effet)" if reply.body.get("repeat") else ""
            return Outcome(OutcomeKind.DELIVERED, f"Reçu par le district{repeat}", **common)
        if reply.status in (401, 403, 413, 422):
            return Outcome(OutcomeKind.NEEDS_ACTION, f"Refusé par le district ({reply.status}) : {message}", **common)
        return Outcome(OutcomeKind.RETRY_LATER, f"District indisponible ({reply.status}) : {message}", **common)

    return send


def outbox_senders(cfg: Config) -> dict:
    """The ``outbox_senders`` hook (composed by ``appliance.wiring``): none without ``[district] url``,
    so the requests wait in the outbox until the district is configured."""
    if not cfg.district.url:
        return {}
    return dict.fromkeys(KINDS, make_sender(cfg))
