"""Install a bundle, judge the trial, roll back: the one path for a stick, 3G and the CLI.

A system bundle goes to RAUC (``rauc install``): it writes the other root slot and tells the
bootloader to try it next (U-Boot's boot counter falls back by itself if it never comes up). An
application bundle is unpacked beside the system (``releases.py``). Either way the update is then
on trial: ``judge`` (``appliance update check``, run by a timer as root with the system's own
code, never the release on trial) keeps it when the appliance is healthy, and goes back to the
previous version when it is still not healthy at the end of the trial.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from appliance.update import releases
from appliance.update.bundle import RAUC, BundleRefused, extract_bundle, read_bundle
from appliance.update.health import Health
from appliance.update.journal import Attempt, Journal, read_journal, write_journal
from appliance.update.policy import check_bundle
from appliance.update.requirements import running_venv

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Box:
    """What the updater needs of the machine; tests give a temporary one."""

    data_dir: Path
    work_dir: Path
    keyring: Path
    compatible: str
    trial_s: int
    slot_bytes: int  # the other root slot's size
    restart_services: Callable[[], None]
    run: Callable[[list[str]], subprocess.CompletedProcess] = lambda args: subprocess.run(
        args, capture_output=True, text=True, check=False)
    clock: Callable[[], float] = time.time
    venv: Callable[[], Mapping[str, str]] = running_venv  # what an application release may import
    # Seconds since this boot: a new system's trial runs from its power-on, not from the first check.
    since_boot: Callable[[], float] = lambda: 0.0


def install(box: Box, bundle: Path, *, installed: str, channel: str, force: bool = False,
            app_max_bytes: int | None = None) -> Attempt:
    """Check and install ``bundle``; the Attempt on trial, or BundleRefused (journalled) with its reason."""
    journal = read_journal(box.data_dir)
    if journal.pending is not None:
        raise BundleRefused(f"Une mise à jour ({journal.pending.version}) est déjà en essai : "
                            "attendre qu'elle soit gardée ou annulée.")
    try:
        info = read_bundle(bundle, box.keyring)
        box.work_dir.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(box.work_dir).free
        kind_room = box.slot_bytes if info.slot_classes == {"rootfs"} else free
        decision = check_bundle(info, compatible=box.compatible, installed=installed, free_bytes=kind_room,
                                force=force, app_max_bytes=app_max_bytes)
    except BundleRefused as exc:
        _journal_refusal(box, journal, bundle, channel, str(exc))
        raise
    attempt = Attempt(version=info.version, kind=decision.kind, channel=channel, outcome="installing",
                      previous_version=installed)
    journal.pending = attempt
    write_journal(box.data_dir, journal)  # a cut from here on is judged at the next boot (see judge)
    try:
        if decision.kind == "app":
            _install_app(box, bundle, info.version)
        else:
            done = box.run([RAUC, "install", str(bundle)])
            if done.returncode != 0:
                raise BundleRefused(f"Installation du système refusée par RAUC : {done.stderr.strip()[-300:]}")
    except BundleRefused as exc:
        journal.pending, journal.last = None, _finished(attempt, "failed", str(exc))
        write_journal(box.data_dir, journal)
        raise
    attempt.outcome = "trial"
    attempt.trial_until = box.clock() + box.trial_s if decision.kind == "app" else 0.0  # system: from its boot
    write_journal(box.data_dir, journal)
    if decision.kind == "app":
        box.restart_services()
    return attempt


def _install_app(box: Box, bundle: Path, version: str) -> None:
    """RAUC reads a payload only from a file no one else can change while it reads ("unsafe bundle uid"):
    the agent's download and a stick's files belong to the service user, so the (small) bundle is
    copied into the updater's own folder first; the copy is what is checked and unpacked."""
    extracted, private = box.work_dir / "extract", box.work_dir / "incoming.raucb"
    shutil.rmtree(extracted, ignore_errors=True)
    try:
        private.unlink(missing_ok=True)
        with bundle.open("rb") as source, os.fdopen(os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                                                            0o600), "wb") as copy:
            shutil.copyfileobj(source, copy)
        extract_bundle(private, box.keyring, extracted)
        target = releases.unpack_wheel(extracted, box.work_dir, version, box.venv())
    finally:
        shutil.rmtree(extracted, ignore_errors=True)
        private.unlink(missing_ok=True)
    releases.switch(box.work_dir, "previous", releases.link_target(box.work_dir, "current"))
    releases.switch(box.work_dir, "current", target)


