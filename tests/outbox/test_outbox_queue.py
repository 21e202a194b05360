"""The outbox queue with in-process senders: states, retries, dead letters, transactions, crash recovery."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Callable

import pytest

from appliance import outbox
from appliance.outbox import queue
from appliance.outbox.models import ItemState, OutboxAttempt, OutboxItem
from appliance.outbox.outcome import Conflict, Outcome, OutcomeKind
from appliance.store.audit import Actor
from appliance.store.db import database
from appliance.store.models import AuditEntry, utcnow

ADMIN = Actor(user_id=1, username="admin1", role="admin")


def delivered(**extra) -> Outcome:
    return Outcome(OutcomeKind.DELIVERED, "reçu", http_status=200, bytes_sent=100, bytes_received=50, **extra)


def scripted(*outcomes: Outcome) -> Callable[[OutboxItem], Outcome]:
    """A sender that answers the given outcomes in turn, then keeps answering the last one."""
    answers = list(outcomes)
    calls: list[int] = []

    def send(item: OutboxItem) -> Outcome:
        calls.append(item.id)
        return answers.pop(0) if len(answers) > 1 else answers[0]

    send.calls = calls
    return send


def state(item: OutboxItem) -> str:
    return OutboxItem.get_by_id(item.id).state


def test_enqueue_joins_the_callers_transaction(store) -> None:
    with pytest.raises(RuntimeError), database.atomic():
        outbox.enqueue("test.kind", {"n": 1})
        raise RuntimeError("sealing failed")
    assert OutboxItem.select().count() == 0
    with database.atomic():
        outbox.enqueue("test.kind", {"n": 2})
    assert [item.load_payload() for item in OutboxItem.select()] == [{"n": 2}]


def test_enqueue_alone_is_committed_at_once(store) -> None:
    item = outbox.enqueue("test.kind", b"\x00raw bytes", urgent=True, ref="thing:1")
    other = sqlite3.connect(store.database)
    row = other.execute("SELECT kind, urgent, payload, payload_is_json, state, ref FROM outbox_item").fetchone()
    other.close()
    assert row == ("test.kind", 1, b"\x00raw bytes", 0, "pending", "thing:1")
    assert item.load_payload() == b"\x00raw bytes"
    with pytest.raises(TypeError):
        outbox.enqueue("test.kind", ["not", "a", "dict"])


def test_a_delivery_is_recorded_with_its_attempt(store, box) -> None:
    box.register_sender("test.kind", scripted(delivered(detail={"count": 3})))
    item = outbox.enqueue("test.kind", {"n": 1})
    report = box.flush()
    assert (report.attempted, report.delivered, report.bytes_sent, report.bytes_received) == (1, 1, 100, 50)
    assert report.stopped == "empty" and report.remaining == 0
    stored = OutboxItem.get_by_id(item.id)
    assert stored.state == ItemState.DELIVERED and stored.delivered_at is not None
    (attempt,) = queue.attempts_of(item.id)
    assert (attempt.number, attempt.outcome, attempt.http_status, attempt.bytes_sent) == (1, "delivered", 200, 100)
    assert attempt.finished_at is not None and attempt.detail_json()["count"] == 3
    assert "test.kind" in outbox.status().last_success_at


def test_the_item_is_marked_sending_and_its_attempt_committed_before_the_request(store, box) -> None:
    seen = {}

    def send(item: OutboxItem) -> Outcome:
        other = sqlite3.connect(store.database)
        seen["item"] = other.execute("SELECT state, attempts FROM outbox_item WHERE id = ?", (item.id,)).fetchone()
        seen["attempt"] = other.execute("SELECT outcome FROM outbox_attempt WHERE item_id = ?", (item.id,)).fetchall()
        other.close()
        return delivered()

    box.register_sender("test.kind", send)
    outbox.enqueue("test.kind", {"n": 1})
    box.flush()
    assert seen == {"item": ("sending", 1), "attempt": [("in_flight",)]}


def test_retries_back_off_with_jitter_then_give_up(store, box) -> None:
    failure = Outcome(OutcomeKind.RETRY_LATER, "503 indisponible", http_status=503)
    box.register_sender("test.kind", scripted(failure))
    item = outbox.enqueue("test.kind", {"n": 1})
    report = box.flush()
    assert report.retried == 1 and report.stopped == "empty"
    waiting = OutboxItem.get_by_id(item.id)
    assert waiting.state == ItemState.PENDING
    delay = (waiting.next_attempt_at - queue.attempts_of(item.id)[0].finished_at).total_seconds()
    assert 0.005 <= delay <= 0.01  # first retry: half to all of base_delay_s (0.01 s)
    for _ in range(10):
        time.sleep(0.06)
        box.flush()
    dead = OutboxItem.get_by_id(item.id)
    assert dead.state == ItemState.DEAD and dead.attempts == 5  # max_attempts in this folder's settings
    assert dead.last_message == "abandonné après 5 tentatives ; dernière erreur : 503 indisponible"
    assert [attempt.outcome for attempt in queue.attempts_of(item.id)] == ["retry_later"] * 5


def test_backoff_grows_and_respects_retry_after(store) -> None:
    box = queue.Outbox(queue.OutboxSettings(base_delay_s=60, max_delay_s=3600))
    failure = Outcome(OutcomeKind.RETRY_LATER, "x")
    delays = [box.backoff(attempt, failure) for attempt in range(1, 10)]
    assert 30 <= delays[0] <= 60 and 60 <= delays[1] <= 120 and 240 <= delays[3] <= 480
    assert all(1800 <= delay <= 3600 for delay in delays[6:])
    assert box.backoff(1, Outcome(OutcomeKind.RETRY_LATER, "x", retry_after_s=900)) == 900


def test_needs_action_is_a_dead_letter_at_once_and_can_be_requeued_or_abandoned(store, box) -> None:
    sender = scripted(Outcome(OutcomeKind.NEEDS_ACTION, "jeton refusé (401)", http_status=401), delivered())
    box.register_sender("dhis2.report", sender)
    first = outbox.enqueue("dhis2.report", {"n": 1}, ref="report:1")
    second = outbox.enqueue("test.other", {"n": 2})
    report = box.flush()
    assert report.dead == 1 and state(first) == ItemState.DEAD
    (letter,) = outbox.list_dead_letters()
    assert (letter.id, letter.kind_label, letter.ref, letter.reason) == (
        first.id, "Rapport mensuel vers DHIS2", "report:1", "jeton refusé (401)")
    assert outbox.status().dead_letters == 1
    outbox.requeue(first.id, ADMIN)
    assert OutboxItem.get_by_id(first.id).attempts == 0
    assert box.flush().delivered == 1 and state(first) == ItemState.DELIVERED
    with pytest.raises(queue.OutboxActionError, match="n'est pas en lettre morte"):
        outbox.requeue(first.id, ADMIN)
    with pytest.raises(queue.OutboxActionError, match="introuvable"):
        outbox.abandon(9999, ADMIN, "x")
    assert state(second) == ItemState.PENDING  # no sender for its kind: it waits
    entries = AuditEntry.select().where(AuditEntry.table_name == "outbox_item")
    audit = [(entry.action, entry.username) for entry in entries]
    assert audit == [("outbox_requeue", "admin1")]


def test_abandon_needs_a_reason_and_keeps_the_item(store, box) -> None:
    box.register_sender("test.kind", scripted(Outcome(OutcomeKind.NEEDS_ACTION, "refusé")))
    item = outbox.enqueue("test.kind", {"n": 1})
    box.flush()
    with pytest.raises(queue.OutboxActionError, match="motif"):
        outbox.abandon(item.id, ADMIN, "  ")
    outbox.abandon(item.id, ADMIN, "rapport saisi à la main au district")
    stored = OutboxItem.get_by_id(item.id)
    assert stored.state == ItemState.ABANDONED
    assert stored.last_message == "abandonné par admin1 : rapport saisi à la main au district"
    assert outbox.list_dead_letters() == []


def test_a_newer_version_supersedes_waiting_and_dead_ones(store, box) -> None:
    v1 = outbox.enqueue("test.kind", {"v": 1}, dedupe_key="ou:2024-03")
    other = outbox.enqueue("test.kind", {"v": 1}, dedupe_key="ou:2024-04")
    v2 = outbox.enqueue("test.kind", {"v": 2}, dedupe_key="ou:2024-03")
    assert (state(v1), state(other), state(v2)) == (ItemState.SUPERSEDED, ItemState.PENDING, ItemState.PENDING)
    assert OutboxItem.get_by_id(v1.id).superseded_by_id == v2.id
    sender = scripted(delivered())
    box.register_sender("test.kind", sender)
    box.flush()
    assert sorted(sender.calls) == sorted([other.id, v2.id])


def test_a_version_in_flight_when_a_newer_one_arrives_is_superseded_if_it_fails(store, box) -> None:
    def send(item: OutboxItem) -> Outcome:
        if item.load_payload()["v"] == 1:
            outbox.enqueue("test.kind", {"v": 2}, dedupe_key="k")  # sealed while v1 was on the wire
            return Outcome(OutcomeKind.RETRY_LATER, "coupure")
        return delivered()

    box.register_sender("test.kind", send)
    v1 = outbox.enqueue("test.kind", {"v": 1}, dedupe_key="k")
    report = box.flush()
    assert (report.superseded, report.delivered) == (1, 0)  # v2 came after the pass began: next flush
    assert state(v1) == ItemState.SUPERSEDED
    assert box.flush().delivered == 1


def test_urgent_items_go_first_and_alone_when_asked(store, box) -> None:
    sender = scripted(delivered())
    box.register_sender("test.kind", sender)
    normal = outbox.enqueue("test.kind", {"n": 1})
    urgent = outbox.enqueue("test.kind", {"n": 2}, urgent=True)
    report = box.flush(only_urgent=True)
    assert report.delivered == 1 and sender.calls == [urgent.id]
    box.flush()
    assert sender.calls == [urgent.id, normal.id]


def test_with_a_deadline_the_flush_waits_for_retries_that_fall_inside_it(store, box) -> None:
    failure = Outcome(OutcomeKind.RETRY_LATER, "reset")
    sender = scripted(failure, failure, delivered())
    box.register_sender("test.kind", sender)
    item = outbox.enqueue("test.kind", {"n": 1})
    assert box.flush().retried == 1  # without a deadline: one pass
    report = box.flush(deadline_s=5)
    assert (report.retried, report.delivered) == (1, 1)
    assert state(item) == ItemState.DELIVERED and report.elapsed_s < 5


def test_a_deadline_already_spent_sends_nothing(store, box) -> None:
    box.register_sender("test.kind", scripted(delivered()))
    outbox.enqueue("test.kind", {"n": 1})
    report = box.flush(deadline_s=0)
    assert (report.attempted, report.stopped, report.remaining) == (0, "deadline", 1)


def test_the_byte_budget_stops_between_items(store, box) -> None:
    box.register_sender("test.kind", scripted(delivered()))
    for n in range(5):
        outbox.enqueue("test.kind", {"n": n})
    report = box.flush(byte_budget=400)  # 150 bytes an item: the third crosses it
    assert (report.delivered, report.stopped, report.remaining) == (3, "byte_budget", 2)


def test_a_dead_link_stops_its_kind_but_not_the_others(store, box) -> None:
    down = scripted(Outcome(OutcomeKind.RETRY_LATER, "délai dépassé", link_down=True))
    up = scripted(delivered())
    box.register_sender("dhis2.report", down)
    box.register_sender("test.kind", up)
    for n in range(6):
        outbox.enqueue("dhis2.report", {"n": n})
    outbox.enqueue("test.kind", {"n": 99})
    report = box.flush()
    assert len(down.calls) == 3  # link_failures_before_stop
    assert report.link_down_kinds == ["dhis2.report"] and report.stopped == "link_down"
    assert len(up.calls) == 1


def test_link_down_failures_do_not_spend_the_attempts(store, box) -> None:
    """Weeks without 3G coverage must leave reports waiting, not dead."""
    box.register_sender("test.kind", scripted(Outcome(OutcomeKind.RETRY_LATER, "délai dépassé", link_down=True)))
    item = outbox.enqueue("test.kind", {"n": 1})
    for _ in range(8):  # more windows than max_attempts (5)
        box.flush()
        time.sleep(0.02)
    stored = OutboxItem.get_by_id(item.id)
    assert (stored.state, stored.attempts) == (ItemState.PENDING, 0)
    assert [attempt.number for attempt in queue.attempts_of(item.id)] == list(range(1, 9))


def test_a_crashing_sender_is_retried_not_fatal(store, box) -> None:
    def broken(item: OutboxItem) -> Outcome:
        raise KeyError("payload without figures")

    box.register_sender("test.kind", broken)
    item = outbox.enqueue("test.kind", {"n": 1})
    report = box.flush()
    assert report.retried == 1
    assert "erreur interne pendant l'envoi : KeyError" in OutboxItem.get_by_id(item.id).last_message


def test_each_outbox_delivers_only_the_kinds_it_was_composed_with(store, box) -> None:
    other = queue.Outbox(box.settings)
    other.register_sender("other.kind", scripted(delivered()))
    box.register_sender("test.kind", scripted(delivered()))
    mine = outbox.enqueue("test.kind", {"n": 1})
    theirs = outbox.enqueue("other.kind", {"n": 2})
    assert (box.kinds(), other.kinds()) == (["test.kind"], ["other.kind"])
    assert box.flush().delivered == 1
    assert (state(mine), state(theirs)) == (ItemState.DELIVERED, ItemState.PENDING)
    assert other.flush().delivered == 1 and state(theirs) == ItemState.DELIVERED


def test_an_item_left_sending_by_a_dead_flusher_is_sent_again(store, box) -> None:
    item = outbox.enqueue("test.kind", {"n": 1})
    # What a kill -9 between the two transactions of an attempt leaves behind:
    OutboxItem.update(state=ItemState.SENDING, attempts=1).where(OutboxItem.id == item.id).execute()
    OutboxAttempt.create(item=item.id, number=1)
    assert outbox.status().sending == 1
    box.register_sender("test.kind", scripted(delivered()))
    report = box.flush()
    assert (report.recovered, report.delivered) == (1, 1)
    assert [attempt.outcome for attempt in queue.attempts_of(item.id)] == ["interrupted", "delivered"]
    assert OutboxItem.get_by_id(item.id).attempts == 2


def test_only_one_flush_at_a_time(store, box) -> None:
    inner = {}

    def send(item: OutboxItem) -> Outcome:
        inner["report"] = box.flush()  # e.g. the agent's window while an admin runs the command
        return delivered()

    box.register_sender("test.kind", send)
    outbox.enqueue("test.kind", {"n": 1})
    assert box.flush().delivered == 1
    assert inner["report"].stopped == "locked" and inner["report"].attempted == 0


def test_conflicts_are_kept_with_the_attempt(store, box) -> None:
    conflict = Conflict(row="CPN1 — Féminin, 15–24 ans", value="12", code="E7619", message="Valeur refusée",
                        ref={"indicator": "cpn1"})
    box.register_sender("test.kind", scripted(Outcome(OutcomeKind.DELIVERED_WITH_CONFLICTS, "reçu avec conflits",
                                                      conflicts=(conflict,))))
    item = outbox.enqueue("test.kind", {"n": 1})
    report = box.flush()
    assert report.delivered_with_conflicts == 1
    (attempt,) = queue.attempts_of(item.id)
    assert [Conflict.from_dict(raw) for raw in attempt.detail_json()["conflicts"]] == [conflict]
    assert OutboxItem.get_by_id(item.id).last_outcome == "delivered_with_conflicts"


def test_status_figures(store, box) -> None:
    box.register_sender("test.kind", scripted(delivered()))
    outbox.enqueue("test.kind", {"n": 1})
    box.flush()
    old = outbox.enqueue("test.kind", {"n": 2})
    OutboxItem.update(created_at=utcnow() - dt.timedelta(hours=3)).where(OutboxItem.id == old.id).execute()
    outbox.enqueue("other.kind", {"n": 3})
    status = outbox.status()
    assert (status.depth, status.dead_letters, status.sending) == (2, 0, 0)
    assert status.waiting_by_kind == {"test.kind": 1, "other.kind": 1}
    assert 3 * 3600 - 5 < status.oldest_age_s < 3 * 3600 + 60
    assert status.bytes_last_24h == 150
    assert set(status.last_success_at) == {"test.kind"}
