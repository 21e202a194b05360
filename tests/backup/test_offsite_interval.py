"""The off-site copy leaves every ``backup.offsite_every_days`` nights (the 3G bill), counted from the
last copy queued so that a copy held back does not delay the next; the local copy stays nightly, and
the Backups page flags an off-site copy only once it is older than the interval allows."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta

import pytest

from appliance.backup import offsite
from appliance.backup.local import run_nightly_backup
from appliance.backup.log import BackupRun, RunRecord, record_run
from appliance.backup.status import collect
from appliance.backup.summary import DAY_S, offsite_due, offsite_next_due, offsite_stale_after_s
from appliance.outbox.models import ItemState, OutboxItem
from appliance.settings.backup import BackupSettings

from .conftest import NO_STICK


def queue_nights(nights: int, every_days: int, *, start: float, jitter_s: tuple[float, ...] = (0,)) -> list[int]:
    """The nights (1-based) the rule queues a copy, the job starting a little earlier or later each night."""
    queued, last = [], None
    for night in range(1, nights + 1):
        now = start + (night - 1) * DAY_S + jitter_s[night % len(jitter_s)]
        if offsite_due(last_queued_at=last, now=now, every_days=every_days):
            queued.append(night)
            last = now
    return queued


@pytest.mark.parametrize("jitter_s", [(0,), (0, 240, -180, 600, -600)])
def test_the_rule_queues_on_night_one_and_night_eight_by_default(jitter_s):
    assert queue_nights(8, BackupSettings().offsite_every_days, start=1_800_000_000, jitter_s=jitter_s) == [1, 8]
    assert queue_nights(4, 1, start=1_800_000_000, jitter_s=jitter_s) == [1, 2, 3, 4]


def test_a_clock_gone_back_does_not_stop_the_copies():
    assert offsite_due(last_queued_at=1_800_000_000, now=1_800_000_000 - 3 * DAY_S, every_days=7)


def test_the_interval_is_at_least_one_night():
    problems = BackupSettings(offsite_every_days=0).validate()
    assert any(problem.startswith("backup.offsite_every_days : au moins 1") for problem in problems)
    assert not [p for p in BackupSettings(offsite_every_days=1).validate() if "offsite_every_days" in p]


@pytest.fixture
def weekly_cfg(cfg, live, tmp_path):
    """Off-site configured, default interval; nothing here sends (no restic needed)."""
    return dataclasses.replace(cfg, backup=dataclasses.replace(
        cfg.backup, offsite_repository=str(tmp_path / "depot-distant")))


def offsite_items() -> list[OutboxItem]:
    return list(OutboxItem.select().where(OutboxItem.kind == offsite.KIND).order_by(OutboxItem.id))


def test_eight_nights_queue_the_offsite_copy_on_nights_one_and_eight_only(weekly_cfg):
    # The agent runs the nightly job at backup.nightly_at (05:30): the note names the night of the run
    # that really sends, whatever hour the test itself runs at.
    hour, minute = weekly_cfg.backup.nightly_time()
    start = datetime.now(weekly_cfg.uploads.zone()).replace(hour=hour, minute=minute, second=0).timestamp()
    queued = []
    for night in range(1, 9):
        before = len(offsite_items())
        report = run_nightly_backup(weekly_cfg, usb=NO_STICK, now=start + (night - 1) * DAY_S)
        assert report.ok, report.problems
        if len(offsite_items()) > before:
            queued.append(night)
            assert "en attente d'envoi" in report.offsite
        else:
            due = datetime.fromtimestamp(start + 7 * DAY_S, weekly_cfg.uploads.zone()).strftime("%d/%m/%Y")
            assert report.offsite.endswith(f"la prochaine part la nuit du {due}."), report.offsite
    assert queued == [1, 8]
    local_copies = BackupRun.select().where((BackupRun.target == "local") & (BackupRun.status == "ok")).count()
    assert local_copies == 8  # the local copy is still made every night


def test_an_undelivered_copy_does_not_push_the_next_one_later(weekly_cfg):
    start = time.time()
    run_nightly_backup(weekly_cfg, usb=NO_STICK, now=start)
    # The week's copy never got through: the outbox gave up on it, the log says it failed.
    OutboxItem.update(state=ItemState.DEAD, last_message="dépôt de sauvegarde injoignable").execute()
    record_run(weekly_cfg.paths.database, RunRecord(datetime.now(UTC).isoformat(sep=" "), "nightly", "offsite",
                                                    "x", "failed", "dépôt de sauvegarde injoignable"))
    for night in range(2, 8):
        run_nightly_backup(weekly_cfg, usb=NO_STICK, now=start + (night - 1) * DAY_S)
    assert len(offsite_items()) == 1
    run_nightly_backup(weekly_cfg, usb=NO_STICK, now=start + 7 * DAY_S)
    assert [item.state for item in offsite_items()][-1] == ItemState.PENDING
    assert len(offsite_items()) == 2


def test_a_copy_that_could_not_be_prepared_is_tried_again_the_next_night(weekly_cfg, monkeypatch):
    start = time.time()

    def disk_full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(offsite, "write_dump", disk_full)
    first = run_nightly_backup(weekly_cfg, usb=NO_STICK, now=start)
    assert any("copie hors site non préparée" in problem for problem in first.problems)
    monkeypatch.undo()
    second = run_nightly_backup(weekly_cfg, usb=NO_STICK, now=start + DAY_S)
    assert "en attente d'envoi" in second.offsite
    assert len(offsite_items()) == 1


def test_the_stale_threshold_follows_the_interval():
    assert 6 * DAY_S < offsite_stale_after_s(7) < 10 * DAY_S
    assert 1 * DAY_S < offsite_stale_after_s(1) < 6 * DAY_S


def offsite_problems(cfg, age: timedelta) -> list[str]:
    status = collect(cfg, NO_STICK, now=datetime.now(UTC) + age)
    return [problem.code for problem in status.problems if problem.code.startswith("offsite")]


def test_the_backups_page_flags_an_offsite_copy_only_past_the_interval(weekly_cfg):
    record_run(weekly_cfg.paths.database, RunRecord(datetime.now(UTC).isoformat(sep=" "), "nightly", "offsite",
                                                    "x", "ok", "envoyée", 150_000))
    assert offsite_problems(weekly_cfg, timedelta(days=6)) == []
    assert offsite_problems(weekly_cfg, timedelta(days=10)) == ["offsite_stale"]
    nightly = dataclasses.replace(weekly_cfg, backup=dataclasses.replace(weekly_cfg.backup, offsite_every_days=1))
    assert offsite_problems(nightly, timedelta(days=6)) == ["offsite_stale"]


@pytest.mark.parametrize("queued_at, leaves", [("2026-12-07 05:30", "14/12/2026"), ("2026-12-07 00:20", "14/12/2026"),
                                                ("2026-12-07 20:00", "15/12/2026")])
def test_the_note_names_the_night_the_copy_really_leaves(weekly_cfg, queued_at, leaves):
    """Queued by a night run (or by hand at any hour): the next copy leaves with the first 05:30 job at
    least six and a half days later, and the note says that night's date, not the day before."""
    zone = weekly_cfg.uploads.zone()
    last = datetime.strptime(queued_at, "%Y-%m-%d %H:%M").replace(tzinfo=zone).timestamp()
    moment = offsite_next_due(last_queued_at=last, every_days=7)
    assert offsite.next_nightly_run(weekly_cfg, moment).strftime("%d/%m/%Y") == leaves
