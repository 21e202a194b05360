"""Commands ``appliance backup``, ``restore``, ``export`` and ``import``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from appliance.commands import config_option, load_config_or_exit


@click.group(invoke_without_command=True)
@config_option
@click.option("--reason", type=click.Choice(["manual", "pre-upgrade", "nightly"]), default="manual",
              show_default=True, help="Pourquoi cette sauvegarde (pre-upgrade : avant une mise à jour).")
@click.pass_context
def backup(ctx: click.Context, config_path: str | None, reason: str) -> None:
    """Sauvegarde la base maintenant (partition de données, puis clé USB si présente)."""
    if ctx.invoked_subcommand is not None:
        return
    from appliance.backup.local import run_backup, run_nightly_backup

    cfg = load_config_or_exit(config_path)
    report = run_nightly_backup(cfg) if reason == "nightly" else run_backup(cfg, reason=reason)
    if report.file is not None:
        rows = sum(digest.rows for digest in report.manifest.tables.values())
        click.echo(f"Sauvegarde vérifiée : {report.file} ({report.file.stat().st_size // 1024} Ko, "
                   f"{len(report.manifest.tables)} tables, {rows} lignes)")
    for copy in report.usb_copies:
        click.echo(f"Copie sur clé USB : {copy}")
    for removed in report.removed:
        click.echo(f"Ancienne sauvegarde supprimée : {removed.name}")
    if report.offsite:
        click.echo(report.offsite)
    for problem in report.problems:
        click.echo(f"Erreur : {problem}", err=True)
    sys.exit(0 if report.ok else 1)


@backup.command("list")
@config_option
def list_command(config_path: str | None) -> None:
    """Liste les sauvegardes de la partition de données, la plus récente d'abord."""
    from appliance.backup.local import backups_folder, list_backups

    cfg = load_config_or_exit(config_path)
    backups = list_backups(backups_folder(cfg))
    if not backups:
        click.echo(f"Aucune sauvegarde dans {backups_folder(cfg)}")
    for manifest, data_file in backups:
        click.echo(f"{manifest.created_at}  {manifest.reason:<11}  {manifest.database.file_bytes // 1024:>8} Ko  "
                   f"{data_file}")


@backup.command("offsite-fetch")
@config_option
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--snapshot", default="latest", show_default=True, help="Instantané restic à reprendre.")
def offsite_fetch(config_path: str | None, folder: Path, snapshot: str) -> None:
    """Reprend la copie hors site (restic) en une sauvegarde vérifiée dans DOSSIER, à restaurer ensuite."""
    from appliance.backup.offsite import fetch
    from appliance.backup.snapshot import BackupError

    cfg = load_config_or_exit(config_path)
    try:
        data_file = fetch(cfg, folder, snapshot=snapshot)
    except (BackupError, OSError) as exc:
        click.echo(f"Reprise impossible : {exc}", err=True)
        sys.exit(1)
    click.echo(f"Copie hors site reconstruite et vérifiée : {data_file}")
    click.echo(f"Pour la mettre en place : appliance restore {data_file}")


@backup.command("offsite-ssh-key")
@config_option
def offsite_ssh_key(config_path: str | None) -> None:
    """Affiche la clé SSH publique de l'appareil pour le serveur sftp (la crée si elle manque)."""
    from appliance.backup import sftp

    cfg = load_config_or_exit(config_path)
    try:
        key = sftp.read_public_key(cfg.paths.secrets_dir) or sftp.ensure_key_pair(
            cfg.paths.secrets_dir, comment=f"appliance@{cfg.site.id}")
    except (sftp.SftpError, OSError) as exc:
        click.echo(f"Clé SSH indisponible : {exc}", err=True)
        sys.exit(1)
    for label, value in sftp.offsite_lines(cfg.backup.offsite_repository, cfg.backup.offsite_host_key, key):
        click.echo(f"{label:<28} {value}")
    click.echo("À ajouter sur le serveur, dans le fichier authorized_keys du compte de sauvegarde : "
               "la ligne « authorized_keys » ci-dessus.")


