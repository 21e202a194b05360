"""The ``appliance`` command: every service and maintenance task of the box."""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from appliance.commands import config_option, load_config_or_exit, open_store_or_exit


class LazyGroup(click.Group):
    """Sub-commands imported only when used: ``appliance web`` must not pay, in memory and
    start-up time, for the fleet view, the image tools or the agent."""

    def __init__(self, *args, lazy: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module_name, attribute = self.lazy[name].split(":")
            module = importlib.import_module(module_name)
            return getattr(module, attribute)
        return super().get_command(ctx, name)


# name → "module:attribute" of each package's command. A new package adds its line here.
LAZY_COMMANDS = {
    "agent": "appliance.agent.cli:agent_command",
    "backup": "appliance.backup.cli:backup",
    "demo-data": "appliance.demo.command:demo_data_command",
    "dhis2": "appliance.dhis2.cli:dhis2",
    "district": "appliance.district.cli:district",
    "export": "appliance.backup.cli:export_command",
    "fleet": "appliance.fleet.cli:fleet",
    "followup": "appliance.followup.cli:followup",
    "import": "appliance.backup.cli:import_command",
    "outbox": "appliance.outbox.cli:outbox",
    "provision": "appliance.provision.cli:provision",
    "restore": "appliance.backup.cli:restore",
    "telemetry": "appliance.telemetry.cli:telemetry",
    "update": "appliance.update.cli:update",
    "users": "appliance.users.cli:users",
}


@click.group(cls=LazyGroup, lazy=LAZY_COMMANDS)
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
