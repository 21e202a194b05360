"""``appliance update``: a technician installs a bundle and reads what is installed and pending."""

from __future__ import annotations

import shutil

from click.testing import CliRunner

from appliance.cli import main
from appliance.update import health, machine
from appliance.update.health import Health
from tests.update.apps import app_bundle


def configured(cfg, tmp_path, keys) -> str:
    path = cfg.source
    path.write_text(path.read_text(encoding="utf-8") + f'\n[update]\nkeyring = "{keys.cert}"\n'
                    f'work_dir = "{tmp_path / "update"}"\n', encoding="utf-8")
    return str(path)


def with_stick_media(cfg, config: str, media) -> str:
    """The configuration with ``media`` as where sticks are mounted."""
    cfg.source.write_text(cfg.source.read_text(encoding="utf-8").replace(
        "[update]", f'[backup]\nusb_mount_roots = ["{media}"]\n\n[update]'), encoding="utf-8")
    return config


def test_install_then_status_then_a_refusal(cfg, store, tmp_path, release_keys, stranger_keys, monkeypatch):
    restarts = []
    monkeypatch.setattr(machine, "restart_services", lambda: restarts.append(1))
    config = configured(cfg, tmp_path, release_keys)
    runner = CliRunner()
    shown = runner.invoke(main, ["update", "status", "--config", config])
    assert shown.exit_code == 0 and "Aucune mise à jour" in shown.output
    version = machine.running_version()
    newer = ".".join([*version.split(".")[:2], str(int(version.split(".")[2]) + 1)])
    done = runner.invoke(main, ["update", "install", "--config", config,
                                str(app_bundle(tmp_path, release_keys, newer))])
    assert done.exit_code == 0, done.output
    assert f"Version {newer} installée, en essai" in done.output and restarts == [1]
    assert list((cfg.paths.data_dir / "backups").glob("*-pre-upgrade.db.gz"))  # the backup came first
    shown = runner.invoke(main, ["update", "status", "--config", config])
    assert f"En essai : {newer} (app, cli" in shown.output and f"application {newer}" in shown.output
    refused = runner.invoke(main, ["update", "install", "--config", config,
                                   str(app_bundle(tmp_path / "x", stranger_keys, "99.0.0"))])
    assert refused.exit_code == 2 and "déjà en essai" in refused.output


def test_the_root_timer_judges_the_release_the_services_run(cfg, store, tmp_path, release_keys, monkeypatch):
    """The timer runs the system's code (its own version is older): it must judge the release on trial."""
    monkeypatch.setattr(machine, "restart_services", lambda: None)
    verdicts = iter([Health(("le dossier médical ne répond pas",)), Health(())])
    monkeypatch.setattr(health, "assess", lambda probes: next(verdicts))
    config = configured(cfg, tmp_path, release_keys)
    runner = CliRunner()
    assert runner.invoke(main, ["update", "install", "--config", config,
                                str(app_bundle(tmp_path, release_keys, "99.1.0"))]).exit_code == 0
    waiting = runner.invoke(main, ["update", "check", "--config", config])
    assert waiting.exit_code == 0 and waiting.output == ""  # unhealthy, but its trial is not over
    kept = runner.invoke(main, ["update", "check", "--config", config])
    assert "Mise à jour 99.1.0 : gardée" in kept.output
    idle = runner.invoke(main, ["update", "check", "--config", config])
    assert idle.exit_code == 0 and idle.output == ""  # nothing on trial: no probe at all
    shown = runner.invoke(main, ["update", "status", "--config", config])
    assert "Dernière mise à jour : 99.1.0 → gardée" in shown.output


def test_a_stick_plugged_in_is_installed_once(cfg, store, tmp_path, release_keys, monkeypatch):
    monkeypatch.setattr(machine, "restart_services", lambda: None)
    folder = tmp_path / "media" / "usb-sda1" / "appliance-update"
    app_bundle(folder, release_keys, "99.2.0")
    config = with_stick_media(cfg, configured(cfg, tmp_path, release_keys), tmp_path / "media")
    runner = CliRunner()
    done = runner.invoke(main, ["update", "check", "--config", config])
    assert "Version 99.2.0 installée, en essai" in done.output, done.output
    monkeypatch.setattr(health, "assess", lambda probes: Health(()))
    assert "gardée" in runner.invoke(main, ["update", "check", "--config", config]).output
    again = runner.invoke(main, ["update", "check", "--config", config])  # the stick is still in
    assert again.exit_code == 0 and again.output == ""
    shutil.rmtree(tmp_path / "update")  # a system update boots the other slot: its own work folder
    assert runner.invoke(main, ["update", "check", "--config", config]).output == ""


def test_a_3g_download_waits_out_a_failed_backup(cfg, store, tmp_path, release_keys, monkeypatch):
    """The install is put off when the backup before it fails: the bundle the 3G window paid for stays for the
    next check (deleting it would cost its megabytes again), and goes once installed."""
    from appliance.backup import local

    monkeypatch.setattr(machine, "restart_services", lambda: None)
    config = configured(cfg, tmp_path, release_keys)
    downloaded = app_bundle(tmp_path / "update" / "download", release_keys, "99.3.0")
    made = local.run_backup
    monkeypatch.setattr(local, "run_backup", lambda cfg, reason: local.BackupReport(problems=["disque plein"]))
    runner = CliRunner()
    deferred = runner.invoke(main, ["update", "check", "--config", config])
    assert deferred.exit_code == 1 and "disque plein" in deferred.output and downloaded.exists()
    monkeypatch.setattr(local, "run_backup", made)
    done = runner.invoke(main, ["update", "check", "--config", config])
    assert "Version 99.3.0 installée, en essai" in done.output and not downloaded.exists()


def test_a_strangers_stick_is_refused_once_without_failing_the_timer(cfg, store, tmp_path, release_keys,
                                                                     stranger_keys):
    """Anyone may plug in a stick: its refusal is journalled (the fleet sees it), and the root timer's unit
    does not fail for it, which would show the whole box as "degraded"."""
    folder = tmp_path / "media" / "usb-sda" / "appliance-update"
    app_bundle(folder, stranger_keys, "99.4.0")
    config = with_stick_media(cfg, configured(cfg, tmp_path, release_keys), tmp_path / "media")
    runner = CliRunner()
    refused = runner.invoke(main, ["update", "check", "--config", config])
    assert refused.exit_code == 0 and "n'est pas signé" in refused.output, refused.output
    shown = runner.invoke(main, ["update", "status", "--config", config]).output
    assert "app-99.4.0.raucb → refusée" in shown, shown
    again = runner.invoke(main, ["update", "check", "--config", config])  # the stick is still in
    assert again.exit_code == 0 and again.output == ""
    by_hand = runner.invoke(main, ["update", "install", "--config", config, str(folder / "app-99.4.0.raucb")])
    assert by_hand.exit_code == 2  # the technician at the keyboard gets the failure
