"""Provisioning a clinic's card: the technician's settings in, the secrets generated on the Pi.

Two halves of one contract, so they can never disagree on the file between them:

- ``appliance provision write TARGET`` on the technician's laptop asks for (or takes) the site's
  settings, refuses bad input with a French message naming the field, and writes them as
  ``appliance-provision.toml`` on the card's boot partition: a mounted directory, or the ``.img`` file
  itself (mtools writes into its FAT partition without mounting anything).
- ``appliance provision apply`` runs once at first boot (appliance-firstboot.service, as root): it
  moves the settings into /etc/appliance (secrets 0600), generates the secret key and the first
  admin password, writes the one-time installation sheet, then erases the file from the boot
  partition. Every step can be re-run after a power cut; the file is erased last.
- ``appliance provision sheet`` shows that sheet once (over SSH as the technician, keys only, through
  sudo) and deletes it.

The image itself holds no secret.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click
import tomli_w

from appliance.files import fsync_folder, write_atomically
from appliance.telemetry.topics import SITE_ID

if TYPE_CHECKING:
    from appliance.backup.sftp import PublicKey

PROVISION_FILE = "appliance-provision.toml"
SHEET_FILE = "fiche-installation.html"
FORMAT_VERSION = 1
SERVICE_USER = "appliance"
# The one account sshd lets in (ansible/roles/base, group_vars technician_user): root never logs in over SSH.
TECHNICIAN_USER = "technicien"
EMR_ADDRESS = "http://dossier.clinique"
EMR_FALLBACK_ADDRESS = "http://10.42.0.1"
SHEET_COMMAND = f"ssh {TECHNICIAN_USER}@10.42.0.1 sudo appliance provision sheet"


class ProvisionError(ValueError):
    """Bad or missing provisioning input, worded for the technician."""


# ---------------------------------------------------------------------------------------------- fields

_DHIS2_UID = re.compile(r"[A-Za-z][A-Za-z0-9]{10}")
_APN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,99}")
_MQTT_USER = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
# mmcli's connect string is "key=value,key=value": those characters would break it (as [modem] refuses).
_APN_CREDENTIAL = re.compile(r"[^,=\"'\\]{1,64}")
# restic's backends a clinic can reach over 3G, or a local path (a disk, tests).
_RESTIC_REPOSITORY = re.compile(r"(sftp:|rest:https?://|s3:|b2:|azure:|gs:|swift:|rclone:|/)\S+")
_SSH_KEY = re.compile(r"(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]{40,}( [^\n]*)?")


def _printable_ascii(value: str) -> bool:
    return all(32 <= ord(char) <= 126 for char in value)


def _no_control(value: str) -> bool:
    return all(ord(char) >= 32 and ord(char) != 127 for char in value)


@dataclass(frozen=True)
class Provisioning:
    """What a technician gives for one clinic. Secrets are marked; none of them ever enters the image."""

    site_id: str
    facility_name: str
    dhis2_org_unit: str
    wifi_passphrase: str  # secret
    mqtt_password: str  # secret
    modem_apn: str
    mqtt_username: str = ""  # empty: the site id (the broker's ACL relies on it)
    mqtt_broker: str = ""  # empty: telemetry stays off
    wifi_ssid: str = ""  # empty: "Dossier-<site id>"
    dhis2_url: str = ""
    dhis2_token: str = ""  # secret, optional
    ssh_public_key: str = ""  # the technician's key for SSH (keys only)
    # Only when the operator asks for them; the same for every subscriber, so [modem] keeps them.
    modem_apn_user: str = ""
    modem_apn_password: str = ""
    offsite_repository: str = ""  # empty: no off-site copy
    offsite_key: str = ""  # secret: restic's repository password, kept by the central team too
    offsite_host_key: str = ""  # sftp: the backup server's public host key, pinned (empty: first contact)

    SECRET_FIELDS = ("wifi_passphrase", "mqtt_password", "dhis2_token", "modem_apn_password", "offsite_key")

    @property
    def ssid(self) -> str:
        return self.wifi_ssid or f"Dossier-{self.site_id}"[:32]

    @property
    def mqtt_user(self) -> str:
        return self.mqtt_username or self.site_id

    def problems(self) -> list[str]:
        """Every problem, one French line each, naming the field: the technician fixes all at once."""
        errors = []
        if not SITE_ID.fullmatch(self.site_id):
            errors.append("Identifiant du site : 2 à 40 caractères, minuscules, chiffres et tirets "
                          f"(ex. « cscom-kati-01 »), reçu « {self.site_id} »")
        name = self.facility_name.strip()
        if not 2 <= len(name) <= 80 or not _no_control(name):
            errors.append("Nom de l'établissement : 2 à 80 caractères, sans caractère de contrôle")
        if not _DHIS2_UID.fullmatch(self.dhis2_org_unit):
            errors.append("Unité d'organisation DHIS2 : identifiant de 11 caractères, une lettre puis "
                          f"lettres et chiffres (ex. « DiszpKrYNg8 »), reçu « {self.dhis2_org_unit} »")
        if not 8 <= len(self.wifi_passphrase) <= 63 or not _printable_ascii(self.wifi_passphrase):
            errors.append("Mot de passe WiFi (WPA2) : 8 à 63 caractères, lettres sans accent, chiffres "
                          f"ou ponctuation ({len(self.wifi_passphrase)} caractère(s) reçu(s))")
        ssid_bytes = len(self.ssid.encode("utf-8"))
        if not 1 <= ssid_bytes <= 32 or not _no_control(self.ssid):
            errors.append(f"Nom du réseau WiFi : 1 à 32 octets, sans caractère de contrôle ({ssid_bytes} reçus)")
        if not _MQTT_USER.fullmatch(self.mqtt_user):
            errors.append("Identifiant MQTT : 1 à 64 lettres sans accent, chiffres, « _ . @ - »")
        if not 8 <= len(self.mqtt_password) <= 128 or not _printable_ascii(self.mqtt_password):
            errors.append("Mot de passe MQTT : 8 à 128 caractères, lettres sans accent, chiffres ou ponctuation")
        if self.mqtt_broker and not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.\-]{0,252})", self.mqtt_broker):
            errors.append(f"Serveur MQTT : un nom d'hôte (ex. « mqtt.sante.gov.ml »), reçu « {self.mqtt_broker} »")
        if not _APN.fullmatch(self.modem_apn):
            errors.append("Point d'accès (APN) du modem : lettres, chiffres, points et tirets "
                          f"(ex. « internet »), reçu « {self.modem_apn} »")
        for label, value in (("Identifiant APN du modem", self.modem_apn_user),
                             ("Mot de passe APN du modem", self.modem_apn_password)):
            if value and (not _printable_ascii(value) or not _APN_CREDENTIAL.fullmatch(value)):
                errors.append(f"{label} : 1 à 64 caractères sans accent, sans espace au début ni à la fin, "
                              "sans « , = \" ' \\ » (celui donné par l'opérateur)")
            elif value != value.strip():
                errors.append(f"{label} : espace au début ou à la fin")
        if self.modem_apn_password and not self.modem_apn_user:
            errors.append("Mot de passe APN du modem : donné sans identifiant APN (--modem-apn-user)")
        errors.extend(self._offsite_problems())
        if self.dhis2_url and (not re.fullmatch(r"https?://[^\s\"']+", self.dhis2_url)
                               or self.dhis2_url.rstrip("/").endswith("/api")):
            errors.append("Adresse DHIS2 : https://… sans « /api » (ex. « https://dhis2.sante.gov.ml »)")
        if self.dhis2_token and not re.fullmatch(r"d2pat_[A-Za-z0-9]{20,}", self.dhis2_token):
            errors.append("Jeton DHIS2 : un jeton d'accès personnel « d2pat_… »")
        if self.ssh_public_key and not _SSH_KEY.fullmatch(self.ssh_public_key.strip()):
            errors.append("Clé SSH publique : une seule ligne « ssh-ed25519 AAAA… » (le fichier .pub)")
        return errors

    def _offsite_problems(self) -> list[str]:
        errors = []
        repository = self.offsite_repository
        if repository:
            if not _RESTIC_REPOSITORY.fullmatch(repository) or not _printable_ascii(repository):
                errors.append("Dépôt de la sauvegarde hors site : une adresse restic, sans espace "
                              "(ex. « sftp:sauvegarde@serveur:/srv/restic/cscom-kati »), "
                              f"reçu « {repository} »")
            elif re.search(r"://[^/@]*:[^/@]*@", repository):
                errors.append("Dépôt de la sauvegarde hors site : pas de mot de passe dans l'adresse "
                              "(il serait lisible dans la configuration) ; utilisez sftp avec une clé")
            else:
                errors.extend(self._sftp_problems())
            if not self.offsite_key:
                errors.append("Clé de la sauvegarde hors site : obligatoire avec un dépôt (--offsite-key-file)")
        elif self.offsite_host_key:
            errors.append("Clé d'hôte du serveur de sauvegarde : seulement avec un dépôt sftp: (--offsite-repository)")
        key = self.offsite_key
        if key and (not 16 <= len(key) <= 256 or not _printable_ascii(key) or key != key.strip()):
            errors.append("Clé de la sauvegarde hors site : 16 à 256 caractères sans accent, sans espace au "
                          f"début ni à la fin ({len(key)} caractère(s) reçu(s))")
        return errors

    def _sftp_problems(self) -> list[str]:
        from appliance.backup import sftp

        try:
            target = sftp.parse_repository(self.offsite_repository)
        except sftp.SftpError as exc:
            return [f"Dépôt de la sauvegarde hors site : {exc}"]
        if not self.offsite_host_key:
            return []
        if target is None:
            return ["Clé d'hôte du serveur de sauvegarde : seulement avec un dépôt sftp: (--offsite-repository)"]
        try:
            sftp.parse_host_key(self.offsite_host_key)
        except sftp.SftpError as exc:
            return [f"Clé d'hôte du serveur de sauvegarde : {exc}"]
        return []

    def check(self) -> Provisioning:
        errors = self.problems()
        if errors:
            raise ProvisionError("\n".join(errors))
        return self

    @classmethod
    def from_document(cls, document: dict, where: str) -> Provisioning:
        """Read the boot partition's file back; a damaged or foreign file gets a clear message."""
        if document.get("format") != FORMAT_VERSION:
            raise ProvisionError(f"{where} : format de fichier inconnu (attendu format = {FORMAT_VERSION})")
        known = {item.name for item in dataclasses.fields(cls)}
        unknown = sorted(set(document) - known - {"format"})
        if unknown:
            raise ProvisionError(f"{where} : champ(s) inconnu(s) : {', '.join(unknown)}")
        values = {}
        for item in dataclasses.fields(cls):
            if item.name in document:
                if not isinstance(document[item.name], str):
                    raise ProvisionError(f"{where} : le champ « {item.name} » doit être un texte")
                values[item.name] = document[item.name]
        required = [item.name for item in dataclasses.fields(cls) if item.default is dataclasses.MISSING]
        missing = [name for name in required if name not in values]
        if missing:
            raise ProvisionError(f"{where} : champ(s) manquant(s) : {', '.join(missing)}")
        return cls(**values).check()

    def document_text(self) -> str:
        values = {"format": FORMAT_VERSION, **{k: v for k, v in dataclasses.asdict(self).items() if v}}
        return (
            "# Mise en service de l'appareil : lu puis EFFACÉ au premier démarrage.\n"
            "# Contient des mots de passe : ne pas copier ailleurs.\n" + tomli_w.dumps(values)
        )


