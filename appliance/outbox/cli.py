"""``appliance outbox flush|status|dead|retry|abandon``: the queue from the command line."""

from __future__ import annotations

import dataclasses
import getpass
import json
import sys

import click

from appliance.commands import config_option, load_config_or_exit, open_store_or_exit


@click.group()
def outbox() -> None:
    """File d'attente des envois (rapports DHIS2…) : envoi, état, lettres mortes."""


@outbox.command()
@config_option
@click.option(
    "--deadline",
    type=click.FloatRange(min=0),
    default=None,
    help="Secondes d'envoi au plus ; attend les nouveaux essais qui tombent avant (fenêtre 3G).",
)
@click.option("--urgent-only", is_flag=True, help="Seulement les envois marqués urgents.")
@click.option(
    "--byte-budget",
    type=click.IntRange(min=1),
    default=None,
    help="S'arrête après ce nombre d'octets échangés (vérifié entre deux envois).",
)
def flush(config_path: str | None, deadline: float | None, urgent_only: bool, byte_budget: int | None) -> None:
    """Envoie maintenant ce qui est dû (le même chemin que les fenêtres d'envoi de l'agent)."""
    from appliance.wiring import compose_outbox

    cfg = load_config_or_exit(config_path)
    open_store_or_exit(cfg)
    outbox = compose_outbox(cfg)
    if not outbox.kinds():
        click.echo("Aucun expéditeur configuré (DHIS2 : renseignez [dhis2] base_url) : rien n'est envoyé.")
    report = outbox.flush(deadline_s=deadline, only_urgent=urgent_only, byte_budget=byte_budget)
    click.echo(report.summary_fr())
    if report.stopped == "locked":
        sys.exit(75)  # EX_TEMPFAIL: another flush holds the queue


@outbox.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON (supervision).")
def status(config_path: str | None, as_json: bool) -> None:
    """État de la file : profondeur, plus ancien envoi en attente, lettres mortes, derniers succès."""
    from appliance.outbox import queue

    cfg = load_config_or_exit(config_path)
    open_store_or_exit(cfg)
    state = queue.status()
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(state), default=str, ensure_ascii=False))
        return
    oldest = "—" if state.oldest_age_s is None else f"{state.oldest_age_s / 3600:.1f} h"
    click.echo(f"En attente : {state.depth} (dont {state.sending} en cours d'envoi) ; plus ancien : {oldest}")
    for kind, count in sorted(state.waiting_by_kind.items()):
        click.echo(f"  {queue.kind_label(kind)} : {count}")
    click.echo(f"Lettres mortes (à traiter) : {state.dead_letters}")
    for kind, when in sorted(state.last_success_at.items()):
        click.echo(f"Dernier succès, {queue.kind_label(kind)} : {when:%Y-%m-%d %H:%M} UTC")
    click.echo(f"Octets échangés sur 24 h : {state.bytes_last_24h}")


@outbox.command()
@config_option
def dead(config_path: str | None) -> None:
    """Liste les lettres mortes avec la raison, en français."""
    from appliance.outbox import queue

    cfg = load_config_or_exit(config_path)
    open_store_or_exit(cfg)
    letters = queue.list_dead_letters()
    if not letters:
        click.echo("Aucune lettre morte.")
    for letter in letters:
        click.echo(
            f"n° {letter.id} · {letter.kind_label} · {letter.ref or '—'} · {letter.attempts} tentative(s)\n"
            f"    {letter.reason}"
        )


@outbox.command()
@config_option
@click.argument("item_id", type=int)
def retry(config_path: str | None, item_id: int) -> None:
    """Remet une lettre morte dans la file (après correction de la cause)."""
    from appliance.outbox import queue

    cfg = load_config_or_exit(config_path)
    open_store_or_exit(cfg)
    try:
        queue.requeue(item_id, _console_actor())
    except queue.OutboxActionError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"Envoi n° {item_id} remis dans la file.")


@outbox.command()
@config_option
@click.argument("item_id", type=int)
@click.option("--reason", required=True, help="Pourquoi on abandonne cet envoi.")
def abandon(config_path: str | None, item_id: int, reason: str) -> None:
    """Abandonne une lettre morte, avec un motif (elle reste dans l'historique)."""
    from appliance.outbox import queue

    cfg = load_config_or_exit(config_path)
    open_store_or_exit(cfg)
    try:
        queue.abandon(item_id, _console_actor(), reason)
    except queue.OutboxActionError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"Envoi n° {item_id} abandonné.")


def _console_actor():
    from appliance.store.audit import Actor

    return Actor(user_id=None, username=f"console:{getpass.getuser()}", role="admin")
