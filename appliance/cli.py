"""The ``appliance`` command: every service and maintenance task of the box."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from appliance import config as config_module


def load_config_or_exit(path: str | None) -> config_module.Config:
    """Load the configuration; on error print the one clear message and exit 2."""
    try:
        return config_module.load(path)
    except config_module.ConfigError as exc:
        click.echo(f"Erreur de configuration :\n{exc}", err=True)
        sys.exit(2)


def open_store_or_exit(cfg: config_module.Config):
    """Open and upgrade the database, or exit with the store's clear message."""
    from appliance.store import StoreError, open_and_migrate

    try:
        return open_and_migrate(cfg.paths.database)
    except StoreError as exc:
        click.echo(f"Erreur de base de données : {exc}", err=True)
        sys.exit(3)


config_option = click.option(
    "--config", "config_path", envvar="APPLIANCE_CONFIG", type=click.Path(dir_okay=False),
    help="Fichier de configuration TOML (défaut : /etc/appliance/appliance.toml).",
)


@click.group()
@click.version_option(package_name="appliance")
def main() -> None:
    """Clinic-in-a-box : dossier médical, batterie, modem 3G et télémétrie."""


@main.command("check-config")
@config_option
def check_config(config_path: str | None) -> None:
    """Vérifie le fichier de configuration et s'arrête."""
    cfg = load_config_or_exit(config_path)
    click.echo(f"Configuration valide : {cfg.source} (site {cfg.site.id})")


@main.command()
@config_option
def migrate(config_path: str | None) -> None:
    """Crée ou met à jour la base de données."""
    cfg = load_config_or_exit(config_path)
    db = open_store_or_exit(cfg)
    from appliance.store.migrations import current_version

    click.echo(f"Base de données {cfg.paths.database} : version {current_version(db)}")


@main.command()
@config_option
def web(config_path: str | None) -> None:
    """Sert le dossier médical (waitress)."""
    from appliance.emr.server import serve

    cfg = load_config_or_exit(config_path)
    open_store_or_exit(cfg)
    serve(cfg)


@main.command()
@click.option("--instance", type=click.Path(file_okay=False, path_type=Path), default=Path("instance"),
              show_default=True, help="Dossier des données de simulation.")
@click.option("--port", type=int, default=8080, show_default=True)
def simulate(instance: Path, port: int) -> None:
    """Lance l'appareil en simulation (ce que fait « make run »)."""
    from appliance.simulation import run_simulation

    run_simulation(instance.resolve(), port=port)


# Backup, restore and moving hosts (appliance/backup); imported last: they use this module's helpers.
from appliance.backup.cli import COMMANDS as BACKUP_COMMANDS  # noqa: E402

for backup_command in BACKUP_COMMANDS:
    main.add_command(backup_command)

from appliance.provision import provision  # noqa: E402

main.add_command(provision)

from appliance.dhis2.cli import dhis2  # noqa: E402
from appliance.outbox.cli import outbox  # noqa: E402

main.add_command(dhis2)
main.add_command(outbox)

from appliance.agent.cli import agent_command  # noqa: E402

main.add_command(agent_command)

from appliance.fleet.cli import fleet  # noqa: E402
from appliance.telemetry.cli import telemetry  # noqa: E402

main.add_command(fleet)
main.add_command(telemetry)

from appliance.fleet.cli import fleet  # noqa: E402
from appliance.telemetry.cli import telemetry  # noqa: E402

main.add_command(fleet)
main.add_command(telemetry)

from appliance.users.cli import users  # noqa: E402

main.add_command(users)

from appliance.demo import demo_data_command  # noqa: E402

main.add_command(demo_data_command)