# ---------------------------------------------------------------------------------------------- write side


def write_to_target(provisioning: Provisioning, target: Path) -> str:
    """Write the file to a mounted boot partition or into a raw .img; returns where, for the message."""
    text = provisioning.check().document_text()
    if target.is_dir():
        if not (target / "config.txt").exists() and not (target / "cmdline.txt").exists():
            raise ProvisionError(
                f"{target} : ce dossier n'est pas la partition de démarrage d'une carte flashée "
                "(config.txt introuvable)"
            )
        destination = target / PROVISION_FILE
        _write_private(destination, text)
        return str(destination)
    if target.is_file():
        if target.suffix in (".xz", ".gz", ".zst"):
            raise ProvisionError(f"{target} : image compressée ; décompressez-la d'abord (ex. « unxz »)")
        offset = boot_partition_offset(target)
        with tempfile.TemporaryDirectory() as scratch:
            local = Path(scratch) / PROVISION_FILE
            _write_private(local, text)
            _mtools(["mcopy", "-o", "-i", f"{target}@@{offset}", str(local), f"::/{PROVISION_FILE}"])
        return f"{target} (partition de démarrage)"
    raise ProvisionError(f"{target} : introuvable (un dossier de carte montée ou un fichier .img)")


def boot_partition_offset(image: Path) -> int:
    """Byte offset of the first FAT partition in an MBR disk image (the Pi's boot partition)."""
    with image.open("rb") as handle:
        sector = handle.read(512)
    if len(sector) < 512 or sector[510:512] != b"\x55\xaa":
        raise ProvisionError(f"{image} : pas une image de carte SD (table de partitions absente)")
    for index in range(4):
        entry = sector[446 + 16 * index: 446 + 16 * (index + 1)]
        kind = entry[4]
        start, count = struct.unpack("<II", entry[8:16])
        if kind in (0x0B, 0x0C, 0x0E) and count:
            return start * 512
    raise ProvisionError(f"{image} : aucune partition de démarrage FAT dans l'image")


