"""Web sessions kept in SQLite, so that logging out, a new password or a deactivation ends them.

A signed cookie alone cannot be taken back: a copy of it kept by someone on the WiFi would
open charts until it expires. Here the cookie carries a random token; the box keeps its hash
with the time it was opened and last used, and every request checks both limits (idle and
absolute) against that row, whichever cookie the browser presents.

Times are epoch seconds from ``time.time()``. The Pi has no RTC: a ``last_seen_at`` in the
future means the clock jumped back, and the session is not punished for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import time
from dataclasses import dataclass

import peewee

from appliance.store.db import database

# Writing the row on every request costs a transaction: once a minute is precise enough for an
# idle limit counted in minutes.
TOUCH_GRANULARITY_S = 60


@dataclass(frozen=True)
class Limits:
    idle_s: float
    absolute_s: float


@dataclass(frozen=True)
class SessionRow:
    """The session and its user, read in one statement on every request."""

    token_hash: str
    created_at: float
    last_seen_at: float
    user_id: int
    username: str
    first_name: str
    last_name: str
    role: str
    language: str
    must_change_password: bool


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(user_id: int, limits: Limits, *, now: float | None = None) -> str:
    """A new session for ``user_id``; returns the token for the cookie (stored only hashed)."""
    now = time.time() if now is None else now
    token = secrets.token_urlsafe(32)
    with database.atomic():
        # Old rows go as new ones come: the table stays the size of the staff's open sessions.
        database.execute_sql("DELETE FROM web_session WHERE last_seen_at < ? OR created_at < ?",
                             (now - limits.idle_s, now - limits.absolute_s))
        database.execute_sql("INSERT INTO web_session (token_hash, user_id, created_at, last_seen_at) "
                             "VALUES (?, ?, ?, ?)", (token_hash(token), user_id, now, now))
    return token


_LOAD_SQL = (
    "SELECT s.token_hash, s.created_at, s.last_seen_at, u.id, u.username, u.first_name, u.last_name, u.role, "
    "u.language, u.must_change_password, u.active FROM web_session s JOIN user u ON u.id = s.user_id "
    "WHERE s.token_hash = ?"
)


class Expired(Exception):
    """The session existed but ran past a limit: the login page says so."""


def load(token: str, limits: Limits, *, now: float | None = None) -> SessionRow | None:
    """The live session for ``token``, None if unknown; raises Expired (and deletes it) past a limit."""
    if not token or len(token) > 100:
        return None
    now = time.time() if now is None else now
    row = database.execute_sql(_LOAD_SQL, (token_hash(token),)).fetchone()
    if row is None:
        return None
    if not row[10]:  # deactivated: the session ends now, and does not come back with the account
        with contextlib.suppress(peewee.OperationalError):
            revoke_user(row[3])
        return None
    created_at, last_seen_at = row[1], row[2]
    if now - last_seen_at > limits.idle_s or now - created_at > limits.absolute_s:
        with contextlib.suppress(peewee.OperationalError):
            _delete(row[0])
        raise Expired
    return SessionRow(row[0], created_at, last_seen_at, row[3], row[4], row[5], row[6], row[7], row[8], bool(row[9]))


def touch(session: SessionRow, *, now: float | None = None) -> None:
    """Record activity, at most once a minute (or at once after the clock jumped back)."""
    now = time.time() if now is None else now
    if 0 <= now - session.last_seen_at < TOUCH_GRANULARITY_S:
        return
    # A full disk or the low-battery read-only mode must not break reading pages: the idle
    # limit is then counted from the last activity that could be written.
    with contextlib.suppress(peewee.OperationalError):
        database.execute_sql("UPDATE web_session SET last_seen_at = ? WHERE token_hash = ?",
                             (now, session.token_hash))


def close(token: str) -> None:
    _delete(token_hash(token))


def _delete(hashed: str) -> None:
    database.execute_sql("DELETE FROM web_session WHERE token_hash = ?", (hashed,))


def revoke_user(user_id: int) -> int:
    """End every session of a user (new password, deactivation); returns how many."""
    return database.execute_sql("DELETE FROM web_session WHERE user_id = ?", (user_id,)).rowcount
