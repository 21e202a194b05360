"""``appliance agent`` (or ``python -m appliance.agent``): the long-running service.

systemd should start ``python -m appliance.agent``: it loads only what the agent needs, not every
other command of the ``appliance`` tool (about 5 MB less resident memory on a 512 MB Pi).
"""

from __future__ import annotations

import logging
import os
import sys

import click

JOURNAL_PRIORITIES = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}


class JournalFormatter(logging.Formatter):
    """Under systemd, ``<N>`` at the start of a line sets the journal priority; no timestamp,
    journald adds its own."""

    def format(self, record: logging.LogRecord) -> str:
        priority = JOURNAL_PRIORITIES.get(record.levelno, 6)
        return f"<{priority}>{super().format(record)}"


def configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


@click.command("agent")
@click.option("--config", "config_path", envvar="APPLIANCE_CONFIG", type=click.Path(dir_okay=False),
              help="Fichier de configuration TOML (défaut : /etc/appliance/appliance.toml).")
@click.option("--simulate/--hardware", default=None,
              help="Batterie et modem simulés (défaut : la clé « simulation » de la configuration).")
@click.option("--verbose", "-v", is_flag=True, help="Journal détaillé.")
def agent_command(config_path: str | None, simulate: bool | None, verbose: bool) -> None:
    """Surveille la batterie et le modem, ouvre les fenêtres d'envoi (service de fond)."""
    from appliance import config as config_module
    from appliance.store import StoreError, open_and_migrate

    configure_logging(verbose)
    try:
        cfg = config_module.load(config_path)
    except config_module.ConfigError as exc:
        click.echo(f"Erreur de configuration :\n{exc}", err=True)
        sys.exit(2)
    try:
        open_and_migrate(cfg.paths.database)
    except StoreError as exc:
        click.echo(f"Erreur de base de données : {exc}", err=True)
        sys.exit(3)
    from appliance.agent.hooks import agent_partners
    from appliance.agent.service import Agent
    from appliance.power.monitor import SensorError

    try:
        agent = Agent(cfg, simulate=simulate, partners=agent_partners(cfg))
    except SensorError as exc:
        click.echo(f"Erreur matérielle : {exc}", err=True)
        sys.exit(4)
    sys.exit(agent.run())