def _mtools(command: list[str]) -> str:
    if shutil.which(command[0]) is None:
        raise ProvisionError("mtools est nécessaire pour écrire dans un fichier .img (apt install mtools)")
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "MTOOLS_SKIP_CHECK": "1"})
    if result.returncode != 0:
        raise ProvisionError(f"écriture dans l'image impossible : {result.stderr.strip()}")
    return result.stdout


def read_from_image(image: Path) -> str | None:
    """The provisioning file inside an .img, or None: for checking a card before handing it over."""
    offset = boot_partition_offset(image)
    listing = _mtools(["mdir", "-b", "-i", f"{image}@@{offset}", "::/"])
    if PROVISION_FILE not in {Path(line.strip()).name for line in listing.splitlines()}:
        return None
    return _mtools(["mtype", "-i", f"{image}@@{offset}", f"::/{PROVISION_FILE}"])


# ---------------------------------------------------------------------------------------------- apply side


@dataclass(frozen=True)
class Targets:
    """Where first boot writes on the Pi; ``under(root)`` moves them all for tests."""

    boot_dir: Path = Path("/boot/firmware")
    config_file: Path = Path("/etc/appliance/appliance.toml")
    secrets_dir: Path = Path("/etc/appliance/secrets")
    data_dir: Path = Path("/var/lib/appliance")
    hostapd_conf: Path = Path("/etc/hostapd/hostapd.conf")
    ssh_dir: Path = Path(f"/home/{TECHNICIAN_USER}/.ssh")

    def under(self, root: Path) -> Targets:
        return Targets(**{item.name: root / str(getattr(self, item.name)).lstrip("/")
                          for item in dataclasses.fields(self)})


