"""Models of the foundation: users, the audit trail and the schema version.

Clinical models live beside this file in their own modules; all of them inherit
``BaseModel`` (bound to the shared database proxy) and, when staff may correct them,
``VoidableModel`` (records are voided with a reason, never deleted).
"""

from __future__ import annotations

import datetime as dt

import peewee

from appliance.store.db import BaseModel


def utcnow() -> dt.datetime:
    """Naive UTC timestamps everywhere in the database: the Pi's clock jumps, zones don't."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


ROLES: dict[str, str] = {
    "medecin": "Médecin",
    "sage_femme": "Sage-femme",
    "infirmier": "Infirmier·ère",
    "matrone": "Matrone",
    "agent_saisie": "Agent de saisie",
    "admin": "Administrateur",
}


class SchemaVersion(BaseModel):
    version = peewee.IntegerField(primary_key=True)
    description = peewee.TextField()
    applied_at = peewee.DateTimeField(default=utcnow)


class VoidableModel(BaseModel):
    """A record that is voided with a reason instead of being deleted."""

    voided = peewee.BooleanField(default=False)
    voided_at = peewee.DateTimeField(null=True)
    voided_by = peewee.TextField(null=True)
    void_reason = peewee.TextField(null=True)


class User(BaseModel):
    username = peewee.TextField(unique=True)
    first_name = peewee.TextField()
    last_name = peewee.TextField()
    role = peewee.TextField()
    phone = peewee.TextField(default="")
    password_hash = peewee.TextField()
    language = peewee.TextField(default="fr")
    active = peewee.BooleanField(default=True)
    must_change_password = peewee.BooleanField(default=False)
    last_login_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def role_label(self) -> str:
        return ROLES.get(self.role, self.role)


class AuditEntry(BaseModel):
    """Who changed what: one row per user write, in the same transaction as the write."""

    at = peewee.DateTimeField(default=utcnow, index=True)
    user_id = peewee.IntegerField(null=True)
    username = peewee.TextField()
    role = peewee.TextField()
    action = peewee.TextField()  # create, update, void, or an event such as login_failed
    table_name = peewee.TextField()
    row_id = peewee.TextField(default="")
    before = peewee.TextField(null=True)  # JSON of the changed fields before
    after = peewee.TextField(null=True)  # JSON of the changed fields after
    reason = peewee.TextField(null=True)

    class Meta:
        indexes = ((("table_name", "row_id"), False),)


class WebSession(BaseModel):
    """A login on one browser, kept on the box so that logging out really ends it.

    Only a hash of the token is stored: a copy of the database opens no session.
    Times are epoch seconds, compared with ``time.time()`` by ``appliance.sessions``.
    """

    token_hash = peewee.TextField(primary_key=True)
    user_id = peewee.IntegerField(index=True)
    created_at = peewee.FloatField()
    last_seen_at = peewee.FloatField()


class LoginFailure(BaseModel):
    """One failed (or in-flight) password check, counted per key by ``appliance.throttle``."""

    key = peewee.TextField()
    at = peewee.FloatField(index=True)

    class Meta:
        indexes = ((("key", "at"), False),)
