"""Who may see what: every view declares one permission, and the app refuses any that doesn't.

Fail closed: a view without ``@requires`` answers 403 and the app factory refuses to start
(see ``check_every_view_is_guarded``), so a forgotten decorator cannot leak a page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, abort
from flask_login import UserMixin, current_user

from appliance.store.audit import Actor
from appliance.store.db import database
from appliance.store.models import User

F = TypeVar("F", bound=Callable[..., Any])

CLINICAL = frozenset({"medecin", "sage_femme", "infirmier", "matrone"})
EVERYONE = frozenset({*CLINICAL, "agent_saisie", "admin"})

# permission → roles that hold it. New areas add their permissions here.
PERMISSIONS: dict[str, frozenset[str]] = {
    "home": EVERYONE,
    "account": EVERYONE,  # one's own password and language
    "users.manage": frozenset({"admin"}),
    "audit.read": frozenset({"admin", "medecin"}),
    "users.bulk": frozenset({"admin"}),  # CSV import, replace, deactivate (appliance/emr/bulk_users.py)
    "patients.read": EVERYONE,  # search, chart, referral letter (appliance/emr/patients.py)
    "patients.register": frozenset({*CLINICAL, "agent_saisie"}),  # register, correct identity
    "patients.merge": frozenset({"admin"}),
    "visits.write": frozenset({*CLINICAL, "agent_saisie"}),  # record and correct visits (appliance/emr/visits.py)
    "visits.void": frozenset({"medecin", "admin"}),
    "followup.read": frozenset({*CLINICAL, "agent_saisie"}),  # worklists, alerts, families seen (emr/followup.py)
    "followup.contact": frozenset({*CLINICAL, "agent_saisie"}),  # record a call or home visit to a patient due
    "power.read": frozenset({"admin"}),  # battery, data used, upload windows (appliance/emr/power.py)
    "backup.read": frozenset({"admin", "medecin"}),  # last backups, stick copies, off-site state (emr/backup.py)
    "reports.read": EVERYONE,  # monthly report, drill-down, CSV, journey to DHIS2 (appliance/emr/reports.py)
    "reports.seal": frozenset({"medecin"}),  # the facility head signs the month off; admins run the box
    "outbox.read": frozenset({"medecin", "admin"}),  # the queue, sent items, dead letters
    "outbox.manage": frozenset({"admin"}),  # requeue or abandon a dead letter after fixing its cause
}

PUBLIC_ENDPOINTS = frozenset({"auth.login", "static"})


def requires(permission: str) -> Callable[[F], F]:
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not can(permission):
                abort(403)
            return view(*args, **kwargs)

        guarded.permission = permission  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate


def can(permission: str) -> bool:
    return bool(current_user.is_authenticated and current_user.role in PERMISSIONS[permission])


def check_every_view_is_guarded(app: Flask) -> None:
    unguarded = [
        endpoint for endpoint, view in app.view_functions.items()
        if endpoint not in PUBLIC_ENDPOINTS and not hasattr(view, "permission")
    ]
    if unguarded:
        raise RuntimeError(f"views without @requires(permission): {', '.join(sorted(unguarded))}")


class SessionUser(UserMixin):
    """The logged-in user as Flask-Login sees it: plain values, no database record.

    The session id includes a piece of the password hash, so changing a password (or an
    admin resetting it) ends every other open session of that account.
    """

    __slots__ = ("_fingerprint", "full_name", "id", "language", "must_change_password", "role", "username")

    def __init__(self, user: User) -> None:
        self.id = user.id
        self.username = user.username
        self.role = user.role
        self.language = user.language
        self.full_name = user.full_name
        self.must_change_password = user.must_change_password
        self._fingerprint = user.password_hash[-12:]

    def get_id(self) -> str:
        return f"{self.id}:{self._fingerprint}"

    @property
    def actor(self) -> Actor:
        return Actor(self.id, self.username, self.role)


# Every request loads its user: one prepared statement, not a peewee query built each time.
_SESSION_USER_SQL = (
    "SELECT id, username, first_name, last_name, role, language, must_change_password, password_hash "
    "FROM user WHERE id = ? AND active = 1"
)


def load_session_user(session_id: str) -> SessionUser | None:
    user_id, _, fingerprint = session_id.partition(":")
    if not user_id.isdigit():
        return None
    row = database.execute_sql(_SESSION_USER_SQL, (int(user_id),)).fetchone()
    if row is None or row[7][-12:] != fingerprint:
        return None
    user = User(id=row[0], username=row[1], first_name=row[2], last_name=row[3], role=row[4], language=row[5],
                must_change_password=bool(row[6]), password_hash=row[7])
    return SessionUser(user)


def current_actor() -> Actor:
    return current_user.actor