@dataclass(frozen=True)
class Applied:
    site_id: str
    admin_created: bool
    sheet: Path | None


def apply(targets: Targets) -> Applied:
    """First boot. Safe to re-run at any point: the provisioning file is erased only at the very end."""
    source = targets.boot_dir / PROVISION_FILE
    try:
        document = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ProvisionError(f"{source} : aucun fichier de mise en service") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProvisionError(f"{source} : fichier illisible ({exc}) ; refaites « appliance provision write »") from exc
    provisioning = Provisioning.from_document(document, str(source))

    config_text = config_document(provisioning, targets)
    from appliance import config as config_module

    cfg = config_module.loads(config_text, source=targets.config_file)  # never write what would not load

    _make_dir(targets.secrets_dir, 0o700)
    _make_dir(targets.data_dir, 0o750)
    _write_private(targets.secrets_dir / "mqtt_password", provisioning.mqtt_password + "\n")
    if provisioning.dhis2_token:
        _write_private(targets.secrets_dir / "dhis2_token", provisioning.dhis2_token + "\n")
    if provisioning.offsite_key:
        from appliance.backup.offsite import KEY_FILE_NAME

        # restic reads it through RESTIC_PASSWORD_FILE (surrounding white space trimmed).
        _write_private(targets.secrets_dir / KEY_FILE_NAME, provisioning.offsite_key + "\n")
    ssh_key = _ensure_offsite_ssh_key(targets, provisioning)
    # hostapd reads the derived key (64 hex digits): the passphrase itself is not kept on the Pi.
    psk = wpa_psk(provisioning.wifi_passphrase, provisioning.ssid)
    _write_private(targets.secrets_dir / "wifi.psk", f"00:00:00:00:00:00 {psk}\n", service_owned=False)
    config_module.read_or_create_secret(targets.secrets_dir / "flask_secret_key")
    _chown_service(targets.secrets_dir / "flask_secret_key")
    _write_file(targets.config_file, config_text, 0o640, group_service=True)
    _set_ssid(targets.hostapd_conf, provisioning.ssid)
    if provisioning.ssh_public_key:
        _authorize_key(targets.ssh_dir, provisioning.ssh_public_key.strip())

    admin_password = _ensure_admin(cfg, provisioning, ssh_key)
    sheet = None
    if admin_password:
        sheet = targets.data_dir / SHEET_FILE
    _chown_service_tree(targets.data_dir)
    _erase(source)
    return Applied(site_id=provisioning.site_id, admin_created=admin_password is not None, sheet=sheet)


