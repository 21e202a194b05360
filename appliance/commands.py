"""What every sub-command of ``appliance`` shares: the ``--config`` option, and loading the
configuration and the store with one clear message and exit code. Each package's ``cli`` module
imports this, never ``appliance.cli`` (the group that names every command, the web included).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from appliance import config as config_module

DEMO_CONFIG = Path("instance") / "appliance.toml"  # written by ``make run`` at the repository's root


def load_config_or_exit(path: str | None) -> config_module.Config:
    """Load the configuration; on error print the one clear message and exit 2.

    With no --config, no APPLIANCE_CONFIG and no /etc/appliance/appliance.toml (a developer's
    machine), the demo configuration of ``make run`` is used when run from the repository."""
    if path is None and not config_module.DEFAULT_PATH.exists() and DEMO_CONFIG.exists():
        click.echo(f"Configuration de démonstration : {DEMO_CONFIG} (make run)", err=True)
        path = str(DEMO_CONFIG)
    try:
        return config_module.load(path)
    except config_module.ConfigError as exc:
        hint = ("\nSur un poste de développement : « make run » écrit instance/appliance.toml ; lancez la commande "
                "depuis la racine du dépôt ou passez --config instance/appliance.toml."
                if path is None and not config_module.DEFAULT_PATH.exists() else "")
        click.echo(f"Erreur de configuration :\n{exc}{hint}", err=True)
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
