"""Form submissions that wrote: a form's one-time token, kept with the page its write led to.

A phone on a weak WiFi resends a form (double tap, back button, a retry after a reply lost in a
power cut). The token is stored in the write's own transaction, so either both the record and the
token are on disk or neither is: a resend finds the token and is shown the saved record.
"""

from __future__ import annotations

import datetime as dt

import peewee

from appliance.store.db import BaseModel
from appliance.store.models import utcnow

KEPT = dt.timedelta(days=60)  # a phone left off for weeks may still resend what it had typed


class FormSubmission(BaseModel):
    token = peewee.TextField(primary_key=True)
    user_id = peewee.IntegerField()
    path = peewee.TextField()
    location = peewee.TextField()
    created_at = peewee.DateTimeField(default=utcnow, index=True)  # the clean-up of old tokens

    class Meta:
        table_name = "form_submission"


def find(token: str) -> FormSubmission | None:
    return FormSubmission.get_or_none(FormSubmission.token == token)


def claim(token: str, *, user_id: int, path: str, location: str) -> FormSubmission:
    """Record that ``token`` wrote; call inside the write's transaction. Old tokens are let go."""
    now = utcnow()
    FormSubmission.delete().where(FormSubmission.created_at < now - KEPT).execute()
    return FormSubmission.create(token=token, user_id=user_id, path=path, location=location, created_at=now)