def config_document(provisioning: Provisioning, targets: Targets) -> str:
    """The appliance.toml first boot writes: only non-secret values; secrets are files beside it."""
    document: dict = {
        "site": {"id": provisioning.site_id, "name": provisioning.facility_name.strip()},
        "paths": {"data_dir": str(targets.data_dir), "secrets_dir": str(targets.secrets_dir)},
        "modem": {"apn": provisioning.modem_apn},
        "dhis2": {"org_unit": provisioning.dhis2_org_unit},
        "telemetry": {"enabled": bool(provisioning.mqtt_broker), "username": provisioning.mqtt_user},
    }
    if provisioning.mqtt_broker:
        document["telemetry"]["broker_host"] = provisioning.mqtt_broker
    if provisioning.dhis2_url:
        document["dhis2"]["base_url"] = provisioning.dhis2_url
    if provisioning.modem_apn_user:
        document["modem"]["apn_user"] = provisioning.modem_apn_user
    if provisioning.modem_apn_password:
        document["modem"]["apn_password"] = provisioning.modem_apn_password
    if provisioning.offsite_repository:
        document["backup"] = {"offsite_repository": provisioning.offsite_repository}
    if provisioning.offsite_host_key:
        from appliance.backup.sftp import parse_host_key

        document["backup"]["offsite_host_key"] = parse_host_key(provisioning.offsite_host_key)
    return "# Écrit à la mise en service (appliance provision apply). Modifiable par le technicien.\n" + \
        tomli_w.dumps(document)


def wpa_psk(passphrase: str, ssid: str) -> str:
    """WPA2's pre-shared key: PBKDF2-HMAC-SHA1(passphrase, ssid, 4096 rounds, 32 bytes) (IEEE 802.11i)."""
    return hashlib.pbkdf2_hmac("sha1", passphrase.encode(), ssid.encode("utf-8"), 4096, 32).hex()


