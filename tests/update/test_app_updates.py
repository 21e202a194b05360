"""An application bundle installed beside the system, kept when healthy, rolled back when not."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from appliance.update import releases
from appliance.update.bundle import BundleRefused
from appliance.update.health import Health
from appliance.update.installer import Box, install, judge
from appliance.update.journal import read_journal, write_journal
from tests.update.apps import app_bundle
from tests.update.bundles import COMPATIBLE

HEALTHY, BROKEN = Health(()), Health(("le dossier médical ne répond pas",))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def restarts() -> list[int]:
    return []


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def box(tmp_path, release_keys, restarts, clock):
    box = Box(data_dir=tmp_path / "data", work_dir=tmp_path / "work", keyring=release_keys.cert,
              compatible=COMPATIBLE, trial_s=300, slot_bytes=10**9,
              restart_services=lambda: restarts.append(1), clock=clock)
    box.data_dir.mkdir()
    return box


def running_release(box: Box) -> str:
    current = box.work_dir / "current" / "appliance" / "__init__.py"
    return current.read_text().split('"')[1] if current.exists() else "1.0.0"


def test_a_healthy_app_update_is_kept(box, restarts, tmp_path, release_keys):
    bundle = app_bundle(tmp_path, release_keys, "1.1.0")
    attempt = install(box, bundle, installed="1.0.0", channel="usb")
    assert (attempt.outcome, attempt.kind, attempt.previous_version) == ("trial", "app", "1.0.0")
    assert running_release(box) == "1.1.0" and restarts == [1]
    assert read_journal(box.data_dir).pending.version == "1.1.0"
    kept = judge(box, running="1.1.0", health=HEALTHY)
    assert kept.outcome == "kept"
    journal = read_journal(box.data_dir)
    assert journal.pending is None and journal.last.outcome == "kept"


def test_a_broken_app_update_rolls_back_after_its_trial(box, restarts, clock, tmp_path, release_keys):
    install(box, app_bundle(tmp_path, release_keys, "1.1.0"), installed="1.0.0", channel="usb")
    judge(box, running="1.1.0", health=HEALTHY)
    install(box, app_bundle(tmp_path, release_keys, "1.2.0"), installed="1.1.0", channel="3g")
    assert running_release(box) == "1.2.0"
    clock.now += 299
    assert judge(box, running="1.2.0", health=BROKEN) is None  # still on trial
    assert running_release(box) == "1.2.0"
    clock.now += 2
    back = judge(box, running="1.2.0", health=BROKEN)
    assert back.outcome == "rolled_back" and "ne répond pas" in back.detail
    assert running_release(box) == "1.1.0" and restarts == [1, 1, 1]
    assert read_journal(box.data_dir).last.outcome == "rolled_back"
    assert judge(box, running="1.1.0", health=HEALTHY) is None  # nothing pending any more


def test_the_first_app_update_rolls_back_to_the_system_own_application(box, clock, tmp_path, release_keys):
    install(box, app_bundle(tmp_path, release_keys, "1.1.0"), installed="1.0.0", channel="usb")
    clock.now += 301
    assert judge(box, running="1.1.0", health=BROKEN).outcome == "rolled_back"
    assert not (box.work_dir / "current").exists() and running_release(box) == "1.0.0"


def test_an_install_cut_short_is_judged_rolled_back_at_the_next_check(box, tmp_path, release_keys):
    journal = read_journal(box.data_dir)
    install(box, app_bundle(tmp_path, release_keys, "1.1.0"), installed="1.0.0", channel="usb")
    journal = read_journal(box.data_dir)
    journal.pending.outcome = "installing"  # as a power cut between the journal and the switch leaves it
    write_journal(box.data_dir, journal)
    assert judge(box, running="1.0.0", health=HEALTHY).outcome == "rolled_back"


def test_a_second_update_waits_for_the_trial_of_the_first(box, tmp_path, release_keys):
    install(box, app_bundle(tmp_path, release_keys, "1.1.0"), installed="1.0.0", channel="usb")
    with pytest.raises(BundleRefused, match="déjà en essai"):
        install(box, app_bundle(tmp_path, release_keys, "1.2.0"), installed="1.1.0", channel="usb")


def test_a_refusal_is_journalled_for_the_fleet(box, tmp_path, release_keys, stranger_keys):
    bundle = app_bundle(tmp_path, stranger_keys, "1.1.0")
    with pytest.raises(BundleRefused):
        install(box, bundle, installed="1.0.0", channel="usb")
    last = json.loads((box.data_dir / "update-journal.json").read_text())["last"]
    assert last["outcome"] == "refused" and "signé" in last["detail"]
    assert not (box.work_dir / "current").exists()


def test_a_wheel_without_the_application_is_refused(box, tmp_path, release_keys):
    import zipfile

    from appliance.update.release import build_app_bundle

    wheel = tmp_path / "other-1.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("other/__init__.py", os.urandom(10000).hex())
    bundle = build_app_bundle(wheel, version="1.1.0", compatible=COMPATIBLE, cert=release_keys.cert,
                              key=release_keys.key, output=tmp_path / "other.raucb")
    with pytest.raises(BundleRefused, match="ne contient pas l'application"):
        install(box, bundle, installed="1.0.0", channel="usb")
    assert read_journal(box.data_dir).last.outcome == "failed"
    assert releases.current_release(box.work_dir) is None and not list(Path(box.work_dir).glob("releases/*"))


def test_an_app_needing_a_library_the_box_lacks_is_refused_before_the_switch(box, tmp_path, release_keys):
    from dataclasses import replace

    from tests.update.apps import fake_wheel

    box = replace(box, venv=lambda: {"flask": "3.1.3", "peewee": "4.5.3"})
    wheel = fake_wheel(tmp_path / "w", "1.1.0", requires=("flask>=3,<4", "peewee>=4"))
    install(box, app_bundle(tmp_path, release_keys, "1.1.0", wheel=wheel), installed="1.0.0", channel="usb")
    assert running_release(box) == "1.1.0"
    judge(box, running="1.1.0", health=HEALTHY)
    needs = fake_wheel(tmp_path / "w2", "1.2.0", requires=("flask>=3,<4", "paho-mqtt>=2"))
    with pytest.raises(BundleRefused, match=r"paho-mqtt>=2 \(absent\).*paquet système"):
        install(box, app_bundle(tmp_path, release_keys, "1.2.0", wheel=needs), installed="1.1.0", channel="3g")
    assert running_release(box) == "1.1.0" and not (box.work_dir / "releases/1.2.0").exists()
    assert not list((box.work_dir / "releases").glob(".*partial"))
    assert read_journal(box.data_dir).last.outcome == "failed"


def test_a_system_written_whole_before_a_cut_is_tried_like_any_other(box, clock):
    """The cut came after RAUC switched the boot, before the journal said "trial": the new system runs."""
    from dataclasses import replace

    from appliance.update.journal import Attempt, Journal

    ran: list[list[str]] = []
    box = replace(box, run=lambda args: ran.append(args) or subprocess.CompletedProcess(args, 0, "", ""))
    write_journal(box.data_dir, Journal(pending=Attempt(version="2.0.0", kind="system", channel="usb",
                                                        outcome="installing", previous_version="1.0.0")))
    assert judge(box, running="2.0.0", health=BROKEN) is None  # on trial, not yet judged
    assert judge(box, running="2.0.0", health=HEALTHY).outcome == "kept"
    assert ran == [["rauc", "status", "mark-good"]]
    write_journal(box.data_dir, Journal(pending=Attempt(version="3.0.0", kind="system", channel="usb",
                                                        outcome="installing", previous_version="2.0.0")))
    assert judge(box, running="2.0.0", health=HEALTHY).detail == "interrompue avant la fin"


def test_a_bundle_the_agent_downloaded_is_installed_by_root(box, tmp_path, release_keys):
    """RAUC refuses to unpack a file another user could change as it reads it ("unsafe bundle uid"): the
    agent's download (and a stick's files) belong to the service user."""
    if os.geteuid() != 0:
        pytest.skip("root only: a bundle owned by another user")
    bundle = app_bundle(tmp_path, release_keys, "1.1.0")
    os.chown(bundle, 996, 996)
    install(box, bundle, installed="1.0.0", channel="3g")
    assert running_release(box) == "1.1.0" and not (box.work_dir / "incoming.raucb").exists()


def test_a_new_system_trial_runs_from_its_power_on(box, clock):
    """The first check comes minutes after the boot (the root timer): those minutes count in the trial."""
    from dataclasses import replace

    from appliance.update.journal import Attempt, Journal

    ran: list[list[str]] = []
    run = lambda args: ran.append(args) or subprocess.CompletedProcess(args, 0, "", "")  # noqa: E731
    booted = replace(box, run=run, since_boot=lambda: 240.0)
    write_journal(box.data_dir, Journal(pending=Attempt(version="2.0.0", kind="system", channel="usb",
                                                        outcome="trial", previous_version="1.0.0")))
    assert judge(booted, running="2.0.0", health=BROKEN) is None  # a minute of its 5 left
    clock.now += 61
    assert judge(booted, running="2.0.0", health=BROKEN).outcome == "rolled_back"
    assert ran == [["rauc", "status", "mark-bad"], ["systemctl", "reboot"]]
    write_journal(box.data_dir, Journal(pending=Attempt(version="3.0.0", kind="system", channel="usb",
                                                        outcome="trial", previous_version="2.0.0")))
    late = replace(booted, since_boot=lambda: 400.0)  # its trial was over before the first check
    assert judge(late, running="3.0.0", health=BROKEN).outcome == "rolled_back"
