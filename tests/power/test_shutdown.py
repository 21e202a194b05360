"""The clean shutdown: in order, exactly once even when asked from several threads at once, and
complete even when a step fails."""

from __future__ import annotations

import json
import threading

import peewee

from appliance.power.shutdown import CommandPowerOff, PowerOffError, ShutdownController, checkpoint_database
from appliance.store import readonly


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def poweroff(self) -> None:
        self.calls.append("poweroff")


def make(tmp_path, recorder, **overrides):
    steps = recorder.calls
    options = dict(
        announce=lambda reason: steps.append(f"announce:{reason}"),
        before_checkpoint=lambda: steps.append("history"),
        checkpoint=lambda: steps.append("checkpoint") or "ok",
        sync=lambda: steps.append("sync"),
    )
    options.update(overrides)
    return ShutdownController(tmp_path, recorder, **options)


def test_the_sequence_runs_in_order_and_sets_the_read_only_flag_first(tmp_path):
    recorder = Recorder()
    controller = make(tmp_path, recorder, announce=lambda reason: recorder.calls.append(
        f"announce:{reason}:{readonly.read_only_state(tmp_path) is None}"))
    assert controller.shutdown("batterie critique")
    assert recorder.calls == ["announce:batterie critique:True", "history", "checkpoint", "sync", "poweroff"]
    state = readonly.read_only_state(tmp_path)
    assert state.reason == "batterie critique" and "Batterie critique" in state.message


def test_exactly_once_under_concurrent_requests(tmp_path):
    recorder = Recorder()
    controller = make(tmp_path, recorder)
    barrier = threading.Barrier(8)
    results: list[bool] = []

    def request() -> None:
        barrier.wait()
        results.append(controller.shutdown("batterie critique"))

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    assert recorder.calls.count("poweroff") == 1


def test_a_failing_step_does_not_stop_the_power_off(tmp_path, caplog):
    recorder = Recorder()

    def broken_checkpoint() -> str:
        raise peewee.OperationalError("database is locked")

    controller = make(tmp_path, recorder, checkpoint=broken_checkpoint)
    controller.shutdown("signal tension basse du régulateur")
    assert recorder.calls[-2:] == ["sync", "poweroff"]
    assert "checkpoint SQLite" in caplog.text


def test_the_checkpoint_folds_the_wal_into_the_database(store, cfg):
    store.execute_sql("CREATE TABLE t (x)")
    store.execute_sql("INSERT INTO t VALUES (1)")
    wal = cfg.paths.database.with_name(cfg.paths.database.name + "-wal")
    assert wal.stat().st_size > 0
    assert checkpoint_database().startswith("busy=0")
    assert wal.stat().st_size == 0


def test_command_poweroff_runs_the_configured_command_and_reports_failure(tmp_path):
    marker = tmp_path / "off"
    CommandPowerOff(["touch", str(marker)]).poweroff()
    assert marker.exists()
    try:
        CommandPowerOff(["false"]).poweroff()
    except PowerOffError as exc:
        assert "false a échoué" in str(exc)
    else:
        raise AssertionError("a failed poweroff must raise")


def test_the_flag_is_read_only_even_when_garbled_and_cleared_at_will(tmp_path):
    assert readonly.read_only_state(tmp_path) is None
    readonly.flag_path(tmp_path).write_text("{pas du json", encoding="utf-8")
    assert readonly.read_only_state(tmp_path).message == readonly.DEFAULT_MESSAGE
    readonly.set_read_only(tmp_path, "test")
    assert json.loads(readonly.flag_path(tmp_path).read_text(encoding="utf-8"))["reason"] == "test"
    assert readonly.clear_read_only(tmp_path)
    assert not readonly.clear_read_only(tmp_path)
    assert readonly.read_only_state(tmp_path) is None