def _ensure_offsite_ssh_key(targets: Targets, provisioning: Provisioning) -> PublicKey:
    """The key this appliance logs in to an sftp backup server with, made here at every first boot that
    finds none (always, not only with an sftp repository: the server is often set up after the visit,
    and the central team then authorizes the key read off the sheet). Kept when provisioning again."""
    from appliance.backup import sftp

    try:
        key = sftp.ensure_key_pair(targets.secrets_dir, comment=f"appliance@{provisioning.site_id}")
        target = sftp.parse_repository(provisioning.offsite_repository)
        if target is not None:
            sftp.prepare_known_hosts(targets.secrets_dir, target, provisioning.offsite_host_key)
    except sftp.SftpError as exc:
        raise ProvisionError(f"clé SSH de la sauvegarde hors site : {exc}") from exc
    return key


def _ensure_admin(cfg, provisioning: Provisioning, ssh_key: PublicKey | None = None) -> str | None:
    """The first admin, with a generated password shown once; none if an admin already exists."""
    from appliance import accounts
    from appliance.store import open_and_migrate
    from appliance.store.audit import system_actor
    from appliance.store.db import database
    from appliance.store.models import User

    db = open_and_migrate(cfg.paths.database)
    database.initialize(db)
    try:
        if User.select().where((User.role == "admin") & User.active).exists():
            return None
        password = accounts.generate_password(12)
        # The sheet first: a power cut after it leaves no admin, and the next boot starts over.
        write_sheet(cfg.paths.data_dir / SHEET_FILE, provisioning, username="admin", password=password,
                    ssh_key=ssh_key)
        actor = system_actor("provision")
        existing = User.get_or_none(User.username == "admin")
        with database.atomic():
            if existing is None:
                accounts.create_user(actor, username="admin", first_name="Administrateur",
                                     last_name=provisioning.facility_name.strip()[:40], role="admin",
                                     password=password, must_change_password=True)
            else:
                existing.active = True
                existing.role = "admin"
                accounts.set_password(actor, existing, password, must_change=True)
        return password
    finally:
        db.close()


