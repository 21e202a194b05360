"""``appliance provision write | apply | sheet``: the technician's commands."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

from appliance.provision.card import write_to_target
from appliance.provision.first_boot import Targets, apply
from appliance.provision.model import (
    HARDWARE_SIMULATION,
    MIN_WIFI_PASSPHRASE,
    SHEET_COMMAND,
    ProvisionError,
    Provisioning,
    generate_wifi_passphrase,
)
from appliance.provision.sheet import sheet_as_text, take_sheet


def _ask(value: str | None, label: str, *, hide: bool = False, default: str | None = None) -> str:
    if value is not None:
        return value
    return click.prompt(label, hide_input=hide, confirmation_prompt=hide, default=default,
                        show_default=default is not None).strip()


@click.group()
def provision() -> None:
    """Mise en service d'une carte SD (technicien) et premier démarrage (sur l'appareil)."""


@provision.command("write")
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--site-id", help="Identifiant du site (ex. cscom-kati-01).")
@click.option("--facility-name", help="Nom de l'établissement.")
@click.option("--dhis2-org-unit", help="UID DHIS2 de l'unité d'organisation (11 caractères).")
@click.option("--wifi-passphrase", help="Mot de passe WiFi WPA2 (12 à 63 caractères ; « auto » : tiré au hasard "
                                         "et imprimé sur la fiche).")
@click.option("--mqtt-username", help="Identifiant MQTT (défaut : l'identifiant du site).")
@click.option("--mqtt-password", help="Mot de passe MQTT de la clinique.")
@click.option("--modem-apn", help="Point d'accès (APN) de l'opérateur 3G.")
@click.option("--mqtt-broker", default="", help="Serveur MQTT de supervision (vide : télémétrie désactivée).")
@click.option("--wifi-ssid", default="", help="Nom du réseau WiFi (défaut : Dossier-<site>).")
@click.option("--dhis2-url", default="", help="Adresse du serveur DHIS2 national.")
@click.option("--dhis2-token", default="", help="Jeton d'accès personnel DHIS2 (d2pat_…).")
@click.option("--ssh-key", "ssh_key_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Clé SSH publique du technicien (fichier .pub).")
@click.option("--modem-apn-user", default="", help="Identifiant APN, si l'opérateur en demande un.")
@click.option("--modem-apn-password", default="", help="Mot de passe APN, si l'opérateur en demande un.")
@click.option("--offsite-repository", default="",
              help="Dépôt restic de la sauvegarde hors site (ex. sftp:sauvegarde@serveur:/srv/restic/site).")
@click.option("--offsite-key-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Fichier de la clé de la sauvegarde hors site (donné par l'équipe centrale).")
@click.option("--simulated-hardware", is_flag=True,
              help="Batterie et modem simulés : carte essayée sans Pi (émulateur, banc d'essai), jamais en clinique.")
@click.option("--offsite-host-key", default="",
              help="Clé d'hôte publique du serveur sftp (« ssh-ed25519 AAAA… ») : épinglée. "
                   "Sans elle : acceptée au premier contact.")
def write_command(target: Path, site_id, facility_name, dhis2_org_unit, wifi_passphrase, mqtt_username,
                  mqtt_password, modem_apn, mqtt_broker, wifi_ssid, dhis2_url, dhis2_token, ssh_key_file,
                  modem_apn_user, modem_apn_password, offsite_repository, offsite_key_file,
                  offsite_host_key, simulated_hardware) -> None:
    """Écrit les paramètres du site sur la partition de démarrage (dossier) ou dans l'image .img."""
    site = _ask(site_id, "Identifiant du site")
    offsite_key = ""
    if offsite_key_file:
        lines = offsite_key_file.read_text(encoding="utf-8", errors="replace").splitlines()
        offsite_key = lines[0].strip() if lines else ""
    elif offsite_repository:
        offsite_key = _ask(None, "Clé de la sauvegarde hors site", hide=True)
    values = Provisioning(
        site_id=site,
        facility_name=_ask(facility_name, "Nom de l'établissement"),
        dhis2_org_unit=_ask(dhis2_org_unit, "Unité d'organisation DHIS2 (UID)"),
        wifi_passphrase=generate_wifi_passphrase() if wifi_passphrase == "auto" else
        _ask(wifi_passphrase, f"Mot de passe WiFi ({MIN_WIFI_PASSPHRASE} à 63 caractères)", hide=True),
        mqtt_username=_ask(mqtt_username, "Identifiant MQTT", default=site),
        mqtt_password=_ask(mqtt_password, "Mot de passe MQTT", hide=True),
        modem_apn=_ask(modem_apn, "APN du modem 3G", default="internet"),
        mqtt_broker=mqtt_broker,
        wifi_ssid=wifi_ssid,
        dhis2_url=dhis2_url,
        dhis2_token=dhis2_token,
        ssh_public_key=ssh_key_file.read_text(encoding="utf-8").strip() if ssh_key_file else "",
        modem_apn_user=modem_apn_user,
        modem_apn_password=modem_apn_password,
        offsite_repository=offsite_repository,
        offsite_key=offsite_key,
        offsite_host_key=offsite_host_key.strip(),
        hardware=HARDWARE_SIMULATION if simulated_hardware else "",
    )
    try:
        where = write_to_target(values, target)
    except ProvisionError as exc:
        click.echo(f"Mise en service refusée :\n{exc}", err=True)
        sys.exit(2)
    click.echo(f"Paramètres écrits : {where}")
    click.echo(f"Réseau WiFi : {values.ssid}. Au premier démarrage, les secrets quittent la partition de "
               f"démarrage et la fiche d'installation est préparée (« {SHEET_COMMAND} »).")


@provision.command("apply")
@click.option("--boot-dir", type=click.Path(file_okay=False, path_type=Path), default=Targets.boot_dir,
              show_default=True)
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Racine des fichiers à écrire (essais hors de l'appareil).")
def apply_command(boot_dir: Path, root: Path | None) -> None:
    """Premier démarrage : installe les paramètres et les secrets, efface la partition de démarrage."""
    targets = Targets(boot_dir=boot_dir)
    if root is not None:
        targets = dataclasses.replace(targets.under(root), boot_dir=boot_dir)
    try:
        result = apply(targets)
    except ProvisionError as exc:
        click.echo(f"Mise en service impossible :\n{exc}", err=True)
        sys.exit(2)
    click.echo(f"Mise en service du site {result.site_id} terminée.")
    if result.sheet:
        click.echo(f"Fiche d'installation prête : « sudo appliance provision sheet » l'affiche une fois "
                   f"({result.sheet}).")


@provision.command("sheet")
# Not readable=True: the technician without sudo gets the French hint below, not click's English refusal.
@click.option("--data-dir", type=click.Path(file_okay=False, readable=False, path_type=Path),
              default=Targets.data_dir, show_default=True)
@click.option("--html", "as_html", is_flag=True, help="La page HTML imprimable plutôt que du texte.")
def sheet_command(data_dir: Path, as_html: bool) -> None:
    """Affiche la fiche d'installation (mot de passe administrateur provisoire) une seule fois."""
    try:
        page = take_sheet(data_dir)
    except PermissionError:
        click.echo("Accès refusé à la fiche : lancez « sudo appliance provision sheet ».", err=True)
        sys.exit(1)
    if page is None:
        click.echo("Fiche déjà affichée (ou appareil pas encore mis en service). Pour un nouveau mot de passe "
                   "administrateur, un autre administrateur le réinitialise.", err=True)
        sys.exit(1)
    click.echo(page if as_html else sheet_as_text(page))
