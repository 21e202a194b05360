"""The district's messages for this clinic (answers to second-opinion requests), fetched after the
outbox's flush at each window. Each is applied and the cursor moved past it in one transaction, so
a cut at any instant neither loses one nor applies one twice."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from appliance.link import documents, referrals, service
from appliance.link.client import DistrictClient, LinkDown, NoToken, read_token
from appliance.link.models import LinkCursor
from appliance.store.db import database
from appliance.store.models import utcnow

if TYPE_CHECKING:
    from appliance.config import Config

log = logging.getLogger(__name__)
CURSOR = "district_inbox"
MAX_PAGES = 20  # 1000 messages a window at most; the rest at the next


@dataclass
class InboxReport:
    applied: int = 0
    ignored: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    error: str = ""


def _apply(kind: str, body: dict) -> bool:
    if kind == "avis_answer":
        return service.apply_answer(body)
    if kind == "document":
        return documents.apply_document(body)
    if kind == "counter_referral":
        return referrals.apply_counter_referral(body, dt.date.today())
    return False  # a kind this version does not know: skipped, the cursor moves on


def pull(cfg: Config) -> InboxReport:
    """Fetch and apply every waiting message; stops quietly when the link is down."""
    report = InboxReport()
    if not cfg.district.url:
        return report
    try:
        client = DistrictClient(cfg.district, read_token(cfg.paths.secrets_dir))
    except NoToken as error:
        report.error = str(error)
        return report
    for _page in range(MAX_PAGES):
        cursor = LinkCursor.get_or_none(LinkCursor.name == CURSOR)
        after = cursor.last_seq if cursor else 0
        try:
            reply = client.inbox(after)
        except LinkDown as error:
            report.error, report.bytes_sent = str(error), report.bytes_sent + error.bytes_sent
            break
        report.bytes_sent += reply.bytes_sent
        report.bytes_received += reply.bytes_received
        if reply.status != 200:
            report.error = f"district : {reply.status} {reply.body.get('message', '')}"
            break
        messages = reply.body.get("messages") or []
        for message in messages:
            with database.atomic():
                if _apply(str(message.get("kind")), message.get("body") or {}):
                    report.applied += 1
                else:
                    report.ignored += 1
                LinkCursor.insert(name=CURSOR, last_seq=int(message["seq"]), updated_at=utcnow()).on_conflict(
                    conflict_target=[LinkCursor.name],
                    update={LinkCursor.last_seq: int(message["seq"]), LinkCursor.updated_at: utcnow()}).execute()
        if not messages:
            break
    if report.error:
        log.info("Boîte de réception du district : %s", report.error)
    return report