def write_sheet(path: Path, provisioning: Provisioning, *, username: str, password: str,
                ssh_key: PublicKey | None = None) -> None:
    """The one-time installation sheet (printable HTML): how to join the WiFi and log in first, and the
    line the central team adds to the backup server (``ssh_key``: appliance.backup.sftp.PublicKey)."""
    rows = [
        ("Établissement", provisioning.facility_name.strip()),
        ("Identifiant du site", provisioning.site_id),
        ("Réseau WiFi", provisioning.ssid),
        ("Mot de passe WiFi", provisioning.wifi_passphrase),
        ("Adresse du dossier médical", f"{EMR_ADDRESS}  (ou {EMR_FALLBACK_ADDRESS})"),
        ("Identifiant administrateur", username),
        ("Mot de passe provisoire", password),
        *offsite_rows(provisioning.offsite_repository, provisioning.offsite_host_key, ssh_key),
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
{SSH_KEY_NOTE if ssh_key else ""}
</body></html>
"""
    _write_private(path, page)


SSH_KEY_NOTE = ("<p>La ligne « authorized_keys » est à transmettre à l'équipe centrale : ajoutée au compte de "
                "sauvegarde du serveur, elle permet à l'appareil (et à lui seul, en sftp seulement) d'y déposer "
                "la copie hors site chiffrée. Elle n'est pas secrète ; comparez l'empreinte au téléphone.</p>")


def offsite_rows(repository: str, host_key: str, ssh_key: PublicKey | None) -> list[tuple[str, str]]:
    """The sheet's lines for the off-site copy: the appliance's public key, and which server it trusts."""
    from appliance.backup import sftp

    rows = []
    if ssh_key is not None:
        rows += [("Clé SSH de l'appareil", ssh_key.line), ("Empreinte de la clé SSH", ssh_key.fingerprint),
                 ("Ligne pour authorized_keys", ssh_key.authorized_keys_line)]
    target = sftp.parse_repository(repository) if repository else None
    if target is not None:
        trusted = (f"épinglée : {sftp.fingerprint(sftp.parse_host_key(host_key))}" if host_key
                   else "non épinglée : acceptée au premier contact")
        rows += [("Dépôt hors site", repository), ("Clé d'hôte du serveur", trusted)]
    return rows


def take_sheet(data_dir: Path) -> str | None:
    """The sheet's HTML, erased as it is read ("shown once"); None if already shown."""
    path = data_dir / SHEET_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    _erase(path)
    return text


def sheet_as_text(page: str) -> str:
    rows = re.findall(r"<tr><th>(.*?)</th><td><code>(.*?)</code></td></tr>", page)
    return "\n".join(f"{html.unescape(k):<28} {html.unescape(v)}" for k, v in rows)


def _set_ssid(hostapd_conf: Path, ssid: str) -> None:
    if not hostapd_conf.exists():
        return
    text = hostapd_conf.read_text(encoding="utf-8")
    updated = re.sub(r"(?m)^ssid=.*$", lambda _: f"ssid={ssid}", text, count=1)
    if updated != text:
        _write_file(hostapd_conf, updated, 0o644)


def _authorize_key(ssh_dir: Path, key: str) -> None:
    """The key goes to the technician's own account: sshd reads it as him and, with StrictModes, refuses a
    folder or file that is not his (first boot runs as root, so both are handed over)."""
    owner = _user_ids(TECHNICIAN_USER)
    _make_dir(ssh_dir, 0o700, service_owned=False)
    if owner:
        os.chown(ssh_dir, *owner)
    keys = ssh_dir / "authorized_keys"
    present = keys.read_text(encoding="utf-8").splitlines() if keys.exists() else []
    if key not in present:
        _write_file(keys, "\n".join([*present, key]) + "\n", 0o600, owner=owner)


# ---------------------------------------------------------------------------------------------- files


def _write_file(path: Path, text: str, mode: int, *, group_service: bool = False,
                owner: tuple[int, int] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if group_service and (ids := _user_ids(SERVICE_USER)):
        owner = (-1, ids[1])
    write_atomically(path, text, mode, owner=owner)


def _write_private(path: Path, text: str, *, service_owned: bool = True) -> None:
    _write_file(path, text, 0o600)
    if service_owned:
        _chown_service(path)


def _make_dir(path: Path, mode: int, *, service_owned: bool = True) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)
    if service_owned:
        _chown_service(path)


def _user_ids(name: str) -> tuple[int, int] | None:
    """A user's ids when running as root on the Pi; None elsewhere (laptop, tests)."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def _chown_service(path: Path, *, group_only: bool = False) -> None:
    ids = _user_ids(SERVICE_USER)
    if ids:
        os.chown(path, -1 if group_only else ids[0], ids[1])


def _chown_service_tree(path: Path) -> None:
    """The database and sheet were made by root at first boot: hand them to the service user."""
    if _user_ids(SERVICE_USER) is None:
        return
    _chown_service(path)
    for item in path.rglob("*"):
        if not item.is_symlink():
            _chown_service(item)


def _erase(path: Path) -> None:
    """Overwrite with zeros, sync, then unlink: on FAT a plain delete leaves the bytes in free clusters."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    with path.open("r+b") as handle:
        handle.write(b"\0" * size)
        handle.flush()
        os.fsync(handle.fileno())
    path.unlink()
    fsync_folder(path.parent)


# ---------------------------------------------------------------------------------------------- CLI


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
@click.option("--wifi-passphrase", help="Mot de passe WiFi WPA2 (8 à 63 caractères).")
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
@click.option("--offsite-host-key", default="",
              help="Clé d'hôte publique du serveur sftp (« ssh-ed25519 AAAA… ») : épinglée. "
                   "Sans elle : acceptée au premier contact.")
def write_command(target: Path, site_id, facility_name, dhis2_org_unit, wifi_passphrase, mqtt_username,
                  mqtt_password, modem_apn, mqtt_broker, wifi_ssid, dhis2_url, dhis2_token, ssh_key_file,
                  modem_apn_user, modem_apn_password, offsite_repository, offsite_key_file,
                  offsite_host_key) -> None:
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
        wifi_passphrase=_ask(wifi_passphrase, "Mot de passe WiFi (8 à 63 caractères)", hide=True),
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
