"""The outbox tables: one row per message to deliver, one row per attempt to deliver it."""

from __future__ import annotations

import json
from typing import Any

import peewee

from appliance.store.db import BaseModel
from appliance.store.models import utcnow


class ItemState:
    PENDING = "pending"  # waiting for its next attempt (next_attempt_at)
    SENDING = "sending"  # an attempt is under way (or its flusher died: retried on the next flush)
    DELIVERED = "delivered"  # the receiver said so (with or without conflicts: see last_outcome)
    DEAD = "dead"  # a dead letter: needs a person (needs_action, or too many attempts)
    SUPERSEDED = "superseded"  # a newer item with the same dedupe key replaced it before delivery
    ABANDONED = "abandoned"  # a dead letter an administrator gave up on, with a reason

    WAITING = (PENDING, SENDING)


class OutboxItem(BaseModel):
    kind = peewee.TextField()
    dedupe_key = peewee.TextField(null=True)
    ref = peewee.TextField(null=True)  # the caller's link back to its record, e.g. "report:12"
    urgent = peewee.BooleanField(default=False)
    payload = peewee.BlobField()
    payload_is_json = peewee.BooleanField()
    state = peewee.TextField(default=ItemState.PENDING)
    attempts = peewee.IntegerField(default=0)  # spent on max_attempts (link-down failures are refunded)
    next_attempt_at = peewee.DateTimeField(default=utcnow)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)
    delivered_at = peewee.DateTimeField(null=True)
    last_outcome = peewee.TextField(null=True)
    last_message = peewee.TextField(null=True)
    superseded_by = peewee.ForeignKeyField("self", null=True, backref="supersedes", column_name="superseded_by_id")

    class Meta:
        table_name = "outbox_item"

    def load_payload(self) -> dict[str, Any] | bytes:
        """The payload as enqueued: a dict (stored as JSON) or raw bytes."""
        raw = bytes(self.payload)
        return json.loads(raw) if self.payload_is_json else raw


class OutboxAttempt(BaseModel):
    item = peewee.ForeignKeyField(OutboxItem, backref="attempt_rows", column_name="item_id")
    number = peewee.IntegerField()
    started_at = peewee.DateTimeField(default=utcnow)
    finished_at = peewee.DateTimeField(null=True)
    # in_flight until the reply is read; then an OutcomeKind value, or "interrupted" when the
    # flusher died mid-attempt (found in_flight by the next flush).
    outcome = peewee.TextField(default="in_flight")
    http_status = peewee.IntegerField(null=True)
    bytes_sent = peewee.IntegerField(default=0)
    bytes_received = peewee.IntegerField(default=0)
    message = peewee.TextField(null=True)
    detail = peewee.TextField(null=True)  # JSON: conflicts and the receiver's counts

    class Meta:
        table_name = "outbox_attempt"

    def detail_json(self) -> dict[str, Any]:
        return json.loads(self.detail) if self.detail else {}
