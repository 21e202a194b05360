"""``make run``: the whole appliance on a laptop, with demo data and simulated hardware.

It writes a development configuration under ``instance/`` once, fills the database with
deterministic demo data once, prints the demo accounts, then runs each service as its own
process (as systemd does on the Pi) until Ctrl-C stops them all.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click

from appliance import config as config_module
from appliance.backup.usb import simulated_sticks_root

DEMO_PATIENTS = 3000
DEMO_SEED = 2024
CREDENTIALS_FILE = "demo-credentials.txt"


def run_simulation(instance: Path, *, port: int) -> None:
    config_path = instance / "appliance.toml"
    if not config_path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        text = config_module.dev_config_text(instance, port=port) + _fake_dhis2_section(port + 1)
        config_path.write_text(text, encoding="utf-8")
        click.echo(f"Configuration de développement écrite : {config_path}")
    else:
        _use_port(config_path, port)
    try:
        cfg = config_module.load(config_path)
    except config_module.ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    credentials = _demo_credentials(cfg)
    _print_banner(cfg, credentials)
    _run_services(cfg, config_path)


def _use_port(config_path: Path, port: int) -> None:
    """``make run PORT=8090`` on an instance made with another port: the EMR and the fake DHIS2
    (the next port) move there; the rest of the development configuration is kept."""
    text = config_path.read_text(encoding="utf-8")
    moved = re.sub(r"(?m)^port = \d+$", f"port = {port}", text, count=1)
    moved = re.sub(r'(?m)^base_url = "http://127\.0\.0\.1:\d+"$', f'base_url = "http://127.0.0.1:{port + 1}"', moved)
    if moved != text:
        config_path.write_text(moved, encoding="utf-8")
        click.echo(f"Port {port} (fake DHIS2 : {port + 1}) écrit dans {config_path}")


def _fake_dhis2_section(port: int) -> str:
    return f"""
# Le faux DHIS2 de démonstration (tests/fakes/fake_dhis2.py), lancé à côté du dossier médical.
[dhis2]
base_url = "http://127.0.0.1:{port}"
"""


def _dhis2_token(cfg: config_module.Config) -> Path:
    """A personal access token for the fake DHIS2, made at first start like a real one would be."""
    path = cfg.dhis2.token_path(cfg.paths.secrets_dir)
    if not path.exists():
        config_module.write_secret(path, "d2pat_" + secrets.token_hex(20))
    return path


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
        config_module.write_secret(path, "\n".join(f"{user}\t{password}" for user, password in sorted(known.items())))
    return known


def _read_credentials(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("\t", 1) for line in path.read_text(encoding="utf-8").splitlines() if "\t" in line)
    return {user: password for user, password in pairs}


def _print_banner(cfg: config_module.Config, credentials: dict[str, str]) -> None:
    click.echo("")
    click.secho(f"  Dossier médical : http://{cfg.web.host}:{cfg.web.port}/", bold=True)
    if cfg.dhis2.base_url:
        click.echo(f"  Faux DHIS2 national : {cfg.dhis2.base_url}/api/system/info")
    click.echo("  Comptes de démonstration (identifiant / mot de passe) :")
    for user, password in sorted(credentials.items()):
        click.echo(f"    {user:<14} {password}")
    stick = simulated_sticks_root(cfg.paths.data_dir) / "CLE" / cfg.backup.usb_marker
    click.echo(f"  Brancher une clé USB simulée : mkdir -p {stick}")
    click.echo("  Ctrl-C pour arrêter.\n")


def _service_commands(config_path: Path) -> list[list[str]]:
    """The services as systemd runs them on the Pi."""
    appliance = [sys.executable, "-m", "appliance"]
    return [
        [*appliance, "web", "--config", str(config_path)],
        [*appliance, "agent", "--config", str(config_path), "--simulate"],
    ]


def _fake_dhis2_command(cfg: config_module.Config) -> list[str] | None:
    """The fake national DHIS2 when the configuration points at this machine; it has locked the
    month the demo story has refused."""
    if not cfg.dhis2.base_url.startswith("http://127.0.0.1:"):
        return None
    from appliance.demo import month_end_story

    port = cfg.dhis2.base_url.rsplit(":", 1)[1].rstrip("/")
    return [sys.executable, "-m", "tests.fakes.fake_dhis2", "--host", "127.0.0.1", "--port", port,
            "--mapping", str(cfg.dhis2.mapping_file), "--token-file", str(_dhis2_token(cfg)),
            "--locked-period", month_end_story(dt.date.today()).refused]


def _tell_month_end_story(cfg: config_module.Config, fake: subprocess.Popen) -> None:
    """Once the fake DHIS2 answers: past months sealed and sent to it, one refused, last month waiting."""
    from appliance.demo import tell_month_end_story
    from appliance.store import open_and_migrate
    from appliance.wiring import compose_outbox

    host, port = cfg.dhis2.base_url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    for _try in range(100):
        if fake.poll() is not None:
            return
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    db = open_and_migrate(cfg.paths.database)
    try:
        if tell_month_end_story(compose_outbox(cfg), cfg.reports):
            click.echo("Démonstration : mois passés scellés et reçus par le faux DHIS2, un refusé, "
                       "le dernier en attente d'envoi.")
    finally:
        db.close()


def _run_services(cfg: config_module.Config, config_path: Path) -> None:
    env = {**os.environ, "APPLIANCE_CONFIG": str(config_path), "PYTHONUNBUFFERED": "1"}
    processes: list[subprocess.Popen] = []
    stopping = False

    def stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        fake = _fake_dhis2_command(cfg)
        if fake is not None:
            processes.append(subprocess.Popen(fake, env=env))
            _tell_month_end_story(cfg, processes[0])
        processes += [subprocess.Popen(command, env=env) for command in _service_commands(config_path)]
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
