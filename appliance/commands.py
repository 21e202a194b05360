"""What every sub-command of ``appliance`` shares: the ``--config`` option, and loading the
configuration and the store with one clear message and exit code. Each package's ``cli`` module
imports this, never ``appliance.cli`` (the group that names every command, the web included).
"""

from __future__ import annotations

import sys

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
