"""Store and forward: the one queue every outgoing message goes through, and the one flush.

Delivery is at least once; receivers make it exactly once in effect (DHIS2's upsert keys). The
rules that make a power cut harmless at any instant:

- ``enqueue`` joins the caller's transaction (a savepoint when one is open), so a report and its
  outbox item commit together or not at all;
- before a request, the item is marked ``sending`` and its attempt row committed; after the reply,
  the outcome and the item's new state commit together. An item is never marked delivered before
  the receiver said so;
- one flusher at a time (a flock beside the database); at start it finds items left ``sending`` by
  a flusher that died and puts them back in the queue, their attempt marked ``interrupted``.

Enqueueing and reading the queue need nothing but the database. Flushing needs to know who delivers
each kind and how patiently to retry: that is an ``Outbox``, composed once by the process that
flushes (``appliance.wiring.compose_outbox``), never a module-level registry.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import random
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import peewee

from appliance.outbox.models import ItemState, OutboxAttempt, OutboxItem
from appliance.outbox.outcome import Outcome, OutcomeKind
from appliance.settings.outbox import OutboxSettings
from appliance.store.audit import Actor, record_event
from appliance.store.db import database
from appliance.store.models import utcnow

log = logging.getLogger(__name__)

Sender = Callable[[OutboxItem], Outcome]

KIND_LABELS: dict[str, str] = tomllib.loads(
    (Path(__file__).parent / "data" / "kinds.toml").read_text(encoding="utf-8")
)["labels"]


def kind_label(kind: str) -> str:
    """French label of a kind of message, for the EMR pages (the raw kind when unknown)."""
    return KIND_LABELS.get(kind, kind)


# --- Enqueue --------------------------------------------------------------------------------------


def enqueue(
    kind: str,
    payload: dict | bytes,
    *,
    dedupe_key: str | None = None,
    urgent: bool = False,
    ref: str | None = None,
) -> OutboxItem:
    """Queue ``payload`` for delivery by the sender of ``kind``, inside the caller's transaction.

    ``dedupe_key``: items with the same kind and key are versions of one message; a new one
    supersedes the older ones not yet delivered (only the newest is sent). ``ref`` links the item
    back to the caller's record (e.g. ``"report:12"``) for the EMR pages.
    """
    if not kind:
        raise ValueError("outbox: kind is required")
    if isinstance(payload, bytes | bytearray):
        raw, is_json = bytes(payload), False
    elif isinstance(payload, dict):
        raw, is_json = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), True
    else:
        raise TypeError(f"outbox payload must be a dict or bytes, not {type(payload).__name__}")
    now = utcnow()
    with database.atomic():
        item = OutboxItem.create(
            kind=kind,
            dedupe_key=dedupe_key,
            ref=ref,
            urgent=urgent,
            payload=raw,
            payload_is_json=is_json,
            state=ItemState.PENDING,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        if dedupe_key is not None:
            (
                OutboxItem.update(
                    state=ItemState.SUPERSEDED,
                    superseded_by=item.id,
                    updated_at=now,
                    last_message="remplacé par une version plus récente avant l'envoi",
                )
                .where(
                    (OutboxItem.kind == kind)
                    & (OutboxItem.dedupe_key == dedupe_key)
                    & (OutboxItem.id < item.id)
                    & (OutboxItem.state.in_((ItemState.PENDING, ItemState.DEAD)))
                )
                .execute()
            )
    return item


# --- Flush ----------------------------------------------------------------------------------------


@dataclass
class FlushReport:
    attempted: int = 0
    delivered: int = 0
    delivered_with_conflicts: int = 0
    retried: int = 0
    dead: int = 0
    superseded: int = 0
    recovered: int = 0  # items found "sending" after a crash, put back in the queue
    bytes_sent: int = 0
    bytes_received: int = 0
    elapsed_s: float = 0.0
    # why the flush ended: empty (nothing left due), deadline, byte_budget, link_down (nothing left
    # due but items of a kind stopped on a dead link), locked (another flush is running)
    stopped: str = "empty"
    link_down_kinds: list[str] = field(default_factory=list)
    remaining: int = 0  # items still waiting (pending or sending) at the end

    def summary_fr(self) -> str:
        reasons = {
            "empty": "plus rien à envoyer maintenant",
            "deadline": "délai écoulé",
            "byte_budget": "budget d'octets atteint",
            "link_down": "liaison coupée",
            "locked": "un autre envoi est déjà en cours",
        }
        return (
            f"{self.attempted} tentative(s) : {self.delivered} livré(s), {self.delivered_with_conflicts} "
            f"livré(s) avec conflits, {self.retried} à réessayer, {self.dead} en lettre morte, "
            f"{self.superseded} remplacé(s), {self.recovered} repris après coupure ; "
            f"{self.bytes_sent} octets envoyés, {self.bytes_received} reçus en {self.elapsed_s:.1f} s ; "
            f"{self.remaining} en attente ; fin : {reasons.get(self.stopped, self.stopped)}"
        )


class Outbox:
    """The flushing side of the queue: who delivers each kind and how patiently to retry.

    One per flushing process, composed at start-up from the ``outbox_senders`` hook point
    (``appliance.wiring.compose_outbox``); tests build their own. The queue's state lives in
    SQLite only, so any number of ``Outbox`` objects share it safely (one flush at a time, by flock).
    """

    def __init__(
        self,
        settings: OutboxSettings | None = None,
        senders: Mapping[str, Sender] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings or OutboxSettings()
        self._senders: dict[str, Sender] = dict(senders or {})
        self._random = rng or random.Random()

    def register_sender(self, kind: str, sender: Sender) -> None:
        """``sender(item) -> Outcome`` delivers items of ``kind``. It must not raise for a delivery failure
        (an exception counts as retry_later). An optional ``sender.close()`` is called after each flush."""
        self._senders[kind] = sender

    def kinds(self) -> list[str]:
        """The kinds this outbox delivers; items of other kinds wait for a process that has their sender."""
        return sorted(self._senders)

    def flush(
        self, *, deadline_s: float | None = None, only_urgent: bool = False, byte_budget: int | None = None
    ) -> FlushReport:
        """Deliver what is due. The one code path of ``appliance outbox flush`` and the upload windows.

        Without ``deadline_s``: one pass over the items due when it began. With it: keeps going until the
        deadline, waiting for items whose backoff ends before it (an upload window's airtime).
        ``byte_budget`` is checked between items (the item that crosses it is still sent whole).
        """
        started = time.monotonic()
        report = FlushReport()
        with _flush_lock() as acquired:
            if not acquired:
                report.stopped = "locked"
                report.remaining = _waiting_count()
                return report
            try:
                report.recovered = self._recover_interrupted()
                self._deliver_due(report, started, deadline_s, only_urgent, byte_budget)
            finally:
                for sender in self._senders.values():
                    close = getattr(sender, "close", None)
                    if close is not None:
                        close()
        report.elapsed_s = time.monotonic() - started
        report.remaining = _waiting_count()
        return report

    def _deliver_due(
        self, report: FlushReport, started: float, deadline_s: float | None, only_urgent: bool, byte_budget: int | None
    ) -> None:
        link_failures: dict[str, int] = {}
        stopped_kinds: set[str] = set()
        # Without a deadline, one pass: what was due when the flush began, each item tried once.
        pass_began = utcnow()
        while True:
            elapsed = time.monotonic() - started
            if deadline_s is not None and elapsed >= deadline_s:
                report.stopped = "deadline"
                return
            if byte_budget is not None and report.bytes_sent + report.bytes_received >= byte_budget:
                report.stopped = "byte_budget"
                return
            kinds = [kind for kind in self._senders if kind not in stopped_kinds]
            item = _next_due(kinds, only_urgent, utcnow() if deadline_s is not None else pass_began)
            if item is None:
                wait = _seconds_until_next_due(kinds, only_urgent)
                if deadline_s is not None and wait is not None and elapsed + wait < deadline_s:
                    time.sleep(max(wait, 0.001))
                    continue
                report.stopped = "link_down" if stopped_kinds else "empty"
                return
            attempt = _start(item)
            outcome = self._call_sender(item)
            report.attempted += 1
            report.bytes_sent += outcome.bytes_sent
            report.bytes_received += outcome.bytes_received
            _count(report, self._finish(item, attempt, outcome), outcome)
            if outcome.kind is OutcomeKind.RETRY_LATER and outcome.link_down:
                link_failures[item.kind] = link_failures.get(item.kind, 0) + 1
                if link_failures[item.kind] >= self.settings.link_failures_before_stop:
                    stopped_kinds.add(item.kind)
                    report.link_down_kinds.append(item.kind)
            else:
                link_failures[item.kind] = 0

    def _call_sender(self, item: OutboxItem) -> Outcome:
        """The sender's outcome, outside any transaction (a request may take a minute over 3G)."""
        try:
            return self._senders[item.kind](item)
        except Exception as exc:  # a bug in a sender must not stop the queue: retried, then dead-lettered
            log.exception("outbox sender for %s failed on item %s", item.kind, item.id)
            return Outcome(OutcomeKind.RETRY_LATER, f"erreur interne pendant l'envoi : {type(exc).__name__}: {exc}")

    def _finish(self, item: OutboxItem, attempt: OutboxAttempt, outcome: Outcome) -> str:
        """Record the attempt's outcome and the item's next state in one transaction; return that state."""
        with database.atomic():
            now = utcnow()
            (
                OutboxAttempt.update(
                    finished_at=now,
                    outcome=outcome.kind.value,
                    http_status=outcome.http_status,
                    bytes_sent=outcome.bytes_sent,
                    bytes_received=outcome.bytes_received,
                    message=outcome.message,
                    detail=json.dumps(outcome.detail_json(), ensure_ascii=False, default=str),
                )
                .where(OutboxAttempt.id == attempt.id)
                .execute()
            )
            changes: dict[str, Any] = {
                "last_outcome": outcome.kind.value,
                "last_message": outcome.message,
                "updated_at": now,
            }
            if outcome.delivered:
                changes |= {"state": ItemState.DELIVERED, "delivered_at": now}
            elif (newer := _newest_sibling(item)) is not None:
                changes |= {"state": ItemState.SUPERSEDED, "superseded_by": newer}
            elif outcome.kind is OutcomeKind.NEEDS_ACTION:
                changes |= {"state": ItemState.DEAD}
            elif outcome.link_down:
                # Nothing reached the server: that says nothing about the item, so it does not spend
                # the item's attempts (a week without coverage must not turn reports into dead letters).
                item.attempts -= 1
                changes |= {
                    "state": ItemState.PENDING,
                    "attempts": item.attempts,
                    "next_attempt_at": now + dt.timedelta(seconds=self.backoff(item.attempts, outcome)),
                }
            elif item.attempts >= self.settings.max_attempts:
                changes |= {
                    "state": ItemState.DEAD,
                    "last_message": f"abandonné après {item.attempts} tentatives ; dernière erreur : {outcome.message}",
                }
            else:
                changes |= {
                    "state": ItemState.PENDING,
                    "next_attempt_at": now + dt.timedelta(seconds=self.backoff(item.attempts, outcome)),
                }
            OutboxItem.update(**changes).where(OutboxItem.id == item.id).execute()
        item.state = changes["state"]
        return changes["state"]

    def backoff(self, attempts: int, outcome: Outcome) -> float:
        """Equal jitter: between half and all of the exponential delay, never less than Retry-After."""
        ceiling = min(self.settings.max_delay_s, self.settings.base_delay_s * 2 ** min(max(attempts, 1) - 1, 60))
        delay = ceiling / 2 + self._random.random() * ceiling / 2
        if outcome.retry_after_s:
            delay = max(delay, min(outcome.retry_after_s, self.settings.max_delay_s))
        return delay

    def _recover_interrupted(self) -> int:
        """Items left "sending" by a flusher that died: back in the queue (their attempt counts)."""
        recovered = 0
        for item in OutboxItem.select().where(OutboxItem.state == ItemState.SENDING):
            with database.atomic():
                now = utcnow()
                message = "envoi interrompu (arrêt ou coupure de courant pendant l'envoi) : sera renvoyé"
                (
                    OutboxAttempt.update(outcome="interrupted", finished_at=now, message=message)
                    .where((OutboxAttempt.item == item.id) & (OutboxAttempt.outcome == "in_flight"))
                    .execute()
                )
                changes: dict[str, Any] = {
                    "updated_at": now,
                    "last_outcome": "interrupted",
                    "last_message": message,
                }
                if (newer := _newest_sibling(item)) is not None:
                    changes |= {"state": ItemState.SUPERSEDED, "superseded_by": newer}
                elif item.attempts >= self.settings.max_attempts:
                    changes |= {
                        "state": ItemState.DEAD,
                        "last_message": f"abandonné après {item.attempts} tentatives interrompues",
                    }
                else:
                    changes |= {"state": ItemState.PENDING, "next_attempt_at": now}
                OutboxItem.update(**changes).where(OutboxItem.id == item.id).execute()
            recovered += 1
        return recovered


def _count(report: FlushReport, state: str, outcome: Outcome) -> None:
    if state == ItemState.DELIVERED:
        if outcome.kind is OutcomeKind.DELIVERED_WITH_CONFLICTS:
            report.delivered_with_conflicts += 1
        else:
            report.delivered += 1
    elif state == ItemState.DEAD:
        report.dead += 1
    elif state == ItemState.SUPERSEDED:
        report.superseded += 1
    else:
        report.retried += 1


def _due_query(kinds: list[str] | None, only_urgent: bool) -> peewee.ModelSelect:
    """Pending items of ``kinds`` (every kind when None), urgent ones only if asked."""
    query = OutboxItem.select().where(OutboxItem.state == ItemState.PENDING)
    if kinds is not None:
        query = query.where(OutboxItem.kind.in_(kinds))
    if only_urgent:
        query = query.where(OutboxItem.urgent == True)  # noqa: E712 (peewee expression)
    return query


def _next_due(kinds: list[str], only_urgent: bool, due_by: dt.datetime) -> OutboxItem | None:
    if not kinds:
        return None
    query = _due_query(kinds, only_urgent).where(OutboxItem.next_attempt_at <= due_by)
    return query.order_by(OutboxItem.urgent.desc(), OutboxItem.id).first()


def urgent_due(kinds: list[str] | None = None) -> bool:
    """An urgent item of ``kinds`` (every kind when None) is due now: the agent's cheap check (one
    indexed query on state and next_attempt_at) for sending it at once rather than at the next window."""
    return _due_query(kinds, True).where(OutboxItem.next_attempt_at <= utcnow()).exists()


def _seconds_until_next_due(kinds: list[str], only_urgent: bool) -> float | None:
    if not kinds:
        return None
    soonest = _due_query(kinds, only_urgent).order_by(OutboxItem.next_attempt_at).first()
    if soonest is None:
        return None
    return (soonest.next_attempt_at - utcnow()).total_seconds()


def _start(item: OutboxItem) -> OutboxAttempt:
    """Commit "sending" and the attempt row before the request leaves."""
    with database.atomic():
        now = utcnow()
        item.attempts += 1
        (
            OutboxItem.update(state=ItemState.SENDING, attempts=item.attempts, updated_at=now)
            .where(OutboxItem.id == item.id)
            .execute()
        )
        number = OutboxAttempt.select().where(OutboxAttempt.item == item.id).count() + 1
        attempt = OutboxAttempt.create(item=item.id, number=number, started_at=now)
    item.state = ItemState.SENDING
    return attempt


def _newest_sibling(item: OutboxItem) -> int | None:
    """The id of the newest item with the same kind and dedupe key, if newer than ``item``."""
    if item.dedupe_key is None:
        return None
    newest = (
        OutboxItem.select(peewee.fn.MAX(OutboxItem.id))
        .where((OutboxItem.kind == item.kind) & (OutboxItem.dedupe_key == item.dedupe_key))
        .scalar()
    )
    return newest if newest and newest > item.id else None


def _waiting_count() -> int:
    return OutboxItem.select().where(OutboxItem.state.in_(ItemState.WAITING)).count()


@contextmanager
def _flush_lock() -> Iterator[bool]:
    """An exclusive, non-blocking flock beside the database file; the kernel drops it if we die."""
    db_path = getattr(database.obj, "database", "") or ""
    if db_path and db_path != ":memory:":
        lock_path = Path(f"{db_path}.outbox.lock")
    else:
        lock_path = Path(tempfile.gettempdir()) / f"appliance-outbox-{os.getpid()}.lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


# --- Status and dead letters, for the CLI, the EMR and telemetry -----------------------------------


@dataclass(frozen=True)
class OutboxStatus:
    depth: int  # items waiting (pending or sending)
    oldest_age_s: float | None  # age of the oldest waiting item
    dead_letters: int
    sending: int
    waiting_by_kind: dict[str, int]
    last_success_at: dict[str, dt.datetime]  # per kind, naive UTC
    bytes_last_24h: int  # sent + received by every attempt finished in the last 24 h


def status() -> OutboxStatus:
    now = utcnow()
    waiting = OutboxItem.select().where(OutboxItem.state.in_(ItemState.WAITING))
    oldest = waiting.order_by(OutboxItem.created_at).first()
    by_kind = {
        row.kind: row.n
        for row in waiting.select(OutboxItem.kind, peewee.fn.COUNT(OutboxItem.id).alias("n")).group_by(OutboxItem.kind)
    }
    last_success = {
        row.kind: _as_datetime(row.last)
        for row in OutboxItem.select(OutboxItem.kind, peewee.fn.MAX(OutboxItem.delivered_at).alias("last"))
        .where(OutboxItem.state == ItemState.DELIVERED)
        .group_by(OutboxItem.kind)
    }
    bytes_24h = (
        OutboxAttempt.select(
            peewee.fn.COALESCE(peewee.fn.SUM(OutboxAttempt.bytes_sent + OutboxAttempt.bytes_received), 0)
        )
        .where(OutboxAttempt.finished_at >= now - dt.timedelta(hours=24))
        .scalar()
    )
    return OutboxStatus(
        depth=sum(by_kind.values()),
        oldest_age_s=(now - oldest.created_at).total_seconds() if oldest else None,
        dead_letters=OutboxItem.select().where(OutboxItem.state == ItemState.DEAD).count(),
        sending=OutboxItem.select().where(OutboxItem.state == ItemState.SENDING).count(),
        waiting_by_kind=by_kind,
        last_success_at=last_success,
        bytes_last_24h=int(bytes_24h or 0),
    )


def _as_datetime(value: Any) -> dt.datetime:
    """Aggregates come back from SQLite as text: parse them the way peewee stores them."""
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


@dataclass(frozen=True)
class DeadLetter:
    id: int
    kind: str
    kind_label: str
    ref: str | None
    dedupe_key: str | None
    created_at: dt.datetime
    attempts: int
    reason: str  # French: what went wrong and, for DHIS2, what to do


def list_dead_letters(limit: int = 200) -> list[DeadLetter]:
    """Dead letters, newest first: the EMR's "à traiter" list for the administrator."""
    query = (
        OutboxItem.select()
        .where(OutboxItem.state == ItemState.DEAD)
        .order_by(OutboxItem.updated_at.desc(), OutboxItem.id.desc())
        .limit(limit)
    )
    return [
        DeadLetter(
            id=item.id,
            kind=item.kind,
            kind_label=kind_label(item.kind),
            ref=item.ref,
            dedupe_key=item.dedupe_key,
            created_at=item.created_at,
            attempts=item.attempts,
            reason=item.last_message or "",
        )
        for item in query
    ]


def attempts_of(item_id: int) -> list[OutboxAttempt]:
    """The item's delivery history, oldest first."""
    return list(OutboxAttempt.select().where(OutboxAttempt.item == item_id).order_by(OutboxAttempt.number))


class OutboxActionError(ValueError):
    """An administrator's action that does not apply to this item; worded in French."""


def requeue(item_id: int, actor: Actor) -> OutboxItem:
    """Send a dead letter again (after the cause was fixed): a fresh series of attempts, now."""
    with database.atomic():
        item = _dead_item(item_id)
        now = utcnow()
        (
            OutboxItem.update(state=ItemState.PENDING, attempts=0, next_attempt_at=now, updated_at=now)
            .where(OutboxItem.id == item.id)
            .execute()
        )
        record_event(actor, "outbox_requeue", "outbox_item", item.id, reason=item.last_message)
    return OutboxItem.get_by_id(item_id)


def abandon(item_id: int, actor: Actor, reason: str) -> OutboxItem:
    """Give up on a dead letter, with a reason; it stays in the database and its history."""
    if not reason or not reason.strip():
        raise OutboxActionError("Un motif est obligatoire pour abandonner un envoi.")
    with database.atomic():
        item = _dead_item(item_id)
        (
            OutboxItem.update(
                state=ItemState.ABANDONED,
                updated_at=utcnow(),
                last_message=f"abandonné par {actor.username} : {reason.strip()}",
            )
            .where(OutboxItem.id == item.id)
            .execute()
        )
        record_event(actor, "outbox_abandon", "outbox_item", item.id, reason=reason.strip())
    return OutboxItem.get_by_id(item_id)


def _dead_item(item_id: int) -> OutboxItem:
    item = OutboxItem.get_or_none(OutboxItem.id == item_id)
    if item is None:
        raise OutboxActionError(f"Envoi n° {item_id} introuvable.")
    if item.state != ItemState.DEAD:
        raise OutboxActionError(f"L'envoi n° {item_id} n'est pas en lettre morte (état : {item.state}).")
    return item
