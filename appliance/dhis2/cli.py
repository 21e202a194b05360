"""``appliance dhis2 check`` and ``appliance dhis2 payload``."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click

from appliance.commands import config_option, load_config_or_exit, open_store_or_exit


@click.group()
def dhis2() -> None:
    """Envoi des rapports mensuels au DHIS2 national."""


@dhis2.command()
@config_option
def check(config_path: str | None) -> None:
    """Compare la table de correspondance aux métadonnées du serveur DHIS2, avant tout envoi."""
    from appliance.dhis2.check import CheckAborted, check_mapping
    from appliance.dhis2.client import CredentialsError, Dhis2Client
    from appliance.dhis2.mapping import MappingError
    from appliance.dhis2.sender import site_mapping

    cfg = load_config_or_exit(config_path)
    if not cfg.dhis2.configured:
        click.echo("DHIS2 n'est pas configuré : renseignez [dhis2] base_url.", err=True)
        sys.exit(2)
    try:
        mapping = site_mapping(cfg.dhis2)
        client = Dhis2Client.from_settings(cfg.dhis2, cfg.paths.secrets_dir)
    except (MappingError, CredentialsError) as exc:
        click.echo(f"Erreur : {exc}", err=True)
        sys.exit(2)
    try:
        with client:
            report = check_mapping(client, mapping)
    except CheckAborted as exc:
        click.echo(f"Vérification impossible : {exc}", err=True)
        sys.exit(2)
    click.echo(f"Serveur {cfg.dhis2.base_url} : DHIS2 {report.server_version}, compte « {report.username} »")
    click.echo(f"Ensemble de données : {report.data_set_name or mapping.data_set} ; "
               f"{len(mapping.indicators)} indicateurs, {sum(1 for _ in mapping.cells())} cellules")
    for warning in report.warnings:
        click.echo(f"Attention ({warning.where}) : {warning.message}")
    for note in report.notes:
        click.echo(f"Note : {note}")
    if report.ok:
        click.echo("Table de correspondance conforme : les rapports peuvent être envoyés.")
        return
    click.echo(f"{len(report.problems)} problème(s) à corriger avant tout envoi :")
    for problem in report.problems:
        click.echo(f"  - {problem.where} : {problem.message}")
    sys.exit(1)


@dhis2.command()
@config_option
@click.option("--period", required=True, help="Mois du rapport, AAAA-MM.")
@click.option("--figures", "figures_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Chiffres du rapport (JSON : docs/dhis2.md) ; sans cette option : la dernière version scellée.")
@click.option("--previous", "previous_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Chiffres d'une version scellée antérieure (répétable).")
@click.option("--complete-date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Date de complétude envoyée (défaut : aujourd'hui).")
@click.option("--pretty", is_flag=True, help="JSON indenté pour la lecture (l'envoi réel est compact).")
def payload(config_path: str | None, period: str, figures_file: Path, previous_files: tuple[Path, ...],
            complete_date: dt.datetime | None, pretty: bool) -> None:
    """Affiche exactement ce qui serait envoyé à DHIS2 pour ce mois (rien n'est envoyé)."""
    from appliance.dhis2.mapping import MappingError
    from appliance.dhis2.payload import PayloadError, payload_for
    from appliance.dhis2.sender import payload_of_item, site_mapping
    from appliance.reports.figures import FiguresError, ReportFigures
    from appliance.reports.sealing import SealError, latest_outbox_item

    cfg = load_config_or_exit(config_path)
    try:
        if figures_file is None:  # the month's latest sealed version, exactly as its outbox item will be sent
            open_store_or_exit(cfg)
            built = payload_of_item(latest_outbox_item(period), cfg.dhis2, site_mapping(cfg.dhis2))
        else:
            figures = ReportFigures.from_json(figures_file.read_text(encoding="utf-8"))
            previous = [ReportFigures.from_json(path.read_text(encoding="utf-8")) for path in previous_files]
            if figures.period != period:
                raise FiguresError(f"{figures_file} est le rapport de {figures.period}, pas de {period}")
            mapping = site_mapping(cfg.dhis2)
            date = (complete_date.date() if complete_date else dt.date.today()) if cfg.dhis2.complete_data_set else None
            built = payload_for(figures, mapping, previous, zeros=cfg.dhis2.zeros, complete_date=date)
    except (FiguresError, MappingError, PayloadError, SealError, OSError) as exc:
        click.echo(f"Erreur : {exc}", err=True)
        sys.exit(2)
    raw = built.to_json_bytes()
    click.echo(json.dumps(built.body, indent=2, ensure_ascii=False) if pretty else raw.decode("utf-8"))
    click.echo(f"{len(built.rows)} valeurs ; {len(raw)} octets JSON, {len(built.gzipped())} octets gzip "
               f"(POST {cfg.dhis2.base_url or '<base_url>'}/api/dataValueSets)", err=True)
