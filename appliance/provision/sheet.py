"""The one-time installation sheet: written at first boot, shown once over SSH, then erased."""

from __future__ import annotations

import html
import re
from pathlib import Path

from appliance.backup import sftp
from appliance.provision import ownership
from appliance.provision.model import (
    EMR_ADDRESS,
    EMR_FALLBACK_ADDRESS,
    SHEET_FILE,
    Provisioning,
)


def write_sheet(path: Path, provisioning: Provisioning, *, username: str, password: str,
                ssh_key: sftp.PublicKey | None = None, usb_key: str = "") -> None:
    """The one-time installation sheet (printable HTML): how to join the WiFi and log in first, the key
    that opens the encrypted USB stick copies on another box, and the line the central team adds to
    the backup server (``ssh_key``: appliance.backup.sftp.PublicKey)."""
    rows = [
        ("Établissement", provisioning.facility_name.strip()),
        ("Identifiant du site", provisioning.site_id),
        ("Réseau WiFi", provisioning.ssid),
        ("Mot de passe WiFi", provisioning.wifi_passphrase),
        ("Adresse du dossier médical", f"{EMR_ADDRESS}  (ou {EMR_FALLBACK_ADDRESS})"),
        ("Identifiant administrateur", username),
        ("Mot de passe provisoire", password),
        *([("Clé des sauvegardes USB", usb_key)] if usb_key else []),
        *sftp.offsite_lines(provisioning.offsite_repository, provisioning.offsite_host_key, ssh_key),
    ]
    table = "\n".join(f"<tr><th>{html.escape(k)}</th><td><code>{html.escape(v)}</code></td></tr>" for k, v in rows)
    page = f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Fiche d'installation — {html.escape(provisioning.site_id)}</title>
<style>body{{font-family:sans-serif;max-width:40em;margin:1em auto;padding:0 1em}}
th{{text-align:left;padding:.4em 1em .4em 0;vertical-align:top}}code{{font-size:1.3em}}</style></head>
<body><h1>Fiche d'installation</h1>
<p>Imprimez cette fiche et rangez-la sous clé. Elle ne s'affiche <strong>qu'une seule fois</strong>.</p>
<table>{table}</table>
<p>À la première connexion, l'administrateur doit choisir un nouveau mot de passe.</p>
{USB_KEY_NOTE if usb_key else ""}
{SSH_KEY_NOTE if ssh_key else ""}
</body></html>
"""
    ownership.write_private(path, page)


USB_KEY_NOTE = ("<p>Les sauvegardes sur clé USB sont chiffrées : la « clé des sauvegardes USB » est la seule "
                "façon de les restaurer sur un autre appareil (carte SD remplacée). Conservez-la avec cette "
                "fiche ; le technicien peut la réafficher sur l'appareil (« appliance backup usb-key »).</p>")
SSH_KEY_NOTE = ("<p>La ligne « authorized_keys » est à transmettre à l'équipe centrale : ajoutée au compte de "
                "sauvegarde du serveur, elle permet à l'appareil (et à lui seul, en sftp seulement) d'y déposer "
                "la copie hors site chiffrée. Elle n'est pas secrète ; comparez l'empreinte au téléphone.</p>")


def take_sheet(data_dir: Path) -> str | None:
    """The sheet's HTML, erased as it is read ("shown once"); None if already shown."""
    path = data_dir / SHEET_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    ownership.erase(path)
    return text


def sheet_as_text(page: str) -> str:
    rows = re.findall(r"<tr><th>(.*?)</th><td><code>(.*?)</code></td></tr>", page)
    return "\n".join(f"{html.unescape(k):<28} {html.unescape(v)}" for k, v in rows)
