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
    waitress_serve(app, host=host, port=port, threads=4)


@district.command("add-clinic")
@db_option
@click.argument("site_id")
@click.argument("name")
def add_clinic(db_path: Path, site_id: str, name: str) -> None:
    """Ajoute un centre ; affiche son jeton une seule fois (à mettre dans district_token du centre)."""
    from appliance.district.store import Clinic, open_district, token_digest

    open_district(db_path)
    token = secrets.token_urlsafe(32)
    Clinic.create(site_id=site_id, name=name, token_sha256=token_digest(token))
    click.echo(token)


@district.command("add-clinician")
@db_option
@click.argument("username")
@click.argument("full_name")
@click.option("--site", "sites", multiple=True, required=True, help="centre couvert (répéter l'option)")
def add_clinician(db_path: Path, username: str, full_name: str, sites: tuple[str, ...]) -> None:
    """Ajoute un clinicien du district et ses centres ; affiche son mot de passe une seule fois."""
    from appliance.accounts import generate_password, hash_password
    from appliance.district.store import Clinician, Coverage, district_db, open_district

    open_district(db_path)
    password = generate_password()
    with district_db.atomic():
        clinician = Clinician.create(username=username, full_name=full_name, password_hash=hash_password(password))
        for site in sites:
            Coverage.create(clinician=clinician, site_id=site)
    click.echo(password)


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
