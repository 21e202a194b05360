"""``appliance telemetry send``: open a telemetry window by hand (installation, diagnosis)."""

from __future__ import annotations

import sys
import time

import click

from appliance.commands import config_option, load_config_or_exit


@click.group()
def telemetry() -> None:
    """Télémétrie MQTT de la clinique."""


@telemetry.command()
@config_option
@click.option("--hold", type=click.FloatRange(min=0), default=0, show_default=True,
              help="Secondes pendant lesquelles la connexion reste ouverte après l'envoi.")
def send(config_path: str | None, hold: float) -> None:
    """Se connecte au courtier, publie l'état de la clinique, puis se déconnecte proprement."""
    from appliance.commands import open_store_or_exit
    from appliance.telemetry.counters import SqliteCounters
    from appliance.telemetry.publisher import TelemetryPublisher, TelemetryUnavailable

    cfg = load_config_or_exit(config_path)
    open_store_or_exit(cfg)
    try:
        publisher = TelemetryPublisher.from_config(cfg, counters=SqliteCounters())
    except TelemetryUnavailable as exc:
        click.echo(f"Télémétrie indisponible : {exc}", err=True)
        sys.exit(2)
    with publisher.window() as connected:
        if not connected:
            click.echo(f"Courtier {cfg.telemetry.broker_host}:{cfg.telemetry.broker_port} injoignable"
                       f" ({publisher.last_error or 'délai dépassé'}).", err=True)
            sys.exit(1)
        snapshot = publisher.collect_status()
        if not publisher.publish_status(snapshot):
            click.echo("État non acquitté par le courtier.", err=True)
            sys.exit(1)
        click.echo(f"État publié sur {publisher.topic('status')} ({len(snapshot.to_payload())} octets).")
        time.sleep(hold)
    click.echo(f"Télémétrie aujourd'hui : {publisher.meter.today()} octets sur le réseau.")
