"""``appliance district``: the district service (serve it, add a clinic and its token, add a
district clinician and the clinics he covers). Runs on the district's server, not on a box."""

from __future__ import annotations

import secrets
from pathlib import Path

import click

DEFAULT_DB = Path("/var/lib/appliance-district/district.db")
db_option = click.option("--db", "db_path", type=click.Path(path_type=Path), default=DEFAULT_DB, show_default=True,
                         help="base de données du service du district")


@click.group()
def district() -> None:
    """Service du district : avis, notifications et documents des centres."""


@district.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8090, show_default=True)
def serve(db_path: Path, host: str, port: int) -> None:
    """Sert les pages des cliniciens et l'API des centres (derrière un proxy HTTPS)."""
    from waitress import serve as waitress_serve

    from appliance.district.app import create_district_app

    secret = db_path.with_name("session-key")
    if not secret.exists():
        from appliance.config import write_secret

        write_secret(secret, secrets.token_urlsafe(32))
    app = create_district_app(db_path, secret.read_text(encoding="utf-8").strip())
    # Behind the district's HTTPS proxy on this machine: its X-Forwarded-For is the client's address
    # (the throttle and the audit trail count it); such headers from anyone else are dropped.
    waitress_serve(app, host=host, port=port, threads=4, trusted_proxy="127.0.0.1", trusted_proxy_count=1,
                   trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto"}, clear_untrusted_proxy_headers=True)


@district.command("add-clinic")
@db_option
@click.argument("site_id")
@click.argument("name")
def add_clinic(db_path: Path, site_id: str, name: str) -> None:
    """Ajoute un centre ; affiche son jeton une seule fois (à mettre dans district_token du centre)."""
    from appliance.district.store import add_clinic as add
    from appliance.district.store import open_district

    open_district(db_path)
    click.echo(add(site_id, name))


@district.command("add-clinician")
@db_option
@click.argument("username")
@click.argument("full_name")
@click.option("--site", "sites", multiple=True, help="centre couvert (répéter l'option)")
@click.option("--admin", is_flag=True, help="administrateur du district : lit le journal du service (/journal)")
def add_clinician(db_path: Path, username: str, full_name: str, sites: tuple[str, ...], admin: bool) -> None:
    """Ajoute un clinicien du district et ses centres ; affiche son mot de passe une seule fois."""
    from appliance.district.store import ADMINISTRATOR, open_district
    from appliance.district.store import add_clinician as add

    if not sites and not admin:
        raise click.UsageError("au moins un centre (--site), sauf pour un administrateur (--admin)")
    open_district(db_path)
    click.echo(add(username, full_name, sites, (ADMINISTRATOR,) if admin else ()))


@district.command("grant-admin")
@db_option
@click.argument("username")
def grant_admin(db_path: Path, username: str) -> None:
    """Fait d'un clinicien existant l'administrateur du district (il lit le journal du service)."""
    from appliance.district.store import ADMINISTRATOR, grant_role, open_district

    open_district(db_path)
    try:
        grant_role(username, ADMINISTRATOR)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"{username} : administrateur du district")


@district.command("audit")
@db_option
@click.option("--limit", default=100, show_default=True, help="nombre de lignes, les plus récentes")
def show_audit(db_path: Path, limit: int) -> None:
    """Le journal du service : connexions, cas et notifications lus, réponses (qui, quand, quel centre)."""
    from appliance.district.store import audit_entries, open_district

    open_district(db_path)
    for entry in audit_entries(limit):
        click.echo(f"{entry.at:%Y-%m-%d %H:%M:%S}Z\t{entry.username}\t{entry.action}\t{entry.site_id or ''}\t"
                   f"{entry.message or ''}\t{entry.client}")


@district.command("push-document")
@db_option
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--title", required=True)
@click.option("--site", "sites", multiple=True, required=True, help="centre destinataire (répéter l'option)")
def push_document(db_path: Path, path: Path, title: str, sites: tuple[str, ...]) -> None:
    """Envoie un document (PDF ou texte) aux centres : ils le reçoivent à leur prochaine connexion."""
    from appliance.district.app import push_document as push
    from appliance.district.store import open_district

    mime = "application/pdf" if path.suffix.lower() == ".pdf" else "text/plain"
    if path.stat().st_size > 2 * 1024 * 1024:
        raise click.ClickException(f"{path} : 2 Mo au plus")
    open_district(db_path)
    click.echo(push(list(sites), title, path.name, mime, path.read_bytes()))
