"""``appliance demo-data``: fill an empty record with the demo and create the demo accounts."""

from __future__ import annotations

import click

from appliance.demo.accounts import ensure_demo_users
from appliance.demo.populate import populate


@click.command("demo-data")
@click.option("--patients", type=click.IntRange(min=0), default=3000, show_default=True,
              help="Nombre de patients à générer (familles entières : un peu plus).")
@click.option("--seed", type=int, default=2024, show_default=True, help="Graine : mêmes données à chaque fois.")
@click.option("--config", "config_path", envvar="APPLIANCE_CONFIG", type=click.Path(dir_okay=False),
              help="Fichier de configuration TOML.")
def demo_data_command(patients: int, seed: int, config_path: str | None) -> None:
    """Remplit un dossier vide avec des patients fictifs réalistes et crée les comptes de démonstration."""
    from appliance.commands import load_config_or_exit, open_store_or_exit

    cfg = load_config_or_exit(config_path)
    db = open_store_or_exit(cfg)
    try:
        credentials = ensure_demo_users()
        report = populate(patients, seed, site_id=cfg.site.id)
    finally:
        db.close()
    if report.skipped:
        click.echo("Le dossier contient déjà des patients : rien n'a été généré.")
    else:
        click.echo(f"{report.patients} patients dans {report.households} familles, "
                   f"{sum(report.rows.values()) - report.patients - report.households} visites et lignes "
                   f"en {report.seconds:.1f} s (graine {seed}).")
        for table, count in sorted(report.rows.items()):
            click.echo(f"  {table:<14} {count}")
    for username, password in credentials.items():
        click.echo(f"Compte créé : {username} / {password}")
