"""``appliance users import FICHIER.csv [--dry-run]`` (the admin page's checks, for scripts) and
``appliance users reset-password NOM`` (the way back in on the box)."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click

from appliance.commands import config_option, load_config_or_exit, open_store_or_exit


@click.group()
def users() -> None:
    """Comptes utilisateurs."""


@users.command("import")
@config_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Vérifie le fichier sans rien créer.")
def import_command(config_path: str | None, file: Path, dry_run: bool) -> None:
    """Crée les comptes d'un fichier CSV (identifiant,prenom,nom,role,telephone) : tous ou aucun.

    Sort avec le code 0 seulement si toutes les lignes sont valides ; sinon une ligne par problème
    (« ligne 4, colonne role : rôle inconnu « nurse » ») et aucun compte créé.
    """
    from appliance.store.audit import system_actor
    from appliance.users.importer import check_file, create_accounts

    cfg = load_config_or_exit(config_path)
    open_store_or_exit(cfg)
    checked = check_file(file.read_bytes())
    if not checked.valid:
        for problem in checked.problems:
            click.echo(str(problem))
        click.echo(f"{len(checked.problems)} problème(s) : aucun compte créé.", err=True)
        sys.exit(1)
    if dry_run:
        click.echo(f"Fichier valide : {len(checked.rows)} compte(s) seraient créés (--dry-run : rien n'a été créé).")
        return
    credentials = create_accounts(system_actor(f"console:{getpass.getuser()}"), checked.rows)
    click.echo(f"{len(credentials)} compte(s) créés. Mots de passe provisoires, affichés une seule fois, "
               "à changer à la première connexion :")
    width = max(len(c.username) for c in credentials)
    for credential in credentials:
        replaced = f"  (remplace {credential.replaces})" if credential.replaces else ""
        click.echo(f"{credential.username:<{width}}  {credential.password}  {credential.full_name} · "
                   f"{credential.role_label}{replaced}")


@users.command("reset-password")
@config_option
@click.argument("username")
def reset_password_command(config_path: str | None, username: str) -> None:
    """Donne un mot de passe provisoire à un compte, sur la console du boîtier.

    Le recours quand plus personne ne peut se connecter (mot de passe oublié, essais d'un
    inconnu sur le WiFi) : les sessions du compte sont fermées et ses échecs oubliés ; le
    mot de passe est à changer à la connexion suivante.
    """
    from appliance.accounts import generate_password, set_password
    from appliance.store.audit import system_actor
    from appliance.store.models import User

    cfg = load_config_or_exit(config_path)
    open_store_or_exit(cfg)
    user = User.get_or_none(User.username == username.strip().lower())
    if user is None:
        click.echo(f"Aucun compte « {username} ».", err=True)
        sys.exit(1)
    password = generate_password()
    set_password(system_actor(f"console:{getpass.getuser()}"), user, password, must_change=True)
    click.echo(f"{user.username}  {password}  (provisoire, à changer à la connexion ; compte "
               f"{'actif' if user.active else 'désactivé'})")
