"""``appliance followup recompute``: rebuild every patient's due items, alerts and last visit."""

from __future__ import annotations

import datetime as dt

import click

from appliance.commands import config_option, load_config_or_exit, open_store_or_exit


@click.group()
def followup() -> None:
    """Suivi des patients : listes « À revoir » et alertes."""


@followup.command()
@config_option
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Date de référence (AAAA-MM-JJ, défaut : aujourd'hui).")
def recompute(config_path: str | None, today: dt.datetime | None) -> None:
    """Recalcule les rendez-vous dus et les alertes de tous les patients (après un import, des
    données de démonstration ou une modification des calendriers)."""
    from appliance.followup.service import BATCH_PATIENTS, recompute_all
    from appliance.store.db import checkpoint

    cfg = load_config_or_exit(config_path)
    db = open_store_or_exit(cfg)
    try:
        report = recompute_all(today.date() if today else None,
                               progress=lambda done: click.echo(f"  {done} patients…", err=True)
                               if done % 10_000 < BATCH_PATIENTS else None)
        checkpoint()  # fold the rewritten rows into the main file: readers skip a large WAL
    finally:
        db.close()
    click.echo(f"Recalcul terminé en {report.seconds:.1f} s — patients : {report.patients}, "
               f"rendez-vous : {report.items}, alertes : {report.alerts}.")