@backup.command("usb-key")
@config_option
def usb_key(config_path: str | None) -> None:
    """Affiche la clé des sauvegardes USB chiffrées (celle de la fiche d'installation ; la crée si elle manque)."""
    from appliance.backup.stick_repository import ensure_key, key_file

    cfg = load_config_or_exit(config_path)
    try:
        key = ensure_key(key_file(cfg))
    except OSError as exc:
        click.echo(f"Clé des sauvegardes USB illisible : {exc}", err=True)
        sys.exit(1)
    click.echo(f"Clé des sauvegardes USB : {key}")
    click.echo("Sans elle, une clé USB de sauvegarde ne peut pas être restaurée sur un autre appareil : "
               "gardez-la avec la fiche d'installation.")


@click.command()
@config_option
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@click.option("--force-site", is_flag=True, help="Accepte une sauvegarde d'un autre site (changement de matériel).")
@click.option("--key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Clé USB chiffrée : fichier contenant la « clé des sauvegardes USB » de la fiche d'installation "
                   "(par défaut, celle de cet appareil).")
@click.option("--snapshot", default="latest", show_default=True,
              help="Clé USB chiffrée : l'instantané restic à reprendre.")
def restore(config_path: str | None, file: Path, force_site: bool, key_file: Path | None, snapshot: str) -> None:
    """Restaure une sauvegarde (FICHIER .db.gz ou son .manifest.json, ou le dossier d'une clé USB de
    sauvegarde, chiffrée), vérifiée avant de remplacer la base."""
    from appliance.backup.restore import RestoreRefused
    from appliance.backup.restore import restore as restore_copy

    cfg = load_config_or_exit(config_path)
    try:
        manifest, kept = restore_copy(cfg, file, force_site=force_site, key_file=key_file, snapshot=snapshot)
    except RestoreRefused as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"Sauvegarde du {manifest.created_at} vérifiée et restaurée ({len(manifest.tables)} tables).")
    if kept:
        click.echo(f"L'ancienne base est conservée : {kept}")
    click.echo("Redémarrez les services : systemctl start appliance-web appliance-agent")


@click.command("export")
@config_option
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def export_command(config_path: str | None, folder: Path) -> None:
    """Exporte la base et son manifeste dans DOSSIER (changement d'hôte)."""
    from appliance.backup.snapshot import BackupError
    from appliance.backup.transfer import export

    cfg = load_config_or_exit(config_path)
    try:
        manifest = export(cfg, folder)
    except (BackupError, OSError) as exc:
        click.echo(f"Export impossible : {exc}", err=True)
        sys.exit(1)
    rows = sum(digest.rows for digest in manifest.tables.values())
    click.echo(f"Export vérifié dans {folder} : {len(manifest.tables)} tables, {rows} lignes.")
    click.echo(f"Sur le nouvel hôte : appliance import {folder}")


@click.command("import")
@config_option
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--check-only", is_flag=True, help="Vérifie seulement, sans installer la base.")
@click.option("--force-site", is_flag=True, help="Accepte un export d'un autre identifiant de site.")
def import_command(config_path: str | None, folder: Path, check_only: bool, force_site: bool) -> None:
    """Importe un export (DOSSIER) et prouve que les données sont intactes."""
    from appliance.backup.transfer import INTACT, import_export

    cfg = load_config_or_exit(config_path)
    result = import_export(cfg, folder, check_only=check_only, force_site=force_site)
    for line in result.table_lines:
        click.echo(line)
    if result.kept:
        click.echo(f"L'ancienne base de cet hôte est conservée : {result.kept}")
    if not result.intact:
        click.echo("DIFFÉRENCES — données NON intactes :", err=True)
        for problem in result.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    click.echo(INTACT + (" (vérification seule, rien n'a été installé)" if check_only else ""))


COMMANDS = (backup, restore, export_command, import_command)
