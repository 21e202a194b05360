"""``appliance fleet watch`` (live table) and ``appliance fleet report`` (CSV), for remote ops.

They run on an ops workstation, not on the clinic box: broker access comes from options, and
the password from a file or the APPLIANCE_FLEET_PASSWORD variable (never from the command line,
where every user of the machine could read it in the process list).
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

PASSWORD_ENV = "APPLIANCE_FLEET_PASSWORD"


def broker_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--broker", "host", required=True, help="Adresse du courtier MQTT."),
        click.option("--port", type=click.IntRange(1, 65535), default=None,
                     help="Port (défaut : 8883 avec TLS, 1883 sans)."),
        click.option("--tls/--no-tls", default=True, show_default=True, help="Chiffrer la connexion (TLS)."),
        click.option("--ca-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Autorité de certification du courtier (défaut : celles du système)."),
        click.option("--cert-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Certificat client, si le courtier en exige un."),
        click.option("--key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Clé du certificat client."),
        click.option("--username", help="Compte de lecture des opérations sur le courtier."),
        click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help=f"Fichier contenant le mot de passe (ou la variable {PASSWORD_ENV})."),
        click.option("--prefix", default="clinic", show_default=True, help="Premier niveau des sujets."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _access(host: str, port: int | None, tls: bool, ca_file: Path | None, cert_file: Path | None,
            key_file: Path | None, username: str | None, password_file: Path | None, prefix: str):
    from appliance.fleet.collector import BrokerAccess

    password = os.environ.get(PASSWORD_ENV)
    if password_file is not None:
        password = password_file.read_text(encoding="utf-8").strip()
    return BrokerAccess(host=host, port=port or (8883 if tls else 1883), tls=tls, ca_file=ca_file,
                        cert_file=cert_file, key_file=key_file, username=username, password=password,
                        prefix=prefix)


def _connected(access: Any):
    from appliance.fleet.collector import CollectorError, FleetCollector

    collector = FleetCollector(access)
    try:
        collector.start()
    except CollectorError as exc:
        click.echo(f"Erreur : {exc}", err=True)
        sys.exit(1)
    return collector


@click.group()
def fleet() -> None:
    """Vue de la flotte pour les opérations à distance (depuis un poste des opérations)."""


silent_option = click.option("--silent-hours", type=click.FloatRange(min=0.1), default=24.0, show_default=True,
                             help="Une clinique muette depuis plus longtemps est signalée.")


def _with_access(command: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(command)
    def wrapper(host, port, tls, ca_file, cert_file, key_file, username, password_file, prefix, **rest):
        access = _access(host, port, tls, ca_file, cert_file, key_file, username, password_file, prefix)
        if "silent_hours" in rest:
            rest["silent_after_s"] = rest.pop("silent_hours") * 3600
        return command(access=access, **rest)

    return wrapper


@fleet.command()
@broker_options
@silent_option
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Fichier CSV à écrire (défaut : sortie standard).")
@click.option("--settle", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="Secondes sans nouveau message avant d'écrire le rapport.")
@click.option("--timeout", type=click.FloatRange(min=1), default=120.0, show_default=True,
              help="Durée maximale de collecte.")
@_with_access
def report(access, silent_after_s: float, output: Path | None, settle: float, timeout: float) -> None:
    """Écrit l'état de toutes les cliniques en CSV, les plus en difficulté d'abord."""
    from appliance.fleet.view import write_csv

    collector = _connected(access)
    try:
        complete = collector.settle(quiet_s=settle, timeout_s=timeout)
        rows = collector.rows(now=time.time(), silent_after_s=silent_after_s)
    finally:
        collector.stop()
    if output is None:
        write_csv(rows, sys.stdout)
    else:
        with output.open("w", encoding="utf-8", newline="") as stream:
            write_csv(rows, stream)
    flagged = sum(1 for row in rows if row.flags)
    click.echo(f"{len(rows)} cliniques, {flagged} à surveiller"
               f"{'' if complete else ' (collecte interrompue par --timeout)'}.", err=True)


@fleet.command()
@broker_options
@silent_option
@click.option("--refresh", type=click.FloatRange(min=0.2), default=2.0, show_default=True,
              help="Secondes entre deux rafraîchissements.")
@click.option("--duration", type=click.FloatRange(min=0), default=None,
              help="S'arrêter après ce nombre de secondes (défaut : jusqu'à Ctrl-C).")
@_with_access
def watch(access, silent_after_s: float, refresh: float, duration: float | None) -> None:
    """Tableau en direct de toutes les cliniques, les plus en difficulté d'abord (Ctrl-C pour quitter)."""
    from rich.console import Console
    from rich.live import Live

    from appliance.fleet.view import render_table

    collector = _connected(access)
    console = Console()
    stop_at = None if duration is None else time.monotonic() + duration

    def table():
        now = time.time()
        return render_table(collector.rows(now=now, silent_after_s=silent_after_s), now=now,
                            broker=access.describe())

    try:
        if console.is_terminal:
            # The table is cut at the screen's height: sorted worst first, what is cut is the calm part.
            with Live(table(), console=console, auto_refresh=False, vertical_overflow="ellipsis") as live:
                while _pause(refresh, stop_at):
                    live.update(table(), refresh=True)
        else:  # piped into a file or a log: one full table per refresh
            while _pause(refresh, stop_at):
                console.print(table())
    except KeyboardInterrupt:
        pass
    finally:
        collector.stop()