def judge(box: Box, *, running: str, health: Health) -> Attempt | None:
    """Keep, wait on or roll back the update on trial; the Attempt once judged, else None.

    ``running``: the version this code sees running. An update that is pending but not running
    (a system slot that never came up, a cut before the switch) was rolled back under our feet."""
    journal = read_journal(box.data_dir)
    attempt = journal.pending
    if attempt is None:
        return None
    # A power cut after RAUC switched the boot but before the journal said so: the new system runs,
    # its trial goes on like any other.
    cut_short = attempt.outcome == "installing" and not (attempt.kind == "system" and running == attempt.version)
    if cut_short or running != attempt.version:
        return _close(box, journal, attempt, "rolled_back",
                      "interrompue avant la fin" if cut_short
                      else f"la version {running} tourne encore : l'essai n'a pas démarré")
    now = box.clock()
    if not attempt.trial_until:  # a new system's first check, a few minutes after it booted
        attempt.trial_until = now - box.since_boot() + box.trial_s
        write_journal(box.data_dir, journal)
    if health.ok:
        if attempt.kind == "system":
            box.run([RAUC, "status", "mark-good"])
        else:
            releases.prune(box.work_dir)
        return _close(box, journal, attempt, "kept", "")
    if now < attempt.trial_until:
        log.info("Essai de la version %s : %s", attempt.version, " ; ".join(health.problems))
        return None
    reason = " ; ".join(health.problems)
    if attempt.kind == "app":
        releases.switch(box.work_dir, "current", releases.link_target(box.work_dir, "previous"))
        releases.switch(box.work_dir, "previous", None)
        closed = _close(box, journal, attempt, "rolled_back", reason)
        box.restart_services()
        return closed
    closed = _close(box, journal, attempt, "rolled_back", reason)
    box.run([RAUC, "status", "mark-bad"])  # the booted slot: the bootloader goes back to the other
    box.run(["systemctl", "reboot"])
    return closed


def confirm_boot(box: Box, *, running: str) -> bool:
    """Give back the try U-Boot took from the booted slot (``rauc status mark-active booted``), unless
    this boot is a new system's trial, which only ``judge`` confirms; False then. A slot booted after a
    fallback is made the first again, so the slot that failed is not tried at every power-on."""
    pending = read_journal(box.data_dir).pending
    if pending is not None and pending.kind == "system" and pending.version == running:
        return False
    done = box.run([RAUC, "status", "mark-active", "booted"])
    if done.returncode != 0:
        raise BundleRefused(f"RAUC n'a pas confirmé l'emplacement démarré : {done.stderr.strip()[-300:]}")
    return True


def _close(box: Box, journal: Journal, attempt: Attempt, outcome: str, detail: str) -> Attempt:
    journal.pending, journal.last = None, _finished(attempt, outcome, detail)
    write_journal(box.data_dir, journal)
    log.log(logging.INFO if outcome == "kept" else logging.WARNING, "Mise à jour %s : %s %s",
            attempt.version, outcome, detail)
    return journal.last


def _finished(attempt: Attempt, outcome: str, detail: str) -> Attempt:
    return Attempt(version=attempt.version, kind=attempt.kind, channel=attempt.channel, outcome=outcome,
                   detail=detail[:500], previous_version=attempt.previous_version)


def _journal_refusal(box: Box, journal: Journal, bundle: Path, channel: str, reason: str) -> None:
    journal.last = Attempt(version=bundle.name, kind="?", channel=channel, outcome="refused", detail=reason[:500])
    write_journal(box.data_dir, journal)
