"""The one path for every write by a person: the change and its audit entry commit together.

Nothing is hard-deleted: ``audited_void`` marks a record voided with a reason, and the
audit trail keeps the values before and after every change.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import peewee

from appliance.store.db import database
from appliance.store.models import AuditEntry, VoidableModel, utcnow

M = TypeVar("M", bound=peewee.Model)

# Columns never copied into the trail: secrets stay out of it.
HIDDEN_FIELDS = frozenset({"password_hash"})


@dataclass(frozen=True)
class Actor:
    """Who is writing: a logged-in user, or the machine itself (``system_actor``)."""

    user_id: int | None
    username: str
    role: str


def system_actor(name: str) -> Actor:
    return Actor(user_id=None, username=name, role="system")


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, peewee.Model):
        return value.get_id()
    return value


def snapshot(instance: peewee.Model) -> dict[str, Any]:
    """The row's stored values, as JSON-friendly data, secrets masked."""
    values = {}
    for name in instance._meta.fields:
        raw = instance.__data__.get(name)
        if name in HIDDEN_FIELDS:
            values[name] = "***" if raw else None
        else:
            values[name] = _plain(raw)
    return values


def _changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    keys = [key for key in after if before.get(key) != after.get(key)]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}


def record_event(actor: Actor, action: str, table: str, row_id: Any = "", reason: str | None = None) -> None:
    """An audit entry with no data change (a login failure, an export...)."""
    AuditEntry.create(
        user_id=actor.user_id,
        username=actor.username,
        role=actor.role,
        action=action,
        table_name=table,
        row_id=str(row_id),
        reason=reason,
    )


def audited_save(actor: Actor, instance: M, *, reason: str | None = None) -> M:
    """Insert or update ``instance`` and write its audit entry in the same transaction.

    For an update, the "before" values are read from the database inside the transaction, so
    the trail shows what was really replaced even if the caller's copy was stale.
    """
    model = type(instance)
    with database.atomic():
        pk = instance.get_id()
        previous = model.get_or_none(model._meta.primary_key == pk) if pk is not None else None
        if previous is None:
            instance.save(force_insert=True)
            before: dict[str, Any] = {}
            action = "create"
        else:
            instance.save()
            before = snapshot(previous)
            action = "update"
        after = snapshot(instance)
        changed_before, changed_after = _changes(before, after)
        if action == "update" and not changed_after:
            return instance
        AuditEntry.create(
            user_id=actor.user_id,
            username=actor.username,
            role=actor.role,
            action=action,
            table_name=model._meta.table_name,
            row_id=str(instance.get_id()),
            before=json.dumps(changed_before, ensure_ascii=False) if action == "update" else None,
            after=json.dumps(changed_after, ensure_ascii=False, default=str),
            reason=reason,
        )
    return instance


def audited_void(actor: Actor, instance: VoidableModel, reason: str) -> VoidableModel:
    """Void a record: it stays in the database, hidden from lists, with who, when and why."""
    if not reason or not reason.strip():
        raise ValueError("Un motif est obligatoire pour annuler un enregistrement.")
    instance.voided = True
    instance.voided_at = utcnow()
    instance.voided_by = actor.username
    instance.void_reason = reason.strip()
    return audited_save(actor, instance, reason=reason.strip())
