"""Who may see what: every view declares one permission, and the app refuses any that doesn't.

Fail closed: a view without ``@requires`` answers 403 and the app factory refuses to start
(see ``check_every_view_is_guarded``), so a forgotten decorator cannot leak a page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, abort, current_app, g
from flask_login import UserMixin, current_user

from appliance import sessions
from appliance.store.audit import Actor
from appliance.store.models import User

F = TypeVar("F", bound=Callable[..., Any])

CLINICAL = frozenset({"medecin", "sage_femme", "infirmier", "matrone"})
EVERYONE = frozenset({*CLINICAL, "agent_saisie", "admin"})
# Record visits only for a named clinician, and correct only their own transcriptions
# (appliance/emr/visits.py); the whole matrix is in docs/security.md.
TRANSCRIBERS = frozenset({"agent_saisie"})

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
    # PCIME consultation and its prescription (appliance/emr/pcime.py): prescribers only, never a data clerk alone
    "pcime.write": frozenset({"medecin", "infirmier", "sage_femme"}),
    "stock.read": EVERYONE,  # levels, a product's lots and moves, the month's stock (appliance/emr/stock.py)
    "stock.manage": frozenset({"medecin", "infirmier", "admin"}),  # receipts, counts, losses
    "stock.dispense": frozenset({*CLINICAL, "agent_saisie"}),  # hand over what a prescriber wrote
    # coverage, chronic-care register, access, review sheet (appliance/emr/facility.py)
    "facility.read": frozenset({*CLINICAL, "agent_saisie", "admin"}),
    "facility.manage": frozenset({"medecin"}),  # the health area's population and the targets: the head's
    # referrals and counter-referrals (appliance/emr/referrals.py): a clinician refers; the slip that comes
    # back may be typed by the data clerk too
    "referrals.read": frozenset({*CLINICAL, "agent_saisie"}),
    "referrals.write": CLINICAL,
    "referrals.counter": frozenset({*CLINICAL, "agent_saisie"}),
    # a second opinion from a district clinician (appliance/emr/avis.py): clinicians ask and read the answers
    "avis.ask": CLINICAL,
    "documents.read": frozenset({*CLINICAL, "agent_saisie"}),  # the district's protocols and notes (emr/documents.py)
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

    Its id is the server-side session's token (``appliance.sessions``): the cookie names a
    session the box can end, not a user.
    """

    __slots__ = ("full_name", "id", "language", "must_change_password", "role", "session", "token", "username")

    def __init__(self, row: sessions.SessionRow, token: str) -> None:
        self.id = row.user_id
        self.username = row.username
        self.role = row.role
        self.language = row.language
        self.full_name = f"{row.first_name} {row.last_name}".strip()
        self.must_change_password = row.must_change_password
        self.session = row
        self.token = token

    def get_id(self) -> str:
        return self.token

    @property
    def actor(self) -> Actor:
        return Actor(self.id, self.username, self.role)


def session_limits() -> sessions.Limits:
    web = current_app.config["APPLIANCE"].web
    return sessions.Limits(idle_s=web.session_idle_minutes * 60, absolute_s=web.session_max_hours * 3600)


def load_session_user(token: str) -> SessionUser | None:
    """Flask-Login's loader: the session row and its user, or None (``g.session_expired`` says why)."""
    try:
        row = sessions.load(token, session_limits())
    except sessions.Expired:
        g.session_expired = True
        return None
    return SessionUser(row, token) if row else None


def start_session(user: User) -> SessionUser:
    """Open a server-side session for ``user`` (after a login or a new password)."""
    token = sessions.open_session(user.id, session_limits())
    return load_session_user(token)


def current_actor() -> Actor:
    return current_user.actor
