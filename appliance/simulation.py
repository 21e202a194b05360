"""``make run``: the whole appliance on a laptop, with demo data and simulated hardware.

It writes a development configuration under ``instance/`` once, fills the database with
deterministic demo data once, prints the demo accounts, then runs each service as its own
process (as systemd does on the Pi) until Ctrl-C stops them all. Beside the clinic: a fake national
DHIS2 (port + 1) and the district service (port + 2, ``instance/district/``) with a demo district
clinician who covers the demo clinic.
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
DISTRICT_CREDENTIALS_FILE = "district-credentials.txt"


def run_simulation(instance: Path, *, port: int) -> None:
    config_path = instance / "appliance.toml"
    if not config_path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        text = (config_module.dev_config_text(instance, port=port) + _fake_dhis2_section(port + 1)
                + _district_section(port + 2))
        config_path.write_text(text, encoding="utf-8")
        click.echo(f"Configuration de développement écrite : {config_path}")
    else:
        _use_port(config_path, port)
        _add_district(config_path, port + 2)
    try:
        cfg = config_module.load(config_path)
    except config_module.ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    credentials = _demo_credentials(cfg)
    district = _district_credentials(cfg, instance)
    _print_banner(cfg, credentials, district)
    _run_services(cfg, config_path)


def _use_port(config_path: Path, port: int) -> None:
    """``make run PORT=8090`` on an instance made with another port: the EMR, the fake DHIS2 (the next
    port) and the district service (the one after) move there; the rest of the configuration is kept."""
    text = config_path.read_text(encoding="utf-8")
    moved = re.sub(r"(?m)^port = \d+$", f"port = {port}", text, count=1)
    moved = re.sub(r'(?m)^base_url = "http://127\.0\.0\.1:\d+"$', f'base_url = "http://127.0.0.1:{port + 1}"', moved)
    moved = re.sub(r'(?m)^url = "http://127\.0\.0\.1:\d+"$', f'url = "http://127.0.0.1:{port + 2}"', moved)
    if moved != text:
        config_path.write_text(moved, encoding="utf-8")
        click.echo(f"Port {port} (fake DHIS2 : {port + 1}) écrit dans {config_path}")


def _fake_dhis2_section(port: int) -> str:
    return f"""
# Le faux DHIS2 de démonstration (tests/fakes/fake_dhis2.py), lancé à côté du dossier médical.
[dhis2]
base_url = "http://127.0.0.1:{port}"
"""


def _district_section(port: int) -> str:
    return f"""
# Le service du district de démonstration (appliance district serve), lancé à côté du dossier médical.
[district]
url = "http://127.0.0.1:{port}"
"""


def _add_district(config_path: Path, port: int) -> None:
    """An instance made before the district service ran beside the clinic gets its section once."""
    text = config_path.read_text(encoding="utf-8")
    if not re.search(r"(?m)^\[district\]", text):
        config_path.write_text(text + _district_section(port), encoding="utf-8")
        click.echo(f"Service du district de démonstration ajouté à {config_path} (port {port})")


def _district_db(instance: Path) -> Path:
    return instance / "district" / "district.db"


def _district_credentials(cfg: config_module.Config, instance: Path) -> dict[str, str]:
    """The demo district (its clinic, token and clinician) and one demo second opinion, made once; the
    clinician's password lives in a 0600 file beside the clinic's demo accounts."""
    if not _local_district(cfg):
        return {}
    from appliance.demo.district import ask_demo_avis, prepare_district
    from appliance.store import open_and_migrate

    path = cfg.paths.secrets_dir / DISTRICT_CREDENTIALS_FILE
    created = prepare_district(cfg, _district_db(instance))
    known = _read_credentials(path) | created
    if created:
        config_module.write_secret(path, "\n".join(f"{user}\t{password}" for user, password in sorted(known.items())))
    db = open_and_migrate(cfg.paths.database)
    try:
        ask_demo_avis(cfg)
    finally:
        db.close()
    return known


def _local_district(cfg: config_module.Config) -> bool:
    return cfg.district.url.startswith("http://127.0.0.1:")


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


def _print_banner(cfg: config_module.Config, credentials: dict[str, str], district: dict[str, str]) -> None:
    click.echo("")
    click.secho(f"  Dossier médical : http://{cfg.web.host}:{cfg.web.port}/", bold=True)
    if cfg.dhis2.base_url:
        click.echo(f"  Faux DHIS2 national : {cfg.dhis2.base_url}/api/system/info")
    for user, password in sorted(district.items()):
        click.secho(f"  Service du district : {cfg.district.url.rstrip('/')}/ (clinicien : {user} / {password})",
                    bold=True)
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

    _wait_for_port(cfg.dhis2.base_url, fake)
    if fake.poll() is not None:
        return
    db = open_and_migrate(cfg.paths.database)
    try:
        if tell_month_end_story(compose_outbox(cfg), cfg.reports):
            click.echo("Démonstration : mois passés scellés et reçus par le faux DHIS2, un refusé, "
                       "le dernier en attente d'envoi.")
    finally:
        db.close()


def _district_command(cfg: config_module.Config, config_path: Path) -> list[str] | None:
    """The district service on this machine, as ``appliance district serve`` runs at the district."""
    if not _local_district(cfg):
        return None
    port = cfg.district.url.rstrip("/").rsplit(":", 1)[1]
    return [sys.executable, "-m", "appliance", "district", "serve", "--db", str(_district_db(config_path.parent)),
            "--host", "127.0.0.1", "--port", port]


def _wait_for_port(url: str, process: subprocess.Popen) -> None:
    host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    for _try in range(100):
        if process.poll() is not None:
            return
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)


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
        district = _district_command(cfg, config_path)
        if district is not None:  # first: the month-end story's flush also takes the demo avis to it
            processes.append(subprocess.Popen(district, env=env))
            _wait_for_port(cfg.district.url, processes[-1])
        fake = _fake_dhis2_command(cfg)
        if fake is not None:
            processes.append(subprocess.Popen(fake, env=env))
            _tell_month_end_story(cfg, processes[-1])
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
