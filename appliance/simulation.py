"""``make run``: the whole appliance on a laptop, with demo data and simulated hardware.

It writes a development configuration under ``instance/`` once, fills the database with
deterministic demo data once, prints the demo accounts, then runs each service as its own
process (as systemd does on the Pi) until Ctrl-C stops them all.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from appliance import config as config_module

DEMO_PATIENTS = 3000
DEMO_SEED = 2024
CREDENTIALS_FILE = "demo-credentials.txt"


def run_simulation(instance: Path, *, port: int) -> None:
    config_path = instance / "appliance.toml"
    if not config_path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        config_path.write_text(config_module.dev_config_text(instance, port=port), encoding="utf-8")
        click.echo(f"Configuration de développement écrite : {config_path}")
    try:
        cfg = config_module.load(config_path)
    except config_module.ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    credentials = _demo_credentials(cfg)
    _print_banner(cfg, credentials)
    _run_services(cfg, config_path)


def _demo_credentials(cfg: config_module.Config) -> dict[str, str]:
    """Seed the demo database once; the generated passwords live in a 0600 file, not the repo."""
    from appliance.demo import seed_demo
    from appliance.store import open_and_migrate

    path = cfg.paths.secrets_dir / CREDENTIALS_FILE
    db = open_and_migrate(cfg.paths.database)
    try:
        created = seed_demo(cfg, patients=DEMO_PATIENTS, seed=DEMO_SEED)
    finally:
        db.close()
    known = _read_credentials(path)
    if created:
        known.update(created)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.writelines(f"{user}\t{password}\n" for user, password in sorted(known.items()))
    return known


def _read_credentials(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("\t", 1) for line in path.read_text(encoding="utf-8").splitlines() if "\t" in line)
    return {user: password for user, password in pairs}


def _print_banner(cfg: config_module.Config, credentials: dict[str, str]) -> None:
    click.echo("")
    click.secho(f"  Dossier médical : http://{cfg.web.host}:{cfg.web.port}/", bold=True)
    click.echo("  Comptes de démonstration (identifiant / mot de passe) :")
    for user, password in sorted(credentials.items()):
        click.echo(f"    {user:<14} {password}")
    click.echo("  Ctrl-C pour arrêter.\n")


def _service_commands(config_path: Path) -> list[list[str]]:
    exe = [sys.executable, "-m", "appliance"]
    return [[*exe, "web", "--config", str(config_path)]]


def _run_services(cfg: config_module.Config, config_path: Path) -> None:
    env = {**os.environ, "APPLIANCE_CONFIG": str(config_path), "PYTHONUNBUFFERED": "1"}
    processes = [subprocess.Popen(command, env=env) for command in _service_commands(config_path)]
    stopping = False

    def stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping and all(process.poll() is None for process in processes):
            time.sleep(0.5)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    failed = [process.args for process in processes if process.returncode not in (0, -signal.SIGTERM, None)]
    if failed and not stopping:
        raise click.ClickException(f"un service s'est arrêté : {failed}")
    click.echo("Arrêté.")