def _pause(refresh: float, stop_at: float | None) -> bool:
    """Sleep until the next refresh; False once the --duration is over."""
    if stop_at is None:
        time.sleep(refresh)
        return True
    remaining = stop_at - time.monotonic()
    if remaining <= 0:
        return False
    time.sleep(min(refresh, remaining))
    return True


def _listen_address(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"« {value} » : adresse:port attendu, ex. 127.0.0.1:9108")
    return host.strip("[]"), int(port)


@fleet.command()
@broker_options
@click.option("--inventory", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Inventaire CSV des cliniques : site_id,district,region[,name,latitude,longitude].")
@click.option("--listen", default="127.0.0.1:9108", show_default=True, callback=_listen_address,
              help="Adresse et port du point /metrics pour Prometheus.")
@_with_access
def exporter(access, inventory: Path, listen: tuple[str, int]) -> None:
    """Sert l'état de la flotte au format Prometheus (/metrics), jusqu'à l'arrêt du service."""
    import logging
    import signal

    from appliance.fleet.exporter import FleetExporter
    from appliance.fleet.inventory import InventoryError, load_inventory

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        sites = load_inventory(inventory)
    except InventoryError as exc:
        click.echo(f"Erreur d'inventaire : {exc}", err=True)
        sys.exit(2)
    try:
        service = FleetExporter(access, sites, host=listen[0], port=listen[1])
    except OSError as exc:
        click.echo(f"Erreur : impossible d'écouter sur {listen[0]}:{listen[1]} : {exc}", err=True)
        sys.exit(1)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    service.start()
    host, port = service.address
    click.echo(f"{len(sites)} cliniques ; métriques sur http://{host}:{port}/metrics ; "
               f"courtier {access.describe()}", err=True)
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()


@fleet.command("check-inventory")
@click.argument("inventory", type=click.Path(dir_okay=False, path_type=Path))
def check_inventory(inventory: Path) -> None:
    """Vérifie l'inventaire de la flotte (avant de le donner à l'exportateur)."""
    from appliance.fleet.inventory import InventoryError, load_inventory

    try:
        sites = load_inventory(inventory)
    except InventoryError as exc:
        click.echo(f"Erreur d'inventaire : {exc}", err=True)
        sys.exit(2)
    districts = {(site.region, site.district) for site in sites.values()}
    regions = {site.region for site in sites.values()}
    click.echo(f"{inventory} : {len(sites)} cliniques, {len(districts)} districts, {len(regions)} régions.")
