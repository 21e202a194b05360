"""Password guessing slowed per account and per client, without letting a stranger lock staff out.

Each password check first reserves a failure under its keys, in one write transaction that
also counts the failures already there: parallel attempts are serialised by SQLite and the
sixth one sees the five before it (counting after the check let ~20 parallel guesses through).
A right password takes the reservation back.

Keys (see ``keys_for``):

- ``name:<username>`` — any name typed, known or not, so the reply says nothing about which
  names exist;
- ``client:<address>`` — one phone trying many names;
- ``device:<id>`` — a browser where this very account logged in before (a signed cookie). It
  replaces the two keys above: a stranger hammering a name does not stop its owner on her
  own phone. On a new phone she waits out the window or the admin runs
  ``appliance users reset-password`` on the box, which clears the name's failures.

The limits are a sliding window: ``limit`` failures per ``window_s``; the reply then says
when to try again. Rows older than the longest window are pruned on each insert.

The district service (``appliance.district``) counts its clinicians' failures with these same
functions in its own database (``db=``), under the EMR's policy (``SecuritySettings``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import peewee

from appliance.store.db import database

Database = peewee.Database | peewee.DatabaseProxy

CLIENT_LIMIT_FACTOR = 4  # a phone may mistype several colleagues' names before it is slowed


@dataclass(frozen=True)
class Key:
    key: str
    limit: int


@dataclass(frozen=True)
class Reservation:
    """The failure rows written before a check; ``retry_after_s`` set when refused instead."""

    row_ids: tuple[int, ...] = ()
    retry_after_s: float = 0.0
    newly_blocked: tuple[str, ...] = ()  # keys this attempt brought to their limit

    @property
    def refused(self) -> bool:
        return self.retry_after_s > 0


def keys_for(username: str, client: str, device: str | None, *, limit: int) -> list[Key]:
    name = username.strip().lower()[:64]
    if device:
        return [Key(f"device:{device}", limit)]
    return [Key(f"name:{name}", limit), Key(f"client:{client[:64]}", limit * CLIENT_LIMIT_FACTOR)]


def reserve(keys: list[Key], window_s: float, *, now: float | None = None, db: Database = database) -> Reservation:
    """Count the keys' failures in the window; refuse if one is at its limit, else reserve one each.
    ``db``: the database holding the ``login_failure`` table (the box's, or the district service's)."""
    now = time.time() if now is None else now
    since = now - window_s
    with db.atomic("IMMEDIATE"):  # the count and the insert in one write lock
        wait = 0.0
        newly: list[str] = []
        for key in keys:
            # a failure stamped ahead of now comes from before the clock jumped back (no RTC on
            # the Pi): it does not count, or one bad boot could lock a name for days
            rows = db.execute_sql("SELECT at FROM login_failure WHERE key = ? AND at > ? AND at <= ? "
                                        "ORDER BY at", (key.key, since, now + 1)).fetchall()
            if len(rows) >= key.limit:
                # the window slides: one more attempt when the oldest counted failure leaves it
                wait = max(wait, rows[len(rows) - key.limit][0] + window_s - now, 1.0)
            elif len(rows) + 1 == key.limit:
                newly.append(key.key)
        if wait:
            return Reservation(retry_after_s=wait)
        db.execute_sql("DELETE FROM login_failure WHERE at < ? OR at > ?", (since, now + 1))
        ids = tuple(
            db.execute_sql("INSERT INTO login_failure (key, at) VALUES (?, ?)", (key.key, now)).lastrowid
            for key in keys
        )
    return Reservation(row_ids=ids, newly_blocked=tuple(newly))


def release(reservation: Reservation, *, db: Database = database) -> None:
    """The password was right: the attempt was no failure."""
    if reservation.row_ids:
        marks = ",".join("?" * len(reservation.row_ids))
        db.execute_sql(f"DELETE FROM login_failure WHERE id IN ({marks})", reservation.row_ids)


def clear(username: str, *, db: Database = database) -> int:
    """Forget the failures counted against a name (the admin reset its password)."""
    return db.execute_sql("DELETE FROM login_failure WHERE key = ?",
                                (f"name:{username.strip().lower()[:64]}",)).rowcount
